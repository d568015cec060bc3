#define G_LOG_DOMAIN "Cache"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ri-atomic-file.h"
#include "ri-content-cache.h"
#include "ri-json.h"
#include "ri-json-printer.h"
#include "ri-names.h"

/**
 * RiContentCache:
 *
 * Manifests and config blobs by digest. Digests are content addresses,
 * so an entry never goes stale: it is only ever wrong if it is corrupt,
 * which is checked on every load from disk. Kept in memory (the daemon
 * keeps one across runs) and, when a directory is given, on disk, so
 * that a CLI run benefits too.
 *
 * On disk, the entries a run stores go into one pack file of its own,
 * DIR/packs/NAME.pack: records of "sha256:HEX SIZE\n" and SIZE bytes,
 * written through a temporary file and renamed into place when the
 * registry's scan ends. One file per entry cost a file creation, a
 * rename and a directory probe per object, the larger part of a cold
 * scan's system time. Readers never see a pack half-written; a record
 * that does not match its digest is dropped and fetched again; pruning
 * rewrites the packs that hold anything no longer referenced. Entries of
 * the older layout, DIR/sha256/XX/REST, are still read (and pruned).
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

#define PACK_SUFFIX ".pack"
/* Appends are gathered to this size before a write(). */
#define PACK_WRITE_CHUNK (64 * 1024)
#define PACK_READ_CHUNK (64 * 1024)
#define DIGEST_LENGTH (7 + 64)
/* Larger than anything the scan stores (16 MiB configs). */
#define MAX_ENTRY_SIZE (64 * 1024 * 1024)
/* A temporary pack untouched this long is a crashed writer's. */
#define STALE_PACK_S (24 * 3600)
#define MAX_PACKS 8

typedef struct {
  char *path;               /* (owned) */
  int fd;
  guint records;            /* records in the file */
  guint live;               /* of which indexed and not found corrupt */
  guint64 bytes;            /* when pruning: of the records indexed */
  guint64 unreferenced;     /* when pruning: of those no longer referenced */
} Pack;

/* Where an entry is: kept compact (a sorted array, the digest in binary)
 * since a warm run indexes every entry before its first lookup. */
typedef struct {
  guint8 digest[32];
  Pack *pack;               /* (unowned) NULL: in the pack being written */
  gint64 offset;
  guint32 size;
  guint32 dead;             /* dropped: corrupt, or no longer referenced */
} Location;

struct _RiContentCache {
  GObject parent_instance;

  char *directory;          /* (owned) (nullable) NULL: memory only */
  char *packs_dir;          /* (owned) (nullable) */
  gboolean keep_in_memory;  /* also when on disk */
  gboolean legacy;          /* DIR/sha256 exists: entries of one file each */
  gboolean packs_loaded;
  GPtrArray *packs;         /* (owned) (element-type Pack) */
  GArray *index;            /* (owned) (element-type Location) sorted by digest */
  GArray *pending_index;    /* (owned) (element-type Location) of @pending */
  RiAtomicFile *pending;    /* (owned) (nullable) the pack being written */
  char *pending_path;       /* (owned) (nullable) */
  GByteArray *pending_buffer; /* (owned) not yet written to @pending */
  goffset pending_size;     /* bytes appended to @pending so far */
  GHashTable *memory;       /* (owned) digest → GBytes */
  GHashTable *tags;         /* (owned) registry → (GHashTable "repo\ntag" → digest) */
  RiCacheStats stats;
};

G_DEFINE_TYPE (RiContentCache, ri_content_cache, G_TYPE_OBJECT)

static void
pack_free (Pack *pack)
{
  if (pack->fd >= 0)
    close (pack->fd);
  g_free (pack->path);
  g_free (pack);
}

static void
discard_pending (RiContentCache *self)
{
  for (guint i = 0; i < self->index->len; i++)
    {
      Location *location = &g_array_index (self->index, Location, i);
      if (location->pack == NULL)
        location->dead = TRUE;
    }
  g_clear_pointer (&self->pending, ri_atomic_file_free);
  g_clear_pointer (&self->pending_path, g_free);
  g_byte_array_set_size (self->pending_buffer, 0);
  g_array_set_size (self->pending_index, 0);
  self->pending_size = 0;
}

