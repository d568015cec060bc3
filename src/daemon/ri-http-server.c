#define _GNU_SOURCE /* POLLRDHUP */
#define G_LOG_DOMAIN "HttpServer"

#include "config.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ri-error.h"
#include "ri-event-receiver.h"
#include "ri-http-listener.h"
#include "ri-http-response.h"
#include "ri-http-server.h"
#include "ri-http-target.h"
#include "ri-icon-store.h"
#include "ri-index-answers.h"

/**
 * RiHttpServer:
 *
 * The daemon's optional HTTP listener (daemon: http:): the index protocol
 * answered live for the indexes under `serve`, the icons they reference,
 * and POST /events for registry notifications. Which indexes are served
 * is read from the configuration at each request, so a reload applies at
 * once; the addresses listened on change only through
 * ri_http_server_listen().
 *
 * The HTTP engine is libmicrohttpd, driven from the main context through
 * its epoll descriptor: everything else in the daemon stays on one
 * thread, and a kept answer is written without leaving the dispatch that
 * read its request. Connections come from our own accept loop
 * (RiHttpListener), which applies the connection limits; the deadlines
 * for a request head and for an idle kept-alive connection are enforced
 * here, since libmicrohttpd knows only inactivity.
 */

/* A connection that gets nowhere for this long after its deadlines
 * (a body or an answer stalled) is closed by libmicrohttpd itself. */
#define STALL_TIMEOUT_S 60
/* What libmicrohttpd gives each connection for its request head and the
 * head of its answer: heads up to about 7 KiB are read (Tomcat's and
 * Jetty's limit is 8 KB; Flatpak sends 300 bytes), a larger one is
 * answered 431 (or, within a few hundred bytes of the limit, closed).
 * libmicrohttpd zeroes all of it after every request: its default of
 * 32 KiB took 8% of the daemon's CPU answering 200 kept-alive
 * connections (this, 1%). */
#define CONNECTION_MEMORY (8 * 1024)
/* A request target this long or shorter is split without allocating. */
#define TARGET_BUFFER 1024
/* A body posted to /events is read to its end to answer 413, unless it
 * goes on far beyond any notification. */
#define MAX_DISCARDED_FACTOR 16
/* A body sent elsewhere is read and dropped before the answer (as
 * clients expect; closing at once breaks their pipe), up to this. */
#define MAX_DISCARDED (256 * 1024 * 1024)

typedef struct {
  char *client;               /* (owned) the peer address: per-client limit */
  int fd;
  gint64 since_us;            /* waiting for a request head since */
  gboolean busy;              /* a request is being handled */
  guint answered;             /* requests completed on it */
  gboolean cut;               /* shut down by a deadline */
  gboolean reading;           /* a request body is being read */
} Connection;

typedef enum {
  REQUEST_NEW,
  REQUEST_HEAD,               /* its head read, with no body to come */
  REQUEST_BODY,               /* reading a notification's body */
  REQUEST_DISCARD,            /* reading a body nobody takes, to answer after it */
  REQUEST_WAITING,            /* suspended until its answer is built */
  REQUEST_READY,              /* resumed with an answer or an error */
} RequestState;

typedef struct {
  RiHttpServer *server;       /* (unowned) valid until completed */
  struct MHD_Connection *connection;
  const char *target;         /* (nullable) the request target, as sent, kept after it */
  RequestState state;
  gboolean completed;
  RiConfig *config;           /* (owned) (nullable) what it was routed with */
  gboolean dynamic;
  gboolean has_body;          /* it says a body follows its head */
  GByteArray *body;           /* (owned) (nullable) dropped past max_event_size */
  gsize received;
  gboolean body_read;         /* a body to discard is behind */
  char *registry;             /* (owned) (nullable) ?registry= of a notification */
  RiIndexAnswer *answer;      /* (owned) (nullable) */
  GError *error;              /* (owned) (nullable) */
} Request;

struct _RiHttpServer {
  GObject parent_instance;

  RiScheduler *scheduler;     /* (owned) */
  RiIndexAnswers *answers;    /* (owned) */
  RiEventReceiver *events;    /* (owned) */
  struct MHD_Daemon *mhd;     /* (owned) */
  GSource *mhd_source;        /* (owned) */
  RiHttpListener *listener;   /* (owned) (nullable) */
  GStrv listening;            /* (owned) (nullable) the addresses listened on */
  GHashTable *connections;    /* (owned) set of Connection */
  GHashTable *per_client;     /* (owned) address → count of connections open */
  GHashTable *suspended;      /* (owned) set of Request waiting for an answer */
  GCancellable *cancellable;  /* (owned) ends every wait at dispose */
  guint sweep_id;             /* while connections are open */
  GUri *base;                 /* (owned) what request targets resolve against */
  char *server_header;        /* (owned) */
  RiConfig *icons_config;     /* (owned) (nullable) what icons was made for */
  RiIconStore *icons;         /* (owned) (nullable) */
  RiHttpCounters counters;
};

G_DEFINE_TYPE (RiHttpServer, ri_http_server, G_TYPE_OBJECT)

