/* bridge-sessions-object.c: session agents' methods and unicast signals. */
#include "config.h"

#include <gio/gunixfdlist.h>

#include "bridge-config.h"
#include "bridge-sessions-object.h"
#include "qga-error.h"

#define SESSIONS_INTERFACE "org.qemu.GuestAgent.Sessions"

struct _BridgeSessionsObject {
  QgaGuestAgentSessionsSkeleton parent;

  BridgeSessions *sessions;
  BridgeClipboard *clipboard;
  QgaBusBudget *budget;
};

G_DEFINE_TYPE (BridgeSessionsObject, bridge_sessions_object, QGA_TYPE_GUEST_AGENT_SESSIONS_SKELETON)

/* --- signals, to one agent each --- */

static void
emit_to (BridgeSessionsObject *object, const char *agent, const char *member, GVariant *parameters)
{
  GDBusInterfaceSkeleton *skeleton = G_DBUS_INTERFACE_SKELETON (object);
  GDBusConnection *connection = g_dbus_interface_skeleton_get_connection (skeleton);
  g_autoptr(GError) error = NULL;

  g_variant_ref_sink (parameters);
  if (connection != NULL && agent != NULL &&
      !g_dbus_connection_emit_signal (connection, agent, BRIDGE_OBJECT_PATH, SESSIONS_INTERFACE,
                                      member, parameters, &error))
    g_warning ("cannot send %s to %s: %s", member, agent, error->message);
  qga_bus_budget_charge (object->budget, g_variant_get_size (parameters));
  g_variant_unref (parameters);
}

static void
send_host_grab (BridgeSessionsObject *object, const char *agent, QgaSelectionId id)
{
  const char *const *types;
  guint32 serial;

  if (bridge_clipboard_get_host_grab (object->clipboard, id, &types, &serial))
    emit_to (object, agent, "HostGrabbed",
             g_variant_new ("(s^asu)", qga_clipboard_selection_name (id), types, serial));
}

static void
on_host_grabbed (BridgeClipboard *clipboard, const char *selection, GStrv types, guint serial,
                 gpointer user_data)
{
  BridgeSessionsObject *object = user_data;

  emit_to (object, bridge_sessions_get_active (object->sessions), "HostGrabbed",
           g_variant_new ("(s^asu)", selection, types, serial));
}

static void
on_host_released (BridgeClipboard *clipboard, const char *selection, gpointer user_data)
{
  BridgeSessionsObject *object = user_data;

  emit_to (object, bridge_sessions_get_active (object->sessions), "HostReleased",
           g_variant_new ("(s)", selection));
}

static void
on_data_requested (BridgeClipboard *clipboard, const char *agent, const char *selection,
                   const char *type, guint request_id, gpointer user_data)
{
  emit_to (user_data, agent, "DataRequested", g_variant_new ("(ssu)", selection, type, request_id));
}

/* The agent losing its standing hears that the host's grabs are gone for
 * it; the one gaining it hears what the host offers now. */
static void
on_active_changed (BridgeSessions *sessions, const char *old_agent, const char *new_agent,
                   gpointer user_data)
{
  BridgeSessionsObject *object = user_data;

  if (old_agent != NULL && bridge_sessions_is_registered (sessions, old_agent))
    {
      emit_to (object, old_agent, "ActiveChanged", g_variant_new ("(b)", FALSE));
      for (int id = 0; id < QGA_N_SELECTIONS; id++)
        emit_to (object, old_agent, "HostReleased",
                 g_variant_new ("(s)", qga_clipboard_selection_name (id)));
    }
  if (new_agent != NULL)
    {
      emit_to (object, new_agent, "ActiveChanged", g_variant_new ("(b)", TRUE));
      for (int id = 0; id < QGA_N_SELECTIONS; id++)
        send_host_grab (object, new_agent, id);
    }
}

/* --- methods --- */

/* Clipboard calls are the active agent's alone. */
static gboolean
check_active (BridgeSessionsObject *object, GDBusMethodInvocation *invocation)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);

  if (sender != NULL && g_strcmp0 (sender, bridge_sessions_get_active (object->sessions)) == 0)
    return TRUE;
  g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                                                 bridge_sessions_is_registered (object->sessions, sender)
                                                   ? "this session is not the active one"
                                                   : "only a registered session agent may use the clipboard");
  return FALSE;
}

