#define G_LOG_DOMAIN "Indexer"

#include "config.h"

#include <string.h>

#include "ri-error.h"
#include "ri-icon-store.h"
#include "ri-index-writer.h"
#include "ri-indexer.h"
#include "ri-json-printer.h"
#include "ri-model-store.h"
#include "ri-names.h"
#include "ri-registry-scan.h"

/**
 * RiIndexer:
 *
 * Runs one reindex: groups the requested indexes by registry so that each
 * registry is scanned once, writes every index of a registry from that one
 * scan, and reports. The daemon and the in-process CLI both run this.
 *
 * It keeps the model each index was last built from, for answering
 * queries live and for refreshing single repositories (on a registry's
 * notification) without scanning the rest again.
 *
 * Signal: `index-done` (RiIndexReport *) after each index was written or
 * failed.
 */
struct _RiIndexer {
  GObject parent_instance;

  RiContentCache *cache;      /* (owned) (nullable) kept across runs */
  GPtrArray *scanning;        /* (element-type RegistryRun) (unowned) scans going on */
  GHashTable *models;         /* (owned) index name → StoredModel */
  guint64 generation;         /* of the newest stored model */
  char *model_dir;            /* (owned) (nullable) where each model built is saved */
};

typedef struct {
  RiRegistryModel *model;     /* (owned) */
  RiConfig *config;           /* (owned) the configuration the scan selected by */
  guint64 generation;
} StoredModel;

G_DEFINE_TYPE (RiIndexer, ri_indexer, G_TYPE_OBJECT)

