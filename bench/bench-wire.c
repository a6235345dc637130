/* bench-wire.c: the host's end of a qemu-ga style connection, blocking. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

struct _BenchWire {
  int fd;
  GByteArray *input;        /* read, not yet consumed */
  JsonParser *parser;
  JsonGenerator *generator;
  gint64 next_sync_id;
};

BenchWire *
bench_wire_new (int fd)
{
  BenchWire *wire = g_new0 (BenchWire, 1);

  wire->fd = fd;
  wire->input = g_byte_array_sized_new (4096);
  wire->parser = json_parser_new_immutable ();
  wire->generator = json_generator_new ();
  wire->next_sync_id = 1000000;
  return wire;
}

void
bench_wire_free (BenchWire *wire)
{
  if (wire == NULL)
    return;
  close (wire->fd);
  g_byte_array_unref (wire->input);
  g_object_unref (wire->parser);
  g_object_unref (wire->generator);
  g_free (wire);
}

int
bench_wire_get_fd (BenchWire *wire)
{
  return wire->fd;
}

static gboolean
wire_send_command (BenchWire *wire, const char *command, JsonNode *arguments, gint64 id,
                   GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  gsize length;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "execute");
  json_builder_add_string_value (builder, command);
  if (arguments != NULL)
    {
      json_builder_set_member_name (builder, "arguments");
      json_builder_add_value (builder, json_node_ref (arguments));
    }
  json_builder_set_member_name (builder, "id");
  json_builder_add_int_value (builder, id);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (wire->generator, root);
  text = json_generator_to_data (wire->generator, &length);
  text[length] = '\n';   /* to_data's NUL becomes the line's end */
  return bench_write_all (wire->fd, text, length + 1, error);
}

/* The next line, without its '\n' and without any 0xFF delimiter bytes. */
static gboolean
wire_read_line (BenchWire *wire, GByteArray *line, GError **error)
{
  for (;;)
    {
      guint8 *newline = memchr (wire->input->data, '\n', wire->input->len);
      guint8 buffer[16384];
      ssize_t n;

      if (newline != NULL)
        {
          gsize length = newline - wire->input->data;

          g_byte_array_set_size (line, 0);
          for (gsize i = 0; i < length; i++)
            if (wire->input->data[i] != 0xFF)
              g_byte_array_append (line, &wire->input->data[i], 1);
          g_byte_array_remove_range (wire->input, 0, length + 1);
          return TRUE;
        }
      if (!bench_wait_fd (wire->fd, POLLIN, BENCH_TIMEOUT_MS))
        {
          g_set_error (error, BENCH_ERROR, 0, "no reply within %d ms", BENCH_TIMEOUT_MS);
          return FALSE;
        }
      n = read (wire->fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, BENCH_ERROR, 0, "the peer closed the connection%s%s",
                       n < 0 ? ": " : "", n < 0 ? g_strerror (errno) : "");
          return FALSE;
        }
      g_byte_array_append (wire->input, buffer, n);
    }
}

static gboolean
id_matches (JsonObject *reply, gint64 id)
{
  JsonNode *node = json_object_get_member (reply, "id");

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_INT64 && json_node_get_int (node) == id;
}

/* Wait for the reply carrying id; its "return" member, or an error. */
static JsonNode *
wire_await_reply (BenchWire *wire, gint64 id, GError **error)
{
  g_autoptr(GByteArray) line = g_byte_array_new ();

  for (;;)
    {
      JsonNode *root;
      JsonObject *reply;

      if (!wire_read_line (wire, line, error))
        return NULL;
      if (!json_parser_load_from_data (wire->parser, (const char *) line->data, line->len, NULL))
        continue;
      root = json_parser_get_root (wire->parser);
      if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
        continue;
      reply = json_node_get_object (root);
      if (!id_matches (reply, id))
        continue;
      if (!json_object_has_member (reply, "return"))
        {
          g_set_error (error, BENCH_ERROR, 0, "error reply to request %" G_GINT64_FORMAT ": %.*s",
                       id, (int) MIN (line->len, 200), (const char *) line->data);
          return NULL;
        }
      return json_node_ref (json_object_get_member (reply, "return"));
    }
}

gboolean
bench_wire_execute (BenchWire *wire, const char *command, gint64 id, GError **error)
{
  g_autoptr(JsonNode) result = NULL;

  if (!wire_send_command (wire, command, NULL, id, error))
    return FALSE;
  result = wire_await_reply (wire, id, error);
  return result != NULL;
}

gboolean
bench_wire_sync (BenchWire *wire, GError **error)
{
  gint64 id = wire->next_sync_id++;
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonNode) arguments_node = NULL;
  g_autoptr(JsonNode) result = NULL;

  json_object_set_int_member (arguments, "id", id);
  arguments_node = json_node_init_object (json_node_alloc (), arguments);
  if (!wire_send_command (wire, "guest-sync", arguments_node, id, error))
    return FALSE;
  result = wire_await_reply (wire, id, error);
  if (result == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (result) || json_node_get_value_type (result) != G_TYPE_INT64 ||
      json_node_get_int (result) != id)
    {
      g_set_error (error, BENCH_ERROR, 0, "guest-sync returned the wrong value");
      return FALSE;
    }
  return TRUE;
}
