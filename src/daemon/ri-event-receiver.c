#define G_LOG_DOMAIN "Events"

#include "config.h"

#include <string.h>

#include "ri-error.h"
#include "ri-event-receiver.h"
#include "ri-http-response.h"
#include "ri-registry-events.h"

/**
 * RiEventReceiver:
 *
 * POST /events: the notifications a Distribution registry sends when
 * something is pushed or deleted. Each push of a manifest or deletion
 * queues a refresh of that repository alone; the scheduler coalesces a
 * burst. A post is taken whole or not at all: malformed, unauthorised or
 * oversized posts get a 4xx and change nothing.
 */
struct _RiEventReceiver {
  GObject parent_instance;

  RiScheduler *scheduler;     /* (owned) */
  RiEventCounters counters;
};

G_DEFINE_TYPE (RiEventReceiver, ri_event_receiver, G_TYPE_OBJECT)

#define BODY_KEY "regindexer-event-body"

static void
ri_event_receiver_finalize (GObject *object)
{
  g_clear_object (&RI_EVENT_RECEIVER (object)->scheduler);
  G_OBJECT_CLASS (ri_event_receiver_parent_class)->finalize (object);
}

static void
ri_event_receiver_class_init (RiEventReceiverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ri_event_receiver_finalize;
}

static void
ri_event_receiver_init (RiEventReceiver *self)
{
}

RiEventReceiver *
ri_event_receiver_new (RiScheduler *scheduler)
{
  RiEventReceiver *self = g_object_new (RI_TYPE_EVENT_RECEIVER, NULL);

  self->scheduler = g_object_ref (scheduler);
  return self;
}

const RiEventCounters *
ri_event_receiver_get_counters (RiEventReceiver *self)
{
  return &self->counters;
}

static void
reject (RiEventReceiver *self, SoupServerMessage *msg, guint status, const char *message)
{
  self->counters.rejected++;
  g_message ("Refused a notification post from %s: %s",
             soup_server_message_get_remote_host (msg) ? soup_server_message_get_remote_host (msg) : "?",
             message);
  ri_http_respond_text (msg, status, "%s", message);
}

/* Compares without leaking, through timing, how much of a secret matched. */
static gboolean
equal_secret (const char *given, const char *secret)
{
  gsize length = strlen (secret);
  guint8 difference = strlen (given) != length;

  for (gsize i = 0; i < length; i++)
    difference |= (guint8) given[MIN (i, strlen (given))] ^ (guint8) secret[i];
  return difference == 0;
}

static gboolean
authorised (SoupServerMessage *msg, RiConfig *config)
{
  const char *token = config->daemon.http.events_token;
  const char *header;

  if (token == NULL)
    return TRUE;
  header = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization");
  return header != NULL && g_ascii_strncasecmp (header, "Bearer ", 7) == 0 && equal_secret (header + 7, token);
}

static void
got_chunk_cb (SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
  RiEventReceiver *self = user_data;
  GByteArray *body = g_object_get_data (G_OBJECT (msg), BODY_KEY);
  RiConfig *config = ri_scheduler_get_config (self->scheduler);

  if (body == NULL)
    return; /* refused already: the rest is read and dropped */
  if (body->len + g_bytes_get_size (chunk) > config->daemon.http.max_event_size)
    {
      g_object_set_data (G_OBJECT (msg), BODY_KEY, NULL);
      reject (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "The notification is larger than max_event_size");
      return;
    }
  g_byte_array_append (body, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
}

/* Before the body is read: refuse what cannot be taken, and keep the
 * body bounded as it arrives. */
void
ri_event_receiver_got_headers (RiEventReceiver *self, SoupServerMessage *msg, RiConfig *config)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const RiHttpConfig *http = &config->daemon.http;

  if (!http->events || strcmp (soup_server_message_get_method (msg), SOUP_METHOD_POST) != 0)
    return; /* answered by the normal handler */
  if (!authorised (msg, config))
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "WWW-Authenticate",
                                    "Bearer realm=\"regindexer\"");
      reject (self, msg, SOUP_STATUS_UNAUTHORIZED, "The notification lacks the configured bearer token");
      return;
    }
  if (soup_message_headers_get_content_length (headers) > (goffset) http->max_event_size)
    {
      reject (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "The notification is larger than max_event_size");
      return;
    }
  g_object_set_data_full (G_OBJECT (msg), BODY_KEY, g_byte_array_new (), (GDestroyNotify) g_byte_array_unref);
  g_signal_connect_object (msg, "got-chunk", G_CALLBACK (got_chunk_cb), self, 0);
}

static gboolean
same_authority (GUri *a, GUri *b)
{
  return a != NULL && b != NULL && g_uri_get_host (a) != NULL && g_uri_get_host (b) != NULL &&
         g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0 &&
         g_uri_get_port (a) == g_uri_get_port (b);
}

static GUri *
parse_with_default_port (const char *text)
{
  return g_uri_parse (text, G_URI_FLAGS_PARSE_RELAXED | G_URI_FLAGS_SCHEME_NORMALIZE, NULL);
}

