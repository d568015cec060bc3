#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean ri_write_file_atomically (const char *path,
                                   const void *data,
                                   gsize       length,
                                   int         mode,
                                   gboolean    durable,
                                   GError    **error);

G_END_DECLS
