#define G_LOG_DOMAIN "Scheduler"

#include "config.h"

#include "ri-error.h"
#include "ri-indexer.h"
#include "ri-names.h"
#include "ri-scheduler.h"

/**
 * RiScheduler:
 *
 * Turns reindex requests (from D-Bus, fedmsg, start-up) into runs of the
 * engine, one at a time. A request while a run is going joins the single
 * follow-up run, so a burst of requests gives at most two runs.
 *
 * A run starts once requests have settled (daemon: coalesce_delay, 200 ms
 * by default, without a new one), and at the latest ten times that after
 * the first request it serves: when
 * runs are quick, a run finishing in the middle of a burst would otherwise
 * start the follow-up too early, and the rest of the burst a third run.
 *
 * Refreshes (a registry said some repositories changed) queue the same
 * way, apart from full runs: a pending run of every index takes them in,
 * since it scans everything after they were asked for.
 *
 * A run that leaves indexes failed (a registry down, a disk full) is
 * followed by a run of those indexes alone, without waiting for anyone to
 * ask: daemon: retry_delay after the first failure, twice as long after
 * each failure in a row, at most RETRY_MAX_S (or retry_delay if larger);
 * any run that leaves no index failed ends it.
 *
 * Nothing here waits on its own: the only waits are the start and retry
 * timers, which shutdown removes, and the run, which it cancels; if the
 * run has not returned SHUTDOWN_GRACE_MS after that, `drained` is emitted
 * anyway, so that a stop never hangs on the network.
 *
 * Signals:
 * - `job-started` (guint64 job, GStrv indexes)
 * - `index-done` (const RiIndexReport *report)
 * - `job-finished` (guint64 job, RiRunReport *report (nullable), const char *error (nullable))
 * - `state-changed` () when it starts or stops running
 * - `drained` () after ri_scheduler_shutdown(), once nothing runs
 */


#define RETRY_MAX_S 600
#define SHUTDOWN_GRACE_MS 500

typedef struct {
  guint64 id;
  gint64 first_request_us;  /* monotonic */
  GPtrArray *names;         /* (owned) (nullable) NULL means every index */
  char *registry;           /* (owned) (nullable) a refresh of this registry… */
  GHashTable *repositories; /* (owned) (nullable) …and of these repositories on it */
} Job;

struct _RiScheduler {
  GObject parent_instance;

  RiConfig *config;         /* (owned) */
  RiIndexer *indexer;       /* (owned) */
  GCancellable *cancellable;/* (owned) (nullable) of the run going on */
  Job *current;             /* (owned) (nullable) */
  Job *pending;             /* (owned) (nullable) */
  GPtrArray *refreshes;     /* (owned) (element-type Job) pending refreshes, one per registry */
  guint64 next_id;
  guint64 last_job;
  RiRunReport *last_report; /* (owned) (nullable) */
  char *last_error;         /* (owned) (nullable) */
  GHashTable *index_status; /* (owned) name → RiIndexStatus */
  gboolean shutting_down;
  gboolean drained;
  guint start_source;
  guint retry_source;
  guint grace_source;
  guint failed_runs;        /* in a row */
  gint64 next_retry_us;     /* wall clock, 0 when no retry is due */
};

G_DEFINE_TYPE (RiScheduler, ri_scheduler, G_TYPE_OBJECT)

