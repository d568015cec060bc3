#include "config.h"

#include <nettle/sha2.h>
#include <string.h>

#include "ri-names.h"

/* The grammars of the Distribution specification. Names from the network
 * end up in URLs and log lines, so anything else is refused up front. */

static gboolean
is_lower_alnum (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*
 * separator := [_.] | __ | [-]+ */
static gboolean
component_is_valid (const char *start, const char *end)
{
  const char *p = start;

  if (p == end || !is_lower_alnum (*p))
    return FALSE;
  while (p < end)
    {
      if (is_lower_alnum (*p))
        {
          p++;
          continue;
        }
      if (*p == '.' || (*p == '_' && !(p + 1 < end && p[1] == '_')))
        p++;
      else if (*p == '_')
        p += 2;
      else if (*p == '-')
        while (p < end && *p == '-')
          p++;
      else
        return FALSE;
      if (p == end || !is_lower_alnum (*p))
        return FALSE;
    }
  return TRUE;
}

gboolean
ri_repository_name_is_valid (const char *name)
{
  gsize length = strlen (name);
  const char *start = name;

  if (length == 0 || length > 255)
    return FALSE;
  for (;;)
    {
      const char *slash = strchr (start, '/');
      const char *end = slash ? slash : name + length;
      if (!component_is_valid (start, end))
        return FALSE;
      if (slash == NULL)
        return TRUE;
      start = slash + 1;
    }
}

gboolean
ri_tag_is_valid (const char *tag)
{
  gsize length = strlen (tag);

  if (length == 0 || length > 128 || !(g_ascii_isalnum (tag[0]) || tag[0] == '_'))
    return FALSE;
  for (gsize i = 1; i < length; i++)
    if (!g_ascii_isalnum (tag[i]) && tag[i] != '_' && tag[i] != '.' && tag[i] != '-')
      return FALSE;
  return TRUE;
}

gboolean
ri_digest_is_valid (const char *digest)
{
  if (!g_str_has_prefix (digest, "sha256:") || strlen (digest) != 7 + 64)
    return FALSE;
  for (const char *p = digest + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return FALSE;
  return TRUE;
}

/* The algorithms the OCI image spec registers, with their hex lengths.
 * Hashing is nettle's rather than GChecksum's: every manifest and config
 * is hashed when fetched and again when read from the cache, and nettle
 * uses the CPU's SHA instructions where there are any (about 6 times
 * GChecksum's speed on this project's machines). */
typedef enum {
  ALGORITHM_SHA256,
  ALGORITHM_SHA512,
} Algorithm;

static const struct {
  const char *prefix;
  gsize hex_length;
} digest_algorithms[] = {
  [ALGORITHM_SHA256] = { "sha256:", 2 * SHA256_DIGEST_SIZE },
  [ALGORITHM_SHA512] = { "sha512:", 2 * SHA512_DIGEST_SIZE },
};

/* @prefix, then @length bytes of @hash in lower-case hex. */
static char *
hex_text (const char *prefix, const guint8 *hash, gsize length)
{
  static const char digits[] = "0123456789abcdef";
  gsize prefix_length = strlen (prefix);
  char *text = g_malloc (prefix_length + 2 * length + 1);
  char *p = text + prefix_length;

  memcpy (text, prefix, prefix_length);
  for (gsize i = 0; i < length; i++)
    {
      *p++ = digits[hash[i] >> 4];
      *p++ = digits[hash[i] & 0xf];
    }
  *p = '\0';
  return text;
}

/* @prefix, then the hash of @data in hex. */
static char *
compute (Algorithm algorithm, const char *prefix, const void *data, gsize size)
{
  guint8 hash[SHA512_DIGEST_SIZE];

  if (algorithm == ALGORITHM_SHA512)
    {
      struct sha512_ctx context;
      sha512_init (&context);
      sha512_update (&context, size, data);
      sha512_digest (&context, SHA512_DIGEST_SIZE, hash);
      return hex_text (prefix, hash, SHA512_DIGEST_SIZE);
    }
  else
    {
      struct sha256_ctx context;
      sha256_init (&context);
      sha256_update (&context, size, data);
      sha256_digest (&context, SHA256_DIGEST_SIZE, hash);
      return hex_text (prefix, hash, SHA256_DIGEST_SIZE);
    }
}

char *
ri_digest_compute (GBytes *bytes)
{
  gsize size = 0;
  const void *data = bytes ? g_bytes_get_data (bytes, &size) : NULL;

  return compute (ALGORITHM_SHA256, digest_algorithms[ALGORITHM_SHA256].prefix, data, size);
}

char *
ri_sha256_hex (const void *data, gsize size)
{
  return compute (ALGORITHM_SHA256, "", data, size);
}

static int
digest_algorithm (const char *digest)
{
  for (guint i = 0; i < G_N_ELEMENTS (digest_algorithms); i++)
    {
      gsize prefix_length = strlen (digest_algorithms[i].prefix);

      if (!g_str_has_prefix (digest, digest_algorithms[i].prefix) ||
          strlen (digest) != prefix_length + digest_algorithms[i].hex_length)
        continue;
      for (const char *p = digest + prefix_length; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
          return -1;
      return i;
    }
  return -1;
}

/* A well-formed digest of a registered algorithm (sha256 or sha512). */
gboolean
ri_digest_is_supported (const char *digest)
{
  return digest != NULL && digest_algorithm (digest) >= 0;
}

/* The digest of @bytes with the algorithm of @expected (which must be
 * supported), for comparing with it. */
char *
ri_digest_compute_as (GBytes *bytes, const char *expected)
{
  int i = digest_algorithm (expected);
  gsize size = 0;
  const void *data = bytes ? g_bytes_get_data (bytes, &size) : NULL;

  g_return_val_if_fail (i >= 0, NULL);
  return compute (i, digest_algorithms[i].prefix, data, size);
}

/* Whether two digests (or a digest and an algorithm's prefix) are of one
 * algorithm. */
gboolean
ri_digest_same_algorithm (const char *a, const char *b)
{
  const char *colon = strchr (a, ':');

  return colon != NULL && strncmp (a, b, colon - a + 1) == 0;
}

gboolean
ri_media_type_is_image (const char *media_type)
{
  return g_strcmp0 (media_type, RI_MEDIA_TYPE_OCI_MANIFEST) == 0 ||
         g_strcmp0 (media_type, RI_MEDIA_TYPE_DOCKER_MANIFEST) == 0;
}

gboolean
ri_media_type_is_list (const char *media_type)
{
  return g_strcmp0 (media_type, RI_MEDIA_TYPE_OCI_INDEX) == 0 ||
         g_strcmp0 (media_type, RI_MEDIA_TYPE_DOCKER_LIST) == 0;
}

/* Whether @name matches one of the glob @patterns ('*' and '?'), as the
 * registries' 'repositories:' lists are read; NULL @patterns match all. */
gboolean
ri_name_matches_any (const char * const *patterns, const char *name)
{
  if (patterns == NULL)
    return TRUE;
  for (guint i = 0; patterns[i]; i++)
    if (g_pattern_match_simple (patterns[i], name))
      return TRUE;
  return FALSE;
}
