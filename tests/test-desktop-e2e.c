/* test-desktop-e2e.c: two real desktops' clipboards mirrored through the
 * whole chain (issue 8).
 *
 *   Xvfb "guest" ─ qga-clipboard-sync ─ session bus ─ qga-session ─ system bus ─ qga-bridge ─┐
 *                                                                        unix socket (port) │
 *   Xvfb "host"  ─ qga-host clipboard sync ─────────────────────────────────────────────────┘
 *
 * xclip is the desktop program on both displays: it copies (xclip -i, in
 * the foreground, serving until it loses the selection or is killed) and
 * pastes (xclip -o). The /desktop-e2e/wayland/ cases make the guest's
 * desktop a headless sway instead (qga-clipboard-sync with WAYLAND_DISPLAY,
 * its socket's path, and no DISPLAY), with wl-copy --foreground and
 * wl-paste as its programs, run as the user nobody in process groups of
 * their own (desktop-test-util's DtSway; sway refuses root). A monitor on the guest's session bus sees every
 * clipboard call and signal there, which is how the test counts grabs both
 * ways (a Grab call is a guest copy announced to the host; a HostGrabbed a
 * host copy announced to the guest). The system bus is the private one
 * dbus-test-runner starts (tests/system-bus.conf), with tests/fake-logind.
 * Every process is started by this program and stopped by its PID (or
 * its process group), except the qga-session the session bus starts in
 * /desktop-e2e/session-restart, which leaves with that bus. Without Xvfb, xclip, sway or wl-clipboard the
 * program fails: these tests do not skip.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include "desktop-test-util.h"

#define AGENT_NAME "org.qemu.GuestAgent"            /* qga-session's, on the session bus */
#define CLIPBOARD_IFACE "org.qemu.GuestAgent.Clipboard"
#define TEXT_TARGET "UTF8_STRING"
#define PNG_TYPE "image/png"
#define WL_TEXT_TYPE "text/plain;charset=utf-8"   /* wl-paste's name of TEXT_TARGET */

static char *xclip_path;
static char *wl_copy_path;
static char *wl_paste_path;

/* A 1x1 PNG: binary, with NUL bytes and bytes over 0x7f. */
static const guint8 png_1x1[] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
  0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
  0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
  0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

/* --- processes ----------------------------------------------------------- */

/* Wait (iterating the main loop) for process, which leads no group, to
 * exit: see dt_wait_process(). */
static int
wait_process (GSubprocess *process, GBytes **out, guint timeout_ms)
{
  return dt_wait_process (process, out, timeout_ms, g_subprocess_force_exit);
}

/* --- a display ------------------------------------------------------------- */

/* An Xvfb with xclip, or (the guest only) a headless sway with
 * wl-clipboard, whose processes lead process groups of their own. */
typedef struct {
  const char *name;         /* "guest", "host" */
  DtXvfb *xvfb;
  DtSway *sway;             /* instead of xvfb */
  char *display;            /* :N, or sway's socket's path */
  GPtrArray *owners;        /* xclip -i or wl-copy still running */
} Display;

/* A Wayland desktop: sway. */
static void
display_start_sway (Display *d, const char *name)
{
  d->name = name;
  d->owners = g_ptr_array_new_with_free_func (g_object_unref);
  d->sway = g_new0 (DtSway, 1);
  dt_sway_start (d->sway);
  d->display = g_strdup (d->sway->socket_path);
}

/* A program started on d: ended by its PID, or its group under sway. */
static void
display_kill (Display *d, GSubprocess *process)
{
  dt_kill_process (process, d->sway != NULL ? dt_kill_group : g_subprocess_force_exit);
}

static int
display_wait (Display *d, GSubprocess *process, GBytes **out, guint timeout_ms)
{
  return dt_wait_process (process, out, timeout_ms,
                          d->sway != NULL ? dt_kill_group : g_subprocess_force_exit);
}

/* sig to the owner (its group under sway: wl-copy serves through a child). */
static void
display_signal_owner (Display *d, GSubprocess *owner, int sig)
{
  if (d->sway != NULL)
    dt_signal_group (owner, sig);
  else
    g_subprocess_send_signal (owner, sig);
}

static void
display_start (Display *d, const char *name)
{
  d->name = name;
  d->owners = g_ptr_array_new_with_free_func (g_object_unref);
  d->xvfb = g_new0 (DtXvfb, 1);
  dt_xvfb_start (d->xvfb);
  d->display = g_strdup (d->xvfb->display);
}

