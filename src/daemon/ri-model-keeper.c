#define G_LOG_DOMAIN "Models"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "ri-error.h"
#include "ri-model-keeper.h"
#include "ri-model-store.h"

/**
 * RiModelKeeper:
 *
 * Keeps the live models of the served indexes across restarts: at start
 * the model each one was last built from is taken back from the state
 * directory (where the indexer saves it after each run), so that a
 * restarted daemon answers at once, not after its first scan.
 *
 * With `daemon: scan: false` it makes the daemon a read replica: it never
 * scans, and takes the models another daemon saves in a shared state
 * directory whenever they change. Changes are seen through a file monitor
 * on the directory (the writer's renames included), and by a stat() of
 * each served index's file every few seconds, for file systems whose
 * changes the monitor cannot see (NFS written from another host).
 */

#define POLL_INTERVAL_S 2

typedef struct {
  dev_t dev;
  ino_t ino;
  off_t size;
  gint64 mtime_ns;
} FileId;

struct _RiModelKeeper {
  GObject parent_instance;

  RiIndexer *indexer;         /* (owned) */
  RiConfig *config;           /* (owned) */
  char *directory;            /* (owned) */
  gboolean replica;
  GHashTable *loaded;         /* (owned) index name → FileId of the file last taken (or refused) */
  GFileMonitor *monitor;      /* (owned) (nullable) replicas only */
  guint poll_source;
  guint check_source;
  gboolean loading;           /* a load is going on in a thread… */
  gboolean check_again;       /* …and something changed meanwhile */
  GCancellable *cancellable;  /* (owned) */
  guint restored;             /* models taken at start */
  guint64 reloaded;           /* models taken since */
  gint64 last_loaded_us;
  char *last_error;           /* (owned) (nullable) */
};

G_DEFINE_TYPE (RiModelKeeper, ri_model_keeper, G_TYPE_OBJECT)

static void check (RiModelKeeper *self);

static void
stop_watching (RiModelKeeper *self)
{
  g_clear_handle_id (&self->poll_source, g_source_remove);
  g_clear_handle_id (&self->check_source, g_source_remove);
  if (self->monitor != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->monitor, self);
      g_file_monitor_cancel (self->monitor);
      g_clear_object (&self->monitor);
    }
}

static void
ri_model_keeper_dispose (GObject *object)
{
  RiModelKeeper *self = RI_MODEL_KEEPER (object);

  stop_watching (self);
  g_cancellable_cancel (self->cancellable);
  G_OBJECT_CLASS (ri_model_keeper_parent_class)->dispose (object);
}

static void
ri_model_keeper_finalize (GObject *object)
{
  RiModelKeeper *self = RI_MODEL_KEEPER (object);

  g_clear_object (&self->indexer);
  g_clear_pointer (&self->config, ri_config_unref);
  g_free (self->directory);
  g_hash_table_unref (self->loaded);
  g_clear_object (&self->cancellable);
  g_free (self->last_error);
  G_OBJECT_CLASS (ri_model_keeper_parent_class)->finalize (object);
}

static void
ri_model_keeper_class_init (RiModelKeeperClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = ri_model_keeper_dispose;
  G_OBJECT_CLASS (klass)->finalize = ri_model_keeper_finalize;
}

static void
ri_model_keeper_init (RiModelKeeper *self)
{
  self->loaded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->cancellable = g_cancellable_new ();
}

static void
file_id_from_stat (FileId *id, const struct stat *st)
{
  id->dev = st->st_dev;
  id->ino = st->st_ino;
  id->size = st->st_size;
  id->mtime_ns = (gint64) st->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st->st_mtim.tv_nsec;
}

static void
remember (RiModelKeeper *self, const char *index, const struct stat *st)
{
  FileId *id = g_new0 (FileId, 1);

  file_id_from_stat (id, st);
  g_hash_table_replace (self->loaded, g_strdup (index), id);
}

static void
set_last_error (RiModelKeeper *self, const char *message)
{
  g_free (self->last_error);
  self->last_error = g_strdup (message);
}

/* At start, before the listener answers: synchronously, so that the first
 * request already finds the model. */
