/* qga-transfer.c: chunked clipboard transfers with a credit window. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "qga-error.h"
#include "qga-transfer.h"
#include "qga-wire.h"

/* Base64 of a whole chunk, the most a CLIPBOARD_DATA may carry. */
#define MAX_ENCODED_CHUNK (QGA_TRANSFER_CHUNK_SIZE / 3 * 4)
#define MAX_DESC_LENGTH 256

struct _QgaTransfer {
  QgaTransferRole role;
  guint32 id;
  QgaSelectionId selection;
  int fd;
  guint64 max_size;
  QgaTransferSendFunc send;
  QgaTransferDoneFunc done;
  gpointer user_data;
  gpointer data;
  GDestroyNotify data_destroy;
  QgaTransfers *set;       /* once added */

  guint64 bytes;           /* owner: read from fd and sent; reader: written to fd */
  guint32 next_seq;        /* owner: the next chunk to send; reader: the next expected */
  guint32 done_chunks;     /* owner: acknowledged; reader: written and acknowledged */
  gboolean last_seen;      /* owner: the last chunk is sent; reader: received */
  gboolean finished;
  gint64 last_progress;    /* monotonic µs */
  guint timeout_ms;        /* without progress, then cancelled */
  GSource *io_source;
  GIOCondition io_condition;
  guint timer;

  GQueue chunks;           /* reader: GBytes received and not yet written */
  gsize head_written;      /* reader: bytes of the head chunk already written */
};

struct _QgaTransfers {
  GHashTable *by_role[2];  /* guint32 id → QgaTransfer, owned */
  guint32 last_reader_id;
  GSList *ended;           /* finished, freed from an idle: callers up the stack still look */
  guint reap_source;
  guint timeout_ms;        /* given to each transfer added */
};

static void finish (QgaTransfer *transfer, const GError *error);
static void owner_pump (QgaTransfer *transfer);
static void reader_pump (QgaTransfer *transfer);

static const char *
role_name (QgaTransferRole role)
{
  return role == QGA_TRANSFER_OWNER ? "owner" : "reader";
}

/* --- I/O watches --- */

static gboolean
on_fd_ready (int fd, GIOCondition condition, gpointer user_data)
{
  QgaTransfer *transfer = user_data;

  if (transfer->role == QGA_TRANSFER_OWNER)
    owner_pump (transfer);
  else
    reader_pump (transfer);
  return G_SOURCE_CONTINUE;
}

/* Watch fd for condition, or for nothing when condition is 0. */
static void
watch_fd (QgaTransfer *transfer, GIOCondition condition)
{
  if (transfer->io_condition == condition)
    return;
  if (transfer->io_source != NULL)
    {
      g_source_destroy (transfer->io_source);
      g_clear_pointer (&transfer->io_source, g_source_unref);
    }
  transfer->io_condition = condition;
  if (condition == 0)
    return;
  transfer->io_source = g_unix_fd_source_new (transfer->fd, condition);
  g_source_set_callback (transfer->io_source, (GSourceFunc) (void (*) (void)) on_fd_ready,
                         transfer, NULL);
  g_source_set_name (transfer->io_source, "clipboard transfer");
  g_source_attach (transfer->io_source, NULL);
}

static void
progress (QgaTransfer *transfer)
{
  transfer->last_progress = g_get_monotonic_time ();
}

static gboolean
on_timer (gpointer user_data)
{
  QgaTransfer *transfer = user_data;
  gint64 idle_ms = (g_get_monotonic_time () - transfer->last_progress) / 1000;
  g_autoptr(GError) error = NULL;

  if (idle_ms < transfer->timeout_ms)
    return G_SOURCE_CONTINUE;
  transfer->timer = 0;
  error = g_error_new (QGA_ERROR, QGA_ERROR_TIMEOUT,
                       "no progress for %.3g s", transfer->timeout_ms / 1000.0);
  if (transfer->set != NULL)
    qga_transfers_cancel (transfer->set, transfer, error);
  else
    finish (transfer, error);
  return G_SOURCE_REMOVE;
}