/* The configured registry an event is about: the one named by
 * ?registry= on the notification URL, else the one at the host and port
 * of the event's target URL or request. */
static const char *
find_registry (RiConfig *config, const char *named, const RiRegistryEvent *event)
{
  g_autoptr(GUri) target = event->url ? parse_with_default_port (event->url) : NULL;
  g_autoptr(GUri) request = NULL;
  GHashTableIter iter;
  gpointer url;

  if (named != NULL)
    return g_hash_table_contains (config->registries, named) ? named : NULL;
  if (event->host != NULL)
    {
      g_autofree char *text = g_strconcat (target ? g_uri_get_scheme (target) : "http", "://", event->host, NULL);
      request = parse_with_default_port (text);
    }
  g_hash_table_iter_init (&iter, config->registries);
  while (g_hash_table_iter_next (&iter, &url, NULL))
    {
      g_autoptr(GUri) registry = parse_with_default_port (url);
      if (same_authority (registry, target) || (target == NULL && same_authority (registry, request)))
        return url;
    }
  return NULL;
}

void
ri_event_receiver_handle (RiEventReceiver *self, SoupServerMessage *msg, RiConfig *config)
{
  GByteArray *body = g_object_get_data (G_OBJECT (msg), BODY_KEY);
  const char *content_type;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *named = NULL;
  guint queued = 0, unmatched = 0;

  if (!config->daemon.http.events)
    {
      g_message ("A notification was posted to /events, but 'daemon: http: events' is not true");
      ri_http_respond_text (msg, SOUP_STATUS_NOT_FOUND, "This server takes no notifications");
      return;
    }
  if (strcmp (soup_server_message_get_method (msg), SOUP_METHOD_POST) != 0)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "POST");
      ri_http_respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Notifications are POSTed");
      return;
    }
  if (body == NULL)
    {
      /* 'events' was turned on by a reload while this post arrived. */
      ri_http_respond_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "The configuration changed; post again");
      return;
    }
  content_type = soup_message_headers_get_content_type (soup_server_message_get_request_headers (msg), &params);
  if (content_type == NULL ||
      (g_ascii_strcasecmp (content_type, RI_MEDIA_TYPE_EVENTS) != 0 &&
       g_ascii_strcasecmp (content_type, "application/json") != 0))
    {
      reject (self, msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
              "Notifications are " RI_MEDIA_TYPE_EVENTS " (or application/json)");
      return;
    }
  {
    const char *query = g_uri_get_query (soup_server_message_get_uri (msg));
    g_autoptr(GHashTable) form = query ? soup_form_decode (query) : NULL;
    const char *registry = form ? g_hash_table_lookup (form, "registry") : NULL;

    if (registry != NULL)
      {
        named = g_strdup (registry);
        /* The configuration spells registries without a trailing '/'. */
        while (g_str_has_suffix (named, "/"))
          named[strlen (named) - 1] = '\0';
        if (!g_hash_table_contains (config->registries, named))
          {
            g_autofree char *message = g_strdup_printf ("No index uses the registry '%s' named by ?registry=", named);
            reject (self, msg, SOUP_STATUS_BAD_REQUEST, message);
            return;
          }
      }
  }
  events = ri_registry_events_parse ((const char *) body->data, body->len, &error);
  if (events == NULL)
    {
      g_autofree char *message = g_strdup_printf ("Malformed notification: %s", error->message);
      reject (self, msg, SOUP_STATUS_BAD_REQUEST, message);
      return;
    }

  self->counters.posts++;
  self->counters.events += events->len;
  self->counters.last_post_us = g_get_real_time ();
  for (guint i = 0; i < events->len; i++)
    {
      RiRegistryEvent *event = g_ptr_array_index (events, i);
      const char *registry;
      g_autoptr(GError) local_error = NULL;

      if (!ri_registry_event_changes_content (event))
        continue;
      registry = find_registry (config, named, event);
      if (registry == NULL)
        {
          unmatched++;
          g_warning ("A %s of %s%s%s at %s matches no configured registry (add ?registry=URL to the "
                     "notification endpoint's URL when the registry is reached by another name)",
                     event->action, event->repository, event->tag ? ":" : "", event->tag ? event->tag : "",
                     event->url ? event->url : event->host ? event->host : "an unnamed registry");
          continue;
        }
      g_debug ("%s of %s%s%s on %s", event->action, event->repository, event->tag ? ":" : "",
               event->tag ? event->tag : "", registry);
      if (ri_scheduler_refresh (self->scheduler, registry, event->repository, &local_error) != 0)
        queued++;
      else if (g_error_matches (local_error, RI_ERROR, RI_ERROR_NOT_FOUND))
        g_debug ("Not refreshing: %s", local_error->message);
      else
        g_warning ("Cannot queue a refresh of %s: %s", event->repository, local_error->message);
    }
  self->counters.refreshes += queued;
  self->counters.unmatched += unmatched;
  ri_http_respond_text (msg, SOUP_STATUS_ACCEPTED, "%u events, %u refreshes queued, %u for no configured registry",
                        events->len, queued, unmatched);
}
