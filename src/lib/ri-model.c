#include "config.h"

#include <string.h>

#include "ri-model.h"

RiImage *
ri_image_new (void)
{
  RiImage *image = g_new0 (RiImage, 1);

  g_atomic_ref_count_init (&image->ref_count);
  image->annotations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  image->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return image;
}

RiImage *
ri_image_ref (RiImage *image)
{
  g_atomic_ref_count_inc (&image->ref_count);
  return image;
}

void
ri_image_unref (RiImage *image)
{
  if (!g_atomic_ref_count_dec (&image->ref_count))
    return;
  g_free (image->digest);
  g_free (image->media_type);
  g_free (image->os);
  g_free (image->architecture);
  g_hash_table_unref (image->annotations);
  g_hash_table_unref (image->labels);
  g_free (image);
}

RiImageList *
ri_image_list_new (void)
{
  RiImageList *list = g_new0 (RiImageList, 1);

  g_atomic_ref_count_init (&list->ref_count);
  list->images = g_ptr_array_new_with_free_func ((GDestroyNotify) ri_image_unref);
  return list;
}

RiImageList *
ri_image_list_ref (RiImageList *list)
{
  g_atomic_ref_count_inc (&list->ref_count);
  return list;
}

void
ri_image_list_unref (RiImageList *list)
{
  if (!g_atomic_ref_count_dec (&list->ref_count))
    return;
  g_free (list->digest);
  g_free (list->media_type);
  g_ptr_array_unref (list->images);
  g_free (list);
}

RiTagged *
ri_tagged_new (GStrv tags, RiImage *image, RiImageList *list)
{
  RiTagged *tagged = g_new0 (RiTagged, 1);

  g_return_val_if_fail ((image == NULL) != (list == NULL), NULL);
  tagged->tags = tags;
  tagged->image = image ? ri_image_ref (image) : NULL;
  tagged->list = list ? ri_image_list_ref (list) : NULL;
  return tagged;
}

void
ri_tagged_free (RiTagged *tagged)
{
  g_strfreev (tagged->tags);
  g_clear_pointer (&tagged->image, ri_image_unref);
  g_clear_pointer (&tagged->list, ri_image_list_unref);
  g_free (tagged);
}

const char *
ri_tagged_get_digest (const RiTagged *tagged)
{
  return tagged->image ? tagged->image->digest : tagged->list->digest;
}

RiRepository *
ri_repository_new (const char *name)
{
  RiRepository *repository = g_new0 (RiRepository, 1);

  g_atomic_ref_count_init (&repository->ref_count);
  repository->name = g_strdup (name);
  repository->tagged = g_ptr_array_new_with_free_func ((GDestroyNotify) ri_tagged_free);
  return repository;
}

RiRepository *
ri_repository_ref (RiRepository *repository)
{
  g_atomic_ref_count_inc (&repository->ref_count);
  return repository;
}

void
ri_repository_unref (RiRepository *repository)
{
  if (!g_atomic_ref_count_dec (&repository->ref_count))
    return;
  g_free (repository->name);
  g_ptr_array_unref (repository->tagged);
  g_free (repository);
}

/* Python compares lists of tags element by element, then by length; the
 * original tool sorted that way, and so does the format. */
static int
compare_tagged (gconstpointer a, gconstpointer b)
{
  const RiTagged *ta = *(RiTagged * const *) a;
  const RiTagged *tb = *(RiTagged * const *) b;
  guint i;

  for (i = 0; ta->tags[i] && tb->tags[i]; i++)
    {
      int c = strcmp (ta->tags[i], tb->tags[i]);
      if (c != 0)
        return c;
    }
  if (ta->tags[i] || tb->tags[i])
    return ta->tags[i] ? 1 : -1;
  return strcmp (ri_tagged_get_digest (ta), ri_tagged_get_digest (tb));
}

void
ri_repository_sort (RiRepository *repository)
{
  g_ptr_array_sort (repository->tagged, compare_tagged);
}

RiRegistryModel *
ri_registry_model_new (const char *registry)
{
  RiRegistryModel *model = g_new0 (RiRegistryModel, 1);

  g_atomic_ref_count_init (&model->ref_count);
  model->registry = g_strdup (registry);
  model->repositories = g_ptr_array_new_with_free_func ((GDestroyNotify) ri_repository_unref);
  model->referenced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  model->skipped = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
  return model;
}

