#include "config.h"

#include <string.h>

#include "ri-json-printer.h"

/* The index layout is the one the original tool wrote with Python's
 * json.dump (indent=4, sort_keys=True, ensure_ascii=False) and that
 * deployments diff and cache; json-glib's pretty printer spells it
 * differently ("key" : value, "{    }"), so the bytes are produced here. */

/* Appends @s as a JSON string. Only valid UTF-8 is written: a byte that
 * does not begin a valid sequence (a surrogate's encoding among them)
 * becomes U+FFFD, byte by byte, as Go's encoding/json does, and the rest
 * of the string follows; everything else is written as it is. */
void
ri_json_append_string (GString *out, const char *s)
{
  const unsigned char *p = (const unsigned char *) s;
  const unsigned char *run = p;   /* what is written as it is, up to @p */

  g_string_append_c (out, '"');
  for (;; p++)
    {
      if (*p >= 0x20 && *p != '"' && *p != '\\')
        {
          gunichar c;

          if (*p < 0x80)
            continue;
          c = g_utf8_get_char_validated ((const char *) p, -1);
          if (c != (gunichar) -1 && c != (gunichar) -2)
            {
              p += g_utf8_skip[*p] - 1;
              continue;
            }
        }
      g_string_append_len (out, (const char *) run, p - run);
      run = p + 1;
      switch (*p)
        {
        case '\0':
          g_string_append_c (out, '"');
          return;
        case '"': g_string_append_len (out, "\\\"", 2); break;
        case '\\': g_string_append_len (out, "\\\\", 2); break;
        case '\n': g_string_append_len (out, "\\n", 2); break;
        case '\r': g_string_append_len (out, "\\r", 2); break;
        case '\t': g_string_append_len (out, "\\t", 2); break;
        case '\b': g_string_append_len (out, "\\b", 2); break;
        case '\f': g_string_append_len (out, "\\f", 2); break;
        default:
          if (*p < 0x20)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_len (out, "\xef\xbf\xbd", 3); /* not the start of valid UTF-8 */
        }
    }
}

void
ri_json_append_indent (GString *out, guint level)
{
  static const char spaces[] = "                                                                ";
  const guint per_append = (sizeof spaces - 1) / 4;

  g_string_append_c (out, '\n');
  for (guint i = 0; i < level; i += per_append)
    g_string_append_len (out, spaces, 4 * MIN (level - i, per_append));
}

static void print_node (GString *out, JsonNode *node, guint level);

static void
print_object (GString *out, JsonObject *object, guint level)
{
  g_autoptr(GList) members = json_object_get_members (object);

  if (members == NULL)
    {
      g_string_append (out, "{}");
      return;
    }
  members = g_list_sort (members, (GCompareFunc) strcmp);
  g_string_append_c (out, '{');
  for (GList *l = members; l; l = l->next)
    {
      ri_json_append_indent (out, level + 1);
      ri_json_append_string (out, l->data);
      g_string_append (out, ": ");
      print_node (out, json_object_get_member (object, l->data), level + 1);
      if (l->next)
        g_string_append_c (out, ',');
    }
  ri_json_append_indent (out, level);
  g_string_append_c (out, '}');
}

static void
print_array (GString *out, JsonArray *array, guint level)
{
  guint n = json_array_get_length (array);

  if (n == 0)
    {
      g_string_append (out, "[]");
      return;
    }
  g_string_append_c (out, '[');
  for (guint i = 0; i < n; i++)
    {
      ri_json_append_indent (out, level + 1);
      print_node (out, json_array_get_element (array, i), level + 1);
      if (i + 1 < n)
        g_string_append_c (out, ',');
    }
  ri_json_append_indent (out, level);
  g_string_append_c (out, ']');
}

static void
print_node (GString *out, JsonNode *node, guint level)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      print_object (out, json_node_get_object (node), level);
      break;
    case JSON_NODE_ARRAY:
      print_array (out, json_node_get_array (node), level);
      break;
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      break;
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_STRING:
          ri_json_append_string (out, json_node_get_string (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          {
            char buffer[G_ASCII_DTOSTR_BUF_SIZE];
            g_string_append (out, g_ascii_dtostr (buffer, sizeof buffer, json_node_get_double (node)));
          }
          break;
        default:
          g_string_append (out, "null");
        }
      break;
    }
}

char *
ri_json_to_string (JsonNode *root)
{
  GString *out = g_string_new (NULL);

  print_node (out, root, 0);
  g_string_append_c (out, '\n');
  return g_string_free (out, FALSE);
}
