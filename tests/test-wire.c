/* test-wire.c: unit tests for the wire message helpers and the error domain. */
#include "config.h"

#include <string.h>
#include <gio/gio.h>

#include "qga-error.h"
#include "qga-framer.h"
#include "qga-wire.h"

/* ---- the QGA_ERROR domain ----------------------------------------------- */

/* Every use of QGA_ERROR goes through qga_error_quark(). If that never
 * returns, every later check would hang the whole program instead of
 * failing, so probe it once in a subprocess with a timeout, and have the
 * tests that need QGA_ERROR fail (not hang) when it does not work. */
static gboolean
qga_error_usable (void)
{
  static int usable = -1;

  if (usable < 0)
    {
      g_test_trap_subprocess ("/error/quark", 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
      usable = g_test_trap_has_passed ();
    }
  if (!usable)
    g_test_fail_printf ("qga_error_quark() did not return within 10 s "
                        "(see /error/quark); not testing anything that raises a QGA_ERROR");
  return usable;
}

static void
test_error_quark (void)
{
  if (g_test_subprocess ())
    {
      GQuark quark = qga_error_quark ();

      g_assert_cmpstr (g_quark_to_string (quark), ==, "qga-error-quark");
      g_assert_true (qga_error_quark () == quark);
      g_assert_true (QGA_ERROR == quark);
      return;
    }
  g_assert_true (qga_error_usable ());
}

static const struct {
  QgaErrorCode code;
  const char *name;
} error_names[] = {
  { QGA_ERROR_GENERIC_ERROR, "GenericError" },
  { QGA_ERROR_COMMAND_NOT_FOUND, "CommandNotFound" },
  { QGA_ERROR_HOST_DISCONNECTED, "HostDisconnected" },
  { QGA_ERROR_TIMEOUT, "Timeout" },
  { QGA_ERROR_LIMIT_EXCEEDED, "LimitExceeded" },
  { QGA_ERROR_QUEUE_FULL, "QueueFull" },
  { QGA_ERROR_INVALID_REPLY, "InvalidReply" },
  { QGA_ERROR_PROTOCOL, "ProtocolError" },
  { QGA_ERROR_CANCELLED, "Cancelled" },
  { QGA_ERROR_NO_DATA, "NoData" },
  { QGA_ERROR_NOT_SUPPORTED, "NotSupported" },
};

static void
test_error_class_names (void)
{
  g_assert_cmpuint (G_N_ELEMENTS (error_names), ==, QGA_ERROR_N_CODES);
  for (gsize i = 0; i < G_N_ELEMENTS (error_names); i++)
    {
      const char *name = qga_error_class_name (error_names[i].code);

      g_assert_cmpstr (name, ==, error_names[i].name);
      g_assert_true (qga_error_class_is_valid (name));
      g_assert_cmpint (qga_error_code_from_class (name), ==, error_names[i].code);
      g_assert_cmpint (qga_error_code_from_class (error_names[i].name), ==, error_names[i].code);
    }

  /* anything else maps to GenericError */
  g_assert_cmpint (qga_error_code_from_class ("NoSuchClass"), ==, QGA_ERROR_GENERIC_ERROR);
  g_assert_cmpint (qga_error_code_from_class ("timeout"), ==, QGA_ERROR_GENERIC_ERROR);
  g_assert_cmpint (qga_error_code_from_class ("Timeout "), ==, QGA_ERROR_GENERIC_ERROR);
  g_assert_cmpint (qga_error_code_from_class (""), ==, QGA_ERROR_GENERIC_ERROR);
  g_assert_cmpint (qga_error_code_from_class (NULL), ==, QGA_ERROR_GENERIC_ERROR);
  g_assert_cmpint (qga_error_code_from_class ("org.qemu.GuestAgent.Error.Timeout"), ==,
                   QGA_ERROR_GENERIC_ERROR);

  /* out-of-range codes have the generic name */
  g_assert_cmpstr (qga_error_class_name (QGA_ERROR_N_CODES), ==, "GenericError");
  g_assert_cmpstr (qga_error_class_name ((QgaErrorCode) -1), ==, "GenericError");
  g_assert_cmpstr (qga_error_class_name ((QgaErrorCode) 1000), ==, "GenericError");
}

static void
test_error_class_is_valid (void)
{
  g_autofree char *len64 = g_strnfill (64, 'A');
  g_autofree char *len65 = g_strnfill (65, 'A');

  g_assert_true (qga_error_class_is_valid ("GenericError"));
  g_assert_true (qga_error_class_is_valid ("CommandNotFound"));
  g_assert_true (qga_error_class_is_valid ("a"));
  g_assert_true (qga_error_class_is_valid ("Some_Error2"));
  g_assert_true (qga_error_class_is_valid (len64));

  g_assert_false (qga_error_class_is_valid (NULL));
  g_assert_false (qga_error_class_is_valid (""));
  g_assert_false (qga_error_class_is_valid ("1Error"));
  g_assert_false (qga_error_class_is_valid ("_Error"));
  g_assert_false (qga_error_class_is_valid ("Generic-Error"));
  g_assert_false (qga_error_class_is_valid ("Generic.Error"));
  g_assert_false (qga_error_class_is_valid ("Generic Error"));
  g_assert_false (qga_error_class_is_valid ("Generic\xc3\xa9"));
  g_assert_false (qga_error_class_is_valid (len65));
}

static void
test_error_dbus_names (void)
{
  if (!qga_error_usable ())
    return;

  {
    g_autoptr(GError) error = g_error_new_literal (QGA_ERROR, QGA_ERROR_TIMEOUT, "too slow");
    g_autofree char *name = g_dbus_error_encode_gerror (error);

    g_assert_cmpstr (name, ==, "org.qemu.GuestAgent.Error.Timeout");
  }

  for (gsize i = 0; i < G_N_ELEMENTS (error_names); i++)
    {
      g_autoptr(GError) error = g_error_new_literal (QGA_ERROR, error_names[i].code, "text");
      g_autofree char *name = g_dbus_error_encode_gerror (error);
      g_autofree char *expected = g_strconcat (QGA_DBUS_ERROR_PREFIX, error_names[i].name, NULL);
      g_autoptr(GError) back = g_dbus_error_new_for_dbus_error (expected, "remote text");
      g_autofree char *remote = NULL;

      g_assert_cmpstr (name, ==, expected);
      g_assert_true (g_dbus_is_error_name (name));

      /* and back: a D-Bus error with that name becomes this GError */
      g_assert_error (back, QGA_ERROR, (int) error_names[i].code);
      g_assert_true (g_dbus_error_is_remote_error (back));
      remote = g_dbus_error_get_remote_error (back);
      g_assert_cmpstr (remote, ==, expected);
      g_assert_true (g_dbus_error_strip_remote_error (back));
      g_assert_cmpstr (back->message, ==, "remote text");
    }
}

/* ---- qga_wire_parse ----------------------------------------------------- */

static void
test_parse_valid (void)
{
  static const char text[] = "{\"execute\":\"guest-ping\",\"arguments\":{\"a\":[1,\"x\"]},\"id\":7}";
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = qga_wire_parse (text, strlen (text), &error);
  JsonObject *object;

  g_assert_no_error (error);
  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  object = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (object, "execute"), ==, "guest-ping");
  g_assert_cmpint (json_object_get_int_member (object, "id"), ==, 7);
  g_assert_true (json_object_has_member (json_object_get_object_member (object, "arguments"), "a"));

  /* only length bytes are parsed: framed messages are not NUL-terminated */
  {
    static const char stream[] = "{\"return\":1}{\"return\":2}garbage";
    g_autoptr(JsonNode) first = qga_wire_parse (stream, 12, &error);

    g_assert_no_error (error);
    g_assert_nonnull (first);
    g_assert_cmpint (json_object_get_int_member (json_node_get_object (first), "return"), ==, 1);
  }

  /* non-ASCII text */
  {
    static const char utf8[] = "{\"s\":\"h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac\"}";
    g_autoptr(JsonNode) n = qga_wire_parse (utf8, strlen (utf8), &error);

    g_assert_no_error (error);
    g_assert_nonnull (n);
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (n), "s"), ==,
                     "h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac");
  }

  /* scalars parse too; classify() is what rejects them */
  {
    g_autoptr(JsonNode) n = qga_wire_parse ("42", 2, &error);

    g_assert_no_error (error);
    g_assert_nonnull (n);
    g_assert_cmpint (json_node_get_int (n), ==, 42);
  }
}