/* --- messages --- */

static gboolean
send_line (QgaTransfer *transfer, GBytes *line)
{
  g_autoptr(GError) error = NULL;

  if (transfer->send (line, transfer->user_data, &error))
    return TRUE;
  finish (transfer, error);
  return FALSE;
}

GBytes *
qga_transfer_build_cancel (guint32 id, QgaTransferRole role, const GError *error)
{
  g_autoptr(JsonObject) data = json_object_new ();
  g_autoptr(JsonNode) node = NULL;
  int code = error->domain == QGA_ERROR ? error->code : QGA_ERROR_GENERIC_ERROR;

  json_object_set_int_member (data, "transfer", id);
  json_object_set_string_member (data, "role", role_name (role));
  json_object_set_string_member (data, "class", qga_error_class_name (code));
  json_object_set_string_member (data, "desc", error->message);
  node = json_node_init_object (json_node_alloc (), data);
  return qga_wire_build_event (QGA_CLIPBOARD_EVENT_CANCEL, node);
}

static void
send_cancel (QgaTransfer *transfer, const GError *error)
{
  g_autoptr(GBytes) line = qga_transfer_build_cancel (transfer->id, transfer->role, error);
  g_autoptr(GError) send_error = NULL;

  if (!transfer->send (line, transfer->user_data, &send_error))
    g_debug ("could not send CLIPBOARD_CANCEL for transfer %u: %s", transfer->id,
             send_error->message);
}

static void
append_uint_member (GString *line, const char *name, guint64 value)
{
  g_string_append_printf (line, "\"%s\":%" G_GUINT64_FORMAT ",", name, value);
}

/* The base64 goes straight into the line: no intermediate copy. */
static GBytes *
build_data_line (QgaTransfer *transfer, const guint8 *data, gsize length, gboolean last)
{
  GString *line = qga_wire_begin_event (QGA_CLIPBOARD_EVENT_DATA, (length / 3 + 1) * 4 + 96);
  gsize start, encoded;
  int state = 0, save = 0;

  g_string_append_c (line, '{');
  append_uint_member (line, "transfer", transfer->id);
  append_uint_member (line, "seq", transfer->next_seq);
  g_string_append (line, "\"data\":\"");
  start = line->len;
  g_string_set_size (line, start + (length / 3 + 1) * 4 + 4);
  encoded = g_base64_encode_step (data, length, FALSE, line->str + start, &state, &save);
  encoded += g_base64_encode_close (FALSE, line->str + start + encoded, &state, &save);
  g_string_truncate (line, start + encoded);
  g_string_append (line, last ? "\",\"last\":true}" : "\",\"last\":false}");
  return qga_wire_end_event (line);
}

/* --- the owner: fd → CLIPBOARD_DATA --- */

static gboolean
owner_has_credit (QgaTransfer *transfer)
{
  return !transfer->last_seen && transfer->next_seq - transfer->done_chunks < QGA_TRANSFER_WINDOW;
}

/* Fill buffer from fd as far as it goes now. Returns the bytes read, with
 * *eof set at end of file; -1 with error set on a read error. */
static gssize
read_available (int fd, guint8 *buffer, gsize size, gboolean *eof, GError **error)
{
  gsize filled = 0;

  *eof = FALSE;
  while (filled < size)
    {
      gssize n = read (fd, buffer + filled, size - filled);

      if (n > 0)
        filled += n;
      else if (n == 0)
        {
          *eof = TRUE;
          break;
        }
      else if (errno == EINTR)
        continue;
      else if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      else
        {
          int saved = errno;

          g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                       "cannot read the clipboard content: %s", g_strerror (saved));
          return -1;
        }
    }
  return filled;
}

/* Send one chunk if there is data or end of file; FALSE when the fd has
 * nothing now or the transfer ended. */
