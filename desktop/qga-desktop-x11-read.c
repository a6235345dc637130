/* qga-desktop-x11-read.c: reading a selection into an fd, as an X
 * requestor (ICCCM §2.4, §2.7.2).
 *
 * ConvertSelection puts the owner's answer in a property of our window.
 * A small content is there whole; a large one comes as INCR: the property
 * first holds INCR (with a lower bound of the size), and each time we
 * delete the property the owner writes the next chunk into it, until an
 * empty one. We read each property in slices of X11_PROPERTY_SLICE, write
 * a slice into the caller's fd before reading the next, and delete the
 * property (asking for the next chunk) only once all of it is written: the
 * caller's fd paces the owner, and we hold one slice at a time.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "qga-desktop-x11-private.h"
#include "qga-error.h"

typedef enum {
  READ_WAIT_ANSWER,        /* ConvertSelection sent, waiting for SelectionNotify */
  READ_WRITING,            /* a slice is being written into fd */
  READ_WAIT_CHUNK,         /* INCR: the property deleted, waiting for the next chunk */
} ReadState;

struct _X11Read {
  QgaDesktopClipboardX11 *self;   /* not a reference: the task holds one */
  GTask *task;
  QgaSelectionId selection;
  guint generation;               /* of the owner asked */
  char *mime_type;
  xcb_atom_t target;
  xcb_atom_t property;
  X11Encoding encoding;
  int fd;
  ReadState state;
  gboolean incr;
  gsize property_offset;          /* the next byte of the property to fetch */
  gboolean property_exhausted;    /* the slice being written is its last */
  GByteArray *pending;            /* the slice, to write into fd */
  gsize pending_offset;
  guint64 bytes;                  /* written into fd */
  guint fd_watch;
  guint timer;
  gint64 last_progress;
  GSource *cancel_source;
};

void
x11_read_free (X11Read *read)
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
  g_clear_pointer (&read->pending, g_byte_array_unref);
  g_clear_object (&read->task);
  g_free (read->mime_type);
  g_free (read);
}

/* Ends the read: the task returns once the read is out of the list, so
 * that its callback may start the next one. */
static void
read_finish (X11Read *read, GError *error)
{
  QgaDesktopClipboardX11 *self = read->self;
  g_autoptr(GTask) task = g_object_ref (read->task);
  guint64 bytes = read->bytes;
  guint index;

  if (self->connection != NULL && !self->broken)
    xcb_delete_property (self->connection, self->window, read->property);
  if (g_ptr_array_find (self->reads, read, &index))
    g_ptr_array_steal_index_fast (self->reads, index);
  if (error != NULL)
    g_debug ("reading %s from %s: %s", read->mime_type,
             qga_clipboard_selection_name (read->selection), error->message);
  x11_read_free (read);
  qga_desktop_read_return (task, bytes, error);
}

static void G_GNUC_PRINTF (3, 4)
read_fail (X11Read *read, QgaErrorCode code, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  read_finish (read, g_error_new_literal (QGA_ERROR, code, message));
}

static void
read_progress (X11Read *read)
{
  read->last_progress = g_get_monotonic_time ();
}

/* Over max-size: refused with a line in the log, whatever was written
 * reported as a failure. */
static gboolean
read_check_size (X11Read *read, guint64 more)
{
  guint64 max_size = qga_desktop_clipboard_get_max_size (QGA_DESKTOP_CLIPBOARD (read->self));

  if (more <= max_size && read->bytes <= max_size - more)
    return TRUE;
  if (qga_rate_limit_allow (&read->self->refusals))
    g_message ("desktop clipboard: refused %s from the %s selection: the content is over %"
               G_GUINT64_FORMAT " bytes", read->mime_type,
               qga_clipboard_selection_name (read->selection), max_size);
  read_fail (read, QGA_ERROR_LIMIT_EXCEEDED, "the content is over %" G_GUINT64_FORMAT " bytes",
             max_size);
  return FALSE;
}

/* --- timers and cancellation --- */

