/* bridge-agent.c: D-Bus methods, signals and properties of the bridge. */
#include "config.h"

#include <string.h>

#include "bridge-agent.h"
#include "qga-bus-budget.h"
#include "bridge-variant.h"
#include "qga-clipboard.h"
#include "qga-error.h"
#include "qga-wire.h"

struct _BridgeAgent {
  QgaGuestAgentSkeleton parent;

  BridgeChannel *channel;
  BridgeDispatcher *dispatcher;
  BridgeClients *clients;
  BridgeStats *stats;
  QgaBusBudget *budget;
  BridgeAdmission *admission;    /* not a reference: bridge-main's, outlives us */
  gsize max_message_size;
  gsize held_bytes;        /* argument text of calls waiting for the host */
  gsize max_held_bytes;
};

/* Answers the invocation with the host's value; returns about how many
 * bytes the reply carries, for the bus budget. */
typedef gsize (*ReplyFunc) (GDBusMethodInvocation *invocation, JsonNode *value);

/* One D-Bus call waiting for the host. */
typedef struct {
  BridgeAgent *agent;
  GDBusMethodInvocation *invocation;
  ReplyFunc reply;
  gsize held;              /* bytes of its message kept alive by the invocation */
} Call;

static void bridge_agent_iface_init (QgaGuestAgentIface *iface);

G_DEFINE_TYPE_WITH_CODE (BridgeAgent, bridge_agent, QGA_TYPE_GUEST_AGENT_SKELETON,
                         G_IMPLEMENT_INTERFACE (QGA_TYPE_GUEST_AGENT, bridge_agent_iface_init))

static void
return_invalid_args (GDBusMethodInvocation *invocation, const char *what, const GError *error)
{
  g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                         "%s: %s", what, error->message);
}

static void
return_result_error (GDBusMethodInvocation *invocation, const BridgeResult *result)
{
  if (result->host_error_class != NULL)
    {
      g_autofree char *name = g_strconcat (QGA_DBUS_ERROR_PREFIX, result->host_error_class, NULL);

      g_dbus_method_invocation_return_dbus_error (invocation, name, result->error->message);
    }
  else
    g_dbus_method_invocation_return_gerror (invocation, result->error);
}

/* A message too large for the wire is the caller's input at fault. */
static void
return_send_error (GDBusMethodInvocation *invocation, const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
    return_invalid_args (invocation, "too large", error);
  else
    g_dbus_method_invocation_return_gerror (invocation, error);
}

/* Return the caller's share of the limits. */
static void
call_free (Call *call, const char *sender)
{
  bridge_clients_release (call->agent->clients, sender);
  call->agent->held_bytes -= call->held;
  g_object_unref (call->agent);
  g_free (call);
}

static void
on_request_done (const BridgeResult *result, gpointer user_data)
{
  Call *call = user_data;
  GDBusMethodInvocation *invocation = call->invocation;
  g_autofree char *sender = g_strdup (g_dbus_method_invocation_get_sender (invocation));
  gsize reply_bytes = 0;

  if (result->error != NULL)
    return_result_error (invocation, result);
  else
    reply_bytes = call->reply (invocation, result->value);
  qga_bus_budget_charge (call->agent->budget, reply_bytes);
  call_free (call, sender ? sender : ":peer");
}

/* An invocation keeps its whole message alive until it is answered, so
 * the argument text of calls waiting for the host is bounded as a whole
 * (by --max-queue-size), not only per call and per client. */
static gboolean
hold (BridgeAgent *agent, gsize bytes, GError **error)
{
  if (bytes > agent->max_held_bytes - agent->held_bytes)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                   "too much request data waiting for the host (limit %" G_GSIZE_FORMAT " bytes)",
                   agent->max_held_bytes);
      return FALSE;
    }
  agent->held_bytes += bytes;
  return TRUE;
}

