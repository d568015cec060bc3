#pragma once

#include <gio/gio.h>

#include "ri-daemon.h"
#include "ri-scheduler.h"

G_BEGIN_DECLS

#define RI_TYPE_INDEXER_SERVICE (ri_indexer_service_get_type ())
G_DECLARE_FINAL_TYPE (RiIndexerService, ri_indexer_service, RI, INDEXER_SERVICE, GObject)

RiIndexerService *ri_indexer_service_new        (RiDaemon         *daemon,
                                                 RiScheduler      *scheduler);
gboolean          ri_indexer_service_export     (RiIndexerService *self,
                                                 GDBusConnection  *connection,
                                                 GError          **error);
void              ri_indexer_service_unexport   (RiIndexerService *self);

G_END_DECLS
