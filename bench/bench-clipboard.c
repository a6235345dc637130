/* bench-clipboard.c: 6. clipboard throughput, host to guest and guest to
 * host, through the real path and against a floor (docs/PERFORMANCE.md).
 *
 *   bus S: qga-session (its session bus), and this process as the guest
 *          program: Grab, Read, SupplyData, with its pipe end on a thread
 *   bus C: qga-bridge C (--bus=session), which is qga-session's "system
 *          bus" (DBUS_SYSTEM_BUS_ADDRESS); no logind on it, so the bridge
 *          takes its documented fallback: the only agent is active
 *   port:  qga-bridge C <-unix socket-> this process as the host
 *   floor: this process as the host <-unix socket-> the clipboard floor
 *          server (qga-bench --clipboard-floor), json-glib on both ends
 *
 * The host's end is the same code against the bridge and against the
 * floor: every line built with JsonBuilder/JsonGenerator and parsed with
 * JsonParser, base64 decoded with GLib, the content checked against the
 * pattern. The floor server does what the bridge and the guest program do
 * together: the same chunks (48 KiB), the same window (8) and an
 * acknowledgement per chunk, the data to or from a pipe whose other end is
 * a thread, as the guest program's is.
 *
 * Timing, from this process's clock:
 *   host->guest: from just before the guest program calls Read (floor:
 *     before the bench sends floor-read) until the guest program has read
 *     the last byte from its pipe and Read has returned (floor: the floor
 *     server's reply, sent once its drain thread has read everything).
 *   guest->host: from just before the host sends guest-clipboard-request
 *     until the host has decoded the last chunk. The guest program answers
 *     DataRequested with SupplyData and a pipe it feeds from a thread.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <glib-unix.h>

#include "bench.h"

#define PATTERN_PERIOD 65521          /* prime: chunks never line up with it */
#define SESSION_NAME "org.qemu.GuestAgent"
#define CLIPBOARD_INTERFACE "org.qemu.GuestAgent.Clipboard"
#define MAX_SIZE G_GUINT64_CONSTANT (268435456)
#define RECV_SIZE (256 * 1024)
#define SAMPLE_RSS_MS 20
#define SETTLE_MS 1000

const guint64 bench_clip_sizes[BENCH_CLIP_N_SIZES] = {
  1024, 65536, 1024 * 1024, 16 * 1024 * 1024, 256 * 1024 * 1024
};
const char *const bench_clip_direction_names[BENCH_CLIP_N_DIRECTIONS] = {
  "host-to-guest", "guest-to-host"
};

/* Transfers per size and subject in a pass. */
static const guint reps_normal[BENCH_CLIP_N_SIZES] = { 200, 100, 20, 4, 1 };
static const guint reps_quick[BENCH_CLIP_N_SIZES] = { 20, 10, 4, 1, 1 };

/* --- the content ---------------------------------------------------------- */

static const guint8 *
pattern (void)
{
  static guint8 *bytes;
  static gsize once;

  if (g_once_init_enter (&once))
    {
      guint8 *p = g_malloc (2 * PATTERN_PERIOD);
      guint32 x = 0x9E3779B9u;

      /* xorshift: bytes that look like compressed data, as images do */
      for (gsize i = 0; i < PATTERN_PERIOD; i++)
        {
          x ^= x << 13;
          x ^= x >> 17;
          x ^= x << 5;
          p[i] = x >> 24;
        }
      memcpy (p + PATTERN_PERIOD, p, PATTERN_PERIOD);
      bytes = p;
      g_once_init_leave (&once, 1);
    }
  return bytes;
}

const guint8 *
bench_clip_pattern_at (guint64 offset, gsize length)
{
  g_assert (length <= PATTERN_PERIOD);
  return pattern () + offset % PATTERN_PERIOD;
}

gboolean
bench_clip_pattern_check (guint64 offset, const guint8 *data, gsize length)
{
  while (length > 0)
    {
      gsize n = MIN (length, PATTERN_PERIOD);

      if (memcmp (data, bench_clip_pattern_at (offset, n), n) != 0)
        return FALSE;
      data += n;
      offset += n;
      length -= n;
    }
  return TRUE;
}

/* --- wire lines with json-glib -------------------------------------------- */

static char *
to_line (JsonGenerator *generator, JsonBuilder *builder, gsize *line_length)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  char *text;

  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, line_length);
  text[(*line_length)++] = '\n';   /* the NUL becomes the line's end */
  return text;
}

static JsonBuilder *
begin_event (const char *name)
{
  JsonBuilder *builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "data");
  json_builder_begin_object (builder);
  return builder;
}

static char *
end_event (JsonGenerator *generator, JsonBuilder *builder, gsize *line_length)
{
  gint64 now = g_get_real_time ();
  char *line;

  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "timestamp");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "seconds");
  json_builder_add_int_value (builder, now / G_USEC_PER_SEC);
  json_builder_set_member_name (builder, "microseconds");
  json_builder_add_int_value (builder, now % G_USEC_PER_SEC);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  line = to_line (generator, builder, line_length);
  g_object_unref (builder);
  return line;
}

char *
bench_clip_build_data (JsonGenerator *generator, guint32 transfer, guint32 seq,
                       const guint8 *data, gsize length, gboolean last, gsize *line_length)
{
  JsonBuilder *builder = begin_event ("CLIPBOARD_DATA");
  g_autofree char *base64 = g_base64_encode (data, length);

  json_builder_set_member_name (builder, "transfer");
  json_builder_add_int_value (builder, transfer);
  json_builder_set_member_name (builder, "seq");
  json_builder_add_int_value (builder, seq);
  json_builder_set_member_name (builder, "data");
  json_builder_add_string_value (builder, base64);
  json_builder_set_member_name (builder, "last");
  json_builder_add_boolean_value (builder, last);
  return end_event (generator, builder, line_length);
}

char *
bench_clip_build_ack (JsonGenerator *generator, guint32 transfer, guint32 seq, gsize *line_length)
{
  JsonBuilder *builder = begin_event ("CLIPBOARD_ACK");

  json_builder_set_member_name (builder, "transfer");
  json_builder_add_int_value (builder, transfer);
  json_builder_set_member_name (builder, "seq");
  json_builder_add_int_value (builder, seq);
  return end_event (generator, builder, line_length);
}

