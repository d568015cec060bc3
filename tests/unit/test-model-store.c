#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "ri-config.h"
#include "ri-error.h"
#include "ri-model-store.h"

static RiConfig *
load_config (const char *tags)
{
  g_autofree char *yaml = g_strdup_printf ("indexes:\n  a/b c:\n    output: a.json\n    registry: http://r\n"
                                           "    tags: %s\n", tags);
  g_autoptr(GError) error = NULL;
  RiConfig *config = ri_config_load_data (yaml, strlen (yaml), "test.yaml", "/srv", &error);

  g_assert_no_error (error);
  return config;
}

static RiImage *
image (const char *digest, const char *os, const char *label)
{
  RiImage *result = ri_image_new ();

  result->digest = g_strdup (digest);
  result->media_type = g_strdup ("application/vnd.oci.image.manifest.v1+json");
  result->os = g_strdup (os);  /* NULL: a config without one */
  result->architecture = g_strdup ("amd64");
  g_hash_table_insert (result->labels, g_strdup ("org.example.l"), g_strdup (label));
  g_hash_table_insert (result->labels, g_strdup ("org.example.é"), g_strdup (""));
  g_hash_table_insert (result->annotations, g_strdup ("org.example.a"), g_strdup ("x"));
  return result;
}

static RiRegistryModel *
sample_model (const char *registry)
{
  RiRegistryModel *model = ri_registry_model_new (registry);
  RiRepository *app = ri_repository_new ("org.example.app");
  RiRepository *empty = ri_repository_new ("org.example.empty");
  g_autoptr(RiImage) plain = image ("sha256:1", "linux", "one");
  g_autoptr(RiImage) child = image ("sha256:3", NULL, "three");
  g_autoptr(RiImageList) list = ri_image_list_new ();
  const char *const plain_tags[] = { "latest", "v1", NULL };
  const char *const list_tags[] = { "multi", NULL };

  list->digest = g_strdup ("sha256:2");
  g_ptr_array_add (list->images, ri_image_ref (child));
  g_ptr_array_add (app->tagged, ri_tagged_new (g_strdupv ((GStrv) plain_tags), plain, NULL));
  g_ptr_array_add (app->tagged, ri_tagged_new (g_strdupv ((GStrv) list_tags), NULL, list));
  g_ptr_array_add (model->repositories, app);
  g_ptr_array_add (model->repositories, empty);
  ri_registry_model_sort (model);
  return model;
}

static void
assert_same_maps (GHashTable *a, GHashTable *b)
{
  GHashTableIter iter;
  gpointer key, value;

  g_assert_cmpuint (g_hash_table_size (a), ==, g_hash_table_size (b));
  g_hash_table_iter_init (&iter, a);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_assert_cmpstr (g_hash_table_lookup (b, key), ==, value);
}

static void
assert_same_images (const RiImage *a, const RiImage *b)
{
  g_assert_cmpstr (a->digest, ==, b->digest);
  g_assert_cmpstr (a->media_type, ==, b->media_type);
  g_assert_cmpstr (a->os, ==, b->os);
  g_assert_cmpstr (a->architecture, ==, b->architecture);
  assert_same_maps (a->labels, b->labels);
  assert_same_maps (a->annotations, b->annotations);
}

static void
assert_same_models (const RiRegistryModel *a, const RiRegistryModel *b)
{
  g_assert_cmpstr (a->registry, ==, b->registry);
  g_assert_cmpuint (a->repositories->len, ==, b->repositories->len);
  for (guint i = 0; i < a->repositories->len; i++)
    {
      const RiRepository *ra = g_ptr_array_index (a->repositories, i);
      const RiRepository *rb = g_ptr_array_index (b->repositories, i);

      g_assert_cmpstr (ra->name, ==, rb->name);
      g_assert_cmpuint (ra->tagged->len, ==, rb->tagged->len);
      for (guint j = 0; j < ra->tagged->len; j++)
        {
          const RiTagged *ta = g_ptr_array_index (ra->tagged, j);
          const RiTagged *tb = g_ptr_array_index (rb->tagged, j);

          g_assert_true (g_strv_equal ((const char * const *) ta->tags, (const char * const *) tb->tags));
          g_assert_true ((ta->image == NULL) == (tb->image == NULL));
          if (ta->image != NULL)
            assert_same_images (ta->image, tb->image);
          else
            {
              g_assert_cmpstr (ta->list->digest, ==, tb->list->digest);
              g_assert_cmpstr (ta->list->media_type, ==, tb->list->media_type);
              g_assert_cmpuint (ta->list->images->len, ==, tb->list->images->len);
              for (guint k = 0; k < ta->list->images->len; k++)
                assert_same_images (g_ptr_array_index (ta->list->images, k), g_ptr_array_index (tb->list->images, k));
            }
        }
    }
}

