#define G_LOG_DOMAIN "Http"

#include "config.h"

#include "ri-http-response.h"
#include "ri-index-answers.h"
#include "ri-index-query.h"
#include "ri-index-writer.h"

/**
 * RiIndexAnswers:
 *
 * Answers GET <prefix>index/static and …/dynamic from the model an index
 * was last built from, narrowed by the query. An answer is built once per
 * model and query (in a worker thread, so a large index never stalls the
 * main loop), kept with its gzip form and a strong ETag of its bytes, and
 * shared by every request for it until the model changes.
 */

/* Bound the memory the answers kept take: past either, they are all
 * forgotten (but those being built) and built again as asked for. */
#define MAX_ANSWERS 256
#define MAX_KEPT_BYTES (64 * 1024 * 1024)
/* Answers built at once; more different queries at the same time get a
 * 503, so that a flood of them cannot take every thread and all memory. */
#define MAX_BUILDING 8

typedef struct {
  SoupServerMessage *msg;     /* (owned) paused until the answer is built */
  gboolean dynamic;
  gboolean finished;          /* the client went away meanwhile */
  gulong finished_id;
} Waiting;

typedef struct {
  guint64 generation;         /* of the model it was built from */
  RiConfig *config;           /* (owned) whose filters it applied */
  GBytes *body;               /* (owned) (nullable) until built */
  GBytes *gzipped;            /* (owned) (nullable) until built */
  char *etag;                 /* (owned) (nullable) "…" */
  char *etag_gzip;            /* (owned) (nullable) "…-gzip" */
  GPtrArray *waiting;         /* (owned) (element-type Waiting) while being built */
} Answer;

struct _RiIndexAnswers {
  GObject parent_instance;

  RiIndexer *indexer;         /* (owned) */
  GHashTable *answers;        /* (owned) "index\nquery" → Answer (rc box) */
  RiConfig *icons_config;     /* (owned) (nullable) what icons was made for */
  RiIconStore *icons;         /* (owned) (nullable) */
  gsize kept_bytes;           /* of the answers built and kept */
  guint building;             /* answers being built */
  RiAnswerCounters counters;
};

G_DEFINE_TYPE (RiIndexAnswers, ri_index_answers, G_TYPE_OBJECT)

static void
waiting_free (Waiting *waiting)
{
  g_signal_handler_disconnect (waiting->msg, waiting->finished_id);
  g_object_unref (waiting->msg);
  g_free (waiting);
}

static void
answer_clear (Answer *answer)
{
  g_clear_pointer (&answer->config, ri_config_unref);
  g_clear_pointer (&answer->body, g_bytes_unref);
  g_clear_pointer (&answer->gzipped, g_bytes_unref);
  g_free (answer->etag);
  g_free (answer->etag_gzip);
  g_clear_pointer (&answer->waiting, g_ptr_array_unref);
}

static void
answer_unref (Answer *answer)
{
  g_rc_box_release_full (answer, (GDestroyNotify) answer_clear);
}

static void
ri_index_answers_finalize (GObject *object)
{
  RiIndexAnswers *self = RI_INDEX_ANSWERS (object);

  g_hash_table_unref (self->answers);
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
  self->answers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) answer_unref);
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
  return &self->counters;
}

static void
respond (RiIndexAnswers *self, SoupServerMessage *msg, RiConfig *config, const Answer *answer, gboolean dynamic)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  gboolean gzip = ri_http_accepts_gzip (msg);
  const char *etag = gzip ? answer->etag_gzip : answer->etag;
  GBytes *body = gzip ? answer->gzipped : answer->body;
  g_autofree char *cache_control = NULL;

  cache_control = dynamic ? g_strdup ("no-store")
                          : g_strdup_printf ("public, max-age=%u", config->daemon.http.max_age_s);
  soup_message_headers_replace (headers, "Cache-Control", cache_control);
  soup_message_headers_replace (headers, "ETag", etag);
  soup_message_headers_replace (headers, "Vary", "Accept-Encoding");
  self->counters.queries++;
  if (ri_http_etag_matches (msg, etag))
    {
      self->counters.not_modified++;
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_MODIFIED, NULL);
      return;
    }
  if (gzip)
    soup_message_headers_replace (headers, "Content-Encoding", "gzip");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, NULL, 0);
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), body);
}

/* Building an answer, in a worker thread. */
typedef struct {
  RiConfig *config;           /* (owned) */
  const RiIndexConfig *index; /* (unowned) in config */
  RiRegistryModel *model;     /* (owned) */
  RiIndexQuery *query;        /* (owned) */
  RiIconStore *icons;         /* (owned) (nullable) */
  Answer *answer;             /* (owned) filled by the thread */
  char *key;                  /* (owned) */
} Build;

static void
build_free (Build *build)
{
  ri_config_unref (build->config);
  ri_registry_model_unref (build->model);
  ri_index_query_free (build->query);
  g_clear_object (&build->icons);
  answer_unref (build->answer);
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
  Answer *answer = build->answer;
  GError *error = NULL;
  g_autofree char *hash = NULL;

  answer->body = ri_index_render (build->index, build->model, build->query, build->icons, NULL, &error);
  if (answer->body == NULL || (answer->gzipped = gzip_bytes (answer->body, &error)) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* Strong validators: the bytes decide, and the gzip form differs. */
  hash = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, answer->body);
  answer->etag = g_strdup_printf ("\"%.32s\"", hash);
  answer->etag_gzip = g_strdup_printf ("\"%.32s-gzip\"", hash);
  g_task_return_boolean (task, TRUE);
}

