/* session-main.c: qga-session, the agent of one user session: the clipboard,
 * and org.qemu.GuestAgent relayed from the system bus. */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdlib.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "qga-error.h"
#include "qga-bus-name.h"
#include "session-agent.h"
#include "session-clipboard.h"

#define RECONNECT_MIN_S 1
#define RECONNECT_MAX_S 30
#define SHUTDOWN_GRACE_MS 5000
/* Signals handed to GDBus for the session bus and not yet written: past
 * this, what the bridge sends is dropped or held (qga-bus-budget.h). */
#define SESSION_MAX_RELAY_BYTES (4 * 1024 * 1024)

typedef struct {
  gboolean replace;
  gboolean verbose;
  gint max_clients;
} SessionConfig;

typedef struct {
  SessionConfig config;
  GMainLoop *loop;
  int exit_status;
  GDBusConnection *session_bus;
  GDBusConnection *system_bus;
  SessionClipboard *clipboard;
  SessionAgent *agent;
  QgaBusBudget *budget;          /* what we send on the session bus */
  QgaBusName *name;
  gboolean serving;              /* we own the name on the session bus */
  GCancellable *cancellable;     /* a system bus connection in progress */
  gboolean connecting;
  guint reconnect_id;
  guint reconnect_delay;
} Session;

static void
quit (Session *session, int status)
{
  session->exit_status = status;
  g_main_loop_quit (session->loop);
}

static gboolean
parse_options (SessionConfig *config, int *argc, char ***argv, gboolean *show_version,
               GError **error)
{
  const GOptionEntry entries[] = {
    { "max-clients", 0, 0, G_OPTION_ARG_INT, &config->max_clients,
      "Most callers tracked at once by each interface: owners, stats subscribers and "
      "callers with calls in progress (default 64)",
      "N" },
    { "replace", 'r', 0, G_OPTION_ARG_NONE, &config->replace,
      "Replace a running instance", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &config->verbose,
      "Log debug messages", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, show_version,
      "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- QEMU guest agent session agent");

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Offers the guest's clipboard, synced with the host's, to the programs of\n"
    "one user session as org.qemu.GuestAgent.Clipboard at /org/qemu/GuestAgent\n"
    "under the name org.qemu.GuestAgent on the session bus, and there too\n"
    "qga-bridge's org.qemu.GuestAgent, relayed.");
  g_option_context_set_description (context,
    "Programs call Grab, Release, SupplyData, SupplyError and Read, and receive\n"
    "DataRequested, HostGrabbed and HostReleased. Calls go on to qga-bridge on\n"
    "the system bus, file descriptors included, as do Ping, GetHostInfo,\n"
    "GetHostStats, Call and SendEvent. Normally started by dbus-daemon\n"
    "on the first call. See qga-session(1) and docs/CLIPBOARD.md in the source tree.\n");
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "unexpected argument '%s'", (*argv)[1]);
      return FALSE;
    }
  if (config->max_clients < 1 || config->max_clients > 65536)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--max-clients must be between 1 and 65536");
      return FALSE;
    }
  return TRUE;
}

/* --- the system bus: lost and found again without stopping the session's clipboard --- */

static void system_bus_connect (Session *session);

