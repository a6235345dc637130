/* test-floods.c: floods and limits (issue 7, "Floods and limits"), over a
 * real bus and real sockets. Correctness and bounds only: no timing is
 * asserted but lower bounds (a late refusal took at least its delay) and
 * counts bounded by elapsed time (calls answered within a rate), which a
 * slow machine cannot break; bench/bench-flood.c measures the Ping p99
 * under a flood.
 *
 *   /floods/one-client     one client with 300 Calls in flight at once and
 *                          then 3000 as fast as it can (400 / 300 under
 *                          QGA_TEST_WRAPPER): at most --max-pending=16 are
 *                          taken, the rest get LimitExceeded (late); of
 *                          those, --host-window=4 are on the wire at a time
 *                          and the rest follow in order as they are
 *                          answered; another client's Ping goes out at once
 *                          past the held ones, and all are answered; the
 *                          bridge's VmRSS stays under its start + 16 MiB.
 *   /floods/many-clients   8 clients busy (--max-clients=8), 40 more call
 *                          at once: all LimitExceeded, the 8 keep working.
 *   /floods/call-rate      --max-call-rate=50: one client keeps 200 Pings in
 *                          flight, 400 in all, one of them always held by
 *                          the host; it has at most that one, its bucket
 *                          (64) and 50 a second answered, the rest refused
 *                          for the rate, each no sooner than 1 s after it
 *                          was sent; another client's Pings all pass.
 *   /floods/call-rate-sequential  the same limit; a client waiting for each
 *                          answer is not limited: 300 Pings, all answered.
 *   /floods/call-rate-events  the same limit for SendEvent: with a Call held
 *                          at the host, 300 events at once; at most 64 + 50
 *                          a second are sent, the host gets exactly those.
 *   /floods/max-pending-sequential  --max-pending=1: 1000 Calls one after
 *                          the other, each sent as the last reply arrives:
 *                          none refused (the count goes back before the
 *                          reply reaches the caller).
 *   /floods/refusal-bounds --max-pending=1 --max-call-rate=0: 1000 Calls
 *                          at once; at least 256 refusals come late, and
 *                          past that bound they come at once (their message
 *                          says so); none is lost, the one taken is
 *                          answered and the client is served after.
 *   /floods/guest          this program as the guest on qga-host's socket:
 *                          requests, events, oversized and never-ending
 *                          messages and garbage; qga-host's VmRSS stays
 *                          under its start + 48 MiB, it answers a host-ping
 *                          after, and its warnings are rate-limited (at most
 *                          10 a second plus summaries, "suppressed N" seen).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "test-util.h"

/* --- the bridge, with this program as the host --------------------------- */

typedef struct {
  char *socket_path;
  int listen_fd;
  QtProc *bridge;
  QtWire *wire;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer user_data)
{
  g_auto(GStrv) extra = g_strsplit (user_data ? (const char *) user_data : "", " ", -1);
  int fd;

  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
  f->socket_path = qt_tmp_path ("sock");
  f->listen_fd = qt_unix_listen (f->socket_path);
  f->bridge = qt_spawn_bridge (f->socket_path,
                               extra[0] && *extra[0] ? extra[0] : NULL,
                               extra[0] && extra[1] ? extra[1] : NULL, NULL);
  fd = qt_accept_bridge (f->listen_fd, f->bridge, qt_ms (10000));
  g_assert_cmpint (fd, >=, 0);
  f->wire = qt_wire_new (fd);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, TRUE, qt_ms (5000)));
}

static void
fixture_teardown (Fixture *f, gconstpointer user_data)
{
  qt_proc_stop (f->bridge);
  g_clear_pointer (&f->wire, qt_wire_free);
  close (f->listen_fd);
  g_unlink (f->socket_path);
  g_free (f->socket_path);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
}

static void
reply_return (QtWire *wire, JsonObject *command, const char *return_json)
{
  g_autofree char *id = qt_json_to_string (json_object_get_member (command, "id"));
  g_autofree char *line = g_strdup_printf ("{\"return\":%s,\"id\":%s}\n", return_json, id);

  qt_wire_write_str (wire, line);
}

static const char *
command_name (JsonObject *m)
{
  return json_object_get_string_member_with_default (m, "execute", "");
}

/* Every command the bridge has sent that arrives within quiet_ms of the
 * previous one (all it has sent, once it is quiet). */
static GPtrArray *
read_commands (QtWire *wire, guint quiet_ms)
{
  GPtrArray *commands = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);

  for (;;)
    {
      g_autoptr(JsonNode) node = qt_wire_read_message (wire, NULL, NULL, quiet_ms);

      if (node == NULL)
        return commands;
      g_ptr_array_add (commands, json_object_ref (json_node_get_object (node)));
    }
}

typedef struct {
  guint started, done, ok, limited;
  guint outstanding;
} Flood;

static void
flood_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Flood *flood = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  flood->done++;
  flood->outstanding--;
  if (reply != NULL)
    flood->ok++;
  else
    {
      qt_assert_dbus_error (error, QT_ERROR_PREFIX "LimitExceeded", NULL);
      flood->limited++;
    }
}

