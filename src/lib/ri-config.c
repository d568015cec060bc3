#define G_LOG_DOMAIN "Config"

#include "config.h"

#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>

#include "ri-config.h"
#include "ri-credentials.h"
#include "ri-error.h"
#include "ri-yaml.h"

G_DEFINE_BOXED_TYPE (RiConfig, ri_config, ri_config_ref, ri_config_unref)

#define DEFAULT_GRACE_PERIOD_S (24 * 3600)

typedef struct {
  const char *origin;
  const char *base_dir;
  GPtrArray *warnings;
  GHashTable *protected;  /* (owned) path → what it is: files an 'output' must never replace */
} Loader;

static const char *const top_keys[] = {
  "icons_dir", "icons_uri", "icons_grace_period", "indexes", "registries", "daemon", NULL
};
static const char *const registry_keys[] = {
  "username", "password_file", "auth_file", "ca_certificate", "client_certificate",
  "client_key", "tls_verify", "repositories", "max_connections", "timeout", "retries", NULL
};

#define DEFAULT_MAX_CONNECTIONS 32
#define DEFAULT_TIMEOUT_S 30
#define DEFAULT_RETRIES 2
static const char *const index_keys[] = {
  "output", "registry", "registry_public", "tags", "required_annotations",
  "required_labels", "architectures", "skip_flatpak_annotations",
  "skip_flatpak_labels", "extract_icons", NULL
};
static const char *const daemon_keys[] = {
  "topic_prefix", "environment", "endpoints", "topics",
  "reconnect_interval", "max_message_size", "coalesce_delay", "retry_delay", "http",
  "state_dir", "scan", NULL
};
static const char *const http_keys[] = {
  "listen", "serve", "max_age", "events", "events_token_file", "max_event_size",
  "max_connections", "max_connections_per_client", "request_timeout", "idle_timeout", NULL
};
#define DEFAULT_MAX_AGE_S 300
#define DEFAULT_MAX_EVENT_SIZE (1024 * 1024)
/* Well under the 1,024 descriptors a service gets by default, leaving
 * room for the registry client, the cache and the indexes written. */
#define DEFAULT_HTTP_MAX_CONNECTIONS 512
#define DEFAULT_HTTP_MAX_PER_CLIENT 256
#define DEFAULT_HTTP_REQUEST_TIMEOUT_S 10
#define DEFAULT_HTTP_IDLE_TIMEOUT_S 30

static void
index_config_free (RiIndexConfig *index)
{
  g_free (index->name);
  g_free (index->output);
  g_free (index->registry);
  g_free (index->registry_public);
  g_strfreev (index->tags);
  g_strfreev (index->required_annotations);
  g_strfreev (index->required_labels);
  g_strfreev (index->architectures);
  g_clear_pointer (&index->tag_patterns, g_ptr_array_unref);
  g_free (index);
}

static void
registry_config_free (RiRegistryConfig *registry)
{
  g_free (registry->url);
  g_free (registry->username);
  if (registry->password != NULL)
    {
      /* Do not leave the secret in freed memory. */
      memset (registry->password, 0, strlen (registry->password));
      g_free (registry->password);
    }
  g_free (registry->ca_certificate);
  g_free (registry->client_certificate);
  g_free (registry->client_key);
  g_strfreev (registry->repositories);
  g_free (registry);
}

static RiRegistryConfig *
registry_config_new (const char *url)
{
  RiRegistryConfig *registry = g_new0 (RiRegistryConfig, 1);

  registry->url = g_strdup (url);
  registry->tls_verify = TRUE;
  registry->max_connections = DEFAULT_MAX_CONNECTIONS;
  registry->timeout_s = DEFAULT_TIMEOUT_S;
  registry->retries = DEFAULT_RETRIES;
  return registry;
}

RiConfig *
ri_config_ref (RiConfig *config)
{
  g_atomic_ref_count_inc (&config->ref_count);
  return config;
}

void
ri_config_unref (RiConfig *config)
{
  if (!g_atomic_ref_count_dec (&config->ref_count))
    return;
  g_free (config->path);
  g_free (config->icons_dir);
  g_free (config->icons_uri);
  g_clear_pointer (&config->index_table, g_hash_table_unref);
  g_clear_pointer (&config->served_table, g_hash_table_unref);
  g_clear_pointer (&config->indexes, g_ptr_array_unref);
  g_clear_pointer (&config->registries, g_hash_table_unref);
  g_free (config->daemon.topic_prefix);
  g_free (config->daemon.environment);
  g_strfreev (config->daemon.endpoints);
  g_strfreev (config->daemon.topics);
  g_free (config->daemon.state_dir);
  g_strfreev (config->daemon.http.listen);
  g_clear_pointer (&config->daemon.http.serve, g_ptr_array_unref);
  if (config->daemon.http.events_token != NULL)
    {
      memset (config->daemon.http.events_token, 0, strlen (config->daemon.http.events_token));
      g_free (config->daemon.http.events_token);
    }
  g_strfreev (config->warnings);
  g_free (config);
}

static gboolean G_GNUC_PRINTF (4, 5)
fail (Loader *loader, const RiYamlNode *node, GError **error, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "%s:%u:%u: %s",
               loader->origin, node->line, node->column, message);
  return FALSE;
}

static guint
edit_distance (const char *a, const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  g_autofree guint *row = g_new (guint, lb + 1);

  for (gsize j = 0; j <= lb; j++)
    row[j] = j;
  for (gsize i = 1; i <= la; i++)
    {
      guint diagonal = row[0];
      row[0] = i;
      for (gsize j = 1; j <= lb; j++)
        {
          guint above = row[j];
          guint cost = a[i - 1] == b[j - 1] ? 0 : 1;
          row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1), diagonal + cost);
          diagonal = above;
        }
    }
  return row[lb];
}

