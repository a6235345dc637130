/* fake-logind: the part of org.freedesktop.login1 that qga-bridge uses,
 * on a test's private system bus.
 *
 *   fake-logind --session ID:active|inactive:SEAT ... [--pid PID:ID ...]
 *
 * Manager.GetSessionByPID(pid) finds the session a process belongs to from
 * XDG_SESSION_ID in /proc/PID/environ (a test starts each agent with one),
 * the way real logind finds it from the process's cgroup. A pid without a
 * known session gets org.freedesktop.login1.NoSessionForPID, as from
 * logind. --pid puts a process in a session explicitly (the test program
 * itself, whose environment is fixed). Each session offers Id, Active and Seat; an empty SEAT means no
 * seat. A line "active ID yes|no" on stdin changes Active and emits
 * PropertiesChanged, as a user switch does. "ready" is printed on stdout
 * once the name is owned.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>

#define LOGIND_NAME "org.freedesktop.login1"
#define SESSION_INTERFACE "org.freedesktop.login1.Session"

typedef struct {
  char *id;
  gboolean active;
  char *seat;
  char *path;
} Session;

static GHashTable *sessions;   /* id → Session */
static GHashTable *pids;       /* pid → session id, from --pid */
static GDBusConnection *bus;
static GMainLoop *loop;

static const char introspection[] =
  "<node>"
  " <interface name='org.freedesktop.login1.Manager'>"
  "  <method name='GetSessionByPID'>"
  "   <arg name='pid' type='u' direction='in'/>"
  "   <arg name='session' type='o' direction='out'/>"
  "  </method>"
  " </interface>"
  " <interface name='org.freedesktop.login1.Session'>"
  "  <property name='Id' type='s' access='read'/>"
  "  <property name='Active' type='b' access='read'/>"
  "  <property name='Seat' type='(so)' access='read'/>"
  " </interface>"
  "</node>";

static GDBusNodeInfo *node_info;

static void
session_free (Session *session)
{
  g_free (session->id);
  g_free (session->seat);
  g_free (session->path);
  g_free (session);
}

/* XDG_SESSION_ID from the process's environment, or NULL. */
static char *
session_id_of (guint32 pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%u/environ", pid);
  g_autofree char *environ = NULL;
  gsize length;
  const char *explicit = g_hash_table_lookup (pids, GUINT_TO_POINTER (pid));

  if (explicit != NULL)
    return g_strdup (explicit);
  if (!g_file_get_contents (path, &environ, &length, NULL))
    return NULL;
  for (gsize i = 0; i < length; i += strlen (environ + i) + 1)
    if (g_str_has_prefix (environ + i, "XDG_SESSION_ID="))
      return g_strdup (environ + i + strlen ("XDG_SESSION_ID="));
  return NULL;
}

