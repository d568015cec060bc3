#define G_LOG_DOMAIN "Fedmsg"

#include "config.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <zmq.h>

#include "ri-error.h"
#include "ri-fedmsg-subscriber.h"
#include "ri-json.h"
#include "ri-zmq-source.h"

#define MAX_PER_DISPATCH 64
#define MAX_MESSAGE_DEPTH 64

/**
 * RiFedmsgSubscriber:
 *
 * Subscribes to fedmsg (ZeroMQ PUB/SUB: a topic frame and a JSON body
 * frame) and emits `reindex` for a Bodhi compose of container or Flatpak
 * content. Reconnecting to a publisher that went away is left to ZeroMQ.
 */
struct _RiFedmsgSubscriber {
  GObject parent_instance;

  void *context;              /* (owned) */
  void *socket;               /* (owned) */
  GSource *source;            /* (owned) */
  GStrv endpoints;            /* (owned) */
  GStrv topics;               /* (owned) */
  RiFedmsgCounters counters;
};

G_DEFINE_TYPE (RiFedmsgSubscriber, ri_fedmsg_subscriber, G_TYPE_OBJECT)

enum {
  SIGNAL_REINDEX,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
ri_fedmsg_subscriber_finalize (GObject *object)
{
  RiFedmsgSubscriber *self = RI_FEDMSG_SUBSCRIBER (object);

  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_source_unref (self->source);
    }
  if (self->socket != NULL)
    {
      int linger = 0;
      zmq_setsockopt (self->socket, ZMQ_LINGER, &linger, sizeof linger);
      zmq_close (self->socket);
    }
  if (self->context != NULL)
    zmq_ctx_term (self->context);
  g_strfreev (self->endpoints);
  g_strfreev (self->topics);
  G_OBJECT_CLASS (ri_fedmsg_subscriber_parent_class)->finalize (object);
}

static void
ri_fedmsg_subscriber_class_init (RiFedmsgSubscriberClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ri_fedmsg_subscriber_finalize;

  signals[SIGNAL_REINDEX] =
    g_signal_new ("reindex", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
ri_fedmsg_subscriber_init (RiFedmsgSubscriber *self)
{
}

static char *
frame_text (GBytes *frame)
{
  gsize size;
  const char *data = g_bytes_get_data (frame, &size);

  if (size == 0)
    return g_strdup ("");
  if (!g_utf8_validate_len (data, size, NULL) || memchr (data, '\0', size) != NULL)
    return NULL;
  return g_strndup (data, size);
}

/* Decides what one message means; @reason says why it is not a match. */
RiFedmsgVerdict
ri_fedmsg_classify (GPtrArray *frames, gboolean truncated, const char * const *topics, char **reason)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *topic = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonNode *msg_node, *node;
  JsonObject *msg;
  const char *ctype;
  gsize size;
  const char *data;

  if (truncated)
    return *reason = g_strdup ("a frame is larger than max_message_size"), RI_FEDMSG_MALFORMED;
  if (frames->len != 2)
    return *reason = g_strdup_printf ("%u frames, not 2 (topic and body)", frames->len), RI_FEDMSG_MALFORMED;
  topic = frame_text (g_ptr_array_index (frames, 0));
  if (topic == NULL)
    return *reason = g_strdup ("the topic is not text"), RI_FEDMSG_MALFORMED;

  /* ZeroMQ subscriptions match prefixes; fedmsg topics match exactly. */
  if (!g_strv_contains (topics, topic))
    return *reason = g_strdup_printf ("topic '%s' is not subscribed to", topic), RI_FEDMSG_IGNORED;

  data = g_bytes_get_data (g_ptr_array_index (frames, 1), &size);
  /* Bounded: a message nested 200,000 levels deep overflowed the stack. */
  root = ri_json_parse_bounded (data, size, G_MAXSSIZE, MAX_MESSAGE_DEPTH, &error);
  if (root == NULL)
    return *reason = g_strdup_printf ("the body %s", error->message), RI_FEDMSG_MALFORMED;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return *reason = g_strdup ("the body is not a JSON object"), RI_FEDMSG_MALFORMED;
  msg_node = json_object_get_member (json_node_get_object (root), "msg");
  if (msg_node == NULL || !JSON_NODE_HOLDS_OBJECT (msg_node))
    return *reason = g_strdup ("the body has no 'msg' object"), RI_FEDMSG_MALFORMED;
  msg = json_node_get_object (msg_node);

  node = json_object_get_member (msg, "ctype");
  ctype = node != NULL && json_node_get_value_type (node) == G_TYPE_STRING ? json_node_get_string (node) : NULL;
  if (g_strcmp0 (ctype, "container") != 0 && g_strcmp0 (ctype, "flatpak") != 0)
    return *reason = g_strdup_printf ("content type '%s' is neither container nor flatpak",
                                      ctype ? ctype : "(none)"), RI_FEDMSG_IGNORED;

  node = json_object_get_member (msg, "success");
  if (node != NULL && json_node_get_value_type (node) == G_TYPE_BOOLEAN && !json_node_get_boolean (node))
    return *reason = g_strdup_printf ("the %s compose failed (success: false)", ctype), RI_FEDMSG_IGNORED_FAILED;

  *reason = g_strdup_printf ("%s compose of %s", ctype,
                             json_object_get_string_member_with_default (msg, "repo", "an unnamed repo"));
  return RI_FEDMSG_MATCHED;
}

static void
message_cb (GPtrArray *frames, gboolean truncated, gpointer user_data)
{
  RiFedmsgSubscriber *self = user_data;
  g_autofree char *reason = NULL;

  self->counters.received++;
  self->counters.last_received_us = g_get_real_time ();
  switch (ri_fedmsg_classify (frames, truncated, (const char * const *) self->topics, &reason))
    {
    case RI_FEDMSG_MATCHED:
      self->counters.matched++;
      g_message ("Reindexing after a fedmsg message: %s", reason);
      g_signal_emit (self, signals[SIGNAL_REINDEX], 0, reason);
      break;
    case RI_FEDMSG_IGNORED:
      self->counters.ignored++;
      g_debug ("Ignoring a fedmsg message: %s", reason);
      break;
    case RI_FEDMSG_IGNORED_FAILED:
      self->counters.ignored++;
      g_message ("Not reindexing: %s", reason);
      break;
    case RI_FEDMSG_MALFORMED:
      self->counters.malformed++;
      g_warning ("Dropping a malformed fedmsg message: %s", reason);
      break;
    }
}

static gboolean
fail_zmq (GError **error, const char *what, const char *detail)
{
  int saved_errno = errno;

  g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "fedmsg: cannot %s%s%s: %s", what,
               detail ? " " : "", detail ? detail : "", zmq_strerror (saved_errno));
  return FALSE;
}

