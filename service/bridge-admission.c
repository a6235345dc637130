/* bridge-admission.c: each caller's requests counted in GDBus's worker thread. */
#include "config.h"

#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "bridge-admission.h"
#include "bridge-config.h"
#include "qga-error.h"

/* One caller with calls counted, refusals waiting or a bucket not yet full. */
typedef struct {
  guint pending;           /* admitted and not yet answered */
  guint delayed;           /* refusals waiting to be sent */
  double tokens;           /* calls it may start now */
  gint64 refilled;         /* monotonic µs when tokens was last brought up to date */
  guint8 logged;           /* LoggedFlags: what its refusals were logged for */
} Caller;

/* A caller's refusals are logged once for each reason until it is idle
 * again (and forgotten), and all callers' within LOG_LINES_PER_SECOND. */
typedef enum {
  LOGGED_REFUSING = 1 << 0,
  LOGGED_AT_ONCE = 1 << 1,
} LoggedFlags;

#define LOG_LINES_PER_SECOND 10

typedef enum {
  VERDICT_ADMIT,
  VERDICT_TOO_MANY_PENDING,
  VERDICT_TOO_FAST,
} Verdict;

/* A refusal waiting to be sent: what it takes to build it then, not the
 * message (a GDBusMessage is about 1 KiB, and up to BRIDGE_MAX_DELAYED
 * wait). */
typedef struct {
  char *sender;
  guint32 serial;
  Verdict verdict;
  gint64 due;              /* monotonic µs */
} Delayed;

struct _BridgeAdmission {
  GDBusConnection *connection;
  guint filter_id;
  guint max_pending;
  guint max_rate;          /* calls a second, 0 for none */
  double burst;            /* the bucket's size */
  GMutex lock;             /* the fields below */
  GHashTable *callers;     /* sender → Caller; shared with invocations */
  GHashTable *admitted;    /* Admitted set: calls counted and not yet answered */
  guint sweep_at;          /* forget idle callers when the table reaches this */
  GQueue delayed;          /* Delayed, due first (all wait as long) */
  GSource *delay_source;   /* in the main context: sends refusals when due */
  guint trim_source;       /* main context: a trim once the refusals are all sent */
  gboolean closing;
  gint64 log_window;       /* monotonic µs the current second of log lines began */
  guint log_lines;         /* in it */
  guint log_skipped;       /* lines not logged since the last one that was */
  gint refcount;           /* the admission, the filter and each handed-over invocation */
};

/* An admitted call, until its reply goes out (seen by the filter, before
 * the caller can have it, so that a caller sending its next call on the
 * reply finds its count given back) or, for a call nobody answers, until
 * its invocation is finalized. */
typedef struct {
  char *sender;
  guint32 serial;
} Admitted;

/* On the invocation of an admitted call, until it is finalized. */
typedef struct {
  BridgeAdmission *admission;
  Admitted call;           /* a copy of the key */
} Ticket;

static const struct {
  const char *member;
  const char *signature;
} counted[] = {
  { "Ping", "" },
  { "GetHostInfo", "" },
  { "GetHostStats", "" },
  { "Call", "ss" },
  { "SendEvent", "ss" },
};

gboolean
bridge_admission_counts (const char *method_name)
{
  for (guint i = 0; i < G_N_ELEMENTS (counted); i++)
    if (g_str_equal (method_name, counted[i].member))
      return TRUE;
  return FALSE;
}

/* A call GDBus would dispatch to our method_call: right path, interface,
 * member and arguments (GDBus answers the others itself, and they must not
 * be counted: nothing would give their count back). */