static inline int
lower_hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* The binary form of the DIGEST_LENGTH bytes at @digest ("sha256:" and
 * 64 lower-case hex digits, as ri_digest_is_valid() wants them), checked
 * and converted in one pass: a warm run converts every record's. */
static gboolean
digest_bytes_to_binary (const char *digest, guint8 binary[32])
{
  const char *hex = digest + strlen ("sha256:");

  if (memcmp (digest, "sha256:", strlen ("sha256:")) != 0)
    return FALSE;
  for (guint i = 0; i < 32; i++)
    {
      int high = lower_hex_value (hex[2 * i]), low = lower_hex_value (hex[2 * i + 1]);

      if (high < 0 || low < 0)
        return FALSE;
      binary[i] = high << 4 | low;
    }
  return TRUE;
}

static gboolean
digest_to_binary (const char *digest, guint8 binary[32])
{
  return strnlen (digest, DIGEST_LENGTH + 1) == DIGEST_LENGTH && digest_bytes_to_binary (digest, binary);
}

static char *
digest_to_string (const guint8 binary[32])
{
  static const char hex[] = "0123456789abcdef";
  char *digest = g_malloc (DIGEST_LENGTH + 1);

  memcpy (digest, "sha256:", 7);
  for (guint i = 0; i < 32; i++)
    {
      digest[7 + 2 * i] = hex[binary[i] >> 4];
      digest[7 + 2 * i + 1] = hex[binary[i] & 0xf];
    }
  digest[DIGEST_LENGTH] = '\0';
  return digest;
}

static int
compare_locations (const void *a, const void *b)
{
  return memcmp (((const Location *) a)->digest, ((const Location *) b)->digest, 32);
}

/* Sorts the index and drops what is dead or there twice (the first
 * copy is the one kept: a later one is counted dead in its pack). */
static void
sort_index (RiContentCache *self)
{
  guint kept = 0;

  g_array_sort (self->index, compare_locations);
  for (guint i = 0; i < self->index->len; i++)
    {
      Location *location = &g_array_index (self->index, Location, i);

      if (location->dead)
        continue;
      if (kept > 0 && compare_locations (location, &g_array_index (self->index, Location, kept - 1)) == 0)
        {
          if (location->pack != NULL)
            location->pack->live--;
          continue;
        }
      if (kept != i)
        g_array_index (self->index, Location, kept) = *location;
      kept++;
    }
  g_array_set_size (self->index, kept);
}

static Location *
find_location (RiContentCache *self, const char *digest)
{
  Location key;
  guint low = 0, high = self->index->len;

  if (!digest_to_binary (digest, key.digest))
    return NULL;
  while (low < high)
    {
      guint middle = low + (high - low) / 2;
      Location *location = &g_array_index (self->index, Location, middle);
      int order = compare_locations (&key, location);

      if (order == 0)
        return location->dead || location->pack == NULL ? NULL : location;
      if (order < 0)
        high = middle;
      else
        low = middle + 1;
    }
  return NULL;
}

static void
ri_content_cache_finalize (GObject *object)
{
  RiContentCache *self = RI_CONTENT_CACHE (object);

  ri_content_cache_flush (self);
  discard_pending (self);
  g_free (self->directory);
  g_free (self->packs_dir);
  g_array_unref (self->index);
  g_array_unref (self->pending_index);
  g_ptr_array_unref (self->packs);
  g_byte_array_unref (self->pending_buffer);
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
  self->index = g_array_new (FALSE, FALSE, sizeof (Location));
  self->pending_index = g_array_new (FALSE, FALSE, sizeof (Location));
  self->packs = g_ptr_array_new_with_free_func ((GDestroyNotify) pack_free);
  /* Never grown: written out before it would be. */
  self->pending_buffer = g_byte_array_sized_new (PACK_WRITE_CHUNK);
}

