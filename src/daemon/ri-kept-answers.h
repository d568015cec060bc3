#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Kept answers, least recently used first out, bounded by their number
 * and their bytes. Values are owned by the cache once inserted. */
typedef struct _RiKeptAnswers RiKeptAnswers;

RiKeptAnswers *ri_kept_answers_new       (guint           max_count,
                                          gsize           max_bytes,
                                          GDestroyNotify  value_free);
void           ri_kept_answers_free      (RiKeptAnswers  *self);
gpointer       ri_kept_answers_lookup    (RiKeptAnswers  *self,
                                          const char     *key);
void           ri_kept_answers_insert    (RiKeptAnswers  *self,
                                          const char     *key,
                                          gpointer        value,
                                          gsize           size);
gboolean       ri_kept_answers_remove    (RiKeptAnswers  *self,
                                          const char     *key);
guint          ri_kept_answers_get_count (RiKeptAnswers  *self);
gsize          ri_kept_answers_get_bytes (RiKeptAnswers  *self);
guint64        ri_kept_answers_get_evicted (RiKeptAnswers *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiKeptAnswers, ri_kept_answers_free)

G_END_DECLS
