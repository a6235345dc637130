/* bench-flood.c: 7. a flooding client (issue 7, "Floods and limits").
 *
 * Another client's Ping through bridge A (host: qga-host) without and with
 * a flood: another process (--flood-client) keeping BENCH_FLOOD_IN_FLIGHT
 * Pings in flight as fast as it can, past the bridge's defaults for
 * --max-pending (64) and --max-call-rate (2000 a second), so that many are
 * refused with LimitExceeded, each a second late. Target: the other
 * client's p99 with the flood within 3x of its p99 without. The test suite
 * (tests/test-floods.c) checks the limits themselves; this only measures.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib-unix.h>

#include "bench.h"


/* --flood-client mode: a process of its own, as a flooding program would
 * be (two connections in one process would share its GDBus worker thread,
 * and the other client's replies would queue behind the flood's there). */
typedef struct {
  GDBusConnection *connection;
  gboolean stop;
  guint in_flight;
  guint64 answered, refused, failed;
} Flooder;

static void flood_send (Flooder *flooder);

static void
flood_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Flooder *flooder = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  g_autofree char *remote = error != NULL ? g_dbus_error_get_remote_error (error) : NULL;

  flooder->in_flight--;
  if (reply != NULL)
    flooder->answered++;
  else if (g_strcmp0 (remote, "org.qemu.GuestAgent.Error.LimitExceeded") == 0)
    flooder->refused++;
  else
    flooder->failed++;
  if (!flooder->stop)
    flood_send (flooder);
}

static void
flood_send (Flooder *flooder)
{
  while (flooder->in_flight < BENCH_FLOOD_IN_FLIGHT)
    {
      g_dbus_connection_call (flooder->connection, BENCH_BRIDGE_NAME, BENCH_OBJECT_PATH,
                              BENCH_INTERFACE, "Ping", NULL, NULL, G_DBUS_CALL_FLAGS_NONE,
                              BENCH_TIMEOUT_MS, NULL, flood_done_cb, flooder);
      flooder->in_flight++;
    }
}

static gboolean
flood_stop_cb (gpointer data)
{
  Flooder *flooder = data;

  flooder->stop = TRUE;
  return G_SOURCE_CONTINUE;
}

/* Floods bridge A on the session bus until SIGTERM, waits for the calls in
 * flight, and writes "answered refused failed" into result_path. */
int
bench_run_flood_client (const char *result_path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *counts = NULL;
  Flooder flooder = { 0 };
  guint term;

  flooder.connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (flooder.connection == NULL)
    {
      g_printerr ("qga-bench: flooding client: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_dbus_connection_set_exit_on_close (flooder.connection, FALSE);
  term = g_unix_signal_add (SIGTERM, flood_stop_cb, &flooder);
  flood_send (&flooder);
  while (!flooder.stop || flooder.in_flight > 0)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (term);
  g_clear_object (&flooder.connection);
  counts = g_strdup_printf ("%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n",
                            flooder.answered, flooder.refused, flooder.failed);
  if (!g_file_set_contents (result_path, counts, -1, &error))
    {
      g_printerr ("qga-bench: flooding client: %s\n", error->message);
      return EXIT_FAILURE;
    }
  return EXIT_SUCCESS;
}

static gboolean
read_flood_counts (const char *path, guint64 *answered, guint64 *refused, guint64 *failed,
                   GError **error)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  if (sscanf (text, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
              answered, refused, failed) != 3)
    {
      g_set_error (error, BENCH_ERROR, 0, "flood: %s: not three counts", path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
ping_samples (GDBusConnection *connection, guint n, GArray *samples, GError **error)
{
  for (guint i = 0; i < n; i++)
    {
      gint64 t0 = bench_now_ns ();
      g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync (connection, BENCH_BRIDGE_NAME, BENCH_OBJECT_PATH,
                                     BENCH_INTERFACE, "Ping", NULL, NULL, G_DBUS_CALL_FLAGS_NONE,
                                     BENCH_TIMEOUT_MS, NULL, error);

      if (reply == NULL)
        {
          g_prefix_error (error, "flood: the other client's Ping: ");
          return FALSE;
        }
      if (samples != NULL)
        bench_samples_add (samples, bench_now_ns () - t0);
    }
  return TRUE;
}

gboolean
bench_measure_flood (const BenchSetup *setup, const BenchPlan *plan, GArray *quiet,
                     GArray *flooded, guint64 *refused, guint64 *answered, GError **error)
{
  g_autoptr(GDBusConnection) connection = bench_bus_connect (setup->bus_a, error);
  g_autofree char *result_path = g_build_filename (setup->tmpdir, "flood-counts", NULL);
  g_autofree char *result_arg = g_strconcat ("--flood-client=", result_path, NULL);
  const char *argv[] = { setup->self, result_arg, NULL };
  guint64 flood_answered, flood_refused, flood_failed;
  BenchProc *flooder;
  gboolean ok;

  if (connection == NULL || !ping_samples (connection, BENCH_WARMUP_CALLS, NULL, error) ||
      !ping_samples (connection, plan->calls, quiet, error))
    return FALSE;

  flooder = bench_proc_spawn ("flooding client", setup->bus_a->address, FALSE, argv, error);
  if (flooder == NULL)
    return FALSE;
  /* let the flood build up before sampling */
  g_usleep (500 * 1000);
  ok = ping_samples (connection, plan->calls, flooded, error);
  if (!bench_proc_stop (flooder, ok ? error : NULL))
    return FALSE;
  if (!ok || !read_flood_counts (result_path, &flood_answered, &flood_refused, &flood_failed, error))
    return FALSE;
  if (flood_failed > 0)
    {
      g_set_error (error, BENCH_ERROR, 0, "flood: %" G_GUINT64_FORMAT " flood calls failed "
                   "other than with LimitExceeded", flood_failed);
      return FALSE;
    }
  *refused += flood_refused;
  *answered += flood_answered;
  return TRUE;
}
