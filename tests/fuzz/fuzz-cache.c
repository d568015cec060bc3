/* The on-disk cache: its remembered tags file, and entries that must
 * match their digest. */
#include "config.h"

#include <glib/gstdio.h>
#include <stdint.h>

#include "ri-content-cache.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static char *directory = NULL;
  g_autofree char *tags_dir = NULL;
  g_autofree char *tags_file = NULL;
  g_autofree char *entry_dir = NULL;
  g_autofree char *entry = NULL;
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "http://r", -1);
  g_autofree char *tags_name = g_strconcat (hash, ".json", NULL);
  g_autoptr(RiContentCache) cache = NULL;
  g_autoptr(GBytes) found = NULL;
  const char *digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  if (directory == NULL)
    directory = g_dir_make_tmp ("ri-fuzz-cache-XXXXXX", NULL);
  tags_dir = g_build_filename (directory, "tags", NULL);
  tags_file = g_build_filename (tags_dir, tags_name, NULL);
  entry_dir = g_build_filename (directory, "sha256", "e3", NULL);
  entry = g_build_filename (entry_dir, digest + 9, NULL);
  g_mkdir_with_parents (tags_dir, 0700);
  g_mkdir_with_parents (entry_dir, 0700);
  g_file_set_contents (tags_file, (const char *) data, size, NULL);
  g_file_set_contents (entry, (const char *) data, size, NULL);

  cache = ri_content_cache_new (directory, FALSE);
  ri_content_cache_get_tag (cache, "http://r", "repo", "latest");
  found = ri_content_cache_lookup (cache, digest);
  /* Only the empty input has the digest of the empty string. */
  g_assert ((found != NULL) == (size == 0));
  return 0;
}
