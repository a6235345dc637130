/* bridge-sessions.c: agents identified by credentials and logind. */
#include "config.h"

#include "bridge-sessions.h"
#include "qga-error.h"

#define LOGIND_NAME "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"
#define LOGIND_SESSION "org.freedesktop.login1.Session"
#define DBUS_TIMEOUT_MS 10000
/* RegisterAgent calls one agent may have waiting for its identification:
 * a caller repeating the call must not grow the bridge without bound. */
#define MAX_WAITING 8

typedef enum {
  LOGIND_UNKNOWN,          /* not asked yet */
  LOGIND_PRESENT,
  LOGIND_ABSENT,           /* the fallback rule applies */
} LogindState;

typedef struct {
  BridgeSessions *sessions;
  char *name;              /* unique bus name */
  guint64 order;           /* registration order: later is preferred */
  gboolean identified;
  guint32 uid;
  guint32 pid;
  char *session_path;      /* logind session, or NULL */
  gboolean session_active;
  gboolean has_seat;
  guint watch_id;
  guint properties_id;     /* PropertiesChanged on session_path */
  GCancellable *cancellable;
  GPtrArray *waiting;      /* RegisterAgent invocations to answer once identified */
} Agent;

struct _BridgeSessions {
  GObject parent;

  GDBusConnection *connection;
  guint max_agents;
  GHashTable *agents;      /* name → Agent */
  guint64 next_order;
  LogindState logind;
  char *active;            /* name of the active agent */
  gboolean fallback_logged;
};

enum { SIGNAL_ACTIVE_CHANGED, SIGNAL_AGENT_REMOVED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (BridgeSessions, bridge_sessions, G_TYPE_OBJECT)

static void
agent_free (Agent *agent)
{
  g_cancellable_cancel (agent->cancellable);
  g_clear_object (&agent->cancellable);
  if (agent->watch_id != 0)
    g_bus_unwatch_name (agent->watch_id);
  if (agent->properties_id != 0)
    g_dbus_connection_signal_unsubscribe (agent->sessions->connection, agent->properties_id);
  for (guint i = 0; agent->waiting != NULL && i < agent->waiting->len; i++)
    g_dbus_method_invocation_return_error_literal (agent->waiting->pdata[i], QGA_ERROR,
                                                   QGA_ERROR_CANCELLED,
                                                   "the agent left before it was identified");
  g_clear_pointer (&agent->waiting, g_ptr_array_unref);
  g_free (agent->session_path);
  g_free (agent->name);
  g_free (agent);
}

/* --- which agent is active --- */

static gboolean
agent_is_candidate (BridgeSessions *sessions, Agent *agent, guint32 first_uid)
{
  if (!agent->identified)
    return FALSE;
  if (sessions->logind == LOGIND_ABSENT)
    return agent->uid == first_uid;
  return agent->session_path != NULL && agent->session_active && agent->has_seat;
}

/* Without logind: the user whose agent registered first, among those
 * still here, holds the clipboard. */
static guint32
first_user (BridgeSessions *sessions)
{
  GHashTableIter iter;
  Agent *agent, *first = NULL;

  g_hash_table_iter_init (&iter, sessions->agents);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &agent))
    if (agent->identified && (first == NULL || agent->order < first->order))
      first = agent;
  return first != NULL ? first->uid : G_MAXUINT32;
}

static void
update_active (BridgeSessions *sessions)
{
  guint32 first_uid = first_user (sessions);
  g_autofree char *old = NULL;
  GHashTableIter iter;
  Agent *agent, *best = NULL;

  g_hash_table_iter_init (&iter, sessions->agents);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &agent))
    if (agent_is_candidate (sessions, agent, first_uid) && (best == NULL || agent->order > best->order))
      best = agent;
  if (g_strcmp0 (best ? best->name : NULL, sessions->active) == 0)
    return;
  old = g_steal_pointer (&sessions->active);
  sessions->active = best ? g_strdup (best->name) : NULL;
  g_message ("active session agent: %s%s", best ? best->name : "none",
             sessions->logind == LOGIND_ABSENT ? " (no logind: first user's latest agent)" : "");
  g_signal_emit (sessions, signals[SIGNAL_ACTIVE_CHANGED], 0, old, sessions->active);
}

/* --- identification --- */

static void
answer_waiting (Agent *agent)
{
  BridgeSessions *sessions = agent->sessions;
  gboolean active = g_strcmp0 (sessions->active, agent->name) == 0;

  for (guint i = 0; i < agent->waiting->len; i++)
    g_dbus_method_invocation_return_value (agent->waiting->pdata[i], g_variant_new ("(b)", active));
  g_ptr_array_set_size (agent->waiting, 0);
}

