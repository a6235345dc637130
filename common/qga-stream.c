/* qga-stream.c: non-blocking message I/O on one fd (see qga-stream.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib-unix.h>

#include "qga-error.h"
#include "qga-framer.h"
#include "qga-stream.h"
#include "qga-wire.h"

#define READ_CHUNK (64 * 1024)
#define READS_PER_WAKEUP 4
#define MAX_IOV 64

struct _QgaStream {
  GObject parent;

  int fd;
  gboolean owns_fd;
  gboolean closed;
  GSource *watch;
  GIOCondition watch_condition;

  QgaFramer *framer;
  guint8 *read_buffer;      /* READ_CHUNK bytes, allocated on demand */

  GQueue queue;             /* of GBytes */
  gsize head_offset;        /* bytes of the head already written */
  gsize queued_bytes;
  gsize max_queue_size;
  gboolean write_blocked;   /* waiting for POLLOUT */
  gboolean read_paused;     /* back-pressure from our write queue */
  gboolean read_held;       /* asked by the owner: qga_stream_hold_reads() */
  guint close_idle;
  GError *deferred_error;
};

enum { SIGNAL_MESSAGE, SIGNAL_BAD_INPUT, SIGNAL_CLOSED, SIGNAL_DRAINED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (QgaStream, qga_stream, G_TYPE_OBJECT)

static void update_watch (QgaStream *stream);

/* The fd watch: one source for the stream's whole life, whose events
 * change in place with g_source_modify_unix_fd(). Replacing the source
 * instead costs an allocation and two wakeups of the main context. */
typedef struct {
  GSource source;
  int fd;
  gpointer fd_tag;
} WatchSource;

static gboolean
watch_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  WatchSource *watch = (WatchSource *) source;
  GUnixFDSourceFunc func = (GUnixFDSourceFunc) (void (*) (void)) callback;

  return func (watch->fd, g_source_query_unix_fd (source, watch->fd_tag), user_data);
}

static GSourceFuncs watch_funcs = { .dispatch = watch_dispatch };

static void
clear_queue (QgaStream *stream)
{
  g_queue_clear_full (&stream->queue, (GDestroyNotify) g_bytes_unref);
  stream->queued_bytes = 0;
  stream->head_offset = 0;
}

void
qga_stream_close (QgaStream *stream)
{
  if (stream->closed)
    return;
  stream->closed = TRUE;
  if (stream->watch != NULL)
    {
      g_source_destroy (stream->watch);
      g_clear_pointer (&stream->watch, g_source_unref);
    }
  g_clear_handle_id (&stream->close_idle, g_source_remove);
  clear_queue (stream);
  qga_framer_reset (stream->framer);
  if (stream->owns_fd && stream->fd >= 0)
    close (stream->fd);
  stream->fd = -1;
}

/* Close, then tell the owner. The owner may drop its last reference in the
 * handler, so hold one across the emission. */
static void
close_and_notify (QgaStream *stream, GError *error)   /* takes error */
{
  g_autoptr(QgaStream) self = g_object_ref (stream);
  g_autoptr(GError) owned = error;

  if (stream->closed)
    return;
  qga_stream_close (stream);
  g_signal_emit (stream, signals[SIGNAL_CLOSED], 0, error);
}

static gboolean
deferred_close_cb (gpointer user_data)
{
  QgaStream *stream = user_data;
  stream->close_idle = 0;
  close_and_notify (stream, g_steal_pointer (&stream->deferred_error));
  return G_SOURCE_REMOVE;
}

/* Write errors are found inside qga_stream_send(); report them from the
 * main loop so that no caller sees "closed" re-entrantly. */
static void
close_later (QgaStream *stream, GError *error)
{
  if (stream->close_idle != 0 || stream->closed)
    {
      g_clear_error (&error);
      return;
    }
  stream->deferred_error = error;
  stream->close_idle = g_idle_add (deferred_close_cb, stream);
}

static void
dispatch_framed (QgaStream *stream)
{
  const char *text;
  gsize length;

  while (!stream->closed)
    {
      g_autoptr(GError) error = NULL;
      QgaFramerStatus status = qga_framer_next (stream->framer, &text, &length, &error);

      if (status == QGA_FRAMER_NEED_MORE)
        return;
      if (status == QGA_FRAMER_MESSAGE)
        {
          g_autoptr(JsonNode) root = qga_wire_parse (text, length, &error);

          if (root != NULL)
            {
              g_signal_emit (stream, signals[SIGNAL_MESSAGE], 0, root);
              continue;
            }
        }
      g_signal_emit (stream, signals[SIGNAL_BAD_INPUT], 0, error);
    }
}

