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
 * @RI_JSON_ERROR_INVALID: the text is not JSON (RFC 8259)
 */
typedef enum {
  RI_JSON_ERROR_EMPTY,
  RI_JSON_ERROR_TOO_LARGE,
  RI_JSON_ERROR_TOO_DEEP,
  RI_JSON_ERROR_NOT_UTF8,
  RI_JSON_ERROR_INVALID,
} RiJsonError;

GQuark    ri_json_error_quark    (void);

typedef enum {
  RI_JSON_NULL,
  RI_JSON_BOOLEAN,
  RI_JSON_NUMBER,
  RI_JSON_STRING,
  RI_JSON_ARRAY,
  RI_JSON_OBJECT,
} RiJsonType;

/* A parsed document and its values. The values belong to the document and
 * live as long as it does; every accessor takes NULL and then answers as
 * for a missing value. */
typedef struct _RiJsonDoc RiJsonDoc;
typedef struct _RiJsonValue RiJsonValue;

/* Parses JSON that came from outside; @len -1 means NUL-terminated. */
RiJsonDoc         *ri_json_doc_parse        (const char        *data,
                                             gssize             len,
                                             gsize              max_size,
                                             guint              max_depth,
                                             GError           **error);
/* The same for a body; NULL @bytes is empty. */
RiJsonDoc         *ri_json_doc_parse_bytes  (GBytes            *bytes,
                                             gsize              max_size,
                                             guint              max_depth,
                                             GError           **error);
void               ri_json_doc_free         (RiJsonDoc         *doc);
const RiJsonValue *ri_json_doc_get_root     (RiJsonDoc         *doc);

RiJsonType         ri_json_value_get_type   (const RiJsonValue *value);
gboolean           ri_json_value_is_null    (const RiJsonValue *value);
/* NULL unless @value is a string. */
const char        *ri_json_value_get_string (const RiJsonValue *value);
/* FALSE unless @value is a number written as an integer that fits. */
gboolean           ri_json_value_get_int    (const RiJsonValue *value,
                                             gint64            *out);
/* The elements of an array or the members of an object; 0 for others. */
guint              ri_json_value_get_length (const RiJsonValue *value);
const RiJsonValue *ri_json_array_get        (const RiJsonValue *array,
                                             guint              index);
/* The member @name of an object (the last, if it is given twice). */
const RiJsonValue *ri_json_object_get       (const RiJsonValue *object,
                                             const char        *name);
/* A string member, or NULL if it is missing or of another type. */
const char        *ri_json_object_get_string (const RiJsonValue *object,
                                              const char        *name);
const char        *ri_json_object_name_at   (const RiJsonValue *object,
                                             guint              index);
const RiJsonValue *ri_json_object_value_at  (const RiJsonValue *object,
                                             guint              index);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiJsonDoc, ri_json_doc_free)

/* The same parser, for the callers that want json-glib's nodes. */
JsonNode *ri_json_parse_bounded  (const char  *data,
                                  gssize       len,
                                  gsize        max_size,
                                  guint        max_depth,
                                  GError     **error);
JsonNode *ri_json_parse_bytes    (GBytes      *bytes,
                                  gsize        max_size,
                                  guint        max_depth,
                                  GError     **error);

G_END_DECLS
