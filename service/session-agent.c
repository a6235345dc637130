/* session-agent.c: the bridge's org.qemu.GuestAgent, relayed to the session bus. */
#include "config.h"

#include <string.h>

#include "qga-bus-budget.h"
#include "qga-callers.h"
#include "qga-error.h"
#include "qga-log.h"
#include "session-agent.h"
#include "session-link.h"

#define AGENT_INTERFACE "org.qemu.GuestAgent"
#define PROPERTIES_INTERFACE "org.freedesktop.DBus.Properties"

#define MAX_CALLS_PER_CALLER 64  /* forwarded calls in flight, stats requests included */
#define MAX_DEFERRED 64          /* calls waiting for the first system bus connection */
/* The bridge clamps intervals so (bridge-stats.h): a change within the
 * clamped range only is no change. */
#define STATS_MIN_INTERVAL_MS 100
#define STATS_MAX_INTERVAL_MS 3600000
/* The bridge answers every call, at worst after its --request-timeout,
 * and dbus-daemon answers for it if it leaves the bus. */
#define FORWARD_TIMEOUT_MS G_MAXINT

/* A program on the session bus we are working for. */
typedef struct {
  guint in_flight;         /* its calls forwarded, and its stats requests unanswered */
  guint32 interval_ms;     /* its stats subscription (clamped); 0: none */
  guint sub_serial;        /* changes with each (un)subscription */
} Caller;

/* A program's call, forwarded to the bridge. */
typedef struct {
  SessionAgent *agent;     /* a reference */
  GDBusMethodInvocation *invocation;
  char *sender;
} Forward;

/* A SubscribeHostStats waiting for the bridge's subscription to cover it. */
typedef struct {
  GDBusMethodInvocation *invocation;
  char *sender;
  guint sub_serial;
} StatsWaiter;

/* A call to the bridge about our state there: the stats subscription,
 * HostConnected. Stale once link_serial has changed. */
typedef struct {
  SessionAgent *agent;     /* a reference */
  guint link_serial;
  guint32 interval_ms;     /* SubscribeHostStats: sent; 0: UnsubscribeHostStats */
  GQueue waiters;          /* StatsWaiter */
} LinkCall;

struct _SessionAgent {
  QgaGuestAgentSkeleton parent;

  GDBusConnection *session_bus;
  QgaCallers *callers;           /* name → Caller */
  QgaBusBudget *budget;          /* what we relay to the session bus */
  QgaRateLimit drop_limit;

  /* the link to the bridge */
  GDBusConnection *system_bus;
  GCancellable *cancellable;     /* every call to the bridge */
  guint n_pending;               /* of those, not completed yet */
  guint signal_id;               /* the bridge's HostStats and HostEvent */
  guint properties_signal_id;    /* its PropertiesChanged */
  guint watch_id;
  char *bridge_owner;            /* the bridge's unique name, while it has one */
  guint link_serial;             /* changes when the bridge or the connection does */

  guint32 stats_held;            /* the interval subscribed at the bridge; 0: none */
  gboolean stats_busy;           /* a (Un)SubscribeHostStats is in flight */
  GQueue stats_waiting;          /* StatsWaiter, for the next call */

  GQueue deferred;               /* GDBusMethodInvocation, waiting for the link */
  gboolean awaiting_link;        /* until the first set_system_bus() */
  gboolean shutting_down;
};

static void dispatch (SessionAgent *agent, GDBusMethodInvocation *invocation);
static void stats_sync (SessionAgent *agent);

/* The skeleton's handle-* signals are not used: get_vtable() below. */
G_DEFINE_TYPE (SessionAgent, session_agent, QGA_TYPE_GUEST_AGENT_SKELETON)

/* --- callers --- */

static Caller *
caller_lookup (SessionAgent *agent, const char *name)
{
  return agent->callers != NULL ? qga_callers_lookup (agent->callers, name) : NULL;
}