static char *
build_grab (JsonGenerator *generator, const char *selection, guint32 serial, guint32 peer_serial,
            gsize *line_length)
{
  JsonBuilder *builder = begin_event ("CLIPBOARD_GRAB");

  json_builder_set_member_name (builder, "selection");
  json_builder_add_string_value (builder, selection);
  json_builder_set_member_name (builder, "types");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, BENCH_CLIP_TYPE);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "serial");
  json_builder_add_int_value (builder, serial);
  json_builder_set_member_name (builder, "peer-serial");
  json_builder_add_int_value (builder, peer_serial);
  return end_event (generator, builder, line_length);
}

char *
bench_clip_build_reply (JsonGenerator *generator, JsonNode *id, JsonNode *value, gsize *line_length)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "return");
  if (value != NULL)
    json_builder_add_value (builder, json_node_ref (value));
  else
    {
      json_builder_begin_object (builder);
      json_builder_end_object (builder);
    }
  json_builder_set_member_name (builder, "id");
  json_builder_add_value (builder, json_node_copy (id));
  json_builder_end_object (builder);
  return to_line (generator, builder, line_length);
}

static char *
build_error_reply (JsonGenerator *generator, JsonNode *id, const char *error_class,
                   const char *desc, gsize *line_length)
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
  json_builder_set_member_name (builder, "id");
  json_builder_add_value (builder, json_node_copy (id));
  json_builder_end_object (builder);
  return to_line (generator, builder, line_length);
}

char *
bench_clip_build_command (JsonGenerator *generator, const char *command, JsonNode *arguments,
                          gint64 id, gsize *line_length)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

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
  return to_line (generator, builder, line_length);
}

static gboolean
get_int (JsonObject *object, const char *name, gint64 *value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

gboolean
bench_clip_decode_data (JsonObject *data, guint8 *buffer, gsize *length, guint32 *seq,
                        gboolean *last, GError **error)
{
  JsonNode *text = json_object_get_member (data, "data");
  JsonNode *last_node = json_object_get_member (data, "last");
  const char *base64;
  gsize base64_length;
  gint64 seq_value;
  int state = 0;
  guint save = 0;

  if (text == NULL || !JSON_NODE_HOLDS_VALUE (text) || json_node_get_value_type (text) != G_TYPE_STRING ||
      last_node == NULL || !JSON_NODE_HOLDS_VALUE (last_node) ||
      json_node_get_value_type (last_node) != G_TYPE_BOOLEAN || !get_int (data, "seq", &seq_value))
    {
      g_set_error (error, BENCH_ERROR, 0, "CLIPBOARD_DATA without data, seq or last");
      return FALSE;
    }
  base64 = json_node_get_string (text);
  base64_length = strlen (base64);
  if (base64_length > BENCH_CLIP_CHUNK / 3 * 4)
    {
      g_set_error (error, BENCH_ERROR, 0, "a chunk of %zu base64 bytes", base64_length);
      return FALSE;
    }
  *length = g_base64_decode_step (base64, base64_length, buffer, &state, &save);
  *seq = seq_value;
  *last = json_node_get_boolean (last_node);
  return TRUE;
}

/* --- a guest program's pipe end, on a thread ------------------------------- */

struct _BenchPipeJob {
  GThread *thread;
  int fd;
  guint64 size;             /* feed: what to write */
  guint64 bytes;
  gint64 end_ns;
  char *error;
  gint done;                /* atomic */
};

static void
pipe_job_end (BenchPipeJob *job)
{
  job->end_ns = bench_now_ns ();
  close (job->fd);
  g_atomic_int_set (&job->done, 1);
  g_main_context_wakeup (NULL);   /* a main loop waiting for it looks again */
}

static gpointer
drain_thread (gpointer user_data)
{
  BenchPipeJob *job = user_data;
  g_autofree guint8 *buffer = g_malloc (65536);

  for (;;)
    {
      ssize_t n = read (job->fd, buffer, 65536);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        job->error = g_strdup_printf ("read: %s", g_strerror (errno));
      if (n <= 0)
        break;
      if (!bench_clip_pattern_check (job->bytes, buffer, n))
        {
          job->error = g_strdup_printf ("the content differs after byte %" G_GUINT64_FORMAT,
                                        job->bytes);
          break;
        }
      job->bytes += n;
    }
  pipe_job_end (job);
  return NULL;
}

static gpointer
feed_thread (gpointer user_data)
{
  BenchPipeJob *job = user_data;

  while (job->bytes < job->size)
    {
      gsize n = MIN (job->size - job->bytes, 65520);
      ssize_t written = write (job->fd, bench_clip_pattern_at (job->bytes, n), n);

      if (written < 0 && errno == EINTR)
        continue;
      if (written <= 0)
        {
          job->error = g_strdup_printf ("write: %s", g_strerror (errno));
          break;
        }
      job->bytes += written;
    }
  pipe_job_end (job);
  return NULL;
}

static BenchPipeJob *
pipe_job_start (int fd, guint64 size, GThreadFunc func)
{
  BenchPipeJob *job = g_new0 (BenchPipeJob, 1);

  job->fd = fd;
  job->size = size;
  job->thread = g_thread_new ("bench pipe", func, job);
  return job;
}

BenchPipeJob *
bench_pipe_drain_start (int fd)
{
  return pipe_job_start (fd, 0, drain_thread);
}

BenchPipeJob *
bench_pipe_feed_start (int fd, guint64 size)
{
  return pipe_job_start (fd, size, feed_thread);
}

static gboolean
pipe_job_is_done (BenchPipeJob *job)
{
  return job == NULL || g_atomic_int_get (&job->done);
}

gboolean
bench_pipe_job_finish (BenchPipeJob *job, guint64 *bytes, gint64 *end_ns, GError **error)
{
  gboolean ok;

  g_thread_join (job->thread);
  if (bytes != NULL)
    *bytes = job->bytes;
  if (end_ns != NULL)
    *end_ns = job->end_ns;
  ok = job->error == NULL;
  if (!ok)
    g_set_error (error, BENCH_ERROR, 0, "the guest program's pipe: %s", job->error);
  g_free (job->error);
  g_free (job);
  return ok;
}

/* --- the host's end of a port (to the bridge, or to the floor server) ----- */

typedef struct {
  const char *label;
  int fd;
  guint source;
  GByteArray *input;
  gsize input_start;
  JsonParser *parser;
  JsonGenerator *generator;
  guint8 *decoded;
  gint64 next_id;
  GError *error;            /* the first thing that went wrong: the bench broke */
  gboolean host_info_answered;

  gint64 awaited_id;        /* a reply we wait for */
  gboolean reply_seen;
  gint64 reply_ns;

  guint32 guest_serial;     /* of the guest's grab of "primary" */

  /* The host owns the content (host->guest): armed, then requested. */
  gboolean own_armed, own_active, own_done, own_last_sent;
  guint32 own_transfer, own_seq, own_acked;
  guint64 own_size, own_sent;

  /* The host reads (guest->host). */
  gboolean read_active, read_done;
  guint32 read_transfer, read_seq;
  guint64 read_size, read_bytes;
  gint64 read_done_ns;
} HostEnd;

static void
host_fail (HostEnd *host, GError *error)
{
  if (host->error == NULL)
    {
      g_prefix_error (&error, "%s: ", host->label);
      host->error = error;
    }
  else
    g_error_free (error);
  g_main_context_wakeup (NULL);
}

static void
host_send (HostEnd *host, char *line, gsize length)
{
  GError *error = NULL;

  if (host->error == NULL && !bench_write_all (host->fd, line, length, &error))
    host_fail (host, error);
  g_free (line);
}

static void
host_send_ack (HostEnd *host, guint32 transfer, guint32 seq)
{
  gsize length;
  char *line = bench_clip_build_ack (host->generator, transfer, seq, &length);

  host_send (host, line, length);
}

/* Send chunks while the window allows. */
static void
host_pump (HostEnd *host)
{
  while (host->own_active && !host->own_last_sent && host->error == NULL &&
         host->own_seq - host->own_acked < BENCH_CLIP_WINDOW)
    {
      gsize n = MIN (BENCH_CLIP_CHUNK, host->own_size - host->own_sent);
      gboolean last = host->own_sent + n == host->own_size;
      gsize length;
      char *line = bench_clip_build_data (host->generator, host->own_transfer, host->own_seq,
                                          bench_clip_pattern_at (host->own_sent, n), n, last,
                                          &length);

      host_send (host, line, length);
      host->own_sent += n;
      host->own_seq++;
      host->own_last_sent = last;
    }
}

static JsonNode *
host_info_value (void)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, "qga-bench");
  json_builder_set_member_name (builder, "supported_commands");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "clipboard");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, 1);
  json_builder_set_member_name (builder, "max-size");
  json_builder_add_int_value (builder, MAX_SIZE);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
