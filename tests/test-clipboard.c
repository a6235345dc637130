/* test-clipboard.c: clipboard sync through the bridge, on a private system
 * bus with a stand-in for logind.
 *
 * This program is the host (raw bytes on the port's unix socket) and a
 * session agent (org.qemu.GuestAgent.Sessions on its own connections),
 * so every wire message and every D-Bus call can be checked exactly. The
 * whole path with qga-session and qga-host is in test-clipboard-e2e.
 *
 * tests/fake-logind puts this process in session "s1" (active, seat0);
 * "s2" is inactive on seat0 and "s3" active without a seat.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "test-util.h"

#define SESSIONS_IFACE "org.qemu.GuestAgent.Sessions"
#define TEXT_TYPE "text/plain;charset=utf-8"
#define CHUNK 49152
#define WINDOW 8

typedef struct {
  char *socket_path;
  int listen_fd;
  QtProc *logind;
  QtProc *bridge;
  QtWire *wire;
  GDBusConnection *agent;      /* registered, active */
  guint agent_signals;
  GPtrArray *signals;          /* "Member (args)" seen by the agent */
  GPtrArray *messages;         /* from the bridge, kept until teardown */
  gint64 next_id;
} Fixture;

/* --- signals the agent connection receives --- */

static void
on_agent_signal (GDBusConnection *connection, const char *sender, const char *path,
                 const char *interface, const char *member, GVariant *parameters,
                 gpointer user_data)
{
  Fixture *f = user_data;
  g_autofree char *args = g_variant_print (parameters, FALSE);

  g_ptr_array_add (f->signals, g_strdup_printf ("%s %s", member, args));
}

/* Wait for a signal whose text starts with prefix, and remove it. */
static char *
wait_signal (Fixture *f, const char *prefix)
{
  gint64 deadline = qt_now_ms () + qt_ms (5000);

  do
    for (guint i = 0; i < f->signals->len; i++)
      if (g_str_has_prefix (f->signals->pdata[i], prefix))
        return g_ptr_array_steal_index (f->signals, i);
  while (qt_iterate_until (deadline));
  g_error ("no %s signal; saw %u others", prefix, f->signals->len);
}

static gboolean
saw_signal (Fixture *f, const char *prefix, guint ms)
{
  gint64 deadline = qt_now_ms () + qt_ms (ms);

  while (qt_iterate_until (deadline))
    ;
  for (guint i = 0; i < f->signals->len; i++)
    if (g_str_has_prefix (f->signals->pdata[i], prefix))
      return TRUE;
  return FALSE;
}

/* --- the wire, as the host --- */

/* The next message from the bridge, valid until the test ends. */
static JsonObject *
expect_message (Fixture *f)
{
  JsonObject *message = qt_wire_expect_object (f->wire);

  g_ptr_array_add (f->messages, message);
  return message;
}

/* The next message, skipping nothing: must be an event named name. */
static JsonObject *
expect_event (Fixture *f, const char *name)
{
  JsonObject *message = expect_message (f);

  g_assert_cmpstr (json_object_get_string_member_with_default (message, "event", "(none)"), ==, name);
  return json_object_get_object_member (message, "data");
}

static void
send_event (Fixture *f, const char *name, const char *data_json)
{
  g_autofree char *line = g_strdup_printf ("{\"event\":\"%s\",\"data\":%s}\n", name, data_json);

  qt_wire_write_str (f->wire, line);
}

/* Answer the bridge's host-info with the clipboard capability. */
static JsonObject *expect_message (Fixture *f);

static void
answer_host_info (Fixture *f, gboolean capable)
{
  JsonObject *command = expect_message (f);
  g_autofree char *id = qt_json_to_string (json_object_get_member (command, "id"));
  g_autofree char *reply = NULL;

  g_assert_cmpstr (json_object_get_string_member (command, "execute"), ==, "host-info");
  reply = g_strdup_printf ("{\"return\":{\"version\":\"test\",\"supported_commands\":[]%s},\"id\":%s}\n",
                           capable ? ",\"clipboard\":{\"version\":1,\"max-size\":268435456}" : "", id);
  qt_wire_write_str (f->wire, reply);
}

static int
accept_bridge (Fixture *f)
{
  int fd = qt_accept_bridge (f->listen_fd, f->bridge, qt_ms (10000));

  if (fd < 0)
    g_error ("the bridge did not connect%s", qt_proc_exited (f->bridge) ? " (it exited)" : "");
  return fd;
}

/* --- D-Bus as the agent --- */

static GVariant *
agent_call (GDBusConnection *connection, const char *method, GVariant *parameters,
            const char *reply_type, GError **error)
{
  return g_dbus_connection_call_sync (connection, QT_BUS_NAME, QT_OBJECT_PATH, SESSIONS_IFACE,
                                      method, parameters,
                                      reply_type ? G_VARIANT_TYPE (reply_type) : NULL,
                                      G_DBUS_CALL_FLAGS_NONE, qt_ms (10000), NULL, error);
}

