#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ri-error.h"
#include "ri-http-fields.h"
#include "ri-http-parser.h"

/* Far above any registry's (a few hundred bytes), low enough that a
 * hostile peer cannot make us hold much. */
#define MAX_HEAD_SIZE (64 * 1024)
#define MAX_CHUNK_LINE 4096

enum {
  BODY_LENGTH,
  BODY_CHUNK_SIZE,
  BODY_CHUNK_DATA,
  BODY_CHUNK_END,
  BODY_TRAILERS,
  BODY_UNTIL_CLOSE,
};

void
ri_http_parser_init (RiHttpParser *parser, gboolean no_body, gboolean connect)
{
  memset (parser, 0, sizeof *parser);
  parser->no_body = no_body;
  parser->connect = connect;
  parser->phase = RI_HTTP_PARSER_HEAD;
  parser->content_length = -1;
  parser->headers = g_ptr_array_new_with_free_func (g_free);
  parser->pending = g_byte_array_new ();
}

void
ri_http_parser_clear (RiHttpParser *parser)
{
  g_clear_pointer (&parser->headers, g_ptr_array_unref);
  g_clear_pointer (&parser->pending, g_byte_array_unref);
}

const char *
ri_http_headers_get (GPtrArray *headers, const char *name)
{
  for (guint i = 0; i + 1 < headers->len; i += 2)
    if (g_ascii_strcasecmp (g_ptr_array_index (headers, i), name) == 0)
      return g_ptr_array_index (headers, i + 1);
  return NULL;
}

/* All the values of a header that may be repeated, as one list (RFC 9110
 * 5.3), or NULL when it is absent. */
char *
ri_http_headers_get_list (GPtrArray *headers, const char *name)
{
  g_autoptr(GString) list = NULL;

  for (guint i = 0; i + 1 < headers->len; i += 2)
    if (g_ascii_strcasecmp (g_ptr_array_index (headers, i), name) == 0)
      {
        if (list == NULL)
          list = g_string_new (NULL);
        else
          g_string_append (list, ", ");
        g_string_append (list, g_ptr_array_index (headers, i + 1));
      }
  return list ? g_string_free (g_steal_pointer (&list), FALSE) : NULL;
}

static gboolean
protocol_error (GError **error, const char *message)
{
  g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "malformed HTTP response: %s", message);
  return FALSE;
}

static gssize
fail (GError **error, const char *message)
{
  protocol_error (error, message);
  return -1;
}

static gboolean
is_space (char c)
{
  return c == ' ' || c == '\t';
}

static gboolean
parse_status_line (RiHttpParser *parser, const char *line, gsize length, GError **error)
{
  /* HTTP/1.x SP 3DIGIT [SP reason] */
  if (length < 12 || memcmp (line, "HTTP/1.", 7) != 0 || !g_ascii_isdigit (line[7]) || line[8] != ' ' ||
      !g_ascii_isdigit (line[9]) || !g_ascii_isdigit (line[10]) || !g_ascii_isdigit (line[11]) ||
      (length > 12 && line[12] != ' '))
    return protocol_error (error, "not an HTTP/1.x status line");
  parser->minor_version = line[7] - '0';
  parser->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (parser->status < 100)
    return protocol_error (error, "a status under 100");
  return TRUE;
}

static void
add_header (RiHttpParser *parser, const char *line, gsize length)
{
  const char *colon = memchr (line, ':', length);
  const char *name_end, *value, *value_end = line + length;
  guint last;

  if (is_space (line[0]))
    {
      if (parser->headers->len < 2)
        return;
      /* An obsolete folded line continues the previous value. */
      last = parser->headers->len - 1;
      g_autofree char *more = g_strstrip (g_strndup (line, length));
      char *joined = g_strconcat (g_ptr_array_index (parser->headers, last), " ", more, NULL);

      g_free (g_ptr_array_index (parser->headers, last));
      g_ptr_array_index (parser->headers, last) = joined;
      return;
    }
  if (colon == NULL)
    return;
  for (name_end = colon; name_end > line && is_space (name_end[-1]); name_end--)
    ;
  if (name_end == line)
    return;
  for (value = colon + 1; value < value_end && is_space (*value); value++)
    ;
  while (value_end > value && is_space (value_end[-1]))
    value_end--;
  g_ptr_array_add (parser->headers, g_strndup (line, name_end - line));
  g_ptr_array_add (parser->headers, g_strndup (value, value_end - value));
}

