/* bridge-channel.h: the bridge's end of the port.
 *
 * SPEC is a character device (the virtio-serial port) or unix:PATH (a
 * listening socket, which is what QEMU's -chardev socket,server=on looks
 * like from the guest's side). Either way the channel is "connected" only
 * while a host process is attached, and it finds that out by itself:
 *
 *  - device: while no host is attached, the port polls POLLIN|POLLHUP and
 *    read() returns 0. The channel then stops watching the fd (watching it
 *    would spin) and probes it when the kernel sends SIGIO for the host's
 *    arrival, and on a timer backing off to 1 s in case no SIGIO comes.
 *  - unix:PATH: a refused or closed connection is retried with a backoff
 *    from 50 ms up to 1 s.
 *
 * Signals: connected, disconnected, message (JsonNode *), bad-input (GError *).
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "qga-stream.h"

G_BEGIN_DECLS

#define BRIDGE_TYPE_CHANNEL (bridge_channel_get_type ())
G_DECLARE_FINAL_TYPE (BridgeChannel, bridge_channel, BRIDGE, CHANNEL, GObject)

/* Call before any thread starts: SIGIO must be blocked process-wide so that
 * the channel can read it from a signalfd. */
void bridge_channel_block_sigio (void);

BridgeChannel *bridge_channel_new (const char *spec, gsize max_message_size,
                                   gsize max_queue_size, GError **error);
void bridge_channel_start (BridgeChannel *channel);
gboolean bridge_channel_is_connected (BridgeChannel *channel);
/* See qga_stream_release_memory(). */
void bridge_channel_release_memory (BridgeChannel *channel);
const char *bridge_channel_get_spec (BridgeChannel *channel);

/* Queue a message for the host; see qga_stream_send(). */
gboolean bridge_channel_send (BridgeChannel *channel, GBytes *bytes,
                              QgaStreamSendFlags flags, GError **error);
/* See qga_stream_hold_reads(); kept for the hosts attaching later. */
void bridge_channel_hold_reads (BridgeChannel *channel, gboolean hold);

/* See qga_stream_check_room(); fails as bridge_channel_send() would. */
gboolean bridge_channel_check_room (BridgeChannel *channel, gsize size, gsize reserved,
                                    GError **error);

G_END_DECLS
