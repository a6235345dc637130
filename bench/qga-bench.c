/* qga-bench.c: 'make bench' — qga-bridge against floors measured in the
 * same run (see bench.h for the modes, docs/PERFORMANCE.md for the method
 * and the figures).
 *
 * The driver starts everything on private dbus-daemons:
 *
 *   bus A: qga-bridge A  <-unix socket->  qga-host --listen
 *          trivial service A, and the echo server beside it (no bus)
 *   bus B: qga-bridge B  <-unix socket->  the bench itself, as the host
 *          trivial service B (stdin: fan-out triggers)
 *   qemu-ga -m unix-listen, with the bench as its host (if installed)
 *
 * then runs every measurement once per pass, checks that no daemon died,
 * and prints the table. Exit status: 0 when the bench ran (targets may be
 * missed: they say MISS), 1 when it broke, 2 on a usage error.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "bench.h"

#define SETTLE_MS 1000

typedef struct {
  char *bridge_path;
  char *host_path;
  char *qemu_ga_path;
  char *results_dir;
  gboolean no_qemu_ga;
  gboolean quick;
  gint passes;
  char *only;               /* run one measurement */
  char *bridge_wrapper;     /* e.g. "valgrind --tool=callgrind" for bridge A */
  char *trivial_name;       /* --trivial-service mode */
  char *echo_socket;        /* --echo-server mode */
  char *session_path;       /* qga-session, for the clipboard */
  char *clipboard_floor;    /* --clipboard-floor mode */
  char *flood_result;       /* --flood-client mode */
} Options;

typedef struct {
  Options *options;
  char *self;               /* this program, for the server modes */
  char *tmpdir;
  BenchSetup setup;
  BenchPlan plan;
  BenchProc *host;
  BenchProc *bridge_a;
  BenchProc *bridge_b;
  BenchProc *trivial_a;
  BenchProc *echo;
  BenchProc *qemu_ga;
  GDBusConnection *control_a;
  GDBusConnection *control_b;
  BenchClipboard *clip;     /* 6: bus C, bus S, qga-bridge C, qga-session, floor */
  GArray *flood_quiet;      /* 7: the other client's Ping without and with a flood */
  GArray *flood_flooded;
  guint64 flood_refused, flood_answered;
} Driver;

/* --- options -------------------------------------------------------------- */

static const char *const measurement_names[] = {
  "round-trip", "host-to-guest", "concurrency", "fanout", "clipboard", "flood", NULL
};

