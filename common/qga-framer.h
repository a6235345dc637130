/* qga-framer.h: splits a byte stream into JSON messages.
 *
 * The wire carries JSON values back to back with no length prefix and no
 * required separator (QEMU's guest agent protocol). The framer scans bytes
 * incrementally, aware of strings and escapes, and yields each complete
 * top-level value as text for json-glib to parse. It never buffers more than
 * one message plus the last chunk pushed, and it enforces QEMU's limits:
 *
 *  - a message larger than max_message_size is reported once and skipped
 *    to its end (resync), never stored;
 *  - nesting deeper than QGA_FRAMER_MAX_DEPTH is reported and skipped;
 *  - bytes 0xFF, 0xFE and ASCII control characters other than \t \r \n
 *    drop any partial message (qemu-ga's resync rule, used by guest-sync-delimited);
 *  - integers outside int64 and non-finite numbers are rejected here,
 *    because json-glib silently wraps or saturates them;
 *  - "\u0000" inside a string is rejected, because json-glib truncates it.
 *
 * Pull interface: push a chunk, then call next() until it says NEED_MORE.
 * The framer calls nothing back, so a caller may free it at any point.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define QGA_FRAMER_MAX_DEPTH 1024

#define QGA_FRAMER_ERROR (qga_framer_error_quark ())

typedef enum {
  QGA_FRAMER_ERROR_RESET,        /* a resync byte dropped the parser state */
  QGA_FRAMER_ERROR_TOO_LARGE,    /* the message exceeded the size limit */
  QGA_FRAMER_ERROR_TOO_DEEP,     /* nesting exceeded QGA_FRAMER_MAX_DEPTH */
  QGA_FRAMER_ERROR_SYNTAX,       /* a stray structural character */
  QGA_FRAMER_ERROR_NUMBER_RANGE, /* an integer outside int64, or an infinite number */
  QGA_FRAMER_ERROR_NUL,          /* a \u0000 escape in a string */
} QgaFramerError;

typedef enum {
  QGA_FRAMER_NEED_MORE,
  QGA_FRAMER_MESSAGE,
  QGA_FRAMER_FAILED,
} QgaFramerStatus;

typedef struct _QgaFramer QgaFramer;

GQuark qga_framer_error_quark (void);

QgaFramer *qga_framer_new (gsize max_message_size);
void qga_framer_free (QgaFramer *framer);

/* Append bytes. Drain with qga_framer_next() before the next push. */
void qga_framer_push (QgaFramer *framer, const void *data, gsize length);

/* Next event. On QGA_FRAMER_MESSAGE, *message points at length bytes of
 * JSON text, valid until the next push; on QGA_FRAMER_FAILED, error is set
 * and scanning continues after the offending input. */
QgaFramerStatus qga_framer_next (QgaFramer *framer, const char **message,
                                 gsize *length, GError **error);

/* Forget everything buffered, as after a disconnect. */
void qga_framer_reset (QgaFramer *framer);

/* Give the buffer's memory back if nothing in it is still needed (a burst
 * of input leaves it at its largest size). Not while a message returned
 * by qga_framer_next() is in use. */
void qga_framer_release_memory (QgaFramer *framer);

/* TRUE between messages: nothing partial is held. */
gboolean qga_framer_is_idle (QgaFramer *framer);

gsize qga_framer_get_max_message_size (QgaFramer *framer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QgaFramer, qga_framer_free)

G_END_DECLS