static void
check_parse_fails (const char *text, gsize length, const char *message_prefix)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = qga_wire_parse (text, length, &error);

  g_assert_null (node);
  g_assert_error (error, QGA_ERROR, QGA_ERROR_PROTOCOL);
  if (error != NULL && message_prefix != NULL)
    g_assert_true (g_str_has_prefix (error->message, message_prefix));
}

static void
test_parse_invalid_utf8 (void)
{
  static const char *const bad[] = {
    "{\"a\":\"\xc3\x28\"}",          /* bad continuation byte */
    "{\"a\":\"\xc0\xaf\"}",          /* overlong */
    "{\"a\":\"\xed\xa0\x80\"}",      /* surrogate */
    "{\"a\":\"\xf4\x90\x80\x80\"}",  /* beyond U+10FFFF */
    "{\"a\":\"\x80\"}",              /* lone continuation byte */
    "{\"a\":\"\xfe\"}",
    "{\"\xe6\x97\":1}",              /* truncated sequence in a key */
  };

  if (!qga_error_usable ())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    check_parse_fails (bad[i], strlen (bad[i]), "JSON parse error, invalid UTF-8");

  /* a sequence cut short by the message length */
  check_parse_fails ("\"\xe6\x97\xa5\"", 3, "JSON parse error, invalid UTF-8");
  /* an embedded NUL byte inside the length */
  check_parse_fails ("{\"a\":\"x\0y\"}", 11, "JSON parse error, invalid UTF-8");
}

static void
test_parse_syntax_error (void)
{
  static const char *const bad[] = {
    "{\"a\":}", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "nul", "[1 2]",
    "{\"a\":\"unterminated}", "\x7f",
  };

  if (!qga_error_usable ())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    check_parse_fails (bad[i], strlen (bad[i]), "JSON parse error, ");
}

/* No JSON value at all: a NULL result must come with an error set. */
static void
test_parse_empty (void)
{
  if (!qga_error_usable ())
    return;
  check_parse_fails ("", 0, "JSON parse error");
  check_parse_fails ("   \n", 4, "JSON parse error");
  check_parse_fails ("{}", 0, "JSON parse error");
}

