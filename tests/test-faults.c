/* test-faults.c: qga-bridge under injected faults (issue 7, "Fault
 * injection"), over a real bus and real sockets.
 *
 * Runs on a private deny-by-default system bus (tests/dbus-run) with a
 * stand-in for logind, so that the clipboard's Sessions interface is there
 * too. This program is the host (raw bytes on the port's unix socket), a
 * session agent, and the D-Bus callers.
 *
 *   /faults/reconnect-cycles   1000 host detach/attach cycles (50 under
 *                              QGA_TEST_WRAPPER; QGA_FAULT_CYCLES overrides)
 *                              with Ping, Call, GetHostInfo, a host event, a
 *                              half-written message, a Read and a SupplyData
 *                              in flight: each fails with HostDisconnected,
 *                              every event arrives, and the bridge's fd
 *                              count (exact) and VmRSS (+1 MiB) are back.
 *   /faults/queue-full         the host stops reading: QueueFull at once,
 *                              D-Bus still answered, recovery after.
 *   /faults/split-every-byte   a buffer of several messages split at every
 *                              byte boundary; replies intact and in order.
 *   /faults/tiny-reader        a host that reads 1 to 7 bytes at a time:
 *                              the bridge's short writes and EAGAIN.
 *   /faults/bus-drop           the bridge's own dbus-daemon dies: it logs
 *                              it and exits 1.
 *   /faults/caller-vanishes    a caller leaves in the middle of every kind of
 *                              call: what it held is freed, others served.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "test-util.h"

#define SESSIONS_IFACE "org.qemu.GuestAgent.Sessions"
#define TEXT_TYPE "text/plain;charset=utf-8"
#define RSS_TOLERANCE_KIB 1024

/* --- a daemon with its output in a log file ------------------------------ */

typedef struct {
  GSubprocess *sub;
  char *log_path;
  gboolean exited;
} LoggedProc;

static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
logged_exited_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  ((LoggedProc *) data)->exited = TRUE;
}

/* argv behind QGA_TEST_WRAPPER, with env added, stdout and stderr to a log. */
static LoggedProc *
logged_spawn (const char *const *argv, const char *const *env)
{
  const char *wrapper = g_getenv ("QGA_TEST_WRAPPER");
  g_auto(GStrv) wrapper_argv = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GError) error = NULL;
  LoggedProc *proc = g_new0 (LoggedProc, 1);

  if (wrapper != NULL && *wrapper != '\0')
    g_assert_true (g_shell_parse_argv (wrapper, NULL, &wrapper_argv, NULL));
  for (char **w = wrapper_argv; w != NULL && *w != NULL; w++)
    g_ptr_array_add (args, *w);
  for (const char *const *a = argv; *a != NULL; a++)
    g_ptr_array_add (args, (gpointer) *a);
  g_ptr_array_add (args, NULL);
  proc->log_path = qt_tmp_path ("log");
  g_subprocess_launcher_set_stdout_file_path (launcher, proc->log_path);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  for (const char *const *e = env; e != NULL && *e != NULL; e++)
    {
      g_auto(GStrv) pair = g_strsplit (*e, "=", 2);

      g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
    }
  proc->sub = g_subprocess_launcher_spawnv (launcher, (const char *const *) args->pdata, &error);
  g_assert_no_error (error);
  g_test_message ("spawned pid %s: %s (log %s)", g_subprocess_get_identifier (proc->sub), argv[0],
                  proc->log_path);
  g_subprocess_wait_async (proc->sub, NULL, logged_exited_cb, proc);
  return proc;
}

static int
logged_pid (LoggedProc *proc)
{
  return atoi (g_subprocess_get_identifier (proc->sub));
}

static char *
logged_text (LoggedProc *proc)
{
  char *text = NULL;

  g_file_get_contents (proc->log_path, &text, NULL, NULL);
  return text ? text : g_strdup ("");
}

static gboolean
logged_contains (LoggedProc *proc, const char *text)
{
  g_autofree char *log = logged_text (proc);

  return strstr (log, text) != NULL;
}

/* Wait for the exit; returns the exit status, -signal if killed. */
static int
logged_wait (LoggedProc *proc, guint timeout_ms)
{
  if (!QT_WAIT (proc->exited, timeout_ms))
    {
      g_subprocess_force_exit (proc->sub);
      QT_WAIT (proc->exited, qt_ms (10000));
      g_error ("pid %s did not exit within %u ms", g_subprocess_get_identifier (proc->sub), timeout_ms);
    }
  if (g_subprocess_get_if_signaled (proc->sub))
    return -g_subprocess_get_term_sig (proc->sub);
  return g_subprocess_get_exit_status (proc->sub);
}

static void
logged_free (LoggedProc *proc)
{
  if (!proc->exited)
    {
      g_subprocess_force_exit (proc->sub);
      QT_WAIT (proc->exited, qt_ms (10000));
    }
  g_object_unref (proc->sub);
  g_free (proc->log_path);
  g_free (proc);
}

/* SIGTERM; exit 0 expected (99: valgrind found errors). */
static void
logged_stop (LoggedProc *proc)
{
  int status;

  if (!proc->exited)
    g_subprocess_send_signal (proc->sub, SIGTERM);
  status = logged_wait (proc, qt_ms (10000));
  if (status != 0)
    {
      g_autofree char *log = logged_text (proc);

      g_error ("exit status %d, expected 0; log:\n%s", status, log);
    }
  logged_free (proc);
}

/* --- /proc -------------------------------------------------------------- */