RiFedmsgSubscriber *
ri_fedmsg_subscriber_new (const RiDaemonConfig *config, GError **error)
{
  g_autoptr(RiFedmsgSubscriber) self = g_object_new (RI_TYPE_FEDMSG_SUBSCRIBER, NULL);
  int reconnect = config->reconnect_interval_ms;
  /* A backstop far above the per-frame limit, which is checked (and
   * logged) when reading: a peer sending more is disconnected by libzmq. */
  int64_t max_size = MAX ((int64_t) config->max_message_size * 4, 64 * 1024 * 1024);

  self->endpoints = g_strdupv (config->endpoints);
  self->topics = g_strdupv (config->topics);
  self->context = zmq_ctx_new ();
  if (self->context == NULL)
    return fail_zmq (error, "create a ZeroMQ context", NULL), NULL;
  self->socket = zmq_socket (self->context, ZMQ_SUB);
  if (self->socket == NULL)
    return fail_zmq (error, "create a ZeroMQ socket", NULL), NULL;
  if (zmq_setsockopt (self->socket, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect) != 0 ||
      zmq_setsockopt (self->socket, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size) != 0)
    return fail_zmq (error, "configure the ZeroMQ socket", NULL), NULL;
  for (guint i = 0; self->topics[i]; i++)
    if (zmq_setsockopt (self->socket, ZMQ_SUBSCRIBE, self->topics[i], strlen (self->topics[i])) != 0)
      return fail_zmq (error, "subscribe to", self->topics[i]), NULL;
  for (guint i = 0; self->endpoints[i]; i++)
    if (zmq_connect (self->socket, self->endpoints[i]) != 0)
      return fail_zmq (error, "connect to", self->endpoints[i]), NULL;

  self->source = ri_zmq_source_new (self->socket, config->max_message_size, MAX_PER_DISPATCH,
                                    message_cb, self, NULL);
  if (self->source == NULL)
    return fail_zmq (error, "watch the ZeroMQ socket", NULL), NULL;
  g_source_attach (self->source, NULL);
  return g_steal_pointer (&self);
}

const RiFedmsgCounters *
ri_fedmsg_subscriber_get_counters (RiFedmsgSubscriber *self)
{
  return &self->counters;
}

void
ri_fedmsg_subscriber_set_counters (RiFedmsgSubscriber *self, const RiFedmsgCounters *counters)
{
  self->counters = *counters;
}

GStrv
ri_fedmsg_subscriber_get_endpoints (RiFedmsgSubscriber *self)
{
  return self->endpoints;
}

GStrv
ri_fedmsg_subscriber_get_topics (RiFedmsgSubscriber *self)
{
  return self->topics;
}
