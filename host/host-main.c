/* host-main.c: qga-host, the host side of the qga-bridge port.
 *
 * Options, the four modes (serve, call, event, sync) and the main loop.
 * The control lines read from stdin while serving are in host-control.c.
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "host-connect.h"
#include "host-control.h"
#include "host-peer.h"
#include "qga-stream.h"
#include "qga-wire.h"

#define EXIT_USAGE 2
#define MIN_MESSAGE_SIZE 64
#define MAX_MESSAGE_SIZE (G_GINT64_CONSTANT (1) << 30)

typedef enum {
  MODE_SERVE,
  MODE_CALL,
  MODE_EVENT,
  MODE_SYNC,
} Mode;

/* Where a one-shot command is; decides what a timeout or a drop means. */
typedef enum {
  STAGE_CONNECTING,
  STAGE_SYNCING,
  STAGE_CALLING,
  STAGE_DRAINING,
  STAGE_DONE,
} Stage;

typedef struct {
  char *socket_path;
  gboolean listen;
  double timeout;
  gint64 max_message_size;
  gboolean verbose;
  gboolean version;
} Options;

typedef struct {
  Options options;
  Mode mode;
  char *name;               /* call: the command; event: the event */
  JsonNode *payload;        /* call: arguments; event: data; NULL: none */

  GMainLoop *loop;
  HostConnector *connector;
  HostPeer *peer;
  HostControl *control;
  guint signal_sources[2];
  int exit_status;
  gboolean stdout_failed;

  Stage stage;              /* one-shot */
  gint64 sync_id;
  gint64 call_id;
  guint timeout_source;
} App;

static gboolean debug_enabled;

/* --- logging: everything to stderr, as stdout carries the data --- */

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  g_autofree char *line = NULL;

  if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) && !debug_enabled)
    return G_LOG_WRITER_HANDLED;
  line = g_log_writer_format_fields (level, fields, n_fields,
                                     g_log_writer_supports_color (STDERR_FILENO));
  fprintf (stderr, "%s\n", line);
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

static void
setup_logging (gboolean verbose)
{
  const char *domains = g_getenv ("G_MESSAGES_DEBUG");

  debug_enabled = verbose ||
                  (domains != NULL && (strstr (domains, "all") != NULL ||
                                       strstr (domains, G_LOG_DOMAIN) != NULL));
  g_log_set_writer_func (log_writer, NULL, NULL);
}

/* --- output --- */

static void
print_json_line (App *app, JsonNode *node)
{
  g_autofree char *text = qga_wire_to_string (node);

  if (app->stdout_failed)
    return;
  if (fputs (text, stdout) == EOF || fputc ('\n', stdout) == EOF || fflush (stdout) == EOF)
    {
      app->stdout_failed = TRUE;
      g_warning ("cannot write to stdout: %s; no more output", g_strerror (errno));
    }
}

static void
finish (App *app, int status)
{
  app->exit_status = status;
  app->stage = STAGE_DONE;
  g_main_loop_quit (app->loop);
}

static void G_GNUC_PRINTF (3, 4)
fail (App *app, int status, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "qga-host: %s\n", message);
  finish (app, status);
}

/* --- the connection --- */

static void
drop_peer (App *app)
{
  if (app->peer == NULL)
    return;
  g_signal_handlers_disconnect_by_data (app->peer, app);
  host_peer_close (app->peer);
  g_clear_object (&app->peer);
}

static void peer_closed_cb (HostPeer *peer, GError *error, gpointer user_data);
static void serve_reply_cb (HostPeer *peer, JsonNode *message, gpointer user_data);
static void serve_event_cb (HostPeer *peer, JsonNode *message, gpointer user_data);
static void oneshot_reply_cb (HostPeer *peer, JsonNode *message, gpointer user_data);
static void oneshot_drained_cb (HostPeer *peer, gpointer user_data);
static void oneshot_start_sync (App *app);