static gboolean
parse_options (Options *o, int *argc, char ***argv)
{
  const GOptionEntry entries[] = {
    { "bridge", 0, 0, G_OPTION_ARG_FILENAME, &o->bridge_path, "qga-bridge to measure", "PATH" },
    { "host", 0, 0, G_OPTION_ARG_FILENAME, &o->host_path, "qga-host to use", "PATH" },
    { "qemu-ga", 0, 0, G_OPTION_ARG_FILENAME, &o->qemu_ga_path,
      "qemu-ga to compare with (default: qemu-ga in PATH or /usr/sbin)", "PATH" },
    { "no-qemu-ga", 0, 0, G_OPTION_ARG_NONE, &o->no_qemu_ga, "Skip the qemu-ga comparisons", NULL },
    { "results", 0, 0, G_OPTION_ARG_FILENAME, &o->results_dir,
      "Write the JSON lines into DIR (default bench/results)", "DIR" },
    { "passes", 0, 0, G_OPTION_ARG_INT, &o->passes,
      "Identical passes, for the memory growth check (default 2)", "N" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &o->quick, "Fewer iterations: a smoke test, not figures", NULL },
    { "only", 0, 0, G_OPTION_ARG_STRING, &o->only,
      "Run one measurement: round-trip, host-to-guest, concurrency, fanout, clipboard or flood", "NAME" },
    { "bridge-wrapper", 0, 0, G_OPTION_ARG_STRING, &o->bridge_wrapper,
      "Run bridge A under this command (to profile it, e.g. 'valgrind --tool=callgrind')", "CMD" },
    { "trivial-service", 0, 0, G_OPTION_ARG_STRING, &o->trivial_name,
      "Be the trivial D-Bus service, owning NAME on the session bus", "NAME" },
    { "echo-server", 0, 0, G_OPTION_ARG_FILENAME, &o->echo_socket,
      "Be the JSON echo server, listening on SOCKET", "SOCKET" },
    { "session", 0, 0, G_OPTION_ARG_FILENAME, &o->session_path,
      "qga-session to use for the clipboard (default: beside --bridge)", "PATH" },
    { "clipboard-floor", 0, 0, G_OPTION_ARG_FILENAME, &o->clipboard_floor,
      "Be the clipboard floor server, listening on SOCKET", "SOCKET" },
    { "flood-client", 0, 0, G_OPTION_ARG_FILENAME, &o->flood_result,
      "Be the flooding client of measurement 7, writing its counts into FILE", "FILE" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- qga-bridge benchmark");
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("qga-bench: %s\n", error->message);
      return FALSE;
    }
  if (o->trivial_name != NULL || o->echo_socket != NULL || o->clipboard_floor != NULL ||
      o->flood_result != NULL)
    return TRUE;
  if (o->bridge_path == NULL || o->host_path == NULL)
    {
      g_printerr ("qga-bench: --bridge=PATH and --host=PATH are required\n");
      return FALSE;
    }
  if (o->only != NULL && !g_strv_contains (measurement_names, o->only))
    {
      g_printerr ("qga-bench: --only takes round-trip, host-to-guest, concurrency, fanout, clipboard or flood\n");
      return FALSE;
    }
  if (o->passes < 1 || o->passes > BENCH_MAX_PASSES)
    {
      g_printerr ("qga-bench: --passes must be between 1 and %d\n", BENCH_MAX_PASSES);
      return FALSE;
    }
  return TRUE;
}

static void
options_clear (Options *o)
{
  g_free (o->bridge_path);
  g_free (o->host_path);
  g_free (o->qemu_ga_path);
  g_free (o->results_dir);
  g_free (o->only);
  g_free (o->bridge_wrapper);
  g_free (o->trivial_name);
  g_free (o->echo_socket);
  g_free (o->session_path);
  g_free (o->clipboard_floor);
  g_free (o->flood_result);
}

static BenchPlan
make_plan (gboolean quick)
{
  BenchPlan plan = {
    .calls = 10000,
    .round = 500,
    .clients = 32,
    .in_flight = 32,
    .calls_per_client = 256,
    .concurrency_rounds = 4,
    .fanout_events = 200,
  };

  if (quick)
    {
      plan.calls = 1000;
      plan.round = 250;
      plan.calls_per_client = 64;
      plan.concurrency_rounds = 1;
      plan.fanout_events = 40;
    }
  return plan;
}

static char *
find_qemu_ga (const Options *o)
{
  char *path;

  if (o->no_qemu_ga)
    return NULL;
  if (o->qemu_ga_path != NULL)
    return g_strdup (o->qemu_ga_path);
  path = g_find_program_in_path ("qemu-ga");
  if (path == NULL && g_file_test ("/usr/sbin/qemu-ga", G_FILE_TEST_IS_EXECUTABLE))
    path = g_strdup ("/usr/sbin/qemu-ga");
  return path;
}

/* --- starting everything -------------------------------------------------- */

static char *
tmp_path (Driver *d, const char *name)
{
  return g_build_filename (d->tmpdir, name, NULL);
}

static gboolean
wait_for_path (const char *path, GError **error)
{
  for (guint waited = 0; waited < BENCH_TIMEOUT_MS; waited += 10)
    {
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return TRUE;
      g_usleep (10 * 1000);
    }
  g_set_error (error, BENCH_ERROR, 0, "%s did not appear", path);
  return FALSE;
}

static gboolean
host_connected (GDBusConnection *connection, GError **error)
{
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_sync (connection, BENCH_BRIDGE_NAME, BENCH_OBJECT_PATH,
                                 "org.freedesktop.DBus.Properties", "Get",
                                 g_variant_new ("(ss)", BENCH_INTERFACE, "HostConnected"),
                                 G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE,
                                 BENCH_TIMEOUT_MS, NULL, error);
  g_autoptr(GVariant) value = NULL;

  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(v)", &value);
  return g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean (value);
}

static gboolean
wait_host_connected (GDBusConnection *connection, GError **error)
{
  for (guint waited = 0; waited < BENCH_TIMEOUT_MS; waited += 10)
    {
      if (host_connected (connection, error))
        return TRUE;
      if (error != NULL && *error != NULL)
        return FALSE;
      g_usleep (10 * 1000);
    }
  g_set_error (error, BENCH_ERROR, 0, "bridge A did not attach to qga-host");
  return FALSE;
}

/* argv of bridge A: --bridge-wrapper's words first, if any. */
static GPtrArray *
bridge_a_argv (Driver *d, const char *channel_arg)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  if (d->options->bridge_wrapper != NULL)
    {
      g_auto(GStrv) words = g_strsplit (d->options->bridge_wrapper, " ", -1);

      for (guint i = 0; words[i] != NULL; i++)
        g_ptr_array_add (argv, g_strdup (words[i]));
    }
  g_ptr_array_add (argv, g_strdup (d->options->bridge_path));
  g_ptr_array_add (argv, g_strdup ("--bus=session"));
  g_ptr_array_add (argv, g_strdup (channel_arg));
  g_ptr_array_add (argv, NULL);
  return argv;
}

