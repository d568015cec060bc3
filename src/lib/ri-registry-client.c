#define G_LOG_DOMAIN "Http"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "ri-auth-challenge.h"
#include "ri-http-session.h"
#include "ri-error.h"
#include "ri-http-fields.h"
#include "ri-json.h"
#include "ri-registry-client.h"

/**
 * RiRegistryClient:
 *
 * Everything about talking to one registry: a bounded queue of requests
 * over one RiHttpSession, authentication (Bearer tokens per scope, Basic),
 * TLS with an extra CA or a client certificate, redirects, time-outs,
 * retries, size limits, and error messages that name the URL.
 */

#define MAX_REDIRECTS 5
#define MAX_TOKEN_SIZE (1024 * 1024)
#define MAX_RETRY_AFTER_S 60
/* Back-off, all retries of one request together, may not exceed this. */
#define MAX_TOTAL_BACKOFF_MS (60 * 1000)
#define DEFAULT_TOKEN_LIFETIME_S 60

/* Requests wait for a slot in one queue per stage of a scan. The deeper
 * stage goes first: a manifest's config before the next tag list, so that
 * a scan's known work stays a short queue instead of thousands of
 * requests waiting behind the tag lists (peak memory), and the next
 * catalog page, which leads to the most work, before anything. */
#define N_QUEUES 4

static guint
queue_for_kind (RiRequestKind kind)
{
  switch (kind)
    {
    case RI_REQUEST_CATALOG:
      return 0;
    case RI_REQUEST_BLOB:
      return 1;
    case RI_REQUEST_MANIFEST:
    case RI_REQUEST_MANIFEST_HEAD:
      return 2;
    case RI_REQUEST_TAGS:
    case RI_REQUEST_TOKEN:
    case RI_REQUEST_N_KINDS:
    default:
      return 3;
    }
}

typedef enum {
  AUTH_NONE,
  AUTH_BASIC,
  AUTH_BEARER,
} AuthScheme;

typedef struct {
  char *value;              /* (owned) a secret */
  gint64 expires_us;        /* monotonic */
} Token;

struct _RiRegistryClient {
  GObject parent_instance;

  char *base_url;           /* (owned) */
  char *origin_host;        /* (owned) lower-cased */
  int origin_port;
  RiHttpSession *session;   /* (owned) */
  guint max_connections;
  guint retries;
  guint in_flight;
  GQueue waiting[N_QUEUES]; /* (element-type GTask) (owned) by queue_for_kind() */
  RiRequestStats stats;
  gboolean log_requests;    /* debug messages of this domain are shown */

  char *username;           /* (owned) (nullable) */
  char *password;           /* (owned) (nullable) a secret */
  gboolean has_client_certificate;

  AuthScheme auth;
  char *realm;              /* (owned) (nullable) */
  char *service;            /* (owned) (nullable) */
  GHashTable *tokens;       /* (owned) scope → Token */
  GHashTable *token_fetches;/* (owned) scope → TokenFetch in flight */
};

G_DEFINE_TYPE (RiRegistryClient, ri_registry_client, G_TYPE_OBJECT)

typedef struct {
  RiRequestKind kind;
  char *method;             /* (owned) */
  char *url;                /* (owned) what was asked for; named in errors */
  char *current_url;        /* (owned) after redirects */
  char *accept;             /* (owned) (nullable) */
  char *scope;              /* (owned) the token scope this request needs */
  gsize max_size;
  guint attempt;
  guint redirects;
  gboolean auth_retried;
  guint backoff_total_ms;
  RiHttpResponse *response; /* (owned) (nullable) of the last exchange */
} Request;

static void start_attempt (RiRegistryClient *self, GTask *task);
static void send_request (RiRegistryClient *self, GTask *task);

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
clear_secret (char **secret)
{
  if (*secret != NULL)
    memset (*secret, 0, strlen (*secret));
  g_clear_pointer (secret, g_free);
}

static void
token_free (Token *token)
{
  clear_secret (&token->value);
  g_free (token);
}

static void
request_reset (Request *request)
{
  g_clear_pointer (&request->response, ri_http_response_free);
}

