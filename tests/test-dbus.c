/* test-dbus.c: qga-bridge's D-Bus interface, with qga-host as the host.
 *
 * Each test starts qga-host in serve mode listening on a fresh unix
 * socket (stdin/stdout piped to us), then the bridge with
 * --channel=unix:PATH, and talks to the bridge over the session bus.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "qga-dbus-generated.h"
#include "test-util.h"

typedef struct {
  char *socket_path;
  QtProc *host;
  QtProc *bridge;
} Fixture;

static void
start_host (Fixture *f)
{
  f->host = qt_spawn_host (f->socket_path, TRUE);
}

/* user_data: extra bridge arguments, space separated, or NULL */
static void
start_bridge (Fixture *f, const char *socket_path, gconstpointer user_data)
{
  g_auto(GStrv) extra = g_strsplit (user_data ? (const char *) user_data : "", " ", -1);

  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
  f->bridge = qt_spawn_bridge (socket_path,
                               extra[0] && *extra[0] ? extra[0] : NULL,
                               extra[0] && extra[1] ? extra[1] : NULL,
                               NULL);
  if (!qt_wait_name_owned (QT_BUS_NAME, TRUE, qt_ms (10000)))
    g_error ("the bridge did not take its bus name%s",
             qt_proc_exited (f->bridge) ? " (it exited)" : "");
}

static void
fixture_setup (Fixture *f, gconstpointer user_data)
{
  f->socket_path = qt_tmp_path ("sock");
  start_host (f);
  if (!QT_WAIT (g_file_test (f->socket_path, G_FILE_TEST_EXISTS) || qt_proc_exited (f->host),
                qt_ms (10000)) || qt_proc_exited (f->host))
    g_error ("qga-host did not start listening on %s", f->socket_path);
  start_bridge (f, f->socket_path, user_data);
  if (!qt_wait_host_connected (TRUE, qt_ms (5000)))
    g_error ("the bridge did not connect to qga-host");
}

/* No host at all: the channel points at a path nobody listens on. */
static void
fixture_setup_no_host (Fixture *f, gconstpointer user_data)
{
  g_autofree char *missing = qt_tmp_path ("nonexistent");

  f->socket_path = g_strdup (missing);
  start_bridge (f, missing, user_data);
}

static void
fixture_teardown (Fixture *f, gconstpointer user_data)
{
  if (f->bridge != NULL)
    qt_proc_stop (f->bridge);
  if (f->host != NULL)
    qt_proc_stop (f->host);
  g_unlink (f->socket_path);
  g_free (f->socket_path);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
}

/* --- helpers ------------------------------------------------------------ */

static char *
new_token (void)
{
  return g_uuid_string_random ();
}

static char *
echo_args (const char *token, int delay_ms)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "token");
  json_builder_add_string_value (builder, token);
  if (delay_ms >= 0)
    {
      json_builder_set_member_name (builder, "delay-ms");
      json_builder_add_int_value (builder, delay_ms);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return qt_json_to_string (root);
}

static QtCall *
start_echo (GDBusConnection *connection, const char *token, int delay_ms)
{
  g_autofree char *args = echo_args (token, delay_ms);

  return qt_call_start (connection, "Call", g_variant_new ("(ss)", "host-echo", args), "(s)");
}

/* The "token" member of a finished host-echo call's return value. */
static char *
echo_result_token (QtCall *call)
{
  const char *return_json = NULL;
  g_autoptr(JsonNode) node = NULL;
  JsonObject *object;

  g_assert_true (call->done);
  g_assert_no_error (call->error);
  g_variant_get (call->result, "(&s)", &return_json);
  node = qt_json_parse (return_json);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  object = json_node_get_object (node);
  g_assert_true (json_object_has_member (object, "token"));
  return g_strdup (json_object_get_string_member (object, "token"));
}

static void
assert_echo_works (GDBusConnection *connection)
{
  g_autofree char *token = new_token ();
  g_autoptr(QtCall) call = start_echo (connection, token, -1);
  g_autofree char *got = NULL;

  g_assert_true (qt_call_wait (call, qt_ms (5000)));
  got = echo_result_token (call);
  g_assert_cmpstr (got, ==, token);
}

static void
assert_ping_works (GDBusConnection *connection)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = qt_call_sync (connection, "Ping", NULL, "()", &error);

  g_assert_no_error (error);
}