static void
display_stop (Display *d)
{
  for (guint i = 0; i < d->owners->len; i++)
    display_kill (d, d->owners->pdata[i]);
  g_ptr_array_unref (d->owners);
  g_free (d->display);
  if (d->sway != NULL)
    {
      dt_sway_stop (d->sway);
      g_clear_pointer (&d->sway, g_free);
      return;
    }
  dt_xvfb_stop (d->xvfb);
  g_clear_pointer (&d->xvfb, g_free);
}

static const char *
xclip_selection (const char *selection)
{
  return g_str_equal (selection, "primary") ? "primary" : "clipboard";
}

/* wl-copy --foreground on d: owns selection offering path's content as
 * target (wl-copy's text types for TEXT_TARGET), until killed. */
static GSubprocess *
wl_copy (Display *d, const char *selection, const char *target, const char *path)
{
  g_autoptr(GSubprocessLauncher) launcher =
    dt_sway_launcher (d->sway, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GError) error = NULL;
  const char *argv[8];
  guint n = 0;
  GSubprocess *process;

  argv[n++] = wl_copy_path;
  argv[n++] = "--foreground";
  if (g_str_equal (selection, "primary"))
    argv[n++] = "--primary";
  if (!g_str_equal (target, TEXT_TARGET))
    {
      argv[n++] = "--type";
      argv[n++] = target;
    }
  argv[n] = NULL;
  g_subprocess_launcher_set_stdin_file_path (launcher, path);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_ptr_array_add (d->owners, process);
  return process;
}

/* wl-paste on d (TARGETS: --list-types). */
static GSubprocess *
wl_paste_start (Display *d, const char *selection, const char *target, const char *out_path)
{
  g_autoptr(GSubprocessLauncher) launcher =
    dt_sway_launcher (d->sway, out_path != NULL ? G_SUBPROCESS_FLAGS_STDERR_SILENCE
                                                : G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GError) error = NULL;
  const char *argv[8];
  guint n = 0;
  GSubprocess *process;

  argv[n++] = wl_paste_path;
  if (g_str_equal (selection, "primary"))
    argv[n++] = "--primary";
  if (g_str_equal (target, "TARGETS"))
    argv[n++] = "--list-types";
  else
    {
      argv[n++] = "--no-newline";
      argv[n++] = "--type";
      argv[n++] = g_str_equal (target, TEXT_TARGET) ? WL_TEXT_TYPE : target;
    }
  argv[n] = NULL;
  if (out_path != NULL)
    g_subprocess_launcher_set_stdout_file_path (launcher, out_path);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return process;
}

/* xclip -i (wl-copy under sway) on d: owns selection offering path's
 * content as target, until it loses the selection or is killed. */
static GSubprocess *
desktop_copy (Display *d, const char *selection, const char *target, const char *path)
{
  g_autoptr(GSubprocessLauncher) launcher =
    dt_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  if (d->sway != NULL)
    return wl_copy (d, selection, target, path);
  process = g_subprocess_launcher_spawn (launcher, &error, xclip_path, "-display", d->display,
                                         "-selection", xclip_selection (selection), "-quiet",
                                         "-t", target, "-i", path, NULL);
  g_assert_no_error (error);
  g_ptr_array_add (d->owners, process);
  return process;
}

static void
forget_owner (Display *d, GSubprocess *process)
{
  display_kill (d, process);
  g_ptr_array_remove (d->owners, process);
}

