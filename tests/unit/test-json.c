#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json-same-node.h"
#include "ri-json.h"

/* The parser of outside JSON (ri-json.c): RFC 8259's grammar to the
 * letter, its escapes and numbers, its bounds and errors, and, over
 * random documents, agreement with json-glib's own parser and generator
 * (an independent implementation) wherever json-glib is right. */

#define MAX_SIZE (16 * 1024 * 1024)
#define DEPTH 64

static RiJsonDoc *
parse (const char *json, gssize len, guint depth)
{
  g_autoptr(GError) error = NULL;
  RiJsonDoc *doc = ri_json_doc_parse (json, len, MAX_SIZE, depth, &error);

  if (doc == NULL)
    {
      g_autofree char *shown = g_strescape (json, NULL);
      g_error ("refused \"%s\": %s", shown, error->message);
    }
  return doc;
}

static JsonNode *
parse_node (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = ri_json_parse_bounded (json, -1, MAX_SIZE, DEPTH, &error);

  if (node == NULL)
    {
      g_autofree char *shown = g_strescape (json, NULL);
      g_error ("refused \"%s\": %s", shown, error->message);
    }
  return node;
}

/* An error's position must be one in the text: its line no later than
 * the text's last, its column at most one past that line's end. */
static void
assert_position_in_text (const char *json, gsize len, const char *message)
{
  const char *at = strstr (message, " at line ");
  guint line, column, lines = 1;
  gsize line_start = 0, line_len;

  g_assert_nonnull (at);
  g_assert_cmpint (sscanf (at, " at line %u, column %u", &line, &column), ==, 2);
  for (gsize i = 0; i < len; i++)
    if (json[i] == '\n' && lines++ < line)
      line_start = i + 1;
  if (line > lines)
    g_error ("\"%s\": line %u of %u", message, line, lines);
  line_len = 0;
  while (line_start + line_len < len && json[line_start + line_len] != '\n')
    line_len++;
  if (column < 1 || column > line_len + 1)
    g_error ("\"%s\": column %u of a line of %" G_GSIZE_FORMAT " bytes", message, column, line_len);
}

/* Refused with @code by both entry points; an invalid text's message
 * names a position in it. */
static void
assert_refused_len (const char *json, gssize len, gint code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) node_error = NULL;
  g_autoptr(RiJsonDoc) doc = ri_json_doc_parse (json, len, MAX_SIZE, DEPTH, &error);
  g_autoptr(JsonNode) node = ri_json_parse_bounded (json, len, MAX_SIZE, DEPTH, &node_error);
  g_autofree char *shown = json ? g_strescape (json, NULL) : g_strdup ("(null)");

  if (doc != NULL || node != NULL)
    g_error ("accepted \"%s\"", shown);
  if (!g_error_matches (error, RI_JSON_ERROR, code))
    g_error ("\"%s\": expected code %d, got %d: %s", shown, code, error->code, error->message);
  g_assert_error (node_error, RI_JSON_ERROR, code);
  g_assert_cmpstr (error->message, ==, node_error->message);
  if (code == RI_JSON_ERROR_INVALID)
    {
      g_assert_true (g_str_has_prefix (error->message, "is not valid JSON: "));
      assert_position_in_text (json, len < 0 ? strlen (json) : (gsize) len, error->message);
    }
}

static void
assert_refused (const char *json, gint code)
{
  assert_refused_len (json, -1, code);
}

static void
assert_message (const char *json, const char *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiJsonDoc) doc = ri_json_doc_parse (json, -1, MAX_SIZE, DEPTH, &error);

  g_assert_null (doc);
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==, message);
}

static const char *
decode (RiJsonDoc **doc, const char *json)
{
  const RiJsonValue *root;

  *doc = parse (json, -1, DEPTH);
  root = ri_json_doc_get_root (*doc);
  g_assert_cmpint (ri_json_value_get_type (root), ==, RI_JSON_STRING);
  return ri_json_value_get_string (root);
}

static void
assert_decodes (const char *json, const char *expected)
{
  g_autoptr(RiJsonDoc) doc = NULL;
  const char *decoded = decode (&doc, json);

  if (strcmp (decoded, expected) != 0)
    {
      g_autofree char *a = g_strescape (json, NULL);
      g_autofree char *b = g_strescape (decoded, NULL);
      g_autofree char *c = g_strescape (expected, NULL);
      g_error ("\"%s\" decoded to \"%s\", not \"%s\"", a, b, c);
    }
  g_assert_true (g_utf8_validate (decoded, -1, NULL));
}

