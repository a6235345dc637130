/* host-connect.c: connect with backoff, or listen and accept one guest (see host-connect.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "host-connect.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
/* A connection resets the backoff, unless the one before it dropped within
 * this time: a peer that accepts and closes at once must not make us spin. */
#define STABLE_CONNECTION_USEC G_USEC_PER_SEC
#define LISTEN_BACKLOG 4
#define ACCEPT_PAUSE_MS 1000

struct _HostConnector {
  GObject parent;

  char *path;
  gboolean listen;
  gboolean started;
  gboolean busy;              /* a connection is handed out */
  gint64 connected_at;

  /* connect mode */
  guint retry_source;
  guint backoff_ms;
  gboolean last_drop_quick;
  int last_errno;
  GError *last_error;

  /* listen mode */
  int listen_fd;
  guint accept_source;
  dev_t socket_dev;
  ino_t socket_ino;
};

enum { SIGNAL_CONNECTED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (HostConnector, host_connector, G_TYPE_OBJECT)

static gboolean
make_address (const char *path, struct sockaddr_un *address, GError **error)
{
  memset (address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  if (*path == '\0' || strlen (path) >= sizeof address->sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "invalid socket path '%s' (empty or longer than %" G_GSIZE_FORMAT " bytes)",
                   path, sizeof address->sun_path - 1);
      return FALSE;
    }
  strcpy (address->sun_path, path);
  return TRUE;
}

static int
new_socket (GError **error)
{
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

  if (fd < 0)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                 "cannot create a socket: %s", g_strerror (errno));
  return fd;
}

static void
hand_out (HostConnector *connector, int fd)
{
  g_autoptr(HostConnector) self = g_object_ref (connector);

  connector->busy = TRUE;
  connector->connected_at = g_get_monotonic_time ();
  g_signal_emit (connector, signals[SIGNAL_CONNECTED], 0, fd);
}

/* --- connect mode --- */

static void schedule_connect (HostConnector *connector);

static gboolean
is_transient (int errsv)
{
  return errsv == ENOENT || errsv == ECONNREFUSED || errsv == EAGAIN;
}

static void
note_connect_failure (HostConnector *connector, int errsv)
{
  gboolean changed = errsv != connector->last_errno;

  connector->last_errno = errsv;
  g_clear_error (&connector->last_error);
  g_set_error (&connector->last_error, G_IO_ERROR, g_io_error_from_errno (errsv),
               "cannot connect to %s: %s", connector->path, g_strerror (errsv));
  if (changed && !is_transient (errsv))
    g_message ("%s; retrying", connector->last_error->message);
  else
    g_debug ("%s; retrying in %u ms", connector->last_error->message, connector->backoff_ms);
}

/* Returns a connected fd, or -1 with errno set. */
static int
try_connect (const char *path)
{
  struct sockaddr_un address;
  int fd, errsv;

  if (!make_address (path, &address, NULL))
    {
      errno = ENAMETOOLONG;
      return -1;
    }
  fd = new_socket (NULL);
  if (fd < 0)
    return -1;
  if (connect (fd, (struct sockaddr *) &address, sizeof address) == 0)
    return fd;
  errsv = errno;
  close (fd);
  errno = errsv;
  return -1;
}

static gboolean
connect_cb (gpointer user_data)
{
  HostConnector *connector = user_data;
  int fd;

  connector->retry_source = 0;
  fd = try_connect (connector->path);
  if (fd < 0)
    {
      note_connect_failure (connector, errno);
      schedule_connect (connector);
      return G_SOURCE_REMOVE;
    }
  connector->last_errno = 0;
  g_clear_error (&connector->last_error);
  if (!connector->last_drop_quick)
    connector->backoff_ms = BACKOFF_MIN_MS;
  g_debug ("connected to %s", connector->path);
  hand_out (connector, fd);
  return G_SOURCE_REMOVE;
}

static void
schedule_connect (HostConnector *connector)
{
  guint delay = connector->backoff_ms;

  connector->backoff_ms = MIN (connector->backoff_ms * 2, BACKOFF_MAX_MS);
  connector->retry_source = g_timeout_add (delay, connect_cb, connector);
}

/* --- listen mode --- */

/* A socket someone still accepts on is not stale. */
static gboolean
socket_is_live (const char *path)
{
  int fd = try_connect (path);

  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

static gboolean
remove_stale_socket (const char *path, GError **error)
{
  struct stat st;

  if (lstat (path, &st) < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot access %s: %s", path, g_strerror (errno));
      return FALSE;
    }
  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "%s exists and is not a socket; not replacing it", path);
      return FALSE;
    }
  if (socket_is_live (path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                   "%s is in use: another process is listening on it", path);
      return FALSE;
    }
  g_debug ("removing stale socket %s", path);
  if (unlink (path) < 0 && errno != ENOENT)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot remove stale socket %s: %s", path, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static gboolean
