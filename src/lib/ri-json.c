#include "config.h"

#include <math.h>
#include <string.h>

#include "ri-json.h"

/* JSON that comes from outside (manifests, configs, tag lists, events,
 * messages) is read here, by a parser of our own rather than json-glib's:
 * json-glib's builds a GObject tree with a hash table per object through a
 * GScanner, which was a fifth of a scan's CPU time; it recurses once per
 * nesting level without a bound, truncates strings at an escaped NUL and
 * mangles an unpaired surrogate escape. This one is RFC 8259 to the
 * letter, iterative with a depth bound, decodes unpaired surrogates to
 * U+FFFD as Go's encoding/json does (and \u0000 too, which a C string
 * cannot hold), refuses numbers beyond a double as Go does, and keeps a document
 * in two allocations: the text, whose strings are decoded in place, and
 * one arena for the arrays and objects. */

G_DEFINE_QUARK (ri-json-error-quark, ri_json_error)

typedef struct _RiJsonMember RiJsonMember;

struct _RiJsonValue {
  guint8 type;                /* RiJsonType */
  guint8 integral;            /* a number written as an integer that fits */
  guint8 boolean;
  guint32 length;             /* elements or members */
  union {
    const char *string;
    gint64 integer;
    double real;
    RiJsonValue *elements;
    RiJsonMember *members;
  };
};

struct _RiJsonMember {
  const char *name;
  RiJsonValue value;
};

typedef struct _Block Block;
struct _Block {
  Block *next;
  gsize used;
  gsize size;
  /* followed by the block's bytes, 8-aligned */
};

struct _RiJsonDoc {
  RiJsonValue root;
  Block *blocks;              /* (owned) the arena, newest first */
  char *text;                 /* (owned) the input, its strings decoded in place */
};

/* With its header, 1 KiB: small enough for glibc's per-thread cache
 * (1,032 bytes at most), where a manifest's or config's first block is
 * taken and given back without locking or consolidating free chunks, as
 * every larger request does. */
#define FIRST_BLOCK_SIZE (1024 - sizeof (Block))
#define MAX_BLOCK_SIZE (64 * 1024)
#define INLINE_MEMBERS 64
#define INLINE_FRAMES 16

static gpointer
arena_alloc (RiJsonDoc *doc, gsize size)
{
  Block *block = doc->blocks;
  gpointer memory;

  size = (size + 7) & ~(gsize) 7;
  if (block == NULL || block->size - block->used < size)
    {
      gsize block_size = block ? MIN (block->size * 2, MAX_BLOCK_SIZE) : FIRST_BLOCK_SIZE;

      block_size = MAX (block_size, size);
      block = g_malloc (sizeof (Block) + block_size);
      block->used = 0;
      block->size = block_size;
      block->next = doc->blocks;
      doc->blocks = block;
    }
  memory = (char *) (block + 1) + block->used;
  block->used += size;
  return memory;
}

void
ri_json_doc_free (RiJsonDoc *doc)
{
  if (doc == NULL)
    return;
  while (doc->blocks != NULL)
    {
      Block *next = doc->blocks->next;
      g_free (doc->blocks);
      doc->blocks = next;
    }
  g_free (doc->text);
  g_free (doc);
}

typedef struct {
  guint start;                /* its first member in Parser.members */
  gboolean is_object;
  const char *name;           /* the key of the object's member being read */
} Frame;

typedef struct {
  RiJsonDoc *doc;
  const char *source;         /* the caller's text, for the positions of errors */
  char *text;
  char *pos;
  char *end;
  guint max_depth;
  RiJsonMember *members;      /* the values of the open arrays and objects */
  guint members_len;
  guint members_size;
  Frame *frames;
  guint frames_len;
  guint frames_size;
  RiJsonMember inline_members[INLINE_MEMBERS];
  Frame inline_frames[INLINE_FRAMES];
} Parser;

static gboolean
fail (Parser *p, const char *at, const char *what, GError **error)
{
  guint line = 1, column = 1;

  /* Counted in the caller's text: in ours, the strings before @at are
   * decoded, and an escaped line feed would count as a line. */
  for (const char *c = p->source; c < p->source + (at - p->text); c++)
    if (*c == '\n')
      {
        line++;
        column = 1;
      }
    else
      column++;
  g_set_error (error, RI_JSON_ERROR, RI_JSON_ERROR_INVALID, "is not valid JSON: %s at line %u, column %u",
               what, line, column);
  return FALSE;
}