enum {
  SIGNAL_INDEX_DONE,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

typedef struct {
  RiIndexer *self;            /* (unowned) the task's source object */
  RiConfig *config;           /* (owned) */
  RiRunReport *report;        /* (owned) */
  RiIconStore *icons;         /* (owned) (nullable) */
  gboolean all_indexes;
  guint pending;
  GHashTable *referenced;     /* (owned) (nullable) digests of every registry scanned */
  gboolean referenced_union;  /* @referenced is the run's own, not a model's */
  char *model_dir;            /* (owned) (nullable) the indexer's when the run started */
  gboolean all_scanned;       /* every registry's scan succeeded */
} Run;

typedef struct {
  GTask *task;                /* (owned) */
  RiRegistryClient *client;   /* (owned) */
  GPtrArray *indexes;         /* (owned) (element-type RiIndexConfig) borrowed from the config */
  gint64 started_us;          /* monotonic */
  RiScanProgress progress;
  RiIndexer *indexer;         /* (unowned) */
  GHashTable *refreshed;      /* (owned) (nullable) a refresh: the only repositories scanned */
} RegistryRun;

static void
stored_model_free (StoredModel *stored)
{
  ri_registry_model_unref (stored->model);
  ri_config_unref (stored->config);
  g_free (stored);
}

static void
run_free (Run *run)
{
  ri_config_unref (run->config);
  ri_run_report_unref (run->report);
  g_clear_object (&run->icons);
  g_clear_pointer (&run->referenced, g_hash_table_unref);
  g_free (run->model_dir);
  g_free (run);
}

static void
registry_run_free (RegistryRun *registry_run)
{
  g_ptr_array_remove (registry_run->indexer->scanning, registry_run);
  g_clear_object (&registry_run->task);
  g_clear_object (&registry_run->client);
  g_ptr_array_unref (registry_run->indexes);
  g_clear_pointer (&registry_run->refreshed, g_hash_table_unref);
  g_free (registry_run);
}

static void
ri_indexer_finalize (GObject *object)
{
  g_clear_object (&RI_INDEXER (object)->cache);
  g_ptr_array_unref (RI_INDEXER (object)->scanning);
  g_hash_table_unref (RI_INDEXER (object)->models);
  g_free (RI_INDEXER (object)->model_dir);
  G_OBJECT_CLASS (ri_indexer_parent_class)->finalize (object);
}

static void
ri_indexer_class_init (RiIndexerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ri_indexer_finalize;

  signals[SIGNAL_INDEX_DONE] =
    g_signal_new ("index-done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
ri_indexer_init (RiIndexer *self)
{
  self->scanning = g_ptr_array_new ();
  self->models = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) stored_model_free);
}

/* The model @index was last built from (transfer none), or NULL before
 * its first successful scan. *@generation changes whenever it does. */
RiRegistryModel *
ri_indexer_get_model (RiIndexer *self, const char *index, guint64 *generation)
{
  StoredModel *stored = g_hash_table_lookup (self->models, index);

  if (generation != NULL)
    *generation = stored ? stored->generation : 0;
  return stored ? stored->model : NULL;
}

static void
store_model (RiIndexer *self, const RiIndexConfig *index, RiConfig *config, RiRegistryModel *model)
{
  StoredModel *stored = g_new0 (StoredModel, 1);

  stored->model = ri_registry_model_ref (model);
  stored->config = ri_config_ref (config);
  stored->generation = ++self->generation;
  g_hash_table_replace (self->models, g_strdup (index->name), stored);
}

/* Makes @model what @index answers from until its next scan, as if a
 * scan under @config had built it: a model restored from the state
 * directory (at start-up, or by a read replica). */
void
ri_indexer_set_model (RiIndexer *self, const RiIndexConfig *index, RiConfig *config, RiRegistryModel *model)
{
  store_model (self, index, config, model);
}

/* Where runs from now on save the model of each index they build
 * (ri-model-store.h), so that it outlives the process; NULL for nowhere. */
void
ri_indexer_set_model_dir (RiIndexer *self, const char *directory)
{
  g_free (self->model_dir);
  self->model_dir = g_strdup (directory);
}

void
ri_indexer_get_progress (RiIndexer *self, RiIndexerProgress *progress)
{
  memset (progress, 0, sizeof *progress);
  for (guint i = 0; i < self->scanning->len; i++)
    {
      RegistryRun *registry_run = g_ptr_array_index (self->scanning, i);
      const RiRequestStats *stats = ri_registry_client_get_stats (registry_run->client);

      progress->repositories_found += registry_run->progress.repositories_found;
      progress->repositories_listed += registry_run->progress.repositories_listed;
      progress->requests += ri_request_stats_total (stats);
    }
}

RiIndexer *
ri_indexer_new (RiContentCache *cache)
{
  RiIndexer *self = g_object_new (RI_TYPE_INDEXER, NULL);

  self->cache = cache ? g_object_ref (cache) : NULL;
  return self;
}

static void
finish_run (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  RiRunReport *report = run->report;
  guint failed = 0, changed = 0;

  for (guint i = 0; i < report->indexes->len; i++)
    {
      RiIndexReport *index = g_ptr_array_index (report->indexes, i);
      failed += !index->success;
      changed += index->changed;
    }
  report->success = failed == 0;

  /* Only a complete, successful run knows every icon still in use. */
  if (report->success && run->all_indexes && run->icons != NULL)
    {
      g_autoptr(GError) error = NULL;
      guint removed = 0;

      if (!ri_icon_store_collect_garbage (run->icons, run->config->icons_grace_period_s, &removed, &error))
        g_warning ("%s", error->message);
      else if (removed > 0)
        g_info ("Removed %u unreferenced icons", removed);
    }

  /* Only a complete run knows every digest still in use. */
  if (report->success && run->all_indexes && run->all_scanned && run->self->cache != NULL)
    {
      g_autoptr(GHashTable) none = g_hash_table_new (g_str_hash, g_str_equal);
      ri_content_cache_prune (run->self->cache, run->referenced ? run->referenced : none);
    }
  if (run->self->cache != NULL)
    report->cache = *ri_content_cache_get_stats (run->self->cache);

  report->finished_us = g_get_real_time ();
  if (report->success)
    report->message = g_strdup_printf ("%u indexes written (%u changed) in %.1f s",
                                       report->indexes->len, changed,
                                       (report->finished_us - report->started_us) / 1e6);
  else
    report->message = g_strdup_printf ("%u of %u indexes failed", failed, report->indexes->len);
  {
    g_autofree char *skipped = ri_skipped_describe (report->skipped);
    if (skipped != NULL)
      {
        char *message = g_strdup_printf ("%s; %u objects skipped (%s)", report->message,
                                         ri_skipped_total (report->skipped), skipped);
        g_free (report->message);
        report->message = message;
      }
  }
  g_task_return_pointer (task, ri_run_report_ref (report), (GDestroyNotify) ri_run_report_unref);
}

static void
add_stats (RiRequestStats *sum, const RiRequestStats *stats)
{
  for (guint i = 0; i < RI_REQUEST_N_KINDS; i++)
    sum->requests[i] += stats->requests[i];
  sum->retries += stats->retries;
  sum->bytes += stats->bytes;
}

static RiIndexReport *
index_report_new (const RiIndexConfig *index)
{
  RiIndexReport *report = g_new0 (RiIndexReport, 1);

  report->name = g_strdup (index->name);
  /* Empty for an index that is only served over HTTP. */
  report->output = g_strdup (index->output ? index->output : "");
  report->registry = g_strdup (index->registry);
  report->skipped = ri_skipped_new ();
  return report;
}

static void
write_index (Run *run, const RiIndexConfig *index, RiRegistryModel *model, RiIndexReport *report)
{
  g_autoptr(GError) error = NULL;

  /* Even a failed write had a model: what the scan left out is known. */
  g_hash_table_unref (report->skipped);
  report->skipped = ri_registry_model_count_skipped (model);
  if (ri_index_write (index, model, run->icons, &report->counts, &report->changed, &error))
    {
      report->success = TRUE;
      g_info ("Index '%s': %u repositories, %u images, %s '%s'", index->name,
              report->counts.repositories, report->counts.images,
              report->changed ? "wrote" : "unchanged", index->output ? index->output : "(served only)");
      return;
    }
  g_prefix_error (&error, "Index '%s': ", index->name);
  report->error = g_strdup (error->message);
}

/* Writing a registry's indexes: in a worker thread, so that a large
 * index never blocks the main loop (the model is immutable, and the icon
 * store locks itself). */
typedef struct {
  Run *run;                   /* (unowned) outlives the task: the run waits for it */
  GPtrArray *models;          /* (owned) (element-type RiRegistryModel) one per index */
  GPtrArray *indexes;         /* (owned) (element-type RiIndexConfig) */
  GPtrArray *reports;         /* (owned) (element-type RiIndexReport) filled by the thread */
  gint64 write_us;
} WriteJob;

static void
write_job_free (WriteJob *job)
{
  g_ptr_array_unref (job->models);
  g_ptr_array_unref (job->indexes);
  g_ptr_array_unref (job->reports);
  g_free (job);
}

/* Saved whether or not the index file could be written: the model is
 * what the daemon answers from either way. Saved in the writing thread,
 * so that a run (and so the daemon's shutdown) waits for it. */
static void
save_model (Run *run, const RiIndexConfig *index, RiRegistryModel *model)
{
  g_autofree char *path = ri_model_store_path (run->model_dir, index->name);
  g_autoptr(GError) error = NULL;

  if (!ri_model_store_save (path, index, ri_config_get_registry (run->config, index->registry), model, NULL,
                            &error))
    g_warning ("Index '%s': cannot save its model for the next start: %s", index->name, error->message);
}

static void
write_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WriteJob *job = task_data;
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < job->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (job->indexes, i);
      RiIndexReport *report = index_report_new (index);

