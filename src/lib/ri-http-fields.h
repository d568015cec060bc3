#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What HTTP's header fields hold (RFC 9110 5.6): comma-separated lists,
 * parameters, qualities and dates, read as the client and the listener
 * need them. */

/* The elements of a list, trimmed, without the empty ones (RFC 9110
 * 5.6.1); a comma inside a quoted string does not split. */
GPtrArray  *ri_http_list_parse        (const char *value);
/* Whether @token is an element of the list, compared without case. */
gboolean    ri_http_list_contains     (const char *value,
                                       const char *token);
/* The "; name=value" parameters after an element (RFC 9110 5.6.6): names
 * lower-cased, the first of each name kept, quoted values unquoted; a
 * name without '=' maps to "". */
GHashTable *ri_http_params_parse      (const char *value);
/* Whether the list of codings (Accept-Encoding, RFC 9110 12.5.3) takes
 * @coding: named with a quality above 0, or else covered by '*' so. */
gboolean    ri_http_accepts_coding    (const char *value,
                                       const char *coding);
/* An HTTP-date (RFC 9110 5.6.7) in any of its three forms, or NULL. */
GDateTime  *ri_http_date_parse        (const char *value);
/* The reason phrase of a status code, or "Unknown". */
const char *ri_http_status_phrase     (guint       status);

G_END_DECLS
