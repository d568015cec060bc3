#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

void     ri_http_respond_text   (SoupServerMessage *msg,
                                 guint              status,
                                 const char        *format,
                                 ...) G_GNUC_PRINTF (3, 4);
gboolean ri_http_accepts_gzip   (SoupServerMessage *msg);
gboolean ri_http_etag_matches   (SoupServerMessage *msg,
                                 const char        *etag);

G_END_DECLS
