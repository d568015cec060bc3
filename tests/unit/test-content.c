#include "config.h"

#include <string.h>

#include "ri-auth-challenge.h"
#include "ri-error.h"
#include "ri-icon-store.h"
#include "ri-json-printer.h"
#include "ri-manifest.h"
#include "ri-names.h"
#include "ri-registry-client.h"

static void
test_printer (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *out = NULL;

  g_assert_true (json_parser_load_from_data (parser,
    "{\"b\": [], \"a\": {}, \"c\": [\"x\", {\"z\": 1, \"y\": \"é\\u0001\\\"\\\\/\\n\"}], \"d\": true}", -1, NULL));
  out = ri_json_to_string (json_parser_get_root (parser));
  /* Python's json.dump (indent=4, sort_keys=True, ensure_ascii=False). */
  g_assert_cmpstr (out, ==,
    "{\n"
    "    \"a\": {},\n"
    "    \"b\": [],\n"
    "    \"c\": [\n"
    "        \"x\",\n"
    "        {\n"
    "            \"y\": \"é\\u0001\\\"\\\\/\\n\",\n"
    "            \"z\": 1\n"
    "        }\n"
    "    ],\n"
    "    \"d\": true\n"
    "}\n");
}

static void
test_names (void)
{
  const char *good_repositories[] = { "a", "a/b/c", "org.example.app", "a_b", "a__b", "a---b", "0x/y9", NULL };
  const char *bad_repositories[] = { "", "A", "a/", "/a", "a//b", "../a", "a/../b", "a..b", "a%2fb", "a b",
                                     "a\nb", "-a", "a-", "a___b", "a/.b", NULL };
  const char *good_tags[] = { "latest", "1.0", "_x", "A-b.c_D", NULL };
  const char *bad_tags[] = { "", ".x", "-x", "a/b", "a:b", "a b", NULL };
  g_autofree char *long_tag = g_strnfill (129, 'a');

  for (guint i = 0; good_repositories[i]; i++)
    g_assert_true (ri_repository_name_is_valid (good_repositories[i]));
  for (guint i = 0; bad_repositories[i]; i++)
    if (ri_repository_name_is_valid (bad_repositories[i]))
      g_error ("'%s' accepted", bad_repositories[i]);
  for (guint i = 0; good_tags[i]; i++)
    g_assert_true (ri_tag_is_valid (good_tags[i]));
  for (guint i = 0; bad_tags[i]; i++)
    g_assert_false (ri_tag_is_valid (bad_tags[i]));
  g_assert_false (ri_tag_is_valid (long_tag));

  g_assert_true (ri_digest_is_valid ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  g_assert_false (ri_digest_is_valid ("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  g_assert_false (ri_digest_is_valid ("sha512:e3b0"));
  g_assert_false (ri_digest_is_valid ("sha256:../../etc/passwd"));
}

static GBytes *
bytes (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

static void
test_manifest (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) oci = bytes ("{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:"
                                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}}");
  g_autoptr(GBytes) list = bytes ("{\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\","
                                  "\"manifests\":[{\"digest\":\"sha256:1\",\"mediaType\":\"x\"}]}");
  g_autoptr(RiManifest) manifest = NULL;
  struct { const char *json; const char *message; } bad[] = {
    { "[1]", "not a JSON object" },
    { "{", "not valid JSON" },
    { "{\"mediaType\": 5}", "'mediaType' in the manifest is not a string" },
    { "{\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\"}", "has no config" },
    { "{\"config\": {\"digest\": \"sha256:x\"}}", "is not a sha256 digest" },
    { "{\"config\": {\"digest\": \"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"},"
      " \"annotations\": {\"a\": 1}}", "annotations 'a' in the manifest is not a string" },
    { "{\"config\": {\"digest\": \"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"},"
      " \"annotations\": []}", "'annotations' in the manifest is not an object" },
    { "{\"mediaType\": \"application/vnd.oci.image.index.v1+json\", \"manifests\": {}}", "no 'manifests' array" },
    { "{\"mediaType\": \"application/vnd.oci.image.index.v1+json\", \"manifests\": [3]}", "not an object" },
    { "{\"mediaType\": \"application/vnd.docker.distribution.manifest.v1+json\"}", "unsupported manifest media type" },
    { NULL, NULL }
  };

  /* mediaType may be missing in an OCI manifest; annotations too (the
   * original crashed on that). */
  manifest = ri_manifest_parse (oci, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (manifest->media_type, ==, "application/vnd.oci.image.manifest.v1+json");
  g_assert_false (manifest->is_list);
  g_assert_cmpuint (g_hash_table_size (manifest->annotations), ==, 0);
  g_clear_pointer (&manifest, ri_manifest_free);

  manifest = ri_manifest_parse (list, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (manifest->is_list);
  g_assert_cmpuint (manifest->children->len, ==, 1);
  g_clear_pointer (&manifest, ri_manifest_free);

  for (guint i = 0; bad[i].json; i++)
    {
      g_autoptr(GBytes) b = bytes (bad[i].json);
      g_autoptr(GError) local_error = NULL;
      g_assert_null (ri_manifest_parse (b, NULL, &local_error));
      g_assert_error (local_error, RI_ERROR, RI_ERROR_PROTOCOL);
      if (strstr (local_error->message, bad[i].message) == NULL)
        g_error ("'%s': expected '%s', got '%s'", bad[i].json, bad[i].message, local_error->message);
    }
}

static void
test_deep_json (void)
{
  g_autoptr(GString) s = g_string_new ("{\"a\":");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) b = NULL;

  for (guint i = 0; i < 200000; i++)
    g_string_append_c (s, '[');
  b = g_bytes_new (s->str, s->len);
  g_assert_null (ri_manifest_parse (b, NULL, &error));
  g_assert_error (error, RI_ERROR, RI_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "nested too deeply"));
}

