/* qga-desktop-wayland.h: the desktop clipboard on Wayland, through the
 * data-control protocols.
 *
 * ext_data_control_manager_v1 (ext-data-control-v1) where the compositor
 * has it, else zwlr_data_control_manager_v1 (wlr-data-control-unstable-v1,
 * version 2 for the primary selection), as wlroots compositors (sway) and
 * KWin offer them: a privileged client sees every new selection and sets
 * them, without a surface or keyboard focus. Offers map to owner-changed,
 * receive to reads (qga-desktop-wayland-read.c), our sources' send events
 * to the provider (qga-desktop-wayland-serve.c). docs/DESKTOP-CLIPBOARD.md
 * has the rules.
 */
#pragma once

#include "qga-desktop.h"

G_BEGIN_DECLS

#define QGA_TYPE_DESKTOP_CLIPBOARD_WAYLAND (qga_desktop_clipboard_wayland_get_type ())
G_DECLARE_FINAL_TYPE (QgaDesktopClipboardWayland, qga_desktop_clipboard_wayland, QGA,
                      DESKTOP_CLIPBOARD_WAYLAND, QgaDesktopClipboard)

/* Connect to display (a WAYLAND_DISPLAY value: a socket name in
 * XDG_RUNTIME_DIR, or an absolute path) and bind the first seat's data
 * control. max_size and timeout_ms: 0 for the defaults. Errors:
 * QGA_ERROR_NOT_SUPPORTED (cannot connect, no seat, or the compositor
 * offers neither data-control protocol). */
QgaDesktopClipboard *qga_desktop_clipboard_wayland_new (const char *display, guint64 max_size,
                                                        guint timeout_ms, GError **error);

/* "ext-data-control-v1" or "wlr-data-control-unstable-v1". */
const char *qga_desktop_clipboard_wayland_get_protocol (QgaDesktopClipboardWayland *self);

G_END_DECLS
