#define G_LOG_DOMAIN "Daemon"

#include "config.h"

#include <string.h>

#include "ri-error.h"
#include "ri-private-tmp.h"

/* systemd's PrivateTmp= bind-mounts /tmp/systemd-private-ID-UNIT-RANDOM/tmp
 * over /tmp (and the same under /var/tmp): whatever the daemon writes
 * there is invisible to everyone else and deleted when the unit stops,
 * while every run reports success. An operator who configured such a path
 * wants to be told at once, so the configuration is refused. */

/* The last mount on a mount point is the one that is seen. Mount points
 * in mountinfo escape space, tab, newline and backslash as octal; the two
 * that matter here have none. */
static gboolean
mount_point_is_private (char **lines, const char *mount_point)
{
  gboolean found = FALSE;

  for (guint i = 0; lines[i]; i++)
    {
      /* ID PARENT MAJOR:MINOR ROOT MOUNT-POINT … */
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 6);
      if (g_strv_length (fields) >= 5 && g_str_equal (fields[4], mount_point))
        found = strstr (fields[3], "/systemd-private-") != NULL;
    }
  return found;
}

static gboolean
is_below (const char *path, const char *dir)
{
  return path != NULL && g_str_has_prefix (path, dir) && path[strlen (dir)] == '/';
}

static gboolean
check_path (char **lines, const char *what, const char *path, GError **error)
{
  const char *const private_dirs[] = { "/tmp", "/var/tmp" };

  for (guint i = 0; i < G_N_ELEMENTS (private_dirs); i++)
    if (is_below (path, private_dirs[i]) && mount_point_is_private (lines, private_dirs[i]))
      {
        g_set_error (error, RI_ERROR, RI_ERROR_CONFIG,
                     "%s: '%s' is under %s, which is private to this service (systemd's PrivateTmp=) "
                     "and removed when it stops; write below /var/lib/regindexer instead",
                     what, path, private_dirs[i]);
        return FALSE;
      }
  return TRUE;
}

/**
 * ri_private_tmp_check_config:
 * @mountinfo_path: /proc/self/mountinfo, or a copy of one
 *
 * Refuses a configuration that would write indexes or icons into a
 * private /tmp or /var/tmp. Without a readable mountinfo nothing can be
 * told, and the configuration is accepted.
 */
gboolean
ri_private_tmp_check_config (const RiConfig *config, const char *mountinfo_path, GError **error)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (mountinfo_path, &text, NULL, NULL))
    return TRUE;
  lines = g_strsplit (text, "\n", -1);
  if (!check_path (lines, "icons_dir", config->icons_dir, error))
    return FALSE;
  for (guint i = 0; i < config->indexes->len; i++)
    {
      const RiIndexConfig *index = g_ptr_array_index (config->indexes, i);
      g_autofree char *what = g_strdup_printf ("output of index '%s'", index->name);
      if (!check_path (lines, what, index->output, error))
        return FALSE;
    }
  return TRUE;
}
