/* host-main.c: qga-host, the host side of the qga-bridge port.
 *
 * Options, the modes (serve, call, event, sync, clipboard get/set/watch)
 * and the main loop. The control lines read from stdin while serving are
 * in host-control.c, the clipboard's state and transfers in
 * host-clipboard.c, the host stats and the allow-list in host-stats.c,
 * the QMP client in host-qmp.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "host-clipboard.h"
#include "host-sync-peer.h"
#include "qga-desktop.h"
#include "qga-desktop-sync.h"
#include "qga-transfer.h"
#include "host-connect.h"
#include "host-control.h"
#include "host-peer.h"
#include "host-stats.h"
#include "qga-error.h"
#include "qga-log.h"
#include "qga-stream.h"
#include "qga-wire.h"

#define EXIT_USAGE 2
#define MIN_MESSAGE_SIZE 64
#define MAX_MESSAGE_SIZE (G_GINT64_CONSTANT (1) << 30)
#define MAX_CLIPBOARD_SIZE (G_GINT64_CONSTANT (4) << 30)
#define DEFAULT_CLIPBOARD_TYPE "text/plain;charset=utf-8"

typedef enum {
  MODE_SERVE,
  MODE_CALL,
  MODE_EVENT,
  MODE_SYNC,
  MODE_CLIPBOARD_GET,
  MODE_CLIPBOARD_SET,
  MODE_CLIPBOARD_WATCH,
  MODE_CLIPBOARD_SYNC,
} Mode;

/* Where a one-shot command (or a clipboard mode) is; decides what a
 * timeout or a drop means. */
typedef enum {
  STAGE_CONNECTING,
  STAGE_SYNCING,
  STAGE_INFO,               /* clipboard: waiting for guest-info */
  STAGE_CALLING,
  STAGE_TRANSFER,           /* clipboard get: the data is coming */
  STAGE_SERVING,            /* clipboard set/watch: connected, synced, capable */
  STAGE_DRAINING,
  STAGE_FLUSHING,           /* the outcome is known: writing what is queued, then exit */
  STAGE_DONE,
} Stage;

typedef struct {
  char *socket_path;
  gboolean listen;
  double timeout;
  gint64 max_message_size;
  gint64 max_clipboard_size;
  double clipboard_timeout;
  char *selection;
  char **types;
  char *qmp_path;
  char *stats_allow;        /* NULL: all fields */
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
  HostClipboard *clipboard;
  HostStats *stats;
  guint stats_allow;
  guint signal_sources[2];
  int exit_status;
  gboolean stdout_failed;

  Stage stage;              /* one-shot and clipboard */
  gint64 sync_id;
  gint64 call_id;
  guint timeout_source;
  int flush_status;         /* STAGE_FLUSHING: the exit status once flushed */

  /* clipboard */
  QgaSelectionId selection;
  char *path;               /* get: the output file; set: the input file; NULL: stdout/stdin */
  int output_fd;            /* get: the output, until complete; -1 */
  gboolean output_created;  /* get: we created path (removed on failure) */
  dev_t output_dev;
  ino_t output_ino;
  int stdout_flags;         /* get to stdout: its flags before, restored; -1 */
  int content_fd;           /* set: the memfd holding stdin's content; -1 */
  /* sync: the host's desktop mirrored with the guest */
  QgaDesktopClipboard *desktop;
  HostSyncPeer *sync_peer;
  QgaDesktopSync *sync;
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
  if (app->loop != NULL)
    g_main_loop_quit (app->loop);
}

static gboolean
is_clipboard_mode (Mode mode)
{
  return mode == MODE_CLIPBOARD_GET || mode == MODE_CLIPBOARD_SET || mode == MODE_CLIPBOARD_WATCH ||
         mode == MODE_CLIPBOARD_SYNC;
}

/* Modes that stay connected, and connect again after a drop. */
static gboolean
is_serving_mode (Mode mode)
{
  return mode == MODE_SERVE || mode == MODE_CLIPBOARD_SET || mode == MODE_CLIPBOARD_WATCH ||
         mode == MODE_CLIPBOARD_SYNC;
}

static gboolean oneshot_timeout_cb (gpointer user_data);

