#define G_LOG_DOMAIN "Daemon"

#include "config.h"

#include "ri-status.h"

/*
 * GetStatus(): the one place its keys are spelled (documented in
 * org.regindexer.Indexer.xml), from the counters each part keeps. A part
 * that is not configured has no key: clients tell "not set up" from
 * "nothing happened yet" that way.
 */

/* The requests of @report (nullable: all zero), by kind. Also in
 * ReindexFinished's details, so both say the same. */
GVariant *
ri_status_requests (const RiRunReport *report)
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

static GVariant *
indexes_status (RiScheduler *scheduler)
{
  RiConfig *config = ri_scheduler_get_config (scheduler);
  GVariantBuilder indexes;

  g_variant_builder_init (&indexes, G_VARIANT_TYPE ("a{sa{sv}}"));
  for (guint i = 0; i < config->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (config->indexes, i);
      RiIndexStatus *status = ri_scheduler_get_index_status (scheduler, index->name);
      g_auto(GVariantDict) entry = G_VARIANT_DICT_INIT (NULL);

      g_variant_dict_insert (&entry, "output", "s", index->output ? index->output : "");
      g_variant_dict_insert (&entry, "registry", "s", index->registry);
      g_variant_dict_insert (&entry, "last-write", "x", status->last_write_us);
      g_variant_dict_insert (&entry, "last-changed", "x", status->last_changed_us);
      g_variant_dict_insert (&entry, "images", "u", status->images);
      g_variant_dict_insert (&entry, "repositories", "u", status->repositories);
      g_variant_dict_insert (&entry, "last-error", "s", status->last_error ? status->last_error : "");
      g_variant_dict_insert_value (&entry, "skipped",
                                   status->skipped ? status->skipped : g_variant_new ("a{su}", NULL));
      g_variant_builder_add (&indexes, "{s@a{sv}}", index->name, g_variant_dict_end (&entry));
    }
  return g_variant_builder_end (&indexes);
}

static GVariant *
fedmsg_status (RiFedmsgSubscriber *fedmsg)
{
  const RiFedmsgCounters *counters = ri_fedmsg_subscriber_get_counters (fedmsg);
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert (&dict, "endpoints", "^as", ri_fedmsg_subscriber_get_endpoints (fedmsg));
  g_variant_dict_insert (&dict, "topics", "^as", ri_fedmsg_subscriber_get_topics (fedmsg));
  g_variant_dict_insert (&dict, "received", "t", counters->received);
  g_variant_dict_insert (&dict, "matched", "t", counters->matched);
  g_variant_dict_insert (&dict, "ignored", "t", counters->ignored);
  g_variant_dict_insert (&dict, "malformed", "t", counters->malformed);
  g_variant_dict_insert (&dict, "last-received", "x", counters->last_received_us);
  return g_variant_dict_end (&dict);
}

static GVariant *
http_status (RiHttpServer *http)
{
  const char * const *listening = ri_http_server_get_listening (http);
  const char * const none[] = { NULL };
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  RiHttpCounters counters = { 0 };

  ri_http_server_get_counters (http, &counters);
  g_variant_dict_insert (&dict, "listen", "^as", listening ? listening : none);
  g_variant_dict_insert (&dict, "requests", "t", counters.requests);
  g_variant_dict_insert (&dict, "not-found", "t", counters.not_found);
  g_variant_dict_insert (&dict, "queries", "t", counters.queries);
  g_variant_dict_insert (&dict, "not-modified", "t", counters.not_modified);
  g_variant_dict_insert (&dict, "rendered", "t", counters.rendered);
  g_variant_dict_insert (&dict, "bad-queries", "t", counters.bad_queries);
  g_variant_dict_insert (&dict, "kept-answers", "u", counters.kept_answers);
  g_variant_dict_insert (&dict, "answers-evicted", "t", counters.answers_evicted);
  g_variant_dict_insert (&dict, "queries-busy", "t", counters.queries_busy);
  g_variant_dict_insert (&dict, "connections", "t", counters.connections);
  g_variant_dict_insert (&dict, "connections-open", "u", counters.connections_open);
  g_variant_dict_insert (&dict, "connections-refused", "t", counters.refused);
  g_variant_dict_insert (&dict, "connections-timed-out", "t", counters.timed_out);
  g_variant_dict_insert (&dict, "accept-paused", "t", counters.accept_paused);
  g_variant_dict_insert (&dict, "event-posts", "t", counters.event_posts);
  g_variant_dict_insert (&dict, "event-posts-rejected", "t", counters.event_posts_rejected);
  g_variant_dict_insert (&dict, "events", "t", counters.events);
  g_variant_dict_insert (&dict, "refreshes", "t", counters.refreshes);
  g_variant_dict_insert (&dict, "events-unmatched", "t", counters.events_unmatched);
  g_variant_dict_insert (&dict, "last-event-post", "x", counters.last_event_post_us);
  return g_variant_dict_end (&dict);
}

