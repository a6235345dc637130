/* bridge-clipboard.h: the guest's end of clipboard sync.
 *
 * Keeps the state of both selections (the guest's grabs, made through the
 * active session agent, and the host's), speaks the clipboard messages of
 * docs/CLIPBOARD.md on the port, and streams data between the port and
 * the file descriptors that agents pass in. Nothing here knows D-Bus
 * messages: bridge-sessions-object turns its signals into unicast signals
 * to the active agent, and its methods into these calls.
 *
 * Signals:
 *   host-grabbed (const char *selection, GStrv types, guint serial)
 *   host-released (const char *selection)
 *   data-requested (const char *agent, const char *selection,
 *                   const char *type, guint request_id)
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "bridge-channel.h"
#include "bridge-dispatcher.h"
#include "bridge-sessions.h"
#include "qga-clipboard.h"

G_BEGIN_DECLS

#define BRIDGE_SUPPLY_TIMEOUT_MS 30000

#define BRIDGE_TYPE_CLIPBOARD (bridge_clipboard_get_type ())
G_DECLARE_FINAL_TYPE (BridgeClipboard, bridge_clipboard, BRIDGE, CLIPBOARD, GObject)

BridgeClipboard *bridge_clipboard_new (BridgeChannel *channel, BridgeDispatcher *dispatcher,
                                       BridgeSessions *sessions, guint64 max_size);
/* Transfers started from now on are cancelled after timeout_ms without
 * progress (default QGA_TRANSFER_TIMEOUT_MS). */
void bridge_clipboard_set_transfer_timeout (BridgeClipboard *clipboard, guint timeout_ms);

/* What guest-info says of the clipboard. */
JsonNode *bridge_clipboard_get_capability (BridgeClipboard *clipboard);

/* From the host: guest-clipboard-request (answered {} on TRUE), and the
 * CLIPBOARD_* events. */
gboolean bridge_clipboard_handle_request (BridgeClipboard *clipboard, JsonObject *arguments,
                                          GError **error);
void bridge_clipboard_handle_event (BridgeClipboard *clipboard, const char *name,
                                    JsonObject *data);

/* The host's current grab of selection, if any: its types (owned by the
 * clipboard) and serial. */
gboolean bridge_clipboard_get_host_grab (BridgeClipboard *clipboard, QgaSelectionId selection,
                                         const char *const **types, guint32 *serial);

/* --- for the active agent (checked by the caller) --- */

gboolean bridge_clipboard_grab (BridgeClipboard *clipboard, const char *agent,
                                QgaSelectionId selection, const char *const *types,
                                guint32 *serial, GError **error);
gboolean bridge_clipboard_release (BridgeClipboard *clipboard, const char *agent,
                                   QgaSelectionId selection, GError **error);

/* How a supply or a read ended: error NULL on success. */
typedef void (*BridgeClipboardDoneFunc) (guint64 bytes, const GError *error, gpointer user_data);

/* Both take ownership of fd, on failure too. done is called once, later,
 * unless FALSE is returned. */
gboolean bridge_clipboard_supply (BridgeClipboard *clipboard, const char *agent,
                                  guint32 request_id, int fd, BridgeClipboardDoneFunc done,
                                  gpointer user_data, GError **error);
gboolean bridge_clipboard_read (BridgeClipboard *clipboard, const char *agent,
                                QgaSelectionId selection, const char *type, int fd,
                                BridgeClipboardDoneFunc done, gpointer user_data,
                                GError **error);
gboolean bridge_clipboard_supply_error (BridgeClipboard *clipboard, const char *agent,
                                        guint32 request_id, const char *message, GError **error);

G_END_DECLS