host_handle_command (HostEnd *host, JsonObject *message, const char *command)
{
  JsonNode *id = json_object_get_member (message, "id");
  JsonNode *arguments_node = json_object_get_member (message, "arguments");
  JsonObject *arguments = arguments_node != NULL && JSON_NODE_HOLDS_OBJECT (arguments_node)
                            ? json_node_get_object (arguments_node) : NULL;
  gint64 transfer;
  gsize length;
  char *line;

  if (id == NULL)
    return;
  if (g_str_equal (command, "host-info"))
    {
      g_autoptr(JsonNode) value = host_info_value ();

      line = bench_clip_build_reply (host->generator, id, value, &length);
      host_send (host, line, length);
      host->host_info_answered = TRUE;
      return;
    }
  if (g_str_equal (command, "host-clipboard-request"))
    {
      if (arguments == NULL || !get_int (arguments, "transfer", &transfer) || !host->own_armed)
        {
          host_fail (host, g_error_new (BENCH_ERROR, 0, "an unexpected host-clipboard-request"));
          return;
        }
      line = bench_clip_build_reply (host->generator, id, NULL, &length);
      host_send (host, line, length);
      host->own_armed = FALSE;
      host->own_active = TRUE;
      host->own_transfer = transfer;
      host_pump (host);
      return;
    }
  line = build_error_reply (host->generator, id, "CommandNotFound", "not in the bench", &length);
  host_send (host, line, length);
}

static void
host_handle_data (HostEnd *host, JsonObject *data)
{
  GError *error = NULL;
  gint64 transfer = 0;
  gsize length;
  guint32 seq;
  gboolean last;

  if (!host->read_active || !get_int (data, "transfer", &transfer) || transfer != host->read_transfer)
    {
      host_fail (host, g_error_new (BENCH_ERROR, 0, "CLIPBOARD_DATA for transfer %" G_GINT64_FORMAT
                                    ", which is not in progress", transfer));
      return;
    }
  if (!bench_clip_decode_data (data, host->decoded, &length, &seq, &last, &error))
    {
      host_fail (host, error);
      return;
    }
  if (seq != host->read_seq || !bench_clip_pattern_check (host->read_bytes, host->decoded, length))
    {
      host_fail (host, g_error_new (BENCH_ERROR, 0, "chunk %u (%u due) is not the content", seq,
                                    host->read_seq));
      return;
    }
  host->read_bytes += length;
  host->read_seq++;
  if (last)
    {
      host->read_done_ns = bench_now_ns ();
      host->read_active = FALSE;
      host->read_done = TRUE;
      if (host->read_bytes != host->read_size)
        host_fail (host, g_error_new (BENCH_ERROR, 0, "%" G_GUINT64_FORMAT " bytes of %"
                                      G_GUINT64_FORMAT, host->read_bytes, host->read_size));
    }
  host_send_ack (host, transfer, seq);
}

static void
host_handle_event (HostEnd *host, const char *name, JsonObject *message)
{
  JsonNode *data_node = json_object_get_member (message, "data");
  JsonObject *data = data_node != NULL && JSON_NODE_HOLDS_OBJECT (data_node)
                       ? json_node_get_object (data_node) : NULL;
  gint64 value;

  if (data == NULL)
    return;
  if (g_str_equal (name, "CLIPBOARD_DATA"))
    host_handle_data (host, data);
  else if (g_str_equal (name, "CLIPBOARD_ACK"))
    {
      if (!host->own_active || !get_int (data, "transfer", &value) || value != host->own_transfer ||
          !get_int (data, "seq", &value) || value >= host->own_seq)
        {
          host_fail (host, g_error_new (BENCH_ERROR, 0, "an unexpected CLIPBOARD_ACK"));
          return;
        }
      host->own_acked = MAX (host->own_acked, (guint32) value + 1);
      if (host->own_last_sent && host->own_acked == host->own_seq)
        {
          host->own_active = FALSE;
          host->own_done = TRUE;
        }
      else
        host_pump (host);
    }
  else if (g_str_equal (name, "CLIPBOARD_GRAB"))
    {
      JsonNode *selection = json_object_get_member (data, "selection");

      if (selection != NULL && JSON_NODE_HOLDS_VALUE (selection) &&
          g_strcmp0 (json_node_get_string (selection), "primary") == 0 &&
          get_int (data, "serial", &value))
        host->guest_serial = value;
    }
  else if (g_str_equal (name, "CLIPBOARD_CANCEL"))
    {
      JsonNode *desc = json_object_get_member (data, "desc");

      host_fail (host, g_error_new (BENCH_ERROR, 0, "CLIPBOARD_CANCEL: %s",
                                    desc != NULL && JSON_NODE_HOLDS_VALUE (desc)
                                      ? json_node_get_string (desc) : "?"));
    }
}

