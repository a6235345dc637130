/* test-framer.c: unit tests for the incremental JSON message framer. */
#include "config.h"

#include <string.h>

#include "qga-framer.h"

/* ---- helpers ------------------------------------------------------------ */

static const char *
error_code_name (int code)
{
  switch (code)
    {
    case QGA_FRAMER_ERROR_RESET: return "RESET";
    case QGA_FRAMER_ERROR_TOO_LARGE: return "TOO_LARGE";
    case QGA_FRAMER_ERROR_TOO_DEEP: return "TOO_DEEP";
    case QGA_FRAMER_ERROR_SYNTAX: return "SYNTAX";
    case QGA_FRAMER_ERROR_NUMBER_RANGE: return "NUMBER_RANGE";
    case QGA_FRAMER_ERROR_NUL: return "NUL";
    default: return "UNKNOWN";
    }
}

/* Call next() until NEED_MORE, appending one string per event to events:
 * "M:<message text>" or "E:<error code name>". If messages is not NULL, the
 * full error messages are appended there too. Each event consumes at least
 * one byte, so more than pushed + 1 events means the framer is looping. */
static void
drain (QgaFramer *framer, gsize pushed, GPtrArray *events, GPtrArray *errors)
{
  gsize n = 0;

  for (;;)
    {
      const char *message = NULL;
      gsize length = 0;
      g_autoptr(GError) error = NULL;
      QgaFramerStatus status = qga_framer_next (framer, &message, &length, &error);

      if (status == QGA_FRAMER_NEED_MORE)
        {
          g_assert_no_error (error);
          return;
        }
      if (++n > pushed + 1)
        {
          g_test_fail_printf ("qga_framer_next() yields events without consuming input");
          return;
        }
      if (status == QGA_FRAMER_MESSAGE)
        {
          g_assert_no_error (error);
          g_assert_nonnull (message);
          g_assert_cmpuint (length, >, 0);
          g_ptr_array_add (events, g_strdup_printf ("M:%.*s", (int) length,
                                                    message ? message : ""));
        }
      else
        {
          g_assert_cmpint (status, ==, QGA_FRAMER_FAILED);
          g_assert_nonnull (error);
          if (error == NULL)
            {
              g_ptr_array_add (events, g_strdup ("E:(no error set)"));
              continue;
            }
          g_assert_true (error->domain == QGA_FRAMER_ERROR);
          g_ptr_array_add (events, g_strdup_printf ("E:%s", error_code_name (error->code)));
          if (errors != NULL)
            g_ptr_array_add (errors, g_strdup (error->message));
        }
    }
}

static void
push_drain (QgaFramer *framer, const void *data, gsize length, GPtrArray *events,
            GPtrArray *errors)
{
  qga_framer_push (framer, data, length);
  drain (framer, length, events, errors);
}

static GPtrArray *
events_new (void)
{
  return g_ptr_array_new_with_free_func (g_free);
}

static void
assert_events (GPtrArray *events, const char *const *expected)
{
  g_autofree const char **got = g_new0 (const char *, events->len + 1);

  for (guint i = 0; i < events->len; i++)
    got[i] = g_ptr_array_index (events, i);
  g_assert_cmpstrv (got, expected);
}

/* Feed data to a fresh framer in one push and compare the events. */
static void
check_one_push (gsize max, const char *data, gsize length, const char *const *expected)
{
  g_autoptr(QgaFramer) framer = qga_framer_new (max);
  g_autoptr(GPtrArray) events = events_new ();

  push_drain (framer, data, length, events, NULL);
  assert_events (events, expected);
}

/* Feed data to a fresh framer one byte per push and compare the events. */
static void
check_byte_by_byte (gsize max, const char *data, gsize length, const char *const *expected)
{
  g_autoptr(QgaFramer) framer = qga_framer_new (max);
  g_autoptr(GPtrArray) events = events_new ();

  for (gsize i = 0; i < length; i++)
    push_drain (framer, data + i, 1, events, NULL);
  assert_events (events, expected);
}

/* Both of the above, for NUL-free text. */
static void
check (gsize max, const char *text, const char *const *expected)
{
  check_one_push (max, text, strlen (text), expected);
  check_byte_by_byte (max, text, strlen (text), expected);
}

#define EV(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define NO_EVENTS ((const char *const[]) { NULL })
#define BIG (1024 * 1024)

/* ---- basic framing ------------------------------------------------------ */

static void
test_single_object (void)
{
  check (BIG, "{\"execute\":\"guest-ping\"}",
         EV ("M:{\"execute\":\"guest-ping\"}"));
  check (BIG, "{}", EV ("M:{}"));
  check (BIG, "[]", EV ("M:[]"));
}

static void
test_pipelined (void)
{
  check (BIG, "{\"return\":{},\"id\":1}\n{\"return\":{},\"id\":2}\n{\"event\":\"X\"}\n",
         EV ("M:{\"return\":{},\"id\":1}", "M:{\"return\":{},\"id\":2}", "M:{\"event\":\"X\"}"));
}

static void
test_no_separators (void)
{
  check (BIG, "{}{}[1]", EV ("M:{}", "M:{}", "M:[1]"));
  check (BIG, "[1][2]{\"a\":[3]}", EV ("M:[1]", "M:[2]", "M:{\"a\":[3]}"));
  check (BIG, "\"a\"\"b\"{}", EV ("M:\"a\"", "M:\"b\"", "M:{}"));
}

static void
test_whitespace (void)
{
  /* whitespace between messages is skipped, inside them it is kept */
  check (BIG, " \t\r\n{} \n\t[1]\r\n  { \"a\" :\t[ 1 ,\n2 ] }\n",
         EV ("M:{}", "M:[1]", "M:{ \"a\" :\t[ 1 ,\n2 ] }"));
  check (BIG, "\t\r\n \t", NO_EVENTS);
}