static gboolean
unexpected (Parser *p, const char *expected, GError **error)
{
  g_autofree char *what = NULL;

  if (p->pos >= p->end)
    what = g_strdup_printf ("the text ends where %s should be", expected);
  else if ((guchar) *p->pos < 0x20 || (guchar) *p->pos >= 0x7f)
    what = g_strdup_printf ("byte 0x%02x where %s should be", (guchar) *p->pos, expected);
  else
    what = g_strdup_printf ("'%c' where %s should be", *p->pos, expected);
  return fail (p, p->pos, what, error);
}

static inline void
skip_space (Parser *p)
{
  while (p->pos < p->end && (*p->pos == ' ' || *p->pos == '\n' || *p->pos == '\r' || *p->pos == '\t'))
    p->pos++;
}

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* The code unit of a \uXXXX escape at @p (which points at the backslash),
 * or -1 when it is not one. */
static int
escape_unit (const char *p, const char *end)
{
  int unit = 0;

  if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
    return -1;
  for (int i = 2; i < 6; i++)
    {
      int v = hex_value (p[i]);
      if (v < 0)
        return -1;
      unit = unit * 16 + v;
    }
  return unit;
}

/* Reads the string at p->pos (its opening quote) and decodes it in place:
 * an escape is never shorter than what it decodes to, so the writing
 * never overtakes the reading. The closing quote becomes its NUL. */
static gboolean
parse_string (Parser *p, const char **out, GError **error)
{
  char *start = p->pos + 1;
  char *r = start;
  char *w;

  while (r < p->end && *r != '"' && *r != '\\' && (guchar) *r >= 0x20)
    r++;
  w = r;
  while (r < p->end)
    {
      guchar c = *r;
      int unit;
      gunichar ch;

      if (c == '"')
        {
          *w = '\0';
          p->pos = r + 1;
          *out = start;
          return TRUE;
        }
      if (c < 0x20)
        return fail (p, r, "a control character in a string", error);
      if (c != '\\')
        {
          *w++ = *r++;
          continue;
        }
      if (r + 1 >= p->end)
        break;
      switch (r[1])
        {
        case '"': case '\\': case '/':
          *w++ = r[1];
          break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u':
          unit = escape_unit (r, p->end);
          if (unit < 0)
            return fail (p, r, "a malformed \\u escape", error);
          if (unit >= 0xd800 && unit <= 0xdbff)
            {
              int low = escape_unit (r + 6, p->end);
              if (low >= 0xdc00 && low <= 0xdfff)
                {
                  ch = 0x10000 + (((gunichar) unit - 0xd800) << 10) + ((gunichar) low - 0xdc00);
                  r += 6;
                }
              else
                ch = 0xfffd;
            }
          else if (unit == 0 || (unit >= 0xdc00 && unit <= 0xdfff))
            ch = 0xfffd;
          else
            ch = unit;
          w += g_unichar_to_utf8 (ch, w);
          r += 6;
          continue;
        default:
          return fail (p, r, "an unknown escape in a string", error);
        }
      r += 2;
    }
  return fail (p, p->end, "an unterminated string", error);
}

static gboolean
parse_number (Parser *p, RiJsonValue *value, GError **error)
{
  char *start = p->pos;
  char *r = start;
  gboolean negative = FALSE;
  guint64 magnitude = 0;
  gboolean fits = TRUE;

  if (*r == '-')
    {
      negative = TRUE;
      r++;
    }
  if (r < p->end && *r == '0')
    r++;
  else if (r < p->end && *r >= '1' && *r <= '9')
    while (r < p->end && g_ascii_isdigit (*r))
      {
        guint digit = *r++ - '0';
        if (magnitude > (G_MAXUINT64 - digit) / 10)
          fits = FALSE;
        else
          magnitude = magnitude * 10 + digit;
      }
  else
    return fail (p, r, "a malformed number", error);

  value->type = RI_JSON_NUMBER;
  value->integral = TRUE;
  if (r < p->end && *r == '.')
    {
      value->integral = FALSE;
      if (++r >= p->end || !g_ascii_isdigit (*r))
        return fail (p, r, "a malformed number", error);
      while (r < p->end && g_ascii_isdigit (*r))
        r++;
    }
  if (r < p->end && (*r == 'e' || *r == 'E'))
    {
      value->integral = FALSE;
      r++;
      if (r < p->end && (*r == '+' || *r == '-'))
        r++;
      if (r >= p->end || !g_ascii_isdigit (*r))
        return fail (p, r, "a malformed number", error);
      while (r < p->end && g_ascii_isdigit (*r))
        r++;
    }
  if (value->integral && fits && magnitude <= (guint64) G_MAXINT64 + negative)
    value->integer = negative ? (gint64) (0 - magnitude) : (gint64) magnitude;
  else
    {
      /* The text is NUL-terminated and what follows the number is no part
       * of one, so strtod stops where the grammar did. */
      value->integral = FALSE;
      value->real = g_ascii_strtod (start, NULL);
      if (isinf (value->real))
        return fail (p, start, "a number too large for a double", error);
    }
  p->pos = r;
  return TRUE;
}

