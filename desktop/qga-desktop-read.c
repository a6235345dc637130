/* qga-desktop-read.c: what the backends' reads of a selection do alike.
 *
 * A backend gets the content its own way (X properties, a Wayland pipe);
 * here is the rest: the task, the no-progress timeout, cancellation, the
 * size limit, and writing into the caller's fd as fast as it takes it.
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include <glib-unix.h>

#include "qga-desktop-private.h"

gboolean
qga_desktop_reads_check_room (QgaDesktopTransfers *transfers, GError **error)
{
  if (transfers->reads->len < QGA_DESKTOP_MAX_READS)
    return TRUE;
  g_set_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
               "%d reads of the desktop clipboard are in progress already", QGA_DESKTOP_MAX_READS);
  return FALSE;
}

void
qga_desktop_read_refuse (GTask *task, int fd, GError *error)
{
  close (fd);
  qga_desktop_read_return (task, 0, error);
}

void
qga_desktop_read_clear (QgaDesktopRead *read)
{
  g_clear_handle_id (&read->fd_watch, g_source_remove);
  g_clear_handle_id (&read->timer, g_source_remove);
  if (read->cancel_source != NULL)
    {
      g_source_destroy (read->cancel_source);
      g_clear_pointer (&read->cancel_source, g_source_unref);
    }
  if (read->fd >= 0)
    close (read->fd);
  g_clear_object (&read->task);
  g_free (read->mime_type);
}

/* The task returns once the read is out of the list, so that its callback
 * may start the next one. */
void
qga_desktop_read_finish (QgaDesktopRead *read, GError *error)
{
  g_autoptr(GTask) task = g_object_ref (read->task);
  guint64 bytes = read->bytes;
  guint index;

  if (read->ops->ending != NULL)
    read->ops->ending (read);
  if (error != NULL)
    g_debug ("reading %s from %s: %s", read->mime_type,
             qga_clipboard_selection_name (read->selection), error->message);
  /* the list frees what it holds, not what it gives away */
  if (g_ptr_array_find (read->transfers->reads, read, &index))
    g_ptr_array_remove_index_fast (read->transfers->reads, index);
  qga_desktop_read_return (task, bytes, error);
}

void
qga_desktop_read_fail (QgaDesktopRead *read, QgaErrorCode code, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  qga_desktop_read_finish (read, g_error_new_literal (QGA_ERROR, code, message));
}

void
qga_desktop_reads_fail_all (QgaDesktopTransfers *transfers, const GError *error)
{
  GPtrArray *reads = transfers->reads;

  while (reads->len > 0)
    qga_desktop_read_finish (g_ptr_array_index (reads, reads->len - 1), g_error_copy (error));
}

void
qga_desktop_read_progress (QgaDesktopRead *read)
{
  read->last_progress = g_get_monotonic_time ();
}

/* Over max-size: refused with a line in the log, whatever was written
 * reported as a failure. */
gboolean
qga_desktop_read_check_size (QgaDesktopRead *read, guint64 more)
{
  guint64 max_size = qga_desktop_clipboard_get_max_size (read->clipboard);

  if (more <= max_size && read->bytes <= max_size - more)
    return TRUE;
  if (qga_rate_limit_allow (&read->transfers->refusals))
    g_message ("desktop clipboard: refused %s from the %s selection: the content is over %"
               G_GUINT64_FORMAT " bytes", read->mime_type,
               qga_clipboard_selection_name (read->selection), max_size);
  qga_desktop_read_fail (read, QGA_ERROR_LIMIT_EXCEEDED,
                         "the content is over %" G_GUINT64_FORMAT " bytes", max_size);
  return FALSE;
}

/* --- timers and cancellation --- */

static gboolean
on_read_timer (gpointer user_data)
{
  QgaDesktopRead *read = user_data;

  if (!qga_desktop_transfer_stalled (read->clipboard, read->last_progress))
    return G_SOURCE_CONTINUE;
  read->timer = 0;
  qga_desktop_read_fail (read, QGA_ERROR_TIMEOUT,
                         "the owner of the %s selection sent nothing for %u ms",
                         qga_clipboard_selection_name (read->selection),
                         qga_desktop_clipboard_get_timeout_ms (read->clipboard));
  return G_SOURCE_REMOVE;
}

static gboolean
on_read_cancelled (GCancellable *cancellable, gpointer user_data)
{
  qga_desktop_read_fail (user_data, QGA_ERROR_CANCELLED, "the read was cancelled");
  return G_SOURCE_REMOVE;
}

static void
read_start_timers (QgaDesktopRead *read)
{
  GCancellable *cancellable = g_task_get_cancellable (read->task);

  qga_desktop_read_progress (read);
  read->timer = qga_desktop_transfer_timer_add (read->clipboard, on_read_timer, read);
  if (cancellable != NULL)
    {
      read->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (read->cancel_source, (GSourceFunc) (void (*) (void)) on_read_cancelled,
                             read, NULL);
      g_source_attach (read->cancel_source, NULL);
    }
}

gpointer
qga_desktop_read_new (gsize struct_size, const QgaDesktopReadOps *ops,
                      QgaDesktopClipboard *clipboard, QgaDesktopTransfers *transfers, GTask *task,
                      QgaSelectionId selection, const char *mime_type, int fd)
{
  QgaDesktopRead *read;

  g_assert (struct_size >= sizeof (QgaDesktopRead));
  read = g_malloc0 (struct_size);
  read->ops = ops;
  read->clipboard = clipboard;
  read->transfers = transfers;
  read->task = g_object_ref (task);
  read->selection = selection;
  read->mime_type = g_strdup (mime_type);
  read->fd = fd;
  g_ptr_array_add (transfers->reads, read);
  read_start_timers (read);
  return read;
}

/* --- into the caller's fd --- */

static gboolean
on_fd_writable (int fd, GIOCondition condition, gpointer user_data)
{
  QgaDesktopRead *read = user_data;

  read->fd_watch = 0;
  read->ops->resume (read);
  return G_SOURCE_REMOVE;
}

gboolean
qga_desktop_read_write (QgaDesktopRead *read, const guint8 *data, gsize length, gsize *offset)
{
  while (*offset < length)
    {
      gssize n = write (read->fd, data + *offset, length - *offset);

      if (n > 0)
        {
          *offset += n;
          read->bytes += n;
          qga_desktop_read_progress (read);
        }
      else if (n < 0 && errno == EINTR)
        continue;
      else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          read->fd_watch = g_unix_fd_add (read->fd, G_IO_OUT, on_fd_writable, read);
          return FALSE;
        }
      else
        {
          int saved = errno;

          qga_desktop_read_fail (read, QGA_ERROR_GENERIC_ERROR, "cannot write the content: %s",
                                 n < 0 ? g_strerror (saved) : "nothing written");
          return FALSE;
        }
    }
  return TRUE;
}