static void
test_byte_by_byte (void)
{
  static const char text[] = "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\","
                             "\"arg\":[\"-c\",\"echo '}'\"],\"capture-output\":true},\"id\":-7}";
  g_autoptr(QgaFramer) framer = qga_framer_new (BIG);
  g_autoptr(GPtrArray) events = events_new ();
  g_autofree char *expected = g_strconcat ("M:", text, NULL);

  for (gsize i = 0; i < strlen (text); i++)
    {
      push_drain (framer, text + i, 1, events, NULL);
      if (i + 1 < strlen (text))
        {
          g_assert_cmpuint (events->len, ==, 0);
          g_assert_false (qga_framer_is_idle (framer));
        }
    }
  assert_events (events, EV (expected));
  g_assert_true (qga_framer_is_idle (framer));
}

/* A message exercising every lexer state: braces and brackets and quotes in
 * strings, escaped quotes and backslashes, \u escapes, single quotes,
 * nested arrays, numbers of every shape, literals, non-ASCII text. */
static const char tricky[] =
  "{\"a}\":\"]{[\\\"}\\\\\",\"b\\\\\":[[1,[2,[-3.5e+2]]],\"\\u007d\\u0022\\\\u0000\"],"
  "'c\"}':'x\\'}]',\"d\":[true,false,null,0,-0,1E3],\"\xc3\xa9\":\"\xe2\x9c\x93\"}";

static void
test_split_every_boundary (void)
{
  gsize len = strlen (tricky);
  g_autofree char *expected = g_strconcat ("M:", tricky, NULL);

  check (BIG, tricky, EV (expected));

  /* every split into two pushes */
  for (gsize i = 0; i <= len; i++)
    {
      g_autoptr(QgaFramer) framer = qga_framer_new (BIG);
      g_autoptr(GPtrArray) events = events_new ();

      push_drain (framer, tricky, i, events, NULL);
      push_drain (framer, tricky + i, len - i, events, NULL);
      assert_events (events, EV (expected));
      g_assert_true (qga_framer_is_idle (framer));
    }

  /* every split into three pushes */
  for (gsize i = 0; i <= len; i++)
    for (gsize j = i; j <= len; j++)
      {
        g_autoptr(QgaFramer) framer = qga_framer_new (BIG);
        g_autoptr(GPtrArray) events = events_new ();

        push_drain (framer, tricky, i, events, NULL);
        push_drain (framer, tricky + i, j - i, events, NULL);
        push_drain (framer, tricky + j, len - j, events, NULL);
        assert_events (events, EV (expected));
      }

  /* the same, followed by a second message in the same stream */
  for (gsize i = 0; i <= len; i++)
    {
      g_autoptr(QgaFramer) framer = qga_framer_new (BIG);
      g_autoptr(GPtrArray) events = events_new ();
      g_autofree char *stream = g_strconcat (tricky, "[1]", NULL);

      push_drain (framer, stream, i, events, NULL);
      push_drain (framer, stream + i, strlen (stream) - i, events, NULL);
      assert_events (events, EV (expected, "M:[1]"));
    }
}

static void
test_strings_with_structural_chars (void)
{
  check (BIG, "{\"a\":\"}\"}", EV ("M:{\"a\":\"}\"}"));
  check (BIG, "{\"a\":\"]\"}", EV ("M:{\"a\":\"]\"}"));
  check (BIG, "{\"a\":\"{\"}", EV ("M:{\"a\":\"{\"}"));
  check (BIG, "[\"[[[{{{\"]", EV ("M:[\"[[[{{{\"]"));
  check (BIG, "{\"}}}\":\"]]]\"}", EV ("M:{\"}}}\":\"]]]\"}"));
  check (BIG, "{\"a\":\"\\\"}\"}", EV ("M:{\"a\":\"\\\"}\"}"));
  check (BIG, "{\"a\":\"\\\\\"}", EV ("M:{\"a\":\"\\\\\"}"));
  check (BIG, "{\"a\":\"\\\\\\\"}\"}[]", EV ("M:{\"a\":\"\\\\\\\"}\"}", "M:[]"));
  check (BIG, "[\"'\"]", EV ("M:[\"'\"]"));
  check (BIG, "[\",:\"]", EV ("M:[\",:\"]"));
  check (BIG, "[\"\\/\\b\\f\\n\\r\\t\"]", EV ("M:[\"\\/\\b\\f\\n\\r\\t\"]"));
  /* a \u escape spelling a quote does not end the string */
  check (BIG, "[\"\\u0022]\"]", EV ("M:[\"\\u0022]\"]"));
  /* a top-level string */
  check (BIG, "\"}{][\\\"\"{}", EV ("M:\"}{][\\\"\"", "M:{}"));
}

static void
test_strings_single_quoted (void)
{
  check (BIG, "{'a':'}'}", EV ("M:{'a':'}'}"));
  check (BIG, "['{[']", EV ("M:['{[']"));
  check (BIG, "['\"}']", EV ("M:['\"}']"));
  check (BIG, "['\\'}']", EV ("M:['\\'}']"));
  check (BIG, "['\\\\']{}", EV ("M:['\\\\']", "M:{}"));
  check (BIG, "[\"'}\"]", EV ("M:[\"'}\"]"));
  check (BIG, "'x}'{}", EV ("M:'x}'", "M:{}"));
}

/* ---- top-level scalars -------------------------------------------------- */

