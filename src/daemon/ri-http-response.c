#define G_LOG_DOMAIN "Http"

#include "config.h"

#include <string.h>

#include "ri-http-response.h"

/* A short plain-text answer, mostly an error a person will read. */
void
ri_http_respond_text (SoupServerMessage *msg, guint status, const char *format, ...)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  g_autofree char *text = NULL;
  g_autofree char *body = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  body = g_strconcat (text, "\n", NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, body, strlen (body));
}

/* Accept-Encoding names gzip (or *) with a quality above zero. */
gboolean
ri_http_accepts_gzip (SoupServerMessage *msg)
{
  const char *header = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                      "Accept-Encoding");
  GSList *unacceptable = NULL;
  GSList *acceptable;
  gboolean gzip = FALSE;

  if (header == NULL)
    return FALSE;
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
ri_http_etag_matches (SoupServerMessage *msg, const char *etag)
{
  const char *header = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                      "If-None-Match");
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
