#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One challenge of a WWW-Authenticate header (RFC 7235). */
typedef struct {
  char *scheme;        /* (owned) lower-cased: "bearer", "basic", … */
  GHashTable *params;  /* (owned) lower-cased name → unquoted value */
} RiAuthChallenge;

GPtrArray *ri_auth_challenges_parse (const char *header);
void       ri_auth_challenge_free   (RiAuthChallenge *challenge);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiAuthChallenge, ri_auth_challenge_free)

G_END_DECLS