static void
request_clear (Request *request)
{
  g_clear_pointer (&request->config, ri_config_unref);
  g_clear_pointer (&request->body, g_byte_array_unref);
  g_free (request->registry);
  g_clear_pointer (&request->answer, ri_index_answer_unref);
  g_clear_error (&request->error);
}

static void
request_unref (Request *request)
{
  g_rc_box_release_full (request, (GDestroyNotify) request_clear);
}

static void
connection_free (Connection *connection)
{
  g_free (connection->client);
  g_free (connection);
}

/* Driving libmicrohttpd from the main context. */
typedef struct {
  GSource source;
  struct MHD_Daemon *mhd;
  gpointer tag;
} MhdSource;

static gboolean
mhd_due (MhdSource *s, gint *timeout)
{
  MHD_UNSIGNED_LONG_LONG ms;

  if (MHD_get_timeout (s->mhd, &ms) != MHD_YES)
    {
      *timeout = -1;
      return FALSE;
    }
  *timeout = (gint) MIN (ms, (MHD_UNSIGNED_LONG_LONG) G_MAXINT);
  return ms == 0;
}

static gboolean
mhd_prepare (GSource *source, gint *timeout)
{
  return mhd_due ((MhdSource *) source, timeout);
}

static gboolean
mhd_check (GSource *source)
{
  MhdSource *s = (MhdSource *) source;
  gint timeout;

  return g_source_query_unix_fd (source, s->tag) != 0 || mhd_due (s, &timeout);
}

static gboolean
mhd_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  MHD_run (((MhdSource *) source)->mhd);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs mhd_source_funcs = { mhd_prepare, mhd_check, mhd_dispatch, NULL, NULL, NULL };

static GSource *
mhd_source_new (struct MHD_Daemon *mhd)
{
  GSource *source = g_source_new (&mhd_source_funcs, sizeof (MhdSource));
  MhdSource *s = (MhdSource *) source;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info (mhd, MHD_DAEMON_INFO_EPOLL_FD);

  s->mhd = mhd;
  s->tag = g_source_add_unix_fd (source, info->epoll_fd, G_IO_IN | G_IO_ERR | G_IO_HUP);
  g_source_set_static_name (source, "libmicrohttpd");
  /* GLib blocks a source that cannot recurse while it is dispatched, by
   * taking its descriptor out of the poll set and putting it back: two
   * eventfd writes and a read for every dispatch. Nothing libmicrohttpd
   * calls runs a nested main loop, so no recursion can happen. */
  g_source_set_can_recurse (source, TRUE);
  return source;
}

/* Responses. */

static enum MHD_Result
queue (RiHttpServer *self, struct MHD_Connection *connection, guint status, struct MHD_Response *response)
{
  enum MHD_Result result;

  MHD_add_response_header (response, "Server", self->server_header);
  result = MHD_queue_response (connection, status, response);
  MHD_destroy_response (response);
  return result;
}

