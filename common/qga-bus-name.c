/* qga-bus-name.c: RequestName with clear refusals, and NameLost. */
#include "config.h"

#include "qga-bus-name.h"

/* RequestName's flags and replies (DBUS_NAME_FLAG_*, DBUS_REQUEST_NAME_REPLY_*) */
enum { NAME_FLAG_ALLOW_REPLACEMENT = 1, NAME_FLAG_REPLACE_EXISTING = 2, NAME_FLAG_DO_NOT_QUEUE = 4 };
enum { NAME_PRIMARY_OWNER = 1, NAME_IN_QUEUE = 2, NAME_EXISTS = 3, NAME_ALREADY_OWNER = 4 };

struct _QgaBusName {
  GDBusConnection *connection;
  char *name;
  gboolean replace;
  QgaBusNameFunc func;
  gpointer user_data;
  GCancellable *cancellable;
  guint lost_id;
  gboolean requesting;     /* RequestName in flight: it frees a freed owner */
  gboolean freed;
};

static void
owner_destroy (QgaBusName *owner)
{
  g_object_unref (owner->cancellable);
  g_object_unref (owner->connection);
  g_free (owner->name);
  g_free (owner);
}

static void
on_name_lost (GDBusConnection *connection, const char *sender, const char *path,
              const char *interface, const char *member, GVariant *parameters,
              gpointer user_data)
{
  QgaBusName *owner = user_data;

  owner->func (QGA_BUS_NAME_LOST, "replaced by another instance", owner->user_data);
}

static void
request_name_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  g_autofree char *message = NULL;
  QgaBusName *owner = user_data;
  guint32 code = 0;

  owner->requesting = FALSE;
  if (owner->freed)
    {
      owner_destroy (owner);
      return;
    }
  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      message = g_strdup_printf ("cannot own %s: %s", owner->name, error->message);
      owner->func (QGA_BUS_NAME_REFUSED, message, owner->user_data);
      return;
    }
  g_variant_get (reply, "(u)", &code);
  if (code == NAME_PRIMARY_OWNER || code == NAME_ALREADY_OWNER)
    {
      owner->lost_id =
        g_dbus_connection_signal_subscribe (owner->connection, "org.freedesktop.DBus",
                                            "org.freedesktop.DBus", "NameLost",
                                            "/org/freedesktop/DBus", owner->name,
                                            G_DBUS_SIGNAL_FLAGS_NONE, on_name_lost, owner, NULL);
      owner->func (QGA_BUS_NAME_ACQUIRED, NULL, owner->user_data);
      return;
    }
  message = g_strdup_printf ("cannot own %s: another process owns it%s", owner->name,
                             owner->replace ? " and does not allow replacement"
                                            : " (use --replace to take it over)");
  owner->func (QGA_BUS_NAME_REFUSED, message, owner->user_data);
}

QgaBusName *
qga_bus_name_own (GDBusConnection *connection, const char *name, gboolean replace,
                  QgaBusNameFunc func, gpointer user_data)
{
  QgaBusName *owner = g_new0 (QgaBusName, 1);
  guint32 flags = NAME_FLAG_ALLOW_REPLACEMENT | NAME_FLAG_DO_NOT_QUEUE;

  owner->connection = g_object_ref (connection);
  owner->name = g_strdup (name);
  owner->replace = replace;
  owner->func = func;
  owner->user_data = user_data;
  owner->cancellable = g_cancellable_new ();
  owner->requesting = TRUE;
  if (replace)
    flags |= NAME_FLAG_REPLACE_EXISTING;
  g_dbus_connection_call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "RequestName", g_variant_new ("(su)", name, flags),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, owner->cancellable,
                          request_name_cb, owner);
  return owner;
}

void
qga_bus_name_free (QgaBusName *owner)
{
  if (owner == NULL)
    return;
  if (owner->lost_id != 0)
    g_dbus_connection_signal_unsubscribe (owner->connection, owner->lost_id);
  if (owner->requesting)
    {
      owner->freed = TRUE;
      g_cancellable_cancel (owner->cancellable);
      return;
    }
  owner_destroy (owner);
}
