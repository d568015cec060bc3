#define G_LOG_DOMAIN "Scan"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "ri-config.h"
#include "ri-content-cache.h"
#include "ri-error.h"
#include "ri-json.h"
#include "ri-manifest.h"
#include "ri-names.h"
#include "ri-registry-scan.h"

#define MAX_LIST_PAGE_SIZE (8 * 1024 * 1024)
#define MAX_MANIFEST_SIZE (4 * 1024 * 1024)
#define MAX_CONFIG_SIZE (16 * 1024 * 1024)
#define CATALOG_PAGE_SIZE 1000
#define FIRST_CATALOG_PAGE "/v2/_catalog?n=" G_STRINGIFY (CATALOG_PAGE_SIZE)

#define MANIFEST_ACCEPT \
  RI_MEDIA_TYPE_OCI_MANIFEST ", " RI_MEDIA_TYPE_OCI_INDEX ", " \
  RI_MEDIA_TYPE_DOCKER_MANIFEST ", " RI_MEDIA_TYPE_DOCKER_LIST

typedef struct {
  char *name;                 /* (owned) */
  GHashTable *tag_digests;    /* (owned) tag → digest (nullable until known) */
  GHashTable *fetched;        /* (owned) (element-type utf8) digests fetched by a selected tag */
  gboolean schema1_told;      /* the info line about schema 1 was logged */
} ScanRepository;

typedef struct {
  RiRegistryClient *client;   /* (owned) */
  GPtrArray *indexes;         /* (owned) (element-type RiIndexConfig) borrowed entries */
  GCancellable *cancellable;  /* (owned) cancelled on the first error */
  gulong cancelled_id;
  GCancellable *parent;       /* (owned) (nullable) the caller's */
  guint pending;
  GError *error;              /* (owned) (nullable) the first failure */
  GHashTable *repository_names; /* (owned) set of names seen in the catalog */
  GPtrArray *repositories;    /* (owned) (element-type ScanRepository) */
  GHashTable *manifests;      /* (owned) digest → RiManifest */
  GHashTable *configs;        /* (owned) digest → RiImageConfig */
  GHashTable *requested;      /* (owned) digests asked for by digest */
  GHashTable *requested_tagged; /* (owned) tagged manifests asked for by digest */
  GStrv configured;           /* (owned) (nullable) repositories: names and globs */
  RiContentCache *cache;      /* (owned) (nullable) */
  RiScanProgress *progress;   /* (unowned) (nullable) outlives the scan */
  GHashTable *partial;        /* (owned) (nullable) the only repositories scanned, of many */
  GHashTable *skipped;        /* (owned) object (digest or URL) → "REPOSITORY\nREASON" */
  GHashTable *config_sizes;   /* (owned) config digest → 1 + the size its descriptor gives */
} Scan;

typedef struct {
  GTask *task;                /* (owned) */
  RiRequestKind kind;
  ScanRepository *repository; /* (nullable) */
  char *tag;                  /* (owned) (nullable) */
  char *digest;               /* (owned) (nullable) what a by-digest request expects */
  char *url;                  /* (owned) */
  gboolean tagged;            /* a manifest that is tagged (not only a list's child) */
} Request;

static void
scan_repository_free (ScanRepository *repository)
{
  g_free (repository->name);
  g_hash_table_unref (repository->tag_digests);
  g_hash_table_unref (repository->fetched);
  g_free (repository);
}

static void
scan_free (Scan *scan)
{
  if (scan->parent != NULL)
    g_cancellable_disconnect (scan->parent, scan->cancelled_id);
  g_clear_object (&scan->parent);
  g_clear_object (&scan->client);
  g_clear_pointer (&scan->indexes, g_ptr_array_unref);
  g_clear_object (&scan->cancellable);
  g_clear_error (&scan->error);
  g_hash_table_unref (scan->repository_names);
  g_ptr_array_unref (scan->repositories);
  g_hash_table_unref (scan->manifests);
  g_hash_table_unref (scan->configs);
  g_hash_table_unref (scan->requested);
  g_hash_table_unref (scan->requested_tagged);
  g_strfreev (scan->configured);
  g_clear_object (&scan->cache);
  g_clear_pointer (&scan->partial, g_hash_table_unref);
  g_hash_table_unref (scan->skipped);
  g_hash_table_unref (scan->config_sizes);
  g_free (scan);
}

static void
request_free (Request *request)
{
  g_clear_object (&request->task);
  g_free (request->tag);
  g_free (request->digest);
  g_free (request->url);
  g_free (request);
}

