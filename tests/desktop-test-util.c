/* desktop-test-util.c: what the desktop clipboard's backend tests share
 * (desktop-test-util.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include "qga-error.h"

#include "desktop-test-util.h"

/* --- the module's log --------------------------------------------------- */

static GPtrArray *log_lines;   /* the module's log messages */

static GLogWriterOutput
record_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *domain = NULL, *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (strcmp (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
    }
  if (g_strcmp0 (domain, "qga-desktop") == 0 && message != NULL && log_lines != NULL)
    g_ptr_array_add (log_lines, g_strdup (message));
  return g_log_writer_default (level, fields, n_fields, user_data);
}

void
dt_log_start (void)
{
  g_log_set_writer_func (record_log, NULL, NULL);
  log_lines = g_ptr_array_new_with_free_func (g_free);
}

void
dt_log_stop (void)
{
  g_clear_pointer (&log_lines, g_ptr_array_unref);
}

void
dt_log_forget (void)
{
  g_ptr_array_set_size (log_lines, 0);
}

gboolean
dt_log_has (const char *part)
{
  for (guint i = 0; i < log_lines->len; i++)
    if (strstr (g_ptr_array_index (log_lines, i), part) != NULL)
      return TRUE;
  return FALSE;
}

/* --- processes ------------------------------------------------------------ */

typedef struct {
  gboolean done;
  GBytes *out;
  int status;
} Finished;

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Finished *finished = user_data;
  GSubprocess *process = G_SUBPROCESS (source);
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_finish (process, result, &finished->out, NULL, &error);
  g_assert_no_error (error);
  finished->status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
  finished->done = TRUE;
}

void
dt_signal_group (GSubprocess *process, int sig)
{
  const char *pid = g_subprocess_get_identifier (process);

  if (pid != NULL)
    kill (-atoi (pid), sig);
}

void
dt_kill_group (GSubprocess *process)
{
  dt_signal_group (process, SIGKILL);
}

int
dt_wait_process (GSubprocess *process, GBytes **out, guint timeout_ms, DtKillFunc kill)
{
  Finished finished = { FALSE, NULL, 0 };

  g_subprocess_communicate_async (process, NULL, NULL, on_communicated, &finished);
  if (!QT_WAIT (finished.done, timeout_ms))
    {
      kill (process);
      g_assert_true (QT_WAIT (finished.done, qt_ms (5000)));
      g_error ("%s did not exit within %u ms", g_subprocess_get_identifier (process), timeout_ms);
    }
  if (out != NULL)
    *out = g_steal_pointer (&finished.out);
  g_clear_pointer (&finished.out, g_bytes_unref);
  return finished.status;
}

void
dt_kill_process (GSubprocess *process, DtKillFunc kill)
{
  kill (process);
  dt_wait_process (process, NULL, qt_ms (5000), kill);
}

char *
dt_find_tool (const char *name, const char *package)
{
  char *path = g_find_program_in_path (name);

  if (path == NULL)
    {
      /* TAP: the run fails, it does not skip */
      printf ("Bail out! %s not found: install %s (tools/install-deps)\n", name, package);
      exit (1);
    }
  return path;
}

