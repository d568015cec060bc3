#define G_LOG_DOMAIN "Index"

#include "config.h"

#include <errno.h>
#include <string.h>

#include "ri-atomic-file.h"
#include "ri-error.h"
#include "ri-index-writer.h"
#include "ri-json-printer.h"

static gboolean
has_all_keys (GHashTable *map, GStrv keys)
{
  for (guint i = 0; keys[i]; i++)
    if (!g_hash_table_contains (map, keys[i]))
      return FALSE;
  return TRUE;
}

static gboolean
image_matches (const RiIndexConfig *index, const RiIndexQuery *query, const RiImage *image)
{
  if (index->architectures != NULL &&
      !g_strv_contains ((const char * const *) index->architectures, image->architecture))
    return FALSE;
  return has_all_keys (image->annotations, index->required_annotations) &&
         has_all_keys (image->labels, index->required_labels) &&
         ri_index_query_matches_image (query, image);
}

static gboolean
tags_match (const RiIndexConfig *index, GStrv tags)
{
  for (guint i = 0; tags[i]; i++)
    if (ri_index_config_matches_tag (index, tags[i]))
      return TRUE;
  return FALSE;
}

static gboolean
is_flatpak_key (const char *key)
{
  return g_str_has_prefix (key, "org.freedesktop.") || g_str_has_prefix (key, "org.flatpak.");
}

/* The index is written straight into text, in the layout of
 * ri-json-printer.c (keys sorted, 4-space indentation), without building
 * a tree of every image first: for a large registry that tree would be
 * several times the size of the file. The keys of each level are
 * written in sorted order by hand. */

typedef struct {
  RiTagged *tagged;       /* (unowned) */
  GPtrArray *children;    /* (owned) (nullable) (element-type RiImage) lists: the matching children */
} Kept;

static void
kept_clear (Kept *kept)
{
  g_clear_pointer (&kept->children, g_ptr_array_unref);
}

static void
key (GString *out, guint level, const char *name, gboolean first)
{
  if (!first)
    g_string_append_c (out, ',');
  ri_json_append_indent (out, level);
  ri_json_append_string (out, name);
  g_string_append (out, ": ");
}