static struct MHD_Response *
text_response (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* A short plain-text answer, mostly an error a person will read. */
static struct MHD_Response *
text_response (const char *format, ...)
{
  g_autofree char *text = NULL;
  g_autofree char *body = NULL;
  struct MHD_Response *response;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  body = g_strconcat (text, "\n", NULL);
  response = MHD_create_response_from_buffer (strlen (body), body, MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header (response, "Content-Type", "text/plain; charset=utf-8");
  MHD_add_response_header (response, "Cache-Control", "no-store");
  return response;
}

static enum MHD_Result
respond_text (RiHttpServer *self, struct MHD_Connection *connection, guint status, const char *text)
{
  return queue (self, connection, status, text_response ("%s", text));
}

static void
bytes_unref (void *bytes)
{
  g_bytes_unref (bytes);
}

static struct MHD_Response *
bytes_response (GBytes *bytes)
{
  gsize size;
  gconstpointer data = g_bytes_get_data (bytes, &size);

  return MHD_create_response_from_buffer_with_free_callback_cls (size, (void *) data, bytes_unref,
                                                                 g_bytes_ref (bytes));
}

static const char *
header (struct MHD_Connection *connection, const char *name)
{
  return MHD_lookup_connection_value (connection, MHD_HEADER_KIND, name);
}

/* The 200 responses to a kept answer, made once and queued again for
 * every request of it: libmicrohttpd counts the connections sending
 * one, and only the head of each is written per request. */
typedef struct {
  struct MHD_Response *responses[2][2];   /* [gzip][dynamic] */
} Prepared;

static void
prepared_free (gpointer data)
{
  Prepared *prepared = data;

  for (guint i = 0; i < 2; i++)
    for (guint j = 0; j < 2; j++)
      if (prepared->responses[i][j] != NULL)
        MHD_destroy_response (prepared->responses[i][j]);
  g_free (prepared);
}

/* The headers a 200 and a 304 of an answer share. */
static void
add_answer_headers (struct MHD_Response *response, RiConfig *config, const char *etag, gboolean dynamic)
{
  char cache_control[64];

  if (dynamic)
    g_strlcpy (cache_control, "no-store", sizeof cache_control);
  else
    g_snprintf (cache_control, sizeof cache_control, "public, max-age=%u", config->daemon.http.max_age_s);
  MHD_add_response_header (response, "Cache-Control", cache_control);
  MHD_add_response_header (response, "ETag", etag);
  MHD_add_response_header (response, "Vary", "Accept-Encoding");
}

static struct MHD_Response *
answer_response (RiConfig *config, const RiIndexAnswer *answer, gboolean gzip, gboolean dynamic)
{
  struct MHD_Response *response = bytes_response (gzip ? answer->gzipped : answer->body);

  MHD_add_response_header (response, "Content-Type", "application/json");
  if (gzip)
    MHD_add_response_header (response, "Content-Encoding", "gzip");
  add_answer_headers (response, config, gzip ? answer->etag_gzip : answer->etag, dynamic);
  return response;
}

/* The response of @answer, to be queued and not destroyed: the answer
 * keeps it. Only for the configuration it was made with (a request that
 * waited may be answered one made with the previous configuration). */
static struct MHD_Response *
prepared_response (RiHttpServer *self, RiConfig *config, RiIndexAnswer *answer, gboolean gzip, gboolean dynamic)
{
  Prepared *prepared = answer->prepared;

  if (config != answer->config)
    return NULL;
  if (prepared == NULL)
    {
      answer->prepared = prepared = g_new0 (Prepared, 1);
      answer->prepared_free = prepared_free;
    }
  if (prepared->responses[gzip][dynamic] == NULL)
    {
      struct MHD_Response *response = answer_response (config, answer, gzip, dynamic);

      MHD_add_response_header (response, "Server", self->server_header);
      prepared->responses[gzip][dynamic] = response;
    }
  return prepared->responses[gzip][dynamic];
}

static enum MHD_Result
respond_answer (RiHttpServer *self, struct MHD_Connection *connection, RiConfig *config,
                RiIndexAnswer *answer, gboolean dynamic)
{
  gboolean gzip = ri_http_accepts_gzip (header (connection, "Accept-Encoding"));
  const char *etag = gzip ? answer->etag_gzip : answer->etag;
  struct MHD_Response *response;

  self->counters.queries++;
  if (!ri_http_etag_matches (header (connection, "If-None-Match"), etag))
    {
      response = prepared_response (self, config, answer, gzip != FALSE, dynamic != FALSE);
      if (response != NULL)
        return MHD_queue_response (connection, MHD_HTTP_OK, response);
      return queue (self, connection, MHD_HTTP_OK, answer_response (config, answer, gzip, dynamic));
    }
  self->counters.not_modified++;
  response = MHD_create_response_from_buffer (0, NULL, MHD_RESPMEM_PERSISTENT);
  add_answer_headers (response, config, etag, dynamic);
  return queue (self, connection, MHD_HTTP_NOT_MODIFIED, response);
}

static enum MHD_Result
respond_answer_error (RiHttpServer *self, struct MHD_Connection *connection, const GError *error)
{
  struct MHD_Response *response;

  if (g_error_matches (error, RI_ERROR, RI_ERROR_BAD_REQUEST))
    return respond_text (self, connection, MHD_HTTP_BAD_REQUEST, error->message);
  if (g_error_matches (error, RI_ERROR, RI_ERROR_NOT_FOUND) || g_error_matches (error, RI_ERROR, RI_ERROR_BUSY))
    {
      response = text_response ("%s", error->message);
      MHD_add_response_header (response, "Retry-After",
                               g_error_matches (error, RI_ERROR, RI_ERROR_BUSY) ? "1" : "10");
      return queue (self, connection, MHD_HTTP_SERVICE_UNAVAILABLE, response);
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return respond_text (self, connection, MHD_HTTP_SERVICE_UNAVAILABLE, "The server is stopping");
  return queue (self, connection, MHD_HTTP_INTERNAL_SERVER_ERROR, text_response ("Cannot answer: %s", error->message));
}

static guint
event_error_status (const GError *error)
{
  if (error->domain != RI_ERROR)
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
  switch (error->code)
    {
    case RI_ERROR_NOT_FOUND:
      return MHD_HTTP_NOT_FOUND;
    case RI_ERROR_DENIED:
      return MHD_HTTP_UNAUTHORIZED;
    case RI_ERROR_TOO_LARGE:
      return MHD_HTTP_CONTENT_TOO_LARGE;
    case RI_ERROR_PROTOCOL:
      return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    case RI_ERROR_BAD_REQUEST:
      return MHD_HTTP_BAD_REQUEST;
    default:
      return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

static const char *
client_of (struct MHD_Connection *connection)
{
  const union MHD_ConnectionInfo *info = MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  Connection *c = info ? info->socket_context : NULL;

  return c ? c->client : "?";
}

static enum MHD_Result
respond_event_error (RiHttpServer *self, struct MHD_Connection *connection, const GError *error)
{
  guint status = event_error_status (error);
  struct MHD_Response *response = text_response ("%s", error->message);

  if (status == MHD_HTTP_NOT_FOUND)
    g_message ("A notification was posted to /events, but 'daemon: http: events' is not true");
  else
    g_message ("Refused a notification post from %s: %s", client_of (connection), error->message);
  if (status == MHD_HTTP_UNAUTHORIZED)
    MHD_add_response_header (response, "WWW-Authenticate", "Bearer realm=\"regindexer\"");
  return queue (self, connection, status, response);
}

/* Routing. */

static RiIconStore *
icons_for (RiHttpServer *self, RiConfig *config)
{
  if (self->icons_config != config)
    {
      g_clear_object (&self->icons);
      g_clear_pointer (&self->icons_config, ri_config_unref);
      self->icons = ri_icon_store_new (config->icons_dir, config->icons_uri);
      self->icons_config = ri_config_ref (config);
    }
  return self->icons;
}

/* The URL path icons are served under: icons_uri's path, resolved
 * against the first served prefix when icons_uri is relative. NULL when
 * no served index extracts icons. */
static char *
icons_path (RiConfig *config)
{
  GPtrArray *serve = config->daemon.http.serve;
  const RiHttpServe *first = NULL;
  g_autofree char *base = NULL;
  g_autoptr(GUri) base_uri = NULL;
  g_autoptr(GUri) resolved = NULL;

  if (config->icons_dir == NULL || config->icons_uri == NULL)
    return NULL;
  for (guint i = 0; i < serve->len && first == NULL; i++)
    {
      const RiHttpServe *entry = g_ptr_array_index (serve, i);
      if (ri_config_get_index (config, entry->index)->extract_icons)
        first = entry;
    }
  if (first == NULL)
    return NULL;
  base = g_strconcat ("http://localhost", first->prefix, NULL);
  base_uri = g_uri_parse (base, G_URI_FLAGS_NONE, NULL);
  resolved = g_uri_parse_relative (base_uri, config->icons_uri, G_URI_FLAGS_NONE, NULL);
  return resolved ? g_strdup (g_uri_get_path (resolved)) : NULL;
}

static enum MHD_Result
serve_icon (RiHttpServer *self, struct MHD_Connection *connection, RiConfig *config, const char *name)
{
  g_autofree char *etag = g_strdup_printf ("\"%.2s%.62s\"", name, name + 3);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  struct MHD_Response *response;
  guint status = MHD_HTTP_OK;

  bytes = ri_icon_store_open (icons_for (self, config), name, &error);
  if (bytes == NULL)
    {
      if (!g_error_matches (error, RI_ERROR, RI_ERROR_NOT_FOUND))
        g_warning ("Cannot serve an icon: %s", error->message);
      return respond_text (self, connection, MHD_HTTP_NOT_FOUND, "No such icon");
    }
  if (ri_http_etag_matches (header (connection, "If-None-Match"), etag))
    {
      response = MHD_create_response_from_buffer (0, NULL, MHD_RESPMEM_PERSISTENT);
      status = MHD_HTTP_NOT_MODIFIED;
    }
  else
    {
      response = bytes_response (bytes);
      MHD_add_response_header (response, "Content-Type", "image/png");
    }
  /* Content-addressed: what is at this URL never changes. */
  MHD_add_response_header (response, "Cache-Control", "public, max-age=31536000, immutable");
  MHD_add_response_header (response, "ETag", etag);
  return queue (self, connection, status, response);
}

static gboolean
is_read (const char *method)
{
  return g_str_equal (method, MHD_HTTP_METHOD_GET) || g_str_equal (method, MHD_HTTP_METHOD_HEAD);
}

static enum MHD_Result
refuse_method (RiHttpServer *self, struct MHD_Connection *connection, const char *allow, const char *text)
{
  struct MHD_Response *response = text_response ("%s", text);

  MHD_add_response_header (response, "Allow", allow);
  return queue (self, connection, MHD_HTTP_METHOD_NOT_ALLOWED, response);
}

static void
answer_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  RiIndexAnswer *answer = ri_index_answers_get_finish (RI_INDEX_ANSWERS (source), result, &error);
  Request *request = user_data;

  if (!request->completed)
    {
      request->answer = answer;
      request->error = g_steal_pointer (&error);
      request->state = REQUEST_READY;
      g_hash_table_remove (request->server->suspended, request);
      MHD_resume_connection (request->connection);
      /* libmicrohttpd takes a resumed connection up only in MHD_run(). */
      g_source_set_ready_time (request->server->mhd_source, 0);
    }
  else if (answer != NULL)
    ri_index_answer_unref (answer);
  request_unref (request);
}

static enum MHD_Result
begin_query (RiHttpServer *self, Request *request, const char *method, RiConfig *config,
             const RiHttpServe *serve, const char *query)
{
  struct MHD_Connection *connection = request->connection;
  g_autoptr(RiIndexAnswer) answer = NULL;
  g_autoptr(GError) error = NULL;

  if (!is_read (method))
    return refuse_method (self, connection, "GET, HEAD", "Only GET and HEAD are answered here");
  answer = ri_index_answers_lookup (self->answers, config, serve, query, &error);
  if (answer != NULL)
    return respond_answer (self, connection, config, answer, request->dynamic);
  if (error != NULL)
    return respond_answer_error (self, connection, error);
  request->state = REQUEST_WAITING;
  request->config = ri_config_ref (config);
  g_hash_table_add (self->suspended, request);
  MHD_suspend_connection (connection);
  ri_index_answers_get_async (self->answers, config, serve, query, self->cancellable, answer_cb,
                              g_rc_box_acquire (request));
  return MHD_YES;
}

static Connection *connection_of (struct MHD_Connection *connection);

/* While a body is read, a client that went away is noticed by the sweep
 * (libmicrohttpd may miss an end that came with the last bytes). */
static void
mark_reading (struct MHD_Connection *connection)
{
  Connection *c = connection_of (connection);

  if (c != NULL)
    c->reading = TRUE;
}

static gboolean
has_body (struct MHD_Connection *connection)
{
  const char *length = header (connection, "Content-Length");

  return header (connection, "Transfer-Encoding") != NULL ||
         (length != NULL && g_ascii_strtoull (length, NULL, 10) > 0);
}

static enum MHD_Result
begin_event (RiHttpServer *self, Request *request, const char *method, RiConfig *config, const char *query)
{
  struct MHD_Connection *connection = request->connection;
  const char *length = header (connection, "Content-Length");
  g_autoptr(GError) error = NULL;

  if (config->daemon.http.events && !g_str_equal (method, MHD_HTTP_METHOD_POST))
    return refuse_method (self, connection, "POST", "Notifications are POSTed");
  if (!ri_event_receiver_check_head (self->events, config, header (connection, "Authorization"),
                                     length ? (gint64) g_ascii_strtoull (length, NULL, 10) : -1, &error))
    {
      if (!request->has_body)
        return respond_event_error (self, connection, error);
      /* Answered once the body is read (and dropped), as clients expect. */
      request->error = g_steal_pointer (&error);
      request->state = REQUEST_DISCARD;
      mark_reading (connection);
      return MHD_YES;
    }
  if (query != NULL)
    {
      g_autoptr(GHashTable) params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_WWW_FORM, NULL);
      if (params != NULL)
        request->registry = g_strdup (g_hash_table_lookup (params, "registry"));
    }
  request->body = g_byte_array_new ();
  request->state = REQUEST_BODY;
  mark_reading (connection);
  return MHD_YES;
}

static enum MHD_Result
take_body (RiHttpServer *self, Request *request, const char *data, size_t *size)
{
  gsize limit = ri_scheduler_get_config (self->scheduler)->daemon.http.max_event_size;

  request->received += *size;
  if (request->body != NULL && request->received <= limit)
    g_byte_array_append (request->body, (const guint8 *) data, *size);
  else
    g_clear_pointer (&request->body, g_byte_array_unref);
  *size = 0;
  /* Read to the end to say 413, but not for ever. */
  return request->received / MAX_DISCARDED_FACTOR > limit ? MHD_NO : MHD_YES;
}

static enum MHD_Result
finish_event (RiHttpServer *self, Request *request)
{
  struct MHD_Connection *connection = request->connection;
  RiConfig *config = ri_scheduler_get_config (self->scheduler);
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = NULL;

  summary = ri_event_receiver_post (self->events, config, header (connection, "Authorization"),
                                    header (connection, "Content-Type"), request->registry,
                                    request->body ? (const char *) request->body->data : NULL,
                                    request->received, &error);
  if (summary == NULL)
    return respond_event_error (self, connection, error);
  return respond_text (self, connection, MHD_HTTP_ACCEPTED, summary);
}

static enum MHD_Result
begin (RiHttpServer *self, Request *request, const char *method)
{
  struct MHD_Connection *connection = request->connection;
  RiConfig *config = ri_scheduler_get_config (self->scheduler);
  GPtrArray *serve = config->daemon.http.serve;
  char buffer[TARGET_BUFFER];
  g_autoptr(GUri) uri = NULL;
  g_autofree char *unescaped = NULL;
  g_autofree char *icons = NULL;
  const char *path;
  const char *query;

  if (request->target == NULL)
    return respond_text (self, connection, MHD_HTTP_BAD_REQUEST, "Bad request target");
  if (!ri_http_split_target (request->target, buffer, sizeof buffer, &path, &query))
    {
      const char *scheme;

      uri = g_uri_parse_relative (self->base, request->target, G_URI_FLAGS_ENCODED, NULL);
      scheme = uri ? g_uri_get_scheme (uri) : NULL;
      /* g_uri_unescape_string() refuses %00. */
      if (uri == NULL || (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0) ||
          (unescaped = g_uri_unescape_string (g_uri_get_path (uri), NULL)) == NULL)
        return respond_text (self, connection, MHD_HTTP_BAD_REQUEST, "Bad request target");
      path = unescaped;
      query = g_uri_get_query (uri);
    }

  if (!request->body_read && !(g_str_equal (path, "/events") && config->daemon.http.events) &&
      request->has_body)
    {
      request->state = REQUEST_DISCARD;
      mark_reading (connection);
      return MHD_YES;
    }
  if (g_str_equal (path, "/events"))
    return begin_event (self, request, method, config, query);
  for (guint i = 0; i < serve->len; i++)
    {
      const RiHttpServe *entry = g_ptr_array_index (serve, i);
      const char *rest;

      if (!g_str_has_prefix (path, entry->prefix))
        continue;
      rest = path + strlen (entry->prefix);
      if (g_str_equal (rest, "index/static") || g_str_equal (rest, "index/dynamic"))
        {
          request->dynamic = g_str_equal (rest, "index/dynamic");
          return begin_query (self, request, method, config, entry, query);
        }
    }
  icons = icons_path (config);
  if (icons != NULL && g_str_has_prefix (path, icons) && ri_icon_store_is_icon_name (path + strlen (icons)))
    {
      if (!is_read (method))
        return refuse_method (self, connection, "GET, HEAD", "Only GET and HEAD are answered here");
      return serve_icon (self, connection, config, path + strlen (icons));
    }
  self->counters.not_found++;
  return queue (self, connection, MHD_HTTP_NOT_FOUND, text_response ("Nothing is served at %s", path));
}

static Connection *
connection_of (struct MHD_Connection *connection)
{
  const union MHD_ConnectionInfo *info = MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

  return info ? info->socket_context : NULL;
}

static enum MHD_Result
access_cb (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **request_cls)
{
  RiHttpServer *self = cls;
  Request *request = *request_cls;
  Connection *c;

  switch (request->state)
    {
    case REQUEST_NEW:
      if ((c = connection_of (connection)) != NULL)
        c->busy = TRUE;
      self->counters.requests++;
      request->has_body = has_body (connection);
      /* Answered in the first call, libmicrohttpd takes the answer as
       * given before the request ended and closes the connection. */
      if (!request->has_body)
        {
          request->state = REQUEST_HEAD;
          return MHD_YES;
        }
      return begin (self, request, method);
    case REQUEST_HEAD:
      return begin (self, request, method);
    case REQUEST_BODY:
      if (*upload_data_size > 0)
        return take_body (self, request, upload_data, upload_data_size);
      return finish_event (self, request);
    case REQUEST_DISCARD:
      if (*upload_data_size > 0)
        {
          request->received += *upload_data_size;
          *upload_data_size = 0;
          return request->received > MAX_DISCARDED ? MHD_NO : MHD_YES;
        }
      request->body_read = TRUE;
      if (request->error != NULL)
        return respond_event_error (self, connection, request->error);
      return begin (self, request, method);
    case REQUEST_WAITING:
      return MHD_YES;
    case REQUEST_READY:
      if (request->answer != NULL)
        return respond_answer (self, connection, request->config, request->answer, request->dynamic);
      return respond_answer_error (self, connection, request->error);
    }
  g_assert_not_reached ();
}

/* Called once the request line is read: what each request keeps. */
static void *
request_cb (void *cls, const char *uri, struct MHD_Connection *connection)
{
  gsize length = uri ? strlen (uri) + 1 : 0;
  /* One allocation per request, its target after it; not calloc(),
   * which glibc serves from its slow path. */
  Request *request = g_rc_box_alloc (sizeof (Request) + length);

  memset (request, 0, sizeof *request);
  request->server = cls;
  request->connection = connection;
  if (uri != NULL)
    request->target = memcpy (request + 1, uri, length);
  return request;
}

static void
completed_cb (void *cls, struct MHD_Connection *connection, void **request_cls,
              enum MHD_RequestTerminationCode code)
{
  RiHttpServer *self = cls;
  Request *request = *request_cls;
  Connection *c = connection_of (connection);

  if (code == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED && (c == NULL || !c->cut))
    self->counters.timed_out++;
  if (c != NULL)
    {
      c->busy = FALSE;
      c->reading = FALSE;
      c->answered++;
      c->since_us = g_get_monotonic_time ();
    }
  if (request == NULL)
    return;
  request->completed = TRUE;
  if (request->state == REQUEST_WAITING)
    g_hash_table_remove (self->suspended, request);
  request_unref (request);
  *request_cls = NULL;
}

/* Deadlines. */

/* Shuts down the connections whose client has gone while nothing but
 * its request (head or body) was awaited from it, so that libmicrohttpd
 * sees the end. One poll() for all of them. */
static void
shut_gone (RiHttpServer *self)
{
  g_autofree struct pollfd *fds = g_new0 (struct pollfd, g_hash_table_size (self->connections) + 1);
  g_autofree Connection **which = g_new0 (Connection *, g_hash_table_size (self->connections) + 1);
  GHashTableIter iter;
  Connection *c;
  nfds_t n = 0;

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, (gpointer *) &c, NULL))
    if ((!c->busy || c->reading) && !c->cut)
      {
        fds[n].fd = c->fd;
        fds[n].events = POLLRDHUP;
        which[n++] = c;
      }
  if (n == 0 || poll (fds, n, 0) <= 0)
    return;
  for (nfds_t i = 0; i < n; i++)
    if (fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR))
      {
        shutdown (which[i]->fd, SHUT_RDWR);
        which[i]->cut = TRUE;
      }
}

