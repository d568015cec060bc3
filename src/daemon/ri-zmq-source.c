#define G_LOG_DOMAIN "Zmq"

#include "config.h"

#include <errno.h>
#include <zmq.h>

#include "ri-zmq-source.h"

/* libzmq's ZMQ_FD is edge-triggered and only says "look at ZMQ_EVENTS":
 * it may not become readable again while messages are still queued. So
 * readiness comes from ZMQ_EVENTS in prepare and check, dispatch drains
 * (a bounded number of messages, so that a busy publisher cannot starve
 * the main loop; prepare then reports the rest as ready at once), and the
 * descriptor, which belongs to libzmq, is never read or closed here. */

typedef struct {
  GSource source;
  void *socket;                 /* (unowned) */
  gpointer fd_tag;
  gsize max_frame_size;
  guint max_per_dispatch;
} RiZmqSource;

static gboolean
socket_readable (RiZmqSource *self)
{
  int events = 0;
  size_t size = sizeof events;

  if (zmq_getsockopt (self->socket, ZMQ_EVENTS, &events, &size) != 0)
    return FALSE;
  return (events & ZMQ_POLLIN) != 0;
}

static gboolean
ri_zmq_source_prepare (GSource *source, gint *timeout)
{
  *timeout = -1;
  return socket_readable ((RiZmqSource *) source);
}

static gboolean
ri_zmq_source_check (GSource *source)
{
  return socket_readable ((RiZmqSource *) source);
}

/* Reads one whole multipart message; returns NULL when none is waiting. */
static GPtrArray *
read_message (RiZmqSource *self, gboolean *truncated)
{
  g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  int more = 1;

  *truncated = FALSE;
  while (more)
    {
      zmq_msg_t message;
      size_t size = sizeof more;

      zmq_msg_init (&message);
      if (zmq_msg_recv (&message, self->socket, ZMQ_DONTWAIT) < 0)
        {
          int saved_errno = errno;
          zmq_msg_close (&message);
          if (saved_errno != EAGAIN && saved_errno != EINTR)
            g_warning ("Reading a fedmsg message failed: %s", zmq_strerror (saved_errno));
          /* Parts of a multipart message arrive together, so an error in
           * the middle means the message is lost, not delayed. */
          return frames->len > 0 ? g_steal_pointer (&frames) : NULL;
        }
      if (zmq_msg_size (&message) > self->max_frame_size)
        {
          *truncated = TRUE;
          g_ptr_array_add (frames, g_bytes_new (NULL, 0));
        }
      else
        g_ptr_array_add (frames, g_bytes_new (zmq_msg_data (&message), zmq_msg_size (&message)));
      zmq_getsockopt (self->socket, ZMQ_RCVMORE, &more, &size);
      zmq_msg_close (&message);
    }
  return g_steal_pointer (&frames);
}

static gboolean
ri_zmq_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  RiZmqSource *self = (RiZmqSource *) source;
  RiZmqMessageFunc func = (RiZmqMessageFunc) (void (*) (void)) callback;

  for (guint i = 0; i < self->max_per_dispatch; i++)
    {
      gboolean truncated;
      g_autoptr(GPtrArray) frames = read_message (self, &truncated);

      if (frames == NULL)
        break;
      if (func != NULL)
        func (frames, truncated, user_data);
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs ri_zmq_source_funcs = {
  ri_zmq_source_prepare,
  ri_zmq_source_check,
  ri_zmq_source_dispatch,
  NULL,
  NULL,
  NULL,
};

GSource *
ri_zmq_source_new (void *socket, gsize max_frame_size, guint max_per_dispatch, RiZmqMessageFunc func,
                   gpointer user_data, GDestroyNotify destroy)
{
  RiZmqSource *self;
  int fd = -1;
  size_t size = sizeof fd;

  g_return_val_if_fail (socket != NULL, NULL);
  if (zmq_getsockopt (socket, ZMQ_FD, &fd, &size) != 0)
    {
      g_warning ("Cannot get the ZeroMQ socket's descriptor: %s", zmq_strerror (errno));
      return NULL;
    }

  self = (RiZmqSource *) g_source_new (&ri_zmq_source_funcs, sizeof (RiZmqSource));
  g_source_set_static_name ((GSource *) self, "RiZmqSource");
  self->socket = socket;
  self->max_frame_size = max_frame_size;
  self->max_per_dispatch = MAX (1u, max_per_dispatch);
  self->fd_tag = g_source_add_unix_fd ((GSource *) self, fd, G_IO_IN);
  g_source_set_callback ((GSource *) self, (GSourceFunc) (void (*) (void)) func, user_data, destroy);
  return (GSource *) self;
}
