#pragma once

#include <json-glib/json-glib.h>

#include "ri-config.h"
#include "ri-icon-store.h"
#include "ri-index-query.h"
#include "ri-model.h"

G_BEGIN_DECLS

/* Counts of what one index holds, for reports and status. */
typedef struct {
  guint repositories;
  guint images;   /* images, counting each child of a list */
  guint lists;
} RiIndexCounts;

gboolean  ri_index_write        (const RiIndexConfig *index,
                                 RiRegistryModel     *model,
                                 RiIconStore         *icons,
                                 RiIndexCounts       *counts,
                                 gboolean            *changed,
                                 GError             **error);

GBytes   *ri_index_render       (const RiIndexConfig *index,
                                 RiRegistryModel     *model,
                                 const RiIndexQuery  *query,
                                 RiIconStore         *icons,
                                 RiIndexCounts       *counts,
                                 GError             **error);

G_END_DECLS
