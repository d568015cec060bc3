#include "config.h"

#include <string.h>

#include "ri-http-target.h"

/* Request targets as clients send them, "/index/static?tag=latest":
 * resolving one with GUri (and unescaping its path) takes a dozen
 * allocations, for a result that is the text itself cut at '?' whenever
 * the target holds nothing GUri would change. That is checked here, by
 * characters, conservatively: what GUri would rewrite (escapes in the
 * path, escapes of unreserved characters or in lowercase, characters
 * outside RFC 3986's, dot segments), a fragment or anything but the
 * origin form is left to GUri. tests/unit/test-http-target.c holds
 * the two to the same results. */

/* RFC 3986's pchar, less '%': unreserved, sub-delims, ':' and '@'. */
static gboolean
is_plain (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("-._~!$&'()*+,;=:@", c) != NULL);
}

static gboolean
is_unreserved (char c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static gboolean
is_upper_hex (char c)
{
  return g_ascii_isdigit (c) || (c >= 'A' && c <= 'F');
}

/* Whether the segment from @start to @end is "." or "..". */
static gboolean
is_dot_segment (const char *start, const char *end)
{
  return (end - start == 1 && start[0] == '.') || (end - start == 2 && start[0] == '.' && start[1] == '.');
}

/* Splits @target into its path and its query (NULL without a '?'),
 * copied into @buffer of @size bytes, when they are exactly what
 * g_uri_parse_relative() against "http://localhost/" with
 * G_URI_FLAGS_ENCODED would give, and the path what
 * g_uri_unescape_string() would make of it. FALSE otherwise, and then
 * the caller asks GUri. */
gboolean
ri_http_split_target (const char *target, char *buffer, gsize size, const char **path, const char **query)
{
  const char *segment;
  const char *p;
  gsize length;

  if (target[0] != '/' || target[1] == '/')
    return FALSE;
  for (p = segment = target + 1; *p != '\0' && *p != '?'; p++)
    {
      if (*p == '/')
        {
          if (is_dot_segment (segment, p))
            return FALSE;
          segment = p + 1;
        }
      else if (!is_plain (*p))
        return FALSE;
    }
  if (is_dot_segment (segment, p))
    return FALSE;
  length = p - target;
  if (*p == '?')
    for (p++; *p != '\0'; p++)
      {
        if (*p == '%')
          {
            if (!is_upper_hex (p[1]) || !is_upper_hex (p[2]) ||
                is_unreserved ((char) (g_ascii_xdigit_value (p[1]) << 4 | g_ascii_xdigit_value (p[2]))))
              return FALSE;
            p += 2;
          }
        else if (!is_plain (*p) && *p != '/' && *p != '?')
          return FALSE;
      }
  if ((gsize) (p - target) >= size)
    return FALSE;
  memcpy (buffer, target, p - target + 1);
  *path = buffer;
  *query = NULL;
  if (buffer[length] == '?')
    {
      buffer[length] = '\0';
      *query = buffer + length + 1;
    }
  return TRUE;
}
