/* Data-URI icons from labels and annotations. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "ri-icon-store.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *input = g_strndup ((const char *) data, size);
  /* Raw, and behind the prefix, so the fuzzer need not find the prefix. */
  g_autofree char *prefixed = g_strconcat ("data:image/png;base64,", input, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) png = NULL;

  png = ri_data_uri_decode_png (input, &error);
  g_assert ((png == NULL) != (error == NULL));
  g_clear_error (&error);
  g_clear_pointer (&png, g_bytes_unref);
  png = ri_data_uri_decode_png (prefixed, &error);
  g_assert ((png == NULL) != (error == NULL));
  if (png != NULL)
    g_assert (g_bytes_get_size (png) >= 8 && memcmp (g_bytes_get_data (png, NULL), "\x89PNG", 4) == 0);
  return 0;
}