      write_index (job->run, index, g_ptr_array_index (job->models, i), report);
      if (job->run->model_dir != NULL)
        save_model (job->run, index, g_ptr_array_index (job->models, i));
      g_ptr_array_add (job->reports, report);
    }
  job->write_us = g_get_monotonic_time () - start;
  g_task_return_boolean (task, TRUE);
}

static void
registry_done (GTask *task, GPtrArray *reports)
{
  Run *run = g_task_get_task_data (task);

  /* The indexes of one registry share its scan: its skips count once. */
  if (reports->len > 0)
    ri_skipped_add (run->report->skipped, ((RiIndexReport *) g_ptr_array_index (reports, 0))->skipped);
  for (guint i = 0; i < reports->len; i++)
    {
      RiIndexReport *report = g_ptr_array_index (reports, i);

      /* Failures are the caller's to log, once. */
      g_ptr_array_add (run->report->indexes, report);
      g_signal_emit (run->self, signals[SIGNAL_INDEX_DONE], 0, report);
    }
  if (--run->pending == 0)
    finish_run (task);
}

static void
written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) run_task = user_data;
  WriteJob *job = g_task_get_task_data (G_TASK (result));
  Run *run = g_task_get_task_data (run_task);

  run->report->write_us += job->write_us;
  /* The reports move to the run's report. */
  g_ptr_array_set_free_func (job->reports, NULL);
  registry_done (run_task, job->reports);
}

