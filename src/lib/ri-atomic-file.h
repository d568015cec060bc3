#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A file written in pieces and put in place at once: a temporary file in
 * the same directory, renamed over the target on commit. */
typedef struct _RiAtomicFile RiAtomicFile;

RiAtomicFile *ri_atomic_file_new    (const char    *path,
                                     int            mode,
                                     GError       **error);
gboolean      ri_atomic_file_write  (RiAtomicFile  *file,
                                     const void    *data,
                                     gsize          length,
                                     GError       **error);
gboolean      ri_atomic_file_commit (RiAtomicFile  *file,
                                     gboolean       durable,
                                     gboolean       keep_if_same,
                                     gboolean      *changed,
                                     GError       **error);
void          ri_atomic_file_free   (RiAtomicFile  *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiAtomicFile, ri_atomic_file_free)

guint    ri_atomic_file_abandon_all  (void);
guint    ri_atomic_file_remove_stale (const char *path,
                                      gint64      older_than_s);

gboolean ri_write_file_atomically (const char *path,
                                   const void *data,
                                   gsize       length,
                                   int         mode,
                                   gboolean    durable,
                                   GError    **error);

G_END_DECLS
