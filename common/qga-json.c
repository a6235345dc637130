/* qga-json.c: JSON text to trees and back, quickly (see qga-json.h). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "qga-json.h"

/* One generator per thread, reused: creating and finalizing one costs
 * about as much as writing a small message. */
static void
free_thread_object (gpointer object)
{
  g_object_unref (object);
}

JsonGenerator *
qga_json_thread_generator (void)
{
  static GPrivate key = G_PRIVATE_INIT (free_thread_object);
  JsonGenerator *generator = g_private_get (&key);

  if (generator == NULL)
    {
      generator = json_generator_new ();
      g_private_set (&key, generator);
    }
  return generator;
}

/* --- parsing -------------------------------------------------------------
 *
 * A strict recursive-descent parser that builds the tree json-glib would
 * build (members in order, a repeated member's last value winning, parents
 * set, every node sealed). json-glib's own parser is not used for peer
 * input: besides setting up a scanner per text, version 1.6 leaks the
 * partly built tree whenever a text fails to parse, which would let a peer
 * grow our memory one malformed message at a time.
 *
 * Accepted: RFC 8259 JSON, plus QEMU's single-quoted strings and its \'
 * escape. Nesting is bounded here too, although the framer already
 * limits it.
 */

#define MAX_DEPTH 1100

typedef struct {
  const char *start;
  const char *p;
  const char *end;
  guint depth;
  GError **error;
} Cursor;

static JsonNode *parse_value (Cursor *c);

static JsonNode *
fail (Cursor *c, const char *what)
{
  if (c->p < c->end)
    g_set_error (c->error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                 "%s at offset %" G_GSIZE_FORMAT " ('%c')", what,
                 (gsize) (c->p - c->start), g_ascii_isprint (*c->p) ? *c->p : '?');
  else
    g_set_error (c->error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                 "%s at the end of the text", what);
  return NULL;
}

static gboolean
failed (Cursor *c, const char *what)
{
  fail (c, what);
  return FALSE;
}

