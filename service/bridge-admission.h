/* bridge-admission.h: each caller's requests counted before GDBus queues them.
 *
 * GDBus reads every incoming message ahead in its worker thread and queues
 * it for the main loop without limit. A caller past --max-pending would be
 * refused there, but only after its message had waited in that queue in
 * front of everyone else's, and the refusal cost the main loop as much as
 * the request. BridgeAdmission is a message filter in the worker thread:
 * it counts each caller's Ping, GetHostInfo, GetHostStats, Call and
 * SendEvent from the moment they arrive until their invocation is answered, and refuses those
 * past the limit there, with LimitExceeded, so that they never reach the
 * queue. The main loop then holds at most --max-pending of each caller's.
 *
 * It also bounds the rate of each caller's calls (--max-call-rate, a token
 * bucket) made while it has others in flight or refusals waiting: a caller
 * that waits for each answer before the next call is bounded by the round
 * trip already, and takes no token. Every refusal is answered late
 * (BRIDGE_REFUSAL_DELAY_MS): a caller that sends its next call as soon as
 * one is refused would otherwise turn refusals into a loop as fast as the
 * CPUs, which slows every other caller as much as answering it would, and
 * its calls in flight, refusals waiting included, are what bounds it. The
 * refusals waiting are bounded per caller and in all; past that a refusal
 * goes at once.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define BRIDGE_DEFAULT_MAX_CALL_RATE 2000   /* calls a second per caller */
#define BRIDGE_REFUSAL_DELAY_MS 1000
#define BRIDGE_MAX_DELAYED_PER_CALLER 256u
#define BRIDGE_MAX_DELAYED 4096u

typedef struct _BridgeAdmission BridgeAdmission;

/* max_rate: calls a second per caller, 0 for no limit; a caller may start
 * max(max_pending, max_rate / 10) calls at once after a pause. */
BridgeAdmission *bridge_admission_new (GDBusConnection *connection, guint max_pending,
                                       guint max_rate);
void bridge_admission_free (BridgeAdmission *admission);

/* In the main loop, for a method the filter counts. Its count is given
 * back when its reply goes out (the filter sees it, before the caller can
 * have it), or, for a call that is never answered, when the invocation is
 * finalized. */
void bridge_admission_hand_over (BridgeAdmission *admission, GDBusMethodInvocation *invocation);

/* Whether the filter counts method_name (with its arguments' signature). */
gboolean bridge_admission_counts (const char *method_name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BridgeAdmission, bridge_admission_free)

G_END_DECLS
