#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The proxy a request goes through, chosen from the environment as
 * curl(1) chooses it. */
typedef struct {
  char *host;
  guint16 port;
  char *authorization;        /* (nullable) a Proxy-Authorization value: a secret */
} RiHttpProxy;

void         ri_http_proxy_free (RiHttpProxy *proxy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiHttpProxy, ri_http_proxy_free)

gboolean     ri_http_proxy_for  (const char   *scheme,
                                 const char   *host,
                                 RiHttpProxy **proxy,
                                 GError      **error);

G_END_DECLS