static GSubprocess *
desktop_paste_start (Display *d, const char *selection, const char *target, const char *out_path)
{
  g_autoptr(GSubprocessLauncher) launcher =
    dt_launcher_new (out_path != NULL ? G_SUBPROCESS_FLAGS_STDERR_SILENCE
                                   : G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  if (d->sway != NULL)
    return wl_paste_start (d, selection, target, out_path);
  if (out_path != NULL)
    g_subprocess_launcher_set_stdout_file_path (launcher, out_path);
  process = g_subprocess_launcher_spawn (launcher, &error, xclip_path, "-display", d->display,
                                         "-selection", xclip_selection (selection), "-o", "-t",
                                         target, NULL);
  g_assert_no_error (error);
  return process;
}

/* xclip -o (wl-paste) on d: the exit status; stdout into *out, or into out_path. */
static int
desktop_paste (Display *d, const char *selection, const char *target, const char *out_path,
             GBytes **out)
{
  g_autoptr(GSubprocess) process = desktop_paste_start (d, selection, target, out_path);

  return display_wait (d, process, out, qt_ms (90000));
}

/* Wait until d's selection offers target (xclip -o -t TARGETS, wl-paste
 * --list-types lists it). */
static void
wait_offered (Display *d, const char *selection, const char *target)
{
  gint64 deadline = qt_now_ms () + qt_ms (20000);

  for (;;)
    {
      g_autoptr(GBytes) out = NULL;
      int status = desktop_paste (d, selection, "TARGETS", NULL, &out);
      g_autofree char *text = out != NULL ? g_strndup (g_bytes_get_data (out, NULL),
                                                       g_bytes_get_size (out)) : NULL;
      g_auto(GStrv) lines = g_strsplit (text != NULL ? text : "", "\n", -1);

      const char *listed = d->sway != NULL && g_str_equal (target, TEXT_TARGET) ? WL_TEXT_TYPE
                                                                                : target;

      if (status == 0 && g_strv_contains ((const char *const *) lines, listed))
        return;
      if (qt_now_ms () > deadline)
        g_error ("the %s display's %s never offered %s (last TARGETS: %s)", d->name, selection,
                 target, text != NULL ? text : "(none)");
      qt_iterate_until (qt_now_ms () + 50);
    }
}

/* --- the guest's session bus, watched --------------------------------------- */

/* Every clipboard call and signal on the guest's session bus. */
static QtMonitor *
monitor_start (const char *address)
{
  const char *rules[] = { "interface='" CLIPBOARD_IFACE "'", NULL };

  return qt_monitor_start (address, rules);
}

static void
monitor_wait (QtMonitor *monitor, const char *prefix, guint n)
{
  if (!qt_monitor_wait (monitor, prefix, n, qt_ms (20000)))
    g_error ("the guest's session bus never saw %u × %s", n, prefix);
}

/* Let the chain settle, then the count must still be n: nothing echoed. */
static void
monitor_assert_stays (QtMonitor *monitor, const char *prefix, guint n)
{
  gint64 deadline = qt_now_ms () + qt_ms (1500);

  while (qt_iterate_until (deadline))
    ;
  g_assert_cmpuint (qt_monitor_count (monitor, prefix), ==, n);
}

/* --- the programs under test, with their logs --------------------------------- */

typedef struct {
  GSubprocess *process;
  char *log;
} Daemon;

/* argv behind QGA_TEST_WRAPPER, with env ("NAME=VALUE", or "NAME" to
 * unset) added, stderr into a file. */
static void
daemon_start (Daemon *daemon, const char *const *argv, const char *const *env)
{
  g_autoptr(GSubprocessLauncher) launcher = dt_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  const char *wrapper = g_getenv ("QGA_TEST_WRAPPER");
  g_autoptr(GError) error = NULL;

  if (wrapper != NULL && *wrapper != '\0')
    {
      g_auto(GStrv) words = NULL;

      g_assert_true (g_shell_parse_argv (wrapper, NULL, &words, NULL));
      for (guint i = 0; words[i] != NULL; i++)
        g_ptr_array_add (args, g_strdup (words[i]));
    }
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, g_strdup (argv[i]));
  g_ptr_array_add (args, NULL);
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto(GStrv) pair = g_strsplit (env[i], "=", 2);

      if (pair[1] == NULL)       /* "NAME": unset */
        g_subprocess_launcher_unsetenv (launcher, pair[0]);
      else
        g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
    }
  daemon->log = qt_tmp_path ("daemon.log");
  g_subprocess_launcher_set_stderr_file_path (launcher, daemon->log);
  g_subprocess_launcher_set_stdout_file_path (launcher, "/dev/null");
  daemon->process = g_subprocess_launcher_spawnv (launcher,
                                                  (const char *const *) args->pdata, &error);
  g_assert_no_error (error);
}

static char *
daemon_log (Daemon *daemon)
{
  char *text = NULL;

  g_file_get_contents (daemon->log, &text, NULL, NULL);
  return text != NULL ? text : g_strdup ("");
}

static gboolean
daemon_log_has (Daemon *daemon, const char *part)
{
  g_autofree char *text = daemon_log (daemon);

  return strstr (text, part) != NULL;
}

static void
daemon_wait_log (Daemon *daemon, const char *part)
{
  if (!QT_WAIT (daemon_log_has (daemon, part), qt_ms (20000)))
    {
      g_autofree char *text = daemon_log (daemon);

      g_error ("never logged \"%s\"; its log:\n%s", part, text);
    }
  g_assert_nonnull (g_subprocess_get_identifier (daemon->process));  /* still running */
}

/* SIGTERM; it must exit 0 (valgrind's errors make it 99). */
static void
daemon_stop (Daemon *daemon)
{
  int status;

  g_subprocess_send_signal (daemon->process, SIGTERM);
  status = wait_process (daemon->process, NULL, qt_ms (20000));
  if (status != 0)
    {
      g_autofree char *text = daemon_log (daemon);

      g_error ("exited with status %d; its log:\n%s", status, text);
    }
  g_object_unref (daemon->process);
  g_unlink (daemon->log);
  g_free (daemon->log);
}

