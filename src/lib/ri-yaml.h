#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  RI_YAML_SCALAR,
  RI_YAML_SEQUENCE,
  RI_YAML_MAPPING,
} RiYamlKind;

typedef struct _RiYamlNode RiYamlNode;

/* A parsed YAML document: a tree that remembers where each node stood in
 * the file, so that validation errors can name line and column. */
struct _RiYamlNode {
  RiYamlKind kind;
  guint line;   /* 1-based */
  guint column; /* 1-based */
  char *value;  /* (owned) (nullable): scalars only */
  gboolean quoted; /* scalars only: written in quotes, so never null/bool */
  GPtrArray *items; /* (owned) (element-type RiYamlNode): sequences; mappings as key, value, key, value… */
  gatomicrefcount ref_count;
};

RiYamlNode *ri_yaml_node_ref   (RiYamlNode *node);
void        ri_yaml_node_unref (RiYamlNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RiYamlNode, ri_yaml_node_unref)

RiYamlNode *ri_yaml_parse_file (const char *path,
                                GError    **error);
RiYamlNode *ri_yaml_parse_data (const char *data,
                                gsize       length,
                                const char *origin,
                                GError    **error);

gboolean    ri_yaml_node_is_null (const RiYamlNode *node);

G_END_DECLS
