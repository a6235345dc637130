/* qga-callers.c: D-Bus callers tracked by unique name, with a bound. */
#include "config.h"

#include <stddef.h>

#include "qga-callers.h"
#include "qga-error.h"

typedef struct {
  char *name;
  /* the user's record follows, aligned as malloc() aligns */
  max_align_t record[];
} Entry;

struct _QgaCallers {
  GDBusConnection *connection;
  guint max_callers;
  gsize record_size;
  char *busy_what;
  QgaCallersFuncs funcs;
  gpointer user_data;
  GHashTable *by_name;     /* name → Entry */
  guint owner_changed_id;
  GCancellable *cancellable;   /* the owner checks on their way */
};

static void
entry_free (Entry *entry)
{
  g_free (entry->name);
  g_free (entry);
}

const char *
qga_caller_name (gconstpointer record)
{
  const Entry *entry = (const Entry *) ((const char *) record - offsetof (Entry, record));

  return entry->name;
}

static void
caller_gone (QgaCallers *callers, const char *name)
{
  g_autofree char *owned_name = g_strdup (name);
  Entry *entry = g_hash_table_lookup (callers->by_name, owned_name);

  if (entry == NULL)
    return;
  if (callers->funcs.vanished != NULL)
    callers->funcs.vanished (owned_name, (gpointer) entry->record, callers->user_data);
  g_hash_table_remove (callers->by_name, owned_name);
}

/* One subscription for every caller, made before the first: the bus sends
 * a caller's departure after all its messages and before anything sent
 * after it, so we learn of it in that order (a watch per name would start
 * with its own AddMatch round trip, and could hear of it late). */
static void
on_name_owner_changed (GDBusConnection *connection, const char *sender, const char *path,
                       const char *interface, const char *member, GVariant *parameters,
                       gpointer user_data)
{
  const char *name, *old_owner, *new_owner;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sss)")))
    return;
  g_variant_get (parameters, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (*new_owner == '\0')
    caller_gone (user_data, name);
}

typedef struct {
  QgaCallers *callers;
  char *name;
} OwnerCheck;

static void
owner_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  OwnerCheck *check = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  gboolean owned = TRUE;

  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("cannot check whether %s is on the bus: %s", check->name, error->message);
  if (!owned)
    caller_gone (check->callers, check->name);
  g_free (check->name);
  g_free (check);
}

/* A caller whose record is made after it left (after a round trip of the
 * user's, say) has no departure to come: ask. */
static void
check_owner (QgaCallers *callers, const char *name)
{
  OwnerCheck *check = g_new0 (OwnerCheck, 1);

  check->callers = callers;
  check->name = g_strdup (name);
  g_dbus_connection_call (callers->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "NameHasOwner", g_variant_new ("(s)", name),
                          G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1,
                          callers->cancellable, owner_checked, check);
}

static gboolean
evict_one_idle (QgaCallers *callers)
{
  GHashTableIter iter;
  Entry *entry;

  g_hash_table_iter_init (&iter, callers->by_name);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    {
      if (callers->funcs.is_idle ((gpointer) entry->record))
        {
          g_hash_table_iter_remove (&iter);
          return TRUE;
        }
    }
  return FALSE;
}

gpointer
qga_callers_lookup (QgaCallers *callers, const char *name)
{
  Entry *entry = name != NULL ? g_hash_table_lookup (callers->by_name, name) : NULL;

  return entry != NULL ? (gpointer) entry->record : NULL;
}

gpointer
qga_callers_track (QgaCallers *callers, const char *name, GError **error)
{
  Entry *entry = g_hash_table_lookup (callers->by_name, name);

  if (entry != NULL)
    return (gpointer) entry->record;
  if (g_hash_table_size (callers->by_name) >= callers->max_callers && !evict_one_idle (callers))
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED, "too many %s (limit %u)",
                   callers->busy_what, callers->max_callers);
      return NULL;
    }
  entry = g_malloc0 (sizeof (Entry) + callers->record_size);
  entry->name = g_strdup (name);
  g_hash_table_insert (callers->by_name, entry->name, entry);
  check_owner (callers, name);
  return (gpointer) entry->record;
}

gboolean
qga_callers_remove (QgaCallers *callers, const char *name)
{
  return g_hash_table_remove (callers->by_name, name);
}

guint
qga_callers_count (QgaCallers *callers)
{
  return g_hash_table_size (callers->by_name);
}

void
qga_callers_foreach (QgaCallers *callers, QgaCallersFunc func, gpointer user_data)
{
  GHashTableIter iter;
  Entry *entry;

  g_hash_table_iter_init (&iter, callers->by_name);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    func (entry->name, (gpointer) entry->record, user_data);
}

void
qga_callers_clear (QgaCallers *callers)
{
  g_hash_table_remove_all (callers->by_name);
}

QgaCallers *
qga_callers_new (GDBusConnection *connection, guint max_callers, gsize record_size,
                 const char *busy_what, const QgaCallersFuncs *funcs, gpointer user_data)
{
  QgaCallers *callers = g_new0 (QgaCallers, 1);

  callers->connection = g_object_ref (connection);
  callers->max_callers = MAX (max_callers, 1);
  callers->record_size = record_size;
  callers->busy_what = g_strdup (busy_what);
  callers->funcs = *funcs;
  callers->user_data = user_data;
  callers->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) entry_free);
  callers->cancellable = g_cancellable_new ();
  callers->owner_changed_id =
    g_dbus_connection_signal_subscribe (connection, "org.freedesktop.DBus", "org.freedesktop.DBus",
                                        "NameOwnerChanged", "/org/freedesktop/DBus", NULL,
                                        G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed, callers,
                                        NULL);
  return callers;
}

void
qga_callers_free (QgaCallers *callers)
{
  if (callers == NULL)
    return;
  g_dbus_connection_signal_unsubscribe (callers->connection, callers->owner_changed_id);
  g_cancellable_cancel (callers->cancellable);
  g_clear_object (&callers->cancellable);
  g_hash_table_destroy (callers->by_name);
  g_object_unref (callers->connection);
  g_free (callers->busy_what);
  g_free (callers);
}
