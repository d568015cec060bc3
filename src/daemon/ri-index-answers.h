#pragma once

#include <gio/gio.h>

#include "ri-config.h"
#include "ri-indexer.h"

G_BEGIN_DECLS

typedef struct {
  guint64 rendered;       /* answers built (the rest came from memory) */
  guint64 bad_queries;    /* queries refused as malformed */
  guint64 evicted;        /* kept answers dropped to make room */
  guint64 busy;           /* queries refused while too many were being built */
  guint64 parsed;         /* queries parsed (the rest were spelled as one seen before) */
} RiAnswerCounters;

/* One answer to a query, shared (read-only) by every request for it. */
typedef struct {
  GBytes *body;           /* the index JSON */
  GBytes *gzipped;        /* the same, gzip-compressed */
  char *etag;             /* strong validator of body, quoted */
  char *etag_gzip;        /* strong validator of gzipped, quoted */
  /* What the HTTP server made of it to send it again as it is (nullable),
   * freed with it; set and used on the main thread only. */
  gpointer prepared;
  GDestroyNotify prepared_free;
  RiConfig *config;       /* what it was built under */
  /*< private >*/
  guint64 generation;
} RiIndexAnswer;

RiIndexAnswer *ri_index_answer_ref   (RiIndexAnswer *answer);
void           ri_index_answer_unref (RiIndexAnswer *answer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiIndexAnswer, ri_index_answer_unref)

#define RI_TYPE_INDEX_ANSWERS (ri_index_answers_get_type ())
G_DECLARE_FINAL_TYPE (RiIndexAnswers, ri_index_answers, RI, INDEX_ANSWERS, GObject)

/* Errors, in RI_ERROR: BAD_REQUEST (a malformed query), NOT_FOUND (the
 * index has not been built yet), BUSY (too many answers being built),
 * anything else (the answer could not be built). */
RiIndexAnswers         *ri_index_answers_new          (RiIndexer          *indexer);
RiIndexAnswer          *ri_index_answers_lookup       (RiIndexAnswers     *self,
                                                       RiConfig           *config,
                                                       const RiHttpServe  *serve,
                                                       const char         *query,
                                                       GError            **error);
void                    ri_index_answers_get_async    (RiIndexAnswers     *self,
                                                       RiConfig           *config,
                                                       const RiHttpServe  *serve,
                                                       const char         *query,
                                                       GCancellable       *cancellable,
                                                       GAsyncReadyCallback callback,
                                                       gpointer            user_data);
RiIndexAnswer          *ri_index_answers_get_finish   (RiIndexAnswers     *self,
                                                       GAsyncResult       *result,
                                                       GError            **error);
guint                   ri_index_answers_get_kept     (RiIndexAnswers     *self);
guint                   ri_index_answers_get_spellings (RiIndexAnswers    *self);
const RiAnswerCounters *ri_index_answers_get_counters (RiIndexAnswers     *self);

G_END_DECLS