static void
restore_all (RiModelKeeper *self)
{
  for (guint i = 0; i < self->config->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (self->config->indexes, i);
      g_autofree char *path = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(RiRegistryModel) model = NULL;
      struct stat st;

      if (ri_config_get_served (self->config, index->name) == NULL)
        continue;
      path = ri_model_store_path (self->directory, index->name);
      model = ri_model_store_load (path, index, ri_config_get_registry (self->config, index->registry), &st, &error);
      if (model == NULL)
        {
          if (g_error_matches (error, RI_ERROR, RI_ERROR_NOT_FOUND))
            g_info ("Index '%s': no model to start from (%s)", index->name, error->message);
          else
            {
              g_warning ("Index '%s': cannot restore its model: %s", index->name, error->message);
              set_last_error (self, error->message);
            }
          continue;
        }
      ri_indexer_set_model (self->indexer, index, self->config, model);
      remember (self, index->name, &st);
      self->restored++;
      self->last_loaded_us = g_get_real_time ();
    }
  if (self->restored > 0)
    g_message ("Answering %u served indexes from the models in %s%s", self->restored, self->directory,
               self->replica ? "" : " until the first scan");
}

/* Loading what changed, in a worker thread: a large model takes a while
 * to build, and the listener keeps answering from the previous one. */
typedef struct {
  char *name;                 /* (owned) */
  char *path;                 /* (owned) */
  RiRegistryModel *model;     /* (owned) (nullable) the result… */
  GError *error;              /* (owned) (nullable) …or why not */
  struct stat st;
  gboolean read;              /* st is the file's */
} Load;

typedef struct {
  RiConfig *config;           /* (owned) the one the loads select by */
  GPtrArray *loads;           /* (owned) (element-type Load) */
} LoadJob;

static void
load_free (Load *load)
{
  g_free (load->name);
  g_free (load->path);
  g_clear_pointer (&load->model, ri_registry_model_unref);
  g_clear_error (&load->error);
  g_free (load);
}

static void
load_job_free (LoadJob *job)
{
  ri_config_unref (job->config);
  g_ptr_array_unref (job->loads);
  g_free (job);
}

static void
load_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  LoadJob *job = task_data;

  for (guint i = 0; i < job->loads->len && !g_cancellable_is_cancelled (cancellable); i++)
    {
      Load *load = g_ptr_array_index (job->loads, i);
      RiIndexConfig *index = ri_config_get_index (job->config, load->name);

      load->model = ri_model_store_load (load->path, index, ri_config_get_registry (job->config, index->registry),
                                         &load->st, &load->error);
      /* Refused before it was read (not readable, say): its status
       * still makes it refused once, not at every check. A file gone
       * between stat() and open() is looked at again. */
      if (load->model == NULL && load->st.st_ino == 0)
        stat (load->path, &load->st);
      load->read = load->st.st_ino != 0;
    }
  g_task_return_boolean (task, TRUE);
}

static void
loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RiModelKeeper *self = RI_MODEL_KEEPER (source);
  LoadJob *job = g_task_get_task_data (G_TASK (result));

  self->loading = FALSE;
  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  /* Made for a configuration since replaced: set_config() checks again. */
  if (job->config == self->config)
    for (guint i = 0; i < job->loads->len; i++)
      {
        Load *load = g_ptr_array_index (job->loads, i);

        if (load->read)
          remember (self, load->name, &load->st);
        if (load->model != NULL)
          {
            ri_indexer_set_model (self->indexer, ri_config_get_index (self->config, load->name), self->config,
                                  load->model);
            self->reloaded++;
            self->last_loaded_us = g_get_real_time ();
            g_info ("Index '%s': now answering from the model saved at %s", load->name, load->path);
          }
        else if (load->read)
          {
            /* Said once per file: the next change of it tries again. */
            g_warning ("Index '%s': keeping the model it has: %s", load->name, load->error->message);
            set_last_error (self, load->error->message);
          }
      }
  if (self->check_again)
    check (self);
}

static gboolean
changed_since (RiModelKeeper *self, const char *name, const char *path)
{
  FileId *known = g_hash_table_lookup (self->loaded, name);
  FileId now;
  struct stat st;

  if (stat (path, &st) != 0)
    return FALSE; /* nothing yet, or gone: what was taken stays */
  file_id_from_stat (&now, &st);
  return known == NULL || known->dev != now.dev || known->ino != now.ino || known->size != now.size ||
         known->mtime_ns != now.mtime_ns;
}

