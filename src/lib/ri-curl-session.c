#define G_LOG_DOMAIN "Http"

#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ri-curl-session.h"
#include "ri-error.h"

/**
 * RiCurlSession:
 *
 * HTTP exchanges over libcurl's multi interface, driven from the main
 * context through one epoll descriptor: a keep-alive pool of HTTP/1.1
 * connections, TLS, time-outs and a size limit, and nothing else. What a
 * registry means by its answers is RiRegistryClient's business.
 *
 * Measured on a cold scan of 2,400 requests, libsoup 3.2 spent about
 * 0.3 ms of CPU per request, three quarters of it in GLib's and GObject's
 * machinery (a GSource and a poll descriptor added and removed for each
 * wait, signals, streams, an eventfd write for each change); libcurl
 * does the same exchange with one descriptor in the main context for all
 * connections, and no wakeups of its own.
 */

struct _RiCurlSession {
  GObject parent_instance;

  CURLM *multi;
  int epoll_fd;
  GSource *source;            /* (owned) */
  GMainContext *context;      /* (owned) where exchanges complete */
  GPtrArray *idle_easies;     /* (owned) (element-type CURL) for reuse */
  GQueue active;              /* (element-type Transfer) (unowned) */
  GHashTable *sockets;        /* (owned) descriptor → Socket */
  gint cancel_pending;        /* atomic: some cancellable fired */

  guint timeout_s;
  gboolean tls_verify;
  char *ca_certificate;
  char *client_certificate;
  char *client_key;
  char *user_agent;
};

G_DEFINE_TYPE (RiCurlSession, ri_curl_session, G_TYPE_OBJECT)

typedef struct {
  RiCurlSession *self;        /* (unowned) the task holds a reference */
  GTask *task;                /* (owned) */
  CURL *easy;                 /* (owned) */
  GList link;                 /* in self->active */
  struct curl_slist *headers; /* (owned) may hold secrets */
  GPtrArray *response_headers;/* (owned) */
  GByteArray *body;           /* (owned) (nullable) */
  gsize max_size;
  gboolean head;
  gboolean discard;           /* the body of this status is not kept */
  gboolean too_large;
  gint64 announced_length;    /* a Content-Length over the limit, or -1 */
  GCancellable *cancellable;  /* (owned) (nullable) */
  gulong cancel_id;
  gint cancelled;             /* atomic */
  char errbuf[CURL_ERROR_SIZE];
} Transfer;

/* --- responses --- */

void
ri_curl_response_free (RiCurlResponse *response)
{
  g_clear_pointer (&response->body, g_bytes_unref);
  g_clear_pointer (&response->headers, g_ptr_array_unref);
  g_free (response);
}

const char *
ri_curl_response_get_header (RiCurlResponse *response, const char *name)
{
  for (guint i = 0; i + 1 < response->headers->len; i += 2)
    if (g_ascii_strcasecmp (g_ptr_array_index (response->headers, i), name) == 0)
      return g_ptr_array_index (response->headers, i + 1);
  return NULL;
}

/* All the values of a header that may be repeated, as one list (RFC 9110
 * 5.3), or NULL when it is absent. */
char *
ri_curl_response_get_list (RiCurlResponse *response, const char *name)
{
  g_autoptr(GString) list = NULL;

  for (guint i = 0; i + 1 < response->headers->len; i += 2)
    if (g_ascii_strcasecmp (g_ptr_array_index (response->headers, i), name) == 0)
      {
        if (list == NULL)
          list = g_string_new (NULL);
        else
          g_string_append (list, ", ");
        g_string_append (list, g_ptr_array_index (response->headers, i + 1));
      }
  return list ? g_string_free (g_steal_pointer (&list), FALSE) : NULL;
}

