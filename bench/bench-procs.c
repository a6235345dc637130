/* bench-procs.c: the daemons under measurement and the private buses. */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gio/gunixoutputstream.h>

#include "bench.h"

#define STOP_TIMEOUT_MS 5000

struct _BenchProc {
  char *label;
  GSubprocess *process;
  gboolean exited;          /* seen by the wait started at spawn */
};

static int log_fd = -1;

void
bench_procs_set_log_fd (int fd)
{
  log_fd = fd;
}

/* Children must not outlive a bench that crashed. */
static void
child_setup (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static void
proc_exited_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BenchProc *proc = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  proc->exited = TRUE;
}

static GSubprocessLauncher *
new_launcher (const char *bus_address, GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  g_subprocess_launcher_unsetenv (launcher, "G_MESSAGES_DEBUG");
  g_subprocess_launcher_unsetenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS");
  g_subprocess_launcher_unsetenv (launcher, "DBUS_STARTER_ADDRESS");
  if (bus_address != NULL)
    g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", bus_address, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "DBUS_SESSION_BUS_ADDRESS");
  if (log_fd >= 0 && !(flags & G_SUBPROCESS_FLAGS_STDOUT_PIPE))
    g_subprocess_launcher_take_stdout_fd (launcher, dup (log_fd));
  if (log_fd >= 0)
    g_subprocess_launcher_take_stderr_fd (launcher, dup (log_fd));
  return launcher;
}

/* The environment data/qga-bridge.service.in gives the bridge: the bench
 * measures it as it is deployed (docs/PERFORMANCE.md, "Memory"). Keep the
 * two in step. */
static const char *const bridge_environment[][2] = {
  { "G_SLICE", "always-malloc" },
  { "GLIBC_TUNABLES", "glibc.malloc.tcache_count=0" },
};

static BenchProc *
spawn_full (const char *label, const char *bus_address, GSubprocessFlags flags,
            const char *const *argv, gboolean as_bridge, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = new_launcher (bus_address, flags);
  GSubprocess *process;
  BenchProc *proc;

  for (gsize i = 0; as_bridge && i < G_N_ELEMENTS (bridge_environment); i++)
    g_subprocess_launcher_setenv (launcher, bridge_environment[i][0], bridge_environment[i][1], TRUE);
  process = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (process == NULL)
    {
      g_prefix_error (error, "cannot start %s: ", label);
      return NULL;
    }
  proc = g_new0 (BenchProc, 1);
  proc->label = g_strdup (label);
  proc->process = process;
  g_subprocess_wait_async (process, NULL, proc_exited_cb, proc);
  return proc;
}

static BenchProc *
spawn (const char *label, const char *bus_address, GSubprocessFlags flags,
       const char *const *argv, GError **error)
{
  return spawn_full (label, bus_address, flags, argv, FALSE, error);
}

BenchProc *
bench_proc_spawn_bridge (const char *label, const char *bus_address, const char *const *argv,
                         GError **error)
{
  return spawn_full (label, bus_address, G_SUBPROCESS_FLAGS_NONE, argv, TRUE, error);
}

BenchProc *
bench_proc_spawn (const char *label, const char *bus_address, gboolean stdin_pipe,
                  const char *const *argv, GError **error)
{
  return spawn (label, bus_address,
                stdin_pipe ? G_SUBPROCESS_FLAGS_STDIN_PIPE : G_SUBPROCESS_FLAGS_NONE,
                argv, error);
}

GPid
bench_proc_get_pid (BenchProc *proc)
{
  const char *id = g_subprocess_get_identifier (proc->process);

  return id != NULL ? (GPid) atoi (id) : 0;
}

const char *
bench_proc_get_label (BenchProc *proc)
{
  return proc->label;
}

int
bench_proc_get_stdin_fd (BenchProc *proc)
{
  GOutputStream *stream = g_subprocess_get_stdin_pipe (proc->process);

  return stream != NULL ? g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (stream)) : -1;
}

static void
describe_exit (BenchProc *proc, GError **error)
{
  GSubprocess *p = proc->process;

  if (g_subprocess_get_if_signaled (p))
    g_set_error (error, BENCH_ERROR, 0, "%s died of signal %d", proc->label,
                 g_subprocess_get_term_sig (p));
  else
    g_set_error (error, BENCH_ERROR, 0, "%s exited with status %d", proc->label,
                 g_subprocess_get_exit_status (p));
}

gboolean
bench_proc_check_alive (BenchProc *proc, GError **error)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
  if (!proc->exited)
    return TRUE;
  describe_exit (proc, error);
  return FALSE;
}