static BenchProc *
spawn_trivial_service (Driver *d, const char *label, BenchBus *bus, gboolean stdin_pipe,
                       GError **error)
{
  const char *argv[] = { d->self, "--trivial-service=" BENCH_TRIVIAL_NAME, NULL };

  return bench_proc_spawn (label, bus->address, stdin_pipe, argv, error);
}

/* Bus A: qga-host, bridge A, trivial service A; and the echo server. */
static gboolean
spawn_bus_a (Driver *d, GError **error)
{
  g_autofree char *host_socket = tmp_path (d, "host.sock");
  g_autofree char *host_arg = g_strconcat ("--socket=", host_socket, NULL);
  g_autofree char *channel_arg = g_strconcat ("--channel=unix:", host_socket, NULL);
  g_autofree char *echo_arg = g_strconcat ("--echo-server=", d->setup.echo_socket, NULL);
  g_autoptr(GPtrArray) bridge_argv = bridge_a_argv (d, channel_arg);
  const char *host_argv[] = { d->options->host_path, "--listen", host_arg, NULL };
  const char *echo_argv[] = { d->self, echo_arg, NULL };

  d->setup.bus_a = bench_bus_start ("dbus-daemon A", error);
  if (d->setup.bus_a == NULL)
    return FALSE;
  /* qga-host first, so that the bridge finds its socket at once. */
  d->host = bench_proc_spawn ("qga-host", NULL, FALSE, host_argv, error);
  if (d->host == NULL || !wait_for_path (host_socket, error))
    return FALSE;
  d->bridge_a = bench_proc_spawn_bridge ("qga-bridge A", d->setup.bus_a->address,
                                  (const char *const *) bridge_argv->pdata, error);
  if (d->bridge_a == NULL)
    return FALSE;
  d->trivial_a = spawn_trivial_service (d, "trivial service A", d->setup.bus_a, FALSE, error);
  if (d->trivial_a == NULL)
    return FALSE;
  d->echo = bench_proc_spawn ("echo server", NULL, FALSE, echo_argv, error);
  return d->echo != NULL;
}

