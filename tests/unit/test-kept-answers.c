#include "config.h"

#include "ri-kept-answers.h"

/* Values are counted when freed, so eviction is seen exactly. */
static guint freed;

static void
count_free (gpointer value)
{
  freed++;
  g_free (value);
}

static void
setup (void)
{
  freed = 0;
}

static void
test_evicts_least_recently_used_one_at_a_time (void)
{
  g_autoptr(RiKeptAnswers) kept = ri_kept_answers_new (3, 1000, count_free);

  setup ();
  ri_kept_answers_insert (kept, "a", g_strdup ("A"), 10);
  ri_kept_answers_insert (kept, "b", g_strdup ("B"), 10);
  ri_kept_answers_insert (kept, "c", g_strdup ("C"), 10);
  g_assert_cmpstr (ri_kept_answers_lookup (kept, "a"), ==, "A"); /* a is now the most recent */
  ri_kept_answers_insert (kept, "d", g_strdup ("D"), 10);
  g_assert_cmpuint (freed, ==, 1);
  g_assert_null (ri_kept_answers_lookup (kept, "b"));
  g_assert_nonnull (ri_kept_answers_lookup (kept, "a"));
  g_assert_nonnull (ri_kept_answers_lookup (kept, "c"));
  g_assert_nonnull (ri_kept_answers_lookup (kept, "d"));
  g_assert_cmpuint (ri_kept_answers_get_count (kept), ==, 3);
  g_assert_cmpuint (ri_kept_answers_get_evicted (kept), ==, 1);
}

static void
test_a_flood_keeps_the_popular_one (void)
{
  g_autoptr(RiKeptAnswers) kept = ri_kept_answers_new (256, 64 * 1024, count_free);

  setup ();
  ri_kept_answers_insert (kept, "popular", g_strdup ("P"), 100);
  for (guint i = 0; i < 10000; i++)
    {
      g_autofree char *key = g_strdup_printf ("flood-%u", i);

      ri_kept_answers_insert (kept, key, g_strdup ("F"), 100);
      if (i % 100 == 0)
        g_assert_cmpstr (ri_kept_answers_lookup (kept, "popular"), ==, "P");
    }
  g_assert_cmpstr (ri_kept_answers_lookup (kept, "popular"), ==, "P");
  g_assert_cmpuint (ri_kept_answers_get_count (kept), ==, 256);
  g_assert_cmpuint (freed, ==, 10001 - 256);
  g_assert_cmpuint (ri_kept_answers_get_bytes (kept), ==, 256 * 100);
}

static void
test_bounded_by_bytes (void)
{
  g_autoptr(RiKeptAnswers) kept = ri_kept_answers_new (100, 250, count_free);

  setup ();
  ri_kept_answers_insert (kept, "a", g_strdup ("A"), 100);
  ri_kept_answers_insert (kept, "b", g_strdup ("B"), 100);
  ri_kept_answers_insert (kept, "c", g_strdup ("C"), 100);
  g_assert_null (ri_kept_answers_lookup (kept, "a"));
  g_assert_cmpuint (ri_kept_answers_get_bytes (kept), ==, 200);
  /* Larger than the bound alone: not kept, and nothing lost for it. */
  ri_kept_answers_insert (kept, "huge", g_strdup ("H"), 1000);
  g_assert_null (ri_kept_answers_lookup (kept, "huge"));
  g_assert_nonnull (ri_kept_answers_lookup (kept, "b"));
  g_assert_nonnull (ri_kept_answers_lookup (kept, "c"));
  g_assert_cmpuint (ri_kept_answers_get_bytes (kept), ==, 200);
}

static void
test_replace_and_remove (void)
{
  g_autoptr(RiKeptAnswers) kept = ri_kept_answers_new (10, 1000, count_free);

  setup ();
  ri_kept_answers_insert (kept, "a", g_strdup ("old"), 100);
  ri_kept_answers_insert (kept, "a", g_strdup ("new"), 50);
  g_assert_cmpuint (freed, ==, 1);
  g_assert_cmpstr (ri_kept_answers_lookup (kept, "a"), ==, "new");
  g_assert_cmpuint (ri_kept_answers_get_bytes (kept), ==, 50);
  g_assert_cmpuint (ri_kept_answers_get_evicted (kept), ==, 0);
  g_assert_true (ri_kept_answers_remove (kept, "a"));
  g_assert_false (ri_kept_answers_remove (kept, "a"));
  g_assert_cmpuint (ri_kept_answers_get_count (kept), ==, 0);
  g_assert_cmpuint (ri_kept_answers_get_bytes (kept), ==, 0);
  ri_kept_answers_insert (kept, "b", g_strdup ("B"), 10);
  g_clear_pointer (&kept, ri_kept_answers_free);
  g_assert_cmpuint (freed, ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kept-answers/lru-one-at-a-time", test_evicts_least_recently_used_one_at_a_time);
  g_test_add_func ("/kept-answers/flood-keeps-popular", test_a_flood_keeps_the_popular_one);
  g_test_add_func ("/kept-answers/bytes", test_bounded_by_bytes);
  g_test_add_func ("/kept-answers/replace-remove", test_replace_and_remove);
  return g_test_run ();
}
