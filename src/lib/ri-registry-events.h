#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RI_MEDIA_TYPE_EVENTS "application/vnd.docker.distribution.events.v1+json"

/* One event of a Distribution registry's notification envelope. */
typedef struct {
  char *action;           /* (owned) "push", "pull", "delete", "mount", … */
  char *repository;       /* (owned) */
  char *tag;              /* (owned) (nullable) */
  char *digest;           /* (owned) (nullable) */
  char *media_type;       /* (owned) (nullable) */
  char *url;              /* (owned) (nullable) target.url: where the registry says it is */
  char *host;             /* (owned) (nullable) request.host: how it was reached */
} RiRegistryEvent;

void       ri_registry_event_free     (RiRegistryEvent *event);
GPtrArray *ri_registry_events_parse   (const char      *data,
                                       gsize            length,
                                       GError         **error);
gboolean   ri_registry_event_changes_content (const RiRegistryEvent *event);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiRegistryEvent, ri_registry_event_free)

G_END_DECLS
