/* host-connect.h: getting a connection to the guest's port.
 *
 * The host end of the virtio-serial port is a QEMU chardev unix socket.
 * A HostConnector either connects to it (QEMU is the server), retrying with
 * a backoff of 50 ms doubling to 1 s while the socket is missing or refuses,
 * or, with listen, creates the socket itself and accepts the guest (QEMU
 * is the client). Either way it hands out one connection at a time:
 *
 *   connected (int fd)   a new connection; the handler owns fd from now on
 *
 * and after the owner calls host_connector_release() it connects again or
 * accepts the next guest. While a connection is out, a listening connector
 * accepts and closes any other connection at once, with a warning.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define HOST_TYPE_CONNECTOR (host_connector_get_type ())
G_DECLARE_FINAL_TYPE (HostConnector, host_connector, HOST, CONNECTOR, GObject)

/* With listen, the socket is created (and a stale one replaced) here, so
 * that errors such as "exists and is not a socket" come out at once. */
HostConnector *host_connector_new (const char *path, gboolean listen, GError **error);

/* Begin connecting or accepting. */
void host_connector_start (HostConnector *connector);

/* The connection last handed out has ended. */
void host_connector_release (HostConnector *connector);

/* Why the last connection attempt failed, or NULL; for timeout messages. */
const GError *host_connector_get_last_error (HostConnector *connector);

gboolean host_connector_is_listening (HostConnector *connector);
const char *host_connector_get_path (HostConnector *connector);

G_END_DECLS
