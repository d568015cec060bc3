#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* EX_CONFIG: the configuration is broken. The unit's
 * RestartPreventExitStatus= names it, since restarting cannot mend that. */
#define RI_DAEMON_EXIT_CONFIG 78

#define RI_TYPE_DAEMON (ri_daemon_get_type ())
G_DECLARE_FINAL_TYPE (RiDaemon, ri_daemon, RI, DAEMON, GApplication)

RiDaemon *ri_daemon_new             (void);
int       ri_daemon_get_exit_status (RiDaemon *self);
gboolean  ri_daemon_reload          (RiDaemon *self,
                                     GError  **error);
GVariant *ri_daemon_get_status      (RiDaemon *self);

G_END_DECLS