static void
disable_disk (RiContentCache *self, const char *what, const char *path, int saved_errno)
{
  g_warning ("Cannot %s '%s' (%s): caching in memory only", what, path, g_strerror (saved_errno));
  g_clear_pointer (&self->directory, g_free);
  g_clear_pointer (&self->packs_dir, g_free);
  self->keep_in_memory = TRUE;
}

RiContentCache *
ri_content_cache_new (const char *directory, gboolean keep_in_memory)
{
  RiContentCache *self = g_object_new (RI_TYPE_CONTENT_CACHE, NULL);

  self->keep_in_memory = keep_in_memory || directory == NULL;
  if (directory != NULL)
    {
      g_autofree char *legacy = g_build_filename (directory, "sha256", NULL);

      self->directory = g_strdup (directory);
      self->packs_dir = g_build_filename (directory, "packs", NULL);
      self->legacy = g_file_test (legacy, G_FILE_TEST_IS_DIR);
      if (g_mkdir_with_parents (self->packs_dir, 0755) != 0 || g_access (self->packs_dir, W_OK) != 0)
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

static gboolean
parse_size (const char *start, const char *end, guint64 *size)
{
  *size = 0;
  if (start == end || end - start > 9)
    return FALSE;
  for (const char *p = start; p < end; p++)
    {
      if (!g_ascii_isdigit (*p))
        return FALSE;
      *size = *size * 10 + (*p - '0');
    }
  return *size <= MAX_ENTRY_SIZE;
}

/* Indexes the records of one pack, reading only their headers. A record
 * cut short or malformed ends the pack there: what comes before stays. */
static void
load_pack (RiContentCache *self, const char *path)
{
  g_autofree char *buffer = g_malloc (PACK_READ_CHUNK);
  Pack *pack;
  struct stat st;
  goffset pos = 0;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return;
  if (fstat (fd, &st) != 0)
    {
      close (fd);
      return;
    }
  pack = g_new0 (Pack, 1);
  pack->path = g_strdup (path);
  pack->fd = fd;
  g_ptr_array_add (self->packs, pack);

  while (pos < st.st_size)
    {
      ssize_t n = pread (fd, buffer, PACK_READ_CHUNK, pos);
      gssize used = 0;

      if (n <= 0)
        break;
      /* Every header that starts in this chunk and ends in it too. */
      while (used < n)
        {
          const char *header = buffer + used;
          const char *newline = memchr (header, '\n', MIN (n - used, DIGEST_LENGTH + 24));
          guint64 size;
          Location location = { { 0 }, };

          if (newline == NULL)
            {
              if (n - used >= DIGEST_LENGTH + 24 || pos + n >= st.st_size || used == 0)
                goto malformed;
              break;  /* read on from this header */
            }
          if (newline - header <= DIGEST_LENGTH + 1 || header[DIGEST_LENGTH] != ' ' ||
              !digest_bytes_to_binary (header, location.digest) ||
              !parse_size (header + DIGEST_LENGTH + 1, newline, &size) ||
              pos + (newline + 1 - buffer) + (goffset) size > st.st_size)
            goto malformed;
          pack->records++;
          pack->live++;
          location.pack = pack;
          location.offset = pos + (newline + 1 - buffer);
          location.size = size;
          g_array_append_val (self->index, location);
          used = newline + 1 - buffer + size;
        }
      pos += used;
    }
  return;

malformed:
  g_warning ("Cache pack '%s' is damaged after %u entries; keeping those", path, pack->records);
  /* Counted as one more record, so that pruning rewrites the pack. */
  pack->records++;
}

static void
load_packs (RiContentCache *self)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (self->packs_loaded || self->packs_dir == NULL)
    return;
  self->packs_loaded = TRUE;
  dir = g_dir_open (self->packs_dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.' && g_str_has_suffix (name, PACK_SUFFIX))
      g_ptr_array_add (names, g_build_filename (self->packs_dir, name, NULL));
  for (guint i = 0; i < names->len; i++)
    load_pack (self, g_ptr_array_index (names, i));
  sort_index (self);
}

static GBytes *
read_location (Location *location)
{
  char *data = g_malloc (MAX (location->size, 1));
  gsize done = 0;

  while (done < location->size)
    {
      ssize_t n = pread (location->pack->fd, data + done, location->size - done, location->offset + done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_free (data);
          return NULL;
        }
      done += n;
    }
  return g_bytes_new_take (data, location->size);
}

/* The bytes on disk for @digest, checked, or NULL. */
static GBytes *
lookup_on_disk (RiContentCache *self, const char *digest)
{
  Location *location;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *actual = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gsize length = 0;

  load_packs (self);
  location = find_location (self, digest);
  if (location != NULL)
    {
      bytes = read_location (location);
      actual = bytes ? ri_digest_compute (bytes) : NULL;
      if (actual != NULL && g_str_equal (actual, digest))
        return g_steal_pointer (&bytes);
      /* Corrupt (a disk, a person): dropped here, rewritten by pruning. */
      g_warning ("Cache entry '%s' in '%s' does not match its digest; dropping it", digest, location->pack->path);
      location->pack->live--;
      location->dead = TRUE;
      self->stats.corrupt++;
      return NULL;
    }
  if (!self->legacy)
    return NULL;

  path = entry_path (self, digest);
  if (!g_file_get_contents (path, &contents, &length, NULL))
    return NULL;
  bytes = g_bytes_new_take (g_steal_pointer (&contents), length);
  actual = ri_digest_compute (bytes);
  if (!g_str_equal (actual, digest))
    {
      g_warning ("Cache entry '%s' does not match its digest; dropping it", path);
      g_unlink (path);
      self->stats.corrupt++;
      return NULL;
    }
  return g_steal_pointer (&bytes);
}

GBytes *
ri_content_cache_lookup (RiContentCache *self, const char *digest)
{
  GBytes *bytes;

  if (!ri_digest_is_valid (digest))
    return NULL;
  bytes = g_hash_table_lookup (self->memory, digest);
  if (bytes != NULL)
    {
      self->stats.hits++;
      return g_bytes_ref (bytes);
    }
  bytes = self->directory != NULL ? lookup_on_disk (self, digest) : NULL;
  if (bytes == NULL)
    {
      self->stats.misses++;
      return NULL;
    }
  if (self->keep_in_memory)
    g_hash_table_insert (self->memory, g_strdup (digest), g_bytes_ref (bytes));
  self->stats.hits++;
  return bytes;
}

static void
pending_failed (RiContentCache *self, GError *error)
{
  g_warning ("%s: caching in memory only", error->message);
  discard_pending (self);
  g_clear_pointer (&self->directory, g_free);
  g_clear_pointer (&self->packs_dir, g_free);
  self->keep_in_memory = TRUE;
}

static gboolean
write_pending_buffer (RiContentCache *self)
{
  g_autoptr(GError) error = NULL;

  if (self->pending_buffer->len == 0)
    return TRUE;
  if (!ri_atomic_file_write (self->pending, self->pending_buffer->data, self->pending_buffer->len, &error))
    {
      pending_failed (self, error);
      return FALSE;
    }
  g_byte_array_set_size (self->pending_buffer, 0);
  return TRUE;
}

/* Appends a record to the pack being written; FALSE when the disk failed.
 * With @moved (an entry of the index being rewritten), that entry is made
 * to point there, instead of a new one indexed. */
static gboolean
append_record (RiContentCache *self, const char *digest, GBytes *bytes, Location *moved)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *header = NULL;
  Location location = { { 0 }, };
  gsize size = g_bytes_get_size (bytes);

  if (self->pending == NULL)
    {
      g_autofree char *name = g_strdup_printf ("%" G_GINT64_MODIFIER "x-%08x" PACK_SUFFIX, g_get_real_time (),
                                               g_random_int ());
      self->pending_path = g_build_filename (self->packs_dir, name, NULL);
      self->pending = ri_atomic_file_new (self->pending_path, 0644, &error);
      if (self->pending == NULL)
        {
          pending_failed (self, error);
          return FALSE;
        }
    }
  header = g_strdup_printf ("%s %" G_GSIZE_FORMAT "\n", digest, size);
  if (self->pending_buffer->len + strlen (header) > PACK_WRITE_CHUNK && !write_pending_buffer (self))
    return FALSE;
  g_byte_array_append (self->pending_buffer, (const guint8 *) header, strlen (header));
  digest_to_binary (digest, location.digest);
  location.offset = self->pending_size + strlen (header);
  location.size = size;
  if (moved != NULL)
    *moved = location;
  else
    g_array_append_val (self->pending_index, location);
  self->pending_size += strlen (header) + size;
  if (self->pending_buffer->len + size > PACK_WRITE_CHUNK && !write_pending_buffer (self))
    return FALSE;
  if (size >= PACK_WRITE_CHUNK)
    {
      if (!ri_atomic_file_write (self->pending, g_bytes_get_data (bytes, NULL), size, &error))
        {
          pending_failed (self, error);
          return FALSE;
        }
    }
  else
    g_byte_array_append (self->pending_buffer, g_bytes_get_data (bytes, NULL), size);
  return TRUE;
}

void
ri_content_cache_store (RiContentCache *self, const char *digest, GBytes *bytes)
{
  if (!ri_digest_is_valid (digest) || g_hash_table_contains (self->memory, digest))
    return;
  if (self->directory != NULL)
    {
      load_packs (self);
      if (find_location (self, digest) != NULL)
        return;
    }
  if (self->keep_in_memory)
    g_hash_table_insert (self->memory, g_strdup (digest), g_bytes_ref (bytes));
  self->stats.stored++;
  if (self->directory != NULL && !append_record (self, digest, bytes, NULL))
    g_hash_table_insert (self->memory, g_strdup (digest), g_bytes_ref (bytes));
}

/* A record written to @pack: readable from it, unless the pack could not
 * be opened again (written, but not to be read back by this process). */
static void
place_in_pack (Location *location, Pack *pack)
{
  location->pack = pack;
  pack->records++;
  if (pack->fd >= 0)
    pack->live++;
  else
    location->dead = TRUE;
}

/* Puts the pack being written in place, so that the entries stored so
 * far are there for the next run. Called when a registry's scan ends,
 * when pruning and when the cache goes away. */
void
ri_content_cache_flush (RiContentCache *self)
{
  g_autoptr(GError) error = NULL;
  Pack *pack;
  int fd;

  g_return_if_fail (RI_IS_CONTENT_CACHE (self));
  if (self->pending == NULL || !write_pending_buffer (self))
    return;
  if (!ri_atomic_file_commit (self->pending, FALSE, FALSE, NULL, &error))
    {
      pending_failed (self, error);
      return;
    }
  g_clear_pointer (&self->pending, ri_atomic_file_free);
  fd = open (self->pending_path, O_RDONLY | O_CLOEXEC);
  pack = g_new0 (Pack, 1);
  pack->path = g_steal_pointer (&self->pending_path);
  pack->fd = fd;
  g_ptr_array_add (self->packs, pack);
  self->pending_size = 0;
  for (guint i = 0; i < self->index->len; i++)
    {
      Location *location = &g_array_index (self->index, Location, i);

      if (location->pack != NULL || location->dead)
        continue;
      place_in_pack (location, pack);
    }
  for (guint i = 0; i < self->pending_index->len; i++)
    place_in_pack (&g_array_index (self->pending_index, Location, i), pack);
  if (self->index->len == 0)
    {
      /* A first run, or a pack rewritten whole: no copy of the index. */
      g_array_unref (self->index);
      self->index = g_steal_pointer (&self->pending_index);
      self->pending_index = g_array_new (FALSE, FALSE, sizeof (Location));
    }
  else
    {
      g_array_append_vals (self->index, self->pending_index->data, self->pending_index->len);
      g_array_set_size (self->pending_index, 0);
    }
  sort_index (self);
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
  g_autoptr(GMappedFile) file = NULL;
  g_autoptr(RiJsonDoc) doc = NULL;
  g_autofree char *path = NULL;
  const RiJsonValue *root;

  if (tags != NULL)
    return tags;
  tags = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (self->tags, g_strdup (registry), tags);
  if (self->directory == NULL)
    return tags;

  path = tags_path (self, registry);
  file = g_mapped_file_new (path, FALSE, NULL);
  if (file == NULL)
    return tags;
  doc = ri_json_doc_parse (g_mapped_file_get_contents (file), g_mapped_file_get_length (file), G_MAXSIZE, 1,
                           NULL);
  root = ri_json_doc_get_root (doc);
  for (guint i = 0; i < ri_json_value_get_length (root); i++)
    {
      const char *digest = ri_json_value_get_string (ri_json_object_value_at (root, i));

      /* Only a hint (a HEAD tells the truth), but keep it well-formed. */
      if (digest != NULL && ri_digest_is_valid (digest))
        g_hash_table_replace (tags, g_strdup (ri_json_object_name_at (root, i)), g_strdup (digest));
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
  g_autoptr(GString) data = g_string_new ("{");
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
            g_hash_table_insert (copy, g_strdup (key), g_strdup (value));
        }
    }
  g_hash_table_iter_init (&iter, tags);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), g_strdup (value));
  g_hash_table_replace (self->tags, g_strdup (registry), copy);
  /* The scan of @registry is over: what it stored is kept for the next. */
  ri_content_cache_flush (self);
  if (self->directory == NULL)
    return;

  g_hash_table_iter_init (&iter, copy);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      if (data->len > 1)
        g_string_append_c (data, ',');
      ri_json_append_string (data, key);
      g_string_append_c (data, ':');
      ri_json_append_string (data, value);
    }
  g_string_append (data, "}\n");
  path = tags_path (self, registry);
  directory = g_path_get_dirname (path);
  if (g_mkdir_with_parents (directory, 0755) != 0 ||
      !ri_write_file_atomically (path, data->str, data->len, 0644, FALSE, &error))
    g_warning ("Cannot remember the tags of %s: %s", registry, error ? error->message : g_strerror (errno));
}

