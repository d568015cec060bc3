#pragma once

#include <glib.h>

#include "ri-config.h"

G_BEGIN_DECLS

/* Exit statuses, documented in regindexer(1). */
typedef enum {
  RI_EXIT_OK = 0,
  RI_EXIT_FAILED = 1,       /* at least one index failed, or the daemon went away */
  RI_EXIT_USAGE = 2,        /* bad command line, configuration or index name */
  RI_EXIT_DENIED = 3,       /* the daemon refused the request */
} RiExitStatus;

typedef struct {
  char *config_path;        /* (owned) */
  char *cache_dir;          /* (owned) (nullable) */
  gboolean verbose;
  gboolean quiet;
  gboolean no_daemon;
  gboolean no_wait;
  gboolean session;
  gboolean json;
} RiCliOptions;

RiConfig *ri_cli_load_config   (RiCliOptions *options);
int       ri_cli_index_local   (RiCliOptions *options,
                                char        **names);
int       ri_cli_index         (RiCliOptions *options,
                                char        **names);
int       ri_cli_status        (RiCliOptions *options);
int       ri_cli_list_indexes  (RiCliOptions *options);

void      ri_cli_prefer_huge_pages (void);

G_END_DECLS
