/* session-link.c: errors of the calls qga-session forwards to qga-bridge. */
#include "config.h"

#include "qga-error.h"
#include "session-link.h"

gboolean
session_link_is_unreachable (const char *dbus_error_name)
{
  return g_str_equal (dbus_error_name, "org.freedesktop.DBus.Error.ServiceUnknown") ||
         g_str_equal (dbus_error_name, "org.freedesktop.DBus.Error.NameHasNoOwner") ||
         g_str_equal (dbus_error_name, "org.freedesktop.DBus.Error.NoReply") ||
         g_str_equal (dbus_error_name, "org.freedesktop.DBus.Error.Disconnected") ||
         g_str_has_prefix (dbus_error_name, "org.freedesktop.DBus.Error.Spawn.");
}

void
session_link_return_error (GDBusMethodInvocation *invocation, const GError *error,
                           const char *other_prefix)
{
  g_autofree char *name = NULL;
  g_autofree char *message = NULL;
  g_autoptr(GError) stripped = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_dbus_method_invocation_return_error_literal (invocation, QGA_ERROR, QGA_ERROR_CANCELLED,
                                                     "the session agent is stopping");
      return;
    }
  if (!g_dbus_error_is_remote_error (error))
    {
      g_dbus_method_invocation_return_error (invocation, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                                             "the system bridge is not running: %s",
                                             error->message);
      return;
    }
  name = g_dbus_error_get_remote_error (error);
  stripped = g_error_copy (error);
  g_dbus_error_strip_remote_error (stripped);
  if (session_link_is_unreachable (name))
    message = g_strdup_printf ("the system bridge is not running: %s", stripped->message);
  else if (other_prefix != NULL)
    message = g_strdup_printf ("%s: %s", other_prefix, stripped->message);
  else
    message = g_strdup (stripped->message);
  g_dbus_method_invocation_return_dbus_error (invocation, name, message);
}

void
session_link_return_no_system_bus (GDBusMethodInvocation *invocation)
{
  g_dbus_method_invocation_return_error_literal (invocation, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                                                 "the system bridge is not running: "
                                                 "not connected to the system bus");
}
