/* qga-callers.c: D-Bus callers tracked by unique name, with a bound. */
#include "config.h"

#include <stddef.h>

#include "qga-callers.h"
#include "qga-error.h"

typedef struct {
  char *name;
  guint watch_id;
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
};

static void
entry_free (Entry *entry)
{
  if (entry->watch_id != 0)
    g_bus_unwatch_name (entry->watch_id);
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
on_name_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  QgaCallers *callers = user_data;
  g_autofree char *owned_name = g_strdup (name);
  Entry *entry = g_hash_table_lookup (callers->by_name, owned_name);

  if (entry == NULL)
    return;
  if (callers->funcs.vanished != NULL)
    callers->funcs.vanished (owned_name, (gpointer) entry->record, callers->user_data);
  g_hash_table_remove (callers->by_name, owned_name);
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
  /* Added last: if the caller is already gone, this reports it at once. */
  entry->watch_id = g_bus_watch_name_on_connection (callers->connection, name,
                                                    G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                    on_name_vanished, callers, NULL);
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
  return callers;
}

void
qga_callers_free (QgaCallers *callers)
{
  if (callers == NULL)
    return;
  g_hash_table_destroy (callers->by_name);
  g_object_unref (callers->connection);
  g_free (callers->busy_what);
  g_free (callers);
}