static void
warn_unknown_key (Loader *loader, const RiYamlNode *key, const char *const *known, const char *where)
{
  const char *best = NULL;
  guint best_distance = G_MAXUINT;

  for (guint i = 0; known[i] != NULL; i++)
    {
      guint d = edit_distance (key->value, known[i]);
      if (d < best_distance)
        {
          best_distance = d;
          best = known[i];
        }
    }
  if (best != NULL && best_distance <= MAX (2u, (guint) strlen (key->value) / 4))
    g_ptr_array_add (loader->warnings,
                     g_strdup_printf ("%s:%u:%u: unknown key '%s' in %s (did you mean '%s'?)",
                                      loader->origin, key->line, key->column, key->value, where, best));
  else
    g_ptr_array_add (loader->warnings,
                     g_strdup_printf ("%s:%u:%u: unknown key '%s' in %s, ignored",
                                      loader->origin, key->line, key->column, key->value, where));
}

/* Returns the value for @name, warning about duplicates (the later one
 * wins, as it did with the original tool's YAML loader). */
static RiYamlNode *
mapping_get (Loader *loader, const RiYamlNode *mapping, const char *name)
{
  RiYamlNode *found = NULL;

  for (guint i = 0; i + 1 < mapping->items->len; i += 2)
    {
      RiYamlNode *key = g_ptr_array_index (mapping->items, i);
      if (key->kind == RI_YAML_SCALAR && g_str_equal (key->value, name))
        {
          if (found != NULL)
            g_ptr_array_add (loader->warnings,
                             g_strdup_printf ("%s:%u:%u: duplicate key '%s'; this later value is used",
                                              loader->origin, key->line, key->column, name));
          found = g_ptr_array_index (mapping->items, i + 1);
        }
    }
  return found;
}

static gboolean
check_keys (Loader *loader, const RiYamlNode *mapping, const char *const *known, const char *where,
            GError **error)
{
  for (guint i = 0; i + 1 < mapping->items->len; i += 2)
    {
      RiYamlNode *key = g_ptr_array_index (mapping->items, i);
      if (key->kind != RI_YAML_SCALAR)
        return fail (loader, key, error, "keys in %s must be strings", where);
      if (!g_strv_contains (known, key->value))
        warn_unknown_key (loader, key, known, where);
    }
  return TRUE;
}

static gboolean
require_kind (Loader *loader, const RiYamlNode *node, RiYamlKind kind, const char *name, GError **error)
{
  static const char *const kinds[] = { "a string", "a list", "a mapping" };

  if (node->kind == kind)
    return TRUE;
  return fail (loader, node, error, "'%s' must be %s", name, kinds[kind]);
}

static gboolean
get_string (Loader *loader, const RiYamlNode *node, const char *name, char **out, GError **error)
{
  if (!require_kind (loader, node, RI_YAML_SCALAR, name, error))
    return FALSE;
  if (ri_yaml_node_is_null (node))
    return fail (loader, node, error, "'%s' must not be empty", name);
  g_free (*out);
  *out = g_strdup (node->value);
  return TRUE;
}

static gboolean
get_bool (Loader *loader, const RiYamlNode *node, const char *name, gboolean *out, GError **error)
{
  static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL };
  static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL };

  if (node->kind == RI_YAML_SCALAR && !node->quoted)
    {
      if (g_strv_contains (yes, node->value))
        return (*out = TRUE);
      if (g_strv_contains (no, node->value))
        return !(*out = FALSE);
    }
  return fail (loader, node, error, "'%s' must be true or false", name);
}

static gboolean
get_uint (Loader *loader, const RiYamlNode *node, const char *name, guint64 min, guint64 max,
          guint64 *out, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (node->kind != RI_YAML_SCALAR ||
      !g_ascii_string_to_unsigned (node->value, 10, min, max, out, &local_error))
    return fail (loader, node, error, "'%s' must be a whole number from %" G_GUINT64_FORMAT
                 " to %" G_GUINT64_FORMAT, name, min, max);
  return TRUE;
}

static gboolean
get_string_list (Loader *loader, const RiYamlNode *node, const char *name, GStrv *out, GError **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (!require_kind (loader, node, RI_YAML_SEQUENCE, name, error))
    return FALSE;
  for (guint i = 0; i < node->items->len; i++)
    {
      RiYamlNode *item = g_ptr_array_index (node->items, i);
      if (item->kind != RI_YAML_SCALAR || ri_yaml_node_is_null (item))
        return fail (loader, item, error, "items of '%s' must be non-empty strings", name);
      g_strv_builder_add (builder, item->value);
    }
  g_strfreev (*out);
  *out = g_strv_builder_end (builder);
  return TRUE;
}

static char *
resolve_path (Loader *loader, const char *path)
{
  if (g_path_is_absolute (path))
    return g_canonicalize_filename (path, NULL);
  return g_canonicalize_filename (path, loader->base_dir);
}

/* @text with whatever stands before an '@' in its authority replaced, so
 * that an error about a URL never shows a password written into it. */
static char *
without_userinfo (const char *text)
{
  const char *authority = strstr (text, "://");
  const char *end, *at;

  authority = authority ? authority + 3 : text;
  end = authority + strcspn (authority, "/?#");
  for (at = end; at > authority && at[-1] != '@'; at--)
    ;
  if (at == authority)
    return g_strdup (text);
  return g_strdup_printf ("%.*s…@%s", (int) (authority - text), text, at);
}

/* Accepts what the original accepted (a trailing '/', a path prefix) and
 * normalises it, so that two spellings of a registry are scanned once.
 * Also what a notification's ?registry= is compared through. */
char *
ri_config_normalize_registry_url (const char *url, GError **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *path = NULL;
  const char *scheme;

  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED | G_URI_FLAGS_SCHEME_NORMALIZE, &local_error);
  if (uri == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "not a valid URL: %s", local_error->message);
      return NULL;
    }
  scheme = g_uri_get_scheme (uri);
  if (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "must be an http:// or https:// URL, not '%s'", url);
      return NULL;
    }
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "has no host: '%s'", url);
      return NULL;
    }
  if (g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL || g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "must not contain a query, fragment or user: '%s'", url);
      return NULL;
    }

  path = g_strdup (g_uri_get_path (uri));
  while (g_str_has_suffix (path, "/"))
    path[strlen (path) - 1] = '\0';
  return g_uri_join (G_URI_FLAGS_ENCODED, scheme, NULL, g_uri_get_host (uri), g_uri_get_port (uri), path, NULL, NULL);
}

