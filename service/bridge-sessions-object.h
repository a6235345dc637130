/* bridge-sessions-object.h: the org.qemu.GuestAgent.Sessions D-Bus object.
 *
 * What session agents call (docs/CLIPBOARD.md §6): registration goes to
 * bridge-sessions, clipboard calls to bridge-clipboard after checking that
 * the caller is the active agent. The clipboard's news goes out as
 * signals with a destination, so dbus-daemon delivers each to one agent
 * and no other connection on the system bus can receive it.
 */
#pragma once

#include "qga-bus-budget.h"
#include "bridge-clipboard.h"
#include "bridge-sessions.h"
#include "qga-dbus-generated.h"

G_BEGIN_DECLS

#define BRIDGE_TYPE_SESSIONS_OBJECT (bridge_sessions_object_get_type ())
G_DECLARE_FINAL_TYPE (BridgeSessionsObject, bridge_sessions_object, BRIDGE, SESSIONS_OBJECT,
                      QgaGuestAgentSessionsSkeleton)

/* budget (may be NULL) is charged for every signal sent. */
BridgeSessionsObject *bridge_sessions_object_new (BridgeSessions *sessions,
                                                  BridgeClipboard *clipboard,
                                                  QgaBusBudget *budget);

G_END_DECLS
