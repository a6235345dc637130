/* test-channel.c: the bridge's channel over a character device (its
 * command line is in test-cli.c).
 *
 * A pseudo-terminal stands in for the port: the bridge opens the slave as
 * its character device (putting it in raw mode, as for a serial port) and
 * the test holds the master, as the host would. Closing the master is the
 * host going away. The virtio-specific detach semantics (POLLHUP with
 * read() returning 0) are exercised in the QEMU test.
 */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test-util.h"

typedef struct {
  int master;
  char *slave_path;
  QtProc *bridge;
} Fixture;

/* In the C locale, as a service manager may start it. */
static QtProc *
spawn_bridge_on (const char *channel)
{
  g_autofree char *arg = g_strdup_printf ("--channel=%s", channel);
  const char *bridge = g_getenv ("QGA_BRIDGE");
  const char *argv[] = { bridge ? bridge : "service/qga-bridge", "--bus=session", arg, NULL };
  const char *env[] = { "LC_ALL=C", NULL };

  return qt_proc_spawn_full (argv, FALSE, env, NULL);
}

/* data non-NULL: the bridge is given the device by a link whose name is
 * not ASCII (a file name taken as given, whatever the locale). */
static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autofree char *link = NULL;

  f->master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint (f->master, >=, 0);
  g_assert_cmpint (grantpt (f->master), ==, 0);
  g_assert_cmpint (unlockpt (f->master), ==, 0);
  f->slave_path = g_strdup (ptsname (f->master));
  g_assert_nonnull (f->slave_path);
  g_assert_cmpint (fcntl (f->master, F_SETFL, fcntl (f->master, F_GETFL) | O_NONBLOCK), ==, 0);

  if (data != NULL)
    {
      link = qt_tmp_path ("p\xc3\xb6rt");   /* "pört" in UTF-8 */
      g_assert_cmpint (symlink (f->slave_path, link), ==, 0);
    }
  f->bridge = spawn_bridge_on (link != NULL ? link : f->slave_path);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, TRUE, qt_ms (5000)));
  g_assert_true (qt_wait_host_connected (TRUE, qt_ms (5000)));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->master >= 0)
    close (f->master);
  qt_proc_stop (f->bridge);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
  g_free (f->slave_path);
}

/* The host's side of the device: qemu-ga commands answered, raw mode set. */
static void
test_device_round_trips (Fixture *f, gconstpointer data)
{
  g_autoptr(QtWire) wire = qt_wire_new (dup (f->master));
  g_autoptr(JsonNode) reply = NULL;

  qt_wire_sync (wire, 4242);
  qt_wire_write_str (wire, "\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":7}}");
  g_assert_true (qt_wire_skip_through (wire, 0xff, qt_ms (3000)));
  reply = qt_wire_read_message (wire, NULL, NULL, qt_ms (3000));
  g_assert_nonnull (reply);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (reply), "return"), ==, 7);
}

/* A D-Bus call crosses the device to the host and back. */
static void
test_device_guest_to_host (Fixture *f, gconstpointer data)
{
  g_autoptr(QtWire) wire = qt_wire_new (dup (f->master));
  g_autoptr(QtCall) call = qt_call_start (qt_bus (), "Ping", NULL, "()");
  JsonObject *request = qt_wire_expect_object (wire);
  g_autofree char *reply = NULL;

  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, "host-ping");
  reply = g_strdup_printf ("{\"return\":{},\"id\":%" G_GINT64_FORMAT "}",
                           json_object_get_int_member (request, "id"));
  qt_wire_write_str (wire, reply);
  g_assert_true (qt_call_wait (call, qt_ms (3000)));
  g_assert_no_error (call->error);
  json_object_unref (request);
}

/* The host leaves: the bridge notices, fails calls at once, and waits
 * without spending CPU. */
static void
test_device_detach (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  gint64 start;
  double cpu_before;

  close (f->master);
  f->master = -1;
  g_assert_true (qt_wait_host_connected (FALSE, qt_ms (5000)));

  start = qt_now_ms ();
  result = qt_call_sync (qt_bus (), "Ping", NULL, "()", &error);
  g_assert_null (result);
  qt_assert_dbus_error (error, QT_ERROR_PREFIX "HostDisconnected", NULL);
  g_assert_cmpint (qt_now_ms () - start, <, qt_ms (2000));

  if (qt_under_wrapper ())
    {
      g_test_message ("CPU check skipped under the wrapper");
      return;
    }
  cpu_before = qt_proc_cpu_seconds (qt_proc_pid (f->bridge));
  g_usleep (3 * G_USEC_PER_SEC);
  g_assert_cmpfloat (qt_proc_cpu_seconds (qt_proc_pid (f->bridge)) - cpu_before, <, 0.1);
}

/* A device that is not there: the bridge serves D-Bus, reports the host as
 * absent, and polls for the device without spinning. */
static void
test_missing_device (void)
{
  g_autofree char *path = qt_tmp_path ("no-such-port");
  QtProc *bridge = spawn_bridge_on (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  double cpu_before;

  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, TRUE, qt_ms (5000)));
  g_assert_false (qt_get_host_connected (qt_bus ()));
  result = qt_call_sync (qt_bus (), "Ping", NULL, "()", &error);
  g_assert_null (result);
  qt_assert_dbus_error (error, QT_ERROR_PREFIX "HostDisconnected", NULL);

  if (!qt_under_wrapper ())
    {
      cpu_before = qt_proc_cpu_seconds (qt_proc_pid (bridge));
      g_usleep (3 * G_USEC_PER_SEC);
      g_assert_cmpfloat (qt_proc_cpu_seconds (qt_proc_pid (bridge)) - cpu_before, <, 0.1);
    }
  qt_proc_stop (bridge);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
}

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);
  g_test_add ("/channel/device/round-trips", Fixture, NULL, fixture_setup,
              test_device_round_trips, fixture_teardown);
  g_test_add ("/channel/device/non-ascii-path", Fixture, "link", fixture_setup,
              test_device_round_trips, fixture_teardown);
  g_test_add ("/channel/device/guest-to-host", Fixture, NULL, fixture_setup,
              test_device_guest_to_host, fixture_teardown);
  g_test_add ("/channel/device/detach", Fixture, NULL, fixture_setup,
              test_device_detach, fixture_teardown);
  g_test_add_func ("/channel/device/missing", test_missing_device);
  return qt_run ();
}
