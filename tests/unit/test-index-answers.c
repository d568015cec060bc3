#include "config.h"

#include <string.h>

#include "ri-error.h"
#include "ri-index-answers.h"

/* Answers to queries of an index whose model the test sets, the main
 * context driven by the test until a built answer is back (no sleeps).
 * What matters is what a query spelled as before is answered with: the
 * answer of the model and configuration in force, never an older one. */

#define CONFIG \
  "indexes:\n" \
  "  a:\n    registry: http://127.0.0.1:1\n" \
  "  b:\n    registry: http://127.0.0.1:1\n" \
  "daemon:\n  http:\n    listen: ['127.0.0.1:1']\n    serve: {/: a, /b/: b}\n"
#define CONFIG_B_AT_ROOT \
  "indexes:\n" \
  "  a:\n    registry: http://127.0.0.1:1\n" \
  "  b:\n    registry: http://127.0.0.1:1\n" \
  "daemon:\n  http:\n    listen: ['127.0.0.1:1']\n    serve: {/: b, /a/: a}\n"
#define FLATPAK_QUERY "label%3Aorg.flatpak.ref%3Aexists=1&architecture=amd64&os=linux&tag=latest"

typedef struct {
  RiConfig *config;
  RiIndexer *indexer;
  RiIndexAnswers *answers;
} Fixture;

static RiConfig *
load (const char *text)
{
  g_autoptr(GError) error = NULL;
  RiConfig *config = ri_config_load_data (text, strlen (text), "test.yaml", "/nonexistent", &error);

  g_assert_no_error (error);
  return config;
}

static void
set_model (Fixture *fixture, RiConfig *config, const char *index)
{
  g_autoptr(RiRegistryModel) model = ri_registry_model_new ("http://127.0.0.1:1");

  ri_indexer_set_model (fixture->indexer, ri_config_get_index (config, index), config, model);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr(RiContentCache) cache = ri_content_cache_new (NULL, TRUE);

  fixture->config = load (CONFIG);
  fixture->indexer = ri_indexer_new (cache);
  fixture->answers = ri_index_answers_new (fixture->indexer);
  set_model (fixture, fixture->config, "a");
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_clear_object (&fixture->answers);
  g_clear_object (&fixture->indexer);
  g_clear_pointer (&fixture->config, ri_config_unref);
}

static const RiHttpServe *
serve_at (RiConfig *config, const char *prefix)
{
  GPtrArray *serve = config->daemon.http.serve;

  for (guint i = 0; i < serve->len; i++)
    {
      const RiHttpServe *entry = g_ptr_array_index (serve, i);
      if (g_str_equal (entry->prefix, prefix))
        return entry;
    }
  g_assert_not_reached ();
}

static void
got_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RiIndexAnswer **answer = user_data;
  g_autoptr(GError) error = NULL;

  *answer = ri_index_answers_get_finish (RI_INDEX_ANSWERS (source), result, &error);
  g_assert_no_error (error);
}

