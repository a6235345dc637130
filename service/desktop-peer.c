/* desktop-peer.c: the session's clipboard API as the desktop mirror's peer
 * (see desktop-peer.h). */
#include "config.h"

#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "desktop-peer.h"
#include "qga-error.h"

#define AGENT_NAME "org.qemu.GuestAgent"
#define AGENT_PATH "/org/qemu/GuestAgent"
#define CLIPBOARD_INTERFACE "org.qemu.GuestAgent.Clipboard"
#define RESET_DELAY_S 1

struct _DesktopPeer {
  GObject parent_instance;

  GDBusConnection *bus;
  GCancellable *cancellable;  /* our own calls (not reads: theirs) */
  guint signal_id;
  guint watch_id;
  gboolean agent_seen;
  guint reset_id;
};

static void desktop_peer_iface_init (QgaDesktopPeerInterface *iface);

G_DEFINE_TYPE_WITH_CODE (DesktopPeer, desktop_peer, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (QGA_TYPE_DESKTOP_PEER, desktop_peer_iface_init))

/* --- calls --- */

static void
call_agent (DesktopPeer *peer, const char *method, GVariant *parameters,
            const GVariantType *reply_type, GUnixFDList *fds, int timeout_ms,
            GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_dbus_connection_call_with_unix_fd_list (peer->bus, AGENT_NAME, AGENT_PATH,
                                            CLIPBOARD_INTERFACE, method, parameters, reply_type,
                                            G_DBUS_CALL_FLAGS_NONE, timeout_ms, fds, cancellable,
                                            callback, user_data);
}

/* The fd as a list to pass with a call; fd is closed. */
static GUnixFDList *
fd_list_take (int fd, GError **error)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  int index = g_unix_fd_list_append (fds, fd, error);

  close (fd);
  return index < 0 ? NULL : g_steal_pointer (&fds);
}

static void
logged_call_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree char *what = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_with_unix_fd_list_finish (
    G_DBUS_CONNECTION (source), NULL, result, &error);

  if (reply != NULL)
    {
      if (g_variant_is_of_type (reply, G_VARIANT_TYPE ("(u)")))
        {
          guint32 serial;

          g_variant_get (reply, "(u)", &serial);
          g_debug ("%s: serial %u", what, serial);
        }
      else if (g_variant_is_of_type (reply, G_VARIANT_TYPE ("(t)")))
        {
          guint64 bytes;

          g_variant_get (reply, "(t)", &bytes);
          g_debug ("%s: the host took %" G_GUINT64_FORMAT " bytes", what, bytes);
        }
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_dbus_error_strip_remote_error (error);
      g_message ("%s failed: %s", what, error->message);
    }
}

static void
peer_grab (QgaDesktopPeer *iface, QgaSelectionId selection, const char *const *mime_types)
{
  DesktopPeer *peer = DESKTOP_PEER (iface);
  const char *name = qga_clipboard_selection_name (selection);

  call_agent (peer, "Grab", g_variant_new ("(s^as)", name, mime_types), G_VARIANT_TYPE ("(u)"),
              NULL, -1, peer->cancellable, logged_call_done,
              g_strdup_printf ("Grab of %s", name));
}

static void
peer_release (QgaDesktopPeer *iface, QgaSelectionId selection)
{
  DesktopPeer *peer = DESKTOP_PEER (iface);
  const char *name = qga_clipboard_selection_name (selection);

  call_agent (peer, "Release", g_variant_new ("(s)", name), NULL, NULL, -1, peer->cancellable,
              logged_call_done, g_strdup_printf ("Release of %s", name));
}

static void
peer_supply (QgaDesktopPeer *iface, guint request, int fd)
{
  DesktopPeer *peer = DESKTOP_PEER (iface);
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = fd_list_take (fd, &error);

  if (fds == NULL)
    {
      g_warning ("cannot pass the content of request %u: %s", request, error->message);
      qga_desktop_peer_supply_error (iface, request, error);
      return;
    }
  /* The content is whole and in a memfd: no wait on a desktop program. */
  call_agent (peer, "SupplyData", g_variant_new ("(uh)", request, 0), G_VARIANT_TYPE ("(t)"),
              fds, G_MAXINT, peer->cancellable, logged_call_done,
              g_strdup_printf ("SupplyData for request %u", request));
}

static void
peer_supply_error (QgaDesktopPeer *iface, guint request, const GError *error)
{
  DesktopPeer *peer = DESKTOP_PEER (iface);

  call_agent (peer, "SupplyError", g_variant_new ("(us)", request, error->message), NULL, NULL,
              -1, peer->cancellable, logged_call_done,
              g_strdup_printf ("SupplyError for request %u", request));
}

/* --- reading the host's copy for a desktop program --- */

static void
read_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_with_unix_fd_list_finish (
    G_DBUS_CONNECTION (source), NULL, result, &error);
  guint64 *bytes;

  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  bytes = g_new (guint64, 1);
  g_variant_get (reply, "(t)", bytes);
  g_task_return_pointer (task, bytes, g_free);
}

