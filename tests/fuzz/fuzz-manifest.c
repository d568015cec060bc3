/* Registry content: manifests and image lists, config blobs, and catalog
 * and tag-list pages. The first byte picks the parser. */
#include "config.h"

#include <stdint.h>

#include "ri-manifest.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  /* No body at all (a 200 without one) is NULL, and reaches every parser. */
  if (size < 2)
    {
      g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL;
      g_assert_null (ri_manifest_parse (NULL, NULL, &e1));
      g_assert_null (ri_image_config_parse (NULL, &e2));
      g_assert_null (ri_name_list_parse (NULL, "tags", &e3));
      g_assert (e1 != NULL && e2 != NULL && e3 != NULL);
      g_assert_false (ri_manifest_is_schema1 (NULL, NULL));
      return 0;
    }
  bytes = g_bytes_new (data + 1, size - 1);
  switch (data[0] % 4)
    {
    case 0:
      {
        g_autoptr(RiManifest) manifest = ri_manifest_parse (bytes, NULL, &error);
        g_assert ((manifest == NULL) != (error == NULL));
        (void) ri_manifest_is_schema1 (bytes, NULL);
        for (guint i = 0; manifest != NULL && manifest->children != NULL && i < manifest->children->len; i++)
          (void) ri_descriptor_classify (&g_array_index (manifest->children, RiDescriptor, i));
        if (manifest != NULL)
          (void) ri_object_kind_to_string (manifest->kind);
        break;
      }
    case 1:
      {
        g_autoptr(RiImageConfig) config = ri_image_config_parse (bytes, &error);
        g_assert ((config == NULL) != (error == NULL));
        break;
      }
    case 2:
      {
        g_autoptr(GPtrArray) names = ri_name_list_parse (bytes, "repositories", &error);
        g_assert ((names == NULL) != (error == NULL));
        break;
      }
    default:
      {
        g_autoptr(GPtrArray) names = ri_name_list_parse (bytes, "tags", &error);
        g_assert ((names == NULL) != (error == NULL));
        break;
      }
    }
  return 0;
}