static void
fail_agent (Agent *agent, const GError *error)
{
  BridgeSessions *sessions = agent->sessions;

  g_warning ("cannot identify session agent %s: %s", agent->name, error->message);
  for (guint i = 0; i < agent->waiting->len; i++)
    g_dbus_method_invocation_return_error (agent->waiting->pdata[i], QGA_ERROR,
                                           QGA_ERROR_GENERIC_ERROR,
                                           "cannot identify the caller: %s", error->message);
  g_ptr_array_set_size (agent->waiting, 0);
  g_hash_table_remove (sessions->agents, agent->name);
}

static void
identified (Agent *agent)
{
  BridgeSessions *sessions = agent->sessions;

  agent->identified = TRUE;
  g_message ("session agent %s registered: uid %u, pid %u, session %s%s", agent->name,
             agent->uid, agent->pid, agent->session_path ? agent->session_path : "none",
             agent->session_path && agent->session_active && agent->has_seat
               ? " (active on a seat)" : "");
  if (sessions->logind == LOGIND_ABSENT && !sessions->fallback_logged)
    {
      g_message ("logind is not on the system bus: the clipboard goes to the first user's "
                 "latest agent (docs/CLIPBOARD.md, section 6.1)");
      sessions->fallback_logged = TRUE;
    }
  update_active (sessions);
  answer_waiting (agent);
}

static void
apply_session_properties (Agent *agent, GVariant *properties)
{
  gboolean active;
  const char *seat_id = NULL;
  g_autoptr(GVariant) seat = g_variant_lookup_value (properties, "Seat", G_VARIANT_TYPE ("(so)"));

  if (g_variant_lookup (properties, "Active", "b", &active))
    agent->session_active = active;
  if (seat != NULL)
    {
      g_variant_get (seat, "(&so)", &seat_id, NULL);
      agent->has_seat = seat_id[0] != '\0';
    }
}

static void
get_session_properties_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  g_autoptr(GVariant) properties = NULL;
  Agent *agent = user_data;

  if (reply == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail_agent (agent, error);
      return;
    }
  properties = g_variant_get_child_value (reply, 0);
  apply_session_properties (agent, properties);
  if (agent->identified)
    update_active (agent->sessions);
  else
    identified (agent);
}

static void
read_session_properties (Agent *agent)
{
  g_dbus_connection_call (agent->sessions->connection, LOGIND_NAME, agent->session_path,
                          "org.freedesktop.DBus.Properties", "GetAll",
                          g_variant_new ("(s)", LOGIND_SESSION), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, DBUS_TIMEOUT_MS, agent->cancellable,
                          get_session_properties_cb, agent);
}

static void
on_session_properties_changed (GDBusConnection *connection, const char *sender,
                               const char *path, const char *interface, const char *member,
                               GVariant *parameters, gpointer user_data)
{
  Agent *agent = user_data;
  const char *changed_interface;
  g_autoptr(GVariant) changed = NULL;
  g_autofree const char **invalidated = NULL;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sa{sv}as)")))
    return;
  g_variant_get (parameters, "(&s@a{sv}^a&s)", &changed_interface, &changed, &invalidated);
  if (!g_str_equal (changed_interface, LOGIND_SESSION) || !agent->identified)
    return;
  apply_session_properties (agent, changed);
  if (g_strv_contains (invalidated, "Active") || g_strv_contains (invalidated, "Seat"))
    read_session_properties (agent);
  else
    update_active (agent->sessions);
}

static void
get_session_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  Agent *agent = user_data;
  BridgeSessions *sessions;
  g_autofree char *remote = NULL;

  if (reply == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  sessions = agent->sessions;
  if (reply == NULL)
    {
      remote = g_dbus_error_get_remote_error (error);
      if (g_strcmp0 (remote, "org.freedesktop.DBus.Error.ServiceUnknown") == 0 ||
          g_strcmp0 (remote, "org.freedesktop.DBus.Error.NameHasNoOwner") == 0)
        sessions->logind = LOGIND_ABSENT;
      else
        g_debug ("agent %s is in no login session: %s", agent->name, error->message);
      identified (agent);
      return;
    }
  sessions->logind = LOGIND_PRESENT;
  g_variant_get (reply, "(o)", &agent->session_path);
  agent->properties_id =
    g_dbus_connection_signal_subscribe (sessions->connection, LOGIND_NAME,
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                        agent->session_path, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_session_properties_changed, agent, NULL);
  read_session_properties (agent);
}

