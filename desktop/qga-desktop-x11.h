/* qga-desktop-x11.h: the desktop clipboard on X11, through XCB and XFixes.
 *
 * One connection and one unmapped window: XFixes tells of every change of
 * owner of CLIPBOARD and PRIMARY, TARGETS says what is on offer, and
 * contents move with ConvertSelection, INCR for the large ones, both as
 * requestor (qga-desktop-x11-read.c) and as owner
 * (qga-desktop-x11-serve.c). docs/DESKTOP-CLIPBOARD.md has the rules.
 */
#pragma once

#include "qga-desktop.h"

G_BEGIN_DECLS

#define QGA_TYPE_DESKTOP_CLIPBOARD_X11 (qga_desktop_clipboard_x11_get_type ())
G_DECLARE_FINAL_TYPE (QgaDesktopClipboardX11, qga_desktop_clipboard_x11, QGA,
                      DESKTOP_CLIPBOARD_X11, QgaDesktopClipboard)

/* Connect to display (e.g. ":3"). max_size and timeout_ms: 0 for the
 * defaults. Errors: QGA_ERROR_NOT_SUPPORTED (cannot connect, no XFixes). */
QgaDesktopClipboard *qga_desktop_clipboard_x11_new (const char *display, guint64 max_size,
                                                    guint timeout_ms, GError **error);

G_END_DECLS