static gboolean
wait_bus_a_ready (Driver *d, GError **error)
{
  g_autofree char *bridge_owner = NULL;
  g_autofree char *trivial_owner = NULL;

  d->control_a = bench_bus_connect (d->setup.bus_a, error);
  if (d->control_a == NULL)
    return FALSE;
  bridge_owner = bench_bus_wait_owner (d->control_a, BENCH_BRIDGE_NAME, error);
  if (bridge_owner == NULL)
    return FALSE;
  trivial_owner = bench_bus_wait_owner (d->control_a, BENCH_TRIVIAL_NAME, error);
  if (trivial_owner == NULL)
    return FALSE;
  return wait_host_connected (d->control_a, error) &&
         wait_for_path (d->setup.echo_socket, error);
}

static gboolean
start_bus_a (Driver *d, GError **error)
{
  d->setup.echo_socket = tmp_path (d, "echo.sock");
  if (!spawn_bus_a (d, error) || !wait_bus_a_ready (d, error))
    return FALSE;
  d->setup.bridge_a_pid = bench_proc_get_pid (d->bridge_a);
  d->setup.host_pid = bench_proc_get_pid (d->host);
  d->setup.trivial_a_pid = bench_proc_get_pid (d->trivial_a);
  d->setup.echo_pid = bench_proc_get_pid (d->echo);
  return TRUE;
}

/* Bridge B, with the bench listening as its host. */
static gboolean
spawn_bridge_b (Driver *d, GError **error)
{
  g_autofree char *socket = tmp_path (d, "bench-host.sock");
  g_autofree char *channel_arg = g_strconcat ("--channel=unix:", socket, NULL);
  const char *argv[] = { d->options->bridge_path, "--bus=session", channel_arg, NULL };
  int listen_fd = bench_unix_listen (socket, error);
  int fd = -1;

  if (listen_fd < 0)
    return FALSE;
  d->bridge_b = bench_proc_spawn_bridge ("qga-bridge B", d->setup.bus_b->address, argv, error);
  if (d->bridge_b != NULL)
    fd = bench_unix_accept (listen_fd, BENCH_TIMEOUT_MS, error);
  close (listen_fd);
  if (fd < 0)
    return FALSE;
  d->setup.bridge_b_wire = bench_wire_new (fd);
  d->setup.bridge_b_pid = bench_proc_get_pid (d->bridge_b);
  return TRUE;
}

/* Bus B: bridge B, trivial service B (its stdin takes the fan-out triggers). */
static gboolean
start_bus_b (Driver *d, GError **error)
{
  BenchSetup *s = &d->setup;

  s->bus_b = bench_bus_start ("dbus-daemon B", error);
  if (s->bus_b == NULL || !spawn_bridge_b (d, error))
    return FALSE;
  s->trivial_b = spawn_trivial_service (d, "trivial service B", s->bus_b, TRUE, error);
  if (s->trivial_b == NULL)
    return FALSE;
  d->control_b = bench_bus_connect (s->bus_b, error);
  if (d->control_b == NULL)
    return FALSE;
  s->bridge_b_owner = bench_bus_wait_owner (d->control_b, BENCH_BRIDGE_NAME, error);
  if (s->bridge_b_owner == NULL)
    return FALSE;
  s->trivial_b_owner = bench_bus_wait_owner (d->control_b, BENCH_TRIVIAL_NAME, error);
  return s->trivial_b_owner != NULL && bench_wire_sync (s->bridge_b_wire, error);
}

static gboolean
start_qemu_ga (Driver *d, const char *qemu_ga_path, GError **error)
{
  g_autofree char *socket = tmp_path (d, "qemu-ga.sock");
  g_autofree char *state = tmp_path (d, "qemu-ga-state");
  g_autofree char *pidfile = tmp_path (d, "qemu-ga.pid");
  const char *argv[] = { qemu_ga_path, "-m", "unix-listen", "-p", socket, "-t", state,
                         "-f", pidfile, NULL };
  int fd;

  if (g_mkdir (state, 0700) < 0)
    {
      g_set_error (error, BENCH_ERROR, 0, "mkdir %s: %s", state, g_strerror (errno));
      return FALSE;
    }
  d->qemu_ga = bench_proc_spawn ("qemu-ga", NULL, FALSE, argv, error);
  if (d->qemu_ga == NULL)
    return FALSE;
  fd = bench_unix_connect (socket, BENCH_TIMEOUT_MS, error);
  if (fd < 0)
    return FALSE;
  d->setup.qemu_ga_wire = bench_wire_new (fd);
  d->setup.qemu_ga_pid = bench_proc_get_pid (d->qemu_ga);
  return bench_wire_sync (d->setup.qemu_ga_wire, error);
}