static void
test_values (void)
{
  g_autoptr(RiJsonDoc) doc = NULL;
  const RiJsonValue *root, *v;
  gint64 n;
  struct { const char *json; RiJsonType type; } scalars[] = {
    { "null", RI_JSON_NULL }, { "true", RI_JSON_BOOLEAN }, { "false", RI_JSON_BOOLEAN },
    { "0", RI_JSON_NUMBER }, { "-1.5e3", RI_JSON_NUMBER }, { "\"\"", RI_JSON_STRING },
    { "\"x\"", RI_JSON_STRING }, { "[]", RI_JSON_ARRAY }, { "{}", RI_JSON_OBJECT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (scalars); i++)
    {
      g_autoptr(RiJsonDoc) d = parse (scalars[i].json, -1, DEPTH);
      g_autofree char *spaced = g_strdup_printf (" %s ", scalars[i].json);
      g_autoptr(RiJsonDoc) s = parse (spaced, -1, DEPTH);
      g_autofree char *exact = g_strdup_printf ("%sJUNK", scalars[i].json);
      g_autoptr(RiJsonDoc) e = parse (exact, strlen (scalars[i].json), DEPTH);

      g_assert_cmpint (ri_json_value_get_type (ri_json_doc_get_root (d)), ==, scalars[i].type);
      g_assert_cmpint (ri_json_value_get_type (ri_json_doc_get_root (s)), ==, scalars[i].type);
      g_assert_cmpint (ri_json_value_get_type (ri_json_doc_get_root (e)), ==, scalars[i].type);
    }

  doc = parse ("[null,true,false,7,-0.5,\"s\",[],{},[1],{\"k\":\"v\"}]", -1, DEPTH);
  root = ri_json_doc_get_root (doc);
  g_assert_cmpint (ri_json_value_get_type (root), ==, RI_JSON_ARRAY);
  g_assert_cmpuint (ri_json_value_get_length (root), ==, 10);
  g_assert_true (ri_json_value_is_null (ri_json_array_get (root, 0)));
  g_assert_cmpint (ri_json_value_get_type (ri_json_array_get (root, 1)), ==, RI_JSON_BOOLEAN);
  g_assert_cmpint (ri_json_value_get_type (ri_json_array_get (root, 2)), ==, RI_JSON_BOOLEAN);
  g_assert_true (ri_json_value_get_int (ri_json_array_get (root, 3), &n));
  g_assert_cmpint (n, ==, 7);
  g_assert_cmpint (ri_json_value_get_type (ri_json_array_get (root, 4)), ==, RI_JSON_NUMBER);
  g_assert_false (ri_json_value_get_int (ri_json_array_get (root, 4), &n));
  g_assert_cmpstr (ri_json_value_get_string (ri_json_array_get (root, 5)), ==, "s");
  g_assert_cmpint (ri_json_value_get_type (ri_json_array_get (root, 6)), ==, RI_JSON_ARRAY);
  g_assert_cmpuint (ri_json_value_get_length (ri_json_array_get (root, 6)), ==, 0);
  g_assert_cmpint (ri_json_value_get_type (ri_json_array_get (root, 7)), ==, RI_JSON_OBJECT);
  g_assert_cmpuint (ri_json_value_get_length (ri_json_array_get (root, 7)), ==, 0);
  g_assert_true (ri_json_value_get_int (ri_json_array_get (ri_json_array_get (root, 8), 0), &n));
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpstr (ri_json_object_get_string (ri_json_array_get (root, 9), "k"), ==, "v");
  g_assert_null (ri_json_array_get (root, 10));
  g_clear_pointer (&doc, ri_json_doc_free);

  doc = parse ("{\"n\":null,\"t\":true,\"f\":false,\"i\":-7,\"d\":2.5,\"s\":\"str\",\"a\":[],\"o\":{},"
               "\"aa\":[[],{}],\"oo\":{\"x\":{\"y\":[]}}}", -1, DEPTH);
  root = ri_json_doc_get_root (doc);
  g_assert_cmpint (ri_json_value_get_type (root), ==, RI_JSON_OBJECT);
  g_assert_cmpuint (ri_json_value_get_length (root), ==, 10);
  v = ri_json_object_get (root, "n");
  g_assert_nonnull (v);
  g_assert_true (ri_json_value_is_null (v));
  g_assert_cmpint (ri_json_value_get_type (ri_json_object_get (root, "t")), ==, RI_JSON_BOOLEAN);
  g_assert_cmpint (ri_json_value_get_type (ri_json_object_get (root, "f")), ==, RI_JSON_BOOLEAN);
  g_assert_true (ri_json_value_get_int (ri_json_object_get (root, "i"), &n));
  g_assert_cmpint (n, ==, -7);
  g_assert_cmpint (ri_json_value_get_type (ri_json_object_get (root, "d")), ==, RI_JSON_NUMBER);
  g_assert_cmpstr (ri_json_object_get_string (root, "s"), ==, "str");
  g_assert_cmpint (ri_json_value_get_type (ri_json_object_get (root, "a")), ==, RI_JSON_ARRAY);
  g_assert_cmpint (ri_json_value_get_type (ri_json_object_get (root, "o")), ==, RI_JSON_OBJECT);
  v = ri_json_object_get (root, "aa");
  g_assert_cmpint (ri_json_value_get_type (ri_json_array_get (v, 0)), ==, RI_JSON_ARRAY);
  g_assert_cmpint (ri_json_value_get_type (ri_json_array_get (v, 1)), ==, RI_JSON_OBJECT);
  v = ri_json_object_get (ri_json_object_get (ri_json_object_get (root, "oo"), "x"), "y");
  g_assert_cmpint (ri_json_value_get_type (v), ==, RI_JSON_ARRAY);
  g_assert_cmpuint (ri_json_value_get_length (v), ==, 0);
  g_assert_null (ri_json_object_get (root, "missing"));
  g_assert_null (ri_json_object_get (root, "N"));
  g_assert_null (ri_json_object_get_string (root, "i"));
  g_assert_cmpstr (ri_json_object_name_at (root, 0), ==, "n");
  g_assert_cmpstr (ri_json_object_name_at (root, 9), ==, "oo");
  g_assert_null (ri_json_object_name_at (root, 10));
  g_assert_null (ri_json_object_value_at (root, 10));
}

/* Every accessor takes NULL, and a value of the wrong kind, and answers
 * as for a missing value. */
static void
test_accessors_of_other_kinds (void)
{
  g_autoptr(RiJsonDoc) doc = parse ("[\"s\",1,1.5,{\"a\":1},[2],true]", -1, DEPTH);
  const RiJsonValue *root = ri_json_doc_get_root (doc);
  gint64 n = 42;

  g_assert_null (ri_json_doc_get_root (NULL));
  g_assert_cmpint (ri_json_value_get_type (NULL), ==, RI_JSON_NULL);
  g_assert_true (ri_json_value_is_null (NULL));
  g_assert_null (ri_json_value_get_string (NULL));
  g_assert_false (ri_json_value_get_int (NULL, &n));
  g_assert_cmpuint (ri_json_value_get_length (NULL), ==, 0);
  g_assert_null (ri_json_array_get (NULL, 0));
  g_assert_null (ri_json_object_get (NULL, "a"));
  g_assert_null (ri_json_object_get_string (NULL, "a"));
  g_assert_null (ri_json_object_name_at (NULL, 0));
  g_assert_null (ri_json_object_value_at (NULL, 0));
  ri_json_doc_free (NULL);

  g_assert_false (ri_json_value_is_null (root));
  g_assert_null (ri_json_value_get_string (ri_json_array_get (root, 1)));
  g_assert_false (ri_json_value_get_int (ri_json_array_get (root, 0), &n));
  g_assert_false (ri_json_value_get_int (ri_json_array_get (root, 2), &n));
  g_assert_false (ri_json_value_get_int (ri_json_array_get (root, 5), &n));
  g_assert_cmpint (n, ==, 42);
  g_assert_cmpuint (ri_json_value_get_length (ri_json_array_get (root, 0)), ==, 0);
  g_assert_cmpuint (ri_json_value_get_length (ri_json_array_get (root, 3)), ==, 1);
  g_assert_cmpuint (ri_json_value_get_length (ri_json_array_get (root, 4)), ==, 1);
  g_assert_null (ri_json_array_get (ri_json_array_get (root, 3), 0));
  g_assert_null (ri_json_object_get (ri_json_array_get (root, 4), "a"));
  g_assert_null (ri_json_object_get (root, "a"));
  g_assert_null (ri_json_object_name_at (ri_json_array_get (root, 4), 0));
  g_assert_null (ri_json_object_value_at (ri_json_array_get (root, 4), 0));
  g_assert_null (ri_json_object_get (ri_json_array_get (root, 0), "s"));
  g_assert_null (ri_json_array_get (root, G_MAXUINT));
}

static void
test_whitespace (void)
{
  const char *json = " \t\n\r[ \t\n\r1 \t\n\r, \t\n\r{ \t\n\r\"a\" \t\n\r: \t\n\r\"b\" \t\n\r, \t\n\r\"c\" \t\n\r: "
                     "\t\n\r[ \t\n\r] \t\n\r} \t\n\r, \t\n\rtrue \t\n\r] \t\n\r";
  g_autoptr(RiJsonDoc) doc = parse (json, -1, DEPTH);
  const RiJsonValue *root = ri_json_doc_get_root (doc);
  const RiJsonValue *object = ri_json_array_get (root, 1);
  /* Nothing else is whitespace: not form feed, vertical tab, NUL,
   * NBSP, U+2028, a BOM or the Unicode spaces. */
  const char *not_space[] = { "\f", "\v", "\xc2\xa0", "\xe2\x80\xa8", "\xef\xbb\xbf", "\xe3\x80\x80", "\xc2\x85" };

  g_assert_cmpuint (ri_json_value_get_length (root), ==, 3);
  g_assert_cmpstr (ri_json_object_get_string (object, "a"), ==, "b");
  g_assert_cmpuint (ri_json_value_get_length (ri_json_object_get (object, "c")), ==, 0);
  /* Whitespace in a string is the string's. */
  assert_decodes ("\"  a \"", "  a ");

  for (guint i = 0; i < G_N_ELEMENTS (not_space); i++)
    {
      g_autofree char *before = g_strdup_printf ("%s[1]", not_space[i]);
      g_autofree char *inside = g_strdup_printf ("[%s1]", not_space[i]);
      g_autofree char *between = g_strdup_printf ("[1,%s2]", not_space[i]);
      g_autofree char *after = g_strdup_printf ("[1]%s", not_space[i]);

      assert_refused (before, RI_JSON_ERROR_INVALID);
      assert_refused (inside, RI_JSON_ERROR_INVALID);
      assert_refused (between, RI_JSON_ERROR_INVALID);
      assert_refused (after, RI_JSON_ERROR_INVALID);
    }
  /* A raw tab or line feed inside a string is a control character. */
  assert_refused ("\"\t\"", RI_JSON_ERROR_INVALID);
  assert_refused ("\"a\nb\"", RI_JSON_ERROR_INVALID);
}

static void
test_empty_containers (void)
{
  const char *empty[] = { "[]", "{}", "[ ]", "{ }", "[\n]", "{\r\n}", "[[]]", "[{}]", "{\"a\":[]}", "{\"a\":{}}",
                          "[[],[],{}]", "[[[[]]]]", "{\"\":{\"\":{}}}" };
  g_autoptr(RiJsonDoc) doc = NULL;
  const RiJsonValue *root;

  for (guint i = 0; i < G_N_ELEMENTS (empty); i++)
    {
      g_autoptr(RiJsonDoc) d = parse (empty[i], -1, DEPTH);
      g_autoptr(JsonNode) node = parse_node (empty[i]);
      const RiJsonValue *r = ri_json_doc_get_root (d);

      g_assert_true (ri_json_value_get_type (r) == RI_JSON_ARRAY || ri_json_value_get_type (r) == RI_JSON_OBJECT);
      g_assert_true (JSON_NODE_HOLDS_ARRAY (node) || JSON_NODE_HOLDS_OBJECT (node));
    }

  doc = parse ("[[],{},[[]],{\"a\":{}}]", -1, DEPTH);
  root = ri_json_doc_get_root (doc);
  g_assert_cmpuint (ri_json_value_get_length (root), ==, 4);
  g_assert_cmpuint (ri_json_value_get_length (ri_json_array_get (root, 0)), ==, 0);
  g_assert_null (ri_json_array_get (ri_json_array_get (root, 0), 0));
  g_assert_cmpuint (ri_json_value_get_length (ri_json_array_get (root, 1)), ==, 0);
  g_assert_null (ri_json_object_name_at (ri_json_array_get (root, 1), 0));
  g_assert_cmpuint (ri_json_value_get_length (ri_json_array_get (ri_json_array_get (root, 2), 0)), ==, 0);
  g_assert_cmpint (ri_json_value_get_type (ri_json_object_get (ri_json_array_get (root, 3), "a")), ==,
                   RI_JSON_OBJECT);
}

static void
test_escapes (void)
{
  struct { const char *json; const char *decoded; } strings[] = {
    { "\"\"", "" },
    { "\"\\\"\"", "\"" },
    { "\"\\\\\"", "\\" },
    { "\"\\/\"", "/" },
    { "\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t" },
    { "\"a\\\"\"", "a\"" },                     /* an escaped quote right before the closing one */
    { "\"a\\\\\"", "a\\" },                     /* an escaped backslash right before it */
    { "\"\\\\\\\"\"", "\\\"" },
    { "\"\\\\n\"", "\\n" },
    { "\"\\\\u0041\"", "\\u0041" },
    { "\"\\u0041\\u0061\"", "Aa" },
    { "\"\\u0001\\u001f\\u007f\"", "\x01\x1f\x7f" },
    { "\"\\u0080\\u07ff\"", "\xc2\x80\xdf\xbf" },
    { "\"\\u0800\\uffff\"", "\xe0\xa0\x80\xef\xbf\xbf" },
    { "\"\\u00e9\\u00E9\\u20aC\"", "\xc3\xa9\xc3\xa9\xe2\x82\xac" },
    { "\"\\ud7ff\\ue000\"", "\xed\x9f\xbf\xee\x80\x80" },
    { "\"\\ufeff\\ufffd\\ufffe\"", "\xef\xbb\xbf\xef\xbf\xbd\xef\xbf\xbe" },
    /* Surrogate pairs, the lowest and the highest and in either case. */
    { "\"\\ud800\\udc00\"", "\xf0\x90\x80\x80" },
    { "\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf" },
    { "\"\\ud83d\\ude00x\"", "\xf0\x9f\x98\x80x" },
    { "\"\\uD834\\uDD1E\\uD834\\uDD1E\"", "\xf0\x9d\x84\x9e\xf0\x9d\x84\x9e" },
    /* \u0000 and unpaired surrogates are U+FFFD, as in Go. */
    { "\"\\u0000\"", "\xef\xbf\xbd" },
    { "\"a\\u0000\\u0000b\"", "a\xef\xbf\xbd\xef\xbf\xbd" "b" },
    { "\"\\ud800\"", "\xef\xbf\xbd" },
    { "\"\\udbff\"", "\xef\xbf\xbd" },
    { "\"\\udc00\"", "\xef\xbf\xbd" },
    { "\"\\udfff\"", "\xef\xbf\xbd" },
    { "\"\\ud800x\"", "\xef\xbf\xbdx" },
    { "\"\\ud800\\n\"", "\xef\xbf\xbd\n" },
    { "\"\\ud800\\\\udc00\"", "\xef\xbf\xbd\\udc00" },
    { "\"\\ud800\\u0041\"", "\xef\xbf\xbd" "A" },
    { "\"\\ud800\\ud800\"", "\xef\xbf\xbd\xef\xbf\xbd" },
    { "\"\\ud800\\ud800\\udc00\"", "\xef\xbf\xbd\xf0\x90\x80\x80" },
    { "\"\\udc00\\ud800\"", "\xef\xbf\xbd\xef\xbf\xbd" },
    { "\"\\udc00\\udc00\"", "\xef\xbf\xbd\xef\xbf\xbd" },
    { "\"\\ud800\\u0000\"", "\xef\xbf\xbd\xef\xbf\xbd" },
    /* Raw UTF-8 and DEL are kept as they are. */
    { "\"\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"", "\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf" },
    { "\"\xc3\xa9\\n\xc3\xa9\"", "\xc3\xa9\n\xc3\xa9" },
    { "\"[{\\\"a\\\":1}]\"", "[{\"a\":1}]" },
  };
  const char *bad[] = {
    "\"\\x41\"", "\"\\a\"", "\"\\0\"", "\"\\'\"", "\"\\ \"", "\"\\U0041\"", "\"\\N\"", "\"\\\xc3\xa9\"",
    "\"\\u\"", "\"\\u1\"", "\"\\u12\"", "\"\\u123\"", "\"\\u12G4\"", "\"\\u-123\"", "\"\\u 123\"", "\"\\u+123\"",
    "\"\\uD800\\u\"", "\"\\uD800\\uDC\"", "\"\\uD800\\uDCZZ\"", "\"\\ud800\\x\"", "\"\\u00e\"",
    "\"\\", "\"\\\"", "\"a\\u12", "\"\\u0041",
  };
  g_autoptr(RiJsonDoc) doc = NULL;
  const RiJsonValue *root;

  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    {
      g_autofree char *in_array = g_strdup_printf ("[%s,%s]", strings[i].json, strings[i].json);
      g_autofree char *as_key = g_strdup_printf ("{%s:%s}", strings[i].json, strings[i].json);
      g_autoptr(RiJsonDoc) a = NULL;
      g_autoptr(RiJsonDoc) k = NULL;
      g_autoptr(JsonNode) node = parse_node (strings[i].json);

      assert_decodes (strings[i].json, strings[i].decoded);
      a = parse (in_array, -1, DEPTH);
      g_assert_cmpstr (ri_json_value_get_string (ri_json_array_get (ri_json_doc_get_root (a), 0)), ==,
                       strings[i].decoded);
      g_assert_cmpstr (ri_json_value_get_string (ri_json_array_get (ri_json_doc_get_root (a), 1)), ==,
                       strings[i].decoded);
      k = parse (as_key, -1, DEPTH);
      g_assert_cmpstr (ri_json_object_name_at (ri_json_doc_get_root (k), 0), ==, strings[i].decoded);
      g_assert_cmpstr (ri_json_object_get_string (ri_json_doc_get_root (k), strings[i].decoded), ==,
                       strings[i].decoded);
      g_assert_cmpstr (json_node_get_string (node), ==, strings[i].decoded);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *as_key = g_strdup_printf ("{%s:1}", bad[i]);

      assert_refused (bad[i], RI_JSON_ERROR_INVALID);
      assert_refused (as_key, RI_JSON_ERROR_INVALID);
    }
  /* Every raw control character in a string is refused, in a value and
   * in a key; NUL is not UTF-8 for GLib. */
  for (int c = 1; c < 0x20; c++)
    {
      g_autofree char *value = g_strdup_printf ("[\"a%cb\"]", c);
      g_autofree char *key = g_strdup_printf ("{\"a%cb\":1}", c);
      g_autofree char *first = g_strdup_printf ("\"%c\"", c);
      g_autofree char *after_escape = g_strdup_printf ("\"\\n%c\"", c);

      assert_refused (value, RI_JSON_ERROR_INVALID);
      assert_refused (key, RI_JSON_ERROR_INVALID);
      assert_refused (first, RI_JSON_ERROR_INVALID);
      assert_refused (after_escape, RI_JSON_ERROR_INVALID);
    }
  {
    g_autoptr(GError) error = NULL;
    g_assert_null (ri_json_doc_parse ("\"a\0b\"", 5, MAX_SIZE, DEPTH, &error));
    g_assert_nonnull (error);
    g_assert_true (error->domain == RI_JSON_ERROR);
  }

  /* Keys with escapes, and the lookup by the decoded name. */
  doc = parse ("{\"\\u0061\\n\":1,\"\\ud83d\\ude00\":2,\"\\\"q\\\"\":3,\"\":4,\"\\u0000\":5}", -1, DEPTH);
  root = ri_json_doc_get_root (doc);
  g_assert_cmpstr (ri_json_object_name_at (root, 0), ==, "a\n");
  g_assert_cmpstr (ri_json_object_name_at (root, 1), ==, "\xf0\x9f\x98\x80");
  g_assert_cmpstr (ri_json_object_name_at (root, 2), ==, "\"q\"");
  g_assert_cmpstr (ri_json_object_name_at (root, 3), ==, "");
  g_assert_cmpstr (ri_json_object_name_at (root, 4), ==, "\xef\xbf\xbd");
  g_assert_nonnull (ri_json_object_get (root, "a\n"));
  g_assert_nonnull (ri_json_object_get (root, "\"q\""));
  g_assert_true (ri_json_object_get (root, "") == ri_json_object_value_at (root, 3));
  g_assert_null (ri_json_object_get (root, "\\u0061\\n"));
}

static void
assert_integer (const char *json, gint64 expected)
{
  g_autoptr(RiJsonDoc) doc = parse (json, -1, DEPTH);
  g_autoptr(JsonNode) node = parse_node (json);
  g_autofree char *in_array = g_strdup_printf ("[%s,%s]", json, json);
  g_autoptr(RiJsonDoc) array = parse (in_array, -1, DEPTH);
  const RiJsonValue *root = ri_json_doc_get_root (doc);
  gint64 n = 0;

  g_assert_cmpint (ri_json_value_get_type (root), ==, RI_JSON_NUMBER);
  if (!ri_json_value_get_int (root, &n))
    g_error ("%s is not an integer", json);
  g_assert_cmpint (n, ==, expected);
  g_assert_true (ri_json_value_get_int (ri_json_array_get (ri_json_doc_get_root (array), 1), &n));
  g_assert_cmpint (n, ==, expected);
  g_assert_true (JSON_NODE_HOLDS_VALUE (node));
  g_assert_cmpuint (json_node_get_value_type (node), ==, G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (node), ==, expected);
}

/* @expected is compared bit for bit (so -0.0 is not 0.0); NAN means
 * whatever, as long as it is not an integer. */
static void
assert_real (const char *json, double expected)
{
  g_autoptr(RiJsonDoc) doc = parse (json, -1, DEPTH);
  g_autoptr(JsonNode) node = parse_node (json);
  g_autofree char *in_object = g_strdup_printf ("{\"a\":%s}", json);
  g_autoptr(JsonNode) object = parse_node (in_object);
  const RiJsonValue *root = ri_json_doc_get_root (doc);
  gint64 n = 0;
  double got;

  g_assert_cmpint (ri_json_value_get_type (root), ==, RI_JSON_NUMBER);
  if (ri_json_value_get_int (root, &n))
    g_error ("%s is the integer %" G_GINT64_FORMAT, json, n);
  g_assert_true (JSON_NODE_HOLDS_VALUE (node));
  g_assert_cmpuint (json_node_get_value_type (node), ==, G_TYPE_DOUBLE);
  got = json_node_get_double (node);
  if (!isnan (expected) && memcmp (&got, &expected, sizeof got) != 0)
    g_error ("%s is %.17g, not %.17g", json, got, expected);
  g_assert_cmpuint (json_node_get_value_type (json_object_get_member (json_node_get_object (object), "a")), ==,
                    G_TYPE_DOUBLE);
}

static void
test_numbers (void)
{
  const char *bad[] = {
    "01", "00", "-01", "-00", "012", "0123.5", "-", "--1", "-+1", "+1", "+0", "- 1", "1.", "-1.", "1.e1", ".1",
    "-.1", "1e", "1E", "1e+", "1e-", "1E+", "1e+-1", "1ee1", "1e1e1", "1e1.5", "1.5.5", "1..5", "0x1", "0X1F",
    "0x", "1_000", "1,000", "1 000", "NaN", "nan", "-NaN", "Infinity", "-Infinity", "inf", "-inf", "1f", "1d",
    "1L", "1.0f", "\xd9\xa1", "１", "0e", "0.e1", "2.e3", "1.5e", "-e1", "e1", "E1", "1e\xd9\xa1", ".", "-.",
    "[.5]", "[+1]", "[-]", "[1.]", "[1e]", "[01]", "{\"a\":01}", "{\"a\":-}", "[0x10]", "[1e1.0]", "[NaN]", "123abc",
  };
  g_autofree char *many_digits = g_strnfill (400, '9');
  g_autofree char *zeros = g_strnfill (400, '0');
  g_autofree char *many_zeros = g_strconcat ("0.", zeros, "1", NULL);

  assert_integer ("0", 0);
  assert_integer ("-0", 0);
  assert_integer ("1", 1);
  assert_integer ("-1", -1);
  assert_integer ("10", 10);
  assert_integer ("1234567890", 1234567890);
  assert_integer ("-1234567890123", -1234567890123);
  assert_integer ("4294967296", G_GINT64_CONSTANT (4294967296));
  assert_integer ("922337203685477580", G_GINT64_CONSTANT (922337203685477580));
  assert_integer ("9223372036854775806", G_MAXINT64 - 1);
  assert_integer ("9223372036854775807", G_MAXINT64);
  assert_integer ("-9223372036854775807", -G_MAXINT64);
  assert_integer ("-9223372036854775808", G_MININT64);

  /* One beyond either end, and past what 64 bits hold: numbers still,
   * but not integers. */
  assert_real ("9223372036854775808", 9223372036854775808.0);
  assert_real ("-9223372036854775809", -9223372036854775808.0);
  assert_real ("9223372036854775810", 9223372036854775808.0);
  assert_real ("18446744073709551615", 18446744073709551616.0);
  assert_real ("18446744073709551616", 18446744073709551616.0);
  assert_real ("18446744073709551617", 18446744073709551616.0);
  assert_real ("-18446744073709551616", -18446744073709551616.0);
  assert_real ("184467440737095516160", 184467440737095516160.0);
  assert_real ("100000000000000000000000000000", 1e29);
  assert_refused (many_digits, RI_JSON_ERROR_INVALID);

  /* Fractions and exponents are never integers, whatever their value. */
  assert_real ("0.0", 0.0);
  assert_real ("-0.0", -0.0);
  assert_real ("1.0", 1.0);
  assert_real ("1.5", 1.5);
  assert_real ("-1.5", -1.5);
  assert_real ("0.1", 0.1);
  assert_real ("3.141592653589793", 3.141592653589793);
  assert_real ("0.30000000000000004", 0.30000000000000004);
  assert_real (many_zeros, 0.0);
  assert_real ("1e0", 1.0);
  assert_real ("1E2", 100.0);
  assert_real ("1e+2", 100.0);
  assert_real ("1E+2", 100.0);
  assert_real ("1e-2", 0.01);
  assert_real ("1E-2", 0.01);
  assert_real ("-1e2", -100.0);
  assert_real ("0e0", 0.0);
  assert_real ("-0e0", -0.0);
  assert_real ("0E+1", 0.0);
  assert_real ("1.5E-3", 0.0015);
  assert_real ("-2.5e+10", -2.5e10);
  assert_real ("123.456e-7", 123.456e-7);
  assert_real ("1e05", 1e5);
  assert_real ("1e-005", 1e-5);
  assert_real ("1e0000000000000000000000000001", 10.0);
  assert_real ("1.7976931348623157e308", 1.7976931348623157e308);
  assert_real ("2.2250738585072014e-308", 2.2250738585072014e-308);
  assert_real ("4.9406564584124654e-324", 4.9406564584124654e-324);
  /* Beyond what a double holds: refused, as Go refuses them. */
  assert_refused ("1e309", RI_JSON_ERROR_INVALID);
  assert_refused ("-1e400", RI_JSON_ERROR_INVALID);
  assert_refused ("[1e99999999999999999999]", RI_JSON_ERROR_INVALID);
  assert_real ("1e-400", 0.0);
  assert_real ("-1e-400", -0.0);
  assert_real ("1e-99999999999999999999", 0.0);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_refused (bad[i], RI_JSON_ERROR_INVALID);

  /* A number ends where its grammar does, before any delimiter. */
  {
    g_autoptr(RiJsonDoc) doc = parse ("[0,-0,1e1,2.5,-3]", -1, DEPTH);
    g_autoptr(RiJsonDoc) spaced = parse ("[ 0 , -0\t,1e1\n,2.5\r, -3 ]", -1, DEPTH);
    g_autoptr(RiJsonDoc) object = parse ("{\"a\":-1,\"b\":1.5e-3}", -1, DEPTH);
    gint64 n = 1;

    g_assert_cmpuint (ri_json_value_get_length (ri_json_doc_get_root (doc)), ==, 5);
    g_assert_cmpuint (ri_json_value_get_length (ri_json_doc_get_root (spaced)), ==, 5);
    g_assert_true (ri_json_value_get_int (ri_json_array_get (ri_json_doc_get_root (spaced), 4), &n));
    g_assert_cmpint (n, ==, -3);
    g_assert_true (ri_json_value_get_int (ri_json_object_get (ri_json_doc_get_root (object), "a"), &n));
    g_assert_cmpint (n, ==, -1);
  }
}

static void
test_literals (void)
{
  const char *bad[] = {
    "tru", "truex", "True", "TRUE", "t", "nul", "nulll", "NULL", "None", "nil", "fals", "False", "falsey",
    "[true false]", "[truefalse]", "[nul]", "{\"a\":tru}", "{\"a\":nulll}", "undefined", "\xe2\x80\x9ctrue",
  };
  g_autoptr(RiJsonDoc) doc = parse ("[true,false,null]", -1, DEPTH);
  g_autoptr(JsonNode) t = parse_node ("true");
  g_autoptr(JsonNode) f = parse_node ("false");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_refused (bad[i], RI_JSON_ERROR_INVALID);
  g_assert_true (json_node_get_boolean (t));
  g_assert_false (json_node_get_boolean (f));
  /* Cut short by the length given, not by a NUL. */
  assert_refused_len ("true", 3, RI_JSON_ERROR_INVALID);
  assert_refused_len ("null", 1, RI_JSON_ERROR_INVALID);
  assert_refused_len ("[false]", 5, RI_JSON_ERROR_INVALID);
}

/* The classic invalid texts, in the manner of JSONTestSuite's "n_" cases. */
static void
test_invalid (void)
{
  const char *bad[] = {
    /* structure */
    "]", "}", "[", "{", ":", ",", "[]]", "{}}", "[}", "{]", "[1}", "{\"a\":1]", "[[]", "[{]", "[{}", "{\"a\":[}",
    "[1,]", "[1,,2]", "[,1]", "[,]", "[1,2,]", "[ , ]", "[\"a\",]", "{\"a\":1,}", "{,}", "{,\"a\":1}",
    "{\"a\":1,,\"b\":2}", "[1 2]", "[\"a\" \"b\"]", "[1:2]", "[\"a\":1]", "{\"a\":1 \"b\":2}", "{\"a\" 1}",
    "{\"a\"}", "{\"a\":}", "{\"a\"::1}", "{\"a\":1:2}", "{\"a\",1}", "{:1}", "{\"a\"=1}", "{\"a\"=>1}",
    "{'a':1}", "['a']", "'a'", "{a:1}", "{1:1}", "{null:1}", "{true:1}", "{[]:1}", "{{}:1}", "{\"a\":1}x",
    "1 2", "[] []", "{}{}", "[][]", "[1]x", "[1] x", "[1],", "\"a\"\"b\"", "\"a\" \"b\"", "1]", "1}", "null,",
    "x", "*", "[*]", "{\"a\":x}", "[x]", "@", "\\", "\\u0041", "<a/>", "()", "(1)", "[1]]", "[[1]]]", "{\"a\":{}}}",
    /* comments and other extensions */
    "[1]//c", "//c\n[1]", "/*c*/[1]", "[1/*c*/]", "[1]/*", "# c\n1", "[1,/**/2]",
    /* strings cut short */
    "\"", "\"abc", "[\"abc", "{\"abc", "{\"a\":\"b", "[\"a\\\"]", "\"\\\"", "\"a\\", "{\"a", "{\"a\":\"",
    /* containers cut short */
    "[1", "[1,", "[\"a\"", "[[", "[[1]", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "{\"a\":1,\"b\"",
    "{\"a\":[1", "[{\"a\":1", "[{", "{\"a\":{",
    /* a byte order mark, and text around the value */
    "\xef\xbb\xbf{}", "\xef\xbb\xbf\"a\"", "[1]\xef\xbb\xbf", "a[1]", "[1]a", "=1", "[1]\\",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_refused (bad[i], RI_JSON_ERROR_INVALID);
}

static void
test_empty_and_sizes (void)
{
  g_autoptr(GBytes) empty = g_bytes_new ("", 0);
  g_autoptr(GBytes) space = g_bytes_new (" \n", 2);
  g_autoptr(GBytes) one = g_bytes_new ("1", 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(RiJsonDoc) doc = NULL;
  g_autofree char *padded = g_strnfill (100, ' ');

  assert_refused ("", RI_JSON_ERROR_EMPTY);
  assert_refused_len ("[1]", 0, RI_JSON_ERROR_EMPTY);
  assert_refused_len (NULL, 0, RI_JSON_ERROR_EMPTY);
  assert_refused_len (NULL, -1, RI_JSON_ERROR_EMPTY);
  assert_refused_len (NULL, 5, RI_JSON_ERROR_EMPTY);
  assert_refused (" ", RI_JSON_ERROR_EMPTY);
  assert_refused ("\t", RI_JSON_ERROR_EMPTY);
  assert_refused ("\n", RI_JSON_ERROR_EMPTY);
  assert_refused ("\r", RI_JSON_ERROR_EMPTY);
  assert_refused (" \t\n\r \r\n", RI_JSON_ERROR_EMPTY);
  assert_refused_len ("  [1]", 2, RI_JSON_ERROR_EMPTY);
  g_assert_null (ri_json_doc_parse_bytes (NULL, 10, DEPTH, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY);
  g_clear_error (&error);
  g_assert_null (ri_json_doc_parse_bytes (empty, 10, DEPTH, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY);
  g_clear_error (&error);
  g_assert_null (ri_json_doc_parse_bytes (space, 10, DEPTH, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY);
  g_clear_error (&error);
  g_assert_null (ri_json_parse_bytes (space, 10, DEPTH, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY);
  g_clear_error (&error);
  doc = ri_json_doc_parse_bytes (one, 10, DEPTH, &error);
  g_assert_no_error (error);
  g_assert_nonnull (doc);
  g_clear_pointer (&doc, ri_json_doc_free);

  /* The size bound: exactly max_size is fine, a byte more is not, with
   * the length given or found, and whitespace counts. */
  doc = ri_json_doc_parse ("[1,2]", -1, 5, DEPTH, &error);
  g_assert_no_error (error);
  g_clear_pointer (&doc, ri_json_doc_free);
  doc = ri_json_doc_parse ("[1,2]", 5, 5, DEPTH, &error);
  g_assert_no_error (error);
  g_clear_pointer (&doc, ri_json_doc_free);
  g_assert_null (ri_json_doc_parse ("[1,2]", -1, 4, DEPTH, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_null (ri_json_doc_parse ("[1,2]", 5, 4, DEPTH, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_LARGE);
  g_assert_cmpstr (error->message, ==, "is larger than 4 bytes");
  g_clear_error (&error);
  g_assert_null (ri_json_doc_parse ("1", -1, 0, DEPTH, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_null (ri_json_doc_parse (padded, -1, 99, DEPTH, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_null (ri_json_parse_bounded ("[1,2]", -1, 4, DEPTH, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_null (ri_json_doc_parse_bytes (one, 0, DEPTH, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_LARGE);
  g_clear_error (&error);
  /* A length given is the length: what follows is not read. */
  doc = ri_json_doc_parse ("[1]\xff garbage", 3, 3, DEPTH, &error);
  g_assert_no_error (error);
  g_assert_nonnull (doc);
}

static void
test_not_utf8 (void)
{
  const char *bad[] = {
    "\"\xff\"", "\"\xfe\"", "\"\xc3\"", "\"\xc3\x28\"", "\"\xa9\"", "\"\xe2\x82\"", "\"\xf0\x9f\x98\"",
    "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"", "\"\xf0\x80\x80\xaf\"", "\"\xed\xa0\x80\"", "\"\xed\xbf\xbf\"",
    "\"\xed\xa0\xbd\xed\xb8\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xf8\x88\x80\x80\x80\"", "\xff", "[\xff]",
    "[1]\xff", "{\"\xff\":1}", "\xc3", "[\"a\"]\xe2\x82",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_refused (bad[i], RI_JSON_ERROR_NOT_UTF8);
}

static void
test_duplicate_keys (void)
{
  g_autoptr(RiJsonDoc) doc = parse ("{\"a\":1,\"b\":2,\"a\":3,\"\\u0061\":\"four\",\"b\":null}", -1, DEPTH);
  g_autoptr(JsonNode) node = parse_node ("{\"a\":1,\"b\":2,\"a\":3,\"\\u0061\":\"four\",\"b\":null}");
  const RiJsonValue *root = ri_json_doc_get_root (doc);
  const char *names[] = { "a", "b", "a", "a", "b" };
  JsonObject *object = json_node_get_object (node);
  gint64 n;

  g_assert_cmpuint (ri_json_value_get_length (root), ==, 5);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_assert_cmpstr (ri_json_object_name_at (root, i), ==, names[i]);
  g_assert_true (ri_json_value_get_int (ri_json_object_value_at (root, 0), &n));
  g_assert_cmpint (n, ==, 1);
  g_assert_true (ri_json_value_get_int (ri_json_object_value_at (root, 1), &n));
  g_assert_cmpint (n, ==, 2);
  g_assert_true (ri_json_value_get_int (ri_json_object_value_at (root, 2), &n));
  g_assert_cmpint (n, ==, 3);
  g_assert_cmpstr (ri_json_value_get_string (ri_json_object_value_at (root, 3)), ==, "four");
  g_assert_true (ri_json_value_is_null (ri_json_object_value_at (root, 4)));
  /* The last one given wins. */
  g_assert_true (ri_json_object_get (root, "a") == ri_json_object_value_at (root, 3));
  g_assert_true (ri_json_object_get (root, "b") == ri_json_object_value_at (root, 4));
  g_assert_cmpstr (ri_json_object_get_string (root, "a"), ==, "four");
  g_assert_null (ri_json_object_get_string (root, "b"));
  /* As json-glib's nodes: one member each, the last value. */
  g_assert_cmpuint (json_object_get_size (object), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (object, "a"), ==, "four");
  g_assert_true (json_object_get_null_member (object, "b"));
}

static GString *
nested (guint levels, gboolean objects, gboolean close)
{
  GString *s = g_string_sized_new (levels * 6 + 8);

  for (guint i = 0; i < levels; i++)
    g_string_append (s, objects && i % 2 ? "{\"k\":" : "[");
  g_string_append (s, "0");
  for (guint i = levels; close && i-- > 0;)
    g_string_append_c (s, objects && i % 2 ? '}' : ']');
  return s;
}

/* Walks what nested() made without recursion, and checks its every level. */
static void
assert_nested (const RiJsonValue *value, guint levels, gboolean objects)
{
  gint64 n = 1;

  for (guint i = 0; i < levels; i++)
    {
      g_assert_cmpuint (ri_json_value_get_length (value), ==, 1);
      if (objects && i % 2)
        {
          g_assert_cmpint (ri_json_value_get_type (value), ==, RI_JSON_OBJECT);
          g_assert_cmpstr (ri_json_object_name_at (value, 0), ==, "k");
          value = ri_json_object_get (value, "k");
        }
      else
        {
          g_assert_cmpint (ri_json_value_get_type (value), ==, RI_JSON_ARRAY);
          value = ri_json_array_get (value, 0);
        }
    }
  g_assert_true (ri_json_value_get_int (value, &n));
  g_assert_cmpint (n, ==, 0);
}

static void
test_depth (void)
{
  guint bounds[] = { 1, 2, 16, 17, 64, 1000 };
  g_autoptr(GError) error = NULL;

  /* Scalars need no depth at all. */
  {
    g_autoptr(RiJsonDoc) doc = parse ("\"x\"", -1, 0);
    g_assert_null (ri_json_doc_parse ("[]", -1, MAX_SIZE, 0, &error));
    g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP);
    g_clear_error (&error);
  }
  for (guint i = 0; i < G_N_ELEMENTS (bounds); i++)
    for (int objects = 0; objects < 2; objects++)
      {
        g_autoptr(GString) at = nested (bounds[i], objects, TRUE);
        g_autoptr(GString) beyond = nested (bounds[i] + 1, objects, TRUE);
        g_autoptr(GString) beyond_open = nested (bounds[i] + 1, objects, FALSE);
        g_autoptr(RiJsonDoc) doc = parse (at->str, at->len, bounds[i]);
        g_autoptr(JsonNode) node = ri_json_parse_bounded (at->str, at->len, MAX_SIZE, bounds[i], &error);
        g_autofree char *message = g_strdup_printf ("is nested too deeply (more than %u levels)", bounds[i]);

        g_assert_no_error (error);
        g_assert_nonnull (node);
        assert_nested (ri_json_doc_get_root (doc), bounds[i], objects);
        g_assert_null (ri_json_doc_parse (beyond->str, beyond->len, MAX_SIZE, bounds[i], &error));
        g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP);
        g_assert_cmpstr (error->message, ==, message);
        g_clear_error (&error);
        g_assert_null (ri_json_parse_bounded (beyond->str, beyond->len, MAX_SIZE, bounds[i], &error));
        g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP);
        g_clear_error (&error);
        /* Too deep is said before the text's end is missed. */
        g_assert_null (ri_json_doc_parse (beyond_open->str, beyond_open->len, MAX_SIZE, bounds[i], &error));
        g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP);
        g_clear_error (&error);
      }
  /* Depth is nesting, not the number of containers. */
  {
    g_autoptr(GString) wide = g_string_new ("[");
    g_autoptr(RiJsonDoc) doc = NULL;

    for (guint i = 0; i < 10000; i++)
      g_string_append (wide, i ? ",[{\"a\":[]}]" : "[{\"a\":[]}]");
    g_string_append_c (wide, ']');
    doc = parse (wide->str, wide->len, 4);
    g_assert_cmpuint (ri_json_value_get_length (ri_json_doc_get_root (doc)), ==, 10000);
    g_assert_null (ri_json_doc_parse (wide->str, wide->len, MAX_SIZE, 3, &error));
    g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP);
    g_clear_error (&error);
  }
}

/* 200,000 levels, with a bound that allows them: the parser and the
 * document's free hold no stack per level. */
static void
test_very_deep (void)
{
  const guint levels = 200000;
  g_autoptr(GError) error = NULL;

  for (int objects = 0; objects < 2; objects++)
    {
      g_autoptr(GString) closed = nested (levels, objects, TRUE);
      g_autoptr(GString) open = nested (levels, objects, FALSE);
      g_autoptr(RiJsonDoc) doc = parse (closed->str, closed->len, G_MAXUINT);

      assert_nested (ri_json_doc_get_root (doc), levels, objects);
      g_assert_null (ri_json_doc_parse (open->str, open->len, MAX_SIZE, G_MAXUINT, &error));
      g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_null (ri_json_doc_parse (closed->str, closed->len, MAX_SIZE, levels - 1, &error));
      g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP);
      g_clear_error (&error);
      g_assert_null (ri_json_parse_bounded (closed->str, closed->len, MAX_SIZE, 64, &error));
      g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP);
      g_clear_error (&error);
    }
}

static void
test_error_positions (void)
{
  assert_message ("[1,]", "is not valid JSON: ']' where a value should be at line 1, column 4");
  assert_message ("{\n  \"a\": 1,\n  \"b\" 2\n}", "is not valid JSON: '2' where ':' should be at line 3, column 7");
  assert_message ("\r\n[1 2]", "is not valid JSON: '2' where ',' or ']' should be at line 2, column 4");
  assert_message ("[1", "is not valid JSON: the text ends where ',' or ']' should be at line 1, column 3");
  assert_message ("{\"a\":1\n", "is not valid JSON: the text ends where ',' or '}' should be at line 2, column 1");
  assert_message ("\"abc", "is not valid JSON: an unterminated string at line 1, column 5");
  assert_message ("[\"a\x01\"]", "is not valid JSON: a control character in a string at line 1, column 4");
  assert_message ("[\"\\x\"]", "is not valid JSON: an unknown escape in a string at line 1, column 3");
  assert_message ("\n\n  \"\\u12\"", "is not valid JSON: a malformed \\u escape at line 3, column 4");
  assert_message ("[-]", "is not valid JSON: a malformed number at line 1, column 3");
  assert_message ("[1.]", "is not valid JSON: a malformed number at line 1, column 4");
  assert_message ("{1:1}", "is not valid JSON: '1' where a member's name should be at line 1, column 2");
  assert_message ("[1]\n]", "is not valid JSON: ']' where the end of the text should be at line 2, column 1");
  assert_message ("[\x7f]", "is not valid JSON: byte 0x7f where a value should be at line 1, column 2");
  assert_message ("[\xc3\xa9]", "is not valid JSON: byte 0xc3 where a value should be at line 1, column 2");
  /* Escaped line feeds are no lines: the strings before the error are
   * decoded in place by then, and must not be what is counted. */
  assert_message ("[\"\\n\", x]", "is not valid JSON: 'x' where a value should be at line 1, column 8");
  assert_message ("[\"\\u000a\\u000A\",\n x]", "is not valid JSON: 'x' where a value should be at line 2, column 2");
  assert_message ("{\"a\\nb\":1 x}", "is not valid JSON: 'x' where ',' or '}' should be at line 1, column 11");
  assert_message ("[\"\\n\\n\\n\", \"a\\u12\"]", "is not valid JSON: a malformed \\u escape at line 1, column 14");
}

/* ri_json_parse_bounded()'s nodes: the kinds json-glib's parser would
 * give, integers as gint64 and every other number as a double, sealed. */
static void
test_nodes (void)
{
  g_autoptr(JsonNode) null = parse_node ("null");
  g_autoptr(JsonNode) yes = parse_node ("true");
  g_autoptr(JsonNode) integer = parse_node ("-42");
  g_autoptr(JsonNode) big = parse_node ("9223372036854775808");
  g_autoptr(JsonNode) real = parse_node ("4.0");
  g_autoptr(JsonNode) exponent = parse_node ("4e0");
  g_autoptr(JsonNode) string = parse_node ("\"s\\u00e9\"");
  g_autoptr(JsonNode) array = parse_node ("[1, 1.0, \"1\", null, [], {}]");
  g_autoptr(JsonNode) object = parse_node ("{\"i\": 1, \"d\": 1.5, \"s\": \"x\", \"n\": null, \"b\": false, \"a\": [2]}");
  g_autoptr(GBytes) bytes = g_bytes_new_static ("{\"k\": [3]}", 10);
  g_autoptr(JsonNode) from_bytes = ri_json_parse_bytes (bytes, 100, 2, NULL);
  JsonArray *a;
  JsonObject *o;
  g_autoptr(GList) members = NULL;
  const char *order[] = { "i", "d", "s", "n", "b", "a" };
  guint i = 0;

  g_assert_true (JSON_NODE_HOLDS_NULL (null));
  g_assert_cmpuint (json_node_get_value_type (yes), ==, G_TYPE_BOOLEAN);
  g_assert_true (json_node_get_boolean (yes));
  g_assert_cmpuint (json_node_get_value_type (integer), ==, G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (integer), ==, -42);
  g_assert_cmpuint (json_node_get_value_type (big), ==, G_TYPE_DOUBLE);
  g_assert_cmpfloat (json_node_get_double (big), ==, 9223372036854775808.0);
  g_assert_cmpuint (json_node_get_value_type (real), ==, G_TYPE_DOUBLE);
  g_assert_cmpfloat (json_node_get_double (real), ==, 4.0);
  g_assert_cmpuint (json_node_get_value_type (exponent), ==, G_TYPE_DOUBLE);
  g_assert_cmpuint (json_node_get_value_type (string), ==, G_TYPE_STRING);
  g_assert_cmpstr (json_node_get_string (string), ==, "s\xc3\xa9");
  for (JsonNode *n = null; n; n = n == null ? string : NULL)
    g_assert_true (json_node_is_immutable (n));
  g_assert_true (json_node_is_immutable (object));

  g_assert_true (JSON_NODE_HOLDS_ARRAY (array));
  a = json_node_get_array (array);
  g_assert_cmpuint (json_array_get_length (a), ==, 6);
  g_assert_cmpuint (json_node_get_value_type (json_array_get_element (a, 0)), ==, G_TYPE_INT64);
  g_assert_cmpuint (json_node_get_value_type (json_array_get_element (a, 1)), ==, G_TYPE_DOUBLE);
  g_assert_cmpuint (json_node_get_value_type (json_array_get_element (a, 2)), ==, G_TYPE_STRING);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_array_get_element (a, 3)));
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_array_get_element (a, 4)));
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_array_get_element (a, 5)));
  g_assert_true (json_node_is_immutable (json_array_get_element (a, 4)));

  g_assert_true (JSON_NODE_HOLDS_OBJECT (object));
  o = json_node_get_object (object);
  g_assert_cmpuint (json_object_get_size (o), ==, 6);
  g_assert_cmpuint (json_node_get_value_type (json_object_get_member (o, "i")), ==, G_TYPE_INT64);
  g_assert_cmpuint (json_node_get_value_type (json_object_get_member (o, "d")), ==, G_TYPE_DOUBLE);
  g_assert_cmpstr (json_object_get_string_member (o, "s"), ==, "x");
  g_assert_true (json_object_get_null_member (o, "n"));
  g_assert_cmpuint (json_node_get_value_type (json_object_get_member (o, "b")), ==, G_TYPE_BOOLEAN);
  g_assert_cmpint (json_array_get_int_element (json_object_get_array_member (o, "a"), 0), ==, 2);
  /* Members in the order given. */
  members = json_object_get_members (o);
  for (GList *l = members; l; l = l->next, i++)
    g_assert_cmpstr (l->data, ==, order[i]);
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (order));

  g_assert_nonnull (from_bytes);
  g_assert_cmpint (json_array_get_int_element (json_object_get_array_member (json_node_get_object (from_bytes), "k"), 0),
                   ==, 3);
}

/* The differential check: random documents, serialized by json-glib's
 * generator and by a writer of the test's own that uses every freedom
 * the grammar gives, must read back as the tree they came from, by our
 * parser and by json-glib's. */

#define RANDOM_DOCUMENTS 3000
#define RANDOM_DEPTH 6

static gunichar
random_char (GRand *rand)
{
  static const gunichar edges[] = {
    0x01, 0x1f, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfeff, 0xfffd, 0xfffe, 0xffff, 0x10000, 0x10ffff,
    0x2028, 0x2029, 0x1f600, '"', '\\', '/', '\b', '\f', '\n', '\r', '\t',
  };
  gunichar c;

  switch (g_rand_int_range (rand, 0, 8))
    {
    case 0:
      return g_rand_int_range (rand, 1, 0x20);
    case 1:
    case 2:
      return g_rand_int_range (rand, 0x20, 0x80);
    case 3:
      return g_rand_int_range (rand, 0x80, 0x800);
    case 4:
      do
        c = g_rand_int_range (rand, 0x800, 0x10000);
      while (c >= 0xd800 && c <= 0xdfff);
      return c;
    case 5:
      return g_rand_int_range (rand, 0x10000, 0x110000);
    default:
      return edges[g_rand_int_range (rand, 0, G_N_ELEMENTS (edges))];
    }
}

static char *
random_string (GRand *rand, guint max)
{
  GString *s = g_string_new (NULL);
  guint n = g_rand_int_range (rand, 0, max + 1);

  for (guint i = 0; i < n; i++)
    g_string_append_unichar (s, random_char (rand));
  return g_string_free (s, FALSE);
}

static gint64
random_integer (GRand *rand)
{
  static const gint64 edges[] = { 0, 1, -1, 9, 10, -10, G_MAXINT32, G_MININT32, (gint64) G_MAXUINT32 + 1,
                                  G_MAXINT64, G_MININT64, G_MAXINT64 - 1, G_MININT64 + 1 };

  switch (g_rand_int_range (rand, 0, 4))
    {
    case 0:
      return g_rand_int_range (rand, -1000, 1000);
    case 1:
      return (gint64) (((guint64) g_rand_int (rand) << 32) | g_rand_int (rand));
    case 2:
      return (gint64) (((guint64) g_rand_int (rand) << 32) | g_rand_int (rand)) >> g_rand_int_range (rand, 0, 63);
    default:
      return edges[g_rand_int_range (rand, 0, G_N_ELEMENTS (edges))];
    }
}

static double
random_double (GRand *rand)
{
  static const double edges[] = { 0.0, -0.0, 1.0, -1.0, 0.5, 1e300, -1e-300, 1.7976931348623157e308,
                                  2.2250738585072014e-308, 4.9406564584124654e-324, 9007199254740993.0,
                                  9223372036854775808.0, 1e21, 0.1, 123456789.125 };
  double d;

  switch (g_rand_int_range (rand, 0, 5))
    {
    case 0:
      return g_rand_int_range (rand, -100000, 100000) / 64.0;
    case 1:
      return g_rand_double_range (rand, -1e6, 1e6);
    case 2:
      do
        {
          guint64 bits = ((guint64) g_rand_int (rand) << 32) | g_rand_int (rand);
          memcpy (&d, &bits, sizeof d);
        }
      while (!isfinite (d));
      return d;
    case 3:
      {
        char text[64];

        g_snprintf (text, sizeof text, "%.17fe%d", g_rand_double (rand), g_rand_int_range (rand, -320, 309));
        return g_ascii_strtod (text, NULL);
      }
    default:
      return edges[g_rand_int_range (rand, 0, G_N_ELEMENTS (edges))];
    }
}

static JsonNode *
random_node (GRand *rand, guint depth)
{
  JsonNode *node = json_node_alloc ();
  g_autofree char *s = NULL;

  switch (g_rand_int_range (rand, 0, depth >= RANDOM_DEPTH ? 6 : 9))
    {
    case 0:
      return json_node_init_null (node);
    case 1:
      return json_node_init_boolean (node, g_rand_boolean (rand));
    case 2:
      return json_node_init_int (node, random_integer (rand));
    case 3:
      return json_node_init_double (node, random_double (rand));
    case 4:
    case 5:
      s = random_string (rand, 12);
      return json_node_init_string (node, s);
    case 6:
    case 7:
      {
        g_autoptr(JsonObject) object = json_object_new ();
        guint n = g_rand_int_range (rand, 0, 7);

        for (guint i = 0; i < n; i++)
          {
            g_autofree char *name = random_string (rand, 6);
            JsonNode *member = random_node (rand, depth + 1);

            if (json_object_has_member (object, name))
              json_node_unref (member);
            else
              json_object_set_member (object, name, member);
          }
        return json_node_init_object (node, object);
      }
    default:
      {
        g_autoptr(JsonArray) array = json_array_new ();
        guint n = g_rand_int_range (rand, 0, 7);

        for (guint i = 0; i < n; i++)
          json_array_add_element (array, random_node (rand, depth + 1));
        return json_node_init_array (node, array);
      }
    }
}

/* The RiJsonDoc's own accessors against the tree it should hold. */
static void
assert_value_is_node (const RiJsonValue *value, JsonNode *node)
{
  gint64 n;

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_NULL:
      g_assert_cmpint (ri_json_value_get_type (value), ==, RI_JSON_NULL);
      g_assert_true (ri_json_value_is_null (value));
      break;
    case JSON_NODE_VALUE:
      g_assert_false (ri_json_value_is_null (value));
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          g_assert_cmpint (ri_json_value_get_type (value), ==, RI_JSON_NUMBER);
          g_assert_true (ri_json_value_get_int (value, &n));
          g_assert_cmpint (n, ==, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          g_assert_cmpint (ri_json_value_get_type (value), ==, RI_JSON_NUMBER);
          g_assert_false (ri_json_value_get_int (value, &n));
          break;
        case G_TYPE_BOOLEAN:
          g_assert_cmpint (ri_json_value_get_type (value), ==, RI_JSON_BOOLEAN);
          break;
        default:
          g_assert_cmpint (ri_json_value_get_type (value), ==, RI_JSON_STRING);
          g_assert_cmpstr (ri_json_value_get_string (value), ==, json_node_get_string (node));
        }
      g_assert_cmpuint (ri_json_value_get_length (value), ==, 0);
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        g_assert_cmpint (ri_json_value_get_type (value), ==, RI_JSON_ARRAY);
        g_assert_cmpuint (ri_json_value_get_length (value), ==, json_array_get_length (array));
        for (guint i = 0; i < json_array_get_length (array); i++)
          assert_value_is_node (ri_json_array_get (value, i), json_array_get_element (array, i));
        g_assert_null (ri_json_array_get (value, json_array_get_length (array)));
        break;
      }
    default:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr(GList) members = json_object_get_members (object);
        guint i = 0;

        g_assert_cmpint (ri_json_value_get_type (value), ==, RI_JSON_OBJECT);
        g_assert_cmpuint (ri_json_value_get_length (value), ==, json_object_get_size (object));
        for (GList *l = members; l; l = l->next, i++)
          {
            g_assert_cmpstr (ri_json_object_name_at (value, i), ==, l->data);
            g_assert_true (ri_json_object_get (value, l->data) == ri_json_object_value_at (value, i));
            assert_value_is_node (ri_json_object_value_at (value, i), json_object_get_member (object, l->data));
          }
        g_assert_null (ri_json_object_name_at (value, i));
      }
    }
}

static void
assert_reads_back (const char *text, gsize len, JsonNode *expected, gboolean check_accessors)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ours = ri_json_parse_bounded (text, len, MAX_SIZE, DEPTH, &error);
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *theirs;

  if (ours == NULL)
    g_error ("refused %s: %s", text, error->message);
  if (!json_parser_load_from_data (parser, text, len, &error))
    g_error ("json-glib refused %s: %s", text, error->message);
  theirs = json_parser_get_root (parser);
  if (!json_node_equal (ours, expected) || !same_node (ours, expected))
    g_error ("read %s as something else", text);
  if (!json_node_equal (ours, theirs) || !same_node (ours, theirs))
    g_error ("read %s otherwise than json-glib", text);
  if (check_accessors)
    {
      g_autoptr(RiJsonDoc) doc = parse (text, len, DEPTH);
      assert_value_is_node (ri_json_doc_get_root (doc), expected);
      assert_value_is_node (ri_json_doc_get_root (doc), theirs);
    }
}

/* json-glib 1.6's generator writes a double whose shortest form has an
 * exponent and no point, 1e21, as "1e+21.0": not JSON. */
static gboolean
generator_mangles (JsonNode *node)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) != G_TYPE_DOUBLE)
        return FALSE;
      g_ascii_dtostr (buffer, sizeof buffer, json_node_get_double (node));
      return strchr (buffer, 'e') != NULL && strchr (buffer, '.') == NULL;
    case JSON_NODE_ARRAY:
      for (guint i = 0; i < json_array_get_length (json_node_get_array (node)); i++)
        if (generator_mangles (json_array_get_element (json_node_get_array (node), i)))
          return TRUE;
      return FALSE;
    case JSON_NODE_OBJECT:
      {
        g_autoptr(GList) members = json_object_get_values (json_node_get_object (node));

        for (GList *l = members; l; l = l->next)
          if (generator_mangles (l->data))
            return TRUE;
        return FALSE;
      }
    default:
      return FALSE;
    }
}

