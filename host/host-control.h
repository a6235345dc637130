/* host-control.h: the control lines qga-host reads from stdin in serve mode.
 *
 * A HostControl reads lines from an fd (stdin) and turns each into
 * something sent to the guest:
 *
 *   event NAME [DATA_JSON]     an event
 *   call COMMAND [ARGS_JSON]   a guest-* command
 *   raw TEXT                   TEXT as it is, and a '\n'
 *   sync                       0xFF and guest-sync-delimited
 *
 * call and sync share one id counter: 1, 2, ... Blank lines are skipped.
 * A line longer than HOST_CONTROL_LINE_MAX is rejected with a warning, and
 * so is any line that cannot be parsed or arrives while no guest is
 * connected. The guest's answers come back through the HostPeer, not
 * through here. At end of file a last line without '\n' still counts,
 * then reading stops.
 */
#pragma once

#include <glib.h>

#include "host-peer.h"

G_BEGIN_DECLS

#define HOST_CONTROL_LINE_MAX (16 * 1024 * 1024)

typedef struct _HostControl HostControl;

/* The connection to send to, or NULL while no guest is connected. */
typedef HostPeer *(*HostControlPeerFunc) (gpointer user_data);

/* Starts reading fd at once, unless it is not open. Does not take ownership
 * of fd. max_message_size bounds the JSON of event and call lines. */
HostControl *host_control_new (int fd, gsize max_message_size,
                               HostControlPeerFunc get_peer, gpointer user_data);
void host_control_free (HostControl *control);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HostControl, host_control_free)

G_END_DECLS