static gboolean
parse_content_length (RiHttpParser *parser, GError **error)
{
  gint64 length = -1;

  for (guint i = 0; i + 1 < parser->headers->len; i += 2)
    {
      const char *value = g_ptr_array_index (parser->headers, i + 1);
      g_auto(GStrv) parts = NULL;

      if (g_ascii_strcasecmp (g_ptr_array_index (parser->headers, i), "Content-Length") != 0)
        continue;
      /* Repeated, or a list, it must say one number (RFC 9110 8.6). */
      parts = g_strsplit (value, ",", -1);
      if (parts[0] == NULL)
        return protocol_error (error, "an invalid Content-Length");
      for (guint j = 0; parts[j]; j++)
        {
          const char *digits = g_strstrip (parts[j]);
          guint64 n = 0;

          if (*digits == '\0' || strlen (digits) > 18)
            return protocol_error (error, "an invalid Content-Length");
          for (const char *p = digits; *p; p++)
            {
              if (!g_ascii_isdigit (*p))
                return protocol_error (error, "an invalid Content-Length");
              n = n * 10 + (*p - '0');
            }
          if (length >= 0 && (guint64) length != n)
            return protocol_error (error, "Content-Length values that differ");
          length = n;
        }
    }
  parser->content_length = length;
  return TRUE;
}

/* How the body is framed, once the head is in (RFC 9112 6.3). */
static gboolean
frame_body (RiHttpParser *parser, GError **error)
{
  g_autofree char *connection = ri_http_headers_get_list (parser->headers, "Connection");
  g_autofree char *codings = ri_http_headers_get_list (parser->headers, "Transfer-Encoding");

  parser->keep_alive = parser->minor_version >= 1 ? !(connection && ri_http_list_contains (connection, "close"))
                                                  : (connection && ri_http_list_contains (connection, "keep-alive"));

  if (parser->no_body || (parser->connect && parser->status / 100 == 2) || parser->status == 204 ||
      parser->status == 304)
    {
      parser->phase = RI_HTTP_PARSER_DONE;
      return TRUE;
    }
  if (codings != NULL)
    {
      g_autoptr(GPtrArray) list = ri_http_list_parse (codings);
      gboolean empty = list->len == 0;
      gboolean chunked_only = list->len == 1 && g_ascii_strcasecmp (g_ptr_array_index (list, 0), "chunked") == 0;

      /* Only chunked is asked for, so it is the one coding there may be
       * (empty elements of the list do not count, RFC 9110 5.6.1). */
      if (empty)
        return protocol_error (error, "an empty Transfer-Encoding");
      if (!chunked_only)
        {
          g_set_error (error, RI_ERROR, RI_ERROR_PROTOCOL, "unsupported transfer coding '%s'", codings);
          return FALSE;
        }
      /* HTTP/1.0 has no chunks: whoever sent them, trust no framing
       * after this message (RFC 9112 6.1). */
      if (parser->minor_version == 0)
        parser->keep_alive = FALSE;
      /* With a length beside it, the message was meant to mislead
       * someone: read this one by its chunks, and no other after it. */
      if (ri_http_headers_get (parser->headers, "Content-Length") != NULL)
        parser->keep_alive = FALSE;
      parser->body_state = BODY_CHUNK_SIZE;
      parser->phase = RI_HTTP_PARSER_BODY;
      return TRUE;
    }
  if (!parse_content_length (parser, error))
    return FALSE;
  if (parser->content_length >= 0)
    {
      parser->remaining = parser->content_length;
      parser->body_state = BODY_LENGTH;
      parser->phase = parser->content_length == 0 ? RI_HTTP_PARSER_DONE : RI_HTTP_PARSER_BODY;
      return TRUE;
    }
  parser->until_close = TRUE;
  parser->keep_alive = FALSE;
  parser->body_state = BODY_UNTIL_CLOSE;
  parser->phase = RI_HTTP_PARSER_BODY;
  return TRUE;
}