/* Its subscription ends with it. */
static void
caller_vanished (const char *name, gpointer record, gpointer user_data)
{
  SessionAgent *agent = user_data;
  Caller *caller = record;
  gboolean subscribed = caller->interval_ms > 0;

  g_debug ("%s left the bus (%u call(s) in flight%s)", name, caller->in_flight,
           subscribed ? ", subscribed to stats" : "");
  caller->interval_ms = 0;
  if (subscribed)
    stats_sync (agent);
}

static gboolean
caller_is_idle (gconstpointer record)
{
  const Caller *caller = record;

  return caller->in_flight == 0 && caller->interval_ms == 0;
}

static const QgaCallersFuncs caller_funcs = {
  .is_idle = caller_is_idle,
  .vanished = caller_vanished,
};

/* The caller's record, with room for one more call; NULL and the
 * invocation answered past a limit. */
static Caller *
caller_admit (SessionAgent *agent, GDBusMethodInvocation *invocation)
{
  const char *name = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr(GError) error = NULL;
  Caller *caller = qga_callers_track (agent->callers, name, &error);

  if (caller == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return NULL;
    }
  if (caller->in_flight >= MAX_CALLS_PER_CALLER)
    {
      g_dbus_method_invocation_return_error (invocation, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                                             "too many calls in progress for this caller "
                                             "(limit %d)", MAX_CALLS_PER_CALLER);
      return NULL;
    }
  return caller;
}

static void
caller_call_done (SessionAgent *agent, const char *name)
{
  Caller *caller = caller_lookup (agent, name);

  if (caller != NULL && caller->in_flight > 0)
    caller->in_flight--;
}

/* TRUE if a call may go to the bridge now; otherwise the invocation is
 * answered. */
static gboolean
link_usable (SessionAgent *agent, GDBusMethodInvocation *invocation)
{
  if (agent->shutting_down)
    {
      g_dbus_method_invocation_return_error_literal (invocation, QGA_ERROR, QGA_ERROR_CANCELLED,
                                                     "the session agent is stopping");
      return FALSE;
    }
  if (agent->system_bus == NULL)
    {
      session_link_return_no_system_bus (invocation);
      return FALSE;
    }
  return TRUE;
}

/* --- forwarded methods --- */

static void
forward_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Forward *forward = user_data;
  SessionAgent *agent = forward->agent;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  agent->n_pending--;
  caller_call_done (agent, forward->sender);
  if (reply != NULL)
    g_dbus_method_invocation_return_value (forward->invocation, reply);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
    g_dbus_method_invocation_return_error (forward->invocation, QGA_ERROR,
                                           QGA_ERROR_INVALID_REPLY,
                                           "the system bridge returned an unexpected reply: %s",
                                           error->message);
  else
    session_link_return_error (forward->invocation, error, NULL);
  g_object_unref (agent);
  g_free (forward->sender);
  g_free (forward);
}

/* Ping, GetHostInfo, GetHostStats, Call, SendEvent: to the bridge as they
 * came. Not NO_AUTO_START: a program's call starts the bridge, as the
 * same call on the system bus would. */
static void
forward_call (SessionAgent *agent, GDBusMethodInvocation *invocation, const char *reply_type)
{
  Forward *forward;
  Caller *caller;

  if (!link_usable (agent, invocation))
    return;
  caller = caller_admit (agent, invocation);
  if (caller == NULL)
    return;
  caller->in_flight++;
  forward = g_new0 (Forward, 1);
  forward->agent = g_object_ref (agent);
  forward->invocation = invocation;
  forward->sender = g_strdup (qga_caller_name (caller));
  agent->n_pending++;
  g_dbus_connection_call (agent->system_bus, SESSION_BRIDGE_NAME, SESSION_BRIDGE_PATH,
                          AGENT_INTERFACE, g_dbus_method_invocation_get_method_name (invocation),
                          g_dbus_method_invocation_get_parameters (invocation),
                          G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE,
                          FORWARD_TIMEOUT_MS, agent->cancellable, forward_done, forward);
}

/* --- stats: one subscription at the bridge for the whole session --- */

