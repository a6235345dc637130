/* desktop-main.c: qga-clipboard-sync, the guest desktop's clipboard mirrored
 * with the host's, in the user's session (docs/DESKTOP-CLIPBOARD.md §6).
 *
 * The desktop module (X11 or Wayland, from the environment) on one side,
 * org.qemu.GuestAgent.Clipboard on the session bus on the other, and the
 * sync engine between them. It exits 1 when the display or the session bus
 * goes away: the session is ending, and the next one starts it again. */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdlib.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "desktop-peer.h"
#include "qga-clipboard.h"
#include "qga-desktop.h"
#include "qga-desktop-sync.h"
#include "qga-error.h"

#define EXIT_USAGE 2
#define MAX_CLIPBOARD_SIZE (G_GINT64_CONSTANT (4) << 30)

typedef struct {
  gint64 max_size;
  double timeout_s;
  gboolean verbose;
  gboolean version;
} Options;

typedef struct {
  Options options;
  GMainLoop *loop;
  int exit_status;
  GDBusConnection *bus;
  QgaDesktopClipboard *desktop;
  DesktopPeer *peer;
  QgaDesktopSync *sync;
} App;

static void
quit (App *app, int status)
{
  app->exit_status = status;
  g_main_loop_quit (app->loop);
}

static gboolean
on_quit_signal (gpointer user_data)
{
  App *app = user_data;

  g_message ("stopping");
  quit (app, EXIT_SUCCESS);
  return G_SOURCE_CONTINUE;
}

static void
on_display_closed (QgaDesktopClipboard *desktop, const GError *error, App *app)
{
  g_printerr ("qga-clipboard-sync: the connection to the display closed (%s); exiting\n",
              error != NULL ? error->message : "no reason given");
  quit (app, EXIT_FAILURE);
}

static void
on_bus_closed (GDBusConnection *bus, gboolean remote_peer_vanished, GError *error, App *app)
{
  g_printerr ("qga-clipboard-sync: the session bus closed (%s); exiting\n",
              error != NULL ? error->message : "no reason given");
  quit (app, EXIT_FAILURE);
}

static gboolean
start (App *app, GError **error)
{
  guint timeout_ms = (guint) (app->options.timeout_s * 1000);

  app->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, error);
  if (app->bus == NULL)
    {
      g_prefix_error (error, "cannot connect to the session bus: ");
      return FALSE;
    }
  g_dbus_connection_set_exit_on_close (app->bus, FALSE);
  g_signal_connect (app->bus, "closed", G_CALLBACK (on_bus_closed), app);

  app->desktop = qga_desktop_clipboard_new ((guint64) app->options.max_size, timeout_ms, error);
  if (app->desktop == NULL)
    {
      g_prefix_error (error, "no desktop clipboard to mirror: ");
      return FALSE;
    }
  g_signal_connect (app->desktop, "closed", G_CALLBACK (on_display_closed), app);
  g_message ("mirroring the desktop's clipboard and primary selection (%s backend) with the "
             "host, through org.qemu.GuestAgent.Clipboard on the session bus",
             qga_desktop_clipboard_get_backend_name (app->desktop));

  app->peer = desktop_peer_new (app->bus);
  app->sync = qga_desktop_sync_new (app->desktop, QGA_DESKTOP_PEER (app->peer), "the host");
  return TRUE;
}

static void
stop (App *app)
{
  if (app->sync != NULL)
    qga_desktop_sync_stop (app->sync);
  g_clear_object (&app->sync);
  g_clear_object (&app->peer);
  if (app->desktop != NULL)
    g_signal_handlers_disconnect_by_data (app->desktop, app);
  g_clear_object (&app->desktop);
  if (app->bus != NULL)
    {
      g_signal_handlers_disconnect_by_data (app->bus, app);
      /* what we announced is released for us when we leave the bus */
      g_dbus_connection_flush_sync (app->bus, NULL, NULL);
    }
  g_clear_object (&app->bus);
  g_clear_pointer (&app->loop, g_main_loop_unref);
}

static gboolean
parse_options (Options *options, int *argc, char ***argv, GError **error)
{
  const GOptionEntry entries[] = {
    { "max-clipboard-size", 0, 0, G_OPTION_ARG_INT64, &options->max_size,
      "Largest content passed either way (default 256 MiB, at most 4 GiB)", "BYTES" },
    { "clipboard-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options->timeout_s,
      "Give up a transfer with the desktop after SECONDS without progress (default 30)",
      "SECONDS" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &options->verbose, "Log debug messages", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &options->version, "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- mirror the desktop's clipboard "
                                                            "with the host's");

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Mirrors the CLIPBOARD and PRIMARY selections of this desktop session (X11,\n"
    "or Wayland with a data-control protocol) with the host's, through\n"
    "org.qemu.GuestAgent.Clipboard on the session bus (qga-session, started by\n"
    "the bus when needed). Lazy both ways: a copy announces its types, and the\n"
    "content moves only when the other side pastes.");
  g_option_context_set_description (context,
    "Normally started with the desktop session by its XDG autostart file.\n"
    "Exits 1 when the display or the session bus goes away, 2 on a usage error.\n"
    "See qga-clipboard-sync(1) and docs/DESKTOP.md in the source tree.\n");
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'",
                   (*argv)[1]);
      return FALSE;
    }
  if (options->max_size < 1 || options->max_size > MAX_CLIPBOARD_SIZE)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--max-clipboard-size must be between 1 and %" G_GINT64_FORMAT " bytes",
                   MAX_CLIPBOARD_SIZE);
      return FALSE;
    }
  if (!(options->timeout_s >= 0.1 && options->timeout_s <= 3600))
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--clipboard-timeout must be between 0.1 and 3600 seconds");
      return FALSE;
    }
  return TRUE;
}

int
main (int argc, char *argv[])
{
  App app = {
    .options = {
      .max_size = QGA_CLIPBOARD_DEFAULT_MAX_SIZE,
      .timeout_s = QGA_DESKTOP_DEFAULT_TIMEOUT_MS / 1000.0,
    },
    .exit_status = EXIT_SUCCESS,
  };
  g_autoptr(GError) error = NULL;
  guint signal_ids[2];

  setlocale (LC_ALL, "");
  /* a desktop program that stops reading a paste must not kill us */
  signal (SIGPIPE, SIG_IGN);
  if (!parse_options (&app.options, &argc, &argv, &error))
    {
      g_printerr ("qga-clipboard-sync: %s\nTry 'qga-clipboard-sync --help'.\n", error->message);
      return EXIT_USAGE;
    }
  if (app.options.version)
    {
      g_print ("qga-clipboard-sync %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  /* all of the log on stderr (the session's log), none on stdout */
  g_log_writer_default_set_use_stderr (TRUE);
  if (app.options.verbose)
    g_log_set_debug_enabled (TRUE);

  app.loop = g_main_loop_new (NULL, FALSE);
  signal_ids[0] = g_unix_signal_add (SIGTERM, on_quit_signal, &app);
  signal_ids[1] = g_unix_signal_add (SIGINT, on_quit_signal, &app);
  if (!start (&app, &error))
    {
      g_printerr ("qga-clipboard-sync: %s\n", error->message);
      app.exit_status = EXIT_FAILURE;
    }
  else
    g_main_loop_run (app.loop);
  g_source_remove (signal_ids[0]);
  g_source_remove (signal_ids[1]);
  stop (&app);
  return app.exit_status;
}
