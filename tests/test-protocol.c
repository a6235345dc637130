/* test-protocol.c: qga-bridge on the wire, with this program as the host.
 *
 * Each test listens on a fresh unix socket, starts the bridge with
 * --channel=unix:PATH, accepts its connection and then checks the raw
 * bytes both ways: host → guest commands (the qemu-ga core protocol) and
 * guest → host commands and events driven over D-Bus.
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
} Fixture;

/* Accept the bridge's connection; -1 on timeout or if the bridge exited. */
static int
accept_bridge (Fixture *f, guint timeout_ms)
{
  return qt_accept_bridge (f->listen_fd, f->bridge, timeout_ms);
}

/* user_data: extra bridge arguments, space separated, or NULL */
static void
fixture_setup (Fixture *f, gconstpointer user_data)
{
  g_auto(GStrv) extra = g_strsplit (user_data ? (const char *) user_data : "", " ", -1);
  g_autofree char *channel = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *bridge_path = NULL;
  int fd;

  /* the previous test's bridge must be gone from the bus */
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));

  f->socket_path = qt_tmp_path ("sock");
  f->listen_fd = qt_unix_listen (f->socket_path);
  f->bridge = qt_spawn_bridge (f->socket_path,
                               extra[0] && *extra[0] ? extra[0] : NULL,
                               extra[0] && extra[1] ? extra[1] : NULL,
                               NULL);
  fd = accept_bridge (f, qt_ms (10000));
  if (fd < 0)
    g_error ("the bridge did not connect to %s%s", f->socket_path,
             qt_proc_exited (f->bridge) ? " (it exited)" : "");
  f->wire = qt_wire_new (fd);
  /* the bridge owns its name before it starts the channel */
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, TRUE, qt_ms (1000)));
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

/* Accept the bridge's next connection (after a disconnect). */
static void
fixture_reaccept (Fixture *f, guint timeout_ms)
{
  int fd = accept_bridge (f, timeout_ms);

  if (fd < 0)
    g_error ("the bridge did not reconnect within %u ms", timeout_ms);
  g_clear_pointer (&f->wire, qt_wire_free);
  f->wire = qt_wire_new (fd);
}

static JsonObject *
roundtrip (Fixture *f, const char *text)
{
  qt_wire_write_str (f->wire, text);
  return qt_wire_expect_object (f->wire);
}

static char *
object_to_string (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return qt_json_to_string (node);
}

/* The reply's "id" is ID_JSON (absent if NULL), beside one other member. */
static void
assert_id_and_nothing_else (JsonObject *reply, const char *id_json)
{
  if (id_json != NULL)
    qt_assert_member_json (reply, "id", id_json);
  else
    g_assert_false (json_object_has_member (reply, "id"));
  g_assert_cmpuint (json_object_get_size (reply), ==, id_json ? 2 : 1);
}

/* Assert reply is {"return": RETURN_JSON[, "id": ID_JSON]}. */
static void
assert_return (JsonObject *reply, const char *return_json, const char *id_json)
{
  g_autofree char *text = object_to_string (reply);

  g_test_message ("reply: %.300s", text);
  qt_assert_member_json (reply, "return", return_json);
  assert_id_and_nothing_else (reply, id_json);
}

/* Assert reply is {"error": {"class": C, "desc": D}[, "id": ID_JSON]};
 * desc ending in '*' is matched as a prefix. */
static void
assert_error (JsonObject *reply, const char *error_class, const char *desc, const char *id_json)
{
  g_autofree char *text = object_to_string (reply);
  JsonObject *error;
  const char *actual_desc;

  g_test_message ("reply: %.300s", text);
  g_assert_true (json_object_has_member (reply, "error"));
  error = json_object_get_object_member (reply, "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (json_object_get_string_member (error, "class"), ==, error_class);
  actual_desc = json_object_get_string_member (error, "desc");
  g_assert_nonnull (actual_desc);
  if (g_str_has_suffix (desc, "*"))
    {
      g_autofree char *prefix = g_strndup (desc, strlen (desc) - 1);

      if (!g_str_has_prefix (actual_desc, prefix))
        g_error ("error desc \"%s\" does not start with \"%s\"", actual_desc, prefix);
    }
  else
    g_assert_cmpstr (actual_desc, ==, desc);
  g_assert_cmpuint (json_object_get_size (error), ==, 2);
  assert_id_and_nothing_else (reply, id_json);
}

/* --- host → guest: the qemu-ga core protocol ------------------------------ */

static void
test_guest_sync (Fixture *f, gconstpointer user_data)
{
  static const char *const ids[] = { "0", "12345", "-1", "9223372036854775807",
                                     "-9223372036854775808" };

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *command = g_strdup_printf (
          "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":%s}}\n", ids[i]);
      g_autoptr(JsonObject) reply = roundtrip (f, command);

      assert_return (reply, ids[i], NULL);
    }
}

static void
test_guest_sync_delimited (Fixture *f, gconstpointer user_data)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GBytes) raw = NULL;
  gboolean delimited = FALSE;
  const guint8 *bytes;
  gsize length;

  qt_wire_write_str (f->wire, "{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":987654}}\n");
  node = qt_wire_read_message (f->wire, &delimited, &raw, qt_ms (5000));
  g_assert_nonnull (node);
  g_assert_true (delimited);
  bytes = g_bytes_get_data (raw, &length);
  g_assert_cmpuint (bytes[0], ==, 0xFF);
  g_assert_cmpuint (bytes[1], ==, '{');
  assert_return (json_node_get_object (node), "987654", NULL);

  /* the plain guest-sync that follows is not delimited */
  qt_wire_sync (f->wire, 1);
}

/* What host tools do: send 0xFF (drops any partial input on the guest),
 * then guest-sync-delimited; read and discard through the 0xFF; the next
 * JSON is the sync reply. */
static void
test_sync_procedure (Fixture *f, gconstpointer user_data)
{
  static const char *const junk[] = { "", "{\"execute\":\"guest-pi", "[[[[\"abc", "garbage" };

  for (guint i = 0; i < G_N_ELEMENTS (junk); i++)
    {
      gint64 id = 1000 + (gint64) i;
      g_autofree char *command = g_strdup_printf (
          "{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%" G_GINT64_FORMAT "}}\n", id);
      g_autofree char *expected = g_strdup_printf ("%" G_GINT64_FORMAT, id);
      g_autoptr(JsonNode) node = NULL;

      qt_wire_write_str (f->wire, junk[i]);
      qt_wire_write (f->wire, "\xff", 1);
      qt_wire_write_str (f->wire, command);
      g_assert_true (qt_wire_skip_through (f->wire, 0xFF, qt_ms (5000)));
      node = qt_wire_read_message (f->wire, NULL, NULL, qt_ms (5000));
      g_assert_nonnull (node);
      assert_return (json_node_get_object (node), expected, NULL);
      qt_wire_sync (f->wire, id);
    }
}

/* The same, strictly: a lone 0xFF gets exactly one error reply (like
 * qemu-ga), then the delimited reply. */
