/* desktop-peer.h: the host, through the session's clipboard API, as the
 * peer of the guest's desktop mirror (qga-clipboard-sync).
 *
 * DesktopPeer speaks org.qemu.GuestAgent.Clipboard on the session bus as
 * any guest program does (Grab, Release, Read, SupplyData, SupplyError;
 * HostGrabbed, HostReleased, DataRequested), and watches the name: when
 * qga-session goes away it has forgotten our grabs, so "reset" asks for
 * them again (1 s later, which starts it again by bus activation, or as
 * soon as it is back).
 */
#pragma once

#include <gio/gio.h>

#include "qga-desktop-peer.h"

G_BEGIN_DECLS

#define DESKTOP_TYPE_PEER (desktop_peer_get_type ())
G_DECLARE_FINAL_TYPE (DesktopPeer, desktop_peer, DESKTOP, PEER, GObject)

DesktopPeer *desktop_peer_new (GDBusConnection *session_bus);

G_END_DECLS
