#include "config.h"

#include <glib/gi18n.h>
#include <string.h>
#include <unistd.h>

#include "ri-cli.h"
#include "ri-config.h"
#include "ri-indexer.h"

typedef struct {
  GMainLoop *loop;
  RiRunReport *report;
  GError *error;
  RiIndexer *indexer;       /* (unowned) */
  gint64 started_us;
  gboolean progress_shown;
} LocalRun;

/* On a terminal, a line that says how far the scan has got; off one,
 * nothing (log lines and the summary only). */
static gboolean
progress_cb (gpointer user_data)
{
  LocalRun *local = user_data;
  RiIndexerProgress progress;
  double seconds = (g_get_monotonic_time () - local->started_us) / 1e6;

  ri_indexer_get_progress (local->indexer, &progress);
  g_printerr ("\r\033[K");
  g_printerr (_("Scanning: %u of %u repositories listed, %u requests (%.0f/s)"),
              progress.repositories_listed, progress.repositories_found, progress.requests,
              seconds > 0 ? progress.requests / seconds : 0.0);
  local->progress_shown = TRUE;
  return G_SOURCE_CONTINUE;
}

static void
run_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LocalRun *local = user_data;

  local->report = ri_indexer_run_finish (RI_INDEXER (source), result, &local->error);
  g_main_loop_quit (local->loop);
}

static void
print_index_report (const RiIndexReport *index, gboolean quiet, gboolean *progress_shown)
{
  if (*progress_shown)
    {
      g_printerr ("\r\033[K");
      *progress_shown = FALSE;
    }
  if (!index->success)
    g_printerr (_("%s: failed: %s\n"), index->name, index->error);
  else if (!quiet && index->output[0] == '\0')
    g_print (_("%s: %u repositories, %u images (served over HTTP only)\n"), index->name,
             index->counts.repositories, index->counts.images);
  else if (!quiet)
    g_print (_("%s: %u repositories, %u images → %s (%s)\n"), index->name,
             index->counts.repositories, index->counts.images, index->output,
             index->changed ? _("written") : _("unchanged"));
}

typedef struct {
  RiCliOptions *options;
  LocalRun *local;
} Printer;

static void
index_done_cb (RiIndexer *indexer, const RiIndexReport *index, gpointer user_data)
{
  Printer *printer = user_data;

  print_index_report (index, printer->options->quiet, &printer->local->progress_shown);
}



static void
print_warning (const char *warning, gpointer user_data)
{
  g_printerr (_("regindexer: warning: %s\n"), warning);
}

RiConfig *
ri_cli_load_config (RiCliOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiConfig) config = ri_config_load_file_warn (options->config_path, print_warning, NULL, &error);

  if (config == NULL)
    {
      g_printerr ("regindexer: %s\n", error->message);
      return NULL;
    }
  return g_steal_pointer (&config);
}

/* The peak resident size of this program alone (VmHWM): getrusage()'s
 * ru_maxrss also counts what the parent had before exec. */
static char *
peak_memory (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) ||
      (line = strstr (status, "VmHWM:")) == NULL)
    return g_strdup ("unknown");
  line += strlen ("VmHWM:");
  while (*line == ' ' || *line == '\t')
    line++;
  return g_strndup (line, strcspn (line, "\n"));
}

int
ri_cli_index_local (RiCliOptions *options, char **names)
{
  g_autoptr(RiConfig) config = ri_cli_load_config (options);
  g_autoptr(RiIndexer) indexer = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  LocalRun local = { 0 };
  Printer printer = { 0 };
  guint progress_source = 0;
  const RiRequestStats *stats;

  if (config == NULL)
    return RI_EXIT_USAGE;
  if (!ri_config_check_index_names (config, (const char * const *) names, &error))
    {
      g_printerr ("regindexer: %s\n", error->message);
      return RI_EXIT_USAGE;
    }
  ri_cli_prefer_huge_pages ();

  {
    g_autofree char *cache_dir = options->cache_dir ? g_strdup (options->cache_dir)
                                                    : ri_content_cache_default_dir ();
    g_autoptr(RiContentCache) cache = ri_content_cache_new (cache_dir, FALSE);
    indexer = ri_indexer_new (cache);
  }
  loop = g_main_loop_new (NULL, FALSE);
  local.loop = loop;
  local.indexer = indexer;
  local.started_us = g_get_monotonic_time ();
  printer.options = options;
  printer.local = &local;
  g_signal_connect (indexer, "index-done", G_CALLBACK (index_done_cb), &printer);
  if (!options->quiet && isatty (STDERR_FILENO))
    progress_source = g_timeout_add (250, progress_cb, &local);
  ri_indexer_run_async (indexer, config, (const char * const *) names, NULL, run_cb, &local);
  g_main_loop_run (loop);
  g_clear_handle_id (&progress_source, g_source_remove);
  if (local.progress_shown)
    g_printerr ("\r\033[K");

  if (local.report == NULL)
    {
      g_printerr ("regindexer: %s\n", local.error->message);
      g_error_free (local.error);
      return RI_EXIT_FAILED;
    }

  stats = &local.report->stats;
  if (options->verbose)
    {
      const RiCacheStats *cache = &local.report->cache;
      g_autofree char *bytes = g_format_size_full (stats->bytes, G_FORMAT_SIZE_LONG_FORMAT);
      g_printerr (_("Requests: %u catalog pages, %u tag pages, %u manifests, %u manifest HEADs, "
                    "%u blobs, %u tokens, %u retries; %s\n"),
                  stats->requests[RI_REQUEST_CATALOG], stats->requests[RI_REQUEST_TAGS],
                  stats->requests[RI_REQUEST_MANIFEST], stats->requests[RI_REQUEST_MANIFEST_HEAD],
                  stats->requests[RI_REQUEST_BLOB], stats->requests[RI_REQUEST_TOKEN], stats->retries,
                  bytes);
      g_printerr (_("Cache: %u hits, %u misses, %u stored, %u corrupt, %u pruned\n"),
                  cache->hits, cache->misses, cache->stored, cache->corrupt, cache->pruned);
      {
        g_autofree char *skipped = ri_skipped_describe (local.report->skipped);
        /* TRANSLATORS: a count per reason, such as "2 signature, 1 schema1" */
        g_printerr (_("Skipped: %u objects (%s)\n"), ri_skipped_total (local.report->skipped),
                    skipped ? skipped : _("none"));
      }
      g_printerr (_("Time: %.3f s scanning, %.3f s writing\n"),
                  local.report->scan_us / 1e6, local.report->write_us / 1e6);
      {
        g_autofree char *peak = peak_memory ();
        g_printerr (_("Peak memory: %s\n"), peak);
      }
    }
  if (!options->quiet || !local.report->success)
    g_printerr ("%s\n", local.report->message);
  {
    gboolean success = local.report->success;
    ri_run_report_unref (local.report);
    return success ? RI_EXIT_OK : RI_EXIT_FAILED;
  }
}

int
ri_cli_list_indexes (RiCliOptions *options)
{
  g_autoptr(RiConfig) config = ri_cli_load_config (options);

  if (config == NULL)
    return RI_EXIT_USAGE;
  for (guint i = 0; i < config->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (config->indexes, i);
      g_print ("%s\n", index->name);
    }
  return RI_EXIT_OK;
}
