/* session-agent.h: org.qemu.GuestAgent on the session bus, relayed to qga-bridge.
 *
 * A subclass of the gdbus-codegen skeleton, as BridgeAgent is, exported at
 * /org/qemu/GuestAgent next to the clipboard: the bridge's own interface,
 * so that a program of the session finds the same API on its session bus
 * as on the system bus (docs/DBUS-API.md).
 *
 * Ping, GetHostInfo, GetHostStats, Call and SendEvent go on to the bridge
 * as they came, over the agent's system bus connection, hence as the
 * session's user: the system bus policy decides who may Call and SendEvent.
 * The reply, or the error with its D-Bus name, comes back unchanged.
 *
 * Stats subscriptions are the agent's own: one per program of the session,
 * and ONE at the bridge, at the smallest interval any program wants, made
 * again whenever the bridge or the system bus comes back. HostStats (while
 * a program of the session is subscribed) and HostEvent are re-emitted;
 * HostConnected mirrors the bridge's; Version is the agent's.
 *
 * The system bus connection is given from outside and may come and go
 * (session_agent_set_system_bus), as for SessionClipboard.
 */
#pragma once

#include "qga-bus-budget.h"
#include "qga-dbus-generated.h"

G_BEGIN_DECLS

#define SESSION_TYPE_AGENT (session_agent_get_type ())
G_DECLARE_FINAL_TYPE (SessionAgent, session_agent, SESSION, AGENT, QgaGuestAgentSkeleton)

/* session_bus is where programs call; max_clients bounds the callers
 * tracked at once (subscribers and callers with calls in flight). */
SessionAgent *session_agent_new (GDBusConnection *session_bus, guint max_clients);

/* What the bridge's HostEvent and HostStats become on the session bus is
 * charged to budget; while it holds, they are dropped (with a
 * rate-limited warning). */
void session_agent_set_bus_budget (SessionAgent *agent, QgaBusBudget *budget);

/* The system bus connection to reach the bridge on, or NULL while there is
 * none. Calls that arrived before the first one wait for it. */
void session_agent_set_system_bus (SessionAgent *agent, GDBusConnection *system_bus);

/* Before exiting: cancel every call to the bridge. Their callers are
 * answered in later main loop iterations: iterate until
 * session_agent_is_idle(). */
void session_agent_shutdown (SessionAgent *agent);
gboolean session_agent_is_idle (SessionAgent *agent);

G_END_DECLS