static gboolean
on_read_timer (gpointer user_data)
{
  X11Read *read = user_data;
  guint timeout_ms = qga_desktop_clipboard_get_timeout_ms (QGA_DESKTOP_CLIPBOARD (read->self));

  if (g_get_monotonic_time () - read->last_progress < (gint64) timeout_ms * 1000)
    return G_SOURCE_CONTINUE;
  read->timer = 0;
  read_fail (read, QGA_ERROR_TIMEOUT, "the owner of the %s selection sent nothing for %u ms",
             qga_clipboard_selection_name (read->selection), timeout_ms);
  return G_SOURCE_REMOVE;
}

static gboolean
on_read_cancelled (GCancellable *cancellable, gpointer user_data)
{
  X11Read *read = user_data;

  read_fail (read, QGA_ERROR_CANCELLED, "the read was cancelled");
  return G_SOURCE_REMOVE;
}

static void
read_start_timers (X11Read *read)
{
  guint timeout_ms = qga_desktop_clipboard_get_timeout_ms (QGA_DESKTOP_CLIPBOARD (read->self));
  GCancellable *cancellable = g_task_get_cancellable (read->task);

  read_progress (read);
  read->timer = g_timeout_add (CLAMP (timeout_ms / 4, 10, 1000), on_read_timer, read);
  if (cancellable != NULL)
    {
      read->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (read->cancel_source, (GSourceFunc) (void (*) (void)) on_read_cancelled,
                             read, NULL);
      g_source_attach (read->cancel_source, NULL);
    }
}

/* --- the content: property slices → fd --- */

/* ICCCM's STRING is ISO 8859-1: each byte is the code point. */
static void
append_latin1_as_utf8 (GByteArray *out, const guint8 *data, gsize length)
{
  for (gsize i = 0; i < length; i++)
    {
      if (data[i] < 0x80)
        g_byte_array_append (out, &data[i], 1);
      else
        {
          guint8 pair[2] = { 0xC0 | (data[i] >> 6), 0x80 | (data[i] & 0x3F) };

          g_byte_array_append (out, pair, 2);
        }
    }
}

/* Take the slice in reply, to be written into fd; FALSE if the read ended. */
static gboolean
read_take_slice (X11Read *read, xcb_get_property_reply_t *reply)
{
  const guint8 *data = xcb_get_property_value (reply);
  gsize length = xcb_get_property_value_length (reply);

  read->property_offset += length;
  read->property_exhausted = reply->bytes_after == 0;
  g_clear_pointer (&read->pending, g_byte_array_unref);
  read->pending = g_byte_array_sized_new (read->encoding == X11_ENCODING_LATIN1 ? length * 2 : length);
  read->pending_offset = 0;
  if (read->encoding == X11_ENCODING_LATIN1)
    append_latin1_as_utf8 (read->pending, data, length);
  else
    g_byte_array_append (read->pending, data, length);
  if (!read_check_size (read, read->pending->len))
    return FALSE;
  read->state = READ_WRITING;
  read_progress (read);
  return TRUE;
}

static gboolean
read_fetch_slice (X11Read *read)
{
  QgaDesktopClipboardX11 *self = read->self;
  g_autofree xcb_get_property_reply_t *reply =
    x11_get_property (self, self->window, read->property, read->property_offset, X11_PROPERTY_SLICE);

  if (reply == NULL)
    {
      read_fail (read, QGA_ERROR_GENERIC_ERROR, "cannot read the X property holding the content");
      return FALSE;
    }
  return read_take_slice (read, reply);
}

static void read_pump (X11Read *read);

static gboolean
on_fd_writable (int fd, GIOCondition condition, gpointer user_data)
{
  X11Read *read = user_data;

  read->fd_watch = 0;
  read_pump (read);
  return G_SOURCE_REMOVE;
}

/* Write the slice into fd as far as it takes it now: TRUE when all of it
 * is written; FALSE when fd is full (a watch waits for it) or failed (the
 * read ended). */
