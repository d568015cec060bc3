#include "config.h"

#include <json-glib/json-glib.h>

#include "ri-error.h"
#include "ri-manifest.h"
#include "ri-names.h"

#define MAX_JSON_DEPTH 32

static void
descriptor_clear (RiDescriptor *descriptor)
{
  g_free (descriptor->digest);
  g_free (descriptor->media_type);
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

/* json-glib's parser recurses once per level without a bound, so a body
 * of a few megabytes of '[' would exhaust the stack: measure the nesting
 * on the raw bytes first (strings skipped) and refuse what is absurd. */
static gboolean
nesting_is_sane (const char *data, gsize size)
{
  guint depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < size; i++)
    {
      char c = data[i];
      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > MAX_JSON_DEPTH)
            return FALSE;
        }
      else if ((c == '}' || c == ']') && depth > 0)
        depth--;
    }
  return TRUE;
}

/* Parses @bytes as a JSON object and returns a new reference to it. */
static JsonObject *
parse_object (GBytes *bytes, const char *what, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  gsize size = 0;
  const char *data = g_bytes_get_data (bytes, &size);
  JsonNode *root;

  /* An empty GBytes has no data at all, which json-glib refuses without
   * saying why (found by fuzzing: a registry answering 200 with no body). */
  if (size == 0 || data == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the %s is empty", what);
      return NULL;
    }
  if (!g_utf8_validate_len (data, size, NULL))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the %s is not UTF-8", what);
      return NULL;
    }
  if (!nesting_is_sane (data, size))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the %s is nested too deeply", what);
      return NULL;
    }
  if (!json_parser_load_from_data (parser, data, size, &local_error))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the %s is not valid JSON: %s", what,
                   local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the %s is not a JSON object", what);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* Reads an optional string member; a member of another type is an error. */
static gboolean
get_optional_string (JsonObject *object, const char *member, const char *what, const char **out,
                     GError **error)
{
  JsonNode *node = json_object_get_member (object, member);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "'%s' in the %s is not a string", member, what);
      return FALSE;
    }
  *out = json_node_get_string (node);
  return TRUE;
}

/* A JSON object of strings (annotations, labels); null or missing is empty. */
static gboolean
get_string_map (JsonObject *object, const char *member, const char *what, GHashTable **out,
                GError **error)
{
  JsonNode *node = json_object_get_member (object, member);
  g_autoptr(GHashTable) map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      JsonObject *members;
      g_autoptr(GList) names = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "'%s' in the %s is not an object", member, what);
          return FALSE;
        }
      members = json_node_get_object (node);
      names = json_object_get_members (members);
      for (GList *l = names; l; l = l->next)
        {
          JsonNode *value = json_object_get_member (members, l->data);
          if (json_node_get_value_type (value) != G_TYPE_STRING)
            {
              g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "%s '%s' in the %s is not a string",
                           member, (const char *) l->data, what);
              return FALSE;
            }
          g_hash_table_replace (map, g_strdup (l->data), g_strdup (json_node_get_string (value)));
        }
    }
  *out = g_steal_pointer (&map);
  return TRUE;
}

static gboolean
parse_descriptor (JsonNode *node, const char *what, RiDescriptor *out, GError **error)
{
  JsonObject *object;
  const char *digest, *media_type;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "a descriptor in the %s is not an object", what);
      return FALSE;
    }
  object = json_node_get_object (node);
  if (!get_optional_string (object, "digest", what, &digest, error) ||
      !get_optional_string (object, "mediaType", what, &media_type, error))
    return FALSE;
  if (digest == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "a descriptor in the %s has no digest", what);
      return FALSE;
    }
  out->digest = g_strdup (digest);
  out->media_type = g_strdup (media_type);
  return TRUE;
}