static void
arm_timeout (App *app)
{
  double ms = ceil (app->options.timeout * 1000);

  g_clear_handle_id (&app->timeout_source, g_source_remove);
  app->timeout_source = g_timeout_add (ms >= G_MAXUINT ? G_MAXUINT : MAX ((guint) ms, 1),
                                       oneshot_timeout_cb, app);
}

/* The outcome is status: exit with it once what is queued for the guest
 * is written (the last acknowledgement, a release, a cancel), or the
 * connection closes, or --timeout passes. */
static void
finish_after_flush (App *app, int status)
{
  if (app->peer == NULL || host_peer_is_drained (app->peer))
    {
      finish (app, status);
      return;
    }
  app->stage = STAGE_FLUSHING;
  app->flush_status = status;
  arm_timeout (app);
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
static void oneshot_print_error (App *app, JsonObject *reply);
static void clipboard_info_reply (App *app, JsonObject *reply);

static void
connected_cb (HostConnector *connector, int fd, gpointer user_data)
{
  App *app = user_data;

  if (app->stage == STAGE_DONE)
    {
      close (fd);
      return;
    }
  app->peer = host_peer_new (fd, app->options.max_message_size, app->clipboard, app->stats);
  g_signal_connect (app->peer, "closed", G_CALLBACK (peer_closed_cb), app);
  if (app->mode == MODE_SERVE)
    {
      g_message ("guest connected on %s", host_connector_get_path (connector));
      g_signal_connect (app->peer, "reply", G_CALLBACK (serve_reply_cb), app);
      g_signal_connect (app->peer, "event", G_CALLBACK (serve_event_cb), app);
      return;
    }
  if (is_serving_mode (app->mode))
    g_message ("guest connected on %s", host_connector_get_path (connector));
  else
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
  if (app->stage == STAGE_FLUSHING)
    {
      finish (app, app->flush_status);
      return;
    }
  if (is_serving_mode (app->mode) && app->stage != STAGE_DONE)
    {
      g_message ("guest disconnected (%s)", reason);
      app->stage = STAGE_CONNECTING;
      return;
    }
  switch (app->stage)
    {
    case STAGE_SYNCING:
    case STAGE_INFO:
      /* Nothing was sent but the sync (and guest-info, which changes
       * nothing): safe to connect again and redo it. */
      g_debug ("connection lost during the sync (%s); reconnecting", reason);
      app->stage = STAGE_CONNECTING;
      break;
    case STAGE_CALLING:
      fail (app, EXIT_FAILURE, "the connection to the guest closed before the reply to %s (%s)",
            app->name, reason);
      break;
    case STAGE_TRANSFER:
      fail (app, EXIT_FAILURE, "HostDisconnected: the connection to the guest closed (%s)", reason);
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
    case MODE_CLIPBOARD_GET:
    case MODE_CLIPBOARD_SET:
    case MODE_CLIPBOARD_WATCH:
    case MODE_CLIPBOARD_SYNC:
      app->stage = STAGE_INFO;
      app->call_id = g_random_int_range (1, G_MAXINT32);
      if (!host_peer_send_command (app->peer, "guest-info", NULL, app->call_id, &error))
        g_debug ("cannot send guest-info: %s", error->message);  /* "closed" follows */
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
  if (app->stage == STAGE_INFO && qga_wire_get_int_id (reply, &id) && id == app->call_id)
    {
      clipboard_info_reply (app, reply);
      return;
    }
  if (app->stage != STAGE_CALLING || is_clipboard_mode (app->mode) ||
      !qga_wire_get_int_id (reply, &id) || id != app->call_id)
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
  else if (app->stage == STAGE_FLUSHING)
    finish (app, app->flush_status);
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
    case STAGE_INFO:
      fail (app, EXIT_FAILURE, "Timeout: timed out after %g s waiting for the reply to guest-info",
            seconds);
      break;
    case STAGE_CALLING:
      fail (app, EXIT_FAILURE, "timed out after %g s waiting for the reply to %s", seconds,
            is_clipboard_mode (app->mode) ? QGA_CLIPBOARD_GUEST_REQUEST : app->name);
      break;
    case STAGE_FLUSHING:
      g_debug ("timed out after %g s writing to the guest; exiting anyway", seconds);
      finish (app, app->flush_status);
      break;
    case STAGE_DRAINING:
      fail (app, EXIT_FAILURE, "timed out after %g s writing the event to the guest", seconds);
      break;
    case STAGE_TRANSFER:
    case STAGE_SERVING:
    case STAGE_DONE:
    default:
      break;
    }
  return G_SOURCE_REMOVE;
}

/* --- clipboard modes --- */

/* An error for the user: "CLASS: message", the message cut short (it may
 * quote the guest). */
static void
fail_with_error (App *app, const char *what, const GError *error)
{
  QgaErrorCode code = error->domain == QGA_ERROR ? error->code : QGA_ERROR_GENERIC_ERROR;
  g_autofree char *cut = qga_log_excerpt (error->message, strlen (error->message));

  if (what != NULL)
    fail (app, EXIT_FAILURE, "%s: %s: %s", what, qga_error_class_name (code), cut);
  else
    fail (app, EXIT_FAILURE, "%s: %s", qga_error_class_name (code), cut);
}

static void
print_selection_line (App *app, const char *event, QgaSelectionId selection, guint32 serial,
                      const char *const *types)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, event);
  json_builder_set_member_name (builder, "selection");
  json_builder_add_string_value (builder, qga_clipboard_selection_name (selection));
  json_builder_set_member_name (builder, "serial");
  json_builder_add_int_value (builder, serial);
  if (types != NULL)
    {
      json_builder_set_member_name (builder, "types");
      json_builder_begin_array (builder);
      for (gsize i = 0; types[i] != NULL; i++)
        json_builder_add_string_value (builder, types[i]);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  print_json_line (app, node);
  if (app->stdout_failed)
    fail (app, EXIT_FAILURE, "cannot write to stdout");
}