static void
request_free (Request *request)
{
  request_reset (request);
  g_free (request->method);
  g_free (request->url);
  g_free (request->current_url);
  g_free (request->accept);
  g_free (request->scope);
  g_free (request);
}

static void
ri_registry_client_finalize (GObject *object)
{
  RiRegistryClient *self = RI_REGISTRY_CLIENT (object);

  /* Waiting tasks hold a reference on us, so none can be left. */
  for (guint i = 0; i < N_QUEUES; i++)
    g_assert (g_queue_is_empty (&self->waiting[i]));
  g_free (self->base_url);
  g_free (self->origin_host);
  g_clear_object (&self->session);
  g_free (self->username);
  clear_secret (&self->password);
  g_free (self->realm);
  g_free (self->service);
  g_hash_table_unref (self->tokens);
  /* Each fetch in flight holds a reference on us, so none can be left. */
  g_assert (g_hash_table_size (self->token_fetches) == 0);
  g_hash_table_unref (self->token_fetches);
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
  for (guint i = 0; i < N_QUEUES; i++)
    g_queue_init (&self->waiting[i]);
  self->tokens = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) token_free);
  self->token_fetches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

RiRegistryClient *
ri_registry_client_new (const RiRegistryConfig *config)
{
  RiRegistryClient *self = g_object_new (RI_TYPE_REGISTRY_CLIENT, NULL);
  g_autoptr(GUri) uri = g_uri_parse (config->url, G_URI_FLAGS_NONE, NULL);

  self->base_url = g_strdup (config->url);
  self->log_requests = !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);
  self->origin_host = uri ? g_ascii_strdown (g_uri_get_host (uri), -1) : g_strdup ("");
  self->origin_port = uri ? g_uri_get_port (uri) : -1;
  self->max_connections = MAX (1u, config->max_connections);
  self->retries = config->retries;
  self->username = g_strdup (config->username);
  self->password = g_strdup (config->password);
  self->has_client_certificate = config->client_certificate != NULL;

  {
    /* Connections are kept to the concurrency we queue at, plus the
     * token fetches; the time-out bounds connecting, each head and each
     * KiB of a body, so a stalled or trickling registry fails the
     * request instead of hanging the run. */
    RiHttpSessionOptions options = {
      .max_connections = self->max_connections + 2,
      .timeout_s = config->timeout_s,
      .tls_verify = config->tls_verify,
      .ca_certificate = config->ca_certificate,
      .client_certificate = config->client_certificate,
      .client_key = config->client_key,
      .user_agent = "regindexer/" PACKAGE_VERSION,
    };
    self->session = ri_http_session_new (&options);
  }
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
  g_autoptr(GPtrArray) links = NULL;

  if (header == NULL)
    return NULL;
  links = ri_http_list_parse (header);
  for (guint i = 0; i < links->len; i++)
    {
      const char *link = g_ptr_array_index (links, i);
      const char *open = strchr (link, '<');
      const char *close = open ? strchr (open, '>') : NULL;
      g_autoptr(GHashTable) params = NULL;
      g_autofree char *target = NULL;
      g_autofree char *resolved = NULL;
      const char *rel;

      if (open == NULL || close == NULL)
        continue;
      params = ri_http_params_parse (close + 1);
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
        return g_steal_pointer (&resolved);
    }
  return NULL;
}

/* Error responses of the Registry API carry {"errors":[{"code","message"}]};
 * the first one says more than the status line does. */
