/* What the daemon's HTTP listener takes from anyone who can reach it:
 * query strings of the index protocol and registry notification bodies.
 * The first byte picks the parser. */
#include "config.h"

#include <stdint.h>

#include "ri-index-query.h"
#include "ri-registry-events.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;

  if (size < 1)
    return 0;
  if (data[0] % 2 == 0)
    {
      g_autofree char *text = g_strndup ((const char *) data + 1, size - 1);
      g_autoptr(RiIndexQuery) query = ri_index_query_parse (text, &error);
      g_autoptr(RiImage) image = ri_image_new ();
      char *tags[] = { (char *) "latest", NULL };

      g_assert ((query == NULL) != (error == NULL));
      if (query != NULL)
        {
          g_autoptr(RiIndexQuery) again = ri_index_query_parse (ri_index_query_get_canonical (query), NULL);

          /* The canonical form means the same, and is its own canonical form. */
          g_assert_nonnull (again);
          g_assert_cmpstr (ri_index_query_get_canonical (again), ==, ri_index_query_get_canonical (query));
          image->os = g_strdup ("linux");
          image->architecture = g_strdup ("amd64");
          g_hash_table_insert (image->labels, g_strdup ("org.flatpak.ref"), g_strdup ("app/x"));
          (void) ri_index_query_matches_repository (query, "a/b");
          (void) ri_index_query_matches_tags (query, tags);
          (void) ri_index_query_matches_image (query, image);
        }
    }
  else
    {
      /* SoupServer hands an empty body over as NULL: so does this. */
      g_autoptr(GPtrArray) events = ri_registry_events_parse (size > 1 ? (const char *) data + 1 : NULL,
                                                              size - 1, &error);

      g_assert ((events == NULL) != (error == NULL));
      for (guint i = 0; events != NULL && i < events->len; i++)
        (void) ri_registry_event_changes_content (g_ptr_array_index (events, i));
    }
  return 0;
}