static gboolean
owner_send_chunk (QgaTransfer *transfer)
{
  g_autofree guint8 *buffer = g_malloc (QGA_TRANSFER_CHUNK_SIZE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) line = NULL;
  gboolean eof;
  gssize n = read_available (transfer->fd, buffer, QGA_TRANSFER_CHUNK_SIZE, &eof, &error);

  if (n < 0)
    {
      qga_transfers_cancel (transfer->set, transfer, error);
      return FALSE;
    }
  if (n == 0 && !eof)
    return FALSE;
  if ((guint64) n > transfer->max_size - transfer->bytes)
    {
      error = g_error_new (QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                           "the content is over %" G_GUINT64_FORMAT " bytes", transfer->max_size);
      qga_transfers_cancel (transfer->set, transfer, error);
      return FALSE;
    }
  line = build_data_line (transfer, buffer, n, eof);
  if (!send_line (transfer, line))
    return FALSE;
  transfer->bytes += n;
  transfer->next_seq++;
  transfer->last_seen = eof;
  progress (transfer);
  return TRUE;
}

static void
owner_pump (QgaTransfer *transfer)
{
  while (!transfer->finished && owner_has_credit (transfer))
    if (!owner_send_chunk (transfer))
      break;
  if (!transfer->finished)
    watch_fd (transfer, owner_has_credit (transfer) ? G_IO_IN : 0);
}

static void
owner_handle_ack (QgaTransfer *transfer, guint32 seq, char **problem)
{
  if (seq >= transfer->next_seq)
    {
      g_autoptr(GError) error = g_error_new (QGA_ERROR, QGA_ERROR_PROTOCOL,
                                             "acknowledgement of chunk %u, which was not sent", seq);

      *problem = g_strdup (error->message);
      qga_transfers_cancel (transfer->set, transfer, error);
      return;
    }
  if (seq < transfer->done_chunks)
    return;   /* covered by an earlier one */
  transfer->done_chunks = seq + 1;
  progress (transfer);
  if (transfer->last_seen && transfer->done_chunks == transfer->next_seq)
    finish (transfer, NULL);
  else
    owner_pump (transfer);
}

/* --- the reader: CLIPBOARD_DATA → fd --- */

/* The standard alphabet's values with 0x80 set; 0 for any other byte
 * ('=' included), so that one AND of four entries checks a quartet. */
static const guint8 base64_values[256] = {
  ['A'] = 0x80, ['B'] = 0x81, ['C'] = 0x82, ['D'] = 0x83, ['E'] = 0x84, ['F'] = 0x85,
  ['G'] = 0x86, ['H'] = 0x87, ['I'] = 0x88, ['J'] = 0x89, ['K'] = 0x8A, ['L'] = 0x8B,
  ['M'] = 0x8C, ['N'] = 0x8D, ['O'] = 0x8E, ['P'] = 0x8F, ['Q'] = 0x90, ['R'] = 0x91,
  ['S'] = 0x92, ['T'] = 0x93, ['U'] = 0x94, ['V'] = 0x95, ['W'] = 0x96, ['X'] = 0x97,
  ['Y'] = 0x98, ['Z'] = 0x99, ['a'] = 0x9A, ['b'] = 0x9B, ['c'] = 0x9C, ['d'] = 0x9D,
  ['e'] = 0x9E, ['f'] = 0x9F, ['g'] = 0xA0, ['h'] = 0xA1, ['i'] = 0xA2, ['j'] = 0xA3,
  ['k'] = 0xA4, ['l'] = 0xA5, ['m'] = 0xA6, ['n'] = 0xA7, ['o'] = 0xA8, ['p'] = 0xA9,
  ['q'] = 0xAA, ['r'] = 0xAB, ['s'] = 0xAC, ['t'] = 0xAD, ['u'] = 0xAE, ['v'] = 0xAF,
  ['w'] = 0xB0, ['x'] = 0xB1, ['y'] = 0xB2, ['z'] = 0xB3, ['0'] = 0xB4, ['1'] = 0xB5,
  ['2'] = 0xB6, ['3'] = 0xB7, ['4'] = 0xB8, ['5'] = 0xB9, ['6'] = 0xBA, ['7'] = 0xBB,
  ['8'] = 0xBC, ['9'] = 0xBD, ['+'] = 0xBE, ['/'] = 0xBF,
};