/* --- the fixture ------------------------------------------------------------------ */

typedef struct {
  gint64 guest_max_size;    /* qga-clipboard-sync's --max-clipboard-size; 0: default */
  gint64 host_max_size;     /* qga-host's; 0: default */
  gboolean wayland_guest;   /* the guest desktop is sway, not an Xvfb */
} Params;

typedef struct {
  Display guest, host;
  char *port;
  QtProc *logind;
  QtProc *bridge;
  GSubprocess *session_bus;
  char *session_address;
  GDBusConnection *session;  /* the test's own connection to it */
  QtProc *agent;            /* qga-session; NULL once the bus started it (session-restart) */
  Daemon sync;              /* qga-clipboard-sync on the guest display */
  Daemon host_sync;         /* qga-host clipboard sync on the host display */
  QtMonitor *monitor;
} Fixture;

static void
start_session_bus (Fixture *f)
{
  g_autofree char *config = g_build_filename (g_getenv ("QGA_TEST_BUILDDIR"), "tests",
                                              "session-bus.conf", NULL);
  g_autofree char *config_arg = g_strdup_printf ("--config-file=%s", config);
  g_autoptr(GSubprocessLauncher) launcher = dt_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_setenv (launcher, "XDG_SESSION_ID", "s1", TRUE);
  f->session_bus = g_subprocess_launcher_spawn (launcher, &error, "dbus-daemon", config_arg,
                                                "--nofork", "--print-address=1", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->session_bus));
  f->session_address = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->session_address);
}

/* The PID of qga-session, the owner of its name on the session bus. */
static guint32
agent_pid (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_sync (f->session, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                 g_variant_new ("(s)", AGENT_NAME), G_VARIANT_TYPE ("(u)"),
                                 G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  guint32 pid;

  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &pid);
  return pid;
}

static void
start_guest_sync (Fixture *f, const Params *params)
{
  g_autofree char *program = g_build_filename (g_getenv ("QGA_TEST_BUILDDIR"), "service",
                                               "qga-clipboard-sync", NULL);
  g_autofree char *max_arg = g_strdup_printf ("--max-clipboard-size=%" G_GINT64_FORMAT,
                                              params != NULL && params->guest_max_size > 0
                                              ? params->guest_max_size
                                              : G_GINT64_CONSTANT (268435456));
  g_autofree char *display_env = g_strdup_printf ("DISPLAY=%s", f->guest.display);
  g_autofree char *bus_env = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", f->session_address);
  g_autofree char *wayland_env = g_strdup_printf ("WAYLAND_DISPLAY=%s", f->guest.display);
  const char *argv[] = { program, "--verbose", max_arg, NULL };
  const char *env[] = { display_env, bus_env, "WAYLAND_DISPLAY=", NULL };
  const char *wayland[] = { "DISPLAY", bus_env, wayland_env, NULL };

  daemon_start (&f->sync, argv, f->guest.sway != NULL ? wayland : env);
  daemon_wait_log (&f->sync, f->guest.sway != NULL ? "(wayland backend)" : "(x11 backend)");
}