static int
proc_fd_count (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  int n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
idle_for (guint ms)
{
  gint64 deadline = qt_now_ms () + ms;

  while (qt_iterate_until (deadline))
    ;
}

/* --- fixture ------------------------------------------------------------ */

typedef struct {
  char *socket_path;
  int listen_fd;
  QtProc *logind;
  LoggedProc *bridge;
  QtWire *wire;
  GDBusConnection *agent;
  guint agent_signals;
  GPtrArray *signals;     /* "Member (args)" seen by the agent */
  GQueue stash;           /* JsonObject from the bridge, read but not yet wanted */
  guint host_events;      /* HostEvent signals seen on qt_bus () */
  guint host_events_sub;
  guint32 guest_serial;   /* of the guest's "primary" grab, as last announced */
} Fixture;

static void
on_agent_signal (GDBusConnection *connection, const char *sender, const char *path,
                 const char *interface, const char *member, GVariant *parameters,
                 gpointer user_data)
{
  Fixture *f = user_data;
  g_autofree char *args = g_variant_print (parameters, FALSE);

  g_ptr_array_add (f->signals, g_strdup_printf ("%s %s", member, args));
}

static char *
wait_signal (Fixture *f, const char *prefix)
{
  gint64 deadline = qt_now_ms () + qt_ms (10000);

  do
    for (guint i = 0; i < f->signals->len; i++)
      if (g_str_has_prefix (f->signals->pdata[i], prefix))
        return g_ptr_array_steal_index (f->signals, i);
  while (qt_iterate_until (deadline));
  g_error ("no %s signal; saw %u others", prefix, f->signals->len);
}

static void
on_host_event (GDBusConnection *connection, const char *sender, const char *path,
               const char *interface, const char *member, GVariant *parameters,
               gpointer user_data)
{
  ((Fixture *) user_data)->host_events++;
}

static gboolean
is_event (JsonObject *m, const char *name)
{
  return g_strcmp0 (json_object_get_string_member_with_default (m, "event", NULL), name) == 0;
}

static gboolean
is_command (JsonObject *m, const char *name)
{
  return g_strcmp0 (json_object_get_string_member_with_default (m, "execute", NULL), name) == 0;
}

typedef gboolean (*MessageMatch) (JsonObject *m, const char *name);

/* The first message (stashed or next on the wire) that matches; the others
 * are stashed. Fails after a bounded wait. */
static JsonObject *
take_message (Fixture *f, MessageMatch match, const char *name)
{
  for (GList *l = f->stash.head; l != NULL; l = l->next)
    if (match (l->data, name))
      {
        JsonObject *m = l->data;

        g_queue_delete_link (&f->stash, l);
        return m;
      }
  for (;;)
    {
      JsonObject *m = qt_wire_expect_object (f->wire);

      if (match (m, name))
        return m;
      g_queue_push_tail (&f->stash, m);
      g_assert_cmpuint (f->stash.length, <, 64);
    }
}

static void
clear_stash (Fixture *f)
{
  g_queue_clear_full (&f->stash, (GDestroyNotify) json_object_unref);
}

static int
accept_bridge (Fixture *f)
{
  gint64 deadline = qt_now_ms () + qt_ms (10000);

  while (!f->bridge->exited && qt_now_ms () < deadline)
    {
      int fd = qt_unix_accept (f->listen_fd, 100);

      if (fd >= 0)
        return fd;
    }
  g_error ("the bridge did not connect%s", f->bridge->exited ? " (it exited)" : "");
}

static void
reply_return (Fixture *f, JsonObject *command, const char *return_json)
{
  g_autofree char *id = qt_json_to_string (json_object_get_member (command, "id"));
  g_autofree char *line = g_strdup_printf ("{\"return\":%s,\"id\":%s}\n", return_json, id);

  qt_wire_write_str (f->wire, line);
}

/* Accept the bridge, answer its host-info (capable); with an agent that
 * grabbed "primary", the bridge announces that grab. */
static void
attach_host (Fixture *f, gboolean expect_grab)
{
  g_autoptr(JsonObject) info = NULL;

  f->wire = qt_wire_new (accept_bridge (f));
  if (f->agent == NULL)
    return;
  info = take_message (f, is_command, "host-info");
  reply_return (f, info, "{\"version\":\"test\",\"supported_commands\":[],"
                         "\"clipboard\":{\"version\":1,\"max-size\":268435456}}");
  if (expect_grab)
    {
      g_autoptr(JsonObject) grab = take_message (f, is_event, "CLIPBOARD_GRAB");
      JsonObject *data = json_object_get_object_member (grab, "data");

      f->guest_serial = (guint32) json_object_get_int_member (data, "serial");
    }
}

static void
detach_host (Fixture *f)
{
  g_clear_pointer (&f->wire, qt_wire_free);
  clear_stash (f);
}

static GVariant *
agent_call (GDBusConnection *connection, const char *method, GVariant *parameters,
            const char *reply_type, GError **error)
{
  return g_dbus_connection_call_sync (connection, QT_BUS_NAME, QT_OBJECT_PATH, SESSIONS_IFACE,
                                      method, parameters,
                                      reply_type ? G_VARIANT_TYPE (reply_type) : NULL,
                                      G_DBUS_CALL_FLAGS_NONE, (int) qt_ms (10000), NULL, error);
}

static GDBusConnection *
register_agent (Fixture *f, guint *subscription)
{
  GDBusConnection *agent = qt_bus_new_connection ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  gboolean active;

  *subscription = g_dbus_connection_signal_subscribe (agent, NULL, SESSIONS_IFACE, NULL,
                                                      QT_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                      on_agent_signal, f, NULL);
  reply = agent_call (agent, "RegisterAgent", NULL, "(b)", &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(b)", &active);
  g_assert_true (active);
  return agent;
}

/* user_data: extra bridge arguments, space separated, or NULL */
static void
fixture_setup (Fixture *f, gconstpointer user_data)
{
  g_autofree char *pid_arg = g_strdup_printf ("%d:s1", (int) getpid ());
  const char *logind_argv[] = {
    g_getenv ("QGA_FAKE_LOGIND"), "--session", "s1:active:seat0", "--pid", pid_arg, NULL
  };
  g_auto(GStrv) extra = g_strsplit (user_data ? (const char *) user_data : "", " ", -1);
  g_autofree char *channel = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *bridge = g_getenv ("QGA_BRIDGE");

  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
  f->signals = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&f->stash);
  f->logind = qt_proc_spawn (logind_argv, TRUE);
  g_assert_true (qt_wait_name_owned ("org.freedesktop.login1", TRUE, qt_ms (5000)));
  f->socket_path = qt_tmp_path ("sock");
  f->listen_fd = qt_unix_listen (f->socket_path);
  channel = g_strdup_printf ("--channel=unix:%s", f->socket_path);
  g_assert_nonnull (bridge);
  g_ptr_array_add (argv, (gpointer) bridge);
  g_ptr_array_add (argv, "--bus=system");
  g_ptr_array_add (argv, channel);
  for (char **e = extra; *e != NULL; e++)
    if (**e != '\0')
      g_ptr_array_add (argv, *e);
  g_ptr_array_add (argv, NULL);
  f->bridge = logged_spawn ((const char *const *) argv->pdata, NULL);
  attach_host (f, FALSE);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, TRUE, qt_ms (5000)));
  g_assert_true (qt_wait_host_connected (TRUE, qt_ms (5000)));
  f->host_events_sub = g_dbus_connection_signal_subscribe (qt_bus (), NULL, QT_INTERFACE, "HostEvent",
                                                           QT_OBJECT_PATH, NULL,
                                                           G_DBUS_SIGNAL_FLAGS_NONE, on_host_event,
                                                           f, NULL);
}

