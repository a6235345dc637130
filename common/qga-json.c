/* qga-json.c: JSON text to trees and back, quickly (see qga-json.h). */
#include "config.h"

#include <string.h>

#include "qga-json.h"

/* One parser and one generator per thread, reused: creating and
 * finalizing them costs about as much as parsing or writing a small
 * message. */
static void
free_thread_object (gpointer object)
{
  g_object_unref (object);
}

static JsonParser *
thread_parser (void)
{
  static GPrivate key = G_PRIVATE_INIT (free_thread_object);
  JsonParser *parser = g_private_get (&key);

  if (parser == NULL)
    {
      parser = json_parser_new_immutable ();
      g_private_set (&key, parser);
    }
  return parser;
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
 * json-glib sets up a new scanner for every text it parses, which costs
 * more than all the rest of the work on a message. Messages are nearly
 * always strict JSON with no escapes in their strings: those are parsed
 * here, into the tree json-glib would build (members in order, parents
 * set, every node sealed). Anything else (escapes, single quotes,
 * comments, numbers with a fraction or an exponent or leading zeros,
 * duplicate or empty member names, malformed input) is left to json-glib,
 * so what is accepted and every error message stay exactly json-glib's.
 */

typedef struct {
  const char *p;
  const char *end;
} Cursor;

static JsonNode *fast_value (Cursor *c);

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

/* After a number or a literal, json-glib's scanner needs a delimiter. */
static gboolean
at_delimiter (Cursor *c)
{
  return c->p == c->end || (*c->p != '\0' && strchr (" \t\n\r,]}", *c->p) != NULL);
}

/* The body of a string at c->p (past its '"'), up to the closing quote;
 * NULL if it has an escape or a raw control character. */
static const char *
fast_string_body (Cursor *c, gsize *length)
{
  const char *start = c->p;

  while (c->p < c->end && *c->p != '"')
    {
      if (*c->p == '\\' || (guchar) *c->p < 0x20)
        return NULL;
      c->p++;
    }
  if (c->p == c->end)
    return NULL;
  *length = c->p++ - start;
  return start;
}

static JsonNode *
fast_string (Cursor *c)
{
  g_autofree char *text = NULL;
  const char *body;
  gsize length;

  c->p++;
  body = fast_string_body (c, &length);
  if (body == NULL)
    return NULL;
  text = g_strndup (body, length);
  return json_node_init_string (json_node_alloc (), text);
}

/* -?(0|[1-9][0-9]*), at most 18 digits: exactly an int64, as json-glib reads it. */
static JsonNode *
fast_integer (Cursor *c)
{
  const char *start = c->p;
  const char *digits;
  char number[20];

  if (*c->p == '-')
    c->p++;
  digits = c->p;
  while (c->p < c->end && g_ascii_isdigit (*c->p))
    c->p++;
  if (c->p == digits || c->p - digits > 18 || (c->p - digits > 1 && *digits == '0') ||
      !at_delimiter (c))
    return NULL;
  /* The text need not end here with a NUL. */
  memcpy (number, start, c->p - start);
  number[c->p - start] = '\0';
  return json_node_init_int (json_node_alloc (), g_ascii_strtoll (number, NULL, 10));
}

static JsonNode *
fast_literal (Cursor *c)
{
  static const struct { const char *text; gsize length; } literals[] = {
    { "true", 4 }, { "false", 5 }, { "null", 4 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (literals); i++)
    if ((gsize) (c->end - c->p) >= literals[i].length &&
        memcmp (c->p, literals[i].text, literals[i].length) == 0)
      {
        c->p += literals[i].length;
        if (!at_delimiter (c))
          return NULL;
        if (i == 2)
          return json_node_init_null (json_node_alloc ());
        return json_node_init_boolean (json_node_alloc (), i == 0);
      }
  return NULL;
}

/* One "name": value pair into object; FALSE to give up. */
static gboolean
fast_member (Cursor *c, JsonNode *node, JsonObject *object)
{
  g_autofree char *name = NULL;
  const char *body;
  gsize length;
  JsonNode *value;

  if (!take (c, '"') || (body = fast_string_body (c, &length)) == NULL || length == 0)
    return FALSE;
  name = g_strndup (body, length);
  if (json_object_has_member (object, name) || !take (c, ':'))
    return FALSE;
  value = fast_value (c);
  if (value == NULL)
    return FALSE;
  json_node_set_parent (value, node);
  json_object_set_member (object, name, value);
  return TRUE;
}

static JsonNode *
fast_object (Cursor *c)
{
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  c->p++;
  if (take (c, '}'))
    return g_steal_pointer (&node);
  do
    if (!fast_member (c, node, object))
      return NULL;
  while (take (c, ','));
  return take (c, '}') ? g_steal_pointer (&node) : NULL;
}

static JsonNode *
fast_array (Cursor *c)
{
  g_autoptr(JsonArray) array = json_array_new ();
  g_autoptr(JsonNode) node = json_node_init_array (json_node_alloc (), array);

  c->p++;
  if (take (c, ']'))
    return g_steal_pointer (&node);
  do
    {
      JsonNode *element = fast_value (c);

      if (element == NULL)
        return NULL;
      json_node_set_parent (element, node);
      json_array_add_element (array, element);
    }
  while (take (c, ','));
  return take (c, ']') ? g_steal_pointer (&node) : NULL;
}

static JsonNode *
fast_value (Cursor *c)
{
  skip_blanks (c);
  if (c->p == c->end)
    return NULL;
  switch (*c->p)
    {
    case '{':
      return fast_object (c);
    case '[':
      return fast_array (c);
    case '"':
      return fast_string (c);
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      return fast_integer (c);
    default:
      return fast_literal (c);
    }
}

/* The tree of a strict JSON text, or NULL for json-glib to parse it. */
static JsonNode *
fast_parse (const char *text, gsize length)
{
  Cursor c = { text, text + length };
  g_autoptr(JsonNode) root = fast_value (&c);

  skip_blanks (&c);
  if (root == NULL || c.p != c.end)
    return NULL;
  json_node_seal (root);
  return g_steal_pointer (&root);
}

JsonNode *
qga_json_parse (const char *text, gsize length, GError **error)
{
  JsonNode *root = fast_parse (text, length);
  JsonParser *parser;

  if (root != NULL)
    return root;
  parser = thread_parser ();
  if (!json_parser_load_from_data (parser, text, length, error))
    return NULL;
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE, "no value");
      return NULL;
    }
  return json_parser_steal_root (parser);
}
