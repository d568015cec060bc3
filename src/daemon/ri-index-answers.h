#pragma once

#include <libsoup/soup.h>

#include "ri-config.h"
#include "ri-indexer.h"

G_BEGIN_DECLS

typedef struct {
  guint64 queries;        /* answered with an index, 200 or 304 */
  guint64 not_modified;   /* of those, 304 */
  guint64 rendered;       /* answers built (the rest came from memory) */
  guint64 bad_queries;    /* 400 */
} RiAnswerCounters;

#define RI_TYPE_INDEX_ANSWERS (ri_index_answers_get_type ())
G_DECLARE_FINAL_TYPE (RiIndexAnswers, ri_index_answers, RI, INDEX_ANSWERS, GObject)

RiIndexAnswers         *ri_index_answers_new          (RiIndexer         *indexer);
void                    ri_index_answers_handle       (RiIndexAnswers    *self,
                                                       SoupServerMessage *msg,
                                                       RiConfig          *config,
                                                       const RiHttpServe *serve,
                                                       gboolean           dynamic);
const RiAnswerCounters *ri_index_answers_get_counters (RiIndexAnswers    *self);

G_END_DECLS
