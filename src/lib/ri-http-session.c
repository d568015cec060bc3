#define G_LOG_DOMAIN "Http"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ri-error.h"
#include "ri-http-parser.h"
#include "ri-http-proxy.h"
#include "ri-http-session.h"

/**
 * RiHttpSession:
 *
 * The HTTP/1.1 client a registry needs, and nothing else: GET and HEAD
 * over a keep-alive pool of connections per host, TLS through GIO,
 * proxies from the environment, time-outs and a size limit, all driven
 * from the main context through one epoll descriptor. What a registry
 * means by its answers is RiRegistryClient's business.
 *
 * Measured on a cold scan of 2,400 requests, libsoup 3.2 spent 0.32 ms
 * of CPU per request and libcurl 7.88 0.22 ms, half of it in its own
 * state machine and in two poll() calls per request; and libcurl, as
 * Debian builds it, brings OpenSSL, GnuTLS, LDAP, SSH and Kerberos into
 * every process, 5 MiB of resident memory before the first request. A
 * request here costs one send(), one recv() and a share of one
 * epoll_wait(); TLS is GIO's (glib-networking), loaded only for https.
 */

/* A kept connection is not reused after this long: servers close idle
 * ones after a minute or more, and a request sent on a connection as it
 * closes is lost. */
#define IDLE_MAX_US (50 * G_USEC_PER_SEC)
/* A redirect's or a challenge's body longer than this is not read: the
 * connection is closed instead. */
#define DISCARD_MAX (64 * 1024)
#define READ_SIZE (32 * 1024)
/* What a response's body must bring within each time-out. */
#define MIN_PROGRESS 1024

typedef enum {
  CONN_CONNECTING,            /* GSocketClient at work */
  CONN_TUNNELLING,            /* CONNECT sent to the proxy */
  CONN_HANDSHAKING,           /* GTlsConnection at work */
  CONN_IDLE,
  CONN_BUSY,
  CONN_DEAD,
} ConnState;

typedef struct _Host Host;
typedef struct _Connection Connection;
typedef struct _Transfer Transfer;

struct _RiHttpSession {
  GObject parent_instance;

  GMainContext *context;      /* (owned) where exchanges complete */
  GSource *source;            /* (owned) */
  int epoll_fd;
  GSocketClient *client;      /* (owned) */
  GHashTable *hosts;          /* (owned) "scheme://host:port" → Host */
  GQueue connections;         /* (element-type Connection) every live one */
  GQueue active;              /* (element-type Transfer) every one not complete */
  GPtrArray *dead;            /* (owned) connections to free after the dispatch */
  gint cancel_pending;        /* atomic: some cancellable fired */
  GHashTable *watches;        /* (owned) GCancellable → Watch */

  guint max_connections;
  guint timeout_s;
  gboolean tls_verify;
  char *ca_certificate;
  char *client_certificate;
  char *client_key;
  char *user_agent;
  gboolean tls_loaded;
  GList *ca_list;             /* (owned) (element-type GTlsCertificate) */
  GTlsCertificate *certificate; /* (owned) (nullable) */
  GError *tls_error;          /* (owned) (nullable) from loading the files */
};

G_DEFINE_TYPE (RiHttpSession, ri_http_session, G_TYPE_OBJECT)

struct _Host {
  char *key;
  char *host;                 /* as in the URL, IPv6 without brackets */
  guint16 port;
  gboolean tls;
  char *authority;            /* host[:port], for Host and CONNECT */
  char *origin;               /* scheme://authority, for a proxy's requests */
  RiHttpProxy *proxy;         /* (owned) (nullable) */
  GError *proxy_error;        /* (owned) (nullable) */
  GQueue idle;                /* (element-type Connection) most recent last */
  GQueue waiting;             /* (element-type Transfer) */
  guint open;                 /* connections not dead */
  guint opening;              /* of them, not ready yet */
};

struct _Connection {
  RiHttpSession *self;        /* (unowned) NULL once the session is gone */
  Host *host;                 /* (unowned) */
  ConnState state;
  GList link;                 /* in self->connections */
  GList idle_link;            /* in host->idle */
  GSocketConnection *socket_connection; /* (owned) (nullable) */
  GIOStream *tls;             /* (owned) (nullable) */
  GPollableInputStream *in;   /* (unowned) of tls */
  GPollableOutputStream *out; /* (unowned) of tls */
  int fd;
  guint32 events;             /* registered in the epoll set; 0: not in it */
  GCancellable *cancellable;  /* (owned) of connecting and the handshake */
  gboolean async_pending;     /* one of them is under way */
  gboolean timed_out;
  Transfer *transfer;         /* (unowned) the exchange under way */
  RiHttpParser tunnel;        /* the proxy's answer to CONNECT */
  GString *out_buf;           /* (owned) what is still to be sent */
  gsize out_offset;
  gint64 deadline;            /* monotonic µs; -1: none */
  gsize progress;             /* bytes of the body since the deadline moved */
  gint64 idle_since;
  guint exchanges;            /* completed on it */
};

struct _Transfer {
  RiHttpSession *self;        /* (unowned) the task holds a reference */
  Host *host;                 /* (unowned) */
  GTask *task;                /* (owned) */
  GList link;                 /* in self->active */
  GList wait_link;            /* in host->waiting */
  Connection *connection;     /* (unowned) (nullable) */
  char *method;
  char *target;               /* path and query, as sent */
  char **headers;             /* (owned) may hold secrets */
  gsize max_size;
  gboolean head;
  gboolean discard;           /* the body of this status is not kept */
  gboolean too_large;
  gboolean got_bytes;         /* some of the answer came */
  gboolean retried;           /* once, after a kept connection died */
  RiHttpParser parser;
  GByteArray *body;           /* (owned) (nullable) */
  GConverter *decoder;        /* (owned) (nullable) */
  GError *body_error;         /* (owned) (nullable) of decoding */
  gboolean decoder_busy;      /* within a compressed stream */
  gboolean member_done;       /* a gzip member ended: another may follow */
  GCancellable *cancellable;  /* (owned) (nullable) */
};

/* --- responses --- */

void
ri_http_response_free (RiHttpResponse *response)
{
  g_clear_pointer (&response->body, g_bytes_unref);
  g_clear_pointer (&response->headers, g_ptr_array_unref);
  g_free (response);
}

const char *
ri_http_response_get_header (RiHttpResponse *response, const char *name)
{
  return ri_http_headers_get (response->headers, name);
}