static void
test_scalar_number (void)
{
  check (BIG, "42 ", EV ("M:42"));
  check (BIG, "42\n", EV ("M:42"));
  check (BIG, "-1.5e3\t", EV ("M:-1.5e3"));
  check (BIG, "0\r", EV ("M:0"));
  check (BIG, "1 2 3 ", EV ("M:1", "M:2", "M:3"));
}

static void
test_scalar_string (void)
{
  check (BIG, "\"str\"", EV ("M:\"str\""));
  check (BIG, "'str'", EV ("M:'str'"));
  check (BIG, "\"\"", EV ("M:\"\""));
  check (BIG, "\"a\" \"b\"", EV ("M:\"a\"", "M:\"b\""));
}

static void
test_scalar_literal (void)
{
  check (BIG, "true ", EV ("M:true"));
  check (BIG, "false\n", EV ("M:false"));
  check (BIG, "null\t", EV ("M:null"));
}

/* A scalar ends at any structural character, which then frames on its own. */
static void
test_scalar_delimiters (void)
{
  check (BIG, "42{}", EV ("M:42", "M:{}"));
  check (BIG, "42[1]", EV ("M:42", "M:[1]"));
  check (BIG, "42\"s\"", EV ("M:42", "M:\"s\""));
  check (BIG, "42's'", EV ("M:42", "M:'s'"));
  check (BIG, "true}", EV ("M:true", "E:SYNTAX"));
  check (BIG, "null]", EV ("M:null", "E:SYNTAX"));
  check (BIG, "1,", EV ("M:1", "E:SYNTAX"));
  check (BIG, "1:", EV ("M:1", "E:SYNTAX"));
}

static void
test_scalar_pending (void)
{
  g_autoptr(QgaFramer) framer = qga_framer_new (BIG);
  g_autoptr(GPtrArray) events = events_new ();

  push_drain (framer, "42", 2, events, NULL);
  g_assert_cmpuint (events->len, ==, 0);
  g_assert_false (qga_framer_is_idle (framer));

  push_drain (framer, "3", 1, events, NULL);
  g_assert_cmpuint (events->len, ==, 0);
  g_assert_false (qga_framer_is_idle (framer));

  /* the delimiter completes it; the whole number is yielded */
  push_drain (framer, " ", 1, events, NULL);
  assert_events (events, EV ("M:423"));
  g_assert_true (qga_framer_is_idle (framer));

  /* a literal, and a delimiter that starts the next message */
  push_drain (framer, "tru", 3, events, NULL);
  push_drain (framer, "e", 1, events, NULL);
  g_assert_cmpuint (events->len, ==, 1);
  push_drain (framer, "{}", 2, events, NULL);
  assert_events (events, EV ("M:423", "M:true", "M:{}"));
}

/* ---- syntax errors ------------------------------------------------------ */

static void
test_stray_structural (void)
{
  static const char stray[] = "}],:";

  for (gsize i = 0; stray[i]; i++)
    {
      g_autofree char *text = g_strdup_printf ("%c{\"a\":1}", stray[i]);
      g_autofree char *text2 = g_strdup_printf ("{}\n%c\n[2]", stray[i]);
      g_autofree char *text3 = g_strdup_printf ("%c%c%c 7 ", stray[i], stray[i], stray[i]);

      check (BIG, text, EV ("E:SYNTAX", "M:{\"a\":1}"));
      check (BIG, text2, EV ("M:{}", "E:SYNTAX", "M:[2]"));
      check (BIG, text3, EV ("E:SYNTAX", "E:SYNTAX", "E:SYNTAX", "M:7"));
    }
  check (BIG, "{}}{}", EV ("M:{}", "E:SYNTAX", "M:{}"));
}

/* ---- reset bytes -------------------------------------------------------- */

static gboolean
expect_reset (guint8 c)
{
  return c == 0xFF || c == 0xFE || (c < 0x20 && c != '\t' && c != '\r' && c != '\n');
}

static void
test_reset_idle (void)
{
  static const guint8 bytes[] = { 0xFF, 0xFE, 0x00, 0x01, 0x1b, 0x1f, 0x08, 0x0b, 0x0c };

  for (gsize i = 0; i < G_N_ELEMENTS (bytes); i++)
    {
      char text[] = "X{\"a\":1}";

      text[0] = (char) bytes[i];
      check_one_push (BIG, text, sizeof text - 1, EV ("E:RESET", "M:{\"a\":1}"));
      check_byte_by_byte (BIG, text, sizeof text - 1, EV ("E:RESET", "M:{\"a\":1}"));
    }

  /* every byte of the range, exhaustively */
  for (guint c = 0; c < 0x20; c++)
    {
      char text[] = "X[1]";

      text[0] = (char) c;
      if (expect_reset (c))
        check_one_push (BIG, text, 4, EV ("E:RESET", "M:[1]"));
      else
        check_one_push (BIG, text, 4, EV ("M:[1]"));
    }

  /* several in a row: one error each */
  check_one_push (BIG, "\xff\xff\x01[]", 5, EV ("E:RESET", "E:RESET", "E:RESET", "M:[]"));
}

