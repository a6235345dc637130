/* qga-wire.c: parsing, classifying and building wire messages. */
#include "config.h"

#include <string.h>

#include "qga-error.h"
#include "qga-framer.h"
#include "qga-wire.h"

#define NAME_MAX_LEN 128

JsonNode *
qga_wire_parse (const char *text, gsize length, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!g_utf8_validate (text, length, NULL))
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_PROTOCOL,
                           "JSON parse error, invalid UTF-8");
      return NULL;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, length, &local_error))
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_PROTOCOL,
                   "JSON parse error, %s", local_error->message);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_PROTOCOL, "JSON parse error, no value");
      return NULL;
    }
  return json_parser_steal_root (parser);
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

/* json-glib 1.6 writes U+001F raw inside strings. Raw control bytes are
 * resync bytes to the peer's framer, so a caller's string could otherwise
 * cut our message short and smuggle in one of its own. Any raw byte below
 * 0x20 in generated JSON is inside a string and never part of a multi-byte
 * UTF-8 sequence, so escaping it byte by byte is safe. */
static void
append_escaped (GString *out, const char *text, gsize length)
{
  const char *run = text;

  for (const char *p = text; p < text + length; p++)
    {
      if ((guchar) *p >= 0x20)
        continue;
      g_string_append_len (out, run, p - run);
      g_string_append_printf (out, "\\u%04x", (guchar) *p);
      run = p + 1;
    }
  g_string_append_len (out, run, text + length - run);
}

static GString *
generate (JsonNode *node, gsize reserve)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;
  GString *out;
  gsize length;

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, &length);
  out = g_string_sized_new (length + reserve);
  append_escaped (out, text, length);
  return out;
}

char *
qga_wire_to_string (JsonNode *node)
{
  return g_string_free (generate (node, 0), FALSE);
}

static GBytes *
finish_line (JsonBuilder *builder, gboolean delimited)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  GString *line = generate (root, 2);

  if (delimited)
    g_string_prepend_c (line, (char) QGA_WIRE_SENTINEL);
  g_string_append_c (line, '\n');
  return g_string_free_to_bytes (line);
}

static void
add_member (JsonBuilder *builder, const char *name, JsonNode *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (builder, name);
  json_builder_add_value (builder, json_node_copy (value));
}

GBytes *
qga_wire_build_command (const char *name, JsonNode *arguments, JsonNode *id)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "execute");
  json_builder_add_string_value (builder, name);
  add_member (builder, "arguments", arguments);
  add_member (builder, "id", id);
  json_builder_end_object (builder);
  return finish_line (builder, FALSE);
}

GBytes *
qga_wire_build_return (JsonNode *value, JsonNode *id, gboolean delimited)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "return");
  if (value != NULL)
    json_builder_add_value (builder, json_node_copy (value));
  else
    {
      json_builder_begin_object (builder);
      json_builder_end_object (builder);
    }
  add_member (builder, "id", id);
  json_builder_end_object (builder);
  return finish_line (builder, delimited);
}

GBytes *
qga_wire_build_error (const char *error_class, const char *desc, JsonNode *id,
                      gboolean delimited)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "class");
  json_builder_add_string_value (builder, error_class);
  json_builder_set_member_name (builder, "desc");
  json_builder_add_string_value (builder, desc);
  json_builder_end_object (builder);
  add_member (builder, "id", id);
  json_builder_end_object (builder);
  return finish_line (builder, delimited);
}

GBytes *
qga_wire_build_event (const char *name, JsonNode *data)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  gint64 now = g_get_real_time ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, name);
  add_member (builder, "data", data);
  json_builder_set_member_name (builder, "timestamp");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "seconds");
  json_builder_add_int_value (builder, now / G_USEC_PER_SEC);
  json_builder_set_member_name (builder, "microseconds");
  json_builder_add_int_value (builder, now % G_USEC_PER_SEC);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  return finish_line (builder, FALSE);
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
