#pragma once

#include <gio/gio.h>

#include "ri-scheduler.h"

G_BEGIN_DECLS

/* What the listener counts, for GetStatus(). */
typedef struct {
  guint64 requests;               /* request heads read */
  guint64 not_found;              /* 404 */
  guint64 queries;                /* answered with an index, 200 or 304 */
  guint64 not_modified;           /* of those, 304 */
  guint64 rendered;               /* answers built rather than taken from memory */
  guint64 bad_queries;            /* 400 */
  guint kept_answers;             /* answers in memory now */
  guint64 answers_evicted;        /* kept answers dropped, least recently used first */
  guint64 queries_busy;           /* 503: too many answers being built */
  guint64 connections;            /* accepted and handed to the engine */
  guint connections_open;         /* now */
  guint64 refused;                /* closed at once: max_connections(_per_client) */
  guint64 timed_out;              /* closed by request_timeout or idle_timeout */
  guint64 accept_paused;          /* times accepting paused (no descriptors) */
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