/* Wait 3 s with the bridge idle and check it used (almost) no CPU. */
static void
assert_idle_cpu (Fixture *f)
{
  int pid = qt_proc_pid (f->bridge);
  double before = qt_proc_cpu_seconds (pid);
  double after;

  QT_WAIT (qt_proc_exited (f->bridge), 3000);
  if (qt_proc_exited (f->bridge))
    g_error ("the bridge exited while idle");
  after = qt_proc_cpu_seconds (pid);
  g_test_message ("bridge CPU: %.3f s total, %.3f s in the last 3 s", after, after - before);
  if (qt_under_wrapper ())
    {
      g_test_skip ("CPU use is not meaningful under QGA_TEST_WRAPPER");
      return;
    }
  g_assert_cmpfloat (after - before, <, 0.1);
}

/* --- tests -------------------------------------------------------------- */

static void
test_version (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GVariant) version = qt_get_property (qt_bus (), "Version");
  g_autoptr(GVariant) all = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) props = NULL;
  const char *s = NULL;
  gboolean connected = FALSE;

  g_assert_nonnull (version);
  g_assert_cmpstr (g_variant_get_string (version, NULL), ==, "0.1.0");
  g_assert_true (qt_get_host_connected (qt_bus ()));

  all = g_dbus_connection_call_sync (qt_bus (), QT_BUS_NAME, QT_OBJECT_PATH,
                                     "org.freedesktop.DBus.Properties", "GetAll",
                                     g_variant_new ("(s)", QT_INTERFACE), G_VARIANT_TYPE ("(a{sv})"),
                                     G_DBUS_CALL_FLAGS_NONE, (int) qt_ms (5000), NULL, &error);
  g_assert_no_error (error);
  props = g_variant_get_child_value (all, 0);
  g_assert_true (g_variant_lookup (props, "Version", "&s", &s));
  g_assert_cmpstr (s, ==, "0.1.0");
  g_assert_true (g_variant_lookup (props, "HostConnected", "b", &connected));
  g_assert_true (connected);
}

static void
test_ping (Fixture *f, gconstpointer user_data)
{
  for (guint i = 0; i < 3; i++)
    assert_ping_works (qt_bus ());
}

static void
test_host_info (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = qt_call_sync (qt_bus (), "GetHostInfo", NULL, "(a{sv})", &error);
  g_autoptr(GVariant) info = NULL;
  g_autoptr(GVariant) commands = NULL;
  GVariantIter iter;
  GVariant *command;
  const char *version = NULL;
  gboolean has_ping = FALSE;

  g_assert_no_error (error);
  info = g_variant_get_child_value (reply, 0);
  {
    g_autofree char *printed = g_variant_print (info, TRUE);

    g_test_message ("host info: %s", printed);
  }
  g_assert_true (g_variant_lookup (info, "version", "&s", &version));
  g_assert_cmpstr (version, !=, "");
  commands = g_variant_lookup_value (info, "supported_commands", G_VARIANT_TYPE ("aa{sv}"));
  g_assert_nonnull (commands);
  g_variant_iter_init (&iter, commands);
  while ((command = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *name = NULL;
      gboolean b;

      g_assert_true (g_variant_lookup (command, "name", "&s", &name));
      g_assert_true (g_variant_lookup (command, "enabled", "b", &b));
      g_assert_true (g_variant_lookup (command, "success-response", "b", &b));
      if (g_strcmp0 (name, "host-ping") == 0)
        has_ping = TRUE;
      g_variant_unref (command);
    }
  g_assert_true (has_ping);
}

/* MemTotal from /proc/meminfo, in bytes. */
static guint64
proc_mem_total (void)
{
  g_autofree char *meminfo = NULL;
  const char *line;
  guint64 kib = 0;

  g_assert_true (g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL));
  line = strstr (meminfo, "MemTotal:");
  g_assert_nonnull (line);
  g_assert_cmpint (sscanf (line, "MemTotal: %" G_GUINT64_FORMAT " kB", &kib), ==, 1);
  return kib * 1024;
}

/* A guest program sees the host's real figures: qga-host reads this
 * machine's /proc, the bridge types them. */
