#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ri-http-fields.h"

/* These were libsoup's header helpers; they are all the engine and the
 * listener took from libsoup, which brought thirteen more libraries
 * (Kerberos, SQLite, brotli, nghttp2, libpsl, libidn2...) into every
 * process, half the libraries a run loads. */

static gboolean
is_space (char c)
{
  return c == ' ' || c == '\t';
}

/* The end of the element starting at @p: the next @separator outside a
 * quoted string, or the end. */
static const char *
element_end (const char *p, char separator)
{
  gboolean quoted = FALSE;

  for (; *p != '\0' && (quoted || *p != separator); p++)
    {
      if (*p == '"')
        quoted = !quoted;
      else if (quoted && *p == '\\' && p[1] != '\0')
        p++;
    }
  return p;
}

static char *
trimmed (const char *start, const char *end)
{
  while (start < end && is_space (*start))
    start++;
  while (end > start && is_space (end[-1]))
    end--;
  return g_strndup (start, end - start);
}

GPtrArray *
ri_http_list_parse (const char *value)
{
  GPtrArray *elements = g_ptr_array_new_with_free_func (g_free);
  const char *p = value ? value : "";

  while (*p != '\0')
    {
      const char *end = element_end (p, ',');
      char *element = trimmed (p, end);

      if (*element != '\0')
        g_ptr_array_add (elements, element);
      else
        g_free (element);
      p = *end ? end + 1 : end;
    }
  return elements;
}

gboolean
ri_http_list_contains (const char *value, const char *token)
{
  g_autoptr(GPtrArray) elements = ri_http_list_parse (value);

  for (guint i = 0; i < elements->len; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (elements, i), token) == 0)
      return TRUE;
  return FALSE;
}

