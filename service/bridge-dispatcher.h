/* bridge-dispatcher.h: routing between the host and the bridge's callers.
 *
 * From the host: commands go to bridge-commands and are answered; replies
 * are matched by id to the request that caused them (response tagging);
 * events are re-emitted as "host-event". Towards the host: each request
 * gets an id unique for the life of the process and waits, bounded by the
 * request timeout, for its reply. Pending requests fail at once when the
 * host detaches, and are dropped when their caller leaves the bus.
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "bridge-channel.h"

G_BEGIN_DECLS

#define BRIDGE_TYPE_DISPATCHER (bridge_dispatcher_get_type ())
G_DECLARE_FINAL_TYPE (BridgeDispatcher, bridge_dispatcher, BRIDGE, DISPATCHER, GObject)

/* How a request ended. Exactly one of value and error is set. When the host
 * answered with an error, host_error_class is its class (already checked to
 * be a valid D-Bus name element) and error->message its desc. */
typedef struct {
  JsonNode *value;
  GError *error;
  const char *host_error_class;
} BridgeResult;

typedef void (*BridgeResultFunc) (const BridgeResult *result, gpointer user_data);

BridgeDispatcher *bridge_dispatcher_new (BridgeChannel *channel, double request_timeout,
                                         gsize max_message_size);

/* Send a command to the host. Fails at once (returning FALSE) when no host
 * is attached, the queue is full, or the message would exceed the size
 * limit (G_IO_ERROR_MESSAGE_TOO_LARGE: the host would drop it unanswered);
 * otherwise done is called exactly once, later, from the main loop. owner
 * is the caller's bus name. */
gboolean bridge_dispatcher_request (BridgeDispatcher *dispatcher, const char *command,
                                    JsonNode *arguments, const char *owner,
                                    BridgeResultFunc done, gpointer user_data,
                                    GError **error);

/* Send an event to the host. */
gboolean bridge_dispatcher_send_event (BridgeDispatcher *dispatcher, const char *name,
                                       JsonNode *data, GError **error);

/* Fail every request of owner with QGA_ERROR_CANCELLED. */
void bridge_dispatcher_cancel_owner (BridgeDispatcher *dispatcher, const char *owner);

/* Fail every pending request with error; used at shutdown. */
void bridge_dispatcher_cancel_all (BridgeDispatcher *dispatcher, const GError *error);

/* Requests waiting for the host, sent or held back. */
guint bridge_dispatcher_get_pending_count (BridgeDispatcher *dispatcher);

/* How many requests of one owner are on the wire at once; the rest wait in
 * the bridge, in order, so that the host reads every caller's requests in
 * turn (see flows in bridge-dispatcher.c). Held requests count against the
 * channel's queue limit as if sent. */
#define BRIDGE_DEFAULT_HOST_WINDOW 8
void bridge_dispatcher_set_window (BridgeDispatcher *dispatcher, guint window);

/* Where the host's clipboard messages go (never to "host-event"). Not a
 * reference: the clipboard holds the dispatcher, and clears this. */
typedef struct _BridgeClipboard BridgeClipboard;
void bridge_dispatcher_set_clipboard (BridgeDispatcher *dispatcher, BridgeClipboard *clipboard);

/* Where HOST_STATS events go, likewise. */
typedef struct _BridgeStats BridgeStats;
void bridge_dispatcher_set_stats (BridgeDispatcher *dispatcher, BridgeStats *stats);

G_END_DECLS
