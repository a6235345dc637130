/* qga-desktop-peer.h: the other end of a desktop clipboard's mirror.
 *
 * QgaDesktopSync (qga-desktop-sync.h) mirrors a desktop's selections with
 * a peer: in the guest, the session's org.qemu.GuestAgent.Clipboard (the
 * host behind it); on the host, qga-host's HostClipboard (the guest behind
 * it). A peer implements this interface:
 *
 *  - grab / release: announce our desktop's copy to the peer, types only;
 *  - read: fetch the peer's content of its current grab into an fd (taken),
 *    whole or with an error;
 *  - supply / supply_error: answer the peer's data-requested, with an fd
 *    holding the whole content (taken; at offset 0), or why there is none.
 *
 * and emits:
 *   grabbed (guint selection, GStrv mime_types, guint serial)
 *     the peer's side copied; serial is the peer's for that grab.
 *   released (guint selection)
 *     the peer's side gave its grab up.
 *   data-requested (guint selection, const char *mime_type, guint request)
 *     the peer pastes our grab: answer request with supply or supply_error.
 *   reset ()
 *     the peer forgot our grabs (it restarted): announce them again.
 */
#pragma once

#include <gio/gio.h>

#include "qga-clipboard.h"

G_BEGIN_DECLS

#define QGA_TYPE_DESKTOP_PEER (qga_desktop_peer_get_type ())
G_DECLARE_INTERFACE (QgaDesktopPeer, qga_desktop_peer, QGA, DESKTOP_PEER, GObject)

struct _QgaDesktopPeerInterface {
  GTypeInterface parent_iface;

  void (*grab) (QgaDesktopPeer *peer, QgaSelectionId selection, const char *const *mime_types);
  void (*release) (QgaDesktopPeer *peer, QgaSelectionId selection);
  /* serial: the peer's grab being read (0: whatever is current). */
  void (*read_async) (QgaDesktopPeer *peer, QgaSelectionId selection, const char *mime_type,
                      guint32 serial, int fd, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*read_finish) (QgaDesktopPeer *peer, GAsyncResult *result, guint64 *bytes,
                           GError **error);
  void (*supply) (QgaDesktopPeer *peer, guint request, int fd);
  void (*supply_error) (QgaDesktopPeer *peer, guint request, const GError *error);
};

void qga_desktop_peer_grab (QgaDesktopPeer *peer, QgaSelectionId selection,
                            const char *const *mime_types);
void qga_desktop_peer_release (QgaDesktopPeer *peer, QgaSelectionId selection);
void qga_desktop_peer_read_async (QgaDesktopPeer *peer, QgaSelectionId selection,
                                  const char *mime_type, guint32 serial, int fd,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean qga_desktop_peer_read_finish (QgaDesktopPeer *peer, GAsyncResult *result,
                                       guint64 *bytes, GError **error);
void qga_desktop_peer_supply (QgaDesktopPeer *peer, guint request, int fd);
void qga_desktop_peer_supply_error (QgaDesktopPeer *peer, guint request, const GError *error);

/* For implementations. */
void qga_desktop_peer_emit_grabbed (QgaDesktopPeer *peer, QgaSelectionId selection,
                                    const char *const *mime_types, guint32 serial);
void qga_desktop_peer_emit_released (QgaDesktopPeer *peer, QgaSelectionId selection);
void qga_desktop_peer_emit_data_requested (QgaDesktopPeer *peer, QgaSelectionId selection,
                                           const char *mime_type, guint request);
void qga_desktop_peer_emit_reset (QgaDesktopPeer *peer);

G_END_DECLS
