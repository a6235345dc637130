/* test-stats.c: host stats through the bridge (docs/HOST-STATS.md), with
 * this program as the host on the port's socket and as D-Bus callers, so
 * that the subscription arithmetic and the types can be checked exactly.
 * test-dbus checks the same against qga-host and the real /proc.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "test-util.h"

typedef struct {
  char *socket_path;
  int listen_fd;
  QtProc *bridge;
  QtWire *wire;
  GPtrArray *messages;
} Fixture;

static int
accept_bridge (Fixture *f)
{
  int fd = qt_accept_bridge (f->listen_fd, f->bridge, qt_ms (10000));

  if (fd < 0)
    g_error ("the bridge did not connect%s", qt_proc_exited (f->bridge) ? " (it exited)" : "");
  return fd;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
  f->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  f->socket_path = qt_tmp_path ("sock");
  f->listen_fd = qt_unix_listen (f->socket_path);
  f->bridge = qt_spawn_bridge (f->socket_path, "--verbose", NULL);
  f->wire = qt_wire_new (accept_bridge (f));
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, TRUE, qt_ms (2000)));
  g_assert_true (qt_wait_host_connected (TRUE, qt_ms (2000)));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  qt_proc_stop (f->bridge);
  g_clear_pointer (&f->wire, qt_wire_free);
  close (f->listen_fd);
  g_unlink (f->socket_path);
  g_free (f->socket_path);
  g_ptr_array_unref (f->messages);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
}

/* The bridge's next message, a command named name; its id as JSON text. */
static char *
expect_command (Fixture *f, const char *name, JsonObject **arguments)
{
  JsonObject *command = qt_wire_expect_object (f->wire);

  g_ptr_array_add (f->messages, command);
  g_assert_cmpstr (json_object_get_string_member_with_default (command, "execute", "(none)"), ==, name);
  if (arguments != NULL)
    *arguments = json_object_has_member (command, "arguments")
                   ? json_object_get_object_member (command, "arguments") : NULL;
  return qt_json_to_string (json_object_get_member (command, "id"));
}

static void
reply (Fixture *f, const char *id, const char *return_json)
{
  g_autofree char *line = g_strdup_printf ("{\"return\":%s,\"id\":%s}\n", return_json, id);

  qt_wire_write_str (f->wire, line);
}

/* The next command is host-subscribe with interval (or host-unsubscribe
 * for 0); answered. */
static void
expect_subscription (Fixture *f, guint interval)
{
  JsonObject *arguments = NULL;
  g_autofree char *id = expect_command (f, interval ? "host-subscribe" : "host-unsubscribe",
                                        &arguments);

  if (interval != 0)
    {
      g_autofree char *answer = g_strdup_printf ("{\"interval-ms\":%u}", interval);

      g_assert_nonnull (arguments);
      g_assert_cmpint (json_object_get_int_member (arguments, "interval-ms"), ==, interval);
      reply (f, id, answer);
    }
  else
    reply (f, id, "{}");
}

static void
subscribe (GDBusConnection *connection, guint interval, const char *error_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = qt_call_sync (connection, "SubscribeHostStats",
                                             g_variant_new ("(u)", interval), NULL, &error);

  if (error_name == NULL)
    g_assert_no_error (error);
  else
    qt_assert_dbus_error (error, error_name, NULL);
}

static void
unsubscribe (GDBusConnection *connection)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = qt_call_sync (connection, "UnsubscribeHostStats", NULL, NULL, &error);

  g_assert_no_error (error);
}

/* A snapshot with good fields, and bad ones that must be dropped. */
static const char stats_json[] =
  "{\"cpu-count\":8,\"cpu-model\":\"Test CPU \\u00e9\",\"load-average\":[0.5,1,2.25],"
  "\"memory-total\":34359738368,\"memory-available\":1073741824,\"uptime\":12.5,"
  "\"wall-clock\":1795862400123456,\"balloon\":536870912,"
  "\"unknown-field\":1,\"vcpus\":-1}";