static gboolean
get_registry_url (Loader *loader, const RiYamlNode *node, const char *name, char **out, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *shown = NULL;
  char *url;

  if (!require_kind (loader, node, RI_YAML_SCALAR, name, error))
    return FALSE;
  /* Credentials in the URL are refused without being repeated: they belong
   * in a password_file or auth_file, never in a file everyone may read. */
  shown = without_userinfo (node->value);
  if (!g_str_equal (shown, node->value))
    return fail (loader, node, error, "'%s' must not hold credentials ('%s'): give them with 'username' and "
                 "'password_file', or 'auth_file', under 'registries'", name, shown);
  url = ri_config_normalize_registry_url (node->value, &local_error);
  if (url == NULL)
    return fail (loader, node, error, "'%s' %s", name, local_error->message);
  g_free (*out);
  *out = url;
  return TRUE;
}

/* Tags are [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; a pattern with other
 * characters can never match, which is a mistake worth reporting. */
static gboolean
check_tag_pattern (Loader *loader, const RiYamlNode *node, GError **error)
{
  for (const char *p = node->value; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("_.-*?", *p) == NULL)
      return fail (loader, node, error,
                   "tag pattern '%s' can never match: tags hold only letters, digits, '_', '.' and '-' "
                   "(patterns add '*' and '?')", node->value);
  return TRUE;
}

static RiIndexConfig *
load_index (Loader *loader, const RiYamlNode *key, const RiYamlNode *node, GError **error)
{
  g_autoptr(GPtrArray) patterns = g_ptr_array_new_with_free_func ((GDestroyNotify) g_pattern_spec_free);
  RiIndexConfig *index = g_new0 (RiIndexConfig, 1);
  g_autoptr(GPtrArray) guard = g_ptr_array_new_with_free_func ((GDestroyNotify) index_config_free);
  RiYamlNode *value;
  char *output = NULL;

  g_ptr_array_add (guard, index);
  index->name = g_strdup (key->value);
  index->line = key->line;
  index->column = key->column;

  if (!require_kind (loader, node, RI_YAML_MAPPING, index->name, error) ||
      !check_keys (loader, node, index_keys, "an index", error))
    return NULL;

  /* Without 'output', the index must be served over HTTP: checked once
   * the daemon section is read. */
  if ((value = mapping_get (loader, node, "output")) != NULL)
    {
      if (!get_string (loader, value, "output", &output, error))
        return NULL;
      index->output = resolve_path (loader, output);
      index->output_line = value->line;
      index->output_column = value->column;
      g_free (output);
      if (g_str_has_suffix (value->value, "/"))
        return fail (loader, value, error, "'output' must name a file, not a directory"), NULL;
    }

  if ((value = mapping_get (loader, node, "registry")) == NULL)
    return fail (loader, key, error, "index '%s' has no 'registry'", index->name), NULL;
  if (!get_registry_url (loader, value, "registry", &index->registry, error))
    return NULL;

  if ((value = mapping_get (loader, node, "registry_public")) != NULL)
    {
      if (!get_string (loader, value, "registry_public", &index->registry_public, error))
        return NULL;
    }
  else
    index->registry_public = g_strconcat (index->registry, "/", NULL);

  if ((value = mapping_get (loader, node, "tags")) != NULL)
    {
      if (!get_string_list (loader, value, "tags", &index->tags, error))
        return NULL;
      if (index->tags[0] == NULL)
        return fail (loader, value, error, "'tags' must not be empty: nothing would be indexed"), NULL;
      for (guint i = 0; i < value->items->len; i++)
        if (!check_tag_pattern (loader, g_ptr_array_index (value->items, i), error))
          return NULL;
    }
  else
    {
      const char *const latest[] = { "latest", NULL };
      index->tags = g_strdupv ((GStrv) latest);
    }
  for (guint i = 0; index->tags[i]; i++)
    g_ptr_array_add (patterns, g_pattern_spec_new (index->tags[i]));
  index->tag_patterns = g_steal_pointer (&patterns);

  index->required_annotations = g_new0 (char *, 1);
  index->required_labels = g_new0 (char *, 1);
  if ((value = mapping_get (loader, node, "required_annotations")) != NULL &&
      !get_string_list (loader, value, "required_annotations", &index->required_annotations, error))
    return NULL;
  if ((value = mapping_get (loader, node, "required_labels")) != NULL &&
      !get_string_list (loader, value, "required_labels", &index->required_labels, error))
    return NULL;
  if ((value = mapping_get (loader, node, "architectures")) != NULL)
    {
      if (!get_string_list (loader, value, "architectures", &index->architectures, error))
        return NULL;
      if (index->architectures[0] == NULL)
        return fail (loader, value, error, "'architectures' must not be empty; leave it out to index all"), NULL;
    }
  if ((value = mapping_get (loader, node, "skip_flatpak_annotations")) != NULL &&
      !get_bool (loader, value, "skip_flatpak_annotations", &index->skip_flatpak_annotations, error))
    return NULL;
  if ((value = mapping_get (loader, node, "skip_flatpak_labels")) != NULL &&
      !get_bool (loader, value, "skip_flatpak_labels", &index->skip_flatpak_labels, error))
    return NULL;
  if ((value = mapping_get (loader, node, "extract_icons")) != NULL &&
      !get_bool (loader, value, "extract_icons", &index->extract_icons, error))
    return NULL;

  return g_ptr_array_steal_index (guard, 0);
}

static void
http_serve_free (RiHttpServe *serve)
{
  g_free (serve->prefix);
  g_free (serve->index);
  g_free (serve);
}

/* "127.0.0.1:8088" or "[::1]:8088": an address to bind, so a literal IP. */
static gboolean
check_listen_address (Loader *loader, const RiYamlNode *node, GError **error)
{
  const char *text = node->value;
  const char *colon = strrchr (text, ':');
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) address = NULL;
  guint64 port;

  if (colon == NULL)
    return fail (loader, node, error, "'%s' is not an address and port such as 127.0.0.1:8088 or [::1]:8088", text);
  host = g_strndup (text, colon - text);
  if (host[0] == '[' && g_str_has_suffix (host, "]"))
    {
      char *inner = g_strndup (host + 1, strlen (host) - 2);
      g_free (host);
      host = inner;
      if (strchr (host, ':') == NULL)
        host[0] = '\0'; /* brackets are for IPv6 only */
    }
  else if (strchr (host, ':') != NULL)
    host[0] = '\0'; /* an IPv6 address needs brackets */
  address = g_inet_address_new_from_string (host);
  if (address == NULL)
    return fail (loader, node, error, "'%s' does not start with an IP address such as 127.0.0.1 or [::1] "
                 "(host names are not resolved for listening)", text);
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    return fail (loader, node, error, "'%s' does not end in a port from 1 to 65535", text);
  return TRUE;
}

