#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct {
  guint hits;
  guint misses;
  guint stored;
  guint corrupt;           /* entries on disk that failed their digest check */
  guint pruned;
} RiCacheStats;

#define RI_TYPE_CONTENT_CACHE (ri_content_cache_get_type ())
G_DECLARE_FINAL_TYPE (RiContentCache, ri_content_cache, RI, CONTENT_CACHE, GObject)

RiContentCache *ri_content_cache_new            (const char     *directory,
                                                 gboolean        keep_in_memory);
char           *ri_content_cache_default_dir    (void);
/* What it returns matches @digest: entries from disk are checked on
 * every load, and callers store only content they checked. */
GBytes         *ri_content_cache_lookup         (RiContentCache *self,
                                                 const char     *digest);
void            ri_content_cache_store          (RiContentCache *self,
                                                 const char     *digest,
                                                 GBytes         *bytes);
const char     *ri_content_cache_get_tag        (RiContentCache *self,
                                                 const char     *registry,
                                                 const char     *repository,
                                                 const char     *tag);
void            ri_content_cache_set_tags       (RiContentCache *self,
                                                 const char     *registry,
                                                 GHashTable     *tags,
                                                 GHashTable     *only);
void            ri_content_cache_flush          (RiContentCache *self);
void            ri_content_cache_prune          (RiContentCache *self,
                                                 GHashTable     *keep);
const RiCacheStats *ri_content_cache_get_stats  (RiContentCache *self);
void            ri_content_cache_reset_stats    (RiContentCache *self);

G_END_DECLS
