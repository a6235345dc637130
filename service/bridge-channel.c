/* bridge-channel.c: attaching to the host over a virtio port or a socket. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>

#include "bridge-channel.h"
#include "qga-error.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

typedef enum {
  CHANNEL_DEVICE,
  CHANNEL_UNIX,
} ChannelKind;

struct _BridgeChannel {
  GObject parent;

  char *spec;
  ChannelKind kind;
  char *path;
  gsize max_message_size;
  gsize max_queue_size;

  QgaStream *stream;       /* non-NULL while connected */
  int device_fd;           /* device only: kept open across host sessions */
  int sigio_fd;            /* device only: signalfd for SIGIO, or -1 */
  guint sigio_watch;
  guint retry_timer;
  guint backoff_ms;
  gboolean reported_unavailable;
  gboolean reads_held;     /* bridge_channel_hold_reads(), across host sessions */
};

enum { SIGNAL_CONNECTED, SIGNAL_DISCONNECTED, SIGNAL_MESSAGE, SIGNAL_BAD_INPUT, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (BridgeChannel, bridge_channel, G_TYPE_OBJECT)

static void attempt (BridgeChannel *channel);

void
bridge_channel_block_sigio (void)
{
  sigset_t set;

  sigemptyset (&set);
  sigaddset (&set, SIGIO);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
}

static gboolean
retry_cb (gpointer user_data)
{
  BridgeChannel *channel = user_data;

  channel->retry_timer = 0;
  attempt (channel);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (BridgeChannel *channel)
{
  g_clear_handle_id (&channel->retry_timer, g_source_remove);
  channel->retry_timer = g_timeout_add (channel->backoff_ms, retry_cb, channel);
  channel->backoff_ms = MIN (channel->backoff_ms * 2, BACKOFF_MAX_MS);
}

/* Log "unavailable" once per outage rather than on every retry. */
static void
report_unavailable (BridgeChannel *channel, const char *what)
{
  if (channel->reported_unavailable)
    g_debug ("%s: %s", channel->spec, what);
  else
    g_message ("%s: %s; waiting for the host", channel->spec, what);
  channel->reported_unavailable = TRUE;
}

static void
on_stream_message (QgaStream *stream, JsonNode *root, gpointer user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_MESSAGE], 0, root);
}

static void
on_stream_bad_input (QgaStream *stream, GError *error, gpointer user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_BAD_INPUT], 0, error);
}

static void
set_async_notification (BridgeChannel *channel, gboolean enabled)
{
  int flags;

  if (channel->device_fd < 0 || channel->sigio_fd < 0)
    return;
  flags = fcntl (channel->device_fd, F_GETFL);
  if (flags < 0)
    return;
  flags = enabled ? (flags | O_ASYNC) : (flags & ~O_ASYNC);
  if (fcntl (channel->device_fd, F_SETFL, flags) < 0)
    g_debug ("cannot %s O_ASYNC on %s: %s", enabled ? "set" : "clear",
             channel->path, g_strerror (errno));
}

static void
drop_stream (BridgeChannel *channel)
{
  if (channel->stream == NULL)
    return;
  g_signal_handlers_disconnect_by_data (channel->stream, channel);
  qga_stream_close (channel->stream);
  g_clear_object (&channel->stream);
}

static void
on_stream_closed (QgaStream *stream, GError *error, gpointer user_data)
{
  BridgeChannel *channel = user_data;

  g_message ("host detached from %s%s%s", channel->spec,
             error ? ": " : "", error ? error->message : "");
  drop_stream (channel);
  if (error != NULL && channel->device_fd >= 0)
    {
      /* Not the plain EOF of a detached host: the port itself may be gone
       * (hot-unplug, driver reload). Reopen it on the next attempt. */
      close (channel->device_fd);
      channel->device_fd = -1;
    }
  channel->backoff_ms = BACKOFF_MIN_MS;
  channel->reported_unavailable = TRUE;
  set_async_notification (channel, TRUE);
  g_signal_emit (channel, signals[SIGNAL_DISCONNECTED], 0);
  schedule_retry (channel);
}