static void
start_host_sync (Fixture *f, const Params *params)
{
  g_autofree char *host = g_strdup (g_getenv ("QGA_HOST"));
  g_autofree char *socket_arg = g_strdup_printf ("--socket=%s", f->port);
  g_autofree char *max_arg = g_strdup_printf ("--max-clipboard-size=%" G_GINT64_FORMAT,
                                              params != NULL && params->host_max_size > 0
                                              ? params->host_max_size
                                              : G_GINT64_CONSTANT (268435456));
  g_autofree char *display_env = g_strdup_printf ("DISPLAY=%s", f->host.display);
  const char *argv[] = { host, socket_arg, "--listen", "--verbose", max_arg, "clipboard", "sync",
                         NULL };
  const char *env[] = { display_env, "WAYLAND_DISPLAY=", NULL };

  daemon_start (&f->host_sync, argv, env);
  daemon_wait_log (&f->host_sync, "(x11 backend)");
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const char *logind_argv[] = { g_getenv ("QGA_FAKE_LOGIND"), "--session", "s1:active:seat0",
                                NULL };
  g_autofree char *agent_path = g_strdup (g_getenv ("QGA_SESSION"));
  const char *agent_argv[] = { agent_path, "--verbose", NULL };
  g_autofree char *bus_env = NULL;
  const char *agent_env[] = { NULL, "XDG_SESSION_ID=s1", NULL };

  if (data != NULL && ((const Params *) data)->wayland_guest)
    display_start_sway (&f->guest, "guest");
  else
    display_start (&f->guest, "guest");
  display_start (&f->host, "host");
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
  f->logind = qt_proc_spawn (logind_argv, TRUE);
  g_assert_true (qt_wait_name_owned ("org.freedesktop.login1", TRUE, qt_ms (5000)));
  f->port = qt_tmp_path ("port");
  start_host_sync (f, data);
  f->bridge = qt_spawn_bridge (f->port, "--verbose", NULL);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, TRUE, qt_ms (10000)));
  start_session_bus (f);
  bus_env = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", f->session_address);
  agent_env[0] = bus_env;
  f->agent = qt_proc_spawn_full (agent_argv, FALSE, agent_env, NULL);
  f->session = qt_bus_connect_address (f->session_address);
  /* before qga-clipboard-sync's first call, which would have the bus start
   * another qga-session, and then this one could not own the name */
  g_assert_true (qt_wait_name_owned_on (f->session, AGENT_NAME, TRUE, qt_ms (10000)));
  f->monitor = monitor_start (f->session_address);
  start_guest_sync (f, data);
  daemon_wait_log (&f->host_sync, "the guest has the clipboard: mirroring");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  daemon_stop (&f->sync);
  daemon_stop (&f->host_sync);
  qt_monitor_stop (f->monitor);
  g_dbus_connection_close_sync (f->session, NULL, NULL);
  g_object_unref (f->session);
  /* one the bus started leaves with it */
  if (f->agent != NULL)
    qt_proc_stop (f->agent);
  g_subprocess_send_signal (f->session_bus, SIGTERM);
  g_subprocess_wait (f->session_bus, NULL, NULL);
  g_object_unref (f->session_bus);
  g_free (f->session_address);
  qt_proc_stop (f->bridge);
  qt_proc_stop (f->logind);
  g_unlink (f->port);
  g_free (f->port);
  display_stop (&f->guest);
  display_stop (&f->host);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
}

/* --- content ---------------------------------------------------------------------- */

static void
assert_file_is (const char *path, GBytes *content)
{
  g_autoptr(GMappedFile) file = g_mapped_file_new (path, FALSE, NULL);
  g_autoptr(GBytes) got = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *sum = NULL;

  g_assert_nonnull (file);
  got = g_mapped_file_get_bytes (file);
  g_assert_cmpuint (g_bytes_get_size (got), ==, g_bytes_get_size (content));
  expected = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, content);
  sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, got);
  g_assert_cmpstr (sum, ==, expected);
}

/* --- one copy, one paste ---------------------------------------------------------------- */

/* Copy content as target on from's selection, wait until the other
 * display offers it, and paste it there: byte for byte the same. Returns
 * the owner (xclip -i), still running. */
static GSubprocess *
copy_and_paste (Fixture *f, Display *from, Display *to, const char *selection,
                const char *target, GBytes *content)
{
  g_autofree char *path = dt_write_temp_file (content);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  GSubprocess *owner = desktop_copy (from, selection, target, path);

  wait_offered (to, selection, target);
  g_assert_cmpint (desktop_paste (to, selection, target, out_path, NULL), ==, 0);
  assert_file_is (out_path, content);
  g_unlink (out_path);
  g_unlink (path);
  return owner;
}

static void
guest_to_host (Fixture *f, const char *selection, const char *target, GBytes *content)
{
  g_autofree char *grab = g_strdup_printf ("Grab ('%s'", selection);
  guint grabs = qt_monitor_count (f->monitor, grab);
  GSubprocess *owner;

  owner = copy_and_paste (f, &f->guest, &f->host, selection, target, content);
  g_assert_cmpuint (qt_monitor_count (f->monitor, grab), ==, grabs + 1);
  forget_owner (&f->guest, owner);
}

static void
host_to_guest (Fixture *f, const char *selection, const char *target, GBytes *content)
{
  g_autofree char *grabbed = g_strdup_printf ("HostGrabbed ('%s'", selection);
  guint grabs = qt_monitor_count (f->monitor, grabbed);
  GSubprocess *owner;

  owner = copy_and_paste (f, &f->host, &f->guest, selection, target, content);
  g_assert_cmpuint (qt_monitor_count (f->monitor, grabbed), ==, grabs + 1);
  forget_owner (&f->host, owner);
}

/* --- tests -------------------------------------------------------------------------------- */

static void
test_text (Fixture *f, gconstpointer data)
{
  static const char guest_text[] = "copied in the guest: h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93\n";
  static const char host_text[] = "copied on the host: \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\x8b";
  g_autoptr(GBytes) from_guest = g_bytes_new_static (guest_text, strlen (guest_text));
  g_autoptr(GBytes) from_host = g_bytes_new_static (host_text, strlen (host_text));

  guest_to_host (f, "clipboard", TEXT_TARGET, from_guest);
  host_to_guest (f, "clipboard", TEXT_TARGET, from_host);
}