static gboolean
parse_literal (Parser *p, const char *word, GError **error)
{
  gsize length = strlen (word);

  if ((gsize) (p->end - p->pos) < length || memcmp (p->pos, word, length) != 0)
    return unexpected (p, "a value", error);
  p->pos += length;
  return TRUE;
}

static gboolean
parse_scalar (Parser *p, RiJsonValue *value, GError **error)
{
  memset (value, 0, sizeof *value);
  if (p->pos >= p->end)
    return unexpected (p, "a value", error);
  switch (*p->pos)
    {
    case '"':
      value->type = RI_JSON_STRING;
      return parse_string (p, &value->string, error);
    case 't':
      value->type = RI_JSON_BOOLEAN;
      value->boolean = TRUE;
      return parse_literal (p, "true", error);
    case 'f':
      value->type = RI_JSON_BOOLEAN;
      return parse_literal (p, "false", error);
    case 'n':
      value->type = RI_JSON_NULL;
      return parse_literal (p, "null", error);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      return parse_number (p, value, error);
    default:
      return unexpected (p, "a value", error);
    }
}

/* Reads an object's key and its colon, up to the value. */
static gboolean
parse_key (Parser *p, Frame *frame, GError **error)
{
  if (p->pos >= p->end || *p->pos != '"')
    return unexpected (p, "a member's name", error);
  if (!parse_string (p, &frame->name, error))
    return FALSE;
  skip_space (p);
  if (p->pos >= p->end || *p->pos != ':')
    return unexpected (p, "':'", error);
  p->pos++;
  return TRUE;
}

/* Grows an array of the parser, which starts in the parser itself. */
static gpointer
grow (gpointer array, guint *size, gsize element, gpointer inline_array)
{
  guint new_size = *size * 2;
  gpointer grown;

  if (array == inline_array)
    grown = g_memdup2 (array, *size * element);
  else
    grown = array;
  grown = g_realloc_n (grown, new_size, element);
  *size = new_size;
  return grown;
}

static gboolean
open_container (Parser *p, gboolean is_object, GError **error)
{
  Frame *frame;

  if (p->frames_len >= p->max_depth)
    {
      g_set_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_DEEP,
                   "is nested too deeply (more than %u levels)", p->max_depth);
      return FALSE;
    }
  if (p->frames_len == p->frames_size)
    p->frames = grow (p->frames, &p->frames_size, sizeof (Frame), p->inline_frames);
  frame = &p->frames[p->frames_len++];
  frame->start = p->members_len;
  frame->is_object = is_object;
  frame->name = NULL;
  p->pos++;
  return TRUE;
}

static gboolean
add_member (Parser *p, const char *name, const RiJsonValue *value, GError **error)
{
  if (p->members_len == G_MAXUINT32)
    return fail (p, p->pos, "too many values", error);
  if (p->members_len == p->members_size)
    p->members = grow (p->members, &p->members_size, sizeof (RiJsonMember), p->inline_members);
  p->members[p->members_len].name = name;
  p->members[p->members_len].value = *value;
  p->members_len++;
  return TRUE;
}