static gboolean
sweep_cb (gpointer user_data)
{
  RiHttpServer *self = user_data;
  const RiHttpConfig *http = &ri_scheduler_get_config (self->scheduler)->daemon.http;
  GHashTableIter iter;
  Connection *c;
  gint64 now;

  /* libmicrohttpd forgets a connection it closed only in a later run. */
  MHD_run (self->mhd);
  if (self->sweep_id == 0)
    return G_SOURCE_REMOVE;
  now = g_get_monotonic_time ();

  shut_gone (self);
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, (gpointer *) &c, NULL))
    {
      guint limit_s = c->answered == 0 ? http->request_timeout_s : http->idle_timeout_s;

      if (c->busy || c->cut || now - c->since_us < (gint64) limit_s * G_USEC_PER_SEC)
        continue;
      /* libmicrohttpd then reads the end and closes the connection. */
      shutdown (c->fd, SHUT_RDWR);
      c->cut = TRUE;
      self->counters.timed_out++;
    }
  return G_SOURCE_CONTINUE;
}

static char *
client_key (const struct sockaddr *address)
{
  char text[INET6_ADDRSTRLEN] = "?";

  if (address->sa_family == AF_INET)
    inet_ntop (AF_INET, &((const struct sockaddr_in *) address)->sin_addr, text, sizeof text);
  else if (address->sa_family == AF_INET6)
    inet_ntop (AF_INET6, &((const struct sockaddr_in6 *) address)->sin6_addr, text, sizeof text);
  return g_strdup (text);
}

