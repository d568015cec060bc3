#pragma once

#include <glib.h>

G_BEGIN_DECLS

GStrv    ri_credentials_default_auth_files (void);
gboolean ri_credentials_from_auth_file     (const char  *path,
                                            const char  *registry_url,
                                            char       **username,
                                            char       **password,
                                            GError     **error);
char    *ri_credentials_read_secret_file   (const char  *path,
                                            GError     **error);
gboolean ri_credentials_file_is_exposed    (const char  *path);

G_END_DECLS
