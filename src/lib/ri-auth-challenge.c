#include "config.h"

#include <string.h>

#include "ri-auth-challenge.h"

/* RFC 7235: challenges and their parameters are both separated by commas,
 * so a new challenge is recognised as a token that is not followed by '='.
 * Values are tokens or quoted strings with backslash escapes. Anything
 * malformed ends the parse; what was understood up to there is kept. */

#define MAX_LENGTH 8192

static gboolean
is_tchar (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

static void
skip_space (const char **p)
{
  while (**p == ' ' || **p == '\t')
    (*p)++;
}

static char *
parse_token (const char **p)
{
  const char *start = *p;

  while (is_tchar (**p))
    (*p)++;
  return *p > start ? g_strndup (start, *p - start) : NULL;
}

/* token68 values (Basic's credentials form) may end in '='. */
static char *
parse_value (const char **p)
{
  GString *value;

  if (**p != '"')
    {
      const char *start = *p;
      while (is_tchar (**p) || **p == '/' || **p == ':' || **p == '=')
        (*p)++;
      return g_strndup (start, *p - start);
    }
  value = g_string_new (NULL);
  (*p)++;
  while (**p && **p != '"')
    {
      if (**p == '\\' && (*p)[1] != '\0')
        (*p)++;
      g_string_append_c (value, **p);
      (*p)++;
    }
  if (**p != '"')
    {
      g_string_free (value, TRUE);
      return NULL;
    }
  (*p)++;
  return g_string_free (value, FALSE);
}

void
ri_auth_challenge_free (RiAuthChallenge *challenge)
{
  g_free (challenge->scheme);
  g_hash_table_unref (challenge->params);
  g_free (challenge);
}

GPtrArray *
ri_auth_challenges_parse (const char *header)
{
  g_autoptr(GPtrArray) challenges = g_ptr_array_new_with_free_func ((GDestroyNotify) ri_auth_challenge_free);
  RiAuthChallenge *current = NULL;
  const char *p = header;

  if (header == NULL || strlen (header) > MAX_LENGTH)
    return g_steal_pointer (&challenges);

  for (;;)
    {
      g_autofree char *token = NULL;
      const char *after;

      skip_space (&p);
      while (*p == ',')
        {
          p++;
          skip_space (&p);
        }
      if (*p == '\0')
        break;

      token = parse_token (&p);
      if (token == NULL)
        break;
      after = p;
      skip_space (&after);

      if (*after == '=' && current != NULL)
        {
          g_autofree char *value = NULL;

          p = after + 1;
          skip_space (&p);
          value = parse_value (&p);
          if (value == NULL)
            break;
          g_hash_table_replace (current->params, g_ascii_strdown (token, -1), g_steal_pointer (&value));
          skip_space (&p);
          if (*p != ',' && *p != '\0')
            break;
          continue;
        }

      /* A scheme: the start of a new challenge. */
      current = g_new0 (RiAuthChallenge, 1);
      current->scheme = g_ascii_strdown (token, -1);
      current->params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_ptr_array_add (challenges, current);
      p = after;
      /* A token68 right after the scheme (Negotiate abc==) is skipped. */
      if (*p != ',' && *p != '\0')
        {
          const char *probe = p;
          g_autofree char *name = parse_token (&probe);
          skip_space (&probe);
          if (name == NULL || *probe != '=')
            {
              g_autofree char *ignored = parse_value (&p);
              if (ignored == NULL)
                break;
            }
        }
    }
  return g_steal_pointer (&challenges);
}
