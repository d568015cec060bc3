#define G_LOG_DOMAIN "HttpServer"

#include "config.h"

#include <string.h>

#include "ri-http-fields.h"
#include "ri-http-response.h"

/* Accept-Encoding names gzip (or *) with a quality above zero. */
gboolean
ri_http_accepts_gzip (const char *header)
{
  if (header == NULL)
    return FALSE;
  /* What Flatpak, curl and browsers send: no need to parse qualities. */
  if (g_str_equal (header, "gzip") || g_str_equal (header, "gzip, deflate"))
    return TRUE;
  return ri_http_accepts_coding (header, "gzip");
}

/* If-None-Match holds @etag (compared weakly, as RFC 9110 has it) or *. */
gboolean
ri_http_etag_matches (const char *header, const char *etag)
{
  g_autoptr(GPtrArray) tags = NULL;

  if (header == NULL)
    return FALSE;
  tags = ri_http_list_parse (header);
  for (guint i = 0; i < tags->len; i++)
    {
      const char *tag = g_ptr_array_index (tags, i);
      if (g_str_has_prefix (tag, "W/"))
        tag += 2;
      if (g_str_equal (tag, "*") || g_str_equal (tag, etag))
        return TRUE;
    }
  return FALSE;
}
