#define G_LOG_DOMAIN "Config"

#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>

#include "ri-credentials.h"
#include "ri-error.h"

/* Where podman, skopeo and docker keep registry credentials, in the
 * order containers-auth.json(5) looks them up. */
GStrv
ri_credentials_default_auth_files (void)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  const char *env = g_getenv ("REGISTRY_AUTH_FILE");
  const char *runtime = g_getenv ("XDG_RUNTIME_DIR");

  g_autofree char *runtime_file = NULL;
  g_autofree char *config_file = g_build_filename (g_get_user_config_dir (), "containers", "auth.json", NULL);
  g_autofree char *docker_file = g_build_filename (g_get_home_dir (), ".docker", "config.json", NULL);

  if (env != NULL && *env)
    g_strv_builder_add (builder, env);
  if (runtime != NULL && *runtime)
    {
      runtime_file = g_build_filename (runtime, "containers", "auth.json", NULL);
      g_strv_builder_add (builder, runtime_file);
    }
  g_strv_builder_add (builder, config_file);
  g_strv_builder_add (builder, docker_file);
  return g_strv_builder_end (builder);
}

/* The keys of "auths" are host[:port], sometimes with a scheme or a path
 * (older docker files): compare the host and port only. */
static gboolean
key_matches (const char *key, const char *host_port)
{
  g_autofree char *bare = NULL;
  char *slash;

  if (strstr (key, "://") != NULL)
    key = strstr (key, "://") + 3;
  bare = g_strdup (key);
  slash = strchr (bare, '/');
  if (slash != NULL)
    *slash = '\0';
  return g_ascii_strcasecmp (bare, host_port) == 0;
}

gboolean
ri_credentials_from_auth_file (const char *path, const char *registry_url, char **username,
                               char **password, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GUri) uri = g_uri_parse (registry_url, G_URI_FLAGS_NONE, NULL);
  g_autofree char *host_port = NULL;
  JsonNode *root, *auths;
  g_autoptr(GList) keys = NULL;

  *username = *password = NULL;
  if (uri == NULL)
    return TRUE;
  host_port = g_uri_get_port (uri) > 0 ? g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri))
                                        : g_strdup (g_uri_get_host (uri));
  if (!json_parser_load_from_mapped_file (parser, path, error))
    {
      g_prefix_error (error, "Cannot read the auth file '%s': ", path);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  auths = root && JSON_NODE_HOLDS_OBJECT (root) ? json_object_get_member (json_node_get_object (root), "auths") : NULL;
  if (auths == NULL || !JSON_NODE_HOLDS_OBJECT (auths))
    return TRUE;

  keys = json_object_get_members (json_node_get_object (auths));
  for (GList *l = keys; l; l = l->next)
    {
      JsonNode *entry = json_object_get_member (json_node_get_object (auths), l->data);
      const char *encoded;
      g_autofree guchar *decoded = NULL;
      g_autofree char *text = NULL;
      gsize length = 0;
      char *colon;

      if (!key_matches (l->data, host_port) || !JSON_NODE_HOLDS_OBJECT (entry))
        continue;
      encoded = json_object_get_string_member_with_default (json_node_get_object (entry), "auth", NULL);
      if (encoded == NULL)
        continue;
      decoded = g_base64_decode (encoded, &length);
      text = g_strndup ((const char *) decoded, length);
      memset (decoded, 0, length);
      colon = strchr (text, ':');
      if (colon == NULL)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_CONFIG,
                       "The auth file '%s' has an entry for '%s' that is not base64 of user:password",
                       path, (const char *) l->data);
          memset (text, 0, length);
          return FALSE;
        }
      *colon = '\0';
      *username = g_strdup (text);
      *password = g_strdup (colon + 1);
      memset (text, 0, length);
      return TRUE;
    }
  return TRUE;
}

char *
ri_credentials_read_secret_file (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  /* A trailing newline is an editor's, not part of the password. */
  while (length > 0 && (contents[length - 1] == '\n' || contents[length - 1] == '\r'))
    contents[--length] = '\0';
  return g_steal_pointer (&contents);
}

gboolean
ri_credentials_file_is_exposed (const char *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
}
