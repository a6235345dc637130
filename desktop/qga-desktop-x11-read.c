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

#include <string.h>

#include <glib-unix.h>

#include "qga-desktop-x11-private.h"
#include "qga-error.h"

typedef enum {
  READ_WAIT_ANSWER,        /* ConvertSelection sent, waiting for SelectionNotify */
  READ_WRITING,            /* a slice is being written into fd */
  READ_WAIT_CHUNK,         /* INCR: the property deleted, waiting for the next chunk */
} ReadState;

struct _X11Read {
  QgaDesktopRead base;
  QgaDesktopClipboardX11 *self;   /* not a reference: the task holds one */
  guint generation;               /* of the owner asked */
  xcb_atom_t target;
  xcb_atom_t property;
  X11Encoding encoding;
  ReadState state;
  gboolean incr;
  gsize property_offset;          /* the next byte of the property to fetch */
  gboolean property_exhausted;    /* the slice being written is its last */
  GByteArray *pending;            /* the slice, to write into fd */
  gsize pending_offset;
};

void
x11_read_free (X11Read *read)
{
  qga_desktop_read_clear (&read->base);
  g_clear_pointer (&read->pending, g_byte_array_unref);
  g_free (read);
}

static void
read_ending (QgaDesktopRead *base)
{
  X11Read *read = (X11Read *) base;
  QgaDesktopClipboardX11 *self = read->self;

  if (self->connection != NULL && !self->broken)
    xcb_delete_property (self->connection, self->window, read->property);
}

static void read_pump (X11Read *read);

static void
read_resume (QgaDesktopRead *base)
{
  read_pump ((X11Read *) base);
}

static const QgaDesktopReadOps read_ops = { read_ending, read_resume };

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
  if (!qga_desktop_read_check_size (&read->base, read->pending->len))
    return FALSE;
  read->state = READ_WRITING;
  qga_desktop_read_progress (&read->base);
  return TRUE;
}

/* A slice of our property from offset; NULL if that failed (the read
 * ended). */
static xcb_get_property_reply_t *
read_get_property (X11Read *read, gsize offset)
{
  QgaDesktopClipboardX11 *self = read->self;
  xcb_get_property_reply_t *reply =
    x11_get_property (self, self->window, read->property, offset, X11_PROPERTY_SLICE);

  if (reply == NULL)
    qga_desktop_read_fail (&read->base, QGA_ERROR_GENERIC_ERROR,
                           "cannot read the X property holding the content");
  return reply;
}

/* The size of the whole property, of which reply has a slice. */
static guint64
property_size (xcb_get_property_reply_t *reply)
{
  return xcb_get_property_value_length (reply) + (guint64) reply->bytes_after;
}

static gboolean
read_fetch_slice (X11Read *read)
{
  g_autofree xcb_get_property_reply_t *reply = read_get_property (read, read->property_offset);

  return reply != NULL && read_take_slice (read, reply);
}

/* Write the slice into fd: TRUE when all of it is written. */
static gboolean
read_write_slice (X11Read *read)
{
  if (!qga_desktop_read_write (&read->base, read->pending->data, read->pending->len,
                               &read->pending_offset))
    return FALSE;
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
      qga_desktop_read_finish (&read->base, NULL);
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
  qga_desktop_read_fail (&read->base, QGA_ERROR_NO_DATA,
                         "the owner gave TEXT as %s, which is not converted",
                         x11_atom_name (self, type) != NULL ? x11_atom_name (self, type) : "?");
  return FALSE;
}

static void
read_handle_answer (X11Read *read)
{
  QgaDesktopClipboardX11 *self = read->self;
  g_autofree xcb_get_property_reply_t *reply = read_get_property (read, 0);

  if (reply == NULL)
    return;
  if (reply->type == XCB_ATOM_NONE)
    {
      /* ICCCM §2.4: no such property is a failed conversion */
      qga_desktop_read_fail (&read->base, QGA_ERROR_NO_DATA,
                             "the owner of the %s selection announced %s but gave nothing",
                             qga_clipboard_selection_name (read->base.selection),
                             read->base.mime_type);
      return;
    }
  if (reply->type == self->atoms[X11_ATOM_INCR])
    {
      /* The value is a lower bound of the size: enough to refuse early. */
      guint64 lower_bound = 0;

      if (reply->format == 32 && xcb_get_property_value_length (reply) >= 4)
        lower_bound = *(guint32 *) xcb_get_property_value (reply);
      if (!qga_desktop_read_check_size (&read->base, lower_bound))
        return;
      g_debug ("reading %s from %s by INCR (at least %" G_GUINT64_FORMAT " bytes)",
               read->base.mime_type, qga_clipboard_selection_name (read->base.selection), lower_bound);
      read->incr = TRUE;
      read->state = READ_WAIT_CHUNK;
      qga_desktop_read_progress (&read->base);
      xcb_delete_property (self->connection, self->window, read->property);
      return;
    }
  if (!qga_desktop_read_check_size (&read->base, property_size (reply)) ||
      !read_take_text_type (read, reply->type))
    return;
  if (read_take_slice (read, reply))
    read_pump (read);
}