static gboolean
is_counted (GDBusMessage *message)
{
  const char *member = g_dbus_message_get_member (message);
  const char *signature = g_dbus_message_get_signature (message);

  if (g_dbus_message_get_message_type (message) != G_DBUS_MESSAGE_TYPE_METHOD_CALL ||
      g_strcmp0 (g_dbus_message_get_path (message), BRIDGE_OBJECT_PATH) != 0 ||
      g_strcmp0 (g_dbus_message_get_interface (message), BRIDGE_BUS_NAME) != 0 ||
      member == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (counted); i++)
    if (g_str_equal (member, counted[i].member))
      return g_strcmp0 (signature != NULL ? signature : "", counted[i].signature) == 0;
  return FALSE;
}

/* --- the callers' table, under the lock ----------------------------------- */

static void
refill (BridgeAdmission *admission, Caller *caller, gint64 now)
{
  double earned = (now - caller->refilled) * (double) admission->max_rate / G_USEC_PER_SEC;

  caller->tokens = MIN (admission->burst, caller->tokens + earned);
  caller->refilled = now;
}

/* An entry with nothing counted and a full bucket says nothing an absent
 * one does not. */
static gboolean
caller_is_idle (BridgeAdmission *admission, Caller *caller, gint64 now)
{
  if (caller->pending > 0 || caller->delayed > 0)
    return FALSE;
  if (admission->max_rate == 0)
    return TRUE;
  refill (admission, caller, now);
  return caller->tokens >= admission->burst;
}

static gboolean
is_idle_cb (gpointer key, gpointer value, gpointer user_data)
{
  BridgeAdmission *admission = user_data;

  return caller_is_idle (admission, value, g_get_monotonic_time ());
}

/* Callers that left with a bucket not yet full stay in the table; forget
 * them once it has doubled since the last time, so that it stays in
 * proportion to the callers that are busy. */
static void
sweep_if_due (BridgeAdmission *admission)
{
  guint size = g_hash_table_size (admission->callers);

  if (size < admission->sweep_at)
    return;
  g_hash_table_foreach_remove (admission->callers, is_idle_cb, admission);
  admission->sweep_at = MAX (64, 2 * g_hash_table_size (admission->callers));
}

static Caller *
ensure_caller (BridgeAdmission *admission, const char *sender, gint64 now)
{
  Caller *caller = g_hash_table_lookup (admission->callers, sender);

  if (caller != NULL)
    return caller;
  sweep_if_due (admission);
  caller = g_new0 (Caller, 1);
  caller->tokens = admission->burst;
  caller->refilled = now;
  g_hash_table_insert (admission->callers, g_strdup (sender), caller);
  return caller;
}

static void
forget_if_idle (BridgeAdmission *admission, const char *sender, Caller *caller, gint64 now)
{
  if (caller_is_idle (admission, caller, now))
    g_hash_table_remove (admission->callers, sender);
}

static Verdict
judge (BridgeAdmission *admission, Caller *caller, gint64 now)
{
  if (caller->pending >= admission->max_pending)
    return VERDICT_TOO_MANY_PENDING;
  /* a caller waiting for each answer takes no token */
  if (admission->max_rate > 0 && (caller->pending > 0 || caller->delayed > 0))
    {
      refill (admission, caller, now);
      if (caller->tokens < 1)
        return VERDICT_TOO_FAST;
      caller->tokens -= 1;
    }
  caller->pending++;
  return VERDICT_ADMIT;
}

static guint
admitted_hash (gconstpointer key)
{
  const Admitted *call = key;

  return g_str_hash (call->sender) ^ call->serial;
}

static gboolean
admitted_equal (gconstpointer a, gconstpointer b)
{
  const Admitted *x = a, *y = b;

  return x->serial == y->serial && g_str_equal (x->sender, y->sender);
}

static void
admitted_free (Admitted *call)
{
  g_free (call->sender);
  g_free (call);
}

static void
record_admitted (BridgeAdmission *admission, const char *sender, guint32 serial)
{
  Admitted *call = g_new0 (Admitted, 1);

  call->sender = g_strdup (sender);
  call->serial = serial;
  g_hash_table_add (admission->admitted, call);
  /* The table owns call now (its key destroy function frees it): cppcheck
   * does not know GHashTable. */
  /* cppcheck-suppress memleak */
}

