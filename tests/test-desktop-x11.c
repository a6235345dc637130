/* test-desktop-x11.c: the desktop clipboard's X11 backend against real X
 * servers.
 *
 * Each test starts its own Xvfb (-displayfd picks a free display) and
 * uses xclip as the other X client: as the owner of a selection (xclip -i,
 * in the foreground, serving until killed) and as the requestor (xclip -o).
 * Everything runs on the test's main loop, the module's X connection
 * included, so every wait iterates it (bounded, no fixed sleeps). Without
 * Xvfb or xclip the program fails: these tests do not skip.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include "qga-desktop.h"
#include "qga-desktop-x11.h"
#include "qga-desktop-x11-private.h"   /* the targets mapping */
#include "qga-error.h"

#include "test-util.h"

#define TEXT QGA_DESKTOP_MIME_TEXT
#define BIG_TYPE "application/x-qga-test"
#define UTF8_SAMPLE "héllo wörld ✓ 日本語 — ünïcödé\n"
#define MiB (1024 * 1024)

static char *xvfb_path;
static char *xclip_path;
static GPtrArray *log_lines;   /* the module's log messages */

/* --- the module's log --------------------------------------------------- */

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

static gboolean
log_has (const char *part)
{
  for (guint i = 0; i < log_lines->len; i++)
    if (strstr (g_ptr_array_index (log_lines, i), part) != NULL)
      return TRUE;
  return FALSE;
}

/* --- processes ------------------------------------------------------------ */

static void
die_with_parent (gpointer data)
{
  /* never outlive the test program, even if it aborts: SIGTERM, so that
   * Xvfb removes its socket and lock file */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocessLauncher *
new_launcher (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  return launcher;
}

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

/* Wait (iterating the main loop) for process to exit; its stdout, if it
 * was a pipe, in *out. Returns the exit status, -1 for a signal. */
static int
wait_process (GSubprocess *process, GBytes **out, guint timeout_ms)
{
  Finished finished = { FALSE, NULL, 0 };

  g_subprocess_communicate_async (process, NULL, NULL, on_communicated, &finished);
  if (!QT_WAIT (finished.done, timeout_ms))
    {
      g_subprocess_force_exit (process);
      g_assert_true (QT_WAIT (finished.done, qt_ms (5000)));
      g_error ("%s did not exit within %u ms", g_subprocess_get_identifier (process), timeout_ms);
    }
  if (out != NULL)
    *out = g_steal_pointer (&finished.out);
  g_clear_pointer (&finished.out, g_bytes_unref);
  return finished.status;
}

/* The state letter of /proc/PID/stat: 'T' once stopped. */
static char
process_state (GSubprocess *process)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", g_subprocess_get_identifier (process));
  g_autofree char *stat = NULL;
  const char *end;

  if (!g_file_get_contents (path, &stat, NULL, NULL) || (end = strrchr (stat, ')')) == NULL ||
      end[1] != ' ')
    return '?';
  return end[2];
}

/* SIGSTOP, and wait until it has taken effect: kill() returns before. */
static void
stop_process (GSubprocess *process)
{
  g_subprocess_send_signal (process, SIGSTOP);
  g_assert_true (QT_WAIT (process_state (process) == 'T', qt_ms (5000)));
}

static void
kill_process (GSubprocess *process)
{
  g_subprocess_force_exit (process);
  wait_process (process, NULL, qt_ms (5000));
}

/* --- the fixture: an X server, the module, its announcements -------------- */

typedef struct {
  QgaSelectionId selection;
  char **types;
  gboolean ours;
} OwnerEvent;

typedef struct {
  GSubprocess *xvfb;
  char *display;
  char *xvfb_log;
  QgaDesktopClipboard *clipboard;
  GArray *events;          /* OwnerEvent */
  GPtrArray *owners;       /* xclip -i processes still running */
  guint closed;            /* "closed" signals */
} Fixture;

static void
owner_event_clear (OwnerEvent *event)
{
  g_strfreev (event->types);
}

static void
on_owner_changed (QgaDesktopClipboard *clipboard, guint selection, const char *const *types,
                  gboolean ours, Fixture *f)
{
  OwnerEvent event = { selection, g_strdupv ((char **) types), ours };

  g_array_append_val (f->events, event);
}

static void
on_closed (Fixture *f, const GError *error)
{
  g_assert_nonnull (error);
  f->closed++;
}

