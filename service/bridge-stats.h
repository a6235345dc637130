/* bridge-stats.h: the host's stats for guest programs (docs/HOST-STATS.md).
 *
 * Keeps one subscription per D-Bus caller, each watched so that it ends
 * when the caller leaves the bus, and keeps the host streaming HOST_STATS
 * at the smallest interval any of them wants, or not at all. The host's
 * JSON becomes typed a{sv} here, field by field: a field of the wrong
 * type, out of range or unknown is dropped, never guessed.
 *
 * Signal: updated (GVariant *stats)   an a{sv} from a HOST_STATS event
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "bridge-channel.h"
#include "bridge-dispatcher.h"

G_BEGIN_DECLS

#define BRIDGE_STATS_MIN_INTERVAL_MS 100
#define BRIDGE_STATS_MAX_INTERVAL_MS 3600000

#define BRIDGE_TYPE_STATS (bridge_stats_get_type ())
G_DECLARE_FINAL_TYPE (BridgeStats, bridge_stats, BRIDGE, STATS, GObject)

BridgeStats *bridge_stats_new (GDBusConnection *connection, BridgeChannel *channel,
                               BridgeDispatcher *dispatcher, guint max_subscribers);

/* Errors: G_DBUS_ERROR_INVALID_ARGS for 0, QGA_ERROR_LIMIT_EXCEEDED. */
gboolean bridge_stats_subscribe (BridgeStats *stats, const char *sender, guint32 interval_ms,
                                 GError **error);
/* FALSE if sender had no subscription. */
gboolean bridge_stats_unsubscribe (BridgeStats *stats, const char *sender);
guint bridge_stats_get_subscriber_count (BridgeStats *stats);

/* HOST_STATS from the host. */
void bridge_stats_handle_event (BridgeStats *stats, JsonObject *data);

/* The known fields of a stats or hypervisor object as a floating a{sv}. */
GVariant *bridge_stats_to_variant (JsonObject *object);

G_END_DECLS
