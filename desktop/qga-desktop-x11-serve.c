/* qga-desktop-x11-serve.c: answering other clients' ConvertSelection while
 * we own a selection (ICCCM §2.2, §2.5, §2.7.2).
 *
 * TARGETS and TIMESTAMP are answered at once. MULTIPLE is refused, as ICCCM
 * lets an owner refuse any target: it asks for a list of conversions in
 * one, which no client needs from a clipboard bridge. For a content, the
 * provider is asked only now, writes into a pipe, and we gather all of it
 * (up to max-size) before answering: a provider that fails or goes over
 * the limit is refused cleanly, where a half-sent INCR could only stop.
 * Then the content goes into the requestor's property whole if one
 * request can carry it, or by INCR: the property first gets INCR and the
 * size, and each time the requestor deletes it (PropertyNotify, which we
 * select on its window) the next chunk, and at the end an empty one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "qga-desktop-x11-private.h"
#include "qga-error.h"

#define PIPE_READ_SIZE (64 * 1024)
/* All that the serves hold, together, is at most this many times max-size. */
#define BUFFERED_MAX_SIZES 2

typedef enum {
  SERVE_GATHERING,         /* the provider writes into the pipe */
  SERVE_INCR,              /* chunks go as the requestor deletes the property */
} ServeState;

struct _X11Serve {
  QgaDesktopClipboardX11 *self;
  QgaSelectionId selection;
  xcb_window_t requestor;
  xcb_atom_t target;
  xcb_atom_t property;
  xcb_atom_t type;
  xcb_timestamp_t time;
  X11Encoding encoding;
  char *mime_type;
  ServeState state;

  QgaDesktopRequest *request;
  gboolean asking;                /* inside the provider's call */
  gboolean provider_done;
  GError *provider_error;
  int pipe_fd;
  guint pipe_watch;
  gboolean eof;

  GByteArray *content;
  gsize sent;
  guint timer;
  gint64 last_progress;
};

static void serve_maybe_answer (X11Serve *serve);

static const char *
selection_name (X11Serve *serve)
{
  return qga_clipboard_selection_name (serve->selection);
}

static gboolean
other_incr_to (QgaDesktopClipboardX11 *self, X11Serve *serve)
{
  for (guint i = 0; i < self->serves->len; i++)
    {
      X11Serve *other = g_ptr_array_index (self->serves, i);

      if (other != serve && other->state == SERVE_INCR && other->requestor == serve->requestor)
        return TRUE;
    }
  return FALSE;
}

void
x11_serve_free (X11Serve *serve)
{
  QgaDesktopClipboardX11 *self = serve->self;

  if (serve->state == SERVE_INCR && self->connection != NULL && !self->broken &&
      serve->requestor != self->window && !other_incr_to (self, serve))
    {
      guint32 no_events = XCB_EVENT_MASK_NO_EVENT;

      xcb_change_window_attributes (self->connection, serve->requestor, XCB_CW_EVENT_MASK, &no_events);
    }
  g_clear_handle_id (&serve->pipe_watch, g_source_remove);
  g_clear_handle_id (&serve->timer, g_source_remove);
  if (serve->pipe_fd >= 0)
    close (serve->pipe_fd);
  if (serve->provider_done)
    qga_desktop_request_unref (serve->request);
  else
    qga_desktop_request_abandon (serve->request);
  g_clear_error (&serve->provider_error);
  if (serve->content != NULL)
    {
      self->serve_buffered -= serve->content->len;
      g_byte_array_unref (serve->content);
    }
  g_free (serve->mime_type);
  g_free (serve);
}

static void
serve_end (X11Serve *serve)
{
  g_ptr_array_remove_fast (serve->self->serves, serve);
}

static void
refuse (QgaDesktopClipboardX11 *self, xcb_selection_request_event_t *event)
{
  x11_send_selection_notify (self, event->requestor, event->selection, event->target,
                             XCB_ATOM_NONE, event->time);
}

/* Refuse a paste we had accepted, before anything was sent. */
static void G_GNUC_PRINTF (2, 3)
serve_refuse (X11Serve *serve, const char *format, ...)
{
  QgaDesktopClipboardX11 *self = serve->self;
  va_list args;
  g_autofree char *why = NULL;

  va_start (args, format);
  why = g_strdup_vprintf (format, args);
  va_end (args);
  if (qga_rate_limit_allow (&self->refusals))
    g_message ("desktop clipboard: refused %s of the %s selection to X window 0x%x: %s",
               serve->mime_type, selection_name (serve), serve->requestor, why);
  x11_send_selection_notify (self, serve->requestor, self->selection_atoms[serve->selection],
                             serve->target, XCB_ATOM_NONE, serve->time);
  serve_end (serve);
}

