/* qga-bus-budget.h: a bound on what we hand GDBus to send.
 *
 * GDBus queues outgoing messages without limit while the bus daemon is not
 * reading. What a peer sends us becomes messages on the bus (the bridge:
 * HostEvent and HostStats signals, replies to Call, clipboard signals;
 * qga-session: the same signals relayed to its session bus), so a peer that
 * keeps sending would grow us without bound. The budget counts the bytes
 * handed to GDBus that a flush has not yet confirmed written, and says
 * ("hold-changed") when they pass the limit and when they are back under
 * half of it. The bridge then holds the port's input (the host's further
 * bytes wait in the port); qga-session, which cannot hold the system bus,
 * drops what it would relay and says so in its log.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define QGA_TYPE_BUS_BUDGET (qga_bus_budget_get_type ())
G_DECLARE_FINAL_TYPE (QgaBusBudget, qga_bus_budget, QGA, BUS_BUDGET, GObject)

/* Rough size of a message's header and framing, added to each charge. */
#define QGA_BUS_MESSAGE_OVERHEAD 256

/* "hold-changed" (gboolean hold) is emitted when the limit is passed and
 * when the bytes are back under half of it. */
QgaBusBudget *qga_bus_budget_new (GDBusConnection *connection, gsize limit);

/* A message of about body_bytes (the overhead is added here) was handed to
 * GDBus. NULL is accepted and does nothing (objects used without one). */
void qga_bus_budget_charge (QgaBusBudget *budget, gsize body_bytes);

gboolean qga_bus_budget_is_holding (QgaBusBudget *budget);
gsize qga_bus_budget_get_unconfirmed (QgaBusBudget *budget);

G_END_DECLS
