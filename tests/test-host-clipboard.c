/* test-host-clipboard.c: qga-host clipboard get/set/watch, with this
 * program as the guest.
 *
 * Each test listens on a fresh unix socket, starts qga-host --socket=PATH
 * in a clipboard mode, accepts its connection and plays qga-bridge on the
 * raw wire: it answers guest-sync-delimited and guest-info (with or
 * without the clipboard capability), then sends and checks the clipboard
 * messages of docs/CLIPBOARD.md byte by byte. qga-host's stdout and
 * stderr are collected to check what it printed, and its exit status.
 * No bus is needed.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "test-util.h"

#define CHUNK 49152
#define WINDOW 8
#define TEXT_TYPE "text/plain;charset=utf-8"


/* --- qga-host, with its stdout and stderr collected --------------------- */

typedef QtHostProc Host;

/* qga-host --socket=SOCKET ARGS...; stdin gets input (then EOF), if any. */
static Host *
host_spawn (const char *socket_path, const char *const *args, GBytes *input)
{
  g_autofree char *socket_arg = g_strdup_printf ("--socket=%s", socket_path);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GBytes) no_input = g_bytes_new_static ("", 0);   /* stdin closed at once */

  g_ptr_array_add (argv, socket_arg);
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  return qt_host_proc_spawn ((const char *const *) argv->pdata,
                             input != NULL ? input : no_input);
}

/* Wait for the exit and the end of its output; returns the exit status. */
static int
host_wait (Host *host, char **out, char **err)
{
  return qt_host_proc_wait (host, FALSE, out, err);
}

static void
host_signal (Host *host, int sig)
{
  qt_host_proc_signal (host, sig);
}

static JsonNode *
host_next_line (Host *host, guint timeout_ms)
{
  return qt_host_proc_next_line (host, timeout_ms);
}

static void
assert_next_line (Host *host, const char *expected_json)
{
  g_autoptr(JsonNode) actual = host_next_line (host, qt_ms (5000));
  g_autoptr(JsonNode) expected = qt_json_parse (expected_json);

  if (actual == NULL)
    g_error ("qga-host printed nothing; expected %s", expected_json);
  if (!json_node_equal (actual, expected))
    {
      g_autofree char *text = qt_json_to_string (actual);

      g_error ("qga-host printed %s, expected %s", text, expected_json);
    }
}

/* --- the guest's end of the wire ---------------------------------------- */

typedef struct {
  char *socket_path;
  int listen_fd;
  QtWire *wire;
  Host *host;
  char *dir;
} Fixture;

static void
fixture_init (Fixture *f)
{
  f->socket_path = qt_tmp_path ("sock");
  f->listen_fd = qt_unix_listen (f->socket_path);
  f->dir = qt_tmp_path ("files");
  g_assert_cmpint (g_mkdir (f->dir, 0700), ==, 0);
}

static void
fixture_clear (Fixture *f)
{
  g_clear_pointer (&f->wire, qt_wire_free);
  close (f->listen_fd);
  g_unlink (f->socket_path);
  g_free (f->socket_path);
  g_free (f->dir);
  g_assert_null (f->host);  /* each test waits for its qga-host */
}

static void
accept_host (Fixture *f)
{
  gint64 deadline = qt_now_ms () + qt_ms (10000);
  int fd = -1;

  while (fd < 0 && !qt_host_proc_exited (f->host) && qt_now_ms () < deadline)
    fd = qt_unix_accept (f->listen_fd, 100);
  if (fd < 0)
    g_error ("qga-host did not connect to %s%s", f->socket_path,
             qt_host_proc_exited (f->host) ? " (it exited)" : "");
  g_clear_pointer (&f->wire, qt_wire_free);
  f->wire = qt_wire_new (fd);
}

/* The next message from qga-host, an object (a ref). */
static JsonObject *
expect_message (Fixture *f)
{
  gboolean delimited;
  g_autoptr(JsonNode) node = qt_wire_read_message (f->wire, &delimited, NULL, qt_ms (5000));

  if (node == NULL)
    g_error ("no message from qga-host within %u ms", qt_ms (5000));
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  {
    g_autofree char *text = qt_json_to_string (node);

    g_test_message ("from qga-host: %.300s", text);
  }
  return json_object_ref (json_node_get_object (node));
}

/* The next message is the command name; returns its id's JSON text (NULL
 * if it has none). */
