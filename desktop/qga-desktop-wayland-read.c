/* qga-desktop-wayland-read.c: reading a selection into an fd.
 *
 * receive (name, the write end of a pipe of ours) on the selection's
 * offer; the owner writes the content into the pipe and closes it; we
 * copy the pipe into the caller's fd a chunk at a time, reading the pipe
 * only once the caller's fd has taken the previous chunk: the caller's fd
 * paces the owner, and we hold one chunk.
 *
 * A pipe says nothing of why it ends: an owner that is killed half way
 * closes it as one that is done does. So at the end of the pipe we make a
 * round trip to the compositor (wl_display_sync): the owner's going away
 * (its socket closed before its pipe, or with it) has reached the
 * compositor by then, and its selection event us. The read succeeds only
 * if the selection is still the offer it read from; otherwise the owner
 * left or was replaced before the end, and the read fails (a sync program
 * reads the new owner's content, announced meanwhile).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "qga-desktop-wayland-private.h"
#include "qga-error.h"

typedef enum {
  READ_WAIT_ECHO,          /* we took the selection; its offer is not back yet */
  READ_COPYING,            /* pipe → fd */
  READ_CHECKING_OWNER,     /* the pipe ended: a round trip says whether the owner is still there */
} ReadState;

struct _WlRead {
  QgaDesktopRead base;
  QgaDesktopClipboardWayland *self;   /* not a reference: the task holds one */
  guint generation;                   /* of the offer read */
  ReadState state;
  int pipe_fd;                        /* the read end; the owner has the other */
  guint8 *chunk;
  gsize chunk_length;
  gsize chunk_offset;
  guint pipe_watch;
  struct wl_callback *sync;
};

static void read_resume_pipe (WlRead *read);

void
wl_read_free (WlRead *read)
{
  g_clear_handle_id (&read->pipe_watch, g_source_remove);
  qga_desktop_read_clear (&read->base);
  g_clear_pointer (&read->sync, wl_callback_destroy);
  if (read->pipe_fd >= 0)
    close (read->pipe_fd);
  g_free (read->chunk);
  g_free (read);
}

static void
read_resume (QgaDesktopRead *base)
{
  read_resume_pipe ((WlRead *) base);
}

static const QgaDesktopReadOps read_ops = { NULL, read_resume };

/* --- the end: is the owner still there? --- */

static void
on_owner_checked (void *data, struct wl_callback *callback, uint32_t serial)
{
  WlRead *read = data;
  WlSelection *selection = &read->self->selections[read->base.selection];

  g_clear_pointer (&read->sync, wl_callback_destroy);
  if (selection->generation != read->generation)
    qga_desktop_read_fail (&read->base, QGA_ERROR_GENERIC_ERROR,
                           "the owner of the %s selection left, or was replaced, before the end of its data",
                           qga_clipboard_selection_name (read->base.selection));
  else
    qga_desktop_read_finish (&read->base, NULL);
}

static const struct wl_callback_listener owner_check_listener = { on_owner_checked };

static void
read_check_owner (WlRead *read)
{
  read->state = READ_CHECKING_OWNER;
  read->sync = wl_sync (read->self, &owner_check_listener, read);
}

/* --- the content: pipe → fd --- */

/* Write the chunk into fd: TRUE when all of it is written. */
static gboolean
read_write_chunk (WlRead *read)
{
  if (!qga_desktop_read_write (&read->base, read->chunk, read->chunk_length, &read->chunk_offset))
    return FALSE;
  read->chunk_length = read->chunk_offset = 0;
  return TRUE;
}

typedef enum { PIPE_MORE, PIPE_WAIT, PIPE_DONE } PipeStep;

/* read(2), where a WlRead named read is in scope */
static gssize
read_some (int fd, guint8 *buffer, gsize size)
{
  return read (fd, buffer, size);
}

/* One chunk from the pipe into fd. */
static PipeStep
read_pipe_chunk (WlRead *read)
{
  gssize n;

  do
    n = read_some (read->pipe_fd, read->chunk, WL_PIPE_CHUNK);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return PIPE_WAIT;
  if (n < 0)
    {
      int saved = errno;

      qga_desktop_read_fail (&read->base, QGA_ERROR_GENERIC_ERROR,
                             "cannot read the owner's pipe: %s", g_strerror (saved));
      return PIPE_DONE;
    }
  if (n == 0)
    {
      close (read->pipe_fd);
      read->pipe_fd = -1;
      read_check_owner (read);
      return PIPE_DONE;
    }
  qga_desktop_read_progress (&read->base);
  if (!qga_desktop_read_check_size (&read->base, n))
    return PIPE_DONE;
  read->chunk_length = n;
  read->chunk_offset = 0;
  return read_write_chunk (read) ? PIPE_MORE : PIPE_DONE;
}

