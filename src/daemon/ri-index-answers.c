#define G_LOG_DOMAIN "HttpServer"

#include "config.h"

#include <string.h>

#include "ri-error.h"
#include "ri-icon-store.h"
#include "ri-index-answers.h"
#include "ri-index-query.h"
#include "ri-index-writer.h"
#include "ri-kept-answers.h"
#include "ri-names.h"
#include "ri-spellings.h"

/**
 * RiIndexAnswers:
 *
 * Answers to queries of <prefix>index/static and …/dynamic, from the
 * model an index was last built from. An answer is built once per model
 * and query (in a worker thread, so a large index never stalls the main
 * loop), kept with its gzip form and a strong ETag of its bytes, and
 * shared by every request for it until the model changes or it is the
 * least recently used one when room is needed.
 *
 * Clients repeat a query spelled the same way (Flatpak, every time), so
 * what a spelling means is remembered too: a spelling seen before finds
 * its kept answer without being parsed again, through the same checks of
 * the model and the configuration.
 */

#define MAX_ANSWERS 256
#define MAX_KEPT_BYTES (64 * 1024 * 1024)
/* Answers built at once; more different queries at the same time are
 * refused, so that a flood of them cannot take every thread and all
 * memory (and a kept answer is still answered meanwhile). */
#define MAX_BUILDING 8
/* Spellings remembered, in each of their two lists (ri-spellings.c). */
#define MAX_SPELLINGS 1024
#define MAX_SPELLING_BYTES (1024 * 1024)
/* A spelling this long or shorter is looked up without allocating. */
#define SPELLING_BUFFER 512

/* An answer being built, and the requests waiting for it. */
typedef struct {
  char *key;                  /* (owned) */
  GPtrArray *waiting;         /* (owned) (element-type GTask) */
} Building;

struct _RiIndexAnswers {
  GObject parent_instance;

  RiIndexer *indexer;         /* (owned) */
  RiKeptAnswers *kept;        /* (owned) "index\ncanonical query" → RiIndexAnswer */
  RiSpellings *spellings;     /* (owned) "index\nquery as sent" → "index\ncanonical query" */
  GHashTable *building;       /* (owned) key → Building */
  RiConfig *icons_config;     /* (owned) (nullable) what icons was made for */
  RiIconStore *icons;         /* (owned) (nullable) */
  RiAnswerCounters counters;
};

G_DEFINE_TYPE (RiIndexAnswers, ri_index_answers, G_TYPE_OBJECT)

static void
answer_clear (RiIndexAnswer *answer)
{
  if (answer->prepared_free != NULL)
    answer->prepared_free (answer->prepared);
  g_clear_pointer (&answer->config, ri_config_unref);
  g_clear_pointer (&answer->body, g_bytes_unref);
  g_clear_pointer (&answer->gzipped, g_bytes_unref);
  g_free (answer->etag);
  g_free (answer->etag_gzip);
}

RiIndexAnswer *
ri_index_answer_ref (RiIndexAnswer *answer)
{
  return g_atomic_rc_box_acquire (answer);
}

void
ri_index_answer_unref (RiIndexAnswer *answer)
{
  g_atomic_rc_box_release_full (answer, (GDestroyNotify) answer_clear);
}

static void
building_free (Building *building)
{
  g_free (building->key);
  g_ptr_array_unref (building->waiting);
  g_free (building);
}

static void
ri_index_answers_finalize (GObject *object)
{
  RiIndexAnswers *self = RI_INDEX_ANSWERS (object);

  ri_kept_answers_free (self->kept);
  ri_spellings_free (self->spellings);
  g_hash_table_unref (self->building);
  g_clear_object (&self->indexer);
  g_clear_object (&self->icons);
  g_clear_pointer (&self->icons_config, ri_config_unref);
  G_OBJECT_CLASS (ri_index_answers_parent_class)->finalize (object);
}

static void
ri_index_answers_class_init (RiIndexAnswersClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ri_index_answers_finalize;
}

static void
ri_index_answers_init (RiIndexAnswers *self)
{
  self->kept = ri_kept_answers_new (MAX_ANSWERS, MAX_KEPT_BYTES, (GDestroyNotify) ri_index_answer_unref);
  self->spellings = ri_spellings_new (MAX_SPELLINGS, MAX_SPELLING_BYTES);
  self->building = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) building_free);
}

RiIndexAnswers *
ri_index_answers_new (RiIndexer *indexer)
{
  RiIndexAnswers *self = g_object_new (RI_TYPE_INDEX_ANSWERS, NULL);

  self->indexer = g_object_ref (indexer);
  return self;
}

const RiAnswerCounters *
ri_index_answers_get_counters (RiIndexAnswers *self)
{
  self->counters.evicted = ri_kept_answers_get_evicted (self->kept);
  return &self->counters;
}

guint
ri_index_answers_get_kept (RiIndexAnswers *self)
{
  return ri_kept_answers_get_count (self->kept);
}

