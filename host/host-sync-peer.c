/* host-sync-peer.c: the guest as the desktop mirror's peer (see
 * host-sync-peer.h). */
#include "config.h"

#include <unistd.h>

#include "host-sync-peer.h"
#include "qga-error.h"

struct _HostSyncPeer {
  GObject parent_instance;

  HostClipboard *clipboard;
  GHashTable *serves;       /* request number → HostClipboardServe * */
  guint last_request;
};

static void host_sync_peer_iface_init (QgaDesktopPeerInterface *iface);

G_DEFINE_TYPE_WITH_CODE (HostSyncPeer, host_sync_peer, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (QGA_TYPE_DESKTOP_PEER, host_sync_peer_iface_init))

/* --- the guest pastes the host desktop's copy --- */

static void
serve_cb (QgaSelectionId selection, const char *type, HostClipboardServe *serve,
          gpointer user_data)
{
  HostSyncPeer *peer = user_data;
  guint request;

  do
    request = ++peer->last_request;
  while (request == 0 || g_hash_table_contains (peer->serves, GUINT_TO_POINTER (request)));
  g_hash_table_insert (peer->serves, GUINT_TO_POINTER (request), serve);
  qga_desktop_peer_emit_data_requested (QGA_DESKTOP_PEER (peer), selection, type, request);
}

static HostClipboardServe *
take_serve (HostSyncPeer *peer, guint request)
{
  HostClipboardServe *serve = NULL;

  g_hash_table_steal_extended (peer->serves, GUINT_TO_POINTER (request), NULL,
                               (gpointer *) &serve);
  return serve;
}

static void
peer_supply (QgaDesktopPeer *iface, guint request, int fd)
{
  HostClipboardServe *serve = take_serve (HOST_SYNC_PEER (iface), request);

  if (serve == NULL)
    {
      close (fd);
      return;
    }
  host_clipboard_serve_supply (serve, fd);
}

static void
peer_supply_error (QgaDesktopPeer *iface, guint request, const GError *error)
{
  HostClipboardServe *serve = take_serve (HOST_SYNC_PEER (iface), request);

  if (serve != NULL)
    host_clipboard_serve_fail (serve, error);
}

/* --- the host desktop's copies --- */

static void
peer_grab (QgaDesktopPeer *iface, QgaSelectionId selection, const char *const *mime_types)
{
  HostSyncPeer *peer = HOST_SYNC_PEER (iface);
  guint32 serial = host_clipboard_grab_lazy (peer->clipboard, selection, mime_types, serve_cb,
                                             peer, NULL);

  g_debug ("the host grabbed %s (serial %u)", qga_clipboard_selection_name (selection), serial);
}

static void
peer_release (QgaDesktopPeer *iface, QgaSelectionId selection)
{
  host_clipboard_release (HOST_SYNC_PEER (iface)->clipboard, selection);
}

/* --- host desktop programs paste the guest's copy --- */

static void
read_done_cb (guint64 bytes, const GError *error, gpointer user_data)
{
  GTask *task = user_data;

  if (error != NULL)
    g_task_return_error (task, g_error_copy (error));
  else
    {
      guint64 *result = g_new (guint64, 1);

      *result = bytes;
      g_task_return_pointer (task, result, g_free);
    }
  g_object_unref (task);
}

static void
peer_read_async (QgaDesktopPeer *iface, QgaSelectionId selection, const char *mime_type,
                 guint32 serial, int fd, GCancellable *cancellable, GAsyncReadyCallback callback,
                 gpointer user_data)
{
  HostSyncPeer *peer = HOST_SYNC_PEER (iface);
  GTask *task = g_task_new (peer, cancellable, callback, user_data);
  const char *const *types;
  guint32 current = 0;
  GError *error = NULL;

  g_task_set_source_tag (task, peer_read_async);
  /* a paste of an older grab than the guest's current one gets nothing */
  types = host_clipboard_get_guest_grab (peer->clipboard, selection, &current);
  if (types == NULL || (serial != 0 && serial != current))
    {
      close (fd);
      g_task_return_new_error (task, QGA_ERROR, QGA_ERROR_NO_DATA,
                               "the guest's grab of %s has changed",
                               qga_clipboard_selection_name (selection));
      g_object_unref (task);
      return;
    }
  if (!host_clipboard_read (peer->clipboard, selection, mime_type, FALSE, fd, NULL, read_done_cb,
                            task, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
    }
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

/* --- the guest's grabs --- */

void
host_sync_peer_guest_changed (HostSyncPeer *peer, QgaSelectionId selection, guint32 serial,
                              const char *const *types)
{
  if (types != NULL)
    qga_desktop_peer_emit_grabbed (QGA_DESKTOP_PEER (peer), selection, types, serial);
  else
    qga_desktop_peer_emit_released (QGA_DESKTOP_PEER (peer), selection);
}

/* --- life --- */

static void
fail_serve (gpointer data)
{
  g_autoptr(GError) error = g_error_new_literal (QGA_ERROR, QGA_ERROR_CANCELLED,
                                                 "qga-host is stopping");

  host_clipboard_serve_fail (data, error);
}

static void
host_sync_peer_finalize (GObject *object)
{
  HostSyncPeer *peer = HOST_SYNC_PEER (object);

  g_hash_table_unref (peer->serves);
  G_OBJECT_CLASS (host_sync_peer_parent_class)->finalize (object);
}

static void
host_sync_peer_init (HostSyncPeer *peer)
{
  peer->serves = g_hash_table_new_full (NULL, NULL, NULL, fail_serve);
}

static void
host_sync_peer_class_init (HostSyncPeerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = host_sync_peer_finalize;
}

static void
host_sync_peer_iface_init (QgaDesktopPeerInterface *iface)
{
  iface->grab = peer_grab;
  iface->release = peer_release;
  iface->read_async = peer_read_async;
  iface->read_finish = peer_read_finish;
  iface->supply = peer_supply;
  iface->supply_error = peer_supply_error;
}

HostSyncPeer *
host_sync_peer_new (HostClipboard *clipboard)
{
  HostSyncPeer *peer = g_object_new (HOST_TYPE_SYNC_PEER, NULL);

  peer->clipboard = clipboard;
  return peer;
}