/* Takes over the invocation: it is answered now on error, or when the host replies. */
static void
start_request (BridgeAgent *agent, GDBusMethodInvocation *invocation,
               const char *command, JsonNode *arguments, gsize held, ReplyFunc reply)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr(GError) error = NULL;
  Call *call;

  if (sender == NULL)
    sender = ":peer";   /* a peer-to-peer connection has no bus name */
  if (!hold (agent, held, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  if (!bridge_clients_acquire (agent->clients, sender, &error))
    {
      agent->held_bytes -= held;
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  call = g_new0 (Call, 1);
  call->agent = g_object_ref (agent);
  call->invocation = invocation;
  call->reply = reply;
  call->held = held;
  if (!bridge_dispatcher_request (agent->dispatcher, command, arguments, sender,
                                  on_request_done, call, &error))
    {
      return_send_error (invocation, error);
      call_free (call, sender);
    }
}

static gsize
reply_ping (GDBusMethodInvocation *invocation, JsonNode *value)
{
  qga_guest_agent_complete_ping (NULL, invocation);
  return 0;
}

static gboolean
check_object (GDBusMethodInvocation *invocation, JsonNode *value, const char *command)
{
  if (JSON_NODE_HOLDS_OBJECT (value))
    return TRUE;
  g_dbus_method_invocation_return_error (invocation, QGA_ERROR, QGA_ERROR_INVALID_REPLY,
                                         "%s did not return an object", command);
  return FALSE;
}

/* JSON mapped generically, except "hypervisor", which has fixed types
 * (docs/HOST-STATS.md). */
static gsize
complete_host_info (GDBusMethodInvocation *invocation, GVariant *info)
{
  gsize size;

  g_variant_ref_sink (info);
  size = g_variant_get_size (info);
  qga_guest_agent_complete_get_host_info (NULL, invocation, info);
  g_variant_unref (info);
  return size;
}

static gsize
reply_host_info (GDBusMethodInvocation *invocation, JsonNode *value)
{
  g_autoptr(JsonObject) copy = NULL;
  JsonObject *info;
  JsonNode *hypervisor;
  GVariantBuilder builder;
  GVariantIter iter;
  GVariant *generic;
  const char *key;
  GVariant *member;

  if (!check_object (invocation, value, "host-info"))
    return 0;
  info = json_node_get_object (value);
  hypervisor = json_object_get_member (info, "hypervisor");
  generic = bridge_variant_from_json_object (info);
  if (hypervisor == NULL || !JSON_NODE_HOLDS_OBJECT (hypervisor))
    return complete_host_info (invocation, generic);
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_ref_sink (generic);
  g_variant_iter_init (&iter, generic);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &member))
    {
      if (!g_str_equal (key, "hypervisor"))
        g_variant_builder_add (&builder, "{sv}", key, member);
      g_variant_unref (member);
    }
  g_variant_unref (generic);
  g_variant_builder_add (&builder, "{sv}", "hypervisor",
                         bridge_stats_to_variant (json_node_get_object (hypervisor)));
  return complete_host_info (invocation, g_variant_builder_end (&builder));
}

static gsize
reply_host_stats (GDBusMethodInvocation *invocation, JsonNode *value)
{
  g_autoptr(GVariant) stats = NULL;

  if (!check_object (invocation, value, "host-stats"))
    return 0;
  stats = g_variant_ref_sink (bridge_stats_to_variant (json_node_get_object (value)));
  qga_guest_agent_complete_get_host_stats (NULL, invocation, stats);
  return g_variant_get_size (stats);
}

static gsize
reply_call (GDBusMethodInvocation *invocation, JsonNode *value)
{
  g_autofree char *text = qga_wire_to_string (value);

  qga_guest_agent_complete_call (NULL, invocation, text);
  return strlen (text);
}

static gboolean
handle_ping (QgaGuestAgent *iface, GDBusMethodInvocation *invocation)
{
  start_request (BRIDGE_AGENT (iface), invocation, "host-ping", NULL, 0, reply_ping);
  return TRUE;
}

static gboolean
handle_get_host_info (QgaGuestAgent *iface, GDBusMethodInvocation *invocation)
{
  start_request (BRIDGE_AGENT (iface), invocation, "host-info", NULL, 0, reply_host_info);
  return TRUE;
}

static gboolean
handle_get_host_stats (QgaGuestAgent *iface, GDBusMethodInvocation *invocation)
{
  start_request (BRIDGE_AGENT (iface), invocation, "host-stats", NULL, 0, reply_host_stats);
  return TRUE;
}

static const char *
sender_of (GDBusMethodInvocation *invocation)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);

  return sender != NULL ? sender : ":peer";
}

static gboolean
handle_subscribe_host_stats (QgaGuestAgent *iface, GDBusMethodInvocation *invocation,
                             guint interval_ms)
{
  g_autoptr(GError) error = NULL;

  if (!bridge_stats_subscribe (BRIDGE_AGENT (iface)->stats, sender_of (invocation), interval_ms,
                               &error))
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    qga_guest_agent_complete_subscribe_host_stats (iface, invocation);
  return TRUE;
}

static gboolean
handle_unsubscribe_host_stats (QgaGuestAgent *iface, GDBusMethodInvocation *invocation)
{
  if (!bridge_stats_unsubscribe (BRIDGE_AGENT (iface)->stats, sender_of (invocation)))
    g_dbus_method_invocation_return_error_literal (invocation, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                                                   "the caller has no stats subscription");
  else
    qga_guest_agent_complete_unsubscribe_host_stats (iface, invocation);
  return TRUE;
}