/* Query spellings remembered (what they mean, not their answers). */
guint
ri_index_answers_get_spellings (RiIndexAnswers *self)
{
  return ri_spellings_get_count (self->spellings);
}

/* Building an answer, in a worker thread. */
typedef struct {
  RiConfig *config;           /* (owned) */
  const RiIndexConfig *index; /* (unowned) in config */
  RiRegistryModel *model;     /* (owned) */
  guint64 generation;
  RiIndexQuery *query;        /* (owned) */
  RiIconStore *icons;         /* (owned) (nullable) */
  char *key;                  /* (owned) */
} Build;

static void
build_free (Build *build)
{
  ri_config_unref (build->config);
  ri_registry_model_unref (build->model);
  ri_index_query_free (build->query);
  g_clear_object (&build->icons);
  g_free (build->key);
  g_free (build);
}

static GBytes *
gzip_bytes (GBytes *bytes, GError **error)
{
  g_autoptr(GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr(GZlibCompressor) compressor = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
  g_autoptr(GOutputStream) out = g_converter_output_stream_new (memory, G_CONVERTER (compressor));

  if (!g_output_stream_write_all (out, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL, NULL, error) ||
      !g_output_stream_close (out, NULL, error))
    return NULL;
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (memory));
}

static void
build_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Build *build = task_data;
  g_autoptr(RiIndexAnswer) answer = g_atomic_rc_box_new0 (RiIndexAnswer);
  GError *error = NULL;
  g_autofree char *hash = NULL;

  answer->body = ri_index_render (build->index, build->model, build->query, build->icons, NULL, &error);
  if (answer->body == NULL || (answer->gzipped = gzip_bytes (answer->body, &error)) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* Strong validators: the bytes decide, and the gzip form differs. */
  hash = ri_sha256_hex (g_bytes_get_data (answer->body, NULL), g_bytes_get_size (answer->body));
  answer->etag = g_strdup_printf ("\"%.32s\"", hash);
  answer->etag_gzip = g_strdup_printf ("\"%.32s-gzip\"", hash);
  answer->generation = build->generation;
  answer->config = ri_config_ref (build->config);
  g_task_return_pointer (task, g_steal_pointer (&answer), (GDestroyNotify) ri_index_answer_unref);
}

static void
built_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RiIndexAnswers *self = RI_INDEX_ANSWERS (source);
  Build *build = g_task_get_task_data (G_TASK (result));
  g_autoptr(RiIndexAnswer) answer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) waiting = NULL;
  Building *building = g_hash_table_lookup (self->building, build->key);

  waiting = g_ptr_array_ref (building->waiting);
  g_hash_table_remove (self->building, build->key);
  answer = g_task_propagate_pointer (G_TASK (result), &error);
  if (answer == NULL)
    g_warning ("Cannot answer a query of index '%s': %s", build->index->name, error->message);
  else
    {
      self->counters.rendered++;
      ri_kept_answers_insert (self->kept, build->key, ri_index_answer_ref (answer),
                              g_bytes_get_size (answer->body) + g_bytes_get_size (answer->gzipped));
    }
  for (guint i = 0; i < waiting->len; i++)
    {
      GTask *task = g_ptr_array_index (waiting, i);

      if (g_task_return_error_if_cancelled (task))
        continue;
      if (answer != NULL)
        g_task_return_pointer (task, ri_index_answer_ref (answer), (GDestroyNotify) ri_index_answer_unref);
      else
        g_task_return_new_error (task, RI_ERROR, RI_ERROR_FAILED, "%s", error->message);
    }
}

static RiIconStore *
icons_for (RiIndexAnswers *self, RiConfig *config)
{
  if (config->icons_dir == NULL || config->icons_uri == NULL)
    return NULL;
  if (self->icons_config != config)
    {
      g_clear_object (&self->icons);
      g_clear_pointer (&self->icons_config, ri_config_unref);
      self->icons = ri_icon_store_new (config->icons_dir, config->icons_uri);
      self->icons_config = ri_config_ref (config);
    }
  return g_object_ref (self->icons);
}

/* What a query is kept under, or NULL (@error set) when it is malformed. */
static char *
parse_key (RiIndexAnswers *self, const RiIndexConfig *index, const char *query, RiIndexQuery **parsed,
           GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(RiIndexQuery) local_query = NULL;
  char *key;

  self->counters.parsed++;
  local_query = ri_index_query_parse (query, &local_error);
  if (local_query == NULL)
    {
      self->counters.bad_queries++;
      g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "Bad query: %s", local_error->message);
      return NULL;
    }
  key = g_strconcat (index->name, "\n", ri_index_query_get_canonical (local_query), NULL);
  if (parsed != NULL)
    *parsed = g_steal_pointer (&local_query);
  return key;
}

/* The model @index answers from (transfer none), or NULL (@error set)
 * before its first scan. */
