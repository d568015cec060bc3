#define G_LOG_DOMAIN "Daemon"

#include "config.h"

#include <glib-unix.h>

#include "ri-config.h"
#include "ri-content-cache.h"
#include "ri-daemon.h"
#include "ri-dbus-names.h"
#include "ri-error.h"
#include "ri-fedmsg-subscriber.h"
#include "ri-http-server.h"
#include "ri-indexer-service.h"
#include "ri-model-keeper.h"
#include "ri-private-tmp.h"
#include "ri-scheduler.h"
#include "ri-status.h"

#define DEFAULT_CONFIG SYSCONFDIR "/regindexer/config.yaml"

/**
 * RiDaemon:
 *
 * regindexer-daemon: owns org.regindexer.Indexer on the system bus (or
 * the session bus with --session), runs one reindex at start-up, serves
 * reindex requests, re-reads its configuration on SIGHUP and stops cleanly
 * on SIGTERM, cancelling a run in progress (index files are replaced
 * atomically, so a cancelled run leaves the previous ones in place).
 *
 * It owns the configuration: where it comes from, loading it, its
 * warnings, and on a reload (SIGHUP or Reload()) handing it to each part
 * (scheduler, fedmsg, HTTP). GetStatus() is built here too, from what the
 * parts count (ri-status.c).
 */
struct _RiDaemon {
  GApplication parent_instance;

  char *config_path;          /* (owned) */
  char *cache_dir;            /* (owned) (nullable) */
  gboolean verbose;
  gboolean replace;
  gboolean session;
  RiConfig *config;           /* (owned) (nullable) until loaded */
  RiScheduler *scheduler;     /* (owned) (nullable) */
  RiIndexerService *service;  /* (owned) (nullable) */
  RiFedmsgSubscriber *fedmsg; /* (owned) (nullable) none without endpoints */
  RiHttpServer *http;         /* (owned) (nullable) */
  RiModelKeeper *models;      /* (owned) (nullable) */
  guint owner_id;
  gboolean name_acquired;
  gboolean stopping;
  int exit_status;
  guint signal_sources[3];
};

G_DEFINE_TYPE (RiDaemon, ri_daemon, G_TYPE_APPLICATION)

static void
ri_daemon_finalize (GObject *object)
{
  RiDaemon *self = RI_DAEMON (object);

  for (guint i = 0; i < G_N_ELEMENTS (self->signal_sources); i++)
    g_clear_handle_id (&self->signal_sources[i], g_source_remove);
  if (self->owner_id != 0)
    g_bus_unown_name (self->owner_id);
  g_clear_object (&self->fedmsg);
  g_clear_object (&self->http);
  g_clear_object (&self->models);
  g_clear_object (&self->service);
  g_clear_object (&self->scheduler);
  g_clear_pointer (&self->config, ri_config_unref);
  g_free (self->config_path);
  g_free (self->cache_dir);
  G_OBJECT_CLASS (ri_daemon_parent_class)->finalize (object);
}

static void
drained_cb (RiScheduler *scheduler, gpointer user_data)
{
  RiDaemon *self = user_data;

  g_message ("Stopped");
  g_clear_object (&self->http);
  if (self->service != NULL)
    ri_indexer_service_unexport (self->service);
  g_application_release (G_APPLICATION (self));
}

static void
stop (RiDaemon *self, int exit_status)
{
  if (self->stopping)
    return;
  self->stopping = TRUE;
  self->exit_status = exit_status;
  if (self->scheduler != NULL)
    ri_scheduler_shutdown (self->scheduler); /* releases the application once drained */
  else
    g_application_release (G_APPLICATION (self));
}

static void
fedmsg_reindex_cb (RiFedmsgSubscriber *subscriber, const char *reason, gpointer user_data)
{
  RiDaemon *self = user_data;
  g_autoptr(GError) error = NULL;

  /* The same path as a D-Bus request, so bursts coalesce the same way. */
  if (ri_scheduler_request (self->scheduler, NULL, &error) == 0)
    g_warning ("Cannot queue a reindex: %s", error->message);
}

static gboolean
same_strv (GStrv a, GStrv b)
{
  return g_strv_equal ((const char * const *) a, (const char * const *) b);
}

/* (Re)creates the fedmsg subscriber for @config; keeps the counters, and
 * keeps the old subscriber when the new one cannot be set up. */