static LinkCall *
link_call_new (SessionAgent *agent)
{
  LinkCall *call = g_new0 (LinkCall, 1);

  call->agent = g_object_ref (agent);
  call->link_serial = agent->link_serial;
  g_queue_init (&call->waiters);
  agent->n_pending++;
  return call;
}

static void
link_call_free (LinkCall *call)
{
  call->agent->n_pending--;
  g_object_unref (call->agent);
  g_free (call);
}

/* The smallest interval a caller wants; 0 if none does. */
static void
keep_smallest_interval (const char *name, gpointer record, gpointer user_data)
{
  const Caller *caller = record;
  guint32 *smallest = user_data;

  if (caller->interval_ms > 0 && (*smallest == 0 || caller->interval_ms < *smallest))
    *smallest = caller->interval_ms;
}

static guint32
stats_wanted (SessionAgent *agent)
{
  guint32 smallest = 0;

  qga_callers_foreach (agent->callers, keep_smallest_interval, &smallest);
  return smallest;
}

/* With an error, the waiter's subscription (unless it has made another
 * since) is dropped: it is not in effect at the bridge. */
static void
stats_waiter_answer (SessionAgent *agent, StatsWaiter *waiter, const GError *error)
{
  Caller *caller = caller_lookup (agent, waiter->sender);

  if (caller != NULL && caller->in_flight > 0)
    caller->in_flight--;
  if (error == NULL)
    qga_guest_agent_complete_subscribe_host_stats (NULL, waiter->invocation);
  else
    {
      if (caller != NULL && caller->sub_serial == waiter->sub_serial)
        caller->interval_ms = 0;
      session_link_return_error (waiter->invocation, error, NULL);
    }
  g_free (waiter->sender);
  g_free (waiter);
}

static void
stats_answer_all (SessionAgent *agent, GQueue *waiters, const GError *error)
{
  StatsWaiter *waiter;

  while ((waiter = g_queue_pop_head (waiters)) != NULL)
    stats_waiter_answer (agent, waiter, error);
}

static void
stats_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LinkCall *call = user_data;
  SessionAgent *agent = call->agent;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  gboolean stale = call->link_serial != agent->link_serial;

  agent->stats_busy = FALSE;
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_message ("cannot %s host stats at the system bridge: %s",
               call->interval_ms > 0 ? "subscribe to" : "unsubscribe from", error->message);
  if (!stale && (error == NULL || call->interval_ms == 0))
    {
      agent->stats_held = call->interval_ms;
      if (error == NULL)
        g_debug ("the system bridge streams stats to us every %u ms (0: not at all)",
                 call->interval_ms);
    }
  stats_answer_all (agent, &call->waiters, error);
  /* After a refusal, ask again only for a new request, or a new bridge. */
  if (error == NULL || stale || !g_queue_is_empty (&agent->stats_waiting))
    stats_sync (agent);
  link_call_free (call);
}

/* Bring the bridge's subscription to the interval the callers want, one
 * call at a time; answer the waiting SubscribeHostStats once it covers
 * them. */
static void
stats_sync (SessionAgent *agent)
{
  guint32 wanted;
  LinkCall *call;

  if (agent->stats_busy)
    return;
  if (agent->shutting_down || agent->system_bus == NULL)
    {
      g_autoptr(GError) error =
        agent->shutting_down ? g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "stopping")
                             : g_error_new_literal (QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                                                    "not connected to the system bus");

      stats_answer_all (agent, &agent->stats_waiting, error);
      return;
    }
  wanted = stats_wanted (agent);
  if (wanted == agent->stats_held)
    {
      stats_answer_all (agent, &agent->stats_waiting, NULL);
      return;
    }
  call = link_call_new (agent);
  call->interval_ms = wanted;
  call->waiters = agent->stats_waiting;
  g_queue_init (&agent->stats_waiting);
  agent->stats_busy = TRUE;
  if (wanted > 0)
    g_dbus_connection_call (agent->system_bus, SESSION_BRIDGE_NAME, SESSION_BRIDGE_PATH,
                            AGENT_INTERFACE, "SubscribeHostStats", g_variant_new ("(u)", wanted),
                            G_VARIANT_TYPE_UNIT, G_DBUS_CALL_FLAGS_NONE, -1, agent->cancellable,
                            stats_done, call);
  else
    g_dbus_connection_call (agent->system_bus, SESSION_BRIDGE_NAME, SESSION_BRIDGE_PATH,
                            AGENT_INTERFACE, "UnsubscribeHostStats", NULL, G_VARIANT_TYPE_UNIT,
                            G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, agent->cancellable, stats_done,
                            call);
}

