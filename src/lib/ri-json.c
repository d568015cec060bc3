#include "config.h"

#include <string.h>

#include "ri-json.h"

/* json-glib is handed outside input only after this file has looked at it:
 * it refuses NULL data without setting its GError, recurses once per
 * nesting level without a bound (about 80,000 levels overflow an 8 MiB
 * stack), truncates strings at an escaped NUL and mangles an unpaired
 * surrogate escape (dropping the character after it). */

G_DEFINE_QUARK (ri-json-error-quark, ri_json_error)

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* The code unit of a \uXXXX escape at @p (which points at the backslash),
 * or -1 when it is not one. */
static int
escape_unit (const char *p, const char *end)
{
  int unit = 0;

  if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
    return -1;
  for (int i = 2; i < 6; i++)
    {
      int v = hex_value (p[i]);
      if (v < 0)
        return -1;
      unit = unit * 16 + v;
    }
  return unit;
}

typedef struct {
  guint depth_exceeded : 1;
  GArray *replace;            /* (nullable) offsets of escapes to become \ufffd */
} Scan;

/* One pass over the raw text: the nesting depth outside strings, and the
 * escapes that cannot stand for themselves in a C string of UTF-8 (\u0000,
 * a surrogate without its partner). They decode to U+FFFD, as Go's
 * encoding/json decodes them; the escape has the same length, so the text
 * keeps its size. */
static void
prescan (const char *data, gsize size, guint max_depth, Scan *scan)
{
  const char *end = data + size;
  gboolean in_string = FALSE;
  guint depth = 0;

  for (const char *p = data; p < end; p++)
    {
      if (!in_string)
        {
          if (*p == '"')
            in_string = TRUE;
          else if (*p == '{' || *p == '[')
            {
              if (++depth > max_depth)
                {
                  scan->depth_exceeded = TRUE;
                  return;
                }
            }
          else if ((*p == '}' || *p == ']') && depth > 0)
            depth--;
          continue;
        }
      if (*p == '"')
        in_string = FALSE;
      else if (*p == '\\')
        {
          int unit = escape_unit (p, end);
          gboolean replace = FALSE;

          if (unit < 0)
            {
              p++; /* \" \\ \n …, or a malformed escape json-glib refuses */
              continue;
            }
          if (unit == 0 || (unit >= 0xdc00 && unit <= 0xdfff))
            replace = TRUE;
          else if (unit >= 0xd800 && unit <= 0xdbff)
            {
              int low = escape_unit (p + 6, end);
              if (low >= 0xdc00 && low <= 0xdfff)
                {
                  p += 11; /* a proper pair */
                  continue;
                }
              replace = TRUE;
            }
          if (replace)
            {
              gsize offset = p - data;
              if (scan->replace == NULL)
                scan->replace = g_array_new (FALSE, FALSE, sizeof (gsize));
              g_array_append_val (scan->replace, offset);
            }
          p += 5;
        }
    }
}

JsonNode *
ri_json_parse_bounded (const char *data, gssize len, gsize max_size, guint max_depth, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *copy = NULL;
  Scan scan = { 0 };
  gsize size;

  if (data == NULL || len == 0 || (len < 0 && *data == '\0'))
    {
      g_set_error_literal (error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY, "is empty");
      return NULL;
    }
  size = len < 0 ? strnlen (data, MIN (max_size, (gsize) G_MAXSSIZE - 1) + 1) : (gsize) len;
  if (size > max_size)
    {
      g_set_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_LARGE,
                   "is larger than %" G_GSIZE_FORMAT " bytes", max_size);
      return NULL;
    }
  if (!g_utf8_validate_len (data, size, NULL))
    {
      g_set_error_literal (error, RI_JSON_ERROR, RI_JSON_ERROR_NOT_UTF8, "is not UTF-8");
      return NULL;
    }
  prescan (data, size, max_depth, &scan);
  if (scan.depth_exceeded)
    {
      g_clear_pointer (&scan.replace, g_array_unref);
      g_set_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP,
                   "is nested too deeply (more than %u levels)", max_depth);
      return NULL;
    }
  if (scan.replace != NULL)
    {
      copy = g_memdup2 (data, size);
      for (guint i = 0; i < scan.replace->len; i++)
        memcpy (copy + g_array_index (scan.replace, gsize, i), "\\ufffd", 6);
      g_array_unref (scan.replace);
      data = copy;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, size, &local_error))
    {
      g_set_error (error, RI_JSON_ERROR, RI_JSON_ERROR_INVALID, "is not valid JSON: %s",
                   local_error ? local_error->message : "refused");
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY, "holds no JSON value");
      return NULL;
    }
  return json_parser_steal_root (parser);
}

JsonNode *
ri_json_parse_bytes (GBytes *bytes, gsize max_size, guint max_depth, GError **error)
{
  gsize size = 0;
  const char *data = bytes ? g_bytes_get_data (bytes, &size) : NULL;

  return ri_json_parse_bounded (data, size, max_size, max_depth, error);
}