static char *
describe_error_body (GBytes *body)
{
  g_autoptr(JsonNode) document = ri_json_parse_bytes (body, 65536, 16, NULL);
  JsonNode *root = document;
  JsonArray *errors;
  JsonObject *first;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
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

/* The token scope a URL needs: registry:catalog:* for the catalog,
 * repository:NAME:pull for everything under /v2/NAME/. */
static char *
scope_for_url (RiRegistryClient *self, const char *url)
{
  const char *path = url + strlen (self->base_url);
  const char *end;

  if (!g_str_has_prefix (url, self->base_url) || !g_str_has_prefix (path, "/v2/"))
    return NULL;
  path += 4;
  if (g_str_has_prefix (path, "_catalog"))
    return g_strdup ("registry:catalog:*");
  for (end = path; *end; end++)
    if (g_str_has_prefix (end, "/tags/") || g_str_has_prefix (end, "/manifests/") ||
        g_str_has_prefix (end, "/blobs/"))
      return g_strdup_printf ("repository:%.*s:pull", (int) (end - path), path);
  return NULL;
}

static gboolean
is_origin (RiRegistryClient *self, const char *url)
{
  g_autoptr(GUri) uri = NULL;
  gsize length = strlen (self->base_url);

  /* The common case, without parsing: a path under the configured URL. */
  if (strncmp (url, self->base_url, length) == 0 && url[length] == '/')
    return TRUE;
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  return uri != NULL && g_ascii_strcasecmp (g_uri_get_host (uri), self->origin_host) == 0 &&
         g_uri_get_port (uri) == self->origin_port;
}

static void
release_slot (RiRegistryClient *self)
{
  g_assert (self->in_flight > 0);
  self->in_flight--;
  while (self->in_flight < self->max_connections)
    {
      g_autoptr(GTask) next = NULL;

      for (guint i = 0; i < N_QUEUES && next == NULL; i++)
        next = g_queue_pop_head (&self->waiting[i]);
      if (next == NULL)
        break;

      /* A cancelled scan's queue drains without a request. */
      if (g_task_return_error_if_cancelled (next))
        continue;
      self->in_flight++;
      start_attempt (self, next);
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

static void
fail_request (RiRegistryClient *self, GTask *task, gint code, const char *format, ...) G_GNUC_PRINTF (4, 5);

static void
fail_request (RiRegistryClient *self, GTask *task, gint code, const char *format, ...)
{
  Request *request = g_task_get_task_data (task);
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  /* In the journal with the URL and registry as fields of their own. */
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "REGINDEXER_REGISTRY", self->base_url,
                    "REGINDEXER_URL", request->url,
                    "MESSAGE", "%s %s: %s", request->method, request->url, message);
  finish_request (self, task, NULL,
                  g_error_new (RI_ERROR, code, "%s %s: %s", request->method, request->url, message));
}

/* Called when the back-off ends, or as soon as the cancellable fires. */
static gboolean
retry_cb (gpointer user_data)
{
  GTask *task = user_data;
  RiRegistryClient *self = g_task_get_source_object (task);

  if (g_task_return_error_if_cancelled (task))
    {
      release_slot (self);
      return G_SOURCE_REMOVE;
    }
  start_attempt (self, task);
  return G_SOURCE_REMOVE;
}

/* Schedules another attempt after exponential back-off with jitter (so
 * that many requests failing together do not come back together), or
 * after what Retry-After asked for; FALSE when the retries are spent. */
static gboolean
maybe_retry (RiRegistryClient *self, GTask *task, const char *why, gint retry_after_ms)
{
  Request *request = g_task_get_task_data (task);
  guint delay_ms;

  if (request->attempt > self->retries || g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    return FALSE;
  if (retry_after_ms >= 0)
    delay_ms = retry_after_ms;
  else
    {
      guint base = MIN (250u << MIN (request->attempt - 1, 6u), 8000u);
      delay_ms = base + g_random_int_range (0, base / 2 + 1);
    }
  if (request->backoff_total_ms + delay_ms > MAX_TOTAL_BACKOFF_MS)
    return FALSE;
  request->backoff_total_ms += delay_ms;
  {
    g_autofree char *text = g_strdup_printf ("%s %s: %s; retrying in %u ms (%u of %u)", request->method,
                                             request->url, why, delay_ms, request->attempt, self->retries);
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                      "REGINDEXER_REGISTRY", self->base_url,
                      "REGINDEXER_URL", request->url,
                      "MESSAGE", "%s", text);
  }
  self->stats.retries++;
  request_reset (request);
  {
    g_autoptr(GSource) timeout = g_timeout_source_new (delay_ms);
    GCancellable *cancellable = g_task_get_cancellable (task);

    /* A back-off can be as long as Retry-After asks: a cancelled run
     * (SIGTERM) must not sit it out. A ready child wakes its parent. */
    if (cancellable != NULL)
      {
        g_autoptr(GSource) cancelled = g_cancellable_source_new (cancellable);
        g_source_set_dummy_callback (cancelled);
        g_source_add_child_source (timeout, cancelled);
      }
    g_task_attach_source (task, timeout, retry_cb);
  }
  return TRUE;
}

static gint
parse_retry_after (const char *value)
{
  guint64 seconds;
  g_autoptr(GDateTime) date = NULL;

  if (value == NULL)
    return -1;
  if (g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT / 1000, &seconds, NULL))
    return seconds * 1000;
  date = ri_http_date_parse (value);
  if (date != NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      GTimeSpan span = g_date_time_difference (date, now);
      return span > 0 ? (gint) MIN (span / 1000, (GTimeSpan) G_MAXINT) : 0;
    }
  return -1;
}

static RiResponse *
response_new (Request *request)
{
  RiHttpResponse *exchange = request->response;
  RiResponse *response = g_new0 (RiResponse, 1);
  g_autofree char *links = ri_http_response_get_list (exchange, "Link");

  response->url = g_strdup (request->url);
  response->status = exchange->status;
  response->content_type = ri_http_response_get_content_type (exchange);
  response->docker_digest = g_strdup (ri_http_response_get_header (exchange, "Docker-Content-Digest"));
  response->next_url = ri_parse_link_next (links, request->current_url);
  return response;
}

static void
complete_with_status (RiRegistryClient *self, GTask *task)
{
  Request *request = g_task_get_task_data (task);
  g_autoptr(RiResponse) response = response_new (request);
  guint status = response->status;
  g_autofree char *detail = NULL;
  gint code;

  if (request->response->body != NULL)
    {
      self->stats.bytes += g_bytes_get_size (request->response->body);
      response->body = g_steal_pointer (&request->response->body);
    }

  if (status / 100 == 2)
    {
      finish_request (self, task, g_steal_pointer (&response), NULL);
      return;
    }

  if (status >= 500 || status == 429)
    {
      const char *header = ri_http_response_get_header (request->response, "Retry-After");
      gint retry_after_ms = status == 429 || status == 503 ? parse_retry_after (header) : -1;
      g_autofree char *why = g_strdup_printf ("HTTP %u %s", status, ri_http_status_phrase (status));

      if (retry_after_ms > MAX_RETRY_AFTER_S * 1000)
        {
          fail_request (self, task, RI_ERROR_REGISTRY, "%s, retry after %d s, more than the %d s we wait",
                        why, retry_after_ms / 1000, MAX_RETRY_AFTER_S);
          return;
        }
      if (maybe_retry (self, task, why, retry_after_ms))
        return;
    }

  detail = describe_error_body (response->body);
  code = status == 404 ? RI_ERROR_NOT_FOUND :
         status == 400 ? RI_ERROR_BAD_REQUEST :
         status == 401 || status == 403 ? RI_ERROR_DENIED : RI_ERROR_REGISTRY;
  fail_request (self, task, code, "HTTP %u %s%s%s", status, ri_http_status_phrase (status),
                detail ? ": " : "", detail ? detail : "");
}

static gboolean
is_cancelled (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* --- authentication --- */

static void fetch_token (RiRegistryClient *self, GTask *task, const char *challenge_scope);
static char *basic_authorization (RiRegistryClient *self);

static char *
describe_user (RiRegistryClient *self)
{
  return self->username ? g_strdup_printf ("for user '%s'", self->username) : g_strdup ("for anonymous access");
}

/* A 401: learn how the registry wants to be asked, and ask again once. */
static void
handle_unauthorized (RiRegistryClient *self, GTask *task)
{
  Request *request = g_task_get_task_data (task);
  g_autofree char *header = ri_http_response_get_list (request->response, "WWW-Authenticate");
  g_autoptr(GPtrArray) challenges = ri_auth_challenges_parse (header);
  RiAuthChallenge *bearer = NULL, *basic = NULL;
  g_autofree char *who = describe_user (self);

  for (guint i = 0; i < challenges->len; i++)
    {
      RiAuthChallenge *challenge = g_ptr_array_index (challenges, i);
      if (g_str_equal (challenge->scheme, "bearer") && bearer == NULL)
        bearer = challenge;
      else if (g_str_equal (challenge->scheme, "basic") && basic == NULL)
        basic = challenge;
    }

  if (request->auth_retried)
    {
      fail_request (self, task, RI_ERROR_DENIED, "401 unauthorized: the registry refused the %s %s",
                    self->auth == AUTH_BEARER ? "token" : "credentials", who);
      return;
    }
  request->auth_retried = TRUE;

  if (bearer != NULL && g_hash_table_lookup (bearer->params, "realm") != NULL)
    {
      const char *realm = g_hash_table_lookup (bearer->params, "realm");
      g_autoptr(GUri) realm_uri = g_uri_parse (realm, G_URI_FLAGS_NONE, NULL);

      if (realm_uri == NULL || (g_strcmp0 (g_uri_get_scheme (realm_uri), "https") != 0 &&
                                g_strcmp0 (g_uri_get_scheme (realm_uri), "http") != 0))
        {
          fail_request (self, task, RI_ERROR_PROTOCOL, "401 unauthorized with a token realm that is not "
                        "an http(s) URL: '%s'", realm);
          return;
        }
      self->auth = AUTH_BEARER;
      g_free (self->realm);
      self->realm = g_strdup (realm);
      g_free (self->service);
      self->service = g_strdup (g_hash_table_lookup (bearer->params, "service"));
      if (request->scope != NULL)
        g_hash_table_remove (self->tokens, request->scope);
      fetch_token (self, task, g_hash_table_lookup (bearer->params, "scope"));
      return;
    }
  if (basic != NULL)
    {
      if (self->username == NULL)
        {
          fail_request (self, task, RI_ERROR_DENIED, "401 unauthorized: the registry asks for a user and "
                        "password, and none is configured (see 'registries:' in the configuration)");
          return;
        }
      self->auth = AUTH_BASIC;
      send_request (self, task);
      return;
    }
  fail_request (self, task, RI_ERROR_DENIED, "401 unauthorized, with no Bearer or Basic challenge to answer");
}

/* One token fetch per scope, with every request that needs it waiting.
 * The fetch has a cancellable of its own: a waiter whose cancellable
 * fires stops waiting at once, and the fetch is only called off when
 * nobody waits for it any more. */
typedef struct _TokenFetch TokenFetch;

typedef struct {
  TokenFetch *fetch;        /* (unowned) owns this */
  GTask *task;              /* (owned) */
  GSource *cancelled;       /* (owned) (nullable) */
} TokenWaiter;

struct _TokenFetch {
  RiRegistryClient *self;   /* (owned) */
  char *scope;              /* (owned) */
  char *url;                /* (owned) */
  GCancellable *cancellable;/* (owned) */
  GPtrArray *waiters;       /* (owned) (element-type TokenWaiter) */
};

static void
token_waiter_free (TokenWaiter *waiter)
{
  if (waiter->cancelled != NULL)
    {
      g_source_destroy (waiter->cancelled);
      g_source_unref (waiter->cancelled);
    }
  g_object_unref (waiter->task);
  g_free (waiter);
}

static void
token_fetch_free (TokenFetch *fetch)
{
  g_ptr_array_unref (fetch->waiters);
  g_object_unref (fetch->self);
  g_free (fetch->scope);
  g_free (fetch->url);
  g_object_unref (fetch->cancellable);
  g_free (fetch);
}

/* No longer the scope's fetch: later requests start one of their own. */
static void
token_fetch_detach (TokenFetch *fetch)
{
  RiRegistryClient *self = fetch->self;

  if (g_hash_table_lookup (self->token_fetches, fetch->scope) == fetch)
    g_hash_table_remove (self->token_fetches, fetch->scope);
}

static gboolean
token_waiter_cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  TokenWaiter *waiter = user_data;
  TokenFetch *fetch = waiter->fetch;
  RiRegistryClient *self = fetch->self;
  g_autoptr(GTask) task = g_object_ref (waiter->task);

  g_ptr_array_remove_fast (fetch->waiters, waiter);
  if (fetch->waiters->len == 0)
    {
      token_fetch_detach (fetch);
      g_cancellable_cancel (fetch->cancellable);
    }
  release_slot (self);
  g_task_return_error_if_cancelled (task);
  return G_SOURCE_REMOVE;
}

static void
token_fetch_add_waiter (TokenFetch *fetch, GTask *task)
{
  TokenWaiter *waiter = g_new0 (TokenWaiter, 1);
  GCancellable *cancellable = g_task_get_cancellable (task);

  waiter->fetch = fetch;
  waiter->task = g_object_ref (task);
  if (cancellable != NULL)
    {
      waiter->cancelled = g_cancellable_source_new (cancellable);
      g_source_set_callback (waiter->cancelled, G_SOURCE_FUNC (token_waiter_cancelled_cb), waiter, NULL);
      g_source_attach (waiter->cancelled, g_task_get_context (task));
    }
  g_ptr_array_add (fetch->waiters, waiter);
}

static char *
parse_token_response (GBytes *body, gint64 *lifetime_s, GError **error)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonObject *object;
  JsonNode *node;
  const char *token;

  /* A token answer is a flat object; the bound keeps a hostile token
   * service from nesting its way past the stack. */
  root = node = ri_json_parse_bytes (body, G_MAXSSIZE, 16, &local_error);
  if (root == NULL)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the answer %s", local_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the answer is not a JSON object");
      return NULL;
    }
  object = json_node_get_object (node);
  token = json_object_get_string_member_with_default (object, "token", NULL);
  if (token == NULL || *token == '\0')
    token = json_object_get_string_member_with_default (object, "access_token", NULL);
  if (token == NULL || *token == '\0')
    {
      g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "the answer holds no token");
      return NULL;
    }
  node = json_object_get_member (object, "expires_in");
  *lifetime_s = node != NULL && json_node_get_value_type (node) == G_TYPE_INT64 && json_node_get_int (node) > 0
    ? json_node_get_int (node) : DEFAULT_TOKEN_LIFETIME_S;
  return g_strdup (token);
}

