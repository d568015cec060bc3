#pragma once

#include <gio/gio.h>

#include "ri-scheduler.h"

G_BEGIN_DECLS

/* The listener's counters, for GetStatus(). */
typedef struct {
  guint64 requests;               /* every request */
  guint64 not_found;              /* requests for nothing served */
  guint64 queries;                /* index queries answered, 200 or 304 */
  guint64 not_modified;           /* of those, 304 */
  guint64 rendered;               /* answers built rather than taken from memory */
  guint64 bad_queries;            /* 400 */
  guint64 event_posts;            /* notification posts taken */
  guint64 event_posts_rejected;   /* refused: unauthorised, malformed, too large */
  guint64 events;                 /* events in the posts taken */
  guint64 refreshes;              /* events that queued a refresh */
  guint64 events_unmatched;       /* events of no configured registry */
  gint64 last_event_post_us;      /* wall clock, 0 if never */
} RiHttpCounters;

#define RI_TYPE_HTTP_SERVER (ri_http_server_get_type ())
G_DECLARE_FINAL_TYPE (RiHttpServer, ri_http_server, RI, HTTP_SERVER, GObject)

RiHttpServer *ri_http_server_new        (RiScheduler  *scheduler);
gboolean      ri_http_server_listen     (RiHttpServer *self,
                                         RiConfig     *config,
                                         GError      **error);
void          ri_http_server_get_counters (RiHttpServer   *self,
                                           RiHttpCounters *counters);
const char * const *ri_http_server_get_listening (RiHttpServer *self);

G_END_DECLS
