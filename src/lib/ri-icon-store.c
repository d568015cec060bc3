#define G_LOG_DOMAIN "Icons"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "ri-atomic-file.h"
#include "ri-error.h"
#include "ri-icon-store.h"
#include "ri-names.h"

#define DATA_URI_PREFIX "data:image/png;base64,"
#define MAX_ICON_SIZE (1024 * 1024)
#define STATE_FILE ".regindexer-unreferenced"
#define STATE_GROUP "unreferenced"

static const guint8 png_signature[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

struct _RiIconStore {
  GObject parent_instance;

  char *icons_dir;          /* (owned) */
  char *icons_uri;          /* (owned) ends in '/' */
  GHashTable *rewritten;    /* (owned) data URI → public URL, this run */
  GHashTable *referenced;   /* (owned) set of "XX/REST.png" used this run */
  GMutex lock;              /* indexes of different registries are written in parallel threads */
};

G_DEFINE_TYPE (RiIconStore, ri_icon_store, G_TYPE_OBJECT)

static void
ri_icon_store_finalize (GObject *object)
{
  RiIconStore *self = RI_ICON_STORE (object);

  g_free (self->icons_dir);
  g_free (self->icons_uri);
  g_hash_table_unref (self->rewritten);
  g_hash_table_unref (self->referenced);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (ri_icon_store_parent_class)->finalize (object);
}

static void
ri_icon_store_class_init (RiIconStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ri_icon_store_finalize;
}

static void
ri_icon_store_init (RiIconStore *self)
{
  self->rewritten = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->referenced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_mutex_init (&self->lock);
}

RiIconStore *
ri_icon_store_new (const char *icons_dir, const char *icons_uri)
{
  RiIconStore *self = g_object_new (RI_TYPE_ICON_STORE, NULL);

  self->icons_dir = g_strdup (icons_dir);
  self->icons_uri = g_str_has_suffix (icons_uri, "/") ? g_strdup (icons_uri)
                                                      : g_strconcat (icons_uri, "/", NULL);
  return self;
}

gboolean
ri_icon_store_is_icon_key (const char *key)
{
  return g_str_equal (key, "org.freedesktop.appstream.icon-64") ||
         g_str_equal (key, "org.freedesktop.appstream.icon-128");
}

GBytes *
ri_data_uri_decode_png (const char *uri, GError **error)
{
  g_autoptr(GBytes) bytes = NULL;
  guchar *decoded;
  gsize size;
  const guint8 *data;

  if (!g_str_has_prefix (uri, DATA_URI_PREFIX))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "not a data:image/png;base64 URI");
      return NULL;
    }
  /* Base64 grows data by a third: refuse before decoding anything huge. */
  if (strlen (uri) - strlen (DATA_URI_PREFIX) > (MAX_ICON_SIZE / 3 + 1) * 4)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_TOO_LARGE, "the icon is larger than %d bytes", MAX_ICON_SIZE);
      return NULL;
    }
  for (const char *p = uri + strlen (DATA_URI_PREFIX); *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=')
      {
        g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the icon's base64 data has a stray '%c'",
                     g_ascii_isprint (*p) ? *p : '?');
        return NULL;
      }
  /* Nothing but the base64 alphabet follows the prefix, so there is
   * nothing to percent-decode. */
  decoded = g_base64_decode (uri + strlen (DATA_URI_PREFIX), &size);
  bytes = g_bytes_new_take (decoded, size);
  data = g_bytes_get_data (bytes, &size);
  if (size < sizeof png_signature || memcmp (data, png_signature, sizeof png_signature) != 0)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the icon is not a PNG image");
      return NULL;
    }
  return g_steal_pointer (&bytes);
}

/* Returns the public URL that replaces @value, storing the icon on first
 * use; NULL with no error when @value is not an icon to extract (it is
 * then written as it is), NULL with an error when storing failed. */
static char *rewrite_locked (RiIconStore *self, const char *value, GError **error);

char *
ri_icon_store_rewrite (RiIconStore *self, const char *value, GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  return rewrite_locked (self, value, error);
}

static char *
rewrite_locked (RiIconStore *self, const char *value, GError **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *hex = NULL;
  g_autofree char *relative = NULL;
  g_autofree char *path = NULL;
  g_autofree char *directory = NULL;
  const char *known;

  known = g_hash_table_lookup (self->rewritten, value);
  if (known != NULL)
    return g_strdup (known);
  if (!g_str_has_prefix (value, "data:"))
    return NULL;

  bytes = ri_data_uri_decode_png (value, &local_error);
  if (bytes == NULL)
    {
      g_warning ("Leaving an icon as it is: %s", local_error->message);
      return NULL;
    }

  hex = ri_sha256_hex (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  relative = g_strdup_printf ("%.2s/%s.png", hex, hex + 2);
  path = g_build_filename (self->icons_dir, relative, NULL);
  directory = g_path_get_dirname (path);

  /* Content-addressed: an existing file already holds these bytes. */
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (g_mkdir_with_parents (directory, 0755) != 0)
        {
          int saved_errno = errno;
          g_set_error (error, RI_ERROR, RI_ERROR_WRITE, "Cannot create '%s': %s", directory,
                       g_strerror (saved_errno));
          return NULL;
        }
      if (!ri_write_file_atomically (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                     0644, TRUE, error))
        {
          g_prefix_error (error, "Cannot store an icon: ");
          return NULL;
        }
    }

  g_hash_table_add (self->referenced, g_strdup (relative));
  g_hash_table_insert (self->rewritten, g_strdup (value), g_strconcat (self->icons_uri, relative, NULL));
  return g_strdup (g_hash_table_lookup (self->rewritten, value));
}

