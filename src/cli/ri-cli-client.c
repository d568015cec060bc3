#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "ri-cli.h"
#include "ri-dbus-error.h"
#include "ri-dbus-generated.h"
#include "ri-dbus-names.h"
#include "ri-error.h"
#include "ri-json-printer.h"

typedef struct {
  RiCliOptions *options;
  GMainLoop *loop;
  guint64 job;              /* 0 until Reindex() answered */
  gboolean started;
  gboolean finished;
  int status;
  GPtrArray *early;         /* (element-type GVariant) signals before the job id was known */
} Waiter;

/* 64-bit numbers go into translated messages as text: a format macro
 * inside _() would cut the message in two for xgettext. */
static char *
number (guint64 value)
{
  return g_strdup_printf ("%" G_GUINT64_FORMAT, value);
}

static GDBusConnection *
connect_bus (RiCliOptions *options, GError **error)
{
  return g_bus_get_sync (options->session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, NULL, error);
}

/* Never started through bus activation, neither here nor by the calls:
 * an operator's `systemctl stop` must hold whoever runs the CLI, and a
 * daemon that is not running means "in-process" for `index`. */
static RiDBusIndexer *
indexer_proxy (GDBusConnection *connection, GError **error)
{
  return ri_dbus_indexer_proxy_new_sync (connection,
                                         G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
                                         G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS |
                                         G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START_AT_CONSTRUCTION,
                                         RI_DBUS_NAME, RI_DBUS_PATH, NULL, error);
}

/* Only a daemon that is not there at all means "work in-process"; a
 * daemon that says no is obeyed. */
static gboolean
is_absent (const GError *error)
{
  return g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER);
}

static void
print_details (Waiter *waiter, GVariant *details)
{
  g_autoptr(GVariant) indexes = g_variant_lookup_value (details, "indexes", G_VARIANT_TYPE ("a{sa{sv}}"));
  GVariantIter iter;
  const char *name;
  GVariant *entry;

  if (indexes == NULL)
    return;
  g_variant_iter_init (&iter, indexes);
  while (g_variant_iter_loop (&iter, "{&s@a{sv}}", &name, &entry))
    {
      gboolean success = FALSE, changed = FALSE;
      guint images = 0, repositories = 0;
      const char *error = "";

      g_variant_lookup (entry, "success", "b", &success);
      g_variant_lookup (entry, "changed", "b", &changed);
      g_variant_lookup (entry, "images", "u", &images);
      g_variant_lookup (entry, "repositories", "u", &repositories);
      g_variant_lookup (entry, "error", "&s", &error);
      if (!success)
        g_printerr (_("%s: failed: %s\n"), name, error);
      else if (!waiter->options->quiet)
        g_print (_("%s: %u repositories, %u images (%s)\n"), name, repositories, images,
                 changed ? _("written") : _("unchanged"));
    }
}

static void
handle_signal (Waiter *waiter, const char *signal_name, GVariant *parameters)
{
  if (g_str_equal (signal_name, "ReindexStarted"))
    {
      guint64 job;
      g_autofree const char **indexes = NULL;

      g_variant_get (parameters, "(t^a&s)", &job, &indexes);
      if (job != waiter->job)
        return;
      waiter->started = TRUE;
      if (!waiter->options->quiet)
        {
          g_autofree char *list = g_strjoinv (", ", (char **) indexes);
          g_autofree char *id = number (job);
          g_print (_("Job %s started: %s\n"), id, list);
        }
    }
  else if (g_str_equal (signal_name, "IndexWritten"))
    {
      const char *index, *path;

      g_variant_get (parameters, "(&s&s)", &index, &path);
      if (waiter->started && waiter->options->verbose)
        g_print (_("  %s is up to date: %s\n"), index, path);
    }
  else if (g_str_equal (signal_name, "ReindexFinished"))
    {
      guint64 job;
      gboolean success;
      const char *message;
      g_autoptr(GVariant) details = NULL;

      g_variant_get (parameters, "(tb&s@a{sv})", &job, &success, &message, &details);
      if (job != waiter->job)
        return;
      print_details (waiter, details);
      {
        g_autofree char *id = number (job);
        if (!success)
          g_printerr (_("Job %s failed: %s\n"), id, message);
        else if (!waiter->options->quiet)
          g_print (_("Job %s: %s\n"), id, message);
      }
      waiter->status = success ? RI_EXIT_OK : RI_EXIT_FAILED;
      waiter->finished = TRUE;
      g_main_loop_quit (waiter->loop);
    }
}