static void
flood_one (GDBusConnection *connection, Flood *flood)
{
  g_autofree char *args = g_strdup_printf ("{\"n\":%u}", flood->started);

  g_dbus_connection_call (connection, QT_BUS_NAME, QT_OBJECT_PATH, QT_INTERFACE, "Call",
                          g_variant_new ("(ss)", "host-echo", args), G_VARIANT_TYPE ("(s)"),
                          G_DBUS_CALL_FLAGS_NONE, (int) qt_ms (60000), NULL, flood_done_cb, flood);
  flood->started++;
  flood->outstanding++;
}

/* Answer the commands in the order they came, checking that each flood
 * Call is the next one of its sequence; returns how many were answered. */
static guint
answer_in_order (QtWire *wire, GPtrArray *commands, guint *next_n)
{
  for (guint i = 0; i < commands->len; i++)
    {
      JsonObject *command = commands->pdata[i];

      if (g_str_equal (command_name (command), "host-echo"))
        {
          g_autofree char *args = qt_json_to_string (json_object_get_member (command, "arguments"));
          g_autofree char *expected = g_strdup_printf ("{\"n\":%u}", (*next_n)++);

          g_assert_cmpstr (args, ==, expected);
        }
      reply_return (wire, command, "{}");
    }
  return commands->len;
}

/* The bridge runs with --max-pending=16 --host-window=4. */
static void
test_one_client (Fixture *f, gconstpointer user_data)
{
  const guint burst = 300, total = qt_under_wrapper () ? 400 : 3000;
  const guint64 rss_bound_kib = 16 * 1024;
  GDBusConnection *flooder = qt_bus_new_connection ();
  GDBusConnection *other = qt_bus_new_connection ();
  int pid = qt_proc_pid (f->bridge);
  guint64 rss_start, rss_max = 0;
  Flood flood = { 0 };
  QtCall *ping = NULL;
  guint pings = 0, rounds = 0;

  rss_start = qt_proc_rss_kib (pid);

  /* 1: a burst while the host answers nothing: 16 are taken and the rest
   * refused at once; 4 reach the host, 12 wait in the bridge */
  for (guint i = 0; i < burst; i++)
    flood_one (flooder, &flood);
  g_assert_true (QT_WAIT (flood.done == burst - 16, qt_ms (10000)));
  g_assert_cmpuint (flood.limited, ==, burst - 16);
  {
    g_autoptr(GPtrArray) commands = read_commands (f->wire, qt_ms (300));
    guint next_n = 0, answered = 0;

    g_assert_cmpuint (commands->len, ==, 4);
    /* the other client's Ping goes out at once, ahead of the 12 held */
    ping = qt_call_start (other, "Ping", NULL, "()");
    {
      g_autoptr(JsonObject) command = qt_wire_expect_object (f->wire);

      g_assert_cmpstr (command_name (command), ==, "host-ping");
      reply_return (f->wire, command, "{}");
    }
    g_assert_true (qt_call_wait (ping, qt_ms (5000)));
    g_assert_no_error (ping->error);
    g_clear_pointer (&ping, qt_call_free);
    /* each answer lets the next held one out, in order, never more than 4 */
    answered += answer_in_order (f->wire, commands, &next_n);
    while (answered < 16)
      {
        g_autoptr(GPtrArray) more = read_commands (f->wire, qt_ms (300));

        g_assert_cmpuint (more->len, >, 0);
        g_assert_cmpuint (more->len, <=, 4);
        answered += answer_in_order (f->wire, more, &next_n);
      }
    g_assert_cmpuint (answered, ==, 16);
  }
  g_assert_true (QT_WAIT (flood.done == burst, qt_ms (10000)));
  g_assert_cmpuint (flood.ok, ==, 16);

  /* 2: as fast as it can, ~300 in flight on its side, while the host
   * answers in batches and the other client pings */
  while (flood.done < total + burst)
    {
      g_autoptr(GPtrArray) commands = NULL;

      while (flood.started < total + burst && flood.outstanding < burst)
        flood_one (flooder, &flood);
      if (ping == NULL)
        ping = qt_call_start (other, "Ping", NULL, "()");
      /* let the bridge work through what came in */
      QT_WAIT (FALSE, 5);
      commands = read_commands (f->wire, 20);
      g_assert_cmpuint (commands->len, <=, 4 + 1);   /* the window, and maybe a host-ping */
      {
        guint echoes = 0;

        for (guint i = 0; i < commands->len; i++)
          {
            if (g_str_equal (command_name (commands->pdata[i]), "host-echo"))
              echoes++;
            else
              g_assert_cmpstr (command_name (commands->pdata[i]), ==, "host-ping");
            reply_return (f->wire, commands->pdata[i], "{}");
          }
        g_assert_cmpuint (echoes, <=, 4);
      }
      if (ping->done)
        {
          g_assert_no_error (ping->error);
          g_clear_pointer (&ping, qt_call_free);
          pings++;
        }
      if (rounds++ % 10 == 0)
        rss_max = MAX (rss_max, qt_proc_rss_kib (pid));
      g_assert_cmpuint (rounds, <, 100000);
    }
  if (ping != NULL)
    {
      /* its host-ping may have been answered in the last batch already */
      gint64 deadline = qt_now_ms () + qt_ms (10000);

      while (!ping->done && qt_now_ms () < deadline)
        {
          g_autoptr(GPtrArray) commands = read_commands (f->wire, 20);

          for (guint i = 0; i < commands->len; i++)
            reply_return (f->wire, commands->pdata[i], "{}");
        }
      g_assert_true (ping->done);
      g_assert_no_error (ping->error);
      g_clear_pointer (&ping, qt_call_free);
      pings++;
    }
  rss_max = MAX (rss_max, qt_proc_rss_kib (pid));
  g_test_message ("%u calls: %u answered, %u LimitExceeded; %u pings of the other client; "
                  "VmRSS %" G_GUINT64_FORMAT " KiB at the start, at most %" G_GUINT64_FORMAT " KiB",
                  flood.done, flood.ok, flood.limited, pings, rss_start, rss_max);
  g_assert_cmpuint (flood.ok + flood.limited, ==, flood.done);
  g_assert_cmpuint (pings, >, 0);
  /* valgrind's own memory makes VmRSS meaningless under the wrapper */
  if (qt_rss_is_meaningful ())
    g_assert_cmpuint (rss_max, <=, rss_start + rss_bound_kib);
  qt_bus_close (flooder);
  qt_bus_close (other);
}