static guint32
agent_grab (Fixture *f, const char *selection, const char *const *types)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = agent_call (f->agent, "Grab",
                                          g_variant_new ("(s^as)", selection, types), "(u)", &error);
  guint32 serial;

  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &serial);
  return serial;
}

/* The host asks for the guest's content with guest-clipboard-request; the
 * bridge accepts it and the agent hears DataRequested: returns its number. */
static guint32
host_requests (Fixture *f, const char *selection, const char *type, guint serial,
               guint transfer, guint id)
{
  g_autofree char *line = g_strdup_printf (
      "{\"execute\":\"guest-clipboard-request\",\"arguments\":{\"selection\":\"%s\","
      "\"type\":\"%s\",\"serial\":%u,\"transfer\":%u},\"id\":%u}\n",
      selection, type, serial, transfer, id);
  g_autofree char *prefix = g_strdup_printf ("DataRequested ('%s', '%s', ", selection, type);
  g_autofree char *requested = NULL;
  char *end = NULL;
  guint64 number;

  qt_wire_write_str (f->wire, line);
  qt_assert_member_json (expect_message (f), "return", "{}");
  requested = wait_signal (f, "DataRequested ");
  g_assert_true (g_str_has_prefix (requested, prefix));
  number = g_ascii_strtoull (requested + strlen (prefix), &end, 10);
  g_assert_cmpstr (end, ==, ")");
  return (guint32) number;
}

static QtFdCall *
fd_call_start (GDBusConnection *connection, const char *method, GVariant *parameters, int fd)
{
  return qt_fd_call_start (connection, SESSIONS_IFACE, method, parameters, fd);
}

/* --- fixture --- */

static void
register_agent (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  gboolean active;

  f->agent = qt_bus_new_connection ();
  f->agent_signals = g_dbus_connection_signal_subscribe (f->agent, NULL, SESSIONS_IFACE, NULL,
                                                         QT_OBJECT_PATH, NULL,
                                                         G_DBUS_SIGNAL_FLAGS_NONE, on_agent_signal,
                                                         f, NULL);
  reply = agent_call (f->agent, "RegisterAgent", NULL, "(b)", &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(b)", &active);
  g_assert_true (active);
}

/* user_data: extra bridge arguments (one word) or NULL */
static void
fixture_setup (Fixture *f, gconstpointer user_data)
{
  g_autofree char *pid_arg = g_strdup_printf ("%d:s1", (int) getpid ());
  const char *logind_argv[] = {
    g_getenv ("QGA_FAKE_LOGIND"), "--session", "s1:active:seat0", "--session", "s2:inactive:seat0",
    "--session", "s3:active:", "--pid", pid_arg, NULL
  };
  g_autoptr(JsonObject) ready = NULL;

  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
  f->signals = g_ptr_array_new_with_free_func (g_free);
  f->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  f->logind = qt_proc_spawn (logind_argv, TRUE);
  g_assert_true (qt_wait_name_owned ("org.freedesktop.login1", TRUE, qt_ms (5000)));
  f->socket_path = qt_tmp_path ("sock");
  f->listen_fd = qt_unix_listen (f->socket_path);
  f->bridge = qt_spawn_bridge (f->socket_path, "--verbose", user_data, NULL);
  f->wire = qt_wire_new (accept_bridge (f));
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, TRUE, qt_ms (2000)));
  g_assert_true (qt_wait_host_connected (TRUE, qt_ms (2000)));
  register_agent (f);
  /* an active agent and a host: the bridge asks what the host can do */
  answer_host_info (f, TRUE);
}

static void
fixture_teardown (Fixture *f, gconstpointer user_data)
{
  g_dbus_connection_signal_unsubscribe (f->agent, f->agent_signals);
  qt_bus_close (f->agent);
  qt_proc_stop (f->bridge);
  g_clear_pointer (&f->wire, qt_wire_free);
  close (f->listen_fd);
  g_unlink (f->socket_path);
  g_free (f->socket_path);
  qt_proc_stop (f->logind);
  g_ptr_array_unref (f->signals);
  g_ptr_array_unref (f->messages);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
}

/* --- helpers on content --- */

static GBytes *
random_bytes (gsize size, guint32 seed)
{
  guint8 *data = g_malloc (size);
  GRand *rand = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < size; i++)
    data[i] = g_rand_int (rand) & 0xff;
  g_rand_free (rand);
  return g_bytes_new_take (data, size);
}

/* Read the host's side of a transfer the guest owns: chunks checked one by
 * one, acknowledged only once WINDOW are out so that the window shows. */
