#pragma once

#include <gio/gio.h>

#include "ri-config.h"

G_BEGIN_DECLS

/* What the subscriber has seen, for GetStatus(). */
typedef struct {
  guint64 received;
  guint64 matched;
  guint64 ignored;
  guint64 malformed;
  gint64 last_received_us;    /* wall clock, 0 if never */
} RiFedmsgCounters;

typedef enum {
  RI_FEDMSG_MATCHED,
  RI_FEDMSG_IGNORED,            /* another topic or content type: a debug line */
  RI_FEDMSG_IGNORED_FAILED,     /* a matching compose that failed: worth a log line */
  RI_FEDMSG_MALFORMED,
} RiFedmsgVerdict;

#define RI_TYPE_FEDMSG_SUBSCRIBER (ri_fedmsg_subscriber_get_type ())
G_DECLARE_FINAL_TYPE (RiFedmsgSubscriber, ri_fedmsg_subscriber, RI, FEDMSG_SUBSCRIBER, GObject)

RiFedmsgSubscriber     *ri_fedmsg_subscriber_new          (const RiDaemonConfig *config,
                                                           GError              **error);
const RiFedmsgCounters *ri_fedmsg_subscriber_get_counters (RiFedmsgSubscriber   *self);
void                    ri_fedmsg_subscriber_set_counters (RiFedmsgSubscriber   *self,
                                                           const RiFedmsgCounters *counters);
GStrv                   ri_fedmsg_subscriber_get_endpoints (RiFedmsgSubscriber  *self);
GStrv                   ri_fedmsg_subscriber_get_topics   (RiFedmsgSubscriber   *self);

RiFedmsgVerdict         ri_fedmsg_classify                (GPtrArray            *frames,
                                                           gboolean              truncated,
                                                           const char * const   *topics,
                                                           char                **reason);

G_END_DECLS
