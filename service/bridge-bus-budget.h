/* bridge-bus-budget.h: back-pressure from the bus to the port.
 *
 * What the host sends becomes D-Bus messages (HostEvent and HostStats
 * signals, replies to Call, clipboard signals). GDBus queues outgoing
 * messages without limit while dbus-daemon is not reading, so a host that
 * keeps sending would grow the bridge without bound. The budget counts the
 * bytes handed to GDBus that a flush has not yet confirmed written, and
 * asks for the port's input to be held while they are over the limit:
 * the host's further bytes then wait in the port (its writes block), and
 * nothing is dropped. Reading resumes once they are back under half.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define BRIDGE_TYPE_BUS_BUDGET (bridge_bus_budget_get_type ())
G_DECLARE_FINAL_TYPE (BridgeBusBudget, bridge_bus_budget, BRIDGE, BUS_BUDGET, GObject)

/* Rough size of a message's header and framing, added to each charge. */
#define BRIDGE_BUS_MESSAGE_OVERHEAD 256

/* "hold-changed" (gboolean hold) is emitted when the limit is passed and
 * when the bytes are back under half of it. */
BridgeBusBudget *bridge_bus_budget_new (GDBusConnection *connection, gsize limit);

/* A message of about body_bytes (the overhead is added here) was handed to
 * GDBus. NULL is accepted and does nothing (objects used without one). */
void bridge_bus_budget_charge (BridgeBusBudget *budget, gsize body_bytes);

gboolean bridge_bus_budget_is_holding (BridgeBusBudget *budget);
gsize bridge_bus_budget_get_unconfirmed (BridgeBusBudget *budget);

G_END_DECLS