static GBytes *
host_receive (Fixture *f, gint64 transfer)
{
  GByteArray *content = g_byte_array_new ();
  gint64 seq = 0, acked = 0;
  gboolean last = FALSE;

  while (!last)
    {
      JsonObject *data = expect_event (f, "CLIPBOARD_DATA");
      gsize length;
      g_autofree guint8 *decoded = NULL;

      g_assert_cmpint (json_object_get_int_member (data, "transfer"), ==, transfer);
      g_assert_cmpint (json_object_get_int_member (data, "seq"), ==, seq);
      g_assert_cmpint (seq - acked, <, WINDOW);
      decoded = g_base64_decode (json_object_get_string_member (data, "data"), &length);
      g_assert_cmpuint (length, <=, CHUNK);
      g_byte_array_append (content, decoded, length);
      last = json_object_get_boolean_member (data, "last");
      seq++;
      if (last || seq - acked == WINDOW)
        {
          g_autofree char *ack = NULL;

          if (!last)   /* the window is full: nothing more may come */
            g_assert_true (qt_wire_is_silent (f->wire, 200));
          ack = g_strdup_printf ("{\"transfer\":%" G_GINT64_FORMAT ",\"seq\":%" G_GINT64_FORMAT "}",
                                 transfer, seq - 1);
          send_event (f, "CLIPBOARD_ACK", ack);
          acked = seq;
        }
    }
  return g_byte_array_free_to_bytes (content);
}

/* Send content as the host, in chunks, checking the bridge's acks. */
static void
host_send (Fixture *f, gint64 transfer, GBytes *content)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (content, &size);
  gsize offset = 0;
  gint64 seq = 0;

  do
    {
      gsize n = MIN (CHUNK, size - offset);
      g_autofree char *encoded = g_base64_encode (data + offset, n);
      g_autofree char *event = g_strdup_printf ("{\"transfer\":%" G_GINT64_FORMAT ",\"seq\":%"
                                                G_GINT64_FORMAT ",\"data\":\"%s\",\"last\":%s}",
                                                transfer, seq, encoded,
                                                offset + n == size ? "true" : "false");
      JsonObject *ack;

      send_event (f, "CLIPBOARD_DATA", event);
      ack = expect_event (f, "CLIPBOARD_ACK");
      g_assert_cmpint (json_object_get_int_member (ack, "seq"), ==, seq);
      offset += n;
      seq++;
    }
  while (offset < size);
}

/* --- tests --- */

static const char *const text_types[] = { TEXT_TYPE, "image/png", NULL };

static void
test_guest_grab_announced (Fixture *f, gconstpointer user_data)
{
  JsonObject *grab;
  guint32 serial = agent_grab (f, "clipboard", text_types);

  g_assert_cmpuint (serial, ==, 1);
  grab = expect_event (f, "CLIPBOARD_GRAB");
  qt_assert_member_json (grab, "selection", "\"clipboard\"");
  qt_assert_member_json (grab, "types", "[\"" TEXT_TYPE "\",\"image/png\"]");
  qt_assert_member_json (grab, "serial", "1");
  qt_assert_member_json (grab, "peer-serial", "0");

  g_assert_cmpuint (agent_grab (f, "primary", text_types), ==, 1);
  grab = expect_event (f, "CLIPBOARD_GRAB");
  qt_assert_member_json (grab, "selection", "\"primary\"");
  g_assert_cmpuint (agent_grab (f, "clipboard", text_types), ==, 2);
  grab = expect_event (f, "CLIPBOARD_GRAB");
  qt_assert_member_json (grab, "serial", "2");
}

/* The host pastes the guest's content: request, DataRequested to the
 * agent, SupplyData with a pipe, chunks in a window, acks, bytes. */
static void
test_host_reads_guest (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GBytes) content = random_bytes (CHUNK * 20 + 1234, 7);
  g_autoptr(GBytes) received = NULL;
  guint32 request_id;
  int fds[2];
  QtFdCall *supply;
  GThread *writer;

  agent_grab (f, "clipboard", text_types);
  (void) expect_event (f, "CLIPBOARD_GRAB");
  request_id = host_requests (f, "clipboard", "image/png", 1, 5, 1);

  g_assert_no_errno (pipe (fds));
  supply = fd_call_start (f->agent, "SupplyData", g_variant_new ("(uh)", request_id, 0), fds[0]);
  writer = qt_write_in_thread (fds[1], content, G_MAXSIZE);
  received = host_receive (f, 5);
  g_assert_cmpuint (GPOINTER_TO_SIZE (g_thread_join (writer)), ==, g_bytes_get_size (content));
  g_assert_true (g_bytes_equal (received, content));
  g_assert_cmpuint (qt_fd_call_bytes (supply, 10000), ==, g_bytes_get_size (content));
  qt_fd_call_free (supply);
}

