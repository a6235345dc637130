/* test-policy.c: the shipped D-Bus policy and activation file, on a private
 * deny-by-default system bus (tests/system-bus.conf, which includes
 * policy/org.qemu.GuestAgent.conf).
 *
 * The bridge is never started by the test: a plain `gdbus call` makes
 * dbus-daemon activate it from the build tree's service directory. The
 * test runs as root (as the bridge must); other users are played by
 * setpriv, as an unprivileged process on a real system would be.
 */
#include "config.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-util.h"

#define NOBODY "65534"

typedef struct {
  QtProc *host;
} Fixture;

typedef struct {
  int status;   /* exit status, or -1 */
  char *out;
  char *err;
} Run;

static void
run_clear (Run *run)
{
  g_free (run->out);
  g_free (run->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

/* Run argv, as uid 65534 when unprivileged, with a bounded wait. */
static void
run_as (gboolean unprivileged, const char *const *argv, Run *run)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *timeout_s = g_strdup_printf ("%u", qt_ms (20000) / 1000);
  int wait_status = 0;

  g_ptr_array_add (args, (gpointer) "timeout");
  g_ptr_array_add (args, timeout_s);
  if (unprivileged)
    {
      const char *setpriv[] = { "setpriv", "--reuid=" NOBODY, "--regid=" NOBODY,
                                "--clear-groups", "--", NULL };

      for (const char *const *a = setpriv; *a != NULL; a++)
        g_ptr_array_add (args, (gpointer) *a);
    }
  for (; *argv != NULL; argv++)
    g_ptr_array_add (args, (gpointer) *argv);
  g_ptr_array_add (args, NULL);

  g_spawn_sync (NULL, (char **) args->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &run->out, &run->err, &wait_status, &error);
  g_assert_no_error (error);
  run->status = WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
  g_test_message ("%s%s → %d %s%s", unprivileged ? "[uid " NOBODY "] " : "",
                  (const char *) args->pdata[unprivileged ? 7 : 2], run->status,
                  run->out, run->err);
}

/* gdbus call --system on the bridge: method, then its arguments. */
static void
gdbus_call (gboolean unprivileged, const char *method, const char *arg1, const char *arg2,
            Run *run)
{
  const char *argv[] = { "gdbus", "call", "--system", "--dest", QT_BUS_NAME,
                         "--object-path", QT_OBJECT_PATH, "--method", method,
                         arg1, arg2, NULL };

  run_as (unprivileged, argv, run);
}

static void
assert_succeeds (Run *run)
{
  g_assert_cmpint (run->status, ==, 0);
}

static void
assert_denied (Run *run)
{
  g_assert_cmpint (run->status, !=, 0);
  g_assert_nonnull (strstr (run->err, "org.freedesktop.DBus.Error.AccessDenied"));
}

static int
bridge_pid (void)
{
  g_autoptr(GVariant) reply = NULL;
  guint32 pid = 0;

  reply = g_dbus_connection_call_sync (qt_bus (), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                       g_variant_new ("(s)", QT_BUS_NAME), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(u)", &pid);
  return pid;
}

static gboolean
skip_unless_root (void)
{
  if (geteuid () == 0)
    return FALSE;
  g_test_skip ("needs root: the policy lets only root own org.qemu.GuestAgent");
  return TRUE;
}

/* A host on the channel, then the bridge activated by a plain gdbus call. */
static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_auto (Run) run = { 0 };
  g_autofree char *cmdline = NULL;
  g_autofree char *cmdline_path = NULL;
  gsize length = 0;

  if (geteuid () != 0)
    return;
  f->host = qt_spawn_host (g_getenv ("QGA_TEST_PORT"), TRUE);
  /* The Ping below needs the host attached: wait for its socket (a slow
   * start, as under the sanitizers, lost the race). */
  g_assert_true (QT_WAIT (g_file_test (g_getenv ("QGA_TEST_PORT"), G_FILE_TEST_EXISTS),
                          qt_ms (5000)));
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));

  gdbus_call (FALSE, "org.qemu.GuestAgent.Ping", NULL, NULL, &run);
  assert_succeeds (&run);
  g_assert_cmpstr (run.out, ==, "()\n");

  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, TRUE, qt_ms (1000)));
  cmdline_path = g_strdup_printf ("/proc/%d/cmdline", bridge_pid ());
  g_assert_true (g_file_get_contents (cmdline_path, &cmdline, &length, NULL));
  /* NUL-separated arguments; a wrapper (valgrind) may come first. */
  for (gsize i = 0; i + 1 < length; i++)
    if (cmdline[i] == '\0')
      cmdline[i] = ' ';
  g_assert_nonnull (strstr (cmdline, "qga-bridge"));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  int pid;

  if (f->host == NULL)
    return;
  pid = bridge_pid ();
  if (pid > 0)
    kill (pid, SIGTERM);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (10000)));
  qt_proc_stop (f->host);
}