static void
signal_cb (GDBusConnection *connection, const char *sender, const char *path, const char *interface,
           const char *signal_name, GVariant *parameters, gpointer user_data)
{
  Waiter *waiter = user_data;

  /* A fast daemon may signal before the reply carrying the job id has
   * been handled: keep those until the id is known. */
  if (waiter->job == 0)
    {
      g_ptr_array_add (waiter->early, g_variant_new ("(s@*)", signal_name, parameters));
      return;
    }
  handle_signal (waiter, signal_name, parameters);
}

static void
name_vanished_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Waiter *waiter = user_data;

  if (waiter->job == 0 || waiter->finished)
    return;
  {
    g_autofree char *id = number (waiter->job);
    g_printerr (_("regindexer: the daemon went away before job %s finished\n"), id);
  }
  waiter->status = RI_EXIT_FAILED;
  g_main_loop_quit (waiter->loop);
}

static void
reindex_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Waiter *waiter = user_data;
  g_autoptr(GError) error = NULL;
  guint64 job = 0;

  if (!ri_dbus_indexer_call_reindex_finish (RI_DBUS_INDEXER (source), &job, result, &error))
    {
      if (is_absent (error))
        waiter->status = -1;
      else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
        {
          ri_dbus_error_strip (error);
          g_printerr (_("regindexer: the daemon refused the request: %s\n"
                        "(on the system bus, only root and members of the 'regindexer' group may reindex)\n"),
                      error->message);
          waiter->status = RI_EXIT_DENIED;
        }
      else
        {
          gboolean usage = g_error_matches (error, RI_ERROR, RI_ERROR_NOT_FOUND) ||
                           g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
          ri_dbus_error_strip (error);
          g_printerr ("regindexer: %s\n", error->message);
          waiter->status = usage ? RI_EXIT_USAGE : RI_EXIT_FAILED;
        }
      g_main_loop_quit (waiter->loop);
      return;
    }

  waiter->job = job;
  if (waiter->options->no_wait)
    {
      g_autofree char *id = number (job);
      g_print (_("Queued as job %s\n"), id);
      waiter->status = RI_EXIT_OK;
      g_main_loop_quit (waiter->loop);
      return;
    }
  for (guint i = 0; i < waiter->early->len && !waiter->finished; i++)
    {
      const char *signal_name;
      g_autoptr(GVariant) parameters = NULL;
      g_variant_get (g_ptr_array_index (waiter->early, i), "(&s@*)", &signal_name, &parameters);
      handle_signal (waiter, signal_name, parameters);
    }
}

int
ri_cli_index (RiCliOptions *options, char **names)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(RiDBusIndexer) proxy = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GPtrArray) early = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  Waiter waiter = { options, NULL, 0, FALSE, FALSE, RI_EXIT_FAILED, early };
  const char *const empty[] = { NULL };
  guint subscription, watch;

  if (options->no_daemon)
    return ri_cli_index_local (options, names);

  ri_dbus_error_ensure_registered ();
  connection = connect_bus (options, &error);
  if (connection == NULL)
    {
      if (options->no_wait)
        {
          g_printerr (_("regindexer: cannot reach the daemon: %s\n"), error->message);
          return RI_EXIT_FAILED;
        }
      if (!options->quiet)
        g_printerr (_("regindexer: no %s bus (%s); indexing in-process\n"),
                    options->session ? "session" : "system", error->message);
      return ri_cli_index_local (options, names);
    }

  proxy = indexer_proxy (connection, &error);
  if (proxy == NULL)
    {
      g_printerr ("regindexer: %s\n", error->message);
      return RI_EXIT_FAILED;
    }
  /* Long runs outlast the default call time-out only in the signal, which
   * is why Reindex() answers at once; the call itself is quick. */
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (proxy), 60 * 1000);

  loop = g_main_loop_new (NULL, FALSE);
  waiter.loop = loop;
  subscription = g_dbus_connection_signal_subscribe (connection, RI_DBUS_NAME, RI_DBUS_INTERFACE, NULL,
                                                     RI_DBUS_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                     signal_cb, &waiter, NULL);
  watch = g_bus_watch_name_on_connection (connection, RI_DBUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          NULL, name_vanished_cb, &waiter, NULL);
  ri_dbus_indexer_call_reindex (proxy, names && names[0] ? (const char * const *) names : empty,
                                g_variant_new ("a{sv}", NULL), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL,
                                reindex_cb, &waiter);
  g_main_loop_run (loop);
  g_bus_unwatch_name (watch);
  g_dbus_connection_signal_unsubscribe (connection, subscription);

  if (waiter.status == -1)
    {
      if (options->no_wait)
        {
          g_printerr (_("regindexer: regindexer-daemon is not running\n"));
          return RI_EXIT_FAILED;
        }
      if (!options->quiet)
        g_printerr (_("regindexer: regindexer-daemon is not running; indexing in-process\n"));
      return ri_cli_index_local (options, names);
    }
  return waiter.status;
}