static char *
expect_command (Fixture *f, const char *name, JsonObject **arguments)
{
  g_autoptr(JsonObject) message = expect_message (f);
  JsonNode *id = json_object_get_member (message, "id");

  g_assert_cmpstr (json_object_get_string_member (message, "execute"), ==, name);
  if (arguments != NULL)
    *arguments = json_object_ref (json_object_get_object_member (message, "arguments"));
  return id != NULL ? qt_json_to_string (id) : NULL;
}

/* The next message is the event name; returns its data (a ref). */
static JsonObject *
expect_event (Fixture *f, const char *name)
{
  g_autoptr(JsonObject) message = expect_message (f);

  g_assert_cmpstr (json_object_get_string_member (message, "event"), ==, name);
  return json_object_ref (json_object_get_object_member (message, "data"));
}

static void G_GNUC_PRINTF (2, 3)
guest_write (Fixture *f, const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  qt_wire_write_str (f->wire, text);
}

static void
guest_event (Fixture *f, const char *name, const char *data_json)
{
  guest_write (f, "{\"event\":\"%s\",\"data\":%s,\"timestamp\":{\"seconds\":1,\"microseconds\":0}}\n",
               name, data_json);
}

/* Answer qga-host's sync, then its guest-info (with the capability if
 * max_size is not 0). */
static void
guest_handshake (Fixture *f, guint64 max_size)
{
  g_autoptr(JsonObject) arguments = NULL;
  g_autofree char *id = NULL;

  accept_host (f);
  g_free (expect_command (f, "guest-sync-delimited", &arguments));
  guest_write (f, "\xff{\"return\":%" G_GINT64_FORMAT "}\n",
               json_object_get_int_member (arguments, "id"));
  id = expect_command (f, "guest-info", NULL);
  g_assert_nonnull (id);
  if (max_size != 0)
    guest_write (f, "{\"return\":{\"version\":\"1.0\",\"supported_commands\":[],"
                    "\"clipboard\":{\"version\":1,\"max-size\":%" G_GUINT64_FORMAT "}},\"id\":%s}\n",
                 max_size, id);
  else
    guest_write (f, "{\"return\":{\"version\":\"1.0\",\"supported_commands\":[]},\"id\":%s}\n", id);
}

/* qga-host's guest-clipboard-request: checks it, returns its id (JSON
 * text) and transfer number. */
static char *
expect_request (Fixture *f, const char *selection, const char *type, guint32 *transfer)
{
  g_autoptr(JsonObject) arguments = NULL;
  char *id = expect_command (f, "guest-clipboard-request", &arguments);

  g_assert_nonnull (id);
  g_assert_cmpuint (json_object_get_size (arguments), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (arguments, "selection"), ==, selection);
  g_assert_cmpstr (json_object_get_string_member (arguments, "type"), ==, type);
  g_assert_cmpint (json_object_get_int_member (arguments, "serial"), ==, 0);
  *transfer = (guint32) json_object_get_int_member (arguments, "transfer");
  g_assert_cmpuint (*transfer, >=, 1);
  return id;
}

static void
send_chunk (Fixture *f, guint32 transfer, guint32 seq, const guint8 *data, gsize length,
            gboolean last)
{
  g_autofree char *b64 = g_base64_encode (data, length);
  g_autofree char *json = g_strdup_printf ("{\"transfer\":%u,\"seq\":%u,\"data\":\"%s\",\"last\":%s}",
                                           transfer, seq, b64, last ? "true" : "false");

  guest_event (f, "CLIPBOARD_DATA", json);
}

static GBytes *
random_bytes (gsize size, guint32 seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  guint8 *data = g_malloc (size);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_rand_int (rand);
  return g_bytes_new_take (data, size);
}

/* Play the owner: send content in chunks, never more than the window
 * ahead of qga-host's acknowledgements, which must come in order. With
 * empty_last, the content ends with an extra empty chunk. */