/* ---- qga_wire_classify -------------------------------------------------- */

static JsonNode *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = qga_wire_parse (text, strlen (text), &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static void
check_classify (const char *text, QgaWireKind expected)
{
  g_autoptr(JsonNode) node = parse (text);

  g_assert_cmpint (qga_wire_classify (node), ==, expected);
}

static void
test_classify (void)
{
  check_classify ("{\"execute\":\"guest-ping\"}", QGA_WIRE_COMMAND);
  check_classify ("{\"execute\":\"guest-exec\",\"arguments\":{},\"id\":1}", QGA_WIRE_COMMAND);
  check_classify ("{\"return\":{}}", QGA_WIRE_RETURN);
  check_classify ("{\"return\":null,\"id\":\"x\"}", QGA_WIRE_RETURN);
  check_classify ("{\"id\":3,\"return\":[1,2]}", QGA_WIRE_RETURN);
  check_classify ("{\"error\":{\"class\":\"GenericError\",\"desc\":\"x\"},\"id\":1}", QGA_WIRE_ERROR);
  check_classify ("{\"event\":\"HOST_STATS\",\"data\":{},"
                  "\"timestamp\":{\"seconds\":1,\"microseconds\":2}}", QGA_WIRE_EVENT);

  check_classify ("{}", QGA_WIRE_INVALID);
  check_classify ("{\"id\":1,\"data\":{},\"arguments\":{}}", QGA_WIRE_INVALID);
  check_classify ("{\"Execute\":\"x\"}", QGA_WIRE_INVALID);
  check_classify ("[]", QGA_WIRE_INVALID);
  check_classify ("[{\"execute\":\"guest-ping\"}]", QGA_WIRE_INVALID);
  check_classify ("42", QGA_WIRE_INVALID);
  check_classify ("\"execute\"", QGA_WIRE_INVALID);
  check_classify ("true", QGA_WIRE_INVALID);
  check_classify ("null", QGA_WIRE_INVALID);
  g_assert_cmpint (qga_wire_classify (NULL), ==, QGA_WIRE_INVALID);
}

/* ---- builders ----------------------------------------------------------- */

/* Check that bytes are one line ending in '\n' (preceded by 0xFF iff
 * delimited) with no other newline or sentinel, and parse it back. */
static JsonNode *
parse_line (GBytes *bytes, gboolean delimited)
{
  gsize size = 0;
  const char *data = g_bytes_get_data (bytes, &size);
  gsize start = delimited ? 1 : 0;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  g_assert_nonnull (data);
  g_assert_cmpuint (size, >, start + 1);
  if (delimited)
    g_assert_cmphex ((guint8) data[0], ==, QGA_WIRE_SENTINEL);
  else
    g_assert_cmphex ((guint8) data[0], !=, QGA_WIRE_SENTINEL);
  g_assert_cmpint (data[size - 1], ==, '\n');
  g_assert_null (memchr (data + start, '\n', size - start - 1));
  g_assert_null (memchr (data + start, '\r', size - start - 1));
  g_assert_null (memchr (data + start, 0xFF, size - start));
  g_assert_null (memchr (data, '\0', size));
  g_assert_true (g_utf8_validate (data + start, size - start, NULL));

  node = qga_wire_parse (data + start, size - start - 1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return node;
}

/* Feeding a built line to the framer yields exactly that message (after one
 * RESET for the 0xFF sentinel of a delimited line). */
static void
check_frames_back (GBytes *bytes, gboolean delimited)
{
  gsize size = 0;
  const char *data = g_bytes_get_data (bytes, &size);
  g_autoptr(QgaFramer) framer = qga_framer_new (1024 * 1024);
  g_autoptr(GError) error = NULL;
  const char *message = NULL;
  gsize length = 0;
  gsize start = delimited ? 1 : 0;

  qga_framer_push (framer, data, size);
  if (delimited)
    {
      g_assert_cmpint (qga_framer_next (framer, &message, &length, &error), ==, QGA_FRAMER_FAILED);
      g_assert_error (error, QGA_FRAMER_ERROR, QGA_FRAMER_ERROR_RESET);
      g_clear_error (&error);
    }
  g_assert_cmpint (qga_framer_next (framer, &message, &length, &error), ==, QGA_FRAMER_MESSAGE);
  g_assert_no_error (error);
  g_assert_cmpmem (message, length, data + start, size - start - 1);
  g_assert_cmpint (qga_framer_next (framer, &message, &length, &error), ==, QGA_FRAMER_NEED_MORE);
  g_assert_no_error (error);
  g_assert_true (qga_framer_is_idle (framer));
}

static void
assert_bytes_equal (GBytes *bytes, const char *expected)
{
  gsize size = 0;
  const char *data = g_bytes_get_data (bytes, &size);

  g_assert_cmpmem (data, size, expected, strlen (expected));
}

static void
test_build_command (void)
{
  g_autoptr(JsonNode) arguments = parse ("{\"path\":\"/bin/true\",\"arg\":[\"a b\",\"\\\"q\\\"\"],"
                                         "\"env\":null,\"n\":-5}");
  g_autoptr(JsonNode) id = parse ("12");
  g_autoptr(GBytes) bytes = qga_wire_build_command ("guest-exec", arguments, id);
  g_autoptr(GBytes) plain = qga_wire_build_command ("guest-ping", NULL, NULL);
  g_autoptr(JsonNode) node = parse_line (bytes, FALSE);
  g_autoptr(JsonNode) node2 = parse_line (plain, FALSE);
  JsonObject *object = json_node_get_object (node);

  g_assert_cmpint (qga_wire_classify (node), ==, QGA_WIRE_COMMAND);
  g_assert_cmpstr (json_object_get_string_member (object, "execute"), ==, "guest-exec");
  g_assert_true (json_node_equal (json_object_get_member (object, "arguments"), arguments));
  g_assert_true (json_node_equal (json_object_get_member (object, "id"), id));
  g_assert_cmpuint (json_object_get_size (object), ==, 3);
  check_frames_back (bytes, FALSE);

  /* without arguments and id, both are omitted */
  assert_bytes_equal (plain, "{\"execute\":\"guest-ping\"}\n");
  g_assert_cmpuint (json_object_get_size (json_node_get_object (node2)), ==, 1);
  check_frames_back (plain, FALSE);

  /* arguments without id, and id without arguments */
  {
    g_autoptr(GBytes) b1 = qga_wire_build_command ("guest-x", arguments, NULL);
    g_autoptr(GBytes) b2 = qga_wire_build_command ("guest-x", NULL, id);
    g_autoptr(JsonNode) n1 = parse_line (b1, FALSE);
    g_autoptr(JsonNode) n2 = parse_line (b2, FALSE);

    g_assert_true (json_object_has_member (json_node_get_object (n1), "arguments"));
    g_assert_false (json_object_has_member (json_node_get_object (n1), "id"));
    g_assert_false (json_object_has_member (json_node_get_object (n2), "arguments"));
    g_assert_true (json_object_has_member (json_node_get_object (n2), "id"));
  }
}

static void
test_build_return (void)
{
  g_autoptr(JsonNode) value = parse ("{\"pid\":42,\"list\":[1,\"two\",{\"3\":null}],"
                                     "\"s\":\"line1\\nline2\"}");
  g_autoptr(JsonNode) id = parse ("\"req-1\"");

  for (int delimited = 0; delimited <= 1; delimited++)
    {
      g_autoptr(GBytes) bytes = qga_wire_build_return (value, id, delimited);
      g_autoptr(JsonNode) node = parse_line (bytes, delimited);
      JsonObject *object = json_node_get_object (node);

      g_assert_cmpint (qga_wire_classify (node), ==, QGA_WIRE_RETURN);
      g_assert_true (json_node_equal (json_object_get_member (object, "return"), value));
      g_assert_true (json_node_equal (json_object_get_member (object, "id"), id));
      g_assert_cmpuint (json_object_get_size (object), ==, 2);
      check_frames_back (bytes, delimited);
    }

  /* a NULL value is an empty object; a NULL id is omitted */
  {
    g_autoptr(GBytes) bytes = qga_wire_build_return (NULL, NULL, FALSE);
    g_autoptr(GBytes) delimited = qga_wire_build_return (NULL, NULL, TRUE);

    assert_bytes_equal (bytes, "{\"return\":{}}\n");
    assert_bytes_equal (delimited, "\xff{\"return\":{}}\n");
  }

  /* scalar and array values */
  {
    g_autoptr(JsonNode) scalar = parse ("-3");
    g_autoptr(JsonNode) array = parse ("[]");
    g_autoptr(GBytes) b1 = qga_wire_build_return (scalar, NULL, FALSE);
    g_autoptr(GBytes) b2 = qga_wire_build_return (array, NULL, FALSE);

    assert_bytes_equal (b1, "{\"return\":-3}\n");
    assert_bytes_equal (b2, "{\"return\":[]}\n");
  }
}

static void
test_build_error (void)
{
  /* a description with everything that must be escaped to stay on one line */
  static const char desc[] = "bad \"thing\"\n\twith \\ back\rslash \x01\x1e and h\xc3\xa9 \xe2\x9c\x93 {}";
  g_autoptr(JsonNode) id = parse ("{\"a\":[1,2]}");

  for (int delimited = 0; delimited <= 1; delimited++)
    {
      g_autoptr(GBytes) bytes = qga_wire_build_error ("CommandNotFound", desc, id, delimited);
      g_autoptr(JsonNode) node = parse_line (bytes, delimited);
      JsonObject *object = json_node_get_object (node);
      JsonObject *error;

      g_assert_cmpint (qga_wire_classify (node), ==, QGA_WIRE_ERROR);
      error = json_object_get_object_member (object, "error");
      g_assert_nonnull (error);
      g_assert_cmpstr (json_object_get_string_member (error, "class"), ==, "CommandNotFound");
      g_assert_cmpstr (json_object_get_string_member (error, "desc"), ==, desc);
      g_assert_cmpuint (json_object_get_size (error), ==, 2);
      g_assert_true (json_node_equal (json_object_get_member (object, "id"), id));
      check_frames_back (bytes, delimited);
    }

  {
    g_autoptr(GBytes) bytes = qga_wire_build_error ("GenericError", "x", NULL, FALSE);

    assert_bytes_equal (bytes, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"x\"}}\n");
  }
}

static void
test_build_event (void)
{
  g_autoptr(JsonNode) data = parse ("{\"cpu\":[0.5,1.5],\"name\":\"h\xc3\xa9\"}");
  gint64 before = g_get_real_time ();
  g_autoptr(GBytes) bytes = qga_wire_build_event ("HOST_STATS", data);
  gint64 after = g_get_real_time ();
  g_autoptr(JsonNode) node = parse_line (bytes, FALSE);
  JsonObject *object = json_node_get_object (node);
  JsonObject *timestamp;
  JsonNode *seconds, *microseconds;
  gint64 when;

  g_assert_cmpint (qga_wire_classify (node), ==, QGA_WIRE_EVENT);
  g_assert_cmpstr (json_object_get_string_member (object, "event"), ==, "HOST_STATS");
  g_assert_true (json_node_equal (json_object_get_member (object, "data"), data));
  g_assert_cmpuint (json_object_get_size (object), ==, 3);
  check_frames_back (bytes, FALSE);

  timestamp = json_object_get_object_member (object, "timestamp");
  g_assert_nonnull (timestamp);
  g_assert_cmpuint (json_object_get_size (timestamp), ==, 2);
  seconds = json_object_get_member (timestamp, "seconds");
  microseconds = json_object_get_member (timestamp, "microseconds");
  g_assert_nonnull (seconds);
  g_assert_nonnull (microseconds);
  g_assert_true (JSON_NODE_HOLDS_VALUE (seconds));
  g_assert_true (JSON_NODE_HOLDS_VALUE (microseconds));
  g_assert_true (json_node_get_value_type (seconds) == G_TYPE_INT64);
  g_assert_true (json_node_get_value_type (microseconds) == G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (microseconds), >=, 0);
  g_assert_cmpint (json_node_get_int (microseconds), <, G_USEC_PER_SEC);
  when = json_node_get_int (seconds) * G_USEC_PER_SEC + json_node_get_int (microseconds);
  g_assert_cmpint (when, >=, before);
  g_assert_cmpint (when, <=, after);

  /* no data: omitted */
  {
    g_autoptr(GBytes) b = qga_wire_build_event ("X", NULL);
    g_autoptr(JsonNode) n = parse_line (b, FALSE);

    g_assert_false (json_object_has_member (json_node_get_object (n), "data"));
    g_assert_true (json_object_has_member (json_node_get_object (n), "timestamp"));
  }
}

/* Every control character in a string is escaped: a raw one is invalid JSON,
 * and most of them (0x00-0x1F but \t \r \n) are reset bytes to the peer's
 * framer, which would drop the message. */
static void
test_build_control_chars (void)
{
  for (guint c = 0x01; c < 0x20; c++)
    {
      char text[] = "aXb";
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) value = NULL;
      g_autoptr(JsonNode) id = NULL;
      g_autoptr(GBytes) command = NULL, ret = NULL, err = NULL, event = NULL;
      g_autofree char *string = NULL;

      text[1] = (char) c;
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, text);   /* in a member name too */
      json_builder_add_string_value (builder, text);
      json_builder_end_object (builder);
      value = json_builder_get_root (builder);
      id = json_node_init_string (json_node_alloc (), text);

      command = qga_wire_build_command ("guest-x", value, id);
      ret = qga_wire_build_return (value, id, TRUE);
      err = qga_wire_build_error ("GenericError", text, id, FALSE);
      event = qga_wire_build_event ("X", value);
      {
        GBytes *all[] = { command, ret, err, event };
        gboolean delimited[] = { FALSE, TRUE, FALSE, FALSE };

        for (gsize j = 0; j < G_N_ELEMENTS (all); j++)
          {
            gsize size = 0;
            const guint8 *data = g_bytes_get_data (all[j], &size);
            gsize k;

            for (k = delimited[j] ? 1 : 0; k + 1 < size; k++)
              if (data[k] < 0x20)
                break;
            if (k + 1 < size)
              {
                g_test_fail_printf ("control character 0x%02x written raw by builder %" G_GSIZE_FORMAT,
                                    c, j);
                continue;
              }
            {
              g_autoptr(JsonNode) node = parse_line (all[j], delimited[j]);

              check_frames_back (all[j], delimited[j]);
            }
          }
      }

      /* qga_wire_to_string gives valid JSON too */
      string = qga_wire_to_string (value);
      for (const char *p = string; *p; p++)
        if ((guchar) *p < 0x20)
          {
            g_test_fail_printf ("control character 0x%02x written raw by qga_wire_to_string", c);
            break;
          }
    }
}