static void
count_client (RiHttpServer *self, const char *client, int delta)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_client, client)) + delta;

  if (n == 0)
    g_hash_table_remove (self->per_client, client);
  else
    g_hash_table_replace (self->per_client, g_strdup (client), GUINT_TO_POINTER (n));
}

static void
connection_cb (void *cls, struct MHD_Connection *connection, void **socket_context,
               enum MHD_ConnectionNotificationCode code)
{
  RiHttpServer *self = cls;
  Connection *c;

  if (code == MHD_CONNECTION_NOTIFY_STARTED)
    {
      const union MHD_ConnectionInfo *address = MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
      const union MHD_ConnectionInfo *fd = MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);

      c = g_new0 (Connection, 1);
      c->client = client_key (address->client_addr);
      c->fd = fd->connect_fd;
      c->since_us = g_get_monotonic_time ();
      g_hash_table_add (self->connections, c);
      *socket_context = c;
      if (self->sweep_id == 0)
        self->sweep_id = g_timeout_add_seconds (1, sweep_cb, self);
      return;
    }
  c = *socket_context;
  if (c == NULL)
    return;
  self->counters.connections_open--;
  count_client (self, c->client, -1);
  g_hash_table_remove (self->connections, c);
  if (g_hash_table_size (self->connections) == 0)
    g_clear_handle_id (&self->sweep_id, g_source_remove);
}