enum {
  SIGNAL_JOB_STARTED,
  SIGNAL_INDEX_DONE,
  SIGNAL_JOB_FINISHED,
  SIGNAL_STATE_CHANGED,
  SIGNAL_DRAINED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void start_pending (RiScheduler *self);
static void schedule_start (RiScheduler *self);
static void schedule_retry (RiScheduler *self, gboolean run_failed);
static void emit_drained (RiScheduler *self);

static void
job_free (Job *job)
{
  g_clear_pointer (&job->names, g_ptr_array_unref);
  g_free (job->registry);
  g_clear_pointer (&job->repositories, g_hash_table_unref);
  g_free (job);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Job, job_free)

static void
index_status_free (RiIndexStatus *status)
{
  g_free (status->last_error);
  g_clear_pointer (&status->skipped, g_variant_unref);
  g_free (status);
}

static void
ri_scheduler_dispose (GObject *object)
{
  RiScheduler *self = RI_SCHEDULER (object);

  g_clear_handle_id (&self->start_source, g_source_remove);
  g_clear_handle_id (&self->retry_source, g_source_remove);
  g_clear_handle_id (&self->grace_source, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  G_OBJECT_CLASS (ri_scheduler_parent_class)->dispose (object);
}

static void
ri_scheduler_finalize (GObject *object)
{
  RiScheduler *self = RI_SCHEDULER (object);

  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->current, job_free);
  g_clear_pointer (&self->pending, job_free);
  g_ptr_array_unref (self->refreshes);
  g_clear_object (&self->indexer);
  g_clear_pointer (&self->config, ri_config_unref);
  g_clear_pointer (&self->last_report, ri_run_report_unref);
  g_free (self->last_error);
  g_hash_table_unref (self->index_status);
  G_OBJECT_CLASS (ri_scheduler_parent_class)->finalize (object);
}

static void
ri_scheduler_class_init (RiSchedulerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ri_scheduler_dispose;
  object_class->finalize = ri_scheduler_finalize;

  signals[SIGNAL_JOB_STARTED] =
    g_signal_new ("job-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_STRV);
  signals[SIGNAL_INDEX_DONE] =
    g_signal_new ("index-done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_JOB_FINISHED] =
    g_signal_new ("job-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_UINT64, RI_TYPE_RUN_REPORT, G_TYPE_STRING);
  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
  signals[SIGNAL_DRAINED] =
    g_signal_new ("drained", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
ri_scheduler_init (RiScheduler *self)
{
  self->next_id = 1;
  self->refreshes = g_ptr_array_new_with_free_func ((GDestroyNotify) job_free);
  self->index_status = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) index_status_free);
}

/* Journal entries carry the job, index and registry as fields of their
 * own (journalctl REGINDEXER_INDEX=flatpak-amd64), not only in the text. */
static void
log_index (guint64 job, const RiIndexReport *report, gboolean cancelled)
{
  g_autofree char *job_text = g_strdup_printf ("%" G_GUINT64_FORMAT, job);

  /* A stop cancels the run on purpose: nothing to warn about. */
  if (!report->success && cancelled)
    g_debug ("Job %s: %s", job_text, report->error);
  else if (report->success)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                      "REGINDEXER_JOB", job_text,
                      "REGINDEXER_INDEX", report->name,
                      "REGINDEXER_REGISTRY", report->registry,
                      "REGINDEXER_OUTPUT", report->output,
                      "MESSAGE", "Job %s: index '%s' %s (%u repositories, %u images)", job_text, report->name,
                      report->changed ? "written" : "unchanged", report->counts.repositories,
                      report->counts.images);
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                      "REGINDEXER_JOB", job_text,
                      "REGINDEXER_INDEX", report->name,
                      "REGINDEXER_REGISTRY", report->registry,
                      "MESSAGE", "Job %s: %s", job_text, report->error);
}

static gboolean
run_cancelled (RiScheduler *self)
{
  return self->cancellable != NULL && g_cancellable_is_cancelled (self->cancellable);
}

static void
index_done_cb (RiIndexer *indexer, const RiIndexReport *report, gpointer user_data)
{
  RiScheduler *self = user_data;
  RiIndexStatus *status = ri_scheduler_get_index_status (self, report->name);
  gint64 now = g_get_real_time ();

  log_index (self->current ? self->current->id : 0, report, run_cancelled (self));

  if (report->success)
    {
      status->last_write_us = now;
      if (report->changed)
        status->last_changed_us = now;
      status->images = report->counts.images;
      status->repositories = report->counts.repositories;
      g_clear_pointer (&status->skipped, g_variant_unref);
      status->skipped = g_variant_ref_sink (ri_index_report_skipped_to_variant (report));
      g_clear_pointer (&status->last_error, g_free);
    }
  else
    {
      g_free (status->last_error);
      status->last_error = g_strdup (report->error);
    }
  g_signal_emit (self, signals[SIGNAL_INDEX_DONE], 0, report);
}

RiScheduler *
ri_scheduler_new (RiConfig *config, RiContentCache *cache)
{
  RiScheduler *self = g_object_new (RI_TYPE_SCHEDULER, NULL);

  self->config = ri_config_ref (config);
  /* One indexer, and so one cache, for the daemon's lifetime: a rescan
   * of what did not change costs HEADs only. */
  self->indexer = ri_indexer_new (cache);
  g_signal_connect_object (self->indexer, "index-done", G_CALLBACK (index_done_cb), self, 0);
  return self;
}

RiConfig *
ri_scheduler_get_config (RiScheduler *self)
{
  return self->config;
}

/* A run in progress keeps the configuration it started with (the
 * indexer holds its own reference); the next run uses this one. */
void
ri_scheduler_set_config (RiScheduler *self, RiConfig *config)
{
  g_clear_pointer (&self->config, ri_config_unref);
  self->config = ri_config_ref (config);
}

static GStrv
job_names (RiScheduler *self, const Job *job)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (job->names == NULL)
    for (guint i = 0; i < self->config->indexes->len; i++)
      {
        RiIndexConfig *index = g_ptr_array_index (self->config->indexes, i);
        if (job->registry == NULL || g_str_equal (index->registry, job->registry))
          g_strv_builder_add (builder, index->name);
      }
  else
    for (guint i = 0; i < job->names->len; i++)
      g_strv_builder_add (builder, g_ptr_array_index (job->names, i));
  return g_strv_builder_end (builder);
}

static void
run_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(RiScheduler) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(RiRunReport) report = ri_indexer_run_finish (RI_INDEXER (source), result, &error);
  g_autoptr(Job) job = g_steal_pointer (&self->current);
  GString *errors;
  gboolean cancelled = run_cancelled (self) || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_clear_object (&self->cancellable);
  /* Given up on at shutdown (grace_cb), which has said all there is. */
  if (job == NULL)
    return;
  errors = g_string_new (NULL);
  if (report != NULL)
    for (guint i = 0; i < report->indexes->len; i++)
      {
        RiIndexReport *index = g_ptr_array_index (report->indexes, i);
        if (!index->success)
          g_string_append_printf (errors, "%s%s", errors->len ? "; " : "", index->error);
      }
  else
    g_string_append (errors, error->message);

