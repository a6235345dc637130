/* bench-flood.c: 7. a flooding client (issue 7, "Floods and limits").
 *
 * Another client's Ping through bridge A (host: qga-host) without and with
 * a flood: one connection, on a thread of its own, keeping BENCH_FLOOD_IN_FLIGHT
 * Pings in flight as fast as it can (past --max-pending, 64 by default, so
 * most of them are refused with LimitExceeded at once). Target: the other
 * client's p99 with the flood within 3x of its p99 without. The test suite
 * (tests/test-floods.c) checks the limits themselves; this only measures.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bench.h"


typedef struct {
  BenchBus *bus;
  GMainContext *context;
  GDBusConnection *connection;
  gint stop;                 /* atomic */
  guint in_flight;
  guint64 sent, answered, refused, failed;
  GError *error;
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
  if (!g_atomic_int_get (&flooder->stop))
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
      flooder->sent++;
    }
}

static gpointer
flood_thread (gpointer data)
{
  Flooder *flooder = data;

  g_main_context_push_thread_default (flooder->context);
  flooder->connection = bench_bus_connect (flooder->bus, &flooder->error);
  if (flooder->connection != NULL)
    {
      flood_send (flooder);
      while (!g_atomic_int_get (&flooder->stop) || flooder->in_flight > 0)
        g_main_context_iteration (flooder->context, TRUE);
      g_dbus_connection_close_sync (flooder->connection, NULL, NULL);
      g_clear_object (&flooder->connection);
    }
  g_main_context_pop_thread_default (flooder->context);
  return NULL;
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
  Flooder flooder = { .bus = setup->bus_a };
  GThread *thread;
  gboolean ok;

  if (connection == NULL || !ping_samples (connection, BENCH_WARMUP_CALLS, NULL, error) ||
      !ping_samples (connection, plan->calls, quiet, error))
    return FALSE;

  flooder.context = g_main_context_new ();
  thread = g_thread_new ("flood", flood_thread, &flooder);
  /* let the flood build up before sampling */
  g_usleep (200 * 1000);
  ok = ping_samples (connection, plan->calls, flooded, error);
  g_atomic_int_set (&flooder.stop, 1);
  g_main_context_wakeup (flooder.context);
  g_thread_join (thread);
  g_main_context_unref (flooder.context);
  if (ok && flooder.error != NULL)
    {
      g_propagate_error (error, flooder.error);
      ok = FALSE;
    }
  else
    g_clear_error (&flooder.error);
  if (ok && flooder.failed > 0)
    {
      g_set_error (error, BENCH_ERROR, 0, "flood: %" G_GUINT64_FORMAT " flood calls failed "
                   "other than with LimitExceeded", flooder.failed);
      ok = FALSE;
    }
  *refused += flooder.refused;
  *answered += flooder.answered;
  return ok;
}
