/* qga-stream.h: one open connection carrying wire messages.
 *
 * A QgaStream owns the I/O on a non-blocking fd: it reads, frames and parses
 * incoming messages, and writes outgoing ones from a bounded queue without
 * ever blocking the main loop. It is used on both ends of the port: by the
 * bridge's channel (virtio-serial device or unix socket) and by qga-host.
 *
 * Signals:
 *   message (JsonNode *root)   a parsed message, any JSON value
 *   bad-input (GError *error)  bytes that did not frame or parse; the stream
 *                              has resynchronised and carries on
 *   closed (GError *error)     end of file or an I/O error; error is NULL on a
 *                              clean EOF. No signal follows it.
 *   drained ()                 the write queue has just become empty
 *
 * Back-pressure: when more than half of max_queue_size is waiting to be
 * written, the stream stops reading until the queue is back under a
 * quarter, so a peer that sends without reading cannot grow our queue.
 *
 * Signal handlers must not iterate the main context (no nested main
 * loops): the fd watch does not block itself while it is dispatched.
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define QGA_TYPE_STREAM (qga_stream_get_type ())
G_DECLARE_FINAL_TYPE (QgaStream, qga_stream, QGA, STREAM, GObject)

#define QGA_STREAM_DEFAULT_MAX_MESSAGE_SIZE (8 * 1024 * 1024)
#define QGA_STREAM_DEFAULT_MAX_QUEUE_SIZE (32 * 1024 * 1024)

typedef enum {
  QGA_STREAM_SEND_NONE = 0,
  /* Queue even past the limit: for replies to the peer's own commands,
   * which back-pressure already bounds. */
  QGA_STREAM_SEND_FORCE = 1 << 0,
} QgaStreamSendFlags;

/* If owns_fd, the fd is closed with the stream. The fd is made non-blocking. */
QgaStream *qga_stream_new (int fd, gboolean owns_fd, gsize max_message_size,
                           gsize max_queue_size);

/* Queue bytes for the peer. Fails with QGA_ERROR_QUEUE_FULL when the queue
 * limit would be passed, or QGA_ERROR_HOST_DISCONNECTED once closed. */
gboolean qga_stream_send (QgaStream *stream, GBytes *bytes,
                          QgaStreamSendFlags flags, GError **error);

/* Whether size more bytes would be accepted now, with reserved bytes
 * promised to others first; the errors are those of qga_stream_send(). */
gboolean qga_stream_check_room (QgaStream *stream, gsize size, gsize reserved,
                                GError **error);

/* Stop reading from the peer while hold is TRUE (the owner cannot take
 * more now); the peer's further bytes wait in the kernel. At most one read
 * already under way is still handed out. */
void qga_stream_hold_reads (QgaStream *stream, gboolean hold);

/* Stop all I/O now and release the fd if owned. Emits nothing. */
void qga_stream_close (QgaStream *stream);

/* Free the read buffers that a burst of input left at their largest; they
 * are allocated again by the next read. For an idle moment. */
void qga_stream_release_memory (QgaStream *stream);

gboolean qga_stream_is_closed (QgaStream *stream);
gsize qga_stream_get_queued_bytes (QgaStream *stream);
gsize qga_stream_get_max_queue_size (QgaStream *stream);
int qga_stream_get_fd (QgaStream *stream);

G_END_DECLS