/* Takes every served index's model whose file changed since it was last
 * taken; one load at a time. */
static void
check (RiModelKeeper *self)
{
  g_autoptr(GTask) task = NULL;
  LoadJob *job;

  self->check_again = self->loading;
  if (self->loading)
    return;
  job = g_new0 (LoadJob, 1);
  job->config = ri_config_ref (self->config);
  job->loads = g_ptr_array_new_with_free_func ((GDestroyNotify) load_free);
  for (guint i = 0; i < self->config->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (self->config->indexes, i);
      g_autofree char *path = NULL;
      Load *load;

      if (ri_config_get_served (self->config, index->name) == NULL)
        continue;
      path = ri_model_store_path (self->directory, index->name);
      if (!changed_since (self, index->name, path))
        continue;
      load = g_new0 (Load, 1);
      load->name = g_strdup (index->name);
      load->path = g_steal_pointer (&path);
      g_ptr_array_add (job->loads, load);
    }
  if (job->loads->len == 0)
    {
      load_job_free (job);
      return;
    }
  self->loading = TRUE;
  task = g_task_new (self, self->cancellable, loaded_cb, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) load_job_free);
  g_task_run_in_thread (task, load_thread);
}

static gboolean
check_cb (gpointer user_data)
{
  RiModelKeeper *self = user_data;

  self->check_source = 0;
  check (self);
  return G_SOURCE_REMOVE;
}

static gboolean
poll_cb (gpointer user_data)
{
  check (user_data);
  return G_SOURCE_CONTINUE;
}

static void
directory_changed_cb (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                      gpointer user_data)
{
  RiModelKeeper *self = user_data;

  /* A burst of events (a rename gives several) makes one check. */
  if (self->check_source == 0)
    self->check_source = g_idle_add (check_cb, self);
}

static void
start_watching (RiModelKeeper *self)
{
  g_autoptr(GFile) directory = g_file_new_for_path (self->directory);
  g_autoptr(GError) error = NULL;

  self->monitor = g_file_monitor_directory (directory, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
  if (self->monitor == NULL)
    g_warning ("Cannot watch %s (checking it every %u s instead): %s", self->directory, POLL_INTERVAL_S,
               error->message);
  else
    g_signal_connect (self->monitor, "changed", G_CALLBACK (directory_changed_cb), self);
  self->poll_source = g_timeout_add_seconds (POLL_INTERVAL_S, poll_cb, self);
}

static void
apply_config (RiModelKeeper *self, RiConfig *config)
{
  g_autofree char *directory = config->daemon.state_dir ? g_strdup (config->daemon.state_dir)
                                                       : ri_model_store_default_dir ();
  gboolean replica = !config->daemon.scan;
  gboolean moved = g_strcmp0 (directory, self->directory) != 0 || replica != self->replica;

  g_clear_pointer (&self->config, ri_config_unref);
  self->config = ri_config_ref (config);
  g_free (self->directory);
  self->directory = g_steal_pointer (&directory);
  self->replica = replica;
  /* A writer saves each model it builds; a replica only reads. */
  ri_indexer_set_model_dir (self->indexer, replica ? NULL : self->directory);
  if (moved)
    stop_watching (self);
  if (replica && self->poll_source == 0)
    start_watching (self);
}

RiModelKeeper *
ri_model_keeper_new (RiScheduler *scheduler, RiConfig *config)
{
  RiModelKeeper *self = g_object_new (RI_TYPE_MODEL_KEEPER, NULL);

  self->indexer = g_object_ref (ri_scheduler_get_indexer (scheduler));
  apply_config (self, config);
  restore_all (self);
  return self;
}

/* After a reload: a replica takes the models again, since the indexes or
 * their selection may have changed; a writer saves to the new place. */
void
ri_model_keeper_set_config (RiModelKeeper *self, RiConfig *config)
{
  apply_config (self, config);
  if (self->replica)
    {
      g_hash_table_remove_all (self->loaded);
      check (self);
    }
}

void
ri_model_keeper_get_counters (RiModelKeeper *self, RiModelCounters *counters)
{
  counters->directory = self->directory;
  counters->replica = self->replica;
  counters->restored = self->restored;
  counters->reloaded = self->reloaded;
  counters->last_loaded_us = self->last_loaded_us;
  counters->last_error = self->last_error;
}