static void
start_xvfb (Fixture *f)
{
  g_autoptr(GSubprocessLauncher) launcher = new_launcher (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr(GError) error = NULL;
  int fds[2];
  char number[32] = "";
  gsize length = 0;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  f->xvfb_log = qt_tmp_path ("xvfb.log");
  g_subprocess_launcher_set_stderr_file_path (launcher, f->xvfb_log);
  g_subprocess_launcher_take_fd (launcher, fds[1], 3);
  f->xvfb = g_subprocess_launcher_spawn (launcher, &error, xvfb_path, "-displayfd", "3",
                                         "-nolisten", "tcp", "-noreset",
                                         "-screen", "0", "64x64x24", NULL);
  g_assert_no_error (error);
  /* Xvfb writes the display's number when it accepts connections. */
  while (strchr (number, '\n') == NULL)
    {
      gssize n;

      if (!qt_wait_fd (fds[0], G_IO_IN, qt_ms (15000)))
        g_error ("Xvfb did not start within 15 s (log: %s)", f->xvfb_log);
      n = read (fds[0], number + length, sizeof number - 1 - length);
      if (n <= 0)
        {
          g_autofree char *log = NULL;

          g_file_get_contents (f->xvfb_log, &log, NULL, NULL);
          g_error ("Xvfb failed to start: %s", log != NULL ? log : "(no log)");
        }
      length += n;
      number[length] = '\0';
      g_assert_cmpuint (length, <, sizeof number - 1);
    }
  close (fds[0]);
  *strchr (number, '\n') = '\0';
  f->display = g_strdup_printf (":%s", number);
}

static QgaDesktopClipboard *
new_clipboard (Fixture *f, guint64 max_size, guint timeout_ms)
{
  g_autoptr(GError) error = NULL;
  QgaDesktopClipboard *clipboard = qga_desktop_clipboard_x11_new (f->display, max_size, timeout_ms, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (qga_desktop_clipboard_get_backend_name (clipboard), ==, "x11");
  g_signal_connect (clipboard, "owner-changed", G_CALLBACK (on_owner_changed), f);
  g_signal_connect_swapped (clipboard, "closed", G_CALLBACK (on_closed), f);
  return clipboard;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->events = g_array_new (FALSE, TRUE, sizeof (OwnerEvent));
  g_array_set_clear_func (f->events, (GDestroyNotify) owner_event_clear);
  f->owners = g_ptr_array_new_with_free_func (g_object_unref);
  start_xvfb (f);
  f->clipboard = new_clipboard (f, 0, 0);
  g_ptr_array_set_size (log_lines, 0);
}

static void
replace_clipboard (Fixture *f, guint64 max_size, guint timeout_ms)
{
  g_clear_object (&f->clipboard);
  f->clipboard = new_clipboard (f, max_size, timeout_ms);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < f->owners->len; i++)
    kill_process (g_ptr_array_index (f->owners, i));
  g_ptr_array_unref (f->owners);
  if (f->clipboard != NULL)
    {
      g_object_add_weak_pointer (G_OBJECT (f->clipboard), (gpointer *) &f->clipboard);
      g_object_unref (f->clipboard);
      g_assert_null (f->clipboard);   /* nothing kept a reference */
    }
  g_subprocess_send_signal (f->xvfb, SIGTERM);
  wait_process (f->xvfb, NULL, qt_ms (10000));
  g_object_unref (f->xvfb);
  g_array_unref (f->events);
  g_free (f->display);
  g_unlink (f->xvfb_log);
  g_free (f->xvfb_log);
}

static const char *
xclip_selection (QgaSelectionId selection)
{
  return selection == QGA_SELECTION_PRIMARY ? "primary" : "clipboard";
}

static guint
count_events (Fixture *f, QgaSelectionId selection, gboolean ours, gboolean with_types)
{
  guint n = 0;

  for (guint i = 0; i < f->events->len; i++)
    {
      OwnerEvent *event = &g_array_index (f->events, OwnerEvent, i);

      if (event->selection == selection && event->ours == ours &&
          (event->types[0] != NULL) == with_types)
        n++;
    }
  return n;
}

/* The latest announcement of selection, once there are n with types. */
static OwnerEvent *
wait_announced (Fixture *f, QgaSelectionId selection, gboolean ours, guint n)
{
  if (!QT_WAIT (count_events (f, selection, ours, TRUE) >= n, qt_ms (10000)))
    g_error ("no announcement of the %s selection (%s) within 10 s",
             xclip_selection (selection), ours ? "ours" : "another client's");
  for (guint i = f->events->len; i > 0; i--)
    {
      OwnerEvent *event = &g_array_index (f->events, OwnerEvent, i - 1);

      if (event->selection == selection && event->ours == ours && event->types[0] != NULL)
        return event;
    }
  g_assert_not_reached ();
}

/* xclip -i: owns selection, offering the file's content as target (NULL:
 * xclip's default, UTF8_STRING), until killed; waits until the module
 * announced it. */
static GSubprocess *
xclip_copy (Fixture *f, QgaSelectionId selection, const char *target, const char *path)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  guint before = count_events (f, selection, FALSE, TRUE);
  GSubprocess *process;

  g_ptr_array_add (argv, xclip_path);
  g_ptr_array_add (argv, "-display");
  g_ptr_array_add (argv, f->display);
  g_ptr_array_add (argv, "-selection");
  g_ptr_array_add (argv, (char *) xclip_selection (selection));
  g_ptr_array_add (argv, "-quiet");   /* in the foreground: its pid is ours to kill */
  if (target != NULL)
    {
      g_ptr_array_add (argv, "-t");
      g_ptr_array_add (argv, (char *) target);
    }
  g_ptr_array_add (argv, "-i");
  g_ptr_array_add (argv, (char *) path);
  g_ptr_array_add (argv, NULL);
  launcher = new_launcher (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_ptr_array_add (f->owners, process);
  wait_announced (f, selection, FALSE, before + 1);
  return process;
}

static void
forget_owner (Fixture *f, GSubprocess *process)
{
  kill_process (process);
  g_ptr_array_remove (f->owners, process);
}

/* xclip -o, left running, its stdout a pipe: wait_process () collects it. */
static GSubprocess *
xclip_paste_start (Fixture *f, QgaSelectionId selection, const char *target)
{
  g_autoptr(GSubprocessLauncher) launcher =
    new_launcher (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GError) error = NULL;
  GSubprocess *process = g_subprocess_launcher_spawn (launcher, &error, xclip_path,
                                                      "-display", f->display,
                                                      "-selection", xclip_selection (selection),
                                                      "-o", "-t", target, NULL);

  g_assert_no_error (error);
  return process;
}

/* xclip -o: the exit status; its stdout in *out, or into out_path. */
static int
xclip_paste (Fixture *f, QgaSelectionId selection, const char *target, const char *out_path,
             GBytes **out)
{
  g_autoptr(GSubprocessLauncher) launcher =
    new_launcher (out_path != NULL ? G_SUBPROCESS_FLAGS_STDERR_SILENCE
                                   : G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  if (out_path != NULL)
    g_subprocess_launcher_set_stdout_file_path (launcher, out_path);
  process = g_subprocess_launcher_spawn (launcher, &error, xclip_path, "-display", f->display,
                                         "-selection", xclip_selection (selection),
                                         "-o", "-t", target != NULL ? target : "UTF8_STRING", NULL);
  g_assert_no_error (error);
  return wait_process (process, out, qt_ms (60000));
}

/* --- content ---------------------------------------------------------------- */

static GBytes *
random_content (gsize size, guint64 seed)
{
  guint8 *data = g_malloc (size);
  guint64 x = seed | 1;

  /* xorshift64: fast, and no run or period for INCR to hide an error in */
  for (gsize i = 0; i < size; i += 8)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      memcpy (data + i, &x, MIN (8, size - i));
    }
  return g_bytes_new_take (data, size);
}

static char *
sha256 (GBytes *bytes)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}