create_listener (HostConnector *connector, GError **error)
{
  struct sockaddr_un address;
  struct stat st;
  int fd;

  if (!make_address (connector->path, &address, error) ||
      !remove_stale_socket (connector->path, error))
    return FALSE;
  fd = new_socket (error);
  if (fd < 0)
    return FALSE;
  if (bind (fd, (struct sockaddr *) &address, sizeof address) < 0 ||
      listen (fd, LISTEN_BACKLOG) < 0)
    {
      int errsv = errno;

      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "cannot listen on %s: %s", connector->path, g_strerror (errsv));
      return FALSE;
    }
  if (stat (connector->path, &st) == 0)
    {
      connector->socket_dev = st.st_dev;
      connector->socket_ino = st.st_ino;
    }
  connector->listen_fd = fd;
  g_debug ("listening on %s", connector->path);
  return TRUE;
}

/* Only unlink the path if it is still the socket we created. */
static void
remove_own_socket (HostConnector *connector)
{
  struct stat st;

  if (stat (connector->path, &st) == 0 && S_ISSOCK (st.st_mode) &&
      st.st_dev == connector->socket_dev && st.st_ino == connector->socket_ino)
    unlink (connector->path);
}

static void watch_listener (HostConnector *connector);

static gboolean
resume_accept_cb (gpointer user_data)
{
  HostConnector *connector = user_data;

  connector->accept_source = 0;
  watch_listener (connector);
  return G_SOURCE_REMOVE;
}

static gboolean
accept_cb (int listen_fd, GIOCondition condition, gpointer user_data)
{
  HostConnector *connector = user_data;
  int fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

  if (fd < 0)
    {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
        return G_SOURCE_CONTINUE;
      /* e.g. EMFILE: the socket stays readable, so pause rather than spin */
      g_warning ("cannot accept a connection on %s: %s", connector->path, g_strerror (errno));
      connector->accept_source = g_timeout_add (ACCEPT_PAUSE_MS, resume_accept_cb, connector);
      return G_SOURCE_REMOVE;
    }
  if (connector->busy)
    {
      g_warning ("refused a second connection on %s: a guest is already connected",
                 connector->path);
      close (fd);
      return G_SOURCE_CONTINUE;
    }
  hand_out (connector, fd);
  return G_SOURCE_CONTINUE;
}

static void
watch_listener (HostConnector *connector)
{
  connector->accept_source = g_unix_fd_add (connector->listen_fd, G_IO_IN, accept_cb, connector);
}

/* --- public --- */

void
host_connector_start (HostConnector *connector)
{
  g_return_if_fail (!connector->started);

  connector->started = TRUE;
  if (connector->listen)
    watch_listener (connector);
  else
    connector->retry_source = g_idle_add (connect_cb, connector);
}

void
host_connector_release (HostConnector *connector)
{
  g_return_if_fail (connector->busy);

  connector->busy = FALSE;
  if (connector->listen)
    return;
  connector->last_drop_quick =
    g_get_monotonic_time () - connector->connected_at < STABLE_CONNECTION_USEC;
  schedule_connect (connector);
}

const GError *
host_connector_get_last_error (HostConnector *connector)
{
  return connector->last_error;
}

gboolean
host_connector_is_listening (HostConnector *connector)
{
  return connector->listen;
}

const char *
host_connector_get_path (HostConnector *connector)
{
  return connector->path;
}

HostConnector *
host_connector_new (const char *path, gboolean listen, GError **error)
{
  g_autoptr(HostConnector) connector = g_object_new (HOST_TYPE_CONNECTOR, NULL);
  struct sockaddr_un address;

  connector->path = g_strdup (path);
  connector->listen = listen;
  if (!make_address (path, &address, error))
    return NULL;
  if (listen && !create_listener (connector, error))
    return NULL;
  return g_steal_pointer (&connector);
}

static void
host_connector_finalize (GObject *object)
{
  HostConnector *connector = HOST_CONNECTOR (object);

  g_clear_handle_id (&connector->retry_source, g_source_remove);
  g_clear_handle_id (&connector->accept_source, g_source_remove);
  if (connector->listen_fd >= 0)
    {
      remove_own_socket (connector);
      close (connector->listen_fd);
    }
  g_clear_error (&connector->last_error);
  g_free (connector->path);
  G_OBJECT_CLASS (host_connector_parent_class)->finalize (object);
}

static void
host_connector_init (HostConnector *connector)
{
  connector->listen_fd = -1;
  connector->backoff_ms = BACKOFF_MIN_MS;
}

static void
host_connector_class_init (HostConnectorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = host_connector_finalize;

  signals[SIGNAL_CONNECTED] =
    g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
}