static void
test_sync_procedure_strict (Fixture *f, gconstpointer user_data)
{
  g_autoptr(JsonObject) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  gboolean delimited = FALSE;

  qt_wire_write (f->wire, "\xff", 1);
  error = qt_wire_expect_object (f->wire);
  assert_error (error, "GenericError", "JSON parse error*", NULL);
  g_assert_nonnull (strstr (json_object_get_string_member (
                                json_object_get_object_member (error, "error"), "desc"),
                            "0xff"));
  qt_wire_write_str (f->wire, "{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":5}}");
  node = qt_wire_read_message (f->wire, &delimited, NULL, qt_ms (5000));
  g_assert_nonnull (node);
  g_assert_true (delimited);
  assert_return (json_node_get_object (node), "5", NULL);
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (200)));
}

static void
test_guest_ping (Fixture *f, gconstpointer user_data)
{
  g_autoptr(JsonObject) plain = roundtrip (f, "{\"execute\":\"guest-ping\"}\n");
  g_autoptr(JsonObject) with_args = roundtrip (f, "{\"execute\":\"guest-ping\",\"arguments\":{}}\n");
  g_autoptr(JsonObject) no_newline = NULL;

  assert_return (plain, "{}", NULL);
  assert_return (with_args, "{}", NULL);
  /* an object ends itself: no newline needed after it */
  no_newline = roundtrip (f, "{\"execute\":\"guest-ping\",\"id\":1}");
  assert_return (no_newline, "{}", "1");
}

static void
test_guest_info (Fixture *f, gconstpointer user_data)
{
  static const char *const expected[] = { "guest-clipboard-request", "guest-info", "guest-ping",
                                          "guest-sync", "guest-sync-delimited" };
  g_autoptr(JsonObject) reply = roundtrip (f, "{\"execute\":\"guest-info\",\"id\":\"i\"}\n");
  JsonObject *info;
  JsonArray *commands;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  qt_assert_member_json (reply, "id", "\"i\"");
  info = json_object_get_object_member (reply, "return");
  g_assert_nonnull (info);
  g_assert_cmpstr (json_object_get_string_member (info, "version"), ==, "0.1.0");
  commands = json_object_get_array_member (info, "supported_commands");
  g_assert_nonnull (commands);
  g_assert_cmpuint (json_array_get_length (commands), ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < json_array_get_length (commands); i++)
    {
      JsonObject *command = json_array_get_object_element (commands, i);

      g_assert_nonnull (command);
      g_assert_true (json_object_get_boolean_member (command, "enabled"));
      g_assert_true (json_object_get_boolean_member (command, "success-response"));
      g_assert_cmpuint (json_object_get_size (command), ==, 3);
      g_assert_true (g_hash_table_add (seen, (gpointer) json_object_get_string_member (command, "name")));
    }
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_true (g_hash_table_contains (seen, expected[i]));
  /* the clipboard capability (docs/CLIPBOARD.md §2), default max-size */
  qt_assert_member_json (info, "clipboard", "{\"version\":1,\"max-size\":268435456}");
}

static void
test_id_echo (Fixture *f, gconstpointer user_data)
{
  static const char *const ids[] = { "7", "-3", "\"abc\"", "\"\"", "{\"a\":[1,2,{\"b\":null}]}",
                                     "null", "[1,\"x\"]", "true", "1.5" };

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *ping = g_strdup_printf ("{\"execute\":\"guest-ping\",\"id\":%s}", ids[i]);
      g_autofree char *sync = g_strdup_printf (
          "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":42},\"id\":%s}", ids[i]);
      g_autofree char *unknown = g_strdup_printf ("{\"execute\":\"guest-nope\",\"id\":%s}", ids[i]);
      g_autoptr(JsonObject) r1 = roundtrip (f, ping);
      g_autoptr(JsonObject) r2 = roundtrip (f, sync);
      g_autoptr(JsonObject) r3 = roundtrip (f, unknown);

      assert_return (r1, "{}", ids[i]);
      assert_return (r2, "42", ids[i]);
      assert_error (r3, "CommandNotFound", "The command guest-nope has not been found", ids[i]);
    }
}

typedef struct {
  const char *input;
  const char *error_class;
  const char *desc;      /* '*' suffix: prefix match */
  const char *id_json;   /* NULL: no id in the reply */
} ErrorCase;

static const ErrorCase error_cases[] = {
  /* not an object */
  { "[1]", "GenericError", "QMP input must be a JSON object", NULL },
  { "[]", "GenericError", "QMP input must be a JSON object", NULL },
  { "\"text\"", "GenericError", "QMP input must be a JSON object", NULL },
  { "42\n", "GenericError", "QMP input must be a JSON object", NULL },
  { "null\n", "GenericError", "QMP input must be a JSON object", NULL },
  /* members */
  { "{}", "GenericError", "QMP input lacks member 'execute'", NULL },
  { "{\"id\":1}", "GenericError", "QMP input lacks member 'execute'", "1" },
  { "{\"execute\":1,\"id\":\"a\"}", "GenericError", "QMP input member 'execute' must be a string", "\"a\"" },
  { "{\"execute\":null,\"id\":{\"o\":1}}", "GenericError", "QMP input member 'execute' must be a string", "{\"o\":1}" },
  { "{\"execute\":\"guest-ping\",\"arguments\":[],\"id\":2}", "GenericError",
    "QMP input member 'arguments' must be an object", "2" },
  { "{\"execute\":\"guest-sync\",\"arguments\":5,\"id\":null}", "GenericError",
    "QMP input member 'arguments' must be an object", "null" },
  { "{\"execute\":\"guest-ping\",\"foo\":1,\"id\":3}", "GenericError",
    "QMP input member 'foo' is unexpected", "3" },
  /* commands */
  { "{\"execute\":\"guest-nope\",\"id\":4}", "CommandNotFound", "The command guest-nope has not been found", "4" },
  { "{\"execute\":\"host-ping\",\"id\":5}", "CommandNotFound", "The command host-ping has not been found", "5" },
  { "{\"execute\":\"host-echo\"}", "CommandNotFound", "The command host-echo has not been found", NULL },
  { "{\"execute\":\"\",\"id\":\"e\"}", "CommandNotFound", "The command  has not been found", "\"e\"" },
  { "{\"execute\":\"guest-p\xc3\xafng\"}", "CommandNotFound", "The command guest-p\xc3\xafng has not been found", NULL },
  /* arguments */
  { "{\"execute\":\"guest-sync\",\"id\":6}", "GenericError", "Parameter 'id' is missing", "6" },
  { "{\"execute\":\"guest-sync\",\"arguments\":{}}", "GenericError", "Parameter 'id' is missing", NULL },
  { "{\"execute\":\"guest-sync-delimited\",\"arguments\":{},\"id\":7}", "GenericError", "Parameter 'id' is missing", "7" },
  { "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":\"x\"}}", "GenericError",
    "Invalid parameter type for 'id', expected: integer", NULL },
  { "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1.5},\"id\":8}", "GenericError",
    "Invalid parameter type for 'id', expected: integer", "8" },
  { "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":null}}", "GenericError",
    "Invalid parameter type for 'id', expected: integer", NULL },
  { "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1,\"extra\":2}}", "GenericError",
    "Parameter 'extra' is unexpected", NULL },
  { "{\"execute\":\"guest-ping\",\"arguments\":{\"x\":1},\"id\":9}", "GenericError",
    "Parameter 'x' is unexpected", "9" },
  /* bytes that do not frame or parse: no id */
  { "}", "GenericError", "JSON parse error*", NULL },
  { "{\"execute\":}", "GenericError", "JSON parse error*", NULL },
  { "{\"execute\" \"guest-ping\", \"id\": 1}", "GenericError", "JSON parse error*", NULL },
  { "\xff", "GenericError", "JSON parse error, stray byte 0xff", NULL },
  { "\x01", "GenericError", "JSON parse error*", NULL },
  { "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":99999999999999999999}}", "GenericError",
    "JSON parse error, number out of range", NULL },
  { "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":-9223372036854775809}}", "GenericError",
    "JSON parse error, number out of range", NULL },
  { "{\"execute\":\"guest-ping\",\"id\":\"a\\u0000b\"}", "GenericError", "JSON parse error*", NULL },
  /* invalid UTF-8: a bad continuation byte, an overlong '/', a surrogate */
  { "{\"execute\":\"guest-ping\",\"id\":\"\xc3\x28\"}", "GenericError", "JSON parse error*", NULL },
  { "{\"execute\":\"guest-ping\",\"id\":\"\xc0\xaf\"}", "GenericError", "JSON parse error*", NULL },
  { "{\"execute\":\"guest-ping\",\"id\":\"\xed\xa0\x80\"}", "GenericError", "JSON parse error*", NULL },
  { "{\"execute\":\"guest-p\xe9ng\",\"id\":1}", "GenericError", "JSON parse error*", NULL },
};