/* Under the lock: the call's count back to its caller, once. */
static void
give_back (BridgeAdmission *admission, const char *sender, guint32 serial)
{
  Admitted key = { (char *) sender, serial };
  Caller *caller;

  if (!g_hash_table_remove (admission->admitted, &key))
    return;   /* given back already */
  caller = g_hash_table_lookup (admission->callers, sender);
  g_return_if_fail (caller != NULL && caller->pending > 0);
  caller->pending--;
  forget_if_idle (admission, sender, caller, g_get_monotonic_time ());
}

/* An outgoing reply to an admitted call: its count goes back before the
 * caller can have the reply. */
static void
give_back_on_reply (BridgeAdmission *admission, GDBusMessage *message)
{
  GDBusMessageType type = g_dbus_message_get_message_type (message);
  const char *destination;

  if (type != G_DBUS_MESSAGE_TYPE_METHOD_RETURN && type != G_DBUS_MESSAGE_TYPE_ERROR)
    return;
  destination = g_dbus_message_get_destination (message);
  if (destination == NULL)
    return;
  g_mutex_lock (&admission->lock);
  give_back (admission, destination, g_dbus_message_get_reply_serial (message));
  g_mutex_unlock (&admission->lock);
}

/* --- refusals -------------------------------------------------------------- */

/* Why a refusal goes at once rather than late. */
typedef enum {
  REFUSE_LATE,
  REFUSE_AT_ONCE,          /* closing */
  REFUSE_AT_ONCE_CALLER,   /* BRIDGE_MAX_DELAYED_PER_CALLER of the caller's wait already */
  REFUSE_AT_ONCE_ALL,      /* BRIDGE_MAX_DELAYED wait already */
} When;

static When
when_to_refuse (BridgeAdmission *admission, Caller *caller)
{
  if (admission->closing)
    return REFUSE_AT_ONCE;
  if (caller->delayed >= BRIDGE_MAX_DELAYED_PER_CALLER)
    return REFUSE_AT_ONCE_CALLER;
  if (admission->delayed.length >= BRIDGE_MAX_DELAYED)
    return REFUSE_AT_ONCE_ALL;
  return REFUSE_LATE;
}

/* The error reply to sender's call serial, as g_dbus_message_new_method_error()
 * would build it from the call, which is not kept. */
static GDBusMessage *
new_error_reply (const char *sender, guint32 serial, const char *text)
{
  GDBusMessage *reply = g_dbus_message_new ();

  g_dbus_message_set_message_type (reply, G_DBUS_MESSAGE_TYPE_ERROR);
  g_dbus_message_set_flags (reply, G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED);
  g_dbus_message_set_reply_serial (reply, serial);
  g_dbus_message_set_destination (reply, sender);
  g_dbus_message_set_error_name (reply, QGA_DBUS_ERROR_PREFIX "LimitExceeded");
  g_dbus_message_set_body (reply, g_variant_new ("(s)", text));
  return reply;
}

static GDBusMessage *
new_refusal (BridgeAdmission *admission, const char *sender, guint32 serial,
             Verdict verdict, When when)
{
  g_autofree char *at_once = NULL;
  g_autofree char *text = NULL;

  if (when == REFUSE_AT_ONCE_CALLER)
    at_once = g_strdup_printf ("; refused at once: %u of its refusals are waiting already",
                               BRIDGE_MAX_DELAYED_PER_CALLER);
  else if (when == REFUSE_AT_ONCE_ALL)
    at_once = g_strdup_printf ("; refused at once: %u refusals are waiting already",
                               BRIDGE_MAX_DELAYED);
  if (verdict == VERDICT_TOO_FAST)
    text = g_strdup_printf ("too many requests from %s (limit %u a second)%s",
                            sender, admission->max_rate, at_once ? at_once : "");
  else
    text = g_strdup_printf ("too many requests in flight from %s (limit %u)%s",
                            sender, admission->max_pending, at_once ? at_once : "");
  return new_error_reply (sender, serial, text);
}