static void
test_random_generated (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (8259);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  guint fixed = 0, skipped = 0;

  for (guint i = 0; i < RANDOM_DOCUMENTS; i++)
    {
      g_autoptr(JsonNode) tree = random_node (rand, 0);

      if (generator_mangles (tree))
        {
          skipped++;
          continue;
        }
      json_generator_set_root (generator, tree);
      for (int pretty = 0; pretty < 2; pretty++)
        {
          g_autofree char *text = NULL;
          gsize len;

          json_generator_set_pretty (generator, pretty);
          json_generator_set_indent_char (generator, i % 2 ? '\t' : ' ');
          text = json_generator_to_data (generator, &len);
          /* json-glib 1.6's generator leaves U+001F unescaped (it
           * escapes below 0x1f): not JSON, and we refuse it. The byte
           * can be nothing but that character in a string. */
          if (strchr (text, 0x1f) != NULL)
            {
              g_auto(GStrv) pieces = g_strsplit (text, "\x1f", -1);

              g_free (text);
              text = g_strjoinv ("\\u001f", pieces);
              len = strlen (text);
              fixed++;
            }
          assert_reads_back (text, len, tree, i < 300);
        }
    }
  g_assert_cmpuint (fixed, >, 0);
  g_assert_cmpuint (skipped, <, RANDOM_DOCUMENTS / 10);
}

