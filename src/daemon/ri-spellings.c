#include "config.h"

#include <string.h>

#include "ri-kept-answers.h"
#include "ri-spellings.h"

/* Two least-recently-used lists (a "2Q" cache): a spelling enters the
 * first, and moves to the second when it is looked up there. A flood of
 * spellings each sent once (a client varying a query on purpose) then
 * only ever pushes out spellings sent once: the ones clients repeat are
 * in the second list, which only repeated spellings enter. Both lists
 * are bounded by their number and their bytes, the strings counted with
 * what keeping them costs besides. */

/* The entry, its hash table node and the allocator's headers, roughly. */
#define OVERHEAD 128

struct _RiSpellings {
  RiKeptAnswers *once;        /* (owned) spelling → meaning (owned string) */
  RiKeptAnswers *again;       /* (owned) the same, for spellings seen again */
};

/* Each list holds up to @max_count spellings in @max_bytes. */
RiSpellings *
ri_spellings_new (guint max_count, gsize max_bytes)
{
  RiSpellings *self = g_new0 (RiSpellings, 1);

  self->once = ri_kept_answers_new (max_count, max_bytes, g_free);
  self->again = ri_kept_answers_new (max_count, max_bytes, g_free);
  return self;
}

void
ri_spellings_free (RiSpellings *self)
{
  ri_kept_answers_free (self->once);
  ri_kept_answers_free (self->again);
  g_free (self);
}

static gsize
size_of (const char *spelling, const char *meaning)
{
  return strlen (spelling) + 1 + strlen (meaning) + 1 + OVERHEAD;
}

/* What @spelling was found to mean (borrowed, valid until the next
 * insert), or NULL when it was not seen lately. */
const char *
ri_spellings_lookup (RiSpellings *self, const char *spelling)
{
  const char *meaning = ri_kept_answers_lookup (self->again, spelling);

  if (meaning != NULL)
    return meaning;
  meaning = ri_kept_answers_lookup (self->once, spelling);
  if (meaning == NULL)
    return NULL;
  /* Both lists have the same bounds, so what fitted one fits the other. */
  ri_kept_answers_insert (self->again, spelling, g_strdup (meaning), size_of (spelling, meaning));
  ri_kept_answers_remove (self->once, spelling);
  return ri_kept_answers_lookup (self->again, spelling);
}

/* Remembers that @spelling means @meaning, as a spelling seen once. */
void
ri_spellings_insert (RiSpellings *self, const char *spelling, const char *meaning)
{
  ri_kept_answers_remove (self->again, spelling);
  ri_kept_answers_insert (self->once, spelling, g_strdup (meaning), size_of (spelling, meaning));
}

guint
ri_spellings_get_count (RiSpellings *self)
{
  return ri_kept_answers_get_count (self->once) + ri_kept_answers_get_count (self->again);
}

gsize
ri_spellings_get_bytes (RiSpellings *self)
{
  return ri_kept_answers_get_bytes (self->once) + ri_kept_answers_get_bytes (self->again);
}
