#include "config.h"

#include <string.h>

#include "ri-http-session.h"
#include "ri-error.h"

/* RiHttpSession against a small HTTP/1.1 server of the test's own, in
 * threads (one per connection, with blocking sockets), so that the
 * session's main context runs alone in the test's thread. */

typedef struct {
  GSocket *listener;
  guint16 port;
  gint accepted;               /* atomic: connections */
  GCancellable *stop;
  GThread *thread;
  GPtrArray *connections;      /* (element-type GThread) owned by the accepting thread */
  GMutex lock;
  GCond cond;
  guint closed;                /* connections closed by the server */
} Server;

static gboolean
read_head (GSocket *socket, GString *head, GCancellable *cancellable)
{
  char c;

  while (strstr (head->str, "\r\n\r\n") == NULL)
    {
      if (g_socket_receive (socket, &c, 1, cancellable, NULL) != 1)
        return FALSE;
      g_string_append_c (head, c);
    }
  return TRUE;
}

static void
send_text (GSocket *socket, const char *text)
{
  gsize length = strlen (text);

  while (length > 0)
    {
      gssize n = g_socket_send (socket, text, length, NULL, NULL);

      if (n <= 0)
        return;
      text += n;
      length -= n;
    }
}

static GBytes *
gzip (const char *text)
{
  g_autoptr(GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr(GZlibCompressor) compressor = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, -1);
  g_autoptr(GOutputStream) out = g_converter_output_stream_new (memory, G_CONVERTER (compressor));

  g_assert_true (g_output_stream_write_all (out, text, strlen (text), NULL, NULL, NULL));
  g_assert_true (g_output_stream_close (out, NULL, NULL));
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (memory));
}

static void
send_gzip (GSocket *socket, const char *status, GBytes *first, GBytes *second, const char *junk)
{
  g_autofree char *head = g_strdup_printf ("HTTP/1.1 %s\r\nContent-Encoding: gzip\r\nContent-Length: %" G_GSIZE_FORMAT
                                           "\r\n\r\n", status,
                                           (first ? g_bytes_get_size (first) : 0) +
                                           (second ? g_bytes_get_size (second) : 0) + strlen (junk));

  send_text (socket, head);
  if (first != NULL)
    g_socket_send (socket, g_bytes_get_data (first, NULL), g_bytes_get_size (first), NULL, NULL);
  if (second != NULL)
    g_socket_send (socket, g_bytes_get_data (second, NULL), g_bytes_get_size (second), NULL, NULL);
  send_text (socket, junk);
}

