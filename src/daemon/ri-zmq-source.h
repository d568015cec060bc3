#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * RiZmqMessageFunc:
 * @frames: (element-type GBytes): the frames of one multipart message
 * @truncated: whether a frame was dropped for being over the size limit
 *   (its place in @frames holds an empty GBytes)
 *
 * Called once for each message read from the socket.
 */
typedef void (*RiZmqMessageFunc) (GPtrArray *frames,
                                  gboolean   truncated,
                                  gpointer   user_data);

GSource *ri_zmq_source_new (void            *socket,
                            gsize            max_frame_size,
                            guint            max_per_dispatch,
                            RiZmqMessageFunc func,
                            gpointer         user_data,
                            GDestroyNotify   destroy);

G_END_DECLS
