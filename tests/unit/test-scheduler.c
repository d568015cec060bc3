#include "config.h"

#include <glib/gstdio.h>

#include "ri-error.h"
#include "ri-scheduler.h"

/* The scheduler with the main context driven by the test: every wait is
 * a loop over g_main_context_iteration() until what is waited for has
 * happened (bounded by a deadline), never a sleep. The registry is a
 * loopback port nothing listens on, so every run fails at once. */

typedef struct {
  char *dir;
  RiConfig *config;
  RiScheduler *scheduler;
  GPtrArray *started;       /* (element-type utf8) "JOB: a, b" */
  GArray *finished;         /* (element-type guint64) */
  guint drained;
  guint state_changes;
} Fixture;

#define INDEXES \
  "registries:\n" \
  "  http://127.0.0.1:1:\n" \
  "    retries: 0\n" \
  "indexes:\n" \
  "  a:\n    output: a.json\n    registry: http://127.0.0.1:1\n" \
  "  b:\n    output: b.json\n    registry: http://127.0.0.1:1\n" \
  "  c:\n    output: c.json\n    registry: http://127.0.0.1:1\n"
#define CONFIG INDEXES "daemon:\n  coalesce_delay: 10\n  retry_delay: 300\n"
#define CONFIG_NO_RETRY INDEXES "daemon:\n  coalesce_delay: 10\n  retry_delay: 0\n"

static void
job_started_cb (RiScheduler *scheduler, guint64 job, GStrv indexes, gpointer user_data)
{
  Fixture *fixture = user_data;
  g_autofree char *names = g_strjoinv (", ", indexes);

  g_ptr_array_add (fixture->started, g_strdup_printf ("%" G_GUINT64_FORMAT ": %s", job, names));
}

static void
job_finished_cb (RiScheduler *scheduler, guint64 job, RiRunReport *report, const char *error,
                 gpointer user_data)
{
  Fixture *fixture = user_data;

  g_array_append_val (fixture->finished, job);
}

static void
drained_cb (RiScheduler *scheduler, gpointer user_data)
{
  ((Fixture *) user_data)->drained++;
}

static void
state_changed_cb (RiScheduler *scheduler, gpointer user_data)
{
  ((Fixture *) user_data)->state_changes++;
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("ri-scheduler-XXXXXX", NULL);
  fixture->config = ri_config_load_data (CONFIG, strlen (CONFIG), "test.yaml", fixture->dir, &error);
  g_assert_no_error (error);
  fixture->scheduler = ri_scheduler_new (fixture->config, NULL);
  fixture->started = g_ptr_array_new_with_free_func (g_free);
  fixture->finished = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_signal_connect (fixture->scheduler, "job-started", G_CALLBACK (job_started_cb), fixture);
  g_signal_connect (fixture->scheduler, "job-finished", G_CALLBACK (job_finished_cb), fixture);
  g_signal_connect (fixture->scheduler, "drained", G_CALLBACK (drained_cb), fixture);
  g_signal_connect (fixture->scheduler, "state-changed", G_CALLBACK (state_changed_cb), fixture);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  /* A run given up on at shutdown may still hold the scheduler. */
  g_signal_handlers_disconnect_by_data (fixture->scheduler, fixture);
  g_clear_object (&fixture->scheduler);
  /* What the cancelled or failed runs still hold goes with the context. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_ptr_array_unref (fixture->started);
  g_array_unref (fixture->finished);
  ri_config_unref (fixture->config);
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
}

static gboolean
deadline_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Drives the main context until @done says so; fails after 20 s. */
#define ITERATE_UNTIL(done)                                                  \
  G_STMT_START {                                                             \
    gboolean timed_out_ = FALSE;                                             \
    guint deadline_ = g_timeout_add_seconds (20, deadline_cb, &timed_out_);  \
    while (!(done) && !timed_out_)                                           \
      g_main_context_iteration (NULL, TRUE);                                 \
    if (!timed_out_)                                                         \
      g_source_remove (deadline_);                                           \
    g_assert_false (timed_out_);                                             \
  } G_STMT_END

static guint64
request (Fixture *fixture, const char *first, ...)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) names = NULL;
  g_autoptr(GError) error = NULL;
  guint64 job;
  va_list args;

  va_start (args, first);
  for (const char *name = first; name != NULL; name = va_arg (args, const char *))
    g_strv_builder_add (builder, name);
  va_end (args);
  names = g_strv_builder_end (builder);
  job = ri_scheduler_request (fixture->scheduler, (const char * const *) names, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (job, !=, 0);
  return job;
}

