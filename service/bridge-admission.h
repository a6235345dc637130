/* bridge-admission.h: each caller's requests counted before GDBus queues them.
 *
 * GDBus reads every incoming message ahead in its worker thread and queues
 * it for the main loop without limit. A caller past --max-pending would be
 * refused there, but only after its message had waited in that queue in
 * front of everyone else's, and the refusal cost the main loop as much as
 * the request. BridgeAdmission is a message filter in the worker thread:
 * it counts each caller's Ping, GetHostInfo, GetHostStats and Call from the
 * moment they arrive until their invocation is answered, and answers those
 * past the limit there, with LimitExceeded, so that they never reach the
 * queue. The main loop then holds at most --max-pending of each caller's.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _BridgeAdmission BridgeAdmission;

BridgeAdmission *bridge_admission_new (GDBusConnection *connection, guint max_pending);
void bridge_admission_free (BridgeAdmission *admission);

/* In the main loop, for a method the filter counts: its count is given
 * back when the invocation is answered (whatever answers it). */
void bridge_admission_hand_over (BridgeAdmission *admission, GDBusMethodInvocation *invocation);

/* Whether the filter counts method_name (with its arguments' signature). */
gboolean bridge_admission_counts (const char *method_name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BridgeAdmission, bridge_admission_free)

G_END_DECLS