static void
test_errors (Fixture *f, gconstpointer user_data)
{
  for (guint i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      const ErrorCase *c = &error_cases[i];
      g_autoptr(JsonObject) reply = NULL;

      g_test_message ("input: %s", c->input);
      reply = roundtrip (f, c->input);
      assert_error (reply, c->error_class, c->desc, c->id_json);
      /* nothing more than the one error, and the stream still works */
      qt_wire_sync (f->wire, 100 + (gint64) i);
    }
}

/* Control characters in strings come back escaped: a raw one would be a
 * resync byte to the host's framer (checked by qt_wire_read_message). */
static void
test_control_chars (Fixture *f, gconstpointer user_data)
{
  const char *id = "\"a\\u0001b\\u001fc\\td\\ne\\u007f\"";
  g_autofree char *command = g_strdup_printf ("{\"execute\":\"guest-ping\",\"id\":%s}", id);
  g_autoptr(JsonObject) reply = roundtrip (f, command);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) sent = NULL;
  g_autoptr(JsonObject) event = NULL;

  assert_return (reply, "{}", id);
  qt_wire_sync (f->wire, 1);

  /* the same for what D-Bus callers send */
  sent = qt_call_sync (qt_bus (), "SendEvent",
                       g_variant_new ("(ss)", "CTRL", "{\"s\":\"x\\u001fy\\u0002z\"}"), "()", &error);
  g_assert_no_error (error);
  event = qt_wire_expect_object (f->wire);
  qt_assert_member_json (event, "data", "{\"s\":\"x\\u001fy\\u0002z\"}");
}

static void
test_invalid_utf8 (Fixture *f, gconstpointer user_data)
{
  g_autoptr(JsonObject) reply = roundtrip (f, "{\"execute\":\"guest-ping\",\"id\":\"\xc3\x28\"}");
  const char *desc;

  assert_error (reply, "GenericError", "JSON parse error*", NULL);
  desc = json_object_get_string_member (json_object_get_object_member (reply, "error"), "desc");
  g_assert_nonnull (strstr (desc, "UTF-8"));
  qt_wire_sync (f->wire, 1);
}

static char *
nested_arrays (guint depth)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, '[');
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static void
test_nesting_depth (Fixture *f, gconstpointer user_data)
{
  g_autofree char *ok_id = nested_arrays (1023);   /* + the object: 1024 */
  g_autofree char *deep_id = nested_arrays (1024); /* 1025 */
  g_autofree char *deep_top = nested_arrays (5000);
  g_autofree char *ok = g_strdup_printf ("{\"execute\":\"guest-ping\",\"id\":%s}", ok_id);
  g_autofree char *deep = g_strdup_printf ("{\"execute\":\"guest-ping\",\"id\":%s}", deep_id);
  g_autoptr(JsonObject) r1 = NULL;
  g_autoptr(JsonObject) r2 = NULL;
  g_autoptr(JsonObject) r3 = NULL;

  r1 = roundtrip (f, ok);
  assert_return (r1, "{}", ok_id);
  qt_wire_sync (f->wire, 1);

  r2 = roundtrip (f, deep);
  assert_error (r2, "GenericError", "JSON nesting depth limit exceeded (1024)", NULL);
  qt_wire_sync (f->wire, 2);

  r3 = roundtrip (f, deep_top);
  assert_error (r3, "GenericError", "JSON nesting depth limit exceeded (1024)", NULL);
  qt_wire_sync (f->wire, 3);
}

static void
test_pipelined (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GString) batch = g_string_new (NULL);
  const guint n = 60;

  for (guint i = 0; i < n; i++)
    switch (i % 3)
      {
      case 0:
        g_string_append_printf (batch, "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":%u}}", i);
        break;
      case 1:
        g_string_append_printf (batch, "{\"execute\":\"guest-ping\",\"id\":%u}\n", i);
        break;
      default:
        g_string_append_printf (batch, " {\"execute\":\"guest-info\",\"id\":\"%u\"}\r\n", i);
        break;
      }
  qt_wire_write (f->wire, batch->str, batch->len);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(JsonObject) reply = qt_wire_expect_object (f->wire);
      g_autofree char *num = g_strdup_printf ("%u", i);
      g_autofree char *str = g_strdup_printf ("\"%u\"", i);

      switch (i % 3)
        {
        case 0:
          assert_return (reply, num, NULL);
          break;
        case 1:
          assert_return (reply, "{}", num);
          break;
        default:
          qt_assert_member_json (reply, "id", str);
          g_assert_nonnull (json_object_get_object_member (reply, "return"));
          break;
        }
    }
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (100)));
}

static void
test_bytewise (Fixture *f, gconstpointer user_data)
{
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(JsonObject) reply2 = NULL;

  qt_wire_write_bytewise (f->wire, "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":77},\"id\":\"h\xc3\xa9\"}");
  reply = qt_wire_expect_object (f->wire);
  assert_return (reply, "77", "\"h\xc3\xa9\"");
  /* exactly one reply */
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (300)));

  qt_wire_write_bytewise (f->wire, "  {\"execute\": \"guest-ping\"}\n");
  reply2 = qt_wire_expect_object (f->wire);
  assert_return (reply2, "{}", NULL);
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (300)));
}