static gboolean
on_pipe_readable (int fd, GIOCondition condition, gpointer user_data)
{
  WlRead *read = user_data;
  guint watch = read->pipe_watch;

  /* whatever ends this watch below (the read's end, a full fd, the end of
   * the pipe) does it by returning REMOVE, not by removing it again */
  read->pipe_watch = 0;
  /* a few chunks per wake-up, so that a fast pair does not starve the loop */
  for (guint i = 0; i < 16; i++)
    switch (read_pipe_chunk (read))
      {
      case PIPE_MORE:
        continue;
      case PIPE_WAIT:
        read->pipe_watch = watch;
        return G_SOURCE_CONTINUE;
      case PIPE_DONE:
        return G_SOURCE_REMOVE;
      }
  read->pipe_watch = watch;
  return G_SOURCE_CONTINUE;
}

/* fd took the chunk: back to the pipe. */
static void
read_resume_pipe (WlRead *read)
{
  if (!read_write_chunk (read))
    return;
  read->pipe_watch = g_unix_fd_add (read->pipe_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                    on_pipe_readable, read);
}

/* --- starting --- */

/* The first of the names carrying mime_type that offer has. */
static const char *
choose_name (WlOffer *offer, const char *mime_type)
{
  const char *names[WL_TEXT_NAMES + 1];

  wl_names_for_mime_type (mime_type, names);
  for (guint n = 0; names[n] != NULL; n++)
    for (guint i = 0; i < offer->names->len; i++)
      {
        const char *offered = g_ptr_array_index (offer->names, i);

        if (g_ascii_strcasecmp (offered, names[n]) == 0)
          return offered;
      }
  return NULL;
}

static gboolean
waiting_for_echo (QgaDesktopClipboardWayland *self, WlSelection *selection)
{
  return selection->source != NULL &&
         (selection->offer == NULL || g_strcmp0 (selection->offer->marker, selection->source->marker) != 0);
}

/* Ask the selection's offer for the content: FALSE if the read ended. */
static gboolean
read_receive (WlRead *read)
{
  QgaDesktopClipboardWayland *self = read->self;
  WlSelection *selection = &self->selections[read->base.selection];
  const char *name;
  int fds[2];
  g_autoptr(GError) error = NULL;

  if (selection->offer == NULL)
    {
      qga_desktop_read_fail (&read->base, QGA_ERROR_NO_DATA, "nothing owns the %s selection",
                             qga_clipboard_selection_name (read->base.selection));
      return FALSE;
    }
  name = choose_name (selection->offer, read->base.mime_type);
  if (name == NULL)
    {
      qga_desktop_read_fail (&read->base, QGA_ERROR_NO_DATA,
                             "the owner of the %s selection does not offer %s",
                             qga_clipboard_selection_name (read->base.selection),
                             read->base.mime_type);
      return FALSE;
    }
  if (!g_unix_open_pipe (fds, FD_CLOEXEC, &error) || !g_unix_set_fd_nonblocking (fds[0], TRUE, &error))
    {
      qga_desktop_read_fail (&read->base, QGA_ERROR_GENERIC_ERROR, "no pipe: %s", error->message);
      return FALSE;
    }
  wl_offer_receive (selection->offer->proxy, name, fds[1]);
  close (fds[1]);   /* the request took a copy: the owner's is the only write end now */
  wl_flush (self);
  read->pipe_fd = fds[0];
  read->generation = selection->generation;
  read->state = READ_COPYING;
  read->chunk = g_malloc (WL_PIPE_CHUNK);
  qga_desktop_read_progress (&read->base);
  read->pipe_watch = g_unix_fd_add (read->pipe_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_pipe_readable, read);
  return TRUE;
}

void
wl_reads_selection_changed (QgaDesktopClipboardWayland *self, QgaSelectionId id)
{
  WlSelection *selection = &self->selections[id];

  if (waiting_for_echo (self, selection))
    return;
  /* backwards: a read that ends leaves the list */
  for (guint i = self->transfers.reads->len; i > 0; i--)
    {
      WlRead *read;

      if (i - 1 >= self->transfers.reads->len)
        continue;
      read = g_ptr_array_index (self->transfers.reads, i - 1);
      if (read->base.selection == id && read->state == READ_WAIT_ECHO)
        read_receive (read);
    }
}

void
wl_reads_fail_all (QgaDesktopClipboardWayland *self, const GError *error)
{
  qga_desktop_reads_fail_all (&self->transfers, error);
}

void
wl_read_start (QgaDesktopClipboardWayland *self, QgaSelectionId id, const char *mime_type, int fd,
               GTask *task)
{
  WlSelection *selection = &self->selections[id];
  GError *error = NULL;
  WlRead *read;

  if (self->broken)
    error = wl_connection_lost_error (self);
  else if (qga_desktop_reads_check_room (&self->transfers, &error) &&
           !g_unix_set_fd_nonblocking (fd, TRUE, &error))
    g_prefix_error (&error, "the file descriptor to write to: ");
  if (error != NULL)
    {
      qga_desktop_read_refuse (task, fd, error);
      return;
    }

  read = qga_desktop_read_new (sizeof (WlRead), &read_ops, QGA_DESKTOP_CLIPBOARD (self),
                               &self->transfers, task, id, mime_type, fd);
  read->self = self;
  read->pipe_fd = -1;
  read->state = READ_WAIT_ECHO;
  /* Right after a take of ours, the selection is still the previous
   * owner's offer until our echo comes back: wait for it, or we would
   * read the previous content. */
  if (!waiting_for_echo (self, selection))
    read_receive (read);
}