static void
test_activation (Fixture *f, gconstpointer data)
{
  /* The fixture activated the bridge; here, check it serves real work. */
  g_auto (Run) run = { 0 };

  if (skip_unless_root ())
    return;
  gdbus_call (FALSE, "org.qemu.GuestAgent.Call", "host-echo", "{\"via\":\"activation\"}", &run);
  assert_succeeds (&run);
  g_assert_nonnull (strstr (run.out, "activation"));
}

static void
test_root_may_do_everything (Fixture *f, gconstpointer data)
{
  g_auto (Run) event = { 0 };
  g_auto (Run) info = { 0 };

  if (skip_unless_root ())
    return;
  gdbus_call (FALSE, "org.qemu.GuestAgent.SendEvent", "POLICY_TEST", "{}", &event);
  assert_succeeds (&event);
  gdbus_call (FALSE, "org.qemu.GuestAgent.GetHostInfo", NULL, NULL, &info);
  assert_succeeds (&info);
}

static void
test_user_may_read (Fixture *f, gconstpointer data)
{
  g_auto (Run) ping = { 0 };
  g_auto (Run) info = { 0 };
  g_auto (Run) prop = { 0 };
  g_auto (Run) all = { 0 };
  g_auto (Run) introspect = { 0 };

  if (skip_unless_root ())
    return;
  gdbus_call (TRUE, "org.qemu.GuestAgent.Ping", NULL, NULL, &ping);
  assert_succeeds (&ping);
  gdbus_call (TRUE, "org.qemu.GuestAgent.GetHostInfo", NULL, NULL, &info);
  assert_succeeds (&info);
  g_assert_nonnull (strstr (info.out, "host-ping"));
  gdbus_call (TRUE, "org.freedesktop.DBus.Properties.Get", QT_INTERFACE, "HostConnected", &prop);
  assert_succeeds (&prop);
  g_assert_cmpstr (prop.out, ==, "(<true>,)\n");
  gdbus_call (TRUE, "org.freedesktop.DBus.Properties.GetAll", QT_INTERFACE, NULL, &all);
  assert_succeeds (&all);
  gdbus_call (TRUE, "org.freedesktop.DBus.Introspectable.Introspect", NULL, NULL, &introspect);
  assert_succeeds (&introspect);
}

static void
test_user_may_not_act (Fixture *f, gconstpointer data)
{
  g_auto (Run) call = { 0 };
  g_auto (Run) event = { 0 };
  g_auto (Run) set = { 0 };

  if (skip_unless_root ())
    return;
  gdbus_call (TRUE, "org.qemu.GuestAgent.Call", "host-echo", "{}", &call);
  assert_denied (&call);
  gdbus_call (TRUE, "org.qemu.GuestAgent.SendEvent", "POLICY_TEST", "{}", &event);
  assert_denied (&event);
  gdbus_call (TRUE, "org.freedesktop.DBus.Properties.Set", QT_INTERFACE, "HostConnected", &set);
  g_assert_cmpint (set.status, !=, 0);
}

static void
test_user_may_not_own (Fixture *f, gconstpointer data)
{
  const char *bridge = g_getenv ("QGA_BRIDGE");
  const char *own_argv[] = { bridge, "--bus=system", "--replace",
                             "--channel=unix:/nonexistent/port", NULL };
  const char *request_argv[] = { "gdbus", "call", "--system", "--dest", "org.freedesktop.DBus",
                                 "--object-path", "/org/freedesktop/DBus",
                                 "--method", "org.freedesktop.DBus.RequestName",
                                 QT_BUS_NAME, "0", NULL };
  g_auto (Run) own = { 0 };
  g_auto (Run) request = { 0 };
  int pid_before;

  if (skip_unless_root ())
    return;
  pid_before = bridge_pid ();
  run_as (TRUE, own_argv, &own);
  g_assert_cmpint (own.status, ==, 1);
  g_assert_nonnull (strstr (own.err, "cannot own " QT_BUS_NAME));
  g_assert_nonnull (strstr (own.err, "not allowed to own the service"));
  run_as (TRUE, request_argv, &request);
  assert_denied (&request);
  g_assert_cmpint (bridge_pid (), ==, pid_before);
}

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);
  qt_use_system_bus ();
  g_test_add ("/policy/activation", Fixture, NULL, fixture_setup, test_activation, fixture_teardown);
  g_test_add ("/policy/root", Fixture, NULL, fixture_setup, test_root_may_do_everything,
              fixture_teardown);
  g_test_add ("/policy/user/read", Fixture, NULL, fixture_setup, test_user_may_read,
              fixture_teardown);
  g_test_add ("/policy/user/act", Fixture, NULL, fixture_setup, test_user_may_not_act,
              fixture_teardown);
  g_test_add ("/policy/user/own", Fixture, NULL, fixture_setup, test_user_may_not_own,
              fixture_teardown);
  return qt_run ();
}