static void
send_refusal (BridgeAdmission *admission, GDBusMessage *reply)
{
  g_dbus_connection_send_message (admission->connection, reply,
                                  G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL, NULL);
}

static void
delayed_free (Delayed *delayed)
{
  g_free (delayed->sender);
  g_free (delayed);
}

/* Under the lock, when when_to_refuse() says so: keep the refusal for later. */
static void
delay_refusal (BridgeAdmission *admission, Caller *caller, const char *sender,
               guint32 serial, Verdict verdict, gint64 now)
{
  Delayed *delayed;

  delayed = g_new0 (Delayed, 1);
  delayed->sender = g_strdup (sender);
  delayed->serial = serial;
  delayed->verdict = verdict;
  delayed->due = now + BRIDGE_REFUSAL_DELAY_MS * 1000;
  caller->delayed++;
  if (g_queue_is_empty (&admission->delayed))
    g_source_set_ready_time (admission->delay_source, delayed->due);
  g_queue_push_tail (&admission->delayed, delayed);
}

/* Under the lock: the refusals due by now (or all), out of the queue. */
static GQueue
take_delayed (BridgeAdmission *admission, gint64 now, gboolean all)
{
  GQueue due = G_QUEUE_INIT;
  Delayed *head;

  while ((head = g_queue_peek_head (&admission->delayed)) != NULL && (all || head->due <= now))
    {
      Caller *caller = g_hash_table_lookup (admission->callers, head->sender);

      g_queue_push_tail (&due, g_queue_pop_head (&admission->delayed));
      caller->delayed--;
      forget_if_idle (admission, head->sender, caller, now);
    }
  g_source_set_ready_time (admission->delay_source, head != NULL ? head->due : -1);
  return due;
}

static void
send_and_free_all (BridgeAdmission *admission, GQueue *queue)
{
  Delayed *delayed;

  while ((delayed = g_queue_pop_head (queue)) != NULL)
    {
      g_autoptr(GDBusMessage) reply = new_refusal (admission, delayed->sender, delayed->serial,
                                                   delayed->verdict, REFUSE_LATE);

      send_refusal (admission, reply);
      delayed_free (delayed);
    }
}

/* A flood's refusals go out for up to BRIDGE_REFUSAL_DELAY_MS after its
 * last call, after the dispatcher's own trim (bridge-dispatcher.c): once
 * they are all sent (and GDBus's worker has written and freed them), hand
 * what they used back to the system too. */
#define TRIM_DELAY_MS 500

static gboolean
trim_cb (gpointer user_data)
{
  BridgeAdmission *admission = user_data;
  gboolean idle;

  admission->trim_source = 0;
  g_mutex_lock (&admission->lock);
  idle = g_queue_is_empty (&admission->delayed);
  g_mutex_unlock (&admission->lock);
#ifdef __GLIBC__
  if (idle)
    malloc_trim (0);
#endif
  return G_SOURCE_REMOVE;
}

static gboolean
send_due_refusals (gpointer user_data)
{
  BridgeAdmission *admission = user_data;
  gboolean drained;
  GQueue due;

  g_mutex_lock (&admission->lock);
  due = take_delayed (admission, g_get_monotonic_time (), FALSE);
  drained = g_queue_is_empty (&admission->delayed);
  g_mutex_unlock (&admission->lock);
  send_and_free_all (admission, &due);
  if (drained && admission->trim_source == 0)
    admission->trim_source = g_timeout_add (TRIM_DELAY_MS, trim_cb, admission);
  return G_SOURCE_CONTINUE;
}

static gboolean
delay_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return callback (user_data);
}

static GSourceFuncs delay_source_funcs = { .dispatch = delay_source_dispatch };

/* --- log lines about refusals, under the lock ----------------------------- */

