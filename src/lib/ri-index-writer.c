#define G_LOG_DOMAIN "Index"

#include "config.h"

#include <errno.h>
#include <string.h>

#include "ri-atomic-file.h"
#include "ri-error.h"
#include "ri-index-writer.h"

static gboolean
has_all_keys (GHashTable *map, GStrv keys)
{
  for (guint i = 0; keys[i]; i++)
    if (!g_hash_table_contains (map, keys[i]))
      return FALSE;
  return TRUE;
}

static gboolean
image_matches (const RiIndexConfig *index, const RiImage *image)
{
  if (index->architectures != NULL &&
      !g_strv_contains ((const char * const *) index->architectures, image->architecture))
    return FALSE;
  return has_all_keys (image->annotations, index->required_annotations) &&
         has_all_keys (image->labels, index->required_labels);
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

/* Builds a fresh object for one index: the model is shared by all indexes
 * of the registry and is never modified, so one index's icon rewriting or
 * skipping cannot leak into another's. */
static JsonNode *
build_map (const RiIndexConfig *index, GHashTable *map, gboolean skip_flatpak, RiIconStore *icons,
           GError **error)
{
  g_autoptr(JsonObject) object = json_object_new ();
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, map);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autofree char *rewritten = NULL;

      if (skip_flatpak && is_flatpak_key (key))
        continue;
      if (icons != NULL && index->extract_icons && ri_icon_store_is_icon_key (key))
        {
          g_autoptr(GError) local_error = NULL;
          rewritten = ri_icon_store_rewrite (icons, value, &local_error);
          if (local_error != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return NULL;
            }
        }
      json_object_set_string_member (object, key, rewritten ? rewritten : value);
    }
  return json_node_init_object (json_node_alloc (), object);
}

static JsonNode *
strv_node (GStrv strv)
{
  JsonArray *array = json_array_sized_new (g_strv_length (strv));

  for (guint i = 0; strv[i]; i++)
    json_array_add_string_element (array, strv[i]);
  return json_node_init_array (json_node_alloc (), array);
}

static JsonObject *
build_image (const RiIndexConfig *index, const RiImage *image, GStrv tags, RiIconStore *icons, GError **error)
{
  g_autoptr(JsonObject) object = json_object_new ();
  JsonNode *annotations, *labels;

  annotations = build_map (index, image->annotations, index->skip_flatpak_annotations, icons, error);
  if (annotations == NULL)
    return NULL;
  json_object_set_member (object, "Annotations", annotations);
  labels = build_map (index, image->labels, index->skip_flatpak_labels, icons, error);
  if (labels == NULL)
    return NULL;
  json_object_set_member (object, "Labels", labels);
  json_object_set_string_member (object, "Architecture", image->architecture);
  json_object_set_string_member (object, "Digest", image->digest);
  json_object_set_string_member (object, "MediaType", image->media_type);
  json_object_set_string_member (object, "OS", image->os);
  if (tags != NULL)
    json_object_set_member (object, "Tags", strv_node (tags));
  return g_steal_pointer (&object);
}

JsonNode *
ri_index_build (const RiIndexConfig *index, RiRegistryModel *model, RiIconStore *icons,
                RiIndexCounts *counts, GError **error)
{
  g_autoptr(JsonObject) root = json_object_new ();
  JsonArray *results = json_array_new ();
  RiIndexCounts local_counts = { 0 };

  json_object_set_string_member (root, "Registry", index->registry_public);
  json_object_set_array_member (root, "Results", results);

  for (guint i = 0; i < model->repositories->len; i++)
    {
      RiRepository *repository = g_ptr_array_index (model->repositories, i);
      g_autoptr(JsonArray) images = json_array_new ();
      g_autoptr(JsonArray) lists = json_array_new ();
      JsonObject *entry;

      for (guint j = 0; j < repository->tagged->len; j++)
        {
          RiTagged *tagged = g_ptr_array_index (repository->tagged, j);

          if (!tags_match (index, tagged->tags))
            continue;

          if (tagged->image != NULL)
            {
              JsonObject *image;

              if (!image_matches (index, tagged->image))
                continue;
              image = build_image (index, tagged->image, tagged->tags, icons, error);
              if (image == NULL)
                return NULL;
              json_array_add_object_element (images, image);
              local_counts.images++;
            }
          else
            {
              g_autoptr(JsonArray) children = json_array_new ();
              JsonObject *list;

              for (guint k = 0; k < tagged->list->images->len; k++)
                {
                  RiImage *child = g_ptr_array_index (tagged->list->images, k);
                  JsonObject *image;

                  if (!image_matches (index, child))
                    continue;
                  image = build_image (index, child, NULL, icons, error);
                  if (image == NULL)
                    return NULL;
                  json_array_add_object_element (children, image);
                }
              if (json_array_get_length (children) == 0)
                continue;
              local_counts.images += json_array_get_length (children);
              local_counts.lists++;
              list = json_object_new ();
              json_object_set_string_member (list, "Digest", tagged->list->digest);
              json_object_set_array_member (list, "Images", g_steal_pointer (&children));
              json_object_set_string_member (list, "MediaType", tagged->list->media_type);
              json_object_set_member (list, "Tags", strv_node (tagged->tags));
              json_array_add_object_element (lists, list);
            }
        }

      if (json_array_get_length (images) == 0 && json_array_get_length (lists) == 0)
        continue;
      local_counts.repositories++;
      entry = json_object_new ();
      json_object_set_string_member (entry, "Name", repository->name);
      json_object_set_array_member (entry, "Images", g_steal_pointer (&images));
      json_object_set_array_member (entry, "Lists", g_steal_pointer (&lists));
      json_array_add_object_element (results, entry);
    }

  if (counts != NULL)
    *counts = local_counts;
  return json_node_init_object (json_node_alloc (), root);
}

/* Writes @contents to @path so that a reader sees the old file or the
 * new one, never a mix (temporary file in the same directory, fsync,
 * rename), and leaves an unchanged file alone so that its modification
 * time, and the HTTP validators derived from it, stay stable. */
gboolean
ri_index_write_file (const char *path, const char *contents, gboolean *changed, GError **error)
{
  g_autofree char *directory = g_path_get_dirname (path);
  g_autofree char *old = NULL;
  gsize old_length = 0;
  gsize length = strlen (contents);

  *changed = FALSE;
  if (g_file_get_contents (path, &old, &old_length, NULL) &&
      old_length == length && memcmp (old, contents, length) == 0)
    return TRUE;

  if (g_mkdir_with_parents (directory, 0755) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, RI_ERROR, RI_ERROR_WRITE, "Cannot create the directory '%s': %s",
                   directory, g_strerror (saved_errno));
      return FALSE;
    }
  if (!ri_write_file_atomically (path, contents, length, 0644, TRUE, error))
    {
      g_prefix_error (error, "Cannot write the index: ");
      return FALSE;
    }
  *changed = TRUE;
  return TRUE;
}
