#pragma once

#include <gio/gio.h>

#include "ri-scheduler.h"

G_BEGIN_DECLS

typedef void (*RiStatusExtender) (GVariantDict *status, gpointer user_data);

#define RI_TYPE_INDEXER_SERVICE (ri_indexer_service_get_type ())
G_DECLARE_FINAL_TYPE (RiIndexerService, ri_indexer_service, RI, INDEXER_SERVICE, GObject)

RiIndexerService *ri_indexer_service_new        (RiScheduler      *scheduler,
                                                 const char       *config_path);
gboolean          ri_indexer_service_export     (RiIndexerService *self,
                                                 GDBusConnection  *connection,
                                                 GError          **error);
void              ri_indexer_service_unexport   (RiIndexerService *self);
gboolean          ri_indexer_service_reload     (RiIndexerService *self,
                                                 GError          **error);
void              ri_indexer_service_set_status_extender (RiIndexerService *self,
                                                          RiStatusExtender  extender,
                                                          gpointer          user_data);

G_END_DECLS
