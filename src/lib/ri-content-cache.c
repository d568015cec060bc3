#define G_LOG_DOMAIN "Cache"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "ri-atomic-file.h"
#include "ri-content-cache.h"
#include "ri-names.h"

/**
 * RiContentCache:
 *
 * Manifests and config blobs by digest. Digests are content addresses,
 * so an entry never goes stale: it is only ever wrong if it is corrupt,
 * which is checked on every load from disk. Kept in memory (the daemon
 * keeps one across runs) and, when a directory is given, on disk under
 * DIR/sha256/XX/REST, so that a CLI run benefits too.
 *
 * Beside the content, it remembers each tag's digest from the last scan
 * of a registry (DIR/tags/SHA256-OF-URL.json): a tag whose digest was
 * known is asked for with a HEAD first, and only fetched when it moved.
 *
 * A directory that cannot be written turns the cache into a memory-only
 * one, with one warning. A short-lived process (the CLI) asks for the
 * disk only: a run never reads an entry twice, so keeping every body in
 * memory as well would only add to its peak size.
 */
struct _RiContentCache {
  GObject parent_instance;

  char *directory;          /* (owned) (nullable) NULL: memory only */
  gboolean keep_in_memory;  /* also when on disk */
  GHashTable *memory;       /* (owned) digest → GBytes */
  GHashTable *tags;         /* (owned) registry → (GHashTable "repo\ntag" → digest) */
  RiCacheStats stats;
};

G_DEFINE_TYPE (RiContentCache, ri_content_cache, G_TYPE_OBJECT)

static void
ri_content_cache_finalize (GObject *object)
{
  RiContentCache *self = RI_CONTENT_CACHE (object);

  g_free (self->directory);
  g_hash_table_unref (self->memory);
  g_hash_table_unref (self->tags);
  G_OBJECT_CLASS (ri_content_cache_parent_class)->finalize (object);
}

static void
ri_content_cache_class_init (RiContentCacheClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ri_content_cache_finalize;
}

static void
ri_content_cache_init (RiContentCache *self)
{
  self->memory = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  self->tags = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
}

static void
disable_disk (RiContentCache *self, const char *what, const char *path, int saved_errno)
{
  g_warning ("Cannot %s '%s' (%s): caching in memory only", what, path, g_strerror (saved_errno));
  g_clear_pointer (&self->directory, g_free);
  self->keep_in_memory = TRUE;
}

RiContentCache *
ri_content_cache_new (const char *directory, gboolean keep_in_memory)
{
  RiContentCache *self = g_object_new (RI_TYPE_CONTENT_CACHE, NULL);

  self->keep_in_memory = keep_in_memory || directory == NULL;
  if (directory != NULL)
    {
      g_autofree char *probe = g_build_filename (directory, "sha256", NULL);
      self->directory = g_strdup (directory);
      if (g_mkdir_with_parents (probe, 0755) != 0 || g_access (probe, W_OK) != 0)
        disable_disk (self, "use the cache directory", directory, errno);
    }
  return self;
}

/* $CACHE_DIRECTORY under systemd (CacheDirectory=), else the XDG one. */
char *
ri_content_cache_default_dir (void)
{
  const char *systemd = g_getenv ("CACHE_DIRECTORY");

  if (systemd != NULL && *systemd && strchr (systemd, ':') == NULL)
    return g_strdup (systemd);
  return g_build_filename (g_get_user_cache_dir (), "regindexer", NULL);
}

static char *
entry_path (RiContentCache *self, const char *digest)
{
  const char *hex = digest + strlen ("sha256:");
  g_autofree char *prefix = g_strndup (hex, 2);

  return g_build_filename (self->directory, "sha256", prefix, hex + 2, NULL);
}

GBytes *
ri_content_cache_lookup (RiContentCache *self, const char *digest)
{
  GBytes *bytes;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *actual = NULL;
  gsize length = 0;

  if (!ri_digest_is_valid (digest))
    return NULL;
  bytes = g_hash_table_lookup (self->memory, digest);
  if (bytes != NULL)
    {
      self->stats.hits++;
      return g_bytes_ref (bytes);
    }
  if (self->directory == NULL)
    {
      self->stats.misses++;
      return NULL;
    }

  path = entry_path (self, digest);
  if (!g_file_get_contents (path, &contents, &length, NULL))
    {
      self->stats.misses++;
      return NULL;
    }
  bytes = g_bytes_new_take (g_steal_pointer (&contents), length);
  actual = ri_digest_compute (bytes);
  if (!g_str_equal (actual, digest))
    {
      /* Corrupt (a crash, a full disk, a person): drop it and fetch again. */
      g_warning ("Cache entry '%s' does not match its digest; dropping it", path);
      g_unlink (path);
      g_bytes_unref (bytes);
      self->stats.corrupt++;
      self->stats.misses++;
      return NULL;
    }
  if (self->keep_in_memory)
    g_hash_table_insert (self->memory, g_strdup (digest), g_bytes_ref (bytes));
  self->stats.hits++;
  return bytes;
}

void
ri_content_cache_store (RiContentCache *self, const char *digest, GBytes *bytes)
{
  g_autofree char *path = NULL;
  g_autofree char *directory = NULL;
  g_autoptr(GError) error = NULL;

  if (!ri_digest_is_valid (digest) || g_hash_table_contains (self->memory, digest))
    return;
  if (self->keep_in_memory)
    g_hash_table_insert (self->memory, g_strdup (digest), g_bytes_ref (bytes));
  self->stats.stored++;
  if (self->directory == NULL)
    return;

  path = entry_path (self, digest);
  directory = g_path_get_dirname (path);
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return;
  if (g_mkdir_with_parents (directory, 0755) != 0)
    {
      disable_disk (self, "create", directory, errno);
      return;
    }
  if (!ri_write_file_atomically (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), 0644, FALSE, &error))
    {
      g_warning ("%s: caching in memory only", error->message);
      g_clear_pointer (&self->directory, g_free);
      self->keep_in_memory = TRUE;
      g_hash_table_insert (self->memory, g_strdup (digest), g_bytes_ref (bytes));
    }
}

