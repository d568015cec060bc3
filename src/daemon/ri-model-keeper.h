#pragma once

#include <gio/gio.h>

#include "ri-config.h"
#include "ri-scheduler.h"

G_BEGIN_DECLS

#define RI_TYPE_MODEL_KEEPER (ri_model_keeper_get_type ())
G_DECLARE_FINAL_TYPE (RiModelKeeper, ri_model_keeper, RI, MODEL_KEEPER, GObject)

typedef struct {
  const char *directory;      /* where the models are kept */
  gboolean replica;           /* serving another daemon's models */
  guint restored;             /* models taken at start */
  guint64 reloaded;           /* models taken since */
  gint64 last_loaded_us;
  const char *last_error;     /* (nullable) */
} RiModelCounters;

RiModelKeeper *ri_model_keeper_new        (RiScheduler   *scheduler,
                                           RiConfig      *config);
void           ri_model_keeper_set_config (RiModelKeeper *self,
                                           RiConfig      *config);
void           ri_model_keeper_get_counters (RiModelKeeper   *self,
                                             RiModelCounters *counters);

G_END_DECLS