char *
ri_http_response_get_list (RiHttpResponse *response, const char *name)
{
  return ri_http_headers_get_list (response->headers, name);
}

/* The media type without its parameters, lower-cased. */
char *
ri_http_response_get_content_type (RiHttpResponse *response)
{
  const char *value = ri_http_response_get_header (response, "Content-Type");
  const char *end;

  if (value == NULL)
    return NULL;
  end = strchr (value, ';');
  {
    g_autofree char *type = g_strndup (value, end ? (gsize) (end - value) : strlen (value));
    g_strstrip (type);
    return *type ? g_ascii_strdown (type, -1) : NULL;
  }
}

/* --- hosts --- */

static void
host_free (Host *host)
{
  g_free (host->key);
  g_free (host->host);
  g_free (host->authority);
  g_free (host->origin);
  g_clear_pointer (&host->proxy, ri_http_proxy_free);
  g_clear_error (&host->proxy_error);
  g_free (host);
}

static Host *
host_get (RiHttpSession *self, const char *scheme, const char *name, int port)
{
  gboolean tls = g_str_equal (scheme, "https");
  guint16 effective = port > 0 ? port : tls ? 443 : 80;
  g_autofree char *lower = g_ascii_strdown (name, -1);
  g_autofree char *key = g_strdup_printf ("%s://%s:%u", scheme, lower, effective);
  Host *host = g_hash_table_lookup (self->hosts, key);
  gboolean literal6 = strchr (lower, ':') != NULL;

  if (host != NULL)
    return host;
  host = g_new0 (Host, 1);
  host->key = g_steal_pointer (&key);
  host->host = g_steal_pointer (&lower);
  host->port = effective;
  host->tls = tls;
  {
    g_autofree char *port_part = effective != (tls ? 443 : 80) ? g_strdup_printf (":%u", effective) : g_strdup ("");

    host->authority = g_strdup_printf (literal6 ? "[%s]%s" : "%s%s", host->host, port_part);
  }
  host->origin = g_strconcat (scheme, "://", host->authority, NULL);
  /* Read once: the environment of a process does not change. */
  ri_http_proxy_for (scheme, host->host, &host->proxy, &host->proxy_error);
  g_queue_init (&host->idle);
  g_queue_init (&host->waiting);
  g_hash_table_insert (self->hosts, host->key, host);
  return host;
}

/* --- the epoll set --- */

static void
conn_watch (Connection *conn, guint32 events)
{
  struct epoll_event event = { .events = events, .data.ptr = conn };

  if (conn->events == events || conn->fd < 0)
    return;
  if (events == 0)
    epoll_ctl (conn->self->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
  else
    epoll_ctl (conn->self->epoll_fd, conn->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, conn->fd, &event);
  conn->events = events;
}

/* --- transfers --- */

static void
transfer_free (Transfer *transfer)
{
  /* Authorization values are secrets: gone from memory once sent. */
  for (guint i = 0; transfer->headers && transfer->headers[i]; i++)
    memset (transfer->headers[i], 0, strlen (transfer->headers[i]));
  g_strfreev (transfer->headers);
  g_free (transfer->method);
  g_free (transfer->target);
  ri_http_parser_clear (&transfer->parser);
  g_clear_pointer (&transfer->body, g_byte_array_unref);
  g_clear_object (&transfer->decoder);
  g_clear_error (&transfer->body_error);
  g_clear_object (&transfer->cancellable);
  g_free (transfer);
}

/* One handler per cancellable, however many transfers it cancels: a scan
 * passes one to all its requests, and a connection and a disconnection
 * per request were a signal handler's closure, list and lookups each. */
typedef struct {
  GCancellable *cancellable;  /* (owned) */
  gulong handler;
  guint users;
} Watch;

static void
watch_free (Watch *watch)
{
  g_cancellable_disconnect (watch->cancellable, watch->handler);
  g_object_unref (watch->cancellable);
  g_free (watch);
}

/* May run in any thread: only a flag, and a wakeup. */
static void
cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  RiHttpSession *self = user_data;

  g_atomic_int_set (&self->cancel_pending, 1);
  g_main_context_wakeup (self->context);
}

static void
watch_cancellable (RiHttpSession *self, GCancellable *cancellable)
{
  Watch *watch = g_hash_table_lookup (self->watches, cancellable);

  if (watch == NULL)
    {
      watch = g_new0 (Watch, 1);
      watch->cancellable = g_object_ref (cancellable);
      g_hash_table_insert (self->watches, cancellable, watch);
      /* Runs at once if the cancellable fired in the meantime. */
      watch->handler = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_cb), self, NULL);
    }
  watch->users++;
}

static void
unwatch_cancellable (RiHttpSession *self, GCancellable *cancellable)
{
  Watch *watch = g_hash_table_lookup (self->watches, cancellable);

  if (--watch->users == 0)
    g_hash_table_remove (self->watches, cancellable);
}

static gboolean
transfer_cancelled (Transfer *transfer)
{
  return transfer->cancellable != NULL && g_cancellable_is_cancelled (transfer->cancellable);
}

/* Completes the exchange: with a response, an error, or (when it was
 * cancelled) neither. The caller's callback may run from here, and send
 * more. */
static void
transfer_return (Transfer *transfer, RiHttpResponse *response, GError *error)
{
  RiHttpSession *self = transfer->self;
  g_autoptr(GTask) task = g_steal_pointer (&transfer->task);
  gboolean cancelled;

  g_queue_unlink (&self->active, &transfer->link);
  if (transfer->wait_link.data != NULL)
    {
      g_queue_unlink (&transfer->host->waiting, &transfer->wait_link);
      transfer->wait_link.data = NULL;
    }
  cancelled = transfer_cancelled (transfer);
  if (transfer->cancellable != NULL)
    unwatch_cancellable (self, transfer->cancellable);
  transfer_free (transfer);

  if (cancelled)
    {
      g_clear_pointer (&response, ri_http_response_free);
      g_clear_error (&error);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
    }
  else if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, response, (GDestroyNotify) ri_http_response_free);
}

static void host_pump (RiHttpSession *self, Host *host);
static void conn_close (Connection *conn);

/* --- connections --- */

static void
conn_free (Connection *conn)
{
  if (conn->cancellable != NULL)
    g_cancellable_cancel (conn->cancellable);
  g_clear_object (&conn->cancellable);
  g_clear_object (&conn->tls);
  g_clear_object (&conn->socket_connection);
  ri_http_parser_clear (&conn->tunnel);
  if (conn->out_buf != NULL)
    g_string_free (conn->out_buf, TRUE);
  g_free (conn);
}