/* The guest pastes the host's content through Read. */
static void
test_guest_reads_host (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GBytes) content = random_bytes (CHUNK * 3 + 17, 9);
  g_autofree char *grabbed = NULL;
  QtPipeReader reader = { 0 };
  JsonObject *request, *arguments;
  g_autofree char *reply = NULL;
  g_autoptr(GBytes) received = NULL;
  QtFdCall *read_call;

  send_event (f, "CLIPBOARD_GRAB", "{\"selection\":\"clipboard\",\"types\":[\"" TEXT_TYPE "\"],"
                                   "\"serial\":4,\"peer-serial\":0}");
  grabbed = wait_signal (f, "HostGrabbed ");
  g_assert_cmpstr (grabbed, ==, "HostGrabbed ('clipboard', ['" TEXT_TYPE "'], 4)");
  /* not echoed back to the host */
  g_assert_true (qt_wire_is_silent (f->wire, 200));

  read_call = fd_call_start (f->agent, "Read", g_variant_new ("(ssh)", "clipboard", TEXT_TYPE, 0),
                             qt_pipe_reader_start (&reader));
  request = expect_message (f);
  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, "host-clipboard-request");
  arguments = json_object_get_object_member (request, "arguments");
  qt_assert_member_json (arguments, "selection", "\"clipboard\"");
  qt_assert_member_json (arguments, "type", "\"" TEXT_TYPE "\"");
  qt_assert_member_json (arguments, "serial", "4");
  reply = g_strdup_printf ("{\"return\":{},\"id\":%" G_GINT64_FORMAT "}\n",
                           json_object_get_int_member (request, "id"));
  qt_wire_write_str (f->wire, reply);
  host_send (f, json_object_get_int_member (arguments, "transfer"), content);
  g_assert_cmpuint (qt_fd_call_bytes (read_call, 10000), ==, g_bytes_get_size (content));
  received = qt_pipe_reader_finish (&reader, 5000);
  g_assert_true (g_bytes_equal (received, content));
  qt_fd_call_free (read_call);
}

/* Another connection that listens to everything the bridge emits hears no
 * clipboard news: the signals are unicast. It may not use the clipboard. */
static void
on_any_signal (GDBusConnection *connection, const char *sender, const char *path,
               const char *interface, const char *member, GVariant *parameters,
               gpointer user_data)
{
  g_ptr_array_add (user_data, g_strdup_printf ("%s.%s", interface, member));
}

static void
test_unicast_only (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GDBusConnection) other = qt_bus_new_connection ();
  g_autoptr(GPtrArray) heard = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  guint id = g_dbus_connection_signal_subscribe (other, QT_BUS_NAME, NULL, NULL, NULL, NULL,
                                                 G_DBUS_SIGNAL_FLAGS_NONE, on_any_signal,
                                                 heard, NULL);
  g_autofree char *grabbed = NULL;

  send_event (f, "CLIPBOARD_GRAB", "{\"selection\":\"primary\",\"types\":[\"" TEXT_TYPE "\"],"
                                   "\"serial\":1,\"peer-serial\":0}");
  grabbed = wait_signal (f, "HostGrabbed ");
  g_assert_false (saw_signal (f, "HostEvent", 300));
  g_assert_cmpuint (heard->len, ==, 0);

  reply = agent_call (other, "Grab", g_variant_new ("(s^as)", "clipboard", text_types), "(u)", &error);
  qt_assert_dbus_error (error, "org.freedesktop.DBus.Error.AccessDenied", "registered");
  g_clear_error (&error);
  /* clipboard events are not for SendEvent either */
  reply = g_dbus_connection_call_sync (other, QT_BUS_NAME, QT_OBJECT_PATH, "org.qemu.GuestAgent",
                                       "SendEvent", g_variant_new ("(ss)", "CLIPBOARD_GRAB", "{}"),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_nonnull (error);
  g_dbus_connection_signal_unsubscribe (other, id);
  qt_bus_close (g_steal_pointer (&other));
  g_assert_true (qt_wire_is_silent (f->wire, 100));
}

