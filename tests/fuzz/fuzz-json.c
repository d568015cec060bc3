/* The parser of outside JSON on its own. What it accepts must walk
 * cleanly through the accessors, hold nothing but UTF-8, need exactly the
 * depth and size it has, and come back the same through json-glib's
 * generator and through our printer; what it refuses must say why, and
 * name a place in the text. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../unit/json-same-node.h"
#include "ri-json.h"
#include "ri-json-printer.h"

#define DEPTH 32

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Walks @value through every accessor and returns its depth (0 for a
 * scalar); the recursion is bounded by DEPTH. */
static guint
walk (const RiJsonValue *value)
{
  guint length = ri_json_value_get_length (value);
  guint deepest = 0;
  gint64 n;

  g_assert_nonnull (value);
  switch (ri_json_value_get_type (value))
    {
    case RI_JSON_NULL:
      g_assert_true (ri_json_value_is_null (value));
      break;
    case RI_JSON_BOOLEAN:
    case RI_JSON_NUMBER:
      g_assert_false (ri_json_value_is_null (value));
      g_assert_null (ri_json_value_get_string (value));
      break;
    case RI_JSON_STRING:
      g_assert_true (g_utf8_validate (ri_json_value_get_string (value), -1, NULL));
      g_assert_false (ri_json_value_get_int (value, &n));
      break;
    case RI_JSON_ARRAY:
      for (guint i = 0; i < length; i++)
        {
          guint d = walk (ri_json_array_get (value, i));
          deepest = MAX (deepest, d);
        }
      g_assert_null (ri_json_array_get (value, length));
      g_assert_null (ri_json_object_name_at (value, 0));
      return deepest + 1;
    case RI_JSON_OBJECT:
      {
        /* The member ri_json_object_get() finds is the last of its name. */
        g_autoptr(GHashTable) last = g_hash_table_new (g_str_hash, g_str_equal);

        for (guint i = 0; i < length; i++)
          {
            const char *name = ri_json_object_name_at (value, i);
            guint d;

            g_assert_nonnull (name);
            g_assert_true (g_utf8_validate (name, -1, NULL));
            g_hash_table_insert (last, (gpointer) name, GUINT_TO_POINTER (i));
            d = walk (ri_json_object_value_at (value, i));
            deepest = MAX (deepest, d);
          }
        for (guint i = 0; i < length; i++)
          {
            const char *name = ri_json_object_name_at (value, i);
            guint at = GPOINTER_TO_UINT (g_hash_table_lookup (last, name));

            g_assert_true (ri_json_object_get (value, name) == ri_json_object_value_at (value, at));
          }
        g_assert_null (ri_json_object_name_at (value, length));
        g_assert_null (ri_json_object_value_at (value, length));
        g_assert_null (ri_json_array_get (value, 0));
        return deepest + 1;
      }
    default:
      g_assert_not_reached ();
    }
  g_assert_cmpuint (length, ==, 0);
  return 0;
}

/* The node ri_json_parse_bounded() made of @value. */
static void
assert_node_is_value (JsonNode *node, const RiJsonValue *value)
{
  gint64 n;

  switch (ri_json_value_get_type (value))
    {
    case RI_JSON_NULL:
      g_assert_true (JSON_NODE_HOLDS_NULL (node));
      break;
    case RI_JSON_BOOLEAN:
      g_assert_cmpuint (json_node_get_value_type (node), ==, G_TYPE_BOOLEAN);
      break;
    case RI_JSON_NUMBER:
      if (ri_json_value_get_int (value, &n))
        {
          g_assert_cmpuint (json_node_get_value_type (node), ==, G_TYPE_INT64);
          g_assert_cmpint (json_node_get_int (node), ==, n);
        }
      else
        g_assert_cmpuint (json_node_get_value_type (node), ==, G_TYPE_DOUBLE);
      break;
    case RI_JSON_STRING:
      g_assert_cmpuint (json_node_get_value_type (node), ==, G_TYPE_STRING);
      g_assert_cmpstr (json_node_get_string (node), ==, ri_json_value_get_string (value));
      break;
    case RI_JSON_ARRAY:
      g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
      g_assert_cmpuint (json_array_get_length (json_node_get_array (node)), ==, ri_json_value_get_length (value));
      for (guint i = 0; i < ri_json_value_get_length (value); i++)
        assert_node_is_value (json_array_get_element (json_node_get_array (node), i), ri_json_array_get (value, i));
      break;
    default:
      g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
      for (guint i = 0; i < ri_json_value_get_length (value); i++)
        {
          const char *name = ri_json_object_name_at (value, i);
          JsonNode *member = json_object_get_member (json_node_get_object (node), name);

          g_assert_nonnull (member);
          if (ri_json_object_get (value, name) == ri_json_object_value_at (value, i))
            assert_node_is_value (member, ri_json_object_value_at (value, i));
        }
    }
}

/* Whether json-glib 1.6's generator can write @node as JSON: it writes a
 * double beyond range (from 1e400) as "inf.0", and one whose shortest
 * form has an exponent but no point (1e21) as "1e+21.0". */