static void
token_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TokenFetch *fetch = user_data;
  RiRegistryClient *self = fetch->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(RiHttpResponse) response = ri_http_session_send_finish (RI_HTTP_SESSION (source), result, &error);
  GBytes *body = response ? response->body : NULL;
  g_autoptr(GPtrArray) waiters = NULL;
  g_autofree char *value = NULL;
  guint status = response ? response->status : 0;
  gint64 lifetime_s = 0;

  token_fetch_detach (fetch);
  /* Taken over, so that finishing one waiter cannot touch the others. */
  waiters = g_steal_pointer (&fetch->waiters);
  fetch->waiters = g_ptr_array_new ();
  for (guint i = 0; i < waiters->len; i++)
    {
      TokenWaiter *waiter = g_ptr_array_index (waiters, i);
      if (waiter->cancelled != NULL)
        g_source_destroy (waiter->cancelled);
    }

  if (body != NULL && status / 100 == 2)
    value = parse_token_response (body, &lifetime_s, &error);
  else if (body != NULL)
    {
      g_autofree char *who = describe_user (self);
      g_set_error (&error, RI_ERROR, status == 401 || status == 403 ? RI_ERROR_DENIED : RI_ERROR_REGISTRY,
                   "HTTP %u %s: the token realm refused %s", status, ri_http_status_phrase (status),
                   status == 401 || status == 403 ? who : "the request");
    }

  if (value != NULL)
    {
      Token *token = g_new0 (Token, 1);
      /* Renew a little early, so a token does not expire in flight. */
      gint64 margin_s = lifetime_s > 20 ? 10 : lifetime_s / 2;

      token->value = g_steal_pointer (&value);
      token->expires_us = g_get_monotonic_time () + (lifetime_s - margin_s) * G_USEC_PER_SEC;
      g_hash_table_replace (self->tokens, g_strdup (fetch->scope), token);
    }

  for (guint i = 0; i < waiters->len; i++)
    {
      GTask *task = ((TokenWaiter *) g_ptr_array_index (waiters, i))->task;

      if (error == NULL)
        send_request (self, task);
      else if (is_cancelled (error))
        finish_request (self, task, NULL, g_error_copy (error));
      else
        fail_request (self, task, error->domain == RI_ERROR ? error->code : RI_ERROR_REGISTRY,
                      "getting a token from %s: %s", fetch->url, error->message);
    }
  token_fetch_free (fetch);
}

