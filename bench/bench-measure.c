/* bench-measure.c: the four timed measurements of qga-bench.
 *
 * Subjects and their floors run in alternating rounds, so that whatever
 * else the machine does in the meantime falls on both alike.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define WARMUP_EVENTS 5
#define FANOUT_ROUND 20

/* --- round trips, one at a time ----------------------------------------- */

typedef gboolean (*CallFunc) (gpointer data, GError **error);

typedef struct {
  const char *what;
  CallFunc call;
  gpointer data;
  GArray *samples;
} Subject;

static gboolean
call_untimed (Subject *subject, guint n, GError **error)
{
  for (guint i = 0; i < n; i++)
    if (!subject->call (subject->data, error))
      return FALSE;
  return TRUE;
}

static gboolean
call_timed (Subject *subject, guint n, GError **error)
{
  for (guint i = 0; i < n; i++)
    {
      gint64 start = bench_now_ns ();

      if (!subject->call (subject->data, error))
        return FALSE;
      bench_samples_add (subject->samples, bench_now_ns () - start);
    }
  return TRUE;
}

/* calls timed round trips per subject, in rounds of round calls. */
static gboolean
run_interleaved (Subject *subjects, guint n_subjects, guint calls, guint round, GError **error)
{
  for (guint s = 0; s < n_subjects; s++)
    if (!call_untimed (&subjects[s], BENCH_WARMUP_CALLS, error))
      {
        g_prefix_error (error, "%s: ", subjects[s].what);
        return FALSE;
      }
  for (guint done = 0; done < calls; done += round)
    for (guint s = 0; s < n_subjects; s++)
      if (!call_timed (&subjects[s], MIN (round, calls - done), error))
        {
          g_prefix_error (error, "%s: ", subjects[s].what);
          return FALSE;
        }
  return TRUE;
}

typedef struct {
  GDBusConnection *connection;
  const char *destination;
} DBusPing;

static gboolean
dbus_ping (gpointer data, GError **error)
{
  DBusPing *ping = data;
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_sync (ping->connection, ping->destination, BENCH_OBJECT_PATH,
                                 BENCH_INTERFACE, "Ping", NULL, G_VARIANT_TYPE_UNIT,
                                 G_DBUS_CALL_FLAGS_NONE, BENCH_TIMEOUT_MS, NULL, error);

  return reply != NULL;
}

typedef struct {
  BenchWire *wire;
  const char *command;
  gint64 next_id;
} WirePing;

static gboolean
wire_ping (gpointer data, GError **error)
{
  WirePing *ping = data;

  return bench_wire_execute (ping->wire, ping->command, ping->next_id++, error);
}

gboolean
bench_measure_round_trip (const BenchSetup *setup, const BenchPlan *plan, GArray *bridge,
                          GArray *dbus_floor, GArray *socket_floor, GError **error)
{
  g_autoptr(GDBusConnection) connection = bench_bus_connect (setup->bus_a, error);
  g_autoptr(BenchWire) echo = NULL;
  DBusPing bridge_ping, trivial_ping;
  WirePing echo_ping;
  int fd;

  if (connection == NULL)
    return FALSE;
  fd = bench_unix_connect (setup->echo_socket, BENCH_TIMEOUT_MS, error);
  if (fd < 0)
    return FALSE;
  echo = bench_wire_new (fd);
  bridge_ping = (DBusPing) { connection, BENCH_BRIDGE_NAME };
  trivial_ping = (DBusPing) { connection, BENCH_TRIVIAL_NAME };
  echo_ping = (WirePing) { echo, "host-ping", 1 };
  {
    Subject subjects[] = {
      { "Ping through the bridge", dbus_ping, &bridge_ping, bridge },
      { "Ping to the trivial service", dbus_ping, &trivial_ping, dbus_floor },
      { "host-ping to the echo server", wire_ping, &echo_ping, socket_floor },
    };

    return run_interleaved (subjects, G_N_ELEMENTS (subjects), plan->calls, plan->round, error);
  }
}

