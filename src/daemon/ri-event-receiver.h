#pragma once

#include <gio/gio.h>

#include "ri-scheduler.h"

G_BEGIN_DECLS

typedef struct {
  guint64 posts;          /* notification posts taken (2xx) */
  guint64 rejected;       /* posts refused (4xx): malformed, unauthorised, too large */
  guint64 events;         /* events in the posts taken */
  guint64 refreshes;      /* events that queued a refresh */
  guint64 unmatched;      /* content events for no configured registry */
  gint64 last_post_us;    /* wall clock, 0 if never */
} RiEventCounters;

#define RI_TYPE_EVENT_RECEIVER (ri_event_receiver_get_type ())
G_DECLARE_FINAL_TYPE (RiEventReceiver, ri_event_receiver, RI, EVENT_RECEIVER, GObject)

RiEventReceiver       *ri_event_receiver_new          (RiScheduler       *scheduler);
gboolean               ri_event_receiver_check_head   (RiEventReceiver   *self,
                                                       RiConfig          *config,
                                                       const char        *authorization,
                                                       gint64             content_length,
                                                       GError           **error);
char                  *ri_event_receiver_post         (RiEventReceiver   *self,
                                                       RiConfig          *config,
                                                       const char        *authorization,
                                                       const char        *content_type,
                                                       const char        *registry,
                                                       const char        *body,
                                                       gsize              size,
                                                       GError           **error);
const RiEventCounters *ri_event_receiver_get_counters (RiEventReceiver   *self);

G_END_DECLS
