/* bridge-dispatcher.c: response tagging, timeouts and host messages. */
#include "config.h"

#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "bridge-clipboard.h"
#include "bridge-commands.h"
#include "bridge-dispatcher.h"
#include "bridge-stats.h"
#include "qga-framer.h"
#include "qga-error.h"
#include "qga-log.h"
#include "qga-wire.h"

typedef struct {
  gint64 id;
  char *owner;
  gint64 deadline;         /* monotonic µs */
  BridgeResultFunc done;
  gpointer user_data;
  GList link;              /* in dispatcher->by_deadline */
  GBytes *line;            /* while held back in its owner's flow */
} Pending;

/* One owner's requests (a D-Bus caller's, or the bridge's own): how many
 * are on the wire, and the rest, held back in order until one of those is
 * answered. The host answers in the order it reads, so a caller allowed
 * --max-pending requests would otherwise put all of them in front of every
 * other caller's next request. */
typedef struct {
  guint on_wire;
  GQueue held;             /* Pending, oldest first */
} Flow;

struct _BridgeDispatcher {
  GObject parent;

  BridgeChannel *channel;
  gint64 timeout_us;
  gsize max_message_size;
  QgaRateLimit bad_input_limit;
  gint64 last_id;
  GHashTable *by_id;       /* gint64* → Pending on the wire */
  GQueue by_deadline;      /* every Pending, oldest first, owns them */
  GHashTable *flows;       /* owner → Flow */
  guint window;            /* requests of one owner on the wire at once */
  gsize held_bytes;        /* lines held back, counted against the queue limit */
  gboolean cancelling;     /* failing many at once: do not send held ones */
  GSource *timer;
  guint trim_source;
  gboolean trim_wanted;    /* requests since the last trim */
  gint64 last_request;     /* monotonic µs */
  BridgeClipboard *clipboard;
  BridgeStats *stats;
};