static void
test_reset_mid_message (void)
{
  static const guint8 bytes[] = { 0xFF, 0xFE, 0x00, 0x01, 0x1b };
  /* prefixes that leave the framer in each lexer state */
  static const char *const prefixes[] = {
    "{\"a\":",          /* inside an object */
    "[[[1",             /* inside a number, nested */
    "{\"a\":\"xy",      /* inside a string */
    "{\"a\":\"x\\",     /* right after a backslash */
    "[\"\\u00",         /* inside a \u escape */
    "['x",              /* inside a single-quoted string */
    "\"top",            /* inside a top-level string */
    "12",               /* inside a top-level number */
    "tru",              /* inside a top-level literal */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bytes); i++)
    for (gsize p = 0; p < G_N_ELEMENTS (prefixes); p++)
      {
        g_autoptr(GByteArray) text = g_byte_array_new ();

        g_byte_array_append (text, (const guint8 *) prefixes[p], strlen (prefixes[p]));
        g_byte_array_append (text, &bytes[i], 1);
        g_byte_array_append (text, (const guint8 *) " {\"b\":2}", 8);
        check_one_push (BIG, (const char *) text->data, text->len,
                        EV ("E:RESET", "M:{\"b\":2}"));
        check_byte_by_byte (BIG, (const char *) text->data, text->len,
                            EV ("E:RESET", "M:{\"b\":2}"));

        /* the partial message came in an earlier push */
        {
          g_autoptr(QgaFramer) framer = qga_framer_new (BIG);
          g_autoptr(GPtrArray) events = events_new ();

          push_drain (framer, prefixes[p], strlen (prefixes[p]), events, NULL);
          g_assert_false (qga_framer_is_idle (framer));
          push_drain (framer, &bytes[i], 1, events, NULL);
          g_assert_true (qga_framer_is_idle (framer));
          push_drain (framer, "[3]", 3, events, NULL);
          assert_events (events, EV ("E:RESET", "M:[3]"));
        }
      }
}

static void
test_reset_during_skip (void)
{
  /* a reset byte inside an oversized message ends the skipping too: what
   * follows is framed afresh */
  g_autofree char *big = g_strnfill (100, 'x');
  g_autofree char *text = g_strdup_printf ("[\"%s\xff[5]", big);

  check (64, text, EV ("E:TOO_LARGE", "E:RESET", "M:[5]"));
}

/* 0x7F (DEL) is not a reset byte; \t \r \n are whitespace, not reset bytes. */
static void
test_not_reset_bytes (void)
{
  check (BIG, "\t\r\n{\t\r\n}\t\r\n", EV ("M:{\t\r\n}"));
  check (BIG, "[\"a\x7f" "b\"]", EV ("M:[\"a\x7f" "b\"]"));
  /* at top level DEL starts a (bogus) scalar, left to the JSON parser */
  check (BIG, "\x7f {}", EV ("M:\x7f", "M:{}"));

  /* bytes 0x7F..0xFD inside a string pass through untouched */
  for (guint c = 0x7F; c <= 0xFD; c++)
    {
      char text[] = "[\"aXb\"]";

      text[3] = (char) c;
      {
        g_autofree char *expected = g_strconcat ("M:", text, NULL);

        check (BIG, text, EV (expected));
      }
    }
}

static void
test_guest_sync_delimited (void)
{
  static const char text[] =
    "\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":1}}";

  check (BIG, text,
         EV ("E:RESET", "M:{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":1}}"));

  /* the flush after garbage: half a command, then the sentinel, then the command */
  check (BIG, "{\"execute\":\"gue\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":2}}",
         EV ("E:RESET", "M:{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":2}}"));

  /* the delimited reply direction: 0xFF then the reply and a newline */
  check (BIG, "\xff{\"return\":2}\n", EV ("E:RESET", "M:{\"return\":2}"));
}

/* ---- size limit --------------------------------------------------------- */

/* A JSON object of exactly len bytes: {"a":"xxx...x"} */
static char *
object_of_size (gsize len)
{
  g_autofree char *fill = NULL;

  g_assert_cmpuint (len, >=, 8);
  fill = g_strnfill (len - 8, 'x');
  return g_strdup_printf ("{\"a\":\"%s\"}", fill);
}

static void
test_size_oversized_object (void)
{
  g_autofree char *big = object_of_size (100);
  g_autofree char *text = g_strconcat (big, "{\"next\":1}", NULL);

  g_assert_cmpuint (strlen (big), ==, 100);
  check (64, text, EV ("E:TOO_LARGE", "M:{\"next\":1}"));

  /* with whitespace and a second good message */
  {
    g_autofree char *text2 = g_strconcat ("[1]\n", big, "\n[2]\n", NULL);

    check (64, text2, EV ("M:[1]", "E:TOO_LARGE", "M:[2]"));
  }

  /* two oversized messages in a row: one error each */
  {
    g_autofree char *text3 = g_strconcat (big, big, "[3]", NULL);

    check (64, text3, EV ("E:TOO_LARGE", "E:TOO_LARGE", "M:[3]"));
  }
}

static void
test_size_oversized_nested (void)
{
  /* the skipped part has nested braces, brackets, strings with braces,
   * escaped quotes and backslashes, single quotes, and numbers/escapes that
   * would be errors if they were checked */
  g_autofree char *fill = g_strnfill (80, 'y');
  g_autofree char *text = g_strdup_printf (
    "{\"a\":\"%s\",\"b\":{\"c\":[[\"}}]]\",{\"d\":\"\\\"}\\\\\"}],'}\\''],"
    "\"e\":99999999999999999999,\"f\":\"\\u0000\",\"g\":[[[[]]]]}}"
    "{\"next\":1}", fill);

  check (64, text, EV ("E:TOO_LARGE", "M:{\"next\":1}"));

  /* the limit is reached while inside a nested string with braces */
  {
    g_autofree char *text2 = g_strdup_printf ("{\"a\":[{\"b\":\"}}}%s]]]\"}]}[7]", fill);

    check (64, text2, EV ("E:TOO_LARGE", "M:[7]"));
  }
}