static RiRegistryModel *assemble (Scan *scan);

static void
operation_done (GTask *task)
{
  Scan *scan = g_task_get_task_data (task);

  g_assert (scan->pending > 0);
  if (--scan->pending > 0)
    return;
  if (scan->error != NULL)
    g_task_return_error (task, g_steal_pointer (&scan->error));
  else if (g_task_return_error_if_cancelled (task))
    ;
  else
    g_task_return_pointer (task, assemble (scan), (GDestroyNotify) ri_registry_model_unref);
}

static void
scan_fail (Scan *scan, GError *error)
{
  if (scan->error == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      scan->error = error;
      g_cancellable_cancel (scan->cancellable);
    }
  else
    g_error_free (error);
}

static void response_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void request_full (GTask *task, RiRequestKind kind, const char *url, ScanRepository *repository,
                          const char *tag, const char *digest, gboolean tagged);

static void
request (GTask *task, RiRequestKind kind, const char *url, ScanRepository *repository,
         const char *tag, const char *digest)
{
  request_full (task, kind, url, repository, tag, digest, tag != NULL);
}

static void
request_full (GTask *task, RiRequestKind kind, const char *url, ScanRepository *repository,
              const char *tag, const char *digest, gboolean tagged)
{
  Scan *scan = g_task_get_task_data (task);
  Request *r = g_new0 (Request, 1);
  gsize max_size;

  switch (kind)
    {
    case RI_REQUEST_CATALOG:
    case RI_REQUEST_TAGS:
      max_size = MAX_LIST_PAGE_SIZE;
      break;
    case RI_REQUEST_BLOB:
      max_size = MAX_CONFIG_SIZE;
      break;
    default:
      max_size = MAX_MANIFEST_SIZE;
    }
  r->task = g_object_ref (task);
  r->kind = kind;
  r->repository = repository;
  r->tag = g_strdup (tag);
  r->digest = g_strdup (digest);
  r->url = g_strdup (url);
  r->tagged = tagged;
  scan->pending++;
  ri_registry_client_request_async (scan->client, kind, url,
                                    kind == RI_REQUEST_MANIFEST || kind == RI_REQUEST_MANIFEST_HEAD
                                      ? MANIFEST_ACCEPT : "application/json",
                                    max_size, scan->cancellable, response_cb, r);
}

/* Prefixes what a response failed on with the URL that gave it. */
static GError *
response_error (const RiResponse *response, GError *error)
{
  g_prefix_error (&error, "%s: ", response->url);
  return error;
}

/* One object is left out, and only it: counted once (by @key, its digest
 * or URL) under @reason. Content that is not an image is expected and only
 * logged for debugging; an unusable object is warned about, with @url and
 * what is wrong with it. */
static void
skip_object (Scan *scan, const char *repository, const char *key, const char *reason, const char *url,
             const GError *why)
{
  if (!g_hash_table_insert (scan->skipped, g_strdup (key), g_strconcat (repository, "\n", reason, NULL)))
    return;
  if (why != NULL)
    g_warning ("%s: skipped (%s): %s", url, reason, why->message);
  else
    g_debug ("%s: skipped: not an image (%s)", url, reason);
}

/* The reason an object whose bytes are what the registry holds could not
 * be used. */
static const char *
unusable_reason (const GError *error)
{
  if (g_error_matches (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP))
    return "too-deep";
  if (error->domain == RI_JSON_ERROR)
    return "not-json";
  return "malformed";
}

static void
tell_schema1 (ScanRepository *repository, const char *url)
{
  if (repository->schema1_told)
    return;
  repository->schema1_told = TRUE;
  g_info ("%s: Docker schema 1 manifests are not indexed; skipping those of repository '%s'",
          url, repository->name);
}

static gboolean
tag_is_selected (Scan *scan, const char *tag)
{
  for (guint i = 0; i < scan->indexes->len; i++)
    if (ri_index_config_matches_tag (g_ptr_array_index (scan->indexes, i), tag))
      return TRUE;
  return FALSE;
}

static char *
manifest_url (Scan *scan, const char *repository, const char *reference)
{
  g_autofree char *path = g_strdup_printf ("/v2/%s/manifests/%s", repository, reference);
  return ri_registry_client_build_url (scan->client, path);
}

static gboolean
is_glob (const char *name)
{
  return strpbrk (name, "*?") != NULL;
}

