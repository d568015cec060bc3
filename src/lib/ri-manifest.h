#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RI_MEDIA_TYPE_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define RI_MEDIA_TYPE_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define RI_MEDIA_TYPE_OCI_EMPTY "application/vnd.oci.empty.v1+json"

/* What a manifest (or a list's entry) holds: only images and lists of
 * images are indexed; every other kind is skipped, counted by its name. */
typedef enum {
  RI_OBJECT_IMAGE,
  RI_OBJECT_LIST,
  RI_OBJECT_SIGNATURE,
  RI_OBJECT_ATTESTATION,
  RI_OBJECT_SBOM,
  RI_OBJECT_HELM_CHART,
  RI_OBJECT_WASM,
  RI_OBJECT_ARTIFACT,         /* any other OCI artifact, or an unknown media type */
  RI_OBJECT_SCHEMA1,
} RiObjectKind;

const char *ri_object_kind_to_string  (RiObjectKind kind);
gboolean    ri_media_type_is_schema1  (const char  *media_type);

typedef struct {
  char *digest;              /* (owned) as written: not checked */
  char *media_type;          /* (owned) (nullable) */
  char *artifact_type;       /* (owned) (nullable) */
  char *platform_os;         /* (owned) (nullable) */
  char *platform_architecture; /* (owned) (nullable) */
  char *reference_type;      /* (owned) (nullable) annotation vnd.docker.reference.type */
  gint64 size;               /* -1 when not given */
} RiDescriptor;

/* What a list's entry points at, from the entry alone. */
RiObjectKind ri_descriptor_classify (const RiDescriptor *descriptor);

/* A parsed image manifest or image list, as the registry served it. */
typedef struct {
  char *media_type;          /* (owned) */
  RiObjectKind kind;
  gboolean is_list;          /* an index or manifest list, whatever its kind */
  char *config_digest;       /* (owned) (nullable) images only; as written, not checked */
  gint64 config_size;        /* -1 when not given */
  GHashTable *annotations;   /* (owned) string → string */
  GArray *children;          /* (owned) (element-type RiDescriptor) lists only */
} RiManifest;

RiManifest *ri_manifest_parse (GBytes     *bytes,
                               const char *content_type,
                               GError    **error);
void        ri_manifest_free  (RiManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiManifest, ri_manifest_free)

/* Whether @bytes claim to be a Docker schema 1 manifest; for skipping
 * bytes whose digest cannot match, so nothing else is read from them. */
gboolean    ri_manifest_is_schema1 (GBytes     *bytes,
                                    const char *content_type);

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