static void
die_with_test (gpointer data)
{
  /* SIGTERM, not SIGKILL: Xvfb then removes its socket and lock file */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

GSubprocessLauncher *
dt_launcher_new (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (launcher, die_with_test, NULL, NULL);
  return launcher;
}

/* --- an X server ---------------------------------------------------------- */

/* Xvfb writes the display's number to fd 3 once it accepts connections. */
static char *
read_display_number (DtXvfb *xvfb, int fd)
{
  char number[32] = "";
  gsize length = 0;

  while (strchr (number, '\n') == NULL)
    {
      gssize n;

      if (!qt_wait_fd (fd, G_IO_IN, qt_ms (15000)))
        g_error ("Xvfb did not start within 15 s (log: %s)", xvfb->log);
      n = read (fd, number + length, sizeof number - 1 - length);
      if (n <= 0)
        {
          g_autofree char *log = NULL;

          g_file_get_contents (xvfb->log, &log, NULL, NULL);
          g_error ("Xvfb failed to start: %s", log != NULL ? log : "(no log)");
        }
      length += n;
      number[length] = '\0';
      g_assert_cmpuint (length, <, sizeof number - 1);
    }
  *strchr (number, '\n') = '\0';
  return g_strdup_printf (":%s", number);
}

void
dt_xvfb_start (DtXvfb *xvfb)
{
  g_autoptr(GSubprocessLauncher) launcher = dt_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autofree char *path = dt_find_tool ("Xvfb", "xvfb");
  g_autoptr(GError) error = NULL;
  int fds[2];

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  xvfb->log = qt_tmp_path ("xvfb.log");
  g_subprocess_launcher_set_stderr_file_path (launcher, xvfb->log);
  g_subprocess_launcher_take_fd (launcher, fds[1], 3);
  xvfb->process = g_subprocess_launcher_spawn (launcher, &error, path, "-displayfd", "3",
                                               "-nolisten", "tcp", "-noreset",
                                               "-screen", "0", "64x64x24", NULL);
  g_assert_no_error (error);
  xvfb->display = read_display_number (xvfb, fds[0]);
  close (fds[0]);
}

void
dt_xvfb_stop (DtXvfb *xvfb)
{
  g_subprocess_send_signal (xvfb->process, SIGTERM);
  dt_wait_process (xvfb->process, NULL, qt_ms (10000), g_subprocess_force_exit);
  g_clear_object (&xvfb->process);
  g_clear_pointer (&xvfb->display, g_free);
  g_unlink (xvfb->log);
  g_clear_pointer (&xvfb->log, g_free);
}

/* --- a headless sway, and wl-clipboard, as the client user -------------- */

#define CLIENT_USER "nobody"

static gboolean switch_user;   /* as root: run the clients as CLIENT_USER */
static uid_t client_uid;
static gid_t client_gid;

void
dt_sway_find_client_user (void)
{
  struct passwd entry, *user = NULL;
  char buffer[4096];

  if (geteuid () != 0)
    {
      /* sway and wl-clipboard run as we do */
      client_uid = geteuid ();
      client_gid = getegid ();
      return;
    }
  if (getpwnam_r (CLIENT_USER, &entry, buffer, sizeof buffer, &user) != 0 || user == NULL ||
      user->pw_uid == 0)
    {
      printf ("Bail out! no user %s to run sway and wl-clipboard as (sway refuses root)\n",
              CLIENT_USER);
      exit (1);
    }
  switch_user = TRUE;
  client_uid = user->pw_uid;
  client_gid = user->pw_gid;
}

/* In the child, before exec: a process group of its own (killed as one),
 * the private /tmp (as root), the client user, and never outliving the
 * test (after setuid, which clears the parent-death signal). Only
 * async-signal-safe calls. */
static void
become_client (gpointer data)
{
  const DtSway *sway = data;

  setpgid (0, 0);
  if (sway->tmp != NULL &&
      (unshare (CLONE_NEWNS) != 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
       mount (sway->tmp, "/tmp", NULL, MS_BIND, NULL) != 0))
    _exit (126);
  if (switch_user &&
      (setgroups (0, NULL) != 0 || setgid (client_gid) != 0 || setuid (client_uid) != 0))
    _exit (127);
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GSubprocessLauncher *
dt_sway_launcher (DtSway *sway, GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);
  const char *env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };

  g_subprocess_launcher_set_environ (launcher, (char **) env);
  g_subprocess_launcher_setenv (launcher, "HOME", sway->home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", sway->runtime_dir, TRUE);
  if (sway->socket_name != NULL)
    g_subprocess_launcher_setenv (launcher, "WAYLAND_DISPLAY", sway->socket_name, TRUE);
  g_subprocess_launcher_set_child_setup (launcher, become_client, sway, NULL);
  return launcher;
}

static char *
make_client_dir (const char *parent, const char *name)
{
  char *path = g_build_filename (parent, name, NULL);

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_assert_cmpint (chown (path, client_uid, client_gid), ==, 0);
  return path;
}

/* In /dev/shm when there is one, out of the way of the clients' /tmp. */
static char *
make_sway_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *path;

  if (switch_user && g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR))
    {
      path = g_strdup ("/dev/shm/qga-wayland-XXXXXX");
      g_assert_nonnull (g_mkdtemp (path));
      return path;
    }
  path = g_dir_make_tmp ("qga-wayland-XXXXXX", &error);
  g_assert_no_error (error);
  return path;
}