static gboolean
read_write_slice (X11Read *read)
{
  while (read->pending_offset < read->pending->len)
    {
      gssize n = write (read->fd, read->pending->data + read->pending_offset,
                        read->pending->len - read->pending_offset);

      if (n > 0)
        {
          read->pending_offset += n;
          read->bytes += n;
          read_progress (read);
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

          read_fail (read, QGA_ERROR_GENERIC_ERROR, "cannot write the content: %s",
                     n < 0 ? g_strerror (saved) : "nothing written");
          return FALSE;
        }
    }
  g_clear_pointer (&read->pending, g_byte_array_unref);
  return TRUE;
}

/* Slice after slice into fd, as fast as it takes them; then the end, or
 * (INCR) the next chunk. */
static void
read_pump (X11Read *read)
{
  QgaDesktopClipboardX11 *self = read->self;

  for (;;)
    {
      if (!read_write_slice (read))
        return;
      if (read->property_exhausted)
        break;
      if (!read_fetch_slice (read))
        return;
    }
  if (!read->incr)
    {
      read_finish (read, NULL);
      return;
    }
  /* Deleting the property is what asks the owner for the next chunk. */
  read->state = READ_WAIT_CHUNK;
  read->property_offset = 0;
  xcb_delete_property (self->connection, self->window, read->property);
}

/* --- the owner's answer --- */

/* TEXT: the owner picks the encoding, and says which in the type. */
static gboolean
read_take_text_type (X11Read *read, xcb_atom_t type)
{
  QgaDesktopClipboardX11 *self = read->self;

  if (read->target != self->atoms[X11_ATOM_TEXT] || type == self->atoms[X11_ATOM_UTF8_STRING])
    return TRUE;
  if (type == XCB_ATOM_STRING)
    {
      read->encoding = X11_ENCODING_LATIN1;
      return TRUE;
    }
  read_fail (read, QGA_ERROR_NO_DATA, "the owner gave TEXT as %s, which is not converted",
             x11_atom_name (self, type) != NULL ? x11_atom_name (self, type) : "?");
  return FALSE;
}

static void
read_handle_answer (X11Read *read)
{
  QgaDesktopClipboardX11 *self = read->self;
  g_autofree xcb_get_property_reply_t *reply =
    x11_get_property (self, self->window, read->property, 0, X11_PROPERTY_SLICE);

  if (reply == NULL)
    {
      read_fail (read, QGA_ERROR_GENERIC_ERROR, "cannot read the X property holding the content");
      return;
    }
  if (reply->type == XCB_ATOM_NONE)
    {
      /* ICCCM §2.4: no such property is a failed conversion */
      read_fail (read, QGA_ERROR_NO_DATA, "the owner of the %s selection announced %s but gave nothing",
                 qga_clipboard_selection_name (read->selection), read->mime_type);
      return;
    }
  if (reply->type == self->atoms[X11_ATOM_INCR])
    {
      /* The value is a lower bound of the size: enough to refuse early. */
      guint64 lower_bound = 0;

      if (reply->format == 32 && xcb_get_property_value_length (reply) >= 4)
        lower_bound = *(guint32 *) xcb_get_property_value (reply);
      if (!read_check_size (read, lower_bound))
        return;
      g_debug ("reading %s from %s by INCR (at least %" G_GUINT64_FORMAT " bytes)", read->mime_type,
               qga_clipboard_selection_name (read->selection), lower_bound);
      read->incr = TRUE;
      read->state = READ_WAIT_CHUNK;
      read_progress (read);
      xcb_delete_property (self->connection, self->window, read->property);
      return;
    }
  if (!read_check_size (read, xcb_get_property_value_length (reply) + (guint64) reply->bytes_after) ||
      !read_take_text_type (read, reply->type))
    return;
  if (read_take_slice (read, reply))
    read_pump (read);
}