/* The older layout, one file per entry: what is not in @keep goes. */
static void
prune_legacy (RiContentCache *self, GHashTable *keep)
{
  g_autofree char *root = g_build_filename (self->directory, "sha256", NULL);
  g_autoptr(GDir) top = g_dir_open (root, 0, NULL);
  const char *prefix;

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
  /* Once empty, later runs need not look there. */
  if (g_rmdir (root) == 0)
    self->legacy = FALSE;
}

/* Temporary packs of writers that crashed. */
static void
remove_stale_packs (RiContentCache *self)
{
  g_autoptr(GDir) dir = g_dir_open (self->packs_dir, 0, NULL);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      GStatBuf st;

      if (name[0] != '.' || strstr (name, PACK_SUFFIX ".") == NULL)
        continue;
      path = g_build_filename (self->packs_dir, name, NULL);
      if (g_lstat (path, &st) == 0 && S_ISREG (st.st_mode) && now - st.st_mtime >= STALE_PACK_S)
        g_unlink (path);
    }
}

/* Copying what a pack keeps costs as much as the pack: one that is
 * mostly still referenced is left as it is until at least this share of
 * its bytes is not (a registry where 1% of the tags move would otherwise
 * have its whole cache rewritten on every run). */
#define PACK_REWRITE_SHARE 4   /* 1/4 */
/* Beyond MAX_PACKS, the smaller packs are merged into one, down to this
 * many besides it. */
