#include "config.h"

#include <string.h>

#include "ri-error.h"
#include "ri-index-query.h"
#include "ri-registry-events.h"

static RiImage *
image (const char *os, const char *architecture, const char *label, const char *annotation)
{
  RiImage *image = ri_image_new ();

  image->os = g_strdup (os);
  image->architecture = g_strdup (architecture);
  if (label != NULL)
    g_hash_table_insert (image->labels, g_strdup (label), g_strdup ("v"));
  if (annotation != NULL)
    g_hash_table_insert (image->annotations, g_strdup (annotation), g_strdup ("v"));
  return image;
}

static void
assert_bad (const char *text, const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiIndexQuery) query = ri_index_query_parse (text, &error);

  g_assert_null (query);
  g_assert_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST);
  if (strstr (error->message, expected) == NULL)
    g_error ("expected '%s' in '%s'", expected, error->message);
}

static void
test_empty (void)
{
  g_autoptr(RiIndexQuery) query = ri_index_query_parse (NULL, NULL);
  g_autoptr(RiImage) any = image ("linux", "amd64", NULL, NULL);
  char *tags[] = { (char *) "x", NULL };

  g_assert_nonnull (query);
  g_assert_cmpstr (ri_index_query_get_canonical (query), ==, "");
  g_assert_true (ri_index_query_matches_repository (query, "r"));
  g_assert_true (ri_index_query_matches_tags (query, tags));
  g_assert_true (ri_index_query_matches_image (query, any));
}

static void
test_or_within_and_across (void)
{
  g_autoptr(RiIndexQuery) query =
    ri_index_query_parse ("architecture=amd64&architecture=arm64&label:org.flatpak.ref:exists=1", NULL);
  g_autoptr(RiImage) amd64 = image ("linux", "amd64", "org.flatpak.ref", NULL);
  g_autoptr(RiImage) arm64 = image ("linux", "arm64", "org.flatpak.ref", NULL);
  g_autoptr(RiImage) s390x = image ("linux", "s390x", "org.flatpak.ref", NULL);
  g_autoptr(RiImage) plain = image ("linux", "amd64", NULL, "org.flatpak.ref");

  g_assert_true (ri_index_query_matches_image (query, amd64));
  g_assert_true (ri_index_query_matches_image (query, arm64));
  g_assert_false (ri_index_query_matches_image (query, s390x));
  g_assert_false (ri_index_query_matches_image (query, plain)); /* an annotation is not a label */
}

static void
test_tags_and_repositories (void)
{
  g_autoptr(RiIndexQuery) query = ri_index_query_parse ("tag=latest&tag=1.0&repository=a%2Fb", NULL);
  char *one[] = { (char *) "1.0", (char *) "stable", NULL };
  char *none[] = { (char *) "testing", NULL };

  g_assert_true (ri_index_query_matches_tags (query, one));
  g_assert_false (ri_index_query_matches_tags (query, none));
  g_assert_true (ri_index_query_matches_repository (query, "a/b"));
  g_assert_false (ri_index_query_matches_repository (query, "a/c"));
}

static void
test_values (void)
{
  g_autoptr(RiIndexQuery) query = ri_index_query_parse ("annotation:org.x=v&label:y=v", NULL);
  g_autoptr(RiIndexQuery) other = ri_index_query_parse ("label:y=w", NULL);
  g_autoptr(RiImage) both = image ("linux", "amd64", "y", "org.x");
  g_autoptr(RiImage) label_only = image ("linux", "amd64", "y", NULL);

  g_assert_true (ri_index_query_matches_image (query, both));
  g_assert_false (ri_index_query_matches_image (query, label_only));
  g_assert_false (ri_index_query_matches_image (other, both));
}

static void
test_canonical (void)
{
  g_autoptr(RiIndexQuery) a = ri_index_query_parse ("tag=latest&os=linux&label%3Ax%3Aexists=1&tag=latest", NULL);
  g_autoptr(RiIndexQuery) b = ri_index_query_parse ("label:x:exists=1&os=linux&&tag=lat%65st", NULL);
  g_autoptr(RiIndexQuery) c = ri_index_query_parse ("annotation:a=x+y%26z", NULL);

  g_assert_cmpstr (ri_index_query_get_canonical (a), ==, ri_index_query_get_canonical (b));
  g_assert_cmpstr (ri_index_query_get_canonical (a), ==, "label:x:exists=1&os=linux&tag=latest");
  g_assert_cmpstr (ri_index_query_get_canonical (c), ==, "annotation:a=x%20y%26z");
}