enum { SIGNAL_HOST_EVENT, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (BridgeDispatcher, bridge_dispatcher, G_TYPE_OBJECT)

static void
pending_free (Pending *pending)
{
  g_free (pending->owner);
  g_clear_pointer (&pending->line, g_bytes_unref);
  g_free (pending);
}

static void
flow_free (Flow *flow)
{
  g_warn_if_fail (flow->on_wire == 0 && g_queue_is_empty (&flow->held));
  g_free (flow);
}

static Flow *
ensure_flow (BridgeDispatcher *dispatcher, const char *owner)
{
  Flow *flow = g_hash_table_lookup (dispatcher->flows, owner);

  if (flow == NULL)
    {
      flow = g_new0 (Flow, 1);
      g_queue_init (&flow->held);
      g_hash_table_insert (dispatcher->flows, g_strdup (owner), flow);
    }
  return flow;
}

static void
drop_flow_if_idle (BridgeDispatcher *dispatcher, const char *owner)
{
  Flow *flow = g_hash_table_lookup (dispatcher->flows, owner);

  if (flow != NULL && flow->on_wire == 0 && g_queue_is_empty (&flow->held))
    g_hash_table_remove (dispatcher->flows, owner);
}

static void
put_on_wire (BridgeDispatcher *dispatcher, Flow *flow, Pending *pending)
{
  g_hash_table_insert (dispatcher->by_id, &pending->id, pending);
  flow->on_wire++;
}

static void
hold (BridgeDispatcher *dispatcher, Flow *flow, Pending *pending, GBytes *line)
{
  pending->line = g_bytes_ref (line);
  dispatcher->held_bytes += g_bytes_get_size (line);
  g_queue_push_tail (&flow->held, pending);
}

static void
unhold (BridgeDispatcher *dispatcher, Flow *flow, Pending *pending)
{
  dispatcher->held_bytes -= g_bytes_get_size (pending->line);
  g_clear_pointer (&pending->line, g_bytes_unref);
  g_queue_remove (&flow->held, pending);
}

/* The timer is due at the oldest request's deadline, or earlier: when
 * that request is answered the timer is left alone, and fires early once
 * to be set again from the new head. Setting the ready time wakes the main
 * context up, which on every request and every reply would cost two
 * wakeups per call. Deadlines grow in send order, so an early timer is
 * never late for any request behind the one it was set for. */
static void
rearm_timer (BridgeDispatcher *dispatcher)
{
  Pending *head = g_queue_peek_head (&dispatcher->by_deadline);

  g_source_set_ready_time (dispatcher->timer, head ? head->deadline : -1);
}

/* After a burst of requests, hand the memory it used back to the system.
 * glibc keeps freed blocks for reuse, so without this the bridge would
 * stay at the high-water mark of its busiest moment for the rest of its
 * life. The timer runs only from the moment nothing is pending, and the
 * trim waits for TRIM_DELAY_MS without a new request. */
#define TRIM_DELAY_MS 500

static gboolean trim_cb (gpointer user_data);

static void
arm_trim (BridgeDispatcher *dispatcher, guint delay_ms)
{
  if (dispatcher->trim_source == 0)
    dispatcher->trim_source = g_timeout_add (delay_ms, trim_cb, dispatcher);
}

static gboolean
trim_cb (gpointer user_data)
{
  BridgeDispatcher *dispatcher = user_data;
  gint64 quiet_ms = (g_get_monotonic_time () - dispatcher->last_request) / 1000;

  dispatcher->trim_source = 0;
  if (!g_queue_is_empty (&dispatcher->by_deadline))
    return G_SOURCE_REMOVE;   /* finish() arms it again once idle */
  if (quiet_ms < TRIM_DELAY_MS)
    {
      arm_trim (dispatcher, TRIM_DELAY_MS - quiet_ms);
      return G_SOURCE_REMOVE;
    }
  dispatcher->trim_wanted = FALSE;
  bridge_channel_release_memory (dispatcher->channel);
#ifdef __GLIBC__
  malloc_trim (0);
#endif
  return G_SOURCE_REMOVE;
}

static void send_held (BridgeDispatcher *dispatcher, const char *owner);

/* Unlink a request and hand it its result. The callback may start new
 * requests, so it runs after the tables are consistent again. */
static void
finish (BridgeDispatcher *dispatcher, Pending *pending, const BridgeResult *result)
{
  BridgeResultFunc done = pending->done;
  gpointer user_data = pending->user_data;
  g_autofree char *owner = g_steal_pointer (&pending->owner);
  Flow *flow = g_hash_table_lookup (dispatcher->flows, owner);

  g_queue_unlink (&dispatcher->by_deadline, &pending->link);
  if (pending->line != NULL)
    unhold (dispatcher, flow, pending);
  else if (g_hash_table_steal (dispatcher->by_id, &pending->id))
    flow->on_wire--;
  pending_free (pending);
  if (!dispatcher->cancelling)
    send_held (dispatcher, owner);
  drop_flow_if_idle (dispatcher, owner);
  if (dispatcher->trim_wanted && g_queue_is_empty (&dispatcher->by_deadline))
    arm_trim (dispatcher, TRIM_DELAY_MS);
  done (result, user_data);
}

static void
fail (BridgeDispatcher *dispatcher, Pending *pending, GError *error)
{
  BridgeResult result = { .error = error };

  finish (dispatcher, pending, &result);
  g_error_free (error);
}

/* Room on the wire for owner: send its held requests, oldest first. One
 * that cannot be sent (the host left, the queue filled up with events)
 * fails; its callback may change the flows, hence the lookups. One whose
 * time is up is left to the timer, which is failing requests in deadline
 * order right now if this runs from it. */
static void
send_held (BridgeDispatcher *dispatcher, const char *owner)
{
  gint64 now = g_get_monotonic_time ();
  Flow *flow;
  Pending *pending;

  while ((flow = g_hash_table_lookup (dispatcher->flows, owner)) != NULL &&
         flow->on_wire < dispatcher->window &&
         (pending = g_queue_peek_head (&flow->held)) != NULL &&
         pending->deadline > now)
    {
      g_autoptr(GBytes) line = g_bytes_ref (pending->line);
      GError *error = NULL;

      unhold (dispatcher, flow, pending);
      if (bridge_channel_send (dispatcher->channel, line, QGA_STREAM_SEND_NONE, &error))
        put_on_wire (dispatcher, flow, pending);
      else
        fail (dispatcher, pending, error);
    }
}

static gboolean
timer_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return callback (user_data);
}

static GSourceFuncs timer_funcs = { .dispatch = timer_dispatch };

static gboolean
on_timer (gpointer user_data)
{
  BridgeDispatcher *dispatcher = user_data;
  gint64 now = g_get_monotonic_time ();
  Pending *head;

  while ((head = g_queue_peek_head (&dispatcher->by_deadline)) != NULL && head->deadline <= now)
    {
      g_debug ("request %" G_GINT64_FORMAT " from %s timed out", head->id, head->owner);
      fail (dispatcher, head, g_error_new (QGA_ERROR, QGA_ERROR_TIMEOUT,
                                           "the host did not answer within %.3g s",
                                           dispatcher->timeout_us / (double) G_USEC_PER_SEC));
    }
  rearm_timer (dispatcher);
  return G_SOURCE_CONTINUE;
}

