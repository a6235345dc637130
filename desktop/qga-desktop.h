/* qga-desktop.h: the desktop's clipboard, whatever the display server.
 *
 * QgaDesktopClipboard is one program's view of the desktop session's
 * selections (CLIPBOARD and PRIMARY), the same for the guest's desktop
 * client and for 'qga-host clipboard sync'. A backend (X11, Wayland
 * data-control) subclasses it; qga_desktop_clipboard_new() picks one
 * from the environment. Everything is lazy, both ways:
 *
 *  - another program copies: owner-changed announces the selection and the
 *    MIME types on offer, nothing else. The content moves only when asked,
 *    with qga_desktop_clipboard_read_async(), straight into the caller's fd.
 *  - we copy: qga_desktop_clipboard_take() offers MIME types with a
 *    provider, which is called only when another program pastes, and then
 *    writes the content into an fd it is given.
 *
 * Every transfer is bounded by max-size (content over it is refused, and a
 * read never reports a truncated content as success) and ends, with an
 * error, after timeout-ms without progress. Single-threaded: everything
 * runs on the global default main context (as in the project's programs),
 * and nothing waits for another program.
 *
 * Writing into a pipe whose reader has gone raises SIGPIPE: programs using
 * this ignore it, as the project's daemons do.
 */
#pragma once

#include <gio/gio.h>

#include "qga-clipboard.h"

G_BEGIN_DECLS

#define QGA_DESKTOP_MIME_TEXT "text/plain;charset=utf-8"
#define QGA_DESKTOP_DEFAULT_TIMEOUT_MS 30000
/* Transfers in progress at once, each way. */
#define QGA_DESKTOP_MAX_READS 8
#define QGA_DESKTOP_MAX_SERVES 8

#define QGA_TYPE_DESKTOP_CLIPBOARD (qga_desktop_clipboard_get_type ())
G_DECLARE_DERIVABLE_TYPE (QgaDesktopClipboard, qga_desktop_clipboard, QGA, DESKTOP_CLIPBOARD, GObject)

/* One paste of our content by another program, handed to the provider. */
typedef struct _QgaDesktopRequest QgaDesktopRequest;
/* A take's provider, for the backends (qga-desktop-private.h). */
typedef struct _QgaDesktopOffer QgaDesktopOffer;

/* Asked for the content of mime_type (one of those given to take) on
 * selection. The provider owns fd, writes the content into it (without
 * blocking the main loop: a pipe holds 64 KiB) and closes it, and calls
 * qga_desktop_request_complete() once, with or without an error, from the
 * main context. cancellable is cancelled when nobody waits for the content
 * any more; complete must still be called. */
typedef void (*QgaDesktopProvider) (QgaDesktopClipboard *clipboard, QgaSelectionId selection,
                                    const char *mime_type, int fd, GCancellable *cancellable,
                                    QgaDesktopRequest *request, gpointer user_data);

/* The content is whole once fd is closed and this is called without an
 * error; with one, the paste is refused. Frees the request's last
 * reference the provider holds. */
void qga_desktop_request_complete (QgaDesktopRequest *request, const GError *error);

struct _QgaDesktopClipboardClass {
  GObjectClass parent_class;

  /* Backends; the public functions have checked the arguments. */
  const char *(*get_backend_name) (QgaDesktopClipboard *clipboard);
  gboolean (*take) (QgaDesktopClipboard *clipboard, QgaSelectionId selection,
                    const char *const *mime_types, QgaDesktopOffer *offer,
                    GError **error);
  void (*release) (QgaDesktopClipboard *clipboard, QgaSelectionId selection);
  /* Ends task with qga_desktop_read_return() (qga-desktop-private.h). */
  void (*read) (QgaDesktopClipboard *clipboard, QgaSelectionId selection,
                const char *mime_type, int fd, GTask *task);

  gpointer padding[8];
};

/* The backend for this session, logged: Wayland (data-control) when
 * WAYLAND_DISPLAY is set; X11 when DISPLAY is set and there is no
 * WAYLAND_DISPLAY, or the compositor cannot be used (no data-control:
 * Xwayland then, which sees X applications only; both facts logged).
 * max_size bounds every content (0: QGA_CLIPBOARD_DEFAULT_MAX_SIZE),
 * timeout_ms a transfer without progress (0: the default). Errors:
 * QGA_ERROR_NOT_SUPPORTED when there is no display to use, or the
 * backend's own when it cannot connect. */
QgaDesktopClipboard *qga_desktop_clipboard_new (guint64 max_size, guint timeout_ms,
                                                GError **error);

/* "x11" or "wayland" */
const char *qga_desktop_clipboard_get_backend_name (QgaDesktopClipboard *clipboard);
guint64 qga_desktop_clipboard_get_max_size (QgaDesktopClipboard *clipboard);
guint qga_desktop_clipboard_get_timeout_ms (QgaDesktopClipboard *clipboard);

/* Own selection, offering mime_types (1-64, as in docs/CLIPBOARD.md §1),
 * until release, another take, or another program copies. provider is
 * called for each paste; destroy (may be NULL) frees user_data once no
 * paste can ask it any more. Signal owner-changed follows with ours TRUE.
 * Fails (and frees user_data) with QGA_ERROR_GENERIC_ERROR if the display
 * server would not give us the selection. */
gboolean qga_desktop_clipboard_take (QgaDesktopClipboard *clipboard, QgaSelectionId selection,
                                     const char *const *mime_types, QgaDesktopProvider provider,
                                     gpointer user_data, GDestroyNotify destroy, GError **error);

/* Give selection up, if we own it. Pastes already asked for go on. */
void qga_desktop_clipboard_release (QgaDesktopClipboard *clipboard, QgaSelectionId selection);

/* Write the content of mime_type on selection, as its current owner gives
 * it, into fd (taken: closed when the read ends; made non-blocking). The
 * owner may be another program or ourselves. Errors: QGA_ERROR_NO_DATA
 * (nothing owns it, or not that type, or the owner refused),
 * QGA_ERROR_LIMIT_EXCEEDED (over max-size, or QGA_DESKTOP_MAX_READS in
 * progress), QGA_ERROR_TIMEOUT, QGA_ERROR_CANCELLED (cancellable),
 * QGA_ERROR_GENERIC_ERROR (the owner left half way, fd failed). After an
 * error fd may hold part of the content: it is not the content. */
void qga_desktop_clipboard_read_async (QgaDesktopClipboard *clipboard, QgaSelectionId selection,
                                       const char *mime_type, int fd, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
/* TRUE with the number of bytes written in *bytes (may be NULL). */
gboolean qga_desktop_clipboard_read_finish (QgaDesktopClipboard *clipboard, GAsyncResult *result,
                                            guint64 *bytes, GError **error);

/* Signals:
 *   closed (GError *error)
 *     the connection to the display server is gone: reads in progress
 *     failed, our selections are lost, and nothing more will happen on
 *     this object. Make a new one to go on.
 *   owner-changed (guint selection, GStrv mime_types, gboolean ours)
 *     selection (a QgaSelectionId) has a new owner offering mime_types:
 *     another program (ours FALSE), or us after take (ours TRUE). An empty
 *     mime_types means nothing we could read is on offer (no owner, or an
 *     owner offering no type we know). Another program's copy is announced
 *     once, ours never as another program's. */

G_END_DECLS
