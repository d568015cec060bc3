#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  guint max_connections;          /* kept open to one host at most */
  guint timeout_s;                /* to connect, and the longest silence */
  gboolean tls_verify;
  const char *ca_certificate;     /* (nullable) trusted beside the system's */
  const char *client_certificate; /* (nullable) PEM */
  const char *client_key;         /* (nullable) PEM; else in the certificate */
  const char *user_agent;
} RiCurlSessionOptions;

/* The final response of one exchange: redirects are not followed. */
typedef struct {
  guint status;
  GBytes *body;           /* (owned) (nullable): NULL for HEAD */
  GPtrArray *headers;     /* (owned) (element-type utf8) name, value, name, value...
                           * in the order they came; look them up with the
                           * functions below, which ignore the names' case */
} RiCurlResponse;

void        ri_curl_response_free       (RiCurlResponse *response);
const char *ri_curl_response_get_header (RiCurlResponse *response,
                                         const char     *name);
char       *ri_curl_response_get_list   (RiCurlResponse *response,
                                         const char     *name);
char       *ri_curl_response_get_content_type (RiCurlResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiCurlResponse, ri_curl_response_free)

#define RI_TYPE_CURL_SESSION (ri_curl_session_get_type ())
G_DECLARE_FINAL_TYPE (RiCurlSession, ri_curl_session, RI, CURL_SESSION, GObject)

RiCurlSession  *ri_curl_session_new         (const RiCurlSessionOptions *options);
void            ri_curl_session_send_async  (RiCurlSession       *self,
                                             const char          *method,
                                             const char          *url,
                                             const char * const  *headers,
                                             gsize                max_size,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
RiCurlResponse *ri_curl_session_send_finish (RiCurlSession       *self,
                                             GAsyncResult        *result,
                                             GError             **error);

G_END_DECLS