  self->last_job = job->id;
  g_clear_pointer (&self->last_report, ri_run_report_unref);
  self->last_report = report ? ri_run_report_ref (report) : NULL;
  g_free (self->last_error);
  self->last_error = g_string_free (errors, FALSE);

  {
    g_autofree char *job_text = g_strdup_printf ("%" G_GUINT64_FORMAT, job->id);
    if (report != NULL && report->success)
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "REGINDEXER_JOB", job_text,
                        "MESSAGE", "Job %s: %s", job_text, report->message);
    else if (cancelled)
      g_debug ("Job %s cancelled: %s", job_text, self->last_error);
    else
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "REGINDEXER_JOB", job_text,
                        "MESSAGE", "Job %s failed: %s", job_text, self->last_error);
  }

  g_signal_emit (self, signals[SIGNAL_JOB_FINISHED], 0, job->id, report,
                 report != NULL && report->success ? NULL : self->last_error);

  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0);
  if (self->shutting_down)
    emit_drained (self);
  else
    {
      schedule_retry (self, report == NULL || !report->success);
      if (self->pending != NULL || self->refreshes->len > 0)
        schedule_start (self);
    }
}

/* The job waiting longest: a run or a refresh. */
static Job *
next_job (RiScheduler *self)
{
  Job *next = self->pending;

  for (guint i = 0; i < self->refreshes->len; i++)
    {
      Job *refresh = g_ptr_array_index (self->refreshes, i);
      if (next == NULL || refresh->first_request_us < next->first_request_us)
        next = refresh;
    }
  return next;
}