/* Counted here rather than when libmicrohttpd starts the connection, so
 * that a burst of accepts cannot pass the limits. */
static void
accepted_cb (int fd, const struct sockaddr *address, socklen_t length, gpointer user_data)
{
  RiHttpServer *self = user_data;
  const RiHttpConfig *http = &ri_scheduler_get_config (self->scheduler)->daemon.http;
  g_autofree char *client = client_key (address);

  if (self->counters.connections_open >= http->max_connections ||
      GPOINTER_TO_UINT (g_hash_table_lookup (self->per_client, client)) >= http->max_connections_per_client)
    {
      if (self->counters.refused++ == 0)
        g_message ("Refusing HTTP connections beyond max_connections (%u) or max_connections_per_client (%u)",
                   http->max_connections, http->max_connections_per_client);
      close (fd);
      return;
    }
  self->counters.connections_open++;
  self->counters.connections++;
  count_client (self, client, +1);
  if (MHD_add_connection (self->mhd, fd, address, length) != MHD_YES)
    {
      /* It closed fd, and started no connection: nothing to notify. */
      self->counters.connections_open--;
      count_client (self, client, -1);
    }
}

static void
mhd_log (void *cls, const char *format, va_list args)
{
  g_autofree char *text = g_strdup_vprintf (format, args);

  g_debug ("libmicrohttpd: %s", g_strchomp (text));
}