#define PACKS_KEPT_WHEN_MERGING (MAX_PACKS / 2)

static int
compare_pack_sizes (const void *a, const void *b)
{
  guint64 size_a = (*(Pack * const *) a)->bytes, size_b = (*(Pack * const *) b)->bytes;

  return size_a < size_b ? 1 : size_a > size_b ? -1 : 0;
}

/* The packs to rewrite: those with a large share no longer referenced,
 * a damaged or duplicate record, and the smallest when there are too
 * many. Unreferenced records of the other packs stay, still found (they
 * are content-addressed and checked on every read). */
static GHashTable *
packs_to_rewrite (RiContentCache *self, GHashTable *keep)
{
  GHashTable *doomed = g_hash_table_new (NULL, NULL);
  g_autoptr(GPtrArray) survivors = g_ptr_array_new ();

  for (guint i = 0; i < self->packs->len; i++)
    {
      Pack *pack = g_ptr_array_index (self->packs, i);
      pack->bytes = pack->unreferenced = 0;
    }
  for (guint i = 0; i < self->index->len; i++)
    {
      Location *location = &g_array_index (self->index, Location, i);
      g_autofree char *key = digest_to_string (location->digest);
      guint64 bytes = (guint64) location->size + DIGEST_LENGTH + 12;

      location->pack->bytes += bytes;
      if (!g_hash_table_contains (keep, key))
        location->pack->unreferenced += bytes;
    }
  for (guint i = 0; i < self->packs->len; i++)
    {
      Pack *pack = g_ptr_array_index (self->packs, i);

      if (pack->live != pack->records || pack->unreferenced * PACK_REWRITE_SHARE >= pack->bytes)
        g_hash_table_add (doomed, pack);
      else
        g_ptr_array_add (survivors, pack);
    }
  if (survivors->len > MAX_PACKS)
    {
      g_ptr_array_sort (survivors, compare_pack_sizes);
      for (guint i = PACKS_KEPT_WHEN_MERGING; i < survivors->len; i++)
        g_hash_table_add (doomed, g_ptr_array_index (survivors, i));
    }
  return doomed;
}