/* The compositor's socket: the wayland-N it made in runtime_dir, once it
 * accepts connections. */
static gboolean
find_socket (DtSway *sway)
{
  g_autoptr(GDir) dir = g_dir_open (sway->runtime_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (sway->runtime_dir, name, NULL);
      struct sockaddr_un address = { .sun_family = AF_UNIX };
      struct stat st;
      int fd;
      gboolean ok;

      if (!g_str_has_prefix (name, "wayland-") || g_str_has_suffix (name, ".lock") ||
          stat (path, &st) != 0 || !S_ISSOCK (st.st_mode))
        continue;
      g_strlcpy (address.sun_path, path, sizeof address.sun_path);
      fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ok = connect (fd, (struct sockaddr *) &address, sizeof address) == 0;
      close (fd);
      if (ok)
        {
          sway->socket_name = g_strdup (name);
          sway->socket_path = g_steal_pointer (&path);
          return TRUE;
        }
    }
  return FALSE;
}

void
dt_sway_start (DtSway *sway)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sway_path = dt_find_tool ("sway", "sway");

  memset (sway, 0, sizeof *sway);
  /* not under qt_tmpdir(): that is root's, 0700, and the client user
   * could not reach its directories */
  sway->dir = make_sway_dir ();
  g_assert_cmpint (chown (sway->dir, client_uid, client_gid), ==, 0);
  sway->runtime_dir = make_client_dir (sway->dir, "run");
  sway->home = make_client_dir (sway->dir, "home");
  if (switch_user && !g_str_has_prefix (sway->dir, "/tmp/"))
    sway->tmp = make_client_dir (sway->dir, "tmp");
  sway->log = g_build_filename (sway->dir, "sway.log", NULL);
  launcher = dt_sway_launcher (sway, G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_setenv (launcher, "WLR_BACKENDS", "headless", TRUE);
  g_subprocess_launcher_setenv (launcher, "WLR_LIBINPUT_NO_DEVICES", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "WLR_RENDERER", "pixman", TRUE);
  g_subprocess_launcher_set_stderr_file_path (launcher, sway->log);
  sway->process = g_subprocess_launcher_spawn (launcher, &error, sway_path, "-c", "/dev/null",
                                               NULL);
  g_assert_no_error (error);
  if (!QT_WAIT (find_socket (sway) || g_subprocess_get_identifier (sway->process) == NULL ||
                kill (atoi (g_subprocess_get_identifier (sway->process)), 0) != 0,
                qt_ms (20000)) ||
      sway->socket_path == NULL)
    {
      g_autofree char *log = NULL;

      g_file_get_contents (sway->log, &log, NULL, NULL);
      g_error ("sway did not start within 20 s: %s", log != NULL ? log : "(no log)");
    }
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

void
dt_sway_stop (DtSway *sway)
{
  dt_signal_group (sway->process, SIGTERM);
  dt_wait_process (sway->process, NULL, qt_ms (10000), dt_kill_group);
  g_object_unref (sway->process);
  remove_tree (sway->dir);
  g_free (sway->dir);
  g_free (sway->runtime_dir);
  g_free (sway->tmp);
  g_free (sway->home);
  g_free (sway->log);
  g_free (sway->socket_name);
  g_free (sway->socket_path);
}

/* --- the module under test and its announcements ------------------------- */

static void
owner_event_clear (DtOwnerEvent *event)
{
  g_strfreev (event->types);
}

void
dt_desktop_init (DtDesktop *d, const DtBackend *backend)
{
  d->backend = backend;
  d->events = g_array_new (FALSE, TRUE, sizeof (DtOwnerEvent));
  g_array_set_clear_func (d->events, (GDestroyNotify) owner_event_clear);
  d->owners = g_ptr_array_new_with_free_func (g_object_unref);
}

void
dt_desktop_clear (DtDesktop *d)
{
  for (guint i = 0; i < d->owners->len; i++)
    dt_kill_process (g_ptr_array_index (d->owners, i), d->backend->kill);
  g_ptr_array_unref (d->owners);
  if (d->clipboard != NULL)
    {
      g_object_add_weak_pointer (G_OBJECT (d->clipboard), (gpointer *) &d->clipboard);
      g_object_unref (d->clipboard);
      g_assert_null (d->clipboard);   /* nothing kept a reference */
    }
  g_array_unref (d->events);
}

static void
on_owner_changed (QgaDesktopClipboard *clipboard, guint selection, const char *const *types,
                  gboolean ours, DtDesktop *d)
{
  DtOwnerEvent event = { selection, g_strdupv ((char **) types), ours };

  g_array_append_val (d->events, event);
}

static void
on_closed (DtDesktop *d, const GError *error)
{
  g_assert_nonnull (error);
  d->closed++;
}

void
dt_desktop_replace_clipboard (DtDesktop *d, guint64 max_size, guint timeout_ms)
{
  g_autoptr(GError) error = NULL;

  g_clear_object (&d->clipboard);
  d->clipboard = d->backend->new_clipboard (d->display, max_size, timeout_ms, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qga_desktop_clipboard_get_backend_name (d->clipboard), ==, d->backend->name);
  g_signal_connect (d->clipboard, "owner-changed", G_CALLBACK (on_owner_changed), d);
  g_signal_connect_swapped (d->clipboard, "closed", G_CALLBACK (on_closed), d);
}

void
dt_add_owner (DtDesktop *d, GSubprocess *process)
{
  g_ptr_array_add (d->owners, process);
}

GSubprocess *
dt_spawn_owner (DtDesktop *d, GSubprocessLauncher *launcher, GPtrArray *argv,
                QgaSelectionId selection)
{
  g_autoptr(GError) error = NULL;
  guint before = dt_count_events (d, selection, FALSE, TRUE);
  GSubprocess *process;

  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  dt_add_owner (d, process);
  dt_wait_announced (d, selection, FALSE, before + 1);
  return process;
}

void
dt_forget_owner (DtDesktop *d, GSubprocess *process)
{
  dt_kill_process (process, d->backend->kill);
  g_ptr_array_remove (d->owners, process);
}

const char *
dt_selection_name (QgaSelectionId selection)
{
  return selection == QGA_SELECTION_PRIMARY ? "primary" : "clipboard";
}

guint
dt_count_events (DtDesktop *d, QgaSelectionId selection, gboolean ours, gboolean with_types)
{
  guint n = 0;

  for (guint i = 0; i < d->events->len; i++)
    {
      DtOwnerEvent *event = &g_array_index (d->events, DtOwnerEvent, i);

      if (event->selection == selection && event->ours == ours &&
          (event->types[0] != NULL) == with_types)
        n++;
    }
  return n;
}

DtOwnerEvent *
dt_wait_announced (DtDesktop *d, QgaSelectionId selection, gboolean ours, guint n)
{
  if (!QT_WAIT (dt_count_events (d, selection, ours, TRUE) >= n, qt_ms (10000)))
    g_error ("no announcement of the %s selection (%s) within 10 s",
             dt_selection_name (selection), ours ? "ours" : "another client's");
  for (guint i = d->events->len; i > 0; i--)
    {
      DtOwnerEvent *event = &g_array_index (d->events, DtOwnerEvent, i - 1);

      if (event->selection == selection && event->ours == ours && event->types[0] != NULL)
        return event;
    }
  g_assert_not_reached ();
}

/* --- contents ---------------------------------------------------------------- */

GBytes *
dt_sample_text (void)
{
  return g_bytes_new_static (UTF8_SAMPLE, strlen (UTF8_SAMPLE));
}

GBytes *
dt_sample_png (void)
{
  return g_bytes_new_static (dt_png_pixel, sizeof dt_png_pixel);
}

GBytes *
dt_random_content (gsize size, guint64 seed)
{
  guint8 *data = g_malloc (size);
  guint64 x = seed | 1;

  /* xorshift64: fast, and no run or period for a chunked transfer to hide
   * an error in */
  for (gsize i = 0; i < size; i += 8)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      memcpy (data + i, &x, MIN (8, size - i));
    }
  return g_bytes_new_take (data, size);
}