/* An active agent that owns "primary", the host told of it. */
static void
fixture_add_agent (Fixture *f)
{
  const char *const types[] = { TEXT_TYPE, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(JsonObject) info = NULL;
  g_autoptr(JsonObject) grab = NULL;

  f->agent = register_agent (f, &f->agent_signals);
  info = take_message (f, is_command, "host-info");
  reply_return (f, info, "{\"version\":\"test\",\"supported_commands\":[],"
                         "\"clipboard\":{\"version\":1,\"max-size\":268435456}}");
  reply = agent_call (f->agent, "Grab", g_variant_new ("(s^as)", "primary", types), "(u)", &error);
  g_assert_no_error (error);
  grab = take_message (f, is_event, "CLIPBOARD_GRAB");
  f->guest_serial = (guint32) json_object_get_int_member (json_object_get_object_member (grab, "data"),
                                                          "serial");
}

static void
fixture_teardown (Fixture *f, gconstpointer user_data)
{
  g_dbus_connection_signal_unsubscribe (qt_bus (), f->host_events_sub);
  if (f->agent != NULL)
    {
      g_dbus_connection_signal_unsubscribe (f->agent, f->agent_signals);
      qt_bus_close (f->agent);
    }
  if (f->bridge != NULL)
    logged_stop (f->bridge);
  detach_host (f);
  close (f->listen_fd);
  g_unlink (f->socket_path);
  g_free (f->socket_path);
  qt_proc_stop (f->logind);
  g_ptr_array_unref (f->signals);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
}

/* --- /faults/reconnect-cycles ------------------------------------------- */

static guint
cycle_count (void)
{
  const char *env = g_getenv ("QGA_FAULT_CYCLES");

  if (env != NULL && *env != '\0')
    return (guint) g_ascii_strtoull (env, NULL, 10);
  return qt_under_wrapper () ? 50 : 1000;
}

static void
assert_failed_with (gboolean done, const GError *error, const char *dbus_name)
{
  g_assert_true (done);
  qt_assert_dbus_error (error, dbus_name, NULL);
}

/* One cycle: everything in flight, then the host closes. */
static void
one_cycle (Fixture *f, guint i, guint32 host_serial)
{
  g_autofree char *echo_args = g_strdup_printf ("{\"cycle\":%u}", i);
  g_autofree char *grab = NULL;
  g_autofree char *requested = NULL;
  g_autofree char *line = NULL;
  QtCall *ping, *call, *info;
  QtFdCall *read_call, *supply;
  JsonObject *m;
  int in[2], out[2];
  guint32 request_id;

  ping = qt_call_start (qt_bus (), "Ping", NULL, "()");
  call = qt_call_start (qt_bus (), "Call", g_variant_new ("(ss)", "host-echo", echo_args), "(s)");
  info = qt_call_start (qt_bus (), "GetHostInfo", NULL, "(a{sv})");

  /* a Read of the host's clipboard, one chunk in */
  line = g_strdup_printf ("{\"event\":\"CLIPBOARD_GRAB\",\"data\":{\"selection\":\"clipboard\","
                          "\"types\":[\"" TEXT_TYPE "\"],\"serial\":%u,\"peer-serial\":%u}}\n",
                          host_serial, f->guest_serial);
  qt_wire_write_str (f->wire, line);
  grab = wait_signal (f, "HostGrabbed ");
  g_assert_no_errno (pipe2 (in, O_CLOEXEC | O_NONBLOCK));
  read_call = qt_fd_call_start (f->agent, SESSIONS_IFACE, "Read",
                                g_variant_new ("(ssh)", "clipboard", TEXT_TYPE, 0), in[1]);
  m = take_message (f, is_command, "host-clipboard-request");
  reply_return (f, m, "{}");
  g_clear_pointer (&line, g_free);
  line = g_strdup_printf ("{\"event\":\"CLIPBOARD_DATA\",\"data\":{\"transfer\":%" G_GINT64_FORMAT
                          ",\"seq\":0,\"data\":\"aGVsbG8=\",\"last\":false}}\n",
                          json_object_get_int_member (json_object_get_object_member (m, "arguments"),
                                                      "transfer"));
  json_object_unref (m);
  qt_wire_write_str (f->wire, line);

  /* the host reads the guest's "primary": SupplyData, one chunk out */
  g_clear_pointer (&line, g_free);
  line = g_strdup_printf ("{\"execute\":\"guest-clipboard-request\",\"arguments\":{\"selection\":"
                          "\"primary\",\"type\":\"" TEXT_TYPE "\",\"serial\":%u,\"transfer\":%u},"
                          "\"id\":\"r%u\"}\n", f->guest_serial, i + 1, i);
  qt_wire_write_str (f->wire, line);
  requested = wait_signal (f, "DataRequested ");
  g_assert_true (sscanf (requested, "DataRequested ('primary', '" TEXT_TYPE "', %u)", &request_id) == 1);
  g_assert_no_errno (pipe2 (out, O_CLOEXEC));
  supply = qt_fd_call_start (f->agent, SESSIONS_IFACE, "SupplyData",
                             g_variant_new ("(uh)", request_id, 0), out[0]);
  g_assert_cmpint (write (out[1], "partial", 7), ==, 7);

  /* everything reached the host */
  json_object_unref (take_message (f, is_event, "CLIPBOARD_ACK"));
  json_object_unref (take_message (f, is_event, "CLIPBOARD_DATA"));
  json_object_unref (take_message (f, is_command, "host-ping"));
  json_object_unref (take_message (f, is_command, "host-echo"));
  json_object_unref (take_message (f, is_command, "host-info"));

  /* an event, half a message, and the host goes */
  g_clear_pointer (&line, g_free);
  line = g_strdup_printf ("{\"event\":\"CYCLE\",\"data\":{\"i\":%u}}\n{\"execute\":\"guest-sy", i);
  qt_wire_write_str (f->wire, line);
  detach_host (f);

  qt_call_wait (ping, qt_ms (10000));
  qt_call_wait (call, qt_ms (10000));
  qt_call_wait (info, qt_ms (10000));
  qt_fd_call_wait (read_call, 10000);
  qt_fd_call_wait (supply, 10000);
  assert_failed_with (ping->done, ping->error, QT_ERROR_PREFIX "HostDisconnected");
  assert_failed_with (call->done, call->error, QT_ERROR_PREFIX "HostDisconnected");
  assert_failed_with (info->done, info->error, QT_ERROR_PREFIX "HostDisconnected");
  assert_failed_with (read_call->done, read_call->error, QT_ERROR_PREFIX "HostDisconnected");
  assert_failed_with (supply->done, supply->error, QT_ERROR_PREFIX "HostDisconnected");
  qt_call_free (ping);
  qt_call_free (call);
  qt_call_free (info);
  qt_fd_call_free (read_call);
  qt_fd_call_free (supply);
  close (in[0]);
  close (out[1]);
  g_ptr_array_set_size (f->signals, 0);   /* HostReleased and the like */

  attach_host (f, TRUE);
}

static void
test_reconnect_cycles (Fixture *f, gconstpointer user_data)
{
  const guint cycles = cycle_count ();
  const guint warmup = MIN (cycles / 10, 20);
  int pid = logged_pid (f->bridge);
  guint64 rss_before = 0, rss_after;
  int fds_before = 0, fds_after;
  gint64 started = 0;

  fixture_add_agent (f);
  for (guint i = 0; i < cycles; i++)
    {
      if (i == warmup)
        {
          /* the bridge trims its heap 500 ms after its last request */
          idle_for (qt_ms (1000));
          rss_before = qt_proc_rss_kib (pid);
          fds_before = proc_fd_count (pid);
          started = qt_now_ms ();
        }
      one_cycle (f, i, i + 1);
    }
  g_test_message ("%u cycles in %" G_GINT64_FORMAT " ms", cycles - warmup, qt_now_ms () - started);
  g_assert_true (QT_WAIT (f->host_events == cycles, qt_ms (5000)));

  /* still serving */
  {
    g_autoptr(QtCall) ping = qt_call_start (qt_bus (), "Ping", NULL, "()");
    g_autoptr(JsonObject) command = take_message (f, is_command, "host-ping");

    reply_return (f, command, "{}");
    g_assert_true (qt_call_wait (ping, qt_ms (5000)));
    g_assert_no_error (ping->error);
  }
  idle_for (qt_ms (1000));
  rss_after = qt_proc_rss_kib (pid);
  fds_after = proc_fd_count (pid);
  g_test_message ("bridge: VmRSS %" G_GUINT64_FORMAT " → %" G_GUINT64_FORMAT " KiB, fds %d → %d",
                  rss_before, rss_after, fds_before, fds_after);
  g_assert_cmpint (fds_after, ==, fds_before);
  /* valgrind's own memory makes VmRSS meaningless under the wrapper */
  if (qt_rss_is_meaningful ())
    g_assert_cmpuint (rss_after, <=, rss_before + RSS_TOLERANCE_KIB);
}

/* --- /faults/queue-full --------------------------------------------------- */

static void
call_on_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  QtCall *call = data;

  call->result = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &call->error);
  call->done = TRUE;
  call->done_ms = qt_now_ms ();
}

