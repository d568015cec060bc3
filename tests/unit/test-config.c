#include "config.h"

#include "ri-config.h"
#include "ri-credentials.h"
#include "ri-error.h"
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static RiConfig *
load (const char *yaml, GError **error)
{
  return ri_config_load_data (yaml, strlen (yaml), "test.yaml", "/srv", error);
}

static void
assert_error (const char *yaml, const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiConfig) config = load (yaml, &error);

  g_assert_null (config);
  g_assert_error (error, RI_ERROR, RI_ERROR_CONFIG);
  if (strstr (error->message, expected) == NULL)
    g_error ("expected '%s' in '%s'", expected, error->message);
}

static void
test_original_example (void)
{
  /* The original README's example, duplicate 'output' and all. */
  const char *yaml =
    "icons_dir: /var/lib/regindexer/icons\n"
    "icons_uri: /icons/\n"
    "indexes:\n"
    "    flatpak_amd64:\n"
    "        output: /var/lib/regindexer/index/flatpak-amd64.json\n"
    "        registry: https://1.2.3.4:5000\n"
    "        registry_public: https://registry.example.com:5000\n"
    "        tags: ['latest', 'latest-*']\n"
    "        required_annotations: ['org.flatpak.body']\n"
    "        architectures: ['amd64']\n"
    "        output: /home/otaylor/tmp/flatpak.json\n"
    "    all:\n"
    "        output: index/all.json\n"
    "        registry: https://1.2.3.4:5000/\n"
    "        tags: ['latest']\n"
    "daemon:\n"
    "    topic_prefix: org.fedoraproject\n"
    "    environment: dev\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(RiConfig) config = load (yaml, &error);
  RiIndexConfig *index;

  g_assert_no_error (error);
  g_assert_cmpuint (config->indexes->len, ==, 2);
  index = ri_config_get_index (config, "flatpak_amd64");
  g_assert_nonnull (index);
  g_assert_cmpstr (index->output, ==, "/home/otaylor/tmp/flatpak.json");
  g_assert_cmpstr (index->registry, ==, "https://1.2.3.4:5000");
  g_assert_cmpstr (index->registry_public, ==, "https://registry.example.com:5000");
  g_assert_cmpstr (index->architectures[0], ==, "amd64");
  g_assert_true (ri_index_config_matches_tag (index, "latest"));
  g_assert_true (ri_index_config_matches_tag (index, "latest-1.2"));
  g_assert_false (ri_index_config_matches_tag (index, "latest1"));
  g_assert_false (index->extract_icons);

  index = ri_config_get_index (config, "all");
  g_assert_cmpstr (index->output, ==, "/srv/index/all.json");
  /* A trailing slash names the same registry, so it is scanned once. */
  g_assert_cmpstr (index->registry, ==, "https://1.2.3.4:5000");
  g_assert_cmpstr (index->registry_public, ==, "https://1.2.3.4:5000/");
  g_assert_null (index->architectures);

  g_assert_cmpstr (config->icons_uri, ==, "/icons/");
  g_assert_cmpstr (config->daemon.topics[0], ==, "org.fedoraproject.dev.bodhi.compose.complete");
  g_assert_cmpstr (config->daemon.topics[1], ==, "org.fedoraproject.dev.bodhi.mashtask.complete");
  g_assert_cmpuint (config->daemon.coalesce_delay_ms, ==, 200);
  g_assert_cmpuint (g_strv_length (config->warnings), ==, 1);
  g_assert_nonnull (strstr (config->warnings[0], "test.yaml:11:9: duplicate key 'output'"));
}

static void
test_unknown_key_suggestion (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiConfig) config = load ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n"
                                     "    tag: ['x']\n    frobnicate: 1\n", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (config->warnings), ==, 2);
  g_assert_cmpstr (config->warnings[0], ==,
                   "test.yaml:5:5: unknown key 'tag' in an index (did you mean 'tags'?)");
  g_assert_cmpstr (config->warnings[1], ==, "test.yaml:6:5: unknown key 'frobnicate' in an index, ignored");
  /* 'tags' left out means the documented default. */
  g_assert_cmpstr (ri_config_get_index (config, "a")->tags[0], ==, "latest");
}