char *
dt_sha256 (GBytes *bytes)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}

/* The other client gets it as a path or as stdin opened by us. */
char *
dt_write_temp_file (GBytes *content)
{
  char *path = qt_tmp_path ("content");
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, g_bytes_get_data (content, NULL), g_bytes_get_size (content), &error);
  g_assert_no_error (error);
  return path;
}

GBytes *
dt_read_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize length = 0;

  g_file_get_contents (path, &data, &length, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (data, length);
}

void
dt_assert_bytes_equal (GBytes *actual, GBytes *expected)
{
  g_assert_cmpmem (g_bytes_get_data (actual, NULL), g_bytes_get_size (actual),
                   g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
}

const guint8 dt_png_pixel[70] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
  0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
  0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
  0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

gsize
dt_big_size (void)
{
  return qt_under_wrapper () ? 16 * MiB : 64 * MiB;
}

/* --- reading through the module ---------------------------------------------- */

void
dt_on_read_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DtRead *read = user_data;

  read->ok = qga_desktop_clipboard_read_finish (QGA_DESKTOP_CLIPBOARD (source), result,
                                                &read->bytes, &read->error);
  read->done = TRUE;
}

void
dt_start_read (DtDesktop *d, QgaSelectionId selection, const char *type, int fd, DtRead *read)
{
  memset (read, 0, sizeof *read);
  qga_desktop_clipboard_read_async (d->clipboard, selection, type, fd, NULL, dt_on_read_done, read);
}

