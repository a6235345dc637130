/* host-sync-peer.h: the guest, through HostClipboard, as the peer of the
 * desktop mirror ('qga-host clipboard sync', desktop/qga-desktop-sync.h).
 *
 * The host desktop's copies become host grabs with a lazy source (the
 * content is fetched from the desktop when the guest pastes, and sent once
 * it is all there); the guest's grabs and releases, which qga-host's
 * HostClipboardGuestFunc reports, are passed in with
 * host_sync_peer_guest_changed(); desktop pastes read the guest's grab by
 * its serial.
 */
#pragma once

#include "host-clipboard.h"
#include "qga-desktop-peer.h"

G_BEGIN_DECLS

#define HOST_TYPE_SYNC_PEER (host_sync_peer_get_type ())
G_DECLARE_FINAL_TYPE (HostSyncPeer, host_sync_peer, HOST, SYNC_PEER, GObject)

/* clipboard is not referenced: free the peer first. */
HostSyncPeer *host_sync_peer_new (HostClipboard *clipboard);

/* What HostClipboardGuestFunc reported: a grab (types) or a release (NULL). */
void host_sync_peer_guest_changed (HostSyncPeer *peer, QgaSelectionId selection,
                                   guint32 serial, const char *const *types);

G_END_DECLS
