#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

char *ri_json_to_string     (JsonNode   *root);
void  ri_json_append_string (GString    *out,
                             const char *value);
void  ri_json_append_indent (GString    *out,
                             guint       level);

G_END_DECLS