static int
compare_keys (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Annotations or labels for one index: skipped keys left out, icons
 * rewritten. The model's table is shared by every index and never
 * modified, so nothing one index does leaks into another. */
static gboolean
write_map (GString *out, guint level, const RiIndexConfig *index, GHashTable *map, gboolean skip_flatpak,
           RiIconStore *icons, GError **error)
{
  g_autofree gpointer *keys = NULL;
  guint n = 0, written = 0;

  keys = g_hash_table_get_keys_as_array (map, &n);
  qsort (keys, n, sizeof (gpointer), compare_keys);
  g_string_append_c (out, '{');
  for (guint i = 0; i < n; i++)
    {
      const char *name = keys[i];
      const char *value = g_hash_table_lookup (map, name);
      g_autofree char *rewritten = NULL;

      if (skip_flatpak && is_flatpak_key (name))
        continue;
      if (icons != NULL && index->extract_icons && ri_icon_store_is_icon_key (name))
        {
          g_autoptr(GError) local_error = NULL;
          rewritten = ri_icon_store_rewrite (icons, value, &local_error);
          if (local_error != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
        }
      key (out, level + 1, name, written++ == 0);
      ri_json_append_string (out, rewritten ? rewritten : value);
    }
  if (written > 0)
    ri_json_append_indent (out, level);
  g_string_append_c (out, '}');
  return TRUE;
}

static void
write_tags (GString *out, guint level, GStrv tags)
{
  g_string_append_c (out, '[');
  for (guint i = 0; tags[i]; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      ri_json_append_indent (out, level + 1);
      ri_json_append_string (out, tags[i]);
    }
  if (tags[0] != NULL)
    ri_json_append_indent (out, level);
  g_string_append_c (out, ']');
}

static gboolean
write_image (GString *out, guint level, const RiIndexConfig *index, const RiImage *image, GStrv tags,
             RiIconStore *icons, GError **error)
{
  g_string_append_c (out, '{');
  key (out, level + 1, "Annotations", TRUE);
  if (!write_map (out, level + 1, index, image->annotations, index->skip_flatpak_annotations, icons, error))
    return FALSE;
  key (out, level + 1, "Architecture", FALSE);
  ri_json_append_string (out, image->architecture);
  key (out, level + 1, "Digest", FALSE);
  ri_json_append_string (out, image->digest);
  key (out, level + 1, "Labels", FALSE);
  if (!write_map (out, level + 1, index, image->labels, index->skip_flatpak_labels, icons, error))
    return FALSE;
  key (out, level + 1, "MediaType", FALSE);
  ri_json_append_string (out, image->media_type);
  key (out, level + 1, "OS", FALSE);
  ri_json_append_string (out, image->os);
  if (tags != NULL)
    {
      key (out, level + 1, "Tags", FALSE);
      write_tags (out, level + 1, tags);
    }
  ri_json_append_indent (out, level);
  g_string_append_c (out, '}');
  return TRUE;
}

static gboolean
write_kept (GString *out, guint level, const RiIndexConfig *index, GArray *kept, gboolean lists,
            RiIconStore *icons, GError **error)
{
  g_string_append_c (out, '[');
  for (guint i = 0; i < kept->len; i++)
    {
      Kept *entry = &g_array_index (kept, Kept, i);

      if (i > 0)
        g_string_append_c (out, ',');
      ri_json_append_indent (out, level + 1);
      if (!lists)
        {
          if (!write_image (out, level + 1, index, entry->tagged->image, entry->tagged->tags, icons, error))
            return FALSE;
          continue;
        }
      g_string_append_c (out, '{');
      key (out, level + 2, "Digest", TRUE);
      ri_json_append_string (out, entry->tagged->list->digest);
      key (out, level + 2, "Images", FALSE);
      g_string_append_c (out, '[');
      for (guint j = 0; j < entry->children->len; j++)
        {
          if (j > 0)
            g_string_append_c (out, ',');
          ri_json_append_indent (out, level + 3);
          if (!write_image (out, level + 3, index, g_ptr_array_index (entry->children, j), NULL, icons, error))
            return FALSE;
        }
      ri_json_append_indent (out, level + 2);
      g_string_append_c (out, ']');
      key (out, level + 2, "MediaType", FALSE);
      ri_json_append_string (out, entry->tagged->list->media_type);
      key (out, level + 2, "Tags", FALSE);
      write_tags (out, level + 2, entry->tagged->tags);
      ri_json_append_indent (out, level + 1);
      g_string_append_c (out, '}');
    }
  if (kept->len > 0)
    ri_json_append_indent (out, level);
  g_string_append_c (out, ']');
  return TRUE;
}

#define FLUSH_SIZE (64 * 1024)
/* A temporary file untouched this long belongs to a write that was killed. */
#define STALE_TEMPORARY_S 3600

/* Where the text goes as it is made: a file, a buffer, or nowhere. */
typedef gboolean (*Sink) (const char *data, gsize length, gpointer user_data, GError **error);

static gboolean
flush (GString *out, Sink sink, gpointer sink_data, gsize threshold, GError **error)
{
  if (out->len < threshold)
    return TRUE;
  if (sink != NULL && !sink (out->str, out->len, sink_data, error))
    return FALSE;
  g_string_truncate (out, 0);
  return TRUE;
}

static gboolean
file_sink (const char *data, gsize length, gpointer user_data, GError **error)
{
  return ri_atomic_file_write (user_data, data, length, error);
}

static gboolean
buffer_sink (const char *data, gsize length, gpointer user_data, GError **error)
{
  g_byte_array_append (user_data, (const guint8 *) data, length);
  return TRUE;
}

/* Writes the index into @sink as it goes, so that memory stays flat
 * whatever the size of the index. @query (nullable) narrows what the
 * index selects. */
static gboolean
build_into (const RiIndexConfig *index, RiRegistryModel *model, const RiIndexQuery *query, RiIconStore *icons,
            RiIndexCounts *counts, Sink sink, gpointer sink_data, GError **error)
{
  g_autoptr(GString) out = g_string_sized_new (2 * FLUSH_SIZE);
  g_autoptr(GArray) images = g_array_new (FALSE, TRUE, sizeof (Kept));
  g_autoptr(GArray) lists = g_array_new (FALSE, TRUE, sizeof (Kept));
  RiIndexCounts local_counts = { 0 };
  guint written = 0;

  g_array_set_clear_func (lists, (GDestroyNotify) kept_clear);
  g_string_append_c (out, '{');
  key (out, 1, "Registry", TRUE);
  ri_json_append_string (out, index->registry_public);
  key (out, 1, "Results", FALSE);
  g_string_append_c (out, '[');

  for (guint i = 0; i < model->repositories->len; i++)
    {
      RiRepository *repository = g_ptr_array_index (model->repositories, i);

      if (!ri_index_query_matches_repository (query, repository->name))
        continue;
      g_array_set_size (images, 0);
      g_array_set_size (lists, 0);
      for (guint j = 0; j < repository->tagged->len; j++)
        {
          RiTagged *tagged = g_ptr_array_index (repository->tagged, j);
          Kept kept = { tagged, NULL };

          if (!tags_match (index, tagged->tags) || !ri_index_query_matches_tags (query, tagged->tags))
            continue;
          if (tagged->image != NULL)
            {
              if (image_matches (index, query, tagged->image))
                g_array_append_val (images, kept);
              continue;
            }
          kept.children = g_ptr_array_new ();
          for (guint k = 0; k < tagged->list->images->len; k++)
            if (image_matches (index, query, g_ptr_array_index (tagged->list->images, k)))
              g_ptr_array_add (kept.children, g_ptr_array_index (tagged->list->images, k));
          if (kept.children->len == 0)
            kept_clear (&kept);
          else
            {
              local_counts.images += kept.children->len;
              local_counts.lists++;
              g_array_append_val (lists, kept);
            }
        }
      if (images->len == 0 && lists->len == 0)
        continue;
      local_counts.images += images->len;
      local_counts.repositories++;

      if (written++ > 0)
        g_string_append_c (out, ',');
      ri_json_append_indent (out, 2);
      g_string_append_c (out, '{');
      key (out, 3, "Images", TRUE);
      if (!write_kept (out, 3, index, images, FALSE, icons, error))
        return FALSE;
      key (out, 3, "Lists", FALSE);
      if (!write_kept (out, 3, index, lists, TRUE, icons, error))
        return FALSE;
      key (out, 3, "Name", FALSE);
      ri_json_append_string (out, repository->name);
      ri_json_append_indent (out, 2);
      g_string_append_c (out, '}');
      if (!flush (out, sink, sink_data, FLUSH_SIZE, error))
        return FALSE;
    }

  if (written > 0)
    ri_json_append_indent (out, 1);
  g_string_append (out, "]\n}\n");
  if (counts != NULL)
    *counts = local_counts;
  return flush (out, sink, sink_data, 0, error);
}

/* Writes the index for @index from @model to its output file: readers see
 * the old file or the new one, never a mix, and a file whose content would
 * not change is left alone (*@changed says which happened). */
gboolean
ri_index_write (const RiIndexConfig *index, RiRegistryModel *model, RiIconStore *icons, RiIndexCounts *counts,
                gboolean *changed, GError **error)
{
  g_autofree char *directory = NULL;
  g_autoptr(RiAtomicFile) file = NULL;

  *changed = FALSE;
  /* An index that is only served still counts, and keeps its icons. */
  if (index->output == NULL)
    return build_into (index, model, NULL, icons, counts, NULL, NULL, error);
  directory = g_path_get_dirname (index->output);
  if (g_mkdir_with_parents (directory, 0755) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, RI_ERROR, RI_ERROR_WRITE, "Cannot create the directory '%s': %s",
                   directory, g_strerror (saved_errno));
      return FALSE;
    }
  if (ri_atomic_file_remove_stale (index->output, STALE_TEMPORARY_S) > 0)
    g_message ("Removed what an interrupted write of '%s' left behind", index->output);
  file = ri_atomic_file_new (index->output, 0644, error);
  if (file == NULL)
    return FALSE;
  if (!build_into (index, model, NULL, icons, counts, file_sink, file, error))
    return FALSE;
  return ri_atomic_file_commit (file, TRUE, TRUE, changed, error);
}

/* The index as ri_index_write() would write it, narrowed by @query
 * (nullable), in memory: what the HTTP listener answers with. */
GBytes *
ri_index_render (const RiIndexConfig *index, RiRegistryModel *model, const RiIndexQuery *query,
                 RiIconStore *icons, RiIndexCounts *counts, GError **error)
{
  g_autoptr(GByteArray) buffer = g_byte_array_new ();

  if (!build_into (index, model, query, icons, counts, buffer_sink, buffer, error))
    return NULL;
  return g_byte_array_free_to_bytes (g_steal_pointer (&buffer));
}