static void
test_primary (Fixture *f, gconstpointer data)
{
  static const char guest_text[] = "selected in the guest: \xc3\xa0 la primaire";
  static const char host_text[] = "selected on the host: \xce\xb1\xce\xb2\xce\xb3";
  g_autoptr(GBytes) from_guest = g_bytes_new_static (guest_text, strlen (guest_text));
  g_autoptr(GBytes) from_host = g_bytes_new_static (host_text, strlen (host_text));

  guest_to_host (f, "primary", TEXT_TARGET, from_guest);
  host_to_guest (f, "primary", TEXT_TARGET, from_host);
}

static void
test_png (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) png = g_bytes_new_static (png_1x1, sizeof png_1x1);

  guest_to_host (f, "clipboard", PNG_TYPE, png);
  host_to_guest (f, "clipboard", PNG_TYPE, png);
}

/* Any MIME type the owner offers, and big: INCR on both displays. */
static void
test_large (Fixture *f, gconstpointer data)
{
  gsize size = qt_under_wrapper () ? 4 * MiB : 64 * MiB;
  g_autoptr(GBytes) from_guest = dt_random_content (size, 8);
  g_autoptr(GBytes) from_host = dt_random_content (size, 9);

  guest_to_host (f, "clipboard", "application/x-qga-test", from_guest);
  host_to_guest (f, "clipboard", "application/x-qga-test", from_host);
}

/* One copy is one grab on the other side, and nothing comes back. */
static void
test_no_echo (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) text = g_bytes_new_static ("echo?", 5);
  g_autofree char *path = dt_write_temp_file (text);
  GSubprocess *owner;

  owner = desktop_copy (&f->guest, "clipboard", TEXT_TARGET, path);
  wait_offered (&f->host, "clipboard", TEXT_TARGET);
  monitor_assert_stays (f->monitor, "Grab (", 1);
  g_assert_cmpuint (qt_monitor_count (f->monitor, "HostGrabbed"), ==, 0);
  forget_owner (&f->guest, owner);

  owner = desktop_copy (&f->host, "clipboard", TEXT_TARGET, path);
  monitor_wait (f->monitor, "HostGrabbed", 1);
  wait_offered (&f->guest, "clipboard", TEXT_TARGET);
  monitor_assert_stays (f->monitor, "HostGrabbed", 1);
  /* the guest's take of the host's copy was not announced back */
  g_assert_cmpuint (qt_monitor_count (f->monitor, "Grab ("), ==, 1);
  forget_owner (&f->host, owner);
  g_unlink (path);
}

/* Over the guest's limit: refused with a log line, nothing pasted; then
 * content under it passes. */
static void
test_over_limit (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) big = dt_random_content (256 * 1024, 3);
  g_autoptr(GBytes) small = dt_random_content (1000, 4);
  g_autofree char *path = dt_write_temp_file (big);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  g_autofree char *contents = NULL;
  gsize length = 0;
  GSubprocess *owner;

  owner = desktop_copy (&f->guest, "clipboard", "application/octet-stream", path);
  wait_offered (&f->host, "clipboard", "application/octet-stream");
  g_assert_cmpint (desktop_paste (&f->host, "clipboard", "application/octet-stream", out_path,
                                NULL), !=, 0);
  g_assert_true (g_file_get_contents (out_path, &contents, &length, NULL));
  g_assert_cmpuint (length, ==, 0);
  daemon_wait_log (&f->sync, "over the size limit of 65536 bytes");
  g_assert_true (QT_WAIT (qt_monitor_count (f->monitor, "SupplyError") == 1, qt_ms (5000)));
  g_assert_cmpuint (qt_monitor_count (f->monitor, "SupplyData"), ==, 0);
  forget_owner (&f->guest, owner);
  g_unlink (out_path);
  g_unlink (path);

  guest_to_host (f, "clipboard", "application/octet-stream", small);
}

/* Over the host's limit, the other way: the guest's paste fails, nothing
 * pasted; then content under it passes. */
