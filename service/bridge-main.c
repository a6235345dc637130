/* bridge-main.c: qga-bridge, the guest side of a bidirectional QEMU guest agent. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "bridge-agent.h"
#include "bridge-channel.h"
#include "bridge-clients.h"
#include "bridge-clipboard.h"
#include "bridge-sessions.h"
#include "bridge-sessions-object.h"
#include "bridge-config.h"
#include "bridge-dispatcher.h"
#include "qga-bus-name.h"
#include "qga-error.h"
#include "qga-stream.h"
#include "qga-transfer.h"

typedef struct {
  BridgeConfig config;
  GMainLoop *loop;
  int exit_status;
  GDBusConnection *connection;
  BridgeChannel *channel;
  BridgeDispatcher *dispatcher;
  BridgeClients *clients;
  BridgeAgent *agent;
  BridgeSessions *sessions;
  BridgeStats *stats;
  BridgeClipboard *clipboard;
  BridgeSessionsObject *sessions_object;
  QgaBusBudget *budget;
  BridgeAdmission *admission;
  QgaBusName *name;
} Bridge;

static void
quit (Bridge *bridge, int status)
{
  bridge->exit_status = status;
  g_main_loop_quit (bridge->loop);
}

static gboolean
parse_bus (const char *option, const char *value, gpointer data, GError **error)
{
  BridgeConfig *config = data;

  if (g_str_equal (value, "system"))
    config->bus_type = G_BUS_TYPE_SYSTEM;
  else if (g_str_equal (value, "session"))
    config->bus_type = G_BUS_TYPE_SESSION;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--bus must be 'system' or 'session', not '%s'", value);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_config (const BridgeConfig *config, gint64 max_message_size, gint64 max_queue_size,
              gint max_pending, gint max_call_rate, gint host_window, gint max_clients,
              gint max_agents, gint64 max_clipboard_size,
              GError **error)
{
  const char *problem = NULL;

  if (!(config->request_timeout > 0 && config->request_timeout <= 24 * 3600))
    problem = "--request-timeout must be between 0 and 86400 seconds";
  else if (!(config->clipboard_timeout >= 0.1 && config->clipboard_timeout <= 3600))
    problem = "--clipboard-timeout must be between 0.1 and 3600 seconds";
  else if (max_message_size < 1024 || max_message_size > G_GINT64_CONSTANT (1) << 30)
    problem = "--max-message-size must be between 1 KiB and 1 GiB";
  else if (max_queue_size < max_message_size || max_queue_size > G_GINT64_CONSTANT (4) << 30)
    problem = "--max-queue-size must be at least --max-message-size and at most 4 GiB";
  else if (max_pending < 1 || max_pending > 65536)
    problem = "--max-pending must be between 1 and 65536";
  else if (max_call_rate < 0 || max_call_rate > 10000000)
    problem = "--max-call-rate must be between 0 (no limit) and 10000000";
  else if (host_window < 1 || host_window > 65536)
    problem = "--host-window must be between 1 and 65536";
  else if (max_clients < 1 || max_clients > 65536)
    problem = "--max-clients must be between 1 and 65536";
  else if (max_agents < 1 || max_agents > 1024)
    problem = "--max-agents must be between 1 and 1024";
  else if (max_clipboard_size < 1 || max_clipboard_size > G_GINT64_CONSTANT (4) << 30)
    problem = "--max-clipboard-size must be between 1 byte and 4 GiB";
  if (problem != NULL)
    g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, problem);
  return problem == NULL;
}

static gboolean
parse_options (BridgeConfig *config, int *argc, char ***argv, gboolean *show_version,
               GError **error)
{
  gint64 max_message_size = QGA_STREAM_DEFAULT_MAX_MESSAGE_SIZE;
  gint64 max_queue_size = QGA_STREAM_DEFAULT_MAX_QUEUE_SIZE;
  gint max_pending = 64, max_clients = 256, max_agents = BRIDGE_DEFAULT_MAX_AGENTS;
  gint host_window = BRIDGE_DEFAULT_HOST_WINDOW;
  gint max_call_rate = BRIDGE_DEFAULT_MAX_CALL_RATE;
  gint64 max_clipboard_size = QGA_CLIPBOARD_DEFAULT_MAX_SIZE;
  const GOptionEntry entries[] = {
    { "bus", 0, 0, G_OPTION_ARG_CALLBACK, parse_bus,
      "The bus to serve org.qemu.GuestAgent on: system (default) or session", "BUS" },
    { "channel", 0, 0, G_OPTION_ARG_FILENAME, &config->channel_spec,
      "The port: a character device, or unix:PATH (default " BRIDGE_DEFAULT_CHANNEL ")", "SPEC" },
    { "request-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &config->request_timeout,
      "Seconds to wait for the host's reply to a request (default 30)", "SECONDS" },
    { "max-message-size", 0, 0, G_OPTION_ARG_INT64, &max_message_size,
      "Largest message accepted from the host or a D-Bus caller (default 8 MiB)", "BYTES" },
    { "max-queue-size", 0, 0, G_OPTION_ARG_INT64, &max_queue_size,
      "Most bytes queued to the host, of Call arguments awaiting replies, and of messages awaiting the bus (default 32 MiB)", "BYTES" },
    { "max-pending", 0, 0, G_OPTION_ARG_INT, &max_pending,
      "Most requests in flight per D-Bus client (default 64)", "N" },
    { "max-call-rate", 0, 0, G_OPTION_ARG_INT, &max_call_rate,
      "Most requests a second per D-Bus client while it has others in flight, on average; "
      "0 for no limit (default 2000)", "N" },
    { "host-window", 0, 0, G_OPTION_ARG_INT, &host_window,
      "Most requests of one D-Bus client sent to the host at once; the rest wait "
      "in the bridge, in order (default 8)", "N" },
    { "max-clients", 0, 0, G_OPTION_ARG_INT, &max_clients,
      "Most D-Bus clients tracked at once (default 256)", "N" },
    { "max-agents", 0, 0, G_OPTION_ARG_INT, &max_agents,
      "Most session agents registered at once (default 16)", "N" },
    { "max-clipboard-size", 0, 0, G_OPTION_ARG_INT64, &max_clipboard_size,
      "Largest clipboard content sent or accepted (default 256 MiB)", "BYTES" },
    { "clipboard-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &config->clipboard_timeout,
      "Cancel a clipboard transfer after SECONDS without progress (default 30)", "SECONDS" },
    { "replace", 'r', 0, G_OPTION_ARG_NONE, &config->replace,
      "Replace a running instance", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &config->verbose,
      "Log debug messages", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, show_version,
      "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- QEMU guest agent bridge");
  GOptionGroup *group = g_option_group_new ("bridge", "", "", config, NULL);

  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);
  g_option_context_set_summary (context,
    "Speaks the QEMU guest agent wire protocol on a virtio-serial port in both\n"
    "directions, and offers the guest's side to programs over D-Bus as\n"
    "org.qemu.GuestAgent at /org/qemu/GuestAgent.");
  g_option_context_set_description (context,
    "The host may send guest-sync, guest-sync-delimited, guest-ping, guest-info\n"
    "and guest-clipboard-request.\n"
    "Guest programs call Ping, GetHostInfo, Call and SendEvent, and receive\n"
    "HostEvent signals. Session agents (qga-session) register through\n"
    "org.qemu.GuestAgent.Sessions to sync the active session's clipboard.\n"
    "See qga-bridge(8) and docs/ in the source tree.\n");
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "unexpected argument '%s'", (*argv)[1]);
      return FALSE;
    }
  if (!check_config (config, max_message_size, max_queue_size, max_pending, max_call_rate,
                     host_window, max_clients, max_agents, max_clipboard_size, error))
    return FALSE;
  config->max_agents = max_agents;
  config->max_clipboard_size = max_clipboard_size;
  config->max_message_size = max_message_size;
  config->max_queue_size = max_queue_size;
  config->max_pending = max_pending;
  config->max_call_rate = max_call_rate;
  config->host_window = host_window;
  config->max_clients = max_clients;
  if (config->channel_spec == NULL)
    config->channel_spec = g_strdup (BRIDGE_DEFAULT_CHANNEL);
  return TRUE;
}

static void
on_name_event (QgaBusNameEvent event, const char *message, gpointer user_data)
{
  Bridge *bridge = user_data;

  switch (event)
    {
    case QGA_BUS_NAME_ACQUIRED:
      g_message ("serving %s on the %s bus, channel %s", BRIDGE_BUS_NAME,
                 bridge->config.bus_type == G_BUS_TYPE_SYSTEM ? "system" : "session",
                 bridge->config.channel_spec);
      bridge_channel_start (bridge->channel);
      break;
    case QGA_BUS_NAME_REFUSED:
      g_printerr ("qga-bridge: %s\n", message);
      quit (bridge, EXIT_FAILURE);
      break;
    case QGA_BUS_NAME_LOST:
    default:
      g_message ("%s: exiting", message);
      quit (bridge, EXIT_SUCCESS);
      break;
    }
}

static void
on_bus_closed (GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
               gpointer user_data)
{
  g_warning ("the bus connection closed%s%s: exiting", error ? ": " : "",
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

/* The bus is not taking what the host's messages become: the host waits. */
static void
on_bus_hold_changed (QgaBusBudget *budget, gboolean hold, gpointer user_data)
{
  Bridge *bridge = user_data;

  if (hold)
    g_info ("%" G_GSIZE_FORMAT " bytes waiting to go to the bus: holding the port's input",
            qga_bus_budget_get_unconfirmed (budget));
  else
    g_info ("the bus caught up: reading the port again");
  bridge_channel_hold_reads (bridge->channel, hold);
}

