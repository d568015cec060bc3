#define G_LOG_DOMAIN "Events"

#include "config.h"

#include <string.h>

#include "ri-error.h"
#include "ri-event-receiver.h"
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

static gboolean
reject (RiEventReceiver *self, GError **error, RiError code, const char *message)
{
  self->counters.rejected++;
  g_set_error_literal (error, RI_ERROR, code, message);
  return FALSE;
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
authorised (RiConfig *config, const char *authorization)
{
  const char *token = config->daemon.http.events_token;

  if (token == NULL)
    return TRUE;
  return authorization != NULL && g_ascii_strncasecmp (authorization, "Bearer ", 7) == 0 &&
         equal_secret (authorization + 7, token);
}

/* What can be refused before the body is read: events off (NOT_FOUND),
 * no token (DENIED), a declared length too large (TOO_LARGE; -1 when
 * none is declared). */
gboolean
ri_event_receiver_check_head (RiEventReceiver *self,
                              RiConfig        *config,
                              const char      *authorization,
                              gint64           content_length,
                              GError         **error)
{
  const RiHttpConfig *http = &config->daemon.http;

  if (!http->events)
    {
      g_set_error_literal (error, RI_ERROR, RI_ERROR_NOT_FOUND, "This server takes no notifications");
      return FALSE;
    }
  if (!authorised (config, authorization))
    return reject (self, error, RI_ERROR_DENIED, "The notification lacks the configured bearer token");
  if (content_length > (gint64) http->max_event_size)
    return reject (self, error, RI_ERROR_TOO_LARGE, "The notification is larger than max_event_size");
  return TRUE;
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

static gboolean
is_events_type (const char *content_type)
{
  g_autofree char *media = NULL;

  if (content_type == NULL)
    return FALSE;
  media = g_strndup (content_type, strcspn (content_type, ";"));
  g_strstrip (media);
  return g_ascii_strcasecmp (media, RI_MEDIA_TYPE_EVENTS) == 0 || g_ascii_strcasecmp (media, "application/json") == 0;
}

/* Takes one notification post: @registry is the ?registry= of its URL
 * (nullable), @body its @size bytes (NULL when more than max_event_size
 * arrived and were dropped). Returns a summary for the poster, or NULL
 * with an error in RI_ERROR: as ri_event_receiver_check_head(), and
 * PROTOCOL (not a notification's media type) or BAD_REQUEST. */
char *
ri_event_receiver_post (RiEventReceiver *self,
                        RiConfig        *config,
                        const char      *authorization,
                        const char      *content_type,
                        const char      *registry,
                        const char      *body,
                        gsize            size,
                        GError         **error)
{
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *named = NULL;
  guint queued = 0, unmatched = 0;

  if (!ri_event_receiver_check_head (self, config, authorization, (gint64) size, error))
    return NULL;
  if (!is_events_type (content_type))
    {
      reject (self, error, RI_ERROR_PROTOCOL,
              "Notifications are " RI_MEDIA_TYPE_EVENTS " (or application/json)");
      return NULL;
    }
  if (registry != NULL)
    {
      named = ri_config_normalize_registry_url (registry, NULL);
      if (named == NULL || !g_hash_table_contains (config->registries, named))
        {
          g_autofree char *message = g_strdup_printf ("No index uses the registry '%s' named by ?registry=", registry);
          reject (self, error, RI_ERROR_BAD_REQUEST, message);
          return NULL;
        }
    }
  /* json-glib refuses no data without saying why. */
  if (body == NULL || size == 0)
    {
      reject (self, error, RI_ERROR_BAD_REQUEST, "Malformed notification: the body is empty");
      return NULL;
    }
  events = ri_registry_events_parse (body, size, &local_error);
  if (events == NULL)
    {
      g_autofree char *message = g_strdup_printf ("Malformed notification: %s",
                                                  local_error ? local_error->message : "not JSON");
      reject (self, error, RI_ERROR_BAD_REQUEST, message);
      return NULL;
    }

  self->counters.posts++;
  self->counters.events += events->len;
  self->counters.last_post_us = g_get_real_time ();
  for (guint i = 0; i < events->len; i++)
    {
      RiRegistryEvent *event = g_ptr_array_index (events, i);
      const char *found;
      g_autoptr(GError) refresh_error = NULL;

      if (!ri_registry_event_changes_content (event))
        continue;
      found = find_registry (config, named, event);
      if (found == NULL)
        {
          unmatched++;
          g_warning ("A %s of %s%s%s at %s matches no configured registry (add ?registry=URL to the "
                     "notification endpoint's URL when the registry is reached by another name)",
                     event->action, event->repository, event->tag ? ":" : "", event->tag ? event->tag : "",
                     event->url ? event->url : event->host ? event->host : "an unnamed registry");
          continue;
        }
      g_debug ("%s of %s%s%s on %s", event->action, event->repository, event->tag ? ":" : "",
               event->tag ? event->tag : "", found);
      if (ri_scheduler_refresh (self->scheduler, found, event->repository, &refresh_error) != 0)
        queued++;
      else if (g_error_matches (refresh_error, RI_ERROR, RI_ERROR_NOT_FOUND))
        g_debug ("Not refreshing: %s", refresh_error->message);
      else
        g_warning ("Cannot queue a refresh of %s: %s", event->repository, refresh_error->message);
    }
  self->counters.refreshes += queued;
  self->counters.unmatched += unmatched;
  return g_strdup_printf ("%u events, %u refreshes queued, %u for no configured registry",
                          events->len, queued, unmatched);
}