static void
test_image_config (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) good = bytes ("{\"os\":\"linux\",\"architecture\":\"arm64\",\"config\":{\"Labels\":{\"a\":\"b\"}}}");
  g_autoptr(GBytes) no_labels = bytes ("{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Labels\":null}}");
  g_autoptr(GBytes) bad = bytes ("{\"os\":\"linux\",\"config\":{\"Labels\":{\"a\":[]}}}");
  g_autoptr(RiImageConfig) config = ri_image_config_parse (good, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->architecture, ==, "arm64");
  g_assert_cmpstr (g_hash_table_lookup (config->labels, "a"), ==, "b");
  g_clear_pointer (&config, ri_image_config_free);
  config = ri_image_config_parse (no_labels, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (config->labels), ==, 0);
  g_clear_pointer (&config, ri_image_config_free);
  g_assert_null (ri_image_config_parse (bad, &error));
  g_assert_error (error, RI_ERROR, RI_ERROR_PROTOCOL);
}

static void
test_data_uri (void)
{
  static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0xd };
  g_autofree char *encoded = g_base64_encode (png, sizeof png);
  g_autofree char *uri = g_strconcat ("data:image/png;base64,", encoded, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) decoded = ri_data_uri_decode_png (uri, &error);
  g_autofree char *huge = NULL;
  g_autofree char *padding = g_strnfill (2 * 1024 * 1024, 'A');

  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (decoded, NULL), g_bytes_get_size (decoded), png, sizeof png);

  g_assert_null (ri_data_uri_decode_png ("data:image/png;base64,aGVsbG8=", &error));
  g_assert_nonnull (strstr (error->message, "not a PNG image"));
  g_clear_error (&error);
  g_assert_null (ri_data_uri_decode_png ("data:image/jpeg;base64,aGVsbG8=", &error));
  g_clear_error (&error);
  g_assert_null (ri_data_uri_decode_png ("data:image/png;base64,a%20b", &error));
  g_assert_nonnull (strstr (error->message, "stray '%'"));
  g_clear_error (&error);
  huge = g_strconcat ("data:image/png;base64,", padding, NULL);
  g_assert_null (ri_data_uri_decode_png (huge, &error));
  g_assert_error (error, RI_ERROR, RI_ERROR_TOO_LARGE);
}

