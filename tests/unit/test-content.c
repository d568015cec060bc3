#include "config.h"

#include <string.h>

#include "ri-auth-challenge.h"
#include "ri-error.h"
#include "ri-icon-store.h"
#include "ri-json.h"
#include "ri-json-printer.h"
#include "ri-run-report.h"
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
    { "{\"mediaType\": 5}", "'mediaType' in the manifest is not a string" },
    { "{\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\"}", "has no config" },
    { "{\"config\": {\"digest\": \"sha256:x\", \"size\": \"3\"}}", "not a non-negative integer" },
    { "{\"config\": {\"digest\": \"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"},"
      " \"annotations\": {\"a\": 1}}", "annotations 'a' in the manifest is not a string" },
    { "{\"config\": {\"digest\": \"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"},"
      " \"annotations\": []}", "'annotations' in the manifest is not an object" },
    { "{\"mediaType\": \"application/vnd.oci.image.index.v1+json\", \"manifests\": {}}", "no 'manifests' array" },
    { "{\"mediaType\": \"application/vnd.oci.image.index.v1+json\", \"manifests\": [3]}", "not an object" },
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
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP);
  g_assert_nonnull (strstr (error->message, "nested too deeply"));
}

static char *
parse_string (const char *json, GError **error)
{
  g_autoptr(JsonNode) node = ri_json_parse_bounded (json, -1, 1024, 8, error);

  if (node == NULL)
    return NULL;
  g_assert_true (JSON_NODE_HOLDS_VALUE (node));
  return g_strdup (json_node_get_string (node));
}

