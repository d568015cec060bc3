#include "config.h"

#include "ri-kept-answers.h"

/* Evicting one answer at a time, the oldest used first, means a flood
 * of new queries pushes out only answers nobody asked for since; the
 * popular ones are asked for again and move back to the front. */

typedef struct {
  char *key;                  /* (owned) */
  gpointer value;             /* (owned) */
  gsize size;
  GList link;                 /* in order: most recently used first */
} Entry;

struct _RiKeptAnswers {
  guint max_count;
  gsize max_bytes;
  GDestroyNotify value_free;
  GHashTable *entries;        /* (owned) key (borrowed from entry) → Entry */
  GQueue order;               /* of Entry, through Entry.link */
  gsize bytes;
  guint64 evicted;
};

static void
entry_free (RiKeptAnswers *self, Entry *entry)
{
  if (self->value_free != NULL)
    self->value_free (entry->value);
  g_free (entry->key);
  g_free (entry);
}

RiKeptAnswers *
ri_kept_answers_new (guint max_count, gsize max_bytes, GDestroyNotify value_free)
{
  RiKeptAnswers *self = g_new0 (RiKeptAnswers, 1);

  self->max_count = MAX (max_count, 1);
  self->max_bytes = max_bytes;
  self->value_free = value_free;
  self->entries = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&self->order);
  return self;
}

static void
unlink_entry (RiKeptAnswers *self, Entry *entry)
{
  g_hash_table_remove (self->entries, entry->key);
  g_queue_unlink (&self->order, &entry->link);
  self->bytes -= entry->size;
}

void
ri_kept_answers_free (RiKeptAnswers *self)
{
  Entry *entry;

  while ((entry = g_queue_peek_head (&self->order)) != NULL)
    {
      unlink_entry (self, entry);
      entry_free (self, entry);
    }
  g_hash_table_unref (self->entries);
  g_free (self);
}

/* Borrowed; marks @key as just used. */
gpointer
ri_kept_answers_lookup (RiKeptAnswers *self, const char *key)
{
  Entry *entry = g_hash_table_lookup (self->entries, key);

  if (entry == NULL)
    return NULL;
  if (self->order.head != &entry->link)
    {
      g_queue_unlink (&self->order, &entry->link);
      g_queue_push_head_link (&self->order, &entry->link);
    }
  return entry->value;
}

gboolean
ri_kept_answers_remove (RiKeptAnswers *self, const char *key)
{
  Entry *entry = g_hash_table_lookup (self->entries, key);

  if (entry == NULL)
    return FALSE;
  unlink_entry (self, entry);
  entry_free (self, entry);
  return TRUE;
}

/* Keeps @value under @key (replacing what was there), then evicts from
 * the least recently used end until both bounds hold again. An answer
 * larger than the byte bound alone is not kept, and pushes out nothing. */
void
ri_kept_answers_insert (RiKeptAnswers *self, const char *key, gpointer value, gsize size)
{
  Entry *entry;

  ri_kept_answers_remove (self, key);
  if (size > self->max_bytes)
    {
      if (self->value_free != NULL)
        self->value_free (value);
      return;
    }
  entry = g_new0 (Entry, 1);
  entry->key = g_strdup (key);
  entry->value = value;
  entry->size = size;
  entry->link.data = entry;
  g_hash_table_insert (self->entries, entry->key, entry);
  g_queue_push_head_link (&self->order, &entry->link);
  self->bytes += size;
  while (g_hash_table_size (self->entries) > self->max_count || self->bytes > self->max_bytes)
    {
      Entry *oldest = g_queue_peek_tail (&self->order);

      unlink_entry (self, oldest);
      entry_free (self, oldest);
      self->evicted++;
    }
}

guint
ri_kept_answers_get_count (RiKeptAnswers *self)
{
  return g_hash_table_size (self->entries);
}

gsize
ri_kept_answers_get_bytes (RiKeptAnswers *self)
{
  return self->bytes;
}

guint64
ri_kept_answers_get_evicted (RiKeptAnswers *self)
{
  return self->evicted;
}