/* Standard base64 with padding, nothing else (g_base64_decode() would skip
 * anything it does not know and decode the rest), checked and decoded in
 * one pass: the bridge's main cost per byte of a host->guest transfer
 * after framing. Returns the decoded length, or -1 if text is not valid. */
static gssize
base64_decode_strict (const char *text, gsize length, guint8 *out)
{
  const guint8 *in = (const guint8 *) text;
  gsize padding = 0, unpadded, o = 0;
  guint32 a, b, c, d;

  if (length % 4 != 0)
    return -1;
  if (length > 0 && in[length - 1] == '=')
    padding = in[length - 2] == '=' ? 2 : 1;
  unpadded = padding > 0 ? length - 4 : length;
  for (gsize i = 0; i < unpadded; i += 4)
    {
      a = base64_values[in[i]];
      b = base64_values[in[i + 1]];
      c = base64_values[in[i + 2]];
      d = base64_values[in[i + 3]];
      if (!(a & b & c & d & 0x80))
        return -1;
      out[o++] = ((a & 0x3F) << 2) | ((b & 0x3F) >> 4);
      out[o++] = ((b & 0x0F) << 4) | ((c & 0x3F) >> 2);
      out[o++] = ((c & 0x03) << 6) | (d & 0x3F);
    }
  if (padding > 0)
    {
      /* "xx==" carries one byte, "xxx=" two; leftover low bits are ignored,
       * as g_base64_decode_step() does */
      a = base64_values[in[length - 4]];
      b = base64_values[in[length - 3]];
      c = padding == 1 ? base64_values[in[length - 2]] : 0x80;
      if (!(a & b & c & 0x80))
        return -1;
      out[o++] = ((a & 0x3F) << 2) | ((b & 0x3F) >> 4);
      if (padding == 1)
        out[o++] = ((b & 0x0F) << 4) | ((c & 0x3F) >> 2);
    }
  return o;
}

static GBytes *
decode_chunk (const char *text, GError **error)
{
  gsize length = strlen (text);
  guint8 *buffer = NULL;
  gssize decoded = -1;

  if (length <= MAX_ENCODED_CHUNK)
    {
      buffer = g_malloc (length / 4 * 3 + 3);
      decoded = base64_decode_strict (text, length, buffer);
    }
  if (decoded < 0)
    {
      g_free (buffer);
      g_set_error (error, QGA_ERROR, QGA_ERROR_PROTOCOL,
                   length > MAX_ENCODED_CHUNK ? "a chunk is over %d bytes"
                                              : "a chunk is not valid base64",
                   QGA_TRANSFER_CHUNK_SIZE);
      return NULL;
    }
  return g_bytes_new_take (buffer, decoded);
}

static void
send_ack (QgaTransfer *transfer, guint32 seq)
{
  g_autoptr(GBytes) line = NULL;
  GString *text = qga_wire_begin_event (QGA_CLIPBOARD_EVENT_ACK, 48);

  g_string_append_printf (text, "{\"transfer\":%u,\"seq\":%u}", transfer->id, seq);
  line = qga_wire_end_event (text);
  send_line (transfer, line);
}

/* Write the head chunk as far as the fd takes it; TRUE when it is done. */
static gboolean
write_head (QgaTransfer *transfer, GError **error)
{
  GBytes *head = g_queue_peek_head (&transfer->chunks);
  gsize size;
  const guint8 *data = g_bytes_get_data (head, &size);

  while (transfer->head_written < size)
    {
      gssize n = write (transfer->fd, data + transfer->head_written, size - transfer->head_written);

      if (n >= 0)
        {
          transfer->head_written += n;
          transfer->bytes += n;
        }
      else if (errno == EINTR)
        continue;
      else if (errno == EAGAIN || errno == EWOULDBLOCK)
        return FALSE;
      else
        {
          int saved = errno;

          g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                       "cannot write the clipboard content: %s", g_strerror (saved));
          return FALSE;
        }
    }
  return TRUE;
}

