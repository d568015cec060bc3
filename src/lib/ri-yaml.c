#include "config.h"

#include <yaml.h>

#include "ri-error.h"
#include "ri-yaml.h"

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (yaml_parser_t, yaml_parser_delete)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (yaml_event_t, yaml_event_delete)

/* Bounds what a hostile or broken file can make us build. */
#define MAX_DEPTH 64

RiYamlNode *
ri_yaml_node_ref (RiYamlNode *node)
{
  g_atomic_ref_count_inc (&node->ref_count);
  return node;
}

void
ri_yaml_node_unref (RiYamlNode *node)
{
  if (!g_atomic_ref_count_dec (&node->ref_count))
    return;
  g_free (node->value);
  g_clear_pointer (&node->items, g_ptr_array_unref);
  g_free (node);
}

static RiYamlNode *
node_new (RiYamlKind kind, const yaml_mark_t *mark)
{
  RiYamlNode *node = g_new0 (RiYamlNode, 1);

  node->kind = kind;
  node->line = mark->line + 1;
  node->column = mark->column + 1;
  g_atomic_ref_count_init (&node->ref_count);
  if (kind != RI_YAML_SCALAR)
    node->items = g_ptr_array_new_with_free_func ((GDestroyNotify) ri_yaml_node_unref);
  return node;
}

gboolean
ri_yaml_node_is_null (const RiYamlNode *node)
{
  if (node->kind != RI_YAML_SCALAR || node->quoted)
    return FALSE;
  return node->value[0] == '\0' || g_str_equal (node->value, "~") ||
         g_str_equal (node->value, "null") || g_str_equal (node->value, "Null") ||
         g_str_equal (node->value, "NULL");
}

typedef struct {
  yaml_parser_t *parser;
  const char *origin;
  GHashTable *anchors; /* name → RiYamlNode */
} ParseContext;

static void
set_parser_error (ParseContext *ctx, GError **error)
{
  const yaml_parser_t *p = ctx->parser;
  const yaml_mark_t *mark = p->problem ? &p->problem_mark : &p->context_mark;

  g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "%s:%zu:%zu: %s%s%s",
               ctx->origin, mark->line + 1, mark->column + 1,
               p->problem ? p->problem : "malformed YAML",
               p->context ? " " : "", p->context ? p->context : "");
}

static gboolean
next_event (ParseContext *ctx, yaml_event_t *event, GError **error)
{
  if (!yaml_parser_parse (ctx->parser, event))
    {
      set_parser_error (ctx, error);
      return FALSE;
    }
  return TRUE;
}

static RiYamlNode *parse_node (ParseContext *ctx, yaml_event_t *event, guint depth, GError **error);

static gboolean
parse_children (ParseContext *ctx, RiYamlNode *node, yaml_event_type_t end, guint depth, GError **error)
{
  for (;;)
    {
      g_auto(yaml_event_t) event = { 0 };
      RiYamlNode *child;

      if (!next_event (ctx, &event, error))
        return FALSE;
      if (event.type == end)
        return TRUE;
      child = parse_node (ctx, &event, depth + 1, error);
      if (child == NULL)
        return FALSE;
      g_ptr_array_add (node->items, child);
    }
}

static void
remember_anchor (ParseContext *ctx, const yaml_char_t *anchor, RiYamlNode *node)
{
  if (anchor != NULL)
    g_hash_table_replace (ctx->anchors, g_strdup ((const char *) anchor), ri_yaml_node_ref (node));
}

static RiYamlNode *
parse_node (ParseContext *ctx, yaml_event_t *event, guint depth, GError **error)
{
  g_autoptr(RiYamlNode) node = NULL;

  if (depth > MAX_DEPTH)
    {
      g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "%s:%zu:%zu: nested too deeply",
                   ctx->origin, event->start_mark.line + 1, event->start_mark.column + 1);
      return NULL;
    }

  switch (event->type)
    {
    case YAML_SCALAR_EVENT:
      node = node_new (RI_YAML_SCALAR, &event->start_mark);
      node->value = g_strndup ((const char *) event->data.scalar.value, event->data.scalar.length);
      node->quoted = event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
      remember_anchor (ctx, event->data.scalar.anchor, node);
      return g_steal_pointer (&node);

    case YAML_SEQUENCE_START_EVENT:
      node = node_new (RI_YAML_SEQUENCE, &event->start_mark);
      if (!parse_children (ctx, node, YAML_SEQUENCE_END_EVENT, depth, error))
        return NULL;
      remember_anchor (ctx, event->data.sequence_start.anchor, node);
      return g_steal_pointer (&node);

    case YAML_MAPPING_START_EVENT:
      node = node_new (RI_YAML_MAPPING, &event->start_mark);
      if (!parse_children (ctx, node, YAML_MAPPING_END_EVENT, depth, error))
        return NULL;
      remember_anchor (ctx, event->data.mapping_start.anchor, node);
      return g_steal_pointer (&node);

    case YAML_ALIAS_EVENT:
      {
        RiYamlNode *target = g_hash_table_lookup (ctx->anchors, event->data.alias.anchor);
        if (target == NULL)
          {
            g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "%s:%zu:%zu: unknown alias '*%s'",
                         ctx->origin, event->start_mark.line + 1, event->start_mark.column + 1,
                         (const char *) event->data.alias.anchor);
            return NULL;
          }
        return ri_yaml_node_ref (target);
      }

    default:
      g_set_error (error, RI_ERROR, RI_ERROR_CONFIG, "%s:%zu:%zu: unexpected YAML event",
                   ctx->origin, event->start_mark.line + 1, event->start_mark.column + 1);
      return NULL;
    }
}

RiYamlNode *
ri_yaml_parse_data (const char *data, gsize length, const char *origin, GError **error)
{
  g_auto(yaml_parser_t) parser = { 0 };
  g_autoptr(GHashTable) anchors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                         (GDestroyNotify) ri_yaml_node_unref);
  ParseContext ctx = { &parser, origin, anchors };
  g_autoptr(RiYamlNode) root = NULL;

  if (!yaml_parser_initialize (&parser))
    {
      g_set_error (error, RI_ERROR, RI_ERROR_FAILED, "%s: cannot initialise the YAML parser", origin);
      return NULL;
    }
  yaml_parser_set_input_string (&parser, (const unsigned char *) data, length);

  for (;;)
    {
      g_auto(yaml_event_t) event = { 0 };

      if (!next_event (&ctx, &event, error))
        return NULL;

      switch (event.type)
        {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
          break;
        case YAML_DOCUMENT_START_EVENT:
          if (root != NULL)
            {
              g_set_error (error, RI_ERROR, RI_ERROR_CONFIG,
                           "%s:%zu:%zu: only one YAML document is allowed", origin,
                           event.start_mark.line + 1, event.start_mark.column + 1);
              return NULL;
            }
          break;
        case YAML_STREAM_END_EVENT:
          if (root == NULL)
            {
              /* An empty file is a null document, as YAML has it. */
              yaml_mark_t mark = { 0, 0, 0 };
              root = node_new (RI_YAML_SCALAR, &mark);
              root->value = g_strdup ("");
            }
          return g_steal_pointer (&root);
        default:
          root = parse_node (&ctx, &event, 0, error);
          if (root == NULL)
            return NULL;
          break;
        }
    }
}

RiYamlNode *
ri_yaml_parse_file (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  return ri_yaml_parse_data (contents, length, path, error);
}