static void
test_host_stats (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = qt_call_sync (qt_bus (), "GetHostStats", NULL, "(a{sv})", &error);
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) load = NULL;
  guint32 cpus;
  guint64 total, available;
  gint64 wall_clock;
  double uptime, proc_uptime;
  g_autofree char *uptime_text = NULL;

  g_assert_no_error (error);
  stats = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (stats, "cpu-count", "u", &cpus));
  g_assert_cmpint (cpus, ==, sysconf (_SC_NPROCESSORS_ONLN));
  g_assert_true (g_variant_lookup (stats, "memory-total", "t", &total));
  g_assert_cmpuint (total, ==, proc_mem_total ());
  g_assert_true (g_variant_lookup (stats, "memory-available", "t", &available));
  g_assert_cmpuint (available, <=, total);
  load = g_variant_lookup_value (stats, "load-average", G_VARIANT_TYPE ("ad"));
  g_assert_nonnull (load);
  g_assert_cmpuint (g_variant_n_children (load), ==, 3);
  g_assert_true (g_variant_lookup (stats, "uptime", "d", &uptime));
  g_assert_true (g_file_get_contents ("/proc/uptime", &uptime_text, NULL, NULL));
  proc_uptime = g_ascii_strtod (uptime_text, NULL);
  g_assert_cmpfloat (fabs (uptime - proc_uptime), <, 5.0);
  g_assert_true (g_variant_lookup (stats, "wall-clock", "x", &wall_clock));
  g_assert_cmpint (llabs (wall_clock - g_get_real_time ()), <, 5 * G_USEC_PER_SEC);
}

static void
on_host_stats (GDBusConnection *connection, const char *sender, const char *path,
               const char *interface, const char *member, GVariant *parameters,
               gpointer user_data)
{
  (*(guint *) user_data)++;
}

static gboolean
three_or_more (gpointer data)
{
  return *(guint *) data >= 3;
}

/* Subscribed, a program gets HostStats from qga-host's stream; after it
 * unsubscribes, the stream stops. */