static void
reader_pump (QgaTransfer *transfer)
{
  while (!transfer->finished && !g_queue_is_empty (&transfer->chunks))
    {
      g_autoptr(GError) error = NULL;
      guint32 seq = transfer->done_chunks;

      if (!write_head (transfer, &error))
        {
          if (error != NULL)
            qga_transfers_cancel (transfer->set, transfer, error);
          else
            watch_fd (transfer, G_IO_OUT);
          return;
        }
      g_bytes_unref (g_queue_pop_head (&transfer->chunks));
      transfer->head_written = 0;
      transfer->done_chunks++;
      progress (transfer);
      send_ack (transfer, seq);
      if (!transfer->finished && transfer->last_seen && g_queue_is_empty (&transfer->chunks))
        finish (transfer, NULL);
    }
  if (!transfer->finished)
    watch_fd (transfer, 0);
}

static void
reader_handle_data (QgaTransfer *transfer, JsonObject *data, char **problem)
{
  const char *text = qga_wire_get_string_member (data, "data");
  JsonNode *last = json_object_get_member (data, "last");
  JsonNode *seq = json_object_get_member (data, "seq");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = NULL;
  guint64 queued = 0;

  if (text == NULL || last == NULL || json_node_get_value_type (last) != G_TYPE_BOOLEAN ||
      seq == NULL || json_node_get_value_type (seq) != G_TYPE_INT64)
    error = g_error_new_literal (QGA_ERROR, QGA_ERROR_PROTOCOL,
                                 "CLIPBOARD_DATA needs seq (integer), data (string) and last (boolean)");
  else if (json_node_get_int (seq) != transfer->next_seq)
    error = g_error_new (QGA_ERROR, QGA_ERROR_PROTOCOL, "chunk %" G_GINT64_FORMAT
                         " arrived where %u was due", json_node_get_int (seq), transfer->next_seq);
  else if (transfer->next_seq - transfer->done_chunks >= QGA_TRANSFER_WINDOW)
    error = g_error_new (QGA_ERROR, QGA_ERROR_PROTOCOL,
                         "chunk %u is outside the window of %d", transfer->next_seq,
                         QGA_TRANSFER_WINDOW);
  else
    chunk = decode_chunk (text, &error);
  for (GList *l = transfer->chunks.head; l != NULL; l = l->next)
    queued += g_bytes_get_size (l->data);
  if (error == NULL &&
      g_bytes_get_size (chunk) > transfer->max_size - transfer->bytes - (queued - transfer->head_written))
    error = g_error_new (QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                         "the content is over %" G_GUINT64_FORMAT " bytes", transfer->max_size);
  if (error != NULL)
    {
      *problem = g_strdup (error->message);
      qga_transfers_cancel (transfer->set, transfer, error);
      return;
    }
  transfer->next_seq++;
  transfer->last_seen = json_node_get_boolean (last);
  progress (transfer);
  g_queue_push_tail (&transfer->chunks, g_steal_pointer (&chunk));
  reader_pump (transfer);
}

/* --- one transfer --- */

/* Checked four times per timeout: a transfer ends at most a quarter late. */
static void
start_timer (QgaTransfer *transfer, guint timeout_ms)
{
  g_clear_handle_id (&transfer->timer, g_source_remove);
  transfer->timeout_ms = timeout_ms;
  transfer->timer = g_timeout_add (MAX (timeout_ms / 4, 1), on_timer, transfer);
}

QgaTransfer *
qga_transfer_new (QgaTransferRole role, guint32 id, QgaSelectionId selection, int fd,
                  guint64 max_size, QgaTransferSendFunc send, QgaTransferDoneFunc done,
                  gpointer user_data)
{
  QgaTransfer *transfer = g_new0 (QgaTransfer, 1);

  transfer->role = role;
  transfer->id = id;
  transfer->selection = selection;
  transfer->fd = fd;
  transfer->max_size = max_size;
  transfer->send = send;
  transfer->done = done;
  transfer->user_data = user_data;
  g_queue_init (&transfer->chunks);
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  progress (transfer);
  start_timer (transfer, QGA_TRANSFER_TIMEOUT_MS);
  return transfer;
}