/* The bridge runs with --max-clients=8. */
static void
test_many_clients (Fixture *f, gconstpointer user_data)
{
  enum { BUSY = 8, MORE = 40 };
  GDBusConnection *busy[BUSY], *more[MORE];
  QtCall *busy_calls[BUSY], *more_calls[MORE];
  g_autoptr(GPtrArray) commands = NULL;

  for (guint i = 0; i < BUSY; i++)
    {
      busy[i] = qt_bus_new_connection ();
      busy_calls[i] = qt_call_start (busy[i], "Call", g_variant_new ("(ss)", "host-echo", ""), "(s)");
    }
  commands = read_commands (f->wire, qt_ms (300));
  g_assert_cmpuint (commands->len, ==, BUSY);

  /* the excess connects and calls at once: refused */
  for (guint i = 0; i < MORE; i++)
    more[i] = qt_bus_new_connection ();
  for (guint i = 0; i < MORE; i++)
    more_calls[i] = qt_call_start (more[i], "Ping", NULL, "()");
  for (guint i = 0; i < MORE; i++)
    {
      g_assert_true (qt_call_wait (more_calls[i], qt_ms (10000)));
      qt_assert_dbus_error (more_calls[i]->error, QT_ERROR_PREFIX "LimitExceeded", "too many clients");
      qt_call_free (more_calls[i]);
    }
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (100)));

  /* the existing clients keep working */
  for (guint i = 0; i < BUSY; i++)
    {
      g_autoptr(QtCall) ping = qt_call_start (busy[i], "Ping", NULL, "()");
      g_autoptr(JsonObject) command = qt_wire_expect_object (f->wire);

      g_assert_cmpstr (command_name (command), ==, "host-ping");
      reply_return (f->wire, command, "{}");
      g_assert_true (qt_call_wait (ping, qt_ms (5000)));
      g_assert_no_error (ping->error);
    }
  for (guint i = 0; i < BUSY; i++)
    reply_return (f->wire, commands->pdata[i], "{\"ok\":1}");
  for (guint i = 0; i < BUSY; i++)
    {
      g_assert_true (qt_call_wait (busy_calls[i], qt_ms (5000)));
      g_assert_no_error (busy_calls[i]->error);
      qt_call_free (busy_calls[i]);
    }
  /* with the busy ones idle, a newcomer is served */
  {
    g_autoptr(QtCall) ping = qt_call_start (more[0], "Ping", NULL, "()");
    g_autoptr(JsonObject) command = qt_wire_expect_object (f->wire);

    reply_return (f->wire, command, "{}");
    g_assert_true (qt_call_wait (ping, qt_ms (5000)));
    g_assert_no_error (ping->error);
  }
  for (guint i = 0; i < BUSY; i++)
    qt_bus_close (busy[i]);
  for (guint i = 0; i < MORE; i++)
    qt_bus_close (more[i]);
}

/* --- call rate and late refusals ---------------------------------------- */

typedef struct {
  guint started, done, ok;
  guint too_fast, in_flight, at_once;   /* LimitExceeded, by message */
  guint early;                          /* refused late, but sooner than the delay */
  gint64 first_sent_us, last_done_us;
} Paced;

typedef struct {
  Paced *paced;
  gint64 sent_us;
} PacedCall;

