/* bridge-admission.c: each caller's requests counted in GDBus's worker thread. */
#include "config.h"

#include "bridge-admission.h"
#include "bridge-config.h"
#include "qga-error.h"

struct _BridgeAdmission {
  GDBusConnection *connection;
  guint filter_id;
  guint max_pending;
  GMutex lock;
  GHashTable *counts;      /* sender → GUINT count, under lock; shared with invocations */
  gint refcount;           /* the admission and each handed-over invocation */
};

/* One counted request, on its invocation until that is finalized. */
typedef struct {
  BridgeAdmission *admission;
  char *sender;
} Ticket;

static const struct {
  const char *member;
  const char *signature;
} counted[] = {
  { "Ping", "" },
  { "GetHostInfo", "" },
  { "GetHostStats", "" },
  { "Call", "ss" },
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

static gboolean
admit (BridgeAdmission *admission, const char *sender)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&admission->lock);
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (admission->counts, sender));

  if (count >= admission->max_pending)
    return FALSE;
  g_hash_table_insert (admission->counts, g_strdup (sender), GUINT_TO_POINTER (count + 1));
  return TRUE;
}

static void
give_back (BridgeAdmission *admission, const char *sender)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&admission->lock);
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (admission->counts, sender));

  if (count > 1)
    g_hash_table_insert (admission->counts, g_strdup (sender), GUINT_TO_POINTER (count - 1));
  else
    g_hash_table_remove (admission->counts, sender);
}

static void
refuse (GDBusConnection *connection, GDBusMessage *message, const char *sender, guint limit)
{
  g_autoptr(GDBusMessage) reply = NULL;

  if (g_dbus_message_get_flags (message) & G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED)
    return;
  reply = g_dbus_message_new_method_error (message, QGA_DBUS_ERROR_PREFIX "LimitExceeded",
                                           "too many requests in flight from %s (limit %u)",
                                           sender, limit);
  g_dbus_connection_send_message (connection, reply, G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL, NULL);
}

/* In GDBus's worker thread: it must not block, and may drop the message. */
static GDBusMessage *
admission_filter (GDBusConnection *connection, GDBusMessage *message, gboolean incoming,
                  gpointer user_data)
{
  BridgeAdmission *admission = user_data;
  const char *sender;

  if (!incoming || !is_counted (message))
    return message;
  sender = g_dbus_message_get_sender (message);
  if (sender == NULL || admit (admission, sender))
    return message;
  refuse (connection, message, sender, admission->max_pending);
  g_object_unref (message);
  return NULL;
}

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
  g_hash_table_destroy (admission->counts);
  g_mutex_clear (&admission->lock);
  g_free (admission);
}

static void
ticket_free (Ticket *ticket)
{
  give_back (ticket->admission, ticket->sender);
  admission_unref (ticket->admission);
  g_free (ticket->sender);
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
  ticket->sender = g_strdup (sender);
  g_object_set_data_full (G_OBJECT (invocation), "bridge-admission-ticket", ticket,
                          (GDestroyNotify) ticket_free);
}

BridgeAdmission *
bridge_admission_new (GDBusConnection *connection, guint max_pending)
{
  BridgeAdmission *admission = g_new0 (BridgeAdmission, 1);

  admission->refcount = 1;
  admission->connection = g_object_ref (connection);
  admission->max_pending = MAX (max_pending, 1);
  g_mutex_init (&admission->lock);
  admission->counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* the filter may still run after it is removed: it holds its own reference */
  admission->filter_id = g_dbus_connection_add_filter (connection, admission_filter,
                                                       admission_ref (admission),
                                                       (GDestroyNotify) admission_unref);
  return admission;
}

/* Tickets still on invocations, and the filter until GDBus lets it go,
 * keep the counts alive. */
void
bridge_admission_free (BridgeAdmission *admission)
{
  if (admission == NULL)
    return;
  g_dbus_connection_remove_filter (admission->connection, admission->filter_id);
  g_clear_object (&admission->connection);
  admission_unref (admission);
}