/* An id of any JSON type comes back exactly as it went in. */
static void
test_build_id_types (void)
{
  static const char *const ids[] = {
    "0", "1", "-1", "9223372036854775807", "-9223372036854775808", "\"abc\"", "\"\"",
    "\"h\xc3\xa9 \\\"q\\\"\"", "{\"a\":[1,{\"b\":null}]}", "{}", "[]", "[1,\"2\"]",
    "null", "true", "false", "1.5",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(JsonNode) id = parse (ids[i]);
      g_autoptr(GBytes) command = qga_wire_build_command ("guest-ping", NULL, id);
      g_autoptr(GBytes) ret = qga_wire_build_return (NULL, id, FALSE);
      g_autoptr(GBytes) ret_d = qga_wire_build_return (NULL, id, TRUE);
      g_autoptr(GBytes) err = qga_wire_build_error ("GenericError", "d", id, FALSE);
      g_autoptr(GBytes) err_d = qga_wire_build_error ("GenericError", "d", id, TRUE);
      GBytes *all[] = { command, ret, ret_d, err, err_d };
      gboolean delimited[] = { FALSE, FALSE, TRUE, FALSE, TRUE };

      for (gsize j = 0; j < G_N_ELEMENTS (all); j++)
        {
          g_autoptr(JsonNode) node = parse_line (all[j], delimited[j]);
          JsonNode *got = json_object_get_member (json_node_get_object (node), "id");
          g_autofree char *got_text = NULL;

          g_assert_nonnull (got);
          got_text = json_to_string (got, FALSE);
          g_assert_true (json_node_get_node_type (got) == json_node_get_node_type (id));
          if (!json_node_equal (got, id))
            g_test_fail_printf ("id %s came back as %s", ids[i], got_text);
          check_frames_back (all[j], delimited[j]);
        }
    }
}