/* XX/REST.png, 2 + 62 lower-case hex digits of the icon's SHA-256: the
 * only names stored, served or removed, so no other path reaches the disk. */
gboolean
ri_icon_store_is_icon_name (const char *name)
{
  if (strlen (name) != 2 + 1 + 62 + 4 || name[2] != '/' || !g_str_has_suffix (name, ".png"))
    return FALSE;
  for (guint i = 0; i < 2 + 1 + 62; i++)
    if (i != 2 && !(g_ascii_isdigit (name[i]) || (name[i] >= 'a' && name[i] <= 'f')))
      return FALSE;
  return TRUE;
}

/* The bytes of the stored icon @name (as in its URL, "XX/REST.png"). */
GBytes *
ri_icon_store_open (RiIconStore *self, const char *name, GError **error)
{
  g_autofree char *path = NULL;
  g_autoptr(GMappedFile) file = NULL;

  if (!ri_icon_store_is_icon_name (name))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_NOT_FOUND, "'%s' is not the name of an icon", name);
      return NULL;
    }
  path = g_build_filename (self->icons_dir, name, NULL);
  file = g_mapped_file_new (path, FALSE, error);
  if (file == NULL)
    {
      if (error != NULL && g_error_matches (*error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_clear_error (error);
          g_set_error (error, RI_ERROR, RI_ERROR_NOT_FOUND, "No icon '%s' is stored", name);
        }
      return NULL;
    }
  return g_mapped_file_get_bytes (file);
}

/* Removes stored icons that this run did not reference, once they have
 * gone unreferenced for @grace_period_s: clients that fetched a slightly
 * older index still find its icons. When an icon was first seen
 * unreferenced is kept in a small key file beside the icons, because a
 * file's own times say when it was written, not when it was last used. */
gboolean
ri_icon_store_collect_garbage (RiIconStore *self, guint grace_period_s, guint *n_removed, GError **error)
{
  g_autoptr(GKeyFile) state = g_key_file_new ();
  g_autoptr(GKeyFile) new_state = g_key_file_new ();
  g_autofree char *state_path = g_build_filename (self->icons_dir, STATE_FILE, NULL);
  g_autoptr(GDir) top = NULL;
  g_autofree char *data = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *prefix;
  guint removed = 0;

  top = g_dir_open (self->icons_dir, 0, NULL);
  if (top == NULL)
    return TRUE; /* nothing stored yet */
  g_key_file_load_from_file (state, state_path, G_KEY_FILE_NONE, NULL);

  while ((prefix = g_dir_read_name (top)) != NULL)
    {
      g_autofree char *subdir = g_build_filename (self->icons_dir, prefix, NULL);
      g_autoptr(GDir) dir = NULL;
      const char *name;

      if (strlen (prefix) != 2 || !g_file_test (subdir, G_FILE_TEST_IS_DIR))
        continue;
      dir = g_dir_open (subdir, 0, NULL);
      if (dir == NULL)
        continue;
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *relative = g_strdup_printf ("%s/%s", prefix, name);
          gint64 since;

          if (!ri_icon_store_is_icon_name (relative) || g_hash_table_contains (self->referenced, relative))
            continue;
          since = g_key_file_get_int64 (state, STATE_GROUP, relative, NULL);
          if (since <= 0 || since > now)
            since = now;
          if (now - since >= (gint64) grace_period_s)
            {
              g_autofree char *path = g_build_filename (subdir, name, NULL);
              if (g_unlink (path) == 0)
                {
                  removed++;
                  continue;
                }
              g_warning ("Cannot remove unreferenced icon '%s': %s", path, g_strerror (errno));
            }
          g_key_file_set_int64 (new_state, STATE_GROUP, relative, since);
        }
      g_rmdir (subdir); /* only succeeds once it is empty */
    }

  if (n_removed != NULL)
    *n_removed = removed;
  data = g_key_file_to_data (new_state, NULL, NULL);
  if (!ri_write_file_atomically (state_path, data, strlen (data), 0644, TRUE, error))
    {
      g_prefix_error (error, "Cannot record unreferenced icons: ");
      return FALSE;
    }
  return TRUE;
}