static void
write_space (GString *out, GRand *rand)
{
  static const char space[] = " \t\n\r";

  if (g_rand_int_range (rand, 0, 3) == 0)
    for (guint n = g_rand_int_range (rand, 1, 4); n > 0; n--)
      g_string_append_c (out, space[g_rand_int_range (rand, 0, 4)]);
}

static void
write_unit (GString *out, GRand *rand, guint unit)
{
  g_string_append_printf (out, g_rand_boolean (rand) ? "\\u%04x" : "\\u%04X", unit);
}

static void
write_string (GString *out, GRand *rand, const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      const char *simple = NULL;
      guint how = g_rand_int_range (rand, 0, 4);

      switch (c)
        {
        case '"': simple = "\\\""; break;
        case '\\': simple = "\\\\"; break;
        case '/': simple = "\\/"; break;
        case '\b': simple = "\\b"; break;
        case '\f': simple = "\\f"; break;
        case '\n': simple = "\\n"; break;
        case '\r': simple = "\\r"; break;
        case '\t': simple = "\\t"; break;
        }
      if (simple && (how < 2 || c < 0x20 || c == '"' || c == '\\') && how != 3)
        g_string_append (out, simple);
      else if (how == 3 || c < 0x20 || c == '"' || c == '\\')
        {
          if (c >= 0x10000)
            {
              write_unit (out, rand, 0xd800 + ((c - 0x10000) >> 10));
              write_unit (out, rand, 0xdc00 + ((c - 0x10000) & 0x3ff));
            }
          else
            write_unit (out, rand, c);
        }
      else
        g_string_append_unichar (out, c);
    }
  g_string_append_c (out, '"');
}