gboolean
bench_measure_host_to_guest (const BenchSetup *setup, const BenchPlan *plan, GArray *bridge,
                             GArray *qemu_ga, GError **error)
{
  WirePing bridge_ping = { setup->bridge_b_wire, "guest-ping", 1 };
  WirePing qemu_ga_ping = { setup->qemu_ga_wire, "guest-ping", 1 };
  Subject subjects[] = {
    { "guest-ping to the bridge", wire_ping, &bridge_ping, bridge },
    { "guest-ping to qemu-ga", wire_ping, &qemu_ga_ping, qemu_ga },
  };

  if (!bench_wire_sync (setup->bridge_b_wire, error) ||
      (setup->qemu_ga_wire != NULL && !bench_wire_sync (setup->qemu_ga_wire, error)))
    return FALSE;
  return run_interleaved (subjects, setup->qemu_ga_wire != NULL ? 2 : 1,
                          plan->calls, plan->round, error);
}

/* --- concurrency ---------------------------------------------------------- */

typedef struct _Concurrency Concurrency;

typedef struct {
  Concurrency *run;
  GDBusConnection *connection;
  guint index;
  guint issued;
} Client;

/* One call in flight, and what its caller sent. */
typedef struct {
  Client *client;
  char *tag;
} InFlight;

struct _Concurrency {
  const char *destination;
  guint calls_per_client;
  guint outstanding;
  guint completed;
  GError *error;            /* the first failure */
};

static void issue_call (Client *client);

static void
record_failure (Concurrency *run, GError *error)
{
  if (run->error == NULL)
    run->error = error;
  else
    g_error_free (error);
}

static void
check_reply (InFlight *call, GVariant *reply)
{
  const char *echoed;

  g_variant_get (reply, "(&s)", &echoed);
  if (!g_str_equal (echoed, call->tag))
    record_failure (call->client->run,
                    g_error_new (BENCH_ERROR, 0, "client %u sent %s and got %s back: "
                                 "a reply reached the wrong caller",
                                 call->client->index, call->tag, echoed));
}

static void
call_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  InFlight *call = user_data;
  Client *client = call->client;
  Concurrency *run = client->run;
  GError *error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source),
                                                             result, &error);

  if (reply != NULL)
    check_reply (call, reply);
  else
    record_failure (run, error);
  run->outstanding--;
  run->completed++;
  g_free (call->tag);
  g_free (call);
  if (client->issued < run->calls_per_client && run->error == NULL)
    issue_call (client);
}

static void
issue_call (Client *client)
{
  InFlight *call = g_new0 (InFlight, 1);

  call->client = client;
  call->tag = g_strdup_printf ("{\"client\":%u,\"call\":%u}", client->index, client->issued++);
  client->run->outstanding++;
  g_dbus_connection_call (client->connection, client->run->destination, BENCH_OBJECT_PATH,
                          BENCH_INTERFACE, "Call", g_variant_new ("(ss)", "host-echo", call->tag),
                          G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, BENCH_TIMEOUT_MS,
                          NULL, call_done_cb, call);
}

static gboolean
flag_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* One round: every client keeps in_flight calls going until it has made
 * calls_per_client. Returns the elapsed time in ns, or -1 on failure. */