static gboolean
stop_timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

static void
proc_free (BenchProc *proc)
{
  /* The wait started at spawn holds its own reference to the process and
   * has completed, so proc is no longer used by it. */
  g_object_unref (proc->process);
  g_free (proc->label);
  g_free (proc);
}

/* Exit status 0, or the SIGTERM we sent when the program does not catch it. */
static gboolean
stopped_cleanly (GSubprocess *process)
{
  if (g_subprocess_get_if_exited (process))
    return g_subprocess_get_exit_status (process) == 0;
  return g_subprocess_get_if_signaled (process) && g_subprocess_get_term_sig (process) == SIGTERM;
}

gboolean
bench_proc_stop (BenchProc *proc, GError **error)
{
  gboolean died_before = !bench_proc_check_alive (proc, NULL);
  gboolean timed_out = FALSE;
  gboolean ok;
  guint timer;

  if (!died_before)
    g_subprocess_send_signal (proc->process, SIGTERM);
  timer = g_timeout_add (STOP_TIMEOUT_MS, stop_timeout_cb, &timed_out);
  while (!proc->exited && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (timer);
  if (!proc->exited)
    {
      g_subprocess_force_exit (proc->process);
      while (!proc->exited)
        g_main_context_iteration (NULL, TRUE);
      g_set_error (error, BENCH_ERROR, 0, "%s did not stop within %d ms", proc->label,
                   STOP_TIMEOUT_MS);
      ok = FALSE;
    }
  else if (died_before || !stopped_cleanly (proc->process))
    {
      describe_exit (proc, error);
      if (died_before)
        g_prefix_error (error, "before the end: ");
      ok = FALSE;
    }
  else
    ok = TRUE;
  proc_free (proc);
  return ok;
}

/* --- private buses ------------------------------------------------------- */

BenchBus *
bench_bus_start (const char *label, GError **error)
{
  const char *argv[] = { "dbus-daemon", "--session", "--nofork", "--print-address=1", NULL };
  BenchProc *daemon = spawn (label, NULL, G_SUBPROCESS_FLAGS_STDOUT_PIPE, argv, error);
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *address = NULL;
  BenchBus *bus;

  if (daemon == NULL)
    return NULL;
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (daemon->process));
  address = g_data_input_stream_read_line (out, NULL, NULL, error);
  if (address == NULL || *address == '\0')
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, BENCH_ERROR, 0, "%s printed no address", label);
      bench_proc_stop (daemon, NULL);
      return NULL;
    }
  bus = g_new0 (BenchBus, 1);
  bus->daemon = daemon;
  bus->address = g_steal_pointer (&address);
  return bus;
}

gboolean
bench_bus_stop (BenchBus *bus, GError **error)
{
  gboolean ok;

  if (bus == NULL)
    return TRUE;
  ok = bench_proc_stop (bus->daemon, error);
  g_free (bus->address);
  g_free (bus);
  return ok;
}

GDBusConnection *
bench_bus_connect (BenchBus *bus, GError **error)
{
  GDBusConnection *connection =
    g_dbus_connection_new_for_address_sync (bus->address,
                                            G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                            G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                            NULL, NULL, error);

  if (connection != NULL)
    g_dbus_connection_set_exit_on_close (connection, FALSE);
  return connection;
}

static GVariant *
call_bus (GDBusConnection *connection, const char *method, GVariant *parameters,
          const char *reply_type, GError **error)
{
  return g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                      "org.freedesktop.DBus", method, parameters,
                                      G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE,
                                      BENCH_TIMEOUT_MS, NULL, error);
}

char *
bench_bus_wait_owner (GDBusConnection *connection, const char *name, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + BENCH_TIMEOUT_MS * G_GINT64_CONSTANT (1000);

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GVariant) reply = call_bus (connection, "GetNameOwner", g_variant_new ("(s)", name),
                                            "(s)", &local_error);
      char *owner;

      if (reply != NULL)
        {
          g_variant_get (reply, "(s)", &owner);
          return owner;
        }
      if (!g_dbus_error_is_remote_error (local_error) || g_get_monotonic_time () > deadline)
        {
          g_set_error (error, BENCH_ERROR, 0, "%s has no owner: %s", name, local_error->message);
          return NULL;
        }
      g_usleep (10 * 1000);
    }
}

gboolean
bench_bus_round_trip (GDBusConnection *connection, GError **error)
{
  g_autoptr(GVariant) reply = call_bus (connection, "GetId", NULL, "(s)", error);

  return reply != NULL;
}