static gboolean
get_selection (GDBusMethodInvocation *invocation, const char *name, QgaSelectionId *id)
{
  if (qga_clipboard_selection_from_name (name, id))
    return TRUE;
  g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                         "unknown selection '%.64s': expected clipboard or primary",
                                         name);
  return FALSE;
}

/* The fd a 'h' argument names; -1 (with the invocation answered) if none. */
static int
take_fd (GDBusMethodInvocation *invocation, gint32 handle)
{
  GUnixFDList *list = g_dbus_message_get_unix_fd_list (g_dbus_method_invocation_get_message (invocation));
  g_autoptr(GError) error = NULL;
  int fd;

  if (list == NULL || handle < 0 || handle >= g_unix_fd_list_get_length (list))
    {
      g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                     "no file descriptor was passed");
      return -1;
    }
  fd = g_unix_fd_list_get (list, handle, &error);   /* a dup: ours to close */
  if (fd < 0)
    g_dbus_method_invocation_return_gerror (invocation, error);
  return fd;
}

static void
return_error (GDBusMethodInvocation *invocation, const GError *error)
{
  g_dbus_method_invocation_return_gerror (invocation, error);
}

static void
transfer_done (guint64 bytes, const GError *error, gpointer user_data)
{
  GDBusMethodInvocation *invocation = user_data;

  if (error != NULL)
    return_error (invocation, error);
  else
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(t)", bytes));
}

static void
handle_grab (BridgeSessionsObject *object, GDBusMethodInvocation *invocation, GVariant *parameters)
{
  g_autoptr(GError) error = NULL;
  g_autofree const char **types = NULL;
  const char *name;
  QgaSelectionId id;
  guint32 serial;

  g_variant_get (parameters, "(&s^a&s)", &name, &types);
  if (!check_active (object, invocation) || !get_selection (invocation, name, &id))
    return;
  if (!qga_clipboard_check_types (types, -1, &error))
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "%s", error->message);
      return;
    }
  if (!bridge_clipboard_grab (object->clipboard, g_dbus_method_invocation_get_sender (invocation),
                              id, types, &serial, &error))
    return_error (invocation, error);
  else
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", serial));
}

static void
handle_release (BridgeSessionsObject *object, GDBusMethodInvocation *invocation, GVariant *parameters)
{
  g_autoptr(GError) error = NULL;
  const char *name;
  QgaSelectionId id;

  g_variant_get (parameters, "(&s)", &name);
  if (!check_active (object, invocation) || !get_selection (invocation, name, &id))
    return;
  if (!bridge_clipboard_release (object->clipboard, g_dbus_method_invocation_get_sender (invocation),
                                 id, &error))
    return_error (invocation, error);
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
handle_supply_data (BridgeSessionsObject *object, GDBusMethodInvocation *invocation,
                    GVariant *parameters)
{
  g_autoptr(GError) error = NULL;
  guint32 request_id;
  gint32 handle;
  int fd;

  g_variant_get (parameters, "(uh)", &request_id, &handle);
  if (!check_active (object, invocation) || (fd = take_fd (invocation, handle)) < 0)
    return;
  if (!bridge_clipboard_supply (object->clipboard, g_dbus_method_invocation_get_sender (invocation),
                                request_id, fd, transfer_done, invocation, &error))
    return_error (invocation, error);
}

static void
handle_supply_error (BridgeSessionsObject *object, GDBusMethodInvocation *invocation,
                     GVariant *parameters)
{
  g_autoptr(GError) error = NULL;
  const char *message;
  guint32 request_id;

  g_variant_get (parameters, "(u&s)", &request_id, &message);
  if (!check_active (object, invocation))
    return;
  if (!bridge_clipboard_supply_error (object->clipboard,
                                      g_dbus_method_invocation_get_sender (invocation),
                                      request_id, message, &error))
    return_error (invocation, error);
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
handle_read (BridgeSessionsObject *object, GDBusMethodInvocation *invocation, GVariant *parameters)
{
  g_autoptr(GError) error = NULL;
  const char *name, *type;
  QgaSelectionId id;
  gint32 handle;
  int fd;

  g_variant_get (parameters, "(&s&sh)", &name, &type, &handle);
  if (!check_active (object, invocation) || !get_selection (invocation, name, &id))
    return;
  if (!qga_clipboard_check_types (&type, 1, &error))
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "%s", error->message);
      return;
    }
  if ((fd = take_fd (invocation, handle)) < 0)
    return;
  if (!bridge_clipboard_read (object->clipboard, g_dbus_method_invocation_get_sender (invocation),
                              id, type, fd, transfer_done, invocation, &error))
    return_error (invocation, error);
}