static void
connected_cb (HostConnector *connector, int fd, gpointer user_data)
{
  App *app = user_data;

  if (app->stage == STAGE_DONE)
    {
      close (fd);
      return;
    }
  app->peer = host_peer_new (fd, app->options.max_message_size);
  g_signal_connect (app->peer, "closed", G_CALLBACK (peer_closed_cb), app);
  if (app->mode == MODE_SERVE)
    {
      g_message ("guest connected on %s", host_connector_get_path (connector));
      g_signal_connect (app->peer, "reply", G_CALLBACK (serve_reply_cb), app);
      g_signal_connect (app->peer, "event", G_CALLBACK (serve_event_cb), app);
      return;
    }
  g_debug ("connected on %s", host_connector_get_path (connector));
  g_signal_connect (app->peer, "reply", G_CALLBACK (oneshot_reply_cb), app);
  g_signal_connect (app->peer, "drained", G_CALLBACK (oneshot_drained_cb), app);
  oneshot_start_sync (app);
}

static void
peer_closed_cb (HostPeer *peer, GError *error, gpointer user_data)
{
  App *app = user_data;
  const char *reason = error != NULL ? error->message : "end of file";

  drop_peer (app);
  host_connector_release (app->connector);
  if (app->mode == MODE_SERVE)
    {
      g_message ("guest disconnected (%s)", reason);
      return;
    }
  switch (app->stage)
    {
    case STAGE_SYNCING:
      /* Nothing was sent but the sync: safe to connect again and redo it. */
      g_debug ("connection lost during the sync (%s); reconnecting", reason);
      app->stage = STAGE_CONNECTING;
      break;
    case STAGE_CALLING:
      fail (app, EXIT_FAILURE, "the connection to the guest closed before the reply to %s (%s)",
            app->name, reason);
      break;
    case STAGE_DRAINING:
      fail (app, EXIT_FAILURE, "the connection to the guest closed before the event was written (%s)",
            reason);
      break;
    case STAGE_CONNECTING:
    case STAGE_DONE:
    default:
      break;
    }
}

/* --- serve mode --- */

static void
serve_reply_cb (HostPeer *peer, JsonNode *message, gpointer user_data)
{
  print_json_line (user_data, message);
}

static void
serve_event_cb (HostPeer *peer, JsonNode *message, gpointer user_data)
{
  print_json_line (user_data, message);
}

static HostPeer *
get_peer (gpointer user_data)
{
  App *app = user_data;

  return app->peer;
}

/* --- one-shot modes --- */

static void
oneshot_synced (App *app)
{
  g_autoptr(GError) error = NULL;

  g_debug ("synced with the guest (id %" G_GINT64_FORMAT ")", app->sync_id);
  switch (app->mode)
    {
    case MODE_SYNC:
      printf ("%" G_GINT64_FORMAT "\n", app->sync_id);
      fflush (stdout);
      finish (app, EXIT_SUCCESS);
      break;
    case MODE_CALL:
      app->stage = STAGE_CALLING;
      app->call_id = g_random_int_range (1, G_MAXINT32);
      if (!host_peer_send_command (app->peer, app->name, app->payload, app->call_id, &error))
        fail (app, EXIT_FAILURE, "cannot send %s: %s", app->name, error->message);
      break;
    case MODE_EVENT:
      app->stage = STAGE_DRAINING;
      if (!host_peer_send_event (app->peer, app->name, app->payload, &error))
        fail (app, EXIT_FAILURE, "cannot send event %s: %s", app->name, error->message);
      else if (host_peer_is_drained (app->peer))
        finish (app, EXIT_SUCCESS);
      break;
    case MODE_SERVE:
    default:
      g_assert_not_reached ();
    }
}

static void
oneshot_start_sync (App *app)
{
  g_autoptr(GError) error = NULL;

  app->stage = STAGE_SYNCING;
  app->sync_id = g_random_int_range (1, G_MAXINT32);
  /* If this fails the stream is closing and "closed" will restart us. */
  if (!host_peer_send_sync (app->peer, app->sync_id, &error))
    g_debug ("cannot send guest-sync-delimited: %s", error->message);
}