static void
test_host_stats_stream (Fixture *f, gconstpointer user_data)
{
  GDBusConnection *connection = qt_bus_new_connection ();
  guint received = 0;
  guint id = g_dbus_connection_signal_subscribe (connection, QT_BUS_NAME, QT_INTERFACE, "HostStats",
                                                 QT_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                 on_host_stats, &received, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = qt_call_sync (connection, "SubscribeHostStats", g_variant_new ("(u)", 100),
                                            NULL, &error);
  gint64 deadline;

  g_assert_no_error (error);
  g_assert_true (qt_wait_until (three_or_more, &received, qt_ms (10000)));
  g_clear_pointer (&reply, g_variant_unref);
  reply = qt_call_sync (connection, "UnsubscribeHostStats", NULL, NULL, &error);
  g_assert_no_error (error);
  /* what was in flight may still come; then nothing */
  deadline = qt_now_ms () + qt_ms (500);
  while (qt_iterate_until (deadline))
    ;
  received = 0;
  deadline = qt_now_ms () + qt_ms (1000);
  while (qt_iterate_until (deadline))
    ;
  g_assert_cmpuint (received, ==, 0);
  g_dbus_connection_signal_unsubscribe (connection, id);
  qt_bus_close (connection);
}

static void
test_echo (Fixture *f, gconstpointer user_data)
{
  g_autofree char *token = new_token ();
  g_autoptr(QtCall) call = start_echo (qt_bus (), token, -1);
  g_autofree char *got = NULL;
  g_autoptr(QtCall) unknown = NULL;

  g_assert_true (qt_call_wait (call, qt_ms (5000)));
  got = echo_result_token (call);
  g_assert_cmpstr (got, ==, token);

  /* a command qga-host does not know: its error comes back by class */
  unknown = qt_call_start (qt_bus (), "Call", g_variant_new ("(ss)", "host-no-such-command", ""), "(s)");
  g_assert_true (qt_call_wait (unknown, qt_ms (5000)));
  qt_assert_dbus_error (unknown->error, QT_ERROR_PREFIX "CommandNotFound", NULL);
}

/* Many callers on their own connections; the host answers in reverse
 * order; each caller gets its own reply. */
static void
test_concurrent_callers (Fixture *f, gconstpointer user_data)
{
  enum { N = 24 };
  const int step_ms = qt_under_wrapper () ? 400 : 100;
  GDBusConnection *connections[N];
  QtCall *calls[N];
  char *tokens[N];
  guint order = 0;

  for (guint i = 0; i < N; i++)
    connections[i] = qt_bus_new_connection ();
  for (guint i = 0; i < N; i++)
    {
      tokens[i] = new_token ();
      calls[i] = start_echo (connections[i], tokens[i], (int) (N - 1 - i) * step_ms);
      calls[i]->order_counter = &order;
    }
  for (guint i = 0; i < N; i++)
    {
      g_autofree char *got = NULL;

      g_assert_true (qt_call_wait (calls[i], (guint) (N * step_ms) + qt_ms (10000)));
      got = echo_result_token (calls[i]);
      g_assert_cmpstr (got, ==, tokens[i]);
    }
  /* replies came back in reverse order of the calls */
  for (guint i = 0; i < N; i++)
    g_assert_cmpuint (calls[i]->order, ==, N - 1 - i);

  for (guint i = 0; i < N; i++)
    {
      qt_call_free (calls[i]);
      g_free (tokens[i]);
      qt_bus_close (connections[i]);
    }
}

typedef struct {
  guint test_events;
  guint barriers;
  guint others;
  char *data;
} Subscriber;

static void
subscriber_cb (GDBusConnection *connection, const char *sender, const char *path,
               const char *interface, const char *member, GVariant *parameters, gpointer user_data)
{
  Subscriber *s = user_data;
  const char *name, *data;

  g_variant_get (parameters, "(&s&s)", &name, &data);
  if (g_strcmp0 (name, "TEST_EVENT") == 0)
    {
      s->test_events++;
      g_free (s->data);
      s->data = g_strdup (data);
    }
  else if (g_strcmp0 (name, "BARRIER") == 0)
    s->barriers++;
  else
    s->others++;
}

static gboolean
all_saw_barrier (Subscriber *subs, guint n)
{
  for (guint i = 0; i < n; i++)
    if (subs[i].barriers == 0)
      return FALSE;
  return TRUE;
}

static void
test_host_event_fanout (Fixture *f, gconstpointer user_data)
{
  enum { N = 12 };
  GDBusConnection *connections[N];
  guint subscriptions[N];
  Subscriber subs[N];
  g_autoptr(JsonNode) expected = qt_json_parse ("{\"n\":42}");

  memset (subs, 0, sizeof subs);
  for (guint i = 0; i < N; i++)
    {
      g_autoptr(GVariant) barrier = NULL;

      connections[i] = qt_bus_new_connection ();
      subscriptions[i] = g_dbus_connection_signal_subscribe (
          connections[i], NULL, QT_INTERFACE, "HostEvent", QT_OBJECT_PATH, NULL,
          G_DBUS_SIGNAL_FLAGS_NONE, subscriber_cb, &subs[i], NULL);
      /* AddMatch is processed once a later call on the connection returns */
      barrier = qt_get_property (connections[i], "Version");
      g_assert_nonnull (barrier);
    }

  qt_proc_write_line (f->host, "event TEST_EVENT {\"n\":42}");
  qt_proc_write_line (f->host, "event BARRIER {}");
  g_assert_true (QT_WAIT (all_saw_barrier (subs, N), qt_ms (5000)));

  for (guint i = 0; i < N; i++)
    {
      g_autoptr(JsonNode) data = NULL;

      g_assert_cmpuint (subs[i].test_events, ==, 1);
      g_assert_cmpuint (subs[i].barriers, ==, 1);
      g_assert_cmpuint (subs[i].others, ==, 0);
      data = qt_json_parse (subs[i].data);
      g_assert_true (json_node_equal (data, expected));
      g_dbus_connection_signal_unsubscribe (connections[i], subscriptions[i]);
      g_free (subs[i].data);
      qt_bus_close (connections[i]);
    }
}

static void
test_send_event (Fixture *f, gconstpointer user_data)
{
  g_autofree char *token = new_token ();
  g_autofree char *data = g_strdup_printf ("{\"token\":\"%s\",\"n\":[1,2,3]}", token);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = qt_call_sync (qt_bus (), "SendEvent",
                                            g_variant_new ("(ss)", "GUEST_EVENT", data), "()", &error);
  gboolean found = FALSE;

  g_assert_no_error (error);
  while (!found)
    {
      g_autoptr(JsonObject) line = qt_proc_next_json (f->host, qt_ms (5000));
      JsonObject *event_data;

      if (line == NULL)
        g_error ("the event never reached qga-host's stdout");
      if (g_strcmp0 (json_object_get_string_member_with_default (line, "event", ""), "GUEST_EVENT") != 0)
        continue;
      event_data = json_object_get_object_member (line, "data");
      g_assert_nonnull (event_data);
      g_assert_cmpstr (json_object_get_string_member (event_data, "token"), ==, token);
      g_assert_true (json_object_has_member (line, "timestamp"));
      found = TRUE;
    }
}

static gboolean
last_value_is (GArray *values, gboolean value)
{
  return values->len > 0 && g_array_index (values, gboolean, values->len - 1) == value;
}

static void
test_host_disconnect (Fixture *f, gconstpointer user_data)
{
  enum { N = 5 };
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (gboolean));
  GDBusConnection *connection = qt_bus_new_connection ();
  guint sub = qt_record_host_connected (connection, values);
  const gint64 bound_ms = qt_under_wrapper () ? 9000 : 2000;
  QtCall *calls[N];
  g_autoptr(QtCall) refused = NULL;
  g_autoptr(QtCall) event = NULL;
  gint64 killed_at;

  for (guint i = 0; i < N; i++)
    {
      g_autofree char *token = new_token ();

      calls[i] = start_echo (connection, token, 10000);
    }
  /* once this returns, qga-host has read all five commands */
  assert_ping_works (connection);
  for (guint i = 0; i < N; i++)
    g_assert_false (calls[i]->done);

  killed_at = qt_now_ms ();
  qt_proc_stop (g_steal_pointer (&f->host));
  for (guint i = 0; i < N; i++)
    {
      g_assert_true (qt_call_wait (calls[i], (guint) bound_ms));
      qt_assert_dbus_error (calls[i]->error, QT_ERROR_PREFIX "HostDisconnected", NULL);
      g_test_message ("call %u failed %" G_GINT64_FORMAT " ms after SIGTERM", i,
                      calls[i]->done_ms - killed_at);
      g_assert_cmpint (calls[i]->done_ms - killed_at, <, bound_ms);
      qt_call_free (calls[i]);
    }
  g_assert_true (QT_WAIT (last_value_is (values, FALSE), qt_ms (2000)));
  g_assert_false (qt_get_host_connected (connection));

  /* new calls fail at once */
  refused = qt_call_start (connection, "Ping", NULL, "()");
  g_assert_true (qt_call_wait (refused, qt_ms (1000)));
  qt_assert_dbus_error (refused->error, QT_ERROR_PREFIX "HostDisconnected", NULL);
  event = qt_call_start (connection, "SendEvent", g_variant_new ("(ss)", "LOST", ""), "()");
  g_assert_true (qt_call_wait (event, qt_ms (1000)));
  qt_assert_dbus_error (event->error, QT_ERROR_PREFIX "HostDisconnected", NULL);

  /* the host comes back: connected within a few seconds, calls work */
  start_host (f);
  g_assert_true (qt_wait_host_connected (TRUE, qt_ms (5000)));
  g_assert_true (QT_WAIT (last_value_is (values, TRUE), qt_ms (2000)));
  assert_echo_works (connection);
  assert_ping_works (qt_bus ());

  g_dbus_connection_signal_unsubscribe (connection, sub);
  qt_bus_close (connection);
}

