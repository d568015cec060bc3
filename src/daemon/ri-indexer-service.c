#define G_LOG_DOMAIN "DBus"

#include "config.h"

#include "ri-dbus-error.h"
#include "ri-dbus-generated.h"
#include "ri-dbus-names.h"
#include "ri-error.h"
#include "ri-indexer-service.h"
#include "ri-status.h"

/**
 * RiIndexerService:
 *
 * The org.regindexer.Indexer interface on the bus: the only place where
 * D-Bus meets the daemon. Reindex() becomes a scheduler request, Reload()
 * and GetStatus() calls of RiDaemon, which owns the configuration;
 * scheduler signals become D-Bus signals and property changes.
 */
struct _RiIndexerService {
  GObject parent_instance;

  RiDBusIndexer *skeleton;    /* (owned) */
  RiDaemon *daemon;           /* (unowned) owns this service */
  RiScheduler *scheduler;     /* (owned) */
};

G_DEFINE_TYPE (RiIndexerService, ri_indexer_service, G_TYPE_OBJECT)

static void
ri_indexer_service_finalize (GObject *object)
{
  RiIndexerService *self = RI_INDEXER_SERVICE (object);

  g_signal_handlers_disconnect_by_data (self->scheduler, self);
  ri_indexer_service_unexport (self);
  g_clear_object (&self->skeleton);
  g_clear_object (&self->scheduler);
  G_OBJECT_CLASS (ri_indexer_service_parent_class)->finalize (object);
}

static void
ri_indexer_service_class_init (RiIndexerServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ri_indexer_service_finalize;
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

static gboolean
handle_get_status (RiDBusIndexer *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
  RiIndexerService *self = user_data;

  ri_dbus_indexer_complete_get_status (skeleton, invocation, ri_daemon_get_status (self->daemon));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_reload (RiDBusIndexer *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
  RiIndexerService *self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ri_daemon_reload (self->daemon, &error))
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
      g_variant_dict_insert_value (&entry, "skipped", ri_index_report_skipped_to_variant (index));
      g_variant_builder_add (&indexes, "{s@a{sv}}", index->name, g_variant_dict_end (&entry));
    }
  g_variant_dict_insert_value (&details, "indexes", g_variant_builder_end (&indexes));
  g_variant_dict_insert (&details, "duration", "x",
                         report ? report->finished_us - report->started_us : (gint64) 0);
  g_variant_dict_insert (&details, "scan-duration", "x", report ? report->scan_us : (gint64) 0);
  g_variant_dict_insert (&details, "write-duration", "x", report ? report->write_us : (gint64) 0);
  g_variant_dict_insert_value (&details, "requests", ri_status_requests (report));
  g_variant_dict_insert (&details, "bytes", "t", report ? report->stats.bytes : (guint64) 0);
  g_variant_dict_insert_value (&details, "skipped", report ? ri_run_report_skipped_to_variant (report)
                                                           : g_variant_new ("a{su}", NULL));

  message = error != NULL ? error : report->message;
  ri_dbus_indexer_emit_reindex_finished (self->skeleton, job, error == NULL, message,
                                         g_variant_dict_end (&details));
}

RiIndexerService *
ri_indexer_service_new (RiDaemon *daemon, RiScheduler *scheduler)
{
  RiIndexerService *self = g_object_new (RI_TYPE_INDEXER_SERVICE, NULL);

  ri_dbus_error_ensure_registered ();
  self->daemon = daemon;
  self->scheduler = g_object_ref (scheduler);
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
