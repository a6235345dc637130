/* wayland-test-display.h: a small Wayland display for the desktop tests.
 *
 * A libwayland-server display run in a thread of its own, with one seat.
 * With data_control it also offers ext_data_control_manager_v1 (version 1,
 * and not wlr's) and keeps both selections the way a compositor does: a
 * device set_selection makes a source current, every device is sent a new
 * offer of its types, the replaced source is cancelled, a receive on a
 * current offer becomes the source's send, and a destroyed current source
 * empties its selection. Debian 12's sway (wlroots 0.15) has only wlr's
 * protocol, so this is what the ext-data-control-v1 code runs against.
 * It is built from the same interfaces/ext-data-control-v1.xml as the
 * client: it checks our use of the protocol, not our reading of it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _WtDisplay WtDisplay;

WtDisplay *wt_display_start (gboolean data_control);
/* The full path of its socket, for WAYLAND_DISPLAY. */
const char *wt_display_get_socket_path (WtDisplay *display);
/* Ends the display: its clients see the connection close. */
void wt_display_stop (WtDisplay *display);

G_END_DECLS