/* Answered once the bridge's subscription is at this interval or less. */
static void
handle_subscribe (SessionAgent *agent, GDBusMethodInvocation *invocation, guint32 interval_ms)
{
  StatsWaiter *waiter;
  Caller *caller;

  if (interval_ms == 0)
    {
      g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR,
                                                     G_DBUS_ERROR_INVALID_ARGS,
                                                     "the interval must be at least 1 ms");
      return;
    }
  if (!link_usable (agent, invocation))
    return;
  caller = caller_admit (agent, invocation);
  if (caller == NULL)
    return;
  caller->interval_ms = CLAMP (interval_ms, STATS_MIN_INTERVAL_MS, STATS_MAX_INTERVAL_MS);
  caller->sub_serial++;
  caller->in_flight++;
  waiter = g_new0 (StatsWaiter, 1);
  waiter->invocation = invocation;
  waiter->sender = g_strdup (qga_caller_name (caller));
  waiter->sub_serial = caller->sub_serial;
  g_queue_push_tail (&agent->stats_waiting, waiter);
  g_debug ("%s subscribes to host stats every %u ms", qga_caller_name (caller), caller->interval_ms);
  stats_sync (agent);
}

/* Local: the bridge's subscription follows. */
static void
handle_unsubscribe (SessionAgent *agent, GDBusMethodInvocation *invocation)
{
  Caller *caller = caller_lookup (agent, g_dbus_method_invocation_get_sender (invocation));

  if (caller == NULL || caller->interval_ms == 0)
    {
      g_dbus_method_invocation_return_error_literal (invocation, QGA_ERROR,
                                                     QGA_ERROR_GENERIC_ERROR,
                                                     "the caller has no stats subscription");
      return;
    }
  caller->interval_ms = 0;
  caller->sub_serial++;
  g_debug ("%s unsubscribes from host stats", qga_caller_name (caller));
  qga_guest_agent_complete_unsubscribe_host_stats (NULL, invocation);
  stats_sync (agent);
}

/* --- dispatch --- */

/* Calls that came before the first system bus connection (an activating
 * call) go on now. */
static void
flush_deferred (SessionAgent *agent)
{
  GDBusMethodInvocation *invocation;

  while ((invocation = g_queue_pop_head (&agent->deferred)) != NULL)
    dispatch (agent, invocation);
}

/* As in BridgeAgent: methods are dispatched here rather than through the
 * skeleton's handle-* signals. GDBus has checked the arguments against the
 * interface's signatures. */
static void
dispatch (SessionAgent *agent, GDBusMethodInvocation *invocation)
{
  const char *method = g_dbus_method_invocation_get_method_name (invocation);

  if (g_dbus_method_invocation_get_sender (invocation) == NULL)
    g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR,
                                                   G_DBUS_ERROR_ACCESS_DENIED,
                                                   "calls must come through the session bus");
  else if (agent->awaiting_link && !agent->shutting_down)
    {
      if (g_queue_get_length (&agent->deferred) >= MAX_DEFERRED)
        g_dbus_method_invocation_return_error (invocation, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                                               "too many calls waiting for the system bridge "
                                               "(limit %d)", MAX_DEFERRED);
      else
        g_queue_push_tail (&agent->deferred, invocation);
    }
  else if (g_str_equal (method, "Ping") || g_str_equal (method, "SendEvent"))
    forward_call (agent, invocation, "()");
  else if (g_str_equal (method, "GetHostInfo") || g_str_equal (method, "GetHostStats"))
    forward_call (agent, invocation, "(a{sv})");
  else if (g_str_equal (method, "Call"))
    forward_call (agent, invocation, "(s)");
  else if (g_str_equal (method, "SubscribeHostStats"))
    {
      guint32 interval_ms;

      g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(u)", &interval_ms);
      handle_subscribe (agent, invocation, interval_ms);
    }
  else if (g_str_equal (method, "UnsubscribeHostStats"))
    handle_unsubscribe (agent, invocation);
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                           "Method %s is not implemented on interface %s",
                                           method, AGENT_INTERFACE);
}