static void
start_pending (RiScheduler *self)
{
  g_auto(GStrv) names = NULL;
  Job *next = next_job (self);
  g_autofree char *job_text = NULL;
  g_autofree char *list = NULL;

  g_assert (next != NULL);
  g_assert (self->current == NULL);
  if (next == self->pending)
    self->current = g_steal_pointer (&self->pending);
  else
    {
      guint position = 0;
      g_ptr_array_find (self->refreshes, next, &position);
      self->current = g_ptr_array_steal_index (self->refreshes, position);
    }
  self->cancellable = g_cancellable_new ();
  names = job_names (self, self->current);

  job_text = g_strdup_printf ("%" G_GUINT64_FORMAT, self->current->id);
  list = g_strjoinv (", ", names);
  if (self->current->registry != NULL)
    {
      guint count = 0;
      g_autofree char **repositories = (char **) g_hash_table_get_keys_as_array (self->current->repositories,
                                                                                 &count);
      g_autofree char *repository_list = NULL;

      /* A registry's backlog may name thousands: the log names a few. */
      if (count > 5)
        {
          g_autofree char *first = NULL;

          repositories[5] = NULL;
          first = g_strjoinv (", ", repositories);
          repository_list = g_strdup_printf ("%u repositories (%s, …)", count, first);
        }
      else
        repository_list = g_strjoinv (", ", repositories);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "REGINDEXER_JOB", job_text,
                        "REGINDEXER_REGISTRY", self->current->registry,
                        "MESSAGE", "Job %s: refreshing %s on %s for %s", job_text, repository_list,
                        self->current->registry, list);
    }
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "REGINDEXER_JOB", job_text,
                      "MESSAGE", "Job %s: indexing %s", job_text, list);
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0);
  g_signal_emit (self, signals[SIGNAL_JOB_STARTED], 0, self->current->id, names);
  if (self->current->registry != NULL)
    {
      g_autofree char **repositories = (char **) g_hash_table_get_keys_as_array (self->current->repositories, NULL);
      ri_indexer_refresh_async (self->indexer, self->config, self->current->registry,
                                (const char * const *) repositories, self->cancellable, run_cb,
                                g_object_ref (self));
    }
  else
    ri_indexer_run_async (self->indexer, self->config,
                          self->current->names ? (const char * const *) names : NULL,
                          self->cancellable, run_cb, g_object_ref (self));
}

static gboolean
start_cb (gpointer user_data)
{
  RiScheduler *self = user_data;

  self->start_source = 0;
  if (self->current == NULL && next_job (self) != NULL && !self->shutting_down)
    start_pending (self);
  return G_SOURCE_REMOVE;
}

/* (Re)arms the start of the pending run: the coalesce delay from now, but
 * never later than ten times that after its first request. */
static void
schedule_start (RiScheduler *self)
{
  gint64 settle_ms = self->config->daemon.coalesce_delay_ms;
  gint64 waited_ms = (g_get_monotonic_time () - next_job (self)->first_request_us) / 1000;
  gint64 delay_ms = MIN (settle_ms, MAX (0, 10 * settle_ms - waited_ms));

  if (self->current != NULL)
    return; /* started when the current run finishes */
  g_clear_handle_id (&self->start_source, g_source_remove);
  self->start_source = g_timeout_add ((guint) delay_ms, start_cb, self);
}

static void
merge_names (Job *job, const char * const *names)
{
  if (names == NULL || names[0] == NULL)
    {
      g_clear_pointer (&job->names, g_ptr_array_unref);
      return;
    }
  if (job->names == NULL)
    return; /* already everything */
  for (guint i = 0; names[i]; i++)
    if (!g_ptr_array_find_with_equal_func (job->names, names[i], g_str_equal, NULL))
      g_ptr_array_add (job->names, g_strdup (names[i]));
}

/* Returns the job id that will serve the request, or 0 with @error. */
guint64
ri_scheduler_request (RiScheduler *self, const char * const *names, GError **error)
{
  if (self->shutting_down)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_BUSY, "The daemon is shutting down");
      return 0;
    }
  if (!self->config->daemon.scan)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_FAILED,
                   "This daemon is a read replica (daemon: scan: false in %s): it never scans", self->config->path);
      return 0;
    }
  if (!ri_config_check_index_names (self->config, names, error))
    return 0;

  /* A run of everything covers the refreshes waiting: it starts later. */
  if (names == NULL || names[0] == NULL)
    g_ptr_array_set_size (self->refreshes, 0);

  if (self->pending == NULL)
    {
      self->pending = g_new0 (Job, 1);
      self->pending->id = self->next_id++;
      self->pending->first_request_us = g_get_monotonic_time ();
      self->pending->names = g_ptr_array_new_with_free_func (g_free);
      if (names == NULL || names[0] == NULL)
        g_clear_pointer (&self->pending->names, g_ptr_array_unref);
      else
        merge_names (self->pending, names);
    }
  else
    merge_names (self->pending, names);

  /* Started from the main loop, so that the caller can answer (and hand
   * out the job id) before the first signal about the job is emitted. */
  schedule_start (self);
  return self->pending->id;
}