static gboolean
load_http_serve (Loader *loader, RiConfig *config, const RiYamlNode *node, GError **error)
{
  RiHttpConfig *http = &config->daemon.http;

  g_autoptr(GHashTable) prefixes = g_hash_table_new (g_str_hash, g_str_equal);

  if (!require_kind (loader, node, RI_YAML_MAPPING, "serve", error))
    return FALSE;
  for (guint i = 0; i + 1 < node->items->len; i += 2)
    {
      RiYamlNode *key = g_ptr_array_index (node->items, i);
      RiYamlNode *value = g_ptr_array_index (node->items, i + 1);
      RiHttpServe *serve;
      g_autofree char *prefix = NULL;

      if (key->kind != RI_YAML_SCALAR || !g_str_has_prefix (key->value, "/") ||
          strpbrk (key->value, "?#%\\ ") != NULL || strstr (key->value, "/../") != NULL ||
          strstr (key->value, "//") != NULL || g_str_has_suffix (key->value, "/.."))
        return fail (loader, key, error, "keys of 'serve' must be URL paths such as / or /testing/");
      if (value->kind != RI_YAML_SCALAR || ri_yaml_node_is_null (value))
        return fail (loader, value, error, "'serve' maps a URL path to the name of an index");
      if (ri_config_get_index (config, value->value) == NULL)
        return fail (loader, value, error, "there is no index '%s' to serve", value->value);
      prefix = g_str_has_suffix (key->value, "/") ? g_strdup (key->value) : g_strconcat (key->value, "/", NULL);
      if (g_hash_table_contains (prefixes, prefix))
        return fail (loader, key, error, "'%s' is served twice", prefix);
      serve = g_new0 (RiHttpServe, 1);
      serve->prefix = g_steal_pointer (&prefix);
      serve->index = g_strdup (value->value);
      g_ptr_array_add (http->serve, serve);
      g_hash_table_add (prefixes, serve->prefix);
      if (!g_hash_table_contains (config->served_table, serve->index))
        g_hash_table_insert (config->served_table, serve->index, serve);
    }
  return TRUE;
}

static gboolean get_existing_file (Loader *loader, const RiYamlNode *node, const char *name, char **out,
                                   GError **error);

/* An index is written by renaming a new file over @path: naming one of
 * these, it would silently replace the configuration or a secret. */
static void G_GNUC_PRINTF (3, 4)
protect (Loader *loader, const char *path, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  if (!g_hash_table_contains (loader->protected, path))
    g_hash_table_insert (loader->protected, g_strdup (path), g_strdup_vprintf (format, args));
  va_end (args);
}
static void warn_if_exposed (Loader *loader, const RiYamlNode *node, const char *path);

static gboolean
load_http (Loader *loader, RiConfig *config, const RiYamlNode *node, GError **error)
{
  RiHttpConfig *http = &config->daemon.http;
  RiYamlNode *value;
  guint64 number;

  http->max_age_s = DEFAULT_MAX_AGE_S;
  http->max_event_size = DEFAULT_MAX_EVENT_SIZE;
  http->max_connections = DEFAULT_HTTP_MAX_CONNECTIONS;
  http->max_connections_per_client = DEFAULT_HTTP_MAX_PER_CLIENT;
  http->request_timeout_s = DEFAULT_HTTP_REQUEST_TIMEOUT_S;
  http->idle_timeout_s = DEFAULT_HTTP_IDLE_TIMEOUT_S;
  http->serve = g_ptr_array_new_with_free_func ((GDestroyNotify) http_serve_free);
  if (node == NULL)
    {
      http->listen = g_new0 (char *, 1);
      return TRUE;
    }
  if (!require_kind (loader, node, RI_YAML_MAPPING, "http", error) ||
      !check_keys (loader, node, http_keys, "daemon: http", error))
    return FALSE;

  if ((value = mapping_get (loader, node, "listen")) != NULL)
    {
      if (!get_string_list (loader, value, "listen", &http->listen, error))
        return FALSE;
      for (guint i = 0; i < value->items->len; i++)
        if (!check_listen_address (loader, g_ptr_array_index (value->items, i), error))
          return FALSE;
    }
  else
    http->listen = g_new0 (char *, 1);
  if ((value = mapping_get (loader, node, "serve")) != NULL &&
      !load_http_serve (loader, config, value, error))
    return FALSE;
  if ((value = mapping_get (loader, node, "max_age")) != NULL)
    {
      if (!get_uint (loader, value, "max_age", 0, 365 * 24 * 3600, &number, error))
        return FALSE;
      http->max_age_s = number;
    }
  if ((value = mapping_get (loader, node, "events")) != NULL &&
      !get_bool (loader, value, "events", &http->events, error))
    return FALSE;
  if ((value = mapping_get (loader, node, "events_token_file")) != NULL)
    {
      g_autofree char *path = NULL;
      g_autoptr(GError) local_error = NULL;

      if (!http->events)
        return fail (loader, value, error, "'events_token_file' needs 'events: true'");
      if (!get_existing_file (loader, value, "events_token_file", &path, error))
        return FALSE;
      protect (loader, path, "the 'events_token_file'");
      http->events_token = ri_credentials_read_secret_file (path, &local_error);
      if (http->events_token == NULL)
        return fail (loader, value, error, "%s", local_error->message);
      warn_if_exposed (loader, value, path);
    }
  if ((value = mapping_get (loader, node, "max_event_size")) != NULL)
    {
      if (!get_uint (loader, value, "max_event_size", 1024, 64 << 20, &number, error))
        return FALSE;
      http->max_event_size = number;
    }
  if ((value = mapping_get (loader, node, "max_connections")) != NULL)
    {
      if (!get_uint (loader, value, "max_connections", 1, 1000000, &number, error))
        return FALSE;
      http->max_connections = number;
    }
  if ((value = mapping_get (loader, node, "max_connections_per_client")) != NULL)
    {
      if (!get_uint (loader, value, "max_connections_per_client", 1, 1000000, &number, error))
        return FALSE;
      http->max_connections_per_client = number;
    }
  if ((value = mapping_get (loader, node, "request_timeout")) != NULL)
    {
      if (!get_uint (loader, value, "request_timeout", 1, 3600, &number, error))
        return FALSE;
      http->request_timeout_s = number;
    }
  if ((value = mapping_get (loader, node, "idle_timeout")) != NULL)
    {
      if (!get_uint (loader, value, "idle_timeout", 1, 3600, &number, error))
        return FALSE;
      http->idle_timeout_s = number;
    }
  if (http->listen[0] == NULL && (http->serve->len > 0 || http->events))
    return fail (loader, node, error, "'http' serves indexes or takes events but has no 'listen' addresses");
  return TRUE;
}

