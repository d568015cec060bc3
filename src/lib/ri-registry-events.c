#define G_LOG_DOMAIN "Events"

#include "config.h"

#include <json-glib/json-glib.h>

#include "ri-error.h"
#include "ri-json.h"
#include "ri-names.h"
#include "ri-registry-events.h"

/* The receiver bounds the body by max_event_size; these bound what a
 * caller without such a limit could hand in. An envelope nests four
 * levels. */
#define MAX_ENVELOPE_SIZE (64 * 1024 * 1024)
#define MAX_ENVELOPE_DEPTH 32

void
ri_registry_event_free (RiRegistryEvent *event)
{
  g_free (event->action);
  g_free (event->repository);
  g_free (event->tag);
  g_free (event->digest);
  g_free (event->media_type);
  g_free (event->url);
  g_free (event->host);
  g_free (event);
}

/* A string member, or NULL when absent, null or empty; FALSE when it is
 * there but not a string. */
static gboolean
get_string (JsonObject *object, const char *name, char **out)
{
  JsonNode *node = json_object_get_member (object, name);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  if (*json_node_get_string (node) != '\0')
    *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static JsonObject *
get_object (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static RiRegistryEvent *
parse_event (JsonNode *node, guint position, GError **error)
{
  g_autoptr(RiRegistryEvent) event = g_new0 (RiRegistryEvent, 1);
  JsonObject *object, *target, *request;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "event %u is not an object", position);
      return NULL;
    }
  object = json_node_get_object (node);
  target = get_object (object, "target");
  request = get_object (object, "request");
  if (!get_string (object, "action", &event->action) || event->action == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "event %u has no action", position);
      return NULL;
    }
  if (target == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "event %u has no target", position);
      return NULL;
    }
  if (!get_string (target, "repository", &event->repository) || !get_string (target, "tag", &event->tag) ||
      !get_string (target, "digest", &event->digest) || !get_string (target, "mediaType", &event->media_type) ||
      !get_string (target, "url", &event->url) ||
      (request != NULL && !get_string (request, "host", &event->host)))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "event %u has a member that is not a string", position);
      return NULL;
    }
  if (event->repository == NULL || !ri_repository_name_is_valid (event->repository))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "event %u does not name a valid repository", position);
      return NULL;
    }
  if (event->tag != NULL && !ri_tag_is_valid (event->tag))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "event %u has an invalid tag", position);
      return NULL;
    }
  return g_steal_pointer (&event);
}

/* Parses a notification envelope ({"events": […]}); every event must be
 * well-formed, or nothing is taken. */
GPtrArray *
ri_registry_events_parse (const char *data, gsize length, GError **error)
{
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) ri_registry_event_free);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = ri_json_parse_bounded (data, length, MAX_ENVELOPE_SIZE, MAX_ENVELOPE_DEPTH,
                                                    &local_error);
  JsonNode *list;

  if (root == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "the body %s", local_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root) ||
      (list = json_object_get_member (json_node_get_object (root), "events")) == NULL ||
      !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST,
                   "the body is not a notification envelope: it needs an \"events\" array");
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (json_node_get_array (list)); i++)
    {
      RiRegistryEvent *event = parse_event (json_array_get_element (json_node_get_array (list), i), i, error);
      if (event == NULL)
        return NULL;
      g_ptr_array_add (events, event);
    }
  return g_steal_pointer (&events);
}

/* Whether the event may change what an index holds: a manifest pushed
 * (by tag or digest) or anything deleted. Blob pushes come before their
 * manifest's push, and pulls are what scanning itself causes. */
gboolean
ri_registry_event_changes_content (const RiRegistryEvent *event)
{
  if (g_str_equal (event->action, "delete"))
    return TRUE;
  if (!g_str_equal (event->action, "push"))
    return FALSE;
  return event->tag != NULL ||
         (event->media_type != NULL &&
          (ri_media_type_is_image (event->media_type) || ri_media_type_is_list (event->media_type)));
}
