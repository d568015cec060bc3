#include "config.h"

#include "ri-error.h"
#include "ri-json.h"
#include "ri-manifest.h"
#include "ri-names.h"

/* Real manifests and configs nest a few levels; the limits are those the
 * scan also asks of the registry's answers. */
#define MAX_JSON_DEPTH 32
#define MAX_MANIFEST_SIZE (4 * 1024 * 1024)
#define MAX_CONFIG_SIZE (16 * 1024 * 1024)
#define MAX_LIST_PAGE_SIZE (8 * 1024 * 1024)

static void
descriptor_clear (RiDescriptor *descriptor)
{
  g_free (descriptor->digest);
  g_free (descriptor->media_type);
  g_free (descriptor->artifact_type);
  g_free (descriptor->platform_os);
  g_free (descriptor->platform_architecture);
  g_free (descriptor->reference_type);
}

void
ri_manifest_free (RiManifest *manifest)
{
  g_free (manifest->media_type);
  g_free (manifest->config_digest);
  g_clear_pointer (&manifest->annotations, g_hash_table_unref);
  g_clear_pointer (&manifest->children, g_array_unref);
  g_free (manifest);
}

void
ri_image_config_free (RiImageConfig *config)
{
  g_free (config->os);
  g_free (config->architecture);
  g_clear_pointer (&config->labels, g_hash_table_unref);
  g_free (config);
}

const char *
ri_object_kind_to_string (RiObjectKind kind)
{
  switch (kind)
    {
    case RI_OBJECT_IMAGE: return "image";
    case RI_OBJECT_LIST: return "list";
    case RI_OBJECT_SIGNATURE: return "signature";
    case RI_OBJECT_ATTESTATION: return "attestation";
    case RI_OBJECT_SBOM: return "sbom";
    case RI_OBJECT_HELM_CHART: return "helm-chart";
    case RI_OBJECT_WASM: return "wasm";
    case RI_OBJECT_ARTIFACT: return "artifact";
    case RI_OBJECT_SCHEMA1: return "schema1";
    default: return "artifact";
    }
}

gboolean
ri_media_type_is_schema1 (const char *media_type)
{
  return g_strcmp0 (media_type, "application/vnd.docker.distribution.manifest.v1+json") == 0 ||
         g_strcmp0 (media_type, "application/vnd.docker.distribution.manifest.v1+prettyjws") == 0;
}

static gboolean
is_image_config (const char *media_type)
{
  return g_strcmp0 (media_type, RI_MEDIA_TYPE_OCI_CONFIG) == 0 ||
         g_strcmp0 (media_type, RI_MEDIA_TYPE_DOCKER_CONFIG) == 0;
}

/* The kind a media type or artifactType names, for what is not an image:
 * the types cosign, Notation, in-toto, SPDX, CycloneDX, Helm and the WASM
 * OCI tools write; anything else is some artifact. */
static RiObjectKind
classify_artifact_type (const char *type)
{
  static const struct {
    const char *prefix;
    RiObjectKind kind;
  } known[] = {
    { "application/vnd.dev.cosign.simplesigning", RI_OBJECT_SIGNATURE },
    { "application/vnd.dev.cosign.artifact.sig", RI_OBJECT_SIGNATURE },
    { "application/vnd.dev.sigstore.bundle", RI_OBJECT_SIGNATURE },
    { "application/vnd.cncf.notary.signature", RI_OBJECT_SIGNATURE },
    { "application/vnd.dev.cosign.attestation", RI_OBJECT_ATTESTATION },
    { "application/vnd.dsse.envelope", RI_OBJECT_ATTESTATION },
    { "application/vnd.in-toto", RI_OBJECT_ATTESTATION },
    { "application/vnd.dev.cosign.artifact.sbom", RI_OBJECT_SBOM },
    { "application/spdx", RI_OBJECT_SBOM },
    { "text/spdx", RI_OBJECT_SBOM },
    { "application/vnd.cyclonedx", RI_OBJECT_SBOM },
    { "application/vnd.syft", RI_OBJECT_SBOM },
    { "application/vnd.cncf.helm.", RI_OBJECT_HELM_CHART },
    { "application/vnd.wasm.", RI_OBJECT_WASM },
    { "application/vnd.module.wasm.", RI_OBJECT_WASM },
  };

  if (type != NULL)
    for (guint i = 0; i < G_N_ELEMENTS (known); i++)
      if (g_str_has_prefix (type, known[i].prefix))
        return known[i].kind;
  return RI_OBJECT_ARTIFACT;
}

