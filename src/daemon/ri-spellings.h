#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What spellings of something (a query as a client sent it) were found
 * to mean, so that a spelling seen again is not worked out again. Kept
 * in two bounded parts: spellings seen once, and spellings seen again. */
typedef struct _RiSpellings RiSpellings;

RiSpellings *ri_spellings_new       (guint        max_count,
                                     gsize        max_bytes);
void         ri_spellings_free      (RiSpellings *self);
const char  *ri_spellings_lookup    (RiSpellings *self,
                                     const char  *spelling);
void         ri_spellings_insert    (RiSpellings *self,
                                     const char  *spelling,
                                     const char  *meaning);
guint        ri_spellings_get_count (RiSpellings *self);
gsize        ri_spellings_get_bytes (RiSpellings *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiSpellings, ri_spellings_free)

G_END_DECLS