static void
peer_read_async (QgaDesktopPeer *iface, QgaSelectionId selection, const char *mime_type,
                 guint32 serial, int fd, GCancellable *cancellable, GAsyncReadyCallback callback,
                 gpointer user_data)
{
  DesktopPeer *peer = DESKTOP_PEER (iface);
  GTask *task = g_task_new (peer, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = fd_list_take (fd, &error);

  g_task_set_source_tag (task, peer_read_async);
  if (fds == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  /* Read names no serial: qga-session reads the host's current grab, and
   * a newer one has made us take the desktop again before this. The
   * transfer's own progress timeout bounds it. */
  call_agent (peer, "Read",
              g_variant_new ("(ssh)", qga_clipboard_selection_name (selection), mime_type, 0),
              G_VARIANT_TYPE ("(t)"), fds, G_MAXINT, cancellable, read_done, task);
}

static gboolean
peer_read_finish (QgaDesktopPeer *iface, GAsyncResult *result, guint64 *bytes, GError **error)
{
  g_autofree guint64 *size = g_task_propagate_pointer (G_TASK (result), error);

  if (size == NULL)
    return FALSE;
  if (bytes != NULL)
    *bytes = *size;
  return TRUE;
}

/* --- the agent's signals and its comings and goings --- */

static void
on_signal (GDBusConnection *connection, const char *sender, const char *path,
           const char *interface, const char *member, GVariant *parameters, gpointer user_data)
{
  QgaDesktopPeer *peer = user_data;
  QgaSelectionId selection;
  const char *name = NULL;

  if (g_str_equal (member, "HostGrabbed") &&
      g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sasu)")))
    {
      g_autofree const char **types = NULL;
      guint32 serial;

      g_variant_get (parameters, "(&s^a&su)", &name, &types, &serial);
      if (qga_clipboard_selection_from_name (name, &selection) &&
          qga_clipboard_check_types (types, -1, NULL))
        qga_desktop_peer_emit_grabbed (peer, selection, types, serial);
    }
  else if (g_str_equal (member, "HostReleased") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(s)")))
    {
      g_variant_get (parameters, "(&s)", &name);
      if (qga_clipboard_selection_from_name (name, &selection))
        qga_desktop_peer_emit_released (peer, selection);
    }
  else if (g_str_equal (member, "DataRequested") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ssu)")))
    {
      const char *type;
      guint32 request;

      g_variant_get (parameters, "(&s&su)", &name, &type, &request);
      if (qga_clipboard_selection_from_name (name, &selection))
        qga_desktop_peer_emit_data_requested (peer, selection, type, request);
    }
}

static gboolean
reset_cb (gpointer user_data)
{
  DesktopPeer *peer = user_data;

  peer->reset_id = 0;
  qga_desktop_peer_emit_reset (QGA_DESKTOP_PEER (peer));
  return G_SOURCE_REMOVE;
}

static void
on_agent_appeared (GDBusConnection *connection, const char *name, const char *owner,
                   gpointer user_data)
{
  DesktopPeer *peer = user_data;

  g_debug ("the session agent is %s", owner);
  peer->agent_seen = TRUE;
  if (peer->reset_id != 0)
    {
      g_source_remove (peer->reset_id);
      reset_cb (peer);
    }
}

static void
on_agent_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DesktopPeer *peer = user_data;

  if (!peer->agent_seen || peer->reset_id != 0)
    return;
  g_message ("the session agent (%s) has gone; announcing the desktop's copies again in %d s",
             AGENT_NAME, RESET_DELAY_S);
  peer->reset_id = g_timeout_add_seconds (RESET_DELAY_S, reset_cb, peer);
}

/* --- life --- */

static void
desktop_peer_dispose (GObject *object)
{
  DesktopPeer *peer = DESKTOP_PEER (object);

  g_cancellable_cancel (peer->cancellable);
  g_clear_handle_id (&peer->reset_id, g_source_remove);
  g_clear_handle_id (&peer->watch_id, g_bus_unwatch_name);
  if (peer->signal_id != 0)
    g_dbus_connection_signal_unsubscribe (peer->bus, peer->signal_id);
  peer->signal_id = 0;
  G_OBJECT_CLASS (desktop_peer_parent_class)->dispose (object);
}

static void
desktop_peer_finalize (GObject *object)
{
  DesktopPeer *peer = DESKTOP_PEER (object);

  g_clear_object (&peer->cancellable);
  g_clear_object (&peer->bus);
  G_OBJECT_CLASS (desktop_peer_parent_class)->finalize (object);
}

static void
desktop_peer_init (DesktopPeer *peer)
{
  peer->cancellable = g_cancellable_new ();
}

static void
desktop_peer_class_init (DesktopPeerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = desktop_peer_dispose;
  object_class->finalize = desktop_peer_finalize;
}

static void
desktop_peer_iface_init (QgaDesktopPeerInterface *iface)
{
  iface->grab = peer_grab;
  iface->release = peer_release;
  iface->read_async = peer_read_async;
  iface->read_finish = peer_read_finish;
  iface->supply = peer_supply;
  iface->supply_error = peer_supply_error;
}

DesktopPeer *
desktop_peer_new (GDBusConnection *session_bus)
{
  DesktopPeer *peer = g_object_new (DESKTOP_TYPE_PEER, NULL);

  peer->bus = g_object_ref (session_bus);
  peer->signal_id = g_dbus_connection_signal_subscribe (session_bus, AGENT_NAME,
                                                        CLIPBOARD_INTERFACE, NULL, AGENT_PATH,
                                                        NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_signal,
                                                        peer, NULL);
  peer->watch_id = g_bus_watch_name_on_connection (session_bus, AGENT_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   on_agent_appeared, on_agent_vanished, peer,
                                                   NULL);
  return peer;
}
