/* fuzz-util.c: see fuzz-util.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include "fuzz-util.h"

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields,
                 gpointer user_data)
{
  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL))
    {
      g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
      abort ();
    }
  if (g_getenv ("QGA_FUZZ_VERBOSE") != NULL)
    return g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

void
fuzz_init (void)
{
  static gboolean done;

  if (done)
    return;
  done = TRUE;
  signal (SIGPIPE, SIG_IGN);
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
}

void
fuzz_rng_init (FuzzRng *rng, const uint8_t *data, size_t size)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (size_t i = 0; i < size; i++)
    h = (h ^ data[i]) * G_GUINT64_CONSTANT (0x100000001b3);
  rng->state = h | 1;
}

guint32
fuzz_rng_next (FuzzRng *rng)
{
  /* xorshift64* */
  rng->state ^= rng->state >> 12;
  rng->state ^= rng->state << 25;
  rng->state ^= rng->state >> 27;
  return (guint32) ((rng->state * G_GUINT64_CONSTANT (0x2545F4914F6CDD1D)) >> 32);
}

void
fuzz_iterate (guint max_rounds)
{
  for (guint i = 0; i < max_rounds && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

void
fuzz_drain (int fd)
{
  char buf[65536];

  while (read (fd, buf, sizeof buf) > 0)
    ;
}

/* Where the piece that starts at done ends: at most FUZZ_FEED_MAX_PIECES
 * pieces in all, so that a long input costs a bounded number of main loop
 * rounds (each a few system calls). Most pieces end just after a newline,
 * as a peer writes a message per line; some stop mid-line. A short input
 * still goes about a line at a time. */
static size_t
piece_end (const uint8_t *data, size_t size, size_t done, guint pieces, FuzzRng *rng)
{
  size_t left = size - done;
  size_t mean = MAX (left / (FUZZ_FEED_MAX_PIECES - pieces), 1);
  guint32 r = fuzz_rng_next (rng);
  size_t end = done + 1 + (r >> 4) % (2 * mean);
  const uint8_t *newline;

  if (pieces + 1 >= FUZZ_FEED_MAX_PIECES || end >= size)
    return size;
  if ((r & 3) == 0)
    return end;
  newline = memchr (data + end - 1, '\n', size - (end - 1));
  return newline ? (size_t) (newline - data) + 1 : size;
}

/* Write data[done..end) whole, dispatching (and draining the replies)
 * whenever the socket is full. FALSE if the other end closed or stopped
 * reading for good. */
static gboolean
write_piece (int fd, const uint8_t *data, size_t done, size_t end)
{
  guint stuck = 0;

  while (done < end)
    {
      ssize_t n = write (fd, data + done, end - done);

      if (n > 0)
        {
          done += n;
          stuck = 0;
          continue;
        }
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return FALSE;   /* the other end closed */
      if (++stuck > 1000)
        return FALSE;   /* it stopped reading (back-pressure) for good */
      fuzz_iterate (64);
      fuzz_drain (fd);
    }
  return TRUE;
}

void
fuzz_feed (int fd, const uint8_t *data, size_t size, FuzzRng *rng)
{
  size_t done = 0;

  for (guint pieces = 0; done < size; pieces++)
    {
      size_t end = piece_end (data, size, done, pieces, rng);

      if (!write_piece (fd, data, done, end))
        break;
      done = end;
      fuzz_iterate (64);
      fuzz_drain (fd);
    }
  fuzz_iterate (1000);
  fuzz_drain (fd);
}

static char *socket_dir;

static void
remove_socket_dir (void)
{
  g_autoptr(GDir) dir = g_dir_open (socket_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (socket_dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (socket_dir);
}

const char *
fuzz_listen_socket (const char *name, int *listen_fd)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  char *path;
  int fd;

  if (socket_dir == NULL)
    {
      socket_dir = g_dir_make_tmp ("qga-fuzz-XXXXXX", NULL);
      g_assert (socket_dir != NULL);
      atexit (remove_socket_dir);
    }
  path = g_build_filename (socket_dir, name, NULL);   /* kept for the process */
  g_assert (strlen (path) < sizeof addr.sun_path);
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  g_assert (fd >= 0);
  g_assert (bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0);
  g_assert (listen (fd, 16) == 0);
  *listen_fd = fd;
  return path;
}

int
fuzz_accept (int listen_fd)
{
  return accept4 (listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int
fuzz_pipe_with (gsize length)
{
  static const char pattern[] = "qga-bridge fuzz content 0123456789\n";
  static char content[65536];
  int fds[2];
  ssize_t written;

  g_assert (length <= sizeof content);
  if (content[0] == '\0')
    for (gsize i = 0; i < sizeof content; i++)
      content[i] = pattern[i % (sizeof pattern - 1)];
  g_assert (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  /* One write: it fits in the pipe (64 KiB), and a write per line of the
   * pattern was a sixth of the host target's time. */
  written = write (fds[1], content, length);
  g_assert (written == (ssize_t) length);
  close (fds[1]);
  return fds[0];
}