static void
add_repository (GTask *task, const char *name, const char *source)
{
  Scan *scan = g_task_get_task_data (task);
  ScanRepository *repository;
  g_autofree char *path = NULL;
  g_autofree char *url = NULL;

  if (!ri_repository_name_is_valid (name))
    {
      g_autofree char *escaped = g_strescape (name, NULL);
      g_warning ("%s: skipping repository \"%s\": not a valid repository name", source, escaped);
      return;
    }
  if (!ri_name_matches_any ((const char * const *) scan->configured, name) ||
      !g_hash_table_add (scan->repository_names, g_strdup (name)))
    return;
  repository = g_new0 (ScanRepository, 1);
  repository->name = g_strdup (name);
  repository->tag_digests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  repository->fetched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_ptr_array_add (scan->repositories, repository);
  if (scan->progress != NULL)
    scan->progress->repositories_found++;
  path = g_strdup_printf ("/v2/%s/tags/list", name);
  url = ri_registry_client_build_url (scan->client, path);
  request (task, RI_REQUEST_TAGS, url, repository, NULL, NULL);
}

/* Without a catalog, the configured literal names are all there is. */
static void
add_literal_repositories (GTask *task, const char *source)
{
  Scan *scan = g_task_get_task_data (task);

  for (guint i = 0; scan->configured[i]; i++)
    if (!is_glob (scan->configured[i]))
      add_repository (task, scan->configured[i], source);
}

static void
handle_catalog (GTask *task, RiResponse *response)
{
  Scan *scan = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = ri_name_list_parse (response->body, "repositories", &error);

  if (names == NULL)
    {
      g_prefix_error (&error, "the catalog is malformed: ");
      scan_fail (scan, response_error (response, g_steal_pointer (&error)));
      return;
    }

  for (guint i = 0; i < names->len; i++)
    add_repository (task, g_ptr_array_index (names, i), response->url);

  if (response->next_url != NULL)
    request (task, RI_REQUEST_CATALOG, response->next_url, NULL, NULL, NULL);
}

static void
tags_complete (GTask *task, ScanRepository *repository)
{
  Scan *scan = g_task_get_task_data (task);
  g_autoptr(GPtrArray) selected = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer tag;

  if (scan->progress != NULL)
    scan->progress->repositories_listed++;

  g_hash_table_iter_init (&iter, repository->tag_digests);
  while (g_hash_table_iter_next (&iter, &tag, NULL))
    if (tag_is_selected (scan, tag))
      g_ptr_array_add (selected, tag);
  if (selected->len == 0)
    return;

  /* Every tag of the repository that points at a selected manifest is
   * written, so the unselected ones need their digests too: a HEAD each.
   * A selected tag whose digest the last scan saw gets a HEAD as well, and
   * its manifest comes from the cache unless it moved; a new one is
   * fetched at once, which is one request instead of two. */
  g_hash_table_iter_init (&iter, repository->tag_digests);
  while (g_hash_table_iter_next (&iter, &tag, NULL))
    {
      g_autofree char *url = manifest_url (scan, repository->name, tag);
      gboolean wanted = tag_is_selected (scan, tag);
      gboolean known = scan->cache != NULL &&
        ri_content_cache_get_tag (scan->cache, ri_registry_client_get_base_url (scan->client),
                                  repository->name, tag) != NULL;

      request_full (task, wanted && !known ? RI_REQUEST_MANIFEST : RI_REQUEST_MANIFEST_HEAD,
                    url, repository, tag, NULL, wanted);
    }
}

static void
handle_tags (GTask *task, Request *r, RiResponse *response)
{
  Scan *scan = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tags = ri_name_list_parse (response->body, "tags", &error);

  if (tags == NULL)
    {
      g_prefix_error (&error, "the tag list is malformed: ");
      scan_fail (scan, response_error (response, g_steal_pointer (&error)));
      return;
    }
  for (guint i = 0; i < tags->len; i++)
    {
      const char *tag = g_ptr_array_index (tags, i);
      if (!ri_tag_is_valid (tag))
        {
          g_autofree char *escaped = g_strescape (tag, NULL);
          g_warning ("%s: skipping tag \"%s\": not a valid tag", response->url, escaped);
          continue;
        }
      g_hash_table_insert (r->repository->tag_digests, g_strdup (tag), NULL);
    }
  if (response->next_url != NULL)
    request (task, RI_REQUEST_TAGS, response->next_url, r->repository, NULL, NULL);
  else
    tags_complete (task, r->repository);
}