static void
get_credentials_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  g_autoptr(GVariant) credentials = NULL;
  Agent *agent = user_data;

  if (reply == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail_agent (agent, error);
      return;
    }
  credentials = g_variant_get_child_value (reply, 0);
  if (!g_variant_lookup (credentials, "UnixUserID", "u", &agent->uid) ||
      !g_variant_lookup (credentials, "ProcessID", "u", &agent->pid))
    {
      g_autoptr(GError) missing = g_error_new_literal (QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                                                       "the bus did not give its uid and pid");

      fail_agent (agent, missing);
      return;
    }
  if (agent->sessions->logind == LOGIND_ABSENT)
    {
      identified (agent);
      return;
    }
  g_dbus_connection_call (agent->sessions->connection, LOGIND_NAME, LOGIND_PATH, LOGIND_MANAGER,
                          "GetSessionByPID", g_variant_new ("(u)", agent->pid),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, DBUS_TIMEOUT_MS,
                          agent->cancellable, get_session_cb, agent);
}

/* --- registration --- */

static void
remove_agent (BridgeSessions *sessions, const char *name)
{
  g_autofree char *copy = g_strdup (name);

  if (!g_hash_table_remove (sessions->agents, copy))
    return;
  g_message ("session agent %s is gone", copy);
  g_signal_emit (sessions, signals[SIGNAL_AGENT_REMOVED], 0, copy);
  update_active (sessions);
}

static void
on_agent_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  remove_agent (user_data, name);
}

void
bridge_sessions_register (BridgeSessions *sessions, GDBusMethodInvocation *invocation)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  Agent *agent = g_hash_table_lookup (sessions->agents, sender);

  if (agent != NULL)
    {
      if (agent->waiting->len >= MAX_WAITING)
        {
          g_dbus_method_invocation_return_error (invocation, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                                                 "%d RegisterAgent calls are already waiting",
                                                 MAX_WAITING);
          return;
        }
      g_ptr_array_add (agent->waiting, invocation);
      if (agent->identified)
        answer_waiting (agent);
      return;
    }
  if (g_hash_table_size (sessions->agents) >= sessions->max_agents)
    {
      g_dbus_method_invocation_return_error (invocation, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                                             "%u session agents are registered already",
                                             sessions->max_agents);
      return;
    }
  agent = g_new0 (Agent, 1);
  agent->sessions = sessions;
  agent->name = g_strdup (sender);
  agent->order = sessions->next_order++;
  agent->cancellable = g_cancellable_new ();
  agent->waiting = g_ptr_array_new ();
  g_ptr_array_add (agent->waiting, invocation);
  g_hash_table_insert (sessions->agents, agent->name, agent);
  agent->watch_id = g_bus_watch_name_on_connection (sessions->connection, sender,
                                                    G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                    on_agent_vanished, sessions, NULL);
  g_dbus_connection_call (sessions->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionCredentials",
                          g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, DBUS_TIMEOUT_MS, agent->cancellable,
                          get_credentials_cb, agent);
}

gboolean
bridge_sessions_unregister (BridgeSessions *sessions, const char *name)
{
  if (!g_hash_table_contains (sessions->agents, name))
    return FALSE;
  remove_agent (sessions, name);
  return TRUE;
}

gboolean
bridge_sessions_is_registered (BridgeSessions *sessions, const char *name)
{
  Agent *agent = name ? g_hash_table_lookup (sessions->agents, name) : NULL;

  return agent != NULL && agent->identified;
}

guint
bridge_sessions_get_count (BridgeSessions *sessions)
{
  return g_hash_table_size (sessions->agents);
}

const char *
bridge_sessions_get_active (BridgeSessions *sessions)
{
  return sessions->active;
}

BridgeSessions *
bridge_sessions_new (GDBusConnection *connection, guint max_agents)
{
  BridgeSessions *sessions = g_object_new (BRIDGE_TYPE_SESSIONS, NULL);

  sessions->connection = g_object_ref (connection);
  sessions->max_agents = max_agents;
  return sessions;
}

static void
bridge_sessions_dispose (GObject *object)
{
  BridgeSessions *sessions = BRIDGE_SESSIONS (object);

  if (sessions->agents != NULL)
    g_hash_table_remove_all (sessions->agents);
  G_OBJECT_CLASS (bridge_sessions_parent_class)->dispose (object);
}

static void
bridge_sessions_finalize (GObject *object)
{
  BridgeSessions *sessions = BRIDGE_SESSIONS (object);

  g_hash_table_destroy (sessions->agents);
  g_free (sessions->active);
  g_clear_object (&sessions->connection);
  G_OBJECT_CLASS (bridge_sessions_parent_class)->finalize (object);
}

static void
bridge_sessions_init (BridgeSessions *sessions)
{
  sessions->agents = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) agent_free);
}

static void
bridge_sessions_class_init (BridgeSessionsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = bridge_sessions_dispose;
  object_class->finalize = bridge_sessions_finalize;
  signals[SIGNAL_ACTIVE_CHANGED] =
    g_signal_new ("active-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_AGENT_REMOVED] =
    g_signal_new ("agent-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}