static void
ri_http_server_dispose (GObject *object)
{
  RiHttpServer *self = RI_HTTP_SERVER (object);

  g_clear_pointer (&self->listener, ri_http_listener_free);
  if (self->mhd != NULL)
    {
      GHashTableIter iter;
      Request *request;

      /* A suspended connection cannot be closed, so each is resumed to
       * be told the server stops. */
      g_cancellable_cancel (self->cancellable);
      g_hash_table_iter_init (&iter, self->suspended);
      while (g_hash_table_iter_next (&iter, (gpointer *) &request, NULL))
        {
          request->state = REQUEST_READY;
          g_set_error (&request->error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The server is stopping");
          MHD_resume_connection (request->connection);
          g_hash_table_iter_remove (&iter);
        }
      g_source_destroy (self->mhd_source);
      g_clear_pointer (&self->mhd_source, g_source_unref);
      MHD_run (self->mhd);
      MHD_stop_daemon (self->mhd);
      self->mhd = NULL;
    }
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  G_OBJECT_CLASS (ri_http_server_parent_class)->dispose (object);
}

static void
ri_http_server_finalize (GObject *object)
{
  RiHttpServer *self = RI_HTTP_SERVER (object);

  g_strfreev (self->listening);
  g_hash_table_unref (self->connections);
  g_hash_table_unref (self->per_client);
  g_hash_table_unref (self->suspended);
  g_clear_object (&self->cancellable);
  g_uri_unref (self->base);
  g_free (self->server_header);
  g_clear_object (&self->icons);
  g_clear_pointer (&self->icons_config, ri_config_unref);
  g_clear_object (&self->answers);
  g_clear_object (&self->events);
  g_clear_object (&self->scheduler);
  G_OBJECT_CLASS (ri_http_server_parent_class)->finalize (object);
}

static void
ri_http_server_class_init (RiHttpServerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = ri_http_server_dispose;
  G_OBJECT_CLASS (klass)->finalize = ri_http_server_finalize;
}

static void
ri_http_server_init (RiHttpServer *self)
{
  self->connections = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) connection_free, NULL);
  self->per_client = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->suspended = g_hash_table_new (NULL, NULL);
  self->cancellable = g_cancellable_new ();
  self->base = g_uri_parse ("http://localhost/", G_URI_FLAGS_ENCODED, NULL);
  self->server_header = g_strdup_printf ("regindexer/%s", PACKAGE_VERSION);
}

