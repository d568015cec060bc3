#include "config.h"

#include "ri-dbus-error.h"
#include "ri-dbus-names.h"
#include "ri-error.h"

/* Every RiError code has a name on the bus; codes are only appended. */
static const GDBusErrorEntry entries[] = {
  { RI_ERROR_FAILED, RI_DBUS_ERROR_PREFIX "Failed" },
  { RI_ERROR_CONFIG, RI_DBUS_ERROR_PREFIX "Config" },
  { RI_ERROR_NOT_FOUND, RI_DBUS_ERROR_PREFIX "NotFound" },
  { RI_ERROR_REGISTRY, RI_DBUS_ERROR_PREFIX "Registry" },
  { RI_ERROR_PROTOCOL, RI_DBUS_ERROR_PREFIX "Protocol" },
  { RI_ERROR_DIGEST_MISMATCH, RI_DBUS_ERROR_PREFIX "DigestMismatch" },
  { RI_ERROR_TOO_LARGE, RI_DBUS_ERROR_PREFIX "TooLarge" },
  { RI_ERROR_WRITE, RI_DBUS_ERROR_PREFIX "Write" },
  { RI_ERROR_BUSY, RI_DBUS_ERROR_PREFIX "Busy" },
  { RI_ERROR_BAD_REQUEST, RI_DBUS_ERROR_PREFIX "BadRequest" },
  { RI_ERROR_DENIED, RI_DBUS_ERROR_PREFIX "Denied" },
};

void
ri_dbus_error_ensure_registered (void)
{
  static gsize registered = 0;

  g_dbus_error_register_error_domain ("ri-error-quark", &registered, entries, G_N_ELEMENTS (entries));
  g_assert (ri_error_quark () != 0);
}

/* Only the project's own errors cross the bus as they are; anything else
 * becomes Failed with its message, so that callers see one error domain. */
GError *
ri_dbus_error_for_bus (const GError *error)
{
  ri_dbus_error_ensure_registered ();
  if (error->domain == RI_ERROR || error->domain == G_DBUS_ERROR)
    return g_error_copy (error);
  return g_error_new_literal (RI_ERROR, RI_ERROR_FAILED, error->message);
}

void
ri_dbus_error_strip (GError *error)
{
  if (g_dbus_error_is_remote_error (error))
    g_dbus_error_strip_remote_error (error);
}