/* Bad requests from the host get error replies; the bridge carries on. */
static void
test_request_errors (Fixture *f, gconstpointer user_data)
{
  static const struct {
    const char *arguments;
    const char *error_class;
  } cases[] = {
    { "{\"selection\":\"clipboard\",\"type\":\"text/plain\",\"serial\":0,\"transfer\":1}", "NoData" },
    { "{\"selection\":\"primary\",\"type\":\"" TEXT_TYPE "\",\"serial\":0,\"transfer\":1}", "NoData" },
    { "{\"selection\":\"clipboard\",\"type\":\"" TEXT_TYPE "\",\"serial\":9,\"transfer\":1}", "NoData" },
    { "{\"selection\":\"secondary\",\"type\":\"" TEXT_TYPE "\",\"serial\":0,\"transfer\":1}", "GenericError" },
    { "{\"selection\":\"clipboard\",\"type\":\"" TEXT_TYPE "\",\"serial\":0,\"transfer\":0}", "GenericError" },
    { "{\"selection\":\"clipboard\",\"type\":\"" TEXT_TYPE "\",\"serial\":-1,\"transfer\":1}", "GenericError" },
    { "{\"selection\":\"clipboard\",\"type\":\"a b\",\"serial\":0,\"transfer\":1}", "GenericError" },
    { "{\"selection\":\"clipboard\",\"type\":\"" TEXT_TYPE "\",\"serial\":0}", "GenericError" },
    { "{\"selection\":\"clipboard\",\"type\":\"" TEXT_TYPE "\",\"serial\":0,\"transfer\":1,\"x\":1}", "GenericError" },
  };

  agent_grab (f, "clipboard", text_types);
  (void) expect_event (f, "CLIPBOARD_GRAB");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *line = g_strdup_printf ("{\"execute\":\"guest-clipboard-request\","
                                               "\"arguments\":%s,\"id\":%" G_GSIZE_FORMAT "}\n",
                                               cases[i].arguments, i);
      JsonObject *reply, *error;

      qt_wire_write_str (f->wire, line);
      reply = expect_message (f);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, cases[i].arguments);
      g_assert_true (json_object_has_member (reply, "error"));
      error = json_object_get_object_member (reply, "error");
      g_assert_cmpstr (json_object_get_string_member (error, "class"), ==, cases[i].error_class);
    }
  g_assert_false (saw_signal (f, "DataRequested", 100));
  /* malformed grabs and releases are dropped */
  send_event (f, "CLIPBOARD_GRAB", "{\"selection\":\"clipboard\",\"types\":[1],\"serial\":1,\"peer-serial\":0}");
  send_event (f, "CLIPBOARD_GRAB", "{\"selection\":\"clipboard\",\"types\":[\"a\"],\"serial\":0,\"peer-serial\":0}");
  send_event (f, "CLIPBOARD_RELEASE", "{\"selection\":\"clipboard\"}");
  send_event (f, "CLIPBOARD_DATA", "{\"transfer\":77,\"seq\":0,\"data\":\"\",\"last\":true}");
  send_event (f, "CLIPBOARD_BOGUS", "{}");
  g_assert_false (saw_signal (f, "HostGrabbed", 200));
  qt_wire_sync (f->wire, 99);
}

/* A chunk that is not base64 ends the Read with ProtocolError, and the
 * host is told with a cancel. */
static void
test_bad_chunk_cancels (Fixture *f, gconstpointer user_data)
{
  g_autofree char *grabbed = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *bad = NULL;
  JsonObject *request, *cancel;
  gint64 transfer;
  int fds[2];
  QtFdCall *read_call;

  send_event (f, "CLIPBOARD_GRAB", "{\"selection\":\"clipboard\",\"types\":[\"" TEXT_TYPE "\"],"
                                   "\"serial\":1,\"peer-serial\":0}");
  grabbed = wait_signal (f, "HostGrabbed ");
  g_assert_no_errno (pipe2 (fds, O_CLOEXEC));
  read_call = fd_call_start (f->agent, "Read", g_variant_new ("(ssh)", "clipboard", TEXT_TYPE, 0), fds[1]);
  request = expect_message (f);
  transfer = json_object_get_int_member (json_object_get_object_member (request, "arguments"), "transfer");
  reply = g_strdup_printf ("{\"return\":{},\"id\":%" G_GINT64_FORMAT "}\n",
                           json_object_get_int_member (request, "id"));
  qt_wire_write_str (f->wire, reply);
  bad = g_strdup_printf ("{\"transfer\":%" G_GINT64_FORMAT ",\"seq\":0,\"data\":\"@@@@\",\"last\":false}", transfer);
  send_event (f, "CLIPBOARD_DATA", bad);
  cancel = expect_event (f, "CLIPBOARD_CANCEL");
  qt_assert_member_json (cancel, "role", "\"reader\"");
  qt_assert_member_json (cancel, "class", "\"ProtocolError\"");
  qt_fd_call_wait (read_call, 10000);
  qt_assert_dbus_error (read_call->error, "org.qemu.GuestAgent.Error.ProtocolError", "base64");
  qt_fd_call_free (read_call);
  close (fds[0]);
}

/* Grabs that cross on the wire: the host's wins at the guest. */
static void
test_grab_race (Fixture *f, gconstpointer user_data)
{
  g_autofree char *grabbed = NULL;
  JsonObject *grab;

  agent_grab (f, "clipboard", text_types);
  /* the host grabbed before it saw ours: its peer-serial is 0, not 1 */
  send_event (f, "CLIPBOARD_GRAB", "{\"selection\":\"clipboard\",\"types\":[\"" TEXT_TYPE "\"],"
                                   "\"serial\":1,\"peer-serial\":0}");
  grab = expect_event (f, "CLIPBOARD_GRAB");
  qt_assert_member_json (grab, "serial", "1");
  grabbed = wait_signal (f, "HostGrabbed ('clipboard'");
  /* the guest's grab is gone: a request for it finds nothing */
  qt_wire_write_str (f->wire, "{\"execute\":\"guest-clipboard-request\",\"arguments\":"
                              "{\"selection\":\"clipboard\",\"type\":\"" TEXT_TYPE "\","
                              "\"serial\":1,\"transfer\":3},\"id\":1}\n");
  grab = expect_message (f);
  g_assert_true (json_object_has_member (grab, "error"));
  /* and the guest's next grab says it has seen the host's */
  agent_grab (f, "clipboard", text_types);
  grab = expect_event (f, "CLIPBOARD_GRAB");
  qt_assert_member_json (grab, "serial", "2");
  qt_assert_member_json (grab, "peer-serial", "1");
}

