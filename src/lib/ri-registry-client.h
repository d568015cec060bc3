#pragma once

#include <gio/gio.h>

#include "ri-config.h"

G_BEGIN_DECLS

typedef enum {
  RI_REQUEST_CATALOG,
  RI_REQUEST_TAGS,
  RI_REQUEST_MANIFEST,
  RI_REQUEST_MANIFEST_HEAD,
  RI_REQUEST_BLOB,
  RI_REQUEST_TOKEN,
  RI_REQUEST_N_KINDS
} RiRequestKind;

/* What a run asked of one registry: the figures behind "requests made". */
typedef struct {
  guint requests[RI_REQUEST_N_KINDS];
  guint retries;
  guint64 bytes;
} RiRequestStats;

typedef struct {
  char *url;            /* (owned) the URL asked for */
  guint status;
  GBytes *body;         /* (owned) (nullable): NULL for HEAD */
  char *content_type;   /* (owned) (nullable) without parameters */
  char *docker_digest;  /* (owned) (nullable) Docker-Content-Digest */
  char *next_url;       /* (owned) (nullable) absolute URL from Link rel="next" */
} RiResponse;

void ri_response_free (RiResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiResponse, ri_response_free)

#define RI_TYPE_REGISTRY_CLIENT (ri_registry_client_get_type ())
G_DECLARE_FINAL_TYPE (RiRegistryClient, ri_registry_client, RI, REGISTRY_CLIENT, GObject)

RiRegistryClient *ri_registry_client_new            (const RiRegistryConfig *config);
const char       *ri_registry_client_get_base_url   (RiRegistryClient    *self);
char             *ri_registry_client_build_url      (RiRegistryClient    *self,
                                                     const char          *path);
void              ri_registry_client_request_async  (RiRegistryClient    *self,
                                                     RiRequestKind        kind,
                                                     const char          *url,
                                                     const char          *accept,
                                                     gsize                max_size,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
RiResponse       *ri_registry_client_request_finish (RiRegistryClient    *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);
const RiRequestStats *ri_registry_client_get_stats  (RiRegistryClient    *self);

char *ri_parse_link_next (const char *header,
                          const char *request_url);

G_END_DECLS
