#pragma once

#include <gio/gio.h>
#include <sys/socket.h>

G_BEGIN_DECLS

/* Called with each accepted connection's descriptor, which it then owns. */
typedef void (*RiHttpAcceptFunc) (int                    fd,
                                  const struct sockaddr *address,
                                  socklen_t              length,
                                  gpointer               user_data);

/* The listening sockets, accepting on the main context. */
typedef struct _RiHttpListener RiHttpListener;

RiHttpListener *ri_http_listener_new          (GStrv             addresses,
                                               RiHttpAcceptFunc  accept_func,
                                               gpointer          user_data,
                                               GError          **error);
void            ri_http_listener_free         (RiHttpListener   *self);
guint64         ri_http_listener_get_paused   (RiHttpListener   *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiHttpListener, ri_http_listener_free)

G_END_DECLS