/* Moves the innermost container's values into the arena, as @value. */
static void
close_container (Parser *p, RiJsonValue *value)
{
  Frame *frame = &p->frames[--p->frames_len];
  guint n = p->members_len - frame->start;
  RiJsonMember *members = p->members + frame->start;

  memset (value, 0, sizeof *value);
  value->type = frame->is_object ? RI_JSON_OBJECT : RI_JSON_ARRAY;
  value->length = n;
  if (n > 0 && frame->is_object)
    {
      value->members = arena_alloc (p->doc, n * sizeof (RiJsonMember));
      memcpy (value->members, members, n * sizeof (RiJsonMember));
    }
  else if (n > 0)
    {
      value->elements = arena_alloc (p->doc, n * sizeof (RiJsonValue));
      for (guint i = 0; i < n; i++)
        value->elements[i] = members[i].value;
    }
  p->members_len = frame->start;
}

static gboolean
parse_document (Parser *p, GError **error)
{
  RiJsonValue value;

  skip_space (p);
  if (p->pos == p->end)
    {
      g_set_error_literal (error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY, "holds no JSON value");
      return FALSE;
    }
  for (;;)
    {
      /* A value starts here. */
      skip_space (p);
      if (p->pos < p->end && (*p->pos == '{' || *p->pos == '['))
        {
          gboolean is_object = *p->pos == '{';

          if (!open_container (p, is_object, error))
            return FALSE;
          skip_space (p);
          if (p->pos < p->end && *p->pos == (is_object ? '}' : ']'))
            {
              p->pos++;
              close_container (p, &value);
            }
          else if (is_object && !parse_key (p, &p->frames[p->frames_len - 1], error))
            return FALSE;
          else
            continue;
        }
      else if (!parse_scalar (p, &value, error))
        return FALSE;

      /* It is complete: it goes into its container, which may be
       * complete in turn. */
      for (;;)
        {
          Frame *frame;

          skip_space (p);
          if (p->frames_len == 0)
            {
              if (p->pos != p->end)
                return unexpected (p, "the end of the text", error);
              p->doc->root = value;
              return TRUE;
            }
          frame = &p->frames[p->frames_len - 1];
          if (!add_member (p, frame->name, &value, error))
            return FALSE;
          if (p->pos < p->end && *p->pos == ',')
            {
              p->pos++;
              skip_space (p);
              if (frame->is_object && !parse_key (p, frame, error))
                return FALSE;
              break;
            }
          if (p->pos < p->end && *p->pos == (frame->is_object ? '}' : ']'))
            {
              p->pos++;
              close_container (p, &value);
              continue;
            }
          return unexpected (p, frame->is_object ? "',' or '}'" : "',' or ']'", error);
        }
    }
}

RiJsonDoc *
ri_json_doc_parse (const char *data, gssize len, gsize max_size, guint max_depth, GError **error)
{
  g_autoptr(RiJsonDoc) doc = NULL;
  Parser parser, *p = &parser;
  gsize size;
  gboolean ok;

  if (data == NULL || len == 0 || (len < 0 && *data == '\0'))
    {
      g_set_error_literal (error, RI_JSON_ERROR, RI_JSON_ERROR_EMPTY, "is empty");
      return NULL;
    }
  size = len < 0 ? strnlen (data, MIN (max_size, (gsize) G_MAXSSIZE - 1) + 1) : (gsize) len;
  if (size > max_size)
    {
      g_set_error (error, RI_JSON_ERROR, RI_JSON_ERROR_TOO_LARGE,
                   "is larger than %" G_GSIZE_FORMAT " bytes", max_size);
      return NULL;
    }
  if (!g_utf8_validate_len (data, size, NULL))
    {
      g_set_error_literal (error, RI_JSON_ERROR, RI_JSON_ERROR_NOT_UTF8, "is not UTF-8");
      return NULL;
    }

  doc = g_new0 (RiJsonDoc, 1);
  doc->text = g_malloc (size + 1);
  memcpy (doc->text, data, size);
  doc->text[size] = '\0';

  p->doc = doc;
  p->source = data;
  p->text = p->pos = doc->text;
  p->end = doc->text + size;
  p->max_depth = max_depth;
  p->members = p->inline_members;
  p->members_len = 0;
  p->members_size = INLINE_MEMBERS;
  p->frames = p->inline_frames;
  p->frames_len = 0;
  p->frames_size = INLINE_FRAMES;
  ok = parse_document (p, error);
  if (p->members != p->inline_members)
    g_free (p->members);
  if (p->frames != p->inline_frames)
    g_free (p->frames);
  return ok ? g_steal_pointer (&doc) : NULL;
}