static gboolean
handle_call (QgaGuestAgent *iface, GDBusMethodInvocation *invocation,
             const char *command, const char *arguments_json)
{
  BridgeAgent *agent = BRIDGE_AGENT (iface);
  g_autoptr(JsonNode) arguments = NULL;
  g_autoptr(GError) error = NULL;

  if (!qga_wire_command_name_is_valid (command, "host-"))
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "invalid command name '%s': expected host-[a-z0-9-]+",
                                             command);
      return TRUE;
    }
  if (g_str_equal (command, QGA_CLIPBOARD_HOST_REQUEST))
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "%s is reserved for the clipboard (docs/CLIPBOARD.md)",
                                             command);
      return TRUE;
    }
  if (arguments_json[0] != '\0')
    {
      arguments = qga_wire_parse_object (arguments_json, agent->max_message_size, &error);
      if (arguments == NULL)
        {
          return_invalid_args (invocation, "invalid arguments", error);
          return TRUE;
        }
    }
  start_request (agent, invocation, command, arguments, strlen (arguments_json), reply_call);
  return TRUE;
}

static gboolean
handle_send_event (QgaGuestAgent *iface, GDBusMethodInvocation *invocation,
                   const char *name, const char *data_json)
{
  BridgeAgent *agent = BRIDGE_AGENT (iface);
  g_autoptr(JsonNode) data = NULL;
  g_autoptr(GError) error = NULL;

  if (!qga_wire_event_name_is_valid (name))
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "invalid event name '%s': expected [A-Z][A-Z0-9_]*",
                                             name);
      return TRUE;
    }
  if (qga_clipboard_is_event (name))
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "events named CLIPBOARD_* are reserved for the clipboard "
                                             "(docs/CLIPBOARD.md)");
      return TRUE;
    }
  data = qga_wire_parse_object (data_json, agent->max_message_size, &error);
  if (data == NULL)
    {
      return_invalid_args (invocation, "invalid event data", error);
      return TRUE;
    }
  if (!bridge_dispatcher_send_event (agent->dispatcher, name, data, &error))
    {
      return_send_error (invocation, error);
      return TRUE;
    }
  qga_guest_agent_complete_send_event (iface, invocation);
  return TRUE;
}

/* The generated skeleton turns each call into a GObject signal emission
 * through the generic (libffi) marshaller, with every argument copied into
 * a GValue: about a tenth of the bridge's work on a Ping. The methods are
 * dispatched here instead, to the same handlers; GDBus has already checked
 * the arguments against the interface's signatures, and nothing connects
 * to the handle-* signals. Properties stay with the generated code. */
static void
method_call (GDBusConnection *connection, const char *sender, const char *object_path,
             const char *interface_name, const char *method_name, GVariant *parameters,
             GDBusMethodInvocation *invocation, gpointer user_data)
{
  QgaGuestAgent *agent = QGA_GUEST_AGENT (user_data);
  BridgeAdmission *admission = BRIDGE_AGENT (user_data)->admission;
  const char *first, *second;

  if (admission != NULL && bridge_admission_counts (method_name))
    bridge_admission_hand_over (admission, invocation);
  if (g_str_equal (method_name, "Ping"))
    handle_ping (agent, invocation);
  else if (g_str_equal (method_name, "GetHostInfo"))
    handle_get_host_info (agent, invocation);
  else if (g_str_equal (method_name, "GetHostStats"))
    handle_get_host_stats (agent, invocation);
  else if (g_str_equal (method_name, "SubscribeHostStats"))
    {
      guint32 interval_ms;

      g_variant_get (parameters, "(u)", &interval_ms);
      handle_subscribe_host_stats (agent, invocation, interval_ms);
    }
  else if (g_str_equal (method_name, "UnsubscribeHostStats"))
    handle_unsubscribe_host_stats (agent, invocation);
  else if (g_str_equal (method_name, "Call"))
    {
      g_variant_get (parameters, "(&s&s)", &first, &second);
      handle_call (agent, invocation, first, second);
    }
  else if (g_str_equal (method_name, "SendEvent"))
    {
      g_variant_get (parameters, "(&s&s)", &first, &second);
      handle_send_event (agent, invocation, first, second);
    }
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                           "Method %s is not implemented on interface %s",
                                           method_name, interface_name);
}