RiRegistryModel *
ri_registry_model_ref (RiRegistryModel *model)
{
  g_atomic_ref_count_inc (&model->ref_count);
  return model;
}

void
ri_registry_model_unref (RiRegistryModel *model)
{
  if (!g_atomic_ref_count_dec (&model->ref_count))
    return;
  g_free (model->registry);
  g_ptr_array_unref (model->repositories);
  g_hash_table_unref (model->referenced);
  g_hash_table_unref (model->skipped);
  g_free (model);
}

static int
compare_repositories (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(RiRepository * const *) a)->name, (*(RiRepository * const *) b)->name);
}

void
ri_registry_model_sort (RiRegistryModel *model)
{
  g_ptr_array_sort (model->repositories, compare_repositories);
  for (guint i = 0; i < model->repositories->len; i++)
    ri_repository_sort (g_ptr_array_index (model->repositories, i));
}

/* @base with the repositories named in @refreshed (a set) taken from
 * @update instead: those @update lacks are gone from the registry. The
 * repositories are shared, not copied; both inputs stay as they are. */
RiRegistryModel *
ri_registry_model_merge (RiRegistryModel *base, RiRegistryModel *update, GHashTable *refreshed)
{
  RiRegistryModel *model = ri_registry_model_new (base->registry);
  GHashTableIter iter;
  gpointer digest;

  for (guint i = 0; i < base->repositories->len; i++)
    {
      RiRepository *repository = g_ptr_array_index (base->repositories, i);
      if (!g_hash_table_contains (refreshed, repository->name))
        g_ptr_array_add (model->repositories, ri_repository_ref (repository));
    }
  for (guint i = 0; i < update->repositories->len; i++)
    {
      RiRepository *repository = g_ptr_array_index (update->repositories, i);
      if (g_hash_table_contains (refreshed, repository->name))
        g_ptr_array_add (model->repositories, ri_repository_ref (repository));
    }
  g_ptr_array_sort (model->repositories, compare_repositories);

  /* What was skipped follows the repositories it was found in. */
  {
    GHashTable *sources[] = { base->skipped, update->skipped };
    gpointer name, counts;

    for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
      {
        g_hash_table_iter_init (&iter, sources[i]);
        while (g_hash_table_iter_next (&iter, &name, &counts))
          if (g_hash_table_contains (refreshed, name) == (i == 1))
            g_hash_table_replace (model->skipped, g_strdup (name), g_hash_table_ref (counts));
      }
  }

  g_hash_table_iter_init (&iter, base->referenced);
  while (g_hash_table_iter_next (&iter, &digest, NULL))
    g_hash_table_add (model->referenced, g_strdup (digest));
  g_hash_table_iter_init (&iter, update->referenced);
  while (g_hash_table_iter_next (&iter, &digest, NULL))
    g_hash_table_add (model->referenced, g_strdup (digest));
  return model;
}

/* Counts an object of @repository left out of the model, by @reason. */
void
ri_registry_model_add_skipped (RiRegistryModel *model, const char *repository, const char *reason)
{
  GHashTable *counts = g_hash_table_lookup (model->skipped, repository);

  if (counts == NULL)
    {
      counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_hash_table_insert (model->skipped, g_strdup (repository), counts);
    }
  g_hash_table_replace (counts, g_strdup (reason),
                        GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (counts, reason)) + 1));
}

/* The objects skipped in all the repositories: a new reason → count table. */
GHashTable *
ri_registry_model_count_skipped (RiRegistryModel *model)
{
  GHashTable *total = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter, inner;
  gpointer counts, reason, count;

  g_hash_table_iter_init (&iter, model->skipped);
  while (g_hash_table_iter_next (&iter, NULL, &counts))
    {
      g_hash_table_iter_init (&inner, counts);
      while (g_hash_table_iter_next (&inner, &reason, &count))
        g_hash_table_replace (total, g_strdup (reason),
                              GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (total, reason)) +
                                                GPOINTER_TO_UINT (count)));
    }
  return total;
}
