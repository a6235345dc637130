/* qga-wire.c: parsing, classifying and building wire messages. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "qga-error.h"
#include "qga-framer.h"
#include "qga-json.h"
#include "qga-wire.h"

#define NAME_MAX_LEN 128

JsonNode *
qga_wire_parse (const char *text, gsize length, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (!g_utf8_validate (text, length, NULL))
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_PROTOCOL,
                           "JSON parse error, invalid UTF-8");
      return NULL;
    }
  root = qga_json_parse (text, length, &local_error);
  if (root == NULL)
    g_set_error (error, QGA_ERROR, QGA_ERROR_PROTOCOL, "JSON parse error, %s",
                 local_error->message);
  return root;
}

JsonNode *
qga_wire_build_info (const char *version, const QgaWireCommandInfo *commands, gsize n_commands)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, version);
  json_builder_set_member_name (builder, "supported_commands");
  json_builder_begin_array (builder);
  for (gsize i = 0; i < n_commands; i++)
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "enabled");
      json_builder_add_boolean_value (builder, commands[i].enabled);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, commands[i].name);
      json_builder_set_member_name (builder, "success-response");
      json_builder_add_boolean_value (builder, commands[i].success_response);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

QgaWireKind
qga_wire_classify (JsonNode *root)
{
  JsonObject *object;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return QGA_WIRE_INVALID;
  object = json_node_get_object (root);
  if (json_object_has_member (object, "execute"))
    return QGA_WIRE_COMMAND;
  if (json_object_has_member (object, "return"))
    return QGA_WIRE_RETURN;
  if (json_object_has_member (object, "error"))
    return QGA_WIRE_ERROR;
  if (json_object_has_member (object, "event"))
    return QGA_WIRE_EVENT;
  return QGA_WIRE_INVALID;
}

/* --- building ------------------------------------------------------------
 *
 * A line is written straight into one GString: the envelope by hand (its
 * members are fixed), the values by append_node() below. Building a
 * JsonBuilder tree to generate it whole, then copying the text to escape
 * it, cost more than all the rest of the bridge's work on a message. The
 * bytes are json-glib's generator's (compact JSON, members in order, its
 * escapes), except where json-glib 1.6 writes what is not valid JSON or
 * what a framer takes for a resync byte:
 *
 *  - it writes U+001F raw inside strings. Raw control bytes are resync
 *    bytes to the peer's framer, so a peer's string could otherwise cut
 *    our message short and smuggle in one of its own: every byte below
 *    0x20 is escaped here;
 *  - it appends ".0" to every double written without a '.', exponents
 *    included: 1e-08 became "1e-08.0", which no JSON parser accepts, so
 *    a number a peer sent us in host-echo's arguments or an event's data
 *    came back to it (or went to a D-Bus caller) as broken JSON. Here
 *    ".0" is added only to a double with neither '.' nor exponent.
 */

static void
append_int (GString *out, gint64 value)
{
  char digits[24];

  g_snprintf (digits, sizeof digits, "%" G_GINT64_FORMAT, value);
  g_string_append (out, digits);
}

static void
append_double (GString *out, double value)
{
  char digits[G_ASCII_DTOSTR_BUF_SIZE];

  /* Non-finite values never come from the wire (the framer refuses
   * them) and have no JSON text; json-glib writes them as C does. */
  g_ascii_dtostr (digits, sizeof digits, value);
  g_string_append (out, digits);
  if (isfinite (value) && strpbrk (digits, ".eE") == NULL)
    g_string_append (out, ".0");   /* stays a double when read back */
}

/* text between quotes, escaped as json-glib escapes it, plus U+001F */
static void
append_quoted (GString *out, const char *text)
{
  const char *run = text;
  const char *p;

  g_string_append_c (out, '"');
  for (p = text; *p != '\0'; p++)
    {
      guchar c = *p;
      const char *escape;
      char hex[8];

      if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
        continue;
      switch (c)
        {
        case '"': escape = "\\\""; break;
        case '\\': escape = "\\\\"; break;
        case '\b': escape = "\\b"; break;
        case '\f': escape = "\\f"; break;
        case '\n': escape = "\\n"; break;
        case '\r': escape = "\\r"; break;
        case '\t': escape = "\\t"; break;
        default:
          g_snprintf (hex, sizeof hex, "\\u%04x", c);
          escape = hex;
          break;
        }
      g_string_append_len (out, run, p - run);
      g_string_append (out, escape);
      run = p + 1;
    }
  g_string_append_len (out, run, p - run);
  g_string_append_c (out, '"');
}

