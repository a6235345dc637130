/* qga-desktop-serve.c: what the backends' answers to pastes do alike.
 *
 * The provider is asked only when a paste comes, writes into a pipe, and
 * we gather all of it (up to max-size) before the backend sends anything:
 * a provider that fails or goes over the limit is refused cleanly, where a
 * content cut short could only stop. How the content then goes to the
 * paster (X properties, a Wayland fd) is the backend's.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <glib-unix.h>

#include "qga-desktop-private.h"

/* Bytes asked per read() of the provider's pipe. */
#define PIPE_READ_SIZE (64 * 1024)
/* All that the serves hold, together, is at most this many times max-size. */
#define BUFFERED_MAX_SIZES 2

void
qga_desktop_serve_clear (QgaDesktopServe *serve)
{
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
      serve->transfers->serve_buffered -= serve->content->len;
      g_byte_array_unref (serve->content);
    }
  g_free (serve->mime_type);
  g_free (serve->paster);
}

void
qga_desktop_serve_end (QgaDesktopServe *serve)
{
  g_ptr_array_remove_fast (serve->transfers->serves, serve);
}

void
qga_desktop_serve_refuse (QgaDesktopServe *serve, const char *format, ...)
{
  va_list args;
  g_autofree char *why = NULL;

  va_start (args, format);
  why = g_strdup_vprintf (format, args);
  va_end (args);
  if (qga_rate_limit_allow (&serve->transfers->refusals))
    g_message ("desktop clipboard: refused %s of the %s selection to %s: %s", serve->mime_type,
               qga_clipboard_selection_name (serve->selection), serve->paster, why);
  if (serve->ops->refused != NULL)
    serve->ops->refused (serve);
  qga_desktop_serve_end (serve);
}

void
qga_desktop_serve_progress (QgaDesktopServe *serve)
{
  serve->last_progress = g_get_monotonic_time ();
}

static gboolean
on_serve_timer (gpointer user_data)
{
  QgaDesktopServe *serve = user_data;

  if (!qga_desktop_transfer_stalled (serve->clipboard, serve->last_progress))
    return G_SOURCE_CONTINUE;
  serve->timer = 0;
  if (serve->answering)
    {
      /* Half sent there is no way to tell the paster: it stops hearing. */
      g_debug ("%s stopped reading %s of the %s selection", serve->paster, serve->mime_type,
               qga_clipboard_selection_name (serve->selection));
      qga_desktop_serve_end (serve);
    }
  else
    qga_desktop_serve_refuse (serve, "the content did not come within %u ms",
                              qga_desktop_clipboard_get_timeout_ms (serve->clipboard));
  return G_SOURCE_REMOVE;
}

/* Answer once the content is whole: the pipe at its end and the provider
 * done without an error. */
static void
serve_maybe_answer (QgaDesktopServe *serve)
{
  if (serve->provider_error != NULL)
    {
      qga_desktop_serve_refuse (serve, "the provider failed: %s", serve->provider_error->message);
      return;
    }
  if (!serve->eof || !serve->provider_done)
    return;
  serve->answering = TRUE;
  serve->ops->answer (serve);
}

static void
on_provider_done (const GError *error, gpointer user_data)
{
  QgaDesktopServe *serve = user_data;

  serve->provider_done = TRUE;
  if (error != NULL)
    serve->provider_error = g_error_copy (error);
  if (!serve->asking)
    serve_maybe_answer (serve);
}

/* FALSE (the serve refused) if the content, or all that the serves hold,
 * is over its limit. */
static gboolean
serve_check_size (QgaDesktopServe *serve)
{
  guint64 max_size = qga_desktop_clipboard_get_max_size (serve->clipboard);

  if (serve->content->len > max_size)
    {
      qga_desktop_serve_refuse (serve, "the content is over %" G_GUINT64_FORMAT " bytes", max_size);
      return FALSE;
    }
  if (serve->transfers->serve_buffered > BUFFERED_MAX_SIZES * max_size)
    {
      qga_desktop_serve_refuse (serve,
                                "the pastes in progress hold over %" G_GUINT64_FORMAT " bytes",
                                BUFFERED_MAX_SIZES * max_size);
      return FALSE;
    }
  return TRUE;
}