static gint64
deadline_from_now (RiHttpSession *self)
{
  return self->timeout_s > 0 ? g_get_monotonic_time () + (gint64) self->timeout_s * G_USEC_PER_SEC : -1;
}

/* Out of the pool, its descriptor closed; freed after the dispatch (an
 * event for it may still be in hand), or by the callback of the
 * asynchronous step under way. */
static void
conn_close (Connection *conn)
{
  RiHttpSession *self = conn->self;
  Host *host = conn->host;

  if (conn->state == CONN_DEAD)
    return;
  g_assert (conn->transfer == NULL);
  if (conn->state == CONN_IDLE)
    g_queue_unlink (&host->idle, &conn->idle_link);
  if (conn->state != CONN_IDLE && conn->state != CONN_BUSY)
    host->opening--;
  host->open--;
  conn_watch (conn, 0);
  g_queue_unlink (&self->connections, &conn->link);
  if (conn->async_pending)
    {
      /* The callback sees the state, and frees: the socket is GIO's
       * until then (a handshake runs in one of its threads). */
      conn->state = CONN_DEAD;
      conn->fd = -1;
      g_cancellable_cancel (conn->cancellable);
      return;
    }
  if (conn->socket_connection != NULL)
    g_socket_close (g_socket_connection_get_socket (conn->socket_connection), NULL);
  conn->fd = -1;
  conn->state = CONN_DEAD;
  g_ptr_array_add (self->dead, conn);
}

static GError *
errno_error (int code, const char *what)
{
  if (code == ECONNRESET || code == EPIPE || code == ECONNABORTED)
    return g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "%s: %s", what, g_strerror (code));
  return g_error_new (G_IO_ERROR, g_io_error_from_errno (code), "%s: %s", what, g_strerror (code));
}

/* TLS errors that mean a dropped connection are dropped connections,
 * worth another try; the rest (a certificate, a refusal) are not. */
static GError *
tls_read_error (GError *error)
{
  if (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_EOF))
    {
      GError *closed = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "%s", error->message);

      g_error_free (error);
      return closed;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
    error->code = G_IO_ERROR_CONNECTION_CLOSED;
  return error;
}

/* The first waiting transfer pays for a connection that could not be
 * made; the others get their own tries. */
static void
conn_failed (Connection *conn, GError *error)
{
  RiHttpSession *self = conn->self;
  Host *host = conn->host;
  conn_close (conn);
  if (host->waiting.head != NULL)
    transfer_return (host->waiting.head->data, NULL, error);
  else
    g_error_free (error);
  host_pump (self, host);
}

/* Into the pool, to be reused; watched, so that a close while idle is
 * seen. */
static void
conn_park (Connection *conn)
{
  conn->state = CONN_IDLE;
  conn->deadline = -1;
  conn->idle_since = g_get_monotonic_time ();
  conn->idle_link.data = conn;
  g_queue_push_tail_link (&conn->host->idle, &conn->idle_link);
  conn_watch (conn, EPOLLIN);
}

static void
conn_ready (Connection *conn)
{
  conn->host->opening--;
  conn_park (conn);
  host_pump (conn->self, conn->host);
}

static gboolean
accept_certificate_cb (GTlsConnection *tls, GTlsCertificate *certificate, GTlsCertificateFlags errors,
                       gpointer user_data)
{
  Connection *conn = user_data;
  RiHttpSession *self = conn->self;
  g_autoptr(GSocketConnectable) identity = NULL;

  if (self == NULL)
    return FALSE;
  if (!self->tls_verify)
    return TRUE;
  /* The extra CA comes beside the system's, not instead of them. */
  identity = g_network_address_new (conn->host->host, conn->host->port);
  for (GList *l = self->ca_list; l; l = l->next)
    if (g_tls_certificate_verify (certificate, identity, l->data) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
load_tls_files (RiHttpSession *self, GError **error)
{
  if (!self->tls_loaded)
    {
      g_autoptr(GError) local_error = NULL;

      self->tls_loaded = TRUE;
      if (self->ca_certificate != NULL)
        {
          self->ca_list = g_tls_certificate_list_new_from_file (self->ca_certificate, &local_error);
          if (self->ca_list == NULL)
            self->tls_error = g_error_new (RI_ERROR, RI_ERROR_CONFIG, "TLS: ca_certificate '%s' holds no "
                                           "certificate%s%s", self->ca_certificate,
                                           local_error ? ": " : "", local_error ? local_error->message : "");
          g_clear_error (&local_error);
        }
      if (self->tls_error == NULL && self->client_certificate != NULL)
        {
          self->certificate = self->client_key
            ? g_tls_certificate_new_from_files (self->client_certificate, self->client_key, &local_error)
            : g_tls_certificate_new_from_file (self->client_certificate, &local_error);
          if (self->certificate == NULL)
            self->tls_error = g_error_new (RI_ERROR, RI_ERROR_CONFIG, "TLS: %s (check client_certificate and "
                                           "client_key)", local_error->message);
        }
    }
  if (self->tls_error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->tls_error));
      return FALSE;
    }
  return TRUE;
}

static void
handshake_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Connection *conn = user_data;
  /* What the completions below call may drop the last other reference. */
  g_autoptr(RiHttpSession) self = NULL;
  GError *error = NULL;

  gboolean done = g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error);

  conn->async_pending = FALSE;
  if (conn->state == CONN_DEAD)
    {
      g_clear_error (&error);
      conn_free (conn);
      return;
    }
  self = g_object_ref (conn->self);
  if (!done)
    {
      if (conn->timed_out)
        {
          g_clear_error (&error);
          error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "the TLS handshake with %s timed out after %u s",
                               conn->host->authority, self->timeout_s);
        }
      conn_failed (conn, tls_read_error (error));
      return;
    }
  g_clear_object (&conn->cancellable);
  conn->in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (conn->tls));
  conn->out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (conn->tls));
  conn_ready (conn);
}