/* The JSON text of node, appended. Depth is bounded by the parser's (and
 * the framer's) nesting limit for anything that came from a peer. */
static void
append_node (GString *out, JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        gboolean first = TRUE;

        g_string_append_c (out, '{');
        json_object_iter_init_ordered (&iter, json_node_get_object (node));
        while (json_object_iter_next_ordered (&iter, &name, &member))
          {
            if (!first)
              g_string_append_c (out, ',');
            first = FALSE;
            append_quoted (out, name);
            g_string_append_c (out, ':');
            append_node (out, member);
          }
        g_string_append_c (out, '}');
      }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint length = json_array_get_length (array);

        g_string_append_c (out, '[');
        for (guint i = 0; i < length; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            append_node (out, json_array_get_element (array, i));
          }
        g_string_append_c (out, ']');
      }
      break;
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      break;
    case JSON_NODE_VALUE:
    default:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          append_int (out, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          append_double (out, json_node_get_double (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        case G_TYPE_STRING:
          append_quoted (out, json_node_get_string (node));
          break;
        default:
          /* not built by the parser or by our code */
          g_string_append (out, "null");
          break;
        }
      break;
    }
}

/* TRUE if json-glib would write text between quotes as it is. */
static gboolean
needs_no_escape (const char *text)
{
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
      return FALSE;
  return TRUE;
}

static void
append_string (GString *out, const char *text)
{
  g_autoptr(JsonNode) node = NULL;

  if (needs_no_escape (text))
    {
      g_string_append_c (out, '"');
      g_string_append (out, text);
      g_string_append_c (out, '"');
      return;
    }
  node = json_node_init_string (json_node_alloc (), text);
  append_node (out, node);
}

/* ,"name":value — nothing if value is NULL. */
static void
append_member (GString *out, const char *name, JsonNode *value)
{
  if (value == NULL)
    return;
  g_string_append (out, ",\"");
  g_string_append (out, name);
  g_string_append (out, "\":");
  append_node (out, value);
}

char *
qga_wire_to_string (JsonNode *node)
{
  GString *out = g_string_sized_new (64);

  append_node (out, node);
  return g_string_free (out, FALSE);
}

static GString *
begin_line (gboolean delimited, const char *first_member)
{
  GString *line = g_string_sized_new (128);

  if (delimited)
    g_string_append_c (line, (char) QGA_WIRE_SENTINEL);
  g_string_append (line, "{\"");
  g_string_append (line, first_member);
  g_string_append (line, "\":");
  return line;
}

static GBytes *
end_line (GString *line)
{
  g_string_append (line, "}\n");
  return g_string_free_to_bytes (line);
}

GBytes *
qga_wire_build_command (const char *name, JsonNode *arguments, JsonNode *id)
{
  GString *line = begin_line (FALSE, "execute");

  append_string (line, name);
  append_member (line, "arguments", arguments);
  append_member (line, "id", id);
  return end_line (line);
}

GBytes *
qga_wire_build_return (JsonNode *value, JsonNode *id, gboolean delimited)
{
  GString *line = begin_line (delimited, "return");

  if (value != NULL)
    append_node (line, value);
  else
    g_string_append (line, "{}");
  append_member (line, "id", id);
  return end_line (line);
}

GBytes *
qga_wire_build_error (const char *error_class, const char *desc, JsonNode *id,
                      gboolean delimited)
{
  GString *line = begin_line (delimited, "error");

  g_string_append (line, "{\"class\":");
  append_string (line, error_class);
  g_string_append (line, ",\"desc\":");
  append_string (line, desc);
  g_string_append_c (line, '}');
  append_member (line, "id", id);
  return end_line (line);
}

GString *
qga_wire_begin_event (const char *name, gsize reserve)
{
  GString *line = g_string_sized_new (reserve + 128);

  g_string_append (line, "{\"event\":");
  append_string (line, name);
  g_string_append (line, ",\"data\":");
  return line;
}

GBytes *
qga_wire_end_event (GString *line)
{
  gint64 now = g_get_real_time ();

  g_string_append (line, ",\"timestamp\":{\"seconds\":");
  append_int (line, now / G_USEC_PER_SEC);
  g_string_append (line, ",\"microseconds\":");
  append_int (line, now % G_USEC_PER_SEC);
  g_string_append_c (line, '}');
  return end_line (line);
}