static void
test_round_trip (void)
{
  g_autofree char *directory = g_dir_make_tmp ("ri-test-models-XXXXXX", NULL);
  g_autoptr(RiConfig) config = load_config ("['*']");
  g_autoptr(RiConfig) other_tags = load_config ("['latest']");
  RiIndexConfig *index = ri_config_get_index (config, "a/b c");
  RiRegistryConfig *registry = ri_config_get_registry (config, index->registry);
  g_autoptr(RiRegistryModel) model = sample_model (index->registry);
  g_autoptr(RiRegistryModel) loaded = NULL;
  g_autoptr(RiRegistryModel) refused = NULL;
  g_autofree char *path = ri_model_store_path (directory, index->name);
  g_autofree char *expected_path = g_build_filename (directory, "a%2Fb%20c.model", NULL);
  g_autoptr(GError) error = NULL;
  gboolean changed = FALSE;
  struct stat st, st_again;

  /* The name cannot leave the directory. */
  g_assert_cmpstr (path, ==, expected_path);

  g_assert_true (ri_model_store_save (path, index, registry, model, &changed, &error));
  g_assert_no_error (error);
  g_assert_true (changed);
  loaded = ri_model_store_load (path, index, registry, &st, &error);
  g_assert_no_error (error);
  assert_same_models (model, loaded);

  /* The same model gives the same bytes: the file is left alone. */
  g_assert_true (ri_model_store_save (path, index, registry, loaded, &changed, &error));
  g_assert_false (changed);
  g_assert_cmpint (g_stat (path, &st_again), ==, 0);
  g_assert_cmpuint (st.st_ino, ==, st_again.st_ino);

  /* Saved for other tags: not a model this index may answer from. */
  refused = ri_model_store_load (path, ri_config_get_index (other_tags, "a/b c"),
                                 ri_config_get_registry (other_tags, index->registry), NULL, &error);
  g_assert_null (refused);
  g_assert_error (error, RI_ERROR, RI_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_unlink (path);
  refused = ri_model_store_load (path, index, registry, NULL, &error);
  g_assert_null (refused);
  g_assert_error (error, RI_ERROR, RI_ERROR_NOT_FOUND);
  g_rmdir (directory);
}

/* Whatever the bytes (a damaged or foreign file in a shared directory),
 * loading returns a model or an error, and never crashes. */
static void
test_damaged (void)
{
  g_autofree char *directory = g_dir_make_tmp ("ri-test-models-XXXXXX", NULL);
  g_autoptr(RiConfig) config = load_config ("['*']");
  RiIndexConfig *index = ri_config_get_index (config, "a/b c");
  RiRegistryConfig *registry = ri_config_get_registry (config, index->registry);
  g_autoptr(RiRegistryModel) model = sample_model (index->registry);
  g_autofree char *path = ri_model_store_path (directory, index->name);
  g_autofree char *good = NULL;
  gsize length = 0;
  GRand *rand = g_rand_new_with_seed (16);

  g_assert_true (ri_model_store_save (path, index, registry, model, NULL, NULL));
  g_assert_true (g_file_get_contents (path, &good, &length, NULL));
  for (guint round = 0; round < 2000; round++)
    {
      g_autofree char *bad = g_memdup2 (good, length);
      gsize bad_length = round % 3 == 0 ? (gsize) g_rand_int_range (rand, 0, length) : length;
      g_autoptr(GError) error = NULL;
      g_autoptr(RiRegistryModel) loaded = NULL;

      for (guint flips = g_rand_int_range (rand, 1, 8); flips > 0; flips--)
        bad[g_rand_int_range (rand, 0, length)] = g_rand_int_range (rand, 0, 256);
      g_assert_true (g_file_set_contents (path, bad, bad_length, NULL));
      loaded = ri_model_store_load (path, index, registry, NULL, &error);
      g_assert_true ((loaded == NULL) != (error == NULL));
      for (guint i = 0; loaded != NULL && i < loaded->repositories->len; i++)
        {
          RiRepository *repository = g_ptr_array_index (loaded->repositories, i);
          for (guint j = 0; j < repository->tagged->len; j++)
            {
              RiTagged *tagged = g_ptr_array_index (repository->tagged, j);
              g_assert_nonnull (ri_tagged_get_digest (tagged));
              g_assert_nonnull (tagged->tags[0]);
            }
        }
    }
  g_rand_free (rand);
  g_unlink (path);
  g_rmdir (directory);
}

/* A file far larger than any model is refused before it is read. */
static void
test_too_large (void)
{
  g_autofree char *directory = g_dir_make_tmp ("ri-test-models-XXXXXX", NULL);
  g_autoptr(RiConfig) config = load_config ("['*']");
  RiIndexConfig *index = ri_config_get_index (config, "a/b c");
  RiRegistryConfig *registry = ri_config_get_registry (config, index->registry);
  g_autoptr(RiRegistryModel) model = sample_model (index->registry);
  g_autofree char *path = ri_model_store_path (directory, index->name);
  g_autoptr(GError) error = NULL;
  g_autoptr(RiRegistryModel) loaded = NULL;

  g_assert_true (ri_model_store_save (path, index, registry, model, NULL, NULL));
  /* Sparse: the test writes no gigabytes either. */
  g_assert_no_errno (truncate (path, (off_t) 300 * 1024 * 1024));
  loaded = ri_model_store_load (path, index, registry, NULL, &error);
  g_assert_null (loaded);
  g_assert_error (error, RI_ERROR, RI_ERROR_TOO_LARGE);
  g_unlink (path);
  g_rmdir (directory);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model-store/round-trip", test_round_trip);
  g_test_add_func ("/model-store/damaged", test_damaged);
  g_test_add_func ("/model-store/too-large", test_too_large);
  return g_test_run ();
}