static void
method_call (GDBusConnection *connection, const char *sender, const char *object_path,
             const char *interface_name, const char *method_name, GVariant *parameters,
             GDBusMethodInvocation *invocation, gpointer user_data)
{
  dispatch (SESSION_AGENT (user_data), invocation);
}

/* Properties stay with the generated code. */
static GDBusInterfaceVTable *
get_vtable (GDBusInterfaceSkeleton *skeleton)
{
  static GDBusInterfaceVTable vtable;
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      GDBusInterfaceVTable *generated =
        G_DBUS_INTERFACE_SKELETON_CLASS (session_agent_parent_class)->get_vtable (skeleton);

      vtable.method_call = method_call;
      vtable.get_property = generated->get_property;
      vtable.set_property = generated->set_property;
      g_once_init_leave (&initialized, 1);
    }
  return &vtable;
}

/* --- the bridge: its signals, its HostConnected --- */

static void
set_host_connected (SessionAgent *agent, gboolean connected)
{
  if (qga_guest_agent_get_host_connected (QGA_GUEST_AGENT (agent)) != connected)
    g_debug ("the host is %s", connected ? "connected" : "not connected");
  qga_guest_agent_set_host_connected (QGA_GUEST_AGENT (agent), connected);
}

static void
host_connected_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LinkCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  g_autoptr(GVariant) value = NULL;

  if (reply == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("cannot read the bridge's HostConnected: %s", error->message);
    }
  else if (call->link_serial == call->agent->link_serial)
    {
      g_variant_get (reply, "(v)", &value);
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        set_host_connected (call->agent, g_variant_get_boolean (value));
    }
  link_call_free (call);
}

static void
read_host_connected (SessionAgent *agent)
{
  if (agent->system_bus == NULL || agent->bridge_owner == NULL || agent->shutting_down)
    return;
  g_dbus_connection_call (agent->system_bus, agent->bridge_owner, SESSION_BRIDGE_PATH,
                          PROPERTIES_INTERFACE, "Get",
                          g_variant_new ("(ss)", AGENT_INTERFACE, "HostConnected"),
                          G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                          agent->cancellable, host_connected_read, link_call_new (agent));
}

static void
on_properties_changed (SessionAgent *agent, GVariant *parameters)
{
  const char *interface;
  g_autoptr(GVariant) changed = NULL;
  g_autofree const char **invalidated = NULL;
  gboolean connected;

  g_variant_get (parameters, "(&s@a{sv}^a&s)", &interface, &changed, &invalidated);
  if (!g_str_equal (interface, AGENT_INTERFACE))
    return;
  if (g_variant_lookup (changed, "HostConnected", "b", &connected))
    set_host_connected (agent, connected);
  else if (g_strv_contains (invalidated, "HostConnected"))
    read_host_connected (agent);
}

static void
count_subscriber (const char *name, gpointer record, gpointer user_data)
{
  *(guint *) user_data += ((const Caller *) record)->interval_ms > 0;
}

static guint
stats_subscriber_count (SessionAgent *agent)
{
  guint n = 0;

  qga_callers_foreach (agent->callers, count_subscriber, &n);
  return n;
}

/* The system bus cannot be held, so while the session bus is not taking
 * what we relay, the bridge's signals are dropped here, and said so. */
static gboolean
relay_allowed (SessionAgent *agent, const char *what)
{
  if (agent->budget == NULL || !qga_bus_budget_is_holding (agent->budget))
    return TRUE;
  qga_rate_limited_warning (&agent->drop_limit,
                            "the session bus is not reading: dropped %s from the bridge", what);
  return FALSE;
}

