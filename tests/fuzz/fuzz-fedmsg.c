/* fedmsg messages from the bus: frames separated by a 0xff byte. */
#include "config.h"

#include <stdint.h>

#include "ri-fedmsg-subscriber.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  const char *const topics[] = { "org.fedoraproject.dev.bodhi.compose.complete", NULL };
  g_autofree char *reason = NULL;
  size_t start = 0;

  for (size_t i = 0; i <= size; i++)
    if (i == size || data[i] == 0xff)
      {
        g_ptr_array_add (frames, g_bytes_new (data + start, i - start));
        start = i + 1;
      }
  ri_fedmsg_classify (frames, size > 0 && data[0] == 0xfe, topics, &reason);
  g_assert (reason != NULL);
  return 0;
}