static gboolean
generator_can_write (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
        {
          char buffer[G_ASCII_DTOSTR_BUF_SIZE];
          double d = json_node_get_double (node);

          g_ascii_dtostr (buffer, sizeof buffer, d);
          return isfinite (d) && (strchr (buffer, 'e') == NULL || strchr (buffer, '.') != NULL);
        }
      return TRUE;
    case JSON_NODE_ARRAY:
      for (guint i = 0; i < json_array_get_length (json_node_get_array (node)); i++)
        if (!generator_can_write (json_array_get_element (json_node_get_array (node), i)))
          return FALSE;
      return TRUE;
    case JSON_NODE_OBJECT:
      {
        g_autoptr(GList) values = json_object_get_values (json_node_get_object (node));

        for (GList *l = values; l; l = l->next)
          if (!generator_can_write (l->data))
            return FALSE;
        return TRUE;
      }
    default:
      return TRUE;
    }
}

static JsonNode *
reparse (const char *text, gsize len)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = ri_json_parse_bounded (text, len, G_MAXSIZE, DEPTH, &error);

  if (node == NULL)
    g_error ("refused what was written of it: %s: %s", error->message, text);
  return node;
}

static void
check_round_trip (JsonNode *node)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;
  g_autofree char *printed = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autoptr(JsonNode) printed_again = NULL;
  gsize len;

  if (!generator_can_write (node))
    return;
  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, &len);
  /* json-glib 1.6 leaves U+001F unescaped; the byte can only be that. */
  if (memchr (text, 0x1f, len) != NULL)
    {
      g_auto(GStrv) pieces = g_strsplit (text, "\x1f", -1);

      g_free (text);
      text = g_strjoinv ("\\u001f", pieces);
      len = strlen (text);
    }
  again = reparse (text, len);
  g_assert_true (json_node_equal (node, again));
  g_assert_true (same_node (node, again));

  /* Our printer sorts members and writes an integral double as an
   * integer, which json_node_equal() allows. */
  printed = ri_json_to_string (node);
  printed_again = reparse (printed, strlen (printed));
  g_assert_true (json_node_equal (node, printed_again));
}

/* An invalid text's error names a line of it and a column at most one
 * past that line's end. */
static void
check_position (const uint8_t *data, size_t size, const char *message)
{
  const char *at = strstr (message, " at line ");
  guint line, column, lines = 1;
  size_t line_start = 0, line_len = 0;

  g_assert_nonnull (at);
  g_assert_cmpint (sscanf (at, " at line %u, column %u", &line, &column), ==, 2);
  for (size_t i = 0; i < size; i++)
    if (data[i] == '\n' && lines++ < line)
      line_start = i + 1;
  g_assert_cmpuint (line, >=, 1);
  g_assert_cmpuint (line, <=, lines);
  while (line_start + line_len < size && data[line_start + line_len] != '\n')
    line_len++;
  g_assert_cmpuint (column, >=, 1);
  g_assert_cmpuint (column, <=, line_len + 1);
}

static gboolean
all_space (const uint8_t *data, size_t size)
{
  for (size_t i = 0; i < size; i++)
    if (data[i] != ' ' && data[i] != '\t' && data[i] != '\n' && data[i] != '\r')
      return FALSE;
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *) data;
  g_autoptr(GError) error = NULL;
  g_autoptr(RiJsonDoc) doc = ri_json_doc_parse (text, size, G_MAXSIZE, DEPTH, &error);
  g_autoptr(JsonNode) node = NULL;
  gboolean utf8 = g_utf8_validate_len (text, size, NULL);
  guint depth;

  /* A NUL-terminated copy reads the same, when there is no NUL in it. */
  if (memchr (data, 0, size) == NULL)
    {
      g_autofree char *copy = g_strndup (text, size);
      g_autoptr(GError) copy_error = NULL;
      g_autoptr(RiJsonDoc) copy_doc = ri_json_doc_parse (copy, -1, G_MAXSIZE, DEPTH, &copy_error);

      g_assert_true ((copy_doc == NULL) == (doc == NULL));
      g_assert_true (doc != NULL || g_error_matches (copy_error, RI_JSON_ERROR, error->code));
    }

  if (doc == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == RI_JSON_ERROR);
      switch (error->code)
        {
        case RI_JSON_ERROR_EMPTY:
          g_assert_true (all_space (data, size));
          break;
        case RI_JSON_ERROR_NOT_UTF8:
          g_assert_false (utf8);
          break;
        case RI_JSON_ERROR_INVALID:
          g_assert_true (utf8);
          check_position (data, size, error->message);
          break;
        case RI_JSON_ERROR_TOO_DEEP:
          g_assert_true (utf8);
          break;
        default:
          g_error ("unexpected error: %s", error->message);
        }
      return 0;
    }
  g_assert_true (utf8);

  depth = walk (ri_json_doc_get_root (doc));
  g_assert_cmpuint (depth, <=, DEPTH);

  /* It needs exactly its depth and its size. */
  {
    g_autoptr(GError) e = NULL;
    g_autoptr(RiJsonDoc) d = ri_json_doc_parse (text, size, size, depth, &e);

    g_assert_no_error (e);
    g_assert_nonnull (d);
    if (depth > 0)
      {
        g_assert_null (ri_json_doc_parse (text, size, G_MAXSIZE, depth - 1, &e));
        g_assert_error (e, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP);
        g_clear_error (&e);
      }
    g_assert_null (ri_json_doc_parse (text, size, size - 1, DEPTH, &e));
    g_assert_error (e, RI_JSON_ERROR, RI_JSON_ERROR_TOO_LARGE);
  }

  node = ri_json_parse_bounded (text, size, G_MAXSIZE, DEPTH, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  assert_node_is_value (node, ri_json_doc_get_root (doc));
  check_round_trip (node);
  return 0;
}