static void
write_double (GString *out, GRand *rand, double d)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  char *e;

  if (g_rand_boolean (rand))
    {
      g_ascii_formatd (buffer, sizeof buffer, "%.17g", d);
      g_string_append (out, buffer);
      if (strpbrk (buffer, ".e") == NULL)
        g_string_append (out, g_rand_boolean (rand) ? ".0" : "e0");
      return;
    }
  /* d.ddde[+-]dd, its e in either case, and a plus sign or none. */
  g_ascii_formatd (buffer, sizeof buffer, "%.17e", d);
  e = strchr (buffer, 'e');
  if (g_rand_boolean (rand))
    *e = 'E';
  if (e[1] == '+' && g_rand_boolean (rand))
    memmove (e + 1, e + 2, strlen (e + 2) + 1);
  g_string_append (out, buffer);
}

/* Writes @node as JSON, with space anywhere it may be, escapes of every
 * kind, and now and then a member given twice whose first value is lost. */
static void
write_node (GString *out, GRand *rand, JsonNode *node)
{
  write_space (out, rand);
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      break;
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          if (json_node_get_int (node) == 0 && g_rand_boolean (rand))
            g_string_append (out, "-0");
          else
            g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          write_double (out, rand, json_node_get_double (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        default:
          write_string (out, rand, json_node_get_string (node));
        }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        g_string_append_c (out, '[');
        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            write_node (out, rand, json_array_get_element (array, i));
          }
        write_space (out, rand);
        g_string_append_c (out, ']');
        break;
      }
    default:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr(GList) members = json_object_get_members (object);

        g_string_append_c (out, '{');
        for (GList *l = members; l; l = l->next)
          {
            gboolean twice = g_rand_int_range (rand, 0, 8) == 0;

            for (int k = twice ? 0 : 1; k < 2; k++)
              {
                g_autoptr(JsonNode) lost = k == 0 ? json_node_init_string (json_node_alloc (), "lost") : NULL;

                if (l != members || (k == 1 && twice))
                  g_string_append_c (out, ',');
                write_space (out, rand);
                write_string (out, rand, l->data);
                write_space (out, rand);
                g_string_append_c (out, ':');
                write_node (out, rand, k == 0 ? lost : json_object_get_member (object, l->data));
                write_space (out, rand);
              }
          }
        write_space (out, rand);
        g_string_append_c (out, '}');
      }
    }
  write_space (out, rand);
}