static void
host_handle_line (HostEnd *host, const char *line, gsize length)
{
  GError *error = NULL;
  JsonNode *root;
  JsonObject *message;
  JsonNode *member;
  gint64 id;

  if (!json_parser_load_from_data (host->parser, line, length, &error))
    {
      g_prefix_error (&error, "unparsable line: ");
      host_fail (host, error);
      return;
    }
  root = json_parser_get_root (host->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  message = json_node_get_object (root);
  if ((member = json_object_get_member (message, "execute")) != NULL && JSON_NODE_HOLDS_VALUE (member))
    host_handle_command (host, message, json_node_get_string (member));
  else if ((member = json_object_get_member (message, "event")) != NULL && JSON_NODE_HOLDS_VALUE (member))
    host_handle_event (host, json_node_get_string (member), message);
  else if (get_int (message, "id", &id) && id == host->awaited_id)
    {
      if (!json_object_has_member (message, "return"))
        {
          host_fail (host, g_error_new (BENCH_ERROR, 0, "error reply: %.*s", (int) MIN (length, 300),
                                        line));
          return;
        }
      host->reply_ns = bench_now_ns ();
      host->reply_seen = TRUE;
    }
}

static gboolean
host_readable_cb (int fd, GIOCondition condition, gpointer user_data)
{
  HostEnd *host = user_data;
  GByteArray *in = host->input;

  for (;;)
    {
      gsize old = in->len;
      ssize_t n;

      g_byte_array_set_size (in, old + RECV_SIZE);
      n = recv (fd, in->data + old, RECV_SIZE, MSG_DONTWAIT);
      g_byte_array_set_size (in, old + MAX (n, 0));
      if (n > 0)
        continue;
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      host->source = 0;
      host_fail (host, g_error_new (BENCH_ERROR, 0, "the peer closed the connection"));
      return G_SOURCE_REMOVE;
    }
  for (;;)
    {
      guint8 *start = in->data + host->input_start;
      guint8 *newline = memchr (start, '\n', in->len - host->input_start);

      if (newline == NULL)
        break;
      host->input_start += newline - start + 1;
      host_handle_line (host, (const char *) start, newline - start);
    }
  if (host->input_start == in->len)
    {
      g_byte_array_set_size (in, 0);
      host->input_start = 0;
    }
  else if (host->input_start > 0)
    {
      g_byte_array_remove_range (in, 0, host->input_start);
      host->input_start = 0;
    }
  return G_SOURCE_CONTINUE;
}

static void
host_init (HostEnd *host, const char *label, int fd)
{
  memset (host, 0, sizeof *host);
  host->label = label;
  host->fd = fd;
  host->input = g_byte_array_sized_new (RECV_SIZE * 2);
  host->parser = json_parser_new_immutable ();
  host->generator = json_generator_new ();
  host->decoded = g_malloc (BENCH_CLIP_CHUNK + 64);
  host->next_id = 1;
  host->source = g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR, host_readable_cb, host);
}

static void
host_clear (HostEnd *host)
{
  if (host->input == NULL)
    return;
  g_clear_handle_id (&host->source, g_source_remove);
  if (host->fd >= 0)
    close (host->fd);
  g_byte_array_unref (host->input);
  g_object_unref (host->parser);
  g_object_unref (host->generator);
  g_free (host->decoded);
  g_clear_error (&host->error);
  host->input = NULL;
}

/* Send a command; its reply sets reply_seen. */
static void
host_command (HostEnd *host, const char *command, JsonNode *arguments)
{
  gsize length;
  char *line;

  host->awaited_id = host->next_id++;
  host->reply_seen = FALSE;
  line = bench_clip_build_command (host->generator, command, arguments, host->awaited_id, &length);
  host_send (host, line, length);
}

static JsonNode *
request_arguments (const char *selection, guint32 serial, guint32 transfer)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "selection");
  json_builder_add_string_value (builder, selection);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, BENCH_CLIP_TYPE);
  json_builder_set_member_name (builder, "serial");
  json_builder_add_int_value (builder, serial);
  json_builder_set_member_name (builder, "transfer");
  json_builder_add_int_value (builder, transfer);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static JsonNode *
size_arguments (guint64 size)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, size);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* --- the guest program (D-Bus on bus S) ------------------------------------ */

typedef struct {
  GDBusConnection *bus;
  guint subscriptions[2];
  gboolean host_grab_seen;
  GError *error;

  /* Read (host->guest) */
  BenchPipeJob *drain;
  gboolean read_replied;
  guint64 read_bytes;
  gint64 read_reply_ns;

  /* SupplyData (guest->host) */
  guint64 supply_size;
  BenchPipeJob *feed;
  gboolean supply_replied;
  guint64 supply_bytes;
} Guest;

static void
guest_fail (Guest *guest, GError *error)
{
  if (guest->error == NULL)
    {
      g_prefix_error (&error, "guest program: ");
      guest->error = error;
    }
  else
    g_error_free (error);
}

static void
on_host_grabbed (GDBusConnection *connection, const char *sender, const char *path,
                 const char *interface, const char *signal, GVariant *parameters,
                 gpointer user_data)
{
  Guest *guest = user_data;
  const char *selection;

  if (g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sasu)")))
    {
      g_variant_get (parameters, "(&s@asu)", &selection, NULL, NULL);
      if (g_str_equal (selection, "clipboard"))
        guest->host_grab_seen = TRUE;
    }
}

static void
supply_reply_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Guest *guest = user_data;
  GError *error = NULL;
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), NULL, result, &error);

  if (reply == NULL)
    guest_fail (guest, error);
  else
    g_variant_get (reply, "(t)", &guest->supply_bytes);
  guest->supply_replied = TRUE;
}

/* Fds go with a call in a list of their own (dup'ed), ours are closed. */
static GUnixFDList *
fd_list_take (int fd)
{
  GUnixFDList *list = g_unix_fd_list_new ();

  g_unix_fd_list_append (list, fd, NULL);
  close (fd);
  return list;
}