/* The answer, kept or built. */
static RiIndexAnswer *
get (Fixture *fixture, RiConfig *config, const char *prefix, const char *query)
{
  g_autoptr(GError) error = NULL;
  RiIndexAnswer *answer = ri_index_answers_lookup (fixture->answers, config, serve_at (config, prefix), query,
                                                   &error);
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  g_assert_no_error (error);
  if (answer != NULL)
    return answer;
  ri_index_answers_get_async (fixture->answers, config, serve_at (config, prefix), query, NULL, got_cb, &answer);
  while (answer == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (answer);
  return answer;
}

/* The kept answer, or NULL when it would have to be built. */
static RiIndexAnswer *
kept (Fixture *fixture, RiConfig *config, const char *prefix, const char *query)
{
  g_autoptr(GError) error = NULL;
  RiIndexAnswer *answer = ri_index_answers_lookup (fixture->answers, config, serve_at (config, prefix), query,
                                                   &error);

  g_assert_no_error (error);
  return answer;
}

static guint64
parsed (Fixture *fixture)
{
  return ri_index_answers_get_counters (fixture->answers)->parsed;
}

static void
test_a_spelling_seen_before_is_not_parsed (Fixture *fixture, gconstpointer data)
{
  g_autoptr(RiIndexAnswer) first = get (fixture, fixture->config, "/", FLATPAK_QUERY);
  g_autoptr(RiIndexAnswer) again = NULL;
  g_autoptr(RiIndexAnswer) other = NULL;
  g_autoptr(RiIndexAnswer) other_again = NULL;
  guint64 before = parsed (fixture);

  again = kept (fixture, fixture->config, "/", FLATPAK_QUERY);
  g_assert_true (again == first);
  g_assert_cmpuint (parsed (fixture), ==, before);
  /* Another spelling of the same query: parsed once, the same answer. */
  other = kept (fixture, fixture->config, "/", "tag=latest&os=linux&architecture=amd64&label:org.flatpak.ref:exists=1");
  g_assert_true (other == first);
  g_assert_cmpuint (parsed (fixture), ==, before + 1);
  other_again = kept (fixture, fixture->config, "/", "tag=latest&os=linux&architecture=amd64&label:org.flatpak.ref:exists=1");
  g_assert_true (other_again == first);
  g_assert_cmpuint (parsed (fixture), ==, before + 1);
  g_assert_cmpuint (ri_index_answers_get_counters (fixture->answers)->rendered, ==, 1);
}

static void
test_a_new_model_is_not_answered_with_the_old_one (Fixture *fixture, gconstpointer data)
{
  g_autoptr(RiIndexAnswer) old = get (fixture, fixture->config, "/", FLATPAK_QUERY);
  g_autoptr(RiIndexAnswer) seen = kept (fixture, fixture->config, "/", FLATPAK_QUERY);
  g_autoptr(RiIndexAnswer) current = NULL;
  g_autoptr(RiIndexAnswer) current_again = NULL;
  guint64 before;

  g_assert_true (seen == old);
  set_model (fixture, fixture->config, "a");
  before = parsed (fixture);
  g_assert_null (kept (fixture, fixture->config, "/", FLATPAK_QUERY));
  g_assert_cmpuint (parsed (fixture), ==, before);
  current = get (fixture, fixture->config, "/", FLATPAK_QUERY);
  g_assert_true (current != old);
  current_again = kept (fixture, fixture->config, "/", FLATPAK_QUERY);
  g_assert_true (current_again == current);
  g_assert_cmpuint (ri_index_answers_get_counters (fixture->answers)->rendered, ==, 2);
}

static void
test_a_reload_is_not_answered_with_the_old_configuration (Fixture *fixture, gconstpointer data)
{
  g_autoptr(RiIndexAnswer) old = get (fixture, fixture->config, "/", FLATPAK_QUERY);
  g_autoptr(RiIndexAnswer) seen = kept (fixture, fixture->config, "/", FLATPAK_QUERY);
  g_autoptr(RiConfig) same = load (CONFIG);
  g_autoptr(RiConfig) moved = load (CONFIG_B_AT_ROOT);
  g_autoptr(RiIndexAnswer) reloaded = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (seen == old);
  /* The same text loaded again is a new configuration all the same. */
  g_assert_null (kept (fixture, same, "/", FLATPAK_QUERY));
  reloaded = get (fixture, same, "/", FLATPAK_QUERY);
  g_assert_true (reloaded != old);
  /* "/" now serves b, which has no model yet: not a's answer. */
  g_assert_null (ri_index_answers_lookup (fixture->answers, moved, serve_at (moved, "/"), FLATPAK_QUERY, &error));
  g_assert_error (error, RI_ERROR, RI_ERROR_NOT_FOUND);
}

static void
test_a_flood_of_spellings_keeps_the_popular_one (Fixture *fixture, gconstpointer data)
{
  g_autoptr(RiIndexAnswer) popular = get (fixture, fixture->config, "/", FLATPAK_QUERY);
  guint64 before;

  g_clear_pointer (&popular, ri_index_answer_unref);
  popular = kept (fixture, fixture->config, "/", FLATPAK_QUERY);
  before = parsed (fixture);
  for (guint i = 0; i < 20000; i++)
    {
      g_autofree char *query = g_strdup_printf ("tag=latest&os=linux&tag=flood-%u", i);
      g_autoptr(GError) error = NULL;

      /* Never built: only the spelling is remembered. */
      g_assert_null (ri_index_answers_lookup (fixture->answers, fixture->config, serve_at (fixture->config, "/"),
                                              query, &error));
      g_assert_no_error (error);
      /* Less often than the flood fills a list of spellings. */
      if (i % 5000 == 4999)
        {
          g_autoptr(RiIndexAnswer) answer = kept (fixture, fixture->config, "/", FLATPAK_QUERY);
          g_assert_true (answer == popular);
        }
    }
  /* Every spelling of the flood parsed, the popular one never again. */
  g_assert_cmpuint (parsed (fixture), ==, before + 20000);
  g_assert_cmpuint (ri_index_answers_get_spellings (fixture->answers), <=, 2 * 1024);
  g_assert_cmpuint (ri_index_answers_get_kept (fixture->answers), ==, 1);
}

static void
test_a_bad_query_is_refused_each_time (Fixture *fixture, gconstpointer data)
{
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_null (ri_index_answers_lookup (fixture->answers, fixture->config, serve_at (fixture->config, "/"),
                                              "colour=blue", &error));
      g_assert_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST);
    }
  g_assert_cmpuint (ri_index_answers_get_counters (fixture->answers)->bad_queries, ==, 3);
  g_assert_cmpuint (ri_index_answers_get_spellings (fixture->answers), ==, 0);
}

static void
test_an_index_never_built_is_not_found_each_time (Fixture *fixture, gconstpointer data)
{
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_null (ri_index_answers_lookup (fixture->answers, fixture->config, serve_at (fixture->config, "/b/"),
                                              "tag=latest", &error));
      g_assert_error (error, RI_ERROR, RI_ERROR_NOT_FOUND);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/index-answers/spelling-seen-before", test_a_spelling_seen_before_is_not_parsed);
  ADD ("/index-answers/new-model", test_a_new_model_is_not_answered_with_the_old_one);
  ADD ("/index-answers/reload", test_a_reload_is_not_answered_with_the_old_configuration);
  ADD ("/index-answers/flood-of-spellings", test_a_flood_of_spellings_keeps_the_popular_one);
  ADD ("/index-answers/bad-query", test_a_bad_query_is_refused_each_time);
  ADD ("/index-answers/never-built", test_an_index_never_built_is_not_found_each_time);
  return g_test_run ();
}