static gboolean
load_daemon (Loader *loader, RiConfig *config, const RiYamlNode *node, GError **error)
{
  RiDaemonConfig *daemon = &config->daemon;
  RiYamlNode *value;
  guint64 number;

  /* 0 is a valid setting, so the default is set before reading. */
  daemon->coalesce_delay_ms = 200;
  daemon->retry_delay_s = 10;
  daemon->scan = TRUE;

  if (node != NULL)
    {
      if (!require_kind (loader, node, RI_YAML_MAPPING, "daemon", error) ||
          !check_keys (loader, node, daemon_keys, "daemon", error))
        return FALSE;
      if ((value = mapping_get (loader, node, "topic_prefix")) != NULL &&
          !get_string (loader, value, "topic_prefix", &daemon->topic_prefix, error))
        return FALSE;
      if ((value = mapping_get (loader, node, "environment")) != NULL &&
          !get_string (loader, value, "environment", &daemon->environment, error))
        return FALSE;
      if ((value = mapping_get (loader, node, "endpoints")) != NULL)
        {
          static const char *const transports[] = { "tcp://", "ipc://", "pgm://", "epgm://", "ws://", "wss://", NULL };
          if (!get_string_list (loader, value, "endpoints", &daemon->endpoints, error))
            return FALSE;
          for (guint i = 0; daemon->endpoints[i]; i++)
            {
              gboolean known = FALSE;
              for (guint j = 0; transports[j]; j++)
                known |= g_str_has_prefix (daemon->endpoints[i], transports[j]) &&
                         daemon->endpoints[i][strlen (transports[j])] != '\0';
              if (!known)
                return fail (loader, g_ptr_array_index (value->items, i), error,
                             "'%s' is not a ZeroMQ endpoint such as tcp://host:port or ipc:///path",
                             daemon->endpoints[i]);
            }
        }
      if ((value = mapping_get (loader, node, "topics")) != NULL &&
          !get_string_list (loader, value, "topics", &daemon->topics, error))
        return FALSE;
      if ((value = mapping_get (loader, node, "reconnect_interval")) != NULL)
        {
          if (!get_uint (loader, value, "reconnect_interval", 1, 3600000, &number, error))
            return FALSE;
          daemon->reconnect_interval_ms = number;
        }
      if ((value = mapping_get (loader, node, "coalesce_delay")) != NULL)
        {
          if (!get_uint (loader, value, "coalesce_delay", 0, 60000, &number, error))
            return FALSE;
          daemon->coalesce_delay_ms = number;
        }
      if ((value = mapping_get (loader, node, "retry_delay")) != NULL)
        {
          if (!get_uint (loader, value, "retry_delay", 0, 3600, &number, error))
            return FALSE;
          daemon->retry_delay_s = number;
        }
      if ((value = mapping_get (loader, node, "state_dir")) != NULL)
        {
          g_autofree char *path = NULL;
          if (!get_string (loader, value, "state_dir", &path, error))
            return FALSE;
          daemon->state_dir = resolve_path (loader, path);
        }
      if ((value = mapping_get (loader, node, "scan")) != NULL &&
          !get_bool (loader, value, "scan", &daemon->scan, error))
        return FALSE;
      if ((value = mapping_get (loader, node, "max_message_size")) != NULL)
        {
          if (!get_uint (loader, value, "max_message_size", 1024, 1 << 30, &number, error))
            return FALSE;
          daemon->max_message_size = number;
        }
    }
  if (!load_http (loader, config, node ? mapping_get (loader, node, "http") : NULL, error))
    return FALSE;

  if (daemon->topic_prefix == NULL)
    daemon->topic_prefix = g_strdup ("org.fedoraproject");
  if (daemon->environment == NULL)
    daemon->environment = g_strdup ("dev");
  if (daemon->endpoints == NULL)
    daemon->endpoints = g_new0 (char *, 1);
  if (daemon->topics == NULL)
    {
      daemon->topics = g_new0 (char *, 3);
      daemon->topics[0] = g_strdup_printf ("%s.%s.bodhi.compose.complete",
                                           daemon->topic_prefix, daemon->environment);
      daemon->topics[1] = g_strdup_printf ("%s.%s.bodhi.mashtask.complete",
                                           daemon->topic_prefix, daemon->environment);
    }
  if (!daemon->scan && (daemon->endpoints[0] != NULL || daemon->http.events))
    g_ptr_array_add (loader->warnings,
                     g_strdup_printf ("%s: 'scan: false' makes a read replica, which never scans: its fedmsg "
                                      "endpoints and registry events are ignored", loader->origin));
  if (daemon->reconnect_interval_ms == 0)
    daemon->reconnect_interval_ms = 1000;
  if (daemon->max_message_size == 0)
    daemon->max_message_size = 1024 * 1024;
  return TRUE;
}

static gboolean
get_existing_file (Loader *loader, const RiYamlNode *node, const char *name, char **out, GError **error)
{
  g_autofree char *value = NULL;

  if (!get_string (loader, node, name, &value, error))
    return FALSE;
  g_free (*out);
  *out = resolve_path (loader, value);
  if (!g_file_test (*out, G_FILE_TEST_IS_REGULAR))
    return fail (loader, node, error, "'%s' names '%s', which is not a readable file", name, *out);
  return TRUE;
}

