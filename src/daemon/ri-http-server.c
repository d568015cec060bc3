#define G_LOG_DOMAIN "Http"

#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "ri-event-receiver.h"
#include "ri-http-response.h"
#include "ri-http-server.h"
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
 */
struct _RiHttpServer {
  GObject parent_instance;

  RiScheduler *scheduler;     /* (owned) */
  SoupServer *server;         /* (owned) (nullable) while not listening */
  GStrv listening;            /* (owned) (nullable) the addresses server listens on */
  RiIndexAnswers *answers;    /* (owned) */
  RiEventReceiver *events;    /* (owned) */
  guint64 requests;
  guint64 not_found;
};

G_DEFINE_TYPE (RiHttpServer, ri_http_server, G_TYPE_OBJECT)

static void
ri_http_server_dispose (GObject *object)
{
  RiHttpServer *self = RI_HTTP_SERVER (object);

  if (self->server != NULL)
    soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  G_OBJECT_CLASS (ri_http_server_parent_class)->dispose (object);
}

static void
ri_http_server_finalize (GObject *object)
{
  RiHttpServer *self = RI_HTTP_SERVER (object);

  g_strfreev (self->listening);
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

/* XX/REST.png, 2 + 62 lower-case hex digits: nothing else reaches the disk. */
static gboolean
is_icon_name (const char *name)
{
  if (strlen (name) != 2 + 1 + 62 + 4 || name[2] != '/' || !g_str_has_suffix (name, ".png"))
    return FALSE;
  for (guint i = 0; i < 2 + 1 + 62; i++)
    if (i != 2 && !(g_ascii_isdigit (name[i]) || (name[i] >= 'a' && name[i] <= 'f')))
      return FALSE;
  return TRUE;
}

static void
serve_icon (SoupServerMessage *msg, RiConfig *config, const char *name)
{
  g_autofree char *path = g_build_filename (config->icons_dir, name, NULL);
  g_autofree char *etag = g_strdup_printf ("\"%.2s%.62s\"", name, name + 3);
  g_autoptr(GMappedFile) file = NULL;
  g_autoptr(GBytes) bytes = NULL;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  file = g_mapped_file_new (path, FALSE, NULL);
  if (file == NULL)
    {
      ri_http_respond_text (msg, SOUP_STATUS_NOT_FOUND, "No such icon");
      return;
    }
  /* Content-addressed: what is at this URL never changes. */
  soup_message_headers_replace (headers, "Cache-Control", "public, max-age=31536000, immutable");
  soup_message_headers_replace (headers, "ETag", etag);
  if (ri_http_etag_matches (msg, etag))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_MODIFIED, NULL);
      return;
    }
  bytes = g_mapped_file_get_bytes (file);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "image/png", SOUP_MEMORY_COPY, NULL, 0);
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), bytes);
}

static gboolean
is_read (SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    return TRUE;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
  ri_http_respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Only GET and HEAD are answered here");
  return FALSE;
}

static void
handler_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  RiHttpServer *self = user_data;
  RiConfig *config = ri_scheduler_get_config (self->scheduler);
  GPtrArray *serve = config->daemon.http.serve;
  g_autofree char *icons = NULL;

  self->requests++;
  if (g_str_equal (path, "/events"))
    {
      ri_event_receiver_handle (self->events, msg, config);
      return;
    }
  for (guint i = 0; i < serve->len; i++)
    {
      const RiHttpServe *entry = g_ptr_array_index (serve, i);
      const char *rest;

      if (!g_str_has_prefix (path, entry->prefix))
        continue;
      rest = path + strlen (entry->prefix);
      if (g_str_equal (rest, "index/static") || g_str_equal (rest, "index/dynamic"))
        {
          if (is_read (msg))
            ri_index_answers_handle (self->answers, msg, config, entry, g_str_equal (rest, "index/dynamic"));
          return;
        }
    }
  icons = icons_path (config);
  if (icons != NULL && g_str_has_prefix (path, icons) && is_icon_name (path + strlen (icons)))
    {
      if (is_read (msg))
        serve_icon (msg, config, path + strlen (icons));
      return;
    }
  self->not_found++;
  ri_http_respond_text (msg, SOUP_STATUS_NOT_FOUND, "Nothing is served at %s", path);
}