static void
skip_blanks (Cursor *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static gboolean
take (Cursor *c, char expected)
{
  skip_blanks (c);
  if (c->p == c->end || *c->p != expected)
    return FALSE;
  c->p++;
  return TRUE;
}

static int
hex_digit (char ch)
{
  if (g_ascii_isdigit (ch))
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* Four hex digits after "\u"; -1 if they are not. */
static gint32
read_hex4 (Cursor *c)
{
  gint32 value = 0;

  if (c->end - c->p < 4)
    return -1;
  for (int i = 0; i < 4; i++)
    {
      int digit = hex_digit (c->p[i]);

      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }
  c->p += 4;
  return value;
}

/* A \uXXXX escape (c->p just past the 'u'), with its low surrogate if it
 * starts a pair. */
static gboolean
read_unicode_escape (Cursor *c, GString *out)
{
  gint32 unit = read_hex4 (c);
  gunichar ch;

  if (unit < 0)
    return FALSE;
  ch = unit;
  if (unit >= 0xD800 && unit <= 0xDBFF)
    {
      gint32 low;

      if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u')
        return FALSE;
      c->p += 2;
      low = read_hex4 (c);
      if (low < 0xDC00 || low > 0xDFFF)
        return FALSE;
      ch = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
  else if ((unit >= 0xDC00 && unit <= 0xDFFF) || unit == 0)
    return FALSE;   /* a lone low surrogate; NUL cannot live in a C string */
  g_string_append_unichar (out, ch);
  return TRUE;
}

static gboolean
read_escape (Cursor *c, GString *out)
{
  static const char from[] = "\"\\/'bfnrt";
  static const char to[] = "\"\\/'\b\f\n\r\t";
  const char *found;

  if (c->p == c->end)
    return FALSE;
  if (*c->p == 'u')
    {
      c->p++;
      return read_unicode_escape (c, out);
    }
  found = strchr (from, *c->p);
  if (*c->p == '\0' || found == NULL)
    return FALSE;
  g_string_append_c (out, to[found - from]);
  c->p++;
  return TRUE;
}

/* A string's text into out; c->p at its opening quote. */
static gboolean
read_string (Cursor *c, GString *out)
{
  char quote = *c->p++;

  while (c->p < c->end && *c->p != quote)
    {
      const char *run = c->p;

      while (c->p < c->end && *c->p != quote && *c->p != '\\' && (guchar) *c->p >= 0x20)
        c->p++;
      g_string_append_len (out, run, c->p - run);
      if (c->p == c->end || *c->p == quote)
        break;
      if ((guchar) *c->p < 0x20)
        return failed (c, "control character in a string");
      c->p++;
      if (!read_escape (c, out))
        return failed (c, "invalid escape in a string");
    }
  if (c->p == c->end)
    return failed (c, "unterminated string");
  c->p++;
  return TRUE;
}

static JsonNode *
parse_string (Cursor *c)
{
  g_autoptr(GString) text = g_string_new (NULL);

  if (!read_string (c, text))
    return NULL;
  return json_node_init_string (json_node_alloc (), text->str);
}

static gboolean
skip_digits (Cursor *c)
{
  const char *first = c->p;

  while (c->p < c->end && g_ascii_isdigit (*c->p))
    c->p++;
  return c->p > first;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static JsonNode *
parse_number (Cursor *c)
{
  const char *start = c->p;
  gboolean integer = TRUE;
  char text[64];
  gsize length;

  if (*c->p == '-')
    c->p++;
  if (c->p < c->end && *c->p == '0')
    c->p++;
  else if (!skip_digits (c))
    return fail (c, "invalid number");
  if (c->p < c->end && *c->p == '.')
    {
      c->p++;
      integer = FALSE;
      if (!skip_digits (c))
        return fail (c, "invalid number");
    }
  if (c->p < c->end && (*c->p == 'e' || *c->p == 'E'))
    {
      c->p++;
      integer = FALSE;
      if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
        c->p++;
      if (!skip_digits (c))
        return fail (c, "invalid number");
    }
  length = c->p - start;
  if (length >= sizeof text)
    return fail (c, "number too long");
  memcpy (text, start, length);
  text[length] = '\0';
  if (integer)
    {
      gint64 value;

      if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &value, NULL))
        return fail (c, "number out of range");
      return json_node_init_int (json_node_alloc (), value);
    }
  {
    double value = g_ascii_strtod (text, NULL);

    if (!isfinite (value))
      return fail (c, "number out of range");
    return json_node_init_double (json_node_alloc (), value);
  }
}

static JsonNode *
parse_literal (Cursor *c)
{
  static const struct { const char *text; gsize length; } literals[] = {
    { "true", 4 }, { "false", 5 }, { "null", 4 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (literals); i++)
    if ((gsize) (c->end - c->p) >= literals[i].length &&
        memcmp (c->p, literals[i].text, literals[i].length) == 0)
      {
        c->p += literals[i].length;
        if (i == 2)
          return json_node_init_null (json_node_alloc ());
        return json_node_init_boolean (json_node_alloc (), i == 0);
      }
  return fail (c, "unexpected character");
}

/* One "name": value pair into object. */
static gboolean
parse_member (Cursor *c, JsonNode *node, JsonObject *object)
{
  g_autoptr(GString) name = g_string_new (NULL);
  JsonNode *value;

  skip_blanks (c);
  if (c->p == c->end || (*c->p != '"' && *c->p != '\''))
    return failed (c, "expected a member name");
  if (!read_string (c, name))
    return FALSE;
  if (!take (c, ':'))
    return failed (c, "expected ':'");
  value = parse_value (c);
  if (value == NULL)
    return FALSE;
  json_node_set_parent (value, node);
  json_object_set_member (object, name->str, value);
  return TRUE;
}

static JsonNode *
parse_object (Cursor *c)
{
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  c->p++;
  if (take (c, '}'))
    return g_steal_pointer (&node);
  do
    if (!parse_member (c, node, object))
      return NULL;
  while (take (c, ','));
  if (!take (c, '}'))
    return fail (c, "expected ',' or '}'");
  return g_steal_pointer (&node);
}

static JsonNode *
parse_array (Cursor *c)
{
  g_autoptr(JsonArray) array = json_array_new ();
  g_autoptr(JsonNode) node = json_node_init_array (json_node_alloc (), array);

  c->p++;
  if (take (c, ']'))
    return g_steal_pointer (&node);
  do
    {
      JsonNode *element = parse_value (c);

      if (element == NULL)
        return NULL;
      json_node_set_parent (element, node);
      json_array_add_element (array, element);
    }
  while (take (c, ','));
  if (!take (c, ']'))
    return fail (c, "expected ',' or ']'");
  return g_steal_pointer (&node);
}

static JsonNode *
parse_value (Cursor *c)
{
  JsonNode *node;

  skip_blanks (c);
  if (c->p == c->end)
    return fail (c, "expected a value");
  if (++c->depth > MAX_DEPTH)
    return fail (c, "nested too deeply");
  switch (*c->p)
    {
    case '{':
      node = parse_object (c);
      break;
    case '[':
      node = parse_array (c);
      break;
    case '"':
    case '\'':
      node = parse_string (c);
      break;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      node = parse_number (c);
      break;
    default:
      node = parse_literal (c);
      break;
    }
  c->depth--;
  return node;
}

JsonNode *
qga_json_parse (const char *text, gsize length, GError **error)
{
  Cursor c = { text, text, text + length, 0, error };
  g_autoptr(JsonNode) root = parse_value (&c);

  if (root == NULL)
    return NULL;
  skip_blanks (&c);
  if (c.p != c.end)
    return fail (&c, "trailing data after the value");
  json_node_seal (root);
  return g_steal_pointer (&root);
}