static void
assert_typed_stats (GVariant *stats)
{
  g_autoptr(GVariant) load = NULL;
  const double *values;
  gsize n;
  guint32 u;
  guint64 t;
  gint64 x;
  double d;
  const char *s;

  g_assert_true (g_variant_lookup (stats, "cpu-count", "u", &u));
  g_assert_cmpuint (u, ==, 8);
  g_assert_true (g_variant_lookup (stats, "cpu-model", "&s", &s));
  g_assert_cmpstr (s, ==, "Test CPU \xc3\xa9");
  load = g_variant_lookup_value (stats, "load-average", G_VARIANT_TYPE ("ad"));
  g_assert_nonnull (load);
  values = g_variant_get_fixed_array (load, &n, sizeof (double));
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpfloat (values[2], ==, 2.25);
  g_assert_true (g_variant_lookup (stats, "memory-total", "t", &t));
  g_assert_cmpuint (t, ==, G_GUINT64_CONSTANT (34359738368));
  g_assert_true (g_variant_lookup (stats, "memory-available", "t", &t));
  g_assert_true (g_variant_lookup (stats, "uptime", "d", &d));
  g_assert_cmpfloat (d, ==, 12.5);
  g_assert_true (g_variant_lookup (stats, "wall-clock", "x", &x));
  g_assert_cmpint (x, ==, G_GINT64_CONSTANT (1795862400123456));
  g_assert_true (g_variant_lookup (stats, "balloon", "t", &t));
  /* dropped: unknown, and out of range for u */
  g_assert_false (g_variant_lookup (stats, "unknown-field", "*", NULL));
  g_assert_false (g_variant_lookup (stats, "vcpus", "*", NULL));
  g_assert_cmpuint (g_variant_n_children (stats), ==, 8);
}

static void
test_get_host_stats (Fixture *f, gconstpointer data)
{
  QtCall *call = qt_call_start (qt_bus (), "GetHostStats", NULL, "(a{sv})");
  g_autofree char *id = expect_command (f, "host-stats", NULL);
  g_autoptr(GVariant) stats = NULL;

  reply (f, id, stats_json);
  g_assert_true (qt_call_wait (call, qt_ms (5000)));
  g_assert_no_error (call->error);
  stats = g_variant_get_child_value (call->result, 0);
  assert_typed_stats (stats);
  qt_call_free (call);
}

/* Wrong types drop a field, not the answer; an answer that is not an
 * object is an error. */
static void
test_bad_stats (Fixture *f, gconstpointer data)
{
  QtCall *call = qt_call_start (qt_bus (), "GetHostStats", NULL, "(a{sv})");
  g_autofree char *id = expect_command (f, "host-stats", NULL);
  g_autofree char *long_name = g_strnfill (300, 'x');
  g_autofree char *answer = g_strdup_printf (
    "{\"cpu-count\":\"8\",\"cpu-model\":\"%s\",\"load-average\":[1,2],\"memory-total\":-5,"
    "\"uptime\":\"long\",\"wall-clock\":1.5,\"accelerator\":\"tcg\"}", long_name);
  g_autoptr(GVariant) stats = NULL;
  g_autofree char *id2 = NULL;

  reply (f, id, answer);
  g_assert_true (qt_call_wait (call, qt_ms (5000)));
  g_assert_no_error (call->error);
  stats = g_variant_get_child_value (call->result, 0);
  g_assert_cmpuint (g_variant_n_children (stats), ==, 1);   /* accelerator alone */
  qt_call_free (call);

  call = qt_call_start (qt_bus (), "GetHostStats", NULL, "(a{sv})");
  id2 = expect_command (f, "host-stats", NULL);
  reply (f, id2, "[1,2]");
  g_assert_true (qt_call_wait (call, qt_ms (5000)));
  qt_assert_dbus_error (call->error, "org.qemu.GuestAgent.Error.InvalidReply", NULL);
  qt_call_free (call);
}

