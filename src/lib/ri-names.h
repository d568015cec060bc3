#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RI_MEDIA_TYPE_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define RI_MEDIA_TYPE_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define RI_MEDIA_TYPE_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define RI_MEDIA_TYPE_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

gboolean  ri_repository_name_is_valid (const char *name);
gboolean  ri_tag_is_valid             (const char *tag);
gboolean  ri_digest_is_valid          (const char *digest);
char     *ri_digest_compute           (GBytes     *bytes);
/* The sha256 of @data in hex, without the algorithm's prefix. */
char     *ri_sha256_hex               (const void *data,
                                       gsize       size);
gboolean  ri_digest_is_supported      (const char *digest);
char     *ri_digest_compute_as        (GBytes     *bytes,
                                       const char *expected);
gboolean  ri_digest_same_algorithm    (const char *a,
                                       const char *b);
gboolean  ri_media_type_is_image      (const char *media_type);
gboolean  ri_media_type_is_list       (const char *media_type);
gboolean  ri_name_matches_any         (const char * const *patterns,
                                       const char         *name);

G_END_DECLS