static void
fail_where (BridgeDispatcher *dispatcher, const char *owner, const GError *error)
{
  GList *l = dispatcher->by_deadline.head;
  gboolean was_cancelling = dispatcher->cancelling;

  dispatcher->cancelling = TRUE;
  while (l != NULL)
    {
      Pending *pending = l->data;

      l = l->next;
      if (owner == NULL || g_str_equal (owner, pending->owner))
        fail (dispatcher, pending, g_error_copy (error));
    }
  dispatcher->cancelling = was_cancelling;
}

void
bridge_dispatcher_cancel_owner (BridgeDispatcher *dispatcher, const char *owner)
{
  g_autoptr(GError) error = g_error_new (QGA_ERROR, QGA_ERROR_CANCELLED,
                                         "the caller %s left the bus", owner);

  fail_where (dispatcher, owner, error);
}

void
bridge_dispatcher_cancel_all (BridgeDispatcher *dispatcher, const GError *error)
{
  /* A callback may queue more work; loop until nothing is left. */
  while (!g_queue_is_empty (&dispatcher->by_deadline))
    fail_where (dispatcher, NULL, error);
}

void
bridge_dispatcher_set_clipboard (BridgeDispatcher *dispatcher, BridgeClipboard *clipboard)
{
  dispatcher->clipboard = clipboard;
}

void
bridge_dispatcher_set_stats (BridgeDispatcher *dispatcher, BridgeStats *stats)
{
  dispatcher->stats = stats;
}

guint
bridge_dispatcher_get_pending_count (BridgeDispatcher *dispatcher)
{
  return g_queue_get_length (&dispatcher->by_deadline);
}

void
bridge_dispatcher_set_window (BridgeDispatcher *dispatcher, guint window)
{
  dispatcher->window = MAX (window, 1);
}

/* The peer drops an oversized message without a word; refuse it here. */
static gboolean
check_size (BridgeDispatcher *dispatcher, GBytes *line, GError **error)
{
  gsize size = g_bytes_get_size (line) - 1;   /* the '\n' is not part of it */

  if (size <= dispatcher->max_message_size)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
               "the message would be %" G_GSIZE_FORMAT " bytes, over the limit of %" G_GSIZE_FORMAT,
               size, dispatcher->max_message_size);
  return FALSE;
}

gboolean
bridge_dispatcher_request (BridgeDispatcher *dispatcher, const char *command,
                           JsonNode *arguments, const char *owner,
                           BridgeResultFunc done, gpointer user_data, GError **error)
{
  g_autoptr(JsonNode) id_node = json_node_init_int (json_node_alloc (), dispatcher->last_id + 1);
  g_autoptr(GBytes) line = qga_wire_build_command (command, arguments, id_node);
  Flow *flow = g_hash_table_lookup (dispatcher->flows, owner);
  gboolean held = flow != NULL && flow->on_wire >= dispatcher->window;
  Pending *pending;

  if (!check_size (dispatcher, line, error) ||
      !bridge_channel_check_room (dispatcher->channel, g_bytes_get_size (line),
                                  dispatcher->held_bytes, error) ||
      (!held && !bridge_channel_send (dispatcher->channel, line, QGA_STREAM_SEND_NONE, error)))
    return FALSE;

  flow = ensure_flow (dispatcher, owner);
  pending = g_new0 (Pending, 1);
  pending->id = ++dispatcher->last_id;
  pending->owner = g_strdup (owner);
  dispatcher->last_request = g_get_monotonic_time ();
  dispatcher->trim_wanted = TRUE;
  pending->deadline = dispatcher->last_request + dispatcher->timeout_us;
  pending->done = done;
  pending->user_data = user_data;
  pending->link.data = pending;
  g_queue_push_tail_link (&dispatcher->by_deadline, &pending->link);
  if (held)
    hold (dispatcher, flow, pending, line);
  else
    put_on_wire (dispatcher, flow, pending);
  if (g_source_get_ready_time (dispatcher->timer) < 0)
    rearm_timer (dispatcher);
  if (QGA_DEBUG_ENABLED ())
    g_debug ("request %" G_GINT64_FORMAT " %s from %s%s", pending->id, command, owner,
             held ? ", held back" : "");
  return TRUE;
}