static gboolean
set_up_fedmsg (RiDaemon *self, RiConfig *config, GError **error)
{
  const RiDaemonConfig *daemon = &config->daemon;
  RiFedmsgSubscriber *subscriber;

  if (self->fedmsg != NULL &&
      same_strv (ri_fedmsg_subscriber_get_endpoints (self->fedmsg), daemon->endpoints) &&
      same_strv (ri_fedmsg_subscriber_get_topics (self->fedmsg), daemon->topics))
    return TRUE;
  if (daemon->endpoints[0] == NULL)
    {
      g_message ("No fedmsg endpoints configured: reindexing only when asked over D-Bus");
      g_clear_object (&self->fedmsg);
      return TRUE;
    }
  subscriber = ri_fedmsg_subscriber_new (daemon, error);
  if (subscriber == NULL)
    return FALSE;
  if (self->fedmsg != NULL)
    ri_fedmsg_subscriber_set_counters (subscriber, ri_fedmsg_subscriber_get_counters (self->fedmsg));
  g_clear_object (&self->fedmsg);
  self->fedmsg = subscriber;
  g_signal_connect (subscriber, "reindex", G_CALLBACK (fedmsg_reindex_cb), self);
  {
    g_autofree char *endpoints = g_strjoinv (", ", daemon->endpoints);
    g_autofree char *topics = g_strjoinv (", ", daemon->topics);
    g_message ("Listening for fedmsg on %s for %s", endpoints, topics);
  }
  return TRUE;
}

static gboolean
sigterm_cb (gpointer user_data)
{
  RiDaemon *self = user_data;

  g_message ("Received a signal to stop; cancelling any run in progress");
  stop (self, 0);
  return G_SOURCE_CONTINUE;
}

/* Loads the configuration file, its warnings logged. */
static RiConfig *
load_config (RiDaemon *self, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(RiConfig) config = ri_config_load_file_warn (self->config_path, NULL, NULL, &local_error);

  /* Under systemd's PrivateTmp, what is written below /tmp vanishes with
   * the unit: refused, like any other configuration error. */
  if (config != NULL && ri_private_tmp_check_config (config, "/proc/self/mountinfo", &local_error))
    return g_steal_pointer (&config);
  /* A file that cannot be read is as much a configuration problem as one
   * that does not parse: clients see Error.Config either way. */
  if (local_error->domain != RI_ERROR)
    {
      g_set_error_literal (error, RI_ERROR, RI_ERROR_CONFIG, local_error->message);
      return NULL;
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

/* SIGHUP and Reload(): a configuration that does not load changes
 * nothing; one that does goes to every part. A run in progress keeps the
 * configuration it started with. */
gboolean
ri_daemon_reload (RiDaemon *self, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(RiConfig) config = load_config (self, &local_error);

  if (config == NULL)
    {
      g_warning ("Keeping the previous configuration: %s", local_error->message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_clear_pointer (&self->config, ri_config_unref);
  self->config = ri_config_ref (config);
  if (self->scheduler != NULL)
    ri_scheduler_set_config (self->scheduler, config);
  /* While stopping, nothing new is started: no subscription, no listener. */
  if (self->scheduler != NULL && !self->stopping && !set_up_fedmsg (self, config, &local_error))
    g_warning ("Keeping the previous fedmsg subscription: %s", local_error->message);
  g_clear_error (&local_error);
  if (self->models != NULL)
    ri_model_keeper_set_config (self->models, config);
  if (self->http != NULL && !self->stopping && !ri_http_server_listen (self->http, config, &local_error))
    g_warning ("Cannot listen as configured (GetStatus says where the daemon listens): %s",
               local_error->message);
  g_message ("Reloaded the configuration from '%s' (%u indexes)", self->config_path, config->indexes->len);
  return TRUE;
}

GVariant *
ri_daemon_get_status (RiDaemon *self)
{
  return ri_status_build (self->scheduler, self->config_path, self->fedmsg, self->http, self->models);
}

static gboolean
sighup_cb (gpointer user_data)
{
  RiDaemon *self = user_data;
  g_autoptr(GError) error = NULL;

  ri_daemon_reload (self, &error);
  return G_SOURCE_CONTINUE;
}

static void
bus_acquired_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  RiDaemon *self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ri_indexer_service_export (self->service, connection, &error))
    {
      g_warning ("Cannot export %s: %s", RI_DBUS_PATH, error->message);
      stop (self, 1);
    }
}

static void
name_acquired_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  RiDaemon *self = user_data;
  g_autoptr(GError) error = NULL;

  self->name_acquired = TRUE;
  g_message ("Owning %s on the %s bus", name, self->session ? "session" : "system");
  /* The start-up reindex, through the same path as any request. */
  if (!self->config->daemon.scan)
    g_message ("A read replica (daemon: scan: false): never scanning");
  else if (ri_scheduler_request (self->scheduler, NULL, &error) == 0)
    g_warning ("Cannot start the first reindex: %s", error->message);
}

static void
name_lost_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  RiDaemon *self = user_data;

  if (connection == NULL)
    g_warning ("Cannot connect to the %s bus", self->session ? "session" : "system");
  else if (self->name_acquired)
    g_message ("Lost the name %s (replaced?); stopping", name);
  else
    g_warning ("Cannot own %s: another regindexer-daemon runs (use --replace to take over)", name);
  stop (self, self->name_acquired ? 0 : 1);
}

