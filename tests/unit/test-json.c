#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ri-json.h"

/* The parser of outside JSON (ri-json.c): RFC 8259's grammar to the
 * letter, its escapes and numbers, its bounds and errors. */

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
  assert_real (many_digits, HUGE_VAL);

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
  /* Big exponents: numbers, beyond what a double holds. */
  assert_real ("1e309", HUGE_VAL);
  assert_real ("-1e400", -HUGE_VAL);
  assert_real ("1e99999999999999999999", HUGE_VAL);
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
  return g_test_run ();
}