gboolean
bridge_dispatcher_send_event (BridgeDispatcher *dispatcher, const char *name,
                              JsonNode *data, GError **error)
{
  g_autoptr(GBytes) line = qga_wire_build_event (name, data);

  return check_size (dispatcher, line, error) &&
         bridge_channel_send (dispatcher->channel, line, QGA_STREAM_SEND_NONE, error);
}

static void
reply_to_host (BridgeDispatcher *dispatcher, GBytes *line)
{
  g_autoptr(GError) error = NULL;

  if (!bridge_channel_send (dispatcher->channel, line, QGA_STREAM_SEND_FORCE, &error))
    g_warning ("could not answer the host: %s", error->message);
}

/* A host error reply, {"error": {"class": C, "desc": D}}, as a result. */
static void
finish_with_host_error (BridgeDispatcher *dispatcher, Pending *pending, JsonNode *error_node)
{
  JsonObject *object = JSON_NODE_HOLDS_OBJECT (error_node) ? json_node_get_object (error_node) : NULL;
  const char *error_class = object ? qga_wire_get_string_member (object, "class") : NULL;
  const char *desc = object ? qga_wire_get_string_member (object, "desc") : NULL;
  g_autoptr(GError) error = NULL;
  BridgeResult result = { NULL };

  if (error_class == NULL || desc == NULL)
    {
      fail (dispatcher, pending, g_error_new_literal (QGA_ERROR, QGA_ERROR_INVALID_REPLY,
                                                      "the host sent a malformed error reply"));
      return;
    }
  if (!qga_error_class_is_valid (error_class))
    error_class = qga_error_class_name (QGA_ERROR_GENERIC_ERROR);
  error = g_error_new_literal (QGA_ERROR, qga_error_code_from_class (error_class), desc);
  result.error = error;
  result.host_error_class = error_class;
  finish (dispatcher, pending, &result);
}

static void
handle_reply (BridgeDispatcher *dispatcher, JsonObject *reply, QgaWireKind kind)
{
  Pending *pending;
  gint64 id;

  if (!qga_wire_get_int_id (reply, &id))
    {
      g_debug ("dropping a reply without an integer id");
      return;
    }
  pending = g_hash_table_lookup (dispatcher->by_id, &id);
  if (pending == NULL)
    {
      g_debug ("dropping a reply to unknown or expired request %" G_GINT64_FORMAT, id);
      return;
    }
  if (kind == QGA_WIRE_RETURN)
    {
      BridgeResult result = { .value = json_object_get_member (reply, "return") };

      finish (dispatcher, pending, &result);
    }
  else
    finish_with_host_error (dispatcher, pending, json_object_get_member (reply, "error"));
}

static void
handle_event (BridgeDispatcher *dispatcher, JsonObject *event)
{
  const char *name = qga_wire_get_string_member (event, "event");
  JsonNode *data = json_object_get_member (event, "data");
  g_autofree char *data_json = NULL;

  if (name == NULL)
    {
      if (qga_rate_limit_allow (&dispatcher->bad_input_limit))
        g_warning ("dropping a host event whose name is not a string");
      return;
    }
  if (g_str_equal (name, "HOST_STATS"))
    {
      if (dispatcher->stats != NULL)
        bridge_stats_handle_event (dispatcher->stats,
                                   data && JSON_NODE_HOLDS_OBJECT (data) ? json_node_get_object (data) : NULL);
      return;
    }
  if (qga_clipboard_is_event (name))
    {
      if (dispatcher->clipboard != NULL)
        bridge_clipboard_handle_event (dispatcher->clipboard, name,
                                       data && JSON_NODE_HOLDS_OBJECT (data) ? json_node_get_object (data) : NULL);
      return;
    }
  data_json = data ? qga_wire_to_string (data) : g_strdup ("{}");
  if (QGA_DEBUG_ENABLED ())
    g_debug ("host event %s", name);
  g_signal_emit (dispatcher, signals[SIGNAL_HOST_EVENT], 0, name, data_json);
}

static void
on_message (BridgeChannel *channel, JsonNode *root, gpointer user_data)
{
  BridgeDispatcher *dispatcher = user_data;
  QgaWireKind kind = qga_wire_classify (root);

  switch (kind)
    {
    case QGA_WIRE_RETURN:
    case QGA_WIRE_ERROR:
      handle_reply (dispatcher, json_node_get_object (root), kind);
      break;
    case QGA_WIRE_EVENT:
      handle_event (dispatcher, json_node_get_object (root));
      break;
    case QGA_WIRE_COMMAND:
    case QGA_WIRE_INVALID:
      {
        g_autoptr(GBytes) line = bridge_commands_handle (root, dispatcher->clipboard);

        reply_to_host (dispatcher, line);
      }
      break;
    }
}

