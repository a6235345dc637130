/* qga-transfer.h: clipboard data in chunks with flow control, both ends.
 *
 * A QgaTransfer moves one clipboard content between a local fd and the
 * peer (docs/CLIPBOARD.md §3.4-3.6, §4):
 *
 *  - OWNER: reads its fd (a pipe, memfd or file) only while it has credit
 *    (fewer than QGA_TRANSFER_WINDOW chunks unacknowledged), and sends
 *    CLIPBOARD_DATA. Done when the last chunk is acknowledged.
 *  - READER: checks each CLIPBOARD_DATA (sequence, size, window, base64),
 *    writes it to its fd without blocking, and acknowledges it once
 *    written. Done when the last chunk is written.
 *
 * So neither end holds more than a window of chunks, whatever the size.
 * Both ends enforce max_size, and a transfer without progress for
 * QGA_TRANSFER_TIMEOUT_MS (or the set's timeout) is cancelled. Whatever ends a transfer, done is
 * called exactly once, from the main loop or from the call that ended it;
 * after done no callback runs and nothing more is sent.
 *
 * QgaTransfers holds a side's transfers, in the two numberings (the ones
 * it reads, numbered by itself; the ones it serves, numbered by the peer),
 * enforces QGA_TRANSFER_MAX_AT_ONCE for each, and routes the peer's
 * DATA/ACK/CANCEL events to the right transfer.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "qga-clipboard.h"

G_BEGIN_DECLS

#define QGA_TRANSFER_CHUNK_SIZE 49152
#define QGA_TRANSFER_WINDOW 8
#define QGA_TRANSFER_MAX_AT_ONCE 8
#define QGA_TRANSFER_TIMEOUT_MS 30000

typedef enum {
  QGA_TRANSFER_OWNER,
  QGA_TRANSFER_READER,
} QgaTransferRole;

typedef struct _QgaTransfer QgaTransfer;
typedef struct _QgaTransfers QgaTransfers;

/* Queue one complete wire line for the peer; FALSE with error if it
 * cannot be (the transfer then ends with that error). */
typedef gboolean (*QgaTransferSendFunc) (GBytes *line, gpointer user_data, GError **error);

/* The transfer has ended: error is NULL on success, and bytes is how much
 * was sent or written either way. The transfer is still valid during the
 * call and is freed by its QgaTransfers right after it returns. */
typedef void (*QgaTransferDoneFunc) (QgaTransfer *transfer, guint64 bytes,
                                     const GError *error, gpointer user_data);

/* --- one transfer --- */

/* Takes ownership of fd (closed when the transfer is freed) and makes it
 * non-blocking. id is the reader's number; selection is what a new grab
 * cancels it by. An OWNER starts reading once added to a QgaTransfers. */
QgaTransfer *qga_transfer_new (QgaTransferRole role, guint32 id, QgaSelectionId selection,
                               int fd, guint64 max_size,
                               QgaTransferSendFunc send, QgaTransferDoneFunc done,
                               gpointer user_data);

QgaTransferRole qga_transfer_get_role (QgaTransfer *transfer);
guint32 qga_transfer_get_id (QgaTransfer *transfer);
QgaSelectionId qga_transfer_get_selection (QgaTransfer *transfer);
guint64 qga_transfer_get_bytes (QgaTransfer *transfer);

/* For the caller's bookkeeping (e.g. the D-Bus invocation waiting on it). */
void qga_transfer_set_data (QgaTransfer *transfer, gpointer data, GDestroyNotify destroy);
gpointer qga_transfer_get_data (QgaTransfer *transfer);

/* --- the set of a side's transfers --- */

QgaTransfers *qga_transfers_new (void);
/* Transfers added from now on are cancelled after timeout_ms without
 * progress (default QGA_TRANSFER_TIMEOUT_MS). */
void qga_transfers_set_timeout (QgaTransfers *transfers, guint timeout_ms);
/* Frees every transfer without calling done; use abort_all first to tell
 * their callers. */
void qga_transfers_free (QgaTransfers *transfers);

/* A free number for a transfer we read (1, 2, ..., skipping those in use). */
guint32 qga_transfers_next_reader_id (QgaTransfers *transfers);

/* Add a new transfer. Fails without taking it (the caller frees it with
 * qga_transfer_free) when QGA_TRANSFER_MAX_AT_ONCE of its role are in
 * progress (QGA_ERROR_LIMIT_EXCEEDED) or its number is in use
 * (QGA_ERROR_GENERIC_ERROR). */
gboolean qga_transfers_add (QgaTransfers *transfers, QgaTransfer *transfer, GError **error);

/* A transfer that was never added. */
void qga_transfer_free (QgaTransfer *transfer);

QgaTransfer *qga_transfers_lookup (QgaTransfers *transfers, QgaTransferRole role, guint32 id);
guint qga_transfers_count (QgaTransfers *transfers, QgaTransferRole role);

/* Handle CLIPBOARD_DATA, CLIPBOARD_ACK or CLIPBOARD_CANCEL from the peer.
 * Returns FALSE if name is none of them. Malformed data ends the transfer
 * it names (with a CANCEL to the peer) if it names one, and *problem
 * says what was wrong, for the caller's (rate-limited) log. Messages about
 * transfers not in progress are dropped quietly: they cross cancels. */
gboolean qga_transfers_handle_event (QgaTransfers *transfers, const char *name,
                                     JsonObject *data, char **problem);

/* End one transfer here: the peer gets CLIPBOARD_CANCEL with error's class
 * and message, and done is called with error. */
void qga_transfers_cancel (QgaTransfers *transfers, QgaTransfer *transfer, const GError *error);

/* Cancel, as above, every transfer of selection (a new grab). */
void qga_transfers_cancel_selection (QgaTransfers *transfers, QgaSelectionId selection,
                                     const GError *error);

/* Cancel, as above, every transfer for which match returns TRUE. */
typedef gboolean (*QgaTransferMatchFunc) (QgaTransfer *transfer, gconstpointer data);
void qga_transfers_cancel_where (QgaTransfers *transfers, QgaTransferMatchFunc match,
                                 gconstpointer data, const GError *error);

/* End one transfer here without a word to the peer (which already knows:
 * it refused the request). */
void qga_transfers_fail (QgaTransfers *transfers, QgaTransfer *transfer, const GError *error);

/* A CLIPBOARD_CANCEL line, for a transfer that has no QgaTransfer (yet):
 * role is the sender's. */
GBytes *qga_transfer_build_cancel (guint32 id, QgaTransferRole role, const GError *error);

/* End every transfer with error and send nothing: the port is gone. */
void qga_transfers_abort_all (QgaTransfers *transfers, const GError *error);

G_END_DECLS
