#define G_LOG_DOMAIN "DBus"

#include "config.h"

#include "ri-dbus-error.h"
#include "ri-dbus-generated.h"
#include "ri-dbus-names.h"
#include "ri-error.h"
#include "ri-indexer-service.h"
#include "ri-private-tmp.h"

/**
 * RiIndexerService:
 *
 * The org.regindexer.Indexer interface on the bus: the only place where
 * D-Bus meets the scheduler. Method calls become scheduler requests;
 * scheduler signals become D-Bus signals and property changes.
 */
struct _RiIndexerService {
  GObject parent_instance;

  RiDBusIndexer *skeleton;    /* (owned) */
  RiScheduler *scheduler;     /* (owned) */
  char *config_path;          /* (owned) */
  RiStatusExtender extender;
  gpointer extender_data;
};

G_DEFINE_TYPE (RiIndexerService, ri_indexer_service, G_TYPE_OBJECT)

enum {
  SIGNAL_CONFIG_RELOADED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
ri_indexer_service_finalize (GObject *object)
{
  RiIndexerService *self = RI_INDEXER_SERVICE (object);

  g_signal_handlers_disconnect_by_data (self->scheduler, self);
  ri_indexer_service_unexport (self);
  g_clear_object (&self->skeleton);
  g_clear_object (&self->scheduler);
  g_free (self->config_path);
  G_OBJECT_CLASS (ri_indexer_service_parent_class)->finalize (object);
}

static void
ri_indexer_service_class_init (RiIndexerServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ri_indexer_service_finalize;

  /* After a successful reload, with the new RiConfig. */
  signals[SIGNAL_CONFIG_RELOADED] =
    g_signal_new ("config-reloaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, RI_TYPE_CONFIG);
}

static void
ri_indexer_service_init (RiIndexerService *self)
{
}

static void
return_error (GDBusMethodInvocation *invocation, const GError *error)
{
  g_autoptr(GError) bus_error = ri_dbus_error_for_bus (error);

  g_dbus_method_invocation_return_gerror (invocation, bus_error);
}

static gboolean
handle_reindex (RiDBusIndexer         *skeleton,
                GDBusMethodInvocation *invocation,
                const char * const    *indexes,
                GVariant              *options,
                gpointer               user_data)
{
  RiIndexerService *self = user_data;
  g_autoptr(GError) error = NULL;
  GVariantIter iter;
  const char *key;
  guint64 job;

  g_variant_iter_init (&iter, options);
  if (g_variant_iter_next (&iter, "{&sv}", &key, NULL))
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "Unknown option '%s': this daemon (version %s) knows none",
                                             key, PACKAGE_VERSION);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  job = ri_scheduler_request (self->scheduler, indexes, &error);
  if (job == 0)
    {
      return_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  g_info ("Reindex requested by %s: job %" G_GUINT64_FORMAT,
          g_dbus_method_invocation_get_sender (invocation), job);
  ri_dbus_indexer_complete_reindex (skeleton, invocation, job);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static GVariant *
requests_variant (const RiRunReport *report)
{
  const RiRequestStats *stats = report ? &report->stats : NULL;
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{su}"));
  g_variant_builder_add (&builder, "{su}", "catalog", stats ? stats->requests[RI_REQUEST_CATALOG] : 0);
  g_variant_builder_add (&builder, "{su}", "tags", stats ? stats->requests[RI_REQUEST_TAGS] : 0);
  g_variant_builder_add (&builder, "{su}", "manifest", stats ? stats->requests[RI_REQUEST_MANIFEST] : 0);
  g_variant_builder_add (&builder, "{su}", "manifest-head",
                         stats ? stats->requests[RI_REQUEST_MANIFEST_HEAD] : 0);
  g_variant_builder_add (&builder, "{su}", "blob", stats ? stats->requests[RI_REQUEST_BLOB] : 0);
  g_variant_builder_add (&builder, "{su}", "token", stats ? stats->requests[RI_REQUEST_TOKEN] : 0);
  g_variant_builder_add (&builder, "{su}", "retries", stats ? stats->retries : 0);
  g_variant_builder_add (&builder, "{su}", "cache-hits", report ? report->cache.hits : 0);
  g_variant_builder_add (&builder, "{su}", "cache-misses", report ? report->cache.misses : 0);
  return g_variant_builder_end (&builder);
}

static gboolean
handle_get_status (RiDBusIndexer *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
  RiIndexerService *self = user_data;
  RiConfig *config = ri_scheduler_get_config (self->scheduler);
  RiRunReport *last = ri_scheduler_get_last_report (self->scheduler);
  g_auto(GVariantDict) status = G_VARIANT_DICT_INIT (NULL);
  GVariantBuilder indexes;

  g_variant_dict_insert (&status, "state", "s", ri_scheduler_is_running (self->scheduler) ? "indexing" : "idle");
  g_variant_dict_insert (&status, "current-job", "t", ri_scheduler_get_current_job (self->scheduler));
  g_variant_dict_insert (&status, "pending-job", "t", ri_scheduler_get_pending_job (self->scheduler));
  g_variant_dict_insert (&status, "last-job", "t", ri_scheduler_get_last_job (self->scheduler));
  g_variant_dict_insert (&status, "last-started", "x", last ? last->started_us : (gint64) 0);
  g_variant_dict_insert (&status, "last-finished", "x", last ? last->finished_us : (gint64) 0);
  g_variant_dict_insert (&status, "last-success", "b",
                         ri_scheduler_get_last_job (self->scheduler) != 0 && last != NULL && last->success);
  g_variant_dict_insert (&status, "last-error", "s", ri_scheduler_get_last_error (self->scheduler));
  g_variant_dict_insert (&status, "config-path", "s", self->config_path);
  g_variant_dict_insert_value (&status, "requests", requests_variant (last));
  g_variant_dict_insert (&status, "bytes", "t", last ? last->stats.bytes : (guint64) 0);
  g_variant_dict_insert (&status, "scan-duration", "x", last ? last->scan_us : (gint64) 0);
  g_variant_dict_insert (&status, "write-duration", "x", last ? last->write_us : (gint64) 0);

  g_variant_builder_init (&indexes, G_VARIANT_TYPE ("a{sa{sv}}"));
  for (guint i = 0; i < config->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (config->indexes, i);
      RiIndexStatus *index_status = ri_scheduler_get_index_status (self->scheduler, index->name);
      g_auto(GVariantDict) entry = G_VARIANT_DICT_INIT (NULL);

      g_variant_dict_insert (&entry, "output", "s", index->output ? index->output : "");
      g_variant_dict_insert (&entry, "registry", "s", index->registry);
      g_variant_dict_insert (&entry, "last-write", "x", index_status->last_write_us);
      g_variant_dict_insert (&entry, "last-changed", "x", index_status->last_changed_us);
      g_variant_dict_insert (&entry, "images", "u", index_status->images);
      g_variant_dict_insert (&entry, "repositories", "u", index_status->repositories);
      g_variant_dict_insert (&entry, "last-error", "s", index_status->last_error ? index_status->last_error : "");
      g_variant_builder_add (&indexes, "{s@a{sv}}", index->name, g_variant_dict_end (&entry));
    }
  g_variant_dict_insert_value (&status, "indexes", g_variant_builder_end (&indexes));

  if (self->extender != NULL)
    self->extender (&status, self->extender_data);

  ri_dbus_indexer_complete_get_status (skeleton, invocation, g_variant_dict_end (&status));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

gboolean
ri_indexer_service_reload (RiIndexerService *self, GError **error)
{
  g_autoptr(RiConfig) config = ri_config_load_file (self->config_path, error);

  if (config == NULL || !ri_private_tmp_check_config (config, "/proc/self/mountinfo", error))
    {
      g_warning ("Keeping the previous configuration: %s", (*error)->message);
      return FALSE;
    }
  for (guint i = 0; config->warnings[i]; i++)
    g_warning ("%s", config->warnings[i]);
  ri_scheduler_set_config (self->scheduler, config);
  g_signal_emit (self, signals[SIGNAL_CONFIG_RELOADED], 0, config);
  g_message ("Reloaded the configuration from '%s' (%u indexes)", self->config_path, config->indexes->len);
  return TRUE;
}

static gboolean
handle_reload (RiDBusIndexer *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
  RiIndexerService *self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ri_indexer_service_reload (self, &error))
    {
      return_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  ri_dbus_indexer_complete_reload (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
state_changed_cb (RiScheduler *scheduler, gpointer user_data)
{
  RiIndexerService *self = user_data;

  ri_dbus_indexer_set_state (self->skeleton, ri_scheduler_is_running (scheduler) ? "indexing" : "idle");
  /* Announce the state before the job's own signals, not from an idle. */
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (self->skeleton));
}

static void
job_started_cb (RiScheduler *scheduler, guint64 job, GStrv indexes, gpointer user_data)
{
  RiIndexerService *self = user_data;

  ri_dbus_indexer_emit_reindex_started (self->skeleton, job, (const char * const *) indexes);
}

static void
index_done_cb (RiScheduler *scheduler, const RiIndexReport *report, gpointer user_data)
{
  RiIndexerService *self = user_data;

  if (report->success)
    ri_dbus_indexer_emit_index_written (self->skeleton, report->name, report->output);
}

static void
job_finished_cb (RiScheduler *scheduler, guint64 job, RiRunReport *report, const char *error,
                 gpointer user_data)
{
  RiIndexerService *self = user_data;
  g_auto(GVariantDict) details = G_VARIANT_DICT_INIT (NULL);
  GVariantBuilder indexes;
  const char *message;

  g_variant_builder_init (&indexes, G_VARIANT_TYPE ("a{sa{sv}}"));
  for (guint i = 0; report != NULL && i < report->indexes->len; i++)
    {
      RiIndexReport *index = g_ptr_array_index (report->indexes, i);
      g_auto(GVariantDict) entry = G_VARIANT_DICT_INIT (NULL);

      g_variant_dict_insert (&entry, "success", "b", index->success);
      g_variant_dict_insert (&entry, "changed", "b", index->changed);
      g_variant_dict_insert (&entry, "images", "u", index->counts.images);
      g_variant_dict_insert (&entry, "repositories", "u", index->counts.repositories);
      g_variant_dict_insert (&entry, "error", "s", index->error ? index->error : "");
      g_variant_builder_add (&indexes, "{s@a{sv}}", index->name, g_variant_dict_end (&entry));
    }
  g_variant_dict_insert_value (&details, "indexes", g_variant_builder_end (&indexes));
  g_variant_dict_insert (&details, "duration", "x",
                         report ? report->finished_us - report->started_us : (gint64) 0);
  g_variant_dict_insert (&details, "scan-duration", "x", report ? report->scan_us : (gint64) 0);
  g_variant_dict_insert (&details, "write-duration", "x", report ? report->write_us : (gint64) 0);
  g_variant_dict_insert_value (&details, "requests", requests_variant (report));
  g_variant_dict_insert (&details, "bytes", "t", report ? report->stats.bytes : (guint64) 0);

  message = error != NULL ? error : report->message;
  ri_dbus_indexer_emit_reindex_finished (self->skeleton, job, error == NULL, message,
                                         g_variant_dict_end (&details));
}

RiIndexerService *
ri_indexer_service_new (RiScheduler *scheduler, const char *config_path)
{
  RiIndexerService *self = g_object_new (RI_TYPE_INDEXER_SERVICE, NULL);

  ri_dbus_error_ensure_registered ();
  self->scheduler = g_object_ref (scheduler);
  self->config_path = g_strdup (config_path);
  self->skeleton = ri_dbus_indexer_skeleton_new ();
  ri_dbus_indexer_set_version (self->skeleton, PACKAGE_VERSION);
  ri_dbus_indexer_set_state (self->skeleton, "idle");

  g_signal_connect (self->skeleton, "handle-reindex", G_CALLBACK (handle_reindex), self);
  g_signal_connect (self->skeleton, "handle-get-status", G_CALLBACK (handle_get_status), self);
  g_signal_connect (self->skeleton, "handle-reload", G_CALLBACK (handle_reload), self);
  g_signal_connect (scheduler, "state-changed", G_CALLBACK (state_changed_cb), self);
  g_signal_connect (scheduler, "job-started", G_CALLBACK (job_started_cb), self);
  g_signal_connect (scheduler, "index-done", G_CALLBACK (index_done_cb), self);
  g_signal_connect (scheduler, "job-finished", G_CALLBACK (job_finished_cb), self);
  return self;
}

gboolean
ri_indexer_service_export (RiIndexerService *self, GDBusConnection *connection, GError **error)
{
  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->skeleton), connection,
                                           RI_DBUS_PATH, error);
}

void
ri_indexer_service_unexport (RiIndexerService *self)
{
  if (self->skeleton != NULL &&
      g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (self->skeleton)) != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
}

void
ri_indexer_service_set_status_extender (RiIndexerService *self, RiStatusExtender extender,
                                        gpointer user_data)
{
  self->extender = extender;
  self->extender_data = user_data;
}
