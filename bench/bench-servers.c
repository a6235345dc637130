/* bench-servers.c: the server ends of the floors.
 *
 * The trivial service is what the bridge would be with nothing behind it:
 * raw GDBus, org.qemu.GuestAgent's Ping and Call answered at once (Call
 * echoes its arguments, as host-echo does through the bridge), and a
 * HostEvent signal for every line on stdin. The echo server is the host
 * side of the port with nothing but json-glib: parse each line, answer
 * {"return": {}, "id": ID}.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "bench.h"

#define READ_CHUNK 65536

/* --- a line reader on a main-loop fd watch -------------------------------- */

typedef void (*LineFunc) (const char *line, gsize length, gpointer user_data);

typedef struct {
  int fd;
  guint source;
  GByteArray *pending;
  LineFunc func;
  gpointer user_data;
  GDestroyNotify on_eof;
} LineInput;

static void
line_input_free (LineInput *input)
{
  g_clear_handle_id (&input->source, g_source_remove);
  close (input->fd);
  g_byte_array_unref (input->pending);
  g_free (input);
}

static void
line_input_feed (LineInput *input, const guint8 *data, gsize length)
{
  g_byte_array_append (input->pending, data, length);
  for (;;)
    {
      guint8 *newline = memchr (input->pending->data, '\n', input->pending->len);
      gsize line_length;

      if (newline == NULL)
        return;
      line_length = newline - input->pending->data;
      *newline = '\0';
      input->func ((const char *) input->pending->data, line_length, input->user_data);
      g_byte_array_remove_range (input->pending, 0, line_length + 1);
    }
}

static gboolean
line_input_ready_cb (int fd, GIOCondition condition, gpointer user_data)
{
  LineInput *input = user_data;
  guint8 buffer[READ_CHUNK];
  ssize_t n = read (fd, buffer, sizeof buffer);

  if (n > 0)
    {
      line_input_feed (input, buffer, n);
      return G_SOURCE_CONTINUE;
    }
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  input->source = 0;
  if (input->on_eof != NULL)
    input->on_eof (input);
  return G_SOURCE_REMOVE;
}

static LineInput *
line_input_new (int fd, LineFunc func, gpointer user_data, GDestroyNotify on_eof)
{
  LineInput *input = g_new0 (LineInput, 1);

  input->fd = fd;
  input->pending = g_byte_array_sized_new (READ_CHUNK);
  input->func = func;
  input->user_data = user_data;
  input->on_eof = on_eof;
  input->source = g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR, line_input_ready_cb, input);
  return input;
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
run_until_signal (void)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint term = g_unix_signal_add (SIGTERM, quit_cb, loop);
  guint intr = g_unix_signal_add (SIGINT, quit_cb, loop);

  g_main_loop_run (loop);
  g_source_remove (term);
  g_source_remove (intr);
}

/* --- the trivial D-Bus service -------------------------------------------- */

static const char trivial_xml[] =
  "<node>"
  "  <interface name='" BENCH_INTERFACE "'>"
  "    <method name='Ping'/>"
  "    <method name='Call'>"
  "      <arg name='command' type='s' direction='in'/>"
  "      <arg name='arguments_json' type='s' direction='in'/>"
  "      <arg name='return_json' type='s' direction='out'/>"
  "    </method>"
  "    <signal name='HostEvent'>"
  "      <arg name='name' type='s'/>"
  "      <arg name='data_json' type='s'/>"
  "    </signal>"
  "  </interface>"
  "</node>";

static void
trivial_method_call (GDBusConnection *connection, const char *sender, const char *path,
                     const char *interface, const char *method, GVariant *parameters,
                     GDBusMethodInvocation *invocation, gpointer user_data)
{
  if (g_str_equal (method, "Call"))
    {
      const char *arguments;

      g_variant_get (parameters, "(&s&s)", NULL, &arguments);
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", arguments));
    }
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable trivial_vtable = { trivial_method_call, NULL, NULL, { 0 } };

/* A stdin line is the event's sequence number. */
static void
trivial_emit (const char *line, gsize length, gpointer user_data)
{
  g_autofree char *data = g_strdup_printf ("{\"seq\":%s}", line);

  g_dbus_connection_emit_signal (user_data, NULL, BENCH_OBJECT_PATH, BENCH_INTERFACE,
                                 "HostEvent", g_variant_new ("(ss)", BENCH_EVENT_NAME, data),
                                 NULL);
}

static gboolean
trivial_own_name (GDBusConnection *connection, const char *name, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  guint32 code = 0;

  reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName",
                                       g_variant_new ("(su)", name, 4 /* DO_NOT_QUEUE */),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                       NULL, error);
  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(u)", &code);
  if (code != 1 /* PRIMARY_OWNER */)
    {
      g_set_error (error, BENCH_ERROR, 0, "%s is owned by another process", name);
      return FALSE;
    }
  return TRUE;
}