static char *
write_temp_file (GBytes *content)
{
  char *path = qt_tmp_path ("content");
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, g_bytes_get_data (content, NULL), g_bytes_get_size (content), &error);
  g_assert_no_error (error);
  return path;
}

static GBytes *
read_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize length = 0;

  g_file_get_contents (path, &data, &length, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (data, length);
}

/* A PNG of one pixel, byte for byte. */
static const guint8 png_pixel[] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
  0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
  0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
  0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

/* --- reading through the module ---------------------------------------------- */

typedef struct {
  gboolean done;
  gboolean ok;
  guint64 bytes;
  GError *error;
} ReadResult;

static void
on_read_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReadResult *read = user_data;

  read->ok = qga_desktop_clipboard_read_finish (QGA_DESKTOP_CLIPBOARD (source), result,
                                                &read->bytes, &read->error);
  read->done = TRUE;
}

static void
start_read (Fixture *f, QgaSelectionId selection, const char *type, int fd, ReadResult *read)
{
  memset (read, 0, sizeof *read);
  qga_desktop_clipboard_read_async (f->clipboard, selection, type, fd, NULL, on_read_done, read);
}

static void
wait_read (ReadResult *read, guint timeout_ms)
{
  if (!QT_WAIT (read->done, timeout_ms))
    g_error ("a read did not end within %u ms", timeout_ms);
}

/* Read into a file; returns what it holds afterwards. */
static GBytes *
read_to_file (Fixture *f, QgaSelectionId selection, const char *type, ReadResult *read)
{
  g_autofree char *path = qt_tmp_path ("read");
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  GBytes *content;

  g_assert_cmpint (fd, >=, 0);
  start_read (f, selection, type, fd, read);
  wait_read (read, qt_ms (60000));
  content = read_file (path);
  g_unlink (path);
  return content;
}

/* --- our provider ------------------------------------------------------------ */

typedef struct {
  GHashTable *contents;    /* MIME type → GBytes */
  guint calls;
  guint in_progress;
  gboolean hold;           /* keep the requests in held until provider_release_held () */
  gboolean fail;           /* complete at once, with an error, before returning */
  GPtrArray *held;         /* Supply */
} Provider;

typedef struct {
  int fd;
  GBytes *content;
  QgaDesktopRequest *request;
  Provider *provider;
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

static void
provide (QgaDesktopClipboard *clipboard, QgaSelectionId selection, const char *mime_type, int fd,
         GCancellable *cancellable, QgaDesktopRequest *request, gpointer user_data)
{
  Provider *provider = user_data;
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

static void
provider_release_held (Provider *provider)
{
  provider->hold = FALSE;
  for (guint i = 0; i < provider->held->len; i++)
    start_supply (g_ptr_array_index (provider->held, i));
  g_ptr_array_set_size (provider->held, 0);
}

static void
provider_init (Provider *provider)
{
  provider->contents = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) g_bytes_unref);
  provider->calls = 0;
  provider->in_progress = 0;
  provider->hold = FALSE;
  provider->fail = FALSE;
  provider->held = g_ptr_array_new ();
}

static void
provider_clear (Provider *provider)
{
  provider_release_held (provider);
  g_assert_true (QT_WAIT (provider->in_progress == 0, qt_ms (10000)));
  g_ptr_array_unref (provider->held);
  g_hash_table_unref (provider->contents);
}

static void
provider_add (Provider *provider, const char *type, GBytes *content)
{
  g_hash_table_replace (provider->contents, g_strdup (type), g_bytes_ref (content));
}

static void
take (Fixture *f, QgaSelectionId selection, const char *const *types, Provider *provider)
{
  g_autoptr(GError) error = NULL;
  guint before = count_events (f, selection, TRUE, TRUE);

  g_assert_true (qga_desktop_clipboard_take (f->clipboard, selection, types, provide, provider,
                                             NULL, &error));
  g_assert_no_error (error);
  wait_announced (f, selection, TRUE, before + 1);
}

static void
assert_bytes_equal (GBytes *actual, GBytes *expected)
{
  g_assert_cmpmem (g_bytes_get_data (actual, NULL), g_bytes_get_size (actual),
                   g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
}

/* ============================================================================ */

static void
test_backend_choice (Fixture *f, gconstpointer data)
{
  g_autofree char *saved_display = g_strdup (g_getenv ("DISPLAY"));
  g_autofree char *saved_wayland = g_strdup (g_getenv ("WAYLAND_DISPLAY"));
  g_autoptr(QgaDesktopClipboard) clipboard = NULL;
  g_autoptr(GError) error = NULL;

  g_unsetenv ("WAYLAND_DISPLAY");
  g_unsetenv ("DISPLAY");
  g_assert_null (qga_desktop_clipboard_new (0, 0, &error));
  g_assert_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  g_setenv ("DISPLAY", f->display, TRUE);
  clipboard = qga_desktop_clipboard_new (0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qga_desktop_clipboard_get_backend_name (clipboard), ==, "x11");
  g_assert_true (log_has ("X11 backend on display"));
  g_assert_cmpuint (qga_desktop_clipboard_get_max_size (clipboard), ==, QGA_CLIPBOARD_DEFAULT_MAX_SIZE);
  g_clear_object (&clipboard);

  g_setenv ("DISPLAY", ":99999", TRUE);
  g_assert_null (qga_desktop_clipboard_new (0, 0, &error));
  g_assert_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED);

  if (saved_display != NULL)
    g_setenv ("DISPLAY", saved_display, TRUE);
  else
    g_unsetenv ("DISPLAY");
  if (saved_wayland != NULL)
    g_setenv ("WAYLAND_DISPLAY", saved_wayland, TRUE);
}

/* (1), (4): another client copies text; we are told the type, and read
 * the exact bytes only when we ask. */
