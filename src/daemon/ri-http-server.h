#pragma once

#include <gio/gio.h>

#include "ri-scheduler.h"

G_BEGIN_DECLS

/* What the listener counts, for GetStatus(). */
typedef struct {
  guint64 requests;           /* request heads read */
  guint64 not_found;          /* 404 */
  guint64 queries;            /* answered with an index, 200 or 304 */
  guint64 not_modified;       /* of those, 304 */
  guint64 connections;        /* accepted and handed to the engine */
  guint connections_open;     /* now */
  guint64 refused;            /* closed at once: max_connections(_per_client) */
  guint64 timed_out;          /* closed by request_timeout or idle_timeout */
  guint64 accept_paused;      /* times accepting paused (no descriptors) */
} RiHttpCounters;

#define RI_TYPE_HTTP_SERVER (ri_http_server_get_type ())
G_DECLARE_FINAL_TYPE (RiHttpServer, ri_http_server, RI, HTTP_SERVER, GObject)

RiHttpServer *ri_http_server_new        (RiScheduler  *scheduler);
gboolean      ri_http_server_listen     (RiHttpServer *self,
                                         RiConfig     *config,
                                         GError      **error);
GVariant     *ri_http_server_get_status (RiHttpServer *self);
void          ri_http_server_add_status (RiHttpServer *self,
                                         GVariantDict *status);

G_END_DECLS