static void
read_handle_chunk (X11Read *read)
{
  g_autofree xcb_get_property_reply_t *reply = read_get_property (read, 0);

  if (reply == NULL)
    return;
  if (xcb_get_property_value_length (reply) == 0 && reply->bytes_after == 0)
    {
      qga_desktop_read_finish (&read->base, NULL);   /* the empty chunk: the end */
      return;
    }
  if (!qga_desktop_read_check_size (&read->base, property_size (reply)))
    return;
  if (read_take_slice (read, reply))
    read_pump (read);
}

static X11Read *
find_read (QgaDesktopClipboardX11 *self, ReadState state, xcb_atom_t property)
{
  for (guint i = 0; i < self->transfers.reads->len; i++)
    {
      X11Read *read = g_ptr_array_index (self->transfers.reads, i);

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
    for (guint i = 0; i < self->transfers.reads->len && read == NULL; i++)
      {
        X11Read *candidate = g_ptr_array_index (self->transfers.reads, i);

        if (candidate->state == READ_WAIT_ANSWER && candidate->target == event->target &&
            self->selection_atoms[candidate->base.selection] == event->selection)
          read = candidate;
      }
  if (read == NULL)
    return FALSE;
  if (event->property == XCB_ATOM_NONE)
    qga_desktop_read_fail (&read->base, QGA_ERROR_NO_DATA,
                           "the owner of the %s selection refused to give %s",
                           qga_clipboard_selection_name (read->base.selection),
                           read->base.mime_type);
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
  for (guint i = self->transfers.reads->len; i > 0; i--)
    {
      X11Read *read = g_ptr_array_index (self->transfers.reads, i - 1);

      if (i - 1 < self->transfers.reads->len && read->base.selection == selection &&
          read->generation == generation && (read->incr || read->state == READ_WAIT_ANSWER))
        qga_desktop_read_fail (&read->base, QGA_ERROR_GENERIC_ERROR,
                               "the owner of the %s selection left before the end of its data",
                               qga_clipboard_selection_name (selection));
    }
}

void
x11_reads_fail_all (QgaDesktopClipboardX11 *self, const GError *error)
{
  qga_desktop_reads_fail_all (&self->transfers, error);
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
      for (guint i = 0; i < self->transfers.reads->len && !in_use; i++)
        in_use = ((X11Read *) g_ptr_array_index (self->transfers.reads, i))->property == property;
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
  else if (!qga_desktop_reads_check_room (&self->transfers, error))
    return FALSE;
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
  xcb_atom_t property;
  X11Read *read;

  if (check_can_read (self, selection, id, mime_type, &error) &&
      !choose_target (self, selection, mime_type, &target, &encoding))
    g_set_error (&error, QGA_ERROR, QGA_ERROR_NO_DATA, "the owner of the %s selection does not offer %s",
                 qga_clipboard_selection_name (id), mime_type);
  if (error == NULL && !g_unix_set_fd_nonblocking (fd, TRUE, &error))
    g_prefix_error (&error, "the file descriptor to write to: ");
  if (error != NULL)
    {
      qga_desktop_read_refuse (task, fd, error);
      return;
    }

  property = pick_property (self);
  read = qga_desktop_read_new (sizeof (X11Read), &read_ops, QGA_DESKTOP_CLIPBOARD (self),
                               &self->transfers, task, id, mime_type, fd);
  read->self = self;
  read->generation = selection->generation;
  read->target = target;
  read->encoding = encoding;
  read->property = property;
  read->state = READ_WAIT_ANSWER;
  xcb_delete_property (self->connection, self->window, read->property);
  xcb_convert_selection (self->connection, self->window, self->selection_atoms[id], target,
                         read->property, XCB_CURRENT_TIME);
  xcb_flush (self->connection);
}
