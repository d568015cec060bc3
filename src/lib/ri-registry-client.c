#define G_LOG_DOMAIN "Http"

#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "ri-error.h"
#include "ri-registry-client.h"

#define READ_CHUNK (64 * 1024)
#define MAX_ATTEMPTS 3

struct _RiRegistryClient {
  GObject parent_instance;

  char *base_url;           /* (owned) */
  SoupSession *session;     /* (owned) */
  guint max_connections;
  guint in_flight;
  GQueue waiting;           /* (element-type GTask) (owned) */
  RiRequestStats stats;
};

G_DEFINE_TYPE (RiRegistryClient, ri_registry_client, G_TYPE_OBJECT)

typedef struct {
  RiRequestKind kind;
  char *method;             /* (owned) */
  char *url;                /* (owned) */
  char *accept;             /* (owned) (nullable) */
  gsize max_size;
  guint attempt;
  SoupMessage *message;     /* (owned) (nullable) */
  GInputStream *stream;     /* (owned) (nullable) */
  GByteArray *buffer;       /* (owned) (nullable) */
} Request;

static void start_request (RiRegistryClient *self, GTask *task);

void
ri_response_free (RiResponse *response)
{
  g_free (response->url);
  g_clear_pointer (&response->body, g_bytes_unref);
  g_free (response->content_type);
  g_free (response->docker_digest);
  g_free (response->next_url);
  g_free (response);
}

static void
request_free (Request *request)
{
  g_free (request->method);
  g_free (request->url);
  g_free (request->accept);
  g_clear_object (&request->message);
  g_clear_object (&request->stream);
  g_clear_pointer (&request->buffer, g_byte_array_unref);
  g_free (request);
}

static void
ri_registry_client_finalize (GObject *object)
{
  RiRegistryClient *self = RI_REGISTRY_CLIENT (object);

  /* Each waiting task holds a reference on us, so none can be left. */
  g_assert (g_queue_is_empty (&self->waiting));
  g_free (self->base_url);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (ri_registry_client_parent_class)->finalize (object);
}

static void
ri_registry_client_class_init (RiRegistryClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ri_registry_client_finalize;
}

static void
ri_registry_client_init (RiRegistryClient *self)
{
  g_queue_init (&self->waiting);
}

RiRegistryClient *
ri_registry_client_new (const char *base_url, guint max_connections)
{
  RiRegistryClient *self = g_object_new (RI_TYPE_REGISTRY_CLIENT, NULL);

  self->base_url = g_strdup (base_url);
  self->max_connections = MAX (1u, max_connections);
  /* libsoup's default is two connections per host: raise it to the
   * concurrency we queue at, or the bound would be a fiction. */
  self->session = soup_session_new_with_options ("max-conns", self->max_connections + 2,
                                                 "max-conns-per-host", self->max_connections,
                                                 "timeout", 60,
                                                 "idle-timeout", 60,
                                                 "user-agent", "regindexer/" PACKAGE_VERSION " ",
                                                 NULL);
  return self;
}

const char *
ri_registry_client_get_base_url (RiRegistryClient *self)
{
  return self->base_url;
}

char *
ri_registry_client_build_url (RiRegistryClient *self, const char *path)
{
  return g_strconcat (self->base_url, path, NULL);
}

const RiRequestStats *
ri_registry_client_get_stats (RiRegistryClient *self)
{
  return &self->stats;
}

static gboolean
same_origin (const char *a, const char *b)
{
  g_autoptr(GUri) ua = g_uri_parse (a, G_URI_FLAGS_ENCODED, NULL);
  g_autoptr(GUri) ub = g_uri_parse (b, G_URI_FLAGS_ENCODED, NULL);

  return ua != NULL && ub != NULL &&
         g_strcmp0 (g_uri_get_scheme (ua), g_uri_get_scheme (ub)) == 0 &&
         g_ascii_strcasecmp (g_uri_get_host (ua), g_uri_get_host (ub)) == 0 &&
         g_uri_get_port (ua) == g_uri_get_port (ub);
}

/* RFC 8288: Link: <url>; rel="next", <url2>; rel="prev". The target may
 * be relative (Distribution sends a path), and is resolved against the
 * request. Only a next page on the same origin is followed. */