static void
test_over_limit_host (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) big = dt_random_content (256 * 1024, 6);
  g_autoptr(GBytes) small = dt_random_content (1000, 7);
  g_autofree char *path = dt_write_temp_file (big);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  g_autofree char *contents = NULL;
  gsize length = 0;
  GSubprocess *owner;

  owner = desktop_copy (&f->host, "clipboard", "application/octet-stream", path);
  wait_offered (&f->guest, "clipboard", "application/octet-stream");
  g_assert_cmpint (desktop_paste (&f->guest, "clipboard", "application/octet-stream", out_path,
                                NULL), !=, 0);
  g_assert_true (g_file_get_contents (out_path, &contents, &length, NULL));
  g_assert_cmpuint (length, ==, 0);
  daemon_wait_log (&f->host_sync, "over the size limit of 65536 bytes");
  daemon_wait_log (&f->sync, "a desktop program's paste of application/octet-stream from the "
                             "host's clipboard failed");
  forget_owner (&f->host, owner);
  g_unlink (out_path);
  g_unlink (path);

  host_to_guest (f, "clipboard", "application/octet-stream", small);
}

/* The guest's owner dies while the host pastes: that paste fails, and the
 * next copy and paste work. */
static void
test_owner_killed (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) content = dt_random_content (MiB, 5);
  g_autoptr(GBytes) next = g_bytes_new_static ("after the crash", 15);
  g_autofree char *path = dt_write_temp_file (content);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  g_autoptr(GSubprocess) paste = NULL;
  GSubprocess *owner;
  int status;

  owner = desktop_copy (&f->guest, "clipboard", "application/x-qga-test", path);
  wait_offered (&f->host, "clipboard", "application/x-qga-test");
  /* stopped, it cannot answer: the paste is caught half way */
  display_signal_owner (&f->guest, owner, SIGSTOP);
  paste = desktop_paste_start (&f->host, "clipboard", "application/x-qga-test", out_path);
  monitor_wait (f->monitor, "DataRequested", 1);
  forget_owner (&f->guest, owner);
  status = wait_process (paste, NULL, qt_ms (60000));
  g_assert_cmpint (status, !=, 0);
  g_assert_true (QT_WAIT (qt_monitor_count (f->monitor, "SupplyError") == 1, qt_ms (5000)));
  g_assert_cmpuint (qt_monitor_count (f->monitor, "SupplyData"), ==, 0);
  g_unlink (out_path);
  g_unlink (path);

  guest_to_host (f, "clipboard", TEXT_TARGET, next);
}

/* The host copies path's content and its owner is stopped; the guest
 * starts pasting it into out_path, and the host was asked for it. Returns
 * the paste; *owner is the host's owner, stopped. */
static GSubprocess *
stall_guest_paste (Fixture *f, const char *path, const char *out_path, GSubprocess **owner)
{
  GSubprocess *paste;

  *owner = desktop_copy (&f->host, "clipboard", "application/x-qga-test", path);
  wait_offered (&f->guest, "clipboard", "application/x-qga-test");
  display_signal_owner (&f->host, *owner, SIGSTOP);
  paste = desktop_paste_start (&f->guest, "clipboard", "application/x-qga-test", out_path);
  monitor_wait (f->monitor, "Read (", 1);
  daemon_wait_log (&f->host_sync, "the guest pastes application/x-qga-test");
  return paste;
}

/* The guest's paste failed: its program exits with an error (under
 * Wayland, where a paste cannot report one, it just ends), with at most
 * at_most bytes in out_path. */
static void
assert_guest_paste_failed (Fixture *f, GSubprocess *paste, const char *out_path, gsize at_most)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  int status = display_wait (&f->guest, paste, NULL, qt_ms (60000));

  if (f->guest.sway == NULL)
    g_assert_cmpint (status, !=, 0);
  g_assert_true (g_file_get_contents (out_path, &contents, &length, NULL));
  g_assert_cmpuint (length, <=, at_most);
}

/* The host's owner dies while the guest pastes: the paste fails (less
 * than the content under Wayland), and the next copy and paste work. */
static void
test_host_owner_killed (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) content = dt_random_content (MiB, 12);
  g_autoptr(GBytes) next = g_bytes_new_static ("after the host's crash", 22);
  g_autofree char *path = dt_write_temp_file (content);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  g_autoptr(GSubprocess) paste = NULL;
  GSubprocess *owner;

  paste = stall_guest_paste (f, path, out_path, &owner);
  forget_owner (&f->host, owner);
  assert_guest_paste_failed (f, paste, out_path, MiB - 1);
  daemon_wait_log (&f->sync, "a desktop program's paste of application/x-qga-test from the "
                             "host's clipboard failed");
  g_unlink (out_path);
  g_unlink (path);

  host_to_guest (f, "clipboard", TEXT_TARGET, next);
}

/* The host goes away while the guest pastes its copy: the paste fails,
 * and once qga-host is back the next copy and paste work. */