int
bench_run_trivial_service (const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_autoptr(GDBusNodeInfo) info = NULL;
  LineInput *triggers;
  guint object_id;

  if (connection == NULL)
    {
      g_printerr ("qga-bench: trivial service: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  info = g_dbus_node_info_new_for_xml (trivial_xml, &error);
  g_assert_no_error (error);
  object_id = g_dbus_connection_register_object (connection, BENCH_OBJECT_PATH, info->interfaces[0],
                                                 &trivial_vtable, NULL, NULL, &error);
  if (object_id == 0 || !trivial_own_name (connection, name, &error))
    {
      g_printerr ("qga-bench: trivial service: %s\n", error->message);
      return EXIT_FAILURE;
    }
  triggers = line_input_new (dup (STDIN_FILENO), trivial_emit, connection, NULL);
  run_until_signal ();
  line_input_free (triggers);
  g_dbus_connection_unregister_object (connection, object_id);
  g_dbus_connection_flush_sync (connection, NULL, NULL);
  return EXIT_SUCCESS;
}

/* --- the JSON echo server --------------------------------------------------- */

typedef struct {
  LineInput *input;
  JsonParser *parser;
  JsonGenerator *generator;
} EchoClient;

static void
echo_client_free (gpointer data)
{
  EchoClient *client = data;

  g_object_unref (client->parser);
  g_object_unref (client->generator);
  g_free (client);
}

static JsonNode *
echo_reply (JsonNode *id)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "return");
  json_builder_begin_object (builder);
  json_builder_end_object (builder);
  if (id != NULL)
    {
      json_builder_set_member_name (builder, "id");
      json_builder_add_value (builder, json_node_copy (id));
    }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
echo_line (const char *line, gsize length, gpointer user_data)
{
  EchoClient *client = user_data;
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *text = NULL;
  JsonNode *root;
  gsize text_length;

  if (!json_parser_load_from_data (client->parser, line, length, NULL))
    return;
  root = json_parser_get_root (client->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  reply = echo_reply (json_object_get_member (json_node_get_object (root), "id"));
  json_generator_set_root (client->generator, reply);
  text = json_generator_to_data (client->generator, &text_length);
  text[text_length] = '\n';   /* the NUL becomes the line's end */
  if (!bench_write_all (client->input->fd, text, text_length + 1, NULL))
    g_debug ("echo client gone");
}

/* The client closed: drop it (its LineInput and itself). */
static void
echo_client_eof (gpointer data)
{
  LineInput *input = data;
  EchoClient *client = input->user_data;

  line_input_free (input);
  echo_client_free (client);
}

static gboolean
echo_accept_cb (int listen_fd, GIOCondition condition, gpointer user_data)
{
  int fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
  EchoClient *client;

  if (fd < 0)
    return G_SOURCE_CONTINUE;
  client = g_new0 (EchoClient, 1);
  client->parser = json_parser_new_immutable ();
  client->generator = json_generator_new ();
  client->input = line_input_new (fd, echo_line, client, echo_client_eof);
  return G_SOURCE_CONTINUE;
}

int
bench_run_echo_server (const char *socket_path)
{
  g_autoptr(GError) error = NULL;
  int listen_fd = bench_unix_listen (socket_path, &error);
  guint source;

  if (listen_fd < 0)
    {
      g_printerr ("qga-bench: echo server: %s\n", error->message);
      return EXIT_FAILURE;
    }
  source = g_unix_fd_add (listen_fd, G_IO_IN, echo_accept_cb, NULL);
  run_until_signal ();
  g_source_remove (source);
  close (listen_fd);
  unlink (socket_path);
  return EXIT_SUCCESS;
}

/* --- the clipboard floor server --------------------------------------------
 *
 * What qga-bridge and the guest program do for a clipboard transfer, with
 * nothing but json-glib and a pipe: the bench is its host, with the same
 * code it uses against the bridge. Blocking, one transfer at a time.
 *
 *   floor-grab {"size": N}             the content to serve next (the Grab)
 *   guest-clipboard-request {...}      reply {}, then CLIPBOARD_DATA chunks of
 *                                      a pipe fed by a thread, window 8
 *   floor-read {"size": N}             ask the bench with host-clipboard-request,
 *                                      decode its chunks into a pipe drained
 *                                      by a thread, acknowledge each once
 *                                      written; reply {"bytes": N} once the
 *                                      thread has read the last byte (Read)
 */

typedef struct {
  int fd;
  GByteArray *input;
  gsize input_start;
  JsonParser *parser;
  JsonGenerator *generator;
  guint8 *buffer;           /* a chunk, decoded or to encode */
  guint64 grab_size;
  gint64 next_id;
} ClipFloor;

/* The next message; NULL with error on EOF (error->code 1) or a failure. */
static JsonObject *
floor_next (ClipFloor *f, GError **error)
{
  for (;;)
    {
      guint8 *start = f->input->data + f->input_start;
      guint8 *newline = memchr (start, '\n', f->input->len - f->input_start);
      gsize old = f->input->len;
      ssize_t n;

      if (newline != NULL)
        {
          JsonNode *root;

          f->input_start += newline - start + 1;
          if (!json_parser_load_from_data (f->parser, (const char *) start, newline - start, error))
            return NULL;
          root = json_parser_get_root (f->parser);
          if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
            return json_node_get_object (root);
          continue;
        }
      if (f->input_start > 0)
        {
          g_byte_array_remove_range (f->input, 0, f->input_start);
          f->input_start = 0;
          old = f->input->len;
        }
      g_byte_array_set_size (f->input, old + READ_CHUNK * 4);
      n = read (f->fd, f->input->data + old, READ_CHUNK * 4);
      g_byte_array_set_size (f->input, old + MAX (n, 0));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, BENCH_ERROR, n == 0 ? 1 : 0, "read: %s",
                       n == 0 ? "end of file" : g_strerror (errno));
          return NULL;
        }
    }
}