#define REFUSAL_DELAY_US (1000 * 1000)   /* BRIDGE_REFUSAL_DELAY_MS */

static void
paced_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  PacedCall *call = data;
  Paced *paced = call->paced;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  gint64 now = g_get_monotonic_time ();

  paced->done++;
  paced->last_done_us = now;
  if (reply != NULL)
    paced->ok++;
  else
    {
      qt_assert_dbus_error (error, QT_ERROR_PREFIX "LimitExceeded", "too many requests");
      if (strstr (error->message, "refused at once") != NULL)
        paced->at_once++;
      else if (now - call->sent_us < REFUSAL_DELAY_US)
        paced->early++;
      if (strstr (error->message, " a second)") != NULL)
        paced->too_fast++;
      else
        paced->in_flight++;
    }
  g_free (call);
}

static void
paced_call (GDBusConnection *connection, Paced *paced, const char *method, GVariant *args)
{
  PacedCall *call = g_new0 (PacedCall, 1);

  call->paced = paced;
  call->sent_us = g_get_monotonic_time ();
  if (paced->started++ == 0)
    paced->first_sent_us = call->sent_us;
  g_dbus_connection_call (connection, QT_BUS_NAME, QT_OBJECT_PATH, QT_INTERFACE, method, args,
                          NULL, G_DBUS_CALL_FLAGS_NONE, (int) qt_ms (60000), NULL,
                          paced_done_cb, call);
}

/* Answer every command the bridge sends within quiet_ms of the last one,
 * but keep the first one of all in *kept, if kept is not NULL, unanswered. */
static void
answer_all (QtWire *wire, guint quiet_ms, JsonObject **kept)
{
  g_autoptr(GPtrArray) commands = read_commands (wire, quiet_ms);

  for (guint i = 0; i < commands->len; i++)
    if (kept != NULL && *kept == NULL)
      *kept = json_object_ref (commands->pdata[i]);
    else
      reply_return (wire, commands->pdata[i], "{}");
}

/* The bridge runs with --max-call-rate=50: a bucket of 64 (--max-pending),
 * refilled at 50 a second. One client keeps 200 Pings in flight, 400 in
 * all; the host keeps the first one unanswered, so that the client always
 * has one in flight and each of its later calls needs a token, and
 * answers the others at once. Another client pings every 100 ms. */
static void
test_call_rate (Fixture *f, gconstpointer user_data)
{
  const guint total = 400, in_flight = 200, rate = 50, burst = 64;
  GDBusConnection *flooder = qt_bus_new_connection ();
  GDBusConnection *other = qt_bus_new_connection ();
  g_autoptr(JsonObject) kept = NULL;
  Paced paced = { 0 };
  QtCall *ping = NULL;
  gint64 next_ping_ms = 0;
  guint pings = 0, rounds = 0;
  double seconds;

  while (paced.done < total - 1)
    {
      while (paced.started < total && paced.started - paced.done < in_flight)
        paced_call (flooder, &paced, "Ping", NULL);
      if (ping == NULL && qt_now_ms () >= next_ping_ms)
        {
          ping = qt_call_start (other, "Ping", NULL, "()");
          next_ping_ms = qt_now_ms () + 100;
        }
      QT_WAIT (FALSE, 5);
      answer_all (f->wire, 5, &kept);
      if (ping != NULL && ping->done)
        {
          g_assert_no_error (ping->error);
          g_clear_pointer (&ping, qt_call_free);
          pings++;
        }
      rounds++;
      g_assert_cmpuint (rounds, <, 100000);
    }
  seconds = (paced.last_done_us - paced.first_sent_us) / (double) G_USEC_PER_SEC;
  g_assert_nonnull (kept);
  reply_return (f->wire, kept, "{}");
  g_assert_true (QT_WAIT (paced.done == total, qt_ms (10000)));
  while (ping != NULL && !ping->done)
    {
      QT_WAIT (FALSE, 5);
      answer_all (f->wire, 5, NULL);
    }
  g_clear_pointer (&ping, qt_call_free);

  g_test_message ("%u Pings in %.2f s: %u answered, %u refused for the rate and %u for "
                  "--max-pending (%u at once); the other client's %u Pings all answered",
                  paced.done, seconds, paced.ok, paced.too_fast, paced.in_flight, paced.at_once,
                  pings);
  /* the first (no token: nothing in flight) and the bucket's 64, then no
   * more than the rate */
  g_assert_cmpuint (paced.ok, >=, 1 + burst);
  g_assert_cmpfloat (paced.ok, <=, 1 + burst + rate * seconds);
  /* the first burst also meets --max-pending (64) */
  g_assert_cmpuint (paced.too_fast + paced.in_flight, ==, total - paced.ok);
  g_assert_cmpuint (paced.too_fast, >, 0);
  /* each refusal answered late, none at once (200 in flight: under the bound) */
  g_assert_cmpuint (paced.at_once, ==, 0);
  g_assert_cmpuint (paced.early, ==, 0);
  g_assert_cmpuint (pings, >, 0);
  qt_bus_close (flooder);
  qt_bus_close (other);
}