static void
test_to_string (void)
{
  g_autoptr(JsonNode) node = parse ("{ \"a\" : [ 1 , 2 ],\n \"b\" : { } }");
  g_autofree char *text = qga_wire_to_string (node);
  g_autoptr(JsonNode) scalar = parse ("\"x\\ny\"");
  g_autofree char *text2 = qga_wire_to_string (scalar);

  g_assert_cmpstr (text, ==, "{\"a\":[1,2],\"b\":{}}");
  g_assert_cmpstr (text2, ==, "\"x\\ny\"");
}

/* ---- qga_wire_parse_object ---------------------------------------------- */

static JsonNode *
parse_object_ok (const char *text, gsize max, guint expected_members)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = qga_wire_parse_object (text, max, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  if (node != NULL)
    {
      g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
      g_assert_cmpuint (json_object_get_size (json_node_get_object (node)), ==, expected_members);
    }
  return node;
}

static void
parse_object_fails (const char *text, gsize max, QgaErrorCode code, const char *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = qga_wire_parse_object (text, max, &error);

  if (node != NULL)
    {
      g_autofree char *got = json_to_string (node, FALSE);

      g_test_fail_printf ("qga_wire_parse_object (\"%s\") gave %s instead of an error", text, got);
      return;
    }
  g_assert_error (error, QGA_ERROR, (int) code);
  if (error != NULL && message != NULL)
    g_assert_cmpstr (error->message, ==, message);
}