static int
count_fds (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  int n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* The host goes away in the middle of both kinds of transfer: both D-Bus
 * calls fail with HostDisconnected, no fd is left behind, and after the
 * host is back the next transfer works. */
static void
test_host_disconnect (Fixture *f, gconstpointer user_data)
{
  g_autofree char *grabbed = NULL, *reply = NULL;
  g_autoptr(GBytes) content = random_bytes (1000, 3);
  g_autoptr(GBytes) received = NULL;
  int fds_before = count_fds (qt_proc_pid (f->bridge));
  int in[2], out[2];
  QtFdCall *read_call, *supply;
  JsonObject *request;
  guint32 request_id;

  agent_grab (f, "primary", text_types);
  (void) expect_event (f, "CLIPBOARD_GRAB");
  send_event (f, "CLIPBOARD_GRAB", "{\"selection\":\"clipboard\",\"types\":[\"" TEXT_TYPE "\"],"
                                   "\"serial\":1,\"peer-serial\":0}");
  grabbed = wait_signal (f, "HostGrabbed ");
  g_assert_no_errno (pipe2 (in, O_CLOEXEC));
  read_call = fd_call_start (f->agent, "Read", g_variant_new ("(ssh)", "clipboard", TEXT_TYPE, 0), in[1]);
  request = expect_message (f);
  reply = g_strdup_printf ("{\"return\":{},\"id\":%" G_GINT64_FORMAT "}\n",
                           json_object_get_int_member (request, "id"));
  qt_wire_write_str (f->wire, reply);
  request_id = host_requests (f, "primary", TEXT_TYPE, 0, 8, 2);
  g_assert_no_errno (pipe2 (out, O_CLOEXEC));
  supply = fd_call_start (f->agent, "SupplyData", g_variant_new ("(uh)", request_id, 0), out[0]);
  g_assert_cmpint (write (out[1], "partial", 7), ==, 7);
  (void) expect_event (f, "CLIPBOARD_DATA");

  g_clear_pointer (&f->wire, qt_wire_free);
  qt_fd_call_wait (read_call, 10000);
  qt_assert_dbus_error (read_call->error, "org.qemu.GuestAgent.Error.HostDisconnected", NULL);
  qt_fd_call_wait (supply, 10000);
  qt_assert_dbus_error (supply->error, "org.qemu.GuestAgent.Error.HostDisconnected", NULL);
  qt_fd_call_free (read_call);
  qt_fd_call_free (supply);
  close (in[0]);
  close (out[1]);
  grabbed = (g_free (grabbed), wait_signal (f, "HostReleased ('clipboard'"));

  /* back: the bridge asks again and announces the guest's grab again */
  f->wire = qt_wire_new (accept_bridge (f));
  answer_host_info (f, TRUE);
  (void) expect_event (f, "CLIPBOARD_GRAB");
  g_assert_cmpint (count_fds (qt_proc_pid (f->bridge)), <=, fds_before);
  request_id = host_requests (f, "primary", TEXT_TYPE, 0, 9, 3);
  g_assert_no_errno (pipe2 (out, O_CLOEXEC));
  supply = fd_call_start (f->agent, "SupplyData", g_variant_new ("(uh)", request_id, 0), out[0]);
  g_assert_cmpint (write (out[1], g_bytes_get_data (content, NULL), 1000), ==, 1000);
  close (out[1]);
  received = host_receive (f, 9);
  g_assert_true (g_bytes_equal (received, content));
  g_assert_cmpuint (qt_fd_call_bytes (supply, 10000), ==, 1000);
  qt_fd_call_free (supply);
}

/* The content over --max-clipboard-size: the owner stops and the host is
 * told LimitExceeded; the SupplyData call fails the same way. */
static void
test_size_limit (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GBytes) content = random_bytes (100000, 5);
  JsonObject *message;
  guint32 request_id;
  gboolean cancelled = FALSE;
  int fds[2];
  QtFdCall *supply;

  agent_grab (f, "clipboard", text_types);
  (void) expect_event (f, "CLIPBOARD_GRAB");
  request_id = host_requests (f, "clipboard", TEXT_TYPE, 1, 2, 1);
  g_assert_no_errno (pipe (fds));
  supply = fd_call_start (f->agent, "SupplyData", g_variant_new ("(uh)", request_id, 0), fds[0]);
  g_assert_cmpint (write (fds[1], g_bytes_get_data (content, NULL), 65536), ==, 65536);
  while (!cancelled)
    {
      message = expect_message (f);
      cancelled = g_strcmp0 (json_object_get_string_member_with_default (message, "event", ""),
                             "CLIPBOARD_CANCEL") == 0;
      if (cancelled)
        qt_assert_member_json (json_object_get_object_member (message, "data"), "class",
                               "\"LimitExceeded\"");
      else
        g_assert_false (json_object_get_boolean_member (json_object_get_object_member (message, "data"),
                                                        "last"));
    }
  qt_fd_call_wait (supply, 10000);
  qt_assert_dbus_error (supply->error, "org.qemu.GuestAgent.Error.LimitExceeded", NULL);
  qt_fd_call_free (supply);
  close (fds[1]);
}