/* The bridge runs with --request-timeout=1. */
static void
test_request_timeout (Fixture *f, gconstpointer user_data)
{
  g_autofree char *token = new_token ();
  gint64 started = qt_now_ms ();
  g_autoptr(QtCall) slow = start_echo (qt_bus (), token, 3000);
  gint64 elapsed;
  guint pings = 0;

  g_assert_true (qt_call_wait (slow, qt_ms (5000)));
  elapsed = slow->done_ms - started;
  g_test_message ("timed out after %" G_GINT64_FORMAT " ms", elapsed);
  qt_assert_dbus_error (slow->error, QT_ERROR_PREFIX "Timeout", NULL);
  g_assert_cmpint (elapsed, >=, 900);
  if (!qt_under_wrapper ())
    g_assert_cmpint (elapsed, <, 2500);

  /* keep using the bridge until well after the late reply came in */
  while (qt_now_ms () < started + 3000 + (gint64) qt_ms (500))
    {
      assert_ping_works (qt_bus ());
      pings++;
      QT_WAIT (FALSE, 50);
    }
  g_test_message ("%u pings while the late reply arrived", pings);
  assert_echo_works (qt_bus ());
}

static void
test_idle_cpu_no_host (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_false (qt_get_host_connected (qt_bus ()));
  reply = qt_call_sync (qt_bus (), "Ping", NULL, "()", &error);
  qt_assert_dbus_error (error, QT_ERROR_PREFIX "HostDisconnected", NULL);
  assert_idle_cpu (f);
  g_assert_false (qt_get_host_connected (qt_bus ()));
}

static void
test_idle_cpu_host_gone (Fixture *f, gconstpointer user_data)
{
  assert_ping_works (qt_bus ());
  qt_proc_stop (g_steal_pointer (&f->host));
  g_assert_true (qt_wait_host_connected (FALSE, qt_ms (2000)));
  assert_idle_cpu (f);
  g_assert_false (qt_get_host_connected (qt_bus ()));
}

/* Callers that leave the bus with a call pending: the bridge forgets them
 * and keeps serving the others. */