char *
ri_parse_link_next (const char *header, const char *request_url)
{
  g_autoptr(GSList) links = NULL;

  if (header == NULL)
    return NULL;
  links = soup_header_parse_list (header);
  for (GSList *l = links; l; l = l->next)
    {
      const char *link = l->data;
      const char *open = strchr (link, '<');
      const char *close = open ? strchr (open, '>') : NULL;
      g_autoptr(GHashTable) params = NULL;
      g_autofree char *target = NULL;
      g_autofree char *resolved = NULL;
      const char *rel;

      if (open == NULL || close == NULL)
        continue;
      params = soup_header_parse_semi_param_list (close + 1);
      rel = g_hash_table_lookup (params, "rel");
      if (rel == NULL)
        continue;
      {
        g_auto(GStrv) rels = g_strsplit (rel, " ", -1);
        if (!g_strv_contains ((const char * const *) rels, "next"))
          continue;
      }
      target = g_strndup (open + 1, close - open - 1);
      resolved = g_uri_resolve_relative (request_url, g_strstrip (target), G_URI_FLAGS_ENCODED, NULL);
      if (resolved != NULL && same_origin (resolved, request_url))
        {
          soup_header_free_list (g_steal_pointer (&links));
          return g_steal_pointer (&resolved);
        }
    }
  soup_header_free_list (g_steal_pointer (&links));
  return NULL;
}

/* Error responses of the Registry API carry {"errors":[{"code","message"}]};
 * the first one says more than the status line does. */
static char *
describe_error_body (GBytes *body)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonArray *errors;
  JsonObject *first;
  gsize size = 0;
  const char *data;

  if (body == NULL)
    return NULL;
  data = g_bytes_get_data (body, &size);
  if (size == 0 || size > 65536 || !json_parser_load_from_data (parser, data, size, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  root = json_object_get_member (json_node_get_object (root), "errors");
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    return NULL;
  errors = json_node_get_array (root);
  if (json_array_get_length (errors) == 0 ||
      !JSON_NODE_HOLDS_OBJECT (json_array_get_element (errors, 0)))
    return NULL;
  first = json_array_get_object_element (errors, 0);
  return g_strdup_printf ("%s (%s)",
                          json_object_get_string_member_with_default (first, "message", "no message"),
                          json_object_get_string_member_with_default (first, "code", "no code"));
}

static void
release_slot (RiRegistryClient *self)
{
  g_assert (self->in_flight > 0);
  self->in_flight--;
  while (self->in_flight < self->max_connections && !g_queue_is_empty (&self->waiting))
    {
      GTask *next = g_queue_pop_head (&self->waiting);
      self->in_flight++;
      start_request (self, next);
      g_object_unref (next);
    }
}

static void
finish_request (RiRegistryClient *self, GTask *task, RiResponse *response, GError *error)
{
  release_slot (self);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, response, (GDestroyNotify) ri_response_free);
}

static gboolean
retry_cb (gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  RiRegistryClient *self = g_task_get_source_object (task);

  if (g_task_return_error_if_cancelled (task))
    {
      release_slot (self);
      return G_SOURCE_REMOVE;
    }
  start_request (self, task);
  return G_SOURCE_REMOVE;
}

static gboolean
maybe_retry (RiRegistryClient *self, GTask *task, const char *why)
{
  Request *request = g_task_get_task_data (task);
  guint delay_ms;

  if (request->attempt >= MAX_ATTEMPTS || g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    return FALSE;
  /* Exponential back-off with jitter, so that many requests failing
   * together do not come back together. */
  delay_ms = (200u << (2 * (request->attempt - 1))) + g_random_int_range (0, 100);
  g_message ("%s %s: %s; retrying in %u ms", request->method, request->url, why, delay_ms);
  self->stats.retries++;
  g_clear_object (&request->message);
  g_clear_object (&request->stream);
  g_clear_pointer (&request->buffer, g_byte_array_unref);
  g_timeout_add (delay_ms, retry_cb, g_object_ref (task));
  return TRUE;
}

static RiResponse *
response_new (Request *request)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (request->message);
  RiResponse *response = g_new0 (RiResponse, 1);
  const char *content_type = soup_message_headers_get_content_type (headers, NULL);

  response->url = g_strdup (request->url);
  response->status = soup_message_get_status (request->message);
  response->content_type = g_strdup (content_type);
  response->docker_digest = g_strdup (soup_message_headers_get_one (headers, "Docker-Content-Digest"));
  response->next_url = ri_parse_link_next (soup_message_headers_get_list (headers, "Link"), request->url);
  return response;
}

static void
complete_with_status (RiRegistryClient *self, GTask *task)
{
  Request *request = g_task_get_task_data (task);
  g_autoptr(RiResponse) response = response_new (request);
  guint status = response->status;

  if (request->buffer != NULL)
    {
      self->stats.bytes += request->buffer->len;
      response->body = g_byte_array_free_to_bytes (g_steal_pointer (&request->buffer));
    }

  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      finish_request (self, task, g_steal_pointer (&response), NULL);
      return;
    }

  if (status >= 500 || status == 429)
    {
      g_autofree char *why = g_strdup_printf ("HTTP %u %s", status, soup_status_get_phrase (status));
      if (maybe_retry (self, task, why))
        return;
    }

  {
    g_autofree char *detail = describe_error_body (response->body);
    finish_request (self, task, NULL,
                    g_error_new (RI_ERROR,
                                 status == 404 ? RI_ERROR_NOT_FOUND :
                                 status == 400 ? RI_ERROR_BAD_REQUEST : RI_ERROR_REGISTRY,
                                 "%s %s: HTTP %u %s%s%s", request->method, request->url, status,
                                 soup_status_get_phrase (status), detail ? ": " : "", detail ? detail : ""));
  }
}