/* length is read here, after line was built (arguments have no order). */
static gboolean
floor_send (ClipFloor *f, char *line, const gsize *length, GError **error)
{
  gboolean ok = bench_write_all (f->fd, line, *length, error);

  g_free (line);
  return ok;
}

static gint64
floor_int (JsonObject *object, const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_INT64 ? json_node_get_int (node) : -1;
}

static JsonObject *
floor_object (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static gboolean
floor_is_event (JsonObject *message, const char *name)
{
  JsonNode *node = json_object_get_member (message, "event");

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         g_strcmp0 (json_node_get_string (node), name) == 0;
}

/* Up to a chunk from the pipe; *eof once it has ended. */
static gssize
floor_fill (int fd, guint8 *buffer, gboolean *eof)
{
  gsize filled = 0;

  *eof = FALSE;
  while (filled < BENCH_CLIP_CHUNK)
    {
      ssize_t n = read (fd, buffer + filled, BENCH_CLIP_CHUNK - filled);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        {
          *eof = TRUE;
          break;
        }
      filled += n;
    }
  return filled;
}

/* guest-clipboard-request: the owner's side (guest->host). */
static gboolean
floor_serve (ClipFloor *f, guint32 transfer, GError **error)
{
  BenchPipeJob *feed;
  guint32 seq = 0, acked = 0;
  gboolean last_sent = FALSE, ok = TRUE;
  int fds[2];

  if (pipe2 (fds, O_CLOEXEC) < 0)
    {
      g_set_error (error, BENCH_ERROR, 0, "pipe: %s", g_strerror (errno));
      return FALSE;
    }
  feed = bench_pipe_feed_start (fds[1], f->grab_size);
  while (ok && !(last_sent && acked == seq))
    {
      if (!last_sent && seq - acked < BENCH_CLIP_WINDOW)
        {
          gboolean eof;
          gssize n = floor_fill (fds[0], f->buffer, &eof);
          gsize length;
          char *line;

          if (n < 0)
            {
              g_set_error (error, BENCH_ERROR, 0, "read the pipe: %s", g_strerror (errno));
              ok = FALSE;
              break;
            }
          line = bench_clip_build_data (f->generator, transfer, seq++, f->buffer, n, eof, &length);
          ok = floor_send (f, line, &length, error);
          last_sent = eof;
        }
      else
        {
          JsonObject *message = floor_next (f, error);
          gint64 value;

          ok = message != NULL;
          if (ok && floor_is_event (message, "CLIPBOARD_ACK") &&
              (value = floor_int (floor_object (message, "data"), "seq")) >= 0)
            acked = MAX (acked, (guint32) value + 1);
        }
    }
  close (fds[0]);
  return bench_pipe_job_finish (feed, NULL, NULL, ok ? error : NULL) && ok;
}

/* floor-read: the reader's side (host->guest). */
static gboolean
floor_receive (ClipFloor *f, JsonNode *id, guint64 size, GError **error)
{
  g_autoptr(JsonNode) arguments = NULL;
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonObject) bytes = json_object_new ();
  g_autoptr(JsonNode) result = NULL;
  BenchPipeJob *drain;
  guint32 expected = 0;
  gboolean last = FALSE, ok;
  guint64 drained;
  gsize length;
  int fds[2];

  if (pipe2 (fds, O_CLOEXEC) < 0)
    {
      g_set_error (error, BENCH_ERROR, 0, "pipe: %s", g_strerror (errno));
      return FALSE;
    }
  drain = bench_pipe_drain_start (fds[0]);
  json_object_set_string_member (object, "selection", "clipboard");
  json_object_set_string_member (object, "type", BENCH_CLIP_TYPE);
  json_object_set_int_member (object, "serial", 0);
  json_object_set_int_member (object, "transfer", 1);
  arguments = json_node_init_object (json_node_alloc (), object);
  ok = floor_send (f, bench_clip_build_command (f->generator, "host-clipboard-request", arguments,
                                                f->next_id++, &length), &length, error);
  while (ok && !last)
    {
      JsonObject *message = floor_next (f, error);
      JsonObject *data;
      gsize n;
      guint32 seq;

      ok = message != NULL;
      if (!ok || !floor_is_event (message, "CLIPBOARD_DATA"))
        continue;   /* the reply to our request */
      data = floor_object (message, "data");
      ok = data != NULL && bench_clip_decode_data (data, f->buffer, &n, &seq, &last, error);
      if (ok && seq != expected++)
        {
          g_set_error (error, BENCH_ERROR, 0, "chunk %u out of sequence", seq);
          ok = FALSE;
        }
      ok = ok && bench_write_all (fds[1], f->buffer, n, error) &&
           floor_send (f, bench_clip_build_ack (f->generator, 1, seq, &length), &length, error);
    }
  close (fds[1]);
  ok = bench_pipe_job_finish (drain, &drained, NULL, ok ? error : NULL) && ok;
  if (ok && drained != size)
    {
      g_set_error (error, BENCH_ERROR, 0, "%" G_GUINT64_FORMAT " bytes of %" G_GUINT64_FORMAT,
                   drained, size);
      ok = FALSE;
    }
  if (!ok)
    return FALSE;
  json_object_set_int_member (bytes, "bytes", drained);
  result = json_node_init_object (json_node_alloc (), bytes);
  return floor_send (f, bench_clip_build_reply (f->generator, id, result, &length), &length, error);
}

