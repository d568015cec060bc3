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

  if (size < 1)
    return 0;
  bytes = g_bytes_new (data + 1, size - 1);
  switch (data[0] % 4)
    {
    case 0:
      {
        g_autoptr(RiManifest) manifest = ri_manifest_parse (bytes, NULL, &error);
        g_assert ((manifest == NULL) != (error == NULL));
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
