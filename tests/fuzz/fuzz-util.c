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

void
fuzz_feed (int fd, const uint8_t *data, size_t size, FuzzRng *rng)
{
  size_t done = 0;
  guint stuck = 0;

  while (done < size)
    {
      /* Pieces of up to a line: a peer writes a message per line, and
       * answers what we sent (an ACK, a reply) after it came. Within a
       * line, small pieces or the rest of it. */
      guint32 r = fuzz_rng_next (rng);
      const uint8_t *newline = memchr (data + done, '\n', size - done);
      size_t line = newline ? (size_t) (newline - (data + done)) + 1 : size - done;
      size_t piece = (r & 3) == 0 ? line : 1 + (r >> 8) % 64;
      ssize_t n = write (fd, data + done, MIN (piece, line));

      if (n > 0)
        {
          done += n;
          stuck = 0;
        }
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        break;   /* the other end closed */
      else if (++stuck > 1000)
        break;   /* it stopped reading (back-pressure) for good */
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
  int fds[2];

  g_assert (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  g_assert (length <= 65536);
  for (gsize done = 0; done < length;)
    {
      gsize n = MIN (length - done, sizeof pattern - 1);
      ssize_t w = write (fds[1], pattern, n);

      g_assert (w > 0);
      done += w;
    }
  close (fds[1]);
  return fds[0];
}