/* The guest grabbed (types) or released (NULL) a selection. */
static void
clipboard_guest_cb (QgaSelectionId selection, guint32 serial, const char *const *types,
                    gpointer user_data)
{
  App *app = user_data;

  if (app->stage == STAGE_DONE || app->stage == STAGE_FLUSHING)
    return;
  if (app->mode == MODE_CLIPBOARD_SYNC)
    host_sync_peer_guest_changed (app->sync_peer, selection, serial, types);
  else if (app->mode == MODE_CLIPBOARD_WATCH && app->stage == STAGE_SERVING)
    print_selection_line (app, types != NULL ? "grab" : "release", selection, serial, types);
  /* watch prints what stands once guest-info is in; set is done as soon
   * as the guest's grab takes effect (a crossed one does not) */
  else if (app->mode == MODE_CLIPBOARD_SET && types != NULL && selection == app->selection)
    {
      g_message ("the guest grabbed %s (serial %u): done",
                 qga_clipboard_selection_name (selection), serial);
      finish_after_flush (app, EXIT_SUCCESS);
    }
}

/* set: a fresh fd on the content, with its own offset. */
static int
content_source (QgaSelectionId selection, const char *type, gpointer user_data, GError **error)
{
  App *app = user_data;
  g_autofree char *proc_path = NULL;
  const char *path = app->path;
  int fd;

  if (app->content_fd >= 0)
    {
      proc_path = g_strdup_printf ("/proc/self/fd/%d", app->content_fd);
      path = proc_path;
    }
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    {
      int saved = errno;
      g_autofree char *display = g_filename_display_name (app->path != NULL ? app->path : "stdin");

      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR, "cannot open %s: %s",
                   display, g_strerror (saved));
      return -1;
    }
  g_debug ("serving %s as %s", qga_clipboard_selection_name (selection), type);
  return fd;
}