static void
stop_io (QgaTransfer *transfer)
{
  watch_fd (transfer, 0);
  g_clear_handle_id (&transfer->timer, g_source_remove);
}

void
qga_transfer_free (QgaTransfer *transfer)
{
  if (transfer == NULL)
    return;
  stop_io (transfer);
  g_queue_clear_full (&transfer->chunks, (GDestroyNotify) g_bytes_unref);
  if (transfer->fd >= 0)
    close (transfer->fd);
  if (transfer->data_destroy != NULL)
    transfer->data_destroy (transfer->data);
  g_free (transfer);
}

static gboolean
reap_ended (gpointer user_data)
{
  QgaTransfers *transfers = user_data;

  transfers->reap_source = 0;
  g_slist_free_full (g_steal_pointer (&transfers->ended), (GDestroyNotify) qga_transfer_free);
  return G_SOURCE_REMOVE;
}

/* Hand the outcome over, then leave the set. The fd and the caller's data
 * go at once; the struct itself a moment later, since the pump that ended
 * it may still be on the stack. */
static void
finish (QgaTransfer *transfer, const GError *error)
{
  QgaTransfers *transfers = transfer->set;

  if (transfer->finished)
    return;
  transfer->finished = TRUE;
  stop_io (transfer);
  transfer->done (transfer, transfer->bytes, error, transfer->user_data);
  if (transfers == NULL)
    return;
  g_hash_table_steal (transfers->by_role[transfer->role], GUINT_TO_POINTER (transfer->id));
  g_queue_clear_full (&transfer->chunks, (GDestroyNotify) g_bytes_unref);
  if (transfer->fd >= 0)
    close (transfer->fd);
  transfer->fd = -1;
  if (transfer->data_destroy != NULL)
    transfer->data_destroy (transfer->data);
  transfer->data = NULL;
  transfer->data_destroy = NULL;
  transfers->ended = g_slist_prepend (transfers->ended, transfer);
  if (transfers->reap_source == 0)
    transfers->reap_source = g_idle_add_full (G_PRIORITY_HIGH, reap_ended, transfers, NULL);
}

QgaTransferRole
qga_transfer_get_role (QgaTransfer *transfer)
{
  return transfer->role;
}

guint32
qga_transfer_get_id (QgaTransfer *transfer)
{
  return transfer->id;
}

QgaSelectionId
qga_transfer_get_selection (QgaTransfer *transfer)
{
  return transfer->selection;
}

guint64
qga_transfer_get_bytes (QgaTransfer *transfer)
{
  return transfer->bytes;
}

void
qga_transfer_set_data (QgaTransfer *transfer, gpointer data, GDestroyNotify destroy)
{
  transfer->data = data;
  transfer->data_destroy = destroy;
}

gpointer
qga_transfer_get_data (QgaTransfer *transfer)
{
  return transfer->data;
}

/* --- the set --- */

QgaTransfers *
qga_transfers_new (void)
{
  QgaTransfers *transfers = g_new0 (QgaTransfers, 1);

  for (int i = 0; i < 2; i++)
    transfers->by_role[i] = g_hash_table_new_full (NULL, NULL, NULL,
                                                   (GDestroyNotify) qga_transfer_free);
  transfers->timeout_ms = QGA_TRANSFER_TIMEOUT_MS;
  return transfers;
}

void
qga_transfers_set_timeout (QgaTransfers *transfers, guint timeout_ms)
{
  transfers->timeout_ms = MAX (timeout_ms, 1);
}

