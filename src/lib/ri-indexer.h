#pragma once

#include <gio/gio.h>

#include "ri-config.h"
#include "ri-content-cache.h"
#include "ri-model.h"
#include "ri-run-report.h"

G_BEGIN_DECLS

#define RI_TYPE_INDEXER (ri_indexer_get_type ())
G_DECLARE_FINAL_TYPE (RiIndexer, ri_indexer, RI, INDEXER, GObject)

RiIndexer   *ri_indexer_new        (RiContentCache      *cache);
void         ri_indexer_run_async  (RiIndexer           *self,
                                    RiConfig            *config,
                                    const char * const  *names,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
void         ri_indexer_refresh_async (RiIndexer          *self,
                                       RiConfig           *config,
                                       const char         *registry,
                                       const char * const *repositories,
                                       GCancellable       *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data);
RiRunReport *ri_indexer_run_finish (RiIndexer           *self,
                                    GAsyncResult        *result,
                                    GError             **error);
/* Where the runs going on have got, for a progress display. */
typedef struct {
  guint repositories_found;
  guint repositories_listed;
  guint requests;
} RiIndexerProgress;

void         ri_indexer_get_progress (RiIndexer         *self,
                                      RiIndexerProgress *progress);
RiRegistryModel *ri_indexer_get_model (RiIndexer       *self,
                                       const char      *index,
                                       guint64         *generation);
void         ri_indexer_set_model (RiIndexer           *self,
                                   const RiIndexConfig *index,
                                   RiConfig            *config,
                                   RiRegistryModel     *model);
void         ri_indexer_set_model_dir (RiIndexer  *self,
                                       const char *directory);

G_END_DECLS