static gboolean
on_reconnect (gpointer user_data)
{
  Session *session = user_data;

  session->reconnect_id = 0;
  system_bus_connect (session);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (Session *session)
{
  session->reconnect_delay = session->reconnect_delay == 0
    ? RECONNECT_MIN_S : MIN (session->reconnect_delay * 2, RECONNECT_MAX_S);
  session->reconnect_id = g_timeout_add_seconds (session->reconnect_delay, on_reconnect, session);
}

static void
on_system_bus_closed (GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
                      gpointer user_data)
{
  Session *session = user_data;

  g_warning ("the system bus connection closed%s%s: reconnecting", error ? ": " : "",
             error ? error->message : "");
  g_signal_handlers_disconnect_by_data (connection, session);
  session_clipboard_set_system_bus (session->clipboard, NULL);
  session_agent_set_system_bus (session->agent, NULL);
  g_clear_object (&session->system_bus);
  schedule_reconnect (session);
}

static void
system_bus_attach (Session *session, GDBusConnection *connection)
{
  session->system_bus = connection;
  g_signal_connect (connection, "closed", G_CALLBACK (on_system_bus_closed), session);
  if (session->serving)
    {
      session_clipboard_set_system_bus (session->clipboard, connection);
      session_agent_set_system_bus (session->agent, connection);
    }
}

static void
system_bus_failed (Session *session, const GError *error)
{
  if (session->reconnect_delay == 0)
    g_warning ("cannot connect to the system bus: %s; retrying", error->message);
  else
    g_debug ("cannot connect to the system bus: %s", error->message);
  schedule_reconnect (session);
}

static void
system_bus_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Session *session = user_data;
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection = g_dbus_connection_new_for_address_finish (result, &error);

  session->connecting = FALSE;
  if (connection == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        system_bus_failed (session, error);
      return;
    }
  g_message ("connected to the system bus again");
  session->reconnect_delay = 0;
  system_bus_attach (session, connection);
}

/* Not g_bus_get(): its connection is a process-wide singleton that would
 * stay closed. The address itself is only read from the environment. */
static void
system_bus_connect (Session *session)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SYSTEM, NULL, &error);

  if (address == NULL)
    {
      system_bus_failed (session, error);
      return;
    }
  session->connecting = TRUE;
  g_dbus_connection_new_for_address (address,
                                     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                     G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                     NULL, session->cancellable, system_bus_connected, session);
}

/* At startup, before the main loop runs. */
static void
system_bus_connect_sync (Session *session)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  GDBusConnection *connection = NULL;

  if (address != NULL)
    connection = g_dbus_connection_new_for_address_sync (address,
                                                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                         G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                         NULL, NULL, &error);
  if (connection == NULL)
    system_bus_failed (session, error);
  else
    system_bus_attach (session, connection);
}

/* --- the session bus --- */

/* The bridge is told about us only once the name is ours: an instance
 * that loses the race for the name must not take the clipboard from the
 * one that won. */
static void
on_name_event (QgaBusNameEvent event, const char *message, gpointer user_data)
{
  Session *session = user_data;

  switch (event)
    {
    case QGA_BUS_NAME_ACQUIRED:
      g_message ("serving %s on the session bus", SESSION_BUS_NAME);
      session->serving = TRUE;
      /* NULL too: calls that came with our activation wait until now */
      session_clipboard_set_system_bus (session->clipboard, session->system_bus);
      session_agent_set_system_bus (session->agent, session->system_bus);
      break;
    case QGA_BUS_NAME_REFUSED:
      g_printerr ("qga-session: %s\n", message);
      quit (session, EXIT_FAILURE);
      break;
    case QGA_BUS_NAME_LOST:
    default:
      g_message ("%s: exiting", message);
      quit (session, EXIT_SUCCESS);
      break;
    }
}

static void
on_session_bus_closed (GDBusConnection *connection, gboolean remote_peer_vanished,
                       GError *error, gpointer user_data)
{
  g_warning ("the session bus connection closed%s%s: exiting", error ? ": " : "",
             error ? error->message : "");
  quit (user_data, EXIT_FAILURE);
}

static gboolean
on_quit_signal (gpointer user_data)
{
  g_message ("signal received: exiting");
  quit (user_data, EXIT_SUCCESS);
  return G_SOURCE_CONTINUE;
}

