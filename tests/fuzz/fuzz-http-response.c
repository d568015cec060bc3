/* What a registry, or anyone between it and us, can answer: HTTP/1.1
 * responses off the connection, in whatever pieces they come. The first
 * byte picks the request's kind (HEAD, CONNECT) and how the rest is cut;
 * the response is read whole and cut that way, and the two readings must
 * agree. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "ri-http-parser.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
  RiHttpParser *parser;
  GByteArray *body;
} Reading;

typedef struct {
  gboolean failed;
  gboolean eof_failed;
  RiHttpParserPhase phase;
  guint status;
  gint64 content_length;
  gboolean keep_alive;
  gboolean until_close;
  gsize consumed;
  GByteArray *body;
} Outcome;

static gboolean
take_body (const guint8 *data, gsize length, gpointer user_data)
{
  Reading *reading = user_data;

  g_assert (length > 0);
  g_assert (reading->parser->phase != RI_HTTP_PARSER_HEAD);
  g_byte_array_append (reading->body, data, length);
  /* Never more than was announced. */
  if (reading->parser->content_length >= 0)
    g_assert ((guint64) reading->body->len <= (guint64) reading->parser->content_length);
  return TRUE;
}

/* The sizes of the pieces: a small generator seeded by the pattern, so
 * that the cut is anything from a byte at a time to large pieces. */
static gsize
next_piece (guint32 *state, guint pattern, gsize left)
{
  gsize piece;

  if (pattern == 0)
    return 1;
  *state = *state * 1103515245u + 12345u;
  piece = 1 + ((*state >> 8) % ((gsize) pattern * pattern * 4));
  return MIN (piece, left);
}

/* Reads @data as a caller does, in the pieces the pattern makes
 * (G_MAXUINT: whole), then closes the connection. */
static void
read_response (Outcome *outcome, const guint8 *data, gsize size, gboolean no_body, gboolean connect, guint pattern)
{
  RiHttpParser parser;
  Reading reading;
  guint32 state = pattern;
  gsize offset = 0;

  memset (outcome, 0, sizeof *outcome);
  outcome->body = g_byte_array_new ();
  ri_http_parser_init (&parser, no_body, connect);
  reading.parser = &parser;
  reading.body = outcome->body;
  while (offset < size && parser.phase != RI_HTTP_PARSER_DONE && !outcome->failed)
    {
      gsize piece = pattern == G_MAXUINT ? size - offset : next_piece (&state, pattern, size - offset);
      gsize used = 0;

      while (used < piece)
        {
          g_autoptr(GError) error = NULL;
          gssize n = ri_http_parser_feed (&parser, data + offset + used, piece - used, take_body, &reading, &error);

          if (n < 0)
            {
              g_assert (error != NULL);
              outcome->failed = TRUE;
              break;
            }
          g_assert (error == NULL);
          /* Never more than it was given. */
          g_assert ((gsize) n <= piece - used);
          used += n;
          if (parser.phase == RI_HTTP_PARSER_DONE)
            break;
          /* Short of the end, always some progress. */
          g_assert (n > 0);
        }
      offset += used;
    }
  if (parser.phase == RI_HTTP_PARSER_DONE)
    {
      static const guint8 more[] = "HTTP/1.1 200 OK\r\n\r\n";

      /* Done, it takes nothing more, not even the next response. */
      g_assert (ri_http_parser_feed (&parser, offset < size ? data + offset : more,
                                     offset < size ? size - offset : sizeof more - 1, take_body, &reading, NULL) == 0);
    }
  outcome->consumed = offset;
  if (!outcome->failed)
    {
      g_autoptr(GError) error = NULL;
      gboolean ended = ri_http_parser_eof (&parser, &error);

      g_assert (ended == (error == NULL));
      g_assert (!ended || parser.phase == RI_HTTP_PARSER_DONE);
      outcome->eof_failed = !ended;
    }

  g_assert (parser.headers->len % 2 == 0);
  if (parser.phase != RI_HTTP_PARSER_HEAD)
    {
      g_assert (parser.status >= 200);
      /* Where there is no body, none was given. */
      if (no_body || parser.status == 204 || parser.status == 304 || (connect && parser.status / 100 == 2))
        g_assert (outcome->body->len == 0);
      if (parser.until_close)
        g_assert (!parser.keep_alive && parser.content_length < 0);
      /* A body by its length is done exactly when all of it is in. */
      if (parser.content_length >= 0 && !no_body && parser.status != 204 && parser.status != 304 &&
          !(connect && parser.status / 100 == 2) && !outcome->failed)
        g_assert (((guint64) outcome->body->len == (guint64) parser.content_length) ==
                  (parser.phase == RI_HTTP_PARSER_DONE));
    }
  outcome->phase = parser.phase;
  outcome->status = parser.status;
  outcome->content_length = parser.content_length;
  outcome->keep_alive = parser.keep_alive;
  outcome->until_close = parser.until_close;
  ri_http_parser_clear (&parser);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Outcome whole, cut;
  gboolean no_body, connect;
  guint pattern;

  if (size < 1)
    return 0;
  no_body = data[0] & 1;
  connect = (data[0] >> 1) & 1;
  pattern = data[0] >> 2;
  read_response (&whole, data + 1, size - 1, no_body, connect, G_MAXUINT);
  read_response (&cut, data + 1, size - 1, no_body, connect, pattern);

  /* However it was cut, the same response. */
  g_assert (whole.failed == cut.failed);
  g_assert (whole.eof_failed == cut.eof_failed);
  g_assert (whole.status == cut.status);
  g_assert (whole.body->len == cut.body->len);
  g_assert (whole.body->len == 0 || memcmp (whole.body->data, cut.body->data, whole.body->len) == 0);
  if (!whole.failed)
    {
      g_assert (whole.phase == cut.phase);
      g_assert (whole.consumed == cut.consumed);
      g_assert (whole.content_length == cut.content_length);
      g_assert (whole.keep_alive == cut.keep_alive);
      g_assert (whole.until_close == cut.until_close);
    }
  g_byte_array_unref (whole.body);
  g_byte_array_unref (cut.body);
  return 0;
}