static gboolean
start (Bridge *bridge, GError **error)
{
  bridge->connection = g_bus_get_sync (bridge->config.bus_type, NULL, error);
  if (bridge->connection == NULL)
    return FALSE;
  g_dbus_connection_set_exit_on_close (bridge->connection, FALSE);
  g_signal_connect (bridge->connection, "closed", G_CALLBACK (on_bus_closed), bridge);

  bridge->dispatcher = bridge_dispatcher_new (bridge->channel, bridge->config.request_timeout,
                                              bridge->config.max_message_size);
  bridge_dispatcher_set_window (bridge->dispatcher, bridge->config.host_window);
  bridge->budget = qga_bus_budget_new (bridge->connection, bridge->config.max_queue_size);
  g_signal_connect (bridge->budget, "hold-changed", G_CALLBACK (on_bus_hold_changed), bridge);
  /* before the object is exported: every counted call passes the filter */
  bridge->admission = bridge_admission_new (bridge->connection, bridge->config.max_pending,
                                            bridge->config.max_call_rate);
  bridge->clients = bridge_clients_new (bridge->connection, bridge->config.max_clients,
                                        bridge->config.max_pending);
  bridge->stats = bridge_stats_new (bridge->connection, bridge->channel, bridge->dispatcher,
                                    bridge->config.max_clients);
  bridge->agent = bridge_agent_new (&bridge->config, bridge->channel, bridge->dispatcher,
                                    bridge->clients, bridge->stats, bridge->budget);
  bridge_agent_set_admission (bridge->agent, bridge->admission);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (bridge->agent),
                                         bridge->connection, BRIDGE_OBJECT_PATH, error))
    return FALSE;

  bridge->sessions = bridge_sessions_new (bridge->connection, bridge->config.max_agents);
  bridge->clipboard = bridge_clipboard_new (bridge->channel, bridge->dispatcher, bridge->sessions,
                                            bridge->config.max_clipboard_size);
  bridge_clipboard_set_transfer_timeout (bridge->clipboard,
                                         (guint) (bridge->config.clipboard_timeout * 1000));
  bridge->sessions_object = bridge_sessions_object_new (bridge->sessions, bridge->clipboard,
                                                        bridge->budget);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (bridge->sessions_object),
                                         bridge->connection, BRIDGE_OBJECT_PATH, error))
    return FALSE;

  bridge->name = qga_bus_name_own (bridge->connection, BRIDGE_BUS_NAME, bridge->config.replace,
                                   on_name_event, bridge);
  return TRUE;
}

