#pragma once

#include <gio/gio.h>

#include "ri-scheduler.h"

G_BEGIN_DECLS

#define RI_TYPE_HTTP_SERVER (ri_http_server_get_type ())
G_DECLARE_FINAL_TYPE (RiHttpServer, ri_http_server, RI, HTTP_SERVER, GObject)

RiHttpServer *ri_http_server_new        (RiScheduler  *scheduler);
gboolean      ri_http_server_listen     (RiHttpServer *self,
                                         RiConfig     *config,
                                         GError      **error);
void          ri_http_server_add_status (RiHttpServer *self,
                                         GVariantDict *status);

G_END_DECLS