/* Drops the entries whose digest is not in @keep (the digests the last
 * complete run referenced), from memory and, pack by pack, from disk: a
 * pack is rewritten, what it keeps going into a new pack put in place
 * before the old one is removed, once a quarter of it is no longer
 * referenced. The cache so never holds more than a third more than one
 * registry state's worth of content, and a run that changed little
 * rewrites nothing. */
void
ri_content_cache_prune (RiContentCache *self, GHashTable *keep)
{
  GHashTableIter iter;
  gpointer digest;
  g_autoptr(GHashTable) doomed = NULL;

  g_hash_table_iter_init (&iter, self->memory);
  while (g_hash_table_iter_next (&iter, &digest, NULL))
    if (!g_hash_table_contains (keep, digest))
      {
        g_hash_table_iter_remove (&iter);
        self->stats.pruned++;
      }
  if (self->directory == NULL)
    return;

  ri_content_cache_flush (self);
  load_packs (self);
  if (self->directory == NULL)
    return;
  doomed = packs_to_rewrite (self, keep);
  if (g_hash_table_size (doomed) > 0)
    {
      /* What the doomed packs keep, copied into a new one, put in place
       * before they are removed. */
      for (guint i = 0; i < self->index->len && self->directory != NULL; i++)
        {
          Location *location = &g_array_index (self->index, Location, i);
          g_autoptr(GBytes) bytes = NULL;
          g_autofree char *key = NULL;

          if (location->dead || !g_hash_table_contains (doomed, location->pack))
            continue;
          key = digest_to_string (location->digest);
          location->pack->live--;
          if (!g_hash_table_contains (keep, key))
            {
              if (!g_hash_table_contains (self->memory, key))
                self->stats.pruned++;
              location->dead = TRUE;
              continue;
            }
          bytes = read_location (location);
          /* Moved in place: a second index of them would cost as much. */
          if (bytes == NULL || !append_record (self, key, bytes, location))
            location->dead = TRUE;
        }
      /* Dead entries leave the index before their packs go. */
      sort_index (self);
      if (self->directory != NULL)
        ri_content_cache_flush (self);
          if (self->directory != NULL)
        for (guint i = self->packs->len; i > 0; i--)
          {
            Pack *pack = g_ptr_array_index (self->packs, i - 1);
            if (g_hash_table_contains (doomed, pack))
              {
                g_unlink (pack->path);
                g_ptr_array_remove_index (self->packs, i - 1);
              }
          }
    }
  if (self->directory != NULL)
    remove_stale_packs (self);
  if (self->directory != NULL && self->legacy)
    prune_legacy (self, keep);
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