static void
manager_method (GDBusConnection *connection, const char *sender, const char *path,
                const char *interface, const char *method, GVariant *parameters,
                GDBusMethodInvocation *invocation, gpointer user_data)
{
  g_autofree char *id = NULL;
  Session *session;
  guint32 pid;

  g_variant_get (parameters, "(u)", &pid);
  id = session_id_of (pid);
  session = id ? g_hash_table_lookup (sessions, id) : NULL;
  if (session == NULL)
    {
      g_dbus_method_invocation_return_dbus_error (invocation,
                                                  "org.freedesktop.login1.NoSessionForPID",
                                                  "PID does not belong to any known session");
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", session->path));
}

static GVariant *
session_property (GDBusConnection *connection, const char *sender, const char *path,
                  const char *interface, const char *name, GError **error, gpointer user_data)
{
  Session *session = user_data;
  g_autofree char *seat_path = NULL;

  if (g_str_equal (name, "Id"))
    return g_variant_new_string (session->id);
  if (g_str_equal (name, "Active"))
    return g_variant_new_boolean (session->active);
  seat_path = session->seat[0] ? g_strdup_printf ("/org/freedesktop/login1/seat/%s", session->seat)
                               : g_strdup ("/");
  return g_variant_new ("(so)", session->seat, seat_path);
}

static const GDBusInterfaceVTable manager_vtable = { .method_call = manager_method };
static const GDBusInterfaceVTable session_vtable = { .get_property = session_property };

static void
set_active (Session *session, gboolean active)
{
  GVariantBuilder changed;

  session->active = active;
  g_variant_builder_init (&changed, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&changed, "{sv}", "Active", g_variant_new_boolean (active));
  g_dbus_connection_emit_signal (bus, NULL, session->path, "org.freedesktop.DBus.Properties",
                                 "PropertiesChanged",
                                 g_variant_new ("(sa{sv}as)", SESSION_INTERFACE, &changed, NULL),
                                 NULL);
}

static void
on_line (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GDataInputStream *input = G_DATA_INPUT_STREAM (source);
  g_autofree char *line = g_data_input_stream_read_line_finish (input, result, NULL, NULL);
  g_auto(GStrv) words = NULL;
  Session *session;

  if (line == NULL)
    {
      g_main_loop_quit (loop);
      return;
    }
  words = g_strsplit (line, " ", 3);
  if (g_strv_length (words) == 3 && g_str_equal (words[0], "active") &&
      (session = g_hash_table_lookup (sessions, words[1])) != NULL)
    set_active (session, g_str_equal (words[2], "yes"));
  else
    g_printerr ("fake-logind: bad control line '%s'\n", line);
  g_data_input_stream_read_line_async (input, G_PRIORITY_DEFAULT, NULL, on_line, NULL);
}

static gboolean
add_session (const char *spec)
{
  g_auto(GStrv) parts = g_strsplit (spec, ":", 3);
  Session *session;

  if (g_strv_length (parts) != 3 || !g_dbus_is_member_name (parts[0]))
    return FALSE;
  session = g_new0 (Session, 1);
  session->id = g_strdup (parts[0]);
  session->active = g_str_equal (parts[1], "active");
  session->seat = g_strdup (parts[2]);
  session->path = g_strdup_printf ("/org/freedesktop/login1/session/%s", parts[0]);
  g_hash_table_insert (sessions, session->id, session);
  return TRUE;
}

static gboolean
on_sigterm (gpointer user_data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gboolean
add_pid (const char *spec)
{
  g_auto(GStrv) parts = g_strsplit (spec, ":", 2);
  guint64 pid;

  if (g_strv_length (parts) != 2 || !g_ascii_string_to_unsigned (parts[0], 10, 1, G_MAXUINT32, &pid, NULL))
    return FALSE;
  g_hash_table_insert (pids, GUINT_TO_POINTER ((guint32) pid), g_strdup (parts[1]));
  return TRUE;
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  printf ("ready\n");
  fflush (stdout);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_printerr ("fake-logind: cannot own %s\n", name);
  g_main_loop_quit (loop);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) stdin_stream = NULL;
  g_autoptr(GDataInputStream) input = NULL;
  GHashTableIter iter;
  Session *session;

  sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) session_free);
  pids = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  for (int i = 1; i < argc; i++)
    {
      gboolean ok = i + 1 < argc;

      if (ok && g_str_equal (argv[i], "--session"))
        ok = add_session (argv[++i]);
      else if (ok && g_str_equal (argv[i], "--pid"))
        ok = add_pid (argv[++i]);
      else
        ok = FALSE;
      if (!ok)
        {
          g_printerr ("usage: fake-logind --session ID:active|inactive:SEAT ... [--pid PID:ID ...]\n");
          return 2;
        }
    }
  node_info = g_dbus_node_info_new_for_xml (introspection, &error);
  g_assert_no_error (error);
  bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (bus == NULL)
    {
      g_printerr ("fake-logind: %s\n", error->message);
      return 1;
    }
  g_dbus_connection_register_object (bus, "/org/freedesktop/login1", node_info->interfaces[0],
                                     &manager_vtable, NULL, NULL, &error);
  g_assert_no_error (error);
  g_hash_table_iter_init (&iter, sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
    {
      g_dbus_connection_register_object (bus, session->path, node_info->interfaces[1],
                                         &session_vtable, session, NULL, &error);
      g_assert_no_error (error);
    }
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_sigterm, NULL);
  g_bus_own_name_on_connection (bus, LOGIND_NAME, G_BUS_NAME_OWNER_FLAGS_NONE, on_name_acquired,
                                on_name_lost, NULL, NULL);
  stdin_stream = g_unix_input_stream_new (0, FALSE);
  input = g_data_input_stream_new (stdin_stream);
  g_data_input_stream_read_line_async (input, G_PRIORITY_DEFAULT, NULL, on_line, NULL);
  g_main_loop_run (loop);

  g_main_loop_unref (loop);
  g_dbus_node_info_unref (node_info);
  g_hash_table_destroy (sessions);
  g_hash_table_destroy (pids);
  g_object_unref (bus);
  return 0;
}