static void
test_errors (void)
{
  assert_error ("indexes: [a, b\n", "test.yaml:2:1:");
  assert_error ("", "test.yaml:1:1: the file is empty");
  assert_error ("- a\n", "the top level' must be a mapping");
  assert_error ("icons_dir: x\n", "there is no 'indexes' section");
  assert_error ("indexes:\n  a:\n    registry: http://r\n", "test.yaml:2:3: index 'a' has no 'output'");
  assert_error ("indexes:\n  a:\n    output: a.json\n", "index 'a' has no 'registry'");
  assert_error ("indexes:\n  a:\n    output: a.json\n    registry: ftp://r\n",
                "test.yaml:4:15: 'registry' must be an http:// or https:// URL");
  assert_error ("indexes:\n  a:\n    output: a.json\n    registry: 'http://'\n", "has no host");
  assert_error ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n    tags: latest\n",
                "test.yaml:5:11: 'tags' must be a list");
  assert_error ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n    tags: ['la test']\n",
                "test.yaml:5:12: tag pattern 'la test' can never match");
  assert_error ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n    tags: []\n",
                "'tags' must not be empty");
  assert_error ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n    extract_icons: maybe\n",
                "test.yaml:5:20: 'extract_icons' must be true or false");
  assert_error ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n    extract_icons: true\n",
                "test.yaml:2:3: index 'a' has 'extract_icons' but the top level lacks 'icons_dir'");
  assert_error ("icons_dir: /i\nindexes:\n  a:\n    output: a.json\n    registry: http://r\n"
                "    extract_icons: true\n", "lacks 'icons_uri'");
  assert_error ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n"
                "  b:\n    output: a.json\n    registry: http://r\n", "writes to '/srv/a.json', as index 'a' does");
  assert_error ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n"
                "daemon:\n  reconnect_interval: soon\n", "test.yaml:6:23: 'reconnect_interval' must be a whole number");
  assert_error ("indexes: {}\n", "'indexes' is empty");
  assert_error ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n"
                "daemon:\n  endpoints: ['tcp://127.0.0.1:9940', 'localhost:9940']\n",
                "test.yaml:6:39: 'localhost:9940' is not a ZeroMQ endpoint");
  assert_error ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n    tags: ['[x]']\n",
                "tag pattern '[x]' can never match");
  assert_error ("indexes:\n  a: *nothing\n", "unknown alias");
}

static void
test_anchors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiConfig) config = load ("indexes:\n  a:\n    output: a.json\n    registry: &r http://r:1/\n"
                                     "  b:\n    output: b.json\n    registry: *r\n", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (ri_config_get_index (config, "b")->registry, ==, "http://r:1");
}

static void
test_coalesce_delay_zero (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiConfig) config = load ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n"
                                     "daemon:\n  coalesce_delay: 0\n", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (config->daemon.coalesce_delay_ms, ==, 0);
}

static void
test_patterns (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiConfig) config = load ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n"
                                     "    tags: ['v?.*', 'exact']\n", &error);
  RiIndexConfig *index;

  g_assert_no_error (error);
  index = ri_config_get_index (config, "a");
  g_assert_true (ri_index_config_matches_tag (index, "v1.0"));
  g_assert_true (ri_index_config_matches_tag (index, "v2."));
  g_assert_false (ri_index_config_matches_tag (index, "v10.0"));
  g_assert_true (ri_index_config_matches_tag (index, "exact"));
  g_assert_false (ri_index_config_matches_tag (index, "exact2"));
  g_assert_false (ri_index_config_matches_tag (index, "Exact"));
}

static void
test_http (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiConfig) defaults = load ("indexes:\n  a:\n    output: a.json\n    registry: http://r\n", &error);
  g_autoptr(RiConfig) config = NULL;
  const RiHttpServe *served;

  g_assert_no_error (error);
  g_assert_null (defaults->daemon.http.listen[0]);
  g_assert_cmpuint (defaults->daemon.http.serve->len, ==, 0);
  g_assert_false (defaults->daemon.http.events);
  g_assert_cmpuint (defaults->daemon.http.max_age_s, ==, 300);
  g_assert_null (ri_config_get_served (defaults, "a"));

  config = load ("indexes:\n  a:\n    registry: http://r\n  b:\n    output: b.json\n    registry: http://r\n"
                 "daemon:\n  http:\n    listen: ['127.0.0.1:8088', '[::1]:8088']\n"
                 "    serve: {/: a, /testing: b}\n    max_age: 0\n    events: true\n"
                 "    max_event_size: 4096\n", &error);
  g_assert_no_error (error);
  g_assert_null (ri_config_get_index (config, "a")->output);
  served = ri_config_get_served (config, "b");
  g_assert_cmpstr (served->prefix, ==, "/testing/");
  g_assert_cmpstr (ri_config_get_served (config, "a")->prefix, ==, "/");
  g_assert_cmpuint (config->daemon.http.max_age_s, ==, 0);
  g_assert_cmpuint (config->daemon.http.max_event_size, ==, 4096);
  g_assert_true (config->daemon.http.events);
  g_assert_null (config->daemon.http.events_token);
}