static void
warn_if_exposed (Loader *loader, const RiYamlNode *node, const char *path)
{
  if (ri_credentials_file_is_exposed (path))
    g_ptr_array_add (loader->warnings,
                     g_strdup_printf ("%s:%u:%u: '%s' holds a secret but other users may read it "
                                      "(chmod 600 it)", loader->origin, node->line, node->column, path));
}

static gboolean
load_registry (Loader *loader, RiRegistryConfig *registry, const RiYamlNode *node, GError **error)
{
  RiYamlNode *value, *auth_file_node;
  guint64 number;
  g_autofree char *path = NULL;
  g_autofree char *auth_file = NULL;

  if (!require_kind (loader, node, RI_YAML_MAPPING, registry->url, error) ||
      !check_keys (loader, node, registry_keys, "a registry", error))
    return FALSE;

  if ((value = mapping_get (loader, node, "username")) != NULL &&
      !get_string (loader, value, "username", &registry->username, error))
    return FALSE;
  if ((value = mapping_get (loader, node, "password_file")) != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      if (registry->username == NULL)
        return fail (loader, value, error, "'password_file' needs a 'username'");
      if (!get_existing_file (loader, value, "password_file", &path, error))
        return FALSE;
      protect (loader, path, "the 'password_file' of %s", registry->url);
      registry->password = ri_credentials_read_secret_file (path, &local_error);
      if (registry->password == NULL)
        return fail (loader, value, error, "%s", local_error->message);
      warn_if_exposed (loader, value, path);
    }
  else if (registry->username != NULL)
    return fail (loader, node, error, "'username' needs a 'password_file'");

  auth_file_node = mapping_get (loader, node, "auth_file");
  if (auth_file_node != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      if (registry->username != NULL)
        return fail (loader, auth_file_node, error, "give either 'username' and 'password_file', or 'auth_file'");
      if (!get_existing_file (loader, auth_file_node, "auth_file", &auth_file, error))
        return FALSE;
      protect (loader, auth_file, "the 'auth_file' of %s", registry->url);
      if (!ri_credentials_from_auth_file (auth_file, registry->url, &registry->username,
                                          &registry->password, &local_error))
        return fail (loader, auth_file_node, error, "%s", local_error->message);
      if (registry->username == NULL)
        return fail (loader, auth_file_node, error, "'%s' has no credentials for %s", auth_file, registry->url);
      warn_if_exposed (loader, auth_file_node, auth_file);
    }

  if ((value = mapping_get (loader, node, "ca_certificate")) != NULL &&
      !get_existing_file (loader, value, "ca_certificate", &registry->ca_certificate, error))
    return FALSE;
  if ((value = mapping_get (loader, node, "client_certificate")) != NULL &&
      !get_existing_file (loader, value, "client_certificate", &registry->client_certificate, error))
    return FALSE;
  if ((value = mapping_get (loader, node, "client_key")) != NULL &&
      !get_existing_file (loader, value, "client_key", &registry->client_key, error))
    return FALSE;
  if (registry->ca_certificate != NULL)
    protect (loader, registry->ca_certificate, "the 'ca_certificate' of %s", registry->url);
  if (registry->client_certificate != NULL)
    protect (loader, registry->client_certificate, "the 'client_certificate' of %s", registry->url);
  if (registry->client_key != NULL)
    protect (loader, registry->client_key, "the 'client_key' of %s", registry->url);
  if ((registry->client_certificate == NULL) != (registry->client_key == NULL))
    return fail (loader, node, error, "'client_certificate' and 'client_key' go together");
  if (registry->client_certificate != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GTlsCertificate) certificate =
        g_tls_certificate_new_from_files (registry->client_certificate, registry->client_key, &local_error);
      if (certificate == NULL)
        return fail (loader, mapping_get (loader, node, "client_certificate"), error,
                     "cannot load the client certificate: %s", local_error->message);
    }
  if (registry->ca_certificate != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GList) certificates = g_tls_certificate_list_new_from_file (registry->ca_certificate, &local_error);
      if (certificates == NULL)
        return fail (loader, mapping_get (loader, node, "ca_certificate"), error,
                     "cannot load a certificate from '%s': %s", registry->ca_certificate,
                     local_error ? local_error->message : "no certificate in the file");
      g_list_free_full (g_steal_pointer (&certificates), g_object_unref);
    }
  if ((value = mapping_get (loader, node, "tls_verify")) != NULL)
    {
      if (!get_bool (loader, value, "tls_verify", &registry->tls_verify, error))
        return FALSE;
      if (!registry->tls_verify)
        g_ptr_array_add (loader->warnings,
                         g_strdup_printf ("%s:%u:%u: TLS certificates of %s are NOT verified: anyone on the "
                                          "network path can impersonate it", loader->origin, value->line,
                                          value->column, registry->url));
    }
  if ((value = mapping_get (loader, node, "repositories")) != NULL)
    {
      if (!get_string_list (loader, value, "repositories", &registry->repositories, error))
        return FALSE;
      if (registry->repositories[0] == NULL)
        return fail (loader, value, error, "'repositories' must not be empty; leave it out to use the catalog");
    }
  if ((value = mapping_get (loader, node, "max_connections")) != NULL)
    {
      if (!get_uint (loader, value, "max_connections", 1, 64, &number, error))
        return FALSE;
      registry->max_connections = number;
    }
  if ((value = mapping_get (loader, node, "timeout")) != NULL)
    {
      if (!get_uint (loader, value, "timeout", 1, 3600, &number, error))
        return FALSE;
      registry->timeout_s = number;
    }
  if ((value = mapping_get (loader, node, "retries")) != NULL)
    {
      if (!get_uint (loader, value, "retries", 0, 10, &number, error))
        return FALSE;
      registry->retries = number;
    }
  return TRUE;
}

/* Credentials from the standard auth files, for registries that were given
 * none: what `podman login` or `docker login` left there. */