/* The owner cannot supply: the host's transfer is cancelled with its
 * reason, and the request is gone. */
static void
test_supply_error (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  JsonObject *cancel;
  guint32 request_id;

  agent_grab (f, "clipboard", text_types);
  (void) expect_event (f, "CLIPBOARD_GRAB");
  request_id = host_requests (f, "clipboard", "image/png", 0, 6, 1);
  reply = agent_call (f->agent, "SupplyError", g_variant_new ("(us)", request_id, "no PNG today"),
                      NULL, &error);
  g_assert_no_error (error);
  cancel = expect_event (f, "CLIPBOARD_CANCEL");
  qt_assert_member_json (cancel, "transfer", "6");
  qt_assert_member_json (cancel, "role", "\"owner\"");
  qt_assert_member_json (cancel, "class", "\"GenericError\"");
  g_assert_nonnull (strstr (json_object_get_string_member (cancel, "desc"), "no PNG today"));
  /* answered once: a second answer finds nothing */
  g_clear_pointer (&reply, g_variant_unref);
  reply = agent_call (f->agent, "SupplyError", g_variant_new ("(us)", request_id, "again"), NULL, &error);
  qt_assert_dbus_error (error, "org.qemu.GuestAgent.Error.NoData", "not pending");
}

/* The bridge runs with --clipboard-timeout=1. A transfer that stops moving
 * is cancelled after about a second, both ways: the peer gets
 * CLIPBOARD_CANCEL with class Timeout, the D-Bus call fails with Timeout,
 * and the bridge holds no fd of it afterwards. */
static void
test_stall_timeout (Fixture *f, gconstpointer user_data)
{
  g_autofree char *grabbed = NULL, *reply = NULL;
  int fds_before = count_fds (qt_proc_pid (f->bridge));
  int in[2], out[2];
  QtFdCall *read_call, *supply;
  JsonObject *request, *cancel;
  guint32 request_id;

  /* the guest's owner supplies a pipe and writes nothing into it */
  agent_grab (f, "clipboard", text_types);
  (void) expect_event (f, "CLIPBOARD_GRAB");
  request_id = host_requests (f, "clipboard", TEXT_TYPE, 0, 9, 1);
  g_assert_no_errno (pipe2 (out, O_CLOEXEC));
  supply = fd_call_start (f->agent, "SupplyData", g_variant_new ("(uh)", request_id, 0), out[0]);
  cancel = expect_event (f, "CLIPBOARD_CANCEL");
  qt_assert_member_json (cancel, "transfer", "9");
  qt_assert_member_json (cancel, "role", "\"owner\"");
  qt_assert_member_json (cancel, "class", "\"Timeout\"");
  g_assert_nonnull (strstr (json_object_get_string_member (cancel, "desc"), "no progress for 1 s"));
  qt_fd_call_wait (supply, 10000);
  qt_assert_dbus_error (supply->error, "org.qemu.GuestAgent.Error.Timeout", "no progress");
  qt_fd_call_free (supply);
  close (out[1]);

  /* the guest reads the host's content, and the host sends none of it */
  send_event (f, "CLIPBOARD_GRAB", "{\"selection\":\"primary\",\"types\":[\"" TEXT_TYPE "\"],"
                                   "\"serial\":1,\"peer-serial\":0}");
  grabbed = wait_signal (f, "HostGrabbed ('primary'");
  g_assert_no_errno (pipe2 (in, O_CLOEXEC));
  read_call = fd_call_start (f->agent, "Read", g_variant_new ("(ssh)", "primary", TEXT_TYPE, 0), in[1]);
  request = expect_message (f);
  reply = g_strdup_printf ("{\"return\":{},\"id\":%" G_GINT64_FORMAT "}\n",
                           json_object_get_int_member (request, "id"));
  qt_wire_write_str (f->wire, reply);
  cancel = expect_event (f, "CLIPBOARD_CANCEL");
  qt_assert_member_json (cancel, "role", "\"reader\"");
  qt_assert_member_json (cancel, "class", "\"Timeout\"");
  qt_fd_call_wait (read_call, 10000);
  qt_assert_dbus_error (read_call->error, "org.qemu.GuestAgent.Error.Timeout", "no progress");
  qt_fd_call_free (read_call);
  close (in[0]);
  g_assert_true (QT_WAIT (count_fds (qt_proc_pid (f->bridge)) == fds_before, qt_ms (5000)));
}