/* set: stdin (or a FILE that is not a regular file) into a memfd, once. */
static gboolean
copy_to_memfd (App *app, int input, const char *name, GError **error)
{
  g_autofree guint8 *buffer = NULL;
  guint64 total = 0;
  int fd = memfd_create ("qga-host-clipboard", MFD_CLOEXEC);

  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create a memfd: %s", g_strerror (saved));
      return FALSE;
    }
  /* Allocated once the memfd exists: scan-build (clang 14) does not see
   * g_autofree's cleanup, and took the return above for a leak. */
  buffer = g_malloc (64 * 1024);
  for (;;)
    {
      ssize_t n = read (input, buffer, 64 * 1024);
      gsize written = 0;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot read %s: %s",
                       name, g_strerror (saved));
          close (fd);
          return FALSE;
        }
      if (n == 0)
        break;
      total += (guint64) n;
      if (total > (guint64) app->options.max_clipboard_size)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                       "%s is over the clipboard's maximum of %" G_GINT64_FORMAT " bytes",
                       name, app->options.max_clipboard_size);
          close (fd);
          return FALSE;
        }
      while (written < (gsize) n)
        {
          ssize_t w = write (fd, buffer + written, (gsize) n - written);

          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0)
            {
              int saved = errno;

              g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                           "cannot store %s: %s", name, g_strerror (saved));
              close (fd);
              return FALSE;
            }
          written += (gsize) w;
        }
    }
  app->content_fd = fd;
  return TRUE;
}

/* set: check FILE now (a regular file is opened again for each request),
 * or take in stdin. */
static gboolean
prepare_content (App *app, GError **error)
{
  g_autofree char *display = NULL;
  struct stat st;
  gboolean ok;
  int fd;

  if (app->path == NULL)
    return copy_to_memfd (app, STDIN_FILENO, "stdin", error);
  display = g_filename_display_name (app->path);
  fd = open (app->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s",
                   display, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      ok = copy_to_memfd (app, fd, display, error);
      close (fd);
      return ok;
    }
  close (fd);
  if ((guint64) st.st_size > (guint64) app->options.max_clipboard_size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "%s is over the clipboard's maximum of %" G_GINT64_FORMAT " bytes",
                   display, app->options.max_clipboard_size);
      return FALSE;
    }
  return TRUE;
}

/* get: the sink. FILE is created (or truncated); the transfer writes to a
 * duplicate, so that a failure can still remove or empty it. */
static int
open_output (App *app, GError **error)
{
  g_autofree char *display = NULL;
  struct stat st;
  int fd;

  if (app->path == NULL)
    {
      fd = fcntl (STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
      if (fd < 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "cannot use stdout: %s", g_strerror (saved));
          return -1;
        }
      /* O_NONBLOCK is shared with whoever else has stdout: put it back after. */
      app->stdout_flags = fcntl (STDOUT_FILENO, F_GETFL);
      return fd;
    }
  display = g_filename_display_name (app->path);
  fd = open (app->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
  if (fd >= 0)
    app->output_created = TRUE;
  else if (errno == EEXIST)
    fd = open (app->path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s",
                   display, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return -1;
    }
  app->output_fd = fd;
  app->output_dev = st.st_dev;
  app->output_ino = st.st_ino;
  fd = fcntl (app->output_fd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s",
                   display, g_strerror (saved));
      return -1;
    }
  return fd;
}

static void
restore_stdout (App *app)
{
  if (app->stdout_flags >= 0)
    fcntl (STDOUT_FILENO, F_SETFL, app->stdout_flags);
  app->stdout_flags = -1;
}

/* get failed: a file we created goes, an existing regular file is left
 * empty, so that no partial content passes for the whole. */
static void
discard_output (App *app)
{
  struct stat st;

  if (app->output_fd < 0)
    return;
  if (app->output_created)
    {
      if (g_lstat (app->path, &st) == 0 && st.st_dev == app->output_dev &&
          st.st_ino == app->output_ino)
        g_unlink (app->path);
    }
  else if (fstat (app->output_fd, &st) == 0 && S_ISREG (st.st_mode))
    {
      if (ftruncate (app->output_fd, 0) < 0)
        g_debug ("cannot empty the output: %s", g_strerror (errno));
    }
  close (app->output_fd);
  app->output_fd = -1;
}

static void
read_started_cb (gpointer user_data)
{
  App *app = user_data;

  if (app->stage != STAGE_CALLING)
    return;
  /* From here on the transfer's own progress timeout applies. */
  app->stage = STAGE_TRANSFER;
  g_clear_handle_id (&app->timeout_source, g_source_remove);
}