static void
become_connected (BridgeChannel *channel, int fd, gboolean owns_fd)
{
  channel->stream = qga_stream_new (fd, owns_fd, channel->max_message_size,
                                    channel->max_queue_size);
  qga_stream_hold_reads (channel->stream, channel->reads_held);
  g_signal_connect (channel->stream, "message", G_CALLBACK (on_stream_message), channel);
  g_signal_connect (channel->stream, "bad-input", G_CALLBACK (on_stream_bad_input), channel);
  g_signal_connect (channel->stream, "closed", G_CALLBACK (on_stream_closed), channel);
  channel->backoff_ms = BACKOFF_MIN_MS;
  channel->reported_unavailable = FALSE;
  set_async_notification (channel, FALSE);
  g_message ("host attached to %s", channel->spec);
  g_signal_emit (channel, signals[SIGNAL_CONNECTED], 0);
}

static void
attempt_unix (BridgeChannel *channel)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0)
    {
      report_unavailable (channel, g_strerror (errno));
      schedule_retry (channel);
      return;
    }
  strncpy (addr.sun_path, channel->path, sizeof addr.sun_path - 1);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0 && errno != EINPROGRESS)
    {
      report_unavailable (channel, g_strerror (errno));
      close (fd);
      schedule_retry (channel);
      return;
    }
  become_connected (channel, fd, TRUE);
}

/* Put a serial tty in raw mode, as qemu-ga does for isa-serial; a virtio
 * port is not a tty and is left alone. */
static void
make_raw_if_tty (int fd)
{
  struct termios tio;

  if (!isatty (fd) || tcgetattr (fd, &tio) < 0)
    return;
  cfmakeraw (&tio);
  tcsetattr (fd, TCSANOW, &tio);
}