static void
conn_handshake (Connection *conn)
{
  RiHttpSession *self = conn->self;
  g_autoptr(GSocketConnectable) identity = g_network_address_new (conn->host->host, conn->host->port);
  GError *error = NULL;

  /* GIO watches the descriptor while it shakes hands. */
  conn_watch (conn, 0);
  if (!load_tls_files (self, &error))
    {
      conn_failed (conn, error);
      return;
    }
  conn->tls = g_tls_client_connection_new (G_IO_STREAM (conn->socket_connection), identity, &error);
  if (conn->tls == NULL)
    {
      conn_failed (conn, error);
      return;
    }
  if (self->certificate != NULL)
    g_tls_connection_set_certificate (G_TLS_CONNECTION (conn->tls), self->certificate);
  if (!self->tls_verify || self->ca_list != NULL)
    g_signal_connect (conn->tls, "accept-certificate", G_CALLBACK (accept_certificate_cb), conn);
  conn->state = CONN_HANDSHAKING;
  if (conn->cancellable == NULL)
    conn->cancellable = g_cancellable_new ();
  conn->async_pending = TRUE;
  g_tls_connection_handshake_async (G_TLS_CONNECTION (conn->tls), G_PRIORITY_DEFAULT, conn->cancellable,
                                    handshake_cb, conn);
}

static void conn_write (Connection *conn);

/* Asks the proxy for a tunnel to the registry, TLS to come through it. */
static void
conn_tunnel (Connection *conn)
{
  Host *host = conn->host;
  g_autofree char *target = g_strdup_printf (strchr (host->host, ':') ? "[%s]:%u" : "%s:%u", host->host,
                                             host->port);

  conn->state = CONN_TUNNELLING;
  ri_http_parser_init (&conn->tunnel, FALSE, TRUE);
  g_string_printf (conn->out_buf, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n", target, target,
                   conn->self->user_agent);
  if (host->proxy->authorization != NULL)
    g_string_append_printf (conn->out_buf, "Proxy-Authorization: %s\r\n", host->proxy->authorization);
  g_string_append (conn->out_buf, "\r\n");
  conn->out_offset = 0;
  conn_watch (conn, EPOLLIN);
  conn_write (conn);
}

static void
connect_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Connection *conn = user_data;
  GError *error = NULL;
  GSocketConnection *socket_connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  /* What the completions below call may drop the last other reference. */
  g_autoptr(RiHttpSession) self = NULL;
  GSocket *socket;

  conn->async_pending = FALSE;
  if (conn->state == CONN_DEAD)
    {
      g_clear_error (&error);
      g_clear_object (&socket_connection);
      conn_free (conn);
      return;
    }
  self = g_object_ref (conn->self);
  if (socket_connection == NULL)
    {
      if (conn->timed_out)
        {
          g_clear_error (&error);
          error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "connecting to %s timed out after %u s",
                               conn->host->proxy ? conn->host->proxy->host : conn->host->authority,
                               self->timeout_s);
        }
      else if (conn->host->proxy != NULL)
        g_prefix_error (&error, "the proxy %s:%u: ", conn->host->proxy->host, conn->host->proxy->port);
      conn_failed (conn, error);
      return;
    }
  conn->socket_connection = socket_connection;
  socket = g_socket_connection_get_socket (socket_connection);
  conn->fd = g_socket_get_fd (socket);
  /* Requests are one write each: Nagle's algorithm would hold back the
   * next one until the last is acknowledged. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  conn->deadline = deadline_from_now (self);
  if (conn->host->proxy != NULL && conn->host->tls)
    conn_tunnel (conn);
  else if (conn->host->tls)
    conn_handshake (conn);
  else
    conn_ready (conn);
}

static void
conn_open (RiHttpSession *self, Host *host)
{
  Connection *conn = g_new0 (Connection, 1);
  g_autoptr(GSocketConnectable) address = NULL;

  conn->self = self;
  conn->host = host;
  conn->fd = -1;
  conn->state = CONN_CONNECTING;
  conn->link.data = conn;
  conn->out_buf = g_string_new (NULL);
  conn->cancellable = g_cancellable_new ();
  conn->deadline = deadline_from_now (self);
  g_queue_push_tail_link (&self->connections, &conn->link);
  host->open++;
  host->opening++;
  address = host->proxy ? g_network_address_new (host->proxy->host, host->proxy->port)
                        : g_network_address_new (host->host, host->port);
  conn->async_pending = TRUE;
  g_socket_client_connect_async (self->client, address, conn->cancellable, connect_cb, conn);
}

/* --- exchanges --- */

static gboolean
is_discarded_status (guint status)
{
  return (status >= 300 && status < 400) || status == 401;
}

static gboolean
body_append (Transfer *transfer, const guint8 *data, gsize length)
{
  if (transfer->body->len + length > transfer->max_size)
    {
      transfer->too_large = TRUE;
      return FALSE;
    }
  g_byte_array_append (transfer->body, data, length);
  return TRUE;
}

/* Decodes a compressed body as it comes. gzip may hold several members
 * one after the other (RFC 1952 2.2); anything else after the stream is
 * an error, as is a stream cut short. An empty body is an empty body. */
static gboolean
decode (Transfer *transfer, const guint8 *data, gsize length, gboolean end)
{
  guint8 out[16 * 1024];

  for (;;)
    {
      gsize read = 0, written = 0;
      GConverterResult result;

      if (length == 0 && (!end || !transfer->decoder_busy))
        return TRUE;
      if (transfer->member_done)
        {
          g_converter_reset (transfer->decoder);
          transfer->member_done = FALSE;
        }
      result = g_converter_convert (transfer->decoder, data, length, out, sizeof out,
                                    end ? G_CONVERTER_INPUT_AT_END : G_CONVERTER_NO_FLAGS,
                                    &read, &written, &transfer->body_error);
      if (result == G_CONVERTER_ERROR)
        {
          if (g_error_matches (transfer->body_error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT) && !end)
            {
              g_clear_error (&transfer->body_error);
              transfer->decoder_busy = TRUE;
              return TRUE;
            }
          g_prefix_error (&transfer->body_error, "the compressed body: ");
          transfer->body_error->domain = RI_ERROR;
          transfer->body_error->code = RI_ERROR_PROTOCOL;
          return FALSE;
        }
      transfer->decoder_busy = TRUE;
      if (written > 0 && !body_append (transfer, out, written))
        return FALSE;
      data += read;
      length -= read;
      if (result == G_CONVERTER_FINISHED)
        {
          transfer->decoder_busy = FALSE;
          transfer->member_done = TRUE;
        }
      else if (read == 0 && written == 0)
        {
          if (!end)
            return TRUE;
          g_set_error_literal (&transfer->body_error, RI_ERROR, RI_ERROR_PROTOCOL,
                               "the compressed body: it ends too soon");
          return FALSE;
        }
    }
}

