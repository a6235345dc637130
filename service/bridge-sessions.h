/* bridge-sessions.h: the session agents, and which one is active.
 *
 * Each user session runs a qga-session agent, which registers here. The
 * bridge identifies it from its credentials (uid and pid, from
 * dbus-daemon) and, with logind, from its login session: only the agent
 * of the foreground session of a seat is *active*, and only the active
 * agent sees the clipboard (docs/CLIPBOARD.md §6.1, with the fallback
 * used when there is no logind). Agents are tracked with name watches and
 * their sessions with PropertiesChanged, so the active agent follows user
 * switches at once.
 *
 * Signals:
 *   active-changed (const char *old_name, const char *new_name)
 *       the active agent changed; either may be NULL
 *   agent-removed (const char *name)
 *       an agent unregistered or left the bus (emitted before any
 *       active-changed it causes)
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define BRIDGE_DEFAULT_MAX_AGENTS 16

#define BRIDGE_TYPE_SESSIONS (bridge_sessions_get_type ())
G_DECLARE_FINAL_TYPE (BridgeSessions, bridge_sessions, BRIDGE, SESSIONS, GObject)

BridgeSessions *bridge_sessions_new (GDBusConnection *connection, guint max_agents);

/* RegisterAgent: identifies the caller and answers the invocation with
 * (b active), or with an error (LimitExceeded, or when the caller cannot
 * be identified). Registering again is harmless. */
void bridge_sessions_register (BridgeSessions *sessions, GDBusMethodInvocation *invocation);

/* UnregisterAgent; FALSE if name was not registered. */
gboolean bridge_sessions_unregister (BridgeSessions *sessions, const char *name);

gboolean bridge_sessions_is_registered (BridgeSessions *sessions, const char *name);
guint bridge_sessions_get_count (BridgeSessions *sessions);

/* The unique name of the active agent, or NULL. */
const char *bridge_sessions_get_active (BridgeSessions *sessions);

G_END_DECLS