static gboolean
is_int_equal (JsonNode *node, gint64 value)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_INT64 &&
         json_node_get_int (node) == value;
}

static void
oneshot_print_error (App *app, JsonObject *reply)
{
  JsonNode *error = json_object_get_member (reply, "error");
  JsonObject *object = JSON_NODE_HOLDS_OBJECT (error) ? json_node_get_object (error) : NULL;
  JsonNode *error_class = object != NULL ? json_object_get_member (object, "class") : NULL;
  JsonNode *desc = object != NULL ? json_object_get_member (object, "desc") : NULL;

  if (error_class == NULL || desc == NULL ||
      json_node_get_value_type (error_class) != G_TYPE_STRING ||
      json_node_get_value_type (desc) != G_TYPE_STRING)
    {
      fail (app, EXIT_FAILURE, "InvalidReply: the guest sent a malformed error reply");
      return;
    }
  fail (app, EXIT_FAILURE, "%s: %s", json_node_get_string (error_class), json_node_get_string (desc));
}

static void
oneshot_reply_cb (HostPeer *peer, JsonNode *message, gpointer user_data)
{
  App *app = user_data;
  JsonObject *reply = json_node_get_object (message);
  gint64 id;

  if (app->stage == STAGE_SYNCING)
    {
      if (is_int_equal (json_object_get_member (reply, "return"), app->sync_id))
        oneshot_synced (app);
      else
        g_debug ("skipping a reply while syncing");
      return;
    }
  if (app->stage != STAGE_CALLING || !qga_wire_get_int_id (reply, &id) || id != app->call_id)
    {
      g_debug ("ignoring an unrelated reply");
      return;
    }
  if (json_object_has_member (reply, "return"))
    {
      print_json_line (app, json_object_get_member (reply, "return"));
      finish (app, app->stdout_failed ? EXIT_FAILURE : EXIT_SUCCESS);
    }
  else
    oneshot_print_error (app, reply);
}

static void
oneshot_drained_cb (HostPeer *peer, gpointer user_data)
{
  App *app = user_data;

  if (app->stage == STAGE_DRAINING)
    finish (app, EXIT_SUCCESS);
}

static gboolean
oneshot_timeout_cb (gpointer user_data)
{
  App *app = user_data;
  const char *path = app->options.socket_path;
  double seconds = app->options.timeout;
  const GError *last_error = host_connector_get_last_error (app->connector);

  app->timeout_source = 0;
  switch (app->stage)
    {
    case STAGE_CONNECTING:
      if (host_connector_is_listening (app->connector))
        fail (app, EXIT_FAILURE, "timed out after %g s waiting for the guest to connect on %s",
              seconds, path);
      else if (last_error != NULL)
        fail (app, EXIT_FAILURE, "timed out after %g s: %s", seconds, last_error->message);
      else
        fail (app, EXIT_FAILURE, "timed out after %g s connecting to %s", seconds, path);
      break;
    case STAGE_SYNCING:
      fail (app, EXIT_FAILURE, "timed out after %g s waiting for the guest to answer guest-sync-delimited",
            seconds);
      break;
    case STAGE_CALLING:
      fail (app, EXIT_FAILURE, "timed out after %g s waiting for the reply to %s", seconds, app->name);
      break;
    case STAGE_DRAINING:
      fail (app, EXIT_FAILURE, "timed out after %g s writing the event to the guest", seconds);
      break;
    case STAGE_DONE:
    default:
      break;
    }
  return G_SOURCE_REMOVE;
}

/* --- options and main --- */

static gboolean
quit_signal_cb (gpointer user_data)
{
  App *app = user_data;

  if (app->mode == MODE_SERVE)
    {
      g_message ("stopping");
      finish (app, EXIT_SUCCESS);
    }
  else
    fail (app, EXIT_FAILURE, "interrupted");
  return G_SOURCE_CONTINUE;
}