/* --max-agents=1: a second agent is refused, the first keeps working. */
static void
test_max_agents (Fixture *f, gconstpointer user_data)
{
  GDBusConnection *second = qt_bus_new_connection ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = agent_call (second, "RegisterAgent", NULL, "(b)", &error);

  qt_assert_dbus_error (error, "org.qemu.GuestAgent.Error.LimitExceeded", "1 session agents");
  qt_bus_close (second);
  agent_grab (f, "clipboard", text_types);
  (void) expect_event (f, "CLIPBOARD_GRAB");
}

/* A host that answers host-info without the capability never hears of
 * the guest's grabs, and a Read says NotSupported. */
static void
test_host_without_clipboard (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  int fds[2];
  QtFdCall *read_call;

  g_clear_pointer (&f->wire, qt_wire_free);
  f->wire = qt_wire_new (accept_bridge (f));
  answer_host_info (f, FALSE);
  agent_grab (f, "clipboard", text_types);
  g_assert_true (qt_wire_is_silent (f->wire, 300));
  g_assert_no_errno (pipe2 (fds, O_CLOEXEC));
  read_call = fd_call_start (f->agent, "Read", g_variant_new ("(ssh)", "clipboard", TEXT_TYPE, 0), fds[1]);
  qt_fd_call_wait (read_call, 10000);
  qt_assert_dbus_error (read_call->error, "org.qemu.GuestAgent.Error.NotSupported", NULL);
  qt_fd_call_free (read_call);
  close (fds[0]);
}

/* A new grab ends the transfers of the old one: the guest grabs again
 * while the host is reading; the host gets a cancel, the supplier an error. */
static void
test_new_grab_cancels (Fixture *f, gconstpointer user_data)
{
  JsonObject *cancel;
  guint32 request_id;
  int fds[2];
  QtFdCall *supply;

  agent_grab (f, "clipboard", text_types);
  (void) expect_event (f, "CLIPBOARD_GRAB");
  request_id = host_requests (f, "clipboard", TEXT_TYPE, 1, 4, 1);
  g_assert_no_errno (pipe2 (fds, O_CLOEXEC));
  supply = fd_call_start (f->agent, "SupplyData", g_variant_new ("(uh)", request_id, 0), fds[0]);
  g_assert_cmpint (write (fds[1], "half", 4), ==, 4);
  (void) expect_event (f, "CLIPBOARD_DATA");

  agent_grab (f, "clipboard", text_types);
  cancel = expect_event (f, "CLIPBOARD_CANCEL");
  qt_assert_member_json (cancel, "transfer", "4");
  qt_assert_member_json (cancel, "role", "\"owner\"");
  qt_assert_member_json (cancel, "class", "\"Cancelled\"");
  (void) expect_event (f, "CLIPBOARD_GRAB");
  qt_fd_call_wait (supply, 10000);
  qt_assert_dbus_error (supply->error, "org.qemu.GuestAgent.Error.Cancelled", "grabbed");
  qt_fd_call_free (supply);
  close (fds[1]);
}

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);
  qt_use_system_bus ();
  if (geteuid () != 0)
    {
      g_test_skip ("needs root: the system bus policy lets only root own the bus names");
      return qt_run ();
    }
#define ADD(path, func, args) \
  g_test_add (path, Fixture, args, fixture_setup, func, fixture_teardown)
  ADD ("/clipboard/guest-grab-announced", test_guest_grab_announced, NULL);
  ADD ("/clipboard/host-reads-guest", test_host_reads_guest, NULL);
  ADD ("/clipboard/guest-reads-host", test_guest_reads_host, NULL);
  ADD ("/clipboard/unicast-only", test_unicast_only, NULL);
  ADD ("/clipboard/request-errors", test_request_errors, NULL);
  ADD ("/clipboard/bad-chunk-cancels", test_bad_chunk_cancels, NULL);
  ADD ("/clipboard/grab-race", test_grab_race, NULL);
  ADD ("/clipboard/host-disconnect", test_host_disconnect, NULL);
  ADD ("/clipboard/new-grab-cancels", test_new_grab_cancels, NULL);
  ADD ("/clipboard/host-without-clipboard", test_host_without_clipboard, NULL);
  ADD ("/clipboard/supply-error", test_supply_error, NULL);
  ADD ("/clipboard/max-agents", test_max_agents, "--max-agents=1");
  ADD ("/clipboard/size-limit", test_size_limit, "--max-clipboard-size=50000");
  ADD ("/clipboard/stall-timeout", test_stall_timeout, "--clipboard-timeout=1");
  return qt_run ();
}