/* Gets a token for the request's scope; one fetch per scope at a time,
 * with every request that needs it waiting for that one. */
static void
fetch_token (RiRegistryClient *self, GTask *task, const char *challenge_scope)
{
  Request *request = g_task_get_task_data (task);
  const char *scope = request->scope ? request->scope : "";
  TokenFetch *fetch = g_hash_table_lookup (self->token_fetches, scope);
  g_autoptr(GString) url = NULL;

  if (fetch != NULL)
    {
      token_fetch_add_waiter (fetch, task);
      return;
    }

  url = g_string_new (self->realm);
  g_string_append_c (url, strchr (self->realm, '?') ? '&' : '?');
  if (self->service != NULL)
    {
      g_string_append (url, "service=");
      g_string_append_uri_escaped (url, self->service, NULL, FALSE);
      g_string_append_c (url, '&');
    }
  g_string_append (url, "scope=");
  g_string_append_uri_escaped (url, challenge_scope && *challenge_scope ? challenge_scope : scope, NULL, FALSE);
  if (self->username != NULL)
    {
      g_string_append (url, "&account=");
      g_string_append_uri_escaped (url, self->username, NULL, FALSE);
    }

  fetch = g_new0 (TokenFetch, 1);
  fetch->self = g_object_ref (self);
  fetch->scope = g_strdup (scope);
  fetch->url = g_strdup (self->realm);
  fetch->cancellable = g_cancellable_new ();
  fetch->waiters = g_ptr_array_new_with_free_func ((GDestroyNotify) token_waiter_free);
  token_fetch_add_waiter (fetch, task);
  g_hash_table_insert (self->token_fetches, g_strdup (scope), fetch);
  /* Credentials go to the realm the registry named, and nowhere else:
   * the session follows no redirect. */
  {
    g_autofree char *authorization = self->username ? basic_authorization (self) : NULL;
    const char *headers[] = { authorization, NULL };

    self->stats.requests[RI_REQUEST_TOKEN]++;
    g_debug ("GET %s (token for %s)", self->realm, scope);
    ri_http_session_send_async (self->session, "GET", url->str, headers, MAX_TOKEN_SIZE,
                                fetch->cancellable, token_cb, fetch);
    clear_secret (&authorization);
  }
}