static void
test_size_oversized_scalar (void)
{
  g_autofree char *digits = g_strnfill (100, '1');
  g_autofree char *letters = g_strnfill (100, 'n');
  g_autofree char *chars = g_strnfill (100, 'z');
  g_autofree char *text = g_strconcat (digits, " {\"next\":1}", NULL);
  g_autofree char *text2 = g_strconcat (letters, "[2]", NULL);
  g_autofree char *text3 = g_strconcat ("\"", chars, "}\" [3]", NULL);

  /* a huge number: TOO_LARGE only, not NUMBER_RANGE as well */
  check (64, text, EV ("E:TOO_LARGE", "M:{\"next\":1}"));
  /* ended by a structural character, which is not swallowed */
  check (64, text2, EV ("E:TOO_LARGE", "M:[2]"));
  /* a top-level string */
  check (64, text3, EV ("E:TOO_LARGE", "M:[3]"));
}

/* Exactly max_message_size bytes is allowed. */
static void
test_size_exact_limit (void)
{
  /* an object */
  {
    g_autofree char *obj = object_of_size (64);
    g_autofree char *text = g_strconcat (obj, "[1]", NULL);
    g_autofree char *expected = g_strconcat ("M:", obj, NULL);

    check (64, text, EV (expected, "M:[1]"));
  }

  /* a top-level string */
  {
    g_autofree char *fill = g_strnfill (62, 's');
    g_autofree char *text = g_strdup_printf ("\"%s\"[1]", fill);
    g_autofree char *expected = g_strdup_printf ("M:\"%s\"", fill);

    check (64, text, EV (expected, "M:[1]"));
  }

  /* a top-level scalar (the delimiter is not part of the message) */
  {
    g_autofree char *lit = g_strnfill (64, 't');
    g_autofree char *text = g_strconcat (lit, " [1]", NULL);
    g_autofree char *expected = g_strconcat ("M:", lit, NULL);

    check (64, text, EV (expected, "M:[1]"));
  }

  /* the limit applies per message, not per push */
  {
    g_autofree char *obj = object_of_size (64);
    g_autofree char *text = g_strconcat (obj, obj, obj, NULL);
    g_autofree char *expected = g_strconcat ("M:", obj, NULL);

    check (64, text, EV (expected, expected, expected));
  }
}

/* One byte more than max_message_size is rejected, for every kind of value. */
static void
test_size_one_over_limit (void)
{
  /* objects of limit + 1 and limit + 2 bytes */
  for (gsize extra = 1; extra <= 2; extra++)
    {
      g_autofree char *obj = object_of_size (64 + extra);
      g_autofree char *text = g_strconcat (obj, "[1]", NULL);

      check (64, text, EV ("E:TOO_LARGE", "M:[1]"));
    }

  /* an array of limit + 1 bytes */
  {
    g_autofree char *fill = g_strnfill (63, ' ');
    g_autofree char *text = g_strdup_printf ("[%s][1]", fill);

    g_assert_cmpuint (strlen (text), ==, 65 + 3);
    check (64, text, EV ("E:TOO_LARGE", "M:[1]"));
  }

  /* a top-level string of limit + 1 bytes */
  {
    g_autofree char *fill = g_strnfill (63, 's');
    g_autofree char *text = g_strdup_printf ("\"%s\"[1]", fill);

    check (64, text, EV ("E:TOO_LARGE", "M:[1]"));
  }

  /* a top-level scalar of limit + 1 bytes */
  {
    g_autofree char *lit = g_strnfill (65, 't');
    g_autofree char *text = g_strconcat (lit, " [1]", NULL);

    check (64, text, EV ("E:TOO_LARGE", "M:[1]"));
  }
}

static void
test_size_huge_stream (void)
{
  const gsize chunk = 64 * 1024;
  const gsize total = 10 * 1024 * 1024;
  g_autoptr(QgaFramer) framer = qga_framer_new (64);
  g_autoptr(GPtrArray) events = events_new ();
  g_autofree char *block = g_malloc (chunk);
  g_autoptr(GTimer) timer = g_timer_new ();

  /* a string member that never seems to end, with braces in it */
  memset (block, 'x', chunk);
  for (gsize i = 0; i < chunk; i += 1000)
    block[i] = (i / 1000) % 2 ? '}' : '{';

  push_drain (framer, "{\"data\":\"", 9, events, NULL);
  for (gsize sent = 0; sent < total; sent += chunk)
    {
      push_drain (framer, block, chunk, events, NULL);
      g_assert_false (qga_framer_is_idle (framer));
    }
  push_drain (framer, "\"}", 2, events, NULL);
  g_assert_true (qga_framer_is_idle (framer));
  push_drain (framer, "{\"next\":1}", 10, events, NULL);
  assert_events (events, EV ("E:TOO_LARGE", "M:{\"next\":1}"));
  /* generous, for valgrind: a framer that buffered and rescanned would be
   * quadratic and take far longer */
  g_assert_cmpfloat (g_timer_elapsed (timer, NULL), <, 60.0);

  /* the same for a huge top-level scalar */
  memset (block, '7', chunk);
  for (gsize sent = 0; sent < total; sent += chunk)
    push_drain (framer, block, chunk, events, NULL);
  push_drain (framer, " [2]", 4, events, NULL);
  assert_events (events, EV ("E:TOO_LARGE", "M:{\"next\":1}", "E:TOO_LARGE", "M:[2]"));
  g_assert_cmpfloat (g_timer_elapsed (timer, NULL), <, 120.0);
}

static void
test_size_get_max (void)
{
  g_autoptr(QgaFramer) framer = qga_framer_new (64);
  g_autoptr(QgaFramer) framer2 = qga_framer_new (16 * 1024 * 1024);

  g_assert_cmpuint (qga_framer_get_max_message_size (framer), ==, 64);
  g_assert_cmpuint (qga_framer_get_max_message_size (framer2), ==, 16 * 1024 * 1024);
}