/* Measurements 1-5 (buses A and B, qemu-ga): all but --only=clipboard. */
static gboolean
wants_ab (const Options *o)
{
  return o->only == NULL || !g_str_equal (o->only, "clipboard");
}

static gboolean
wants_clipboard (const Options *o)
{
  return o->only == NULL || g_str_equal (o->only, "clipboard");
}

static gboolean
start_all (Driver *d, const char *qemu_ga_path, GError **error)
{
  d->tmpdir = g_dir_make_tmp ("qga-bench-XXXXXX", error);
  if (d->tmpdir == NULL)
    return FALSE;
  d->setup.self = d->self;
  d->setup.tmpdir = d->tmpdir;
  if (wants_ab (d->options) &&
      (!start_bus_a (d, error) || !start_bus_b (d, error) ||
       (qemu_ga_path != NULL && !start_qemu_ga (d, qemu_ga_path, error))))
    return FALSE;
  return !wants_clipboard (d->options) ||
         bench_clipboard_start (&d->clip, d->options->bridge_path, d->options->session_path,
                                d->self, d->tmpdir, error);
}

#define N_DAEMONS 7

/* The daemons, in the order they are stopped: each before what it uses.
 * Not yet started ones are NULL. */
static void
list_daemons (Driver *d, BenchProc *procs[N_DAEMONS])
{
  BenchProc *all[N_DAEMONS] = {
    d->bridge_a, d->bridge_b, d->host, d->trivial_a, d->setup.trivial_b, d->echo, d->qemu_ga,
  };

  memcpy (procs, all, sizeof all);
}

static gboolean
check_all_alive (Driver *d, GError **error)
{
  BenchProc *procs[N_DAEMONS];

  list_daemons (d, procs);
  for (guint i = 0; i < N_DAEMONS; i++)
    if (procs[i] != NULL && !bench_proc_check_alive (procs[i], error))
      return FALSE;
  if (d->clip != NULL && !bench_clipboard_check_alive (d->clip, error))
    return FALSE;
  return (d->setup.bus_a == NULL || bench_proc_check_alive (d->setup.bus_a->daemon, error)) &&
         (d->setup.bus_b == NULL || bench_proc_check_alive (d->setup.bus_b->daemon, error));
}

static void
remove_tmpdir (const char *tmpdir)
{
  g_autoptr(GDir) dir = g_dir_open (tmpdir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (tmpdir, name, NULL);

      if (g_remove (path) < 0 && g_file_test (path, G_FILE_TEST_IS_DIR))
        remove_tmpdir (path);
    }
  g_rmdir (tmpdir);
}

/* Accumulate: the first error is reported, the others dropped. */
static gboolean
keep_first_error (gboolean step_ok, gboolean ok, GError **error, GError **step_error)
{
  if (!step_ok && ok)
    g_propagate_error (error, g_steal_pointer (step_error));
  g_clear_error (step_error);
  return ok && step_ok;
}

/* Stop everything, daemons before their buses. FALSE if one had died. */
static gboolean
stop_all (Driver *d, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  BenchProc *procs[N_DAEMONS];
  gboolean ok = TRUE;

  g_clear_pointer (&d->setup.bridge_b_wire, bench_wire_free);
  g_clear_pointer (&d->setup.qemu_ga_wire, bench_wire_free);
  g_clear_object (&d->control_a);
  g_clear_object (&d->control_b);
  ok = keep_first_error (bench_clipboard_stop (g_steal_pointer (&d->clip), &local_error), ok,
                         error, &local_error);
  list_daemons (d, procs);
  for (guint i = 0; i < N_DAEMONS; i++)
    if (procs[i] != NULL)
      ok = keep_first_error (bench_proc_stop (procs[i], &local_error), ok, error, &local_error);
  ok = keep_first_error (bench_bus_stop (d->setup.bus_a, &local_error), ok, error, &local_error);
  ok = keep_first_error (bench_bus_stop (d->setup.bus_b, &local_error), ok, error, &local_error);
  d->setup.bus_a = d->setup.bus_b = NULL;
  if (d->tmpdir != NULL)
    remove_tmpdir (d->tmpdir);
  return ok;
}