/* qt_call_start() on another interface of the bridge's object. */
static QtCall *
qt_call_start_on (GDBusConnection *connection, const char *interface, const char *method,
                  GVariant *parameters)
{
  QtCall *call = g_new0 (QtCall, 1);

  g_dbus_connection_call (connection, QT_BUS_NAME, QT_OBJECT_PATH, interface, method, parameters,
                          NULL, G_DBUS_CALL_FLAGS_NONE, (int) qt_ms (60000), NULL,
                          call_on_done_cb, call);
  return call;
}

/* The bridge runs with --max-queue-size=65536 --max-message-size=16384.
 * The host stops reading; events of 8 KB fill the socket buffer and then
 * the queue; Calls of shrinking size fill what is left to the byte, the
 * last one (host-echo without arguments, the size of a Ping) refused. */
static void
test_queue_full (Fixture *f, gconstpointer user_data)
{
  g_autofree char *blob = g_strnfill (8000, 'q');
  g_autofree char *data = g_strdup_printf ("{\"blob\":\"%s\"}", blob);
  g_autoptr(GPtrArray) queued = g_ptr_array_new ();
  guint sent = 0;
  gboolean full = FALSE;
  g_autoptr(QtCall) refused = NULL;
  g_autoptr(QtCall) ping = NULL;
  g_autoptr(GVariant) connected = NULL;
  gint64 t0;

  /* the socket buffer takes a few hundred KiB before the queue grows */
  for (guint attempt = 0; attempt < 2000 && !full; attempt++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = qt_call_sync (qt_bus (), "SendEvent",
                                                g_variant_new ("(ss)", "BIG", data), "()", &error);

      if (reply != NULL)
        sent++;
      else
        {
          qt_assert_dbus_error (error, QT_ERROR_PREFIX "QueueFull", NULL);
          full = TRUE;
        }
    }
  g_test_message ("%u events of 8 KB queued before QueueFull", sent);
  g_assert_true (full);

  for (int pad = 4096; pad >= 0; pad = pad > 0 ? pad / 2 : -1)
    for (;;)
      {
        g_autofree char *padding = g_strnfill ((gsize) pad, 'p');
        g_autofree char *args = pad > 0 ? g_strdup_printf ("{\"p\":\"%s\"}", padding) : g_strdup ("");
        QtCall *call = qt_call_start (qt_bus (), "Call", g_variant_new ("(ss)", "host-echo", args), "(s)");
        g_autoptr(QtCall) barrier = NULL;

        /* D-Bus is still answered; the Call was handled before this Get,
         * and its reply (if any) came first */
        barrier = qt_call_start_on (qt_bus (), "org.freedesktop.DBus.Properties", "Get",
                                    g_variant_new ("(ss)", QT_INTERFACE, "Version"));
        g_assert_true (qt_call_wait (barrier, qt_ms (5000)));
        g_assert_no_error (barrier->error);
        QT_WAIT (call->done, 20);
        g_assert_cmpuint (queued->len, <, 500);
        if (!call->done)
          {
            g_ptr_array_add (queued, call);
            continue;
          }
        qt_assert_dbus_error (call->error, QT_ERROR_PREFIX "QueueFull", NULL);
        qt_call_free (call);
        break;
      }
  g_test_message ("%u calls fitted in what was left", queued->len);

  /* a new request is refused at once, not after a timeout */
  t0 = qt_now_ms ();
  refused = qt_call_start (qt_bus (), "Ping", NULL, "()");
  g_assert_true (qt_call_wait (refused, qt_ms (5000)));
  qt_assert_dbus_error (refused->error, QT_ERROR_PREFIX "QueueFull", NULL);
  g_test_message ("Ping refused in %" G_GINT64_FORMAT " ms", refused->done_ms - t0);
  connected = qt_get_property (qt_bus (), "HostConnected");
  g_assert_nonnull (connected);
  g_assert_true (g_variant_get_boolean (connected));

  /* the host reads again: every event intact, the calls answered */
  for (guint i = 0; i < sent; i++)
    {
      g_autoptr(JsonObject) event = take_message (f, is_event, "BIG");

      g_assert_cmpuint (strlen (json_object_get_string_member (json_object_get_object_member (event, "data"),
                                                               "blob")), ==, 8000);
    }
  for (guint i = 0; i < queued->len; i++)
    {
      g_autoptr(JsonObject) command = take_message (f, is_command, "host-echo");

      reply_return (f, command, "{}");
    }
  for (guint i = 0; i < queued->len; i++)
    {
      QtCall *call = queued->pdata[i];

      g_assert_true (qt_call_wait (call, qt_ms (5000)));
      g_assert_no_error (call->error);
      qt_call_free (call);
    }
  ping = qt_call_start (qt_bus (), "Ping", NULL, "()");
  {
    g_autoptr(JsonObject) command = take_message (f, is_command, "host-ping");

    reply_return (f, command, "{}");
  }
  g_assert_true (qt_call_wait (ping, qt_ms (5000)));
  g_assert_no_error (ping->error);
  qt_wire_sync (f->wire, 7);
}