static gboolean
wants_input (QgaStream *stream)
{
  return !stream->read_paused && !stream->read_held;
}

/* Returns FALSE when the stream closed. */
static gboolean
read_some (QgaStream *stream)
{
  if (stream->read_buffer == NULL)
    stream->read_buffer = g_malloc (READ_CHUNK);
  for (int i = 0; i < READS_PER_WAKEUP && !stream->closed && wants_input (stream); i++)
    {
      ssize_t n = read (stream->fd, stream->read_buffer, READ_CHUNK);

      if (n > 0)
        {
          qga_framer_push (stream->framer, stream->read_buffer, n);
          dispatch_framed (stream);
          if (n < READ_CHUNK)
            break;
          continue;
        }
      if (n == 0)
        {
          close_and_notify (stream, NULL);
          return FALSE;
        }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      close_and_notify (stream, g_error_new (QGA_ERROR, QGA_ERROR_HOST_DISCONNECTED,
                                             "read failed: %s", g_strerror (errno)));
      return FALSE;
    }
  return !stream->closed;
}

static void
consume_written (QgaStream *stream, gsize written)
{
  stream->queued_bytes -= written;
  written += stream->head_offset;
  stream->head_offset = 0;
  while (written > 0)
    {
      GBytes *head = g_queue_peek_head (&stream->queue);
      gsize size = g_bytes_get_size (head);

      if (written < size)
        {
          stream->head_offset = written;
          return;
        }
      written -= size;
      g_bytes_unref (g_queue_pop_head (&stream->queue));
    }
}

/* Write as much of the queue as the fd takes now, several messages per
 * writev(). Returns FALSE on a fatal error (already scheduled for close). */
static gboolean
flush_queue (QgaStream *stream)
{
  while (!g_queue_is_empty (&stream->queue))
    {
      struct iovec iov[MAX_IOV];
      int n_iov = 0;
      ssize_t n;

      for (GList *l = stream->queue.head; l != NULL && n_iov < MAX_IOV; l = l->next, n_iov++)
        {
          gsize size;
          const guint8 *data = g_bytes_get_data (l->data, &size);
          gsize skip = (n_iov == 0) ? stream->head_offset : 0;

          iov[n_iov].iov_base = (void *) (data + skip);
          iov[n_iov].iov_len = size - skip;
        }
      n = writev (stream->fd, iov, n_iov);
      if (n > 0)
        {
          consume_written (stream, n);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          stream->write_blocked = TRUE;
          return TRUE;
        }
      close_later (stream, g_error_new (QGA_ERROR, QGA_ERROR_HOST_DISCONNECTED,
                                        "write failed: %s", g_strerror (n < 0 ? errno : EPIPE)));
      return FALSE;
    }
  stream->write_blocked = FALSE;
  return TRUE;
}

static void
update_backpressure (QgaStream *stream)
{
  if (!stream->read_paused && stream->queued_bytes > stream->max_queue_size / 2)
    {
      g_debug ("write queue at %" G_GSIZE_FORMAT " bytes: pausing reads", stream->queued_bytes);
      stream->read_paused = TRUE;
    }
  else if (stream->read_paused && stream->queued_bytes <= stream->max_queue_size / 4)
    {
      g_debug ("write queue drained to %" G_GSIZE_FORMAT " bytes: resuming reads", stream->queued_bytes);
      stream->read_paused = FALSE;
    }
}

static gboolean
fd_ready_cb (int fd, GIOCondition condition, gpointer user_data)
{
  QgaStream *stream = user_data;
  g_autoptr(QgaStream) self = g_object_ref (stream);
  gboolean had_queue = !g_queue_is_empty (&stream->queue);

  if (condition & G_IO_OUT)
    flush_queue (stream);
  if (stream->closed)
    return G_SOURCE_REMOVE;

  if (condition & (G_IO_IN | G_IO_HUP | G_IO_ERR))
    {
      if (!wants_input (stream) && !(condition & G_IO_IN))
        {
          /* HUP while paused: the peer is gone; nothing more will drain. */
          close_and_notify (stream, NULL);
          return G_SOURCE_REMOVE;
        }
      if (!read_some (stream))
        return G_SOURCE_REMOVE;
    }

  update_backpressure (stream);
  if (had_queue && g_queue_is_empty (&stream->queue))
    g_signal_emit (stream, signals[SIGNAL_DRAINED], 0);
  if (!stream->closed)
    update_watch (stream);
  return stream->closed ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static void
update_watch (QgaStream *stream)
{
  GIOCondition wanted = 0;

  if (stream->closed)
    return;
  if (wants_input (stream))
    wanted |= G_IO_IN;
  if (stream->write_blocked)
    wanted |= G_IO_OUT;
  if (wanted == stream->watch_condition)
    return;
  g_source_modify_unix_fd (stream->watch, ((WatchSource *) stream->watch)->fd_tag, wanted);
  stream->watch_condition = wanted;
}

gboolean
qga_stream_check_room (QgaStream *stream, gsize size, gsize reserved, GError **error)
{
  if (stream->closed || stream->close_idle != 0)
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_HOST_DISCONNECTED,
                           "the connection to the peer is closed");
      return FALSE;
    }
  if (stream->queued_bytes + reserved + size > stream->max_queue_size)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_QUEUE_FULL,
                   "the queue to the peer is full (%" G_GSIZE_FORMAT " bytes waiting)",
                   stream->queued_bytes + reserved);
      return FALSE;
    }
  return TRUE;
}