void
dt_wait_read (DtRead *read, guint timeout_ms)
{
  if (!QT_WAIT (read->done, timeout_ms))
    g_error ("a read did not end within %u ms", timeout_ms);
}

int
dt_start_read_into_unread_pipe (DtDesktop *d, QgaSelectionId selection, const char *type,
                                DtRead *read)
{
  int fds[2];

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  dt_start_read (d, selection, type, fds[1], read);
  g_assert_true (qt_wait_fd (fds[0], G_IO_IN, qt_ms (10000)));
  g_assert_false (read->done);
  return fds[0];
}

GBytes *
dt_read_pipe (DtDesktop *d, QgaSelectionId selection, const char *type, DtRead *read)
{
  QtPipeReader reader;

  dt_start_read (d, selection, type, qt_pipe_reader_start (&reader), read);
  dt_wait_read (read, qt_ms (10000));
  return qt_pipe_reader_finish (&reader, 10000);
}

GBytes *
dt_read_to_file (DtDesktop *d, QgaSelectionId selection, const char *type, DtRead *read)
{
  g_autofree char *path = qt_tmp_path ("read");
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  GBytes *content;

  g_assert_cmpint (fd, >=, 0);
  dt_start_read (d, selection, type, fd, read);
  dt_wait_read (read, qt_ms (60000));
  content = dt_read_file (path);
  g_unlink (path);
  return content;
}

