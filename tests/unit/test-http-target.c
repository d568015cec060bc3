#include "config.h"

#include <string.h>

#include "ri-http-target.h"

/* ri_http_split_target() stands in for GUri on the listener's every
 * request: where it takes a target, it must give what GUri gives. */

static GUri *base;

/* What the listener made of @target before: its path unescaped, its
 * query as GUri keeps it. FALSE when GUri refuses it. */
static gboolean
guri_split (const char *target, char **path, char **query)
{
  g_autoptr(GUri) uri = g_uri_parse_relative (base, target, G_URI_FLAGS_ENCODED, NULL);

  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "http") != 0)
    return FALSE;
  *path = g_uri_unescape_string (g_uri_get_path (uri), NULL);
  *query = g_strdup (g_uri_get_query (uri));
  return *path != NULL;
}

/* Whether the fast split takes @target, checked against GUri when so. */
static gboolean
check (const char *target)
{
  char buffer[256];
  const char *path;
  const char *query;
  g_autofree char *guri_path = NULL;
  g_autofree char *guri_query = NULL;

  if (!ri_http_split_target (target, buffer, sizeof buffer, &path, &query))
    return FALSE;
  if (!guri_split (target, &guri_path, &guri_query))
    g_error ("split %s, which GUri refuses", target);
  if (g_strcmp0 (path, guri_path) != 0 || g_strcmp0 (query, guri_query) != 0)
    g_error ("split %s into %s and %s, GUri into %s and %s", target, path, query ? query : "(null)", guri_path,
             guri_query ? guri_query : "(null)");
  return TRUE;
}

static void
test_plain_targets_are_split (void)
{
  const char *plain[] = {
    "/index/static?label%3Aorg.flatpak.ref%3Aexists=1&architecture=amd64&os=linux&tag=latest",
    "/index/static?label:org.flatpak.ref:exists=1&architecture=amd64&os=linux&tag=latest",
    "/testing/index/dynamic?os=linux&tag=latest&tag=1.0+rc",
    "/index/static",
    "/index/static?",
    "/",
    "/icons/ab/cdef0123.png",
    "/events?registry=https://registry.example.com/",
    "/a/.hidden/..x/x../index/static?q=a?b/c",
    "/index/static?annotation%3Aorg.example%2Fkey=%C3%A9t%C3%A9",
    "/index/static?tag=%00",
  };

  for (guint i = 0; i < G_N_ELEMENTS (plain); i++)
    if (!check (plain[i]))
      g_error ("%s was left to GUri", plain[i]);
}

static void
test_others_are_left_to_guri (void)
{
  const char *others[] = {
    "", "*", "index/static", "//host/index/static", "http://localhost/index/static",
    "/a/../index/static", "/./index/static", "/index/static/..", "/index/.",
    "/index%2Fstatic", "/index/static%00", "/index/static#fragment", "/index/static?tag=latest#f",
    "/index/static?tag=l%61test", "/index/static?label%3aorg.flatpak.ref%3aexists=1", "/index/static?tag=%",
    "/index/static?tag=%4", "/index/static?tag=%G0", "/index static", "/index/static?tag=a b",
    "/index/static?tag=\xc3\xa9", "/index/static?tag=\"x\"", "/index/static?tag=<x>", "/index\\static",
  };

  for (guint i = 0; i < G_N_ELEMENTS (others); i++)
    if (check (others[i]))
      g_error ("%s was split", others[i]);
}

static void
test_long_targets_are_left_to_guri (void)
{
  g_autofree char *a = g_strnfill (300, 'a');
  g_autofree char *long_path = g_strconcat ("/", a, NULL);
  char buffer[16];
  const char *path;
  const char *query;

  g_assert_false (check (long_path));
  g_assert_true (ri_http_split_target ("/index/static", buffer, sizeof buffer, &path, &query));
  g_assert_false (ri_http_split_target ("/index/static?a=b", buffer, sizeof buffer, &path, &query));
}

/* Random targets over the characters that matter: every one split must
 * be split as GUri splits it, and plenty must be. */
static void
test_random_targets_agree_with_guri (void)
{
  static const char *pieces[] = {
    "/", "/", "?", "&", "=", "#", ".", "..", "%", "%3A", "%3a", "%2F", "%41", "%7E", "%00", "%C3%A9", "%G1",
    "+", " ", ":", "@", "~", "a", "Z", "0", "index", "static", "tag=latest", "\xc3\xa9", "\x7f", "\"", "[", "\\",
  };
  g_autoptr(GRand) rand = g_rand_new_with_seed (1234);
  guint split = 0;

  for (guint i = 0; i < 200000; i++)
    {
      g_autoptr(GString) target = g_string_new (g_rand_boolean (rand) ? "/" : "");
      guint n = g_rand_int_range (rand, 0, 12);

      for (guint j = 0; j < n; j++)
        g_string_append (target, pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))]);
      split += check (target->str);
    }
  g_assert_cmpuint (split, >, 10000);
}

int
main (int argc, char **argv)
{
  int result;

  g_test_init (&argc, &argv, NULL);
  base = g_uri_parse ("http://localhost/", G_URI_FLAGS_ENCODED, NULL);
  g_test_add_func ("/http-target/plain", test_plain_targets_are_split);
  g_test_add_func ("/http-target/others", test_others_are_left_to_guri);
  g_test_add_func ("/http-target/long", test_long_targets_are_left_to_guri);
  g_test_add_func ("/http-target/random", test_random_targets_agree_with_guri);
  result = g_test_run ();
  g_uri_unref (base);
  return result;
}