static void
on_data_requested (GDBusConnection *connection, const char *sender, const char *path,
                   const char *interface, const char *signal, GVariant *parameters,
                   gpointer user_data)
{
  Guest *guest = user_data;
  g_autoptr(GUnixFDList) list = NULL;
  guint32 request_id;
  int fds[2];

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ssu)")))
    return;
  g_variant_get (parameters, "(&s&su)", NULL, NULL, &request_id);
  if (guest->feed != NULL || pipe2 (fds, O_CLOEXEC) < 0)
    {
      guest_fail (guest, g_error_new (BENCH_ERROR, 0, "an unexpected DataRequested"));
      return;
    }
  guest->feed = bench_pipe_feed_start (fds[1], guest->supply_size);
  list = fd_list_take (fds[0]);
  g_dbus_connection_call_with_unix_fd_list (guest->bus, SESSION_NAME, BENCH_OBJECT_PATH,
                                            CLIPBOARD_INTERFACE, "SupplyData",
                                            g_variant_new ("(uh)", request_id, 0),
                                            G_VARIANT_TYPE ("(t)"), G_DBUS_CALL_FLAGS_NONE,
                                            G_MAXINT, list, NULL, supply_reply_cb, guest);
}

static void
read_reply_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Guest *guest = user_data;
  GError *error = NULL;
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), NULL, result, &error);

  guest->read_reply_ns = bench_now_ns ();
  if (reply == NULL)
    guest_fail (guest, error);
  else
    g_variant_get (reply, "(t)", &guest->read_bytes);
  guest->read_replied = TRUE;
}

static gboolean
guest_start_read (Guest *guest, GError **error)
{
  g_autoptr(GUnixFDList) list = NULL;
  int fds[2];

  if (pipe2 (fds, O_CLOEXEC) < 0)
    {
      g_set_error (error, BENCH_ERROR, 0, "pipe: %s", g_strerror (errno));
      return FALSE;
    }
  guest->read_replied = FALSE;
  guest->drain = bench_pipe_drain_start (fds[0]);
  list = fd_list_take (fds[1]);
  g_dbus_connection_call_with_unix_fd_list (guest->bus, SESSION_NAME, BENCH_OBJECT_PATH,
                                            CLIPBOARD_INTERFACE, "Read",
                                            g_variant_new ("(ssh)", "clipboard", BENCH_CLIP_TYPE, 0),
                                            G_VARIANT_TYPE ("(t)"), G_DBUS_CALL_FLAGS_NONE,
                                            G_MAXINT, list, NULL, read_reply_cb, guest);
  return TRUE;
}

/* --- setup ------------------------------------------------------------------ */

struct _BenchClipboard {
  BenchBus *bus_c;          /* the bridge's ("system") bus */
  BenchBus *bus_s;          /* qga-session's session bus */
  BenchProc *bridge;
  BenchProc *session;
  BenchProc *floor;
  HostEnd host;             /* to qga-bridge C */
  HostEnd floor_host;       /* to the floor server */
  Guest guest;
  guint32 next_transfer;
  BenchClipResults results;
  gboolean idle_sampled;
};

typedef gboolean (*DoneFunc) (BenchClipboard *clip, gpointer data);

static gboolean
on_wait_timeout (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Run the main loop until done() says so, something breaks, or timeout. */
static gboolean
run_until (BenchClipboard *clip, DoneFunc done, gpointer data, guint timeout_ms, const char *what,
           GError **error)
{
  gboolean timed_out = FALSE;
  guint timer = g_timeout_add (timeout_ms, on_wait_timeout, &timed_out);
  HostEnd *hosts[] = { &clip->host, &clip->floor_host };

  for (;;)
    {
      for (guint i = 0; i < G_N_ELEMENTS (hosts); i++)
        if (hosts[i]->error != NULL)
          {
            g_propagate_error (error, g_steal_pointer (&hosts[i]->error));
            goto fail;
          }
      if (clip->guest.error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&clip->guest.error));
          goto fail;
        }
      if (done (clip, data))
        break;
      if (timed_out)
        {
          g_set_error (error, BENCH_ERROR, 0, "%s: nothing within %u ms", what, timeout_ms);
          return FALSE;
        }
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (timer);
  return TRUE;

fail:
  if (!timed_out)
    g_source_remove (timer);
  g_prefix_error (error, "%s: ", what);
  return FALSE;
}

static gboolean
flag_set (BenchClipboard *clip, gpointer data)
{
  return *(gboolean *) data;
}

static gboolean
guest_serial_known (BenchClipboard *clip, gpointer data)
{
  return clip->host.guest_serial != 0;
}

static char *
session_argv0 (const char *bridge_path, const char *session_path)
{
  g_autofree char *dir = NULL;

  if (session_path != NULL)
    return g_strdup (session_path);
  dir = g_path_get_dirname (bridge_path);
  return g_build_filename (dir, "qga-session", NULL);
}

static gboolean
start_bridge (BenchClipboard *clip, const char *bridge_path, const char *tmpdir, GError **error)
{
  g_autofree char *socket = g_build_filename (tmpdir, "clipboard-host.sock", NULL);
  g_autofree char *channel_arg = g_strconcat ("--channel=unix:", socket, NULL);
  const char *argv[] = { bridge_path, "--bus=session", channel_arg, NULL };
  int listen_fd = bench_unix_listen (socket, error);
  int fd = -1;

  if (listen_fd < 0)
    return FALSE;
  clip->bridge = bench_proc_spawn_bridge ("qga-bridge C", clip->bus_c->address, argv, error);
  if (clip->bridge != NULL)
    fd = bench_unix_accept (listen_fd, BENCH_TIMEOUT_MS, error);
  close (listen_fd);
  if (fd < 0)
    return FALSE;
  host_init (&clip->host, "qga-bridge C's port", fd);
  return TRUE;
}

/* qga-session's "system bus" is bus C: through env(1), which execs it. */
static gboolean
start_session (BenchClipboard *clip, const char *bridge_path, const char *session_path,
               GError **error)
{
  g_autofree char *program = session_argv0 (bridge_path, session_path);
  g_autofree char *system_bus = g_strconcat ("DBUS_SYSTEM_BUS_ADDRESS=", clip->bus_c->address, NULL);
  const char *argv[] = { "env", system_bus, program, NULL };
  g_autofree char *owner = NULL;

  clip->session = bench_proc_spawn ("qga-session", clip->bus_s->address, FALSE, argv, error);
  if (clip->session == NULL)
    return FALSE;
  clip->guest.bus = bench_bus_connect (clip->bus_s, error);
  if (clip->guest.bus == NULL)
    return FALSE;
  owner = bench_bus_wait_owner (clip->guest.bus, SESSION_NAME, error);
  return owner != NULL;
}