/* --- sending --- */

/* "Authorization: Basic ..." for the configured user; a secret. */
static char *
basic_authorization (RiRegistryClient *self)
{
  g_autofree char *pair = g_strdup_printf ("%s:%s", self->username, self->password ? self->password : "");
  g_autofree char *encoded = g_base64_encode ((const guchar *) pair, strlen (pair));
  char *header = g_strconcat ("Authorization: Basic ", encoded, NULL);

  clear_secret (&pair);
  clear_secret (&encoded);
  return header;
}

static void send_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void
send_request (RiRegistryClient *self, GTask *task)
{
  Request *request = g_task_get_task_data (task);
  g_autofree char *accept = NULL;
  g_autofree char *authorization = NULL;
  const char *headers[3] = { NULL, NULL, NULL };
  guint n = 0;

  g_clear_pointer (&request->response, ri_http_response_free);
  if (request->accept != NULL)
    headers[n++] = accept = g_strconcat ("Accept: ", request->accept, NULL);

  /* Credentials are for the registry: a redirect to object storage on
   * another host gets none. */
  if (is_origin (self, request->current_url))
    {
      if (self->auth == AUTH_BEARER && request->scope != NULL)
        {
          Token *token = g_hash_table_lookup (self->tokens, request->scope);
          if (token != NULL)
            authorization = g_strconcat ("Authorization: Bearer ", token->value, NULL);
        }
      else if (self->auth == AUTH_BASIC && self->username != NULL)
        authorization = basic_authorization (self);
    }
  if (authorization != NULL)
    headers[n++] = authorization;

  self->stats.requests[request->kind]++;
  /* Formatted only when someone reads it: this is once per request. */
  if (self->log_requests)
    g_debug ("%s %s", request->method, request->current_url);
  ri_http_session_send_async (self->session, request->method, request->current_url, headers, request->max_size,
                              g_task_get_cancellable (task), send_cb, g_object_ref (task));
  clear_secret (&authorization);
}