/* The media type without its parameters, lower-cased. */
char *
ri_curl_response_get_content_type (RiCurlResponse *response)
{
  const char *value = ri_curl_response_get_header (response, "Content-Type");
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

/* --- driving libcurl from the main context --- */

typedef struct {
  GSource source;
  RiCurlSession *self;        /* (unowned) owns this */
  gpointer tag;
  gint64 due_us;              /* libcurl's timer, monotonic; -1: none */
} CurlSource;

static void process_until_idle (RiCurlSession *self);

static gboolean
curl_prepare (GSource *source, gint *timeout)
{
  CurlSource *s = (CurlSource *) source;
  gint64 now;

  *timeout = -1;
  if (g_atomic_int_get (&s->self->cancel_pending))
    return TRUE;
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
curl_check (GSource *source)
{
  CurlSource *s = (CurlSource *) source;

  return g_source_query_unix_fd (source, s->tag) != 0 || g_atomic_int_get (&s->self->cancel_pending) ||
         (s->due_us >= 0 && s->due_us <= g_source_get_time (source));
}

static gboolean
curl_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  /* A completion may drop the last reference to the session. */
  g_autoptr(RiCurlSession) self = g_object_ref (((CurlSource *) source)->self);

  process_until_idle (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs curl_source_funcs = { curl_prepare, curl_check, curl_dispatch, NULL, NULL, NULL };

/* libcurl's timer: kept in the source, read by prepare(), so that no
 * change of it costs a wakeup of the main context. */
static int
timer_cb (CURLM *multi, long timeout_ms, void *user_data)
{
  RiCurlSession *self = user_data;
  CurlSource *s = (CurlSource *) self->source;

  s->due_us = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  return 0;
}

/* What the epoll set holds for one descriptor. libcurl stops watching a
 * connection it puts back in its cache, and watches it again when it
 * reuses it: two epoll_ctl() calls per request. A connection socket of
 * ours (opened and closed through the callbacks below, so its end is
 * known) stays in the set instead, and is only taken out if it stirs
 * while nobody wants it (the registry closing an idle connection). */
typedef struct {
  guint32 events;             /* registered; 0: not in the set */
  gboolean ours;
  gboolean wanted;            /* libcurl watches it */
} Socket;

static Socket *
socket_lookup (RiCurlSession *self, curl_socket_t fd, gboolean create)
{
  Socket *socket = g_hash_table_lookup (self->sockets, GINT_TO_POINTER (fd));

  if (socket == NULL && create)
    {
      socket = g_new0 (Socket, 1);
      g_hash_table_insert (self->sockets, GINT_TO_POINTER (fd), socket);
    }
  return socket;
}

static void
socket_unwatch (RiCurlSession *self, curl_socket_t fd, Socket *socket)
{
  if (socket->events != 0)
    epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
  socket->events = 0;
}

static int
socket_cb (CURL *easy, curl_socket_t fd, int what, void *user_data, void *socket_data)
{
  RiCurlSession *self = user_data;
  Socket *socket = socket_lookup (self, fd, TRUE);
  struct epoll_event event = { 0 };

  if (what == CURL_POLL_REMOVE)
    {
      socket->wanted = FALSE;
      if (!socket->ours)
        {
          /* Closed behind our back (the resolver's): forget it now. */
          socket_unwatch (self, fd, socket);
          g_hash_table_remove (self->sockets, GINT_TO_POINTER (fd));
        }
      return 0;
    }
  socket->wanted = TRUE;
  event.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
  event.data.fd = fd;
  if (event.events == socket->events)
    return 0;
  if (epoll_ctl (self->epoll_fd, socket->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event) < 0 &&
      errno == EEXIST)
    epoll_ctl (self->epoll_fd, EPOLL_CTL_MOD, fd, &event);
  socket->events = event.events;
  return 0;
}

static curl_socket_t
open_socket_cb (void *user_data, curlsocktype purpose, struct curl_sockaddr *address)
{
  RiCurlSession *self = user_data;
  int fd = socket (address->family, address->socktype | SOCK_CLOEXEC, address->protocol);

  if (fd >= 0)
    {
      Socket *socket = socket_lookup (self, fd, TRUE);

      socket->ours = TRUE;
      socket->events = 0;
      socket->wanted = FALSE;
    }
  return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static int
close_socket_cb (void *user_data, curl_socket_t fd)
{
  RiCurlSession *self = user_data;
  Socket *socket = socket_lookup (self, fd, FALSE);

  /* Closing takes a descriptor out of the epoll set only if nothing else
   * (a child between fork and exec) still holds the socket. */
  if (socket != NULL)
    socket_unwatch (self, fd, socket);
  g_hash_table_remove (self->sockets, GINT_TO_POINTER (fd));
  return close (fd);
}

/* --- transfers --- */

static void
wipe_headers (struct curl_slist *headers)
{
  /* Authorization values are secrets: gone from memory once sent. */
  for (struct curl_slist *l = headers; l; l = l->next)
    memset (l->data, 0, strlen (l->data));
  curl_slist_free_all (headers);
}

static void
transfer_free (Transfer *transfer)
{
  if (transfer->easy != NULL)
    {
      /* Nothing in a kept handle may point into this transfer. */
      curl_easy_setopt (transfer->easy, CURLOPT_PRIVATE, NULL);
      curl_easy_setopt (transfer->easy, CURLOPT_HTTPHEADER, NULL);
      curl_easy_setopt (transfer->easy, CURLOPT_ERRORBUFFER, NULL);
      curl_easy_setopt (transfer->easy, CURLOPT_HEADERDATA, NULL);
      curl_easy_setopt (transfer->easy, CURLOPT_WRITEDATA, NULL);
      g_ptr_array_add (transfer->self->idle_easies, transfer->easy);
    }
  wipe_headers (transfer->headers);
  g_clear_pointer (&transfer->response_headers, g_ptr_array_unref);
  g_clear_pointer (&transfer->body, g_byte_array_unref);
  g_clear_object (&transfer->cancellable);
  g_free (transfer);
}

/* A redirect's or a challenge's body says nothing the client reads: it
 * is neither kept nor held to the size limit. */
static gboolean
is_discarded_status (long status)
{
  return (status >= 300 && status < 400) || status == 401;
}

static size_t
header_cb (char *buffer, size_t size, size_t n, void *user_data)
{
  Transfer *transfer = user_data;
  gsize length = size * n;
  const char *colon;

  while (length > 0 && (buffer[length - 1] == '\n' || buffer[length - 1] == '\r'))
    length--;
  if (length >= 5 && strncmp (buffer, "HTTP/", 5) == 0)
    {
      /* A new response (after 1xx): only the final one's headers count. */
      g_ptr_array_set_size (transfer->response_headers, 0);
      return size * n;
    }
  if (length == 0)
    {
      curl_off_t announced = -1;
      long status = 0;

      curl_easy_getinfo (transfer->easy, CURLINFO_RESPONSE_CODE, &status);
      curl_easy_getinfo (transfer->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
      transfer->discard = is_discarded_status (status);
      if (status >= 200 && !transfer->discard && !transfer->head && announced > 0 &&
          (guint64) announced > transfer->max_size)
        {
          transfer->too_large = TRUE;
          transfer->announced_length = announced;
          return 0;
        }
      return size * n;
    }
  if ((buffer[0] == ' ' || buffer[0] == '\t') && transfer->response_headers->len >= 2)
    {
      /* An obsolete folded line continues the previous value. */
      guint last = transfer->response_headers->len - 1;
      g_autofree char *more = g_strstrip (g_strndup (buffer, length));
      char *joined = g_strconcat (g_ptr_array_index (transfer->response_headers, last), " ", more, NULL);

      g_free (g_ptr_array_index (transfer->response_headers, last));
      g_ptr_array_index (transfer->response_headers, last) = joined;
      return size * n;
    }
  colon = memchr (buffer, ':', length);
  if (colon == NULL || colon == buffer)
    return size * n;
  g_ptr_array_add (transfer->response_headers, g_strndup (buffer, colon - buffer));
  g_ptr_array_add (transfer->response_headers, g_strstrip (g_strndup (colon + 1, length - (colon + 1 - buffer))));
  return size * n;
}

static size_t
write_cb (char *data, size_t size, size_t n, void *user_data)
{
  Transfer *transfer = user_data;
  gsize length = size * n;

  if (transfer->discard)
    return length;
  if (transfer->body == NULL)
    {
      curl_off_t announced = -1;

      curl_easy_getinfo (transfer->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
      transfer->body = g_byte_array_sized_new (announced > 0 && (guint64) announced <= transfer->max_size
                                               ? (guint) announced : 4096);
    }
  if (transfer->body->len + length > transfer->max_size)
    {
      transfer->too_large = TRUE;
      return 0;
    }
  g_byte_array_append (transfer->body, (const guint8 *) data, length);
  return length;
}

/* OpenSSL names every failure on a TLS connection "SSL_read",
 * "SSL_connect"...; the peer's refusal is the one that carries an alert
 * (or fails the handshake outright). */
static gboolean
is_tls_refusal (const char *detail)
{
  return strstr (detail, "alert") != NULL || strstr (detail, "handshake failure") != NULL ||
         strstr (detail, "wrong version number") != NULL || strstr (detail, "no protocols available") != NULL;
}

static GError *
transfer_error (Transfer *transfer, CURLcode code)
{
  const char *detail = transfer->errbuf[0] ? transfer->errbuf : curl_easy_strerror (code);

  if (transfer->too_large && transfer->announced_length > 0)
    return g_error_new (RI_ERROR, RI_ERROR_TOO_LARGE, "the response of %" G_GINT64_FORMAT " bytes is larger "
                        "than the limit of %" G_GSIZE_FORMAT " bytes", transfer->announced_length,
                        transfer->max_size);
  if (transfer->too_large)
    return g_error_new (RI_ERROR, RI_ERROR_TOO_LARGE, "the response is larger than the limit of %"
                        G_GSIZE_FORMAT " bytes", transfer->max_size);
  switch (code)
    {
    case CURLE_OPERATION_TIMEDOUT:
      return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s", detail);
    case CURLE_PEER_FAILED_VERIFICATION:
      return g_error_new (G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE, "%s", detail);
    case CURLE_SSL_CONNECT_ERROR:
      /* A connection dropped during the handshake is a dropped
       * connection, worth another try; a refusal is not. */
      if (!is_tls_refusal (detail))
        return g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "%s", detail);
      return g_error_new (G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE, "%s", detail);
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CLIENTCERT:
      return g_error_new (G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE, "%s", detail);
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      /* Our own files, not the registry: the same next time. */
      return g_error_new (RI_ERROR, RI_ERROR_CONFIG, "TLS: %s (check ca_certificate, client_certificate and "
                          "client_key)", detail);
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      /* TLS 1.3 sends a refusal of the client's certificate after the
       * handshake, as an alert that arrives with the first read; any
       * other failure here is a connection dropped. */
      if (is_tls_refusal (detail))
        return g_error_new (G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE, "%s", detail);
      return g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "%s", detail);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_CONTENT_ENCODING:
      return g_error_new (RI_ERROR, RI_ERROR_PROTOCOL, "%s", detail);
    default:
      return g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s", detail);
    }
}

static void
transfer_complete (Transfer *transfer, CURLcode code)
{
  RiCurlSession *self = transfer->self;
  g_autoptr(GTask) task = g_steal_pointer (&transfer->task);

  curl_multi_remove_handle (self->multi, transfer->easy);
  g_queue_unlink (&self->active, &transfer->link);
  if (transfer->cancellable != NULL)
    g_cancellable_disconnect (transfer->cancellable, transfer->cancel_id);
  transfer->cancel_id = 0;

  if (g_atomic_int_get (&transfer->cancelled))
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
  else if (code != CURLE_OK)
    g_task_return_error (task, transfer_error (transfer, code));
  else
    {
      RiCurlResponse *response = g_new0 (RiCurlResponse, 1);
      long status = 0;

      curl_easy_getinfo (transfer->easy, CURLINFO_RESPONSE_CODE, &status);
      response->status = status;
      response->headers = g_steal_pointer (&transfer->response_headers);
      if (!transfer->head)
        response->body = transfer->body ? g_byte_array_free_to_bytes (g_steal_pointer (&transfer->body))
                                        : g_bytes_new (NULL, 0);
      g_task_return_pointer (task, response, (GDestroyNotify) ri_curl_response_free);
    }
  transfer_free (transfer);
}

/* Finishes what libcurl says is done, and what was cancelled. */
static void
process_completions (RiCurlSession *self)
{
  g_autoptr(GPtrArray) done = NULL;
  CURLMsg *message;
  int left;

  /* Collected first: a completion may start the next exchange, and
   * libcurl's messages do not outlive a change of its handles. */
  while ((message = curl_multi_info_read (self->multi, &left)) != NULL)
    if (message->msg == CURLMSG_DONE)
      {
        Transfer *transfer = NULL;

        curl_easy_getinfo (message->easy_handle, CURLINFO_PRIVATE, (char **) &transfer);
        if (done == NULL)
          done = g_ptr_array_new ();
        g_ptr_array_add (done, transfer);
        g_ptr_array_add (done, GINT_TO_POINTER (message->data.result));
      }
  if (g_atomic_int_compare_and_exchange (&self->cancel_pending, 1, 0))
    for (GList *l = self->active.head; l; l = l->next)
      {
        Transfer *transfer = l->data;

        if (g_atomic_int_get (&transfer->cancelled) &&
            (done == NULL || !g_ptr_array_find (done, transfer, NULL)))
          {
            if (done == NULL)
              done = g_ptr_array_new ();
            g_ptr_array_add (done, transfer);
            g_ptr_array_add (done, GINT_TO_POINTER (CURLE_ABORTED_BY_CALLBACK));
          }
      }
  for (guint i = 0; done != NULL && i < done->len; i += 2)
    transfer_complete (g_ptr_array_index (done, i), GPOINTER_TO_INT (g_ptr_array_index (done, i + 1)));
}

static void
process (RiCurlSession *self)
{
  CurlSource *s = (CurlSource *) self->source;
  int running = 0;

  if (g_source_query_unix_fd (self->source, s->tag) != 0)
    {
      struct epoll_event events[64];
      int n = epoll_wait (self->epoll_fd, events, G_N_ELEMENTS (events), 0);

      for (int i = 0; i < n; i++)
        {
          int fd = events[i].data.fd;
          Socket *socket = socket_lookup (self, fd, FALSE);
          int mask = ((events[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                     ((events[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                     ((events[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);

          if (socket == NULL)
            {
              /* Not ours to watch (any more). */
              epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
              continue;
            }
          if (!socket->wanted)
            {
              /* An idle connection stirs: libcurl sees to it on reuse. */
              socket_unwatch (self, fd, socket);
              continue;
            }
          curl_multi_socket_action (self->multi, fd, mask, &running);
        }
    }
  if (s->due_us >= 0 && s->due_us <= g_get_monotonic_time ())
    {
      s->due_us = -1;
      curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
  process_completions (self);
}

/* A completion usually starts the next exchange, which libcurl wants
 * started "now": in the same dispatch, rather than after another trip
 * through poll(). Bounded, so that other sources get their turn. */
static void
process_until_idle (RiCurlSession *self)
{
  CurlSource *s = (CurlSource *) self->source;

  process (self);
  for (guint round = 0; round < 4 && s->due_us >= 0 && s->due_us <= g_get_monotonic_time (); round++)
    {
      int running = 0;

      s->due_us = -1;
      curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
      process_completions (self);
    }
}

/* May run in any thread: only flags, and a wakeup. */
static void
cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  Transfer *transfer = user_data;

  g_atomic_int_set (&transfer->cancelled, 1);
  g_atomic_int_set (&transfer->self->cancel_pending, 1);
  g_main_context_wakeup (transfer->self->context);
}

/* A handle with the options every exchange shares; kept for reuse, as
 * setting them again for each request is half of libcurl's work. */
static CURL *
easy_new (RiCurlSession *self)
{
  CURL *easy = curl_easy_init ();

  if (easy == NULL)
    return NULL;
  curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
  /* Removing a handle that is still resolving a name would otherwise
   * wait for the resolver thread, in the main loop. */
  curl_easy_setopt (easy, CURLOPT_QUICK_EXIT, 1L);
  /* HTTP/2 buys nothing for one request per connection at a time, and
   * one well-known path is easier to trust than two. */
  curl_easy_setopt (easy, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
  curl_easy_setopt (easy, CURLOPT_USERAGENT, self->user_agent);
  curl_easy_setopt (easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt (easy, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (easy, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
  curl_easy_setopt (easy, CURLOPT_OPENSOCKETDATA, self);
  curl_easy_setopt (easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
  curl_easy_setopt (easy, CURLOPT_CLOSESOCKETDATA, self);
  /* The time-out bounds connecting and every silence of the registry,
   * not a whole transfer, which may be long and still progressing. */
  if (self->timeout_s > 0)
    {
      curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT, (long) self->timeout_s);
      curl_easy_setopt (easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt (easy, CURLOPT_LOW_SPEED_TIME, (long) self->timeout_s);
    }
  if (!self->tls_verify)
    {
      curl_easy_setopt (easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt (easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  else if (self->ca_certificate != NULL)
    {
      /* The extra CA comes beside the system's, not instead of them. */
      curl_easy_setopt (easy, CURLOPT_CAINFO, self->ca_certificate);
      if (g_file_test ("/etc/ssl/certs", G_FILE_TEST_IS_DIR))
        curl_easy_setopt (easy, CURLOPT_CAPATH, "/etc/ssl/certs");
    }
  if (self->client_certificate != NULL)
    {
      curl_easy_setopt (easy, CURLOPT_SSLCERT, self->client_certificate);
      curl_easy_setopt (easy, CURLOPT_SSLKEY, self->client_key ? self->client_key : self->client_certificate);
    }
  return easy;
}

void
ri_curl_session_send_async (RiCurlSession       *self,
                            const char          *method,
                            const char          *url,
                            const char * const  *headers,
                            gsize                max_size,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Transfer *transfer;
  CURL *easy;
  CURLMcode added;

  g_task_set_source_tag (task, ri_curl_session_send_async);
  if (g_task_return_error_if_cancelled (task))
    return;

  easy = self->idle_easies->len > 0
    ? g_ptr_array_steal_index_fast (self->idle_easies, self->idle_easies->len - 1)
    : easy_new (self);
  if (easy == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "libcurl could not start a transfer");
      return;
    }

  transfer = g_new0 (Transfer, 1);
  transfer->self = self;
  transfer->easy = easy;
  transfer->link.data = transfer;
  transfer->max_size = max_size;
  transfer->head = g_str_equal (method, "HEAD");
  transfer->announced_length = -1;
  transfer->response_headers = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; headers != NULL && headers[i] != NULL; i++)
    transfer->headers = curl_slist_append (transfer->headers, headers[i]);

  curl_easy_setopt (easy, CURLOPT_PRIVATE, transfer);
  curl_easy_setopt (easy, CURLOPT_URL, url);
  curl_easy_setopt (easy, CURLOPT_HTTPHEADER, transfer->headers);
  curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, transfer->errbuf);
  curl_easy_setopt (easy, CURLOPT_HEADERDATA, transfer);
  curl_easy_setopt (easy, CURLOPT_WRITEDATA, transfer);
  if (transfer->head)
    curl_easy_setopt (easy, CURLOPT_NOBODY, 1L);
  else
    curl_easy_setopt (easy, CURLOPT_HTTPGET, 1L);

  transfer->task = g_steal_pointer (&task);
  added = curl_multi_add_handle (self->multi, easy);
  if (added != CURLM_OK)
    {
      g_autoptr(GTask) failed = g_steal_pointer (&transfer->task);

      g_task_return_new_error (failed, G_IO_ERROR, G_IO_ERROR_FAILED, "libcurl: %s", curl_multi_strerror (added));
      transfer_free (transfer);
      return;
    }
  g_queue_push_tail_link (&self->active, &transfer->link);
  if (cancellable != NULL)
    {
      transfer->cancellable = g_object_ref (cancellable);
      /* Runs at once if the cancellable fired in the meantime. */
      transfer->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_cb), transfer, NULL);
    }
}

RiCurlResponse *
ri_curl_session_send_finish (RiCurlSession *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, ri_curl_session_send_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- the session --- */

static void
ri_curl_session_finalize (GObject *object)
{
  RiCurlSession *self = RI_CURL_SESSION (object);

  /* Every transfer's task holds a reference on us: none is left. */
  g_assert (g_queue_is_empty (&self->active));
  /* Closing the kept connections calls back into the socket and timer
   * callbacks: everything they touch goes after. */
  for (guint i = 0; i < self->idle_easies->len; i++)
    curl_easy_cleanup (g_ptr_array_index (self->idle_easies, i));
  g_ptr_array_unref (self->idle_easies);
  curl_multi_cleanup (self->multi);
  g_source_destroy (self->source);
  g_source_unref (self->source);
  g_hash_table_unref (self->sockets);
  close (self->epoll_fd);
  g_main_context_unref (self->context);
  g_free (self->ca_certificate);
  g_free (self->client_certificate);
  g_free (self->client_key);
  g_free (self->user_agent);
  G_OBJECT_CLASS (ri_curl_session_parent_class)->finalize (object);
}

static void
ri_curl_session_class_init (RiCurlSessionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ri_curl_session_finalize;
  /* Thread-safe in this libcurl (it says "threadsafe"), and done once. */
  curl_global_init (CURL_GLOBAL_DEFAULT);
}

static void
ri_curl_session_init (RiCurlSession *self)
{
  g_queue_init (&self->active);
  self->idle_easies = g_ptr_array_new ();
  self->sockets = g_hash_table_new_full (NULL, NULL, NULL, g_free);
}

RiCurlSession *
ri_curl_session_new (const RiCurlSessionOptions *options)
{
  RiCurlSession *self = g_object_new (RI_TYPE_CURL_SESSION, NULL);
  CurlSource *s;

  self->timeout_s = options->timeout_s;
  self->tls_verify = options->tls_verify;
  self->ca_certificate = g_strdup (options->ca_certificate);
  self->client_certificate = g_strdup (options->client_certificate);
  self->client_key = g_strdup (options->client_key);
  self->user_agent = g_strdup (options->user_agent);
  self->context = g_main_context_ref_thread_default ();

  self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (self->epoll_fd < 0)
    g_error ("epoll_create1: %s", g_strerror (errno));
  self->multi = curl_multi_init ();
  curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
  curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
  curl_multi_setopt (self->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) MAX (1u, options->max_connections));
  curl_multi_setopt (self->multi, CURLMOPT_MAXCONNECTS, (long) MAX (1u, options->max_connections) + 4);

  self->source = g_source_new (&curl_source_funcs, sizeof (CurlSource));
  s = (CurlSource *) self->source;
  s->self = self;
  s->due_us = -1;
  s->tag = g_source_add_unix_fd (self->source, self->epoll_fd, G_IO_IN | G_IO_ERR | G_IO_HUP);
  g_source_set_static_name (self->source, "libcurl");
  /* GLib blocks a source that cannot recurse while it is dispatched, by
   * taking its descriptor out of the poll set and putting it back: two
   * eventfd writes and a read for every dispatch. Nothing here runs a
   * nested main loop, so no recursion can happen. */
  g_source_set_can_recurse (self->source, TRUE);
  g_source_attach (self->source, self->context);
  return self;
}