RiJsonDoc *
ri_json_doc_parse_bytes (GBytes *bytes, gsize max_size, guint max_depth, GError **error)
{
  gsize size = 0;
  const char *data = bytes ? g_bytes_get_data (bytes, &size) : NULL;

  return ri_json_doc_parse (data, size, max_size, max_depth, error);
}

const RiJsonValue *
ri_json_doc_get_root (RiJsonDoc *doc)
{
  return doc ? &doc->root : NULL;
}

RiJsonType
ri_json_value_get_type (const RiJsonValue *value)
{
  return value ? value->type : RI_JSON_NULL;
}

gboolean
ri_json_value_is_null (const RiJsonValue *value)
{
  return value == NULL || value->type == RI_JSON_NULL;
}

const char *
ri_json_value_get_string (const RiJsonValue *value)
{
  return value && value->type == RI_JSON_STRING ? value->string : NULL;
}

gboolean
ri_json_value_get_int (const RiJsonValue *value, gint64 *out)
{
  if (value == NULL || value->type != RI_JSON_NUMBER || !value->integral)
    return FALSE;
  *out = value->integer;
  return TRUE;
}

guint
ri_json_value_get_length (const RiJsonValue *value)
{
  return value && (value->type == RI_JSON_ARRAY || value->type == RI_JSON_OBJECT) ? value->length : 0;
}

const RiJsonValue *
ri_json_array_get (const RiJsonValue *array, guint index)
{
  if (array == NULL || array->type != RI_JSON_ARRAY || index >= array->length)
    return NULL;
  return &array->elements[index];
}

const RiJsonValue *
ri_json_object_get (const RiJsonValue *object, const char *name)
{
  if (object == NULL || object->type != RI_JSON_OBJECT)
    return NULL;
  for (guint i = object->length; i-- > 0;)
    if (strcmp (object->members[i].name, name) == 0)
      return &object->members[i].value;
  return NULL;
}

const char *
ri_json_object_get_string (const RiJsonValue *object, const char *name)
{
  return ri_json_value_get_string (ri_json_object_get (object, name));
}

const char *
ri_json_object_name_at (const RiJsonValue *object, guint index)
{
  if (object == NULL || object->type != RI_JSON_OBJECT || index >= object->length)
    return NULL;
  return object->members[index].name;
}

const RiJsonValue *
ri_json_object_value_at (const RiJsonValue *object, guint index)
{
  if (object == NULL || object->type != RI_JSON_OBJECT || index >= object->length)
    return NULL;
  return &object->members[index].value;
}

/* Recursion is bounded by the depth the document was parsed with. */
static JsonNode *
to_node (const RiJsonValue *value)
{
  JsonNode *node = json_node_alloc ();

  switch (value->type)
    {
    case RI_JSON_BOOLEAN:
      return json_node_init_boolean (node, value->boolean);
    case RI_JSON_NUMBER:
      return value->integral ? json_node_init_int (node, value->integer)
                             : json_node_init_double (node, value->real);
    case RI_JSON_STRING:
      return json_node_init_string (node, value->string);
    case RI_JSON_ARRAY:
      {
        g_autoptr(JsonArray) array = json_array_sized_new (value->length);
        for (guint i = 0; i < value->length; i++)
          json_array_add_element (array, to_node (&value->elements[i]));
        return json_node_init_array (node, array);
      }
    case RI_JSON_OBJECT:
      {
        g_autoptr(JsonObject) object = json_object_new ();
        for (guint i = 0; i < value->length; i++)
          json_object_set_member (object, value->members[i].name, to_node (&value->members[i].value));
        return json_node_init_object (node, object);
      }
    default:
      return json_node_init_null (node);
    }
}

JsonNode *
ri_json_parse_bounded (const char *data, gssize len, gsize max_size, guint max_depth, GError **error)
{
  g_autoptr(RiJsonDoc) doc = ri_json_doc_parse (data, len, max_size, max_depth, error);
  JsonNode *root;

  if (doc == NULL)
    return NULL;
  root = to_node (&doc->root);
  json_node_seal (root);
  return root;
}

JsonNode *
ri_json_parse_bytes (GBytes *bytes, gsize max_size, guint max_depth, GError **error)
{
  gsize size = 0;
  const char *data = bytes ? g_bytes_get_data (bytes, &size) : NULL;

  return ri_json_parse_bounded (data, size, max_size, max_depth, error);
}