static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) time = NULL;

  if (usec <= 0)
    return g_strdup (_("never"));
  time = g_date_time_new_from_unix_local (usec / G_USEC_PER_SEC);
  return g_date_time_format (time, "%Y-%m-%d %H:%M:%S");
}

static void
print_http_status (GVariant *status)
{
  g_autoptr(GVariant) http = g_variant_lookup_value (status, "http", G_VARIANT_TYPE_VARDICT);
  g_autofree const char **listen = NULL;
  guint64 queries = 0, posts = 0, rejected = 0, refreshes = 0;
  g_autofree char *addresses = NULL;
  g_autofree char *queries_text = NULL;
  g_autofree char *posts_text = NULL;
  g_autofree char *rejected_text = NULL;
  g_autofree char *refreshes_text = NULL;

  if (http == NULL || !g_variant_lookup (http, "listen", "^a&s", &listen) || listen[0] == NULL)
    return;
  g_variant_lookup (http, "queries", "t", &queries);
  g_variant_lookup (http, "event-posts", "t", &posts);
  g_variant_lookup (http, "event-posts-rejected", "t", &rejected);
  g_variant_lookup (http, "refreshes", "t", &refreshes);
  addresses = g_strjoinv (", ", (char **) listen);
  queries_text = number (queries);
  posts_text = number (posts);
  rejected_text = number (rejected);
  refreshes_text = number (refreshes);
  g_print (_("HTTP:          %s; %s queries answered; %s notifications taken, %s refused; %s refreshes\n"),
           addresses, queries_text, posts_text, rejected_text, refreshes_text);
}

/* "18 objects (2 attestation, 1 gone, …)", or NULL when nothing was skipped. */
static char *
describe_skipped (GVariant *status)
{
  g_autoptr(GVariant) skipped = g_variant_lookup_value (status, "skipped", G_VARIANT_TYPE ("a{su}"));
  g_autoptr(GString) reasons = g_string_new (NULL);
  g_autofree char *total_text = NULL;
  GVariantIter iter;
  const char *reason;
  guint count, total = 0;

  if (skipped == NULL)
    return NULL;
  g_variant_iter_init (&iter, skipped);
  while (g_variant_iter_next (&iter, "{&su}", &reason, &count))
    {
      g_string_append_printf (reasons, "%s%u %s", reasons->len ? ", " : "", count, reason);
      total += count;
    }
  if (total == 0)
    return NULL;
  total_text = number (total);
  /* TRANSLATORS: the reasons are the untranslated names of GetStatus(). */
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s object (%s)", "%s objects (%s)", total),
                          total_text, reasons->str);
}