static void
test_large_message (Fixture *f, gconstpointer user_data)
{
  const gsize size = 4 * 1024 * 1024;
  g_autoptr(GString) command = g_string_sized_new (size + 64);
  g_autoptr(JsonNode) node = NULL;
  JsonObject *reply;
  const char *id;

  g_string_append (command, "{\"execute\":\"guest-ping\",\"id\":\"");
  for (gsize i = 0; i < size; i++)
    g_string_append_c (command, "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36]);
  g_string_append (command, "\"}\n");
  qt_wire_write (f->wire, command->str, command->len);

  node = qt_wire_read_message (f->wire, NULL, NULL, qt_ms (20000));
  g_assert_nonnull (node);
  reply = json_node_get_object (node);
  qt_assert_member_json (reply, "return", "{}");
  id = json_object_get_string_member (reply, "id");
  g_assert_nonnull (id);
  g_assert_cmpuint (strlen (id), ==, size);
  g_assert_true (memcmp (id, command->str + strlen ("{\"execute\":\"guest-ping\",\"id\":\""), size) == 0);
  qt_wire_sync (f->wire, 1);
}

/* The bridge runs with --max-message-size=65536. */
static void
test_max_message_size (Fixture *f, gconstpointer user_data)
{
  const char *head = "{\"execute\":\"guest-ping\",\"id\":\"";
  const gsize limit = 65536;
  gsize sizes[] = { limit, limit + 1, 200 * 1024 };

  for (guint k = 0; k < G_N_ELEMENTS (sizes); k++)
    {
      g_autoptr(GString) command = g_string_new (head);
      g_autoptr(JsonObject) reply = NULL;

      while (command->len < sizes[k] - 2)
        g_string_append_c (command, 'x');
      g_string_append (command, "\"}");
      g_assert_cmpuint (command->len, ==, sizes[k]);
      g_string_append_c (command, '\n');
      qt_wire_write (f->wire, command->str, command->len);

      reply = qt_wire_expect_object (f->wire);
      if (sizes[k] <= limit)
        {
          qt_assert_member_json (reply, "return", "{}");
          g_assert_cmpuint (strlen (json_object_get_string_member (reply, "id")), ==,
                            sizes[k] - strlen (head) - 2);
        }
      else
        assert_error (reply, "GenericError", "JSON message exceeds the size limit of 65536 bytes", NULL);
      /* one reply only; the stream still works */
      qt_wire_sync (f->wire, (gint64) k);
    }
}

static void
test_non_ascii (Fixture *f, gconstpointer user_data)
{
  const char *text = "h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac"; /* héllo ✓ 日本 */
  g_autofree char *command = g_strdup_printf ("{\"execute\":\"guest-ping\",\"id\":\"%s\"}\n", text);
  g_autofree char *expected = g_strdup_printf ("\"id\":\"%s\"", text);
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autofree char *raw_text = NULL;

  qt_wire_write_str (f->wire, command);
  node = qt_wire_read_message (f->wire, NULL, &raw, qt_ms (5000));
  g_assert_nonnull (node);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "id"), ==, text);
  /* byte-exact on the wire, not \u-escaped */
  raw_text = g_strndup (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw));
  if (strstr (raw_text, expected) == NULL)
    g_error ("reply is not byte-exact: %s", raw_text);
  qt_wire_sync (f->wire, 1);
}

/* --- guest → host: D-Bus calls and events on the wire ------------------- */

/* Read the next command from the bridge; asserts its name, returns its id. */
static gint64
expect_command (Fixture *f, const char *name, JsonObject **out)
{
  g_autoptr(JsonObject) command = qt_wire_expect_object (f->wire);
  g_autofree char *text = object_to_string (command);
  JsonNode *id;

  g_test_message ("command: %.300s", text);
  g_assert_cmpstr (json_object_get_string_member (command, "execute"), ==, name);
  id = json_object_get_member (command, "id");
  g_assert_nonnull (id);
  g_assert_cmpint (json_node_get_value_type (id), ==, G_TYPE_INT64);
  if (out != NULL)
    *out = json_object_ref (command);
  return json_node_get_int (id);
}

static void
reply_return (Fixture *f, gint64 id, const char *value_json)
{
  g_autofree char *reply = g_strdup_printf ("{\"return\":%s,\"id\":%" G_GINT64_FORMAT "}\n",
                                            value_json, id);

  qt_wire_write_str (f->wire, reply);
}

static void
test_host_ping (Fixture *f, gconstpointer user_data)
{
  g_autoptr(QtCall) call = qt_call_start (qt_bus (), "Ping", NULL, "()");
  g_autoptr(JsonObject) command = NULL;
  gint64 id = expect_command (f, "host-ping", &command);

  /* exactly {"execute":"host-ping","id":N} */
  g_assert_cmpuint (json_object_get_size (command), ==, 2);
  g_assert_cmpint (id, >=, 1);
  g_assert_false (call->done);
  reply_return (f, id, "{}");
  g_assert_true (qt_call_wait (call, qt_ms (5000)));
  g_assert_no_error (call->error);
}

static void
test_request_ids (Fixture *f, gconstpointer user_data)
{
  QtCall *calls[5];
  gint64 ids[5];
  gint64 last = 0;

  /* sequential: the first request of a fresh bridge is 1 */
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(QtCall) call = qt_call_start (qt_bus (), "Ping", NULL, "()");
      gint64 id = expect_command (f, "host-ping", NULL);

      if (i == 0)
        g_assert_cmpint (id, ==, 1);
      else
        g_assert_cmpint (id, >, last);
      last = id;
      reply_return (f, id, "{}");
      g_assert_true (qt_call_wait (call, qt_ms (5000)));
      g_assert_no_error (call->error);
    }

  /* concurrent: unique, increasing; answered in reverse order */
  for (guint i = 0; i < 5; i++)
    calls[i] = qt_call_start (qt_bus (), i % 2 ? "Ping" : "Call",
                              i % 2 ? NULL : g_variant_new ("(ss)", "host-x", ""),
                              i % 2 ? "()" : "(s)");
  for (guint i = 0; i < 5; i++)
    {
      ids[i] = expect_command (f, i % 2 ? "host-ping" : "host-x", NULL);
      g_assert_cmpint (ids[i], >, last);
      last = ids[i];
    }
  for (int i = 4; i >= 0; i--)
    {
      reply_return (f, ids[i], "{}");
      g_assert_true (qt_call_wait (calls[i], qt_ms (5000)));
      g_assert_no_error (calls[i]->error);
      for (int j = 0; j < i; j++)
        g_assert_false (calls[j]->done);
    }
  for (guint i = 0; i < 5; i++)
    qt_call_free (calls[i]);
}