void
qga_transfers_free (QgaTransfers *transfers)
{
  if (transfers == NULL)
    return;
  g_clear_handle_id (&transfers->reap_source, g_source_remove);
  g_slist_free_full (transfers->ended, (GDestroyNotify) qga_transfer_free);
  for (int i = 0; i < 2; i++)
    g_hash_table_destroy (transfers->by_role[i]);
  g_free (transfers);
}

guint32
qga_transfers_next_reader_id (QgaTransfers *transfers)
{
  do
    transfers->last_reader_id = transfers->last_reader_id == G_MAXUINT32
                                  ? 1 : transfers->last_reader_id + 1;
  while (g_hash_table_contains (transfers->by_role[QGA_TRANSFER_READER],
                                GUINT_TO_POINTER (transfers->last_reader_id)));
  return transfers->last_reader_id;
}

gboolean
qga_transfers_add (QgaTransfers *transfers, QgaTransfer *transfer, GError **error)
{
  GHashTable *table = transfers->by_role[transfer->role];

  if (g_hash_table_size (table) >= QGA_TRANSFER_MAX_AT_ONCE)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                   "%d clipboard transfers are already in progress", QGA_TRANSFER_MAX_AT_ONCE);
      return FALSE;
    }
  if (g_hash_table_contains (table, GUINT_TO_POINTER (transfer->id)))
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "transfer %u is already in progress", transfer->id);
      return FALSE;
    }
  g_hash_table_insert (table, GUINT_TO_POINTER (transfer->id), transfer);
  transfer->set = transfers;
  if (transfer->timeout_ms != transfers->timeout_ms)
    start_timer (transfer, transfers->timeout_ms);
  if (transfer->role == QGA_TRANSFER_OWNER)
    watch_fd (transfer, G_IO_IN);
  return TRUE;
}

QgaTransfer *
qga_transfers_lookup (QgaTransfers *transfers, QgaTransferRole role, guint32 id)
{
  return g_hash_table_lookup (transfers->by_role[role], GUINT_TO_POINTER (id));
}

guint
qga_transfers_count (QgaTransfers *transfers, QgaTransferRole role)
{
  return g_hash_table_size (transfers->by_role[role]);
}

void
qga_transfers_cancel (QgaTransfers *transfers, QgaTransfer *transfer, const GError *error)
{
  if (transfer->finished)
    return;
  send_cancel (transfer, error);
  finish (transfer, error);
}

void
qga_transfers_fail (QgaTransfers *transfers, QgaTransfer *transfer, const GError *error)
{
  finish (transfer, error);
}

/* The peer ended it: pass its reason on, cut short and made valid. */
static void
handle_peer_cancel (QgaTransfer *transfer, JsonObject *data)
{
  const char *error_class = qga_wire_get_string_member (data, "class");
  const char *desc = qga_wire_get_string_member (data, "desc");
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  int code = QGA_ERROR_GENERIC_ERROR;

  if (error_class != NULL && qga_error_class_is_valid (error_class))
    code = qga_error_code_from_class (error_class);
  text = desc != NULL ? g_utf8_make_valid (desc, MIN (strlen (desc), MAX_DESC_LENGTH))
                      : g_strdup ("no reason given");
  error = g_error_new (QGA_ERROR, code, "the peer cancelled the transfer: %s", text);
  finish (transfer, error);
}

static gboolean
get_transfer_id (JsonObject *data, guint32 *id)
{
  JsonNode *node = json_object_get_member (data, "transfer");
  gint64 value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  value = json_node_get_int (node);
  if (value < 1 || value > G_MAXUINT32)
    return FALSE;
  *id = value;
  return TRUE;
}

/* Which of our transfers a message names: DATA comes from owners (we
 * read), ACK from readers (we own), CANCEL says the sender's role. */