/* What the cache keeps: with one registry, its model's own set (7,000
 * digests at 1,000 x 3, not copied); with more, their union. */
static void
add_referenced (Run *run, GHashTable *referenced)
{
  GHashTableIter iter;
  gpointer digest;

  if (run->referenced == NULL)
    {
      run->referenced = g_hash_table_ref (referenced);
      return;
    }
  if (!run->referenced_union)
    {
      GHashTable *first = run->referenced;

      run->referenced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      run->referenced_union = TRUE;
      add_referenced (run, first);
      g_hash_table_unref (first);
    }
  g_hash_table_iter_init (&iter, referenced);
  while (g_hash_table_iter_next (&iter, &digest, NULL))
    g_hash_table_add (run->referenced, g_strdup (digest));
}

static void
scan_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RegistryRun *registry_run = user_data;
  GTask *task = registry_run->task;
  Run *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(RiRegistryModel) model = ri_registry_scan_finish (result, &error);

  add_stats (&run->report->stats, ri_registry_client_get_stats (registry_run->client));
  run->report->scan_us = MAX (run->report->scan_us, g_get_monotonic_time () - registry_run->started_us);

  if (model != NULL)
    {
      g_autoptr(GTask) write_task = NULL;
      WriteJob *job = g_new0 (WriteJob, 1);

      add_referenced (run, model->referenced);

      job->run = run;
      job->models = g_ptr_array_new_with_free_func ((GDestroyNotify) ri_registry_model_unref);
      for (guint i = 0; i < registry_run->indexes->len; i++)
        {
          RiIndexConfig *index = g_ptr_array_index (registry_run->indexes, i);
          RiRegistryModel *stored = ri_indexer_get_model (run->self, index->name, NULL);
          g_autoptr(RiRegistryModel) built = NULL;

          /* A refresh replaces the refreshed repositories in what the
           * index was built from; everything else stays as it was. (A
           * refresh starts only when every index has a model, and models
           * are only ever replaced.) */
          if (registry_run->refreshed != NULL)
            {
              g_assert (stored != NULL);
              built = ri_registry_model_merge (stored, model, registry_run->refreshed);
            }
          else
            built = ri_registry_model_ref (model);
          store_model (run->self, index, run->config, built);
          g_ptr_array_add (job->models, g_steal_pointer (&built));
        }
      job->indexes = g_ptr_array_ref (registry_run->indexes);
      job->reports = g_ptr_array_new_with_free_func ((GDestroyNotify) ri_index_report_free);
      /* Not cancellable: a write that started finishes (it is atomic). */
      write_task = g_task_new (NULL, NULL, written_cb, g_object_ref (task));
      g_task_set_task_data (write_task, job, (GDestroyNotify) write_job_free);
      g_task_run_in_thread (write_task, write_thread);
    }
  else
    {
      g_autoptr(GPtrArray) reports = g_ptr_array_new ();

      run->all_scanned = FALSE;
      for (guint i = 0; i < registry_run->indexes->len; i++)
        {
          RiIndexConfig *index = g_ptr_array_index (registry_run->indexes, i);
          RiIndexReport *report = index_report_new (index);

          report->error = g_strdup_printf ("Index '%s' not written (the previous file is kept): %s",
                                           index->name, error->message);
          g_ptr_array_add (reports, report);
        }
      registry_done (task, reports);
    }
  registry_run_free (registry_run);
}