void
session_agent_set_bus_budget (SessionAgent *agent, QgaBusBudget *budget)
{
  g_set_object (&agent->budget, budget);
}

static void
on_bridge_signal (GDBusConnection *connection, const char *sender, const char *path,
                  const char *interface, const char *member, GVariant *parameters,
                  gpointer user_data)
{
  SessionAgent *agent = user_data;

  if (connection != agent->system_bus)
    return;
  /* GDBus matches a well-known sender name only since GLib 2.80.1 (and
   * its backports); before, any client could forge these. */
  if (g_strcmp0 (sender, agent->bridge_owner) != 0)
    {
      g_debug ("ignored signal %s from %s, which is not the bridge", member, sender);
      return;
    }
  if (g_str_equal (interface, PROPERTIES_INTERFACE))
    {
      if (g_str_equal (member, "PropertiesChanged") &&
          g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sa{sv}as)")))
        on_properties_changed (agent, parameters);
    }
  else if (g_str_equal (member, "HostStats") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(a{sv})")))
    {
      g_autoptr(GVariant) stats = NULL;

      /* Someone else's subscription at the bridge is no reason to wake
       * the programs of this session. */
      if (stats_subscriber_count (agent) == 0)
        return;
      if (!relay_allowed (agent, "HostStats"))
        return;
      stats = g_variant_get_child_value (parameters, 0);
      qga_guest_agent_emit_host_stats (QGA_GUEST_AGENT (agent), stats);
      qga_bus_budget_charge (agent->budget, g_variant_get_size (stats));
    }
  else if (g_str_equal (member, "HostEvent") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ss)")))
    {
      const char *name, *data_json;

      g_variant_get (parameters, "(&s&s)", &name, &data_json);
      if (!relay_allowed (agent, name))
        return;
      qga_guest_agent_emit_host_event (QGA_GUEST_AGENT (agent), name, data_json);
      qga_bus_budget_charge (agent->budget, strlen (name) + strlen (data_json));
    }
  else
    g_debug ("ignored signal %s%s from the bridge", member, g_variant_get_type_string (parameters));
}

/* The bridge we knew (its subscription, its HostConnected) is gone. */
static void
link_reset (SessionAgent *agent)
{
  agent->link_serial++;
  agent->stats_held = 0;
  set_host_connected (agent, FALSE);
}

static void
on_bridge_appeared (GDBusConnection *connection, const char *name, const char *owner,
                    gpointer user_data)
{
  SessionAgent *agent = user_data;

  if (connection != agent->system_bus || g_strcmp0 (owner, agent->bridge_owner) == 0)
    return;
  link_reset (agent);
  g_free (agent->bridge_owner);
  agent->bridge_owner = g_strdup (owner);
  g_debug ("relaying org.qemu.GuestAgent of the system bridge %s", owner);
  read_host_connected (agent);
  stats_sync (agent);
}

static void
on_bridge_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  SessionAgent *agent = user_data;

  if (connection != agent->system_bus)
    return;
  if (agent->bridge_owner != NULL)
    g_debug ("the system bridge left the bus");
  link_reset (agent);
  g_clear_pointer (&agent->bridge_owner, g_free);
}

static void
unlink_system_bus (SessionAgent *agent)
{
  if (agent->system_bus == NULL)
    return;
  g_dbus_connection_signal_unsubscribe (agent->system_bus, agent->signal_id);
  g_dbus_connection_signal_unsubscribe (agent->system_bus, agent->properties_signal_id);
  agent->signal_id = agent->properties_signal_id = 0;
  g_clear_handle_id (&agent->watch_id, g_bus_unwatch_name);
  g_clear_pointer (&agent->bridge_owner, g_free);
  link_reset (agent);
  g_clear_object (&agent->system_bus);
}

