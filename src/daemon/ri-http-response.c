#define G_LOG_DOMAIN "HttpServer"

#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "ri-http-response.h"

/* Accept-Encoding names gzip (or *) with a quality above zero. */
gboolean
ri_http_accepts_gzip (const char *header)
{
  GSList *unacceptable = NULL;
  GSList *acceptable;
  gboolean gzip = FALSE;

  if (header == NULL)
    return FALSE;
  /* What Flatpak, curl and browsers send: no need to parse qualities. */
  if (g_str_equal (header, "gzip") || g_str_equal (header, "gzip, deflate"))
    return TRUE;
  acceptable = soup_header_parse_quality_list (header, &unacceptable);
  for (GSList *l = acceptable; l != NULL; l = l->next)
    gzip |= g_ascii_strcasecmp (l->data, "gzip") == 0 || g_str_equal (l->data, "*");
  for (GSList *l = unacceptable; l != NULL; l = l->next)
    if (g_ascii_strcasecmp (l->data, "gzip") == 0)
      gzip = FALSE;
  soup_header_free_list (acceptable);
  soup_header_free_list (unacceptable);
  return gzip;
}

/* If-None-Match holds @etag (compared weakly, as RFC 9110 has it) or *. */
gboolean
ri_http_etag_matches (const char *header, const char *etag)
{
  GSList *tags;
  gboolean found = FALSE;

  if (header == NULL)
    return FALSE;
  tags = soup_header_parse_list (header);
  for (GSList *l = tags; l != NULL && !found; l = l->next)
    {
      const char *tag = l->data;
      if (g_str_has_prefix (tag, "W/"))
        tag += 2;
      found = g_str_equal (tag, "*") || g_str_equal (tag, etag);
    }
  soup_header_free_list (tags);
  return found;
}