static void
serve_progress (X11Serve *serve)
{
  serve->last_progress = g_get_monotonic_time ();
}

static gboolean
on_serve_timer (gpointer user_data)
{
  X11Serve *serve = user_data;
  guint timeout_ms = qga_desktop_clipboard_get_timeout_ms (QGA_DESKTOP_CLIPBOARD (serve->self));

  if (g_get_monotonic_time () - serve->last_progress < (gint64) timeout_ms * 1000)
    return G_SOURCE_CONTINUE;
  serve->timer = 0;
  if (serve->state == SERVE_GATHERING)
    serve_refuse (serve, "the content did not come within %u ms", timeout_ms);
  else
    {
      /* Mid-INCR there is no way to tell the requestor: it stops hearing. */
      g_debug ("X window 0x%x stopped reading %s of the %s selection", serve->requestor,
               serve->mime_type, selection_name (serve));
      serve_end (serve);
    }
  return G_SOURCE_REMOVE;
}

/* --- TARGETS, TIMESTAMP --- */

static void
answer_targets (QgaDesktopClipboardX11 *self, X11Selection *selection,
                xcb_selection_request_event_t *event, xcb_atom_t property)
{
  g_autoptr(GArray) atoms = g_array_new (FALSE, FALSE, sizeof (xcb_atom_t));

  g_array_append_val (atoms, self->atoms[X11_ATOM_TARGETS]);
  g_array_append_val (atoms, self->atoms[X11_ATOM_TIMESTAMP]);
  for (guint i = 0; i < selection->targets->len; i++)
    {
      xcb_atom_t target = g_array_index (selection->targets, X11Target, i).target;
      gboolean seen = FALSE;

      for (guint j = 0; j < atoms->len && !seen; j++)
        seen = g_array_index (atoms, xcb_atom_t, j) == target;
      if (!seen)
        g_array_append_val (atoms, target);
    }
  xcb_change_property (self->connection, XCB_PROP_MODE_REPLACE, event->requestor, property,
                       XCB_ATOM_ATOM, 32, atoms->len, atoms->data);
  x11_send_selection_notify (self, event->requestor, event->selection, event->target, property,
                             event->time);
}

static void
answer_timestamp (QgaDesktopClipboardX11 *self, X11Selection *selection,
                  xcb_selection_request_event_t *event, xcb_atom_t property)
{
  guint32 time = selection->taken_at;

  xcb_change_property (self->connection, XCB_PROP_MODE_REPLACE, event->requestor, property,
                       XCB_ATOM_INTEGER, 32, 1, &time);
  x11_send_selection_notify (self, event->requestor, event->selection, event->target, property,
                             event->time);
}

/* --- the content --- */

static void
serve_send_whole (X11Serve *serve)
{
  QgaDesktopClipboardX11 *self = serve->self;

  xcb_change_property (self->connection, XCB_PROP_MODE_REPLACE, serve->requestor, serve->property,
                       serve->type, 8, serve->content->len, serve->content->data);
  x11_send_selection_notify (self, serve->requestor, self->selection_atoms[serve->selection],
                             serve->target, serve->property, serve->time);
  serve_end (serve);
}

static void
serve_start_incr (X11Serve *serve)
{
  QgaDesktopClipboardX11 *self = serve->self;
  guint32 events = XCB_EVENT_MASK_PROPERTY_CHANGE;
  guint32 size = MIN (serve->content->len, G_MAXUINT32);

  /* Our own event mask on its window: the requestor's is its own. Ours
   * (reading what we own) has PropertyChange already. */
  if (serve->requestor != self->window)
    xcb_change_window_attributes (self->connection, serve->requestor, XCB_CW_EVENT_MASK, &events);
  xcb_change_property (self->connection, XCB_PROP_MODE_REPLACE, serve->requestor, serve->property,
                       self->atoms[X11_ATOM_INCR], 32, 1, &size);
  x11_send_selection_notify (self, serve->requestor, self->selection_atoms[serve->selection],
                             serve->target, serve->property, serve->time);
  serve->state = SERVE_INCR;
  serve_progress (serve);
}

/* The requestor deleted the property: the next chunk, or the empty one
 * that ends the transfer. */
static void
serve_send_next_chunk (X11Serve *serve)
{
  QgaDesktopClipboardX11 *self = serve->self;
  gsize length = MIN (self->max_chunk, serve->content->len - serve->sent);

  xcb_change_property (self->connection, XCB_PROP_MODE_REPLACE, serve->requestor, serve->property,
                       serve->type, 8, length, serve->content->data + serve->sent);
  serve->sent += length;
  serve_progress (serve);
  if (length == 0)
    serve_end (serve);
}