static void
test_http_errors (void)
{
  const char *index = "indexes:\n  a:\n    output: a.json\n    registry: http://r\n";
  const struct { const char *http; const char *expected; } cases[] = {
    { "    listen: ['[127.0.0.1]:80']\n", "does not start with an IP address" },
    { "    listen: ['::1:80']\n", "does not start with an IP address" },
    { "    listen: ['127.0.0.1']\n", "is not an address and port" },
    { "    listen: ['127.0.0.1:65536']\n", "does not end in a port" },
    { "    listen: ['127.0.0.1:80']\n    serve: {index: a}\n", "keys of 'serve' must be URL paths" },
    { "    listen: ['127.0.0.1:80']\n    serve: {/a/../b/: a}\n", "keys of 'serve' must be URL paths" },
    { "    listen: ['127.0.0.1:80']\n    serve: {/a: a, /a/: a}\n", "'/a/' is served twice" },
    { "    listen: ['127.0.0.1:80']\n    serve: {/: [a]}\n", "maps a URL path to the name of an index" },
    { "    listen: ['127.0.0.1:80']\n    events: true\n    events_token_file: /nonexistent\n",
      "not a readable file" },
    { "    listen: ['127.0.0.1:80']\n    max_event_size: 10\n", "'max_event_size' must be a whole number" },
    { "    events: true\n", "has no 'listen' addresses" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *yaml = g_strconcat (index, "daemon:\n  http:\n", cases[i].http, NULL);
      assert_error (yaml, cases[i].expected);
    }
}

static void
test_credentials_in_url (void)
{
  const char *cases[] = {
    "indexes:\n  a:\n    output: a.json\n    registry: http://user:S3CRET@r.example/\n",
    "indexes:\n  a:\n    output: a.json\n    registry: 'ftp://user:S3CRET@r.example'\n",
    "indexes:\n  a:\n    output: a.json\n    registry: 'http://user:S3CRET@r.example:99999'\n",
    "indexes:\n  a:\n    output: a.json\n    registry: 'http://user:S3CRET@[bad'\n",
    "indexes:\n  a:\n    output: a.json\n    registry: http://r\nregistries:\n  'https://u:S3CRET@r': {}\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RiConfig) config = load (cases[i], &error);

      g_assert_null (config);
      g_assert_error (error, RI_ERROR, RI_ERROR_CONFIG);
      g_assert_null (strstr (error->message, "S3CRET"));
      g_assert_nonnull (strstr (error->message, "must not hold credentials"));
      g_assert_true (g_str_has_prefix (error->message, "test.yaml:"));
    }
}

static char *
write_file (const char *directory, const char *name, const char *contents, int mode)
{
  g_autofree char *path = g_build_filename (directory, name, NULL);

  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
  return g_steal_pointer (&path);
}

/* An 'output' naming a file the configuration reads would silently
 * replace it on the first run. */
static void
test_output_replaces_nothing (void)
{
  g_autofree char *directory = g_dir_make_tmp ("ri-test-config-XXXXXX", NULL);
  g_autofree char *config_path = g_build_filename (directory, "config.yaml", NULL);
  g_autofree char *password = write_file (directory, "password", "pw\n", 0600);
  g_autofree char *token = write_file (directory, "token", "tk\n", 0600);
  /* user:pw */
  g_autofree char *auth = write_file (directory, "auth.json", "{\"auths\": {\"r2:80\": {\"auth\": \"dXNlcjpwdw==\"}}}", 0600);
  g_autofree char *link = g_build_filename (directory, "link.json", NULL);
  g_autofree char *other = write_file (directory, "other.json", "{}", 0644);
  const char *common = "registries:\n  http://r1:\n    username: u\n    password_file: password\n"
                       "  http://r2:\n    auth_file: auth.json\n"
                       "daemon:\n  http:\n    listen: ['127.0.0.1:80']\n    events: true\n"
                       "    events_token_file: token\n";
  const struct { const char *output; const char *expected; } cases[] = {
    { "config.yaml", ":3:13: index 'b' would replace '%s/config.yaml', the configuration file itself" },
    { "password", ":3:13: index 'b' would replace '%s/password', the 'password_file' of http://r1" },
    { "./auth.json", ":3:13: index 'b' would replace '%s/auth.json', the 'auth_file' of http://r2" },
    { "sub/../token", ":3:13: index 'b' would replace '%s/token', the 'events_token_file'" },
    { "other.json", ":6:13: index 'a' writes to '%s/other.json', as index 'b' does" },
    /* Another name of the same file. */
    { "link.json", ":6:13: index 'a' writes to '%s/other.json', the file index 'b' writes to" },
  };

  g_assert_nonnull (directory);
  g_assert_cmpint (symlink (other, link), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *yaml = g_strdup_printf ("indexes:\n  b:\n    output: %s\n    registry: http://r1\n"
                                               "  a:\n    output: other.json\n    registry: http://r2\n%s",
                                               cases[i].output, common);
      g_auto(GStrv) parts = g_strsplit (cases[i].expected, "%s", -1);
      g_autofree char *expected = g_strjoinv (directory, parts);
      g_autoptr(GError) error = NULL;
      g_autoptr(RiConfig) config = NULL;

      g_assert_true (g_file_set_contents (config_path, yaml, -1, NULL));
      config = ri_config_load_file (config_path, &error);
      g_assert_null (config);
      g_assert_error (error, RI_ERROR, RI_ERROR_CONFIG);
      if (strstr (error->message, expected) == NULL)
        g_error ("expected '%s' in '%s'", expected, error->message);
    }
  {
    /* And what does not clash loads. */
    g_autofree char *yaml = g_strdup_printf ("indexes:\n  b:\n    output: b.json\n    registry: http://r1\n"
                                             "  a:\n    output: other.json\n    registry: http://r2\n%s", common);
    g_autoptr(GError) error = NULL;
    g_autoptr(RiConfig) config = NULL;

    g_assert_true (g_file_set_contents (config_path, yaml, -1, NULL));
    config = ri_config_load_file (config_path, &error);
    g_assert_no_error (error);
  }
  for (const char *const *name = (const char *const[]) { "config.yaml", "password", "token", "auth.json",
                                                         "link.json", "other.json", NULL }; *name; name++)
    {
      g_autofree char *path = g_build_filename (directory, *name, NULL);
      g_unlink (path);
    }
  g_rmdir (directory);
}

/* Duplicates are found wherever they are among many indexes (the checks
 * are not quadratic any more; this checks what they find, not how fast). */
/* Docker's and podman's auth files: the entry for the registry's host
 * and port, nothing from the others, and a clear error for a broken file. */
static void
test_auth_files (void)
{
  g_autofree char *directory = g_dir_make_tmp ("ri-test-config-XXXXXX", NULL);
  /* dXNlcjpwdw== is user:pw; b3RoZXI6b3RoZXI= other:other */
  g_autofree char *good = write_file (directory, "good.json",
                                      "{\"auths\": {\"other:5000\": {\"auth\": \"b3RoZXI6b3RoZXI=\"},"
                                      " \"r:5000\": {\"auth\": 12}, \"https://r:5000\": {\"auth\": \"dXNlcjpwdw==\"}}}",
                                      0600);
  g_autofree char *empty = write_file (directory, "empty.json", "", 0600);
  g_autofree char *broken = write_file (directory, "broken.json", "{\"auths\": {\"r:5000\": }}", 0600);
  g_autofree char *not_base64 = write_file (directory, "odd.json", "{\"auths\": {\"r:5000\": {\"auth\": \"eA==\"}}}",
                                            0600);
  g_autofree char *missing = g_build_filename (directory, "missing.json", NULL);
  g_autoptr(GError) error = NULL;
  char *username = NULL, *password = NULL;

  g_assert_true (ri_credentials_from_auth_file (good, "http://r:5000", &username, &password, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (username, ==, "user");
  g_assert_cmpstr (password, ==, "pw");
  g_clear_pointer (&username, g_free);
  g_clear_pointer (&password, g_free);

  g_assert_true (ri_credentials_from_auth_file (good, "http://elsewhere:5000", &username, &password, &error));
  g_assert_no_error (error);
  g_assert_null (username);
  g_assert_true (ri_credentials_from_auth_file (empty, "http://r:5000", &username, &password, &error));
  g_assert_no_error (error);
  g_assert_null (username);

  g_assert_false (ri_credentials_from_auth_file (broken, "http://r:5000", &username, &password, &error));
  g_assert_nonnull (strstr (error->message, "Cannot read the auth file"));
  g_assert_nonnull (strstr (error->message, "at line 1, column 22"));
  g_clear_error (&error);
  g_assert_false (ri_credentials_from_auth_file (not_base64, "http://r:5000", &username, &password, &error));
  g_assert_error (error, RI_ERROR, RI_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_false (ri_credentials_from_auth_file (missing, "http://r:5000", &username, &password, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_null (username);

  for (const char *const *name = (const char *const[]) { good, empty, broken, not_base64, NULL }; *name; name++)
    g_unlink (*name);
  g_rmdir (directory);
}

static void
test_many_indexes (void)
{
  const guint n = 20000;
  const struct { guint at; const char *kind; } duplicates[] = {
    { 0, NULL }, { 1, "name" }, { n - 1, "name" }, { n / 2, "output" }, { n - 1, "output" },
  };

  for (guint d = 0; d < G_N_ELEMENTS (duplicates); d++)
    {
      g_autoptr(GString) yaml = g_string_new ("indexes:\n");
      g_autoptr(GError) error = NULL;
      g_autoptr(RiConfig) config = NULL;
      guint line = 0;

      for (guint i = 0; i < n; i++)
        {
          gboolean duplicate = duplicates[d].kind != NULL && i == duplicates[d].at;
          guint name = duplicate && g_str_equal (duplicates[d].kind, "name") ? 0 : i;
          guint output = duplicate && g_str_equal (duplicates[d].kind, "output") ? 0 : i;

          if (duplicate)
            line = 2 + 3 * i + (g_str_equal (duplicates[d].kind, "output") ? 1 : 0);
          g_string_append_printf (yaml, "  i%u:\n    output: o%u.json\n    registry: http://r%u\n",
                                  name, output, i % 7);
        }
      config = load (yaml->str, &error);
      if (duplicates[d].kind == NULL)
        {
          g_assert_no_error (error);
          g_assert_cmpuint (config->indexes->len, ==, n);
          g_assert_cmpuint (g_hash_table_size (config->registries), ==, 7);
          for (guint i = 0; i < n; i += 997)
            {
              g_autofree char *name = g_strdup_printf ("i%u", i);
              RiIndexConfig *index = ri_config_get_index (config, name);
              g_assert_nonnull (index);
              g_assert_cmpstr (index->name, ==, name);
            }
          g_assert_null (ri_config_get_index (config, "i20000"));
        }
      else
        {
          g_autofree char *where = g_strdup_printf ("test.yaml:%u:", line);
          g_assert_error (error, RI_ERROR, RI_ERROR_CONFIG);
          if (!g_str_has_prefix (error->message, where) ||
              strstr (error->message, g_str_equal (duplicates[d].kind, "name") ? "is defined twice"
                                                                               : "as index 'i0' does") == NULL)
            g_error ("expected %s… about a duplicate %s, not '%s'", where, duplicates[d].kind, error->message);
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/original-example", test_original_example);
  g_test_add_func ("/config/unknown-key-suggestion", test_unknown_key_suggestion);
  g_test_add_func ("/config/errors", test_errors);
  g_test_add_func ("/config/anchors", test_anchors);
  g_test_add_func ("/config/patterns", test_patterns);
  g_test_add_func ("/config/coalesce-delay-zero", test_coalesce_delay_zero);
  g_test_add_func ("/config/http", test_http);
  g_test_add_func ("/config/http-errors", test_http_errors);
  g_test_add_func ("/config/credentials-in-url", test_credentials_in_url);
  g_test_add_func ("/config/output-replaces-nothing", test_output_replaces_nothing);
  g_test_add_func ("/config/many-indexes", test_many_indexes);
  g_test_add_func ("/config/auth-files", test_auth_files);
  return g_test_run ();
}
