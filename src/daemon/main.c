#include "config.h"

#include <locale.h>

#include "ri-daemon.h"
#include "ri-registry-client.h"

int
main (int argc, char **argv)
{
  g_autoptr(RiDaemon) daemon = NULL;
  int status;

  setlocale (LC_ALL, "");
  daemon = ri_daemon_new ();
  status = g_application_run (G_APPLICATION (daemon), argc, argv);
  return status != 0 ? status : ri_daemon_get_exit_status (daemon);
}