static void
test_random_written (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (4627);

  for (guint i = 0; i < RANDOM_DOCUMENTS; i++)
    {
      g_autoptr(JsonNode) tree = random_node (rand, 0);
      g_autoptr(GString) text = g_string_new (NULL);

      write_node (text, rand, tree);
      assert_reads_back (text->str, text->len, tree, FALSE);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/values", test_values);
  g_test_add_func ("/json/accessors", test_accessors_of_other_kinds);
  g_test_add_func ("/json/whitespace", test_whitespace);
  g_test_add_func ("/json/empty-containers", test_empty_containers);
  g_test_add_func ("/json/escapes", test_escapes);
  g_test_add_func ("/json/numbers", test_numbers);
  g_test_add_func ("/json/literals", test_literals);
  g_test_add_func ("/json/invalid", test_invalid);
  g_test_add_func ("/json/empty-and-sizes", test_empty_and_sizes);
  g_test_add_func ("/json/not-utf8", test_not_utf8);
  g_test_add_func ("/json/duplicate-keys", test_duplicate_keys);
  g_test_add_func ("/json/depth", test_depth);
  g_test_add_func ("/json/very-deep", test_very_deep);
  g_test_add_func ("/json/error-positions", test_error_positions);
  g_test_add_func ("/json/nodes", test_nodes);
  g_test_add_func ("/json/random/generated", test_random_generated);
  g_test_add_func ("/json/random/written", test_random_written);
  return g_test_run ();
}
