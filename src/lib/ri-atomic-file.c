#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ri-atomic-file.h"
#include "ri-error.h"

static gboolean
set_errno_error (GError **error, int saved_errno, const char *what, const char *path)
{
  g_set_error (error, RI_ERROR, RI_ERROR_WRITE, "Cannot %s '%s': %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

/* Writes @data so that readers see the old file or the new one and never
 * a mix: a temporary file in the same directory, fsync, rename, and an
 * fsync of the directory so that the rename survives a crash. Unlike
 * g_file_set_contents_full() the mode is exactly @mode whatever the umask,
 * since the files are read by a web server running as another user.
 * Without @durable nothing is fsynced: for files that are checked when
 * read and cheap to recreate (cache entries), atomicity is enough. */
gboolean
ri_write_file_atomically (const char *path, const void *data, gsize length, int mode, gboolean durable,
                          GError **error)
{
  g_autofree char *directory = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp_path = g_strdup_printf ("%s/.%s.XXXXXX", directory, base);
  const char *p = data;
  gsize remaining = length;
  int fd, dir_fd;

  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0)
    return set_errno_error (error, errno, "create a temporary file in", directory);

  if (fchmod (fd, mode) != 0)
    goto fail;
  while (remaining > 0)
    {
      ssize_t written = write (fd, p, remaining);
      if (written < 0)
        {
          if (errno == EINTR)
            continue;
          goto fail;
        }
      p += written;
      remaining -= written;
    }
  if (durable && fsync (fd) != 0)
    goto fail;
  if (close (fd) != 0)
    {
      int saved_errno = errno;
      g_unlink (tmp_path);
      return set_errno_error (error, saved_errno, "write", tmp_path);
    }
  if (g_rename (tmp_path, path) != 0)
    {
      int saved_errno = errno;
      g_unlink (tmp_path);
      return set_errno_error (error, saved_errno, "rename a temporary file to", path);
    }
  dir_fd = durable ? open (directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (dir_fd >= 0)
    {
      fsync (dir_fd);
      close (dir_fd);
    }
  return TRUE;

fail:
  {
    int saved_errno = errno;
    close (fd);
    g_unlink (tmp_path);
    return set_errno_error (error, saved_errno, "write", path);
  }
}