static gboolean
floor_reply_empty (ClipFloor *f, JsonNode *id, GError **error)
{
  gsize length;

  return floor_send (f, bench_clip_build_reply (f->generator, id, NULL, &length), &length, error);
}

static gboolean
floor_command (ClipFloor *f, JsonObject *message, GError **error)
{
  JsonNode *execute = json_object_get_member (message, "execute");
  JsonObject *arguments = floor_object (message, "arguments");
  g_autoptr(JsonNode) id = NULL;
  const char *command;

  if (execute == NULL || !JSON_NODE_HOLDS_VALUE (execute) ||
      json_object_get_member (message, "id") == NULL)
    return TRUE;   /* a stray acknowledgement */
  command = json_node_get_string (execute);
  id = json_node_copy (json_object_get_member (message, "id"));
  if (g_strcmp0 (command, "floor-grab") == 0)
    {
      f->grab_size = MAX (floor_int (arguments, "size"), 0);
      return floor_reply_empty (f, id, error);
    }
  if (g_strcmp0 (command, "guest-clipboard-request") == 0)
    return floor_reply_empty (f, id, error) &&
           floor_serve (f, floor_int (arguments, "transfer"), error);
  if (g_strcmp0 (command, "floor-read") == 0)
    return floor_receive (f, id, MAX (floor_int (arguments, "size"), 0), error);
  g_set_error (error, BENCH_ERROR, 0, "unknown command %s", command);
  return FALSE;
}

int
bench_run_clipboard_floor (const char *socket_path)
{
  g_autoptr(GError) error = NULL;
  int listen_fd = bench_unix_listen (socket_path, &error);
  ClipFloor f = { .fd = -1, .next_id = 1 };
  gboolean ok = TRUE;

  if (listen_fd >= 0)
    f.fd = bench_unix_accept (listen_fd, BENCH_TIMEOUT_MS, &error);
  if (f.fd < 0)
    {
      g_printerr ("qga-bench: clipboard floor: %s\n", error->message);
      return EXIT_FAILURE;
    }
  close (listen_fd);
  unlink (socket_path);
  f.input = g_byte_array_sized_new (READ_CHUNK * 8);
  f.parser = json_parser_new_immutable ();
  f.generator = json_generator_new ();
  f.buffer = g_malloc (BENCH_CLIP_CHUNK + 64);
  while (ok)
    {
      JsonObject *message = floor_next (&f, &error);

      ok = message != NULL && floor_command (&f, message, &error);
    }
  close (f.fd);
  g_byte_array_unref (f.input);
  g_object_unref (f.parser);
  g_object_unref (f.generator);
  g_free (f.buffer);
  if (error->domain == BENCH_ERROR && error->code == 1)
    return EXIT_SUCCESS;   /* the bench closed the connection */
  g_printerr ("qga-bench: clipboard floor: %s\n", error->message);
  return EXIT_FAILURE;
}
