#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The result of scanning one registry: immutable once built, shared by all
 * the indexes that select from it (so nothing may modify it in place). */

typedef struct {
  char *digest;           /* (owned) sha256:… of the manifest bytes */
  char *media_type;       /* (owned) */
  char *os;               /* (owned) from the config blob */
  char *architecture;     /* (owned) from the config blob */
  GHashTable *annotations;/* (owned) string → string, from the manifest */
  GHashTable *labels;     /* (owned) string → string, from config.Labels */
  gatomicrefcount ref_count;
} RiImage;

typedef struct {
  char *digest;           /* (owned) */
  char *media_type;       /* (owned) */
  GPtrArray *images;      /* (owned) (element-type RiImage) in manifest order */
  gatomicrefcount ref_count;
} RiImageList;

/* A manifest tagged in a repository, with every tag that points at it. */
typedef struct {
  GStrv tags;             /* (owned) sorted */
  RiImage *image;         /* (owned) (nullable) exactly one of image… */
  RiImageList *list;      /* (owned) (nullable) …and list is set */
} RiTagged;

typedef struct {
  char *name;             /* (owned) */
  GPtrArray *tagged;      /* (owned) (element-type RiTagged) sorted by tags, digest */
  gatomicrefcount ref_count;
} RiRepository;

typedef struct {
  char *registry;         /* (owned) base URL */
  GPtrArray *repositories;/* (owned) (element-type RiRepository) sorted by name */
  GHashTable *referenced; /* (owned) set of every manifest and config digest the scan used */
  GHashTable *skipped;    /* (owned) repository name → (reason → count as GUINT_TO_POINTER) */
  gatomicrefcount ref_count;
} RiRegistryModel;

RiImage         *ri_image_new             (void);
RiImage         *ri_image_ref             (RiImage *image);
void             ri_image_unref           (RiImage *image);
RiImageList     *ri_image_list_new        (void);
RiImageList     *ri_image_list_ref        (RiImageList *list);
void             ri_image_list_unref      (RiImageList *list);
RiTagged        *ri_tagged_new            (GStrv tags, RiImage *image, RiImageList *list);
void             ri_tagged_free           (RiTagged *tagged);
const char      *ri_tagged_get_digest     (const RiTagged *tagged);
RiRepository    *ri_repository_new        (const char *name);
RiRepository    *ri_repository_ref        (RiRepository *repository);
void             ri_repository_unref      (RiRepository *repository);
void             ri_repository_sort       (RiRepository *repository);
RiRegistryModel *ri_registry_model_new    (const char *registry);
RiRegistryModel *ri_registry_model_ref    (RiRegistryModel *model);
void             ri_registry_model_unref  (RiRegistryModel *model);
void             ri_registry_model_sort   (RiRegistryModel *model);
RiRegistryModel *ri_registry_model_merge  (RiRegistryModel *base,
                                           RiRegistryModel *update,
                                           GHashTable      *refreshed);
void             ri_registry_model_add_skipped   (RiRegistryModel *model,
                                                  const char      *repository,
                                                  const char      *reason);
GHashTable      *ri_registry_model_count_skipped (RiRegistryModel *model);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiImage, ri_image_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiImageList, ri_image_list_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiTagged, ri_tagged_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiRepository, ri_repository_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiRegistryModel, ri_registry_model_unref)

G_END_DECLS
