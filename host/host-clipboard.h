/* host-clipboard.h: qga-host's end of clipboard sync (docs/CLIPBOARD.md).
 *
 * A HostClipboard keeps what qga-host knows of the two selections and the
 * transfers in progress. It lives as long as the program; the connection
 * to the guest comes and goes under it (host_clipboard_attach/detach,
 * which HostPeer calls), so the host's grabs and their serials survive a
 * reconnect and are announced again once the new connection's guest-info
 * shows the capability (with a new serial, as a new grab: a guest that
 * kept the old one would take a repeat of it for stale).
 *
 * What comes from the guest arrives through the HostPeer:
 *  - CLIPBOARD_GRAB/RELEASE update the selections (the host's grab wins a
 *    crossed grab, so a guest grab that lost the race is ignored) and are
 *    reported to the owner through HostClipboardGuestFunc;
 *  - CLIPBOARD_DATA/ACK/CANCEL go to the transfers;
 *  - host-clipboard-request (a command, through HostCommands) starts an
 *    OWNER transfer from the data source of the host's current grab;
 *  - the replies to our own guest-clipboard-request commands (their ids
 *    are strings "clipboard-N", apart from every integer id) start READER
 *    transfers.
 * Everything from the guest is checked (the shared code checks the
 * messages), and warnings about it are rate-limited with guest text cut
 * short.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "host-peer.h"
#include "qga-clipboard.h"

G_BEGIN_DECLS

/* A new readable fd with the content of the host's grab for selection and
 * type; it is read to its end. -1 with error if it cannot be had. */
typedef int (*HostClipboardSourceFunc) (QgaSelectionId selection, const char *type,
                                        gpointer user_data, GError **error);

/* A lazy source (host_clipboard_grab_lazy): the guest asked for type. The
 * reply has gone to the guest; the content follows once the callee answers
 * serve, exactly once, with host_clipboard_serve_supply() or
 * host_clipboard_serve_fail(), whenever it has it. */
typedef struct _HostClipboardServe HostClipboardServe;
typedef void (*HostClipboardServeFunc) (QgaSelectionId selection, const char *type,
                                        HostClipboardServe *serve, gpointer user_data);

/* The guest grabbed a selection (types non-NULL), or released its grab
 * (types NULL). Only changes that took effect are reported. */
typedef void (*HostClipboardGuestFunc) (QgaSelectionId selection, guint32 serial,
                                        const char *const *types, gpointer user_data);

/* A read: the guest accepted the request and data follows. */
typedef void (*HostClipboardReadStartedFunc) (gpointer user_data);

/* A read ended: error NULL when the whole content was written to the
 * sink, bytes is how much was written either way. Called exactly once. */
typedef void (*HostClipboardReadDoneFunc) (guint64 bytes, const GError *error,
                                           gpointer user_data);

/* max_size: the largest content sent or accepted (also in host-info). */
HostClipboard *host_clipboard_new (guint64 max_size);
/* Transfers started from now on are cancelled after timeout_ms without
 * progress (default QGA_TRANSFER_TIMEOUT_MS). */
void host_clipboard_set_transfer_timeout (HostClipboard *clipboard, guint timeout_ms);
/* Ends what is in progress (read callbacks are called) and frees. */
void host_clipboard_free (HostClipboard *clipboard);

guint64 host_clipboard_get_max_size (HostClipboard *clipboard);

void host_clipboard_set_guest_func (HostClipboard *clipboard, HostClipboardGuestFunc func,
                                    gpointer user_data);

/* --- the connection (HostPeer calls these) --- */

/* peer is not referenced; detach before it goes. */
void host_clipboard_attach (HostClipboard *clipboard, HostPeer *peer);
/* The connection is gone: every transfer and pending read ends
 * (HostDisconnected), the guest's grabs and capability are forgotten. */
void host_clipboard_detach (HostClipboard *clipboard, HostPeer *peer);

/* From the current connection's guest-info return value: TRUE if the
 * guest announced the capability. If it did, the host's current grabs are
 * announced to it (here and from now on). */
gboolean host_clipboard_set_guest_info (HostClipboard *clipboard, JsonObject *info);
gboolean host_clipboard_guest_has_capability (HostClipboard *clipboard);

/* The guest's current grab of selection: its types (owned by the
 * clipboard), and its serial in *serial; NULL if the guest has none. */
const char *const *host_clipboard_get_guest_grab (HostClipboard *clipboard,
                                                  QgaSelectionId selection, guint32 *serial);

/* An event from the guest whose name starts with CLIPBOARD_. */
void host_clipboard_handle_event (HostClipboard *clipboard, const char *name, JsonNode *data);

/* A reply from the guest: TRUE if it answers one of our requests (it is
 * then handled), FALSE if it is someone else's. */
gboolean host_clipboard_handle_reply (HostClipboard *clipboard, JsonObject *reply);

/* host-clipboard-request's arguments (NULL if absent): {} or an error
 * (QGA_ERROR: NoData, LimitExceeded, GenericError). The data follows the
 * reply. */
JsonNode *host_clipboard_handle_request (HostClipboard *clipboard, JsonObject *arguments,
                                         GError **error);

/* --- what the host does --- */

/* The host grabs selection, offering types (checked by the caller with
 * qga_clipboard_check_types), with source giving the data. Cancels the
 * selection's transfers. The grab is sent when the guest has the
 * capability. Returns the serial. */
guint32 host_clipboard_grab (HostClipboard *clipboard, QgaSelectionId selection,
                             const char *const *types, HostClipboardSourceFunc source,
                             gpointer source_data, GDestroyNotify source_destroy);

/* The same with a source that answers later: the content is sent only
 * once it is all there (serve_supply), or the guest's read is cancelled
 * (serve_fail), so nothing is half delivered. */
guint32 host_clipboard_grab_lazy (HostClipboard *clipboard, QgaSelectionId selection,
                                  const char *const *types, HostClipboardServeFunc func,
                                  gpointer func_data, GDestroyNotify func_destroy);

/* fd (taken) holds the whole content, from its offset. A serve the guest
 * no longer waits for (a new grab, a release, a disconnect) just closes it.
 * Frees serve. */
void host_clipboard_serve_supply (HostClipboardServe *serve, int fd);
/* The content cannot be had: the guest's read is cancelled with error.
 * Frees serve. */
void host_clipboard_serve_fail (HostClipboardServe *serve, const GError *error);

/* The host gives up its grab of selection: its transfers are cancelled
 * and CLIPBOARD_RELEASE is sent if the guest has the capability. FALSE if
 * the host had no grab. */
gboolean host_clipboard_release (HostClipboard *clipboard, QgaSelectionId selection);

/* Send guest-clipboard-request and write the content to sink (taken; made
 * non-blocking). The request names the guest's grab by its serial if it is
 * known, else (or with any_grab) by 0: whatever grab is current. done is
 * called exactly once, unless this returns FALSE (sink is then closed). */
gboolean host_clipboard_read (HostClipboard *clipboard, QgaSelectionId selection,
                              const char *type, gboolean any_grab, int sink,
                              HostClipboardReadStartedFunc started,
                              HostClipboardReadDoneFunc done, gpointer user_data,
                              GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HostClipboard, host_clipboard_free)

G_END_DECLS