static void
read_done_cb (guint64 bytes, const GError *error, gpointer user_data)
{
  App *app = user_data;

  restore_stdout (app);
  if (app->stage == STAGE_DONE || app->stage == STAGE_FLUSHING)
    return;
  if (error != NULL)
    {
      fail_with_error (app, NULL, error);
      return;
    }
  if (app->output_fd >= 0 && close (app->output_fd) < 0)
    {
      int saved = errno;
      g_autofree char *display = g_filename_display_name (app->path);

      app->output_fd = -1;
      fail (app, EXIT_FAILURE, "GenericError: cannot write %s: %s", display, g_strerror (saved));
      return;
    }
  app->output_fd = -1;
  g_debug ("received %" G_GUINT64_FORMAT " bytes", bytes);
  /* The last acknowledgement is queued: let it reach the guest. */
  finish_after_flush (app, EXIT_SUCCESS);
}

static void
clipboard_get_start (App *app)
{
  g_autoptr(GError) error = NULL;
  int sink = open_output (app, &error);

  if (sink < 0)
    {
      fail (app, EXIT_FAILURE, "%s", error->message);
      return;
    }
  app->stage = STAGE_CALLING;
  if (!host_clipboard_read (app->clipboard, app->selection, app->options.types[0], TRUE, sink,
                            read_started_cb, read_done_cb, app, &error))
    {
      restore_stdout (app);
      fail_with_error (app, "cannot send " QGA_CLIPBOARD_GUEST_REQUEST, error);
    }
}

static void
clipboard_info_reply (App *app, JsonObject *reply)
{
  JsonNode *result = json_object_get_member (reply, "return");

  if (result == NULL)
    {
      oneshot_print_error (app, reply);
      return;
    }
  if (!JSON_NODE_HOLDS_OBJECT (result))
    {
      fail (app, EXIT_FAILURE, "InvalidReply: the guest's guest-info did not return an object");
      return;
    }
  if (!host_clipboard_set_guest_info (app->clipboard, json_node_get_object (result)))
    {
      fail (app, EXIT_FAILURE,
            "NotSupported: the guest has no clipboard support (no \"clipboard\" version %d in "
            "its guest-info)", QGA_CLIPBOARD_VERSION);
      return;
    }
  switch (app->mode)
    {
    case MODE_CLIPBOARD_GET:
      clipboard_get_start (app);
      break;
    case MODE_CLIPBOARD_SET:
      g_debug ("offering %s to the guest", qga_clipboard_selection_name (app->selection));
      app->stage = STAGE_SERVING;
      break;
    case MODE_CLIPBOARD_SYNC:
      g_message ("the guest has the clipboard: mirroring");
      app->stage = STAGE_SERVING;
      break;
    case MODE_CLIPBOARD_WATCH:
      app->stage = STAGE_SERVING;
      for (int i = 0; i < QGA_N_SELECTIONS && app->stage == STAGE_SERVING; i++)
        {
          guint32 serial = 0;
          const char *const *types = host_clipboard_get_guest_grab (app->clipboard, i, &serial);

          if (types != NULL)
            print_selection_line (app, "grab", i, serial, types);
        }
      break;
    default:
      g_assert_not_reached ();
    }
}

/* --- options and main --- */