static gboolean
body_cb (const guint8 *data, gsize length, gpointer user_data)
{
  Transfer *transfer = user_data;

  if (transfer->discard)
    return TRUE;
  if (transfer->decoder != NULL)
    return decode (transfer, data, length, FALSE);
  return body_append (transfer, data, length);
}

static GError *
too_large_error (Transfer *transfer)
{
  if (transfer->parser.content_length > 0 && (guint64) transfer->parser.content_length > transfer->max_size)
    return g_error_new (RI_ERROR, RI_ERROR_TOO_LARGE, "the response of %" G_GINT64_FORMAT " bytes is larger than "
                        "the limit of %" G_GSIZE_FORMAT " bytes", transfer->parser.content_length,
                        transfer->max_size);
  return g_error_new (RI_ERROR, RI_ERROR_TOO_LARGE, "the response is larger than the limit of %" G_GSIZE_FORMAT
                      " bytes", transfer->max_size);
}

/* The head is in: is the body wanted, and can it be? */
static GError *
head_complete (Transfer *transfer)
{
  RiHttpParser *parser = &transfer->parser;
  const char *coding;

  transfer->discard = is_discarded_status (parser->status);
  if (transfer->discard || transfer->head)
    return NULL;
  if (parser->content_length > 0 && (guint64) parser->content_length > transfer->max_size)
    return too_large_error (transfer);
  coding = ri_http_headers_get (parser->headers, "Content-Encoding");
  if (coding != NULL && *coding != '\0' && g_ascii_strcasecmp (coding, "identity") != 0)
    {
      if (g_ascii_strcasecmp (coding, "gzip") == 0 || g_ascii_strcasecmp (coding, "x-gzip") == 0)
        transfer->decoder = G_CONVERTER (g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP));
      else if (g_ascii_strcasecmp (coding, "deflate") == 0)
        transfer->decoder = G_CONVERTER (g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB));
      else
        return g_error_new (RI_ERROR, RI_ERROR_PROTOCOL, "the response has a content coding that was not "
                            "asked for: '%s'", coding);
    }
  transfer->body = g_byte_array_sized_new (transfer->decoder == NULL && parser->content_length > 0
                                           ? (guint) parser->content_length : 4096);
  return NULL;
}

/* The exchange on conn is over: the connection goes back to the pool or
 * is closed, and the transfer completes. */
static void
exchange_done (Connection *conn, gboolean reusable, GError *error)
{
  RiHttpSession *self = conn->self;
  Host *host = conn->host;
  Transfer *transfer = conn->transfer;
  RiHttpResponse *response = NULL;

  conn->transfer = NULL;
  transfer->connection = NULL;
  if (error == NULL && transfer->decoder != NULL && !decode (transfer, NULL, 0, TRUE))
    error = transfer->too_large ? too_large_error (transfer) : g_steal_pointer (&transfer->body_error);
  if (error == NULL)
    {
      response = g_new0 (RiHttpResponse, 1);
      response->status = transfer->parser.status;
      response->headers = g_steal_pointer (&transfer->parser.headers);
      if (!transfer->head)
        response->body = transfer->body && !transfer->discard
                         ? g_byte_array_free_to_bytes (g_steal_pointer (&transfer->body))
                         : g_bytes_new (NULL, 0);
    }
  if (error == NULL && reusable)
    {
      conn->exchanges++;
      conn_park (conn);
    }
  else
    conn_close (conn);
  /* The waiting go first, then whatever the callback sends. */
  host_pump (self, host);
  transfer_return (transfer, response, error);
}

/* A kept connection the server closed just as we sent on it: the request
 * never reached anyone, so it goes again on a new one, once. */
static gboolean
maybe_resend (Connection *conn)
{
  Transfer *transfer = conn->transfer;

  if (transfer->got_bytes || transfer->retried || conn->exchanges == 0 ||
      !(transfer->head || g_str_equal (transfer->method, "GET")))
    return FALSE;
  transfer->retried = TRUE;
  conn->transfer = NULL;
  transfer->connection = NULL;
  ri_http_parser_clear (&transfer->parser);
  ri_http_parser_init (&transfer->parser, transfer->head, FALSE);
  conn_close (conn);
  transfer->wait_link.data = transfer;
  g_queue_push_head_link (&transfer->host->waiting, &transfer->wait_link);
  host_pump (transfer->self, transfer->host);
  return TRUE;
}

static void
conn_error (Connection *conn, GError *error)
{
  if (conn->state == CONN_BUSY)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) && maybe_resend (conn))
        {
          g_error_free (error);
          return;
        }
      exchange_done (conn, FALSE, error);
    }
  else
    conn_failed (conn, error);
}

static void
exchange_start (Connection *conn, Transfer *transfer)
{
  RiHttpSession *self = conn->self;
  Host *host = conn->host;
  GString *out = conn->out_buf;
  gboolean via_proxy = host->proxy != NULL && !host->tls;
  gboolean user_agent = FALSE;

  g_queue_unlink (&host->idle, &conn->idle_link);
  conn->state = CONN_BUSY;
  conn->transfer = transfer;
  transfer->connection = conn;

  g_string_truncate (out, 0);
  g_string_append (out, transfer->method);
  g_string_append_c (out, ' ');
  if (via_proxy)
    g_string_append (out, host->origin);
  g_string_append (out, transfer->target);
  g_string_append (out, " HTTP/1.1\r\nHost: ");
  g_string_append (out, host->authority);
  g_string_append (out, "\r\n");
  for (guint i = 0; transfer->headers && transfer->headers[i]; i++)
    {
      g_string_append (out, transfer->headers[i]);
      g_string_append (out, "\r\n");
      user_agent |= g_ascii_strncasecmp (transfer->headers[i], "User-Agent:", 11) == 0;
    }
  if (!user_agent)
    {
      g_string_append (out, "User-Agent: ");
      g_string_append (out, self->user_agent);
      g_string_append (out, "\r\n");
    }
  if (via_proxy && host->proxy->authorization != NULL)
    {
      g_string_append (out, "Proxy-Authorization: ");
      g_string_append (out, host->proxy->authorization);
      g_string_append (out, "\r\n");
    }
  g_string_append (out, "Accept-Encoding: gzip\r\n\r\n");
  conn->out_offset = 0;
  conn->deadline = deadline_from_now (self);
  conn->progress = 0;
  conn_write (conn);
}

