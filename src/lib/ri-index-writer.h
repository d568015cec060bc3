#pragma once

#include <json-glib/json-glib.h>

#include "ri-config.h"
#include "ri-icon-store.h"
#include "ri-model.h"

G_BEGIN_DECLS

/* Counts of what one index holds, for reports and status. */
typedef struct {
  guint repositories;
  guint images;   /* images, counting each child of a list */
  guint lists;
} RiIndexCounts;

char     *ri_index_build        (const RiIndexConfig *index,
                                 RiRegistryModel     *model,
                                 RiIconStore         *icons,
                                 RiIndexCounts       *counts,
                                 GError             **error);
gboolean  ri_index_write_file   (const char          *path,
                                 const char          *contents,
                                 gboolean            *changed,
                                 GError             **error);

G_END_DECLS