static void
test_read_text (Fixture *f, gconstpointer data)
{
  QgaSelectionId selection = GPOINTER_TO_INT (data);
  g_autoptr(GBytes) text = g_bytes_new_static (UTF8_SAMPLE, strlen (UTF8_SAMPLE));
  g_autofree char *path = write_temp_file (text);
  OwnerEvent *event;
  QtPipeReader reader;
  ReadResult read;
  g_autoptr(GBytes) got = NULL;

  xclip_copy (f, selection, NULL, path);
  event = wait_announced (f, selection, FALSE, 1);
  g_assert_true (g_strv_contains ((const char *const *) event->types, TEXT));
  g_assert_cmpuint (count_events (f, selection == QGA_SELECTION_CLIPBOARD ? QGA_SELECTION_PRIMARY
                                                                          : QGA_SELECTION_CLIPBOARD,
                                  FALSE, TRUE), ==, 0);

  start_read (f, selection, TEXT, qt_pipe_reader_start (&reader), &read);
  wait_read (&read, qt_ms (10000));
  g_assert_no_error (read.error);
  got = qt_pipe_reader_finish (&reader, 10000);
  assert_bytes_equal (got, text);
  g_assert_cmpuint (read.bytes, ==, strlen (UTF8_SAMPLE));

  /* an owner of ISO 8859-1 STRING only: read as UTF-8 all the same */
  {
    g_autofree char *latin1 = NULL;
    g_autoptr(GBytes) latin1_bytes = NULL;
    g_autofree char *latin1_path = NULL;
    g_autoptr(GBytes) expected = NULL;
    g_autoptr(GBytes) got_text = NULL;
    g_autofree char *back = NULL;

    latin1 = g_convert_with_fallback (UTF8_SAMPLE, -1, "ISO-8859-1", "UTF-8", "?", NULL, NULL, NULL);
    latin1_bytes = g_bytes_new (latin1, strlen (latin1));
    latin1_path = write_temp_file (latin1_bytes);
    back = g_convert (latin1, -1, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
    expected = g_bytes_new (back, strlen (back));
    xclip_copy (f, selection, "STRING", latin1_path);
    event = wait_announced (f, selection, FALSE, 2);
    g_assert_true (g_strv_contains ((const char *const *) event->types, TEXT));
    start_read (f, selection, TEXT, qt_pipe_reader_start (&reader), &read);
    wait_read (&read, qt_ms (10000));
    g_assert_no_error (read.error);
    got_text = qt_pipe_reader_finish (&reader, 10000);
    assert_bytes_equal (got_text, expected);
  }

  /* a type the owner does not offer */
  start_read (f, selection, "image/png", qt_pipe_reader_start (&reader), &read);
  wait_read (&read, qt_ms (10000));
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_NO_DATA);
  g_clear_error (&read.error);
  g_bytes_unref (qt_pipe_reader_finish (&reader, 10000));
}

/* (2), (4): we own the selection; xclip sees our types, gets each content
 * byte for byte, and the provider is asked only on a paste. */
static void
test_take (Fixture *f, gconstpointer data)
{
  QgaSelectionId selection = GPOINTER_TO_INT (data);
  const char *types[] = { TEXT, "image/png", NULL };
  g_autoptr(GBytes) text = g_bytes_new_static (UTF8_SAMPLE, strlen (UTF8_SAMPLE));
  g_autoptr(GBytes) png = g_bytes_new_static (png_pixel, sizeof png_pixel);
  g_autoptr(GBytes) targets = NULL, got_png = NULL, got_text = NULL, got_latin1 = NULL;
  g_auto(GStrv) target_names = NULL;
  g_autofree char *latin1 = NULL, *listed = NULL;
  static const char *const expected_targets[] = {
    "TARGETS", "TIMESTAMP", "UTF8_STRING", "STRING", "TEXT", TEXT, "image/png",
  };
  Provider provider;

  provider_init (&provider);
  provider_add (&provider, TEXT, text);
  provider_add (&provider, "image/png", png);
  take (f, selection, types, &provider);
  g_assert_cmpuint (provider.calls, ==, 0);

  g_assert_cmpint (xclip_paste (f, selection, "TARGETS", NULL, &targets), ==, 0);
  listed = g_strndup (g_bytes_get_data (targets, NULL), g_bytes_get_size (targets));
  target_names = g_strsplit (g_strstrip (listed), "\n", -1);
  for (gsize i = 0; i < G_N_ELEMENTS (expected_targets); i++)
    if (!g_strv_contains ((const char *const *) target_names, expected_targets[i]))
      g_error ("TARGETS lacks %s: %s", expected_targets[i], listed);
  g_assert_cmpuint (provider.calls, ==, 0);

  g_assert_cmpint (xclip_paste (f, selection, "image/png", NULL, &got_png), ==, 0);
  assert_bytes_equal (got_png, png);
  g_assert_cmpuint (provider.calls, ==, 1);

  g_assert_cmpint (xclip_paste (f, selection, "UTF8_STRING", NULL, &got_text), ==, 0);
  assert_bytes_equal (got_text, text);
  g_assert_cmpuint (provider.calls, ==, 2);

  /* STRING is ISO 8859-1: what it cannot carry becomes '?' */
  g_assert_cmpint (xclip_paste (f, selection, "STRING", NULL, &got_latin1), ==, 0);
  latin1 = g_convert_with_fallback (UTF8_SAMPLE, -1, "ISO-8859-1", "UTF-8", "?", NULL, NULL, NULL);
  g_assert_cmpmem (g_bytes_get_data (got_latin1, NULL), g_bytes_get_size (got_latin1),
                   latin1, strlen (latin1));
  g_assert_cmpuint (provider.calls, ==, 3);

  /* a target we do not offer, and MULTIPLE: refused, without asking */
  g_assert_cmpint (xclip_paste (f, selection, "text/html", NULL, NULL), !=, 0);
  g_assert_cmpint (xclip_paste (f, selection, "MULTIPLE", NULL, NULL), !=, 0);
  g_assert_cmpuint (provider.calls, ==, 3);

  /* released: xclip finds nothing */
  qga_desktop_clipboard_release (f->clipboard, selection);
  g_assert_true (QT_WAIT (count_events (f, selection, FALSE, FALSE) >= 1, qt_ms (10000)));
  g_assert_cmpint (xclip_paste (f, selection, "UTF8_STRING", NULL, NULL), !=, 0);
  g_assert_cmpuint (provider.calls, ==, 3);
  provider_clear (&provider);
}