static void
driver_clear (Driver *d)
{
  g_clear_pointer (&d->flood_quiet, g_array_unref);
  g_clear_pointer (&d->flood_flooded, g_array_unref);
  g_free (d->self);
  g_free (d->tmpdir);
  g_free (d->setup.bridge_b_owner);
  g_free (d->setup.trivial_b_owner);
  g_free (d->setup.echo_socket);
}

/* --- the run -------------------------------------------------------------- */

static void
progress (guint pass, const char *what)
{
  g_printerr ("qga-bench: pass %u: %s\n", pass, what);
}

/* CPU time of the daemons serving one subject each, over a measurement. */
typedef struct {
  BenchCpuIndex index;
  GPid pid;
  guint64 calls;
  gint64 start_ns;
} CpuWatch;

static void
cpu_start (CpuWatch *watches, guint n)
{
  for (guint i = 0; i < n; i++)
    watches[i].start_ns = watches[i].pid != 0 ? bench_proc_cpu_ns (watches[i].pid) : 0;
}

static void
cpu_stop (const CpuWatch *watches, guint n, BenchFigures *f)
{
  for (guint i = 0; i < n; i++)
    if (watches[i].pid != 0)
      f->cpu_us[watches[i].index] =
        (bench_proc_cpu_ns (watches[i].pid) - watches[i].start_ns) / 1000.0 / watches[i].calls;
}

static gboolean
measure_round_trip (Driver *d, BenchFigures *f, GError **error)
{
  const BenchSetup *s = &d->setup;
  guint64 calls = d->plan.calls + BENCH_WARMUP_CALLS;
  CpuWatch cpu[] = {
    { BENCH_CPU_RTT_BRIDGE, s->bridge_a_pid, calls },
    { BENCH_CPU_RTT_HOST, s->host_pid, calls },
    { BENCH_CPU_RTT_TRIVIAL, s->trivial_a_pid, calls },
    { BENCH_CPU_RTT_ECHO, s->echo_pid, calls },
  };

  cpu_start (cpu, G_N_ELEMENTS (cpu));
  if (!bench_measure_round_trip (s, &d->plan, f->rtt_bridge, f->rtt_dbus_floor,
                                 f->rtt_socket_floor, error))
    return FALSE;
  cpu_stop (cpu, G_N_ELEMENTS (cpu), f);
  return TRUE;
}

static gboolean
measure_host_to_guest (Driver *d, BenchFigures *f, GError **error)
{
  const BenchSetup *s = &d->setup;
  guint64 calls = d->plan.calls + BENCH_WARMUP_CALLS + 1;
  CpuWatch cpu[] = {
    { BENCH_CPU_H2G_BRIDGE, s->bridge_b_pid, calls },
    { BENCH_CPU_H2G_QEMU_GA, s->qemu_ga_pid, calls },
  };

  cpu_start (cpu, G_N_ELEMENTS (cpu));
  if (!bench_measure_host_to_guest (s, &d->plan, f->h2g_bridge, f->h2g_qemu_ga, error))
    return FALSE;
  cpu_stop (cpu, G_N_ELEMENTS (cpu), f);
  return TRUE;
}

