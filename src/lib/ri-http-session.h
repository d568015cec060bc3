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
} RiHttpSessionOptions;

/* The final response of one exchange: redirects are not followed. */
typedef struct {
  guint status;
  GBytes *body;           /* (owned) (nullable): NULL for HEAD */
  GPtrArray *headers;     /* (owned) (element-type utf8) name, value, name, value...
                           * in the order they came; look them up with the
                           * functions below, which ignore the names' case */
} RiHttpResponse;

void        ri_http_response_free       (RiHttpResponse *response);
const char *ri_http_response_get_header (RiHttpResponse *response,
                                         const char     *name);
char       *ri_http_response_get_list   (RiHttpResponse *response,
                                         const char     *name);
char       *ri_http_response_get_content_type (RiHttpResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiHttpResponse, ri_http_response_free)

#define RI_TYPE_HTTP_SESSION (ri_http_session_get_type ())
G_DECLARE_FINAL_TYPE (RiHttpSession, ri_http_session, RI, HTTP_SESSION, GObject)

RiHttpSession  *ri_http_session_new         (const RiHttpSessionOptions *options);
void            ri_http_session_send_async  (RiHttpSession       *self,
                                             const char          *method,
                                             const char          *url,
                                             const char * const  *headers,
                                             gsize                max_size,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
RiHttpResponse *ri_http_session_send_finish (RiHttpSession       *self,
                                             GAsyncResult        *result,
                                             GError             **error);

G_END_DECLS