/* --- our provider ------------------------------------------------------------ */

typedef struct {
  int fd;
  GBytes *content;
  QgaDesktopRequest *request;
  DtProvider *provider;
} Supply;

/* Like a program handing its content over: blocking writes, in a thread. */
static void
supply_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Supply *supply = task_data;
  gsize size, done = 0;
  const guint8 *data = g_bytes_get_data (supply->content, &size);

  while (done < size)
    {
      gssize n = write (supply->fd, data + done, size - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = errno;

          close (supply->fd);
          g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                                   "write: %s", g_strerror (saved));
          return;
        }
      done += n;
    }
  close (supply->fd);
  g_task_return_boolean (task, TRUE);
}

static void
on_supplied (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Supply *supply = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  g_task_propagate_boolean (G_TASK (result), &error);
  qga_desktop_request_complete (supply->request, error);
  supply->provider->in_progress--;
}

static void
supply_free (Supply *supply)
{
  g_bytes_unref (supply->content);
  g_free (supply);
}

static void
start_supply (Supply *supply)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, on_supplied, NULL);

  g_task_set_task_data (task, supply, (GDestroyNotify) supply_free);
  g_task_run_in_thread (task, supply_in_thread);
}

void
dt_provide (QgaDesktopClipboard *clipboard, QgaSelectionId selection, const char *mime_type, int fd,
         GCancellable *cancellable, QgaDesktopRequest *request, gpointer user_data)
{
  DtProvider *provider = user_data;
  Supply *supply;
  GBytes *content = g_hash_table_lookup (provider->contents, mime_type);

  g_assert_nonnull (content);
  provider->calls++;
  if (provider->fail)
    {
      g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "no luck");

      close (fd);
      qga_desktop_request_complete (request, error);
      return;
    }
  supply = g_new0 (Supply, 1);
  provider->in_progress++;
  supply->fd = fd;
  supply->content = g_bytes_ref (content);
  supply->request = request;
  supply->provider = provider;
  if (provider->hold)
    g_ptr_array_add (provider->held, supply);
  else
    start_supply (supply);
}

void
dt_provider_release_held (DtProvider *provider)
{
  provider->hold = FALSE;
  for (guint i = 0; i < provider->held->len; i++)
    start_supply (g_ptr_array_index (provider->held, i));
  g_ptr_array_set_size (provider->held, 0);
}

void
dt_provider_init (DtProvider *provider)
{
  provider->contents = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) g_bytes_unref);
  provider->calls = 0;
  provider->in_progress = 0;
  provider->hold = FALSE;
  provider->fail = FALSE;
  provider->held = g_ptr_array_new ();
}

void
dt_provider_clear (DtProvider *provider)
{
  dt_provider_release_held (provider);
  g_assert_true (QT_WAIT (provider->in_progress == 0, qt_ms (10000)));
  g_ptr_array_unref (provider->held);
  g_hash_table_unref (provider->contents);
}

void
dt_provider_add (DtProvider *provider, const char *type, GBytes *content)
{
  g_hash_table_replace (provider->contents, g_strdup (type), g_bytes_ref (content));
}

void
dt_take (DtDesktop *d, QgaSelectionId selection, const char *const *types, DtProvider *provider)
{
  g_autoptr(GError) error = NULL;
  guint before = dt_count_events (d, selection, TRUE, TRUE);

  g_assert_true (qga_desktop_clipboard_take (d->clipboard, selection, types, dt_provide, provider,
                                             NULL, &error));
  g_assert_no_error (error);
  dt_wait_announced (d, selection, TRUE, before + 1);
}

/* --- what the tests of both backends do and check alike ---------------------- */

void
dt_display_env_save (DtDisplayEnv *env)
{
  env->display = g_strdup (g_getenv ("DISPLAY"));
  env->wayland_display = g_strdup (g_getenv ("WAYLAND_DISPLAY"));
}

