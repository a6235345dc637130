/* bridge-clients.h: the D-Bus callers the bridge is working for.
 *
 * Each caller (unique bus name) with requests in flight has a record in a
 * QgaCallers table, which sees callers leave the bus (as iio-sensor-proxy
 * tracks its clients, but through one NameOwnerChanged subscription for the
 * whole table). The table is bounded (max_clients) and so is each caller's
 * work (max_pending requests in flight). A record outlives its last request
 * so that a busy client costs one NameHasOwner check, not one a call; idle
 * records are evicted when the table is full. When a caller leaves the bus,
 * "vanished" is emitted with its name so that its pending requests can be
 * dropped.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define BRIDGE_TYPE_CLIENTS (bridge_clients_get_type ())
G_DECLARE_FINAL_TYPE (BridgeClients, bridge_clients, BRIDGE, CLIENTS, GObject)

BridgeClients *bridge_clients_new (GDBusConnection *connection, guint max_clients,
                                   guint max_pending);

/* Count one more request in flight for sender; fails with
 * QGA_ERROR_LIMIT_EXCEEDED past either limit. */
gboolean bridge_clients_acquire (BridgeClients *clients, const char *sender, GError **error);
void bridge_clients_release (BridgeClients *clients, const char *sender);

guint bridge_clients_get_count (BridgeClients *clients);

G_END_DECLS