/* --max-call-rate=50, but a client that waits for each answer takes no
 * token: 300 Pings one after the other, far faster than 64 + 50 a second,
 * all answered. */
static void
test_call_rate_sequential (Fixture *f, gconstpointer user_data)
{
  const guint total = 300;
  GDBusConnection *client = qt_bus_new_connection ();
  gint64 start_us = g_get_monotonic_time ();

  for (guint i = 0; i < total; i++)
    {
      g_autoptr(QtCall) ping = qt_call_start (client, "Ping", NULL, "()");
      g_autoptr(JsonObject) command = qt_wire_expect_object (f->wire);

      g_assert_cmpstr (command_name (command), ==, "host-ping");
      reply_return (f->wire, command, "{}");
      g_assert_true (qt_call_wait (ping, qt_ms (5000)));
      g_assert_no_error (ping->error);
    }
  g_test_message ("%u Pings one after the other in %.2f s", total,
                  (g_get_monotonic_time () - start_us) / (double) G_USEC_PER_SEC);
  qt_bus_close (client);
}

/* --max-pending=1: a client that sends its next call as soon as it has
 * the reply to the last is never refused. Its count must be given back
 * before the reply reaches it, not when the bridge gets round to freeing
 * the call. */
static void
test_max_pending_sequential (Fixture *f, gconstpointer user_data)
{
  const guint total = qt_under_wrapper () ? 200 : 1000;
  GDBusConnection *client = qt_bus_new_connection ();

  for (guint i = 0; i < total; i++)
    {
      g_autofree char *args = g_strdup_printf ("{\"n\":%u}", i);
      g_autoptr(QtCall) call = qt_call_start (client, "Call", g_variant_new ("(ss)", "host-echo", args), "(s)");
      g_autoptr(JsonObject) command = qt_wire_expect_object (f->wire);

      g_assert_cmpstr (command_name (command), ==, "host-echo");
      reply_return (f->wire, command, "{}");
      g_assert_true (qt_call_wait (call, qt_ms (5000)));
      g_assert_no_error (call->error);
    }
  qt_bus_close (client);
}

/* --max-call-rate=50 counts SendEvent too. A Call is held at the host so
 * that the client always has one in flight; then 300 events at once: at
 * most the bucket (64) and 50 a second go out, the rest are refused (late),
 * and the host gets exactly the events that were answered. */
static void
test_call_rate_events (Fixture *f, gconstpointer user_data)
{
  const guint total = 300, rate = 50, burst = 64;
  GDBusConnection *client = qt_bus_new_connection ();
  g_autoptr(QtCall) held = qt_call_start (client, "Call", g_variant_new ("(ss)", "host-echo", "{}"), "(s)");
  g_autoptr(JsonObject) command = qt_wire_expect_object (f->wire);
  Paced paced = { 0 };
  guint events = 0;
  double seconds;

  g_assert_cmpstr (command_name (command), ==, "host-echo");
  for (guint i = 0; i < total; i++)
    paced_call (client, &paced, "SendEvent", g_variant_new ("(ss)", "FLOOD_EVENT", "{}"));
  g_assert_true (QT_WAIT (paced.done == total, qt_ms (30000)));
  seconds = (paced.last_done_us - paced.first_sent_us) / (double) G_USEC_PER_SEC;
  {
    g_autoptr(GPtrArray) sent = read_commands (f->wire, qt_ms (300));

    for (guint i = 0; i < sent->len; i++)
      {
        g_assert_cmpstr (json_object_get_string_member_with_default (sent->pdata[i], "event", ""),
                         ==, "FLOOD_EVENT");
        events++;
      }
  }
  g_test_message ("%u events in %.2f s: %u sent, %u refused for the rate and %u for "
                  "--max-pending; the host got %u", total, seconds, paced.ok, paced.too_fast,
                  paced.in_flight, events);
  g_assert_cmpuint (events, ==, paced.ok);
  g_assert_cmpfloat (paced.ok, <=, burst + rate * seconds);
  g_assert_cmpuint (paced.too_fast, >, 0);
  g_assert_cmpuint (paced.ok + paced.too_fast + paced.in_flight, ==, total);
  g_assert_cmpuint (paced.early, ==, 0);
  reply_return (f->wire, command, "{}");
  g_assert_true (qt_call_wait (held, qt_ms (5000)));
  g_assert_no_error (held->error);
  qt_bus_close (client);
}

/* The bridge runs with --max-pending=1 --max-call-rate=0. One Call is
 * taken and left unanswered; of the other 999 sent at once, at most 256
 * refusals wait at a time (each at least 1 s), the rest go at once. */
