#define G_LOG_DOMAIN "Query"

#include "config.h"

#include <string.h>

#include "ri-error.h"
#include "ri-index-query.h"

/* Bounds what one request can make the server compare per image. */
#define MAX_PARAMETERS 64
#define KNOWN_PARAMETERS \
  "repository, tag, os, architecture, annotation:NAME, annotation:NAME:exists, label:NAME " \
  "and label:NAME:exists"

typedef enum {
  TERM_REPOSITORY,
  TERM_TAG,
  TERM_OS,
  TERM_ARCHITECTURE,
  TERM_ANNOTATION,
  TERM_ANNOTATION_EXISTS,
  TERM_LABEL,
  TERM_LABEL_EXISTS,
} TermKind;

/* Every value given for one key: any of them may match. */
typedef struct {
  char *key;          /* (owned) decoded, as given */
  TermKind kind;
  char *name;         /* (owned) (nullable) annotation or label name */
  GPtrArray *values;  /* (owned) (element-type utf8) */
} Term;

struct _RiIndexQuery {
  GPtrArray *terms;   /* (owned) (element-type Term) */
  char *canonical;    /* (owned) */
};

static void
term_free (Term *term)
{
  g_free (term->key);
  g_free (term->name);
  g_ptr_array_unref (term->values);
  g_free (term);
}

void
ri_index_query_free (RiIndexQuery *query)
{
  g_ptr_array_unref (query->terms);
  g_free (query->canonical);
  g_free (query);
}

/* Form encoding: '+' is a space, then percent-escapes; NUL, bad escapes
 * and text that is not UTF-8 are refused. */
static char *
decode (const char *text, gsize length, GError **error)
{
  g_autofree char *plus = g_strndup (text, length);
  g_autofree char *decoded = NULL;

  g_strdelimit (plus, "+", ' ');
  decoded = g_uri_unescape_string (plus, NULL);
  if (decoded == NULL || !g_utf8_validate (decoded, -1, NULL))
    {
      g_autofree char *shown = g_strescape (plus, NULL);
      g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST,
                   "'%s' is not valid percent-encoded UTF-8", shown);
      return NULL;
    }
  return g_steal_pointer (&decoded);
}

static gboolean
classify (const char *key, TermKind *kind, char **name)
{
  static const struct { const char *key; TermKind kind; } plain[] = {
    { "repository", TERM_REPOSITORY }, { "tag", TERM_TAG },
    { "os", TERM_OS }, { "architecture", TERM_ARCHITECTURE },
  };
  static const struct { const char *prefix; TermKind kind, exists; } named[] = {
    { "annotation:", TERM_ANNOTATION, TERM_ANNOTATION_EXISTS },
    { "label:", TERM_LABEL, TERM_LABEL_EXISTS },
  };

  for (guint i = 0; i < G_N_ELEMENTS (plain); i++)
    if (g_str_equal (key, plain[i].key))
      {
        *kind = plain[i].kind;
        return TRUE;
      }
  for (guint i = 0; i < G_N_ELEMENTS (named); i++)
    if (g_str_has_prefix (key, named[i].prefix))
      {
        const char *rest = key + strlen (named[i].prefix);
        gboolean exists = g_str_has_suffix (rest, ":exists");
        gsize length = strlen (rest) - (exists ? strlen (":exists") : 0);

        if (length == 0)
          return FALSE;
        *kind = exists ? named[i].exists : named[i].kind;
        *name = g_strndup (rest, length);
        return TRUE;
      }
  return FALSE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

RiIndexQuery *
ri_index_query_parse (const char *text, GError **error)
{
  g_autoptr(RiIndexQuery) query = g_new0 (RiIndexQuery, 1);
  g_autoptr(GHashTable) by_key = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) pieces = g_strsplit (text ? text : "", "&", -1);
  guint count = 0;

  query->terms = g_ptr_array_new_with_free_func ((GDestroyNotify) term_free);
  for (guint i = 0; pieces[i]; i++)
    {
      const char *piece = pieces[i];
      const char *equals = strchr (piece, '=');
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;
      g_autofree char *name = NULL;
      TermKind kind;
      Term *term;

      if (*piece == '\0')
        continue;
      if (++count > MAX_PARAMETERS)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "more than %d query parameters", MAX_PARAMETERS);
          return NULL;
        }
      key = decode (piece, equals ? (gsize) (equals - piece) : strlen (piece), error);
      if (key == NULL)
        return NULL;
      if (equals == NULL)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "query parameter '%s' has no value", key);
          return NULL;
        }
      value = decode (equals + 1, strlen (equals + 1), error);
      if (value == NULL)
        return NULL;
      if (!classify (key, &kind, &name))
        {
          g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST,
                       "unknown query parameter '%s'; the known ones are " KNOWN_PARAMETERS, key);
          return NULL;
        }
      if ((kind == TERM_ANNOTATION_EXISTS || kind == TERM_LABEL_EXISTS) && !g_str_equal (value, "1"))
        {
          g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "'%s' takes only the value 1, not '%s'", key, value);
          return NULL;
        }
      if (*value == '\0' && kind != TERM_ANNOTATION && kind != TERM_LABEL)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_BAD_REQUEST, "query parameter '%s' has an empty value", key);
          return NULL;
        }

      term = g_hash_table_lookup (by_key, key);
      if (term == NULL)
        {
          term = g_new0 (Term, 1);
          term->key = g_strdup (key);
          term->kind = kind;
          term->name = g_steal_pointer (&name);
          term->values = g_ptr_array_new_with_free_func (g_free);
          g_ptr_array_add (query->terms, term);
          g_hash_table_insert (by_key, term->key, term);
        }
      if (!g_ptr_array_find_with_equal_func (term->values, value, g_str_equal, NULL))
        {
          g_autofree char *escaped_key = g_uri_escape_string (key, ":", FALSE);
          g_autofree char *escaped_value = g_uri_escape_string (value, ":", FALSE);

          g_ptr_array_add (pairs, g_strconcat (escaped_key, "=", escaped_value, NULL));
          g_ptr_array_add (term->values, g_steal_pointer (&value));
        }
    }

  /* One spelling per meaning, for caching answers. */
  g_ptr_array_sort (pairs, compare_strings);
  g_ptr_array_add (pairs, NULL);
  query->canonical = g_strjoinv ("&", (GStrv) pairs->pdata);
  return g_steal_pointer (&query);
}