/* --- /faults/split-every-byte ------------------------------------------- */

/* Bytes we wrote that the bridge has not read yet (unix sockets count
 * what the peer has not consumed). */
static int
unread_by_peer (int fd)
{
  int n = 0;

  g_assert_no_errno (ioctl (fd, SIOCOUTQ, &n));
  return n;
}

static gboolean
peer_read_all (gpointer data)
{
  return unread_by_peer (GPOINTER_TO_INT (data)) == 0;
}

static void
expect_return (QtWire *wire, const char *return_json, const char *id_json, gboolean delimited)
{
  gboolean was_delimited = FALSE;
  g_autoptr(JsonNode) node = qt_wire_read_message (wire, &was_delimited, NULL, qt_ms (5000));
  JsonObject *reply;

  g_assert_nonnull (node);
  g_assert_cmpint (was_delimited, ==, delimited);
  reply = json_node_get_object (node);
  qt_assert_member_json (reply, "return", return_json);
  if (id_json != NULL)
    qt_assert_member_json (reply, "id", id_json);
  else
    g_assert_false (json_object_has_member (reply, "id"));
}

static void
expect_error (QtWire *wire)
{
  g_autoptr(JsonObject) reply = qt_wire_expect_object (wire);

  g_assert_true (json_object_has_member (reply, "error"));
}

