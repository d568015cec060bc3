#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

char *ri_json_to_string (JsonNode *root);

G_END_DECLS