static void
wipe_out_buf (Connection *conn)
{
  /* The request may have carried credentials. */
  memset (conn->out_buf->str, 0, conn->out_buf->len);
  g_string_truncate (conn->out_buf, 0);
  conn->out_offset = 0;
}

static void
conn_write (Connection *conn)
{
  while (conn->out_offset < conn->out_buf->len)
    {
      const char *data = conn->out_buf->str + conn->out_offset;
      gsize length = conn->out_buf->len - conn->out_offset;
      gssize n;

      if (conn->tls == NULL)
        {
          n = send (conn->fd, data, length, MSG_NOSIGNAL);
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            {
              conn_watch (conn, EPOLLIN | EPOLLOUT);
              return;
            }
          if (n < 0)
            {
              int code = errno;

              wipe_out_buf (conn);
              conn_error (conn, errno_error (code, "sending the request"));
              return;
            }
        }
      else
        {
          GError *error = NULL;

          n = g_pollable_output_stream_write_nonblocking (conn->out, data, length, NULL, &error);
          if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              g_error_free (error);
              conn_watch (conn, EPOLLIN | EPOLLOUT);
              return;
            }
          if (n < 0)
            {
              wipe_out_buf (conn);
              conn_error (conn, tls_read_error (error));
              return;
            }
        }
      conn->out_offset += n;
    }
  wipe_out_buf (conn);
  conn_watch (conn, EPOLLIN);
}

/* Takes bytes of the proxy's answer to CONNECT; FALSE once the
 * connection is no longer ours to read. */
static gboolean
tunnel_consume (Connection *conn, const guint8 *data, gsize length)
{
  GError *error = NULL;
  gsize n = 0;

  /* 1xx heads may come before the answer, in the same read. */
  while (n < length && conn->tunnel.phase == RI_HTTP_PARSER_HEAD)
    {
      gssize took = ri_http_parser_feed (&conn->tunnel, data + n, length - n, NULL, NULL, &error);

      if (took < 0)
        {
          g_prefix_error (&error, "the proxy: ");
          conn_failed (conn, error);
          return FALSE;
        }
      n += took;
    }
  if (conn->tunnel.phase == RI_HTTP_PARSER_HEAD)
    return TRUE;
  if (conn->tunnel.status / 100 != 2)
    {
      conn_failed (conn, g_error_new (G_IO_ERROR, conn->tunnel.status == 407 ? G_IO_ERROR_PROXY_AUTH_FAILED
                                                                             : G_IO_ERROR_PROXY_FAILED,
                                      "the proxy %s:%u refused a tunnel to %s: HTTP %u", conn->host->proxy->host,
                                      conn->host->proxy->port, conn->host->authority, conn->tunnel.status));
      return FALSE;
    }
  if (n != length)
    {
      conn_failed (conn, g_error_new (G_IO_ERROR, G_IO_ERROR_PROXY_FAILED, "the proxy %s:%u sent more than "
                                      "its answer to CONNECT", conn->host->proxy->host, conn->host->proxy->port));
      return FALSE;
    }
  conn_handshake (conn);
  return FALSE;
}

/* Takes bytes of the answer; FALSE once the exchange is over. */
static gboolean
exchange_consume (Connection *conn, const guint8 *data, gsize length)
{
  Transfer *transfer = conn->transfer;
  gsize offset = 0;

  transfer->got_bytes = TRUE;
  while (offset < length)
    {
      RiHttpParserPhase before = transfer->parser.phase;
      GError *error = NULL;
      gssize n = ri_http_parser_feed (&transfer->parser, data + offset, length - offset, body_cb, transfer, &error);

      if (n < 0)
        {
          exchange_done (conn, FALSE, error);
          return FALSE;
        }
      offset += n;
      if (before == RI_HTTP_PARSER_HEAD && transfer->parser.phase != RI_HTTP_PARSER_HEAD)
        {
          error = head_complete (transfer);
          if (error != NULL)
            {
              exchange_done (conn, FALSE, error);
              return FALSE;
            }
          if (transfer->discard && transfer->parser.phase == RI_HTTP_PARSER_BODY &&
              (transfer->parser.content_length < 0 || transfer->parser.content_length > DISCARD_MAX))
            {
              /* Nothing in it is read: cheaper to close than to drain. */
              exchange_done (conn, FALSE, NULL);
              return FALSE;
            }
        }
      if (transfer->too_large || transfer->body_error != NULL)
        {
          exchange_done (conn, FALSE, transfer->too_large ? too_large_error (transfer)
                                                          : g_steal_pointer (&transfer->body_error));
          return FALSE;
        }
      if (transfer->parser.phase == RI_HTTP_PARSER_DONE)
        {
          /* Nothing may follow an answer we did not ask for yet. */
          exchange_done (conn, transfer->parser.keep_alive && offset == length &&
                               conn->out_offset >= conn->out_buf->len, NULL);
          return FALSE;
        }
      if (n == 0)
        break;
    }
  return TRUE;
}

static void
conn_eof (Connection *conn)
{
  GError *error = NULL;

  if (conn->state == CONN_TUNNELLING)
    {
      conn_failed (conn, g_error_new (G_IO_ERROR, G_IO_ERROR_PROXY_FAILED, "the proxy %s:%u closed the "
                                      "connection", conn->host->proxy->host, conn->host->proxy->port));
      return;
    }
  if (!conn->transfer->got_bytes && maybe_resend (conn))
    return;
  if (ri_http_parser_eof (&conn->transfer->parser, &error))
    exchange_done (conn, FALSE, NULL);
  else
    exchange_done (conn, FALSE, error);
}

static void
conn_readable (Connection *conn)
{
  RiHttpSession *self = conn->self;
  guint8 buffer[READ_SIZE];

  for (;;)
    {
      gssize n;

      if (conn->tls == NULL)
        {
          n = recv (conn->fd, buffer, sizeof buffer, 0);
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
          if (n < 0)
            {
              conn_error (conn, errno_error (errno, "reading the response"));
              return;
            }
        }
      else
        {
          GError *error = NULL;

          n = g_pollable_input_stream_read_nonblocking (conn->in, buffer, sizeof buffer, NULL, &error);
          if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              g_error_free (error);
              return;
            }
          if (n < 0)
            {
              conn_error (conn, tls_read_error (error));
              return;
            }
        }
      if (n == 0)
        {
          conn_eof (conn);
          return;
        }
      if (conn->state == CONN_TUNNELLING)
        {
          if (!tunnel_consume (conn, buffer, n))
            return;
          continue;
        }
      {
        gboolean was_head = conn->transfer->parser.phase == RI_HTTP_PARSER_HEAD;

        if (!exchange_consume (conn, buffer, n))
          return;
        /* The head must come whole within the time-out, and then every
         * KiB of the body: a peer that trickles cannot hold a request
         * for ever. */
        if (!was_head)
          conn->progress += n;
        if ((was_head && conn->transfer->parser.phase != RI_HTTP_PARSER_HEAD) || conn->progress >= MIN_PROGRESS)
          {
            conn->deadline = deadline_from_now (self);
            conn->progress = 0;
          }
      }
    }
}