static gboolean
parse_head (RiHttpParser *parser, const char *head, gsize length, GError **error)
{
  const char *p = head, *end = head + length;
  gboolean first = TRUE;

  g_ptr_array_set_size (parser->headers, 0);
  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *line_end = nl ? nl : end;
      gsize n;

      if (line_end > p && line_end[-1] == '\r')
        line_end--;
      n = line_end - p;
      if (first)
        {
          if (!parse_status_line (parser, p, n, error))
            return FALSE;
          first = FALSE;
        }
      else if (n > 0)
        add_header (parser, p, n);
      p = nl ? nl + 1 : end;
    }
  return TRUE;
}

/* Where the head ends in data (just past its empty line), or 0. */
static gsize
find_head_end (const guint8 *data, gsize length, gsize from)
{
  for (gsize i = from; i < length;)
    {
      const guint8 *nl = memchr (data + i, '\n', length - i);

      if (nl == NULL)
        return 0;
      i = nl - data + 1;
      if (i < length && data[i] == '\n')
        return i + 1;
      if (i + 1 < length && data[i] == '\r' && data[i + 1] == '\n')
        return i + 2;
    }
  return 0;
}

static gssize
feed_head (RiHttpParser *parser, const guint8 *data, gsize length, GError **error)
{
  const guint8 *head = data;
  gsize end, consumed;

  if (parser->pending->len == 0)
    {
      end = find_head_end (data, length, 0);
      consumed = end;
    }
  else
    {
      gsize old = parser->pending->len;

      g_byte_array_append (parser->pending, data, MIN (length, MAX_HEAD_SIZE + 4 - old));
      end = find_head_end (parser->pending->data, parser->pending->len, old >= 3 ? old - 3 : 0);
      head = parser->pending->data;
      consumed = end ? end - old : length;
    }
  if (end == 0)
    {
      if (parser->pending->len == 0)
        g_byte_array_append (parser->pending, data, MIN (length, MAX_HEAD_SIZE + 4));
      if (parser->pending->len > MAX_HEAD_SIZE)
        return fail (error, "a head of over 64 KiB");
      return length;
    }
  parser->head_size += end;
  if (parser->head_size > MAX_HEAD_SIZE)
    return fail (error, "a head of over 64 KiB");
  if (!parse_head (parser, (const char *) head, end, error))
    return -1;
  g_byte_array_set_size (parser->pending, 0);
  if (parser->status < 200)
    {
      /* 1xx: informational, and another head follows. A switch of
       * protocols was never asked for. */
      if (parser->status == 101)
        return fail (error, "a switch of protocols nobody asked for");
      return consumed;
    }
  if (!frame_body (parser, error))
    return -1;
  return consumed;
}

/* A chunk-size line: hex digits, then extensions, which mean nothing here. */
static gboolean
parse_chunk_size (RiHttpParser *parser, const char *line, gsize length, GError **error)
{
  guint64 size = 0;
  gsize i = 0;

  for (; i < length && g_ascii_isxdigit (line[i]); i++)
    {
      if (i >= 15)
        return protocol_error (error, "a chunk size too large");
      size = size * 16 + g_ascii_xdigit_value (line[i]);
    }
  if (i == 0 || (i < length && line[i] != ';' && !is_space (line[i])))
    return protocol_error (error, "an invalid chunk size");
  parser->remaining = size;
  parser->body_state = size == 0 ? BODY_TRAILERS : BODY_CHUNK_DATA;
  return TRUE;
}

/* Gathers one line into pending; TRUE with *line set once it is whole. */
static gssize
gather_line (RiHttpParser *parser, const guint8 *data, gsize length, const char **line, gsize *line_length,
             GError **error)
{
  const guint8 *nl = memchr (data, '\n', length);
  gsize take = nl ? (gsize) (nl - data + 1) : length;

  *line = NULL;
  if (parser->pending->len + take > MAX_CHUNK_LINE)
    return fail (error, "a chunk line too long");
  if (parser->pending->len == 0 && nl != NULL)
    {
      *line = (const char *) data;
      *line_length = take - 1;
    }
  else
    {
      g_byte_array_append (parser->pending, data, take);
      if (nl == NULL)
        return take;
      *line = (const char *) parser->pending->data;
      *line_length = parser->pending->len - 1;
    }
  if (*line_length > 0 && (*line)[*line_length - 1] == '\r')
    (*line_length)--;
  return take;
}