static gboolean
measure_concurrency (Driver *d, BenchFigures *f, GError **error)
{
  const BenchSetup *s = &d->setup;
  const BenchPlan *p = &d->plan;
  guint64 calls = (guint64) p->clients * (p->calls_per_client * p->concurrency_rounds + 1);
  CpuWatch cpu[] = {
    { BENCH_CPU_CONC_BRIDGE, s->bridge_a_pid, calls },
    { BENCH_CPU_CONC_HOST, s->host_pid, calls },
    { BENCH_CPU_CONC_TRIVIAL, s->trivial_a_pid, calls },
  };

  cpu_start (cpu, G_N_ELEMENTS (cpu));
  if (!bench_measure_concurrency (s, p, &f->rate_bridge, &f->rate_floor, error))
    return FALSE;
  cpu_stop (cpu, G_N_ELEMENTS (cpu), f);
  return TRUE;
}

static gboolean
wanted (Driver *d, const char *name)
{
  return d->options->only == NULL || g_str_equal (d->options->only, name);
}


static gboolean
run_pass (Driver *d, guint pass, BenchFigures *f, GError **error)
{
  if (wanted (d, "round-trip"))
    {
      progress (pass, "1/4 guest->host round trips");
      if (!measure_round_trip (d, f, error))
        return FALSE;
    }
  if (wanted (d, "host-to-guest"))
    {
      progress (pass, "2/4 host->guest guest-ping");
      if (!measure_host_to_guest (d, f, error))
        return FALSE;
    }
  if (wanted (d, "concurrency"))
    {
      progress (pass, "3/4 concurrency");
      if (!measure_concurrency (d, f, error))
        return FALSE;
    }
  for (guint i = 0; i < BENCH_N_FANOUTS && wanted (d, "fanout"); i++)
    {
      g_autofree char *what = g_strdup_printf ("4/4 fan-out to %u", bench_fanout_sizes[i]);

      progress (pass, what);
      if (!bench_measure_fanout (&d->setup, &d->plan, bench_fanout_sizes[i],
                                 f->fanout_bridge[i], f->fanout_trivial[i], error))
        return FALSE;
    }
  if (wanted (d, "flood"))
    {
      progress (pass, "flood: another client's Ping under a flood");
      if (!bench_measure_flood (&d->setup, &d->plan, d->flood_quiet, d->flood_flooded,
                                &d->flood_refused, &d->flood_answered, error))
        return FALSE;
    }
  if (d->clip != NULL && !bench_clipboard_run_pass (d->clip, pass, d->options->quick, error))
    return FALSE;
  return check_all_alive (d, error);
}

/* A measurement failed: if it was because a daemon died, say so first. */
static void
blame_dead_daemon (Driver *d, GError **error)
{
  g_autoptr(GError) death = NULL;

  if (error == NULL || *error == NULL || check_all_alive (d, &death))
    return;
  g_prefix_error (error, "%s; then the measurement failed: ", death->message);
}

/* RSS once the daemons have settled: nothing in flight, idle callbacks run. */
static void
sample_memory (Driver *d, BenchMemory *memory, guint index)
{
  if (d->bridge_a == NULL)
    return;   /* --only=clipboard: it samples its own */
  g_usleep (SETTLE_MS * 1000);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  memory->bridge_a[index] = bench_rss_of (bench_proc_get_pid (d->bridge_a));
  memory->bridge_b[index] = bench_rss_of (bench_proc_get_pid (d->bridge_b));
  if (index == 0 && d->qemu_ga != NULL)
    memory->qemu_ga_idle = bench_rss_of (bench_proc_get_pid (d->qemu_ga));
}