RiObjectKind
ri_descriptor_classify (const RiDescriptor *descriptor)
{
  /* buildx writes its provenance and SBOM attestations as image
   * manifests in the list, marked only by these two. */
  if (g_strcmp0 (descriptor->reference_type, "attestation-manifest") == 0 ||
      (g_strcmp0 (descriptor->platform_os, "unknown") == 0 &&
       g_strcmp0 (descriptor->platform_architecture, "unknown") == 0))
    return RI_OBJECT_ATTESTATION;
  if (descriptor->artifact_type != NULL)
    return classify_artifact_type (descriptor->artifact_type);
  if (ri_media_type_is_image (descriptor->media_type))
    return RI_OBJECT_IMAGE;
  if (ri_media_type_is_list (descriptor->media_type))
    return RI_OBJECT_LIST;
  if (ri_media_type_is_schema1 (descriptor->media_type))
    return RI_OBJECT_SCHEMA1;
  return RI_OBJECT_ARTIFACT;
}

/* Parses @bytes as a JSON object, the document's root. Errors from the
 * bounded parser keep their RI_JSON_ERROR code, so a caller can tell "too
 * deep" from "not JSON". */
static RiJsonDoc *
parse_object (GBytes *bytes, const char *what, gsize max_size, const RiJsonValue **object, GError **error)
{
  g_autoptr(RiJsonDoc) doc = ri_json_doc_parse_bytes (bytes, max_size, MAX_JSON_DEPTH, error);

  if (doc == NULL)
    {
      g_prefix_error (error, "the %s ", what);
      return NULL;
    }
  *object = ri_json_doc_get_root (doc);
  if (ri_json_value_get_type (*object) != RI_JSON_OBJECT)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the %s is not a JSON object", what);
      return NULL;
    }
  return g_steal_pointer (&doc);
}

/* Reads an optional string member; a member of another type is an error. */
static gboolean
get_optional_string (const RiJsonValue *object, const char *member, const char *what, const char **out,
                     GError **error)
{
  const RiJsonValue *node = ri_json_object_get (object, member);

  *out = NULL;
  if (ri_json_value_is_null (node))
    return TRUE;
  if ((*out = ri_json_value_get_string (node)) == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "'%s' in the %s is not a string", member, what);
      return FALSE;
    }
  return TRUE;
}

/* A JSON object of strings (annotations, labels); null or missing is empty. */
static gboolean
get_string_map (const RiJsonValue *object, const char *member, const char *what, GHashTable **out,
                GError **error)
{
  const RiJsonValue *node = ri_json_object_get (object, member);
  g_autoptr(GHashTable) map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (!ri_json_value_is_null (node))
    {
      if (ri_json_value_get_type (node) != RI_JSON_OBJECT)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "'%s' in the %s is not an object", member, what);
          return FALSE;
        }
      for (guint i = 0; i < ri_json_value_get_length (node); i++)
        {
          const char *name = ri_json_object_name_at (node, i);
          const char *value = ri_json_value_get_string (ri_json_object_value_at (node, i));
          if (value == NULL)
            {
              g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "%s '%s' in the %s is not a string",
                           member, name, what);
              return FALSE;
            }
          g_hash_table_replace (map, g_strdup (name), g_strdup (value));
        }
    }
  *out = g_steal_pointer (&map);
  return TRUE;
}