static gssize
feed_body (RiHttpParser *parser, const guint8 *data, gsize length, RiHttpBodyFunc body, gpointer user_data,
           GError **error)
{
  gsize offset = 0;

  while (offset < length && parser->phase == RI_HTTP_PARSER_BODY)
    {
      const guint8 *p = data + offset;
      gsize n = length - offset;

      switch (parser->body_state)
        {
        case BODY_LENGTH:
        case BODY_CHUNK_DATA:
        case BODY_UNTIL_CLOSE:
          {
            gsize take = parser->body_state == BODY_UNTIL_CLOSE ? n : (gsize) MIN ((guint64) n, parser->remaining);

            offset += take;
            parser->body_bytes += take;
            if (parser->body_state != BODY_UNTIL_CLOSE)
              parser->remaining -= take;
            if (parser->remaining == 0 && parser->body_state == BODY_LENGTH)
              parser->phase = RI_HTTP_PARSER_DONE;
            else if (parser->remaining == 0 && parser->body_state == BODY_CHUNK_DATA)
              parser->body_state = BODY_CHUNK_END;
            if (take > 0 && !body (p, take, user_data))
              return offset;
            break;
          }
        case BODY_CHUNK_SIZE:
        case BODY_CHUNK_END:
        case BODY_TRAILERS:
          {
            const char *line;
            gsize line_length = 0;
            gssize took = gather_line (parser, p, n, &line, &line_length, error);

            if (took < 0)
              return -1;
            offset += took;
            /* Chunk lines, extensions and trailers are not data, and no
             * limit on the body counts them: they may not outgrow it. */
            parser->framing += took;
            if (parser->framing > MAX_HEAD_SIZE + parser->body_bytes)
              return fail (error, "chunk framing out of all proportion to the data");
            if (line == NULL)
              break;
            if (parser->body_state == BODY_CHUNK_SIZE)
              {
                if (!parse_chunk_size (parser, line, line_length, error))
                  return -1;
              }
            else if (parser->body_state == BODY_CHUNK_END)
              {
                if (line_length != 0)
                  return fail (error, "a chunk longer than its size");
                parser->body_state = BODY_CHUNK_SIZE;
              }
            else if (line_length == 0)
              parser->phase = RI_HTTP_PARSER_DONE;
            g_byte_array_set_size (parser->pending, 0);
            break;
          }
        default:
          g_assert_not_reached ();
        }
    }
  return offset;
}

/* Takes what came off the connection. Returns how much of it was taken,
 * or -1 with the error. It stops short at the end of the head (so that
 * the caller can look at it before the body), at the end of the response
 * (what follows is not part of it), and where body() said to stop. */
gssize
ri_http_parser_feed (RiHttpParser *parser, const guint8 *data, gsize length, RiHttpBodyFunc body,
                     gpointer user_data, GError **error)
{
  switch (parser->phase)
    {
    case RI_HTTP_PARSER_HEAD:
      return feed_head (parser, data, length, error);
    case RI_HTTP_PARSER_BODY:
      return feed_body (parser, data, length, body, user_data, error);
    case RI_HTTP_PARSER_DONE:
    default:
      return 0;
    }
}

/* The connection closed: the response is complete if its body runs
 * until then. */
gboolean
ri_http_parser_eof (RiHttpParser *parser, GError **error)
{
  if (parser->phase == RI_HTTP_PARSER_DONE)
    return TRUE;
  if (parser->phase == RI_HTTP_PARSER_BODY && parser->body_state == BODY_UNTIL_CLOSE)
    {
      parser->phase = RI_HTTP_PARSER_DONE;
      return TRUE;
    }
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                       parser->phase == RI_HTTP_PARSER_HEAD && parser->pending->len == 0 && parser->status == 0
                         ? "the server closed the connection without answering"
                         : "the connection closed before the response was complete");
  return FALSE;
}