static void store_config (Scan *scan, const char *repository, const char *digest, GBytes *bytes,
                          const char *source, gboolean fetched);

static void
request_config (GTask *task, RiManifest *manifest, ScanRepository *repository, const char *digest,
                const char *source)
{
  Scan *scan = g_task_get_task_data (task);
  g_autofree char *path = NULL;
  g_autofree char *url = NULL;
  g_autoptr(GBytes) cached = NULL;

  if (!ri_digest_is_supported (manifest->config_digest))
    {
      g_autoptr(GError) why = g_error_new (RI_ERROR, RI_ERROR_PROTOCOL,
                                           "the config digest '%s' is not of a known algorithm",
                                           manifest->config_digest);
      skip_object (scan, repository->name, digest, "unknown-digest-algorithm", source, why);
      return;
    }
  if (!g_hash_table_add (scan->requested, g_strdup (manifest->config_digest)))
    return;
  if (scan->cache != NULL &&
      (cached = ri_content_cache_lookup (scan->cache, manifest->config_digest)) != NULL)
    {
      store_config (scan, repository->name, manifest->config_digest, cached, "the cache", FALSE);
      return;
    }
  path = g_strdup_printf ("/v2/%s/blobs/%s", repository->name, manifest->config_digest);
  url = ri_registry_client_build_url (scan->client, path);
  if (manifest->config_size >= 0)
    g_hash_table_insert (scan->config_sizes, g_strdup (manifest->config_digest),
                         GSIZE_TO_POINTER ((gsize) manifest->config_size + 1));
  request_full (task, RI_REQUEST_BLOB, url, repository, NULL, manifest->config_digest, FALSE);
}

static void ensure_manifest (GTask *task, ScanRepository *repository, const char *digest, gboolean tagged);

/* What follows from having a manifest's bytes, from the network or the
 * cache: parse it once, then make sure its config blob, or for a tagged
 * list its children, are there too. */
static gboolean
process_manifest (GTask *task, ScanRepository *repository, const char *digest, GBytes *bytes,
                  const char *content_type, gboolean tagged, const char *source, gboolean fetched)
{
  Scan *scan = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  RiManifest *manifest = g_hash_table_lookup (scan->manifests, digest);

  if (manifest == NULL)
    {
      manifest = ri_manifest_parse (bytes, content_type, &error);
      if (manifest == NULL)
        {
          /* Its bytes are what the registry holds: the object is bad,
           * not the registry. */
          skip_object (scan, repository->name, digest, unusable_reason (error), source, error);
          return FALSE;
        }
      g_hash_table_insert (scan->manifests, g_strdup (digest), manifest);
      if (scan->cache != NULL && fetched)
        ri_content_cache_store (scan->cache, digest, bytes);
    }

  /* Known for what it is before anything more of it is fetched. */
  if (manifest->kind == RI_OBJECT_SCHEMA1)
    {
      tell_schema1 (repository, source ? source : digest);
      skip_object (scan, repository->name, digest, "schema1", source ? source : digest, NULL);
      return TRUE;
    }
  if (manifest->kind != RI_OBJECT_IMAGE && manifest->kind != RI_OBJECT_LIST)
    {
      skip_object (scan, repository->name, digest, ri_object_kind_to_string (manifest->kind),
                   source ? source : digest, NULL);
      return TRUE;
    }
  if (!manifest->is_list)
    {
      request_config (task, manifest, repository, digest, source ? source : digest);
      return TRUE;
    }
  if (!tagged)
    return TRUE; /* a list inside a list: skipped when assembling */

  for (guint i = 0; i < manifest->children->len; i++)
    {
      RiDescriptor *child = &g_array_index (manifest->children, RiDescriptor, i);
      RiObjectKind kind = ri_descriptor_classify (child);

      if (kind == RI_OBJECT_LIST)
        continue; /* an index of indexes: the inner ones count where tagged */
      if (kind != RI_OBJECT_IMAGE)
        skip_object (scan, repository->name, child->digest, ri_object_kind_to_string (kind),
                     child->digest, NULL);
      else if (!ri_digest_is_supported (child->digest))
        {
          g_autoptr(GError) why = g_error_new (RI_ERROR, RI_ERROR_PROTOCOL,
                                               "entry %u's digest '%s' is not of a known algorithm",
                                               i, child->digest);
          skip_object (scan, repository->name, child->digest, "unknown-digest-algorithm",
                       source ? source : digest, why);
        }
      else
        ensure_manifest (task, repository, child->digest, FALSE);
    }
  return TRUE;
}

