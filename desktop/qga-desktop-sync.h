/* qga-desktop-sync.h: a desktop's clipboard mirrored with a peer.
 *
 * The one sync engine of issue 8, for both ends: in the guest,
 * qga-clipboard-sync mirrors the session's desktop with the host through
 * org.qemu.GuestAgent.Clipboard; on the host, 'qga-host clipboard sync'
 * mirrors the host's desktop with the guest through HostClipboard. Both
 * selections (CLIPBOARD and PRIMARY), lazy both ways:
 *
 *  - a desktop program copies: the peer is told the types (grab), nothing
 *    more. When the peer pastes (data-requested), the content is read from
 *    the desktop's owner into a memfd, and handed over only once it is all
 *    there: content over max-size, or an owner that leaves half way, is
 *    refused with supply_error (and a log line), never half delivered.
 *  - the peer copies (grabbed): we take the desktop selection offering its
 *    types, with a provider that reads from the peer only when a desktop
 *    program pastes. The desktop backend gathers the whole content before
 *    answering, so a failed read refuses that paste cleanly; the next one
 *    asks the peer again.
 *
 * No echo: our own take is announced by the desktop with ours TRUE and is
 * never passed on, and a peer grab is mirrored, not answered. Pastes name
 * the peer's grab by its serial, so a paste of an older grab cannot get
 * the newer content.
 */
#pragma once

#include <gio/gio.h>

#include "qga-desktop.h"
#include "qga-desktop-peer.h"

G_BEGIN_DECLS

#define QGA_TYPE_DESKTOP_SYNC (qga_desktop_sync_get_type ())
G_DECLARE_FINAL_TYPE (QgaDesktopSync, qga_desktop_sync, QGA, DESKTOP_SYNC, GObject)

/* Mirror desktop with peer, starting now. peer_name ("the host", "the
 * guest") is for log lines. The desktop's current owners are announced as
 * the desktop reports them. */
QgaDesktopSync *qga_desktop_sync_new (QgaDesktopClipboard *desktop, QgaDesktopPeer *peer,
                                      const char *peer_name);

/* Stop mirroring: the desktop selections taken for the peer are released
 * and work in progress is cancelled (pastes fail). The peer's grabs made
 * for the desktop stay: release them with the peer if wanted. */
void qga_desktop_sync_stop (QgaDesktopSync *sync);

G_END_DECLS
