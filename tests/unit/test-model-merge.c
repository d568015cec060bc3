#include "config.h"

#include "ri-model.h"

/* A repository with one image tagged "latest" of @digest. */
static RiRepository *
repository (const char *name, const char *digest)
{
  RiRepository *repository = ri_repository_new (name);
  g_autoptr(RiImage) image = ri_image_new ();
  const char *tags[] = { "latest", NULL };

  image->digest = g_strdup (digest);
  g_ptr_array_add (repository->tagged, ri_tagged_new (g_strdupv ((char **) tags), image, NULL));
  return repository;
}

static RiRegistryModel *
model (const char *first, ...)
{
  RiRegistryModel *model = ri_registry_model_new ("https://registry.example");
  va_list args;

  va_start (args, first);
  for (const char *name = first; name != NULL; name = va_arg (args, const char *))
    {
      const char *digest = va_arg (args, const char *);
      g_ptr_array_add (model->repositories, repository (name, digest));
      g_hash_table_add (model->referenced, g_strdup (digest));
    }
  va_end (args);
  ri_registry_model_sort (model);
  return model;
}

static GHashTable *
set_of (const char *first, ...)
{
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  va_list args;

  va_start (args, first);
  for (const char *name = first; name != NULL; name = va_arg (args, const char *))
    g_hash_table_add (set, g_strdup (name));
  va_end (args);
  return set;
}

/* "name=digest name=digest …" */
static char *
describe (RiRegistryModel *model)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < model->repositories->len; i++)
    {
      RiRepository *repository = g_ptr_array_index (model->repositories, i);
      RiTagged *tagged = g_ptr_array_index (repository->tagged, 0);

      g_string_append_printf (text, "%s%s=%s", i ? " " : "", repository->name, ri_tagged_get_digest (tagged));
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
test_refreshed_repositories_are_replaced (void)
{
  g_autoptr(RiRegistryModel) base = model ("a", "sha256:a1", "b", "sha256:b1", "c", "sha256:c1", NULL);
  /* A refresh of b, c and d: b changed, c is gone, d is new; e was
   * scanned too but not asked for, so it must not slip in. */
  g_autoptr(RiRegistryModel) update = model ("b", "sha256:b2", "d", "sha256:d1", "e", "sha256:e1", NULL);
  g_autoptr(GHashTable) refreshed = set_of ("b", "c", "d", NULL);
  g_autoptr(RiRegistryModel) merged = ri_registry_model_merge (base, update, refreshed);
  g_autofree char *merged_text = describe (merged);
  g_autofree char *base_text = describe (base);
  g_autofree char *update_text = describe (update);

  g_assert_cmpstr (merged_text, ==, "a=sha256:a1 b=sha256:b2 d=sha256:d1");
  /* Models are shared by indexes and live answers: the inputs stay as they were. */
  g_assert_cmpstr (base_text, ==, "a=sha256:a1 b=sha256:b1 c=sha256:c1");
  g_assert_cmpstr (update_text, ==, "b=sha256:b2 d=sha256:d1 e=sha256:e1");
  /* What was not refreshed is shared, not copied. */
  g_assert_true (g_ptr_array_index (merged->repositories, 0) == g_ptr_array_index (base->repositories, 0));
  g_assert_true (g_ptr_array_index (merged->repositories, 1) == g_ptr_array_index (update->repositories, 0));
  g_assert_cmpstr (merged->registry, ==, base->registry);
}

static void
test_referenced_digests_are_the_union (void)
{
  g_autoptr(RiRegistryModel) base = model ("a", "sha256:a1", "b", "sha256:b1", NULL);
  g_autoptr(RiRegistryModel) update = model ("b", "sha256:b2", NULL);
  g_autoptr(GHashTable) refreshed = set_of ("b", NULL);
  g_autoptr(RiRegistryModel) merged = ri_registry_model_merge (base, update, refreshed);

  /* The cache prunes by these: what the old b used may still be in
   * another index's file, so nothing is forgotten before a full run. */
  g_assert_cmpuint (g_hash_table_size (merged->referenced), ==, 3);
  g_assert_true (g_hash_table_contains (merged->referenced, "sha256:a1"));
  g_assert_true (g_hash_table_contains (merged->referenced, "sha256:b1"));
  g_assert_true (g_hash_table_contains (merged->referenced, "sha256:b2"));
}

static void
test_sorted_by_name (void)
{
  g_autoptr(RiRegistryModel) base = model ("m", "sha256:m", "z", "sha256:z", NULL);
  g_autoptr(RiRegistryModel) update = model ("a", "sha256:a", "n", "sha256:n", NULL);
  g_autoptr(GHashTable) refreshed = set_of ("a", "n", NULL);
  g_autoptr(RiRegistryModel) merged = ri_registry_model_merge (base, update, refreshed);
  g_autofree char *text = describe (merged);

  g_assert_cmpstr (text, ==, "a=sha256:a m=sha256:m n=sha256:n z=sha256:z");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model/merge/replaced", test_refreshed_repositories_are_replaced);
  g_test_add_func ("/model/merge/referenced", test_referenced_digests_are_the_union);
  g_test_add_func ("/model/merge/sorted", test_sorted_by_name);
  return g_test_run ();
}