static gboolean
quit_signal_cb (gpointer user_data)
{
  App *app = user_data;

  if (app->stage == STAGE_DONE)
    return G_SOURCE_CONTINUE;
  if (app->stage == STAGE_FLUSHING)
    {
      finish (app, app->flush_status);  /* a second signal: no more waiting */
      return G_SOURCE_CONTINUE;
    }
  if (app->mode == MODE_SERVE || app->mode == MODE_CLIPBOARD_WATCH)
    {
      g_message ("stopping");
      finish (app, EXIT_SUCCESS);
    }
  else if (app->mode == MODE_CLIPBOARD_SET)
    {
      g_message ("stopping: releasing %s", qga_clipboard_selection_name (app->selection));
      host_clipboard_release (app->clipboard, app->selection);
      finish_after_flush (app, EXIT_SUCCESS);
    }
  else if (app->mode == MODE_CLIPBOARD_SYNC)
    {
      g_message ("stopping: releasing the host's grabs");
      qga_desktop_sync_stop (app->sync);
      for (int i = 0; i < QGA_N_SELECTIONS; i++)
        host_clipboard_release (app->clipboard, i);
      finish_after_flush (app, EXIT_SUCCESS);
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
check_options (App *app)
{
  Options *options = &app->options;
  g_autoptr(GError) error = NULL;

  app->stats_allow = HOST_STATS_ALL;
  if (options->stats_allow != NULL &&
      !host_stats_parse_allow (options->stats_allow, &app->stats_allow, &error))
    {
      usage_error ("%s", error->message);
      return FALSE;
    }
  if (options->qmp_path != NULL && *options->qmp_path == '\0')
    {
      usage_error ("--qmp: the PATH is empty");
      return FALSE;
    }
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
  if (options->max_clipboard_size < 1 || options->max_clipboard_size > MAX_CLIPBOARD_SIZE)
    {
      usage_error ("--max-clipboard-size must be between 1 and %" G_GINT64_FORMAT " bytes",
                   MAX_CLIPBOARD_SIZE);
      return FALSE;
    }
  if (!(options->clipboard_timeout >= 0.1 && options->clipboard_timeout <= 3600))
    {
      usage_error ("--clipboard-timeout must be between 0.1 and 3600 seconds");
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

static gboolean
parse_clipboard_command (App *app, char **args, guint n)
{
  Options *o = &app->options;
  const char *sub = n > 1 ? args[1] : NULL;
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (sub, "get") == 0)
    app->mode = MODE_CLIPBOARD_GET;
  else if (g_strcmp0 (sub, "set") == 0)
    app->mode = MODE_CLIPBOARD_SET;
  else if (g_strcmp0 (sub, "watch") == 0)
    app->mode = MODE_CLIPBOARD_WATCH;
  else if (g_strcmp0 (sub, "sync") == 0)
    app->mode = MODE_CLIPBOARD_SYNC;
  else
    {
      usage_error ("usage: clipboard get|set|watch|sync");
      return FALSE;
    }
  if (app->mode == MODE_CLIPBOARD_WATCH || app->mode == MODE_CLIPBOARD_SYNC)
    {
      if (n > 2 || o->selection != NULL || o->types != NULL)
        {
          usage_error ("clipboard %s takes no arguments, --selection or --type", sub);
          return FALSE;
        }
      return TRUE;
    }
  if (n > 3)
    {
      usage_error (app->mode == MODE_CLIPBOARD_GET ? "usage: clipboard get [FILE]"
                                                   : "usage: clipboard set [FILE|-]");
      return FALSE;
    }
  if (n == 3 && *args[2] == '\0')
    {
      usage_error ("the FILE name is empty");
      return FALSE;
    }
  if (n == 3 && !g_str_equal (args[2], "-"))
    app->path = g_strdup (args[2]);
  if (o->selection == NULL)
    o->selection = g_strdup ("clipboard");
  if (!qga_clipboard_selection_from_name (o->selection, &app->selection))
    {
      usage_error ("invalid selection '%s' (expected clipboard or primary)", o->selection);
      return FALSE;
    }
  if (o->types == NULL)
    {
      o->types = g_new0 (char *, 2);
      o->types[0] = g_strdup (DEFAULT_CLIPBOARD_TYPE);
    }
  if (app->mode == MODE_CLIPBOARD_GET && g_strv_length (o->types) != 1)
    {
      usage_error ("clipboard get reads one --type");
      return FALSE;
    }
  if (!qga_clipboard_check_types ((const char *const *) o->types, -1, &error))
    {
      usage_error ("invalid --type: %s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* args are the words after the options; args[0] is the command, if any. */
static gboolean
parse_command (App *app, char **args)
{
  guint n = args != NULL ? g_strv_length (args) : 0;
  const char *command = n > 0 ? args[0] : "serve";

  if (g_str_equal (command, "clipboard"))
    return parse_clipboard_command (app, args, n);
  if (app->options.selection != NULL || app->options.types != NULL)
    {
      usage_error ("--selection and --type are for the clipboard commands");
      return FALSE;
    }

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
  "  clipboard get [FILE]        Read the guest's clipboard (--selection, one --type)\n"
  "                              into FILE (created or truncated) or stdout. Exit 0\n"
  "                              only when the whole content was written.\n"
  "  clipboard set [FILE|-]      Grab the selection on the host side, offering the\n"
  "                              --type(s), and serve FILE's content (or stdin's, read\n"
  "                              once) each time the guest asks; exit 0 when the guest\n"
  "                              grabs the selection, or on SIGINT/SIGTERM (after a\n"
  "                              release). Reconnects like serve.\n"
  "  clipboard watch             Print the guest's grabs and releases on stdout, one\n"
  "                              JSON object a line, until SIGINT or SIGTERM.\n"
  "                              Reconnects like serve.\n"
  "  clipboard sync              Mirror this desktop's clipboard and primary selection\n"
  "                              (X11: DISPLAY) with the guest's, both ways, lazily:\n"
  "                              a copy announces its types, the content moves when\n"
  "                              the other side pastes (--max-clipboard-size bounds\n"
  "                              it). Until SIGINT or SIGTERM; reconnects like serve;\n"
  "                              exits 1 if the display goes away.\n"
  "  The clipboard's defaults: --selection=clipboard,\n"
  "  --type=text/plain;charset=utf-8.\n"
  "\n"
  "Host commands answered for the guest: host-ping, host-info, host-echo,\n"
  "host-clipboard-request, host-stats, host-subscribe, host-unsubscribe.\n"
  "\n"
  "Host stats (docs/HOST-STATS.md): cpu-count, cpu-model, load-average,\n"
  "memory-total, memory-available, uptime, wall-clock from /proc; with --qmp,\n"
  "qemu-version, accelerator, vm-name, vcpus, balloon from the VM's QMP socket.\n"
  "--stats-allow=FIELD,... lists the fields revealed (default: all; empty:\n"
  "none); a refused field is absent and its source is not read.\n"
  "\n"
  "Exit status: 0 on success, 1 on an error reply, a timeout, a connection\n"
  "failure or a failed transfer, 2 on a usage error.\n";

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
    { "max-clipboard-size", 0, 0, G_OPTION_ARG_INT64, &o->max_clipboard_size,
      "Largest clipboard content sent or accepted (default 256 MiB, at most 4 GiB)", "BYTES" },
    { "clipboard-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &o->clipboard_timeout,
      "Cancel a clipboard transfer after SECONDS without progress (default 30)", "SECONDS" },
    { "selection", 0, 0, G_OPTION_ARG_STRING, &o->selection,
      "clipboard get/set: the selection, clipboard (default) or primary", "NAME" },
    { "type", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->types,
      "clipboard get/set: the MIME type (set: repeatable; default text/plain;charset=utf-8)",
      "TYPE" },
    { "qmp", 0, 0, G_OPTION_ARG_FILENAME, &o->qmp_path,
      "The VM's QMP unix socket, for the hypervisor fields of host-info and host-stats",
      "PATH" },
    { "stats-allow", 0, 0, G_OPTION_ARG_STRING, &o->stats_allow,
      "The host stats fields revealed to the guest (default: all; empty: none)", "FIELD,..." },
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
  app->stage = STAGE_DONE;  /* what ends from here on reports nothing */
  drop_peer (app);
  if (app->sync != NULL)
    qga_desktop_sync_stop (app->sync);
  g_clear_object (&app->sync);
  g_clear_object (&app->sync_peer);
  if (app->desktop != NULL)
    g_signal_handlers_disconnect_by_data (app->desktop, app);
  g_clear_object (&app->desktop);
  g_clear_pointer (&app->clipboard, host_clipboard_free);
  g_clear_pointer (&app->stats, host_stats_free);
  discard_output (app);
  restore_stdout (app);
  if (app->content_fd >= 0)
    close (app->content_fd);
  app->content_fd = -1;
  g_clear_object (&app->connector);
  g_clear_pointer (&app->loop, g_main_loop_unref);
  g_clear_pointer (&app->payload, json_node_unref);
  g_clear_pointer (&app->name, g_free);
  g_clear_pointer (&app->path, g_free);
  g_clear_pointer (&app->options.socket_path, g_free);
  g_clear_pointer (&app->options.selection, g_free);
  g_clear_pointer (&app->options.types, g_strfreev);
  g_clear_pointer (&app->options.qmp_path, g_free);
  g_clear_pointer (&app->options.stats_allow, g_free);
}

static void
desktop_closed_cb (QgaDesktopClipboard *desktop, const GError *error, App *app)
{
  fail (app, EXIT_FAILURE, "the connection to the display closed: %s",
        error != NULL ? error->message : "no reason given");
}

/* sync: the host's desktop, and the engine between it and the guest. */
static gboolean
start_desktop_sync (App *app, GError **error)
{
  app->desktop = qga_desktop_clipboard_new ((guint64) app->options.max_clipboard_size,
                                            (guint) (app->options.clipboard_timeout * 1000), error);
  if (app->desktop == NULL)
    {
      g_prefix_error (error, "no desktop clipboard to mirror: ");
      return FALSE;
    }
  g_signal_connect (app->desktop, "closed", G_CALLBACK (desktop_closed_cb), app);
  g_message ("mirroring the host desktop's clipboard and primary selection (%s backend) "
             "with the guest's", qga_desktop_clipboard_get_backend_name (app->desktop));
  app->sync_peer = host_sync_peer_new (app->clipboard);
  app->sync = qga_desktop_sync_new (app->desktop, QGA_DESKTOP_PEER (app->sync_peer),
                                    "the guest");
  return TRUE;
}

static int
run (App *app)
{
  g_autoptr(GError) error = NULL;

  if (app->mode == MODE_CLIPBOARD_SET && !prepare_content (app, &error))
    {
      fprintf (stderr, "qga-host: %s\n", error->message);
      return EXIT_FAILURE;
    }
  app->connector = host_connector_new (app->options.socket_path, app->options.listen, &error);
  if (app->connector == NULL)
    {
      fprintf (stderr, "qga-host: %s\n", error->message);
      return EXIT_FAILURE;
    }
  app->clipboard = host_clipboard_new ((guint64) app->options.max_clipboard_size);
  host_clipboard_set_transfer_timeout (app->clipboard,
                                       (guint) (app->options.clipboard_timeout * 1000));
  host_clipboard_set_guest_func (app->clipboard, clipboard_guest_cb, app);
  app->stats = host_stats_new (app->stats_allow, app->options.qmp_path);
  if (app->mode == MODE_CLIPBOARD_SYNC && !start_desktop_sync (app, &error))
    {
      fprintf (stderr, "qga-host: %s\n", error->message);
      return EXIT_FAILURE;
    }
  if (app->mode == MODE_CLIPBOARD_SET)
    host_clipboard_grab (app->clipboard, app->selection, (const char *const *) app->options.types,
                         content_source, app, NULL);
  app->loop = g_main_loop_new (NULL, FALSE);
  app->signal_sources[0] = g_unix_signal_add (SIGINT, quit_signal_cb, app);
  app->signal_sources[1] = g_unix_signal_add (SIGTERM, quit_signal_cb, app);
  g_signal_connect (app->connector, "connected", G_CALLBACK (connected_cb), app);

  if (app->mode == MODE_SERVE)
    {
      app->control = host_control_new (STDIN_FILENO, app->options.max_message_size, get_peer, app);
      /* Serving: know the VM before the guest asks (other modes ask QMP
       * only if the guest does). */
      host_stats_start (app->stats);
    }
  else if (!is_serving_mode (app->mode))
    arm_timeout (app);
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
      .max_clipboard_size = QGA_CLIPBOARD_DEFAULT_MAX_SIZE,
      .clipboard_timeout = QGA_TRANSFER_TIMEOUT_MS / 1000.0,
    },
    .output_fd = -1,
    .stdout_flags = -1,
    .content_fd = -1,
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
  if (!check_options (&app) || !parse_command (&app, argv + 1))
    {
      app_clear (&app);
      return EXIT_USAGE;
    }
  status = run (&app);
  app_clear (&app);
  return status;
}