static gboolean
get_optional_size (const RiJsonValue *object, const char *what, gint64 *out, GError **error)
{
  const RiJsonValue *node = ri_json_object_get (object, "size");

  *out = -1;
  if (ri_json_value_is_null (node))
    return TRUE;
  if (!ri_json_value_get_int (node, out) || *out < 0)
    {
      *out = -1;
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "a size in the %s is not a non-negative integer", what);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_descriptor (const RiJsonValue *object, const char *what, RiDescriptor *out, GError **error)
{
  const char *digest, *media_type, *artifact_type;
  const RiJsonValue *platform, *annotations;

  if (ri_json_value_get_type (object) != RI_JSON_OBJECT)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "a descriptor in the %s is not an object", what);
      return FALSE;
    }
  if (!get_optional_string (object, "digest", what, &digest, error) ||
      !get_optional_string (object, "mediaType", what, &media_type, error) ||
      !get_optional_string (object, "artifactType", what, &artifact_type, error) ||
      !get_optional_size (object, what, &out->size, error))
    return FALSE;
  if (digest == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "a descriptor in the %s has no digest", what);
      return FALSE;
    }
  /* Platform and annotations only classify the entry: odd values there
   * make it an unknown entry, not a broken list; anything but a string
   * counts as absent. */
  platform = ri_json_object_get (object, "platform");
  annotations = ri_json_object_get (object, "annotations");
  out->digest = g_strdup (digest);
  out->media_type = g_strdup (media_type);
  out->artifact_type = g_strdup (artifact_type);
  out->platform_os = g_strdup (ri_json_object_get_string (platform, "os"));
  out->platform_architecture = g_strdup (ri_json_object_get_string (platform, "architecture"));
  out->reference_type = g_strdup (ri_json_object_get_string (annotations, "vnd.docker.reference.type"));
  return TRUE;
}

/* Legacy cosign and oras attachments are manifests with an image config
 * whose layers say what they are. */
static RiObjectKind
classify_by_layers (const RiJsonValue *object)
{
  const RiJsonValue *layers = ri_json_object_get (object, "layers");

  for (guint i = 0; i < ri_json_value_get_length (layers); i++)
    {
      const char *type = ri_json_object_get_string (ri_json_array_get (layers, i), "mediaType");
      RiObjectKind kind;

      if (type == NULL || g_str_has_prefix (type, "application/vnd.oci.image.layer.") ||
          g_str_has_prefix (type, "application/vnd.docker.image.rootfs."))
        continue;
      kind = classify_artifact_type (type);
      if (kind != RI_OBJECT_ARTIFACT)
        return kind;
    }
  return RI_OBJECT_IMAGE;
}

static gboolean
says_schema1 (const RiJsonValue *object)
{
  gint64 version;

  return ri_json_value_get_int (ri_json_object_get (object, "schemaVersion"), &version) && version == 1;
}

gboolean
ri_manifest_is_schema1 (GBytes *bytes, const char *content_type)
{
  g_autoptr(RiJsonDoc) doc = NULL;
  const RiJsonValue *object;

  if (ri_media_type_is_schema1 (content_type))
    return TRUE;
  /* Distribution names the type; only an unnamed one needs a look inside. */
  if (ri_media_type_is_image (content_type) || ri_media_type_is_list (content_type))
    return FALSE;
  doc = parse_object (bytes, "manifest", MAX_MANIFEST_SIZE, &object, NULL);
  return doc != NULL && says_schema1 (object);
}

