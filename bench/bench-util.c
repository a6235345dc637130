/* bench-util.c: time, samples, /proc and unix sockets for qga-bench. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

G_DEFINE_QUARK (qga-bench-error-quark, bench_error)

gint64
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

GArray *
bench_samples_new (void)
{
  return g_array_sized_new (FALSE, FALSE, sizeof (gint64), 1024);
}

void
bench_samples_add (GArray *samples, gint64 ns)
{
  g_array_append_val (samples, ns);
}

void
bench_samples_append (GArray *samples, GArray *more)
{
  g_array_append_vals (samples, more->data, more->len);
}

static int
compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

double
bench_samples_percentile_us (GArray *samples, double p)
{
  gsize rank;

  if (samples->len == 0)
    return 0;
  g_array_sort (samples, compare_int64);
  rank = (gsize) ((p / 100.0) * samples->len + 0.999999);
  rank = CLAMP (rank, 1, samples->len);
  return g_array_index (samples, gint64, rank - 1) / 1000.0;
}

gint64
bench_proc_cpu_ns (GPid pid)
{
  g_autofree char *tasks = g_strdup_printf ("/proc/%d/task", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (tasks, 0, NULL);
  const char *task;
  gint64 total = 0;

  while (dir != NULL && (task = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (tasks, task, "schedstat", NULL);
      g_autofree char *text = NULL;

      /* The first field is the time spent on a CPU, in ns. */
      if (g_file_get_contents (path, &text, NULL, NULL))
        total += g_ascii_strtoll (text, NULL, 10);
    }
  return total;
}

/* A "Name:   123 kB" line of /proc/PID/status. */
static gsize
proc_status_kib (GPid pid, const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *text = NULL;
  g_autofree char *key = g_strconcat ("\n", field, ":", NULL);
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  line = strstr (text, key);
  if (line == NULL)
    return 0;
  return (gsize) g_ascii_strtoull (line + strlen (key), NULL, 10);
}

gsize
bench_proc_rss_kib (GPid pid)
{
  return proc_status_kib (pid, "VmRSS");
}

gsize
bench_proc_rss_anon_kib (GPid pid)
{
  return proc_status_kib (pid, "RssAnon");
}

static gboolean
make_address (const char *path, struct sockaddr_un *address, GError **error)
{
  memset (address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  if (strlen (path) >= sizeof address->sun_path)
    {
      g_set_error (error, BENCH_ERROR, 0, "socket path too long: %s", path);
      return FALSE;
    }
  strcpy (address->sun_path, path);
  return TRUE;
}

static int
new_socket (GError **error)
{
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    g_set_error (error, BENCH_ERROR, 0, "socket: %s", g_strerror (errno));
  return fd;
}

int
bench_unix_listen (const char *path, GError **error)
{
  struct sockaddr_un address;
  int fd;

  if (!make_address (path, &address, error) || (fd = new_socket (error)) < 0)
    return -1;
  if (bind (fd, (struct sockaddr *) &address, sizeof address) < 0 || listen (fd, 8) < 0)
    {
      g_set_error (error, BENCH_ERROR, 0, "cannot listen on %s: %s", path, g_strerror (errno));
      close (fd);
      return -1;
    }
  return fd;
}

gboolean
bench_wait_fd (int fd, short events, guint timeout_ms)
{
  struct pollfd pfd = { .fd = fd, .events = events };
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  int n;

  do
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;

      n = poll (&pfd, 1, MAX (left_ms, 0));
    }
  while (n < 0 && errno == EINTR);
  return n > 0;
}

int
bench_unix_accept (int listen_fd, guint timeout_ms, GError **error)
{
  int fd;

  if (!bench_wait_fd (listen_fd, POLLIN, timeout_ms))
    {
      g_set_error (error, BENCH_ERROR, 0, "nobody connected within %u ms", timeout_ms);
      return -1;
    }
  fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0)
    g_set_error (error, BENCH_ERROR, 0, "accept: %s", g_strerror (errno));
  return fd;
}

int
bench_unix_connect (const char *path, guint timeout_ms, GError **error)
{
  struct sockaddr_un address;
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  if (!make_address (path, &address, error))
    return -1;
  for (;;)
    {
      int fd = new_socket (error);

      if (fd < 0)
        return -1;
      if (connect (fd, (struct sockaddr *) &address, sizeof address) == 0)
        return fd;
      close (fd);
      if ((errno != ENOENT && errno != ECONNREFUSED) || g_get_monotonic_time () > deadline)
        {
          g_set_error (error, BENCH_ERROR, 0, "cannot connect to %s: %s", path, g_strerror (errno));
          return -1;
        }
      g_usleep (10 * 1000);
    }
}

gboolean
bench_write_all (int fd, const void *data, gsize length, GError **error)
{
  const guint8 *p = data;

  while (length > 0)
    {
      ssize_t n = write (fd, p, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, BENCH_ERROR, 0, "write: %s", g_strerror (n < 0 ? errno : EPIPE));
          return FALSE;
        }
      p += n;
      length -= n;
    }
  return TRUE;
}