/* Queues a refresh of @repository on @registry (a base URL as in the
 * configuration); returns the job that will serve it, or 0 with @error. */
guint64
ri_scheduler_refresh (RiScheduler *self, const char *registry, const char *repository, GError **error)
{
  RiRegistryConfig *registry_config;
  Job *job = NULL;

  if (self->shutting_down)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_BUSY, "The daemon is shutting down");
      return 0;
    }
  if (!self->config->daemon.scan)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_FAILED,
                   "This daemon is a read replica (daemon: scan: false in %s): it never scans", self->config->path);
      return 0;
    }
  registry_config = ri_config_get_registry (self->config, registry);
  if (registry_config == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_NOT_FOUND, "No index uses the registry %s", registry);
      return 0;
    }
  if (!ri_name_matches_any ((const char * const *) registry_config->repositories, repository))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_NOT_FOUND, "%s is not among the repositories indexed on %s",
                   repository, registry);
      return 0;
    }
  if (self->pending != NULL && self->pending->names == NULL)
    return self->pending->id;

  for (guint i = 0; i < self->refreshes->len && job == NULL; i++)
    if (g_str_equal (((Job *) g_ptr_array_index (self->refreshes, i))->registry, registry))
      job = g_ptr_array_index (self->refreshes, i);
  if (job == NULL)
    {
      job = g_new0 (Job, 1);
      job->id = self->next_id++;
      job->first_request_us = g_get_monotonic_time ();
      job->registry = g_strdup (registry);
      job->repositories = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_ptr_array_add (self->refreshes, job);
    }
  g_hash_table_add (job->repositories, g_strdup (repository));
  schedule_start (self);
  return job->id;
}

/* The configured indexes the last run of each left failed (transfer
 * full), or NULL when there are none. */
static GStrv
failed_indexes (RiScheduler *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  guint count = 0;

  for (guint i = 0; i < self->config->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (self->config->indexes, i);
      RiIndexStatus *status = g_hash_table_lookup (self->index_status, index->name);

      if (status != NULL && status->last_error != NULL)
        {
          g_strv_builder_add (builder, index->name);
          count++;
        }
    }
  return count > 0 ? g_strv_builder_end (builder) : NULL;
}

static gboolean
retry_cb (gpointer user_data)
{
  RiScheduler *self = user_data;
  g_auto(GStrv) failed = failed_indexes (self);
  g_autoptr(GError) error = NULL;

  self->retry_source = 0;
  self->next_retry_us = 0;
  if (failed == NULL || self->shutting_down)
    return G_SOURCE_REMOVE;
  {
    g_autofree char *list = g_strjoinv (", ", failed);
    guint64 job = ri_scheduler_request (self, (const char * const *) failed, &error);

    if (job == 0)
      g_warning ("Cannot retry %s: %s", list, error->message);
    else
      g_message ("Retrying %s after %u failed runs in a row: job %" G_GUINT64_FORMAT, list,
                 self->failed_runs, job);
  }
  return G_SOURCE_REMOVE;
}

/* How long after its @failed_runs-th failure in a row a run is retried,
 * the first retry @first_s after the first failure. */
guint
ri_scheduler_retry_delay_s (guint first_s, guint failed_runs)
{
  guint max_s = MAX (first_s, RETRY_MAX_S);
  guint delay_s = first_s;

  for (guint i = 1; i < failed_runs && delay_s < max_s; i++)
    delay_s *= 2;
  return MIN (delay_s, max_s);
}

/* After each run: arms the retry of what is failed, or ends retrying. A
 * run that succeeded while others remain failed changes nothing: their
 * retry is due already, or queued (retry_cb queues it as a request). */