static void
test_requests_before_a_run_coalesce (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpuint (request (fixture, "a", NULL), ==, 1);
  g_assert_cmpuint (request (fixture, "b", NULL), ==, 1);
  g_assert_cmpuint (request (fixture, "a", NULL), ==, 1);
  /* Nothing starts while the caller still has to answer. */
  g_assert_cmpuint (fixture->started->len, ==, 0);
  g_assert_cmpuint (ri_scheduler_get_pending_job (fixture->scheduler), ==, 1);

  ITERATE_UNTIL (fixture->finished->len == 1);
  g_assert_cmpuint (fixture->started->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->started, 0), ==, "1: a, b");
  g_assert_cmpuint (ri_scheduler_get_pending_job (fixture->scheduler), ==, 0);
  g_assert_cmpuint (ri_scheduler_get_last_job (fixture->scheduler), ==, 1);
}

static void
test_requests_during_a_run_join_one_follow_up (Fixture *fixture, gconstpointer data)
{
  request (fixture, "a", NULL);
  ITERATE_UNTIL (fixture->started->len == 1);
  g_assert_true (ri_scheduler_is_running (fixture->scheduler));
  /* While job 1 runs: every request joins job 2, which serves the union. */
  g_assert_cmpuint (request (fixture, "c", NULL), ==, 2);
  g_assert_cmpuint (request (fixture, "b", NULL), ==, 2);
  g_assert_cmpuint (request (fixture, "c", NULL), ==, 2);
  g_assert_cmpuint (ri_scheduler_get_current_job (fixture->scheduler), ==, 1);
  g_assert_cmpuint (ri_scheduler_get_pending_job (fixture->scheduler), ==, 2);

  ITERATE_UNTIL (fixture->finished->len == 2);
  g_assert_cmpuint (fixture->started->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (fixture->started, 1), ==, "2: c, b");
  g_assert_cmpuint (g_array_index (fixture->finished, guint64, 0), ==, 1);
  g_assert_cmpuint (g_array_index (fixture->finished, guint64, 1), ==, 2);
  g_assert_false (ri_scheduler_is_running (fixture->scheduler));
}

static void
test_a_request_for_everything_covers_the_rest (Fixture *fixture, gconstpointer data)
{
  request (fixture, "a", NULL);
  g_assert_cmpuint (ri_scheduler_request (fixture->scheduler, NULL, NULL), ==, 1);
  request (fixture, "b", NULL);
  ITERATE_UNTIL (fixture->finished->len == 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->started, 0), ==, "1: a, b, c");
}

static void
test_unknown_names_queue_nothing (Fixture *fixture, gconstpointer data)
{
  const char *names[] = { "a", "nope", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (ri_scheduler_request (fixture->scheduler, names, &error), ==, 0);
  g_assert_error (error, RI_ERROR, RI_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "'nope'"));
  g_assert_cmpuint (ri_scheduler_get_pending_job (fixture->scheduler), ==, 0);
}

static void
test_a_failed_run_arms_a_retry (Fixture *fixture, gconstpointer data)
{
  gint64 before = g_get_real_time ();

  request (fixture, "a", NULL);
  ITERATE_UNTIL (fixture->finished->len == 1);
  g_assert_cmpuint (ri_scheduler_get_failed_runs (fixture->scheduler), ==, 1);
  g_assert_cmpint (ri_scheduler_get_next_retry (fixture->scheduler), >=, before + (gint64) 300 * G_USEC_PER_SEC);
  g_assert_nonnull (ri_scheduler_get_index_status (fixture->scheduler, "a")->last_error);
  /* A request in the meantime fails again: the next retry comes later. */
  request (fixture, "a", NULL);
  ITERATE_UNTIL (fixture->finished->len == 2);
  g_assert_cmpuint (ri_scheduler_get_failed_runs (fixture->scheduler), ==, 2);
  g_assert_cmpint (ri_scheduler_get_next_retry (fixture->scheduler), >=, before + (gint64) 600 * G_USEC_PER_SEC);
  ri_scheduler_shutdown (fixture->scheduler);
  g_assert_cmpint (ri_scheduler_get_next_retry (fixture->scheduler), ==, 0);
}

static void
test_no_retry_when_off (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiConfig) config = ri_config_load_data (CONFIG_NO_RETRY, strlen (CONFIG_NO_RETRY), "test.yaml",
                                                    fixture->dir, &error);

  g_assert_no_error (error);
  ri_scheduler_set_config (fixture->scheduler, config);
  request (fixture, "a", NULL);
  ITERATE_UNTIL (fixture->finished->len == 1);
  /* Counted, but nothing is due. */
  g_assert_cmpuint (ri_scheduler_get_failed_runs (fixture->scheduler), ==, 1);
  g_assert_cmpint (ri_scheduler_get_next_retry (fixture->scheduler), ==, 0);
}

static void
test_retry_back_off (void)
{
  const guint expected[] = { 10, 20, 40, 80, 160, 320, 600, 600 };

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpuint (ri_scheduler_retry_delay_s (10, i + 1), ==, expected[i]);
  g_assert_cmpuint (ri_scheduler_retry_delay_s (10, G_MAXUINT), ==, 600);
  /* A first delay above the cap is kept, not doubled. */
  g_assert_cmpuint (ri_scheduler_retry_delay_s (1000, 1), ==, 1000);
  g_assert_cmpuint (ri_scheduler_retry_delay_s (1000, 5), ==, 1000);
}