/* (3): 64 MiB each way, through INCR. */
static gsize
big_size (void)
{
  /* memcheck runs about 30 times slower: 16 MiB is INCR all the same */
  return qt_under_wrapper () ? 16 * MiB : 64 * MiB;
}

static void
test_incr_read (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) content = random_content (big_size (), 42);
  g_autofree char *path = write_temp_file (content);
  g_autofree char *expected = sha256 (content);
  g_autofree char *actual = NULL;
  g_autoptr(GBytes) got = NULL;
  ReadResult read;
  OwnerEvent *event;

  xclip_copy (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, path);
  event = wait_announced (f, QGA_SELECTION_CLIPBOARD, FALSE, 1);
  g_assert_true (g_strv_contains ((const char *const *) event->types, BIG_TYPE));
  got = read_to_file (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);
  g_assert_no_error (read.error);
  g_assert_true (log_has ("reading " BIG_TYPE " from clipboard by INCR"));
  g_assert_cmpuint (read.bytes, ==, big_size ());
  actual = sha256 (got);
  g_assert_cmpstr (actual, ==, expected);
}

static void
test_incr_serve (Fixture *f, gconstpointer data)
{
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) content = random_content (big_size (), 7);
  g_autofree char *expected = sha256 (content);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  g_autofree char *actual = NULL;
  g_autoptr(GBytes) got = NULL;
  Provider provider;

  provider_init (&provider);
  provider_add (&provider, BIG_TYPE, content);
  take (f, QGA_SELECTION_CLIPBOARD, types, &provider);
  g_assert_cmpint (xclip_paste (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, out_path, NULL), ==, 0);
  g_assert_true (log_has (" of " BIG_TYPE " to X window"));
  g_assert_true (log_has (" by INCR, "));
  got = read_file (out_path);
  g_assert_cmpuint (g_bytes_get_size (got), ==, big_size ());
  actual = sha256 (got);
  g_assert_cmpstr (actual, ==, expected);
  g_assert_cmpuint (provider.calls, ==, 1);
  g_unlink (out_path);
  provider_clear (&provider);
}

/* (5): our own take is never another client's copy; another client's
 * copy is announced once. */
static void
test_no_echo (Fixture *f, gconstpointer data)
{
  const char *types[] = { TEXT, NULL };
  g_autoptr(GBytes) text = g_bytes_new_static ("ours", 4);
  g_autoptr(GBytes) theirs = g_bytes_new_static ("theirs", 6);
  g_autofree char *path = write_temp_file (theirs);
  g_autoptr(GBytes) pasted = NULL, got = NULL;
  Provider provider;
  ReadResult read;

  provider_init (&provider);
  provider_add (&provider, TEXT, text);
  take (f, QGA_SELECTION_CLIPBOARD, types, &provider);
  /* a paste through the server: every event of our take is in by its end */
  g_assert_cmpint (xclip_paste (f, QGA_SELECTION_CLIPBOARD, NULL, NULL, &pasted), ==, 0);
  assert_bytes_equal (pasted, text);
  g_assert_cmpuint (count_events (f, QGA_SELECTION_CLIPBOARD, FALSE, TRUE), ==, 0);
  g_assert_cmpuint (count_events (f, QGA_SELECTION_CLIPBOARD, FALSE, FALSE), ==, 0);
  g_assert_cmpuint (count_events (f, QGA_SELECTION_CLIPBOARD, TRUE, TRUE), ==, 1);

  /* taking it again while we own it: still ours */
  take (f, QGA_SELECTION_CLIPBOARD, types, &provider);
  g_assert_cmpuint (count_events (f, QGA_SELECTION_CLIPBOARD, FALSE, TRUE), ==, 0);

  xclip_copy (f, QGA_SELECTION_CLIPBOARD, NULL, path);
  /* a read through the server: the events before it are in */
  got = read_to_file (f, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_no_error (read.error);
  assert_bytes_equal (got, theirs);
  g_assert_cmpuint (count_events (f, QGA_SELECTION_CLIPBOARD, FALSE, TRUE), ==, 1);
  g_assert_cmpuint (count_events (f, QGA_SELECTION_CLIPBOARD, FALSE, FALSE), ==, 0);
  g_assert_cmpuint (count_events (f, QGA_SELECTION_CLIPBOARD, TRUE, TRUE), ==, 2);
  g_assert_cmpuint (count_events (f, QGA_SELECTION_PRIMARY, FALSE, TRUE), ==, 0);
  provider_clear (&provider);
}

/* (6): over max-size, both ways: refused, said in the log, never
 * delivered as a content. Reading, a whole property and an INCR that
 * announces its size are refused before the first byte is written; an
 * INCR whose owner announces no size (xclip) fails once past the limit. */
static void
refuse_read_from (Fixture *f, QgaDesktopClipboard *owner, gsize size)
{
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) content = random_content (size, size);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;
  Provider provider;
  ReadResult read;

  provider_init (&provider);
  provider_add (&provider, BIG_TYPE, content);
  g_assert_true (qga_desktop_clipboard_take (owner, QGA_SELECTION_CLIPBOARD, types, provide,
                                             &provider, NULL, &error));
  g_assert_no_error (error);
  wait_announced (f, QGA_SELECTION_CLIPBOARD, FALSE, count_events (f, QGA_SELECTION_CLIPBOARD, FALSE, TRUE) + 1);
  g_ptr_array_set_size (log_lines, 0);
  got = read_to_file (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&read.error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_assert_true (log_has ("refused " BIG_TYPE " from the clipboard selection: the content is over"));
  qga_desktop_clipboard_release (owner, QGA_SELECTION_CLIPBOARD);
  provider_clear (&provider);
}

static void
test_limit_read (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) content = random_content (2 * MiB, 1);
  g_autofree char *path = write_temp_file (content);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(QgaDesktopClipboard) owner = NULL;
  g_autoptr(GError) error = NULL;
  GSubprocess *xclip;
  ReadResult read;

  replace_clipboard (f, 1 * MiB, 0);
  xclip = xclip_copy (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, path);
  got = read_to_file (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED);
  g_assert_nonnull (strstr (read.error->message, "over 1048576 bytes"));
  g_clear_error (&read.error);
  g_assert_cmpuint (g_bytes_get_size (got), <=, 1 * MiB);
  g_assert_true (log_has ("refused " BIG_TYPE " from the clipboard selection: the content is over 1048576 bytes"));
  forget_owner (f, xclip);
  g_clear_pointer (&got, g_bytes_unref);

  /* another client of ours as the owner: INCR with its size, then a
   * whole property (under the 256 KiB chunk) over a 100 KiB limit */
  owner = qga_desktop_clipboard_x11_new (f->display, 0, 0, &error);
  g_assert_no_error (error);
  refuse_read_from (f, owner, 8 * MiB);
  replace_clipboard (f, 100 * 1024, 0);
  refuse_read_from (f, owner, 200 * 1024);

  /* and a content within the limit still goes */
  {
    g_autoptr(GBytes) small = random_content (100 * 1024, 3);
    g_autofree char *small_path = write_temp_file (small);

    xclip_copy (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, small_path);
    got = read_to_file (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);
    g_assert_no_error (read.error);
    assert_bytes_equal (got, small);
  }
}