static void
test_unknown_reply_id (Fixture *f, gconstpointer user_data)
{
  g_autoptr(QtCall) call = qt_call_start (qt_bus (), "Ping", NULL, "()");
  gint64 id = expect_command (f, "host-ping", NULL);
  g_autofree char *junk = g_strdup_printf (
      "{\"return\":{},\"id\":%" G_GINT64_FORMAT "}\n"
      "{\"return\":{},\"id\":\"%" G_GINT64_FORMAT "\"}\n"
      "{\"return\":{},\"id\":%" G_GINT64_FORMAT ".0}\n"
      "{\"return\":{}}\n"
      "{\"error\":{\"class\":\"GenericError\",\"desc\":\"x\"},\"id\":%" G_GINT64_FORMAT "}\n",
      id + 1000, id, id, id + 1001);

  qt_wire_write_str (f->wire, junk);
  /* the bridge answers none of those, and has read them all */
  qt_wire_sync (f->wire, 1);
  g_assert_false (QT_WAIT (call->done, qt_ms (200)));

  reply_return (f, id, "{}");
  g_assert_true (qt_call_wait (call, qt_ms (5000)));
  g_assert_no_error (call->error);
  /* a late duplicate is dropped too */
  reply_return (f, id, "{}");
  qt_wire_sync (f->wire, 2);
}

typedef struct {
  const char *reply_error_json;
  const char *dbus_error;
  const char *message_part;
} ErrorReplyCase;

static void
test_host_error_reply (Fixture *f, gconstpointer user_data)
{
  static const ErrorReplyCase cases[] = {
    { "{\"class\":\"CommandNotFound\",\"desc\":\"nope\"}", QT_ERROR_PREFIX "CommandNotFound", "nope" },
    { "{\"class\":\"GenericError\",\"desc\":\"generic\"}", QT_ERROR_PREFIX "GenericError", "generic" },
    { "{\"class\":\"My_Class2\",\"desc\":\"custom\"}", QT_ERROR_PREFIX "My_Class2", "custom" },
    { "{\"class\":\"Bad.Class!\",\"desc\":\"bad class\"}", QT_ERROR_PREFIX "GenericError", "bad class" },
    { "{\"class\":\"9Lives\",\"desc\":\"digit\"}", QT_ERROR_PREFIX "GenericError", "digit" },
    { "{\"class\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"desc\":\"long\"}",
      QT_ERROR_PREFIX "GenericError", "long" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(QtCall) call = qt_call_start (qt_bus (), "Call",
                                              g_variant_new ("(ss)", "host-fail", ""), "(s)");
      gint64 id = expect_command (f, "host-fail", NULL);
      g_autofree char *reply = g_strdup_printf ("{\"error\":%s,\"id\":%" G_GINT64_FORMAT "}\n",
                                                cases[i].reply_error_json, id);

      qt_wire_write_str (f->wire, reply);
      g_assert_true (qt_call_wait (call, qt_ms (5000)));
      qt_assert_dbus_error (call->error, cases[i].dbus_error, cases[i].message_part);
    }
}

static void
test_invalid_reply (Fixture *f, gconstpointer user_data)
{
  static const char *const bad_errors[] = { "42", "\"oops\"", "{\"desc\":\"no class\"}" };

  for (guint i = 0; i < G_N_ELEMENTS (bad_errors); i++)
    {
      g_autoptr(QtCall) call = qt_call_start (qt_bus (), "Ping", NULL, "()");
      gint64 id = expect_command (f, "host-ping", NULL);
      g_autofree char *reply = g_strdup_printf ("{\"error\":%s,\"id\":%" G_GINT64_FORMAT "}\n",
                                                bad_errors[i], id);

      qt_wire_write_str (f->wire, reply);
      g_assert_true (qt_call_wait (call, qt_ms (5000)));
      qt_assert_dbus_error (call->error, QT_ERROR_PREFIX "InvalidReply", NULL);
    }
  qt_wire_sync (f->wire, 1);
}

static void
test_call_roundtrip (Fixture *f, gconstpointer user_data)
{
  g_autoptr(QtCall) call = qt_call_start (
      qt_bus (), "Call",
      g_variant_new ("(ss)", "host-echo", "{\"a\":[1,\"\xc3\xa9\"],\"b\":{\"c\":null}}"), "(s)");
  g_autoptr(JsonObject) command = NULL;
  gint64 id = expect_command (f, "host-echo", &command);
  const char *return_json = NULL;
  g_autoptr(QtCall) call2 = NULL;
  g_autoptr(JsonObject) command2 = NULL;

  qt_assert_member_json (command, "arguments", "{\"a\":[1,\"\xc3\xa9\"],\"b\":{\"c\":null}}");
  g_assert_cmpuint (json_object_get_size (command), ==, 3);
  reply_return (f, id, "{ \"x\" : [1, 2, {\"y\": \"z\"}] }");
  g_assert_true (qt_call_wait (call, qt_ms (5000)));
  g_assert_no_error (call->error);
  g_variant_get (call->result, "(&s)", &return_json);
  g_assert_cmpstr (return_json, ==, "{\"x\":[1,2,{\"y\":\"z\"}]}");

  /* no arguments: the member is omitted; scalar return values */
  call2 = qt_call_start (qt_bus (), "Call", g_variant_new ("(ss)", "host-scalar-1", ""), "(s)");
  id = expect_command (f, "host-scalar-1", &command2);
  g_assert_false (json_object_has_member (command2, "arguments"));
  g_assert_cmpuint (json_object_get_size (command2), ==, 2);
  reply_return (f, id, "\"text\"");
  g_assert_true (qt_call_wait (call2, qt_ms (5000)));
  g_assert_no_error (call2->error);
  g_variant_get (call2->result, "(&s)", &return_json);
  g_assert_cmpstr (return_json, ==, "\"text\"");
}

/* Calls of one caller, host-echo {"n":first}, {"n":first+1}, ... */
static void
start_echo_calls (GDBusConnection *connection, QtCall **calls, guint count, guint first)
{
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *args = g_strdup_printf ("{\"n\":%u}", first + i);

      calls[i] = qt_call_start (connection, "Call", g_variant_new ("(ss)", "host-echo", args), "(s)");
    }
}

/* The next command must be host-echo {"n":n}; returns its id. */
static gint64
expect_echo (Fixture *f, guint n)
{
  g_autoptr(JsonObject) command = NULL;
  gint64 id = expect_command (f, "host-echo", &command);
  g_autofree char *expected = g_strdup_printf ("{\"n\":%u}", n);

  qt_assert_member_json (command, "arguments", expected);
  return id;
}