/* Answer every pending call before the connection goes, then free all. */
static void
stop (Bridge *bridge)
{
  g_clear_pointer (&bridge->name, qga_bus_name_free);
  if (bridge->dispatcher != NULL)
    {
      g_autoptr(GError) error = g_error_new_literal (QGA_ERROR, QGA_ERROR_CANCELLED,
                                                     "the bridge is shutting down");

      bridge_dispatcher_cancel_all (bridge->dispatcher, error);
    }
  if (bridge->clipboard != NULL)
    g_object_run_dispose (G_OBJECT (bridge->clipboard));   /* answers its D-Bus callers */
  if (bridge->sessions_object != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (bridge->sessions_object));
  if (bridge->agent != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (bridge->agent));
  if (bridge->connection != NULL)
    {
      g_signal_handlers_disconnect_by_data (bridge->connection, bridge);
      g_dbus_connection_flush_sync (bridge->connection, NULL, NULL);
    }
  g_clear_object (&bridge->sessions_object);
  g_clear_object (&bridge->budget);
  g_clear_object (&bridge->clipboard);
  g_clear_object (&bridge->sessions);
  g_clear_object (&bridge->agent);
  g_clear_pointer (&bridge->admission, bridge_admission_free);
  g_clear_object (&bridge->stats);
  g_clear_object (&bridge->clients);
  g_clear_object (&bridge->dispatcher);
  g_clear_object (&bridge->channel);
  g_clear_object (&bridge->connection);
  g_clear_pointer (&bridge->loop, g_main_loop_unref);
  g_free (bridge->config.channel_spec);
}