/* Gets the manifest @digest from the cache, or else from the registry. */
static void
ensure_manifest (GTask *task, ScanRepository *repository, const char *digest, gboolean tagged)
{
  Scan *scan = g_task_get_task_data (task);
  g_autoptr(GBytes) cached = NULL;
  g_autofree char *url = NULL;
  RiManifest *manifest = g_hash_table_lookup (scan->manifests, digest);

  if (manifest != NULL)
    {
      /* Parsed already; a list seen first as a child still needs its own. */
      if (tagged && manifest->is_list)
        process_manifest (task, repository, digest, NULL, NULL, TRUE, NULL, FALSE);
      return;
    }
  /* Once per digest; a tagged list's children matter, so a tagged
   * request is not folded into an untagged one still in flight. */
  if (!tagged && g_hash_table_contains (scan->requested_tagged, digest))
    return;
  if (!g_hash_table_add (tagged ? scan->requested_tagged : scan->requested, g_strdup (digest)))
    return;
  /* The cache checked the bytes against their digest. */
  if (scan->cache != NULL && (cached = ri_content_cache_lookup (scan->cache, digest)) != NULL)
    {
      process_manifest (task, repository, digest, cached, NULL, tagged, "the cached manifest", FALSE);
      return;
    }
  url = manifest_url (scan, repository->name, digest);
  request_full (task, RI_REQUEST_MANIFEST, url, repository, NULL, digest, tagged);
}

static void
handle_manifest (GTask *task, Request *r, RiResponse *response)
{
  Scan *scan = g_task_get_task_data (task);
  g_autofree char *digest = NULL;
  g_autofree char *computed = NULL;

  /* The registry signs a schema 1 manifest anew on every GET, so its
   * bytes never match a digest: it is told apart first. */
  if (ri_manifest_is_schema1 (response->body, response->content_type))
    {
      tell_schema1 (r->repository, response->url);
      skip_object (scan, r->repository->name, response->url, "schema1", response->url, NULL);
      return;
    }
  /* Each digest is computed once: the registry's, what was asked for and
   * the sha256 the scan keys by are mostly one and the same. */
  if (response->docker_digest != NULL && ri_digest_is_supported (response->docker_digest))
    {
      computed = ri_digest_compute_as (response->body, response->docker_digest);
      if (!g_str_equal (computed, response->docker_digest))
        {
          scan_fail (scan, g_error_new (RI_ERROR, RI_ERROR_DIGEST_MISMATCH,
                                        "%s: the manifest's digest is %s but the registry says %s",
                                        response->url, computed, response->docker_digest));
          return;
        }
    }
  if (r->digest != NULL)
    {
      if (computed == NULL || !ri_digest_same_algorithm (computed, r->digest))
        {
          g_free (computed);
          computed = ri_digest_compute_as (response->body, r->digest);
        }
      if (!g_str_equal (r->digest, computed))
        {
          scan_fail (scan, g_error_new (RI_ERROR, RI_ERROR_DIGEST_MISMATCH,
                                        "%s: the manifest's digest is %s, not the %s asked for",
                                        response->url, computed, r->digest));
          return;
        }
      digest = g_strdup (r->digest);
    }
  else if (computed != NULL && ri_digest_same_algorithm (computed, "sha256:"))
    digest = g_steal_pointer (&computed);
  else
    digest = ri_digest_compute (response->body);

  if (r->tag != NULL)
    {
      g_hash_table_replace (r->repository->tag_digests, g_strdup (r->tag), g_strdup (digest));
      g_hash_table_add (r->repository->fetched, g_strdup (digest));
    }
  process_manifest (task, r->repository, digest, response->body, response->content_type, r->tagged,
                    response->url, TRUE);
}

static void
handle_head (GTask *task, Request *r, RiResponse *response)
{
  if (r->tagged && ri_media_type_is_schema1 (response->content_type))
    {
      Scan *scan = g_task_get_task_data (task);

      tell_schema1 (r->repository, response->url);
      skip_object (scan, r->repository->name, response->url, "schema1", response->url, NULL);
      return;
    }
  if (response->docker_digest == NULL || !ri_digest_is_valid (response->docker_digest))
    {
      if (r->tagged)
        {
          /* Without a digest in the answer, only the body can tell. */
          request (task, RI_REQUEST_MANIFEST, r->url, r->repository, r->tag, NULL);
          return;
        }
      g_debug ("%s: no usable Docker-Content-Digest; tag '%s' is left out of Tags", response->url, r->tag);
      return;
    }
  g_hash_table_replace (r->repository->tag_digests, g_strdup (r->tag), g_strdup (response->docker_digest));
  if (r->tagged)
    {
      g_hash_table_add (r->repository->fetched, g_strdup (response->docker_digest));
      ensure_manifest (task, r->repository, response->docker_digest, TRUE);
    }
}