RiManifest *
ri_manifest_parse (GBytes *bytes, const char *content_type, GError **error)
{
  const RiJsonValue *object;
  g_autoptr(RiJsonDoc) doc = parse_object (bytes, "manifest", MAX_MANIFEST_SIZE, &object, error);
  g_autoptr(RiManifest) manifest = NULL;
  const char *media_type, *artifact_type;

  if (doc == NULL)
    return NULL;
  if (!get_optional_string (object, "mediaType", "manifest", &media_type, error) ||
      !get_optional_string (object, "artifactType", "manifest", &artifact_type, error))
    return NULL;
  /* OCI makes mediaType optional in the body; the Content-Type then says. */
  if (media_type == NULL)
    media_type = content_type;
  if (says_schema1 (object))
    media_type = "application/vnd.docker.distribution.manifest.v1+json";
  if (media_type == NULL || g_str_equal (media_type, "application/json"))
    media_type = ri_json_object_get (object, "manifests") != NULL ? RI_MEDIA_TYPE_OCI_INDEX
                                                                  : RI_MEDIA_TYPE_OCI_MANIFEST;

  manifest = g_new0 (RiManifest, 1);
  manifest->media_type = g_strdup (media_type);
  manifest->config_size = -1;
  if (ri_media_type_is_schema1 (media_type))
    {
      manifest->kind = RI_OBJECT_SCHEMA1;
      manifest->annotations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      return g_steal_pointer (&manifest);
    }
  if (!get_string_map (object, "annotations", "manifest", &manifest->annotations, error))
    return NULL;

  if (ri_media_type_is_image (media_type))
    {
      const RiJsonValue *node = ri_json_object_get (object, "config");
      RiDescriptor config = { 0 };

      if (node == NULL)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the manifest has no config");
          return NULL;
        }
      if (!parse_descriptor (node, "manifest's config", &config, error))
        return NULL;
      /* What the manifest is decides whether its config is ever fetched:
       * an artifactType, or a config that is not an image's, says it is
       * not an image (OCI 1.1 artifacts, Helm charts, WASM modules). */
      if (artifact_type != NULL)
        manifest->kind = classify_artifact_type (artifact_type);
      else if (!is_image_config (config.media_type))
        manifest->kind = classify_artifact_type (config.media_type);
      else
        manifest->kind = classify_by_layers (object);
      manifest->config_digest = g_steal_pointer (&config.digest);
      manifest->config_size = config.size;
      descriptor_clear (&config);
      return g_steal_pointer (&manifest);
    }

  if (ri_media_type_is_list (media_type))
    {
      const RiJsonValue *children = ri_json_object_get (object, "manifests");

      manifest->is_list = TRUE;
      manifest->kind = artifact_type != NULL ? classify_artifact_type (artifact_type) : RI_OBJECT_LIST;
      manifest->children = g_array_new (FALSE, TRUE, sizeof (RiDescriptor));
      g_array_set_clear_func (manifest->children, (GDestroyNotify) descriptor_clear);
      if (ri_json_value_get_type (children) != RI_JSON_ARRAY)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the image list has no 'manifests' array");
          return NULL;
        }
      for (guint i = 0; i < ri_json_value_get_length (children); i++)
        {
          RiDescriptor child = { 0 };
          if (!parse_descriptor (ri_json_array_get (children, i), "image list", &child, error))
            {
              descriptor_clear (&child);
              return NULL;
            }
          g_array_append_val (manifest->children, child);
        }
      return g_steal_pointer (&manifest);
    }

  /* Some other kind of document altogether: not an image, nothing to fetch. */
  manifest->kind = RI_OBJECT_ARTIFACT;
  return g_steal_pointer (&manifest);
}

RiImageConfig *
ri_image_config_parse (GBytes *bytes, GError **error)
{
  const RiJsonValue *object;
  g_autoptr(RiJsonDoc) doc = parse_object (bytes, "image config", MAX_CONFIG_SIZE, &object, error);
  g_autoptr(RiImageConfig) config = NULL;
  const RiJsonValue *node;
  const char *os, *architecture;

  if (doc == NULL)
    return NULL;
  if (!get_optional_string (object, "os", "image config", &os, error) ||
      !get_optional_string (object, "architecture", "image config", &architecture, error))
    return NULL;

  config = g_new0 (RiImageConfig, 1);
  config->os = g_strdup (os ? os : "");
  config->architecture = g_strdup (architecture ? architecture : "");

  node = ri_json_object_get (object, "config");
  if (!ri_json_value_is_null (node))
    {
      if (ri_json_value_get_type (node) != RI_JSON_OBJECT)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "'config' in the image config is not an object");
          return NULL;
        }
      if (!get_string_map (node, "Labels", "image config", &config->labels, error))
        return NULL;
    }
  else
    config->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return g_steal_pointer (&config);
}

GPtrArray *
ri_name_list_parse (GBytes *bytes, const char *member, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const RiJsonValue *object, *array;
  g_autoptr(RiJsonDoc) doc = parse_object (bytes, "response", MAX_LIST_PAGE_SIZE, &object, error);

  if (doc == NULL)
    return NULL;
  array = ri_json_object_get (object, member);
  if (ri_json_value_is_null (array))
    return g_steal_pointer (&names);
  if (ri_json_value_get_type (array) != RI_JSON_ARRAY)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "'%s' is not an array", member);
      return NULL;
    }
  for (guint i = 0; i < ri_json_value_get_length (array); i++)
    {
      const char *name = ri_json_value_get_string (ri_json_array_get (array, i));
      if (name == NULL)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "an element of '%s' is not a string", member);
          return NULL;
        }
      g_ptr_array_add (names, g_strdup (name));
    }
  return g_steal_pointer (&names);
}