static void
test_client_vanishes (Fixture *f, gconstpointer user_data)
{
  enum { N = 5 };
  QtCall *calls[N];
  g_autofree char *token = new_token ();
  g_autoptr(QtCall) after = NULL;
  g_autofree char *got = NULL;

  for (guint i = 0; i < N; i++)
    {
      GDBusConnection *connection = qt_bus_new_connection ();
      g_autofree char *t = new_token ();
      g_autoptr(GError) error = NULL;

      calls[i] = start_echo (connection, t, 1000);
      g_dbus_connection_flush_sync (connection, NULL, &error);
      g_assert_no_error (error);
      qt_bus_close (connection);
    }
  for (guint i = 0; i < N; i++)
    {
      /* our side sees the connection closed */
      g_assert_true (qt_call_wait (calls[i], qt_ms (5000)));
      g_assert_nonnull (calls[i]->error);
      qt_call_free (calls[i]);
    }

  /* the others are served meanwhile... */
  assert_ping_works (qt_bus ());
  /* ...and after the orphaned replies came in (qga-host answers in time
   * order, so this reply comes after theirs) */
  after = start_echo (qt_bus (), token, 1500);
  g_assert_true (qt_call_wait (after, qt_ms (10000)));
  got = echo_result_token (after);
  g_assert_cmpstr (got, ==, token);
  assert_ping_works (qt_bus ());
}

/* The bridge runs with --max-pending=4. */
static void
test_max_pending (Fixture *f, gconstpointer user_data)
{
  enum { N = 5 };
  /* the host answers after delay; the refusal comes after 1 s (the
   * bridge's BRIDGE_REFUSAL_DELAY_MS), well before */
  const int delay = qt_under_wrapper () ? 6000 : 3000;
  GDBusConnection *a = qt_bus_new_connection ();
  GDBusConnection *b = qt_bus_new_connection ();
  QtCall *calls[N];
  char *tokens[N];
  guint limited = 0, ok = 0;

  for (guint i = 0; i < N; i++)
    {
      tokens[i] = new_token ();
      calls[i] = start_echo (a, tokens[i], delay);
    }
  /* the one over the limit fails (late); another client is not limited */
  g_assert_true (QT_WAIT (calls[N - 1]->done, 1000 + qt_ms (2000)));
  qt_assert_dbus_error (calls[N - 1]->error, QT_ERROR_PREFIX "LimitExceeded", NULL);
  assert_ping_works (b);
  assert_echo_works (b);
  for (guint i = 0; i < N - 1; i++)
    g_assert_false (calls[i]->done);

  for (guint i = 0; i < N; i++)
    {
      g_assert_true (qt_call_wait (calls[i], (guint) delay + qt_ms (5000)));
      if (calls[i]->error != NULL)
        {
          qt_assert_dbus_error (calls[i]->error, QT_ERROR_PREFIX "LimitExceeded", NULL);
          limited++;
        }
      else
        {
          g_autofree char *got = echo_result_token (calls[i]);

          g_assert_cmpstr (got, ==, tokens[i]);
          ok++;
        }
      qt_call_free (calls[i]);
      g_free (tokens[i]);
    }
  g_assert_cmpuint (limited, ==, 1);
  g_assert_cmpuint (ok, ==, N - 1);

  /* the slots are free again */
  assert_echo_works (a);

  /* calls refused before they reach the host (GDBus's own argument check,
   * and ours) give their slot back too: after ten of each, the caller still
   * has all four */
  for (guint i = 0; i < 10; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = g_dbus_connection_call_sync (
          a, QT_BUS_NAME, QT_OBJECT_PATH, QT_INTERFACE, "Call", g_variant_new ("(s)", "host-echo"),
          NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);

      g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
      g_clear_error (&error);
      reply = qt_call_sync (a, "Call", g_variant_new ("(ss)", "not-a-host-command", ""), "(s)", &error);
      g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
    }
  for (guint i = 0; i < N - 1; i++)
    {
      tokens[i] = new_token ();
      calls[i] = start_echo (a, tokens[i], delay);
    }
  for (guint i = 0; i < N - 1; i++)
    {
      g_assert_true (qt_call_wait (calls[i], (guint) delay + qt_ms (5000)));
      g_assert_no_error (calls[i]->error);
      qt_call_free (calls[i]);
      g_free (tokens[i]);
    }
  qt_bus_close (a);
  qt_bus_close (b);
}