static gboolean
run_passes (Driver *d, BenchReport *report, GError **error)
{
  guint passes = d->options->passes;
  BenchFigures all;
  BenchMemory memory = { .passes = passes };
  gboolean ok = TRUE;

  bench_figures_init (&all);
  sample_memory (d, &memory, 0);
  for (guint p = 1; p <= passes && ok; p++)
    {
      BenchFigures figures;

      bench_figures_init (&figures);
      ok = run_pass (d, p, &figures, error);
      if (!ok)
        blame_dead_daemon (d, error);
      if (ok)
        {
          sample_memory (d, &memory, p);
          if (wants_ab (d->options))
            bench_report_figures (report, p, &figures);
          bench_figures_add (&all, &figures, passes);
        }
      bench_figures_clear (&figures);
    }
  if (ok && wants_ab (d->options))
    {
      bench_report_figures (report, 0, &all);
      bench_report_summary (report, &all, &memory, &d->plan);
    }
  if (ok && d->clip != NULL)
    bench_report_clipboard (report, bench_clipboard_get_results (d->clip));
  if (ok && d->flood_quiet->len > 0)
    bench_report_flood (report, d->flood_quiet, d->flood_flooded, d->flood_refused,
                        d->flood_answered);
  if (ok)
    bench_report_end (report);
  bench_figures_clear (&all);
  return ok;
}

static char *
results_path (const Options *o, GError **error)
{
  const char *dir = o->results_dir != NULL ? o->results_dir : "bench/results";
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *name = g_strdup_printf ("qga-bench-%s.jsonl", stamp);

  if (g_mkdir_with_parents (dir, 0755) < 0)
    {
      g_set_error (error, BENCH_ERROR, 0, "cannot create %s: %s", dir, g_strerror (errno));
      return NULL;
    }
  return g_build_filename (dir, name, NULL);
}

/* Children's output goes to a log beside the results, out of the table. */
static int
open_log (const char *results, GError **error)
{
  g_autofree char *base = g_strndup (results, strlen (results) - strlen (".jsonl"));
  g_autofree char *path = g_strconcat (base, ".log", NULL);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);

  if (fd < 0)
    g_set_error (error, BENCH_ERROR, 0, "cannot write %s: %s", path, g_strerror (errno));
  return fd;
}

static int
run_driver (Options *o)
{
  Driver d = { .options = o, .plan = make_plan (o->quick) };
  g_autoptr(GError) error = NULL;
  g_autofree char *qemu_ga = wants_ab (o) ? find_qemu_ga (o) : NULL;
  g_autofree char *results = results_path (o, &error);
  BenchReport *report = NULL;
  gboolean ok;
  int log_fd = -1;

  d.self = g_file_read_link ("/proc/self/exe", NULL);
  d.flood_quiet = bench_samples_new ();
  d.flood_flooded = bench_samples_new ();
  ok = results != NULL && (log_fd = open_log (results, &error)) >= 0 &&
       (report = bench_report_new (results, &error)) != NULL;
  if (ok)
    {
      bench_procs_set_log_fd (log_fd);
      if (qemu_ga == NULL && wants_ab (o))
        g_printerr ("qga-bench: %s: the qemu-ga comparisons are SKIPPED\n",
                    o->no_qemu_ga ? "--no-qemu-ga"
                                  : "qemu-ga not found (tools/install-deps --bench installs it)");
      bench_report_machine (report, qemu_ga, o->passes);
      ok = start_all (&d, qemu_ga, &error) && run_passes (&d, report, &error);
    }
  if (!stop_all (&d, ok ? &error : NULL))
    ok = FALSE;
  if (!ok)
    g_printerr ("qga-bench: BROKEN: %s\n", error != NULL ? error->message : "a daemon failed");
  else
    printf ("results: %s\n", results);
  bench_report_free (report);
  if (log_fd >= 0)
    close (log_fd);
  driver_clear (&d);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
main (int argc, char **argv)
{
  Options options = { .passes = 2 };
  int status;

  setlocale (LC_ALL, "");
  signal (SIGPIPE, SIG_IGN);
  if (!parse_options (&options, &argc, &argv))
    status = 2;
  else if (options.trivial_name != NULL)
    status = bench_run_trivial_service (options.trivial_name);
  else if (options.echo_socket != NULL)
    status = bench_run_echo_server (options.echo_socket);
  else if (options.clipboard_floor != NULL)
    status = bench_run_clipboard_floor (options.clipboard_floor);
  else if (options.flood_result != NULL)
    status = bench_run_flood_client (options.flood_result);
  else
    status = run_driver (&options);
  options_clear (&options);
  return status;
}