static GVariant *
models_status (RiModelKeeper *models)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  RiModelCounters counters = { 0 };

  ri_model_keeper_get_counters (models, &counters);
  g_variant_dict_insert (&dict, "directory", "s", counters.directory);
  g_variant_dict_insert (&dict, "replica", "b", counters.replica);
  g_variant_dict_insert (&dict, "restored", "u", counters.restored);
  g_variant_dict_insert (&dict, "reloaded", "t", counters.reloaded);
  g_variant_dict_insert (&dict, "last-loaded", "x", counters.last_loaded_us);
  g_variant_dict_insert (&dict, "last-error", "s", counters.last_error ? counters.last_error : "");
  return g_variant_dict_end (&dict);
}

/* The listener counts as configured while daemon: http: names addresses,
 * or while it still listens on the previous ones after a reload it could
 * not apply. */
static gboolean
http_configured (RiScheduler *scheduler, RiHttpServer *http)
{
  const char * const *listening = http ? ri_http_server_get_listening (http) : NULL;
  RiConfig *config = ri_scheduler_get_config (scheduler);

  return http != NULL && ((listening != NULL && listening[0] != NULL) || config->daemon.http.listen[0] != NULL);
}

/* GetStatus()'s a{sv}; @fedmsg, @http and @models may be NULL (not set up). */
GVariant *
ri_status_build (RiScheduler *scheduler, const char *config_path, RiFedmsgSubscriber *fedmsg,
                 RiHttpServer *http, RiModelKeeper *models)
{
  RiRunReport *last = ri_scheduler_get_last_report (scheduler);
  guint64 last_job = ri_scheduler_get_last_job (scheduler);
  g_auto(GVariantDict) status = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert (&status, "state", "s", ri_scheduler_is_running (scheduler) ? "indexing" : "idle");
  g_variant_dict_insert (&status, "current-job", "t", ri_scheduler_get_current_job (scheduler));
  g_variant_dict_insert (&status, "pending-job", "t", ri_scheduler_get_pending_job (scheduler));
  g_variant_dict_insert (&status, "last-job", "t", last_job);
  g_variant_dict_insert (&status, "last-started", "x", last ? last->started_us : (gint64) 0);
  g_variant_dict_insert (&status, "last-finished", "x", last ? last->finished_us : (gint64) 0);
  g_variant_dict_insert (&status, "last-success", "b", last_job != 0 && last != NULL && last->success);
  g_variant_dict_insert (&status, "last-error", "s", ri_scheduler_get_last_error (scheduler));
  g_variant_dict_insert (&status, "next-retry", "x", ri_scheduler_get_next_retry (scheduler));
  g_variant_dict_insert (&status, "failed-runs", "u", ri_scheduler_get_failed_runs (scheduler));
  g_variant_dict_insert (&status, "config-path", "s", config_path);
  g_variant_dict_insert_value (&status, "requests", ri_status_requests (last));
  g_variant_dict_insert (&status, "bytes", "t", last ? last->stats.bytes : (guint64) 0);
  g_variant_dict_insert (&status, "scan-duration", "x", last ? last->scan_us : (gint64) 0);
  g_variant_dict_insert (&status, "write-duration", "x", last ? last->write_us : (gint64) 0);
  g_variant_dict_insert_value (&status, "skipped", last ? ri_run_report_skipped_to_variant (last)
                                                          : g_variant_new ("a{su}", NULL));
  g_variant_dict_insert_value (&status, "indexes", indexes_status (scheduler));
  if (fedmsg != NULL)
    g_variant_dict_insert_value (&status, "fedmsg", fedmsg_status (fedmsg));
  if (http_configured (scheduler, http))
    g_variant_dict_insert_value (&status, "http", http_status (http));
  if (models != NULL)
    g_variant_dict_insert_value (&status, "models", models_status (models));
  return g_variant_dict_end (&status);
}