static void
read_handle_chunk (X11Read *read)
{
  QgaDesktopClipboardX11 *self = read->self;
  g_autofree xcb_get_property_reply_t *reply =
    x11_get_property (self, self->window, read->property, 0, X11_PROPERTY_SLICE);

  if (reply == NULL)
    {
      read_fail (read, QGA_ERROR_GENERIC_ERROR, "cannot read the X property holding the content");
      return;
    }
  if (xcb_get_property_value_length (reply) == 0 && reply->bytes_after == 0)
    {
      read_finish (read, NULL);   /* the empty chunk: the end */
      return;
    }
  if (!read_check_size (read, xcb_get_property_value_length (reply) + (guint64) reply->bytes_after))
    return;
  if (read_take_slice (read, reply))
    read_pump (read);
}

static X11Read *
find_read (QgaDesktopClipboardX11 *self, ReadState state, xcb_atom_t property)
{
  for (guint i = 0; i < self->reads->len; i++)
    {
      X11Read *read = g_ptr_array_index (self->reads, i);

      if (read->state == state && read->property == property)
        return read;
    }
  return NULL;
}

gboolean
x11_reads_handle_selection_notify (QgaDesktopClipboardX11 *self, xcb_selection_notify_event_t *event)
{
  X11Read *read = NULL;

  if (event->property != XCB_ATOM_NONE)
    read = find_read (self, READ_WAIT_ANSWER, event->property);
  else
    for (guint i = 0; i < self->reads->len && read == NULL; i++)
      {
        X11Read *candidate = g_ptr_array_index (self->reads, i);

        if (candidate->state == READ_WAIT_ANSWER && candidate->target == event->target &&
            self->selection_atoms[candidate->selection] == event->selection)
          read = candidate;
      }
  if (read == NULL)
    return FALSE;
  if (event->property == XCB_ATOM_NONE)
    read_fail (read, QGA_ERROR_NO_DATA, "the owner of the %s selection refused to give %s",
               qga_clipboard_selection_name (read->selection), read->mime_type);
  else
    read_handle_answer (read);
  return TRUE;
}

gboolean
x11_reads_handle_property_notify (QgaDesktopClipboardX11 *self, xcb_property_notify_event_t *event)
{
  X11Read *read;

  if (event->state != XCB_PROPERTY_NEW_VALUE)
    return FALSE;
  read = find_read (self, READ_WAIT_CHUNK, event->atom);
  if (read == NULL)
    return FALSE;
  read_handle_chunk (read);
  return TRUE;
}

void
x11_reads_owner_gone (QgaDesktopClipboardX11 *self, QgaSelectionId selection, guint generation)
{
  /* Backwards: a read that ends leaves the list. A read whose content is
   * whole in our property already does not need its owner any more. */
  for (guint i = self->reads->len; i > 0; i--)
    {
      X11Read *read = g_ptr_array_index (self->reads, i - 1);

      if (i - 1 < self->reads->len && read->selection == selection &&
          read->generation == generation && (read->incr || read->state == READ_WAIT_ANSWER))
        read_fail (read, QGA_ERROR_GENERIC_ERROR,
                   "the owner of the %s selection left before the end of its data",
                   qga_clipboard_selection_name (selection));
    }
}

void
x11_reads_fail_all (QgaDesktopClipboardX11 *self, const GError *error)
{
  while (self->reads->len > 0)
    read_finish (g_ptr_array_index (self->reads, self->reads->len - 1), g_error_copy (error));
}

/* --- starting --- */

/* Which target to ask for: the first of mime_type's names the owner
 * offers, by our preference; before its TARGETS are in, the first name. */
static gboolean
choose_target (QgaDesktopClipboardX11 *self, X11Selection *selection, const char *mime_type,
               xcb_atom_t *target, X11Encoding *encoding)
{
  guint n_choices;
  const X11TargetChoice *choices = x11_target_choices (mime_type, &n_choices);

  if (selection->owner == self->window && selection->targets != NULL)
    {
      for (guint i = 0; i < selection->targets->len; i++)
        {
          X11Target *ours = &g_array_index (selection->targets, X11Target, i);

          if (strcmp (ours->mime_type, mime_type) == 0)
            {
              *target = ours->target;
              *encoding = ours->encoding;
              return TRUE;
            }
        }
      return FALSE;
    }
  if (selection->offered == NULL)
    {
      *target = x11_intern_atom (self, choices[0].name != NULL ? choices[0].name : mime_type);
      *encoding = choices[0].encoding;
      return *target != XCB_ATOM_NONE;
    }
  x11_fetch_atom_names (self, (const xcb_atom_t *) selection->offered->data, selection->offered->len);
  for (guint c = 0; c < n_choices; c++)
    for (guint i = 0; i < selection->offered->len; i++)
      {
        xcb_atom_t offered = g_array_index (selection->offered, xcb_atom_t, i);
        const char *name = x11_atom_name (self, offered);

        if (name != NULL && (choices[c].name != NULL ? strcmp (name, choices[c].name) == 0
                                                     : g_ascii_strcasecmp (name, mime_type) == 0))
          {
            *target = offered;
            *encoding = choices[c].encoding;
            return TRUE;
          }
      }
  return FALSE;
}