static void
serve_content (Fixture *f, guint32 transfer, GBytes *content, gboolean empty_last)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (content, &size);
  guint32 n = (guint32) ((size + CHUNK - 1) / CHUNK) + (empty_last || size == 0 ? 1 : 0);
  guint32 sent = 0, acked = 0;

  while (acked < n)
    {
      while (sent < n && sent < acked + WINDOW)
        {
          gsize offset = (gsize) sent * CHUNK;
          gsize length = offset < size ? MIN (CHUNK, size - offset) : 0;

          send_chunk (f, transfer, sent, data + offset, length, sent == n - 1);
          sent++;
        }
      {
        g_autoptr(JsonObject) ack = expect_event (f, "CLIPBOARD_ACK");

        g_assert_cmpint (json_object_get_int_member (ack, "transfer"), ==, transfer);
        g_assert_cmpint (json_object_get_int_member (ack, "seq"), ==, acked);
        g_assert_cmpuint (acked, <, sent);
        acked++;
      }
    }
}

static void
assert_file_content (const char *path, GBytes *expected)
{
  g_autofree char *contents = NULL;
  gsize length;
  g_autoptr(GBytes) actual = NULL;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  actual = g_bytes_new (contents, length);
  g_assert_cmpuint (length, ==, g_bytes_get_size (expected));
  g_assert_true (g_bytes_equal (actual, expected));
}

/* --- clipboard get ------------------------------------------------------- */

