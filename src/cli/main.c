#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "ri-atomic-file.h"

#include "ri-cli.h"
#include "ri-registry-client.h"

#define DEFAULT_CONFIG SYSCONFDIR "/regindexer/config.yaml"

static void
clear_options (RiCliOptions *options)
{
  g_free (options->config_path);
  g_free (options->cache_dir);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RiCliOptions, clear_options)

static void
set_up_logging (const RiCliOptions *options)
{
  /* -v shows the engine's progress lines, G_MESSAGES_DEBUG=all adds the
   * requests themselves. */
  if (options->verbose && g_getenv ("G_MESSAGES_DEBUG") == NULL)
    g_setenv ("G_MESSAGES_DEBUG", "Indexer Index Icons Scan Config", TRUE);
}

/* SIGTERM and SIGINT are taken by a thread of their own, not a handler:
 * removing the temporary files being written takes a lock, which a
 * signal handler must not. Then the signal is raised again with its
 * default action, so that the caller sees the process killed by it. */
static gpointer
signal_thread (gpointer data)
{
  sigset_t *signals = data;
  int received = 0;

  while (sigwait (signals, &received) != 0)
    ;
  ri_atomic_file_abandon_all ();
  signal (received, SIG_DFL);
  pthread_sigmask (SIG_UNBLOCK, signals, NULL);
  raise (received);
  _exit (128 + received);
}

/* Before any other thread exists, so that every thread inherits the mask
 * and only the signal thread ever takes these signals. */
static void
set_up_signals (void)
{
  static sigset_t signals;

  sigemptyset (&signals);
  sigaddset (&signals, SIGTERM);
  sigaddset (&signals, SIGINT);
  pthread_sigmask (SIG_BLOCK, &signals, NULL);
  g_thread_unref (g_thread_new ("signals", signal_thread, &signals));
}

int
main (int argc, char **argv)
{
  g_auto(RiCliOptions) options = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) args = NULL;
  gboolean version = FALSE;
  const char *command;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &options.config_path,
      N_("Configuration file (default: " DEFAULT_CONFIG ")"), N_("FILE") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &options.verbose, N_("Show progress details"), NULL },
    { "cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &options.cache_dir,
      N_("Where to cache manifests and config blobs (default: $XDG_CACHE_HOME/regindexer)"), N_("DIR") },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &options.quiet, N_("Print only errors"), NULL },
    { "no-daemon", 0, 0, G_OPTION_ARG_NONE, &options.no_daemon,
      N_("Index in-process even when regindexer-daemon runs"), NULL },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &options.no_wait,
      N_("Return once the daemon has queued the reindex"), NULL },
    { "session", 0, 0, G_OPTION_ARG_NONE, &options.session,
      N_("Talk to a daemon on the session bus, not the system bus"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json, N_("status: print JSON"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Show the version and exit"), NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &args, NULL, N_("COMMAND [INDEX…]") },
    { NULL }
  };

  set_up_signals ();
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Write static JSON indexes of container registries."));
  g_option_context_set_description (context,
    _("Commands:\n"
      "  index [INDEX…]   Write the indexes (all when none is named): through\n"
      "                   regindexer-daemon when it runs, else in-process\n"
      "  status           Show what the daemon is doing and has done\n"
      "  indexes          List the indexes of the configuration\n"
      "\n"
      "Exit status: 0 on success, 1 when an index could not be written,\n"
      "2 for a bad command line, configuration or index name,\n"
      "3 when the daemon refused the request.\n"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("regindexer: %s\n", error->message);
      return RI_EXIT_USAGE;
    }
  if (version)
    {
      g_print ("regindexer %s\n", PACKAGE_VERSION);
      return RI_EXIT_OK;
    }
  if (options.config_path == NULL)
    options.config_path = g_strdup (DEFAULT_CONFIG);
  set_up_logging (&options);

  command = args != NULL ? args[0] : NULL;
  if (command == NULL)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);
      g_printerr ("%s", help);
      return RI_EXIT_USAGE;
    }
  if (g_str_equal (command, "index"))
    return ri_cli_index (&options, args + 1);
  if (g_str_equal (command, "status") && args[1] == NULL)
    return ri_cli_status (&options);
  if (g_str_equal (command, "indexes") && args[1] == NULL)
    return ri_cli_list_indexes (&options);

  g_printerr (_("regindexer: unknown command '%s' (try --help)\n"), command);
  return RI_EXIT_USAGE;
}
