#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Exit statuses, documented in regindexer(1). */
typedef enum {
  RI_EXIT_OK = 0,
  RI_EXIT_FAILED = 1,       /* at least one index failed */
  RI_EXIT_USAGE = 2,        /* bad command line or configuration */
} RiExitStatus;

typedef struct {
  char *config_path;        /* (owned) */
  gboolean verbose;
  gboolean quiet;
  gboolean no_daemon;
  gboolean no_wait;
  gboolean json;
} RiCliOptions;

int ri_cli_index_local (RiCliOptions *options,
                        char        **names);

G_END_DECLS
