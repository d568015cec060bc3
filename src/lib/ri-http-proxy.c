#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ri-error.h"
#include "ri-http-proxy.h"

void
ri_http_proxy_free (RiHttpProxy *proxy)
{
  g_free (proxy->host);
  if (proxy->authorization != NULL)
    memset (proxy->authorization, 0, strlen (proxy->authorization));
  g_free (proxy->authorization);
  g_free (proxy);
}

static const char *
getenv_either (const char *lower, const char *upper)
{
  const char *value = g_getenv (lower);

  if ((value == NULL || *value == '\0') && upper != NULL)
    value = g_getenv (upper);
  return value && *value ? value : NULL;
}

/* no_proxy: names that match themselves and their subdomains (with or
 * without a leading dot), addresses and address ranges, or "*". */
static gboolean
is_exempt (const char *host)
{
  const char *list = getenv_either ("no_proxy", "NO_PROXY");
  g_auto(GStrv) entries = NULL;
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (host);
  gsize host_length = strlen (host);

  if (list == NULL)
    return FALSE;
  entries = g_strsplit (list, ",", -1);
  for (guint i = 0; entries[i]; i++)
    {
      char *entry = g_strstrip (entries[i]);
      gsize n;

      if (g_str_equal (entry, "*"))
        return TRUE;
      if (*entry == '.')
        entry++;
      n = strlen (entry);
      if (n == 0)
        continue;
      if (address != NULL)
        {
          g_autoptr(GInetAddressMask) mask = g_inet_address_mask_new_from_string (entry, NULL);

          if (mask != NULL && g_inet_address_mask_matches (mask, address))
            return TRUE;
          continue;
        }
      if (host_length == n ? g_ascii_strcasecmp (host, entry) == 0
                           : host_length > n && host[host_length - n - 1] == '.' &&
                             g_ascii_strcasecmp (host + host_length - n, entry) == 0)
        return TRUE;
    }
  return FALSE;
}

/* Sets *proxy to the one to go through for scheme://host, or to NULL for
 * none. curl's rules: http_proxy only in lower case (the upper case can be
 * set by a CGI client), https_proxy, then all_proxy; a proxy without a
 * scheme speaks HTTP, and one without a port listens on 1080. */
gboolean
ri_http_proxy_for (const char *scheme, const char *host, RiHttpProxy **proxy, GError **error)
{
  const char *value = g_str_equal (scheme, "https") ? getenv_either ("https_proxy", "HTTPS_PROXY")
                                                    : getenv_either ("http_proxy", NULL);
  g_autofree char *with_scheme = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;
  RiHttpProxy *result;

  *proxy = NULL;
  if (value == NULL)
    value = getenv_either ("all_proxy", "ALL_PROXY");
  if (value == NULL || is_exempt (host))
    return TRUE;
  with_scheme = strstr (value, "://") ? g_strdup (value) : g_strconcat ("http://", value, NULL);
  uri = g_uri_parse (with_scheme, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED_PATH, &local_error);
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      /* Never the value itself: it may hold a password. */
      g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "the proxy for %s:// in the environment is not a URL",
                   scheme);
      return FALSE;
    }
  if (g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") != 0)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "the proxy for %s:// in the environment is a %s:// one; "
                   "only http:// proxies are supported", scheme, g_uri_get_scheme (uri));
      return FALSE;
    }
  result = g_new0 (RiHttpProxy, 1);
  result->host = g_strdup (g_uri_get_host (uri));
  result->port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 1080;
  if (g_uri_get_user (uri) != NULL)
    {
      g_autofree char *user = g_uri_unescape_string (g_uri_get_user (uri), NULL);
      g_autofree char *password = g_uri_get_password (uri) ? g_uri_unescape_string (g_uri_get_password (uri), NULL)
                                                           : g_strdup ("");
      g_autofree char *pair = g_strconcat (user ? user : "", ":", password ? password : "", NULL);
      g_autofree char *encoded = g_base64_encode ((const guchar *) pair, strlen (pair));

      result->authorization = g_strconcat ("Basic ", encoded, NULL);
      memset (pair, 0, strlen (pair));
      if (password != NULL)
        memset (password, 0, strlen (password));
      memset (encoded, 0, strlen (encoded));
    }
  *proxy = result;
  return TRUE;
}
