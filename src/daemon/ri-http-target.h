#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean ri_http_split_target (const char  *target,
                               char        *buffer,
                               gsize        size,
                               const char **path,
                               const char **query);

G_END_DECLS