/* ---- depth -------------------------------------------------------------- */

static char *
nested (gsize depth, const char *open, const char *close, const char *inner)
{
  GString *s = g_string_new (NULL);

  for (gsize i = 0; i < depth; i++)
    g_string_append (s, open);
  g_string_append (s, inner);
  for (gsize i = 0; i < depth; i++)
    g_string_append (s, close);
  return g_string_free (s, FALSE);
}

static void
test_depth_max_ok (void)
{
  g_autofree char *text = nested (QGA_FRAMER_MAX_DEPTH, "[", "]", "");
  g_autofree char *expected = g_strconcat ("M:", text, NULL);
  g_autofree char *text2 = nested (QGA_FRAMER_MAX_DEPTH / 2, "{\"a\":[", "]}", "1");
  g_autofree char *expected2 = g_strconcat ("M:", text2, NULL);

  check (BIG, text, EV (expected));
  check (BIG, text2, EV (expected2));
}

static void
test_depth_too_deep (void)
{
  g_autofree char *deep = nested (QGA_FRAMER_MAX_DEPTH + 1, "[", "]", "");
  g_autofree char *text = g_strconcat (deep, "{\"next\":1}", NULL);
  g_autofree char *deeper = nested (5000, "[", "]", "\"]]]}}}\",99999999999999999999,\"\\u0000\"");
  g_autofree char *text2 = g_strconcat (deeper, "\n[2]", NULL);
  g_autofree char *mixed = nested ((QGA_FRAMER_MAX_DEPTH + 2) / 2, "{\"a\":[", "]}", "1");
  g_autofree char *text3 = g_strconcat (mixed, " [3]", NULL);

  g_assert_cmpuint (strlen (deep), ==, 2 * (QGA_FRAMER_MAX_DEPTH + 1));
  check (BIG, text, EV ("E:TOO_DEEP", "M:{\"next\":1}"));
  /* much deeper, with errors inside that must not be reported as well */
  check (BIG, text2, EV ("E:TOO_DEEP", "M:[2]"));
  check (BIG, text3, EV ("E:TOO_DEEP", "M:[3]"));
}

/* ---- numbers ------------------------------------------------------------ */

static void
check_number_ok (const char *text)
{
  g_autofree char *expected = g_strconcat ("M:", text, NULL);
  g_autofree char *stream = g_strconcat (text, "\n", NULL);

  check (BIG, stream, EV (expected));
}

static void
check_number_bad (const char *text)
{
  g_autofree char *stream = g_strconcat (text, "\n{\"next\":1}", NULL);

  check (BIG, stream, EV ("E:NUMBER_RANGE", "M:{\"next\":1}"));
}