RiManifest *
ri_manifest_parse (GBytes *bytes, const char *content_type, GError **error)
{
  g_autoptr(JsonObject) object = parse_object (bytes, "manifest", error);
  g_autoptr(RiManifest) manifest = NULL;
  const char *media_type;
  JsonNode *node;

  if (object == NULL)
    return NULL;
  if (!get_optional_string (object, "mediaType", "manifest", &media_type, error))
    return NULL;
  /* OCI makes mediaType optional in the body; the Content-Type then says. */
  if (media_type == NULL)
    media_type = content_type;
  if (media_type == NULL)
    media_type = json_object_has_member (object, "manifests") ? RI_MEDIA_TYPE_OCI_INDEX
                                                              : RI_MEDIA_TYPE_OCI_MANIFEST;

  manifest = g_new0 (RiManifest, 1);
  manifest->media_type = g_strdup (media_type);
  if (!get_string_map (object, "annotations", "manifest", &manifest->annotations, error))
    return NULL;

  if (ri_media_type_is_image (media_type))
    {
      RiDescriptor config = { 0 };

      node = json_object_get_member (object, "config");
      if (node == NULL)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the manifest has no config");
          return NULL;
        }
      if (!parse_descriptor (node, "manifest's config", &config, error))
        return NULL;
      if (!ri_digest_is_valid (config.digest))
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL,
                       "the manifest's config digest '%s' is not a sha256 digest", config.digest);
          descriptor_clear (&config);
          return NULL;
        }
      manifest->config_digest = g_steal_pointer (&config.digest);
      descriptor_clear (&config);
      return g_steal_pointer (&manifest);
    }

  if (ri_media_type_is_list (media_type))
    {
      JsonArray *children;

      manifest->is_list = TRUE;
      manifest->children = g_array_new (FALSE, TRUE, sizeof (RiDescriptor));
      g_array_set_clear_func (manifest->children, (GDestroyNotify) descriptor_clear);
      node = json_object_get_member (object, "manifests");
      if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the image list has no 'manifests' array");
          return NULL;
        }
      children = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (children); i++)
        {
          RiDescriptor child = { 0 };
          if (!parse_descriptor (json_array_get_element (children, i), "image list", &child, error))
            return NULL;
          g_array_append_val (manifest->children, child);
        }
      return g_steal_pointer (&manifest);
    }

  g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "unsupported manifest media type '%s'", media_type);
  return NULL;
}

RiImageConfig *
ri_image_config_parse (GBytes *bytes, GError **error)
{
  g_autoptr(JsonObject) object = parse_object (bytes, "image config", error);
  g_autoptr(RiImageConfig) config = NULL;
  const char *os, *architecture;
  JsonNode *node;

  if (object == NULL)
    return NULL;
  if (!get_optional_string (object, "os", "image config", &os, error) ||
      !get_optional_string (object, "architecture", "image config", &architecture, error))
    return NULL;

  config = g_new0 (RiImageConfig, 1);
  config->os = g_strdup (os ? os : "");
  config->architecture = g_strdup (architecture ? architecture : "");

  node = json_object_get_member (object, "config");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "'config' in the image config is not an object");
          return NULL;
        }
      if (!get_string_map (json_node_get_object (node), "Labels", "image config", &config->labels, error))
        return NULL;
    }
  else
    config->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return g_steal_pointer (&config);
}

GPtrArray *
ri_name_list_parse (GBytes *bytes, const char *member, GError **error)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  JsonNode *node;
  JsonArray *array;

  if (bytes == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the response has no body");
      return NULL;
    }
  object = parse_object (bytes, "response", error);
  if (object == NULL)
    return NULL;
  node = json_object_get_member (object, member);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return g_steal_pointer (&names);
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "'%s' is not an array", member);
      return NULL;
    }
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      if (json_node_get_value_type (element) != G_TYPE_STRING)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "an element of '%s' is not a string", member);
          return NULL;
        }
      g_ptr_array_add (names, g_strdup (json_node_get_string (element)));
    }
  return g_steal_pointer (&names);
}