static const char *
verdict_reason (BridgeAdmission *admission, Verdict verdict, char *buffer, gsize size)
{
  if (verdict == VERDICT_TOO_FAST)
    g_snprintf (buffer, size, "more than %u a second", admission->max_rate);
  else
    g_snprintf (buffer, size, "more than %u in flight", admission->max_pending);
  return buffer;
}

/* A line to log (after the lock is let go) the first time caller is
 * refused late, or at once, or NULL. */
static char *
note_refusal (BridgeAdmission *admission, Caller *caller, const char *sender,
              Verdict verdict, When when, gint64 now)
{
  LoggedFlags flag = when == REFUSE_LATE ? LOGGED_REFUSING : LOGGED_AT_ONCE;
  char reason[64];
  g_autofree char *skipped = NULL;

  if (caller->logged & flag)
    return NULL;
  caller->logged |= flag;
  if (now - admission->log_window >= G_USEC_PER_SEC)
    {
      admission->log_window = now;
      admission->log_lines = 0;
    }
  if (admission->log_lines >= LOG_LINES_PER_SECOND)
    {
      admission->log_skipped++;
      return NULL;
    }
  admission->log_lines++;
  if (admission->log_skipped > 0)
    skipped = g_strdup_printf (" (%u lines like this one were not logged)", admission->log_skipped);
  admission->log_skipped = 0;
  verdict_reason (admission, verdict, reason, sizeof reason);
  if (when == REFUSE_LATE)
    return g_strdup_printf ("refusing requests from %s: %s, each refusal answered after %d ms%s",
                            sender, reason, BRIDGE_REFUSAL_DELAY_MS, skipped ? skipped : "");
  if (when == REFUSE_AT_ONCE_CALLER)
    return g_strdup_printf ("refusing requests from %s at once: %u of its refusals are waiting "
                            "already%s", sender, BRIDGE_MAX_DELAYED_PER_CALLER,
                            skipped ? skipped : "");
  return g_strdup_printf ("refusing requests from %s at once: %u refusals are waiting already%s",
                          sender, BRIDGE_MAX_DELAYED, skipped ? skipped : "");
}

/* --- the filter ------------------------------------------------------------ */

/* In GDBus's worker thread: it must not block, and may drop the message. */
static GDBusMessage *
admission_filter (GDBusConnection *connection, GDBusMessage *message, gboolean incoming,
                  gpointer user_data)
{
  BridgeAdmission *admission = user_data;
  g_autoptr(GDBusMessage) reply = NULL;
  g_autofree char *log_line = NULL;
  gint64 now;
  const char *sender;
  Caller *caller;
  Verdict verdict;

  if (!incoming)
    {
      give_back_on_reply (admission, message);
      return message;
    }
  if (!is_counted (message))
    return message;
  sender = g_dbus_message_get_sender (message);
  if (sender == NULL)
    return message;   /* a peer-to-peer connection: bridge-clients.c counts those */

  now = g_get_monotonic_time ();
  g_mutex_lock (&admission->lock);
  caller = ensure_caller (admission, sender, now);
  verdict = judge (admission, caller, now);
  if (verdict == VERDICT_ADMIT)
    record_admitted (admission, sender, g_dbus_message_get_serial (message));
  if (verdict != VERDICT_ADMIT &&
      !(g_dbus_message_get_flags (message) & G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED))
    {
      When when = when_to_refuse (admission, caller);
      guint32 serial = g_dbus_message_get_serial (message);

      if (when == REFUSE_LATE)
        delay_refusal (admission, caller, sender, serial, verdict, now);
      else
        reply = new_refusal (admission, sender, serial, verdict, when);
      if (when != REFUSE_AT_ONCE)
        log_line = note_refusal (admission, caller, sender, verdict, when, now);
    }
  if (verdict != VERDICT_ADMIT)
    forget_if_idle (admission, sender, caller, now);
  g_mutex_unlock (&admission->lock);

  if (log_line != NULL)
    g_message ("%s", log_line);
  if (verdict == VERDICT_ADMIT)
    return message;
  if (reply != NULL)
    send_refusal (admission, reply);
  g_object_unref (message);
  return NULL;
}