static void G_GNUC_PRINTF (1, 2)
usage_error (const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "qga-host: %s\nTry 'qga-host --help' for more information.\n", message);
}

static gboolean
check_options (Options *options)
{
  if (options->socket_path == NULL)
    {
      usage_error ("--socket=PATH is required");
      return FALSE;
    }
  if (!isfinite (options->timeout) || options->timeout <= 0)
    {
      usage_error ("--timeout must be a positive number of seconds");
      return FALSE;
    }
  if (options->max_message_size < MIN_MESSAGE_SIZE || options->max_message_size > MAX_MESSAGE_SIZE)
    {
      usage_error ("--max-message-size must be between %d and %" G_GINT64_FORMAT " bytes",
                   MIN_MESSAGE_SIZE, MAX_MESSAGE_SIZE);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_payload (App *app, const char *text, const char *what)
{
  g_autoptr(GError) error = NULL;

  app->payload = qga_wire_parse_object (text, app->options.max_message_size, &error);
  if (app->payload == NULL)
    usage_error ("invalid %s: %s", what, error->message);
  return app->payload != NULL;
}

/* args are the words after the options; args[0] is the command, if any. */
static gboolean
parse_command (App *app, char **args)
{
  guint n = args != NULL ? g_strv_length (args) : 0;
  const char *command = n > 0 ? args[0] : "serve";

  if (g_str_equal (command, "serve") || g_str_equal (command, "sync"))
    {
      app->mode = g_str_equal (command, "serve") ? MODE_SERVE : MODE_SYNC;
      if (n > 1)
        {
          usage_error ("%s takes no arguments", command);
          return FALSE;
        }
      return TRUE;
    }
  if (g_str_equal (command, "call") || g_str_equal (command, "event"))
    {
      gboolean call = g_str_equal (command, "call");

      app->mode = call ? MODE_CALL : MODE_EVENT;
      if (n < 2 || n > 3)
        {
          usage_error (call ? "usage: call COMMAND [ARGS_JSON]" : "usage: event NAME [DATA_JSON]");
          return FALSE;
        }
      app->name = g_strdup (args[1]);
      if (call && !qga_wire_command_name_is_valid (app->name, "guest-"))
        {
          usage_error ("invalid command name '%s' (expected guest-[a-z0-9-]+)", app->name);
          return FALSE;
        }
      if (!call && !qga_wire_event_name_is_valid (app->name))
        {
          usage_error ("invalid event name '%s' (expected [A-Z][A-Z0-9_]*)", app->name);
          return FALSE;
        }
      if (n == 3)
        return parse_payload (app, args[2], call ? "ARGS_JSON" : "DATA_JSON");
      if (!call)
        return parse_payload (app, "", "DATA_JSON");
      return TRUE;
    }
  usage_error ("unknown command '%s'", command);
  return FALSE;
}

static const char description[] =
  "Commands:\n"
  "  serve                       Serve the guest until SIGINT or SIGTERM (the default):\n"
  "                              answer its host-* commands, print its events and the\n"
  "                              replies to our commands on stdout, one JSON object a\n"
  "                              line, and read control lines from stdin:\n"
  "                                event NAME [DATA_JSON]\n"
  "                                call COMMAND [ARGS_JSON]\n"
  "                                raw TEXT\n"
  "                                sync\n"
  "  call COMMAND [ARGS_JSON]    Sync with the guest, run one guest-* command and print\n"
  "                              its return value as JSON on stdout.\n"
  "  event NAME [DATA_JSON]      Sync with the guest and send it one event.\n"
  "  sync                        Run guest-sync-delimited and print the sync id.\n"
  "\n"
  "Host commands answered for the guest: host-ping, host-info, host-echo.\n"
  "\n"
  "Exit status: 0 on success, 1 on an error reply, a timeout or a connection\n"
  "failure, 2 on a usage error.\n";

static gboolean
parse_options (App *app, int *argc, char ***argv)
{
  Options *o = &app->options;
  const GOptionEntry entries[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &o->socket_path,
      "The unix socket of the port's chardev (required)", "PATH" },
    { "listen", 'l', 0, G_OPTION_ARG_NONE, &o->listen,
      "Create and listen on PATH instead of connecting to it", NULL },
    { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &o->timeout,
      "Give up a one-shot command after SECONDS, connecting included (default 10)", "SECONDS" },
    { "max-message-size", 0, 0, G_OPTION_ARG_INT64, &o->max_message_size,
      "Largest message accepted from the guest (default 8 MiB)", "BYTES" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose, "Log debug messages", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &o->version, "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("[COMMAND [ARG...]]");
  g_autoptr(GError) error = NULL;

  g_option_context_set_summary (context,
    "The host side of qga-bridge: speaks the qemu-ga wire protocol to the guest\n"
    "over the unix socket of a virtio-serial port's chardev.");
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      usage_error ("%s", error->message);
      return FALSE;
    }
  return TRUE;
}

static void
app_clear (App *app)
{
  for (gsize i = 0; i < G_N_ELEMENTS (app->signal_sources); i++)
    g_clear_handle_id (&app->signal_sources[i], g_source_remove);
  g_clear_handle_id (&app->timeout_source, g_source_remove);
  g_clear_pointer (&app->control, host_control_free);
  drop_peer (app);
  g_clear_object (&app->connector);
  g_clear_pointer (&app->loop, g_main_loop_unref);
  g_clear_pointer (&app->payload, json_node_unref);
  g_clear_pointer (&app->name, g_free);
  g_clear_pointer (&app->options.socket_path, g_free);
}

static int
run (App *app)
{
  g_autoptr(GError) error = NULL;

  app->connector = host_connector_new (app->options.socket_path, app->options.listen, &error);
  if (app->connector == NULL)
    {
      fprintf (stderr, "qga-host: %s\n", error->message);
      return EXIT_FAILURE;
    }
  app->loop = g_main_loop_new (NULL, FALSE);
  app->signal_sources[0] = g_unix_signal_add (SIGINT, quit_signal_cb, app);
  app->signal_sources[1] = g_unix_signal_add (SIGTERM, quit_signal_cb, app);
  g_signal_connect (app->connector, "connected", G_CALLBACK (connected_cb), app);

  if (app->mode == MODE_SERVE)
    app->control = host_control_new (STDIN_FILENO, app->options.max_message_size, get_peer, app);
  else
    {
      double ms = ceil (app->options.timeout * 1000);

      app->timeout_source = g_timeout_add (ms >= G_MAXUINT ? G_MAXUINT : MAX ((guint) ms, 1),
                                           oneshot_timeout_cb, app);
    }
  host_connector_start (app->connector);
  g_main_loop_run (app->loop);
  return app->exit_status;
}

int
main (int argc, char *argv[])
{
  App app = {
    .options = {
      .timeout = 10,
      .max_message_size = QGA_STREAM_DEFAULT_MAX_MESSAGE_SIZE,
    },
  };
  int status;

  setlocale (LC_ALL, "");
  /* A guest that goes away must not kill us through a write. */
  signal (SIGPIPE, SIG_IGN);
  if (!parse_options (&app, &argc, &argv))
    {
      app_clear (&app);
      return EXIT_USAGE;
    }
  if (app.options.version)
    {
      printf ("qga-host %s\n", PACKAGE_VERSION);
      app_clear (&app);
      return EXIT_SUCCESS;
    }
  setup_logging (app.options.verbose);
  if (!check_options (&app.options) || !parse_command (&app, argv + 1))
    {
      app_clear (&app);
      return EXIT_USAGE;
    }
  status = run (&app);
  app_clear (&app);
  return status;
}
