/* session-relay.c: copy a supplied fd to the bridge, confirming its end. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <glib-unix.h>

#include "session-relay.h"

#define BUFFER_SIZE 65536
#define PING_TIMEOUT_MS 5000

struct _SessionRelay {
  int source;
  int sink;                /* the pipe's write end, -1 once closed */
  GDBusConnection *session_bus;
  char *owner;
  SessionRelayFailedFunc failed;
  gpointer user_data;
  guint8 *buffer;
  gsize filled, written;
  GSource *watch;
  GCancellable *cancellable;
};

static void pump (SessionRelay *relay);

static void
unwatch (SessionRelay *relay)
{
  if (relay->watch == NULL)
    return;
  g_source_destroy (relay->watch);
  g_clear_pointer (&relay->watch, g_source_unref);
}

static gboolean
on_ready (int fd, GIOCondition condition, gpointer user_data)
{
  SessionRelay *relay = user_data;

  unwatch (relay);
  pump (relay);
  return G_SOURCE_REMOVE;
}

static void
watch (SessionRelay *relay, int fd, GIOCondition condition)
{
  unwatch (relay);
  relay->watch = g_unix_fd_source_new (fd, condition);
  g_source_set_callback (relay->watch, (GSourceFunc) (void (*) (void)) on_ready, relay, NULL);
  g_source_attach (relay->watch, NULL);
}

static void
fail (SessionRelay *relay, const char *message)
{
  unwatch (relay);
  if (relay->failed != NULL)
    {
      SessionRelayFailedFunc failed = relay->failed;

      relay->failed = NULL;
      failed (relay, message, relay->user_data);
    }
}

static void
ping_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  SessionRelay *relay = user_data;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    {
      fail (relay, "the owner left before the end of its data");
      return;
    }
  close (relay->sink);   /* the whole content: the bridge may finish */
  relay->sink = -1;
}

static void
confirm_end (SessionRelay *relay)
{
  g_dbus_connection_call (relay->session_bus, relay->owner, "/", "org.freedesktop.DBus.Peer",
                          "Ping", NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, PING_TIMEOUT_MS,
                          relay->cancellable, ping_cb, relay);
}

/* Move data until one side would block, then wait for that side. */
static void
pump (SessionRelay *relay)
{
  for (;;)
    {
      gssize n;

      if (relay->written < relay->filled)
        {
          n = write (relay->sink, relay->buffer + relay->written, relay->filled - relay->written);
          if (n > 0)
            relay->written += n;
          else if (n < 0 && errno == EAGAIN)
            {
              watch (relay, relay->sink, G_IO_OUT);
              return;
            }
          else if (n < 0 && errno != EINTR)
            return;   /* the bridge closed its end: its reply says why */
          continue;
        }
      relay->filled = relay->written = 0;
      n = read (relay->source, relay->buffer, BUFFER_SIZE);
      if (n > 0)
        relay->filled = n;
      else if (n == 0)
        {
          confirm_end (relay);
          return;
        }
      else if (errno == EAGAIN)
        {
          watch (relay, relay->source, G_IO_IN);
          return;
        }
      else if (errno != EINTR)
        {
          g_autofree char *message = g_strdup_printf ("cannot read the owner's data: %s",
                                                      g_strerror (errno));

          fail (relay, message);
          return;
        }
    }
}

SessionRelay *
session_relay_new (int source_fd, GDBusConnection *session_bus, const char *owner,
                   SessionRelayFailedFunc failed, gpointer user_data, int *bridge_fd,
                   GError **error)
{
  SessionRelay *relay;
  int fds[2];

  if (pipe2 (fds, O_CLOEXEC | O_NONBLOCK) < 0)
    {
      int saved = errno;

      close (source_fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot make a pipe: %s",
                   g_strerror (saved));
      return NULL;
    }
  g_unix_set_fd_nonblocking (source_fd, TRUE, NULL);
  relay = g_new0 (SessionRelay, 1);
  relay->source = source_fd;
  relay->sink = fds[1];
  relay->session_bus = g_object_ref (session_bus);
  relay->owner = g_strdup (owner);
  relay->failed = failed;
  relay->user_data = user_data;
  relay->buffer = g_malloc (BUFFER_SIZE);
  relay->cancellable = g_cancellable_new ();
  *bridge_fd = fds[0];
  watch (relay, relay->source, G_IO_IN);
  return relay;
}

void
session_relay_free (SessionRelay *relay)
{
  if (relay == NULL)
    return;
  g_cancellable_cancel (relay->cancellable);
  g_object_unref (relay->cancellable);
  unwatch (relay);
  close (relay->source);
  if (relay->sink >= 0)
    close (relay->sink);
  g_object_unref (relay->session_bus);
  g_free (relay->owner);
  g_free (relay->buffer);
  g_free (relay);
}