static gboolean
role_for_event (const char *name, JsonObject *data, QgaTransferRole *role)
{
  const char *sender_role;

  if (g_str_equal (name, QGA_CLIPBOARD_EVENT_DATA))
    *role = QGA_TRANSFER_READER;
  else if (g_str_equal (name, QGA_CLIPBOARD_EVENT_ACK))
    *role = QGA_TRANSFER_OWNER;
  else
    {
      sender_role = qga_wire_get_string_member (data, "role");
      if (g_strcmp0 (sender_role, "owner") == 0)
        *role = QGA_TRANSFER_READER;
      else if (g_strcmp0 (sender_role, "reader") == 0)
        *role = QGA_TRANSFER_OWNER;
      else
        return FALSE;
    }
  return TRUE;
}

gboolean
qga_transfers_handle_event (QgaTransfers *transfers, const char *name, JsonObject *data,
                            char **problem)
{
  QgaTransferRole role;
  QgaTransfer *transfer;
  JsonNode *seq;
  guint32 id;

  *problem = NULL;
  if (!g_str_equal (name, QGA_CLIPBOARD_EVENT_DATA) && !g_str_equal (name, QGA_CLIPBOARD_EVENT_ACK) &&
      !g_str_equal (name, QGA_CLIPBOARD_EVENT_CANCEL))
    return FALSE;
  if (data == NULL || !get_transfer_id (data, &id) || !role_for_event (name, data, &role))
    {
      *problem = g_strdup_printf ("%s without a valid transfer number and role", name);
      return TRUE;
    }
  transfer = qga_transfers_lookup (transfers, role, id);
  if (transfer == NULL)
    {
      /* Routine: it crossed a cancel or the end of the transfer. */
      g_debug ("dropping %s for transfer %u, which is not in progress", name, id);
      return TRUE;
    }
  if (g_str_equal (name, QGA_CLIPBOARD_EVENT_DATA))
    reader_handle_data (transfer, data, problem);
  else if (g_str_equal (name, QGA_CLIPBOARD_EVENT_CANCEL))
    handle_peer_cancel (transfer, data);
  else if ((seq = json_object_get_member (data, "seq")) != NULL &&
           JSON_NODE_HOLDS_VALUE (seq) && json_node_get_value_type (seq) == G_TYPE_INT64 &&
           json_node_get_int (seq) >= 0 && json_node_get_int (seq) <= G_MAXUINT32)
    owner_handle_ack (transfer, json_node_get_int (seq), problem);
  else
    {
      g_autoptr(GError) error = g_error_new_literal (QGA_ERROR, QGA_ERROR_PROTOCOL,
                                                     "CLIPBOARD_ACK without a valid seq");

      *problem = g_strdup (error->message);
      qga_transfers_cancel (transfers, transfer, error);
    }
  return TRUE;
}

/* By number, looked up again each time: a done callback may end or add
 * transfers. */
static void
end_where (QgaTransfers *transfers, QgaTransferMatchFunc match, gconstpointer data,
           const GError *error, gboolean tell_peer)
{
  for (int role = 0; role < 2; role++)
    {
      g_autoptr(GList) ids = g_hash_table_get_keys (transfers->by_role[role]);

      for (GList *l = ids; l != NULL; l = l->next)
        {
          QgaTransfer *transfer = qga_transfers_lookup (transfers, role, GPOINTER_TO_UINT (l->data));

          if (transfer == NULL || (match != NULL && !match (transfer, data)))
            continue;
          if (tell_peer)
            qga_transfers_cancel (transfers, transfer, error);
          else
            finish (transfer, error);
        }
    }
}

static gboolean
has_selection (QgaTransfer *transfer, gconstpointer data)
{
  return transfer->selection == GPOINTER_TO_UINT (data);
}

void
qga_transfers_cancel_selection (QgaTransfers *transfers, QgaSelectionId selection,
                                const GError *error)
{
  end_where (transfers, has_selection, GUINT_TO_POINTER (selection), error, TRUE);
}

void
qga_transfers_cancel_where (QgaTransfers *transfers, QgaTransferMatchFunc match,
                            gconstpointer data, const GError *error)
{
  end_where (transfers, match, data, error, TRUE);
}

void
qga_transfers_abort_all (QgaTransfers *transfers, const GError *error)
{
  end_where (transfers, NULL, NULL, error, FALSE);
}