static void
test_bad (void)
{
  assert_bad ("foo=1", "unknown query parameter 'foo'");
  assert_bad ("label:=1", "unknown query parameter 'label:'");
  assert_bad ("annotation::exists=1", "unknown query parameter");
  assert_bad ("label:x:exists=0", "takes only the value 1");
  assert_bad ("os", "has no value");
  assert_bad ("os=", "empty value");
  assert_bad ("os=%00", "not valid percent-encoded UTF-8");
  assert_bad ("os=%ff", "not valid percent-encoded UTF-8");
  assert_bad ("os=%4", "not valid percent-encoded UTF-8");
  {
    g_autoptr(GString) many = g_string_new (NULL);
    for (guint i = 0; i < 65; i++)
      g_string_append_printf (many, "tag=t%u&", i);
    assert_bad (many->str, "more than 64");
  }
}

static void
test_events (void)
{
  const char *body =
    "{\"events\": ["
    " {\"action\": \"push\", \"target\": {\"mediaType\": \"application/octet-stream\", \"repository\": \"a/b\","
    "  \"digest\": \"sha256:00\"}},"
    " {\"action\": \"push\", \"target\": {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
    "  \"repository\": \"a/b\", \"tag\": \"latest\", \"url\": \"http://r:5000/v2/a/b/manifests/x\"},"
    "  \"request\": {\"host\": \"r:5000\"}},"
    " {\"action\": \"push\", \"target\": {\"mediaType\": \"application/vnd.oci.image.index.v1+json\","
    "  \"repository\": \"a/b\", \"digest\": \"sha256:01\"}},"
    " {\"action\": \"pull\", \"target\": {\"repository\": \"a/b\", \"tag\": \"latest\"}},"
    " {\"action\": \"delete\", \"target\": {\"repository\": \"c\", \"digest\": \"sha256:02\"}}"
    "]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) events = ri_registry_events_parse (body, strlen (body), &error);
  gboolean expected[] = { FALSE, TRUE, TRUE, FALSE, TRUE };

  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < events->len; i++)
    g_assert_cmpint (ri_registry_event_changes_content (g_ptr_array_index (events, i)), ==, expected[i]);
  g_assert_cmpstr (((RiRegistryEvent *) g_ptr_array_index (events, 1))->host, ==, "r:5000");
  g_assert_cmpstr (((RiRegistryEvent *) g_ptr_array_index (events, 1))->tag, ==, "latest");
}

static void
test_bad_events (void)
{
  const char *bad[] = {
    "", "[]", "{}", "{\"events\": 1}", "{\"events\": [1]}",
    "{\"events\": [{\"target\": {\"repository\": \"a\"}}]}",
    "{\"events\": [{\"action\": \"push\"}]}",
    "{\"events\": [{\"action\": \"push\", \"target\": {\"repository\": \"../a\"}}]}",
    "{\"events\": [{\"action\": \"push\", \"target\": {\"repository\": \"a\", \"tag\": \"-x\"}}]}",
    "{\"events\": [{\"action\": \"push\", \"target\": {\"repository\": \"a\", \"url\": 3}}]}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) events = ri_registry_events_parse (bad[i], strlen (bad[i]), &error);

      g_assert_null (events);
      g_assert_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/query/empty", test_empty);
  g_test_add_func ("/query/or-within-and-across", test_or_within_and_across);
  g_test_add_func ("/query/tags-and-repositories", test_tags_and_repositories);
  g_test_add_func ("/query/values", test_values);
  g_test_add_func ("/query/canonical", test_canonical);
  g_test_add_func ("/query/bad", test_bad);
  g_test_add_func ("/events/parse", test_events);
  g_test_add_func ("/events/bad", test_bad_events);
  return g_test_run ();
}
