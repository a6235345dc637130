/* session-clipboard.h: org.qemu.GuestAgent.Clipboard on the session bus.
 *
 * A subclass of the gdbus-codegen skeleton, as BridgeAgent is. It keeps no
 * clipboard content: programs' calls go on to qga-bridge's
 * org.qemu.GuestAgent.Sessions on the system bus, file descriptors
 * included (a supplier's through session-relay), and the bridge's unicast
 * signals come back as this
 * interface's signals (docs/CLIPBOARD.md §5, §6). What it does keep is
 * which program of the session owns each selection, the host's requests
 * waiting for that owner, and the callers it works for, each bounded.
 *
 * The system bus connection is given from outside and may come and go
 * (session_clipboard_set_system_bus): the object registers with the bridge
 * whenever it can, and again whenever the bridge reappears.
 */
#pragma once

#include "qga-bus-budget.h"
#include "qga-dbus-generated.h"

G_BEGIN_DECLS

#define SESSION_BUS_NAME "org.qemu.GuestAgent"
#define SESSION_OBJECT_PATH "/org/qemu/GuestAgent"
#define SESSION_DEFAULT_MAX_CLIENTS 64

#define SESSION_TYPE_CLIPBOARD (session_clipboard_get_type ())
G_DECLARE_FINAL_TYPE (SessionClipboard, session_clipboard, SESSION, CLIPBOARD,
                      QgaGuestAgentClipboardSkeleton)

/* session_bus is where programs call; max_clients bounds the callers
 * tracked at once (owners and callers with calls in flight). */
SessionClipboard *session_clipboard_new (GDBusConnection *session_bus, guint max_clients);

/* Charged for the clipboard signals sent on the session bus. While it
 * holds, the host's grabs and releases wait (only the latest per selection
 * is kept) and go out once it takes signals again; DataRequested, at most
 * 64 waiting, still goes out. */
void session_clipboard_set_bus_budget (SessionClipboard *clipboard, QgaBusBudget *budget);

/* The system bus connection to reach the bridge on, or NULL while there is
 * none (it closed). Setting one subscribes to the bridge's signals,
 * watches its name and registers. */
void session_clipboard_set_system_bus (SessionClipboard *clipboard, GDBusConnection *system_bus);

/* Before exiting: unregister from the bridge, answer the calls waiting for
 * a registration, and cancel every call to the bridge. Calls in flight
 * complete, with errors, in later main loop iterations: iterate until
 * session_clipboard_is_idle(). */
void session_clipboard_shutdown (SessionClipboard *clipboard);
gboolean session_clipboard_is_idle (SessionClipboard *clipboard);

G_END_DECLS