/* The next of our property names that no read uses. */
static xcb_atom_t
pick_property (QgaDesktopClipboardX11 *self)
{
  for (guint tries = 0; tries < X11_READ_PROPERTIES; tries++)
    {
      xcb_atom_t property = self->read_properties[self->next_read_property];
      gboolean in_use = FALSE;

      self->next_read_property = (self->next_read_property + 1) % X11_READ_PROPERTIES;
      for (guint i = 0; i < self->reads->len && !in_use; i++)
        in_use = ((X11Read *) g_ptr_array_index (self->reads, i))->property == property;
      if (!in_use)
        return property;
    }
  g_assert_not_reached ();
}

static gboolean
check_can_read (QgaDesktopClipboardX11 *self, X11Selection *selection, QgaSelectionId id,
                const char *mime_type, GError **error)
{
  if (self->broken)
    g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                 "lost the connection to X display %s", self->display_name);
  else if (self->reads->len >= QGA_DESKTOP_MAX_READS)
    g_set_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                 "%d reads of the desktop clipboard are in progress already", QGA_DESKTOP_MAX_READS);
  else if (x11_target_to_mime_type (mime_type) == NULL)
    g_set_error (error, QGA_ERROR, QGA_ERROR_NO_DATA,
                 "%s is not a type an X selection carries", mime_type);
  else if (selection->owner == XCB_NONE)
    g_set_error (error, QGA_ERROR, QGA_ERROR_NO_DATA,
                 "nothing owns the %s selection", qga_clipboard_selection_name (id));
  else
    return TRUE;
  return FALSE;
}

void
x11_read_start (QgaDesktopClipboardX11 *self, QgaSelectionId id, const char *mime_type, int fd,
                GTask *task)
{
  X11Selection *selection = &self->selections[id];
  GError *error = NULL;
  xcb_atom_t target = XCB_ATOM_NONE;
  X11Encoding encoding = X11_ENCODING_AS_IS;
  X11Read *read;

  if (check_can_read (self, selection, id, mime_type, &error) &&
      !choose_target (self, selection, mime_type, &target, &encoding))
    g_set_error (&error, QGA_ERROR, QGA_ERROR_NO_DATA, "the owner of the %s selection does not offer %s",
                 qga_clipboard_selection_name (id), mime_type);
  if (error == NULL && !g_unix_set_fd_nonblocking (fd, TRUE, &error))
    g_prefix_error (&error, "the file descriptor to write to: ");
  if (error != NULL)
    {
      close (fd);
      qga_desktop_read_return (task, 0, error);
      return;
    }

  read = g_new0 (X11Read, 1);
  read->self = self;
  read->task = g_object_ref (task);
  read->selection = id;
  read->generation = selection->generation;
  read->mime_type = g_strdup (mime_type);
  read->target = target;
  read->encoding = encoding;
  read->fd = fd;
  read->property = pick_property (self);
  read->state = READ_WAIT_ANSWER;
  g_ptr_array_add (self->reads, read);
  read_start_timers (read);
  xcb_delete_property (self->connection, self->window, read->property);
  xcb_convert_selection (self->connection, self->window, self->selection_atoms[id], target,
                         read->property, XCB_CURRENT_TIME);
  xcb_flush (self->connection);
}