static gboolean
open_device (BridgeChannel *channel)
{
  if (channel->device_fd >= 0)
    return TRUE;
  channel->device_fd = open (channel->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (channel->device_fd < 0)
    {
      report_unavailable (channel, g_strerror (errno));
      return FALSE;
    }
  make_raw_if_tty (channel->device_fd);
  if (fcntl (channel->device_fd, F_SETOWN, getpid ()) < 0)
    g_debug ("F_SETOWN on %s: %s", channel->path, g_strerror (errno));
  set_async_notification (channel, TRUE);
  return TRUE;
}

/* A virtio port without a host polls as HUP at once; with one, it does not. */
static gboolean
device_has_host (int fd)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLOUT };

  if (poll (&pfd, 1, 0) < 0)
    return FALSE;
  return !(pfd.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static void
attempt_device (BridgeChannel *channel)
{
  if (!open_device (channel))
    {
      schedule_retry (channel);
      return;
    }
  if (!device_has_host (channel->device_fd))
    {
      report_unavailable (channel, "no host attached");
      schedule_retry (channel);
      return;
    }
  become_connected (channel, channel->device_fd, FALSE);
}

static void
attempt (BridgeChannel *channel)
{
  if (channel->stream != NULL)
    return;
  if (channel->kind == CHANNEL_UNIX)
    attempt_unix (channel);
  else
    attempt_device (channel);
}

static gboolean
sigio_cb (int fd, GIOCondition condition, gpointer user_data)
{
  BridgeChannel *channel = user_data;
  struct signalfd_siginfo info;

  while (read (fd, &info, sizeof info) == sizeof info)
    ;
  if (channel->stream == NULL)
    {
      g_debug ("SIGIO from %s: probing for the host", channel->path);
      channel->backoff_ms = BACKOFF_MIN_MS;
      g_clear_handle_id (&channel->retry_timer, g_source_remove);
      attempt (channel);
    }
  return G_SOURCE_CONTINUE;
}

static void
setup_sigio (BridgeChannel *channel)
{
  sigset_t set;

  sigemptyset (&set);
  sigaddset (&set, SIGIO);
  channel->sigio_fd = signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (channel->sigio_fd < 0)
    {
      g_debug ("signalfd: %s; relying on the probe timer", g_strerror (errno));
      return;
    }
  channel->sigio_watch = g_unix_fd_add (channel->sigio_fd, G_IO_IN, sigio_cb, channel);
}

void
bridge_channel_start (BridgeChannel *channel)
{
  if (channel->kind == CHANNEL_DEVICE && channel->sigio_fd < 0)
    setup_sigio (channel);
  attempt (channel);
}

gboolean
bridge_channel_is_connected (BridgeChannel *channel)
{
  return channel->stream != NULL && !qga_stream_is_closed (channel->stream);
}

void
bridge_channel_release_memory (BridgeChannel *channel)
{
  if (channel->stream != NULL)
    qga_stream_release_memory (channel->stream);
}

const char *
bridge_channel_get_spec (BridgeChannel *channel)
{
  return channel->spec;
}

void
bridge_channel_hold_reads (BridgeChannel *channel, gboolean hold)
{
  channel->reads_held = hold;
  if (channel->stream != NULL)
    qga_stream_hold_reads (channel->stream, hold);
}

static gboolean
check_attached (BridgeChannel *channel, GError **error)
{
  if (channel->stream != NULL)
    return TRUE;
  g_set_error_literal (error, QGA_ERROR, QGA_ERROR_HOST_DISCONNECTED,
                       "no host is attached to the port");
  return FALSE;
}

gboolean
bridge_channel_send (BridgeChannel *channel, GBytes *bytes, QgaStreamSendFlags flags,
                     GError **error)
{
  return check_attached (channel, error) &&
         qga_stream_send (channel->stream, bytes, flags, error);
}

gboolean
bridge_channel_check_room (BridgeChannel *channel, gsize size, gsize reserved, GError **error)
{
  return check_attached (channel, error) &&
         qga_stream_check_room (channel->stream, size, reserved, error);
}

static gboolean
parse_spec (BridgeChannel *channel, const char *spec, GError **error)
{
  if (g_str_has_prefix (spec, "unix:"))
    {
      struct sockaddr_un addr;

      channel->kind = CHANNEL_UNIX;
      channel->path = g_strdup (spec + strlen ("unix:"));
      if (channel->path[0] == '\0' || strlen (channel->path) >= sizeof addr.sun_path)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "invalid channel '%s': unix:PATH needs a path shorter than %zu bytes",
                       spec, sizeof addr.sun_path);
          return FALSE;
        }
      return TRUE;
    }
  if (spec[0] != '/')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "invalid channel '%s': expected an absolute device path or unix:PATH", spec);
      return FALSE;
    }
  channel->kind = CHANNEL_DEVICE;
  channel->path = g_strdup (spec);
  return TRUE;
}

BridgeChannel *
bridge_channel_new (const char *spec, gsize max_message_size, gsize max_queue_size,
                    GError **error)
{
  g_autoptr(BridgeChannel) channel = g_object_new (BRIDGE_TYPE_CHANNEL, NULL);

  if (!parse_spec (channel, spec, error))
    return NULL;
  channel->spec = g_strdup (spec);
  channel->max_message_size = max_message_size;
  channel->max_queue_size = max_queue_size;
  return g_steal_pointer (&channel);
}

static void
bridge_channel_finalize (GObject *object)
{
  BridgeChannel *channel = BRIDGE_CHANNEL (object);

  drop_stream (channel);
  g_clear_handle_id (&channel->retry_timer, g_source_remove);
  g_clear_handle_id (&channel->sigio_watch, g_source_remove);
  if (channel->sigio_fd >= 0)
    close (channel->sigio_fd);
  if (channel->device_fd >= 0)
    close (channel->device_fd);
  g_free (channel->spec);
  g_free (channel->path);
  G_OBJECT_CLASS (bridge_channel_parent_class)->finalize (object);
}

static void
bridge_channel_init (BridgeChannel *channel)
{
  channel->device_fd = -1;
  channel->sigio_fd = -1;
  channel->backoff_ms = BACKOFF_MIN_MS;
}

static void
bridge_channel_class_init (BridgeChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = bridge_channel_finalize;

  signals[SIGNAL_CONNECTED] =
    g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_NODE | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_BAD_INPUT] =
    g_signal_new ("bad-input", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}