static gboolean
start_floor (BenchClipboard *clip, const char *self, const char *tmpdir, GError **error)
{
  g_autofree char *socket = g_build_filename (tmpdir, "clipboard-floor.sock", NULL);
  g_autofree char *arg = g_strconcat ("--clipboard-floor=", socket, NULL);
  const char *argv[] = { self, arg, NULL };
  int fd;

  clip->floor = bench_proc_spawn ("clipboard floor server", NULL, FALSE, argv, error);
  if (clip->floor == NULL)
    return FALSE;
  fd = bench_unix_connect (socket, BENCH_TIMEOUT_MS, error);
  if (fd < 0)
    return FALSE;
  host_init (&clip->floor_host, "the clipboard floor server", fd);
  return TRUE;
}

/* The host grabs "clipboard" (read by host->guest), the guest program
 * grabs "primary" (read by guest->host): the two never cancel each other. */
static gboolean
make_grabs (BenchClipboard *clip, GError **error)
{
  Guest *guest = &clip->guest;
  const char *types[] = { BENCH_CLIP_TYPE, NULL };
  g_autoptr(GVariant) reply = NULL;
  gsize length;
  char *line;

  guest->subscriptions[0] =
    g_dbus_connection_signal_subscribe (guest->bus, SESSION_NAME, CLIPBOARD_INTERFACE, "HostGrabbed",
                                        BENCH_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_host_grabbed, guest, NULL);
  guest->subscriptions[1] =
    g_dbus_connection_signal_subscribe (guest->bus, SESSION_NAME, CLIPBOARD_INTERFACE, "DataRequested",
                                        BENCH_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_data_requested, guest, NULL);
  if (!bench_bus_round_trip (guest->bus, error))
    return FALSE;
  line = build_grab (clip->host.generator, "clipboard", 1, 0, &length);
  host_send (&clip->host, line, length);
  if (!run_until (clip, flag_set, &guest->host_grab_seen, BENCH_TIMEOUT_MS, "HostGrabbed", error))
    return FALSE;
  reply = g_dbus_connection_call_sync (guest->bus, SESSION_NAME, BENCH_OBJECT_PATH,
                                       CLIPBOARD_INTERFACE, "Grab",
                                       g_variant_new ("(s^as)", "primary", types),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE,
                                       BENCH_TIMEOUT_MS, NULL, error);
  if (reply == NULL)
    return FALSE;
  return run_until (clip, guest_serial_known, NULL, BENCH_TIMEOUT_MS,
                    "the guest's CLIPBOARD_GRAB", error);
}

gboolean
bench_clipboard_start (BenchClipboard **clip_out, const char *bridge_path, const char *session_path,
                       const char *self, const char *tmpdir, GError **error)
{
  BenchClipboard *clip = g_new0 (BenchClipboard, 1);

  *clip_out = clip;
  clip->host.fd = clip->floor_host.fd = -1;
  clip->next_transfer = 1;
  for (guint d = 0; d < BENCH_CLIP_N_DIRECTIONS; d++)
    for (guint s = 0; s < BENCH_CLIP_N_SIZES; s++)
      for (guint k = 0; k < BENCH_CLIP_N_SUBJECTS; k++)
        clip->results.times[d][s][k] = bench_samples_new ();
  return (clip->bus_c = bench_bus_start ("dbus-daemon C", error)) != NULL &&
         (clip->bus_s = bench_bus_start ("dbus-daemon S", error)) != NULL &&
         start_bridge (clip, bridge_path, tmpdir, error) &&
         start_session (clip, bridge_path, session_path, error) &&
         /* the bridge asks host-info once the agent has registered */
         run_until (clip, flag_set, &clip->host.host_info_answered, BENCH_TIMEOUT_MS,
                    "qga-bridge C's host-info (is qga-session registered?)", error) &&
         start_floor (clip, self, tmpdir, error) &&
         make_grabs (clip, error);
}

gboolean
bench_clipboard_check_alive (BenchClipboard *clip, GError **error)
{
  BenchProc *procs[] = { clip->bridge, clip->session, clip->floor,
                         clip->bus_c ? clip->bus_c->daemon : NULL,
                         clip->bus_s ? clip->bus_s->daemon : NULL };

  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    if (procs[i] != NULL && !bench_proc_check_alive (procs[i], error))
      return FALSE;
  return TRUE;
}

const BenchClipResults *
bench_clipboard_get_results (BenchClipboard *clip)
{
  return &clip->results;
}

static gboolean
stop_one (BenchProc *proc, gboolean ok, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (proc == NULL)
    return ok;
  if (!bench_proc_stop (proc, &local_error) && ok)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return ok;
}

gboolean
bench_clipboard_stop (BenchClipboard *clip, GError **error)
{
  gboolean ok = TRUE;
  g_autoptr(GError) local_error = NULL;

  if (clip == NULL)
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (clip->guest.subscriptions); i++)
    if (clip->guest.subscriptions[i] != 0)
      g_dbus_connection_signal_unsubscribe (clip->guest.bus, clip->guest.subscriptions[i]);
  g_clear_object (&clip->guest.bus);
  g_clear_error (&clip->guest.error);
  /* before their connections close: the floor server exits at EOF */
  ok = stop_one (clip->session, ok, error);
  ok = stop_one (clip->bridge, ok, error);
  ok = stop_one (clip->floor, ok, error);
  host_clear (&clip->host);
  host_clear (&clip->floor_host);
  if (!bench_bus_stop (clip->bus_c, &local_error) && ok)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      ok = FALSE;
    }
  g_clear_error (&local_error);
  if (!bench_bus_stop (clip->bus_s, &local_error) && ok)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      ok = FALSE;
    }
  for (guint d = 0; d < BENCH_CLIP_N_DIRECTIONS; d++)
    for (guint s = 0; s < BENCH_CLIP_N_SIZES; s++)
      for (guint k = 0; k < BENCH_CLIP_N_SUBJECTS; k++)
        g_array_unref (clip->results.times[d][s][k]);
  g_free (clip);
  return ok;
}

/* --- memory ------------------------------------------------------------------ */

static gsize
status_kib (GPid pid, const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *text = NULL;
  g_autofree char *key = g_strconcat ("\n", field, ":", NULL);
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, key)) == NULL)
    return 0;
  return (gsize) g_ascii_strtoull (line + strlen (key), NULL, 10);
}

