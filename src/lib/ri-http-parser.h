#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One HTTP/1.1 response read off a connection, as it arrives: the head
 * (status and headers), then the body's framing (RFC 9112 6): a length,
 * chunks, or everything until the connection closes. */

typedef enum {
  RI_HTTP_PARSER_HEAD,        /* the head is still coming */
  RI_HTTP_PARSER_BODY,        /* the head is in; the body is coming */
  RI_HTTP_PARSER_DONE,        /* the response is complete */
} RiHttpParserPhase;

/* Takes the next bytes of the body; returns FALSE to stop reading. */
typedef gboolean (*RiHttpBodyFunc) (const guint8 *data, gsize length, gpointer user_data);

typedef struct {
  /* What the caller asked: a HEAD's answer has no body, nor has a
   * successful CONNECT's. */
  gboolean no_body;
  gboolean connect;

  RiHttpParserPhase phase;
  guint status;
  guint minor_version;
  GPtrArray *headers;         /* (owned) (element-type utf8) name, value, name, value... */
  gint64 content_length;      /* announced; -1 when none or chunked */
  gboolean keep_alive;        /* the connection may carry another request */
  gboolean until_close;       /* the body ends when the connection does */

  /* Internal. */
  GByteArray *pending;        /* a head or chunk line being gathered */
  int body_state;
  guint64 remaining;          /* of the length or of the chunk */
  gsize head_size;
  guint64 body_bytes;
  guint64 framing;            /* bytes of chunk lines and trailers */
} RiHttpParser;

void     ri_http_parser_init  (RiHttpParser *parser,
                               gboolean      no_body,
                               gboolean      connect);
void     ri_http_parser_clear (RiHttpParser *parser);
gssize   ri_http_parser_feed  (RiHttpParser   *parser,
                               const guint8   *data,
                               gsize           length,
                               RiHttpBodyFunc  body,
                               gpointer        user_data,
                               GError        **error);
gboolean ri_http_parser_eof   (RiHttpParser  *parser,
                               GError       **error);

const char *ri_http_headers_get      (GPtrArray  *headers,
                                      const char *name);
char       *ri_http_headers_get_list (GPtrArray  *headers,
                                      const char *name);

G_END_DECLS