static void read_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void
read_next_chunk (GTask *task)
{
  Request *request = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  g_input_stream_read_bytes_async (request->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   cancellable, read_cb, task);
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  RiRegistryClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  if (chunk == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          finish_request (self, task, NULL, g_steal_pointer (&error));
          return;
        }
      if (maybe_retry (self, task, error->message))
        return;
      finish_request (self, task, NULL,
                      g_error_new (RI_ERROR, RI_ERROR_PROTOCOL, "%s %s: reading the response failed: %s",
                                   request->method, request->url, error->message));
      return;
    }
  if (g_bytes_get_size (chunk) == 0)
    {
      g_input_stream_close (request->stream, NULL, NULL);
      complete_with_status (self, task);
      return;
    }
  if (request->buffer->len + g_bytes_get_size (chunk) > request->max_size)
    {
      finish_request (self, task, NULL,
                      g_error_new (RI_ERROR, RI_ERROR_TOO_LARGE,
                                   "%s %s: the response is larger than the limit of %" G_GSIZE_FORMAT " bytes",
                                   request->method, request->url, request->max_size));
      return;
    }
  g_byte_array_append (request->buffer, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  read_next_chunk (g_steal_pointer (&task));
}

static void
send_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  RiRegistryClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers;
  goffset length;

  request->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (request->stream == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          finish_request (self, task, NULL, g_steal_pointer (&error));
          return;
        }
      if (error->domain != G_TLS_ERROR && maybe_retry (self, task, error->message))
        return;
      finish_request (self, task, NULL,
                      g_error_new (RI_ERROR, RI_ERROR_REGISTRY, "%s %s: %s",
                                   request->method, request->url, error->message));
      return;
    }

  headers = soup_message_get_response_headers (request->message);
  if (g_str_equal (request->method, "HEAD"))
    {
      g_input_stream_close (request->stream, NULL, NULL);
      complete_with_status (self, task);
      return;
    }
  length = soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH
    ? soup_message_headers_get_content_length (headers) : -1;
  if (length > 0 && (guint64) length > request->max_size)
    {
      finish_request (self, task, NULL,
                      g_error_new (RI_ERROR, RI_ERROR_TOO_LARGE,
                                   "%s %s: the response of %" G_GINT64_FORMAT " bytes is larger than "
                                   "the limit of %" G_GSIZE_FORMAT " bytes",
                                   request->method, request->url, (gint64) length, request->max_size));
      return;
    }
  request->buffer = g_byte_array_sized_new (length > 0 ? (guint) length : 4096);
  read_next_chunk (g_steal_pointer (&task));
}

static void
start_request (RiRegistryClient *self, GTask *task)
{
  Request *request = g_task_get_task_data (task);

  request->attempt++;
  request->message = soup_message_new (request->method, request->url);
  if (request->message == NULL)
    {
      finish_request (self, task, NULL,
                      g_error_new (RI_ERROR, RI_ERROR_PROTOCOL, "'%s' is not a valid URL", request->url));
      return;
    }
  if (request->accept != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (request->message),
                                  "Accept", request->accept);
  self->stats.requests[request->kind]++;
  g_debug ("%s %s", request->method, request->url);
  soup_session_send_async (self->session, request->message, G_PRIORITY_DEFAULT,
                           g_task_get_cancellable (task), send_cb, g_object_ref (task));
}

void
ri_registry_client_request_async (RiRegistryClient   *self,
                                  RiRequestKind       kind,
                                  const char         *url,
                                  const char         *accept,
                                  gsize               max_size,
                                  GCancellable       *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data)
{
  g_autoptr(GTask) task = NULL;
  Request *request;

  g_return_if_fail (RI_IS_REGISTRY_CLIENT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ri_registry_client_request_async);
  request = g_new0 (Request, 1);
  request->kind = kind;
  request->method = g_strdup (kind == RI_REQUEST_MANIFEST_HEAD ? "HEAD" : "GET");
  request->url = g_strdup (url);
  request->accept = g_strdup (accept);
  request->max_size = max_size;
  g_task_set_task_data (task, request, (GDestroyNotify) request_free);

  if (self->in_flight < self->max_connections)
    {
      self->in_flight++;
      start_request (self, task);
    }
  else
    g_queue_push_tail (&self->waiting, g_steal_pointer (&task));
}

RiResponse *
ri_registry_client_request_finish (RiRegistryClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, ri_registry_client_request_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