GBytes *
qga_wire_build_event (const char *name, JsonNode *data)
{
  GString *line = begin_line (FALSE, "event");

  append_string (line, name);
  append_member (line, "data", data);
  return qga_wire_end_event (line);
}

/* Run caller-supplied text through the same framer checks as wire input, so
 * that nothing json-glib would silently mangle reaches the other side. */
JsonNode *
qga_wire_parse_object (const char *text, gsize max_size, GError **error)
{
  g_autoptr(QgaFramer) framer = NULL;
  g_autoptr(JsonNode) node = NULL;
  const char *message = NULL;
  gsize length = 0, len = strlen (text);
  QgaFramerStatus status;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *padded = NULL;

  if (len > max_size)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                   "JSON text of %" G_GSIZE_FORMAT " bytes exceeds the limit of %" G_GSIZE_FORMAT,
                   len, max_size);
      return NULL;
    }
  if (strspn (text, " \t\r\n") == len)
    {
      g_autoptr(JsonObject) empty = json_object_new ();

      return json_node_init_object (json_node_alloc (), empty);
    }

  framer = qga_framer_new (max_size);
  padded = g_strconcat (text, " ", NULL);  /* the space ends a trailing scalar */
  qga_framer_push (framer, padded, len + 1);
  status = qga_framer_next (framer, &message, &length, &local_error);
  if (status == QGA_FRAMER_FAILED)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_PROTOCOL, "%s", local_error->message);
      return NULL;
    }
  if (status != QGA_FRAMER_MESSAGE)
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_PROTOCOL, "JSON parse error, incomplete value");
      return NULL;
    }
  node = qga_wire_parse (message, length, error);
  if (node == NULL)
    return NULL;
  if (qga_framer_next (framer, &message, &length, NULL) != QGA_FRAMER_NEED_MORE ||
      !qga_framer_is_idle (framer))
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_PROTOCOL,
                           "JSON parse error, trailing data after the value");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_PROTOCOL, "expected a JSON object");
      return NULL;
    }
  return g_steal_pointer (&node);
}

static gboolean
name_chars_valid (const char *s, gboolean (*ok) (char c))
{
  if (*s == '\0')
    return FALSE;
  for (; *s; s++)
    if (!ok (*s))
      return FALSE;
  return TRUE;
}

static gboolean
is_command_char (char c)
{
  return g_ascii_islower (c) || g_ascii_isdigit (c) || c == '-';
}

static gboolean
is_event_char (char c)
{
  return g_ascii_isupper (c) || g_ascii_isdigit (c) || c == '_';
}

gboolean
qga_wire_command_name_is_valid (const char *name, const char *prefix)
{
  if (name == NULL || strlen (name) > NAME_MAX_LEN || !g_str_has_prefix (name, prefix))
    return FALSE;
  return name_chars_valid (name + strlen (prefix), is_command_char);
}

gboolean
qga_wire_event_name_is_valid (const char *name)
{
  if (name == NULL || strlen (name) > NAME_MAX_LEN || !g_ascii_isupper (name[0]))
    return FALSE;
  return name_chars_valid (name, is_event_char);
}

static gboolean
check_member (const char *name, JsonNode *value, GError **error)
{
  if (g_str_equal (name, "execute"))
    {
      if (JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING)
        return TRUE;
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                           "QMP input member 'execute' must be a string");
      return FALSE;
    }
  if (g_str_equal (name, "arguments"))
    {
      if (JSON_NODE_HOLDS_OBJECT (value))
        return TRUE;
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                           "QMP input member 'arguments' must be an object");
      return FALSE;
    }
  if (g_str_equal (name, "id"))
    return TRUE;
  g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
               "QMP input member '%s' is unexpected", name);
  return FALSE;
}

gboolean
qga_wire_check_command (JsonObject *request, GError **error)
{
  g_autoptr(GList) members = json_object_get_members (request);

  for (GList *l = members; l != NULL; l = l->next)
    if (!check_member (l->data, json_object_get_member (request, l->data), error))
      return FALSE;
  if (!json_object_has_member (request, "execute"))
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                           "QMP input lacks member 'execute'");
      return FALSE;
    }
  return TRUE;
}

const char *
qga_wire_get_string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

gboolean
qga_wire_get_int_id (JsonObject *object, gint64 *id)
{
  JsonNode *node = json_object_get_member (object, "id");

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *id = json_node_get_int (node);
  return TRUE;
}