/* The bridge runs with --host-window=2. */
static void
test_host_window (Fixture *f, gconstpointer user_data)
{
  GDBusConnection *other = qt_bus_new_connection ();
  GDBusConnection *leaving = qt_bus_new_connection ();
  QtCall *calls[5], *leaving_calls[4];
  g_autofree char *leaving_name = NULL;
  gint64 ids[5];

  /* 1: five Calls of one caller: two on the wire, three held back */
  start_echo_calls (qt_bus (), calls, 5, 0);
  ids[0] = expect_echo (f, 0);
  ids[1] = expect_echo (f, 1);
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (300)));

  /* 2: another caller's Ping goes out at once, past the held ones */
  {
    g_autoptr(QtCall) ping = qt_call_start (other, "Ping", NULL, "()");

    reply_return (f, expect_command (f, "host-ping", NULL), "{}");
    g_assert_true (qt_call_wait (ping, qt_ms (5000)));
    g_assert_no_error (ping->error);
  }

  /* 3: each answer lets the next one out, in order, whichever is answered */
  reply_return (f, ids[1], "{\"r\":1}");
  ids[2] = expect_echo (f, 2);
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (200)));
  reply_return (f, ids[0], "{\"r\":0}");
  ids[3] = expect_echo (f, 3);
  reply_return (f, ids[2], "{\"r\":2}");
  ids[4] = expect_echo (f, 4);
  reply_return (f, ids[3], "{\"r\":3}");
  reply_return (f, ids[4], "{\"r\":4}");
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *expected = g_strdup_printf ("{\"r\":%u}", i);
      const char *value = NULL;

      g_assert_true (qt_call_wait (calls[i], qt_ms (5000)));
      g_assert_no_error (calls[i]->error);
      g_variant_get (calls[i]->result, "(&s)", &value);
      g_assert_cmpstr (value, ==, expected);
      qt_call_free (calls[i]);
    }

  /* 4: a caller leaving the bus: its held Calls are never sent */
  start_echo_calls (leaving, leaving_calls, 4, 10);
  ids[0] = expect_echo (f, 10);
  ids[1] = expect_echo (f, 11);
  leaving_name = g_strdup (g_dbus_connection_get_unique_name (leaving));
  qt_bus_close (leaving);
  g_assert_true (qt_wait_name_owned (leaving_name, FALSE, qt_ms (5000)));
  /* a barrier: the bridge heard of the departure before this Ping */
  {
    g_autoptr(QtCall) ping = qt_call_start (other, "Ping", NULL, "()");

    reply_return (f, expect_command (f, "host-ping", NULL), "{}");
    g_assert_true (qt_call_wait (ping, qt_ms (5000)));
  }
  reply_return (f, ids[0], "{}");
  reply_return (f, ids[1], "{}");
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (500)));
  for (guint i = 0; i < 4; i++)
    {
      g_assert_true (qt_call_wait (leaving_calls[i], qt_ms (5000)));
      qt_call_free (leaving_calls[i]);
    }

  qt_bus_close (other);
}

/* The bridge runs with --host-window=2 --request-timeout=3: held Calls
 * time out like sent ones (the host answers nothing). */
static void
test_host_window_timeout (Fixture *f, gconstpointer user_data)
{
  QtCall *late[3];

  start_echo_calls (qt_bus (), late, 3, 20);
  expect_echo (f, 20);
  expect_echo (f, 21);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (qt_call_wait (late[i], qt_ms (10000)));
      qt_assert_dbus_error (late[i]->error, QT_ERROR_PREFIX "Timeout", NULL);
      qt_call_free (late[i]);
    }
}

static void
test_host_info_mapping (Fixture *f, gconstpointer user_data)
{
  g_autoptr(QtCall) call = qt_call_start (qt_bus (), "GetHostInfo", NULL, "(a{sv})");
  gint64 id = expect_command (f, "host-info", NULL);
  g_autoptr(GVariant) info = NULL;
  g_autoptr(GVariant) commands = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) obj = NULL;
  g_autoptr(GVariant) first = NULL;
  const char *s = NULL;

  reply_return (f, id,
                "{\"version\":\"9.8.7\",\"supported_commands\":[{\"name\":\"host-ping\",\"enabled\":true,"
                "\"success-response\":false}],\"n\":42,\"f\":1.5,\"nul\":null,\"obj\":{\"k\":\"v\"},"
                "\"strs\":[\"a\",\"b\"],\"mixed\":[1,\"a\"]}");
  g_assert_true (qt_call_wait (call, qt_ms (5000)));
  g_assert_no_error (call->error);
  info = g_variant_get_child_value (call->result, 0);
  {
    g_autofree char *printed = g_variant_print (info, TRUE);

    g_test_message ("host info: %s", printed);
  }

  g_assert_true (g_variant_lookup (info, "version", "&s", &s));
  g_assert_cmpstr (s, ==, "9.8.7");
  commands = g_variant_lookup_value (info, "supported_commands", G_VARIANT_TYPE ("aa{sv}"));
  g_assert_nonnull (commands);
  g_assert_cmpuint (g_variant_n_children (commands), ==, 1);
  first = g_variant_get_child_value (commands, 0);
  g_assert_true (g_variant_lookup (first, "name", "&s", &s));
  g_assert_cmpstr (s, ==, "host-ping");
  {
    gboolean enabled = FALSE, success = TRUE;
    gint64 n = 0;
    double d = 0;

    g_assert_true (g_variant_lookup (first, "enabled", "b", &enabled));
    g_assert_true (g_variant_lookup (first, "success-response", "b", &success));
    g_assert_true (enabled);
    g_assert_false (success);
    g_assert_true (g_variant_lookup (info, "n", "x", &n));
    g_assert_cmpint (n, ==, 42);
    g_assert_true (g_variant_lookup (info, "f", "d", &d));
    g_assert_cmpfloat (d, ==, 1.5);
  }
  value = g_variant_lookup_value (info, "nul", NULL);
  g_assert_null (value);
  obj = g_variant_lookup_value (info, "obj", G_VARIANT_TYPE ("a{sv}"));
  g_assert_nonnull (obj);
  g_assert_true (g_variant_lookup (obj, "k", "&s", &s));
  g_assert_cmpstr (s, ==, "v");
  g_clear_pointer (&value, g_variant_unref);
  value = g_variant_lookup_value (info, "strs", G_VARIANT_TYPE ("as"));
  g_assert_nonnull (value);
  g_clear_pointer (&value, g_variant_unref);
  value = g_variant_lookup_value (info, "mixed", G_VARIANT_TYPE ("av"));
  g_assert_nonnull (value);
  g_assert_cmpuint (g_variant_n_children (value), ==, 2);
}

/* Bad D-Bus input fails with InvalidArgs and nothing reaches the host.
 * The bridge runs with --max-message-size=65536. */
static void
test_call_invalid (Fixture *f, gconstpointer user_data)
{
  g_autofree char *long_name = g_strnfill (130, 'a');
  g_autofree char *long_command = g_strconcat ("host-", long_name, NULL);
  g_autoptr(GString) big = g_string_new ("{\"a\":\"");
  struct { const char *method; const char *a; const char *b; } cases[] = {
    { "Call", "guest-ping", "" },
    { "Call", "host-BAD", "" },
    { "Call", "", "" },
    { "Call", "host-", "" },
    { "Call", "host-a b", "" },
    { "Call", long_command, "" },
    { "Call", "host-echo", "[1]" },
    { "Call", "host-echo", "{" },
    { "Call", "host-echo", "{\"a\":99999999999999999999}" },
    { "Call", "host-echo", "\"str\"" },
    { "Call", "host-echo", "{\"a\":1} {\"b\":2}" },
    { "Call", "host-echo", "{\"a\":\"\\u0000\"}" },
    { "Call", "host-echo", NULL },   /* over the size limit */
    { "SendEvent", "bad", "" },
    { "SendEvent", "", "" },
    { "SendEvent", "A-B", "" },
    { "SendEvent", "_A", "" },
    { "SendEvent", "GOOD", "[1]" },
    { "SendEvent", "GOOD", "{" },
    { "SendEvent", "GOOD", NULL },   /* over the size limit */
  };

  while (big->len < 70000)
    g_string_append_c (big, 'x');
  g_string_append (big, "\"}");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *b = cases[i].b ? cases[i].b : big->str;
      g_autoptr(QtCall) call = NULL;

      g_test_message ("%s (%.60s, %.60s)", cases[i].method, cases[i].a, b);
      call = qt_call_start (qt_bus (), cases[i].method, g_variant_new ("(ss)", cases[i].a, b), NULL);
      g_assert_true (qt_call_wait (call, qt_ms (5000)));
      qt_assert_dbus_error (call->error, "org.freedesktop.DBus.Error.InvalidArgs", NULL);
    }
  /* nothing reached the host: silence, then a guest-sync reply comes first */
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (300)));
  qt_wire_sync (f->wire, 1);
}