static void
test_large_argument (Fixture *f, gconstpointer user_data)
{
  const gsize size = 4 * 1024 * 1024;
  g_autoptr(GString) token = g_string_sized_new (size);
  g_autoptr(QtCall) call = NULL;
  g_autofree char *got = NULL;

  for (gsize i = 0; i < size; i++)
    g_string_append_c (token, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[i % 62]);
  call = start_echo (qt_bus (), token->str, -1);
  g_assert_true (qt_call_wait (call, qt_ms (20000)));
  got = echo_result_token (call);
  g_assert_cmpuint (strlen (got), ==, size);
  g_assert_true (strcmp (got, token->str) == 0);
  assert_ping_works (qt_bus ());
}

static void
test_non_ascii (Fixture *f, gconstpointer user_data)
{
  const char *text = "h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac"; /* héllo ✓ 日本 */
  g_autoptr(QtCall) call = start_echo (qt_bus (), text, -1);
  g_autofree char *got = NULL;
  const char *return_json = NULL;

  g_assert_true (qt_call_wait (call, qt_ms (5000)));
  got = echo_result_token (call);
  g_assert_cmpstr (got, ==, text);
  g_variant_get (call->result, "(&s)", &return_json);
  g_assert_nonnull (strstr (return_json, text));
}

/* A second bridge cannot take the name from a running one. */
static void
test_name_conflict (Fixture *f, gconstpointer user_data)
{
  g_autofree char *missing = qt_tmp_path ("nonexistent");
  QtProc *second = qt_spawn_bridge (missing, NULL);
  int status = qt_proc_wait_exit (second, qt_ms (10000));

  g_assert_cmpint (status, ==, 1);
  assert_ping_works (qt_bus ());
}

/* The bridge runs with --max-clients=2: a third client with a request in
 * flight is refused; once the others are done it is served. */
static void
test_max_clients (Fixture *f, gconstpointer user_data)
{
  /* the host answers after delay; the refusal comes after 1 s (the
   * bridge's BRIDGE_REFUSAL_DELAY_MS), well before */
  const int delay = qt_under_wrapper () ? 6000 : 3000;
  GDBusConnection *a = qt_bus_new_connection ();
  GDBusConnection *b = qt_bus_new_connection ();
  GDBusConnection *c = qt_bus_new_connection ();
  g_autofree char *ta = new_token ();
  g_autofree char *tb = new_token ();
  g_autoptr(QtCall) call_a = start_echo (a, ta, delay);
  g_autoptr(QtCall) call_b = start_echo (b, tb, delay);
  g_autoptr(QtCall) call_c = NULL;
  g_autofree char *got_a = NULL;
  g_autofree char *got_b = NULL;

  /* once these return, the delayed calls are in flight in the bridge */
  assert_ping_works (a);
  assert_ping_works (b);
  call_c = start_echo (c, "c", -1);
  g_assert_true (qt_call_wait (call_c, qt_ms (2000)));
  qt_assert_dbus_error (call_c->error, QT_ERROR_PREFIX "LimitExceeded", NULL);
  g_assert_false (call_a->done);
  g_assert_false (call_b->done);

  g_assert_true (qt_call_wait (call_a, (guint) delay + qt_ms (5000)));
  g_assert_true (qt_call_wait (call_b, (guint) delay + qt_ms (5000)));
  got_a = echo_result_token (call_a);
  got_b = echo_result_token (call_b);
  g_assert_cmpstr (got_a, ==, ta);
  g_assert_cmpstr (got_b, ==, tb);
  assert_echo_works (c);

  qt_bus_close (a);
  qt_bus_close (b);
  qt_bus_close (c);
}

/* Calls pending when the bridge stops fail with Cancelled (not NoReply). */
static void
test_cancelled_on_shutdown (Fixture *f, gconstpointer user_data)
{
  g_autofree char *token = new_token ();
  g_autoptr(QtCall) call = start_echo (qt_bus (), token, 10000);

  assert_ping_works (qt_bus ());
  g_assert_false (call->done);
  qt_proc_stop (g_steal_pointer (&f->bridge));
  g_assert_true (qt_call_wait (call, qt_ms (2000)));
  qt_assert_dbus_error (call->error, QT_ERROR_PREFIX "Cancelled", NULL);
}

/* --replace takes the name over; the old instance exits cleanly. */
static void
test_replace (Fixture *f, gconstpointer user_data)
{
  g_autofree char *missing = qt_tmp_path ("nonexistent");
  QtProc *second = qt_spawn_bridge (missing, "--replace", NULL);
  int status = qt_proc_wait_exit (g_steal_pointer (&f->bridge), qt_ms (10000));
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_cmpint (status, ==, 0);
  /* the new instance serves the name; it has no host */
  g_assert_true (qt_wait_host_connected (FALSE, qt_ms (5000)));
  reply = qt_call_sync (qt_bus (), "Ping", NULL, "()", &error);
  qt_assert_dbus_error (error, QT_ERROR_PREFIX "HostDisconnected", NULL);
  qt_proc_stop (second);
}