static gboolean
convert_to_latin1 (X11Serve *serve)
{
  g_autoptr(GError) error = NULL;
  gsize written = 0;
  g_autofree char *latin1 = g_convert_with_fallback ((const char *) serve->content->data,
                                                     serve->content->len, "ISO-8859-1", "UTF-8",
                                                     "?", NULL, &written, &error);

  if (latin1 == NULL)
    {
      serve_refuse (serve, "the text is not UTF-8: %s", error->message);
      return FALSE;
    }
  serve->self->serve_buffered -= serve->content->len;
  g_byte_array_set_size (serve->content, 0);
  g_byte_array_append (serve->content, (const guint8 *) latin1, written);
  serve->self->serve_buffered += written;
  return TRUE;
}

/* Answer once the content is whole: the pipe at its end and the provider
 * done without an error. */
static void
serve_maybe_answer (X11Serve *serve)
{
  if (serve->provider_error != NULL)
    {
      serve_refuse (serve, "the provider failed: %s", serve->provider_error->message);
      return;
    }
  if (!serve->eof || !serve->provider_done)
    return;
  if (serve->encoding == X11_ENCODING_LATIN1 && !convert_to_latin1 (serve))
    return;
  if (serve->content->len <= serve->self->max_chunk)
    {
      g_debug ("serving %u bytes of %s to X window 0x%x", serve->content->len, serve->mime_type,
               serve->requestor);
      serve_send_whole (serve);
    }
  else
    {
      g_debug ("serving %u bytes of %s to X window 0x%x by INCR, %" G_GSIZE_FORMAT " at a time",
               serve->content->len, serve->mime_type, serve->requestor, serve->self->max_chunk);
      serve_start_incr (serve);
    }
}

static void
on_provider_done (const GError *error, gpointer user_data)
{
  X11Serve *serve = user_data;

  serve->provider_done = TRUE;
  if (error != NULL)
    serve->provider_error = g_error_copy (error);
  if (!serve->asking)
    serve_maybe_answer (serve);
}

/* Read what the pipe has; FALSE if the serve ended. */
static gboolean
serve_read_pipe (X11Serve *serve)
{
  QgaDesktopClipboardX11 *self = serve->self;
  guint64 max_size = qga_desktop_clipboard_get_max_size (QGA_DESKTOP_CLIPBOARD (self));

  g_autofree guint8 *buffer = g_malloc (PIPE_READ_SIZE);

  for (;;)
    {
      gssize n = read (serve->pipe_fd, buffer, PIPE_READ_SIZE);

      if (n > 0)
        {
          g_byte_array_append (serve->content, buffer, n);
          self->serve_buffered += n;
          serve_progress (serve);
          if (serve->content->len > max_size)
            {
              serve_refuse (serve, "the content is over %" G_GUINT64_FORMAT " bytes", max_size);
              return FALSE;
            }
          if (self->serve_buffered > BUFFERED_MAX_SIZES * max_size)
            {
              serve_refuse (serve, "the pastes in progress hold over %" G_GUINT64_FORMAT " bytes",
                            BUFFERED_MAX_SIZES * max_size);
              return FALSE;
            }
        }
      else if (n == 0)
        {
          serve->eof = TRUE;
          return TRUE;
        }
      else if (errno == EINTR)
        continue;
      else if (errno == EAGAIN || errno == EWOULDBLOCK)
        return TRUE;
      else
        {
          serve_refuse (serve, "cannot read the provider's pipe: %s", g_strerror (errno));
          return FALSE;
        }
    }
}

static gboolean
on_pipe_ready (int fd, GIOCondition condition, gpointer user_data)
{
  X11Serve *serve = user_data;

  if (!serve_read_pipe (serve))
    return G_SOURCE_REMOVE;   /* the serve removed the watch */
  if (!serve->eof)
    return G_SOURCE_CONTINUE;
  serve->pipe_watch = 0;
  close (serve->pipe_fd);
  serve->pipe_fd = -1;
  serve_maybe_answer (serve);
  return G_SOURCE_REMOVE;
}