/* Reset VmHWM to the current RSS (Linux >= 4.0); FALSE if not possible. */
static gboolean
reset_peak (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/clear_refs", (int) pid);

  return g_file_set_contents (path, "5", 1, NULL);
}

typedef struct {
  GPid pids[2];
  gsize max_rss[2];
  gboolean reset_ok[2];
  guint timer;
} PeakWatch;

static gboolean
sample_rss_cb (gpointer user_data)
{
  PeakWatch *watch = user_data;

  for (guint i = 0; i < 2; i++)
    watch->max_rss[i] = MAX (watch->max_rss[i], status_kib (watch->pids[i], "VmRSS"));
  return G_SOURCE_CONTINUE;
}

static void
peak_watch_start (PeakWatch *watch, GPid bridge, GPid session)
{
  memset (watch, 0, sizeof *watch);
  watch->pids[0] = bridge;
  watch->pids[1] = session;
  for (guint i = 0; i < 2; i++)
    watch->reset_ok[i] = reset_peak (watch->pids[i]);
  sample_rss_cb (watch);
  watch->timer = g_timeout_add (SAMPLE_RSS_MS, sample_rss_cb, watch);
}

static BenchClipRss
peak_of (PeakWatch *watch, guint i)
{
  gsize hwm = status_kib (watch->pids[i], "VmHWM");

  /* Without the reset, VmHWM is the peak since the start: still a bound. */
  return (BenchClipRss) { MAX (watch->max_rss[i], watch->reset_ok[i] ? hwm : 0), hwm };
}

static void
peak_watch_stop (PeakWatch *watch, BenchClipRss *bridge, BenchClipRss *session)
{
  BenchClipRss b, s;

  g_source_remove (watch->timer);
  sample_rss_cb (watch);
  b = peak_of (watch, 0);
  s = peak_of (watch, 1);
  if (b.rss_kib > bridge->rss_kib)
    *bridge = b;
  if (s.rss_kib > session->rss_kib)
    *session = s;
}

/* --- one transfer ------------------------------------------------------------ */

static gboolean
h2g_real_done (BenchClipboard *clip, gpointer data)
{
  return clip->host.own_done && clip->guest.read_replied && pipe_job_is_done (clip->guest.drain);
}

static gboolean
floor_reply_seen (BenchClipboard *clip, gpointer data)
{
  return clip->floor_host.reply_seen;
}

static gboolean
g2h_real_done (BenchClipboard *clip, gpointer data)
{
  return clip->host.read_done && clip->host.reply_seen && clip->guest.supply_replied &&
         clip->guest.feed != NULL && pipe_job_is_done (clip->guest.feed);
}

static gboolean
g2h_floor_done (BenchClipboard *clip, gpointer data)
{
  return clip->floor_host.read_done && clip->floor_host.reply_seen;
}

static guint
transfer_timeout_ms (guint64 size)
{
  return BENCH_TIMEOUT_MS + (guint) (size / 4096);   /* 20 s + 1 s per 4 MiB */
}

static void
arm_owner (HostEnd *host, guint64 size)
{
  host->own_armed = TRUE;
  host->own_active = host->own_done = host->own_last_sent = FALSE;
  host->own_seq = host->own_acked = 0;
  host->own_size = size;
  host->own_sent = 0;
}

static void
arm_reader (HostEnd *host, guint32 transfer, guint64 size)
{
  host->read_active = TRUE;
  host->read_done = FALSE;
  host->read_transfer = transfer;
  host->read_seq = 0;
  host->read_size = size;
  host->read_bytes = 0;
}

static gboolean
check_bytes (const char *what, guint64 bytes, guint64 size, GError **error)
{
  if (bytes == size)
    return TRUE;
  g_set_error (error, BENCH_ERROR, 0, "%s: %" G_GUINT64_FORMAT " bytes of %" G_GUINT64_FORMAT,
               what, bytes, size);
  return FALSE;
}

static gboolean
h2g_real (BenchClipboard *clip, guint64 size, gint64 *ns, GError **error)
{
  Guest *guest = &clip->guest;
  guint64 drained;
  gint64 t0, drain_end;
  gboolean ok;

  arm_owner (&clip->host, size);
  t0 = bench_now_ns ();
  if (!guest_start_read (guest, error))
    return FALSE;
  ok = run_until (clip, h2g_real_done, NULL, transfer_timeout_ms (size), "host->guest Read", error);
  if (!ok && !pipe_job_is_done (guest->drain))
    return FALSE;   /* a thread stuck in read(): leave it, the bench ends */
  ok = bench_pipe_job_finish (g_steal_pointer (&guest->drain), &drained, &drain_end,
                              ok ? error : NULL) && ok;
  if (!ok || !check_bytes ("Read", guest->read_bytes, size, error) ||
      !check_bytes ("the guest program's pipe", drained, size, error))
    return FALSE;
  *ns = MAX (drain_end, guest->read_reply_ns) - t0;
  return TRUE;
}

static gboolean
h2g_floor (BenchClipboard *clip, guint64 size, gint64 *ns, GError **error)
{
  HostEnd *host = &clip->floor_host;
  g_autoptr(JsonNode) arguments = size_arguments (size);
  gint64 t0;

  arm_owner (host, size);
  t0 = bench_now_ns ();
  host_command (host, "floor-read", arguments);
  if (!run_until (clip, floor_reply_seen, NULL, transfer_timeout_ms (size), "floor-read", error))
    return FALSE;
  if (!host->own_done)
    {
      g_set_error (error, BENCH_ERROR, 0, "the floor server replied before the last acknowledgement");
      return FALSE;
    }
  *ns = host->reply_ns - t0;
  return TRUE;
}

static gboolean
g2h_real (BenchClipboard *clip, guint64 size, gint64 *ns, GError **error)
{
  Guest *guest = &clip->guest;
  HostEnd *host = &clip->host;
  guint32 transfer = clip->next_transfer++;
  g_autoptr(JsonNode) arguments = request_arguments ("primary", host->guest_serial, transfer);
  gboolean ok;
  guint64 fed;
  gint64 t0;

  guest->supply_size = size;
  guest->supply_replied = FALSE;
  arm_reader (host, transfer, size);
  t0 = bench_now_ns ();
  host_command (host, "guest-clipboard-request", arguments);
  ok = run_until (clip, g2h_real_done, NULL, transfer_timeout_ms (size), "guest->host SupplyData",
                  error);
  if (guest->feed == NULL || (!ok && !pipe_job_is_done (guest->feed)))
    return FALSE;
  ok = bench_pipe_job_finish (g_steal_pointer (&guest->feed), &fed, NULL, ok ? error : NULL) && ok;
  if (!ok || !check_bytes ("SupplyData", guest->supply_bytes, size, error) ||
      !check_bytes ("the guest program's pipe", fed, size, error))
    return FALSE;
  *ns = host->read_done_ns - t0;
  return TRUE;
}