/* libsoup before 3.3 never notices that a client closed a kept-alive
 * connection, and keeps its socket for ever (libsoup commit d20c6601):
 * a daemon taking a registry's notifications runs out of descriptors
 * within hours. There, every answer closes its connection. */
static gboolean
server_leaks_idle_connections (void)
{
  return soup_get_major_version () == 3 && soup_get_minor_version () < 3;
}

/* Before any body is read: no request body is kept in memory (libsoup
 * would keep any size), except a notification's, which the receiver
 * takes as it arrives, up to its limit. */
static void
early_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  RiHttpServer *self = user_data;

  if (server_leaks_idle_connections ())
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  if (g_str_equal (path, "/events"))
    ri_event_receiver_got_headers (self->events, msg, ri_scheduler_get_config (self->scheduler));
}

static SoupServer *
start_listening (RiHttpServer *self, GStrv listen, GError **error)
{
  g_autofree char *header = g_strdup_printf ("regindexer/%s", PACKAGE_VERSION);
  g_autoptr(SoupServer) server = soup_server_new ("server-header", header, NULL);

  /* Early and normal handlers pair up by path: each path needs both. */
  soup_server_add_early_handler (server, NULL, early_cb, self, NULL);
  soup_server_add_handler (server, NULL, handler_cb, self, NULL);
  soup_server_add_early_handler (server, "/events", early_cb, self, NULL);
  soup_server_add_handler (server, "/events", handler_cb, self, NULL);
  for (guint i = 0; listen[i]; i++)
    {
      const char *colon = strrchr (listen[i], ':');
      g_autofree char *host = g_strndup (listen[i], colon - listen[i]);
      g_autoptr(GSocketAddress) address = NULL;

      if (host[0] == '[')
        {
          memmove (host, host + 1, strlen (host));
          host[strlen (host) - 1] = '\0';
        }
      address = g_inet_socket_address_new_from_string (host, (guint) g_ascii_strtoull (colon + 1, NULL, 10));
      if (address == NULL || !soup_server_listen (server, address, 0, error))
        {
          if (address == NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not an address");
          g_prefix_error (error, "Cannot listen on %s: ", listen[i]);
          soup_server_disconnect (server);
          return NULL;
        }
    }
  return g_steal_pointer (&server);
}

/* Listens where @config says. The addresses may overlap the current
 * ones, so those are given up first; when the new ones cannot be had,
 * the old ones are taken back. */
gboolean
ri_http_server_listen (RiHttpServer *self, RiConfig *config, GError **error)
{
  GStrv listen = config->daemon.http.listen;
  g_auto(GStrv) previous = NULL;
  SoupServer *server;

  if (self->listening != NULL && g_strv_equal ((const char * const *) self->listening, (const char * const *) listen))
    return TRUE;
  if (self->listening == NULL && listen[0] == NULL)
    return TRUE;
  if (self->server != NULL)
    {
      soup_server_disconnect (self->server);
      g_clear_object (&self->server);
      previous = g_steal_pointer (&self->listening);
    }
  if (listen[0] == NULL)
    {
      g_message ("No longer answering HTTP");
      return TRUE;
    }
  server = start_listening (self, listen, error);
  if (server == NULL && previous != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      self->server = start_listening (self, previous, &local_error);
      if (self->server != NULL)
        self->listening = g_steal_pointer (&previous);
      else
        g_warning ("Cannot listen on the previous addresses again either: %s", local_error->message);
      return FALSE;
    }
  if (server == NULL)
    return FALSE;
  self->server = server;
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

  counters->requests = self->requests;
  counters->not_found = self->not_found;
  counters->queries = answers->queries;
  counters->not_modified = answers->not_modified;
  counters->rendered = answers->rendered;
  counters->bad_queries = answers->bad_queries;
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