static void
test_parse_object_ok (void)
{
  if (!qga_error_usable ())
    return;

  {
    g_autoptr(JsonNode) n1 = parse_object_ok ("", 100, 0);
    g_autoptr(JsonNode) n2 = parse_object_ok ("  ", 100, 0);
    g_autoptr(JsonNode) n3 = parse_object_ok ("\t\r\n ", 100, 0);
    g_autoptr(JsonNode) n4 = parse_object_ok ("{}", 100, 0);
    g_autoptr(JsonNode) n5 = parse_object_ok ("{} ", 100, 0);
    g_autoptr(JsonNode) n6 = parse_object_ok (" \n{\"a\":[1,2]}\n ", 100, 1);
    g_autoptr(JsonNode) n7 = parse_object_ok ("{'q':'single'}", 100, 1);
    g_autoptr(JsonNode) n8 = parse_object_ok ("{\"u\":\"\\u0001\\u00e9\"}", 100, 1);
  }
  {
    g_autoptr(JsonNode) node = parse_object_ok ("{\"a\":1}", 100, 1);

    if (node != NULL)
      g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "a"), ==, 1);
  }
  {
    g_autoptr(JsonNode) node = parse_object_ok ("{\"max\":9223372036854775807,"
                                                "\"min\":-9223372036854775808,"
                                                "\"s\":\"99999999999999999999\",\"f\":1.5e3}",
                                                1000, 4);

    if (node != NULL)
      {
        JsonObject *object = json_node_get_object (node);

        g_assert_cmpint (json_object_get_int_member (object, "max"), ==, G_MAXINT64);
        g_assert_cmpint (json_object_get_int_member (object, "min"), ==, G_MININT64);
        g_assert_cmpstr (json_object_get_string_member (object, "s"), ==, "99999999999999999999");
        g_assert_cmpfloat (json_object_get_double_member (object, "f"), ==, 1500.0);
      }
  }
  {
    static const char utf8[] = "{\"s\":\"h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac\"}";
    g_autoptr(JsonNode) node = parse_object_ok (utf8, 100, 1);

    if (node != NULL)
      g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "s"), ==,
                       "h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac");
  }
}

static void
test_parse_object_not_object (void)
{
  static const char *const bad[] = { "[1]", "[]", "1", "\"x\"", "'x'", "true", "null", "-2.5" };

  if (!qga_error_usable ())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    parse_object_fails (bad[i], 100, QGA_ERROR_PROTOCOL, "expected a JSON object");
}

static void
test_parse_object_trailing (void)
{
  static const char *const bad[] = {
    "{}{}", "{}[]", "{} {}", "{}x", "{} 1", "{}]", "{}}", "{},", "{} [", "{}\x01", "{} \"",
  };

  if (!qga_error_usable ())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    parse_object_fails (bad[i], 100, QGA_ERROR_PROTOCOL, NULL);
  parse_object_fails ("{}{}", 100, QGA_ERROR_PROTOCOL,
                      "JSON parse error, trailing data after the value");
}