/* --- life cycle ------------------------------------------------------------ */

static BridgeAdmission *
admission_ref (BridgeAdmission *admission)
{
  g_atomic_int_inc (&admission->refcount);
  return admission;
}

static void
admission_unref (BridgeAdmission *admission)
{
  if (!g_atomic_int_dec_and_test (&admission->refcount))
    return;
  g_warn_if_fail (g_queue_is_empty (&admission->delayed));
  g_hash_table_destroy (admission->admitted);
  g_hash_table_destroy (admission->callers);
  g_mutex_clear (&admission->lock);
  g_clear_object (&admission->connection);
  g_free (admission);
}

static void
ticket_free (Ticket *ticket)
{
  BridgeAdmission *admission = ticket->admission;

  g_mutex_lock (&admission->lock);
  give_back (admission, ticket->call.sender, ticket->call.serial);
  g_mutex_unlock (&admission->lock);
  admission_unref (admission);
  g_free (ticket->call.sender);
  g_free (ticket);
}

void
bridge_admission_hand_over (BridgeAdmission *admission, GDBusMethodInvocation *invocation)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  Ticket *ticket;

  if (sender == NULL)
    return;   /* a peer-to-peer connection: not counted */
  ticket = g_new0 (Ticket, 1);
  ticket->admission = admission_ref (admission);
  ticket->call.sender = g_strdup (sender);
  ticket->call.serial = g_dbus_message_get_serial (g_dbus_method_invocation_get_message (invocation));
  g_object_set_data_full (G_OBJECT (invocation), "bridge-admission-ticket", ticket,
                          (GDestroyNotify) ticket_free);
}

BridgeAdmission *
bridge_admission_new (GDBusConnection *connection, guint max_pending, guint max_rate)
{
  BridgeAdmission *admission = g_new0 (BridgeAdmission, 1);

  admission->refcount = 1;
  admission->connection = g_object_ref (connection);
  admission->max_pending = MAX (max_pending, 1);
  admission->max_rate = max_rate;
  admission->burst = MAX ((double) admission->max_pending, max_rate / 10.0);
  g_mutex_init (&admission->lock);
  admission->callers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  admission->admitted = g_hash_table_new_full (admitted_hash, admitted_equal,
                                               (GDestroyNotify) admitted_free, NULL);
  admission->sweep_at = 64;
  g_queue_init (&admission->delayed);
  admission->delay_source = g_source_new (&delay_source_funcs, sizeof (GSource));
  g_source_set_name (admission->delay_source, "[qga-bridge] delayed refusals");
  g_source_set_callback (admission->delay_source, send_due_refusals, admission, NULL);
  g_source_attach (admission->delay_source, g_main_context_get_thread_default ());
  /* the filter may still run after it is removed: it holds its own reference */
  admission->filter_id = g_dbus_connection_add_filter (connection, admission_filter,
                                                       admission_ref (admission),
                                                       (GDestroyNotify) admission_unref);
  return admission;
}

/* Refusals still waiting go now. Tickets still on invocations, and the
 * filter until GDBus lets it go, keep the table alive; a call the filter
 * refuses from now on is refused at once. */
void
bridge_admission_free (BridgeAdmission *admission)
{
  GQueue rest;

  if (admission == NULL)
    return;
  g_dbus_connection_remove_filter (admission->connection, admission->filter_id);
  g_mutex_lock (&admission->lock);
  admission->closing = TRUE;
  rest = take_delayed (admission, 0, TRUE);
  g_mutex_unlock (&admission->lock);
  send_and_free_all (admission, &rest);
  g_clear_handle_id (&admission->trim_source, g_source_remove);
  g_source_destroy (admission->delay_source);
  g_clear_pointer (&admission->delay_source, g_source_unref);
  admission_unref (admission);
}