static void
test_shutdown_drops_what_is_queued (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  request (fixture, "a", NULL);
  ri_scheduler_shutdown (fixture->scheduler);
  /* Nothing ran: drained at once, and the start timer is gone. */
  g_assert_cmpuint (fixture->drained, ==, 1);
  g_assert_cmpuint (ri_scheduler_get_pending_job (fixture->scheduler), ==, 0);
  g_assert_cmpuint (ri_scheduler_request (fixture->scheduler, NULL, &error), ==, 0);
  g_assert_error (error, RI_ERROR, RI_ERROR_BUSY);
  ri_scheduler_shutdown (fixture->scheduler);
  g_assert_cmpuint (fixture->drained, ==, 1);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (fixture->started->len, ==, 0);
}

static void
test_shutdown_cancels_the_run (Fixture *fixture, gconstpointer data)
{
  request (fixture, "a", NULL);
  ITERATE_UNTIL (fixture->started->len == 1);
  request (fixture, "b", NULL);
  ri_scheduler_shutdown (fixture->scheduler);
  g_assert_cmpuint (fixture->drained, ==, 0);
  ITERATE_UNTIL (fixture->drained == 1);
  /* The run returned (it did not take the grace period) and the queued
   * follow-up never started. */
  g_assert_cmpuint (fixture->finished->len, ==, 1);
  g_assert_cmpuint (fixture->started->len, ==, 1);
  g_assert_cmpint (ri_scheduler_get_next_retry (fixture->scheduler), ==, 0);
}

/* Whether the registry client said it backs off: the moment its wait
 * starts, which nothing else shows. */
static gboolean saw_back_off;

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
        strstr (fields[i].value, "; retrying in 50000 ms") != NULL)
      saw_back_off = TRUE;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* A registry that answers every request with 429 and Retry-After: 50, on
 * a loopback port of its own. */
static gboolean
incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer user_data)
{
  static const char answer[] = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 50\r\n"
                               "Content-Length: 0\r\nConnection: close\r\n\r\n";
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  g_output_stream_write_all (output, answer, strlen (answer), NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  *(guint *) user_data += 1;
  return TRUE;
}

static void
test_shutdown_does_not_wait_for_a_back_off (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RiConfig) config = NULL;
  g_autofree char *text = NULL;
  guint requests = 0;
  guint port;

  g_socket_listener_add_address (G_SOCKET_LISTENER (service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (service, "incoming", G_CALLBACK (incoming_cb), &requests);
  text = g_strdup_printf ("registries:\n  http://127.0.0.1:%u:\n    retries: 2\n"
                          "indexes:\n  a:\n    output: a.json\n    registry: http://127.0.0.1:%u\n"
                          "daemon:\n  coalesce_delay: 10\n", port, port);
  config = ri_config_load_data (text, strlen (text), "test.yaml", fixture->dir, &error);
  g_assert_no_error (error);
  ri_scheduler_set_config (fixture->scheduler, config);

  saw_back_off = FALSE;
  request (fixture, "a", NULL);
  ITERATE_UNTIL (saw_back_off);
  g_assert_cmpuint (requests, ==, 1);
  /* The run now waits 50 s before asking again. A stop must not: the
   * run ends (cancelled, or given up on) and the scheduler drains well
   * before that (ITERATE_UNTIL gives up after 20 s). */
  ri_scheduler_shutdown (fixture->scheduler);
  ITERATE_UNTIL (fixture->drained == 1);
  g_assert_cmpuint (fixture->finished->len, ==, 1);
  g_assert_false (ri_scheduler_is_running (fixture->scheduler));
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Every run here fails, and the scheduler warns about each failure
   * (that is its job); criticals stay fatal. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_log_set_writer_func (log_writer, NULL, NULL);
#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/scheduler/coalesce/before-a-run", test_requests_before_a_run_coalesce);
  ADD ("/scheduler/coalesce/during-a-run", test_requests_during_a_run_join_one_follow_up);
  ADD ("/scheduler/coalesce/everything", test_a_request_for_everything_covers_the_rest);
  ADD ("/scheduler/unknown-names", test_unknown_names_queue_nothing);
  ADD ("/scheduler/retry/armed", test_a_failed_run_arms_a_retry);
  ADD ("/scheduler/retry/off", test_no_retry_when_off);
  g_test_add_func ("/scheduler/retry/back-off", test_retry_back_off);
  ADD ("/scheduler/shutdown/queued", test_shutdown_drops_what_is_queued);
  ADD ("/scheduler/shutdown/running", test_shutdown_cancels_the_run);
  ADD ("/scheduler/shutdown/back-off", test_shutdown_does_not_wait_for_a_back_off);
  return g_test_run ();
}