static void
schedule_retry (RiScheduler *self, gboolean run_failed)
{
  g_auto(GStrv) failed = failed_indexes (self);
  guint delay_s;

  if (failed == NULL)
    {
      self->failed_runs = 0;
      self->next_retry_us = 0;
      g_clear_handle_id (&self->retry_source, g_source_remove);
      return;
    }
  if (!run_failed)
    return;
  self->failed_runs++;
  g_clear_handle_id (&self->retry_source, g_source_remove);
  self->next_retry_us = 0;
  if (self->config->daemon.retry_delay_s == 0)
    return; /* retrying is off */
  delay_s = ri_scheduler_retry_delay_s (self->config->daemon.retry_delay_s, self->failed_runs);
  self->retry_source = g_timeout_add_seconds (delay_s, retry_cb, self);
  self->next_retry_us = g_get_real_time () + (gint64) delay_s * G_USEC_PER_SEC;
  g_info ("Retrying the failed indexes in %u s", delay_s);
}

static void
emit_drained (RiScheduler *self)
{
  g_clear_handle_id (&self->grace_source, g_source_remove);
  if (self->drained)
    return;
  self->drained = TRUE;
  g_signal_emit (self, signals[SIGNAL_DRAINED], 0);
}

static gboolean
grace_cb (gpointer user_data)
{
  RiScheduler *self = user_data;

  self->grace_source = 0;
  if (self->current != NULL)
    {
      g_autoptr(Job) job = g_steal_pointer (&self->current);
      g_autofree char *message = g_strdup_printf ("The run did not end within %d ms of being cancelled: "
                                                  "stopped without it", SHUTDOWN_GRACE_MS);

      g_warning ("Job %" G_GUINT64_FORMAT ": %s", job->id, message);
      /* The job still ends, for whoever waits for it. */
      g_signal_emit (self, signals[SIGNAL_JOB_FINISHED], 0, job->id, NULL, message);
      g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0);
    }
  emit_drained (self);
  return G_SOURCE_REMOVE;
}

void
ri_scheduler_shutdown (RiScheduler *self)
{
  if (self->shutting_down)
    return;
  self->shutting_down = TRUE;
  g_clear_handle_id (&self->start_source, g_source_remove);
  g_clear_handle_id (&self->retry_source, g_source_remove);
  self->next_retry_us = 0;
  g_clear_pointer (&self->pending, job_free);
  g_ptr_array_set_size (self->refreshes, 0);
  if (self->current != NULL)
    {
      g_cancellable_cancel (self->cancellable);
      self->grace_source = g_timeout_add (SHUTDOWN_GRACE_MS, grace_cb, self);
    }
  else
    emit_drained (self);
}

gint64
ri_scheduler_get_next_retry (RiScheduler *self)
{
  return self->next_retry_us;
}

guint
ri_scheduler_get_failed_runs (RiScheduler *self)
{
  return self->failed_runs;
}

gboolean
ri_scheduler_is_running (RiScheduler *self)
{
  return self->current != NULL;
}

guint64
ri_scheduler_get_current_job (RiScheduler *self)
{
  return self->current ? self->current->id : 0;
}

guint64
ri_scheduler_get_pending_job (RiScheduler *self)
{
  Job *next = next_job (self);
  return next ? next->id : 0;
}

RiIndexer *
ri_scheduler_get_indexer (RiScheduler *self)
{
  return self->indexer;
}

guint64
ri_scheduler_get_last_job (RiScheduler *self)
{
  return self->last_job;
}

RiRunReport *
ri_scheduler_get_last_report (RiScheduler *self)
{
  return self->last_report;
}

const char *
ri_scheduler_get_last_error (RiScheduler *self)
{
  return self->last_error ? self->last_error : "";
}

RiIndexStatus *
ri_scheduler_get_index_status (RiScheduler *self, const char *name)
{
  RiIndexStatus *status = g_hash_table_lookup (self->index_status, name);

  if (status == NULL)
    {
      status = g_new0 (RiIndexStatus, 1);
      g_hash_table_insert (self->index_status, g_strdup (name), status);
    }
  return status;
}