static void
test_split_every_byte (Fixture *f, gconstpointer user_data)
{
  const gsize step = qt_under_wrapper () ? 5 : 1;
  guint events_before;

  for (gsize split = 0;; split += step)
    {
      g_autoptr(QtCall) ping = qt_call_start (qt_bus (), "Ping", NULL, "()");
      g_autoptr(JsonObject) command = take_message (f, is_command, "host-ping");
      g_autofree char *id = qt_json_to_string (json_object_get_member (command, "id"));
      g_autofree char *buffer = g_strdup_printf (
          "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":%" G_GSIZE_FORMAT "},\"id\":\"h\xc3\xa9\"}"
          "\n {\"execute\": \"guest-ping\"}"
          "{\"return\":{},\"id\":%s}"
          "{\"event\":\"SPLIT\",\"data\":{\"s\":\"\\u00e9\\\"}\"}}"
          "\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%" G_GSIZE_FORMAT "}}\r\n"
          "{'execute':'guest-sync','arguments':{'id':3}}",
          split, id, split + 1);
      gsize length = strlen (buffer);

      if (split > length)
        break;
      events_before = f->host_events;
      qt_wire_write (f->wire, buffer, split);
      /* the bridge has read the first part before the rest is sent */
      g_assert_true (qt_wait_until (peer_read_all, GINT_TO_POINTER (f->wire->fd), qt_ms (5000)));
      qt_wire_write (f->wire, buffer + split, length - split);
      {
        g_autofree char *sync = g_strdup_printf ("%" G_GSIZE_FORMAT, split);
        g_autofree char *sync2 = g_strdup_printf ("%" G_GSIZE_FORMAT, split + 1);

        expect_return (f->wire, sync, "\"h\xc3\xa9\"", FALSE);
        expect_return (f->wire, "{}", NULL, FALSE);
        expect_error (f->wire);   /* the 0xFF, as qemu-ga answers it */
        expect_return (f->wire, sync2, NULL, TRUE);
        expect_return (f->wire, "3", NULL, FALSE);
      }
      g_assert_true (qt_call_wait (ping, qt_ms (5000)));
      g_assert_no_error (ping->error);
      g_assert_true (QT_WAIT (f->host_events == events_before + 1, qt_ms (5000)));
    }
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (100)));
}

/* --- /faults/tiny-reader ------------------------------------------------ */

static void
test_tiny_reader (Fixture *f, gconstpointer user_data)
{
  const guint n = qt_under_wrapper () ? 40 : 300;
  g_autofree char *pad = g_strnfill (2000, 'p');
  g_autoptr(GString) commands = g_string_new (NULL);
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autoptr(GByteArray) got = g_byte_array_new ();
  int size = 1;
  GRand *rand = g_rand_new_with_seed (7);
  gint64 deadline;

  setsockopt (f->wire->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  for (guint i = 0; i < n; i++)
    {
      g_string_append_printf (commands, "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":%u},"
                                        "\"id\":\"%u-%s\"}\n", i, i, pad);
      g_string_append_printf (expected, "{\"return\":%u,\"id\":\"%u-%s\"}\n", i, i, pad);
    }
  /* our writes block in turn while the bridge's replies pile up: its
   * writes hit EAGAIN and short writes, its queue holds the rest */
  qt_wire_write (f->wire, commands->str, commands->len);
  deadline = qt_now_ms () + qt_ms (60000);
  while (got->len < expected->len && qt_now_ms () < deadline)
    {
      guint8 buf[8];
      /* one byte at a time for the first 64 KiB, then 1 to 7 */
      gsize want = got->len < 65536 ? 1 : (gsize) g_rand_int_range (rand, 1, 8);
      ssize_t r = read (f->wire->fd, buf, MIN (want, expected->len - got->len));

      if (r > 0)
        g_byte_array_append (got, buf, (guint) r);
      else if (r < 0 && errno == EAGAIN)
        qt_wait_fd (f->wire->fd, G_IO_IN, 100);
      else
        g_error ("read: %s", r == 0 ? "end of file" : g_strerror (errno));
    }
  g_rand_free (rand);
  g_assert_cmpmem (got->data, got->len, expected->str, expected->len);
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (100)));
  qt_wire_sync (f->wire, 1);
}

/* --- /faults/bus-drop ----------------------------------------------------- */