static void
test_send_event (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r1 = NULL;
  g_autoptr(GVariant) r2 = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonObject) empty = NULL;
  JsonObject *timestamp;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 seconds, micros;

  r1 = qt_call_sync (qt_bus (), "SendEvent",
                     g_variant_new ("(ss)", "TEST_EVENT", "{\"k\":\"v\",\"n\":[1,2]}"), "()", &error);
  g_assert_no_error (error);
  event = qt_wire_expect_object (f->wire);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "TEST_EVENT");
  qt_assert_member_json (event, "data", "{\"k\":\"v\",\"n\":[1,2]}");
  timestamp = json_object_get_object_member (event, "timestamp");
  g_assert_nonnull (timestamp);
  g_assert_cmpuint (json_object_get_size (timestamp), ==, 2);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (timestamp, "seconds")), ==, G_TYPE_INT64);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (timestamp, "microseconds")), ==, G_TYPE_INT64);
  seconds = json_object_get_int_member (timestamp, "seconds");
  micros = json_object_get_int_member (timestamp, "microseconds");
  g_assert_cmpint (ABS (seconds - now), <=, 120);
  g_assert_cmpint (micros, >=, 0);
  g_assert_cmpint (micros, <=, 999999);
  g_assert_cmpuint (json_object_get_size (event), ==, 3);

  r2 = qt_call_sync (qt_bus (), "SendEvent", g_variant_new ("(ss)", "EMPTY_1", ""), "()", &error);
  g_assert_no_error (error);
  empty = qt_wire_expect_object (f->wire);
  g_assert_cmpstr (json_object_get_string_member (empty, "event"), ==, "EMPTY_1");
  qt_assert_member_json (empty, "data", "{}");
}

typedef struct {
  GPtrArray *names;
  GPtrArray *data;
} Signals;

static void
host_event_cb (GDBusConnection *connection, const char *sender, const char *path,
               const char *interface, const char *member, GVariant *parameters, gpointer user_data)
{
  Signals *signals = user_data;
  const char *name, *data;

  g_variant_get (parameters, "(&s&s)", &name, &data);
  g_ptr_array_add (signals->names, g_strdup (name));
  g_ptr_array_add (signals->data, g_strdup (data));
}

static void
test_host_event (Fixture *f, gconstpointer user_data)
{
  Signals signals = { g_ptr_array_new_with_free_func (g_free), g_ptr_array_new_with_free_func (g_free) };
  guint sub = g_dbus_connection_signal_subscribe (qt_bus (), NULL, QT_INTERFACE, "HostEvent",
                                                  QT_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                  host_event_cb, &signals, NULL);
  g_autoptr(JsonNode) d0 = NULL;
  g_autoptr(JsonNode) expected = NULL;

  /* the match rule is in place once a later call on the connection returns */
  qt_get_host_connected (qt_bus ());
  qt_wire_write_str (f->wire,
                     "{\"event\":\"HOST_EVENT\",\"data\":{\"x\":1,\"s\":\"\xc3\xa9\"},"
                     "\"timestamp\":{\"seconds\":1,\"microseconds\":2}}\n"
                     "{\"event\":42,\"data\":{}}\n"
                     "{\"event\":\"NO_DATA\"}\n"
                     "{\"event\":\"LAST\",\"data\":{}}\n");
  g_assert_true (QT_WAIT (signals.names->len >= 3, qt_ms (5000)));
  /* no reply to events */
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (100)));
  g_assert_cmpuint (signals.names->len, ==, 3);
  g_assert_cmpstr (signals.names->pdata[0], ==, "HOST_EVENT");
  d0 = qt_json_parse (signals.data->pdata[0]);
  expected = qt_json_parse ("{\"x\":1,\"s\":\"\xc3\xa9\"}");
  g_assert_true (json_node_equal (d0, expected));
  g_assert_cmpstr (signals.names->pdata[1], ==, "NO_DATA");
  g_assert_cmpstr (signals.data->pdata[1], ==, "{}");
  g_assert_cmpstr (signals.names->pdata[2], ==, "LAST");

  g_dbus_connection_signal_unsubscribe (qt_bus (), sub);
  g_ptr_array_unref (signals.names);
  g_ptr_array_unref (signals.data);
}

static gboolean
array_has_boolean (GArray *values, gboolean wanted)
{
  for (guint i = 0; i < values->len; i++)
    if (g_array_index (values, gboolean, i) == wanted)
      return TRUE;
  return FALSE;
}