static void
test_refusal_bounds (Fixture *f, gconstpointer user_data)
{
  const guint total = 1000, per_caller = 256;
  GDBusConnection *flooder = qt_bus_new_connection ();
  Paced paced = { 0 };

  for (guint i = 0; i < total; i++)
    paced_call (flooder, &paced, "Call", g_variant_new ("(ss)", "host-echo", "{}"));
  g_assert_true (QT_WAIT (paced.done == total - 1, qt_ms (30000)));
  g_test_message ("%u refused: %u late, %u at once", paced.in_flight,
                  paced.in_flight - paced.at_once, paced.at_once);
  g_assert_cmpuint (paced.in_flight, ==, total - 1);
  g_assert_cmpuint (paced.too_fast, ==, 0);
  g_assert_cmpuint (paced.early, ==, 0);
  /* the first 256 refusals wait; until the first is due no more can */
  g_assert_cmpuint (paced.in_flight - paced.at_once, >=, per_caller);
  /* 257 refusals within 1 s, except when valgrind slows the bridge */
  if (!qt_under_wrapper ())
    g_assert_cmpuint (paced.at_once, >, 0);

  /* the one taken is answered, and the caller is served again */
  answer_all (f->wire, qt_ms (300), NULL);
  g_assert_true (QT_WAIT (paced.done == total, qt_ms (10000)));
  g_assert_cmpuint (paced.ok, ==, 1);
  {
    g_autoptr(QtCall) ping = qt_call_start (flooder, "Ping", NULL, "()");
    g_autoptr(JsonObject) command = qt_wire_expect_object (f->wire);

    reply_return (f->wire, command, "{}");
    g_assert_true (qt_call_wait (ping, qt_ms (5000)));
    g_assert_no_error (ping->error);
  }
  qt_bus_close (flooder);
}

/* --- /floods/guest: qga-host against a hostile guest -------------------- */

static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
exited_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) data = TRUE;
}

/* Write all of data to a non-blocking socket, discarding what the peer
 * sends meanwhile (counting the replies' lines). */
static void
flood_write (int fd, const void *data, gsize length, guint *lines_read)
{
  const guint8 *p = data;
  gint64 deadline = qt_now_ms () + qt_ms (60000);

  while (length > 0)
    {
      ssize_t n = write (fd, p, length);
      guint8 sink[65536];
      ssize_t r;

      if (n > 0)
        {
          p += n;
          length -= (gsize) n;
        }
      else
        g_assert_true (n < 0 && (errno == EAGAIN || errno == EINTR));
      while ((r = read (fd, sink, sizeof sink)) > 0)
        for (ssize_t i = 0; i < r; i++)
          if (sink[i] == '\n')
            (*lines_read)++;
      if (n < 0)
        qt_wait_fd (fd, G_IO_OUT | G_IO_IN, 50);
      g_assert_cmpint (qt_now_ms (), <, deadline);
    }
}

/* The socket's path exists from qga-host's bind(), before its listen():
 * until then a connection is refused (a wide window under valgrind on a
 * busy machine). */
static int
connect_when_listening (const char *path, guint timeout_ms)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  gint64 deadline = qt_now_ms () + timeout_ms;
  int fd;

  g_assert_cmpuint (strlen (path), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, path);
  for (;;)
    {
      fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      g_assert_cmpint (fd, >=, 0);
      if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0)
        return fd;
      g_assert_cmpint (errno, ==, ECONNREFUSED);
      close (fd);
      g_assert_cmpint (qt_now_ms (), <, deadline);
      QT_WAIT (FALSE, 10);
    }
}

static guint
count_lines_with (const char *text, const char *needle)
{
  guint n = 0;

  for (const char *p = text; (p = strstr (p, needle)) != NULL; p += strlen (needle))
    n++;
  return n;
}