static void
load_default_credentials (Loader *loader, RiRegistryConfig *registry)
{
  g_auto(GStrv) files = ri_credentials_default_auth_files ();

  for (guint i = 0; files[i] && registry->username == NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;

      if (!g_file_test (files[i], G_FILE_TEST_IS_REGULAR))
        continue;
      if (!ri_credentials_from_auth_file (files[i], registry->url, &registry->username, &registry->password,
                                          &local_error))
        g_ptr_array_add (loader->warnings, g_strdup (local_error->message));
    }
}

static gboolean
load_registries (Loader *loader, RiConfig *config, const RiYamlNode *node, GError **error)
{
  g_autoptr(GHashTable) used_urls = g_hash_table_new (g_str_hash, g_str_equal);

  config->registries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) registry_config_free);
  for (guint i = 0; i < config->indexes->len; i++)
    g_hash_table_add (used_urls, ((RiIndexConfig *) g_ptr_array_index (config->indexes, i))->registry);

  if (node != NULL)
    {
      if (!require_kind (loader, node, RI_YAML_MAPPING, "registries", error))
        return FALSE;
      for (guint i = 0; i + 1 < node->items->len; i += 2)
        {
          RiYamlNode *key = g_ptr_array_index (node->items, i);
          g_autofree char *url = NULL;
          RiRegistryConfig *registry;

          if (!get_registry_url (loader, key, "registries", &url, error))
            return FALSE;
          if (g_hash_table_contains (config->registries, url))
            return fail (loader, key, error, "registry '%s' is configured twice", url);
          if (!g_hash_table_contains (used_urls, url))
            g_ptr_array_add (loader->warnings,
                             g_strdup_printf ("%s:%u:%u: no index uses registry '%s'; its settings are unused",
                                              loader->origin, key->line, key->column, url));
          registry = registry_config_new (url);
          g_hash_table_insert (config->registries, registry->url, registry);
          if (!load_registry (loader, registry, g_ptr_array_index (node->items, i + 1), error))
            return FALSE;
        }
    }

  for (guint i = 0; i < config->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (config->indexes, i);
      RiRegistryConfig *registry = g_hash_table_lookup (config->registries, index->registry);

      if (registry == NULL)
        {
          registry = registry_config_new (index->registry);
          g_hash_table_insert (config->registries, registry->url, registry);
        }
      /* Once per registry, not per index: each look reads files. */
      if (registry->username == NULL && g_hash_table_remove (used_urls, registry->url))
        load_default_credentials (loader, registry);
    }
  return TRUE;
}

static char *
file_key (const struct stat *st)
{
  return g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT, (guint64) st->st_dev, (guint64) st->st_ino);
}

/* Every 'output' names a file of its own, and none that the
 * configuration reads: compared by name, and by inode for what exists
 * (a symbolic link, another spelling of the path). In one pass, since a
 * configuration may hold a hundred thousand indexes. */
static gboolean
check_outputs (Loader *loader, RiConfig *config, GError **error)
{
  g_autoptr(GHashTable) outputs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) protected_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* The origin of a file read is its path as given: relative to the
   * working directory, not to base_dir. */
  g_autofree char *config_path = g_canonicalize_filename (loader->origin, NULL);
  GHashTableIter iter;
  gpointer path, what;
  struct stat st;

  protect (loader, config_path, "the configuration file itself");
  g_hash_table_iter_init (&iter, loader->protected);
  while (g_hash_table_iter_next (&iter, &path, &what))
    if (stat (path, &st) == 0)
      g_hash_table_insert (protected_files, file_key (&st), what);

  for (guint i = 0; i < config->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (config->indexes, i);
      RiIndexConfig *other;
      const char *file_is = NULL;
      RiYamlNode where = { 0 };

      if (index->output == NULL)
        continue;
      where.line = index->output_line;
      where.column = index->output_column;
      if ((other = g_hash_table_lookup (outputs, index->output)) != NULL)
        return fail (loader, &where, error, "index '%s' writes to '%s', as index '%s' does",
                     index->name, index->output, other->name);
      g_hash_table_insert (outputs, g_strdup (index->output), index);
      file_is = g_hash_table_lookup (loader->protected, index->output);
      if (file_is == NULL && stat (index->output, &st) == 0)
        {
          g_autofree char *key = file_key (&st);

          file_is = g_hash_table_lookup (protected_files, key);
          if (file_is == NULL && (other = g_hash_table_lookup (outputs, key)) != NULL)
            return fail (loader, &where, error, "index '%s' writes to '%s', the file index '%s' writes to",
                         index->name, index->output, other->name);
          g_hash_table_insert (outputs, g_steal_pointer (&key), index);
        }
      if (file_is != NULL)
        return fail (loader, &where, error, "index '%s' would replace '%s', %s, with its 'output'",
                     index->name, index->output, file_is);
    }
  return TRUE;
}