static void
test_limit_serve (Fixture *f, gconstpointer data)
{
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) content = random_content (2 * MiB, 5);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  g_autoptr(GBytes) got = NULL;
  Provider provider;

  replace_clipboard (f, 1 * MiB, 0);
  provider_init (&provider);
  provider_add (&provider, BIG_TYPE, content);
  take (f, QGA_SELECTION_CLIPBOARD, types, &provider);
  g_assert_cmpint (xclip_paste (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, out_path, NULL), !=, 0);
  got = read_file (out_path);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_assert_cmpuint (provider.calls, ==, 1);
  g_assert_true (log_has ("refused " BIG_TYPE " of the clipboard selection to X window"));
  g_assert_true (log_has ("the content is over 1048576 bytes"));
  g_unlink (out_path);
  provider_clear (&provider);
}

/* (7): the owner dies half way through INCR: the read fails at once, and
 * the next one works. */
static void
test_owner_killed (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) content = random_content (big_size (), 11);
  g_autofree char *path = write_temp_file (content);
  g_autoptr(GBytes) text = g_bytes_new_static (UTF8_SAMPLE, strlen (UTF8_SAMPLE));
  g_autofree char *text_path = write_temp_file (text);
  g_autoptr(GBytes) got = NULL;
  GSubprocess *owner;
  ReadResult read;
  int fds[2];
  gint64 killed_at;

  owner = xclip_copy (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, path);
  /* Into a pipe nobody reads: once it holds data, the INCR transfer has
   * begun and waits for us, with the rest still at the owner. */
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  start_read (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, fds[1], &read);
  g_assert_true (qt_wait_fd (fds[0], G_IO_IN, qt_ms (10000)));
  g_assert_false (read.done);

  killed_at = qt_now_ms ();
  forget_owner (f, owner);
  wait_read (&read, qt_ms (10000));
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR);
  g_assert_nonnull (strstr (read.error->message, "left before the end"));
  g_clear_error (&read.error);
  /* told by XFixes, not by the 30 s timeout */
  g_assert_cmpint (qt_now_ms () - killed_at, <, qt_ms (5000));
  close (fds[0]);

  xclip_copy (f, QGA_SELECTION_CLIPBOARD, NULL, text_path);
  got = read_to_file (f, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_no_error (read.error);
  assert_bytes_equal (got, text);
}

/* An owner that stops answering: the read times out, and the next works. */
static void
test_owner_stopped (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) text = g_bytes_new_static (UTF8_SAMPLE, strlen (UTF8_SAMPLE));
  g_autofree char *path = write_temp_file (text);
  g_autoptr(GBytes) got = NULL;
  GSubprocess *owner;
  ReadResult read;
  gint64 started;

  replace_clipboard (f, 0, 500);
  owner = xclip_copy (f, QGA_SELECTION_CLIPBOARD, NULL, path);
  stop_process (owner);
  started = qt_now_ms ();
  got = read_to_file (f, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_TIMEOUT);
  g_clear_error (&read.error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_assert_cmpint (qt_now_ms () - started, >=, 500);
  g_assert_cmpint (qt_now_ms () - started, <, qt_ms (5000));
  g_clear_pointer (&got, g_bytes_unref);

  /* it wakes and answers the abandoned conversion too: that must not
   * land in the next read */
  g_subprocess_send_signal (owner, SIGCONT);
  got = read_to_file (f, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_no_error (read.error);
  assert_bytes_equal (got, text);
}

/* Reading what we own goes through the server like any paste, INCR
 * included (we are both ends of it, on one window). */
static void
test_read_own (Fixture *f, gconstpointer data)
{
  const char *types[] = { TEXT, BIG_TYPE, NULL };
  g_autoptr(GBytes) text = g_bytes_new_static (UTF8_SAMPLE, strlen (UTF8_SAMPLE));
  g_autoptr(GBytes) big = random_content (3 * MiB, 13);
  g_autoptr(GBytes) got = NULL, got_big = NULL;
  Provider provider;
  ReadResult read;

  provider_init (&provider);
  provider_add (&provider, TEXT, text);
  provider_add (&provider, BIG_TYPE, big);
  take (f, QGA_SELECTION_PRIMARY, types, &provider);
  got = read_to_file (f, QGA_SELECTION_PRIMARY, TEXT, &read);
  g_assert_no_error (read.error);
  assert_bytes_equal (got, text);
  g_assert_cmpuint (provider.calls, ==, 1);
  got_big = read_to_file (f, QGA_SELECTION_PRIMARY, BIG_TYPE, &read);
  g_assert_no_error (read.error);
  g_assert_true (log_has ("reading " BIG_TYPE " from primary by INCR (at least 3145728 bytes)"));
  assert_bytes_equal (got_big, big);
  g_assert_cmpuint (provider.calls, ==, 2);
  /* and the window still hears of the next chunk after that */
  g_clear_pointer (&got, g_bytes_unref);
  got = read_to_file (f, QGA_SELECTION_PRIMARY, BIG_TYPE, &read);
  g_assert_no_error (read.error);
  assert_bytes_equal (got, big);
  provider_clear (&provider);
}

/* A provider that fails: the paste is refused, and said in the log. The
 * provider completes before it returns, which the module must take. */
static void
test_provider_fails (Fixture *f, gconstpointer data)
{
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) content = random_content (1000, 17);
  g_autoptr(GBytes) out = NULL;
  Provider provider;

  provider_init (&provider);
  provider_add (&provider, BIG_TYPE, content);
  provider.fail = TRUE;
  take (f, QGA_SELECTION_CLIPBOARD, types, &provider);
  g_assert_cmpint (xclip_paste (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, NULL, &out), !=, 0);
  g_assert_cmpuint (g_bytes_get_size (out), ==, 0);
  g_assert_cmpuint (provider.calls, ==, 1);
  g_assert_true (log_has ("the provider failed: no luck"));

  provider.fail = FALSE;
  g_clear_pointer (&out, g_bytes_unref);
  g_assert_cmpint (xclip_paste (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE, NULL, &out), ==, 0);
  assert_bytes_equal (out, content);
  provider_clear (&provider);
}