gboolean
qga_stream_send (QgaStream *stream, GBytes *bytes, QgaStreamSendFlags flags, GError **error)
{
  gsize size = g_bytes_get_size (bytes);

  if (flags & QGA_STREAM_SEND_FORCE)
    {
      if (!qga_stream_check_room (stream, 0, 0, error))
        return FALSE;
    }
  else if (!qga_stream_check_room (stream, size, 0, error))
    return FALSE;
  g_queue_push_tail (&stream->queue, g_bytes_ref (bytes));
  stream->queued_bytes += size;
  if (!stream->write_blocked)
    flush_queue (stream);
  update_backpressure (stream);
  update_watch (stream);
  return TRUE;
}

/* Every page of the read buffer and the framer's buffer is touched when a
 * burst of input arrives in full READ_CHUNK reads, and stays resident
 * afterwards (≈ 100 KiB) although an idle stream needs a page or two. */
void
qga_stream_release_memory (QgaStream *stream)
{
  g_clear_pointer (&stream->read_buffer, g_free);
  qga_framer_release_memory (stream->framer);
}

void
qga_stream_hold_reads (QgaStream *stream, gboolean hold)
{
  stream->read_held = hold;
  update_watch (stream);
}

gboolean
qga_stream_is_closed (QgaStream *stream)
{
  return stream->closed || stream->close_idle != 0;
}

gsize
qga_stream_get_queued_bytes (QgaStream *stream)
{
  return stream->queued_bytes;
}

gsize
qga_stream_get_max_queue_size (QgaStream *stream)
{
  return stream->max_queue_size;
}

int
qga_stream_get_fd (QgaStream *stream)
{
  return stream->fd;
}

static void
attach_watch (QgaStream *stream)
{
  WatchSource *watch = (WatchSource *) g_source_new (&watch_funcs, sizeof (WatchSource));

  watch->fd = stream->fd;
  watch->fd_tag = g_source_add_unix_fd (&watch->source, stream->fd, G_IO_IN);
  stream->watch_condition = G_IO_IN;
  stream->watch = &watch->source;
  g_source_set_callback (stream->watch, G_SOURCE_FUNC (fd_ready_cb), stream, NULL);
  /* A non-recursive source is "blocked" while it is dispatched: its fd is
   * taken out of the poll set and put back, and each of the two wakes the
   * main context up, for every message. Neither daemon runs the main
   * context from a signal handler, so fd_ready_cb() is never re-entered. */
  g_source_set_can_recurse (stream->watch, TRUE);
  g_source_attach (stream->watch, g_main_context_get_thread_default ());
}

QgaStream *
qga_stream_new (int fd, gboolean owns_fd, gsize max_message_size, gsize max_queue_size)
{
  QgaStream *stream = g_object_new (QGA_TYPE_STREAM, NULL);
  int flags = fcntl (fd, F_GETFL);

  if (flags >= 0 && !(flags & O_NONBLOCK))
    fcntl (fd, F_SETFL, flags | O_NONBLOCK);
  stream->fd = fd;
  stream->owns_fd = owns_fd;
  stream->framer = qga_framer_new (max_message_size);
  stream->max_queue_size = max_queue_size;
  attach_watch (stream);
  return stream;
}

static void
qga_stream_finalize (GObject *object)
{
  QgaStream *stream = QGA_STREAM (object);

  qga_stream_close (stream);
  g_clear_error (&stream->deferred_error);
  qga_framer_free (stream->framer);
  g_free (stream->read_buffer);
  G_OBJECT_CLASS (qga_stream_parent_class)->finalize (object);
}

static void
qga_stream_init (QgaStream *stream)
{
  stream->fd = -1;
  g_queue_init (&stream->queue);
}

static void
qga_stream_class_init (QgaStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = qga_stream_finalize;

  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_NODE | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_BAD_INPUT] =
    g_signal_new ("bad-input", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_DRAINED] =
    g_signal_new ("drained", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}