static void
handle_unregister (BridgeSessionsObject *object, GDBusMethodInvocation *invocation)
{
  if (!bridge_sessions_unregister (object->sessions, g_dbus_method_invocation_get_sender (invocation)))
    g_dbus_method_invocation_return_error_literal (invocation, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                                                   "the caller is not a registered agent");
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

/* Dispatched here, as in bridge-agent.c, rather than through the
 * skeleton's GObject signals. GDBus has checked the signatures. */
static void
method_call (GDBusConnection *connection, const char *sender, const char *object_path,
             const char *interface_name, const char *method_name, GVariant *parameters,
             GDBusMethodInvocation *invocation, gpointer user_data)
{
  BridgeSessionsObject *object = user_data;

  if (sender == NULL)
    g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                                                   "session agents must be on a bus");
  else if (g_str_equal (method_name, "RegisterAgent"))
    bridge_sessions_register (object->sessions, invocation);
  else if (g_str_equal (method_name, "UnregisterAgent"))
    handle_unregister (object, invocation);
  else if (g_str_equal (method_name, "Grab"))
    handle_grab (object, invocation, parameters);
  else if (g_str_equal (method_name, "Release"))
    handle_release (object, invocation, parameters);
  else if (g_str_equal (method_name, "SupplyData"))
    handle_supply_data (object, invocation, parameters);
  else if (g_str_equal (method_name, "SupplyError"))
    handle_supply_error (object, invocation, parameters);
  else if (g_str_equal (method_name, "Read"))
    handle_read (object, invocation, parameters);
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                           "Method %s is not implemented on interface %s",
                                           method_name, interface_name);
}

static GDBusInterfaceVTable *
get_vtable (GDBusInterfaceSkeleton *skeleton)
{
  static GDBusInterfaceVTable vtable = { .method_call = method_call };

  return &vtable;
}

BridgeSessionsObject *
bridge_sessions_object_new (BridgeSessions *sessions, BridgeClipboard *clipboard,
                            QgaBusBudget *budget)
{
  BridgeSessionsObject *object = g_object_new (BRIDGE_TYPE_SESSIONS_OBJECT, NULL);

  object->budget = budget ? g_object_ref (budget) : NULL;
  object->sessions = g_object_ref (sessions);
  object->clipboard = g_object_ref (clipboard);
  g_signal_connect_object (clipboard, "host-grabbed", G_CALLBACK (on_host_grabbed), object, 0);
  g_signal_connect_object (clipboard, "host-released", G_CALLBACK (on_host_released), object, 0);
  g_signal_connect_object (clipboard, "data-requested", G_CALLBACK (on_data_requested), object, 0);
  g_signal_connect_object (sessions, "active-changed", G_CALLBACK (on_active_changed), object, 0);
  return object;
}

static void
bridge_sessions_object_dispose (GObject *gobject)
{
  BridgeSessionsObject *object = BRIDGE_SESSIONS_OBJECT (gobject);

  g_clear_object (&object->sessions);
  g_clear_object (&object->clipboard);
  g_clear_object (&object->budget);
  G_OBJECT_CLASS (bridge_sessions_object_parent_class)->dispose (gobject);
}

static void
bridge_sessions_object_init (BridgeSessionsObject *object)
{
  g_dbus_interface_skeleton_set_flags (G_DBUS_INTERFACE_SKELETON (object),
                                       G_DBUS_INTERFACE_SKELETON_FLAGS_NONE);
}

static void
bridge_sessions_object_class_init (BridgeSessionsObjectClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = bridge_sessions_object_dispose;
  G_DBUS_INTERFACE_SKELETON_CLASS (klass)->get_vtable = get_vtable;
}
