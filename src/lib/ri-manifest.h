#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *digest;              /* (owned) */
  char *media_type;          /* (owned) */
} RiDescriptor;

/* A parsed image manifest or image list, as the registry served it. */
typedef struct {
  char *media_type;          /* (owned) */
  gboolean is_list;
  char *config_digest;       /* (owned) (nullable) images only */
  GHashTable *annotations;   /* (owned) string → string */
  GArray *children;          /* (owned) (element-type RiDescriptor) lists only */
} RiManifest;

RiManifest *ri_manifest_parse (GBytes     *bytes,
                               const char *content_type,
                               GError    **error);
void        ri_manifest_free  (RiManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiManifest, ri_manifest_free)

/* What an image's config blob says that an index needs. */
typedef struct {
  char *os;                  /* (owned) */
  char *architecture;        /* (owned) */
  GHashTable *labels;        /* (owned) string → string */
} RiImageConfig;

RiImageConfig *ri_image_config_parse (GBytes        *bytes,
                                      GError       **error);
void           ri_image_config_free  (RiImageConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiImageConfig, ri_image_config_free)

/* The names of a catalog page ("repositories") or tag list ("tags");
 * null or missing is an empty list. */
GPtrArray     *ri_name_list_parse    (GBytes        *bytes,
                                      const char    *member,
                                      GError       **error);

G_END_DECLS
