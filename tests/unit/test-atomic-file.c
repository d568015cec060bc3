#include "config.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <utime.h>

#include "ri-atomic-file.h"
#include "ri-error.h"

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  fixture->dir = g_dir_make_tmp ("ri-atomic-XXXXXX", NULL);
  g_assert_nonnull (fixture->dir);
  fixture->path = g_build_filename (fixture->dir, "index.json", NULL);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GDir) dir = g_dir_open (fixture->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fixture->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->dir);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

/* The names in the directory, sorted and joined with spaces. */
static char *
listing (const char *directory)
{
  g_autoptr(GDir) dir = g_dir_open (directory, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, (gpointer) name);
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static char *
contents (const char *path)
{
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static void
test_commit_puts_the_file_in_place (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiAtomicFile) file = ri_atomic_file_new (fixture->path, 0640, &error);
  g_autofree char *during = NULL;
  g_autofree char *after = NULL;
  g_autofree char *text = NULL;
  gboolean changed = FALSE;
  GStatBuf st;

  g_assert_no_error (error);
  g_assert_true (ri_atomic_file_write (file, "{\"a\": ", 6, &error));
  /* Until the commit, only the temporary file exists, beside the target. */
  during = listing (fixture->dir);
  g_assert_true (g_str_has_prefix (during, ".index.json."));
  g_assert_cmpuint (strlen (during), ==, strlen (".index.json.XXXXXX"));
  g_assert_true (ri_atomic_file_write (file, "1}\n", 3, &error));
  g_assert_true (ri_atomic_file_commit (file, TRUE, TRUE, &changed, &error));
  g_assert_no_error (error);
  g_assert_true (changed);
  after = listing (fixture->dir);
  g_assert_cmpstr (after, ==, "index.json");
  text = contents (fixture->path);
  g_assert_cmpstr (text, ==, "{\"a\": 1}\n");
  g_assert_cmpint (g_stat (fixture->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0640);
}

static void
test_free_without_commit_keeps_the_old_file (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *names = NULL;

  g_assert_true (g_file_set_contents (fixture->path, "old\n", -1, NULL));
  {
    g_autoptr(RiAtomicFile) file = ri_atomic_file_new (fixture->path, 0644, &error);
    g_assert_no_error (error);
    g_assert_true (ri_atomic_file_write (file, "half of the ne", 14, &error));
    /* Freed here: a failed or cancelled write. */
  }
  text = contents (fixture->path);
  g_assert_cmpstr (text, ==, "old\n");
  names = listing (fixture->dir);
  g_assert_cmpstr (names, ==, "index.json");
}

static void
test_same_bytes_leave_the_file_alone (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  struct utimbuf old_times = { 1000000000, 1000000000 };
  gboolean changed = TRUE;
  GStatBuf before, after;

  g_assert_true (g_file_set_contents (fixture->path, "same\n", -1, NULL));
  g_assert_cmpint (utime (fixture->path, &old_times), ==, 0);
  g_assert_cmpint (g_stat (fixture->path, &before), ==, 0);
  {
    g_autoptr(RiAtomicFile) file = ri_atomic_file_new (fixture->path, 0644, &error);
    g_assert_true (ri_atomic_file_write (file, "same\n", 5, &error));
    g_assert_true (ri_atomic_file_commit (file, FALSE, TRUE, &changed, &error));
    g_assert_no_error (error);
  }
  g_assert_false (changed);
  g_assert_cmpint (g_stat (fixture->path, &after), ==, 0);
  g_assert_cmpuint (after.st_ino, ==, before.st_ino);
  g_assert_cmpint (after.st_mtime, ==, 1000000000);

  /* Other bytes replace it (another inode: readers keep the old one). */
  {
    g_autoptr(RiAtomicFile) file = ri_atomic_file_new (fixture->path, 0644, &error);
    g_assert_true (ri_atomic_file_write (file, "new\n", 4, &error));
    g_assert_true (ri_atomic_file_commit (file, FALSE, TRUE, &changed, &error));
    g_assert_no_error (error);
  }
  g_assert_true (changed);
  g_assert_cmpint (g_stat (fixture->path, &after), ==, 0);
  g_assert_cmpuint (after.st_ino, !=, before.st_ino);
}

static void
test_error_names_the_file (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fixture->dir, "missing", "index.json", NULL);
  g_autoptr(RiAtomicFile) file = ri_atomic_file_new (path, 0644, &error);

  g_assert_null (file);
  g_assert_error (error, RI_ERROR, RI_ERROR_WRITE);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, g_strerror (ENOENT)));
}

static void
test_stale_leftovers_are_removed (Fixture *fixture, gconstpointer data)
{
  struct utimbuf old_times = { 1000000000, 1000000000 };
  const char *stale[] = { ".index.json.AbC123", NULL };
  const char *kept[] = { ".index.json.XyZ789" /* recent */, ".other.json.AbC123", ".index.json.keep",
                         "index.json", NULL };
  g_autofree char *names = NULL;

  for (guint i = 0; stale[i]; i++)
    {
      g_autofree char *path = g_build_filename (fixture->dir, stale[i], NULL);
      g_assert_true (g_file_set_contents (path, "partial", -1, NULL));
      g_assert_cmpint (utime (path, &old_times), ==, 0);
    }
  for (guint i = 0; kept[i]; i++)
    {
      g_autofree char *path = g_build_filename (fixture->dir, kept[i], NULL);
      g_assert_true (g_file_set_contents (path, "partial", -1, NULL));
      if (i > 0)
        g_assert_cmpint (utime (path, &old_times), ==, 0);
    }
  g_assert_cmpuint (ri_atomic_file_remove_stale (fixture->path, 3600), ==, 1);
  names = listing (fixture->dir);
  g_assert_cmpstr (names, ==, ".index.json.XyZ789 .index.json.keep .other.json.AbC123 index.json");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/atomic-file/commit", test_commit_puts_the_file_in_place);
  ADD ("/atomic-file/free-without-commit", test_free_without_commit_keeps_the_old_file);
  ADD ("/atomic-file/same-bytes", test_same_bytes_leave_the_file_alone);
  ADD ("/atomic-file/error-names-the-file", test_error_names_the_file);
  ADD ("/atomic-file/stale-leftovers", test_stale_leftovers_are_removed);
  return g_test_run ();
}
