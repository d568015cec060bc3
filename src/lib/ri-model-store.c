#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ri-atomic-file.h"
#include "ri-error.h"
#include "ri-model-store.h"

/* The index files cannot stand in for the model: they hold what is left
 * after an index's filters (required labels, architectures), its
 * skip_flatpak_* settings and icon rewriting, while a live query filters
 * on the registry's own values first (a query on org.flatpak.ref of an
 * index with skip_flatpak_labels), and an index served only over HTTP has
 * no file at all. So the model itself is kept, as a GVariant of a fixed
 * type: loading it is bounded whatever the bytes (no recursion, no
 * parser), and the same bytes come back for the same model, since maps
 * are written sorted, so an unchanged model leaves its file alone. */

#define STORE_VERSION 1
/* Far above any real registry's model (1,000 repositories x 3 tags take
 * well under 1 MiB), and small enough that a foreign file in a shared
 * directory cannot make the daemon read gigabytes. */
#define STORE_MAX_SIZE ((goffset) 256 * 1024 * 1024)
#define IMAGE_TYPE "(msmsmsmsa{ss}a{ss})"
#define LIST_TYPE "(msmsa" IMAGE_TYPE ")"
#define TAGGED_TYPE "(asm" IMAGE_TYPE "m" LIST_TYPE ")"
#define REPOSITORY_TYPE "(sa" TAGGED_TYPE ")"
/* version, index, registry, repositories configured (none: the catalog),
 * tag patterns of the index, the repositories scanned */
#define STORE_TYPE "(ussmasasa" REPOSITORY_TYPE ")"

char *
ri_model_store_default_dir (void)
{
  const char *systemd = g_getenv ("STATE_DIRECTORY");

  if (systemd != NULL && *systemd && strchr (systemd, ':') == NULL)
    return g_build_filename (systemd, "models", NULL);
  return g_build_filename (g_get_user_state_dir (), "regindexer", "models", NULL);
}

/* Index names are any string: escaped, so that none can leave @directory
 * or clash with another (every byte but [A-Za-z0-9._~-] is %-encoded). */
char *
ri_model_store_path (const char *directory, const char *index)
{
  g_autofree char *escaped = g_uri_escape_string (index, NULL, FALSE);
  g_autofree char *name = g_strconcat (escaped, ".model", NULL);

  return g_build_filename (directory, name, NULL);
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static GVariant *
sorted_map (GHashTable *table)
{
  GVariantBuilder builder;
  guint length = 0;
  g_autofree const char **keys = (const char **) g_hash_table_get_keys_as_array (table, &length);

  qsort (keys, length, sizeof *keys, compare_strings);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{ss}"));
  for (guint i = 0; i < length; i++)
    g_variant_builder_add (&builder, "{ss}", keys[i], (const char *) g_hash_table_lookup (table, keys[i]));
  return g_variant_builder_end (&builder);
}

static GVariant *
image_to_variant (const RiImage *image)
{
  return g_variant_new ("(msmsmsms@a{ss}@a{ss})", image->digest, image->media_type, image->os,
                        image->architecture, sorted_map (image->annotations), sorted_map (image->labels));
}

static GVariant *
list_to_variant (const RiImageList *list)
{
  GVariantBuilder images;

  g_variant_builder_init (&images, G_VARIANT_TYPE ("a" IMAGE_TYPE));
  for (guint i = 0; i < list->images->len; i++)
    g_variant_builder_add_value (&images, image_to_variant (g_ptr_array_index (list->images, i)));
  return g_variant_new ("(msms@a" IMAGE_TYPE ")", list->digest, list->media_type, g_variant_builder_end (&images));
}

static GVariant *
model_to_variant (const RiIndexConfig *index, const RiRegistryConfig *registry, const RiRegistryModel *model)
{
  GVariantBuilder repositories;

  g_variant_builder_init (&repositories, G_VARIANT_TYPE ("a" REPOSITORY_TYPE));
  for (guint i = 0; i < model->repositories->len; i++)
    {
      const RiRepository *repository = g_ptr_array_index (model->repositories, i);
      GVariantBuilder tagged;

      g_variant_builder_init (&tagged, G_VARIANT_TYPE ("a" TAGGED_TYPE));
      for (guint j = 0; j < repository->tagged->len; j++)
        {
          const RiTagged *entry = g_ptr_array_index (repository->tagged, j);
          g_variant_builder_add (&tagged, "(^as@m" IMAGE_TYPE "@m" LIST_TYPE ")", entry->tags,
                                 g_variant_new_maybe (G_VARIANT_TYPE (IMAGE_TYPE),
                                                      entry->image ? image_to_variant (entry->image) : NULL),
                                 g_variant_new_maybe (G_VARIANT_TYPE (LIST_TYPE),
                                                      entry->list ? list_to_variant (entry->list) : NULL));
        }
      g_variant_builder_add (&repositories, "(s@a" TAGGED_TYPE ")", repository->name,
                             g_variant_builder_end (&tagged));
    }
  return g_variant_new ("(ussm^as^as@a" REPOSITORY_TYPE ")", (guint32) STORE_VERSION, index->name,
                        model->registry, registry ? registry->repositories : NULL, index->tags,
                        g_variant_builder_end (&repositories));
}

/* Written durably: after a crash the file is the previous model or this
 * one. With @changed, whether the bytes differ from the file's. */
gboolean
ri_model_store_save (const char *path, const RiIndexConfig *index, const RiRegistryConfig *registry,
                     RiRegistryModel *model, gboolean *changed, GError **error)
{
  g_autoptr(GVariant) variant = g_variant_ref_sink (model_to_variant (index, registry, model));
  g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (variant);
  g_autofree char *directory = g_path_get_dirname (path);
  g_autoptr(RiAtomicFile) file = NULL;

  if (g_mkdir_with_parents (directory, 0755) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, RI_ERROR, RI_ERROR_WRITE, "Cannot create '%s': %s", directory, g_strerror (saved_errno));
      return FALSE;
    }
  /* Readable by all, like the index files it stands for. */
  file = ri_atomic_file_new (path, 0644, error);
  return file != NULL &&
         ri_atomic_file_write (file, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), error) &&
         ri_atomic_file_commit (file, TRUE, TRUE, changed, error);
}

