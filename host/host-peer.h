/* host-peer.h: one connection to the guest.
 *
 * A HostPeer wraps the QgaStream of one connection to qga-bridge. It answers
 * the guest's host-* commands itself (host-commands.h), hands the clipboard
 * messages to the program's HostClipboard (host-clipboard.h: the CLIPBOARD_*
 * events, host-clipboard-request, and the replies to the clipboard's own
 * requests), sends the HOST_STATS events of the guest's subscription
 * (host-commands.h) and hands everything else to its owner:
 *
 *   reply (JsonNode *message)  a return or error: the answer to a command we sent
 *   event (JsonNode *message)  an event from the guest (not CLIPBOARD_*)
 *   drained ()                 everything we queued has been written
 *   closed (GError *error)     the guest went away (error NULL on a clean EOF);
 *                              nothing follows it
 *
 * Guest bytes are untrusted: bad input is logged at most a few times per
 * second, and any guest text in a log line is cut short.
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define HOST_TYPE_PEER (host_peer_get_type ())
G_DECLARE_FINAL_TYPE (HostPeer, host_peer, HOST, PEER, GObject)

/* Declared here, defined in host-clipboard.h (which needs HostPeer). */
typedef struct _HostClipboard HostClipboard;
typedef struct _HostStats HostStats;

/* Takes ownership of fd. clipboard (not referenced) must outlive the peer;
 * the peer attaches itself to it now and detaches when the connection
 * ends. stats (not referenced, may be NULL) must outlive the peer too. */
HostPeer *host_peer_new (int fd, gsize max_message_size, HostClipboard *clipboard,
                         HostStats *stats);

/* {"execute": name, "arguments": arguments, "id": id}; arguments may be NULL. */
gboolean host_peer_send_command (HostPeer *peer, const char *name, JsonNode *arguments,
                                 gint64 id, GError **error);

/* 0xFF, then {"execute": "guest-sync-delimited", "arguments": {"id": sync_id}}. */
gboolean host_peer_send_sync (HostPeer *peer, gint64 sync_id, GError **error);

gboolean host_peer_send_event (HostPeer *peer, const char *name, JsonNode *data,
                               GError **error);

/* One complete line (the wire builders' output), queued as it is. */
gboolean host_peer_send_line (HostPeer *peer, GBytes *line, GError **error);

/* length bytes of text and a '\n', unchecked. */
gboolean host_peer_send_raw (HostPeer *peer, const char *text, gsize length, GError **error);

gboolean host_peer_is_drained (HostPeer *peer);

/* Drop the connection now. Emits nothing. */
void host_peer_close (HostPeer *peer);

G_END_DECLS
