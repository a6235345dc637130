/* qga-desktop-peer.c: the peer interface of the desktop mirror (see
 * qga-desktop-peer.h). */
#include "config.h"

#include "qga-desktop-peer.h"

enum { SIGNAL_GRABBED, SIGNAL_RELEASED, SIGNAL_DATA_REQUESTED, SIGNAL_RESET, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_INTERFACE (QgaDesktopPeer, qga_desktop_peer, G_TYPE_OBJECT)

static void
qga_desktop_peer_default_init (QgaDesktopPeerInterface *iface)
{
  signals[SIGNAL_GRABBED] =
    g_signal_new ("grabbed", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_STRV, G_TYPE_UINT);
  signals[SIGNAL_RELEASED] =
    g_signal_new ("released", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  signals[SIGNAL_DATA_REQUESTED] =
    g_signal_new ("data-requested", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_STRING, G_TYPE_UINT);
  signals[SIGNAL_RESET] =
    g_signal_new ("reset", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
}

void
qga_desktop_peer_grab (QgaDesktopPeer *peer, QgaSelectionId selection,
                       const char *const *mime_types)
{
  QGA_DESKTOP_PEER_GET_IFACE (peer)->grab (peer, selection, mime_types);
}

void
qga_desktop_peer_release (QgaDesktopPeer *peer, QgaSelectionId selection)
{
  QGA_DESKTOP_PEER_GET_IFACE (peer)->release (peer, selection);
}

void
qga_desktop_peer_read_async (QgaDesktopPeer *peer, QgaSelectionId selection,
                             const char *mime_type, guint32 serial, int fd,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  QGA_DESKTOP_PEER_GET_IFACE (peer)->read_async (peer, selection, mime_type, serial, fd,
                                                 cancellable, callback, user_data);
}

gboolean
qga_desktop_peer_read_finish (QgaDesktopPeer *peer, GAsyncResult *result, guint64 *bytes,
                              GError **error)
{
  return QGA_DESKTOP_PEER_GET_IFACE (peer)->read_finish (peer, result, bytes, error);
}

void
qga_desktop_peer_supply (QgaDesktopPeer *peer, guint request, int fd)
{
  QGA_DESKTOP_PEER_GET_IFACE (peer)->supply (peer, request, fd);
}

void
qga_desktop_peer_supply_error (QgaDesktopPeer *peer, guint request, const GError *error)
{
  QGA_DESKTOP_PEER_GET_IFACE (peer)->supply_error (peer, request, error);
}

void
qga_desktop_peer_emit_grabbed (QgaDesktopPeer *peer, QgaSelectionId selection,
                               const char *const *mime_types, guint32 serial)
{
  g_signal_emit (peer, signals[SIGNAL_GRABBED], 0, (guint) selection, mime_types, serial);
}

void
qga_desktop_peer_emit_released (QgaDesktopPeer *peer, QgaSelectionId selection)
{
  g_signal_emit (peer, signals[SIGNAL_RELEASED], 0, (guint) selection);
}

void
qga_desktop_peer_emit_data_requested (QgaDesktopPeer *peer, QgaSelectionId selection,
                                      const char *mime_type, guint request)
{
  g_signal_emit (peer, signals[SIGNAL_DATA_REQUESTED], 0, (guint) selection, mime_type, request);
}

void
qga_desktop_peer_emit_reset (QgaDesktopPeer *peer)
{
  g_signal_emit (peer, signals[SIGNAL_RESET], 0);
}
