/* bridge-agent.h: the org.qemu.GuestAgent D-Bus object.
 *
 * A subclass of the gdbus-codegen skeleton (as UPower's objects are):
 * method handlers validate the caller's input, count the request against
 * the caller's limits (bridge-clients) and hand it to the dispatcher; the
 * reply goes back to the invocation that asked. Host events become the
 * HostEvent signal, and the channel's state the HostConnected property.
 */
#pragma once

#include "bridge-admission.h"
#include "qga-bus-budget.h"
#include "bridge-channel.h"
#include "bridge-clients.h"
#include "bridge-config.h"
#include "bridge-dispatcher.h"
#include "bridge-stats.h"
#include "qga-dbus-generated.h"

G_BEGIN_DECLS

#define BRIDGE_TYPE_AGENT (bridge_agent_get_type ())
G_DECLARE_FINAL_TYPE (BridgeAgent, bridge_agent, BRIDGE, AGENT, QgaGuestAgentSkeleton)

/* budget (may be NULL) is charged for what the host's input becomes on the
 * bus: replies, HostEvent and HostStats. */
BridgeAgent *bridge_agent_new (const BridgeConfig *config, BridgeChannel *channel,
                               BridgeDispatcher *dispatcher, BridgeClients *clients,
                               BridgeStats *stats, QgaBusBudget *budget);

/* The filter that counted the calls this object is handed (see
 * bridge-admission.h); it must outlive the agent. */
void bridge_agent_set_admission (BridgeAgent *agent, BridgeAdmission *admission);

G_END_DECLS
