#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define RI_JSON_ERROR (ri_json_error_quark ())

/**
 * RiJsonError:
 * @RI_JSON_ERROR_EMPTY: there is no data at all
 * @RI_JSON_ERROR_TOO_LARGE: more bytes than the caller allows
 * @RI_JSON_ERROR_TOO_DEEP: arrays and objects nested deeper than allowed
 * @RI_JSON_ERROR_NOT_UTF8: the text is not UTF-8
 * @RI_JSON_ERROR_INVALID: json-glib refused it
 */
typedef enum {
  RI_JSON_ERROR_EMPTY,
  RI_JSON_ERROR_TOO_LARGE,
  RI_JSON_ERROR_TOO_DEEP,
  RI_JSON_ERROR_NOT_UTF8,
  RI_JSON_ERROR_INVALID,
} RiJsonError;

GQuark    ri_json_error_quark    (void);

/* Parses JSON that came from outside; @len -1 means NUL-terminated. */
JsonNode *ri_json_parse_bounded  (const char  *data,
                                  gssize       len,
                                  gsize        max_size,
                                  guint        max_depth,
                                  GError     **error);
/* The same for a body; NULL @bytes is empty. */
JsonNode *ri_json_parse_bytes    (GBytes      *bytes,
                                  gsize        max_size,
                                  guint        max_depth,
                                  GError     **error);

G_END_DECLS