static void
test_json_bounded (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autofree char *big = g_strnfill (2000, ' ');
  struct { const char *json; const char *decoded; } strings[] = {
    /* json-glib truncates at an escaped NUL and drops the character after
     * a lone surrogate: they decode to U+FFFD, as Go does. */
    { "\"a\\u0000b\"", "a\xef\xbf\xbd" "b" },
    { "\"a\\ud800b\"", "a\xef\xbf\xbd" "b" },
    { "\"a\\udc00b\"", "a\xef\xbf\xbd" "b" },
    { "\"\\ud800\"", "\xef\xbf\xbd" },
    { "\"\\ud800\\ud800\"", "\xef\xbf\xbd\xef\xbf\xbd" },
    { "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80" },
    { "\"\\\\u0000\"", "\\u0000" },
    { "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\"", "\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac" },
    { "\"[[[[[[[[[[[\"", "[[[[[[[[[[[" },
    { NULL, NULL }
  };

  g_assert_null (ri_json_parse_bounded (NULL, 0, 1024, 8, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY);
  g_clear_error (&error);
  g_assert_null (ri_json_parse_bounded (NULL, -1, 1024, 8, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY);
  g_clear_error (&error);
  g_assert_null (ri_json_parse_bytes (NULL, 1024, 8, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY);
  g_clear_error (&error);
  g_assert_null (ri_json_parse_bounded ("   ", 3, 1024, 8, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_null (ri_json_parse_bounded (big, -1, 1024, 8, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_null (ri_json_parse_bounded ("\"\xed\xa0\x80\"", -1, 1024, 8, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_NOT_UTF8);
  g_clear_error (&error);
  g_assert_null (ri_json_parse_bounded ("{\"a\":", -1, 1024, 8, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_INVALID);
  g_clear_error (&error);

  /* 80,000 levels overflowed the stack in /events. */
  for (guint i = 0; i < 80000; i++)
    g_string_append (deep, "{\"a\":[");
  g_assert_null (ri_json_parse_bounded (deep->str, deep->len, G_MAXSIZE, 64, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP);
  g_clear_error (&error);
  node = ri_json_parse_bounded ("[[[[[[[[1]]]]]]]]", -1, 1024, 8, &error);
  g_assert_no_error (error);
  g_clear_pointer (&node, json_node_unref);
  g_assert_null (ri_json_parse_bounded ("[[[[[[[[[1]]]]]]]]]", -1, 1024, 8, &error));
  g_assert_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP);
  g_clear_error (&error);

  for (guint i = 0; strings[i].json; i++)
    {
      g_autofree char *decoded = parse_string (strings[i].json, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (decoded, ==, strings[i].decoded);
    }
}

static void
test_printer_utf8 (void)
{
  g_autoptr(GString) out = g_string_new (NULL);

  /* Whatever the bytes, the text is UTF-8; valid parts are kept as given. */
  ri_json_append_string (out, "a\xed\xa0\x80" "b\xff" "c\xc3" "\xe2\x82\xac\xf0\x9f\x98\x80\xc0\xaf");
  g_assert_cmpstr (out->str, ==, "\"a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "b\xef\xbf\xbd"
                                 "c\xef\xbf\xbd\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd\"");
  g_assert_true (g_utf8_validate (out->str, -1, NULL));
}

static void
test_printer_indent (void)
{
  for (guint level = 0; level < 40; level++)
    {
      g_autoptr(GString) out = g_string_new ("x");
      g_autofree char *spaces = g_strnfill (4 * level, ' ');
      g_autofree char *expected = g_strconcat ("x\n", spaces, NULL);

      ri_json_append_indent (out, level);
      g_assert_cmpstr (out->str, ==, expected);
    }
}

static RiManifest *
manifest_of (const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) b = bytes (json);
  RiManifest *manifest = ri_manifest_parse (b, NULL, &error);

  g_assert_no_error (error);
  return manifest;
}

#define DIGEST "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
test_classify (void)
{
  struct { const char *json; RiObjectKind kind; } cases[] = {
    { "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
      "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" DIGEST "\"},\"layers\":[{\"mediaType\":"
      "\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" DIGEST "\"}]}", RI_OBJECT_IMAGE },
    { "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{\"mediaType\":"
      "\"application/vnd.docker.container.image.v1+json\",\"digest\":\"" DIGEST "\"}}", RI_OBJECT_IMAGE },
    /* cosign's legacy tags: an image config, layers that say what they are */
    { "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
      "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" DIGEST "\"},\"layers\":[{\"mediaType\":"
      "\"application/vnd.dev.cosign.simplesigning.v1+json\",\"digest\":\"" DIGEST "\"}]}", RI_OBJECT_SIGNATURE },
    { "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
      "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" DIGEST "\"},\"layers\":[{\"mediaType\":"
      "\"application/vnd.dsse.envelope.v1+json\",\"digest\":\"" DIGEST "\"}]}", RI_OBJECT_ATTESTATION },
    { "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
      "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" DIGEST "\"},\"layers\":[{\"mediaType\":"
      "\"text/spdx\",\"digest\":\"" DIGEST "\"}]}", RI_OBJECT_SBOM },
    { "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"artifactType\":"
      "\"application/vnd.example.thing\",\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
      "\"digest\":\"" DIGEST "\"},\"subject\":{\"digest\":\"" DIGEST "\"}}", RI_OBJECT_ARTIFACT },
    { "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"artifactType\":"
      "\"application/spdx+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
      "\"digest\":\"" DIGEST "\"}}", RI_OBJECT_SBOM },
    { "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\","
      "\"digest\":\"" DIGEST "\"}}", RI_OBJECT_HELM_CHART },
    { "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.wasm.config.v0+json\","
      "\"digest\":\"" DIGEST "\"}}", RI_OBJECT_WASM },
    { "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
      "\"digest\":\"" DIGEST "\"}}", RI_OBJECT_ARTIFACT },
    /* no media type in the descriptor is not an image config either */
    { "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DIGEST "\"}}", RI_OBJECT_ARTIFACT },
    { "{\"schemaVersion\":1,\"name\":\"a\",\"tag\":\"b\",\"fsLayers\":[]}", RI_OBJECT_SCHEMA1 },
    { "{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}", RI_OBJECT_LIST },
    { "{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"artifactType\":"
      "\"application/vnd.cncf.helm.chart\",\"manifests\":[]}", RI_OBJECT_HELM_CHART },
    { "{\"mediaType\":\"application/vnd.example.other\"}", RI_OBJECT_ARTIFACT },
    { NULL, 0 }
  };
  g_autoptr(RiManifest) list = NULL;
  RiObjectKind expected[] = { RI_OBJECT_IMAGE, RI_OBJECT_ATTESTATION, RI_OBJECT_ATTESTATION, RI_OBJECT_LIST,
                              RI_OBJECT_SIGNATURE, RI_OBJECT_ARTIFACT, RI_OBJECT_IMAGE };

  for (guint i = 0; cases[i].json; i++)
    {
      g_autoptr(RiManifest) manifest = manifest_of (cases[i].json);
      if (manifest->kind != cases[i].kind)
        g_error ("%s: kind %s, not %s", cases[i].json, ri_object_kind_to_string (manifest->kind),
                 ri_object_kind_to_string (cases[i].kind));
    }

  /* What a buildx index's entries are, from the entries alone. */
  list = manifest_of ("{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DIGEST "\","
    " \"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DIGEST "\","
    " \"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DIGEST "\","
    " \"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\",\"n\":1}},"
    "{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"" DIGEST "\"},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DIGEST "\","
    " \"artifactType\":\"application/vnd.dev.cosign.artifact.sig.v1+json\", \"platform\": 7},"
    "{\"mediaType\":\"application/octet-stream\",\"digest\":\"" DIGEST "\"},"
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"sha512:aa\","
    " \"size\":12}]}");
  g_assert_cmpuint (list->children->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpint (ri_descriptor_classify (&g_array_index (list->children, RiDescriptor, i)), ==, expected[i]);
  g_assert_cmpint (g_array_index (list->children, RiDescriptor, 6).size, ==, 12);
  g_assert_cmpint (g_array_index (list->children, RiDescriptor, 0).size, ==, -1);

  {
    g_autoptr(GBytes) schema1 = bytes ("{\"schemaVersion\": 1}");
    g_autoptr(GBytes) image = bytes ("{\"schemaVersion\": 2}");
    g_assert_true (ri_manifest_is_schema1 (schema1, NULL));
    g_assert_true (ri_manifest_is_schema1 (image, "application/vnd.docker.distribution.manifest.v1+prettyjws"));
    g_assert_false (ri_manifest_is_schema1 (image, NULL));
    g_assert_false (ri_manifest_is_schema1 (schema1, "application/vnd.oci.image.manifest.v1+json"));
  }
}

static void
test_digests (void)
{
  g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
  g_autofree char *sha256 = NULL;
  g_autofree char *sha512 = NULL;
  const char *empty512 = "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0"
                         "ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

  g_assert_true (ri_digest_is_supported (DIGEST));
  g_assert_true (ri_digest_is_supported (empty512));
  g_assert_false (ri_digest_is_supported ("sha512:cf83"));
  g_assert_false (ri_digest_is_supported ("sha384:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"));
  g_assert_false (ri_digest_is_supported ("md5:d41d8cd98f00b204e9800998ecf8427e"));
  g_assert_false (ri_digest_is_supported (NULL));
  sha256 = ri_digest_compute_as (empty, DIGEST);
  g_assert_cmpstr (sha256, ==, DIGEST);
  sha512 = ri_digest_compute_as (empty, empty512);
  g_assert_cmpstr (sha512, ==, empty512);
  g_assert_true (ri_digest_same_algorithm (sha256, DIGEST));
  g_assert_true (ri_digest_same_algorithm (sha256, "sha256:"));
  g_assert_false (ri_digest_same_algorithm (sha256, empty512));
  g_assert_false (ri_digest_same_algorithm ("sha256", "sha256"));
}

/* nettle does the hashing: known answers (FIPS 180-2's "abc"), and GLib's
 * own implementation as the yardstick over lengths around the block
 * sizes and a large input. */
static void
test_digests_agree (void)
{
  g_autoptr(GBytes) abc = g_bytes_new_static ("abc", 3);
  g_autofree char *abc256 = ri_digest_compute (abc);
  g_autofree char *abc512 = ri_digest_compute_as (abc, "sha512:" "00000000000000000000000000000000"
                                                  "00000000000000000000000000000000"
                                                  "00000000000000000000000000000000"
                                                  "00000000000000000000000000000000");
  g_autofree char *abc_hex = ri_sha256_hex ("abc", 3);
  gsize size = 1024 * 1024 + 13;
  g_autofree guint8 *data = g_malloc (size);

  g_assert_cmpstr (abc256, ==, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  g_assert_cmpstr (abc512, ==, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                               "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  g_assert_cmpstr (abc_hex, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 7 + (i >> 8));
  for (gsize length = 0; length <= size; length = length < 300 ? length + 1 : length * 3 + 1)
    {
      g_autoptr(GBytes) bytes = g_bytes_new_static (data, MIN (length, size));
      g_autofree char *ours = ri_digest_compute (bytes);
      g_autofree char *ours512 = ri_digest_compute_as (bytes, abc512);
      g_autofree char *glib = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
      g_autofree char *glib512 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA512, bytes);

      g_assert_cmpstr (ours + strlen ("sha256:"), ==, glib);
      g_assert_cmpstr (ours512 + strlen ("sha512:"), ==, glib512);
    }
}

static void
test_skipped (void)
{
  g_autoptr(GHashTable) a = ri_skipped_new ();
  g_autoptr(GHashTable) b = ri_skipped_new ();
  g_autoptr(GVariant) variant = NULL;
  g_autofree char *text = NULL;
  g_autofree char *printed = NULL;

  g_assert_null (ri_skipped_describe (a));
  g_hash_table_insert (a, g_strdup ("signature"), GUINT_TO_POINTER (2));
  g_hash_table_insert (b, g_strdup ("signature"), GUINT_TO_POINTER (1));
  g_hash_table_insert (b, g_strdup ("attestation"), GUINT_TO_POINTER (4));
  ri_skipped_add (a, b);
  g_assert_cmpuint (ri_skipped_total (a), ==, 7);
  text = ri_skipped_describe (a);
  g_assert_cmpstr (text, ==, "4 attestation, 3 signature");
  variant = g_variant_ref_sink (ri_skipped_to_variant (a));
  printed = g_variant_print (variant, TRUE);
  g_assert_cmpstr (printed, ==, "{'attestation': uint32 4, 'signature': 3}");
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
  g_test_add_func ("/content/json-bounded", test_json_bounded);
  g_test_add_func ("/content/printer-utf8", test_printer_utf8);
  g_test_add_func ("/content/printer-indent", test_printer_indent);
  g_test_add_func ("/content/digests-agree", test_digests_agree);
  g_test_add_func ("/content/classify", test_classify);
  g_test_add_func ("/content/digests", test_digests);
  g_test_add_func ("/content/skipped", test_skipped);
  g_test_add_func ("/content/image-config", test_image_config);
  g_test_add_func ("/content/data-uri", test_data_uri);
  g_test_add_func ("/content/link", test_link);
  g_test_add_func ("/content/challenges", test_challenges);
  return g_test_run ();
}
