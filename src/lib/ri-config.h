#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct {
  char *name;                     /* (owned) the key under indexes: */
  char *output;                   /* (owned) (nullable) absolute path of the JSON file;
                                   * NULL for an index that is only served over HTTP */
  char *registry;                 /* (owned) base URL, no trailing '/' */
  char *registry_public;          /* (owned) what goes into "Registry" */
  GStrv tags;                     /* (owned) glob patterns, never empty */
  GStrv required_annotations;     /* (owned) possibly empty */
  GStrv required_labels;          /* (owned) possibly empty */
  GStrv architectures;            /* (owned) (nullable): NULL means all */
  gboolean skip_flatpak_annotations;
  gboolean skip_flatpak_labels;
  gboolean extract_icons;
  GPtrArray *tag_patterns;        /* (owned) (element-type GPatternSpec) */
  guint line;                     /* where the index was defined */
  guint column;
  guint output_line;              /* where 'output' was given */
  guint output_column;
} RiIndexConfig;

/* Per-registry settings from the top-level registries: mapping. */
typedef struct {
  char *url;                      /* (owned) normalised, as in RiIndexConfig */
  char *username;                 /* (owned) (nullable) */
  char *password;                 /* (owned) (nullable) a secret: never print it */
  char *ca_certificate;           /* (owned) (nullable) absolute path */
  char *client_certificate;       /* (owned) (nullable) absolute path */
  char *client_key;               /* (owned) (nullable) absolute path */
  gboolean tls_verify;
  GStrv repositories;             /* (owned) (nullable) names or globs */
  guint max_connections;
  guint timeout_s;
  guint retries;
} RiRegistryConfig;

/* One index answered live: GET <prefix>index/static and …/dynamic. */
typedef struct {
  char *prefix;                   /* (owned) URL path, starts and ends with '/' */
  char *index;                    /* (owned) the name of a configured index */
} RiHttpServe;

/* The daemon's optional HTTP listener (daemon: http:). */
typedef struct {
  GStrv listen;                   /* (owned) "address:port", possibly empty: no listener */
  GPtrArray *serve;               /* (owned) (element-type RiHttpServe) possibly empty */
  guint max_age_s;                /* Cache-Control max-age of /index/static */
  gboolean events;                /* POST /events takes registry notifications */
  char *events_token;             /* (owned) (nullable) a secret: never print it */
  gsize max_event_size;           /* largest notification body accepted */
  guint max_connections;          /* open at once, in all */
  guint max_connections_per_client; /* open at once from one address */
  guint request_timeout_s;        /* for a request's head to arrive */
  guint idle_timeout_s;           /* a connection may sit silent */
} RiHttpConfig;

typedef struct {
  char *topic_prefix;             /* (owned) */
  char *environment;              /* (owned) */
  GStrv endpoints;                /* (owned) ZeroMQ endpoints, possibly empty */
  GStrv topics;                   /* (owned) topics subscribed to */
  guint reconnect_interval_ms;
  gsize max_message_size;
  guint coalesce_delay_ms;        /* quiet time before a run starts */
  guint retry_delay_s;            /* first retry of a failed run; 0: never */
  char *state_dir;                /* (owned) (nullable) where models are kept; NULL: the default */
  gboolean scan;                  /* FALSE: a read replica, serving the models in state_dir */
  RiHttpConfig http;
} RiDaemonConfig;

typedef struct {
  char *path;                     /* (owned) the file it was read from */
  char *icons_dir;                /* (owned) (nullable) absolute */
  char *icons_uri;                /* (owned) (nullable) always ends in '/' */
  guint icons_grace_period_s;     /* how long unreferenced icons are kept */
  GPtrArray *indexes;             /* (owned) (element-type RiIndexConfig) in file order */
  GHashTable *registries;         /* (owned) url → RiRegistryConfig, one per registry used */
  RiDaemonConfig daemon;
  GStrv warnings;                 /* (owned) things worth telling the user */
  GHashTable *index_table;        /* (owned) name → RiIndexConfig in indexes */
  GHashTable *served_table;       /* (owned) index name → its first RiHttpServe */
  gatomicrefcount ref_count;
} RiConfig;

#define RI_TYPE_CONFIG (ri_config_get_type ())
GType ri_config_get_type (void) G_GNUC_CONST;

RiConfig      *ri_config_load_file  (const char *path,
                                     GError    **error);
RiConfig      *ri_config_load_data  (const char *data,
                                     gsize       length,
                                     const char *origin,
                                     const char *base_dir,
                                     GError    **error);
typedef void (*RiConfigWarningFunc) (const char *warning,
                                     gpointer    user_data);
RiConfig      *ri_config_load_file_warn (const char          *path,
                                         RiConfigWarningFunc  warn,
                                         gpointer             user_data,
                                         GError             **error);
gboolean       ri_config_check_index_names (RiConfig           *config,
                                            const char * const *names,
                                            GError            **error);
RiConfig      *ri_config_ref        (RiConfig   *config);
void           ri_config_unref      (RiConfig   *config);
RiIndexConfig *ri_config_get_index  (RiConfig   *config,
                                     const char *name);
RiRegistryConfig *ri_config_get_registry (RiConfig   *config,
                                          const char *url);
char              *ri_config_normalize_registry_url (const char *url,
                                                    GError    **error);
const RiHttpServe *ri_config_get_served (RiConfig   *config,
                                          const char *index);
gboolean       ri_index_config_matches_tag (const RiIndexConfig *index,
                                            const char          *tag);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiConfig, ri_config_unref)

G_END_DECLS