static void
print_status (GVariant *status)
{
  const char *state = "?", *last_error = "", *config_path = "";
  guint64 current = 0, pending = 0, last = 0;
  gint64 last_finished = 0;
  gboolean last_success = FALSE;
  g_autofree char *finished = NULL;
  g_autoptr(GVariant) indexes = NULL;
  GVariantIter iter;
  const char *name;
  GVariant *entry;

  g_variant_lookup (status, "state", "&s", &state);
  g_variant_lookup (status, "current-job", "t", &current);
  g_variant_lookup (status, "pending-job", "t", &pending);
  g_variant_lookup (status, "last-job", "t", &last);
  g_variant_lookup (status, "last-finished", "x", &last_finished);
  g_variant_lookup (status, "last-success", "b", &last_success);
  g_variant_lookup (status, "last-error", "&s", &last_error);
  g_variant_lookup (status, "config-path", "&s", &config_path);
  finished = format_time (last_finished);

  g_print (_("State:         %s"), state);
  if (current != 0)
    {
      g_autofree char *id = number (current);
      g_print (_(" (job %s)"), id);
    }
  if (pending != 0)
    {
      g_autofree char *id = number (pending);
      g_print (_(", job %s queued"), id);
    }
  g_print ("\n");
  g_print (_("Configuration: %s\n"), config_path);
  if (last != 0)
    {
      g_autofree char *id = number (last);
      g_print (_("Last job:      %s, finished %s, %s\n"), id, finished,
               last_success ? _("succeeded") : _("failed"));
    }
  if (*last_error)
    g_print (_("Last error:    %s\n"), last_error);
  {
    g_autofree char *skipped = describe_skipped (status);
    gint64 next_retry = 0;
    guint failed_runs = 0;

    if (skipped != NULL)
      g_print (_("Skipped:       %s\n"), skipped);
    g_variant_lookup (status, "next-retry", "x", &next_retry);
    g_variant_lookup (status, "failed-runs", "u", &failed_runs);
    if (next_retry > 0)
      {
        g_autofree char *when = format_time (next_retry);
        g_print (g_dngettext (GETTEXT_PACKAGE, "Next retry:    %s, after %u failed run\n",
                              "Next retry:    %s, after %u failed runs in a row\n", failed_runs),
                 when, failed_runs);
      }
  }
  print_http_status (status);

  indexes = g_variant_lookup_value (status, "indexes", G_VARIANT_TYPE ("a{sa{sv}}"));
  if (indexes == NULL)
    return;
  g_print ("\n%-20s %6s %7s  %-19s  %s\n", _("INDEX"), _("REPOS"), _("IMAGES"), _("LAST WRITTEN"), _("OUTPUT"));
  g_variant_iter_init (&iter, indexes);
  while (g_variant_iter_loop (&iter, "{&s@a{sv}}", &name, &entry))
    {
      guint images = 0, repositories = 0;
      gint64 written = 0;
      const char *output = "", *error = "";
      g_autofree char *when = NULL;

      g_variant_lookup (entry, "images", "u", &images);
      g_variant_lookup (entry, "repositories", "u", &repositories);
      g_variant_lookup (entry, "last-write", "x", &written);
      g_variant_lookup (entry, "output", "&s", &output);
      g_variant_lookup (entry, "last-error", "&s", &error);
      when = format_time (written);
      g_print ("%-20s %6u %7u  %-19s  %s\n", name, repositories, images, when,
               *output ? output : _("(served over HTTP only)"));
      if (*error)
        g_print ("  %s\n", error);
    }
}

int
ri_cli_status (RiCliOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = connect_bus (options, &error);
  g_autoptr(RiDBusIndexer) proxy = NULL;
  g_autoptr(GVariant) status = NULL;

  ri_dbus_error_ensure_registered ();
  if (connection != NULL)
    proxy = indexer_proxy (connection, &error);
  if (proxy == NULL || !ri_dbus_indexer_call_get_status_sync (proxy, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                                                                  &status, NULL, &error))
    {
      if (is_absent (error))
        g_printerr (_("regindexer: regindexer-daemon is not running\n"));
      else
        {
          ri_dbus_error_strip (error);
          g_printerr ("regindexer: %s\n", error->message);
        }
      return RI_EXIT_FAILED;
    }

  if (options->json)
    {
      g_autoptr(JsonNode) node = json_gvariant_serialize (status);
      g_autofree char *text = ri_json_to_string (node);
      g_print ("%s", text);
    }
  else
    print_status (status);
  return RI_EXIT_OK;
}