static void
fill_map (GHashTable *table, GVariant *map)
{
  GVariantIter iter;
  const char *key, *value;

  g_variant_iter_init (&iter, map);
  while (g_variant_iter_next (&iter, "{&s&s}", &key, &value))
    g_hash_table_replace (table, g_strdup (key), g_strdup (value));
}

static RiImage *
image_from_variant (GVariant *variant)
{
  RiImage *image = ri_image_new ();
  g_autoptr(GVariant) annotations = NULL;
  g_autoptr(GVariant) labels = NULL;

  g_variant_get (variant, "(msmsmsms@a{ss}@a{ss})", &image->digest, &image->media_type, &image->os,
                 &image->architecture, &annotations, &labels);
  fill_map (image->annotations, annotations);
  fill_map (image->labels, labels);
  return image;
}

static gboolean
same_strv (const char * const *a, const char * const *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_strv_equal (a, b);
}

static gboolean
mismatch (GError **error, const char *path, const char *what)
{
  g_set_error (error, RI_ERROR, RI_ERROR_NOT_FOUND, "'%s' was saved for %s", path, what);
  return FALSE;
}

/* Whether what was saved is what a scan under @index and @registry would
 * select: the same registry and repositories, and the same tag patterns
 * (a scan selects the tags of every index it serves, so it holds at least
 * the index's own). Filters applied when answering may differ. */
static gboolean
check_selection (GVariant *variant, const char *path, const RiIndexConfig *index,
                 const RiRegistryConfig *registry, GError **error)
{
  const char *name, *url;
  g_autofree char **repositories = NULL;
  g_autofree char **tags = NULL;
  guint32 version;

  g_variant_get_child (variant, 0, "u", &version);
  g_variant_get_child (variant, 1, "&s", &name);
  g_variant_get_child (variant, 2, "&s", &url);
  g_variant_get_child (variant, 3, "m^a&s", &repositories);
  g_variant_get_child (variant, 4, "^a&s", &tags);
  if (version != STORE_VERSION)
    return mismatch (error, path, "another version of regindexer");
  if (!g_str_equal (name, index->name))
    return mismatch (error, path, "another index");
  if (!g_str_equal (url, index->registry))
    return mismatch (error, path, "another registry");
  if (!same_strv ((const char * const *) repositories,
                  registry ? (const char * const *) registry->repositories : NULL))
    return mismatch (error, path, "other repositories");
  if (!same_strv ((const char * const *) tags, (const char * const *) index->tags))
    return mismatch (error, path, "other tags");
  return TRUE;
}

static GBytes *
read_all (int fd, gsize size_hint, GError **error)
{
  g_autoptr(GByteArray) buffer = g_byte_array_sized_new (size_hint);
  guint8 chunk[64 * 1024];

  for (;;)
    {
      ssize_t n = read (fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;
          g_set_error_literal (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno), g_strerror (saved_errno));
          return NULL;
        }
      if (n == 0)
        break;
      g_byte_array_append (buffer, chunk, n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&buffer));
}

/* The model saved for @index at @path, or NULL with RI_ERROR_NOT_FOUND
 * when there is none or it was saved for another selection (a scan must
 * then build it), or another error when the file cannot be read. @st
 * (nullable) gets the status of the very file read, which a writer may
 * have renamed another over since. */
