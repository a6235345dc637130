/* host-peer.c: one connection to the guest (see host-peer.h). */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "host-clipboard.h"
#include "host-commands.h"
#include "host-peer.h"
#include "qga-error.h"
#include "qga-framer.h"
#include "qga-log.h"
#include "qga-stream.h"
#include "qga-wire.h"

/* HOST_STATS events are not queued behind more than this much unwritten
 * output: a guest that does not read misses them rather than growing our
 * queue. */
#define HOST_PEER_MAX_EVENT_BACKLOG (64 * 1024)

struct _HostPeer {
  GObject parent;

  QgaStream *stream;
  HostCommands *commands;
  HostClipboard *clipboard;   /* not owned; NULL once detached */
  QgaRateLimit bad_input_limit;
};

enum { SIGNAL_REPLY, SIGNAL_EVENT, SIGNAL_DRAINED, SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (HostPeer, host_peer, G_TYPE_OBJECT)

#define warn_bad_input(peer, ...) qga_rate_limited_warning (&(peer)->bad_input_limit, __VA_ARGS__)

/* --- incoming --- */

static void
warn_unrecognised (HostPeer *peer, JsonNode *message)
{
  g_autofree char *text = NULL;
  g_autofree char *cut = NULL;

  if (!qga_rate_limit_allow (&peer->bad_input_limit))
    return;
  text = qga_wire_to_string (message);
  cut = qga_log_excerpt (text, strlen (text));
  g_warning ("unrecognised message from the guest: %s", cut);
}

static void
detach_clipboard (HostPeer *peer)
{
  HostClipboard *clipboard = g_steal_pointer (&peer->clipboard);

  if (clipboard != NULL)
    host_clipboard_detach (clipboard, peer);
}

/* TRUE if the event was a clipboard one, now handled. */
static gboolean
divert_event (HostPeer *peer, JsonObject *event)
{
  const char *name = qga_wire_get_string_member (event, "event");

  if (peer->clipboard == NULL || name == NULL || !qga_clipboard_is_event (name))
    return FALSE;
  host_clipboard_handle_event (peer->clipboard, name, json_object_get_member (event, "data"));
  return TRUE;
}

static void
stream_message_cb (QgaStream *stream, JsonNode *message, gpointer user_data)
{
  /* A handler may drop its reference to us. */
  g_autoptr(HostPeer) peer = g_object_ref (user_data);

  if (peer->commands == NULL)
    return;  /* closed by a handler of an earlier message in the same read */
  switch (qga_wire_classify (message))
    {
    case QGA_WIRE_RETURN:
    case QGA_WIRE_ERROR:
      if (peer->clipboard == NULL ||
          !host_clipboard_handle_reply (peer->clipboard, json_node_get_object (message)))
        g_signal_emit (peer, signals[SIGNAL_REPLY], 0, message);
      break;
    case QGA_WIRE_EVENT:
      if (!divert_event (peer, json_node_get_object (message)))
        g_signal_emit (peer, signals[SIGNAL_EVENT], 0, message);
      break;
    case QGA_WIRE_INVALID:
      warn_unrecognised (peer, message);
      host_commands_dispatch (peer->commands, message);
      break;
    case QGA_WIRE_COMMAND:
    default:
      host_commands_dispatch (peer->commands, message);
      break;
    }
}

static void
stream_bad_input_cb (QgaStream *stream, GError *error, gpointer user_data)
{
  HostPeer *peer = user_data;
  g_autofree char *cut = NULL;

  /* The 0xFF before a guest-sync-delimited reply lands here: expected. */
  if (g_error_matches (error, QGA_FRAMER_ERROR, QGA_FRAMER_ERROR_RESET))
    {
      cut = qga_log_excerpt (error->message, strlen (error->message));
      g_debug ("resync on input from the guest: %s", cut);
      return;
    }
  /* A guest sending junk must not cost an excerpt per bad byte: only
   * what the rate limit lets through is formatted. */
  if (!qga_rate_limit_allow (&peer->bad_input_limit))
    return;
  cut = qga_log_excerpt (error->message, strlen (error->message));
  g_warning ("bad input from the guest: %s", cut);
}

static void
stream_drained_cb (QgaStream *stream, gpointer user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_DRAINED], 0);
}

static void
stream_closed_cb (QgaStream *stream, GError *error, gpointer user_data)
{
  g_autoptr(HostPeer) self = g_object_ref (user_data);

  /* No delayed replies for a guest that has gone, no transfers either. */
  g_clear_pointer (&self->commands, host_commands_free);
  detach_clipboard (self);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
}

/* --- outgoing --- */

static void
send_reply_cb (GBytes *reply, gpointer user_data)
{
  HostPeer *peer = user_data;
  g_autoptr(GError) error = NULL;

  /* Back-pressure stops reading while replies pile up, so FORCE is bounded. */
  if (!qga_stream_send (peer->stream, reply, QGA_STREAM_SEND_FORCE, &error))
    g_debug ("reply to the guest dropped: %s", error->message);
}

