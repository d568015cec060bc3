#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ri-atomic-file.h"
#include "ri-error.h"

/* Readers see the old file or the new one and never a mix: the new one
 * is written to a temporary file in the same directory, fsynced, renamed
 * over the old, and the directory fsynced so that the rename survives a
 * crash. Unlike g_file_set_contents_full() the mode is exactly the one
 * asked for whatever the umask, since the files are read by a web server
 * running as another user. Without `durable` nothing is fsynced: for files
 * that are checked when read and cheap to recreate (cache entries),
 * atomicity is enough. A file freed without a commit is removed. */

#define COMPARE_CHUNK (64 * 1024)

struct _RiAtomicFile {
  char *path;               /* (owned) */
  char *tmp_path;           /* (owned) (nullable) NULL once committed or removed */
  int fd;
};

/* Every temporary file of the process, so that one killed by a signal
 * can remove them first (ri_atomic_file_abandon_all()). */
static GMutex live_lock;
static GHashTable *live;    /* (element-type RiAtomicFile) set, under live_lock */
static gboolean abandoned;  /* under live_lock */

static void
forget (RiAtomicFile *file)
{
  if (live != NULL)
    g_hash_table_remove (live, file);
}

static gboolean
set_errno_error (GError **error, int saved_errno, const char *what, const char *path)
{
  g_set_error (error, RI_ERROR, RI_ERROR_WRITE, "Cannot %s '%s': %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

RiAtomicFile *
ri_atomic_file_new (const char *path, int mode, GError **error)
{
  g_autofree char *directory = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  RiAtomicFile *file = g_new0 (RiAtomicFile, 1);

  file->path = g_strdup (path);
  file->tmp_path = g_strdup_printf ("%s/.%s.XXXXXX", directory, base);
  g_mutex_lock (&live_lock);
  file->fd = abandoned ? -1 : g_mkstemp_full (file->tmp_path, O_WRONLY | O_CLOEXEC, mode);
  if (file->fd < 0)
    {
      int saved_errno = errno;
      /* Named after the file wanted: that is what the reader looks for. */
      if (abandoned)
        g_set_error (error, RI_ERROR, RI_ERROR_WRITE, "Not writing '%s': the process is stopping", path);
      else
        g_set_error (error, RI_ERROR, RI_ERROR_WRITE, "Cannot write '%s' (no temporary file in '%s'): %s",
                     path, directory, g_strerror (saved_errno));
      g_mutex_unlock (&live_lock);
      g_clear_pointer (&file->tmp_path, g_free);
      ri_atomic_file_free (file);
      return NULL;
    }
  if (live == NULL)
    live = g_hash_table_new (NULL, NULL);
  g_hash_table_add (live, file);
  g_mutex_unlock (&live_lock);
  if (fchmod (file->fd, mode) != 0)
    {
      set_errno_error (error, errno, "set the mode of", file->tmp_path);
      ri_atomic_file_free (file);
      return NULL;
    }
  return file;
}

gboolean
ri_atomic_file_write (RiAtomicFile *file, const void *data, gsize length, GError **error)
{
  const char *p = data;

  while (length > 0)
    {
      ssize_t written = write (file->fd, p, length);
      if (written < 0)
        {
          if (errno == EINTR)
            continue;
          return set_errno_error (error, errno, "write", file->path);
        }
      p += written;
      length -= written;
    }
  return TRUE;
}

/* Whether the files at @a and @b hold the same bytes, read in chunks so
 * that comparing a large index costs no memory. */
static gboolean
same_contents (const char *a, const char *b)
{
  g_autofree char *buffer_a = g_malloc (COMPARE_CHUNK);
  g_autofree char *buffer_b = g_malloc (COMPARE_CHUNK);
  gboolean same = FALSE;
  struct stat st_a, st_b;
  int fd_a, fd_b;

  fd_a = open (a, O_RDONLY | O_CLOEXEC);
  fd_b = open (b, O_RDONLY | O_CLOEXEC);
  if (fd_a >= 0 && fd_b >= 0 && fstat (fd_a, &st_a) == 0 && fstat (fd_b, &st_b) == 0 &&
      S_ISREG (st_b.st_mode) && st_a.st_size == st_b.st_size)
    {
      same = TRUE;
      while (same)
        {
          ssize_t n_a = read (fd_a, buffer_a, COMPARE_CHUNK);
          ssize_t n_b = n_a > 0 ? read (fd_b, buffer_b, n_a) : 0;

          if (n_a < 0 || n_b != n_a || (n_a > 0 && memcmp (buffer_a, buffer_b, n_a) != 0))
            same = FALSE;
          if (n_a <= 0)
            break;
        }
    }
  if (fd_a >= 0)
    close (fd_a);
  if (fd_b >= 0)
    close (fd_b);
  return same;
}

/* Puts the file in place; with @keep_if_same an existing file with the
 * same bytes is left alone (its modification time, and the HTTP
 * validators derived from it, stay stable) and *@changed says which. */
gboolean
ri_atomic_file_commit (RiAtomicFile *file, gboolean durable, gboolean keep_if_same, gboolean *changed,
                       GError **error)
{
  g_autofree char *directory = g_path_get_dirname (file->path);
  int fd = file->fd;
  int dir_fd;

  if (changed != NULL)
    *changed = FALSE;
  file->fd = -1;
  /* Compared before it is made durable: a file that is thrown away
   * (every run of an unchanged registry) needs no fsync. */
  if (keep_if_same && same_contents (file->tmp_path, file->path))
    {
      close (fd);
      g_mutex_lock (&live_lock);
      g_unlink (file->tmp_path);
      g_clear_pointer (&file->tmp_path, g_free);
      forget (file);
      g_mutex_unlock (&live_lock);
      return TRUE;
    }
  if (durable && fsync (fd) != 0)
    {
      int saved_errno = errno;
      close (fd);
      return set_errno_error (error, saved_errno, "write", file->path);
    }
  if (close (fd) != 0)
    return set_errno_error (error, errno, "write", file->path);

  /* Under the lock: a temporary file abandoned meanwhile is gone, and
   * the rename fails rather than put a file in place while stopping. */
  g_mutex_lock (&live_lock);
  if (g_rename (file->tmp_path, file->path) != 0)
    {
      int saved_errno = errno;
      g_mutex_unlock (&live_lock);
      return set_errno_error (error, saved_errno, "rename a temporary file to", file->path);
    }
  g_clear_pointer (&file->tmp_path, g_free);
  forget (file);
  g_mutex_unlock (&live_lock);
  if (changed != NULL)
    *changed = TRUE;

  dir_fd = durable ? open (directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (dir_fd >= 0)
    {
      fsync (dir_fd);
      close (dir_fd);
    }
  return TRUE;
}

void
ri_atomic_file_free (RiAtomicFile *file)
{
  if (file->fd >= 0)
    close (file->fd);
  g_mutex_lock (&live_lock);
  if (file->tmp_path != NULL)
    g_unlink (file->tmp_path);
  forget (file);
  g_mutex_unlock (&live_lock);
  g_free (file->tmp_path);
  g_free (file->path);
  g_free (file);
}

/* For a process about to die of a signal (from a thread of its own, not a
 * signal handler: it takes a lock): removes every temporary file being
 * written, and makes every later ri_atomic_file_new() and commit fail,
 * so that none is left behind and no target is replaced from now on.
 * Targets stay whole. Returns how many were removed. */
guint
ri_atomic_file_abandon_all (void)
{
  GHashTableIter iter;
  gpointer file;
  guint removed = 0;

  g_mutex_lock (&live_lock);
  abandoned = TRUE;
  if (live != NULL)
    {
      g_hash_table_iter_init (&iter, live);
      while (g_hash_table_iter_next (&iter, &file, NULL))
        {
          /* Its owner may be reading the name: it stays, and the
           * owner's rename fails for want of the file. */
          RiAtomicFile *atomic = file;
          if (atomic->tmp_path != NULL && g_unlink (atomic->tmp_path) == 0)
            removed++;
        }
    }
  g_mutex_unlock (&live_lock);
  return removed;
}

gboolean
ri_write_file_atomically (const char *path, const void *data, gsize length, int mode, gboolean durable,
                          GError **error)
{
  g_autoptr(RiAtomicFile) file = ri_atomic_file_new (path, mode, error);

  return file != NULL && ri_atomic_file_write (file, data, length, error) &&
         ri_atomic_file_commit (file, durable, FALSE, NULL, error);
}

/* A process killed while writing leaves its temporary file behind
 * (.BASENAME.XXXXXX beside @path); the target itself is always whole.
 * Removes such leftovers of @path that have not been touched for
 * @older_than_s seconds, far longer than any write takes, so that a
 * write in progress is never disturbed. Nothing else is touched. */
guint
ri_atomic_file_remove_stale (const char *path, gint64 older_than_s)
{
  g_autofree char *directory = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *prefix = g_strdup_printf (".%s.", base);
  g_autoptr(GDir) dir = g_dir_open (directory, 0, NULL);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *name;
  guint removed = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *candidate = NULL;
      GStatBuf st;

      if (!g_str_has_prefix (name, prefix) || strlen (name) != strlen (prefix) + 6)
        continue;
      candidate = g_build_filename (directory, name, NULL);
      if (g_lstat (candidate, &st) == 0 && S_ISREG (st.st_mode) && now - st.st_mtime >= older_than_s &&
          g_unlink (candidate) == 0)
        removed++;
    }
  return removed;
}
