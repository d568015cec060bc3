#define G_LOG_DOMAIN "Config"

#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ri-credentials.h"
#include "ri-error.h"
#include "ri-json.h"

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

/* Auth files are small; this bounds what a wrong path can make us read. */
#define MAX_AUTH_FILE_SIZE (16 * 1024 * 1024)
#define MAX_AUTH_FILE_DEPTH 16

gboolean
ri_credentials_from_auth_file (const char *path, const char *registry_url, char **username,
                               char **password, GError **error)
{
  g_autoptr(GUri) uri = g_uri_parse (registry_url, G_URI_FLAGS_NONE, NULL);
  g_autoptr(GMappedFile) file = NULL;
  g_autoptr(RiJsonDoc) doc = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *host_port = NULL;
  const RiJsonValue *auths;

  *username = *password = NULL;
  if (uri == NULL)
    return TRUE;
  host_port = g_uri_get_port (uri) > 0 ? g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri))
                                        : g_strdup (g_uri_get_host (uri));
  file = g_mapped_file_new (path, FALSE, &local_error);
  if (file != NULL)
    doc = ri_json_doc_parse (g_mapped_file_get_contents (file), g_mapped_file_get_length (file),
                             MAX_AUTH_FILE_SIZE, MAX_AUTH_FILE_DEPTH, &local_error);
  /* An empty file holds no credentials, as before. */
  if (g_error_matches (local_error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY))
    return TRUE;
  if (doc == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "Cannot read the auth file '%s': ", path);
      return FALSE;
    }
  auths = ri_json_object_get (ri_json_doc_get_root (doc), "auths");

  for (guint i = 0; i < ri_json_value_get_length (auths); i++)
    {
      const char *key = ri_json_object_name_at (auths, i);
      const char *encoded = ri_json_object_get_string (ri_json_object_value_at (auths, i), "auth");
      g_autofree guchar *decoded = NULL;
      g_autofree char *text = NULL;
      gsize length = 0;
      char *colon;

      if (key == NULL || !key_matches (key, host_port) || encoded == NULL)
        continue;
      decoded = g_base64_decode (encoded, &length);
      text = g_strndup ((const char *) decoded, length);
      memset (decoded, 0, length);
      colon = strchr (text, ':');
      if (colon == NULL)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_CONFIG,
                       "The auth file '%s' has an entry for '%s' that is not base64 of user:password",
                       path, key);
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
