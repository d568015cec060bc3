#pragma once

#include <glib.h>
#include <sys/stat.h>

#include "ri-config.h"
#include "ri-model.h"

G_BEGIN_DECLS

/* The model an index was last built from, kept in a file (one per index
 * in the state directory) so that a restarted daemon, or a read replica
 * sharing the directory, answers live queries without scanning. */

char            *ri_model_store_default_dir (void);
char            *ri_model_store_path        (const char            *directory,
                                             const char            *index);
gboolean         ri_model_store_save        (const char            *path,
                                             const RiIndexConfig   *index,
                                             const RiRegistryConfig *registry,
                                             RiRegistryModel       *model,
                                             gboolean              *changed,
                                             GError               **error);
RiRegistryModel *ri_model_store_load        (const char            *path,
                                             const RiIndexConfig   *index,
                                             const RiRegistryConfig *registry,
                                             struct stat           *st,
                                             GError               **error);

G_END_DECLS
