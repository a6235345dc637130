/* fuzz-sessions.c: a stand-in for bridge-sessions.c in the bridge's fuzz
 * target. The real one needs the system bus (agents register over it and
 * are identified through dbus-daemon and logind); bridge-clipboard.c only
 * asks which agent is active and listens to two signals, so this one has
 * one agent, ":fuzz.agent", active from the start. Linked instead of
 * bridge-sessions.c (same type, same functions). */
#include "config.h"

#include "bridge-sessions.h"

#define FUZZ_AGENT ":fuzz.agent"

struct _BridgeSessions {
  GObject parent;
};

G_DEFINE_TYPE (BridgeSessions, bridge_sessions, G_TYPE_OBJECT)

BridgeSessions *
bridge_sessions_new (GDBusConnection *connection, guint max_agents)
{
  return g_object_new (BRIDGE_TYPE_SESSIONS, NULL);
}

const char *
bridge_sessions_get_active (BridgeSessions *sessions)
{
  return FUZZ_AGENT;
}

gboolean
bridge_sessions_is_registered (BridgeSessions *sessions, const char *name)
{
  return g_strcmp0 (name, FUZZ_AGENT) == 0;
}

guint
bridge_sessions_get_count (BridgeSessions *sessions)
{
  return 1;
}

static void
bridge_sessions_init (BridgeSessions *sessions)
{
}

static void
bridge_sessions_class_init (BridgeSessionsClass *klass)
{
  g_signal_new ("active-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  g_signal_new ("agent-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}