static char *
tags_path (RiContentCache *self, const char *registry)
{
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, registry, -1);
  g_autofree char *name = g_strconcat (hash, ".json", NULL);

  return g_build_filename (self->directory, "tags", name, NULL);
}

static GHashTable *
load_tags (RiContentCache *self, const char *registry)
{
  GHashTable *tags = g_hash_table_lookup (self->tags, registry);
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *path = NULL;
  JsonNode *root;

  if (tags != NULL)
    return tags;
  tags = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (self->tags, g_strdup (registry), tags);
  if (self->directory == NULL)
    return tags;

  path = tags_path (self, registry);
  parser = json_parser_new ();
  if (!json_parser_load_from_mapped_file (parser, path, NULL))
    return tags;
  root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonObject *object = json_node_get_object (root);
      g_autoptr(GList) keys = json_object_get_members (object);

      for (GList *l = keys; l; l = l->next)
        {
          JsonNode *value = json_object_get_member (object, l->data);
          /* Only a hint (a HEAD tells the truth), but keep it well-formed. */
          if (json_node_get_value_type (value) == G_TYPE_STRING && ri_digest_is_valid (json_node_get_string (value)))
            g_hash_table_insert (tags, g_strdup (l->data), g_strdup (json_node_get_string (value)));
        }
    }
  return tags;
}

const char *
ri_content_cache_get_tag (RiContentCache *self, const char *registry, const char *repository, const char *tag)
{
  g_autofree char *key = g_strconcat (repository, "\n", tag, NULL);

  return g_hash_table_lookup (load_tags (self, registry), key);
}

/* Replaces what is remembered of @registry's tags ("repo\ntag" → digest);
 * with @only (nullable, a set of repository names), only of those. */
void
ri_content_cache_set_tags (RiContentCache *self, const char *registry, GHashTable *tags, GHashTable *only)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *data = NULL;
  g_autofree char *path = NULL;
  g_autofree char *directory = NULL;
  g_autoptr(GError) error = NULL;
  GHashTableIter iter;
  gpointer key, value;

  /* A scan of some repositories only keeps what is known of the others. */
  if (only != NULL && g_hash_table_lookup (self->tags, registry) != NULL)
    {
      g_hash_table_iter_init (&iter, g_hash_table_lookup (self->tags, registry));
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          g_autofree char *repository = g_strndup (key, strcspn (key, "\n"));
          if (!g_hash_table_contains (only, repository))
            {
              g_hash_table_insert (copy, g_strdup (key), g_strdup (value));
              json_object_set_string_member (object, key, value);
            }
        }
    }
  g_hash_table_iter_init (&iter, tags);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_hash_table_insert (copy, g_strdup (key), g_strdup (value));
      json_object_set_string_member (object, key, value);
    }
  g_hash_table_replace (self->tags, g_strdup (registry), copy);
  if (self->directory == NULL)
    return;

  root = json_node_init_object (json_node_alloc (), object);
  json_generator_set_root (generator, root);
  data = json_generator_to_data (generator, NULL);
  path = tags_path (self, registry);
  directory = g_path_get_dirname (path);
  if (g_mkdir_with_parents (directory, 0755) != 0 ||
      !ri_write_file_atomically (path, data, strlen (data), 0644, FALSE, &error))
    g_warning ("Cannot remember the tags of %s: %s", registry, error ? error->message : g_strerror (errno));
}

/* Drops every entry whose digest is not in @keep (the digests the last
 * complete run referenced), in memory and on disk: the cache then never
 * holds more than one registry state's worth of content. */
void
ri_content_cache_prune (RiContentCache *self, GHashTable *keep)
{
  GHashTableIter iter;
  gpointer digest;
  g_autofree char *root = NULL;
  g_autoptr(GDir) top = NULL;
  const char *prefix;

  g_hash_table_iter_init (&iter, self->memory);
  while (g_hash_table_iter_next (&iter, &digest, NULL))
    if (!g_hash_table_contains (keep, digest))
      {
        g_hash_table_iter_remove (&iter);
        self->stats.pruned++;
      }
  if (self->directory == NULL)
    return;

  root = g_build_filename (self->directory, "sha256", NULL);
  top = g_dir_open (root, 0, NULL);
  while (top != NULL && (prefix = g_dir_read_name (top)) != NULL)
    {
      g_autofree char *subdir = g_build_filename (root, prefix, NULL);
      g_autoptr(GDir) dir = g_dir_open (subdir, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *candidate = g_strconcat ("sha256:", prefix, name, NULL);
          if (!g_hash_table_contains (keep, candidate))
            {
              g_autofree char *path = g_build_filename (subdir, name, NULL);
              if (g_unlink (path) == 0 && !g_hash_table_contains (self->memory, candidate))
                self->stats.pruned++;
            }
        }
      g_rmdir (subdir);
    }
}

const RiCacheStats *
ri_content_cache_get_stats (RiContentCache *self)
{
  return &self->stats;
}

void
ri_content_cache_reset_stats (RiContentCache *self)
{
  memset (&self->stats, 0, sizeof self->stats);
}