static gint64
concurrency_round (Client *clients, guint n_clients, const char *destination,
                   const BenchPlan *plan, GError **error)
{
  Concurrency run = { destination, plan->calls_per_client, 0, 0, NULL };
  gboolean timed_out = FALSE;
  guint timer = g_timeout_add (BENCH_TIMEOUT_MS * 3, flag_cb, &timed_out);
  gint64 start = bench_now_ns (), elapsed;

  for (guint c = 0; c < n_clients; c++)
    {
      clients[c].run = &run;
      clients[c].issued = 0;
      for (guint i = 0; i < plan->in_flight; i++)
        issue_call (&clients[c]);
    }
  while (run.outstanding > 0 && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  elapsed = bench_now_ns () - start;
  if (!timed_out)
    g_source_remove (timer);
  if (run.error == NULL && timed_out)
    run.error = g_error_new (BENCH_ERROR, 0, "%u calls still in flight after %d ms",
                             run.outstanding, BENCH_TIMEOUT_MS * 3);
  /* Let stragglers finish before run goes out of scope. */
  while (run.outstanding > 0)
    g_main_context_iteration (NULL, TRUE);
  if (run.error != NULL)
    {
      g_propagate_prefixed_error (error, run.error, "%s: ", destination);
      return -1;
    }
  return elapsed;
}

static gboolean
warm_up_clients (Client *clients, guint n_clients, const char *destination, GError **error)
{
  for (guint c = 0; c < n_clients; c++)
    {
      g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync (clients[c].connection, destination, BENCH_OBJECT_PATH,
                                     BENCH_INTERFACE, "Call",
                                     g_variant_new ("(ss)", "host-echo", "{}"),
                                     G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE,
                                     BENCH_TIMEOUT_MS, NULL, error);

      if (reply == NULL)
        return FALSE;
    }
  return TRUE;
}

static void
clients_free (Client *clients, guint n_clients)
{
  for (guint c = 0; c < n_clients; c++)
    if (clients[c].connection != NULL)
      {
        g_dbus_connection_close_sync (clients[c].connection, NULL, NULL);
        g_object_unref (clients[c].connection);
      }
  g_free (clients);
}

gboolean
bench_measure_concurrency (const BenchSetup *setup, const BenchPlan *plan,
                           double *bridge_rate, double *floor_rate, GError **error)
{
  Client *clients = g_new0 (Client, plan->clients);
  const char *destinations[] = { BENCH_BRIDGE_NAME, BENCH_TRIVIAL_NAME };
  gint64 elapsed[2] = { 0, 0 };
  gboolean ok = TRUE;

  for (guint c = 0; c < plan->clients && ok; c++)
    {
      clients[c].index = c;
      clients[c].connection = bench_bus_connect (setup->bus_a, error);
      ok = clients[c].connection != NULL;
    }
  for (guint d = 0; d < G_N_ELEMENTS (destinations) && ok; d++)
    ok = warm_up_clients (clients, plan->clients, destinations[d], error);
  for (guint r = 0; r < plan->concurrency_rounds && ok; r++)
    for (guint d = 0; d < G_N_ELEMENTS (destinations) && ok; d++)
      {
        gint64 ns = concurrency_round (clients, plan->clients, destinations[d], plan, error);

        ok = ns >= 0;
        elapsed[d] += ns;
      }
  clients_free (clients, plan->clients);
  if (!ok)
    return FALSE;
  {
    double calls = (double) plan->clients * plan->calls_per_client * plan->concurrency_rounds;

    *bridge_rate = calls / (elapsed[0] / 1e9);
    *floor_rate = calls / (elapsed[1] / 1e9);
  }
  return TRUE;
}

/* --- fan-out ------------------------------------------------------------- */

/* The event being waited for, shared by every subscriber. */
typedef struct {
  gint64 seq;
  guint remaining;
  gint64 last_ns;           /* when the last subscriber had it */
} FanoutWait;

static void
host_event_cb (GDBusConnection *connection, const char *sender, const char *path,
               const char *interface, const char *signal, GVariant *parameters,
               gpointer user_data)
{
  FanoutWait *wait = user_data;
  const char *data;
  const char *digits;

  g_variant_get (parameters, "(&s&s)", NULL, &data);
  digits = strchr (data, ':');
  if (digits == NULL || g_ascii_strtoll (digits + 1, NULL, 10) != wait->seq || wait->remaining == 0)
    return;
  if (--wait->remaining == 0)
    wait->last_ns = bench_now_ns ();
}

typedef gboolean (*TriggerFunc) (const BenchSetup *setup, gint64 seq, GError **error);

static gboolean
trigger_bridge (const BenchSetup *setup, gint64 seq, GError **error)
{
  g_autofree char *line = g_strdup_printf ("{\"event\":\"%s\",\"data\":{\"seq\":%" G_GINT64_FORMAT "}}\n",
                                           BENCH_EVENT_NAME, seq);

  return bench_write_all (bench_wire_get_fd (setup->bridge_b_wire), line, strlen (line), error);
}

static gboolean
trigger_trivial (const BenchSetup *setup, gint64 seq, GError **error)
{
  g_autofree char *line = g_strdup_printf ("%" G_GINT64_FORMAT "\n", seq);

  return bench_write_all (bench_proc_get_stdin_fd (setup->trivial_b), line, strlen (line), error);
}

/* One event: the time from just before its write to the last delivery. */
static gint64
fanout_event (const BenchSetup *setup, TriggerFunc trigger, FanoutWait *wait, gint64 seq,
              guint n_subscribers, GError **error)
{
  gboolean timed_out = FALSE;
  guint timer;
  gint64 start;

  wait->seq = seq;
  wait->remaining = n_subscribers;
  timer = g_timeout_add (BENCH_TIMEOUT_MS, flag_cb, &timed_out);
  start = bench_now_ns ();
  if (!trigger (setup, seq, error))
    {
      g_source_remove (timer);
      return -1;
    }
  while (wait->remaining > 0 && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (timed_out)
    {
      g_set_error (error, BENCH_ERROR, 0, "event %" G_GINT64_FORMAT " reached %u of %u subscribers",
                   seq, n_subscribers - wait->remaining, n_subscribers);
      return -1;
    }
  g_source_remove (timer);
  return wait->last_ns - start;
}

static gboolean
fanout_events (const BenchSetup *setup, TriggerFunc trigger, FanoutWait *wait, gint64 *seq,
               guint n_events, guint n_subscribers, GArray *samples, GError **error)
{
  for (guint i = 0; i < n_events; i++)
    {
      gint64 ns = fanout_event (setup, trigger, wait, ++*seq, n_subscribers, error);

      if (ns < 0)
        return FALSE;
      if (samples != NULL)
        bench_samples_add (samples, ns);
    }
  return TRUE;
}

/* Subscribe every connection to HostEvent from both senders, and make
 * sure the bus has the match rules before the first event. */
static gboolean
subscribe_all (GDBusConnection **connections, guint n, const char *const *senders,
               FanoutWait *wait, GArray *subscriptions, GError **error)
{
  for (guint c = 0; c < n; c++)
    for (guint s = 0; senders[s] != NULL; s++)
      {
        guint id = g_dbus_connection_signal_subscribe (connections[c], senders[s], BENCH_INTERFACE,
                                                       "HostEvent", BENCH_OBJECT_PATH, NULL,
                                                       G_DBUS_SIGNAL_FLAGS_NONE, host_event_cb,
                                                       wait, NULL);

        g_array_append_val (subscriptions, id);
      }
  for (guint c = 0; c < n; c++)
    if (!bench_bus_round_trip (connections[c], error))
      return FALSE;
  return TRUE;
}

static void
close_subscribers (GDBusConnection **connections, guint n, GArray *subscriptions,
                   const char *const *senders)
{
  guint n_senders = g_strv_length ((char **) senders);

  for (guint i = 0; i < subscriptions->len; i++)
    g_dbus_connection_signal_unsubscribe (connections[i / n_senders],
                                          g_array_index (subscriptions, guint, i));
  for (guint c = 0; c < n; c++)
    if (connections[c] != NULL)
      {
        g_dbus_connection_close_sync (connections[c], NULL, NULL);
        g_object_unref (connections[c]);
      }
  g_free (connections);
  /* Subscriptions' user data is freed from idle callbacks. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

gboolean
bench_measure_fanout (const BenchSetup *setup, const BenchPlan *plan, guint n_subscribers,
                      GArray *bridge, GArray *trivial, GError **error)
{
  GDBusConnection **connections = g_new0 (GDBusConnection *, n_subscribers);
  const char *senders[] = { setup->bridge_b_owner, setup->trivial_b_owner, NULL };
  g_autoptr(GArray) subscriptions = g_array_new (FALSE, FALSE, sizeof (guint));
  FanoutWait wait = { 0 };
  gint64 seq = (gint64) n_subscribers * 1000000;
  gboolean ok = TRUE;

  for (guint c = 0; c < n_subscribers && ok; c++)
    {
      connections[c] = bench_bus_connect (setup->bus_b, error);
      ok = connections[c] != NULL;
    }
  ok = ok && subscribe_all (connections, n_subscribers, senders, &wait, subscriptions, error);
  ok = ok && fanout_events (setup, trigger_bridge, &wait, &seq, WARMUP_EVENTS, n_subscribers, NULL, error) &&
       fanout_events (setup, trigger_trivial, &wait, &seq, WARMUP_EVENTS, n_subscribers, NULL, error);
  for (guint done = 0; done < plan->fanout_events && ok; done += FANOUT_ROUND)
    {
      guint n = MIN (FANOUT_ROUND, plan->fanout_events - done);

      ok = fanout_events (setup, trigger_bridge, &wait, &seq, n, n_subscribers, bridge, error) &&
           fanout_events (setup, trigger_trivial, &wait, &seq, n, n_subscribers, trivial, error);
    }
  close_subscribers (connections, n_subscribers, subscriptions, senders);
  return ok;
}
