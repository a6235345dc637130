/* qga-desktop-wayland-serve.c: answering our sources' send events.
 *
 * A paste of ours comes as send (name, fd): the compositor hands us the
 * write end of the paster's pipe. The provider is asked only now, writes
 * into a pipe of ours, and we gather all of it (up to max-size;
 * qga-desktop-serve.c) before writing anything into the paster's fd:
 * Wayland has no way to say that a content failed (a pipe closed early
 * reads as a shorter content), so a provider that fails or goes over the
 * limit must be found out before the first byte goes, and then the paster
 * gets nothing. Names of ours that carry no type (the marker) are answered
 * with nothing at once.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "qga-desktop-wayland-private.h"

struct _WlServe {
  QgaDesktopServe base;
  int out_fd;                     /* the paster's */
  guint out_watch;
};

void
wl_serve_free (WlServe *serve)
{
  g_clear_handle_id (&serve->out_watch, g_source_remove);
  if (serve->out_fd >= 0)
    close (serve->out_fd);
  qga_desktop_serve_clear (&serve->base);
  g_free (serve);
}

/* --- the content → the paster --- */

static void serve_write (WlServe *serve);

static gboolean
on_out_writable (int fd, GIOCondition condition, gpointer user_data)
{
  WlServe *serve = user_data;

  serve->out_watch = 0;
  serve_write (serve);
  return G_SOURCE_REMOVE;
}

static void
serve_write (WlServe *serve)
{
  QgaDesktopServe *base = &serve->base;

  while (base->sent < base->content->len)
    {
      gssize n = write (serve->out_fd, base->content->data + base->sent,
                        base->content->len - base->sent);

      if (n > 0)
        {
          base->sent += n;
          qga_desktop_serve_progress (base);
        }
      else if (n < 0 && errno == EINTR)
        continue;
      else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          serve->out_watch = g_unix_fd_add (serve->out_fd, G_IO_OUT, on_out_writable, serve);
          return;
        }
      else
        {
          g_debug ("a Wayland client left before the end of %s: %s", base->mime_type,
                   n < 0 ? g_strerror (errno) : "nothing written");
          qga_desktop_serve_end (base);
          return;
        }
    }
  g_debug ("served %u bytes of %s of the %s selection", base->content->len, base->mime_type,
           qga_clipboard_selection_name (base->selection));
  qga_desktop_serve_end (base);
}

static void
serve_answer (QgaDesktopServe *base)
{
  WlServe *serve = (WlServe *) base;
  g_autoptr(GError) error = NULL;

  if (!g_unix_set_fd_nonblocking (serve->out_fd, TRUE, &error))
    {
      qga_desktop_serve_refuse (base, "the paster's fd: %s", error->message);
      return;
    }
  serve_write (serve);
}

static const QgaDesktopServeOps serve_ops = { NULL, serve_answer };

/* --- starting --- */

/* Which of source's types the name asked for is: the type itself, or
 * text by one of its names. NULL for anything else (our marker). */
static const char *
served_mime_type (WlSource *source, const char *name)
{
  const char *mime_type;

  for (guint i = 0; source->mime_types[i] != NULL; i++)
    if (strcmp (source->mime_types[i], name) == 0)
      return source->mime_types[i];
  mime_type = wl_name_to_mime_type (name);
  if (g_strcmp0 (mime_type, QGA_DESKTOP_MIME_TEXT) == 0 &&
      g_strv_contains ((const char *const *) source->mime_types, QGA_DESKTOP_MIME_TEXT))
    return QGA_DESKTOP_MIME_TEXT;
  return NULL;
}

void
wl_serve_start (QgaDesktopClipboardWayland *self, WlSource *source, const char *name, int fd)
{
  const char *mime_type = served_mime_type (source, name);
  WlServe *serve;

  if (mime_type == NULL)
    {
      close (fd);
      return;
    }
  serve = qga_desktop_serve_new (sizeof (WlServe), &serve_ops, QGA_DESKTOP_CLIPBOARD (self),
                                 &self->transfers, source->selection, mime_type,
                                 "a Wayland client");
  if (serve == NULL)
    {
      close (fd);
      return;
    }
  serve->out_fd = fd;
  qga_desktop_serve_ask (&serve->base, source->offer);
}