static void
test_guest (void)
{
  const guint rounds = qt_under_wrapper () ? 2 : 40;
  const guint64 rss_bound_kib = 48 * 1024;
  g_autofree char *socket_path = qt_tmp_path ("host-sock");
  g_autofree char *log_path = qt_tmp_path ("host-log");
  g_autofree char *socket_arg = g_strdup_printf ("--socket=%s", socket_path);
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_auto(GStrv) wrapper = NULL;
  g_autoptr(GSubprocess) host = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) requests = g_string_new (NULL);
  g_autoptr(GString) events = g_string_new (NULL);
  g_autofree char *oversized = NULL;
  g_autofree char *endless = NULL;
  g_autofree char *log = NULL;
  gboolean exited = FALSE;
  guint64 rss_start, rss_max = 0;
  guint lines = 0, warnings, summaries;
  gint64 started, elapsed_ms;
  int fd, pid;

  if (g_getenv ("QGA_TEST_WRAPPER") != NULL && *g_getenv ("QGA_TEST_WRAPPER") != '\0')
    g_assert_true (g_shell_parse_argv (g_getenv ("QGA_TEST_WRAPPER"), NULL, &wrapper, NULL));
  for (char **w = wrapper; w != NULL && *w != NULL; w++)
    g_ptr_array_add (args, *w);
  g_ptr_array_add (args, (gpointer) g_getenv ("QGA_HOST"));
  g_ptr_array_add (args, socket_arg);
  g_ptr_array_add (args, "--listen");
  g_ptr_array_add (args, "--max-message-size=65536");
  g_ptr_array_add (args, NULL);
  /* stdout (the guest's events) and stderr to a file: never blocks */
  g_subprocess_launcher_set_stdout_file_path (launcher, log_path);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  host = g_subprocess_launcher_spawnv (launcher, (const char *const *) args->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_wait_async (host, NULL, exited_cb, &exited);
  pid = atoi (g_subprocess_get_identifier (host));
  g_assert_true (QT_WAIT (g_file_test (socket_path, G_FILE_TEST_EXISTS) || exited, qt_ms (10000)));
  g_assert_false (exited);

  fd = connect_when_listening (socket_path, qt_ms (10000));
  QT_WAIT (FALSE, qt_ms (300));
  rss_start = qt_proc_rss_kib (pid);

  for (guint i = 0; i < 2000; i++)
    g_string_append_printf (requests, "{\"execute\":\"host-ping\",\"id\":%u}"
                                      "{\"execute\":\"host-no-such\",\"id\":%u}", i, i);
  for (guint i = 0; i < 2000; i++)
    g_string_append_printf (events, "{\"event\":\"GUEST_FLOOD\",\"data\":{\"i\":%u}}\n", i);
  {
    g_autofree char *pad = g_strnfill (1024 * 1024, 'o');

    oversized = g_strdup_printf ("{\"execute\":\"host-echo\",\"arguments\":{\"p\":\"%s\"}}\n", pad);
    endless = g_strdup_printf ("{\"execute\":\"%s%s%s%s", pad, pad, pad, pad);
  }

  started = qt_now_ms ();
  for (guint round = 0; round < rounds; round++)
    {
      flood_write (fd, requests->str, requests->len, &lines);
      flood_write (fd, events->str, events->len, &lines);
      for (guint i = 0; i < 4; i++)
        flood_write (fd, oversized, strlen (oversized), &lines);
      for (guint i = 0; i < 200; i++)
        flood_write (fd, "]garbage}\n", 10, &lines);
      /* a message that never ends, then the resync byte */
      flood_write (fd, endless, strlen (endless), &lines);
      flood_write (fd, "\xff", 1, &lines);
      rss_max = MAX (rss_max, qt_proc_rss_kib (pid));
      g_assert_false (exited);
    }
  elapsed_ms = qt_now_ms () - started;

  /* it still serves: a host-ping is answered */
  flood_write (fd, "{\"execute\":\"host-ping\",\"id\":\"last\"}\n", 36, &lines);
  {
    QtWire *wire = qt_wire_new (fd);
    gboolean answered = FALSE;

    while (!answered)
      {
        g_autoptr(GBytes) line = qt_wire_read_line (wire, qt_ms (20000));

        g_assert_nonnull (line);
        answered = g_strstr_len (g_bytes_get_data (line, NULL), (gssize) g_bytes_get_size (line),
                                 "\"id\":\"last\"") != NULL;
      }
    qt_wire_free (wire);
  }
  rss_max = MAX (rss_max, qt_proc_rss_kib (pid));

  /* the summary of the last window comes within a second */
  QT_WAIT (FALSE, qt_ms (1500));
  g_subprocess_send_signal (host, SIGTERM);
  g_assert_true (QT_WAIT (exited, qt_ms (10000)));
  g_assert_true (g_subprocess_get_if_exited (host));
  g_assert_cmpint (g_subprocess_get_exit_status (host), ==, 0);
  g_assert_true (g_file_get_contents (log_path, &log, NULL, NULL));
  warnings = count_lines_with (log, "-WARNING **");
  summaries = count_lines_with (log, "suppressed ");
  g_test_message ("qga-host: VmRSS %" G_GUINT64_FORMAT " KiB at the start, at most %" G_GUINT64_FORMAT
                  " KiB; %u warning lines (%u summaries) in %" G_GINT64_FORMAT " ms of flood",
                  rss_start, rss_max, warnings, summaries, elapsed_ms);
  /* valgrind's own memory makes VmRSS meaningless under the wrapper */
  if (qt_rss_is_meaningful ())
    g_assert_cmpuint (rss_max, <=, rss_start + rss_bound_kib);
  g_assert_cmpuint (summaries, >=, 1);
  /* 10 a second per kind of warning (2 kinds here), a summary each */
  g_assert_cmpuint (warnings, <=, (guint) (((qt_now_ms () - started) / 1000 + 2) * 2 * 11));
}

/* --- the bus stops reading ---------------------------------------------- */

static int
bus_daemon_pid (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
      qt_bus (), "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "GetConnectionUnixProcessID", g_variant_new ("(s)", "org.freedesktop.DBus"),
      G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  guint32 pid;

  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &pid);
  return (int) pid;
}

/* Write as much of text as the socket takes now; returns the bytes taken. */
static gsize
write_some (int fd, const char *text, gsize length)
{
  ssize_t n = write (fd, text, length);

  if (n < 0)
    {
      g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
      return 0;
    }
  return (gsize) n;
}