static void
start_run (RiIndexer          *self,
           RiConfig           *config,
           const char * const *names,
           const char         *refresh_registry,
           GHashTable         *refresh,
           GCancellable       *cancellable,
           GAsyncReadyCallback callback,
           gpointer            user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GHashTable) groups = NULL;
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  Run *run;

  g_return_if_fail (RI_IS_INDEXER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ri_indexer_run_async);

  if (!ri_config_check_index_names (config, names, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  run = g_new0 (Run, 1);
  run->self = self;
  run->config = ri_config_ref (config);
  run->report = ri_run_report_new ();
  run->report->started_us = g_get_real_time ();
  run->all_indexes = refresh_registry == NULL && (names == NULL || names[0] == NULL);
  run->all_scanned = TRUE;
  run->model_dir = g_strdup (self->model_dir);
  if (self->cache != NULL)
    ri_content_cache_reset_stats (self->cache);
  /* Without an index that extracts icons, nothing references the stored
   * ones, and collecting them as garbage would delete them all. */
  for (guint i = 0; i < config->indexes->len; i++)
    if (((RiIndexConfig *) g_ptr_array_index (config->indexes, i))->extract_icons)
      {
        run->icons = ri_icon_store_new (config->icons_dir, config->icons_uri);
        break;
      }
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);

  /* One scan per registry, whatever the number of indexes on it. */
  groups = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_ptr_array_unref);
  for (guint i = 0; i < config->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (config->indexes, i);
      GPtrArray *group;

      if (refresh_registry != NULL ? !g_str_equal (index->registry, refresh_registry)
                                   : !run->all_indexes && !g_strv_contains (names, index->name))
        continue;
      group = g_hash_table_lookup (groups, index->registry);
      if (group == NULL)
        {
          group = g_ptr_array_new ();
          g_hash_table_insert (groups, index->registry, group);
          g_ptr_array_add (order, index->registry);
        }
      g_ptr_array_add (group, index);
    }

  run->pending = order->len;
  if (run->pending == 0)
    {
      finish_run (task);
      return;
    }
  for (guint i = 0; i < order->len; i++)
    {
      const char *registry = g_ptr_array_index (order, i);
      RiRegistryConfig *registry_config = ri_config_get_registry (config, registry);
      RegistryRun *registry_run = g_new0 (RegistryRun, 1);
      g_autofree char **names_scanned = NULL;

      registry_run->task = g_object_ref (task);
      registry_run->client = ri_registry_client_new (registry_config);
      registry_run->indexes = g_ptr_array_ref (g_hash_table_lookup (groups, registry));
      registry_run->started_us = g_get_monotonic_time ();
      registry_run->indexer = self;
      if (refresh != NULL)
        {
          registry_run->refreshed = g_hash_table_ref (refresh);
          names_scanned = (char **) g_hash_table_get_keys_as_array (refresh, NULL);
        }
      g_ptr_array_add (self->scanning, registry_run);
      ri_registry_scan_async (registry_run->client, registry_run->indexes,
                              refresh != NULL ? (const char * const *) names_scanned
                                              : (const char * const *) registry_config->repositories,
                              refresh != NULL, self->cache, &registry_run->progress, cancellable,
                              scan_cb, registry_run);
    }
}

void
ri_indexer_run_async (RiIndexer          *self,
                      RiConfig           *config,
                      const char * const *names,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data)
{
  start_run (self, config, names, NULL, NULL, cancellable, callback, user_data);
}

/* Scans only @repositories of @registry again (after the registry said
 * they changed) and rewrites the indexes on it from what they were built
 * from with those repositories replaced. An index with nothing to start
 * from (never built, or built under another configuration) makes it a
 * full scan of the registry instead. Finish with ri_indexer_run_finish(). */
void
ri_indexer_refresh_async (RiIndexer          *self,
                          RiConfig           *config,
                          const char         *registry,
                          const char * const *repositories,
                          GCancellable       *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer            user_data)
{
  RiRegistryConfig *registry_config = ri_config_get_registry (config, registry);
  g_autoptr(GHashTable) refresh = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (registry_config == NULL)
    {
      g_task_report_new_error (self, callback, user_data, ri_indexer_run_async, RI_ERROR, RI_ERROR_NOT_FOUND,
                               "No index uses the registry %s", registry);
      return;
    }
  for (guint i = 0; repositories[i]; i++)
    if (ri_name_matches_any ((const char * const *) registry_config->repositories, repositories[i]))
      g_hash_table_add (refresh, g_strdup (repositories[i]));
  for (guint i = 0; i < config->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (config->indexes, i);
      StoredModel *stored = g_hash_table_lookup (self->models, index->name);

      if (g_str_equal (index->registry, registry) && (stored == NULL || stored->config != config))
        {
          g_info ("Index '%s' has no complete scan under this configuration yet: scanning %s whole",
                  index->name, registry);
          g_clear_pointer (&refresh, g_hash_table_unref);
          break;
        }
    }
  start_run (self, config, NULL, registry, refresh, cancellable, callback, user_data);
}

RiRunReport *
ri_indexer_run_finish (RiIndexer *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, ri_indexer_run_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