void
session_agent_set_system_bus (SessionAgent *agent, GDBusConnection *system_bus)
{
  gboolean was_awaiting = agent->awaiting_link;

  g_return_if_fail (SESSION_IS_AGENT (agent));

  agent->awaiting_link = FALSE;
  if (system_bus != agent->system_bus)
    {
      unlink_system_bus (agent);
      if (system_bus != NULL && !agent->shutting_down)
        {
          agent->system_bus = g_object_ref (system_bus);
          /* on_bridge_signal() checks that they come from the owner of its name */
          agent->signal_id =
            g_dbus_connection_signal_subscribe (system_bus, SESSION_BRIDGE_NAME, AGENT_INTERFACE,
                                                NULL, SESSION_BRIDGE_PATH, NULL,
                                                G_DBUS_SIGNAL_FLAGS_NONE, on_bridge_signal, agent,
                                                NULL);
          agent->properties_signal_id =
            g_dbus_connection_signal_subscribe (system_bus, SESSION_BRIDGE_NAME,
                                                PROPERTIES_INTERFACE, "PropertiesChanged",
                                                SESSION_BRIDGE_PATH, AGENT_INTERFACE,
                                                G_DBUS_SIGNAL_FLAGS_NONE, on_bridge_signal, agent,
                                                NULL);
          /* appearing, it gets our subscription and its HostConnected is read */
          agent->watch_id = g_bus_watch_name_on_connection (system_bus, SESSION_BRIDGE_NAME,
                                                            G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                            on_bridge_appeared, on_bridge_vanished,
                                                            agent, NULL);
        }
    }
  if (was_awaiting)
    flush_deferred (agent);
}

void
session_agent_shutdown (SessionAgent *agent)
{
  g_return_if_fail (SESSION_IS_AGENT (agent));

  if (agent->shutting_down)
    return;
  agent->shutting_down = TRUE;
  g_cancellable_cancel (agent->cancellable);
  flush_deferred (agent);
  stats_sync (agent);
}

gboolean
session_agent_is_idle (SessionAgent *agent)
{
  return agent->n_pending == 0;
}

SessionAgent *
session_agent_new (GDBusConnection *session_bus, guint max_clients)
{
  SessionAgent *agent = g_object_new (SESSION_TYPE_AGENT, NULL);

  agent->session_bus = g_object_ref (session_bus);
  agent->callers = qga_callers_new (session_bus, max_clients, sizeof (Caller),
                                   "callers with subscriptions or calls in progress",
                                   &caller_funcs, agent);
  return agent;
}

static void
session_agent_dispose (GObject *object)
{
  SessionAgent *agent = SESSION_AGENT (object);

  agent->shutting_down = TRUE;
  flush_deferred (agent);
  stats_sync (agent);
  unlink_system_bus (agent);
  if (agent->callers != NULL)
    qga_callers_clear (agent->callers);
  g_clear_object (&agent->budget);
  g_clear_object (&agent->session_bus);
  G_OBJECT_CLASS (session_agent_parent_class)->dispose (object);
}

static void
session_agent_finalize (GObject *object)
{
  SessionAgent *agent = SESSION_AGENT (object);

  g_clear_pointer (&agent->callers, qga_callers_free);
  qga_rate_limit_clear (&agent->drop_limit);
  g_clear_object (&agent->cancellable);
  G_OBJECT_CLASS (session_agent_parent_class)->finalize (object);
}

static void
session_agent_init (SessionAgent *agent)
{
  /* Answer calls in the main thread, in order with the bridge's signals. */
  g_dbus_interface_skeleton_set_flags (G_DBUS_INTERFACE_SKELETON (agent),
                                       G_DBUS_INTERFACE_SKELETON_FLAGS_NONE);
  agent->awaiting_link = TRUE;
  agent->cancellable = g_cancellable_new ();
  g_queue_init (&agent->stats_waiting);
  g_queue_init (&agent->deferred);
  agent->drop_limit = (QgaRateLimit) QGA_RATE_LIMIT_INIT ("relaying to the session bus");
  qga_guest_agent_set_version (QGA_GUEST_AGENT (agent), PACKAGE_VERSION);
}

static void
session_agent_class_init (SessionAgentClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = session_agent_dispose;
  G_OBJECT_CLASS (klass)->finalize = session_agent_finalize;
  G_DBUS_INTERFACE_SKELETON_CLASS (klass)->get_vtable = get_vtable;
}