static void
count_event_cb (GDBusConnection *connection, const char *sender, const char *path,
                const char *interface, const char *member, GVariant *parameters, gpointer data)
{
  const char *name;

  g_variant_get (parameters, "(&s&s)", &name, NULL);
  if (g_str_equal (name, "FLOOD"))
    (*(guint *) data)++;
}

/* The bridge runs with --max-queue-size=1048576 --max-message-size=65536.
 * dbus-daemon is stopped while the host sends 8 KB events as fast as the
 * port takes them: the bridge stops reading the port once about 1 MiB of
 * signals waits for the bus, so the host's writes stall and the bridge's
 * memory stays bounded; once the bus runs again every event arrives. */
static void
test_bus_stalled (Fixture *f, gconstpointer user_data)
{
  const gsize give_up_bytes = 64 * 1024 * 1024;
  const guint64 rss_bound_kib = 24 * 1024;
  GDBusConnection *subscriber = qt_bus_new_connection ();
  g_autofree char *blob = g_strnfill (8000, 'e');
  g_autofree char *line = g_strdup_printf ("{\"event\":\"FLOOD\",\"data\":{\"blob\":\"%s\"}}\n", blob);
  gsize line_length = strlen (line), written = 0, offset = 0;
  int pid = qt_proc_pid (f->bridge), bus_pid = bus_daemon_pid ();
  guint events_sent = 0, events_seen = 0, sub;
  guint64 rss_start, rss_stalled;
  gint64 last_progress;
  GPid watchdog;

  sub = g_dbus_connection_signal_subscribe (subscriber, NULL, QT_INTERFACE, "HostEvent", QT_OBJECT_PATH,
                                            NULL, G_DBUS_SIGNAL_FLAGS_NONE, count_event_cb,
                                            &events_seen, NULL);
  {
    /* a round trip to the bus after the AddMatch: the match rule is in place */
    g_autoptr(GVariant) id = g_dbus_connection_call_sync (
        subscriber, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
        "GetId", NULL, G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);

    g_assert_nonnull (id);
  }
  rss_start = qt_proc_rss_kib (pid);

  watchdog = qt_process_stop (bus_pid, 30);
  last_progress = qt_now_ms ();
  while (written < give_up_bytes && qt_now_ms () - last_progress < qt_ms (1000))
    {
      gsize n = write_some (f->wire->fd, line + offset, line_length - offset);

      if (n == 0)
        {
          g_usleep (5000);
          continue;
        }
      written += n;
      offset += n;
      if (offset == line_length)
        {
          offset = 0;
          events_sent++;
        }
      last_progress = qt_now_ms ();
    }
  rss_stalled = qt_proc_rss_kib (pid);
  g_test_message ("bus stopped: the port took %" G_GSIZE_FORMAT " KiB (%u events) before it stalled; "
                  "bridge VmRSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " KiB",
                  written / 1024, events_sent, rss_start, rss_stalled);
  g_assert_cmpuint (written, <, give_up_bytes);
  if (qt_rss_is_meaningful ())
    g_assert_cmpuint (rss_stalled, <=, rss_start + rss_bound_kib);

  /* the bus runs again: the rest of the line goes in, nothing is lost */
  qt_process_continue (bus_pid, watchdog);
  while (offset > 0)
    {
      offset += write_some (f->wire->fd, line + offset, line_length - offset);
      if (offset == line_length)
        {
          offset = 0;
          events_sent++;
        }
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_true (QT_WAIT (events_seen == events_sent, qt_ms (30000)));
  {
    g_autoptr(QtCall) ping = qt_call_start (qt_bus (), "Ping", NULL, "()");
    g_autoptr(JsonObject) command = qt_wire_expect_object (f->wire);

    reply_return (f->wire, command, "{}");
    g_assert_true (qt_call_wait (ping, qt_ms (5000)));
    g_assert_no_error (ping->error);
  }
  g_dbus_connection_signal_unsubscribe (subscriber, sub);
  qt_bus_close (subscriber);
}

#define ADD(path, func, args) \
  g_test_add (path, Fixture, args, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);

  ADD ("/floods/one-client", test_one_client, "--max-pending=16 --host-window=4");
  ADD ("/floods/many-clients", test_many_clients, "--max-clients=8");
  ADD ("/floods/call-rate", test_call_rate, "--max-call-rate=50");
  ADD ("/floods/call-rate-sequential", test_call_rate_sequential, "--max-call-rate=50");
  ADD ("/floods/call-rate-events", test_call_rate_events, "--max-call-rate=50");
  ADD ("/floods/max-pending-sequential", test_max_pending_sequential, "--max-pending=1");
  ADD ("/floods/refusal-bounds", test_refusal_bounds, "--max-pending=1 --max-call-rate=0");
  ADD ("/floods/bus-stalled", test_bus_stalled, "--max-queue-size=1048576 --max-message-size=65536");
  g_test_add_func ("/floods/guest", test_guest);

  return qt_run ();
}