/* A cancelled read ends at once with Cancelled, and the next one works. */
static void
test_cancel_read (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) text = g_bytes_new_static (UTF8_SAMPLE, strlen (UTF8_SAMPLE));
  g_autofree char *path = write_temp_file (text);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) got = NULL;
  GSubprocess *owner;
  QtPipeReader reader;
  ReadResult read = { 0 };

  owner = xclip_copy (f, QGA_SELECTION_CLIPBOARD, NULL, path);
  stop_process (owner);
  qga_desktop_clipboard_read_async (f->clipboard, QGA_SELECTION_CLIPBOARD, TEXT,
                                    qt_pipe_reader_start (&reader), cancellable, on_read_done, &read);
  g_assert_false (QT_WAIT (read.done, 100));   /* the owner cannot answer */
  g_cancellable_cancel (cancellable);
  wait_read (&read, qt_ms (5000));
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_CANCELLED);
  g_clear_error (&read.error);
  g_bytes_unref (qt_pipe_reader_finish (&reader, 10000));

  g_subprocess_send_signal (owner, SIGCONT);
  got = read_to_file (f, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_no_error (read.error);
  assert_bytes_equal (got, text);
}

/* At most QGA_DESKTOP_MAX_READS reads at once: the next is refused at
 * once, and those in progress are not disturbed. */
static void
test_concurrent_reads (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) text = g_bytes_new_static (UTF8_SAMPLE, strlen (UTF8_SAMPLE));
  g_autofree char *path = write_temp_file (text);
  ReadResult reads[QGA_DESKTOP_MAX_READS + 1];
  QtPipeReader readers[QGA_DESKTOP_MAX_READS];
  GSubprocess *owner;

  owner = xclip_copy (f, QGA_SELECTION_CLIPBOARD, NULL, path);
  stop_process (owner);   /* the reads wait for it */
  for (guint i = 0; i < QGA_DESKTOP_MAX_READS; i++)
    start_read (f, QGA_SELECTION_CLIPBOARD, TEXT, qt_pipe_reader_start (&readers[i]), &reads[i]);
  {
    QtPipeReader extra;

    start_read (f, QGA_SELECTION_CLIPBOARD, TEXT, qt_pipe_reader_start (&extra), &reads[QGA_DESKTOP_MAX_READS]);
    wait_read (&reads[QGA_DESKTOP_MAX_READS], qt_ms (5000));
    g_assert_error (reads[QGA_DESKTOP_MAX_READS].error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED);
    g_clear_error (&reads[QGA_DESKTOP_MAX_READS].error);
    g_bytes_unref (qt_pipe_reader_finish (&extra, 10000));
  }
  g_subprocess_send_signal (owner, SIGCONT);
  for (guint i = 0; i < QGA_DESKTOP_MAX_READS; i++)
    {
      g_autoptr(GBytes) got = NULL;

      wait_read (&reads[i], qt_ms (10000));
      g_assert_no_error (reads[i].error);
      got = qt_pipe_reader_finish (&readers[i], 10000);
      assert_bytes_equal (got, text);
    }
}

/* At most QGA_DESKTOP_MAX_SERVES pastes of ours at once: the next is
 * refused, and those in progress complete. */
static void
test_concurrent_serves (Fixture *f, gconstpointer data)
{
  /* not text: xclip asks again for STRING when UTF8_STRING is refused */
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) text = random_content (1000, 9);
  GSubprocess *pastes[QGA_DESKTOP_MAX_SERVES + 1];
  guint succeeded = 0, refused = 0;
  Provider provider;

  provider_init (&provider);
  provider_add (&provider, BIG_TYPE, text);
  provider.hold = TRUE;
  take (f, QGA_SELECTION_CLIPBOARD, types, &provider);
  for (guint i = 0; i < G_N_ELEMENTS (pastes); i++)
    pastes[i] = xclip_paste_start (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE);
  g_assert_true (QT_WAIT (provider.calls == QGA_DESKTOP_MAX_SERVES &&
                          log_has ("pastes are in progress already"), qt_ms (10000)));
  provider_release_held (&provider);
  for (guint i = 0; i < G_N_ELEMENTS (pastes); i++)
    {
      g_autoptr(GBytes) out = NULL;

      if (wait_process (pastes[i], &out, qt_ms (10000)) == 0)
        {
          assert_bytes_equal (out, text);
          succeeded++;
        }
      else
        refused++;
      g_object_unref (pastes[i]);
    }
  g_assert_cmpuint (succeeded, ==, QGA_DESKTOP_MAX_SERVES);
  g_assert_cmpuint (refused, ==, 1);
  g_assert_cmpuint (provider.calls, ==, QGA_DESKTOP_MAX_SERVES);
  provider_clear (&provider);
}