/* One attempt: with a token first when the registry is known to want one. */
static void
start_attempt (RiRegistryClient *self, GTask *task)
{
  Request *request = g_task_get_task_data (task);

  request->attempt++;
  request->auth_retried = FALSE;
  g_free (request->current_url);
  request->current_url = g_strdup (request->url);
  request->redirects = 0;

  if (self->auth == AUTH_BEARER && request->scope != NULL)
    {
      Token *token = g_hash_table_lookup (self->tokens, request->scope);
      if (token == NULL || token->expires_us <= g_get_monotonic_time ())
        {
          g_hash_table_remove (self->tokens, request->scope);
          fetch_token (self, task, NULL);
          return;
        }
    }
  send_request (self, task);
}

static char *
describe_send_error (RiRegistryClient *self, const GError *error)
{
  if (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE))
    return g_strdup_printf ("TLS: %s (for a private CA, set ca_certificate for %s under 'registries:')",
                            error->message, self->base_url);
  if (error->domain == G_TLS_ERROR)
    return g_strdup_printf ("TLS: %s (%s)", error->message,
                            self->has_client_certificate ? "the registry refused the handshake"
                                                         : "does the registry want a client_certificate?");
  return g_strdup (error->message);
}

static void
send_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  RiRegistryClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  guint status;

  request->response = ri_http_session_send_finish (RI_HTTP_SESSION (source), result, &error);
  if (request->response == NULL)
    {
      g_autofree char *why = NULL;

      if (is_cancelled (error))
        {
          finish_request (self, task, NULL, g_steal_pointer (&error));
          return;
        }
      /* Over the size limit: the same answer would come again. */
      if (error->domain == RI_ERROR)
        {
          fail_request (self, task, error->code, "%s", error->message);
          return;
        }
      why = describe_send_error (self, error);
      if (error->domain != G_TLS_ERROR && maybe_retry (self, task, why, -1))
        return;
      fail_request (self, task, RI_ERROR_REGISTRY, "%s", why);
      return;
    }

  status = request->response->status;
  if (status / 100 == 3 && status != 304)
    {
      const char *location = ri_http_response_get_header (request->response, "Location");
      g_autofree char *target = location ? g_uri_resolve_relative (request->current_url, location,
                                                                   G_URI_FLAGS_ENCODED, NULL) : NULL;

      if (target == NULL || (!g_str_has_prefix (target, "http://") && !g_str_has_prefix (target, "https://")))
        {
          fail_request (self, task, RI_ERROR_PROTOCOL, "HTTP %u without a usable Location", status);
          return;
        }
      if (++request->redirects > MAX_REDIRECTS)
        {
          fail_request (self, task, RI_ERROR_PROTOCOL, "more than %d redirects", MAX_REDIRECTS);
          return;
        }
      g_free (request->current_url);
      request->current_url = g_steal_pointer (&target);
      send_request (self, task);
      return;
    }

  if (status == 401 && is_origin (self, request->current_url))
    {
      handle_unauthorized (self, task);
      return;
    }
  complete_with_status (self, task);
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
  request->scope = scope_for_url (self, url);
  request->max_size = max_size;
  g_task_set_task_data (task, request, (GDestroyNotify) request_free);

  if (self->in_flight < self->max_connections)
    {
      self->in_flight++;
      start_attempt (self, task);
    }
  else
    g_queue_push_tail (&self->waiting[queue_for_kind (kind)], g_steal_pointer (&task));
}

RiResponse *
ri_registry_client_request_finish (RiRegistryClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, ri_registry_client_request_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