static gboolean
start (Session *session, GError **error)
{
  session->session_bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, error);
  if (session->session_bus == NULL)
    {
      g_prefix_error (error, "cannot connect to the session bus: ");
      return FALSE;
    }
  g_dbus_connection_set_exit_on_close (session->session_bus, FALSE);
  g_signal_connect (session->session_bus, "closed", G_CALLBACK (on_session_bus_closed), session);

  session->clipboard = session_clipboard_new (session->session_bus,
                                              (guint) session->config.max_clients);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (session->clipboard),
                                         session->session_bus, SESSION_OBJECT_PATH, error))
    return FALSE;
  session->agent = session_agent_new (session->session_bus, (guint) session->config.max_clients);
  session->budget = qga_bus_budget_new (session->session_bus, SESSION_MAX_RELAY_BYTES);
  session_agent_set_bus_budget (session->agent, session->budget);
  session_clipboard_set_bus_budget (session->clipboard, session->budget);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (session->agent),
                                         session->session_bus, SESSION_OBJECT_PATH, error))
    return FALSE;

  system_bus_connect_sync (session);
  session->name = qga_bus_name_own (session->session_bus, SESSION_BUS_NAME, session->config.replace,
                                    on_name_event, session);
  return TRUE;
}

static gboolean
on_grace_over (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Calls to the bridge are cancelled; their callbacks run here, answering
 * the programs that made them, before anything is freed. */
static void
wait_for_calls (Session *session)
{
  gboolean grace_over = FALSE;
  guint grace_id = g_timeout_add (SHUTDOWN_GRACE_MS, on_grace_over, &grace_over);

  while (!grace_over &&
         (session->connecting ||
          (session->clipboard != NULL && !session_clipboard_is_idle (session->clipboard)) ||
          (session->agent != NULL && !session_agent_is_idle (session->agent))))
    g_main_context_iteration (NULL, TRUE);
  if (!grace_over)
    g_source_remove (grace_id);
}

static void
stop (Session *session)
{
  g_clear_pointer (&session->name, qga_bus_name_free);
  if (session->clipboard != NULL)
    session_clipboard_shutdown (session->clipboard);
  if (session->agent != NULL)
    session_agent_shutdown (session->agent);
  g_cancellable_cancel (session->cancellable);
  g_clear_handle_id (&session->reconnect_id, g_source_remove);
  wait_for_calls (session);
  if (session->clipboard != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (session->clipboard));
  if (session->agent != NULL)
    {
      /* a property change waiting to be announced holds a reference */
      g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (session->agent));
      g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (session->agent));
    }
  if (session->system_bus != NULL)
    {
      g_signal_handlers_disconnect_by_data (session->system_bus, session);
      g_dbus_connection_flush_sync (session->system_bus, NULL, NULL);
      g_dbus_connection_close_sync (session->system_bus, NULL, NULL);
    }
  if (session->session_bus != NULL)
    {
      g_signal_handlers_disconnect_by_data (session->session_bus, session);
      g_dbus_connection_flush_sync (session->session_bus, NULL, NULL);
    }
  g_clear_object (&session->clipboard);
  g_clear_object (&session->agent);
  g_clear_object (&session->budget);
  g_clear_object (&session->system_bus);
  g_clear_object (&session->session_bus);
  g_clear_object (&session->cancellable);
  g_clear_pointer (&session->loop, g_main_loop_unref);
}

int
main (int argc, char **argv)
{
  Session session = {
    .config = { .max_clients = SESSION_DEFAULT_MAX_CLIENTS },
    .exit_status = EXIT_SUCCESS,
  };
  g_autoptr(GError) error = NULL;
  gboolean show_version = FALSE;

  setlocale (LC_ALL, "");
  signal (SIGPIPE, SIG_IGN);

  if (!parse_options (&session.config, &argc, &argv, &show_version, &error))
    {
      g_printerr ("qga-session: %s\nTry 'qga-session --help'.\n", error->message);
      return 2;
    }
  if (show_version)
    {
      g_print ("qga-session %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  if (session.config.verbose)
    g_log_set_debug_enabled (TRUE);

  session.loop = g_main_loop_new (NULL, FALSE);
  session.cancellable = g_cancellable_new ();
  g_unix_signal_add (SIGTERM, on_quit_signal, &session);
  g_unix_signal_add (SIGINT, on_quit_signal, &session);

  if (!start (&session, &error))
    {
      g_printerr ("qga-session: %s\n", error->message);
      session.exit_status = EXIT_FAILURE;
    }
  else
    g_main_loop_run (session.loop);

  stop (&session);
  return session.exit_status;
}
