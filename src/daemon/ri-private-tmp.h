#pragma once

#include <glib.h>

#include "ri-config.h"

G_BEGIN_DECLS

gboolean ri_private_tmp_check_config (const RiConfig *config,
                                      const char     *mountinfo_path,
                                      GError        **error);

G_END_DECLS