/* Read what the pipe has; FALSE if the serve ended. */
static gboolean
serve_read_pipe (QgaDesktopServe *serve)
{
  g_autofree guint8 *buffer = g_malloc (PIPE_READ_SIZE);

  for (;;)
    {
      gssize n = read (serve->pipe_fd, buffer, PIPE_READ_SIZE);

      if (n > 0)
        {
          g_byte_array_append (serve->content, buffer, n);
          serve->transfers->serve_buffered += n;
          qga_desktop_serve_progress (serve);
          if (!serve_check_size (serve))
            return FALSE;
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
          qga_desktop_serve_refuse (serve, "cannot read the provider's pipe: %s",
                                    g_strerror (errno));
          return FALSE;
        }
    }
}

static gboolean
on_pipe_ready (int fd, GIOCondition condition, gpointer user_data)
{
  QgaDesktopServe *serve = user_data;
  guint watch = serve->pipe_watch;

  serve->pipe_watch = 0;   /* ended by returning REMOVE, whatever happens */
  if (!serve_read_pipe (serve))
    return G_SOURCE_REMOVE;
  if (!serve->eof)
    {
      serve->pipe_watch = watch;
      return G_SOURCE_CONTINUE;
    }
  close (serve->pipe_fd);
  serve->pipe_fd = -1;
  serve_maybe_answer (serve);
  return G_SOURCE_REMOVE;
}

gpointer
qga_desktop_serve_new (gsize struct_size, const QgaDesktopServeOps *ops,
                       QgaDesktopClipboard *clipboard, QgaDesktopTransfers *transfers,
                       QgaSelectionId selection, const char *mime_type, const char *paster)
{
  QgaDesktopServe *serve;
  int fds[2];
  g_autoptr(GError) error = NULL;

  g_assert (struct_size >= sizeof (QgaDesktopServe));
  if (transfers->serves->len >= QGA_DESKTOP_MAX_SERVES)
    {
      if (qga_rate_limit_allow (&transfers->refusals))
        g_message ("desktop clipboard: refused %s of the %s selection to %s: "
                   "%d pastes are in progress already", mime_type,
                   qga_clipboard_selection_name (selection), paster, QGA_DESKTOP_MAX_SERVES);
      return NULL;
    }
  if (!g_unix_open_pipe (fds, FD_CLOEXEC, &error) ||
      !g_unix_set_fd_nonblocking (fds[0], TRUE, &error))
    {
      g_message ("desktop clipboard: refused a paste: no pipe: %s", error->message);
      return NULL;
    }
  serve = g_malloc0 (struct_size);
  serve->ops = ops;
  serve->clipboard = clipboard;
  serve->transfers = transfers;
  serve->selection = selection;
  serve->mime_type = g_strdup (mime_type);
  serve->paster = g_strdup (paster);
  serve->pipe_fd = fds[0];
  serve->provider_fd = fds[1];
  serve->content = g_byte_array_new ();
  g_ptr_array_add (transfers->serves, serve);
  return serve;
}

void
qga_desktop_serve_ask (QgaDesktopServe *serve, QgaDesktopOffer *offer)
{
  qga_desktop_serve_progress (serve);
  serve->timer = qga_desktop_transfer_timer_add (serve->clipboard, on_serve_timer, serve);
  serve->pipe_watch = g_unix_fd_add (serve->pipe_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_pipe_ready,
                                     serve);

  /* The provider may complete before it returns: on_provider_done waits
   * until the request is stored. */
  serve->asking = TRUE;
  serve->request = qga_desktop_offer_ask (offer, serve->clipboard, serve->selection,
                                          serve->mime_type, serve->provider_fd, on_provider_done,
                                          serve);
  serve->provider_fd = -1;
  serve->asking = FALSE;
  if (serve->provider_done)
    serve_maybe_answer (serve);
}