/* --- the pool --- */

/* Gives waiting transfers to idle connections, and opens connections
 * for the rest, up to the limit. */
static void
host_pump (RiHttpSession *self, Host *host)
{
  while (host->waiting.head != NULL && host->idle.tail != NULL)
    {
      Connection *conn = host->idle.tail->data;
      Transfer *transfer;

      if (g_get_monotonic_time () - conn->idle_since > IDLE_MAX_US)
        {
          conn_close (conn);
          continue;
        }
      transfer = host->waiting.head->data;
      g_queue_unlink (&host->waiting, &transfer->wait_link);
      transfer->wait_link.data = NULL;
      exchange_start (conn, transfer);
    }
  while (host->waiting.length > host->opening && host->open < self->max_connections)
    conn_open (self, host);
}

/* --- driving it all from the main context --- */

typedef struct {
  GSource source;
  RiHttpSession *self;        /* (unowned) owns this */
  gpointer tag;
  gint64 due_us;              /* the first deadline; -1: none */
} HttpSource;

static gint64
first_deadline (RiHttpSession *self)
{
  gint64 first = -1;

  for (GList *l = self->connections.head; l; l = l->next)
    {
      Connection *conn = l->data;

      if (conn->deadline >= 0 && (first < 0 || conn->deadline < first))
        first = conn->deadline;
    }
  return first;
}

static gboolean
http_prepare (GSource *source, gint *timeout)
{
  HttpSource *s = (HttpSource *) source;
  gint64 now;

  *timeout = -1;
  if (g_atomic_int_get (&s->self->cancel_pending))
    return TRUE;
  s->due_us = first_deadline (s->self);
  if (s->due_us < 0)
    return FALSE;
  now = g_source_get_time (source);
  if (s->due_us <= now)
    {
      *timeout = 0;
      return TRUE;
    }
  *timeout = (gint) MIN ((s->due_us - now + 999) / 1000, (gint64) G_MAXINT);
  return FALSE;
}

static gboolean
http_check (GSource *source)
{
  HttpSource *s = (HttpSource *) source;

  return g_source_query_unix_fd (source, s->tag) != 0 || g_atomic_int_get (&s->self->cancel_pending) ||
         (s->due_us >= 0 && s->due_us <= g_source_get_time (source));
}

static void
process_cancellations (RiHttpSession *self)
{
  GList *l = self->active.head;

  while (l != NULL)
    {
      Transfer *transfer = l->data;
      GList *next = l->next;
      Connection *conn = transfer->connection;

      if (!transfer_cancelled (transfer))
        {
          l = next;
          continue;
        }
      if (conn != NULL)
        {
          conn->transfer = NULL;
          transfer->connection = NULL;
          conn_close (conn);
        }
      {
        Host *host = transfer->host;

        transfer_return (transfer, NULL, NULL);
        host_pump (self, host);
      }
      /* A callback may have changed the list: start over. */
      l = self->active.head;
    }
}

static void
process_timeouts (RiHttpSession *self)
{
  gint64 now = g_get_monotonic_time ();
  GList *l = self->connections.head;

  while (l != NULL)
    {
      Connection *conn = l->data;

      if (conn->deadline < 0 || conn->deadline > now)
        {
          l = l->next;
          continue;
        }
      conn->deadline = -1;
      if (conn->async_pending)
        {
          /* Its callback says so. */
          conn->timed_out = TRUE;
          g_cancellable_cancel (conn->cancellable);
          l = l->next;
          continue;
        }
      if (conn->state == CONN_BUSY && conn->transfer->parser.phase == RI_HTTP_PARSER_HEAD)
        conn_error (conn, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no answer from %s in %u s",
                                       conn->host->authority, self->timeout_s));
      else if (conn->state == CONN_BUSY)
        conn_error (conn, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s sent less than 1 KiB of the "
                                       "answer in %u s", conn->host->authority, self->timeout_s));
      else if (conn->state == CONN_TUNNELLING)
        conn_failed (conn, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "the proxy %s:%u did not answer "
                                        "CONNECT in %u s", conn->host->proxy->host, conn->host->proxy->port,
                                        self->timeout_s));
      /* Callbacks may have changed the list: start over. */
      l = self->connections.head;
    }
}