static void
test_host_info_hypervisor (Fixture *f, gconstpointer data)
{
  QtCall *call = qt_call_start (qt_bus (), "GetHostInfo", NULL, "(a{sv})");
  g_autofree char *id = expect_command (f, "host-info", NULL);
  g_autoptr(GVariant) info = NULL;
  g_autoptr(GVariant) hypervisor = NULL;
  const char *s;
  guint32 u;
  guint64 t;

  reply (f, id, "{\"version\":\"1\",\"supported_commands\":[],\"hypervisor\":{\"qemu-version\":\"7.2.0\","
                "\"accelerator\":\"kvm\",\"vm-name\":\"vm1\",\"vcpus\":4,\"balloon\":1073741824}}");
  g_assert_true (qt_call_wait (call, qt_ms (5000)));
  g_assert_no_error (call->error);
  info = g_variant_get_child_value (call->result, 0);
  g_assert_true (g_variant_lookup (info, "version", "&s", &s));
  hypervisor = g_variant_lookup_value (info, "hypervisor", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (hypervisor);
  g_assert_true (g_variant_lookup (hypervisor, "vcpus", "u", &u));
  g_assert_cmpuint (u, ==, 4);
  g_assert_true (g_variant_lookup (hypervisor, "balloon", "t", &t));
  g_assert_cmpuint (t, ==, 1073741824);
  g_assert_true (g_variant_lookup (hypervisor, "accelerator", "&s", &s));
  g_assert_cmpstr (s, ==, "kvm");
  qt_call_free (call);
}

/* The host streams at the smallest interval any caller wants, and only
 * while someone is subscribed; callers that leave the bus count out. */
static void
test_subscriptions (Fixture *f, gconstpointer data)
{
  GDBusConnection *a = qt_bus_new_connection ();
  GDBusConnection *b = qt_bus_new_connection ();
  GDBusConnection *c = qt_bus_new_connection ();

  subscribe (a, 0, "org.freedesktop.DBus.Error.InvalidArgs");
  subscribe (a, 1000, NULL);
  expect_subscription (f, 1000);
  subscribe (b, 200, NULL);
  expect_subscription (f, 200);
  subscribe (c, 5000, NULL);                 /* not smaller: nothing to tell */
  g_assert_true (qt_wire_is_silent (f->wire, 200));
  unsubscribe (b);
  expect_subscription (f, 1000);
  subscribe (a, 1, NULL);                    /* replaces a's, clamped to 100 ms */
  expect_subscription (f, 100);
  qt_bus_close (a);                          /* a leaves the bus */
  expect_subscription (f, 5000);
  unsubscribe (c);
  expect_subscription (f, 0);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) result = qt_call_sync (c, "UnsubscribeHostStats", NULL, NULL, &error);

    g_assert_nonnull (error);
  }
  qt_bus_close (b);
  qt_bus_close (c);
  g_assert_true (qt_wire_is_silent (f->wire, 200));
}

static void
on_signal (GDBusConnection *connection, const char *sender, const char *path,
           const char *interface, const char *member, GVariant *parameters,
           gpointer user_data)
{
  g_ptr_array_add (user_data, g_strdup_printf ("%s %s", member, g_variant_get_type_string (parameters)));
}

static gboolean
has_entries (gpointer data)
{
  return ((GPtrArray *) data)->len > 0;
}

/* HOST_STATS becomes the HostStats signal for every listener, never a
 * HostEvent; after a reconnect the bridge subscribes again. */
static void
test_stats_signal (Fixture *f, gconstpointer data)
{
  GDBusConnection *subscriber = qt_bus_new_connection ();
  GDBusConnection *listener = qt_bus_new_connection ();
  g_autoptr(GPtrArray) heard = g_ptr_array_new_with_free_func (g_free);
  guint id = g_dbus_connection_signal_subscribe (listener, QT_BUS_NAME, "org.qemu.GuestAgent", NULL,
                                                 QT_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                 on_signal, heard, NULL);
  g_autofree char *event = g_strdup_printf ("{\"event\":\"HOST_STATS\",\"data\":%s}\n", stats_json);
  int fd;

  subscribe (subscriber, 500, NULL);
  expect_subscription (f, 500);
  qt_wire_write_str (f->wire, event);
  g_assert_true (qt_wait_until (has_entries, heard, qt_ms (5000)));
  g_assert_cmpstr (heard->pdata[0], ==, "HostStats (a{sv})");
  {
    gint64 deadline = qt_now_ms () + qt_ms (200);

    while (qt_iterate_until (deadline))
      ;
  }
  g_assert_cmpuint (heard->len, ==, 1);   /* and no HostEvent */

  /* the host goes and comes back: the subscription is renewed */
  g_clear_pointer (&f->wire, qt_wire_free);
  fd = accept_bridge (f);
  f->wire = qt_wire_new (fd);
  expect_subscription (f, 500);

  g_dbus_connection_signal_unsubscribe (listener, id);
  qt_bus_close (listener);
  qt_bus_close (subscriber);
  expect_subscription (f, 0);
}

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/stats/get-host-stats", test_get_host_stats);
  ADD ("/stats/bad-stats", test_bad_stats);
  ADD ("/stats/host-info-hypervisor", test_host_info_hypervisor);
  ADD ("/stats/subscriptions", test_subscriptions);
  ADD ("/stats/signal-and-reconnect", test_stats_signal);
  return qt_run ();
}