static int
ri_daemon_handle_local_options (GApplication *application, GVariantDict *options)
{
  RiDaemon *self = RI_DAEMON (application);
  g_autoptr(GError) error = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("regindexer-daemon %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (self->verbose && g_getenv ("G_MESSAGES_DEBUG") == NULL)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  if (self->config_path == NULL)
    self->config_path = g_strdup (DEFAULT_CONFIG);

  /* A broken configuration stops the daemon before it touches the bus or
   * the network, with the file, line and column. */
  self->config = load_config (self, &error);
  if (self->config == NULL)
    {
      g_printerr ("regindexer-daemon: %s\n", error->message);
      return RI_DAEMON_EXIT_CONFIG;
    }
  return -1;
}

static void
ri_daemon_activate (GApplication *application)
{
  RiDaemon *self = RI_DAEMON (application);
  GBusNameOwnerFlags flags = G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT;

  if (self->scheduler != NULL)
    return;
  g_application_hold (application);

  {
    g_autofree char *cache_dir = self->cache_dir ? g_strdup (self->cache_dir) : ri_content_cache_default_dir ();
    g_autoptr(RiContentCache) cache = ri_content_cache_new (cache_dir, TRUE);
    self->scheduler = ri_scheduler_new (self->config, cache);
  }
  self->service = ri_indexer_service_new (self, self->scheduler);
  g_signal_connect (self->scheduler, "drained", G_CALLBACK (drained_cb), self);
  /* Before the listener answers, so that its first answers are live. */
  self->models = ri_model_keeper_new (self->scheduler, self->config);
  {
    g_autoptr(GError) error = NULL;
    self->http = ri_http_server_new (self->scheduler);
    if (!set_up_fedmsg (self, self->config, &error) || !ri_http_server_listen (self->http, self->config, &error))
      {
        g_printerr ("regindexer-daemon: %s\n", error->message);
        stop (self, 1);
        return;
      }
  }

  self->signal_sources[0] = g_unix_signal_add (SIGTERM, sigterm_cb, self);
  self->signal_sources[1] = g_unix_signal_add (SIGINT, sigterm_cb, self);
  self->signal_sources[2] = g_unix_signal_add (SIGHUP, sighup_cb, self);

  if (self->replace)
    flags |= G_BUS_NAME_OWNER_FLAGS_REPLACE;
  self->owner_id = g_bus_own_name (self->session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
                                   RI_DBUS_NAME, flags, bus_acquired_cb, name_acquired_cb,
                                   name_lost_cb, self, NULL);
}

static void
ri_daemon_class_init (RiDaemonClass *klass)
{
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = ri_daemon_finalize;
  application_class->handle_local_options = ri_daemon_handle_local_options;
  application_class->activate = ri_daemon_activate;
}

static void
ri_daemon_init (RiDaemon *self)
{
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &self->config_path,
      "Configuration file (default: " DEFAULT_CONFIG ")", "FILE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &self->verbose, "Log debugging messages", NULL },
    { "cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &self->cache_dir,
      "Where to cache manifests and config blobs (default: $CACHE_DIRECTORY or $XDG_CACHE_HOME/regindexer)", "DIR" },
    { "replace", 'r', 0, G_OPTION_ARG_NONE, &self->replace, "Replace a running daemon", NULL },
    { "session", 0, 0, G_OPTION_ARG_NONE, &self->session, "Use the session bus, not the system bus", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, "Show the version and exit", NULL },
    { NULL }
  };

  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            "Rebuild container registry indexes on request (org.regindexer.Indexer).");
}

RiDaemon *
ri_daemon_new (void)
{
  /* NON_UNIQUE: GApplication's own registration uses the session bus;
   * the daemon owns its name on the bus it is told to use instead. */
  return g_object_new (RI_TYPE_DAEMON,
                       "application-id", RI_DBUS_NAME,
                       "flags", G_APPLICATION_NON_UNIQUE,
                       NULL);
}

int
ri_daemon_get_exit_status (RiDaemon *self)
{
  return self->exit_status;
}
