#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean ri_http_accepts_gzip   (const char *accept_encoding);
gboolean ri_http_etag_matches   (const char *if_none_match,
                                 const char *etag);

G_END_DECLS