static void
built_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RiIndexAnswers *self = RI_INDEX_ANSWERS (source);
  Build *build = g_task_get_task_data (G_TASK (result));
  g_autoptr(GPtrArray) waiting = g_steal_pointer (&build->answer->waiting);
  g_autoptr(GError) error = NULL;

  self->building--;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_warning ("Cannot answer a query of index '%s': %s", build->index->name, error->message);
      if (g_hash_table_lookup (self->answers, build->key) == build->answer)
        g_hash_table_remove (self->answers, build->key);
    }
  else
    {
      self->counters.rendered++;
      if (g_hash_table_lookup (self->answers, build->key) == build->answer)
        self->kept_bytes += g_bytes_get_size (build->answer->body) + g_bytes_get_size (build->answer->gzipped);
    }

  for (guint i = 0; i < waiting->len; i++)
    {
      Waiting *w = g_ptr_array_index (waiting, i);

      if (w->finished)
        continue;
      if (error != NULL)
        ri_http_respond_text (w->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Cannot answer: %s", error->message);
      else
        respond (self, w->msg, build->config, build->answer, w->dynamic);
      soup_server_message_unpause (w->msg);
    }
}

static void
finished_cb (SoupServerMessage *msg, gpointer user_data)
{
  ((Waiting *) user_data)->finished = TRUE;
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

static gboolean
is_built (gpointer key, gpointer value, gpointer user_data)
{
  return ((Answer *) value)->waiting == NULL;
}

/* Forgets @answer (replaced or dropped) from the bytes kept. */
static void
forget (RiIndexAnswers *self, const Answer *answer)
{
  if (answer->waiting == NULL)
    self->kept_bytes -= g_bytes_get_size (answer->body) + g_bytes_get_size (answer->gzipped);
}

static void
wait_for (Answer *answer, SoupServerMessage *msg, gboolean dynamic)
{
  Waiting *waiting = g_new0 (Waiting, 1);

  waiting->msg = g_object_ref (msg);
  waiting->dynamic = dynamic;
  waiting->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (finished_cb), waiting);
  g_ptr_array_add (answer->waiting, waiting);
  soup_server_message_pause (msg);
}

void
ri_index_answers_handle (RiIndexAnswers    *self,
                         SoupServerMessage *msg,
                         RiConfig          *config,
                         const RiHttpServe *serve,
                         gboolean           dynamic)
{
  const RiIndexConfig *index = ri_config_get_index (config, serve->index);
  g_autoptr(GError) error = NULL;
  g_autoptr(RiIndexQuery) query = ri_index_query_parse (g_uri_get_query (soup_server_message_get_uri (msg)), &error);
  g_autofree char *key = NULL;
  RiRegistryModel *model;
  guint64 generation;
  Answer *answer;
  g_autoptr(GTask) task = NULL;
  Build *build;

  if (query == NULL)
    {
      self->counters.bad_queries++;
      ri_http_respond_text (msg, SOUP_STATUS_BAD_REQUEST, "Bad query: %s", error->message);
      return;
    }
  model = ri_indexer_get_model (self->indexer, index->name, &generation);
  if (model == NULL)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", "10");
      ri_http_respond_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                            "Index '%s' has not been built yet: no scan of its registry has succeeded so far",
                            index->name);
      return;
    }

  key = g_strconcat (index->name, "\n", ri_index_query_get_canonical (query), NULL);
  answer = g_hash_table_lookup (self->answers, key);
  if (answer != NULL && answer->generation == generation && answer->config == config)
    {
      if (answer->waiting != NULL)
        wait_for (answer, msg, dynamic);
      else
        respond (self, msg, config, answer, dynamic);
      return;
    }

  if (self->building >= MAX_BUILDING)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", "1");
      ri_http_respond_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "Too many different queries at once; try again");
      return;
    }
  if (answer != NULL)
    forget (self, answer);
  if (g_hash_table_size (self->answers) >= MAX_ANSWERS || self->kept_bytes > MAX_KEPT_BYTES)
    {
      g_hash_table_foreach_remove (self->answers, is_built, NULL);
      self->kept_bytes = 0;
    }
  answer = g_rc_box_new0 (Answer);
  answer->generation = generation;
  answer->config = ri_config_ref (config);
  answer->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) waiting_free);
  g_hash_table_replace (self->answers, g_strdup (key), answer);
  wait_for (answer, msg, dynamic);

  build = g_new0 (Build, 1);
  build->config = ri_config_ref (config);
  build->index = index;
  build->model = ri_registry_model_ref (model);
  build->query = g_steal_pointer (&query);
  build->icons = index->extract_icons ? icons_for (self, config) : NULL;
  build->answer = g_rc_box_acquire (answer);
  build->key = g_strdup (key);
  self->building++;
  task = g_task_new (self, NULL, built_cb, NULL);
  g_task_set_task_data (task, build, (GDestroyNotify) build_free);
  g_task_run_in_thread (task, build_thread);
}
