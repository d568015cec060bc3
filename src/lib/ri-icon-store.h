#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RI_TYPE_ICON_STORE (ri_icon_store_get_type ())
G_DECLARE_FINAL_TYPE (RiIconStore, ri_icon_store, RI, ICON_STORE, GObject)

RiIconStore *ri_icon_store_new              (const char  *icons_dir,
                                             const char  *icons_uri);
gboolean     ri_icon_store_is_icon_key      (const char  *key);
gboolean     ri_icon_store_is_icon_name     (const char  *name);
GBytes      *ri_icon_store_open             (RiIconStore *self,
                                             const char  *name,
                                             GError     **error);
char        *ri_icon_store_rewrite          (RiIconStore *self,
                                             const char  *value,
                                             GError     **error);
gboolean     ri_icon_store_collect_garbage  (RiIconStore *self,
                                             guint        grace_period_s,
                                             guint       *n_removed,
                                             GError     **error);

GBytes      *ri_data_uri_decode_png         (const char  *uri,
                                             GError     **error);

G_END_DECLS
