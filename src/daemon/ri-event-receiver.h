#pragma once

#include <libsoup/soup.h>

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
void                   ri_event_receiver_got_headers  (RiEventReceiver   *self,
                                                       SoupServerMessage *msg,
                                                       RiConfig          *config);
void                   ri_event_receiver_handle       (RiEventReceiver   *self,
                                                       SoupServerMessage *msg,
                                                       RiConfig          *config);
const RiEventCounters *ri_event_receiver_get_counters (RiEventReceiver   *self);

G_END_DECLS