static void
test_get_text (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  const char *args[] = { "clipboard", "get", NULL };
  static const char text[] = "h\xc3\xa9llo, w\xc3\xb6rld\n";
  g_autofree char *id = NULL;
  g_autofree char *out = NULL;
  guint32 transfer;

  fixture_init (f);
  f->host = host_spawn (f->socket_path, args, NULL);
  guest_handshake (f, 1 << 20);
  id = expect_request (f, "clipboard", TEXT_TYPE, &transfer);
  guest_write (f, "{\"return\":{},\"id\":%s}\n", id);
  /* the content, then an empty last chunk */
  send_chunk (f, transfer, 0, (const guint8 *) text, strlen (text), FALSE);
  json_object_unref (expect_event (f, "CLIPBOARD_ACK"));
  send_chunk (f, transfer, 1, NULL, 0, TRUE);
  json_object_unref (expect_event (f, "CLIPBOARD_ACK"));
  g_assert_cmpint (host_wait (g_steal_pointer (&f->host), &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, text);
  fixture_clear (f);
}

static void
test_get_binary (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  g_autofree char *path = NULL;
  const char *args[] = { "clipboard", "get", "--selection=primary", "--type=image/png", NULL, NULL };
  g_autoptr(GBytes) content = random_bytes (20 * CHUNK - 1000, 17);
  g_autofree char *id = NULL;
  guint32 transfer;

  fixture_init (f);
  path = g_build_filename (f->dir, "out.png", NULL);
  args[4] = path;
  f->host = host_spawn (f->socket_path, args, NULL);
  guest_handshake (f, 1 << 30);
  id = expect_request (f, "primary", "image/png", &transfer);
  guest_write (f, "{\"return\":{},\"id\":%s}\n", id);
  serve_content (f, transfer, content, FALSE);
  g_assert_cmpint (host_wait (g_steal_pointer (&f->host), NULL, NULL), ==, 0);
  assert_file_content (path, content);

  /* an existing file is truncated, and the content may end on a chunk's boundary */
  {
    g_autoptr(GBytes) second = random_bytes (2 * CHUNK, 18);

    f->host = host_spawn (f->socket_path, args, NULL);
    guest_handshake (f, 1 << 30);
    g_free (id);
    id = expect_request (f, "primary", "image/png", &transfer);
    guest_write (f, "{\"return\":{},\"id\":%s}\n", id);
    serve_content (f, transfer, second, TRUE);
    g_assert_cmpint (host_wait (g_steal_pointer (&f->host), NULL, NULL), ==, 0);
    assert_file_content (path, second);
  }
  fixture_clear (f);
}

/* A fresh fixture, `qga-host clipboard get [option] DIR/out` started on
 * it and taken through the handshake to its request, whose id this
 * returns. */
static char *
start_get (Fixture *f, const char *option, char **path, guint32 *transfer)
{
  const char *args[] = { "clipboard", "get", NULL, NULL, NULL };

  fixture_init (f);
  *path = g_build_filename (f->dir, "out", NULL);
  args[2] = option != NULL ? option : *path;
  args[3] = option != NULL ? *path : NULL;
  f->host = host_spawn (f->socket_path, args, NULL);
  guest_handshake (f, 1 << 20);
  return expect_request (f, "clipboard", TEXT_TYPE, transfer);
}

static void
test_get_error_reply (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  g_autofree char *path = NULL;
  g_autofree char *id = NULL;
  g_autofree char *err = NULL;
  guint32 transfer;

  id = start_get (f, NULL, &path, &transfer);
  guest_write (f, "{\"error\":{\"class\":\"NoData\",\"desc\":\"nothing of that type\"},\"id\":%s}\n", id);
  g_assert_cmpint (host_wait (g_steal_pointer (&f->host), NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "NoData: nothing of that type"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  fixture_clear (f);
}

static void
test_get_no_capability (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  const char *args[] = { "clipboard", "get", NULL };
  g_autofree char *err = NULL;

  fixture_init (f);
  f->host = host_spawn (f->socket_path, args, NULL);
  guest_handshake (f, 0);
  g_assert_cmpint (host_wait (g_steal_pointer (&f->host), NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "NotSupported"));
  fixture_clear (f);
}

/* A guest that breaks the rules: get fails, reports why, cancels the
 * transfer and removes the file. */
typedef enum { BAD_SEQUENCE, BAD_BASE64, BAD_OVERSIZE, BAD_CHUNK_SIZE } Bad;

static void
test_get_bad_guest (gconstpointer data)
{
  Bad bad = GPOINTER_TO_INT (data);
  Fixture fixture = { 0 }, *f = &fixture;
  g_autofree char *path = NULL;
  g_autoptr(GBytes) content = random_bytes (CHUNK + 3, 5);
  const guint8 *bytes = g_bytes_get_data (content, NULL);
  g_autoptr(JsonObject) cancel = NULL;
  g_autofree char *id = NULL;
  g_autofree char *err = NULL;
  const char *error_class = "ProtocolError";
  guint32 transfer;

  id = start_get (f, "--max-clipboard-size=1000", &path, &transfer);
  guest_write (f, "{\"return\":{},\"id\":%s}\n", id);
  switch (bad)
    {
    case BAD_SEQUENCE:
      send_chunk (f, transfer, 0, bytes, 10, FALSE);
      json_object_unref (expect_event (f, "CLIPBOARD_ACK"));
      send_chunk (f, transfer, 2, bytes, 10, TRUE);
      break;
    case BAD_BASE64:
      {
        g_autofree char *json = g_strdup_printf (
            "{\"transfer\":%u,\"seq\":0,\"data\":\"ab!=\",\"last\":true}", transfer);

        guest_event (f, "CLIPBOARD_DATA", json);
      }
      break;
    case BAD_OVERSIZE:
      error_class = "LimitExceeded";
      send_chunk (f, transfer, 0, bytes, 800, FALSE);
      json_object_unref (expect_event (f, "CLIPBOARD_ACK"));
      send_chunk (f, transfer, 1, bytes, 800, TRUE);
      break;
    case BAD_CHUNK_SIZE:
      send_chunk (f, transfer, 0, bytes, CHUNK + 3, TRUE);
      break;
    default:
      g_assert_not_reached ();
    }
  cancel = expect_event (f, "CLIPBOARD_CANCEL");
  g_assert_cmpint (json_object_get_int_member (cancel, "transfer"), ==, transfer);
  g_assert_cmpstr (json_object_get_string_member (cancel, "role"), ==, "reader");
  g_assert_cmpstr (json_object_get_string_member (cancel, "class"), ==, error_class);
  g_assert_cmpint (host_wait (g_steal_pointer (&f->host), NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, error_class));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  fixture_clear (f);
}

/* The guest closes the connection in the middle of the data. */
static void
test_get_disconnect (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  g_autofree char *path = NULL;
  g_autoptr(GBytes) content = random_bytes (100, 6);
  g_autofree char *id = NULL;
  g_autofree char *err = NULL;
  guint32 transfer;

  id = start_get (f, NULL, &path, &transfer);
  guest_write (f, "{\"return\":{},\"id\":%s}\n", id);
  send_chunk (f, transfer, 0, g_bytes_get_data (content, NULL), 100, FALSE);
  json_object_unref (expect_event (f, "CLIPBOARD_ACK"));
  g_clear_pointer (&f->wire, qt_wire_free);
  g_assert_cmpint (host_wait (g_steal_pointer (&f->host), NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "HostDisconnected"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  fixture_clear (f);
}

/* --clipboard-timeout=1: the guest starts sending and then stops; qga-host
 * cancels the transfer after a second (the overall --timeout is 10 s),
 * fails and leaves no file. */
static void
test_get_stalled (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  g_autofree char *path = NULL;
  g_autoptr(GBytes) content = random_bytes (100, 8);
  g_autoptr(JsonObject) cancel = NULL;
  g_autofree char *id = NULL;
  g_autofree char *err = NULL;
  guint32 transfer;

  id = start_get (f, "--clipboard-timeout=1", &path, &transfer);
  guest_write (f, "{\"return\":{},\"id\":%s}\n", id);
  send_chunk (f, transfer, 0, g_bytes_get_data (content, NULL), 100, FALSE);
  json_object_unref (expect_event (f, "CLIPBOARD_ACK"));
  cancel = expect_event (f, "CLIPBOARD_CANCEL");
  qt_assert_member_json (cancel, "role", "\"reader\"");
  qt_assert_member_json (cancel, "class", "\"Timeout\"");
  g_assert_cmpint (host_wait (g_steal_pointer (&f->host), NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "no progress for 1 s"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  fixture_clear (f);
}

/* --- clipboard set ------------------------------------------------------- */

/* Ask for the host's content as the guest and check it arrives whole, the
 * window respected (nothing past 8 chunks until an acknowledgement). */
static void
request_and_check (Fixture *f, const char *type, guint32 serial, guint32 transfer,
                   gint64 id, GBytes *expected)
{
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(GByteArray) received = g_byte_array_new ();
  g_autoptr(GBytes) actual = NULL;
  guint32 seq = 0;
  gboolean last = FALSE;

  guest_write (f, "{\"execute\":\"host-clipboard-request\",\"arguments\":{\"selection\":\"clipboard\","
                  "\"type\":\"%s\",\"serial\":%u,\"transfer\":%u},\"id\":%" G_GINT64_FORMAT "}\n",
               type, serial, transfer, id);
  /* the reply comes first, then the data */
  reply = expect_message (f);
  g_assert_true (json_object_has_member (reply, "return"));
  g_assert_cmpint (json_object_get_int_member (reply, "id"), ==, id);
  while (!last)
    {
      g_autoptr(JsonObject) data = expect_event (f, "CLIPBOARD_DATA");
      g_autofree guchar *decoded = NULL;
      gsize length;

      g_assert_cmpint (json_object_get_int_member (data, "transfer"), ==, transfer);
      g_assert_cmpint (json_object_get_int_member (data, "seq"), ==, seq);
      decoded = g_base64_decode (json_object_get_string_member (data, "data"), &length);
      g_assert_cmpuint (length, <=, CHUNK);
      g_byte_array_append (received, decoded, (guint) length);
      last = json_object_get_boolean_member (data, "last");
      seq++;
      if (seq % WINDOW == 0 && !last)
        {
          /* a full window: qga-host must wait for us */
          g_assert_true (qt_wire_is_silent (f->wire, 200));
          guest_write (f, "{\"event\":\"CLIPBOARD_ACK\",\"data\":{\"transfer\":%u,\"seq\":%u}}\n",
                       transfer, seq - 1);
        }
    }
  guest_write (f, "{\"event\":\"CLIPBOARD_ACK\",\"data\":{\"transfer\":%u,\"seq\":%u}}\n",
               transfer, seq - 1);
  actual = g_byte_array_free_to_bytes (g_steal_pointer (&received));
  g_assert_cmpuint (g_bytes_get_size (actual), ==, g_bytes_get_size (expected));
  g_assert_true (g_bytes_equal (actual, expected));
}

/* host-ping round trip: qga-host has handled everything sent before. */
static void
guest_ping (Fixture *f, gint64 id)
{
  g_autoptr(JsonObject) reply = NULL;

  guest_write (f, "{\"execute\":\"host-ping\",\"id\":%" G_GINT64_FORMAT "}\n", id);
  reply = expect_message (f);
  qt_assert_member_json (reply, "return", "{}");
  g_assert_cmpint (json_object_get_int_member (reply, "id"), ==, id);
}

static void
expect_error_reply (Fixture *f, const char *request_json, const char *error_class)
{
  g_autoptr(JsonObject) reply = NULL;

  qt_wire_write_str (f->wire, request_json);
  reply = expect_message (f);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (reply, "error"),
                                                  "class"), ==, error_class);
}

static void
test_set_file (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  g_autoptr(GBytes) content = random_bytes (10 * CHUNK + 77, 9);
  g_autofree char *path = NULL;
  const char *args[] = { "clipboard", "set", "--type=" TEXT_TYPE, "--type=application/x-test",
                         NULL, NULL };
  g_autoptr(JsonObject) grab = NULL;
  g_autoptr(JsonObject) info = NULL;
  g_autofree char *err = NULL;
  g_autofree char *guest_grab = NULL;
  guint32 serial;

  fixture_init (f);
  path = g_build_filename (f->dir, "in", NULL);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (content, NULL),
                                      (gssize) g_bytes_get_size (content), NULL));
  args[4] = path;
  f->host = host_spawn (f->socket_path, args, NULL);
  guest_handshake (f, 1 << 30);
  grab = expect_event (f, "CLIPBOARD_GRAB");
  qt_assert_member_json (grab, "selection", "\"clipboard\"");
  qt_assert_member_json (grab, "types", "[\"" TEXT_TYPE "\",\"application/x-test\"]");
  qt_assert_member_json (grab, "peer-serial", "0");
  serial = (guint32) json_object_get_int_member (grab, "serial");
  g_assert_cmpuint (serial, >=, 1);

  /* host-info announces the capability */
  qt_wire_write_str (f->wire, "{\"execute\":\"host-info\",\"id\":1}\n");
  info = expect_message (f);
  qt_assert_member_json (json_object_get_object_member (info, "return"), "clipboard",
                         "{\"version\":1,\"max-size\":268435456}");

  /* two requests in a row, by serial and by 0 */
  request_and_check (f, "application/x-test", serial, 7, 2, content);
  request_and_check (f, TEXT_TYPE, 0, 7, 3, content);

  /* requests qga-host must refuse */
  expect_error_reply (f, "{\"execute\":\"host-clipboard-request\",\"arguments\":{\"selection\":"
                         "\"clipboard\",\"type\":\"image/png\",\"serial\":0,\"transfer\":1},\"id\":4}\n",
                      "NoData");
  expect_error_reply (f, "{\"execute\":\"host-clipboard-request\",\"arguments\":{\"selection\":"
                         "\"primary\",\"type\":\"" TEXT_TYPE "\",\"serial\":0,\"transfer\":1},\"id\":5}\n",
                      "NoData");
  expect_error_reply (f, "{\"execute\":\"host-clipboard-request\",\"arguments\":{\"selection\":"
                         "\"clipboard\",\"type\":\"" TEXT_TYPE "\",\"serial\":999,\"transfer\":1},\"id\":6}\n",
                      "NoData");
  expect_error_reply (f, "{\"execute\":\"host-clipboard-request\",\"arguments\":{\"selection\":"
                         "\"clipboard\",\"type\":\"" TEXT_TYPE "\",\"transfer\":1},\"id\":7}\n",
                      "GenericError");
  expect_error_reply (f, "{\"execute\":\"host-clipboard-request\",\"id\":8}\n", "GenericError");

  /* the guest takes the selection (it had seen our grab): qga-host is done */
  guest_grab = g_strdup_printf ("{\"selection\":\"clipboard\",\"types\":[\"text/plain\"],"
                                "\"serial\":1,\"peer-serial\":%u}", serial);
  guest_event (f, "CLIPBOARD_GRAB", guest_grab);
  g_assert_cmpint (host_wait (g_steal_pointer (&f->host), NULL, &err), ==, 0);
  fixture_clear (f);
}

static void
test_set_stdin (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  g_autoptr(GBytes) content = g_bytes_new_static ("from stdin\n", 11);
  const char *args[] = { "clipboard", "set", "-", NULL };
  g_autoptr(JsonObject) grab = NULL;
  g_autoptr(JsonObject) release = NULL;
  g_autofree char *crossed = NULL;
  guint32 serial;

  fixture_init (f);
  f->host = host_spawn (f->socket_path, args, content);
  guest_handshake (f, 1 << 20);
  grab = expect_event (f, "CLIPBOARD_GRAB");
  serial = (guint32) json_object_get_int_member (grab, "serial");
  request_and_check (f, TEXT_TYPE, serial, 1, 1, content);

  /* a guest grab that crossed ours (it had not seen it) loses: still served */
  crossed = g_strdup_printf ("{\"selection\":\"clipboard\",\"types\":[\"text/plain\"],"
                             "\"serial\":4,\"peer-serial\":0}");
  guest_event (f, "CLIPBOARD_GRAB", crossed);
  request_and_check (f, TEXT_TYPE, serial, 2, 2, content);

  /* the connection drops: qga-host connects again and grabs again, with a
   * new serial */
  g_clear_pointer (&f->wire, qt_wire_free);
  guest_handshake (f, 1 << 20);
  g_clear_pointer (&grab, json_object_unref);
  grab = expect_event (f, "CLIPBOARD_GRAB");
  qt_assert_member_json (grab, "peer-serial", "0");
  g_assert_cmpint (json_object_get_int_member (grab, "serial"), >, serial);
  serial = (guint32) json_object_get_int_member (grab, "serial");
  request_and_check (f, TEXT_TYPE, 0, 1, 1, content);

  /* once the last acknowledgement is in (the ping's reply follows it),
   * SIGTERM: the grab is released, and qga-host exits 0 */
  guest_ping (f, 3);
  host_signal (f->host, SIGTERM);
  release = expect_event (f, "CLIPBOARD_RELEASE");
  qt_assert_member_json (release, "selection", "\"clipboard\"");
  g_assert_cmpint (json_object_get_int_member (release, "serial"), ==, serial);
  g_assert_cmpint (host_wait (g_steal_pointer (&f->host), NULL, NULL), ==, 0);
  fixture_clear (f);
}

static void
test_set_too_big (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  g_autoptr(GBytes) content = random_bytes (2000, 3);
  const char *args[] = { "clipboard", "set", "--max-clipboard-size=1999", NULL };
  g_autofree char *err = NULL;

  fixture_init (f);
  f->host = host_spawn (f->socket_path, args, content);
  g_assert_cmpint (host_wait (g_steal_pointer (&f->host), NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "over the clipboard's maximum"));
  fixture_clear (f);
}

/* --- clipboard watch ----------------------------------------------------- */

static void
test_watch (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  const char *args[] = { "clipboard", "watch", NULL };
  g_autoptr(GString) many = g_string_new ("{\"selection\":\"clipboard\",\"types\":[");
  g_autoptr(JsonObject) arguments = NULL;
  g_autofree char *id = NULL;

  fixture_init (f);
  f->host = host_spawn (f->socket_path, args, NULL);
  accept_host (f);
  g_free (expect_command (f, "guest-sync-delimited", &arguments));
  guest_write (f, "\xff{\"return\":%" G_GINT64_FORMAT "}\n",
               json_object_get_int_member (arguments, "id"));
  id = expect_command (f, "guest-info", NULL);
  /* a grab that arrives before guest-info's reply is printed after it */
  guest_event (f, "CLIPBOARD_GRAB",
               "{\"selection\":\"primary\",\"types\":[\"text/html\"],\"serial\":5,\"peer-serial\":0}");
  guest_write (f, "{\"return\":{\"version\":\"1.0\",\"supported_commands\":[],"
                  "\"clipboard\":{\"version\":1,\"max-size\":1000}},\"id\":%s}\n", id);
  assert_next_line (f->host, "{\"event\":\"grab\",\"selection\":\"primary\",\"serial\":5,"
                             "\"types\":[\"text/html\"]}");

  guest_event (f, "CLIPBOARD_GRAB", "{\"selection\":\"clipboard\",\"types\":[\"" TEXT_TYPE
                                    "\",\"image/png\"],\"serial\":1,\"peer-serial\":0}");
  assert_next_line (f->host, "{\"event\":\"grab\",\"selection\":\"clipboard\",\"serial\":1,"
                             "\"types\":[\"" TEXT_TYPE "\",\"image/png\"]}");

  /* malformed grabs are ignored */
  guest_event (f, "CLIPBOARD_GRAB",
               "{\"selection\":\"clipboard\",\"types\":[1,2],\"serial\":2,\"peer-serial\":0}");
  for (int i = 0; i < 65; i++)
    g_string_append_printf (many, "%s\"type/%d\"", i > 0 ? "," : "", i);
  g_string_append (many, "],\"serial\":2,\"peer-serial\":0}");
  guest_event (f, "CLIPBOARD_GRAB", many->str);
  guest_event (f, "CLIPBOARD_GRAB",
               "{\"selection\":\"clipboard\",\"types\":[\"a/b\"],\"serial\":0,\"peer-serial\":0}");
  guest_event (f, "CLIPBOARD_GRAB",
               "{\"selection\":\"elsewhere\",\"types\":[\"a/b\"],\"serial\":3,\"peer-serial\":0}");
  guest_event (f, "CLIPBOARD_GRAB", "[]");
  /* a stale grab and a stale release, too */
  guest_event (f, "CLIPBOARD_GRAB",
               "{\"selection\":\"clipboard\",\"types\":[\"a/b\"],\"serial\":1,\"peer-serial\":0}");
  guest_event (f, "CLIPBOARD_RELEASE", "{\"selection\":\"clipboard\",\"serial\":7}");
  /* and data for no transfer */
  guest_event (f, "CLIPBOARD_DATA", "{\"transfer\":3,\"seq\":0,\"data\":\"\",\"last\":true}");

  guest_event (f, "CLIPBOARD_RELEASE", "{\"selection\":\"clipboard\",\"serial\":1}");
  assert_next_line (f->host, "{\"event\":\"release\",\"selection\":\"clipboard\",\"serial\":1}");

  /* still answering host-* commands meanwhile */
  guest_ping (f, 9);

  host_signal (f->host, SIGTERM);
  g_assert_cmpint (host_wait (g_steal_pointer (&f->host), NULL, NULL), ==, 0);
  fixture_clear (f);
}

/* --- the command line ---------------------------------------------------- */

static void
test_cli (void)
{
  static const struct {
    const char *args[5];
    const char *stderr_part;
  } cases[] = {
    { { "clipboard", NULL }, "clipboard get|set|watch" },
    { { "clipboard", "paste", NULL }, "clipboard get|set|watch" },
    { { "clipboard", "get", "--selection=secondary", NULL }, "invalid selection" },
    { { "clipboard", "get", "--type=a/a", "--type=b/b", NULL }, "one --type" },
    { { "clipboard", "set", "--type=bad type", NULL }, "invalid --type" },
    { { "clipboard", "watch", "--type=a/b", NULL }, "clipboard watch takes no" },
    { { "clipboard", "get", "--max-clipboard-size=0", NULL }, "--max-clipboard-size must be" },
    { { "clipboard", "get", "--max-clipboard-size=4294967297", NULL }, "--max-clipboard-size must be" },
    { { "clipboard", "get", "--clipboard-timeout=0", NULL }, "--clipboard-timeout must be" },
    { { "sync", "--selection=primary", NULL }, "--selection and --type are for" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Host *host = host_spawn ("/nonexistent/socket", cases[i].args, NULL);
      g_autofree char *err = NULL;

      g_assert_cmpint (host_wait (host, NULL, &err), ==, 2);
      if (strstr (err, cases[i].stderr_part) == NULL)
        g_error ("case %" G_GSIZE_FORMAT ": stderr lacks \"%s\": %s", i, cases[i].stderr_part, err);
    }
}

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);
  g_test_add_func ("/host-clipboard/cli", test_cli);
  g_test_add_func ("/host-clipboard/get/text", test_get_text);
  g_test_add_func ("/host-clipboard/get/binary", test_get_binary);
  g_test_add_func ("/host-clipboard/get/error-reply", test_get_error_reply);
  g_test_add_func ("/host-clipboard/get/no-capability", test_get_no_capability);
  g_test_add_data_func ("/host-clipboard/get/bad-sequence", GINT_TO_POINTER (BAD_SEQUENCE),
                        test_get_bad_guest);
  g_test_add_data_func ("/host-clipboard/get/bad-base64", GINT_TO_POINTER (BAD_BASE64),
                        test_get_bad_guest);
  g_test_add_data_func ("/host-clipboard/get/oversize", GINT_TO_POINTER (BAD_OVERSIZE),
                        test_get_bad_guest);
  g_test_add_data_func ("/host-clipboard/get/chunk-too-big", GINT_TO_POINTER (BAD_CHUNK_SIZE),
                        test_get_bad_guest);
  g_test_add_func ("/host-clipboard/get/disconnect", test_get_disconnect);
  g_test_add_func ("/host-clipboard/get/stalled", test_get_stalled);
  g_test_add_func ("/host-clipboard/set/file", test_set_file);
  g_test_add_func ("/host-clipboard/set/stdin", test_set_stdin);
  g_test_add_func ("/host-clipboard/set/too-big", test_set_too_big);
  g_test_add_func ("/host-clipboard/watch", test_watch);
  return qt_run ();
}