/* A quoted-string's content with its escapes undone, or a token as is. */
static char *
unquote (const char *value)
{
  GString *out;

  if (*value != '"')
    return g_strdup (value);
  out = g_string_new (NULL);
  for (const char *p = value + 1; *p != '\0' && *p != '"'; p++)
    {
      if (*p == '\\' && p[1] != '\0')
        p++;
      g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

GHashTable *
ri_http_params_parse (const char *value)
{
  GHashTable *params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *p = value ? value : "";

  while (*p != '\0')
    {
      const char *end = element_end (p, ';');
      g_autofree char *param = trimmed (p, end);
      char *equals = strchr (param, '=');
      g_autofree char *name = NULL;
      g_autofree char *raw = NULL;

      p = *end ? end + 1 : end;
      if (equals != NULL)
        {
          g_autofree char *given = trimmed (param, equals);
          name = g_ascii_strdown (given, -1);
          raw = trimmed (equals + 1, equals + strlen (equals));
        }
      else
        name = g_ascii_strdown (param, -1);
      /* The first of a name counts, whatever its case. */
      if (*name == '\0' || g_hash_table_contains (params, name))
        continue;
      g_hash_table_insert (params, g_steal_pointer (&name), raw ? unquote (raw) : g_strdup (""));
    }
  return params;
}

/* A qvalue (RFC 9110 12.4.2) above zero; one that cannot be read counts
 * as 1, as a missing one does. */
static gboolean
quality_above_zero (const char *q)
{
  if (q == NULL || q[0] != '0')
    return TRUE;
  if (q[1] == '\0')
    return FALSE;
  if (q[1] != '.')
    return TRUE;
  for (const char *p = q + 2; *p != '\0'; p++)
    if (*p != '0')
      return TRUE;
  return FALSE;
}

gboolean
ri_http_accepts_coding (const char *value, const char *coding)
{
  g_autoptr(GPtrArray) elements = ri_http_list_parse (value);
  int named = -1, star = -1;

  for (guint i = 0; i < elements->len; i++)
    {
      const char *element = g_ptr_array_index (elements, i);
      const char *semicolon = strchr (element, ';');
      g_autofree char *name = trimmed (element, semicolon ? semicolon : element + strlen (element));
      g_autoptr(GHashTable) params = ri_http_params_parse (semicolon ? semicolon + 1 : NULL);
      gboolean above_zero = quality_above_zero (g_hash_table_lookup (params, "q"));

      if (g_ascii_strcasecmp (name, coding) == 0)
        named = above_zero;
      else if (g_str_equal (name, "*"))
        star = above_zero;
    }
  return named >= 0 ? named : star > 0;
}

static int
month_number (const char *name)
{
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

  for (int i = 0; i < 12; i++)
    if (strncmp (months + 3 * i, name, 3) == 0 && name[3] == '\0')
      return i + 1;
  return 0;
}

typedef struct {
  char weekday[16];
  char month[4];
  int day, year, hour, minute, second;
} DateFields;

/* Sun, 06 Nov 1994 08:49:37 GMT */
static gboolean
scan_imf_fixdate (const char *value, DateFields *f)
{
  int end = -1;

  return sscanf (value, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n",
                 f->weekday, &f->day, f->month, &f->year, &f->hour, &f->minute, &f->second, &end) == 7 &&
         end > 0 && value[end] == '\0';
}

/* Sunday, 06-Nov-94 08:49:37 GMT */
static gboolean
scan_rfc850 (const char *value, DateFields *f)
{
  int end = -1;

  if (sscanf (value, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n",
              f->weekday, &f->day, f->month, &f->year, &f->hour, &f->minute, &f->second, &end) != 7 ||
      end < 0 || value[end] != '\0')
    return FALSE;
  f->year += f->year < 70 ? 2000 : 1900;
  return TRUE;
}

/* Sun Nov  6 08:49:37 1994 */
static gboolean
scan_asctime (const char *value, DateFields *f)
{
  int end = -1;

  return sscanf (value, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n",
                 f->weekday, f->month, &f->day, &f->hour, &f->minute, &f->second, &f->year, &end) == 7 &&
         end > 0 && value[end] == '\0';
}

GDateTime *
ri_http_date_parse (const char *value)
{
  DateFields f = { 0 };

  if (value == NULL || !(scan_imf_fixdate (value, &f) || scan_rfc850 (value, &f) || scan_asctime (value, &f)))
    return NULL;
  if (month_number (f.month) == 0 || f.second > 60)
    return NULL;
  /* A leap second is as good as the one before it for a wait. */
  return g_date_time_new_utc (f.year, month_number (f.month), f.day, f.hour, f.minute, MIN (f.second, 59));
}

const char *
ri_http_status_phrase (guint status)
{
  static const struct {
    guint status;
    const char *phrase;
  } phrases[] = {
    { 100, "Continue" }, { 101, "Switching Protocols" },
    { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" }, { 203, "Non-Authoritative Information" },
    { 204, "No Content" }, { 205, "Reset Content" }, { 206, "Partial Content" },
    { 300, "Multiple Choices" }, { 301, "Moved Permanently" }, { 302, "Found" }, { 303, "See Other" },
    { 304, "Not Modified" }, { 305, "Use Proxy" }, { 307, "Temporary Redirect" },
    { 308, "Permanent Redirect" },
    { 400, "Bad Request" }, { 401, "Unauthorized" }, { 402, "Payment Required" }, { 403, "Forbidden" },
    { 404, "Not Found" }, { 405, "Method Not Allowed" }, { 406, "Not Acceptable" },
    { 407, "Proxy Authentication Required" }, { 408, "Request Timeout" }, { 409, "Conflict" },
    { 410, "Gone" }, { 411, "Length Required" }, { 412, "Precondition Failed" },
    { 413, "Content Too Large" }, { 414, "URI Too Long" }, { 415, "Unsupported Media Type" },
    { 416, "Range Not Satisfiable" }, { 417, "Expectation Failed" }, { 421, "Misdirected Request" },
    { 422, "Unprocessable Content" }, { 425, "Too Early" }, { 426, "Upgrade Required" },
    { 428, "Precondition Required" }, { 429, "Too Many Requests" },
    { 431, "Request Header Fields Too Large" }, { 451, "Unavailable For Legal Reasons" },
    { 500, "Internal Server Error" }, { 501, "Not Implemented" }, { 502, "Bad Gateway" },
    { 503, "Service Unavailable" }, { 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
    { 511, "Network Authentication Required" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (phrases); i++)
    if (phrases[i].status == status)
      return phrases[i].phrase;
  return "Unknown";
}