const char *
ri_index_query_get_canonical (const RiIndexQuery *query)
{
  return query->canonical;
}

static gboolean
any_value (const Term *term, const char *actual)
{
  if (actual == NULL)
    return FALSE;
  for (guint i = 0; i < term->values->len; i++)
    if (g_str_equal (g_ptr_array_index (term->values, i), actual))
      return TRUE;
  return FALSE;
}

gboolean
ri_index_query_matches_repository (const RiIndexQuery *query, const char *name)
{
  for (guint i = 0; query != NULL && i < query->terms->len; i++)
    {
      Term *term = g_ptr_array_index (query->terms, i);
      if (term->kind == TERM_REPOSITORY && !any_value (term, name))
        return FALSE;
    }
  return TRUE;
}

gboolean
ri_index_query_matches_tags (const RiIndexQuery *query, GStrv tags)
{
  for (guint i = 0; query != NULL && i < query->terms->len; i++)
    {
      Term *term = g_ptr_array_index (query->terms, i);
      gboolean found = FALSE;

      if (term->kind != TERM_TAG)
        continue;
      for (guint j = 0; tags[j] && !found; j++)
        found = any_value (term, tags[j]);
      if (!found)
        return FALSE;
    }
  return TRUE;
}

gboolean
ri_index_query_matches_image (const RiIndexQuery *query, const RiImage *image)
{
  for (guint i = 0; query != NULL && i < query->terms->len; i++)
    {
      Term *term = g_ptr_array_index (query->terms, i);
      gboolean ok;

      switch (term->kind)
        {
        case TERM_OS:
          ok = any_value (term, image->os);
          break;
        case TERM_ARCHITECTURE:
          ok = any_value (term, image->architecture);
          break;
        case TERM_ANNOTATION:
          ok = any_value (term, g_hash_table_lookup (image->annotations, term->name));
          break;
        case TERM_LABEL:
          ok = any_value (term, g_hash_table_lookup (image->labels, term->name));
          break;
        case TERM_ANNOTATION_EXISTS:
          ok = g_hash_table_contains (image->annotations, term->name);
          break;
        case TERM_LABEL_EXISTS:
          ok = g_hash_table_contains (image->labels, term->name);
          break;
        case TERM_REPOSITORY:
        case TERM_TAG:
        default:
          ok = TRUE;
        }
      if (!ok)
        return FALSE;
    }
  return TRUE;
}