/* Parses a config blob whose digest was checked; one that is unusable
 * costs its images only. */
static void
store_config (Scan *scan, const char *repository, const char *digest, GBytes *bytes, const char *source,
              gboolean fetched)
{
  g_autoptr(GError) error = NULL;
  RiImageConfig *config = ri_image_config_parse (bytes, &error);

  if (config == NULL)
    {
      skip_object (scan, repository, digest, unusable_reason (error), source, error);
      return;
    }
  g_hash_table_insert (scan->configs, g_strdup (digest), config);
  if (scan->cache != NULL && fetched)
    ri_content_cache_store (scan->cache, digest, bytes);
}

static void
handle_blob (GTask *task, Request *r, RiResponse *response)
{
  Scan *scan = g_task_get_task_data (task);
  g_autofree char *digest = ri_digest_compute_as (response->body, r->digest);
  gsize size_hint = GPOINTER_TO_SIZE (g_hash_table_lookup (scan->config_sizes, r->digest));

  if (!g_str_equal (digest, r->digest))
    {
      scan_fail (scan, g_error_new (RI_ERROR, RI_ERROR_DIGEST_MISMATCH,
                                    "%s: the blob's digest is %s, not the %s asked for",
                                    response->url, digest, r->digest));
      return;
    }
  if (size_hint != 0 && size_hint - 1 != g_bytes_get_size (response->body))
    {
      /* The bytes are right; the manifest that described them is not. */
      g_autoptr(GError) why = g_error_new (RI_ERROR, RI_ERROR_PROTOCOL,
                                           "the config holds %" G_GSIZE_FORMAT " bytes, not the %"
                                           G_GSIZE_FORMAT " its manifest says",
                                           g_bytes_get_size (response->body), size_hint - 1);
      skip_object (scan, r->repository->name, r->digest, "size-mismatch", response->url, why);
      return;
    }
  store_config (scan, r->repository->name, digest, response->body, response->url, TRUE);
}

static void
response_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *r = user_data;
  g_autoptr(GTask) task = g_object_ref (r->task);
  Scan *scan = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(RiResponse) response = ri_registry_client_request_finish (RI_REGISTRY_CLIENT (source), result, &error);

  if (response == NULL)
    {
      if (r->kind == RI_REQUEST_CATALOG && r->tag == NULL &&
          g_error_matches (error, RI_ERROR, RI_ERROR_BAD_REQUEST) &&
          g_str_has_suffix (r->url, FIRST_CATALOG_PAGE))
        {
          /* Distribution refuses an n above its catalog.maxentries; its
           * own page size then applies, and Link leads on from there. */
          g_autofree char *url = ri_registry_client_build_url (scan->client, "/v2/_catalog");
          g_info ("%s; asking again with the registry's own page size", error->message);
          request (task, RI_REQUEST_CATALOG, url, NULL, NULL, NULL);
        }
      else if (r->kind == RI_REQUEST_CATALOG && scan->configured != NULL &&
               (g_error_matches (error, RI_ERROR, RI_ERROR_DENIED) ||
                g_error_matches (error, RI_ERROR, RI_ERROR_NOT_FOUND)))
        {
          /* Registries often refuse the catalog; the configured names
           * still work, the globs cannot be expanded. */
          g_warning ("%s; indexing only the repositories named literally under 'repositories:'",
                     error->message);
          add_literal_repositories (task, ri_registry_client_get_base_url (scan->client));
        }
      else if (g_error_matches (error, RI_ERROR, RI_ERROR_NOT_FOUND) && r->kind != RI_REQUEST_CATALOG)
        /* Deleted between listing and fetching: the registry moved on,
         * and the index follows it. */
        {
          g_autoptr(GError) why = g_error_new (error->domain, error->code, "%s (deleted while scanning?)",
                                               error->message);
          if (r->repository != NULL)
            skip_object (scan, r->repository->name, r->digest ? r->digest : r->url, "gone", r->url, why);
          else
            g_warning ("%s; skipped", why->message);
        }
      else
        scan_fail (scan, g_steal_pointer (&error));
    }
  else if (!g_cancellable_is_cancelled (scan->cancellable))
    {
      switch (r->kind)
        {
        case RI_REQUEST_CATALOG:
          handle_catalog (task, response);
          break;
        case RI_REQUEST_TAGS:
          handle_tags (task, r, response);
          break;
        case RI_REQUEST_MANIFEST:
          handle_manifest (task, r, response);
          break;
        case RI_REQUEST_MANIFEST_HEAD:
          handle_head (task, r, response);
          break;
        case RI_REQUEST_BLOB:
          handle_blob (task, r, response);
          break;
        case RI_REQUEST_N_KINDS:
        default:
          g_assert_not_reached ();
        }
    }
  request_free (r);
  operation_done (task);
}