static void
test_link (void)
{
  const char *base = "http://r:5000/v2/_catalog?n=100";
  struct { const char *header; const char *expected; } cases[] = {
    { "</v2/_catalog?last=b&n=100>; rel=\"next\"", "http://r:5000/v2/_catalog?last=b&n=100" },
    { "<http://r:5000/v2/_catalog?last=c>; rel=next", "http://r:5000/v2/_catalog?last=c" },
    { "</prev>; rel=\"prev\", </next>; rel=\"next\"", "http://r:5000/next" },
    { "</a>; rel=\"prev next\"", "http://r:5000/a" },
    { "<http://evil:5000/v2/_catalog>; rel=\"next\"", NULL },
    { "</a>; rel=\"prev\"", NULL },
    { "garbage", NULL },
    { "", NULL },
    { NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *next = ri_parse_link_next (cases[i].header, base);
      g_assert_cmpstr (next, ==, cases[i].expected);
    }
}

static const char *
param (GPtrArray *challenges, guint i, const char *name)
{
  RiAuthChallenge *challenge = g_ptr_array_index (challenges, i);
  return g_hash_table_lookup (challenge->params, name);
}

static void
test_challenges (void)
{
  g_autoptr(GPtrArray) c = NULL;

  c = ri_auth_challenges_parse ("Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\","
                                "scope=\"repository:a/b:pull,push\"");
  g_assert_cmpuint (c->len, ==, 1);
  g_assert_cmpstr (((RiAuthChallenge *) c->pdata[0])->scheme, ==, "bearer");
  g_assert_cmpstr (param (c, 0, "realm"), ==, "https://auth.example.com/token");
  g_assert_cmpstr (param (c, 0, "service"), ==, "registry.example.com");
  g_assert_cmpstr (param (c, 0, "scope"), ==, "repository:a/b:pull,push");
  g_clear_pointer (&c, g_ptr_array_unref);

  /* Several challenges, tokens and quoted strings with escapes, odd spacing. */
  c = ri_auth_challenges_parse ("Negotiate abc==, Basic realm=\"a \\\"quoted\\\" realm\" , "
                                "BEARER Realm=http://x/t , service = s");
  g_assert_cmpuint (c->len, ==, 3);
  g_assert_cmpstr (((RiAuthChallenge *) c->pdata[0])->scheme, ==, "negotiate");
  g_assert_cmpstr (((RiAuthChallenge *) c->pdata[1])->scheme, ==, "basic");
  g_assert_cmpstr (param (c, 1, "realm"), ==, "a \"quoted\" realm");
  g_assert_cmpstr (((RiAuthChallenge *) c->pdata[2])->scheme, ==, "bearer");
  g_assert_cmpstr (param (c, 2, "realm"), ==, "http://x/t");
  g_assert_cmpstr (param (c, 2, "service"), ==, "s");
  g_clear_pointer (&c, g_ptr_array_unref);

  /* Broken input: what was understood is kept, nothing crashes. */
  c = ri_auth_challenges_parse ("Bearer realm=\"unterminated");
  g_assert_cmpuint (c->len, ==, 1);
  g_assert_null (param (c, 0, "realm"));
  g_clear_pointer (&c, g_ptr_array_unref);
  c = ri_auth_challenges_parse ("=,,=\"\",");
  g_assert_cmpuint (c->len, ==, 0);
  g_clear_pointer (&c, g_ptr_array_unref);
  c = ri_auth_challenges_parse (NULL);
  g_assert_cmpuint (c->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/content/printer", test_printer);
  g_test_add_func ("/content/names", test_names);
  g_test_add_func ("/content/manifest", test_manifest);
  g_test_add_func ("/content/deep-json", test_deep_json);
  g_test_add_func ("/content/image-config", test_image_config);
  g_test_add_func ("/content/data-uri", test_data_uri);
  g_test_add_func ("/content/link", test_link);
  g_test_add_func ("/content/challenges", test_challenges);
  return g_test_run ();
}