static void
restore_variable (const char *name, const char *value)
{
  if (value != NULL)
    g_setenv (name, value, TRUE);
  else
    g_unsetenv (name);
}

void
dt_display_env_restore (DtDisplayEnv *env)
{
  restore_variable ("DISPLAY", env->display);
  restore_variable ("WAYLAND_DISPLAY", env->wayland_display);
  g_clear_pointer (&env->display, g_free);
  g_clear_pointer (&env->wayland_display, g_free);
}

DtOwnerEvent *
dt_copy_sample_text (DtDesktop *d, QgaSelectionId selection)
{
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autofree char *path = dt_write_temp_file (text);
  DtOwnerEvent *event;

  d->backend->copy (d, selection, NULL, path);
  event = dt_wait_announced (d, selection, FALSE, 1);
  g_assert_true (g_strv_contains ((const char *const *) event->types, TEXT));
  return event;
}

void
dt_assert_reads_sample_text (DtDesktop *d, QgaSelectionId selection)
{
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autoptr(GBytes) got = NULL;
  DtRead read;

  got = dt_read_pipe (d, selection, TEXT, &read);
  g_assert_no_error (read.error);
  dt_assert_bytes_equal (got, text);
  g_assert_cmpuint (read.bytes, ==, strlen (UTF8_SAMPLE));
}

void
dt_assert_read_refused (DtDesktop *d, QgaSelectionId selection, const char *type, int code)
{
  g_autoptr(GBytes) got = NULL;
  DtRead read;

  got = dt_read_pipe (d, selection, type, &read);
  g_assert_error (read.error, QGA_ERROR, code);
  g_clear_error (&read.error);
}

void
dt_take_text_and_png (DtDesktop *d, QgaSelectionId selection, DtProvider *provider)
{
  const char *types[] = { TEXT, "image/png", NULL };
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autoptr(GBytes) png = dt_sample_png ();

  dt_provider_init (provider);
  dt_provider_add (provider, TEXT, text);
  dt_provider_add (provider, "image/png", png);
  dt_take (d, selection, types, provider);
}

void
dt_assert_lost_cleanly (DtDesktop *d)
{
  const char *types[] = { TEXT, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  DtProvider provider;
  DtRead read;

  got = dt_read_to_file (d, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR);
  g_clear_error (&read.error);
  dt_provider_init (&provider);
  g_assert_false (qga_desktop_clipboard_take (d->clipboard, QGA_SELECTION_CLIPBOARD, types, dt_provide,
                                              &provider, NULL, &error));
  g_assert_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR);
  dt_provider_clear (&provider);
  g_assert_cmpuint (d->closed, ==, 1);
}

/* The other client owns the clipboard with text, and stops answering. */
static GSubprocess *
copy_and_stop (DtDesktop *d, GBytes *text)
{
  g_autofree char *path = dt_write_temp_file (text);
  GSubprocess *owner = d->backend->copy (d, QGA_SELECTION_CLIPBOARD, NULL, path);

  d->backend->stop (owner);
  return owner;
}