static RiRegistryModel *
model_of (RiIndexAnswers *self, const RiIndexConfig *index, guint64 *generation, GError **error)
{
  RiRegistryModel *model = ri_indexer_get_model (self->indexer, index->name, generation);

  if (model == NULL)
    g_set_error (error, RI_ERROR, RI_ERROR_NOT_FOUND,
                 "Index '%s' has not been built yet: no scan of its registry has succeeded so far",
                 index->name);
  return model;
}

static RiIndexAnswer *
lookup_key (RiIndexAnswers *self, RiConfig *config, const char *key, guint64 generation)
{
  RiIndexAnswer *answer = ri_kept_answers_lookup (self->kept, key);

  if (answer == NULL)
    return NULL;
  if (answer->generation != generation || answer->config != config)
    {
      ri_kept_answers_remove (self->kept, key);
      return NULL;
    }
  return ri_index_answer_ref (answer);
}

/* "index\nquery as sent", in @buffer when it fits (else in *@allocated). */
static const char *
spelling_of (const RiIndexConfig *index, const char *query, char buffer[SPELLING_BUFFER], char **allocated)
{
  gsize name_length = strlen (index->name);
  gsize query_length = query ? strlen (query) : 0;

  if (name_length + 1 + query_length >= SPELLING_BUFFER)
    return *allocated = g_strconcat (index->name, "\n", query, NULL);
  memcpy (buffer, index->name, name_length);
  buffer[name_length] = '\n';
  memcpy (buffer + name_length + 1, query ? query : "", query_length + 1);
  return buffer;
}

/* The kept answer to @query, at once; NULL without an error when it has
 * to be built (ri_index_answers_get_async()). */
RiIndexAnswer *
ri_index_answers_lookup (RiIndexAnswers    *self,
                         RiConfig          *config,
                         const RiHttpServe *serve,
                         const char        *query,
                         GError           **error)
{
  const RiIndexConfig *index = ri_config_get_index (config, serve->index);
  char buffer[SPELLING_BUFFER];
  g_autofree char *allocated = NULL;
  const char *spelling = spelling_of (index, query, buffer, &allocated);
  const char *key = ri_spellings_lookup (self->spellings, spelling);
  g_autofree char *parsed_key = NULL;
  guint64 generation = 0;

  /* A spelling seen before was parsed then: what is left to check is
   * what the answer was made from. */
  if (key == NULL)
    {
      parsed_key = parse_key (self, index, query, NULL, error);
      if (parsed_key == NULL)
        return NULL;
      ri_spellings_insert (self->spellings, spelling, parsed_key);
      key = parsed_key;
    }
  if (model_of (self, index, &generation, error) == NULL)
    return NULL;
  return lookup_key (self, config, key, generation);
}

void
ri_index_answers_get_async (RiIndexAnswers     *self,
                            RiConfig           *config,
                            const RiHttpServe  *serve,
                            const char         *query,
                            GCancellable       *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer            user_data)
{
  const RiIndexConfig *index = ri_config_get_index (config, serve->index);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(RiIndexQuery) parsed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  RiRegistryModel *model = NULL;
  guint64 generation = 0;
  RiIndexAnswer *answer;
  Building *building;
  Build *build;
  g_autoptr(GTask) build_task = NULL;

  g_task_set_source_tag (task, ri_index_answers_get_async);
  if ((key = parse_key (self, index, query, &parsed, &error)) == NULL ||
      (model = model_of (self, index, &generation, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if ((answer = lookup_key (self, config, key, generation)) != NULL)
    {
      g_task_return_pointer (task, answer, (GDestroyNotify) ri_index_answer_unref);
      return;
    }
  /* The model or the configuration may change while an answer is
   * built: a request then waits for the answer of the model it asked. */
  building = g_hash_table_lookup (self->building, key);
  if (building != NULL)
    {
      g_ptr_array_add (building->waiting, g_steal_pointer (&task));
      return;
    }
  if (g_hash_table_size (self->building) >= MAX_BUILDING)
    {
      self->counters.busy++;
      g_task_return_new_error (task, RI_ERROR, RI_ERROR_BUSY, "Too many different queries at once; try again");
      return;
    }
  building = g_new0 (Building, 1);
  building->key = g_strdup (key);
  building->waiting = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (building->waiting, g_steal_pointer (&task));
  g_hash_table_insert (self->building, building->key, building);

  build = g_new0 (Build, 1);
  build->config = ri_config_ref (config);
  build->index = index;
  build->model = ri_registry_model_ref (model);
  build->generation = generation;
  build->query = g_steal_pointer (&parsed);
  build->icons = index->extract_icons ? icons_for (self, config) : NULL;
  build->key = g_steal_pointer (&key);
  build_task = g_task_new (self, NULL, built_cb, NULL);
  g_task_set_task_data (build_task, build, (GDestroyNotify) build_free);
  g_task_run_in_thread (build_task, build_thread);
}

RiIndexAnswer *
ri_index_answers_get_finish (RiIndexAnswers *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