/* The X server goes away: the read in progress fails, "closed" is
 * emitted once, and what follows fails cleanly. */
static void
test_display_lost (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) text = g_bytes_new_static (UTF8_SAMPLE, strlen (UTF8_SAMPLE));
  g_autofree char *path = write_temp_file (text);
  const char *types[] = { TEXT, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  GSubprocess *owner;
  ReadResult read;
  QtPipeReader reader;
  Provider provider;

  owner = xclip_copy (f, QGA_SELECTION_CLIPBOARD, NULL, path);
  stop_process (owner);
  start_read (f, QGA_SELECTION_CLIPBOARD, TEXT, qt_pipe_reader_start (&reader), &read);
  g_subprocess_send_signal (f->xvfb, SIGTERM);
  wait_read (&read, qt_ms (10000));
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR);
  g_assert_nonnull (strstr (read.error->message, "lost the connection"));
  g_clear_error (&read.error);
  g_bytes_unref (qt_pipe_reader_finish (&reader, 10000));
  g_assert_cmpuint (f->closed, ==, 1);
  g_assert_true (log_has ("lost the connection to X display"));

  got = read_to_file (f, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR);
  g_clear_error (&read.error);
  provider_init (&provider);
  g_assert_false (qga_desktop_clipboard_take (f->clipboard, QGA_SELECTION_CLIPBOARD, types, provide,
                                              &provider, NULL, &error));
  g_assert_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR);
  provider_clear (&provider);
  g_assert_cmpuint (f->closed, ==, 1);
}

/* The mapping rules, without a server. */
static void
test_targets_mapping (void)
{
  static const struct { const char *target; const char *mime_type; } cases[] = {
    { "UTF8_STRING", TEXT }, { "STRING", TEXT }, { "TEXT", TEXT },
    { "text/plain;charset=utf-8", TEXT }, { "text/plain;charset=UTF-8", TEXT },
    { "image/png", "image/png" }, { "text/plain", "text/plain" }, { "text/html", "text/html" },
    { "TARGETS", NULL }, { "TIMESTAMP", NULL }, { "MULTIPLE", NULL }, { "SAVE_TARGETS", NULL },
    { "DELETE", NULL }, { "INCR", NULL }, { "COMPOUND_TEXT", NULL }, { "_GTK_TEXT_BUFFER_CONTENTS", NULL },
    { "text/bad type", NULL }, { "", NULL },
  };
  const char *offered[] = { "TARGETS", "UTF8_STRING", "STRING", "image/png", TEXT, "TIMESTAMP",
                            "image/png", "text/html" };
  const char *expected[] = { TEXT, "image/png", "text/html", NULL };
  g_auto(GStrv) mime_types = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpstr (x11_target_to_mime_type (cases[i].target), ==, cases[i].mime_type);
  mime_types = x11_targets_to_mime_types (offered, G_N_ELEMENTS (offered));
  /* g_assert_cmpstrv() is GLib 2.68; configure asks for 2.66 */
  g_assert_true (g_strv_equal ((const char *const *) mime_types, expected));
}

static char *
find_tool (const char *name, const char *package)
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

#define ADD(path, func, data) \
  g_test_add (path, Fixture, data, fixture_set_up, func, fixture_tear_down)

int
main (int argc, char **argv)
{
  int status;

  g_log_set_writer_func (record_log, NULL, NULL);
  qt_init (&argc, &argv);
  log_lines = g_ptr_array_new_with_free_func (g_free);
  xvfb_path = find_tool ("Xvfb", "xvfb");
  xclip_path = find_tool ("xclip", "xclip");

  g_test_add_func ("/desktop-x11/targets-mapping", test_targets_mapping);
  ADD ("/desktop-x11/backend-choice", test_backend_choice, NULL);
  ADD ("/desktop-x11/read-text/clipboard", test_read_text, GINT_TO_POINTER (QGA_SELECTION_CLIPBOARD));
  ADD ("/desktop-x11/read-text/primary", test_read_text, GINT_TO_POINTER (QGA_SELECTION_PRIMARY));
  ADD ("/desktop-x11/take/clipboard", test_take, GINT_TO_POINTER (QGA_SELECTION_CLIPBOARD));
  ADD ("/desktop-x11/take/primary", test_take, GINT_TO_POINTER (QGA_SELECTION_PRIMARY));
  ADD ("/desktop-x11/read-own", test_read_own, NULL);
  ADD ("/desktop-x11/incr/read", test_incr_read, NULL);
  ADD ("/desktop-x11/incr/serve", test_incr_serve, NULL);
  ADD ("/desktop-x11/no-echo", test_no_echo, NULL);
  ADD ("/desktop-x11/limit/read", test_limit_read, NULL);
  ADD ("/desktop-x11/limit/serve", test_limit_serve, NULL);
  ADD ("/desktop-x11/owner-killed", test_owner_killed, NULL);
  ADD ("/desktop-x11/owner-stopped", test_owner_stopped, NULL);
  ADD ("/desktop-x11/provider-fails", test_provider_fails, NULL);
  ADD ("/desktop-x11/cancel-read", test_cancel_read, NULL);
  ADD ("/desktop-x11/concurrent/reads", test_concurrent_reads, NULL);
  ADD ("/desktop-x11/concurrent/serves", test_concurrent_serves, NULL);
  ADD ("/desktop-x11/display-lost", test_display_lost, NULL);

  status = qt_run ();
  g_ptr_array_unref (log_lines);
  log_lines = NULL;
  g_free (xvfb_path);
  g_free (xclip_path);
  return status;
}