static gboolean
http_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  HttpSource *s = (HttpSource *) source;
  /* A completion may drop the last reference to the session. */
  g_autoptr(RiHttpSession) self = g_object_ref (s->self);

  if (g_atomic_int_compare_and_exchange (&self->cancel_pending, 1, 0))
    process_cancellations (self);
  if (g_source_query_unix_fd (source, s->tag) != 0)
    {
      struct epoll_event events[64];
      int n = epoll_wait (self->epoll_fd, events, G_N_ELEMENTS (events), 0);

      for (int i = 0; i < n; i++)
        {
          Connection *conn = events[i].data.ptr;

          switch (conn->state)
            {
            case CONN_IDLE:
              /* The server closed it, or says what nobody asked. */
              conn_close (conn);
              break;
            case CONN_BUSY:
            case CONN_TUNNELLING:
              if ((events[i].events & EPOLLOUT) && conn->out_offset < conn->out_buf->len)
                conn_write (conn);
              /* An answer may come before the whole request is sent (a
               * 431, say): it is read, not left to spin. */
              if ((conn->state == CONN_BUSY || conn->state == CONN_TUNNELLING) &&
                  (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                conn_readable (conn);
              break;
            default:
              break;
            }
        }
    }
  if (s->due_us >= 0 && s->due_us <= g_get_monotonic_time ())
    process_timeouts (self);
  for (guint i = 0; i < self->dead->len; i++)
    conn_free (g_ptr_array_index (self->dead, i));
  g_ptr_array_set_size (self->dead, 0);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs http_source_funcs = { http_prepare, http_check, http_dispatch, NULL, NULL, NULL };

/* --- sending --- */

static gboolean
has_space_or_control (const char *text)
{
  for (const char *p = text; *p; p++)
    if ((guchar) *p <= ' ' || *p == 0x7f)
      return TRUE;
  return FALSE;
}

void
ri_http_session_send_async (RiHttpSession       *self,
                            const char          *method,
                            const char          *url,
                            const char * const  *headers,
                            gsize                max_size,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *scheme = NULL, *host_name = NULL, *path = NULL, *query = NULL;
  int port = -1;
  Transfer *transfer;
  Host *host;

  g_task_set_source_tag (task, ri_http_session_send_async);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (!g_uri_split (url, G_URI_FLAGS_ENCODED, &scheme, NULL, &host_name, &port, &path, &query, NULL, NULL) ||
      scheme == NULL || (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) ||
      host_name == NULL || *host_name == '\0')
    {
      g_task_return_new_error (task, RI_ERROR, RI_ERROR_PROTOCOL, "not an http:// or https:// URL");
      return;
    }
  {
    g_autofree char *lower = g_ascii_strdown (scheme, -1);

    host = host_get (self, lower, host_name, port);
  }
  if (host->proxy_error != NULL)
    {
      g_task_return_error (task, g_error_copy (host->proxy_error));
      return;
    }
  /* What goes into the request comes partly from registries (a token, a
   * Location): a line break in it would add headers, or a request. */
  if (has_space_or_control (path) || (query != NULL && has_space_or_control (query)))
    {
      g_task_return_new_error (task, RI_ERROR, RI_ERROR_PROTOCOL, "the URL holds a space or a control character");
      return;
    }
  for (guint i = 0; headers != NULL && headers[i] != NULL; i++)
    if (strpbrk (headers[i], "\r\n") != NULL)
      {
        g_task_return_new_error (task, RI_ERROR, RI_ERROR_PROTOCOL, "refusing to send a header with a line "
                                 "break in it (from a token or a registry's answer)");
        return;
      }

  transfer = g_new0 (Transfer, 1);
  transfer->self = self;
  transfer->host = host;
  transfer->task = g_steal_pointer (&task);
  transfer->link.data = transfer;
  transfer->method = g_strdup (method);
  transfer->target = g_strconcat (*path ? path : "/", query ? "?" : "", query ? query : "", NULL);
  transfer->max_size = max_size;
  transfer->head = g_str_equal (method, "HEAD");
  transfer->headers = g_strdupv ((char **) headers);
  ri_http_parser_init (&transfer->parser, transfer->head, FALSE);
  g_queue_push_tail_link (&self->active, &transfer->link);
  transfer->wait_link.data = transfer;
  g_queue_push_tail_link (&host->waiting, &transfer->wait_link);
  if (cancellable != NULL)
    {
      transfer->cancellable = g_object_ref (cancellable);
      watch_cancellable (self, cancellable);
    }
  host_pump (self, host);
}

RiHttpResponse *
ri_http_session_send_finish (RiHttpSession *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, ri_http_session_send_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- the session --- */

static void
ri_http_session_finalize (GObject *object)
{
  RiHttpSession *self = RI_HTTP_SESSION (object);

  /* Every transfer's task holds a reference on us: none is left. */
  g_assert (g_queue_is_empty (&self->active));
  while (self->connections.head != NULL)
    {
      Connection *conn = self->connections.head->data;
      gboolean pending = conn->async_pending;

      conn_close (conn);
      /* A pending step's callback frees it, without us. */
      if (pending)
        conn->self = NULL;
    }
  for (guint i = 0; i < self->dead->len; i++)
    conn_free (g_ptr_array_index (self->dead, i));
  g_ptr_array_unref (self->dead);
  g_hash_table_unref (self->hosts);
  g_hash_table_unref (self->watches);
  g_source_destroy (self->source);
  g_source_unref (self->source);
  close (self->epoll_fd);
  g_object_unref (self->client);
  g_main_context_unref (self->context);
  g_list_free_full (self->ca_list, g_object_unref);
  g_clear_object (&self->certificate);
  g_clear_error (&self->tls_error);
  g_free (self->ca_certificate);
  g_free (self->client_certificate);
  g_free (self->client_key);
  g_free (self->user_agent);
  G_OBJECT_CLASS (ri_http_session_parent_class)->finalize (object);
}

static void
ri_http_session_class_init (RiHttpSessionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ri_http_session_finalize;
}

static void
ri_http_session_init (RiHttpSession *self)
{
  g_queue_init (&self->connections);
  g_queue_init (&self->active);
  self->dead = g_ptr_array_new ();
  self->hosts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) host_free);
  self->watches = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) watch_free);
}

RiHttpSession *
ri_http_session_new (const RiHttpSessionOptions *options)
{
  RiHttpSession *self = g_object_new (RI_TYPE_HTTP_SESSION, NULL);
  HttpSource *s;

  self->max_connections = MAX (1u, options->max_connections);
  self->timeout_s = options->timeout_s;
  self->tls_verify = options->tls_verify;
  self->ca_certificate = g_strdup (options->ca_certificate);
  self->client_certificate = g_strdup (options->client_certificate);
  self->client_key = g_strdup (options->client_key);
  self->user_agent = g_strdup (options->user_agent);
  self->context = g_main_context_ref_thread_default ();

  self->client = g_socket_client_new ();
  /* Proxies are chosen here, as curl chooses them, not by GIO's
   * resolver, which would ask the desktop's settings. */
  g_socket_client_set_enable_proxy (self->client, FALSE);

  self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (self->epoll_fd < 0)
    g_error ("epoll_create1: %s", g_strerror (errno));
  self->source = g_source_new (&http_source_funcs, sizeof (HttpSource));
  s = (HttpSource *) self->source;
  s->self = self;
  s->due_us = -1;
  s->tag = g_source_add_unix_fd (self->source, self->epoll_fd, G_IO_IN | G_IO_ERR | G_IO_HUP);
  g_source_set_static_name (self->source, "http");
  /* GLib blocks a source that cannot recurse while it is dispatched, by
   * taking its descriptor out of the poll set and putting it back: two
   * eventfd writes and a read for every dispatch. Nothing here runs a
   * nested main loop, so no recursion can happen. */
  g_source_set_can_recurse (self->source, TRUE);
  g_source_attach (self->source, self->context);
  return self;
}
