/* HTTP headers from the registry: Link and WWW-Authenticate. */
#include "config.h"

#include <stdint.h>

#include "ri-auth-challenge.h"
#include "ri-registry-client.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *header = g_strndup ((const char *) data, size);
  g_autofree char *next = ri_parse_link_next (header, "https://registry.example.com/v2/_catalog?n=100");
  g_autoptr(GPtrArray) challenges = ri_auth_challenges_parse (header);

  /* A next page is never on another host. */
  if (next != NULL)
    g_assert (g_str_has_prefix (next, "https://registry.example.com"));
  for (guint i = 0; i < challenges->len; i++)
    g_assert (((RiAuthChallenge *) g_ptr_array_index (challenges, i))->scheme != NULL);
  return 0;
}