static GDBusInterfaceVTable *
get_vtable (GDBusInterfaceSkeleton *skeleton)
{
  static GDBusInterfaceVTable vtable;
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      GDBusInterfaceVTable *generated =
        G_DBUS_INTERFACE_SKELETON_CLASS (bridge_agent_parent_class)->get_vtable (skeleton);

      vtable.method_call = method_call;
      vtable.get_property = generated->get_property;
      vtable.set_property = generated->set_property;
      g_once_init_leave (&initialized, 1);
    }
  return &vtable;
}

static void
on_host_event (BridgeDispatcher *dispatcher, const char *name, const char *data_json,
               gpointer user_data)
{
  BridgeAgent *agent = user_data;

  qga_guest_agent_emit_host_event (QGA_GUEST_AGENT (agent), name, data_json);
  qga_bus_budget_charge (agent->budget, strlen (name) + strlen (data_json));
}

static void
on_stats_updated (BridgeStats *stats, GVariant *variant, gpointer user_data)
{
  BridgeAgent *agent = user_data;

  qga_guest_agent_emit_host_stats (QGA_GUEST_AGENT (agent), variant);
  qga_bus_budget_charge (agent->budget, g_variant_get_size (variant));
}

static void
on_channel_state (BridgeChannel *channel, gpointer user_data)
{
  qga_guest_agent_set_host_connected (QGA_GUEST_AGENT (user_data),
                                      bridge_channel_is_connected (channel));
}

static void
on_client_vanished (BridgeClients *clients, const char *sender, gpointer user_data)
{
  bridge_dispatcher_cancel_owner (BRIDGE_AGENT (user_data)->dispatcher, sender);
}

void
bridge_agent_set_admission (BridgeAgent *agent, BridgeAdmission *admission)
{
  agent->admission = admission;
}

BridgeAgent *
bridge_agent_new (const BridgeConfig *config, BridgeChannel *channel,
                  BridgeDispatcher *dispatcher, BridgeClients *clients, BridgeStats *stats,
                  QgaBusBudget *budget)
{
  BridgeAgent *agent = g_object_new (BRIDGE_TYPE_AGENT, NULL);

  agent->budget = budget ? g_object_ref (budget) : NULL;
  agent->stats = g_object_ref (stats);
  g_signal_connect_object (stats, "updated", G_CALLBACK (on_stats_updated), agent, 0);
  agent->channel = g_object_ref (channel);
  agent->dispatcher = g_object_ref (dispatcher);
  agent->clients = g_object_ref (clients);
  agent->max_message_size = config->max_message_size;
  agent->max_held_bytes = config->max_queue_size;
  qga_guest_agent_set_version (QGA_GUEST_AGENT (agent), PACKAGE_VERSION);
  qga_guest_agent_set_host_connected (QGA_GUEST_AGENT (agent), bridge_channel_is_connected (channel));
  g_signal_connect_object (dispatcher, "host-event", G_CALLBACK (on_host_event), agent, 0);
  g_signal_connect_object (channel, "connected", G_CALLBACK (on_channel_state), agent, 0);
  g_signal_connect_object (channel, "disconnected", G_CALLBACK (on_channel_state), agent, 0);
  g_signal_connect_object (clients, "vanished", G_CALLBACK (on_client_vanished), agent, 0);
  return agent;
}

static void
bridge_agent_dispose (GObject *object)
{
  BridgeAgent *agent = BRIDGE_AGENT (object);

  g_clear_object (&agent->channel);
  g_clear_object (&agent->dispatcher);
  g_clear_object (&agent->clients);
  g_clear_object (&agent->stats);
  g_clear_object (&agent->budget);
  G_OBJECT_CLASS (bridge_agent_parent_class)->dispose (object);
}

static void
bridge_agent_init (BridgeAgent *agent)
{
  /* Answer calls in the main thread, in order with everything else. */
  g_dbus_interface_skeleton_set_flags (G_DBUS_INTERFACE_SKELETON (agent),
                                       G_DBUS_INTERFACE_SKELETON_FLAGS_NONE);
}

static void
bridge_agent_class_init (BridgeAgentClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = bridge_agent_dispose;
  G_DBUS_INTERFACE_SKELETON_CLASS (klass)->get_vtable = get_vtable;
}

static void
bridge_agent_iface_init (QgaGuestAgentIface *iface)
{
  iface->handle_ping = handle_ping;
  iface->handle_get_host_info = handle_get_host_info;
  iface->handle_get_host_stats = handle_get_host_stats;
  iface->handle_subscribe_host_stats = handle_subscribe_host_stats;
  iface->handle_unsubscribe_host_stats = handle_unsubscribe_host_stats;
  iface->handle_call = handle_call;
  iface->handle_send_event = handle_send_event;
}