RiRegistryModel *
ri_model_store_load (const char *path, const RiIndexConfig *index, const RiRegistryConfig *registry,
                     struct stat *st, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) variant = NULL;
  g_autoptr(GVariant) repositories = NULL;
  g_autoptr(RiRegistryModel) model = NULL;
  GVariantIter repository_iter;
  const char *registry_url;
  guint32 version;
  struct stat local_st;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    {
      int saved_errno = errno;
      g_set_error (error, RI_ERROR, saved_errno == ENOENT ? RI_ERROR_NOT_FOUND : RI_ERROR_FAILED,
                   "Cannot open '%s': %s", path, g_strerror (saved_errno));
      return NULL;
    }
  if (st == NULL)
    st = &local_st;
  if (fstat (fd, st) != 0 || !S_ISREG (st->st_mode))
    {
      close (fd);
      g_set_error (error, RI_ERROR, RI_ERROR_FAILED, "'%s' is not a regular file", path);
      return NULL;
    }
  /* An empty file cannot be mapped, and is no model either. */
  if (st->st_size == 0)
    {
      close (fd);
      g_set_error (error, RI_ERROR, RI_ERROR_FAILED, "'%s' is empty", path);
      return NULL;
    }
  if (st->st_size > STORE_MAX_SIZE)
    {
      close (fd);
      g_set_error (error, RI_ERROR, RI_ERROR_TOO_LARGE, "'%s' is larger than a saved model may be (%" G_GOFFSET_FORMAT
                   " bytes, at most %" G_GOFFSET_FORMAT ")", path, (goffset) st->st_size, STORE_MAX_SIZE);
      return NULL;
    }
  /* Read, not mapped: a file truncated under a mapping would kill the
   * process with SIGBUS. */
  bytes = read_all (fd, st->st_size, &local_error);
  close (fd);
  if (bytes == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_FAILED, "Cannot read '%s': %s", path, local_error->message);
      return NULL;
    }
  variant = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (STORE_TYPE), bytes, FALSE));
  /* Written on a machine of the other byte order (a shared directory). */
  g_variant_get_child (variant, 0, "u", &version);
  if (version == GUINT32_SWAP_LE_BE (STORE_VERSION))
    {
      GVariant *swapped = g_variant_byteswap (variant);
      g_variant_unref (variant);
      variant = swapped;
    }
  if (!check_selection (variant, path, index, registry, error))
    return NULL;

  g_variant_get_child (variant, 2, "&s", &registry_url);
  model = ri_registry_model_new (registry_url);
  repositories = g_variant_get_child_value (variant, 5);
  g_variant_iter_init (&repository_iter, repositories);
  for (GVariant *entry; (entry = g_variant_iter_next_value (&repository_iter)) != NULL; g_variant_unref (entry))
    {
      g_autoptr(GVariantIter) tagged_iter = NULL;
      const char *name;
      RiRepository *repository;
      GVariant *tagged;

      g_variant_get (entry, "(&sa" TAGGED_TYPE ")", &name, &tagged_iter);
      repository = ri_repository_new (name);
      g_ptr_array_add (model->repositories, repository);
      while ((tagged = g_variant_iter_next_value (tagged_iter)) != NULL)
        {
          g_autoptr(GVariant) tags = g_variant_get_child_value (tagged, 0);
          g_autoptr(GVariant) image_maybe = g_variant_get_child_value (tagged, 1);
          g_autoptr(GVariant) list_maybe = g_variant_get_child_value (tagged, 2);
          g_autoptr(GVariant) image_value = g_variant_get_maybe (image_maybe);
          g_autoptr(GVariant) list_value = g_variant_get_maybe (list_maybe);
          g_autoptr(RiImage) image = NULL;
          g_autoptr(RiImageList) list = NULL;

          g_variant_unref (tagged);
          /* Exactly one of them, and some tag, or the file is not ours. */
          if ((image_value == NULL) == (list_value == NULL) || g_variant_n_children (tags) == 0)
            {
              g_set_error (error, RI_ERROR, RI_ERROR_FAILED, "'%s' is damaged (repository %s)", path, name);
              g_variant_unref (entry);
              return NULL;
            }
          if (image_value != NULL)
            {
              image = image_from_variant (image_value);
              if (image->digest == NULL)
                {
                  g_set_error (error, RI_ERROR, RI_ERROR_FAILED, "'%s' is damaged (repository %s)", path, name);
                  g_variant_unref (entry);
                  return NULL;
                }
            }
          else
            {
              g_autoptr(GVariant) images = NULL;
              GVariantIter image_iter;
              GVariant *child;

              list = ri_image_list_new ();
              g_variant_get (list_value, "(msms@a" IMAGE_TYPE ")", &list->digest, &list->media_type, &images);
              if (list->digest == NULL)
                {
                  g_set_error (error, RI_ERROR, RI_ERROR_FAILED, "'%s' is damaged (repository %s)", path, name);
                  g_variant_unref (entry);
                  return NULL;
                }
              g_variant_iter_init (&image_iter, images);
              while ((child = g_variant_iter_next_value (&image_iter)) != NULL)
                {
                  g_ptr_array_add (list->images, image_from_variant (child));
                  g_variant_unref (child);
                }
            }
          g_ptr_array_add (repository->tagged,
                           ri_tagged_new (g_variant_dup_strv (tags, NULL), image, list));
        }
    }
  /* Saved sorted; sorted again so that a damaged or foreign file cannot
   * break the order the writer relies on. */
  ri_registry_model_sort (model);
  return g_steal_pointer (&model);
}