static void
test_bus_drop (void)
{
  /* killed, it could not remove its socket: that goes with our directory */
  g_autofree char *listen = g_strdup_printf ("--address=unix:dir=%s", qt_tmpdir ());
  const char *daemon_argv[] = { "dbus-daemon", "--session", "--nofork", "--print-address=1", listen,
                                NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) daemon = g_subprocess_newv (daemon_argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *address = NULL;
  g_autofree char *env_address = NULL;
  g_autofree char *socket_path = qt_tmp_path ("sock");
  g_autofree char *channel = g_strdup_printf ("--channel=unix:%s", socket_path);
  g_autofree char *log = NULL;
  int listen_fd = qt_unix_listen (socket_path);
  LoggedProc *bridge;
  int status, fd;

  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (daemon));
  address = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (address);
  env_address = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", address);
  {
    const char *argv[] = { g_getenv ("QGA_BRIDGE"), "--bus=session", channel, NULL };
    const char *env[] = { env_address, NULL };

    bridge = logged_spawn (argv, env);
  }
  /* it serves: it connected to the host after owning its name */
  fd = qt_unix_accept (listen_fd, qt_ms (10000));
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (QT_WAIT (logged_contains (bridge, "serving org.qemu.GuestAgent"), qt_ms (5000)));

  g_subprocess_force_exit (daemon);
  g_subprocess_wait (daemon, NULL, NULL);
  status = logged_wait (bridge, qt_ms (10000));
  log = logged_text (bridge);
  g_test_message ("bridge exit status %d; log:\n%s", status, log);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (log, "the bus connection closed"));
  logged_free (bridge);
  close (fd);
  close (listen_fd);
}

/* --- /faults/caller-vanishes -------------------------------------------- */

static void
close_with_call_in_flight (GDBusConnection *connection)
{
  g_autoptr(GError) error = NULL;

  g_dbus_connection_flush_sync (connection, NULL, &error);
  g_assert_no_error (error);
  qt_bus_close (connection);
}

/* A caller that asks and leaves before the answer, for each kind of call:
 * the request is dropped (the host's late reply finds nothing), the client
 * record is freed (--max-clients=2 leaves room for two new callers), the
 * stats subscription ends (host-unsubscribe), the clipboard fds are closed
 * (the pipe's other end sees it), and the fd count is back. */