/* The bridge runs with a 2 MiB queue limit, which also bounds the argument
 * text of calls waiting for the host: of three calls of 900 KiB on three
 * connections, whichever reaches the bridge third is refused at once, and
 * the room comes back when the other two finish. */
static void
test_held_arguments (Fixture *f, gconstpointer user_data)
{
  enum { N = 3 };
  const int delay = qt_under_wrapper () ? 10000 : 1500;
  g_autofree char *padding = g_strnfill (900 * 1024, 'x');
  g_autofree char *args = g_strdup_printf ("{\"delay-ms\":%d,\"padding\":\"%s\"}", delay, padding);
  GDBusConnection *connections[N];
  QtCall *calls[N];
  guint refused = 0, answered = 0;
  gint64 refused_ms = 0, first_answer_ms = G_MAXINT64;

  for (guint i = 0; i < N; i++)
    {
      connections[i] = qt_bus_new_connection ();
      calls[i] = qt_call_start (connections[i], "Call",
                                g_variant_new ("(ss)", "host-echo", args), "(s)");
    }
  for (guint i = 0; i < N; i++)
    {
      g_assert_true (qt_call_wait (calls[i], (guint) delay + qt_ms (5000)));
      if (calls[i]->error == NULL)
        {
          first_answer_ms = MIN (first_answer_ms, calls[i]->done_ms);
          answered++;
          continue;
        }
      qt_assert_dbus_error (calls[i]->error, QT_ERROR_PREFIX "LimitExceeded", "request data");
      refused_ms = calls[i]->done_ms;
      refused++;
    }
  g_assert_cmpuint (refused, ==, 1);
  g_assert_cmpuint (answered, ==, N - 1);
  /* refused at once, not after the others' delay */
  g_assert_cmpint (refused_ms, <, first_answer_ms);

  qt_call_free (calls[0]);
  calls[0] = qt_call_start (connections[0], "Call", g_variant_new ("(ss)", "host-echo", args), "(s)");
  g_assert_true (qt_call_wait (calls[0], (guint) delay + qt_ms (5000)));
  g_assert_no_error (calls[0]->error);

  for (guint i = 0; i < N; i++)
    {
      qt_call_free (calls[i]);
      qt_bus_close (connections[i]);
    }
}

#define ADD(path, func, args) \
  g_test_add (path, Fixture, args, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);

  ADD ("/dbus/version", test_version, NULL);
  ADD ("/dbus/ping", test_ping, NULL);
  ADD ("/dbus/host-info", test_host_info, NULL);
  ADD ("/dbus/host-stats", test_host_stats, NULL);
  ADD ("/dbus/host-stats-stream", test_host_stats_stream, NULL);
  ADD ("/dbus/echo", test_echo, NULL);
  ADD ("/dbus/concurrent-callers", test_concurrent_callers, NULL);
  ADD ("/dbus/host-event-fanout", test_host_event_fanout, NULL);
  ADD ("/dbus/send-event", test_send_event, NULL);
  ADD ("/dbus/host-disconnect", test_host_disconnect, NULL);
  ADD ("/dbus/request-timeout", test_request_timeout, "--request-timeout=1");
  g_test_add ("/dbus/idle-cpu/no-host", Fixture, NULL, fixture_setup_no_host,
              test_idle_cpu_no_host, fixture_teardown);
  ADD ("/dbus/idle-cpu/host-gone", test_idle_cpu_host_gone, NULL);
  ADD ("/dbus/client-vanishes", test_client_vanishes, NULL);
  ADD ("/dbus/max-pending", test_max_pending, "--max-pending=4");
  ADD ("/dbus/large-argument", test_large_argument, NULL);
  ADD ("/dbus/held-arguments", test_held_arguments,
       "--max-message-size=1048576 --max-queue-size=2097152");
  ADD ("/dbus/non-ascii", test_non_ascii, NULL);
  ADD ("/dbus/max-clients", test_max_clients, "--max-clients=2");
  ADD ("/dbus/name-conflict", test_name_conflict, NULL);
  ADD ("/dbus/replace", test_replace, NULL);
  ADD ("/dbus/cancelled-on-shutdown", test_cancelled_on_shutdown, NULL);

  return qt_run ();
}