/* Builds (or reuses) the model image for a manifest digest; NULL when a
 * piece of it went missing while scanning. */
static RiImage *
get_image (Scan *scan, GHashTable *images, const char *digest)
{
  RiImage *image = g_hash_table_lookup (images, digest);
  RiManifest *manifest;
  RiImageConfig *config;

  if (image != NULL)
    return image;
  manifest = g_hash_table_lookup (scan->manifests, digest);
  if (manifest == NULL || manifest->kind != RI_OBJECT_IMAGE)
    return NULL;
  config = g_hash_table_lookup (scan->configs, manifest->config_digest);
  if (config == NULL)
    return NULL;

  image = ri_image_new ();
  image->digest = g_strdup (digest);
  image->media_type = g_strdup (manifest->media_type);
  image->os = g_strdup (config->os);
  image->architecture = g_strdup (config->architecture);
  g_hash_table_unref (image->annotations);
  image->annotations = g_hash_table_ref (manifest->annotations);
  g_hash_table_unref (image->labels);
  image->labels = g_hash_table_ref (config->labels);
  g_hash_table_insert (images, image->digest, image);
  return image;
}

static RiImageList *
get_list (Scan *scan, ScanRepository *repository, GHashTable *images, const char *digest)
{
  RiManifest *manifest = g_hash_table_lookup (scan->manifests, digest);
  g_autoptr(RiImageList) list = NULL;

  if (manifest == NULL || manifest->kind != RI_OBJECT_LIST)
    return NULL;
  list = ri_image_list_new ();
  list->digest = g_strdup (digest);
  list->media_type = g_strdup (manifest->media_type);
  for (guint i = 0; i < manifest->children->len; i++)
    {
      RiDescriptor *child = &g_array_index (manifest->children, RiDescriptor, i);
      RiImage *image;

      if (ri_descriptor_classify (child) != RI_OBJECT_IMAGE)
        continue;
      image = get_image (scan, images, child->digest);
      if (image != NULL)
        g_ptr_array_add (list->images, ri_image_ref (image));
    }
  /* Only signatures, attestations, other lists or children that are gone:
   * not what anyone would call an image list. */
  if (list->images->len == 0)
    {
      skip_object (scan, repository->name, digest, "list-without-images", digest, NULL);
      return NULL;
    }
  return g_steal_pointer (&list);
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

static RiRegistryModel *
assemble (Scan *scan)
{
  g_autoptr(RiRegistryModel) model = ri_registry_model_new (ri_registry_client_get_base_url (scan->client));
  /* Keyed by each image's own digest. */
  g_autoptr(GHashTable) images = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                        (GDestroyNotify) ri_image_unref);

  for (guint i = 0; i < scan->repositories->len; i++)
    {
      ScanRepository *scanned = g_ptr_array_index (scan->repositories, i);
      g_autoptr(RiRepository) repository = ri_repository_new (scanned->name);
      GHashTableIter iter;
      gpointer digest;

      g_hash_table_iter_init (&iter, scanned->fetched);
      while (g_hash_table_iter_next (&iter, &digest, NULL))
        {
          g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
          g_autoptr(RiImageList) list = NULL;
          RiImage *image = NULL;
          GHashTableIter tags;
          gpointer tag, tag_digest;
          GStrv sorted;

          g_hash_table_iter_init (&tags, scanned->tag_digests);
          while (g_hash_table_iter_next (&tags, &tag, &tag_digest))
            if (g_strcmp0 (tag_digest, digest) == 0)
              g_strv_builder_add (builder, tag);
          sorted = g_strv_builder_end (builder);
          qsort (sorted, g_strv_length (sorted), sizeof (char *), compare_strings);
          if (sorted[0] == NULL)
            {
              g_strfreev (sorted);
              continue;
            }

          image = get_image (scan, images, digest);
          if (image == NULL)
            list = get_list (scan, scanned, images, digest);
          if (image == NULL && list == NULL)
            {
              g_strfreev (sorted);
              continue;
            }
          g_ptr_array_add (repository->tagged, ri_tagged_new (sorted, image, list));
        }
      if (repository->tagged->len > 0)
        g_ptr_array_add (model->repositories, g_steal_pointer (&repository));
    }
  ri_registry_model_sort (model);

  {
    g_autoptr(GHashTable) tags = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    GHashTableIter iter;
    gpointer key, value;

    for (guint i = 0; i < scan->repositories->len; i++)
      {
        ScanRepository *scanned = g_ptr_array_index (scan->repositories, i);
        g_hash_table_iter_init (&iter, scanned->tag_digests);
        while (g_hash_table_iter_next (&iter, &key, &value))
          if (value != NULL)
            g_hash_table_insert (tags, g_strconcat (scanned->name, "\n", key, NULL), value);
      }
    if (scan->cache != NULL)
      ri_content_cache_set_tags (scan->cache, ri_registry_client_get_base_url (scan->client), tags,
                                 scan->partial);

    /* The model is all that is left of the scan: its digests move there
     * rather than being copied, the parsed objects go now. */
    g_hash_table_iter_init (&iter, scan->manifests);
    while (g_hash_table_iter_next (&iter, &key, &value))
      {
        g_hash_table_iter_steal (&iter);
        ri_manifest_free (value);
        g_hash_table_add (model->referenced, key);
      }
    g_hash_table_iter_init (&iter, scan->configs);
    while (g_hash_table_iter_next (&iter, &key, &value))
      {
        g_hash_table_iter_steal (&iter);
        ri_image_config_free (value);
        g_hash_table_add (model->referenced, key);
      }

    g_hash_table_iter_init (&iter, scan->skipped);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      {
        g_auto(GStrv) parts = g_strsplit (value, "\n", 2);
        ri_registry_model_add_skipped (model, parts[0], parts[1]);
      }
  }
  return g_steal_pointer (&model);
}