/* The owner answers again: a new read gives its text. */
static void
resume_and_read (DtDesktop *d, GSubprocess *owner, GBytes *text)
{
  g_autoptr(GBytes) got = NULL;
  DtRead read;

  d->backend->resume (owner);
  got = dt_read_to_file (d, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_no_error (read.error);
  dt_assert_bytes_equal (got, text);
}

/* An owner that stops answering: the read times out, and the next works;
 * the owner, woken, answering the abandoned read does not disturb it. */
void
dt_test_owner_stopped (DtDesktop *d, gconstpointer data)
{
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autoptr(GBytes) got = NULL;
  GSubprocess *owner;
  DtRead read;
  gint64 started;

  dt_desktop_replace_clipboard (d, 0, 500);
  owner = copy_and_stop (d, text);
  started = qt_now_ms ();
  got = dt_read_to_file (d, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_TIMEOUT);
  g_clear_error (&read.error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_assert_cmpint (qt_now_ms () - started, >=, 500);
  g_assert_cmpint (qt_now_ms () - started, <, qt_ms (5000));

  resume_and_read (d, owner, text);
}

/* A cancelled read ends at once with Cancelled, and the next one works. */
void
dt_test_cancel_read (DtDesktop *d, gconstpointer data)
{
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  GSubprocess *owner = copy_and_stop (d, text);
  QtPipeReader reader;
  DtRead read = { 0 };

  qga_desktop_clipboard_read_async (d->clipboard, QGA_SELECTION_CLIPBOARD, TEXT,
                                    qt_pipe_reader_start (&reader), cancellable, dt_on_read_done, &read);
  g_assert_false (QT_WAIT (read.done, 100));   /* the owner cannot answer */
  g_cancellable_cancel (cancellable);
  dt_wait_read (&read, qt_ms (5000));
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_CANCELLED);
  g_clear_error (&read.error);
  g_bytes_unref (qt_pipe_reader_finish (&reader, 10000));

  resume_and_read (d, owner, text);
}

/* At most QGA_DESKTOP_MAX_READS reads at once: the next is refused at
 * once, and those in progress are not disturbed. */
void
dt_test_concurrent_reads (DtDesktop *d, gconstpointer data)
{
  g_autoptr(GBytes) text = dt_sample_text ();
  GSubprocess *owner = copy_and_stop (d, text);   /* the reads wait for it */
  DtRead reads[QGA_DESKTOP_MAX_READS + 1];
  QtPipeReader readers[QGA_DESKTOP_MAX_READS + 1];

  for (guint i = 0; i <= QGA_DESKTOP_MAX_READS; i++)
    dt_start_read (d, QGA_SELECTION_CLIPBOARD, TEXT, qt_pipe_reader_start (&readers[i]), &reads[i]);
  dt_wait_read (&reads[QGA_DESKTOP_MAX_READS], qt_ms (5000));
  g_assert_error (reads[QGA_DESKTOP_MAX_READS].error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&reads[QGA_DESKTOP_MAX_READS].error);
  g_bytes_unref (qt_pipe_reader_finish (&readers[QGA_DESKTOP_MAX_READS], 10000));
  d->backend->resume (owner);
  for (guint i = 0; i < QGA_DESKTOP_MAX_READS; i++)
    {
      g_autoptr(GBytes) got = NULL;

      dt_wait_read (&reads[i], qt_ms (10000));
      g_assert_no_error (reads[i].error);
      got = qt_pipe_reader_finish (&readers[i], 10000);
      dt_assert_bytes_equal (got, text);
    }
}

/* A provider that fails (completing before it returns): the paster gets
 * nothing, the log says why, and the next paste works. */
void
dt_test_provider_fails (DtDesktop *d, gconstpointer data)
{
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) content = dt_random_content (1000, 17);
  g_autoptr(GBytes) out = NULL;
  DtProvider provider;
  int status;

  dt_provider_init (&provider);
  dt_provider_add (&provider, BIG_TYPE, content);
  provider.fail = TRUE;
  dt_take (d, QGA_SELECTION_CLIPBOARD, types, &provider);
  status = d->backend->paste (d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, NULL, &out);
  if (d->backend->refused_paste_fails)
    g_assert_cmpint (status, !=, 0);
  g_assert_cmpuint (g_bytes_get_size (out), ==, 0);
  g_assert_cmpuint (provider.calls, ==, 1);
  g_assert_true (dt_log_has ("the provider failed: no luck"));

  provider.fail = FALSE;
  g_clear_pointer (&out, g_bytes_unref);
  g_assert_cmpint (d->backend->paste (d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, NULL, &out), ==, 0);
  dt_assert_bytes_equal (out, content);
  dt_provider_clear (&provider);
}