int
main (int argc, char **argv)
{
  Bridge bridge = {
    .config = { .bus_type = G_BUS_TYPE_SYSTEM, .request_timeout = 30.0,
                .clipboard_timeout = QGA_TRANSFER_TIMEOUT_MS / 1000.0 },
    .exit_status = EXIT_SUCCESS,
  };
  g_autoptr(GError) error = NULL;
  gboolean show_version = FALSE;

  /* No setlocale(): like qemu-ga, the bridge runs in the C locale. It has
   * no translations, its numbers on the wire must not follow a locale,
   * and the user's locale would map its character tables for nothing
   * (168 KiB of its 6 MiB idle RSS; docs/PERFORMANCE.md, "Memory").
   * --channel is a file name, taken as given. */
  bridge_channel_block_sigio ();
  signal (SIGPIPE, SIG_IGN);

  if (!parse_options (&bridge.config, &argc, &argv, &show_version, &error))
    {
      g_printerr ("qga-bridge: %s\nTry 'qga-bridge --help'.\n", error->message);
      g_free (bridge.config.channel_spec);
      return 2;
    }
  if (show_version)
    {
      g_print ("qga-bridge %s\n", PACKAGE_VERSION);
      g_free (bridge.config.channel_spec);
      return EXIT_SUCCESS;
    }
  if (bridge.config.verbose)
    g_log_set_debug_enabled (TRUE);

  bridge.channel = bridge_channel_new (bridge.config.channel_spec, bridge.config.max_message_size,
                                       bridge.config.max_queue_size, &error);
  if (bridge.channel == NULL)
    {
      g_printerr ("qga-bridge: %s\nTry 'qga-bridge --help'.\n", error->message);
      g_free (bridge.config.channel_spec);
      return 2;
    }

  bridge.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_quit_signal, &bridge);
  g_unix_signal_add (SIGINT, on_quit_signal, &bridge);

  if (!start (&bridge, &error))
    {
      g_printerr ("qga-bridge: %s\n", error->message);
      bridge.exit_status = EXIT_FAILURE;
    }
  else
    g_main_loop_run (bridge.loop);

  stop (&bridge);
  return bridge.exit_status;
}