static void
parent_cancelled_cb (GCancellable *parent, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

void
ri_registry_scan_async (RiRegistryClient   *client,
                        GPtrArray          *indexes,
                        const char * const *repositories,
                        gboolean            partial,
                        RiContentCache     *cache,
                        RiScanProgress     *progress,
                        GCancellable       *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer            user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *url = NULL;
  Scan *scan;

  g_return_if_fail (RI_IS_REGISTRY_CLIENT (client));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ri_registry_scan_async);
  scan = g_new0 (Scan, 1);
  scan->client = g_object_ref (client);
  scan->indexes = g_ptr_array_ref (indexes);
  scan->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      scan->parent = g_object_ref (cancellable);
      scan->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (parent_cancelled_cb),
                                                  g_object_ref (scan->cancellable), g_object_unref);
    }
  scan->repository_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  scan->repositories = g_ptr_array_new_with_free_func ((GDestroyNotify) scan_repository_free);
  scan->manifests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) ri_manifest_free);
  scan->configs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) ri_image_config_free);
  scan->requested = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  scan->requested_tagged = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  scan->skipped = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  scan->config_sizes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  scan->cache = cache ? g_object_ref (cache) : NULL;
  scan->progress = progress;
  g_task_set_task_data (task, scan, (GDestroyNotify) scan_free);

  if (partial)
    {
      g_return_if_fail (repositories != NULL);
      scan->partial = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      for (guint i = 0; repositories[i]; i++)
        g_hash_table_add (scan->partial, g_strdup (repositories[i]));
    }
  if (repositories != NULL)
    {
      gboolean any_glob = FALSE;

      scan->configured = g_strdupv ((GStrv) repositories);
      for (guint i = 0; repositories[i]; i++)
        any_glob |= is_glob (repositories[i]);
      if (!any_glob)
        {
          /* Every repository is named: no need for the catalog at all. */
          scan->pending++;
          add_literal_repositories (task, "repositories:");
          operation_done (task);
          return;
        }
    }

  url = ri_registry_client_build_url (client, FIRST_CATALOG_PAGE);
  request (task, RI_REQUEST_CATALOG, url, NULL, NULL, NULL);
}

RiRegistryModel *
ri_registry_scan_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, ri_registry_scan_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