static gboolean
g2h_floor (BenchClipboard *clip, guint64 size, gint64 *ns, GError **error)
{
  HostEnd *host = &clip->floor_host;
  guint32 transfer = clip->next_transfer++;
  g_autoptr(JsonNode) grab = size_arguments (size);
  g_autoptr(JsonNode) arguments = request_arguments ("primary", 0, transfer);
  gint64 t0;

  /* the floor's Grab: the content it will serve (untimed, as the real Grab) */
  host_command (host, "floor-grab", grab);
  if (!run_until (clip, floor_reply_seen, NULL, BENCH_TIMEOUT_MS, "floor-grab", error))
    return FALSE;
  arm_reader (host, transfer, size);
  t0 = bench_now_ns ();
  host_command (host, "guest-clipboard-request", arguments);
  if (!run_until (clip, g2h_floor_done, NULL, transfer_timeout_ms (size), "floor guest->host", error))
    return FALSE;
  *ns = host->read_done_ns - t0;
  return TRUE;
}

typedef gboolean (*TransferFunc) (BenchClipboard *clip, guint64 size, gint64 *ns, GError **error);

static const TransferFunc transfers[BENCH_CLIP_N_DIRECTIONS][BENCH_CLIP_N_SUBJECTS] = {
  { h2g_real, h2g_floor },
  { g2h_real, g2h_floor },
};

/* One transfer, its CPU time, and (largest size, real path) the peaks. */
static gboolean
measure_one (BenchClipboard *clip, guint direction, guint size_index, BenchClipSubject subject,
             GError **error)
{
  BenchClipResults *r = &clip->results;
  guint64 size = bench_clip_sizes[size_index];
  GPid bridge = bench_proc_get_pid (clip->bridge), session = bench_proc_get_pid (clip->session);
  GPid floor_pid = bench_proc_get_pid (clip->floor), self = getpid ();
  gboolean watch_peak = subject == BENCH_CLIP_REAL && size_index == BENCH_CLIP_N_SIZES - 1;
  gint64 cpu0[BENCH_CLIP_N_CPU];
  PeakWatch watch;
  gint64 ns;

  cpu0[BENCH_CLIP_CPU_BRIDGE] = bench_proc_cpu_ns (bridge);
  cpu0[BENCH_CLIP_CPU_SESSION] = bench_proc_cpu_ns (session);
  cpu0[BENCH_CLIP_CPU_FLOOR] = bench_proc_cpu_ns (floor_pid);
  cpu0[BENCH_CLIP_CPU_BENCH_REAL] = cpu0[BENCH_CLIP_CPU_BENCH_FLOOR] = bench_proc_cpu_ns (self);
  if (watch_peak)
    peak_watch_start (&watch, bridge, session);
  if (!transfers[direction][subject] (clip, size, &ns, error))
    {
      if (watch_peak)
        g_source_remove (watch.timer);
      g_prefix_error (error, "%s %" G_GUINT64_FORMAT " bytes (%s): ",
                      bench_clip_direction_names[direction], size,
                      subject == BENCH_CLIP_REAL ? "real" : "floor");
      return FALSE;
    }
  if (watch_peak)
    peak_watch_stop (&watch, &r->bridge_peak[direction], &r->session_peak[direction]);
  bench_samples_add (r->times[direction][size_index][subject], ns);
  r->cpu_bytes[direction][subject] += size;
  if (subject == BENCH_CLIP_REAL)
    {
      r->cpu_ns[direction][BENCH_CLIP_CPU_BRIDGE] += bench_proc_cpu_ns (bridge) - cpu0[BENCH_CLIP_CPU_BRIDGE];
      r->cpu_ns[direction][BENCH_CLIP_CPU_SESSION] += bench_proc_cpu_ns (session) - cpu0[BENCH_CLIP_CPU_SESSION];
      r->cpu_ns[direction][BENCH_CLIP_CPU_BENCH_REAL] += bench_proc_cpu_ns (self) - cpu0[BENCH_CLIP_CPU_BENCH_REAL];
    }
  else
    {
      r->cpu_ns[direction][BENCH_CLIP_CPU_FLOOR] += bench_proc_cpu_ns (floor_pid) - cpu0[BENCH_CLIP_CPU_FLOOR];
      r->cpu_ns[direction][BENCH_CLIP_CPU_BENCH_FLOOR] += bench_proc_cpu_ns (self) - cpu0[BENCH_CLIP_CPU_BENCH_FLOOR];
    }
  return TRUE;
}

static void
sample_idle (BenchClipboard *clip)
{
  GPid bridge = bench_proc_get_pid (clip->bridge), session = bench_proc_get_pid (clip->session);

  g_usleep (SETTLE_MS * 1000);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  clip->results.bridge_idle = (BenchClipRss) { status_kib (bridge, "VmRSS"), status_kib (bridge, "VmHWM") };
  clip->results.session_idle = (BenchClipRss) { status_kib (session, "VmRSS"), status_kib (session, "VmHWM") };
  clip->idle_sampled = TRUE;
}

gboolean
bench_clipboard_run_pass (BenchClipboard *clip, guint pass, gboolean quick, GError **error)
{
  const guint *reps = quick ? reps_quick : reps_normal;

  if (!clip->idle_sampled)
    sample_idle (clip);
  clip->results.passes = pass;
  for (guint d = 0; d < BENCH_CLIP_N_DIRECTIONS; d++)
    for (guint s = 0; s < BENCH_CLIP_N_SIZES; s++)
      {
        g_printerr ("qga-bench: pass %u: clipboard %s %" G_GUINT64_FORMAT " KiB x %u\n", pass,
                    bench_clip_direction_names[d], bench_clip_sizes[s] / 1024, reps[s]);
        /* alternate, so that the machine's moods fall on both alike */
        for (guint i = 0; i < reps[s]; i++)
          for (guint k = 0; k < BENCH_CLIP_N_SUBJECTS; k++)
            {
              BenchClipSubject subject = (i % 2 == 0) ? k : BENCH_CLIP_N_SUBJECTS - 1 - k;

              if (!measure_one (clip, d, s, subject, error))
                return FALSE;
            }
      }
  return bench_clipboard_check_alive (clip, error);
}