static void
test_caller_vanishes (Fixture *f, gconstpointer user_data)
{
  static const char *const kinds[][3] = {
    { "Ping", NULL, "host-ping" },
    { "GetHostInfo", NULL, "host-info" },
    { "GetHostStats", NULL, "host-stats" },
    { "Call", "host-echo", "host-echo" },
  };
  int pid = logged_pid (f->bridge);
  int fds_before;

  fixture_add_agent (f);
  fds_before = proc_fd_count (pid);

  for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      GDBusConnection *caller = qt_bus_new_connection ();
      g_autofree char *unique = g_strdup (g_dbus_connection_get_unique_name (caller));
      QtCall *call;
      g_autoptr(JsonObject) command = NULL;
      g_autofree char *wanted = NULL;

      call = kinds[k][1] != NULL
        ? qt_call_start (caller, kinds[k][0], g_variant_new ("(ss)", kinds[k][1], "{\"delay-ms\":100}"), NULL)
        : qt_call_start (caller, kinds[k][0], NULL, NULL);
      command = take_message (f, is_command, kinds[k][2]);
      close_with_call_in_flight (caller);
      g_assert_true (qt_call_wait (call, qt_ms (5000)));
      qt_call_free (call);
      wanted = g_strdup_printf ("client %s left the bus with 1 request(s) in flight", unique);
      g_assert_true (QT_WAIT (logged_contains (f->bridge, wanted), qt_ms (5000)));
      /* the late reply is dropped, and the bridge serves on */
      reply_return (f, command, "{}");
      qt_wire_sync (f->wire, (gint64) k);
    }
  g_assert_true (QT_WAIT (logged_contains (f->bridge, "dropping a reply to unknown"), qt_ms (5000)));

  /* SendEvent: the event goes out, the reply finds nobody */
  {
    GDBusConnection *caller = qt_bus_new_connection ();
    QtCall *call = qt_call_start (caller, "SendEvent", g_variant_new ("(ss)", "BYE", "{}"), NULL);
    g_autoptr(JsonObject) event = NULL;

    close_with_call_in_flight (caller);
    event = take_message (f, is_event, "BYE");
    g_assert_true (qt_call_wait (call, qt_ms (5000)));
    qt_call_free (call);
  }

  /* SubscribeHostStats: the only subscriber leaves, the stream stops */
  {
    GDBusConnection *caller = qt_bus_new_connection ();
    QtCall *call = qt_call_start (caller, "SubscribeHostStats", g_variant_new ("(u)", 1000), NULL);
    g_autoptr(JsonObject) subscribe = take_message (f, is_command, "host-subscribe");
    g_autoptr(JsonObject) unsubscribe = NULL;

    reply_return (f, subscribe, "{}");
    g_assert_true (qt_call_wait (call, qt_ms (5000)));
    qt_call_free (call);
    qt_bus_close (caller);
    unsubscribe = take_message (f, is_command, "host-unsubscribe");
    reply_return (f, unsubscribe, "{}");
  }

  /* the clipboard: a second agent (now the active one) reads, and leaves */
  {
    guint sub;
    GDBusConnection *agent2 = register_agent (f, &sub);
    g_autofree char *grab = NULL;
    g_autoptr(JsonObject) request = NULL;
    g_autoptr(JsonObject) cancel = NULL;
    g_autofree char *line = NULL;
    QtFdCall *read_call;
    int in[2];
    char c;

    qt_wire_write_str (f->wire, "{\"event\":\"CLIPBOARD_GRAB\",\"data\":{\"selection\":\"clipboard\","
                                "\"types\":[\"" TEXT_TYPE "\"],\"serial\":1,\"peer-serial\":0}}\n");
    grab = wait_signal (f, "HostGrabbed ");
    g_assert_no_errno (pipe2 (in, O_CLOEXEC));
    read_call = qt_fd_call_start (agent2, SESSIONS_IFACE, "Read",
                                  g_variant_new ("(ssh)", "clipboard", TEXT_TYPE, 0), in[1]);
    request = take_message (f, is_command, "host-clipboard-request");
    reply_return (f, request, "{}");
    line = g_strdup_printf ("{\"event\":\"CLIPBOARD_DATA\",\"data\":{\"transfer\":%" G_GINT64_FORMAT
                            ",\"seq\":0,\"data\":\"aGVsbG8=\",\"last\":false}}\n",
                            json_object_get_int_member (json_object_get_object_member (request, "arguments"),
                                                        "transfer"));
    qt_wire_write_str (f->wire, line);
    json_object_unref (take_message (f, is_event, "CLIPBOARD_ACK"));
    g_dbus_connection_signal_unsubscribe (agent2, sub);
    close_with_call_in_flight (agent2);
    qt_fd_call_wait (read_call, 10000);
    qt_fd_call_free (read_call);
    cancel = take_message (f, is_event, "CLIPBOARD_CANCEL");
    /* the bridge closed its end: ours reads the chunk, then end of file */
    g_assert_cmpint (read (in[0], &c, 1), ==, 1);
    {
      char rest[16];

      g_assert_cmpint (read (in[0], rest, sizeof rest), ==, 4);
      g_assert_cmpint (read (in[0], rest, sizeof rest), ==, 0);
    }
    close (in[0]);
  }

  /* SupplyData: the owner's agent supplies a pipe, and leaves mid-way */
  {
    guint sub;
    GDBusConnection *agent3 = register_agent (f, &sub);
    const char *const types[] = { TEXT_TYPE, NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = agent_call (agent3, "Grab", g_variant_new ("(s^as)", "clipboard", types),
                                            "(u)", &error);
    g_autoptr(JsonObject) grab = NULL;
    g_autoptr(JsonObject) answer = NULL;
    g_autoptr(JsonObject) cancel = NULL;
    g_autofree char *line = NULL;
    g_autofree char *requested = NULL;
    QtFdCall *supply;
    guint32 serial, request_id;
    int out[2];

    g_assert_no_error (error);
    g_variant_get (reply, "(u)", &serial);
    grab = take_message (f, is_event, "CLIPBOARD_GRAB");
    line = g_strdup_printf ("{\"execute\":\"guest-clipboard-request\",\"arguments\":{\"selection\":"
                            "\"clipboard\",\"type\":\"" TEXT_TYPE "\",\"serial\":%u,\"transfer\":42},"
                            "\"id\":\"s\"}\n", serial);
    qt_wire_write_str (f->wire, line);
    requested = wait_signal (f, "DataRequested ('clipboard'");
    g_assert_true (sscanf (requested, "DataRequested ('clipboard', '" TEXT_TYPE "', %u)", &request_id) == 1);
    g_assert_no_errno (pipe2 (out, O_CLOEXEC | O_NONBLOCK));
    supply = qt_fd_call_start (agent3, SESSIONS_IFACE, "SupplyData",
                               g_variant_new ("(uh)", request_id, 0), out[0]);
    g_assert_cmpint (write (out[1], "partial", 7), ==, 7);
    json_object_unref (take_message (f, is_event, "CLIPBOARD_DATA"));
    g_dbus_connection_signal_unsubscribe (agent3, sub);
    close_with_call_in_flight (agent3);
    qt_fd_call_wait (supply, 10000);
    qt_fd_call_free (supply);
    cancel = take_message (f, is_event, "CLIPBOARD_CANCEL");
    /* the bridge closed the pipe's read end: writing fails with EPIPE */
    g_assert_true (QT_WAIT (write (out[1], "x", 1) < 0 && errno == EPIPE, qt_ms (5000)));
    close (out[1]);
  }

  /* no client record is left: two new callers with requests in flight fit
   * in --max-clients=2 */
  {
    GDBusConnection *a = qt_bus_new_connection ();
    QtCall *pa = qt_call_start (a, "Ping", NULL, "()");
    QtCall *pb = qt_call_start (qt_bus (), "Ping", NULL, "()");
    JsonObject *ca = take_message (f, is_command, "host-ping");
    JsonObject *cb = take_message (f, is_command, "host-ping");

    reply_return (f, ca, "{}");
    reply_return (f, cb, "{}");
    g_assert_true (qt_call_wait (pa, qt_ms (5000)));
    g_assert_true (qt_call_wait (pb, qt_ms (5000)));
    g_assert_no_error (pa->error);
    g_assert_no_error (pb->error);
    qt_call_free (pa);
    qt_call_free (pb);
    json_object_unref (ca);
    json_object_unref (cb);
    qt_bus_close (a);
  }
  g_assert_true (QT_WAIT (proc_fd_count (pid) == fds_before, qt_ms (5000)));
}

#define ADD(path, func, args) \
  g_test_add (path, Fixture, args, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);
  qt_use_system_bus ();

  ADD ("/faults/reconnect-cycles", test_reconnect_cycles, NULL);
  ADD ("/faults/queue-full", test_queue_full, "--max-queue-size=65536 --max-message-size=16384");
  ADD ("/faults/split-every-byte", test_split_every_byte, NULL);
  ADD ("/faults/tiny-reader", test_tiny_reader, NULL);
  ADD ("/faults/caller-vanishes", test_caller_vanishes, "--verbose --max-clients=2");
  g_test_add_func ("/faults/bus-drop", test_bus_drop);

  return qt_run ();
}
