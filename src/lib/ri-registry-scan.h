#pragma once

#include <gio/gio.h>

#include "ri-content-cache.h"
#include "ri-model.h"
#include "ri-registry-client.h"

G_BEGIN_DECLS

/* How far a scan has got, for people watching: updated as it goes. */
typedef struct {
  guint repositories_found;   /* named by the catalog (or configuration) so far */
  guint repositories_listed;  /* whose tag lists are complete */
} RiScanProgress;

/* Scans the registry behind @client and returns what the given indexes
 * (element-type RiIndexConfig, all on this registry) may select from.
 * @repositories (nullable): names or globs from the registry's settings:
 * literal names alone are used without asking for the catalog; globs
 * filter the catalog. @partial: @repositories are literal names of some of
 * the registry's repositories, refreshed on their own; what is remembered
 * of the others is kept. */
void             ri_registry_scan_async  (RiRegistryClient    *client,
                                          GPtrArray           *indexes,
                                          const char * const  *repositories,
                                          gboolean             partial,
                                          RiContentCache      *cache,
                                          RiScanProgress      *progress,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
RiRegistryModel *ri_registry_scan_finish (GAsyncResult        *result,
                                          GError             **error);

G_END_DECLS