static void
test_host_gone (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) content = dt_random_content (MiB, 10);
  g_autoptr(GBytes) next = g_bytes_new_static ("back again", 10);
  g_autofree char *path = dt_write_temp_file (content);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  g_autoptr(GSubprocess) paste = NULL;
  GSubprocess *owner;

  paste = stall_guest_paste (f, path, out_path, &owner);
  daemon_stop (&f->host_sync);
  assert_guest_paste_failed (f, paste, out_path, 0);
  forget_owner (&f->host, owner);
  g_unlink (out_path);
  g_unlink (path);

  start_host_sync (f, data);
  daemon_wait_log (&f->host_sync, "the guest has the clipboard: mirroring");
  host_to_guest (f, "clipboard", TEXT_TARGET, next);
}

/* qga-session restarts as it would in a session: stopped, it is started
 * again by the session bus for qga-clipboard-sync's call announcing the
 * desktop's copy once more, and the host can paste that copy again. (The
 * test cannot start it by hand: qga-clipboard-sync announces within a
 * second, and the bus would start one first.) */
static void
test_session_restart (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) text = g_bytes_new_static ("still here", 10);
  g_autofree char *path = dt_write_temp_file (text);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  guint32 first_pid = agent_pid (f);

  desktop_copy (&f->guest, "clipboard", TEXT_TARGET, path);
  wait_offered (&f->host, "clipboard", TEXT_TARGET);
  g_assert_cmpuint (qt_monitor_count (f->monitor, "Grab ('clipboard'"), ==, 1);
  qt_proc_stop (g_steal_pointer (&f->agent));
  monitor_wait (f->monitor, "Grab ('clipboard'", 2);
  daemon_wait_log (&f->sync, "announcing the desktop's clipboard to the host again");
  g_assert_true (qt_wait_name_owned_on (f->session, AGENT_NAME, TRUE, qt_ms (10000)));
  g_assert_cmpuint (agent_pid (f), !=, first_pid);
  wait_offered (&f->host, "clipboard", TEXT_TARGET);
  g_assert_cmpint (desktop_paste (&f->host, "clipboard", TEXT_TARGET, out_path, NULL), ==, 0);
  assert_file_is (out_path, text);
  g_unlink (out_path);
  g_unlink (path);
}

int
main (int argc, char **argv)
{
  static const Params small_guest = { .guest_max_size = 65536 };
  static const Params small_host = { .host_max_size = 65536 };
  static const Params wayland = { .wayland_guest = TRUE };
  int status;

  qt_init (&argc, &argv);
  qt_use_system_bus ();
  g_free (dt_find_tool ("Xvfb", "xvfb"));   /* missing: the run fails now, not per case */
  xclip_path = dt_find_tool ("xclip", "xclip");
  g_free (dt_find_tool ("sway", "sway"));
  wl_copy_path = dt_find_tool ("wl-copy", "wl-clipboard");
  wl_paste_path = dt_find_tool ("wl-paste", "wl-clipboard");
  dt_sway_find_client_user ();
  if (geteuid () != 0)
    {
      printf ("Bail out! test-desktop-e2e needs root: it owns system bus names\n");
      return 1;
    }
#define ADD(path, func, data) \
  g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)
  ADD ("/desktop-e2e/text", test_text, NULL);
  ADD ("/desktop-e2e/primary", test_primary, NULL);
  ADD ("/desktop-e2e/png", test_png, NULL);
  ADD ("/desktop-e2e/large", test_large, NULL);
  ADD ("/desktop-e2e/no-echo", test_no_echo, NULL);
  ADD ("/desktop-e2e/over-limit/guest", test_over_limit, &small_guest);
  ADD ("/desktop-e2e/over-limit/host", test_over_limit_host, &small_host);
  ADD ("/desktop-e2e/owner-killed", test_owner_killed, NULL);
  ADD ("/desktop-e2e/host-owner-killed", test_host_owner_killed, NULL);
  ADD ("/desktop-e2e/session-restart", test_session_restart, NULL);
  ADD ("/desktop-e2e/host-gone", test_host_gone, NULL);
  /* the guest a headless sway, with wl-copy and wl-paste, the host an Xvfb */
  ADD ("/desktop-e2e/wayland/text", test_text, &wayland);
  ADD ("/desktop-e2e/wayland/primary", test_primary, &wayland);
  ADD ("/desktop-e2e/wayland/png", test_png, &wayland);
  ADD ("/desktop-e2e/wayland/large", test_large, &wayland);
  ADD ("/desktop-e2e/wayland/no-echo", test_no_echo, &wayland);
  ADD ("/desktop-e2e/wayland/owner-killed", test_owner_killed, &wayland);
  ADD ("/desktop-e2e/wayland/host-owner-killed", test_host_owner_killed, &wayland);
  status = qt_run ();
  g_free (xclip_path);
  g_free (wl_copy_path);
  g_free (wl_paste_path);
  return status;
}
