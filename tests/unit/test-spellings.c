#include "config.h"

#include "ri-spellings.h"

static void
test_seen_again_moves_to_the_second_list (void)
{
  g_autoptr(RiSpellings) spellings = ri_spellings_new (2, 64 * 1024);

  ri_spellings_insert (spellings, "b=1&a=2", "a=2&b=1");
  g_assert_cmpstr (ri_spellings_lookup (spellings, "b=1&a=2"), ==, "a=2&b=1");
  /* Now in the second list: two spellings sent once cannot push it out. */
  ri_spellings_insert (spellings, "x", "X");
  ri_spellings_insert (spellings, "y", "Y");
  ri_spellings_insert (spellings, "z", "Z");
  g_assert_null (ri_spellings_lookup (spellings, "x"));
  g_assert_cmpstr (ri_spellings_lookup (spellings, "b=1&a=2"), ==, "a=2&b=1");
  g_assert_cmpstr (ri_spellings_lookup (spellings, "z"), ==, "Z");
  g_assert_cmpuint (ri_spellings_get_count (spellings), ==, 3);
  g_assert_null (ri_spellings_lookup (spellings, "unknown"));
}

static void
test_a_flood_of_spellings_sent_once_keeps_the_repeated_ones (void)
{
  g_autoptr(RiSpellings) spellings = ri_spellings_new (100, 64 * 1024);
  gsize bytes;

  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *spelling = g_strdup_printf ("popular-%u", i);
      g_autofree char *meaning = g_strdup_printf ("P%u", i);

      ri_spellings_insert (spellings, spelling, meaning);
      g_assert_nonnull (ri_spellings_lookup (spellings, spelling));
    }
  for (guint i = 0; i < 100000; i++)
    {
      g_autofree char *spelling = g_strdup_printf ("flood-%u", i);

      ri_spellings_insert (spellings, spelling, "F");
    }
  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *spelling = g_strdup_printf ("popular-%u", i);
      g_autofree char *meaning = g_strdup_printf ("P%u", i);

      g_assert_cmpstr (ri_spellings_lookup (spellings, spelling), ==, meaning);
    }
  /* 50 repeated, and the last 100 of the flood. */
  g_assert_cmpuint (ri_spellings_get_count (spellings), ==, 150);
  g_assert_nonnull (ri_spellings_lookup (spellings, "flood-99999"));
  g_assert_null (ri_spellings_lookup (spellings, "flood-99899"));
  bytes = ri_spellings_get_bytes (spellings);
  g_assert_cmpuint (bytes, <=, 2 * 64 * 1024);
  g_assert_cmpuint (bytes, >, 0);
}

static void
test_bounded_by_bytes (void)
{
  g_autoptr(RiSpellings) spellings = ri_spellings_new (1000, 4096);
  g_autofree char *long_spelling = g_strnfill (8192, 'q');

  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *spelling = g_strdup_printf ("tag=%u", i);

      ri_spellings_insert (spellings, spelling, spelling);
      ri_spellings_lookup (spellings, spelling);
      g_assert_cmpuint (ri_spellings_get_bytes (spellings), <=, 2 * 4096);
    }
  g_assert_cmpuint (ri_spellings_get_count (spellings), <, 1000);
  /* A spelling longer than the bound is not kept, and evicts nothing. */
  {
    guint count = ri_spellings_get_count (spellings);

    ri_spellings_insert (spellings, long_spelling, "L");
    g_assert_null (ri_spellings_lookup (spellings, long_spelling));
    g_assert_cmpuint (ri_spellings_get_count (spellings), ==, count);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spellings/seen-again", test_seen_again_moves_to_the_second_list);
  g_test_add_func ("/spellings/flood-keeps-repeated", test_a_flood_of_spellings_sent_once_keeps_the_repeated_ones);
  g_test_add_func ("/spellings/bytes", test_bounded_by_bytes);
  return g_test_run ();
}