static void
send_event_cb (GBytes *event, gpointer user_data)
{
  HostPeer *peer = user_data;
  g_autoptr(GError) error = NULL;

  if (qga_stream_get_queued_bytes (peer->stream) > HOST_PEER_MAX_EVENT_BACKLOG)
    g_debug ("HOST_STATS skipped: the guest is not reading");
  else if (!qga_stream_send (peer->stream, event, QGA_STREAM_SEND_NONE, &error))
    g_debug ("HOST_STATS dropped: %s", error->message);
}

static gboolean
send_bytes (HostPeer *peer, GBytes *bytes, GError **error)
{
  return qga_stream_send (peer->stream, bytes, QGA_STREAM_SEND_NONE, error);
}

gboolean
host_peer_send_command (HostPeer *peer, const char *name, JsonNode *arguments, gint64 id,
                        GError **error)
{
  g_autoptr(JsonNode) id_node = json_node_init_int (json_node_alloc (), id);
  g_autoptr(GBytes) bytes = qga_wire_build_command (name, arguments, id_node);

  return send_bytes (peer, bytes, error);
}

gboolean
host_peer_send_sync (HostPeer *peer, gint64 sync_id, GError **error)
{
  static const guint8 sentinel = QGA_WIRE_SENTINEL;
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonNode) arguments_node = NULL;
  g_autoptr(GBytes) command = NULL;
  g_autoptr(GByteArray) line = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  gsize size;
  const guint8 *data;

  json_object_set_int_member (arguments, "id", sync_id);
  arguments_node = json_node_init_object (json_node_alloc (), arguments);
  command = qga_wire_build_command ("guest-sync-delimited", arguments_node, NULL);
  data = g_bytes_get_data (command, &size);
  g_byte_array_append (line, &sentinel, 1);
  g_byte_array_append (line, data, size);
  bytes = g_byte_array_free_to_bytes (g_steal_pointer (&line));
  return send_bytes (peer, bytes, error);
}

gboolean
host_peer_send_event (HostPeer *peer, const char *name, JsonNode *data, GError **error)
{
  g_autoptr(GBytes) bytes = qga_wire_build_event (name, data);

  return send_bytes (peer, bytes, error);
}

gboolean
host_peer_send_line (HostPeer *peer, GBytes *line, GError **error)
{
  return send_bytes (peer, line, error);
}

gboolean
host_peer_send_raw (HostPeer *peer, const char *text, gsize length, GError **error)
{
  g_autoptr(GByteArray) line = g_byte_array_sized_new (length + 1);
  g_autoptr(GBytes) bytes = NULL;

  g_byte_array_append (line, (const guint8 *) text, length);
  g_byte_array_append (line, (const guint8 *) "\n", 1);
  bytes = g_byte_array_free_to_bytes (g_steal_pointer (&line));
  return send_bytes (peer, bytes, error);
}

gboolean
host_peer_is_drained (HostPeer *peer)
{
  return qga_stream_get_queued_bytes (peer->stream) == 0;
}

void
host_peer_close (HostPeer *peer)
{
  qga_stream_close (peer->stream);
  g_clear_pointer (&peer->commands, host_commands_free);
  detach_clipboard (peer);
}

HostPeer *
host_peer_new (int fd, gsize max_message_size, HostClipboard *clipboard, HostStats *stats)
{
  HostPeer *peer = g_object_new (HOST_TYPE_PEER, NULL);
  gsize max_queue_size = MAX (QGA_STREAM_DEFAULT_MAX_QUEUE_SIZE, 4 * max_message_size);

  peer->commands = host_commands_new (send_reply_cb, send_event_cb, peer, clipboard, stats);
  peer->clipboard = clipboard;
  if (clipboard != NULL)
    host_clipboard_attach (clipboard, peer);
  peer->stream = qga_stream_new (fd, TRUE, max_message_size, max_queue_size);
  g_signal_connect (peer->stream, "message", G_CALLBACK (stream_message_cb), peer);
  g_signal_connect (peer->stream, "bad-input", G_CALLBACK (stream_bad_input_cb), peer);
  g_signal_connect (peer->stream, "drained", G_CALLBACK (stream_drained_cb), peer);
  g_signal_connect (peer->stream, "closed", G_CALLBACK (stream_closed_cb), peer);
  return peer;
}

static void
host_peer_dispose (GObject *object)
{
  HostPeer *peer = HOST_PEER (object);

  if (peer->stream != NULL)
    {
      g_signal_handlers_disconnect_by_data (peer->stream, peer);
      qga_stream_close (peer->stream);
      g_clear_object (&peer->stream);
    }
  g_clear_pointer (&peer->commands, host_commands_free);
  detach_clipboard (peer);
  qga_rate_limit_clear (&peer->bad_input_limit);
  G_OBJECT_CLASS (host_peer_parent_class)->dispose (object);
}

static void
host_peer_init (HostPeer *peer)
{
  peer->bad_input_limit = (QgaRateLimit) QGA_RATE_LIMIT_INIT ("bad input from the guest");
}

static void
host_peer_class_init (HostPeerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = host_peer_dispose;

  signals[SIGNAL_REPLY] =
    g_signal_new ("reply", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_NODE | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_NODE | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_DRAINED] =
    g_signal_new ("drained", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}