RiHttpServer *
ri_http_server_new (RiScheduler *scheduler)
{
  RiHttpServer *self = g_object_new (RI_TYPE_HTTP_SERVER, NULL);

  self->scheduler = g_object_ref (scheduler);
  self->answers = ri_index_answers_new (ri_scheduler_get_indexer (scheduler));
  self->events = ri_event_receiver_new (scheduler);
  return self;
}

static gboolean
start_engine (RiHttpServer *self, GError **error)
{
  const RiHttpConfig *http = &ri_scheduler_get_config (self->scheduler)->daemon.http;

  if (self->mhd != NULL)
    return TRUE;
  self->mhd = MHD_start_daemon (MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME |
                                MHD_USE_ERROR_LOG,
                                0, NULL, NULL, access_cb, self,
                                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, self,
                                MHD_OPTION_URI_LOG_CALLBACK, request_cb, self,
                                MHD_OPTION_NOTIFY_COMPLETED, completed_cb, self,
                                MHD_OPTION_NOTIFY_CONNECTION, connection_cb, self,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONNECTION_MEMORY,
                                MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned int) (MAX (http->request_timeout_s, http->idle_timeout_s) + STALL_TIMEOUT_S),
                                MHD_OPTION_END);
  if (self->mhd == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_FAILED, "Cannot start the HTTP engine");
      return FALSE;
    }
  self->mhd_source = mhd_source_new (self->mhd);
  g_source_attach (self->mhd_source, NULL);
  return TRUE;
}

/* Listens where @config says. The addresses may overlap the current
 * ones, so those are given up first; when the new ones cannot be had,
 * the old ones are taken back. Open connections stay either way. */
gboolean
ri_http_server_listen (RiHttpServer *self, RiConfig *config, GError **error)
{
  GStrv listen = config->daemon.http.listen;
  g_auto(GStrv) previous = NULL;

  if (self->listening != NULL && g_strv_equal ((const char * const *) self->listening, (const char * const *) listen))
    return TRUE;
  if (self->listening == NULL && listen[0] == NULL)
    return TRUE;
  if (!start_engine (self, error))
    return FALSE;
  if (self->listener != NULL)
    {
      self->counters.accept_paused += ri_http_listener_get_paused (self->listener);
      g_clear_pointer (&self->listener, ri_http_listener_free);
      previous = g_steal_pointer (&self->listening);
    }
  if (listen[0] == NULL)
    {
      g_message ("No longer answering HTTP");
      return TRUE;
    }
  self->listener = ri_http_listener_new (listen, accepted_cb, self, error);
  if (self->listener == NULL && previous != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      self->listener = ri_http_listener_new (previous, accepted_cb, self, &local_error);
      if (self->listener != NULL)
        self->listening = g_steal_pointer (&previous);
      else
        g_warning ("Cannot listen on the previous addresses again either: %s", local_error->message);
      return FALSE;
    }
  if (self->listener == NULL)
    return FALSE;
  self->listening = g_strdupv (listen);
  {
    g_autofree char *list = g_strjoinv (", ", listen);
    g_message ("Answering HTTP on %s", list);
  }
  return TRUE;
}

/* What GetStatus() says of the listener: the counters its parts keep,
 * copied; the keys are spelled in ri-status.c. */
void
ri_http_server_get_counters (RiHttpServer *self, RiHttpCounters *counters)
{
  const RiAnswerCounters *answers = ri_index_answers_get_counters (self->answers);
  const RiEventCounters *events = ri_event_receiver_get_counters (self->events);

  *counters = self->counters;
  counters->rendered = answers->rendered;
  counters->bad_queries = answers->bad_queries;
  counters->kept_answers = ri_index_answers_get_kept (self->answers);
  counters->answers_evicted = answers->evicted;
  counters->queries_busy = answers->busy;
  counters->accept_paused += self->listener ? ri_http_listener_get_paused (self->listener) : 0;
  counters->event_posts = events->posts;
  counters->event_posts_rejected = events->rejected;
  counters->events = events->events;
  counters->refreshes = events->refreshes;
  counters->events_unmatched = events->unmatched;
  counters->last_event_post_us = events->last_post_us;
}

/* The addresses listened on (transfer none), or NULL when none. */
const char * const *
ri_http_server_get_listening (RiHttpServer *self)
{
  return (const char * const *) self->listening;
}