static gpointer
connection_thread (gpointer data)
{
  g_autoptr(GSocket) socket = data;
  Server *server = g_object_get_data (G_OBJECT (socket), "server");

  for (;;)
    {
      g_autoptr(GString) head = g_string_new (NULL);
      gboolean head_request;

      if (!read_head (socket, head, server->stop))
        break;
      head_request = g_str_has_prefix (head->str, "HEAD ");
      if (strstr (head->str, " /hello ") != NULL)
        {
          send_text (socket, "HTTP/1.1 200 OK\r\n"
                             "Content-Type: Application/JSON; charset=utf-8\r\n"
                             "Link: </a>; rel=\"prev\"\r\n"
                             "link: </b>; rel=\"next\"\r\n"
                             "X-Folded: one\r\n two\r\n"
                             "Content-Length: 5\r\n\r\n");
          if (!head_request)
            send_text (socket, "hello");
        }
      else if (strstr (head->str, " /big ") != NULL)
        send_text (socket, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                           "0123456789012345678901234567890123456789012345678901234567890123456789"
                           "012345678901234567890123456789");
      else if (strstr (head->str, " /moved ") != NULL)
        send_text (socket, "HTTP/1.1 307 Temporary Redirect\r\nLocation: /hello\r\nContent-Length: 100\r\n\r\n"
                           "0123456789012345678901234567890123456789012345678901234567890123456789"
                           "012345678901234567890123456789");
      else if (strstr (head->str, " /chunked ") != NULL)
        send_text (socket, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
      else if (strstr (head->str, " /then-close ") != NULL)
        {
          /* Answers as if keeping the connection, then drops it: a
           * registry's idle time-out. */
          send_text (socket, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
          g_socket_shutdown (socket, TRUE, TRUE, NULL);
          break;
        }
      else if (strstr (head->str, " /gzip-empty ") != NULL)
        send_gzip (socket, "404 Not Found", NULL, NULL, "");
      else if (strstr (head->str, " /gzip-two ") != NULL)
        {
          g_autoptr(GBytes) first = gzip ("hel");
          g_autoptr(GBytes) second = gzip ("lo");

          send_gzip (socket, "200 OK", first, second, "");
        }
      else if (strstr (head->str, " /gzip-junk ") != NULL)
        {
          g_autoptr(GBytes) first = gzip ("hello");

          send_gzip (socket, "200 OK", first, NULL, "junk");
        }
      else if (strstr (head->str, " /gzip-cut ") != NULL)
        {
          g_autoptr(GBytes) whole = gzip ("hello, hello, hello");
          g_autoptr(GBytes) cut = g_bytes_new_from_bytes (whole, 0, g_bytes_get_size (whole) - 6);

          send_gzip (socket, "200 OK", cut, NULL, "");
        }
      else if (strstr (head->str, " /trickle ") != NULL)
        {
          /* A byte at a time, for as long as anyone reads. */
          send_text (socket, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
          for (guint i = 0; i < 100000 && !g_cancellable_is_cancelled (server->stop); i++)
            {
              if (g_socket_send (socket, "x", 1, NULL, NULL) != 1)
                break;
              g_usleep (50 * 1000);
            }
          break;
        }
      else if (strstr (head->str, " /then-drop-next ") != NULL)
        {
          g_autoptr(GString) next = g_string_new (NULL);

          /* Answers, keeps the connection, and closes it as the next
           * request arrives: a registry's idle time-out at the worst
           * moment. The request never reached anyone. */
          send_text (socket, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
          read_head (socket, next, server->stop);
          break;
        }
      else if (strstr (head->str, " /stall ") != NULL)
        {
          char c;

          /* Until the client gives up and closes. */
          g_socket_receive (socket, &c, 1, server->stop, NULL);
          break;
        }
      else
        send_text (socket, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
  g_socket_close (socket, NULL);
  g_mutex_lock (&server->lock);
  server->closed++;
  g_cond_broadcast (&server->cond);
  g_mutex_unlock (&server->lock);
  return NULL;
}

/* Waits (bounded) until the server has closed @n connections. */
static void
server_wait_closed (Server *server, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  g_mutex_lock (&server->lock);
  while (server->closed < n)
    g_assert_true (g_cond_wait_until (&server->cond, &server->lock, deadline));
  g_mutex_unlock (&server->lock);
}

static gpointer
accept_thread (gpointer data)
{
  Server *server = data;

  for (;;)
    {
      GSocket *socket = g_socket_accept (server->listener, server->stop, NULL);

      if (socket == NULL)
        break;
      g_atomic_int_inc (&server->accepted);
      g_object_set_data (G_OBJECT (socket), "server", server);
      g_ptr_array_add (server->connections, g_thread_new ("connection", connection_thread, socket));
    }
  return NULL;
}

static Server *
server_start (void)
{
  Server *server = g_new0 (Server, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  server->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_assert_true (g_socket_bind (server->listener, address, TRUE, NULL));
  g_assert_true (g_socket_listen (server->listener, NULL));
  bound = g_socket_get_local_address (server->listener, NULL);
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  server->stop = g_cancellable_new ();
  server->connections = g_ptr_array_new ();
  g_mutex_init (&server->lock);
  g_cond_init (&server->cond);
  server->thread = g_thread_new ("accept", accept_thread, server);
  return server;
}

static void
server_stop (Server *server)
{
  g_cancellable_cancel (server->stop);
  g_thread_join (server->thread);
  for (guint i = 0; i < server->connections->len; i++)
    g_thread_join (g_ptr_array_index (server->connections, i));
  g_ptr_array_unref (server->connections);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->cond);
  g_socket_close (server->listener, NULL);
  g_object_unref (server->listener);
  g_object_unref (server->stop);
  g_free (server);
}

static RiHttpSession *
session_new (void)
{
  RiHttpSessionOptions options = { .max_connections = 2, .timeout_s = 30, .tls_verify = TRUE,
                                   .user_agent = "test" };
  return ri_http_session_new (&options);
}

typedef struct {
  RiHttpResponse *response;
  GError *error;
  gboolean done;
} Result;

static void
send_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Result *r = user_data;

  r->response = ri_http_session_send_finish (RI_HTTP_SESSION (source), result, &r->error);
  r->done = TRUE;
}

/* Runs one exchange to its end; the main context is the test's own. */
static RiHttpResponse *
exchange_with (RiHttpSession *session, Server *server, const char *method, const char *path,
               const char * const *headers, gsize max_size, GCancellable *cancellable, GError **error)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", server->port, path);
  Result r = { 0 };

  ri_http_session_send_async (session, method, url, headers, max_size, cancellable, send_cb, &r);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  if (r.error != NULL)
    g_propagate_error (error, r.error);
  return r.response;
}

static RiHttpResponse *
exchange (RiHttpSession *session, Server *server, const char *method, const char *path, gsize max_size,
          GCancellable *cancellable, GError **error)
{
  return exchange_with (session, server, method, path, NULL, max_size, cancellable, error);
}

static void
test_response (void)
{
  Server *server = server_start ();
  g_autoptr(RiHttpSession) session = session_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RiHttpResponse) response = exchange (session, server, "GET", "/hello", 1000, NULL, &error);
  g_autofree char *links = NULL;
  g_autofree char *type = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpmem (g_bytes_get_data (response->body, NULL), g_bytes_get_size (response->body), "hello", 5);
  links = ri_http_response_get_list (response, "LINK");
  g_assert_cmpstr (links, ==, "</a>; rel=\"prev\", </b>; rel=\"next\"");
  type = ri_http_response_get_content_type (response);
  g_assert_cmpstr (type, ==, "application/json");
  g_assert_cmpstr (ri_http_response_get_header (response, "x-folded"), ==, "one two");
  g_assert_null (ri_http_response_get_header (response, "Location"));
  g_assert_null (ri_http_response_get_list (response, "Location"));

  g_clear_pointer (&response, ri_http_response_free);
  response = exchange (session, server, "HEAD", "/hello", 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_null (response->body);

  /* Both over one kept-alive connection. */
  g_assert_cmpint (g_atomic_int_get (&server->accepted), ==, 1);
  server_stop (server);
}

static void
test_size_limit (void)
{
  Server *server = server_start ();
  g_autoptr(RiHttpSession) session = session_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RiHttpResponse) response = NULL;

  /* Announced: refused before the body is read. */
  response = exchange (session, server, "GET", "/big", 99, NULL, &error);
  g_assert_null (response);
  g_assert_error (error, RI_ERROR, RI_ERROR_TOO_LARGE);
  g_assert_cmpstr (error->message, ==, "the response of 100 bytes is larger than the limit of 99 bytes");
  g_clear_error (&error);

  /* Not announced: refused as it grows past the limit. */
  response = exchange (session, server, "GET", "/chunked", 15, NULL, &error);
  g_assert_null (response);
  g_assert_error (error, RI_ERROR, RI_ERROR_TOO_LARGE);
  g_assert_cmpstr (error->message, ==, "the response is larger than the limit of 15 bytes");
  g_clear_error (&error);

  /* A redirect's body is neither kept nor held to the limit. */
  response = exchange (session, server, "GET", "/moved", 10, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 307);
  g_assert_cmpstr (ri_http_response_get_header (response, "Location"), ==, "/hello");
  g_assert_cmpuint (g_bytes_get_size (response->body), ==, 0);
  g_clear_pointer (&response, ri_http_response_free);

  /* At the limit exactly, both are whole. */
  response = exchange (session, server, "GET", "/chunked", 20, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (response->body), ==, 20);
  g_clear_pointer (&response, ri_http_response_free);
  response = exchange (session, server, "GET", "/big", 100, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (response->body), ==, 100);
  server_stop (server);
}

static void
test_connection_closed_while_idle (void)
{
  Server *server = server_start ();
  g_autoptr(RiHttpSession) session = session_new ();

  /* The idle connection each time was dropped by the server: the next
   * request comes on a new one, and never hangs on the dead one. */
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RiHttpResponse) response = exchange (session, server, "GET", "/then-close", 100, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (response->status, ==, 200);
      /* The idle socket stirs (end of file): it must be taken out of
       * the poll set, not keep the context busy. */
      server_wait_closed (server, i + 1);
      for (guint spins = 0; spins < 100 && g_main_context_iteration (NULL, FALSE); spins++)
        ;
      g_assert_false (g_main_context_pending (NULL));
    }
  g_assert_cmpint (g_atomic_int_get (&server->accepted), ==, 3);
  server_stop (server);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  Server *server = server_start ();
  g_autoptr(RiHttpSession) session = session_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RiHttpResponse) response = NULL;

  /* The server never answers: only the cancellable ends the wait. */
  g_idle_add (cancel_cb, cancellable);
  response = exchange (session, server, "GET", "/stall", 100, cancellable, &error);
  g_assert_null (response);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* Cancelled before it starts. */
  response = exchange (session, server, "GET", "/hello", 100, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* And the session goes on. */
  response = exchange (session, server, "GET", "/hello", 100, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 200);
  server_stop (server);
}

static gpointer
cancel_thread (gpointer cancellable)
{
  g_cancellable_cancel (cancellable);
  return NULL;
}

/* A scan gives all its requests one cancellable: cancelled from another
 * thread, it ends those in flight and those waiting for a connection,
 * and none of another cancellable's. */
static void
test_cancel_shared (void)
{
  Server *server = server_start ();
  g_autoptr(RiHttpSession) session = session_new ();
  g_autoptr(GCancellable) shared = g_cancellable_new ();
  g_autoptr(GCancellable) other = g_cancellable_new ();
  g_autofree char *stall = g_strdup_printf ("http://127.0.0.1:%u/stall", server->port);
  g_autofree char *hello = g_strdup_printf ("http://127.0.0.1:%u/hello", server->port);
  Result results[4] = { { 0 } };
  Result last = { 0 };

  /* Two in flight (the session's limit), two waiting. */
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    ri_http_session_send_async (session, "GET", stall, NULL, 100, shared, send_cb, &results[i]);
  ri_http_session_send_async (session, "GET", hello, NULL, 100, other, send_cb, &last);
  g_thread_join (g_thread_new ("cancel", cancel_thread, shared));
  /* Nothing else will happen: the server never answers, and no time-out
   * is near. So without waiting, the cancellation ends them all. */
  for (guint n = 0; n < 100; n++)
    g_main_context_iteration (NULL, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_assert_true (results[i].done);
      g_assert_error (results[i].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&results[i].error);
    }
  while (!last.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (last.error);
  g_assert_cmpuint (last.response->status, ==, 200);
  g_clear_pointer (&last.response, ri_http_response_free);

  /* Its handler went with its last transfer: the session goes on. */
  last.done = FALSE;
  ri_http_session_send_async (session, "GET", hello, NULL, 100, other, send_cb, &last);
  while (!last.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (last.error);
  g_clear_pointer (&last.response, ri_http_response_free);
  server_stop (server);
}

static void
test_gzip (void)
{
  Server *server = server_start ();
  g_autoptr(RiHttpSession) session = session_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RiHttpResponse) response = NULL;

  /* An empty body is empty, compressed or not: the status stands. */
  response = exchange (session, server, "GET", "/gzip-empty", 100, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 404);
  g_assert_cmpuint (g_bytes_get_size (response->body), ==, 0);
  g_clear_pointer (&response, ri_http_response_free);

  /* Members one after the other make one body (RFC 1952 2.2). */
  response = exchange (session, server, "GET", "/gzip-two", 100, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (response->body, NULL), g_bytes_get_size (response->body), "hello", 5);
  g_clear_pointer (&response, ri_http_response_free);

  /* The limit is on what it decompresses to. */
  response = exchange (session, server, "GET", "/gzip-two", 4, NULL, &error);
  g_assert_error (error, RI_ERROR, RI_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* Junk after the stream, or a stream cut short, is not a body. */
  response = exchange (session, server, "GET", "/gzip-junk", 100, NULL, &error);
  g_assert_error (error, RI_ERROR, RI_ERROR_PROTOCOL);
  g_clear_error (&error);
  response = exchange (session, server, "GET", "/gzip-cut", 100, NULL, &error);
  g_assert_error (error, RI_ERROR, RI_ERROR_PROTOCOL);
  g_clear_error (&error);
  server_stop (server);
}

static void
test_line_breaks_are_not_sent (void)
{
  Server *server = server_start ();
  g_autoptr(RiHttpSession) session = session_new ();
  g_autoptr(GError) error = NULL;
  const char *injected[] = { "Authorization: Bearer abc\r\nX-Injected: yes", NULL };
  g_autoptr(RiHttpResponse) response = exchange_with (session, server, "GET", "/hello", injected, 100, NULL,
                                                      &error);

  g_assert_null (response);
  g_assert_error (error, RI_ERROR, RI_ERROR_PROTOCOL);
  g_clear_error (&error);
  /* Nothing went out. (URLs cannot carry one: GUri escapes it.) */
  g_assert_cmpint (g_atomic_int_get (&server->accepted), ==, 0);
  server_stop (server);
}

static void
test_trickle_times_out (void)
{
  Server *server = server_start ();
  RiHttpSessionOptions options = { .max_connections = 2, .timeout_s = 1, .tls_verify = TRUE, .user_agent = "test" };
  g_autoptr(RiHttpSession) session = ri_http_session_new (&options);
  g_autoptr(GError) error = NULL;
  /* Never silent for a second, and never a KiB in one either. */
  g_autoptr(RiHttpResponse) response = exchange (session, server, "GET", "/trickle", 1000000, NULL, &error);

  g_assert_null (response);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_object (&session);
  server_stop (server);
}

static void
test_request_lost_on_a_closing_connection_is_resent (void)
{
  Server *server = server_start ();
  g_autoptr(RiHttpSession) session = session_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RiHttpResponse) response = exchange (session, server, "GET", "/then-drop-next", 100, NULL, &error);

  g_assert_no_error (error);
  g_clear_pointer (&response, ri_http_response_free);
  /* Sent on the kept connection, which the server closes unanswered:
   * sent again on a new one. */
  response = exchange (session, server, "GET", "/hello", 100, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpint (g_atomic_int_get (&server->accepted), ==, 2);
  server_stop (server);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-session/response", test_response);
  g_test_add_func ("/http-session/size-limit", test_size_limit);
  g_test_add_func ("/http-session/connection-closed-while-idle", test_connection_closed_while_idle);
  g_test_add_func ("/http-session/cancel", test_cancel);
  g_test_add_func ("/http-session/cancel-shared", test_cancel_shared);
  g_test_add_func ("/http-session/gzip", test_gzip);
  g_test_add_func ("/http-session/line-breaks-are-not-sent", test_line_breaks_are_not_sent);
  g_test_add_func ("/http-session/trickle-times-out", test_trickle_times_out);
  g_test_add_func ("/http-session/request-lost-on-a-closing-connection-is-resent",
                   test_request_lost_on_a_closing_connection_is_resent);
  return g_test_run ();
}
