#define _GNU_SOURCE /* accept4 */
#define G_LOG_DOMAIN "HttpServer"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "ri-http-listener.h"

/* Our own accept loop, because a listener facing clients must outlive
 * running out of descriptors: accept() then fails with EMFILE while the
 * connection waits in the backlog, and the socket stays readable. The
 * loop then stops watching the sockets for a moment (logging it once)
 * instead of spinning or, as SoupServer does, giving up for good. */

#define BACKLOG 1024
#define RETRY_MS 250
/* Accepted per wake-up, so that a flood of connections still lets the
 * main loop answer the ones it has. */
#define MAX_ACCEPTS 64

typedef struct {
  RiHttpListener *owner;      /* (unowned) */
  GSocket *socket;            /* (owned) */
  GSource *source;            /* (owned) (nullable) while paused */
} Socket;

struct _RiHttpListener {
  GPtrArray *sockets;         /* (owned) (element-type Socket) */
  RiHttpAcceptFunc accept_func;
  gpointer user_data;
  guint retry_id;             /* while paused */
  gint64 paused_since_us;
  guint64 pauses;
};

static gboolean accept_cb (GSocket *socket, GIOCondition condition, gpointer user_data);

static void
watch (Socket *s)
{
  s->source = g_socket_create_source (s->socket, G_IO_IN, NULL);
  g_source_set_callback (s->source, G_SOURCE_FUNC (accept_cb), s, NULL);
  g_source_attach (s->source, NULL);
}

static void
unwatch (Socket *s)
{
  if (s->source == NULL)
    return;
  g_source_destroy (s->source);
  g_clear_pointer (&s->source, g_source_unref);
}

static void
socket_free (Socket *s)
{
  unwatch (s);
  g_socket_close (s->socket, NULL);
  g_object_unref (s->socket);
  g_free (s);
}

static gboolean
retry_cb (gpointer user_data)
{
  RiHttpListener *self = user_data;

  self->retry_id = 0;
  for (guint i = 0; i < self->sockets->len; i++)
    watch (g_ptr_array_index (self->sockets, i));
  return G_SOURCE_REMOVE;
}

static void
pause_accepting (RiHttpListener *self, int saved_errno)
{
  if (self->paused_since_us == 0)
    {
      g_warning ("Cannot accept HTTP connections for now: %s; trying again until it can",
                 g_strerror (saved_errno));
      self->paused_since_us = g_get_monotonic_time ();
      self->pauses++;
    }
  for (guint i = 0; i < self->sockets->len; i++)
    unwatch (g_ptr_array_index (self->sockets, i));
  self->retry_id = g_timeout_add (RETRY_MS, retry_cb, self);
}

static gboolean
accept_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Socket *s = user_data;
  RiHttpListener *self = s->owner;
  int listen_fd = g_socket_get_fd (socket);

  for (guint n = 0; n < MAX_ACCEPTS; n++)
    {
      struct sockaddr_storage address;
      socklen_t length = sizeof address;
      int fd = accept4 (listen_fd, (struct sockaddr *) &address, &length, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (fd < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)
            {
              /* The backlog is drained: that ends a shortage. */
              if (self->paused_since_us != 0)
                {
                  g_message ("Accepting HTTP connections again after %.1f s",
                             (g_get_monotonic_time () - self->paused_since_us) / (double) G_USEC_PER_SEC);
                  self->paused_since_us = 0;
                }
              break;
            }
          if (saved_errno == EINTR || saved_errno == ECONNABORTED || saved_errno == EPROTO)
            break;
          /* EMFILE, ENFILE, ENOBUFS, ENOMEM: resources, which come back. */
          pause_accepting (self, saved_errno);
          return G_SOURCE_CONTINUE; /* unwatch destroyed this source already */
        }
      self->accept_func (fd, (struct sockaddr *) &address, length, self->user_data);
    }
  return G_SOURCE_CONTINUE;
}

static GSocket *
listen_on (const char *text, GError **error)
{
  const char *colon = strrchr (text, ':');
  g_autofree char *host = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocket) socket = NULL;

  if (colon == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not an address");
      return NULL;
    }
  host = g_strndup (text, colon - text);
  if (host[0] == '[')
    {
      memmove (host, host + 1, strlen (host));
      host[strlen (host) - 1] = '\0';
    }
  address = g_inet_socket_address_new_from_string (host, (guint) g_ascii_strtoull (colon + 1, NULL, 10));
  if (address == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not an address");
      return NULL;
    }
  socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;
  if (g_socket_address_get_family (address) == G_SOCKET_FAMILY_IPV6 &&
      !g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 1, error))
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, BACKLOG);
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

RiHttpListener *
ri_http_listener_new (GStrv addresses, RiHttpAcceptFunc accept_func, gpointer user_data, GError **error)
{
  g_autoptr(RiHttpListener) self = g_new0 (RiHttpListener, 1);

  self->sockets = g_ptr_array_new_with_free_func ((GDestroyNotify) socket_free);
  self->accept_func = accept_func;
  self->user_data = user_data;
  for (guint i = 0; addresses[i] != NULL; i++)
    {
      GSocket *socket = listen_on (addresses[i], error);
      Socket *s;

      if (socket == NULL)
        {
          g_prefix_error (error, "Cannot listen on %s: ", addresses[i]);
          return NULL;
        }
      s = g_new0 (Socket, 1);
      s->owner = self;
      s->socket = socket;
      g_ptr_array_add (self->sockets, s);
    }
  for (guint i = 0; i < self->sockets->len; i++)
    watch (g_ptr_array_index (self->sockets, i));
  return g_steal_pointer (&self);
}

void
ri_http_listener_free (RiHttpListener *self)
{
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_ptr_array_unref (self->sockets);
  g_free (self);
}

/* How often accepting had to pause for lack of descriptors or memory. */
guint64
ri_http_listener_get_paused (RiHttpListener *self)
{
  return self->pauses;
}
