#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

void     ri_dbus_error_ensure_registered (void);
GError  *ri_dbus_error_for_bus           (const GError *error);
void     ri_dbus_error_strip             (GError       *error);

G_END_DECLS