static void
test_parse_object_incomplete (void)
{
  static const char *const bad[] = { "{", "{\"a\":", "{\"a\":\"b", "[", "\"x" };

  if (!qga_error_usable ())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    parse_object_fails (bad[i], 100, QGA_ERROR_PROTOCOL, "JSON parse error, incomplete value");
  /* and plain syntax errors */
  parse_object_fails ("{\"a\":}", 100, QGA_ERROR_PROTOCOL, NULL);
  parse_object_fails ("{\"a\":1,}", 100, QGA_ERROR_PROTOCOL, NULL);
  parse_object_fails ("}", 100, QGA_ERROR_PROTOCOL, NULL);
  parse_object_fails ("\x01{}", 100, QGA_ERROR_PROTOCOL, NULL);
}

static void
test_parse_object_limit (void)
{
  if (!qga_error_usable ())
    return;

  /* exactly max_size bytes is fine, one more is not */
  {
    g_autoptr(JsonNode) node = parse_object_ok ("{\"a\":1}", 7, 1);
  }
  parse_object_fails ("{\"a\":12}", 7, QGA_ERROR_LIMIT_EXCEEDED,
                      "JSON text of 8 bytes exceeds the limit of 7");
  parse_object_fails ("{\"a\":1}  ", 7, QGA_ERROR_LIMIT_EXCEEDED, NULL);
  {
    g_autofree char *fill = g_strnfill (100000, 'x');
    g_autofree char *big = g_strdup_printf ("{\"a\":\"%s\"}", fill);

    parse_object_fails (big, 65536, QGA_ERROR_LIMIT_EXCEEDED, NULL);
  }

  /* nesting beyond the framer's depth limit */
  {
    GString *deep = g_string_new ("{\"a\":");
    g_autofree char *text = NULL;

    for (int i = 0; i < QGA_FRAMER_MAX_DEPTH + 1; i++)
      g_string_append_c (deep, '[');
    for (int i = 0; i < QGA_FRAMER_MAX_DEPTH + 1; i++)
      g_string_append_c (deep, ']');
    g_string_append_c (deep, '}');
    text = g_string_free (deep, FALSE);
    parse_object_fails (text, 1024 * 1024, QGA_ERROR_PROTOCOL, NULL);
  }
}

static void
test_parse_object_bad_values (void)
{
  if (!qga_error_usable ())
    return;
  parse_object_fails ("{\"a\":99999999999999999999}", 100, QGA_ERROR_PROTOCOL,
                      "JSON parse error, number out of range");
  parse_object_fails ("{\"a\":9223372036854775808}", 100, QGA_ERROR_PROTOCOL, NULL);
  parse_object_fails ("{\"a\":-9223372036854775809}", 100, QGA_ERROR_PROTOCOL, NULL);
  parse_object_fails ("{\"a\":1e400}", 100, QGA_ERROR_PROTOCOL, NULL);
  parse_object_fails ("{\"a\":\"\\u0000\"}", 100, QGA_ERROR_PROTOCOL,
                      "JSON parse error, \\u0000 in a string is not supported");
  parse_object_fails ("{\"a\":\"\xc3\x28\"}", 100, QGA_ERROR_PROTOCOL,
                      "JSON parse error, invalid UTF-8");
  parse_object_fails ("{\"a\":\"\xed\xa0\x80\"}", 100, QGA_ERROR_PROTOCOL, NULL);
  parse_object_fails ("{\"a\":\"\xff\"}", 100, QGA_ERROR_PROTOCOL, NULL);
}

/* ---- names -------------------------------------------------------------- */

static void
test_command_names (void)
{
  g_autofree char *fill123 = g_strnfill (123, 'a');
  g_autofree char *fill124 = g_strnfill (124, 'a');
  g_autofree char *len128 = g_strconcat ("host-", fill123, NULL);
  g_autofree char *len129 = g_strconcat ("host-", fill124, NULL);

  g_assert_cmpuint (strlen (len128), ==, 128);
  g_assert_true (qga_wire_command_name_is_valid ("host-ping", "host-"));
  g_assert_true (qga_wire_command_name_is_valid ("host-a", "host-"));
  g_assert_true (qga_wire_command_name_is_valid ("host-get-stats-2", "host-"));
  g_assert_true (qga_wire_command_name_is_valid ("host--", "host-"));
  g_assert_true (qga_wire_command_name_is_valid ("guest-ping", "guest-"));
  g_assert_true (qga_wire_command_name_is_valid ("guest-sync-delimited", "guest-"));
  g_assert_true (qga_wire_command_name_is_valid (len128, "host-"));

  g_assert_false (qga_wire_command_name_is_valid ("host-", "host-"));
  g_assert_false (qga_wire_command_name_is_valid ("host-Ping", "host-"));
  g_assert_false (qga_wire_command_name_is_valid ("HOST-ping", "host-"));
  g_assert_false (qga_wire_command_name_is_valid ("guest-ping", "host-"));
  g_assert_false (qga_wire_command_name_is_valid ("host-ping", "guest-"));
  g_assert_false (qga_wire_command_name_is_valid ("host_ping", "host-"));
  g_assert_false (qga_wire_command_name_is_valid ("host-pi_ng", "host-"));
  g_assert_false (qga_wire_command_name_is_valid ("host-pi ng", "host-"));
  g_assert_false (qga_wire_command_name_is_valid ("host-ping\n", "host-"));
  g_assert_false (qga_wire_command_name_is_valid ("host-p.ing", "host-"));
  g_assert_false (qga_wire_command_name_is_valid ("host-h\xc3\xa9", "host-"));
  g_assert_false (qga_wire_command_name_is_valid ("", "host-"));
  g_assert_false (qga_wire_command_name_is_valid ("ping", "host-"));
  g_assert_false (qga_wire_command_name_is_valid (NULL, "host-"));
  g_assert_false (qga_wire_command_name_is_valid (len129, "host-"));
}