static void
start_serve (QgaDesktopClipboardX11 *self, QgaSelectionId id, X11Selection *selection,
             const X11Target *target, xcb_selection_request_event_t *event, xcb_atom_t property)
{
  X11Serve *serve;
  int fds[2];
  g_autoptr(GError) error = NULL;
  guint timeout_ms = qga_desktop_clipboard_get_timeout_ms (QGA_DESKTOP_CLIPBOARD (self));

  if (self->serves->len >= QGA_DESKTOP_MAX_SERVES)
    {
      if (qga_rate_limit_allow (&self->refusals))
        g_message ("desktop clipboard: refused %s of the %s selection to X window 0x%x: "
                   "%d pastes are in progress already", target->mime_type,
                   qga_clipboard_selection_name (id), event->requestor, QGA_DESKTOP_MAX_SERVES);
      refuse (self, event);
      return;
    }
  if (!g_unix_open_pipe (fds, FD_CLOEXEC, &error) ||
      !g_unix_set_fd_nonblocking (fds[0], TRUE, &error))
    {
      g_message ("desktop clipboard: refused a paste: no pipe: %s", error->message);
      refuse (self, event);
      return;
    }
  serve = g_new0 (X11Serve, 1);
  serve->self = self;
  serve->selection = id;
  serve->requestor = event->requestor;
  serve->target = event->target;
  serve->property = property;
  serve->type = target->type;
  serve->time = event->time;
  serve->encoding = target->encoding;
  serve->mime_type = g_strdup (target->mime_type);
  serve->state = SERVE_GATHERING;
  serve->pipe_fd = fds[0];
  serve->content = g_byte_array_new ();
  g_ptr_array_add (self->serves, serve);
  serve_progress (serve);
  serve->timer = g_timeout_add (CLAMP (timeout_ms / 4, 10, 1000), on_serve_timer, serve);
  serve->pipe_watch = g_unix_fd_add (serve->pipe_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_pipe_ready, serve);

  /* The provider may complete before it returns: on_provider_done waits
   * until the request is stored. */
  serve->asking = TRUE;
  serve->request = qga_desktop_offer_ask (selection->offer, QGA_DESKTOP_CLIPBOARD (self), id,
                                          target->mime_type, fds[1], on_provider_done, serve);
  serve->asking = FALSE;
  if (serve->provider_done)
    serve_maybe_answer (serve);
}

void
x11_serve_handle_request (QgaDesktopClipboardX11 *self, xcb_selection_request_event_t *event)
{
  QgaSelectionId id;
  X11Selection *selection = NULL;
  /* ICCCM §2.2: a requestor from before ICCCM may leave property None */
  xcb_atom_t property = event->property != XCB_ATOM_NONE ? event->property : event->target;

  if (x11_selection_id (self, event->selection, &id))
    selection = &self->selections[id];
  if (selection == NULL || selection->offer == NULL || event->owner != self->window || self->broken ||
      (event->time != XCB_CURRENT_TIME && x11_time_diff (event->time, selection->taken_at) < 0))
    {
      refuse (self, event);
      return;
    }
  if (event->target == self->atoms[X11_ATOM_TARGETS])
    answer_targets (self, selection, event, property);
  else if (event->target == self->atoms[X11_ATOM_TIMESTAMP])
    answer_timestamp (self, selection, event, property);
  else
    {
      for (guint i = 0; i < selection->targets->len; i++)
        {
          const X11Target *target = &g_array_index (selection->targets, X11Target, i);

          if (target->target == event->target)
            {
              start_serve (self, id, selection, target, event, property);
              return;
            }
        }
      refuse (self, event);   /* MULTIPLE among them */
    }
}

gboolean
x11_serves_handle_property_notify (QgaDesktopClipboardX11 *self, xcb_property_notify_event_t *event)
{
  if (event->state != XCB_PROPERTY_DELETE)
    return FALSE;
  for (guint i = 0; i < self->serves->len; i++)
    {
      X11Serve *serve = g_ptr_array_index (self->serves, i);

      if (serve->state == SERVE_INCR && serve->requestor == event->window &&
          serve->property == event->atom)
        {
          serve_send_next_chunk (serve);
          return TRUE;
        }
    }
  return FALSE;
}

void
x11_serves_handle_error (QgaDesktopClipboardX11 *self, xcb_generic_error_t *error)
{
  if (error->error_code != XCB_WINDOW)
    return;
  for (guint i = self->serves->len; i > 0; i--)
    {
      X11Serve *serve = g_ptr_array_index (self->serves, i - 1);

      if (serve->requestor == error->resource_id)
        {
          g_debug ("X window 0x%x left before the end of %s", serve->requestor, serve->mime_type);
          serve->state = SERVE_GATHERING;   /* its window is gone: leave its event mask */
          serve_end (serve);
        }
    }
}

void
x11_serves_abandon_all (QgaDesktopClipboardX11 *self)
{
  g_ptr_array_set_size (self->serves, 0);
}
