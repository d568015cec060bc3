/* The content cache's packs: what one instance stores, the next reads;
 * a damaged record is refused; pruning keeps exactly what is referenced. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "ri-content-cache.h"
#include "ri-names.h"

typedef struct {
  char *directory;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  fixture->directory = g_dir_make_tmp ("ri-test-cache-XXXXXX", NULL);
  g_assert_nonnull (fixture->directory);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  remove_tree (fixture->directory);
  g_free (fixture->directory);
}

/* Entries of varied sizes, so that records straddle read chunks. */
static GBytes *
entry (guint i, char **digest)
{
  g_autofree char *text = g_strdup_printf ("{\"entry\": %u, \"pad\": \"%0*u\"}", i, (int) (i % 200), i);
  GBytes *bytes = g_bytes_new (text, strlen (text));

  *digest = ri_digest_compute (bytes);
  return bytes;
}

static GPtrArray *
pack_paths (Fixture *fixture)
{
  g_autofree char *packs = g_build_filename (fixture->directory, "packs", NULL);
  g_autoptr(GDir) dir = g_dir_open (packs, 0, NULL);
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  /* Packs in place; a temporary one being written starts with a dot. */
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.')
      g_ptr_array_add (paths, g_build_filename (packs, name, NULL));
  return paths;
}

static void
test_stored_entries_are_read_back (Fixture *fixture, gconstpointer data)
{
  g_autoptr(RiContentCache) writer = ri_content_cache_new (fixture->directory, FALSE);
  g_autoptr(RiContentCache) reader = NULL;
  g_autoptr(GPtrArray) paths = NULL;

  for (guint i = 0; i < 500; i++)
    {
      g_autofree char *digest = NULL;
      g_autoptr(GBytes) bytes = entry (i, &digest);
      ri_content_cache_store (writer, digest, bytes);
    }
  /* Nothing is in place before the flush: readers never see half a pack. */
  paths = pack_paths (fixture);
  g_assert_cmpuint (paths->len, ==, 0);
  ri_content_cache_flush (writer);
  g_clear_pointer (&paths, g_ptr_array_unref);
  paths = pack_paths (fixture);
  g_assert_cmpuint (paths->len, ==, 1);

  reader = ri_content_cache_new (fixture->directory, FALSE);
  for (guint i = 0; i < 500; i++)
    {
      g_autofree char *digest = NULL;
      g_autoptr(GBytes) expected = entry (i, &digest);
      g_autoptr(GBytes) found = ri_content_cache_lookup (reader, digest);

      g_assert_nonnull (found);
      g_assert_true (g_bytes_equal (found, expected));
    }
  g_assert_cmpuint (ri_content_cache_get_stats (reader)->hits, ==, 500);
  /* Stored again: no second copy. */
  {
    g_autofree char *digest = NULL;
    g_autoptr(GBytes) bytes = entry (7, &digest);
    ri_content_cache_store (reader, digest, bytes);
    g_assert_cmpuint (ri_content_cache_get_stats (reader)->stored, ==, 0);
  }
}

static void
test_damaged_record_is_refused (Fixture *fixture, gconstpointer data)
{
  g_autoptr(RiContentCache) writer = ri_content_cache_new (fixture->directory, FALSE);
  g_autoptr(RiContentCache) reader = NULL;
  g_autoptr(GPtrArray) paths = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *digest = NULL;
  g_autoptr(GBytes) bytes = entry (3, &digest);
  g_autoptr(GBytes) found = NULL;
  gsize length;
  char *body;

  ri_content_cache_store (writer, digest, bytes);
  ri_content_cache_flush (writer);
  paths = pack_paths (fixture);
  g_assert_cmpuint (paths->len, ==, 1);
  g_assert_true (g_file_get_contents (paths->pdata[0], &contents, &length, NULL));
  body = strstr (contents, "\"entry\": 3");
  g_assert_nonnull (body);
  body[strlen ("\"entry\": ")] = '4';
  g_assert_true (g_file_set_contents (paths->pdata[0], contents, length, NULL));

  reader = ri_content_cache_new (fixture->directory, FALSE);
  g_test_expect_message ("Cache", G_LOG_LEVEL_WARNING, "*does not match its digest; dropping it");
  found = ri_content_cache_lookup (reader, digest);
  g_test_assert_expected_messages ();
  g_assert_null (found);
  g_assert_cmpuint (ri_content_cache_get_stats (reader)->corrupt, ==, 1);
  /* Fetched again, it is stored again. */
  ri_content_cache_store (reader, digest, bytes);
  g_assert_cmpuint (ri_content_cache_get_stats (reader)->stored, ==, 1);
}

static void
test_prune_keeps_what_is_referenced (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GHashTable) keep = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(RiContentCache) cache = ri_content_cache_new (fixture->directory, FALSE);
  g_autoptr(RiContentCache) reader = NULL;
  g_autoptr(GPtrArray) paths = NULL;

  /* Three runs, three packs. */
  for (guint run = 0; run < 3; run++)
    {
      for (guint i = run * 100; i < run * 100 + 100; i++)
        {
          g_autofree char *digest = NULL;
          g_autoptr(GBytes) bytes = entry (i, &digest);
          ri_content_cache_store (cache, digest, bytes);
          if (i % 3 == 0)
            g_hash_table_add (keep, g_steal_pointer (&digest));
        }
      ri_content_cache_flush (cache);
    }
  paths = pack_paths (fixture);
  g_assert_cmpuint (paths->len, ==, 3);
  ri_content_cache_prune (cache, keep);
  g_assert_cmpuint (ri_content_cache_get_stats (cache)->pruned, ==, 300 - 100);
  g_clear_pointer (&paths, g_ptr_array_unref);
  paths = pack_paths (fixture);
  g_assert_cmpuint (paths->len, ==, 1);

  reader = ri_content_cache_new (fixture->directory, FALSE);
  for (guint i = 0; i < 300; i++)
    {
      g_autofree char *digest = NULL;
      g_autoptr(GBytes) expected = entry (i, &digest);
      g_autoptr(GBytes) found = ri_content_cache_lookup (reader, digest);

      if (i % 3 == 0)
        g_assert_true (found != NULL && g_bytes_equal (found, expected));
      else
        g_assert_null (found);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/cache/stored-entries-are-read-back", Fixture, NULL, fixture_set_up,
              test_stored_entries_are_read_back, fixture_tear_down);
  g_test_add ("/cache/damaged-record-is-refused", Fixture, NULL, fixture_set_up,
              test_damaged_record_is_refused, fixture_tear_down);
  g_test_add ("/cache/prune-keeps-what-is-referenced", Fixture, NULL, fixture_set_up,
              test_prune_keeps_what_is_referenced, fixture_tear_down);
  return g_test_run ();
}
