#pragma once

/* Shared by the JSON parser's unit test and its fuzz target. */

#include <json-glib/json-glib.h>
#include <string.h>

/* Stricter than json_node_equal(), which takes 1 for 1.0 and ignores
 * the order of members: the same kinds, values bit for bit, members in
 * the same order. */
static inline gboolean
same_node (JsonNode *a, JsonNode *b)
{
  if (JSON_NODE_TYPE (a) != JSON_NODE_TYPE (b))
    return FALSE;
  switch (JSON_NODE_TYPE (a))
    {
    case JSON_NODE_NULL:
      return TRUE;
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (a) != json_node_get_value_type (b))
        return FALSE;
      switch (json_node_get_value_type (a))
        {
        case G_TYPE_INT64:
          return json_node_get_int (a) == json_node_get_int (b);
        case G_TYPE_BOOLEAN:
          return json_node_get_boolean (a) == json_node_get_boolean (b);
        case G_TYPE_STRING:
          return strcmp (json_node_get_string (a), json_node_get_string (b)) == 0;
        default:
          {
            double x = json_node_get_double (a), y = json_node_get_double (b);
            return memcmp (&x, &y, sizeof x) == 0;
          }
        }
    case JSON_NODE_ARRAY:
      {
        JsonArray *x = json_node_get_array (a), *y = json_node_get_array (b);

        if (json_array_get_length (x) != json_array_get_length (y))
          return FALSE;
        for (guint i = 0; i < json_array_get_length (x); i++)
          if (!same_node (json_array_get_element (x, i), json_array_get_element (y, i)))
            return FALSE;
        return TRUE;
      }
    default:
      {
        JsonObject *x = json_node_get_object (a), *y = json_node_get_object (b);
        g_autoptr(GList) xs = json_object_get_members (x);
        g_autoptr(GList) ys = json_object_get_members (y);
        GList *l, *m;

        for (l = xs, m = ys; l && m; l = l->next, m = m->next)
          if (strcmp (l->data, m->data) != 0 ||
              !same_node (json_object_get_member (x, l->data), json_object_get_member (y, m->data)))
            return FALSE;
        return l == NULL && m == NULL;
      }
    }
}

