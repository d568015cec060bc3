#pragma once

#include <gio/gio.h>

#include "ri-config.h"
#include "ri-scheduler.h"

G_BEGIN_DECLS

#define RI_TYPE_MODEL_KEEPER (ri_model_keeper_get_type ())
G_DECLARE_FINAL_TYPE (RiModelKeeper, ri_model_keeper, RI, MODEL_KEEPER, GObject)

RiModelKeeper *ri_model_keeper_new        (RiScheduler   *scheduler,
                                           RiConfig      *config);
void           ri_model_keeper_set_config (RiModelKeeper *self,
                                           RiConfig      *config);
void           ri_model_keeper_add_status (RiModelKeeper *self,
                                           GVariantDict  *status);

G_END_DECLS