static RiConfig *
load_root (Loader *loader, const RiYamlNode *root, GError **error)
{
  g_autoptr(RiConfig) config = g_new0 (RiConfig, 1);
  RiYamlNode *value, *indexes;
  gboolean any_icons = FALSE;
  char *path = NULL;

  g_atomic_ref_count_init (&config->ref_count);
  config->path = g_strdup (loader->origin);
  config->indexes = g_ptr_array_new_with_free_func ((GDestroyNotify) index_config_free);
  config->index_table = g_hash_table_new (g_str_hash, g_str_equal);
  config->served_table = g_hash_table_new (g_str_hash, g_str_equal);
  config->icons_grace_period_s = DEFAULT_GRACE_PERIOD_S;

  if (ri_yaml_node_is_null (root))
    return fail (loader, root, error, "the file is empty: it needs at least 'indexes'"), NULL;
  if (!require_kind (loader, root, RI_YAML_MAPPING, "the top level", error) ||
      !check_keys (loader, root, top_keys, "the top level", error))
    return NULL;

  if ((value = mapping_get (loader, root, "icons_dir")) != NULL)
    {
      if (!get_string (loader, value, "icons_dir", &path, error))
        return NULL;
      config->icons_dir = resolve_path (loader, path);
      g_free (path);
    }
  if ((value = mapping_get (loader, root, "icons_uri")) != NULL)
    {
      if (!get_string (loader, value, "icons_uri", &config->icons_uri, error))
        return NULL;
      if (!g_str_has_suffix (config->icons_uri, "/"))
        {
          char *with_slash = g_strconcat (config->icons_uri, "/", NULL);
          g_free (config->icons_uri);
          config->icons_uri = with_slash;
        }
    }
  if ((value = mapping_get (loader, root, "icons_grace_period")) != NULL)
    {
      guint64 seconds;
      if (!get_uint (loader, value, "icons_grace_period", 0, G_MAXUINT32, &seconds, error))
        return NULL;
      config->icons_grace_period_s = seconds;
    }

  indexes = mapping_get (loader, root, "indexes");
  if (indexes == NULL)
    return fail (loader, root, error, "there is no 'indexes' section: nothing to do"), NULL;
  if (!require_kind (loader, indexes, RI_YAML_MAPPING, "indexes", error))
    return NULL;
  for (guint i = 0; i + 1 < indexes->items->len; i += 2)
    {
      RiYamlNode *key = g_ptr_array_index (indexes->items, i);
      RiIndexConfig *index;

      if (key->kind != RI_YAML_SCALAR || ri_yaml_node_is_null (key))
        return fail (loader, key, error, "index names must be non-empty strings"), NULL;
      if (ri_config_get_index (config, key->value) != NULL)
        return fail (loader, key, error, "index '%s' is defined twice", key->value), NULL;
      index = load_index (loader, key, g_ptr_array_index (indexes->items, i + 1), error);
      if (index == NULL)
        return NULL;
      any_icons |= index->extract_icons;
      g_ptr_array_add (config->indexes, index);
      g_hash_table_insert (config->index_table, index->name, index);
    }
  if (config->indexes->len == 0)
    return fail (loader, indexes, error, "'indexes' is empty: nothing to do"), NULL;

  if (any_icons && (config->icons_dir == NULL || config->icons_uri == NULL))
    {
      for (guint i = 0; i < config->indexes->len; i++)
        {
          RiIndexConfig *index = g_ptr_array_index (config->indexes, i);
          if (index->extract_icons)
            {
              g_set_error (error, RI_ERROR, RI_ERROR_CONFIG,
                           "%s:%u:%u: index '%s' has 'extract_icons' but the top level lacks '%s'",
                           loader->origin, index->line, index->column, index->name,
                           config->icons_dir == NULL ? "icons_dir" : "icons_uri");
              return NULL;
            }
        }
    }

  if (!load_registries (loader, config, mapping_get (loader, root, "registries"), error))
    return NULL;
  if (!load_daemon (loader, config, mapping_get (loader, root, "daemon"), error))
    return NULL;
  if (!check_outputs (loader, config, error))
    return NULL;
  for (guint i = 0; i < config->indexes->len; i++)
    {
      RiIndexConfig *index = g_ptr_array_index (config->indexes, i);
      if (index->output == NULL && ri_config_get_served (config, index->name) == NULL)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_CONFIG,
                       "%s:%u:%u: index '%s' has no 'output' and is not served under 'daemon: http: serve'",
                       loader->origin, index->line, index->column, index->name);
          return NULL;
        }
    }

  return g_steal_pointer (&config);
}

RiConfig *
ri_config_load_data (const char *data, gsize length, const char *origin, const char *base_dir, GError **error)
{
  g_autoptr(RiYamlNode) root = NULL;
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *cwd = g_get_current_dir ();
  g_autoptr(GHashTable) protected = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  Loader loader = { origin, base_dir ? base_dir : cwd, warnings, protected };

  RiConfig *config;

  root = ri_yaml_parse_data (data, length, origin, error);
  if (root == NULL)
    return NULL;
  config = load_root (&loader, root, error);
  if (config == NULL)
    return NULL;
  g_ptr_array_add (warnings, NULL);
  config->warnings = (GStrv) g_ptr_array_free (g_steal_pointer (&warnings), FALSE);
  return config;
}

RiConfig *
ri_config_load_file (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autofree char *base_dir = g_path_get_dirname (absolute);
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  return ri_config_load_data (contents, length, path, base_dir, error);
}

/* The one way the daemon and the CLI read their configuration: each
 * warning goes to @warn (or the log, when NULL) before the caller sees
 * the result, so no caller can forget them. */
RiConfig *
ri_config_load_file_warn (const char          *path,
                          RiConfigWarningFunc  warn,
                          gpointer             user_data,
                          GError             **error)
{
  RiConfig *config = ri_config_load_file (path, error);

  for (guint i = 0; config != NULL && config->warnings[i]; i++)
    {
      if (warn != NULL)
        warn (config->warnings[i], user_data);
      else
        g_warning ("%s", config->warnings[i]);
    }
  return config;
}

/* Whether every one of @names (NULL or empty: all) is a configured index;
 * the error lists the ones there are. */
gboolean
ri_config_check_index_names (RiConfig *config, const char * const *names, GError **error)
{
  for (guint i = 0; names != NULL && names[i]; i++)
    if (ri_config_get_index (config, names[i]) == NULL)
      {
        g_autoptr(GString) known = g_string_new (NULL);
        for (guint j = 0; j < config->indexes->len; j++)
          {
            RiIndexConfig *index = g_ptr_array_index (config->indexes, j);
            g_string_append_printf (known, "%s'%s'", j ? ", " : "", index->name);
          }
        g_set_error (error, RI_ERROR, RI_ERROR_NOT_FOUND,
                     "There is no index '%s' in %s; the configured indexes are %s",
                     names[i], config->path, known->str);
        return FALSE;
      }
  return TRUE;
}

RiIndexConfig *
ri_config_get_index (RiConfig *config, const char *name)
{
  return g_hash_table_lookup (config->index_table, name);
}

/* Where the daemon's HTTP listener answers for @index (the first prefix
 * that names it), or NULL when it is not served. */
const RiHttpServe *
ri_config_get_served (RiConfig *config, const char *index)
{
  return g_hash_table_lookup (config->served_table, index);
}

RiRegistryConfig *
ri_config_get_registry (RiConfig *config, const char *url)
{
  return g_hash_table_lookup (config->registries, url);
}

gboolean
ri_index_config_matches_tag (const RiIndexConfig *index, const char *tag)
{
  for (guint i = 0; i < index->tag_patterns->len; i++)
    if (g_pattern_spec_match_string (g_ptr_array_index (index->tag_patterns, i), tag))
      return TRUE;
  return FALSE;
}
