#pragma once

#include <glib.h>

#include "ri-model.h"

G_BEGIN_DECLS

/* A query of the index protocol (?tag=latest&label:org.flatpak.ref:exists=1
 * …), as Flatpak and the Flagstate server spell it: a key repeated means
 * any of its values, different keys must all hold. */
typedef struct _RiIndexQuery RiIndexQuery;

RiIndexQuery *ri_index_query_parse                (const char          *query,
                                                   GError             **error);
void          ri_index_query_free                 (RiIndexQuery        *query);
const char   *ri_index_query_get_canonical        (const RiIndexQuery  *query);
gboolean      ri_index_query_matches_repository   (const RiIndexQuery  *query,
                                                   const char          *name);
gboolean      ri_index_query_matches_tags         (const RiIndexQuery  *query,
                                                   GStrv                tags);
gboolean      ri_index_query_matches_image        (const RiIndexQuery  *query,
                                                   const RiImage       *image);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiIndexQuery, ri_index_query_free)

G_END_DECLS