static void
on_bad_input (BridgeChannel *channel, GError *error, gpointer user_data)
{
  g_autoptr(GBytes) line = bridge_commands_parse_error (error);

  BridgeDispatcher *dispatcher = user_data;

  /* Answered with an error reply, as qemu-ga does; a flush byte (0xFF)
   * before guest-sync-delimited is routine and not worth a warning. */
  if (g_error_matches (error, QGA_FRAMER_ERROR, QGA_FRAMER_ERROR_RESET))
    g_debug ("host input: %s", error->message);
  else if (qga_rate_limit_allow (&dispatcher->bad_input_limit))
    g_warning ("bad input from the host: %s", error->message);
  reply_to_host (dispatcher, line);
}

static void
on_disconnected (BridgeChannel *channel, gpointer user_data)
{
  g_autoptr(GError) error = g_error_new_literal (QGA_ERROR, QGA_ERROR_HOST_DISCONNECTED,
                                                 "the host detached from the port");

  bridge_dispatcher_cancel_all (user_data, error);
}

BridgeDispatcher *
bridge_dispatcher_new (BridgeChannel *channel, double request_timeout, gsize max_message_size)
{
  BridgeDispatcher *dispatcher = g_object_new (BRIDGE_TYPE_DISPATCHER, NULL);

  dispatcher->max_message_size = max_message_size;
  dispatcher->channel = g_object_ref (channel);
  dispatcher->timeout_us = (gint64) (request_timeout * G_USEC_PER_SEC);
  g_signal_connect_object (channel, "message", G_CALLBACK (on_message), dispatcher, 0);
  g_signal_connect_object (channel, "bad-input", G_CALLBACK (on_bad_input), dispatcher, 0);
  g_signal_connect_object (channel, "disconnected", G_CALLBACK (on_disconnected), dispatcher, 0);
  return dispatcher;
}

static void
bridge_dispatcher_dispose (GObject *object)
{
  BridgeDispatcher *dispatcher = BRIDGE_DISPATCHER (object);
  g_autoptr(GError) error = g_error_new_literal (QGA_ERROR, QGA_ERROR_CANCELLED,
                                                 "the bridge is shutting down");

  bridge_dispatcher_cancel_all (dispatcher, error);
  qga_rate_limit_clear (&dispatcher->bad_input_limit);
  g_clear_handle_id (&dispatcher->trim_source, g_source_remove);
  if (dispatcher->timer != NULL)
    {
      g_source_destroy (dispatcher->timer);
      g_clear_pointer (&dispatcher->timer, g_source_unref);
    }
  g_clear_object (&dispatcher->channel);
  G_OBJECT_CLASS (bridge_dispatcher_parent_class)->dispose (object);
}

static void
bridge_dispatcher_finalize (GObject *object)
{
  BridgeDispatcher *dispatcher = BRIDGE_DISPATCHER (object);

  g_hash_table_destroy (dispatcher->by_id);
  g_hash_table_destroy (dispatcher->flows);
  G_OBJECT_CLASS (bridge_dispatcher_parent_class)->finalize (object);
}

static void
bridge_dispatcher_init (BridgeDispatcher *dispatcher)
{
  dispatcher->by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  dispatcher->flows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             (GDestroyNotify) flow_free);
  dispatcher->window = BRIDGE_DEFAULT_HOST_WINDOW;
  g_queue_init (&dispatcher->by_deadline);
  dispatcher->bad_input_limit = (QgaRateLimit) QGA_RATE_LIMIT_INIT ("bad input from the host");
  dispatcher->timer = g_source_new (&timer_funcs, sizeof (GSource));
  g_source_set_callback (dispatcher->timer, on_timer, dispatcher, NULL);
  g_source_set_name (dispatcher->timer, "bridge request timeout");
  g_source_attach (dispatcher->timer, NULL);
}

static void
bridge_dispatcher_class_init (BridgeDispatcherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = bridge_dispatcher_dispose;
  object_class->finalize = bridge_dispatcher_finalize;

  signals[SIGNAL_HOST_EVENT] =
    g_signal_new ("host-event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}