static void
test_host_disconnect (Fixture *f, gconstpointer user_data)
{
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (gboolean));
  guint sub = qt_record_host_connected (qt_bus (), values);
  g_autoptr(QtCall) pending = NULL;
  g_autoptr(QtCall) pending2 = NULL;
  g_autoptr(QtCall) refused = NULL;
  g_autoptr(QtCall) after = NULL;
  gint64 closed_at;
  g_autofree char *path = g_strdup (f->socket_path);

  g_assert_true (qt_wait_host_connected (TRUE, qt_ms (5000)));

  /* 1: the host closes its end while a Ping is pending; still listening */
  pending = qt_call_start (qt_bus (), "Ping", NULL, "()");
  expect_command (f, "host-ping", NULL);
  closed_at = qt_now_ms ();
  g_clear_pointer (&f->wire, qt_wire_free);
  g_assert_true (qt_call_wait (pending, qt_ms (2000)));
  qt_assert_dbus_error (pending->error, QT_ERROR_PREFIX "HostDisconnected", NULL);
  g_test_message ("pending Ping failed %" G_GINT64_FORMAT " ms after the close",
                  pending->done_ms - closed_at);
  /* the bridge reconnects at once (we still listen), so the FALSE may be
   * coalesced away before PropertiesChanged goes out: only log it here */
  fixture_reaccept (f, qt_ms (2000));
  g_test_message ("reconnected %" G_GINT64_FORMAT " ms after the close; HostConnected=FALSE %s",
                  qt_now_ms () - closed_at,
                  array_has_boolean (values, FALSE) ? "was signalled" : "was not signalled");
  g_assert_true (qt_wait_host_connected (TRUE, qt_ms (2000)));
  qt_wire_sync (f->wire, 1);
  {
    g_autoptr(QtCall) ping = qt_call_start (qt_bus (), "Ping", NULL, "()");

    reply_return (f, expect_command (f, "host-ping", NULL), "{}");
    g_assert_true (qt_call_wait (ping, qt_ms (5000)));
    g_assert_no_error (ping->error);
  }

  /* 2: the host goes away entirely: no listener any more */
  pending2 = qt_call_start (qt_bus (), "Ping", NULL, "()");
  expect_command (f, "host-ping", NULL);
  close (f->listen_fd);
  g_unlink (f->socket_path);
  g_clear_pointer (&f->wire, qt_wire_free);
  g_assert_true (qt_call_wait (pending2, qt_ms (2000)));
  qt_assert_dbus_error (pending2->error, QT_ERROR_PREFIX "HostDisconnected", NULL);
  g_assert_true (qt_wait_host_connected (FALSE, qt_ms (2000)));
  /* this time it stays FALSE, and PropertiesChanged says so */
  g_assert_true (QT_WAIT (values->len > 0 && !g_array_index (values, gboolean, values->len - 1),
                          qt_ms (2000)));
  /* new calls fail at once */
  refused = qt_call_start (qt_bus (), "Ping", NULL, "()");
  g_assert_true (qt_call_wait (refused, qt_ms (1000)));
  qt_assert_dbus_error (refused->error, QT_ERROR_PREFIX "HostDisconnected", NULL);

  /* 3: the host comes back at the same path: reconnected within the
   * backoff (at most 1 s), calls work again */
  f->listen_fd = qt_unix_listen (path);
  fixture_reaccept (f, qt_ms (3000));
  g_assert_true (qt_wait_host_connected (TRUE, qt_ms (2000)));
  g_assert_true (QT_WAIT (values->len > 0 && g_array_index (values, gboolean, values->len - 1),
                          qt_ms (2000)));
  after = qt_call_start (qt_bus (), "Ping", NULL, "()");
  reply_return (f, expect_command (f, "host-ping", NULL), "{}");
  g_assert_true (qt_call_wait (after, qt_ms (5000)));
  g_assert_no_error (after->error);

  g_dbus_connection_signal_unsubscribe (qt_bus (), sub);
}

/* The bridge runs with --max-queue-size=4194304 (and a 2 MiB message size
 * limit, which may not exceed the queue size); the host never reads
 * until the queue is full. */
static void
test_queue_full (Fixture *f, gconstpointer user_data)
{
  const gsize blob_size = 1024 * 1024;
  g_autofree char *blob = g_strnfill (blob_size, 'q');
  g_autofree char *data = g_strdup_printf ("{\"blob\":\"%s\"}", blob);
  guint sent = 0;
  gboolean full = FALSE;
  g_autoptr(QtCall) ping = NULL;
  g_autoptr(GVariant) after = NULL;
  g_autoptr(GError) after_error = NULL;

  for (guint attempt = 0; attempt < 64 && !full; attempt++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = qt_call_sync (qt_bus (), "SendEvent",
                                                g_variant_new ("(ss)", "BIG", data), "()", &error);

      if (reply != NULL)
        sent++;
      else
        {
          qt_assert_dbus_error (error, QT_ERROR_PREFIX "QueueFull", NULL);
          full = TRUE;
        }
    }
  g_test_message ("queued %u events of 1 MiB before QueueFull", sent);
  g_assert_true (full);
  g_assert_cmpuint (sent, >=, 3);

  /* the bridge still serves D-Bus */
  g_assert_true (qt_get_host_connected (qt_bus ()));

  /* read everything: each queued event arrives intact */
  for (guint i = 0; i < sent; i++)
    {
      g_autoptr(JsonNode) node = qt_wire_read_message (f->wire, NULL, NULL, qt_ms (10000));
      JsonObject *event;
      JsonObject *event_data;

      g_assert_nonnull (node);
      event = json_node_get_object (node);
      g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "BIG");
      event_data = json_object_get_object_member (event, "data");
      g_assert_cmpuint (strlen (json_object_get_string_member (event_data, "blob")), ==, blob_size);
    }
  g_assert_true (qt_wire_is_silent (f->wire, qt_ms (100)));

  /* and calls work again */
  after = qt_call_sync (qt_bus (), "SendEvent", g_variant_new ("(ss)", "SMALL", "{}"), "()", &after_error);
  g_assert_no_error (after_error);
  {
    g_autoptr(JsonObject) event = qt_wire_expect_object (f->wire);

    g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "SMALL");
  }
  ping = qt_call_start (qt_bus (), "Ping", NULL, "()");
  reply_return (f, expect_command (f, "host-ping", NULL), "{}");
  g_assert_true (qt_call_wait (ping, qt_ms (5000)));
  g_assert_no_error (ping->error);
  qt_wire_sync (f->wire, 1);
}

#define ADD(path, func, args) \
  g_test_add (path, Fixture, args, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);

  ADD ("/protocol/guest-sync", test_guest_sync, NULL);
  ADD ("/protocol/guest-sync-delimited", test_guest_sync_delimited, NULL);
  ADD ("/protocol/sync-procedure", test_sync_procedure, NULL);
  ADD ("/protocol/sync-procedure-strict", test_sync_procedure_strict, NULL);
  ADD ("/protocol/guest-ping", test_guest_ping, NULL);
  ADD ("/protocol/guest-info", test_guest_info, NULL);
  ADD ("/protocol/id-echo", test_id_echo, NULL);
  ADD ("/protocol/errors", test_errors, NULL);
  ADD ("/protocol/invalid-utf8", test_invalid_utf8, NULL);
  ADD ("/protocol/control-chars", test_control_chars, NULL);
  ADD ("/protocol/nesting-depth", test_nesting_depth, NULL);
  ADD ("/protocol/pipelined", test_pipelined, NULL);
  ADD ("/protocol/bytewise", test_bytewise, NULL);
  ADD ("/protocol/large-message", test_large_message, NULL);
  ADD ("/protocol/max-message-size", test_max_message_size, "--max-message-size=65536");
  ADD ("/protocol/non-ascii", test_non_ascii, NULL);
  ADD ("/protocol/host-ping", test_host_ping, NULL);
  ADD ("/protocol/request-ids", test_request_ids, NULL);
  ADD ("/protocol/unknown-reply-id", test_unknown_reply_id, NULL);
  ADD ("/protocol/host-error-reply", test_host_error_reply, NULL);
  ADD ("/protocol/invalid-reply", test_invalid_reply, NULL);
  ADD ("/protocol/call-roundtrip", test_call_roundtrip, NULL);
  ADD ("/protocol/host-window", test_host_window, "--host-window=2");
  ADD ("/protocol/host-window-timeout", test_host_window_timeout, "--host-window=2 --request-timeout=3");
  ADD ("/protocol/host-info-mapping", test_host_info_mapping, NULL);
  ADD ("/protocol/call-invalid", test_call_invalid, "--max-message-size=65536");
  ADD ("/protocol/send-event", test_send_event, NULL);
  ADD ("/protocol/host-event", test_host_event, NULL);
  ADD ("/protocol/host-disconnect", test_host_disconnect, NULL);
  ADD ("/protocol/queue-full", test_queue_full, "--max-queue-size=4194304 --max-message-size=2097152");

  return qt_run ();
}