static void
test_event_names (void)
{
  g_autofree char *len128 = g_strnfill (128, 'A');
  g_autofree char *len129 = g_strnfill (129, 'A');

  g_assert_true (qga_wire_event_name_is_valid ("HOST_STATS"));
  g_assert_true (qga_wire_event_name_is_valid ("A"));
  g_assert_true (qga_wire_event_name_is_valid ("A1_B2_"));
  g_assert_true (qga_wire_event_name_is_valid (len128));

  g_assert_false (qga_wire_event_name_is_valid ("host_stats"));
  g_assert_false (qga_wire_event_name_is_valid ("Host_Stats"));
  g_assert_false (qga_wire_event_name_is_valid (""));
  g_assert_false (qga_wire_event_name_is_valid ("1ABC"));
  g_assert_false (qga_wire_event_name_is_valid ("_ABC"));
  g_assert_false (qga_wire_event_name_is_valid ("HOST-STATS"));
  g_assert_false (qga_wire_event_name_is_valid ("HOST STATS"));
  g_assert_false (qga_wire_event_name_is_valid ("HOST.STATS"));
  g_assert_false (qga_wire_event_name_is_valid ("\xc3\x89VENT"));
  g_assert_false (qga_wire_event_name_is_valid (NULL));
  g_assert_false (qga_wire_event_name_is_valid (len129));
}

/* ---- qga_wire_get_int_id ------------------------------------------------ */

static void
check_int_id (const char *text, gboolean expected_ok, gint64 expected_id)
{
  g_autoptr(JsonNode) node = parse (text);
  gint64 id = 777;
  gboolean ok = qga_wire_get_int_id (json_node_get_object (node), &id);

  g_assert_cmpint (ok, ==, expected_ok);
  g_assert_cmpint (id, ==, expected_ok ? expected_id : 777);
}

static void
test_get_int_id (void)
{
  check_int_id ("{\"return\":{},\"id\":42}", TRUE, 42);
  check_int_id ("{\"return\":{},\"id\":0}", TRUE, 0);
  check_int_id ("{\"return\":{},\"id\":-1}", TRUE, -1);
  check_int_id ("{\"id\":9223372036854775807}", TRUE, G_MAXINT64);
  check_int_id ("{\"id\":-9223372036854775808}", TRUE, G_MININT64);

  check_int_id ("{\"return\":{}}", FALSE, 0);
  check_int_id ("{\"id\":\"42\"}", FALSE, 0);
  check_int_id ("{\"id\":4.2}", FALSE, 0);
  check_int_id ("{\"id\":1.0}", FALSE, 0);
  check_int_id ("{\"id\":null}", FALSE, 0);
  check_int_id ("{\"id\":true}", FALSE, 0);
  check_int_id ("{\"id\":{}}", FALSE, 0);
  check_int_id ("{\"id\":[1]}", FALSE, 0);
  check_int_id ("{\"ID\":1}", FALSE, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* report every failing test, not just the first */
  g_test_set_nonfatal_assertions ();

  g_test_add_func ("/error/quark", test_error_quark);
  g_test_add_func ("/error/class-names", test_error_class_names);
  g_test_add_func ("/error/class-is-valid", test_error_class_is_valid);
  g_test_add_func ("/error/dbus-names", test_error_dbus_names);

  g_test_add_func ("/wire/parse/valid", test_parse_valid);
  g_test_add_func ("/wire/parse/invalid-utf8", test_parse_invalid_utf8);
  g_test_add_func ("/wire/parse/syntax-error", test_parse_syntax_error);
  g_test_add_func ("/wire/parse/empty", test_parse_empty);
  g_test_add_func ("/wire/classify", test_classify);
  g_test_add_func ("/wire/build/command", test_build_command);
  g_test_add_func ("/wire/build/return", test_build_return);
  g_test_add_func ("/wire/build/error", test_build_error);
  g_test_add_func ("/wire/build/event", test_build_event);
  g_test_add_func ("/wire/build/id-types", test_build_id_types);
  g_test_add_func ("/wire/build/control-chars", test_build_control_chars);
  g_test_add_func ("/wire/to-string", test_to_string);
  g_test_add_func ("/wire/parse-object/ok", test_parse_object_ok);
  g_test_add_func ("/wire/parse-object/not-object", test_parse_object_not_object);
  g_test_add_func ("/wire/parse-object/trailing", test_parse_object_trailing);
  g_test_add_func ("/wire/parse-object/incomplete", test_parse_object_incomplete);
  g_test_add_func ("/wire/parse-object/limit", test_parse_object_limit);
  g_test_add_func ("/wire/parse-object/bad-values", test_parse_object_bad_values);
  g_test_add_func ("/wire/names/command", test_command_names);
  g_test_add_func ("/wire/names/event", test_event_names);
  g_test_add_func ("/wire/get-int-id", test_get_int_id);

  return g_test_run ();
}