static void
test_number_range (void)
{
  static const char *const good[] = {
    "{\"a\":9223372036854775807}",
    "{\"a\":-9223372036854775808}",
    "[9223372036854775807,-9223372036854775808]",
    "[1000000000000000000,-1000000000000000000]",
    "[1.5e3]", "[-1.5E-3]", "[0]", "[-0]", "[1e308]", "[1e-400]",
    "[99999999999999999999.0]", "[-99999999999999999999.5]",
    "{\"a\":\"99999999999999999999\"}",
    "{\"99999999999999999999\":1}",
    "['99999999999999999999']",
    "[\"1e400\",\"-9223372036854775809\"]",
    "1.5e3", "9223372036854775807", "-9223372036854775808", "0",
    "\"99999999999999999999\"",
  };
  static const char *const bad[] = {
    "[9223372036854775808]",
    "[99999999999999999999]",
    "[-9223372036854775809]",
    "{\"a\":9223372036854775808}",
    "{\"a\":-99999999999999999999}",
    "{\"a\":1e400}", "[-1e400]", "[1E400]", "[1.0e+400]",
    "{\"a\":[1,2,{\"b\":[3,9223372036854775808]}]}",
    "[1,99999999999999999999,-99999999999999999999,1e999]",  /* one error */
    "9223372036854775808", "99999999999999999999", "-9223372036854775809", "1e400",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    check_number_ok (good[i]);
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    check_number_bad (bad[i]);

  /* a number split across pushes */
  {
    g_autoptr(QgaFramer) framer = qga_framer_new (BIG);
    g_autoptr(GPtrArray) events = events_new ();

    push_drain (framer, "[1,999999999", 12, events, NULL);
    push_drain (framer, "99999999999", 11, events, NULL);
    push_drain (framer, "]\n[9223372036", 13, events, NULL);
    push_drain (framer, "854775807]", 10, events, NULL);
    assert_events (events, EV ("E:NUMBER_RANGE", "M:[9223372036854775807]"));
  }
}

/* ---- \u0000 ------------------------------------------------------------- */

static void
test_nul_escape (void)
{
  check (BIG, "{\"a\":\"x\\u0000y\"}[1]", EV ("E:NUL", "M:[1]"));
  check (BIG, "{\"\\u0000\":1}[1]", EV ("E:NUL", "M:[1]"));
  check (BIG, "['\\u0000'][1]", EV ("E:NUL", "M:[1]"));
  check (BIG, "\"\\u0000\"[1]", EV ("E:NUL", "M:[1]"));
  check (BIG, "[\"\\u0000\",\"\\u0000\"][1]", EV ("E:NUL", "M:[1]"));

  check (BIG, "{\"a\":\"\\u0001\"}", EV ("M:{\"a\":\"\\u0001\"}"));
  check (BIG, "[\"\\u1000\\u0100\\u0010\\u000a\"]", EV ("M:[\"\\u1000\\u0100\\u0010\\u000a\"]"));
  /* an escaped backslash followed by the text u0000 */
  check (BIG, "[\"\\\\u0000\"]", EV ("M:[\"\\\\u0000\"]"));
  /* a string ending in an escaped backslash, then the text u0000 in the next */
  check (BIG, "[\"\\\\\",\"u0000\"]", EV ("M:[\"\\\\\",\"u0000\"]"));
}

/* ---- reset(), is_idle() ------------------------------------------------- */

static void
test_api_reset (void)
{
  g_autoptr(QgaFramer) framer = qga_framer_new (64);
  g_autoptr(GPtrArray) events = events_new ();
  g_autofree char *big = object_of_size (100);

  push_drain (framer, "{\"a\":[1,\"}", 10, events, NULL);
  g_assert_false (qga_framer_is_idle (framer));
  qga_framer_reset (framer);
  g_assert_true (qga_framer_is_idle (framer));
  push_drain (framer, "{\"b\":2}", 7, events, NULL);
  assert_events (events, EV ("M:{\"b\":2}"));

  /* a pending scalar */
  push_drain (framer, "12", 2, events, NULL);
  qga_framer_reset (framer);
  push_drain (framer, " [3]", 4, events, NULL);
  assert_events (events, EV ("M:{\"b\":2}", "M:[3]"));

  /* while skipping an oversized message */
  push_drain (framer, big, 90, events, NULL);
  g_assert_false (qga_framer_is_idle (framer));
  qga_framer_reset (framer);
  g_assert_true (qga_framer_is_idle (framer));
  push_drain (framer, "[4]", 3, events, NULL);
  assert_events (events, EV ("M:{\"b\":2}", "M:[3]", "E:TOO_LARGE", "M:[4]"));

  /* a pending error is forgotten too */
  push_drain (framer, "[99999999999999999999", 21, events, NULL);
  qga_framer_reset (framer);
  push_drain (framer, "[5]", 3, events, NULL);
  assert_events (events, EV ("M:{\"b\":2}", "M:[3]", "E:TOO_LARGE", "M:[4]", "M:[5]"));

  /* reset on a fresh or idle framer is harmless */
  qga_framer_reset (framer);
  qga_framer_reset (framer);
  g_assert_true (qga_framer_is_idle (framer));
}

static void
test_api_is_idle (void)
{
  g_autoptr(QgaFramer) framer = qga_framer_new (64);
  g_autoptr(GPtrArray) events = events_new ();

  g_assert_true (qga_framer_is_idle (framer));
  push_drain (framer, " \n", 2, events, NULL);
  g_assert_true (qga_framer_is_idle (framer));
  push_drain (framer, "{", 1, events, NULL);
  g_assert_false (qga_framer_is_idle (framer));
  push_drain (framer, "}", 1, events, NULL);
  g_assert_true (qga_framer_is_idle (framer));
  push_drain (framer, "\"", 1, events, NULL);
  g_assert_false (qga_framer_is_idle (framer));
  push_drain (framer, "\"", 1, events, NULL);
  g_assert_true (qga_framer_is_idle (framer));
  push_drain (framer, "42", 2, events, NULL);
  g_assert_false (qga_framer_is_idle (framer));
  push_drain (framer, "\n", 1, events, NULL);
  g_assert_true (qga_framer_is_idle (framer));
  push_drain (framer, "}", 1, events, NULL);
  g_assert_true (qga_framer_is_idle (framer));
  push_drain (framer, "\xff", 1, events, NULL);
  g_assert_true (qga_framer_is_idle (framer));
  assert_events (events, EV ("M:{}", "M:\"\"", "M:42", "E:SYNTAX", "E:RESET"));
}

/* Freeing a framer holding a partial message leaks nothing (valgrind). */
static void
test_api_free_partial (void)
{
  QgaFramer *framer = qga_framer_new (64);
  const char *message = NULL;
  gsize length = 0;

  qga_framer_push (framer, "{\"a\":\"b", 7);
  g_assert_cmpint (qga_framer_next (framer, &message, &length, NULL), ==, QGA_FRAMER_NEED_MORE);
  qga_framer_free (framer);
  qga_framer_free (NULL);
}

/* A NULL GError is allowed: errors are still skipped over. */
static void
test_api_null_error (void)
{
  g_autoptr(QgaFramer) framer = qga_framer_new (64);
  const char *message = NULL;
  gsize length = 0;

  qga_framer_push (framer, "}[1]", 4);
  g_assert_cmpint (qga_framer_next (framer, &message, &length, NULL), ==, QGA_FRAMER_FAILED);
  g_assert_cmpint (qga_framer_next (framer, &message, &length, NULL), ==, QGA_FRAMER_MESSAGE);
  g_assert_cmpmem (message, length, "[1]", 3);
  g_assert_cmpint (qga_framer_next (framer, &message, &length, NULL), ==, QGA_FRAMER_NEED_MORE);
}

/* ---- error texts -------------------------------------------------------- */

static void
check_error_text (gsize max, const char *data, gsize length, const char *expected)
{
  g_autoptr(QgaFramer) framer = qga_framer_new (max);
  g_autoptr(GPtrArray) events = events_new ();
  g_autoptr(GPtrArray) errors = events_new ();

  push_drain (framer, data, length, events, errors);
  g_assert_cmpuint (errors->len, ==, 1);
  if (errors->len > 0)
    g_assert_cmpstr (g_ptr_array_index (errors, 0), ==, expected);
}

static void
test_error_messages (void)
{
  g_autofree char *big = object_of_size (100);
  g_autofree char *deep = nested (QGA_FRAMER_MAX_DEPTH + 1, "[", "]", "");

  check_error_text (BIG, "\xff", 1, "JSON parse error, stray byte 0xff");
  check_error_text (BIG, "\xfe", 1, "JSON parse error, stray byte 0xfe");
  check_error_text (BIG, "\0", 1, "JSON parse error, stray byte 0x00");
  check_error_text (BIG, "{\x1b", 2, "JSON parse error, stray byte 0x1b");
  check_error_text (BIG, "}", 1, "JSON parse error, stray '}'");
  check_error_text (BIG, "]", 1, "JSON parse error, stray ']'");
  check_error_text (BIG, ",", 1, "JSON parse error, stray ','");
  check_error_text (BIG, ":", 1, "JSON parse error, stray ':'");
  check_error_text (64, big, strlen (big), "JSON message exceeds the size limit of 64 bytes");
  check_error_text (BIG, deep, strlen (deep), "JSON nesting depth limit exceeded (1024)");
  check_error_text (BIG, "[99999999999999999999]", 22, "JSON parse error, number out of range");
  check_error_text (BIG, "[\"\\u0000\"]", 10,
                    "JSON parse error, \\u0000 in a string is not supported");
}

/* ---- UTF-8 -------------------------------------------------------------- */

static void
test_utf8_passthrough (void)
{
  static const char obj[] = "{\"s\":\"h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac "
                            "\xf0\x9f\x98\x80\",\"\xc3\xa9\":'\xe6\x97\xa5'}";
  static const char str[] = "\"h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac\"";
  gsize len = strlen (obj);

  check (BIG, obj, EV ("M:{\"s\":\"h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac "
                       "\xf0\x9f\x98\x80\",\"\xc3\xa9\":'\xe6\x97\xa5'}"));
  check (BIG, str, EV ("M:\"h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac\""));

  /* byte-exact across every split, including inside a multi-byte sequence */
  for (gsize i = 0; i < len; i++)
    {
      g_autoptr(QgaFramer) framer = qga_framer_new (BIG);
      const char *message = NULL;
      gsize length = 0;
      g_autoptr(GError) error = NULL;

      qga_framer_push (framer, obj, i);
      g_assert_cmpint (qga_framer_next (framer, &message, &length, &error), ==,
                       QGA_FRAMER_NEED_MORE);
      qga_framer_push (framer, obj + i, len - i);
      g_assert_cmpint (qga_framer_next (framer, &message, &length, &error), ==,
                       QGA_FRAMER_MESSAGE);
      g_assert_no_error (error);
      g_assert_cmpmem (message, length, obj, len);
      g_assert_cmpint (qga_framer_next (framer, &message, &length, &error), ==,
                       QGA_FRAMER_NEED_MORE);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* report every failing test, not just the first */
  g_test_set_nonfatal_assertions ();

  g_test_add_func ("/framer/basic/single-object", test_single_object);
  g_test_add_func ("/framer/basic/pipelined", test_pipelined);
  g_test_add_func ("/framer/basic/no-separators", test_no_separators);
  g_test_add_func ("/framer/basic/whitespace", test_whitespace);
  g_test_add_func ("/framer/basic/byte-by-byte", test_byte_by_byte);
  g_test_add_func ("/framer/basic/split-every-boundary", test_split_every_boundary);
  g_test_add_func ("/framer/strings/structural-chars", test_strings_with_structural_chars);
  g_test_add_func ("/framer/strings/single-quoted", test_strings_single_quoted);
  g_test_add_func ("/framer/scalar/number", test_scalar_number);
  g_test_add_func ("/framer/scalar/string", test_scalar_string);
  g_test_add_func ("/framer/scalar/literal", test_scalar_literal);
  g_test_add_func ("/framer/scalar/delimiters", test_scalar_delimiters);
  g_test_add_func ("/framer/scalar/pending", test_scalar_pending);
  g_test_add_func ("/framer/syntax/stray", test_stray_structural);
  g_test_add_func ("/framer/reset/idle", test_reset_idle);
  g_test_add_func ("/framer/reset/mid-message", test_reset_mid_message);
  g_test_add_func ("/framer/reset/during-skip", test_reset_during_skip);
  g_test_add_func ("/framer/reset/not-reset-bytes", test_not_reset_bytes);
  g_test_add_func ("/framer/reset/guest-sync-delimited", test_guest_sync_delimited);
  g_test_add_func ("/framer/size/oversized-object", test_size_oversized_object);
  g_test_add_func ("/framer/size/oversized-nested", test_size_oversized_nested);
  g_test_add_func ("/framer/size/oversized-scalar", test_size_oversized_scalar);
  g_test_add_func ("/framer/size/exact-limit", test_size_exact_limit);
  g_test_add_func ("/framer/size/one-over-limit", test_size_one_over_limit);
  g_test_add_func ("/framer/size/huge-stream", test_size_huge_stream);
  g_test_add_func ("/framer/size/get-max", test_size_get_max);
  g_test_add_func ("/framer/depth/max-ok", test_depth_max_ok);
  g_test_add_func ("/framer/depth/too-deep", test_depth_too_deep);
  g_test_add_func ("/framer/number/range", test_number_range);
  g_test_add_func ("/framer/string/nul-escape", test_nul_escape);
  g_test_add_func ("/framer/api/reset", test_api_reset);
  g_test_add_func ("/framer/api/is-idle", test_api_is_idle);
  g_test_add_func ("/framer/api/free-partial", test_api_free_partial);
  g_test_add_func ("/framer/api/null-error", test_api_null_error);
  g_test_add_func ("/framer/errors/messages", test_error_messages);
  g_test_add_func ("/framer/utf8/passthrough", test_utf8_passthrough);

  return g_test_run ();
}
