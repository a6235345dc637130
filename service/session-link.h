/* session-link.h: what qga-session's objects share about reaching qga-bridge.
 *
 * SessionClipboard and SessionAgent both forward programs' calls to the
 * bridge on the system bus and relay its answers; an error comes back to
 * the program with its D-Bus name, and a bridge that cannot be reached is
 * reported the same way by both.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SESSION_BRIDGE_NAME "org.qemu.GuestAgent"
#define SESSION_BRIDGE_PATH "/org/qemu/GuestAgent"

/* TRUE for the D-Bus errors that mean the bridge was not there to answer
 * (no owner, not activatable, it left without replying). */
gboolean session_link_is_unreachable (const char *dbus_error_name);

/* Answer invocation with an error from a call to the bridge, keeping its
 * D-Bus name. Where the bridge could not be reached, the message begins
 * "the system bridge is not running: "; otherwise it is the bridge's own,
 * after other_prefix and ": " if other_prefix is not NULL. A cancelled call
 * becomes org.qemu.GuestAgent.Error.Cancelled ("the session agent is
 * stopping"). */
void session_link_return_error (GDBusMethodInvocation *invocation, const GError *error,
                                const char *other_prefix);

/* Answer invocation for a call made while there is no system bus
 * connection. */
void session_link_return_no_system_bus (GDBusMethodInvocation *invocation);

G_END_DECLS
