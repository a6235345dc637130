/* qga-desktop-private.h: what the backends of QgaDesktopClipboard share.
 *
 * The offer (a take's provider, referenced by each paste it serves, so a
 * paste outlives a lost selection), the request handed to the provider,
 * and the base class's helpers. Not for the users of qga-desktop.h.
 */
#pragma once

#include "qga-desktop.h"

G_BEGIN_DECLS

QgaDesktopOffer *qga_desktop_offer_new (QgaDesktopProvider provider, gpointer user_data,
                                        GDestroyNotify destroy);
QgaDesktopOffer *qga_desktop_offer_ref (QgaDesktopOffer *offer);
void qga_desktop_offer_unref (QgaDesktopOffer *offer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (QgaDesktopOffer, qga_desktop_offer_unref)

/* Called once, from the provider's qga_desktop_request_complete(), unless
 * the backend abandoned the request first. */
typedef void (*QgaDesktopRequestDoneFunc) (const GError *error, gpointer user_data);

/* Ask the offer's provider for mime_type, to be written into fd (given to
 * the provider). done may be called before this returns. The request
 * returned is the backend's reference: end it with abandon() or, after
 * done, unref(). */
QgaDesktopRequest *qga_desktop_offer_ask (QgaDesktopOffer *offer, QgaDesktopClipboard *clipboard,
                                          QgaSelectionId selection, const char *mime_type,
                                          int fd, QgaDesktopRequestDoneFunc done,
                                          gpointer done_data);

/* The backend no longer waits: done will not be called, the provider's
 * cancellable is cancelled, and the backend's reference dropped. */
void qga_desktop_request_abandon (QgaDesktopRequest *request);
void qga_desktop_request_unref (QgaDesktopRequest *request);

void qga_desktop_clipboard_emit_owner_changed (QgaDesktopClipboard *clipboard,
                                               QgaSelectionId selection,
                                               const char *const *mime_types, gboolean ours);

void qga_desktop_clipboard_emit_closed (QgaDesktopClipboard *clipboard, const GError *error);

/* End a read's task: error NULL on success (then bytes is its size). */
void qga_desktop_read_return (GTask *task, guint64 bytes, GError *error);

G_END_DECLS
