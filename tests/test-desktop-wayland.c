/* test-desktop-wayland.c: the desktop clipboard's Wayland backend against
 * a real compositor, and against a display of the test's for what Debian
 * 12's sway lacks (ext-data-control-v1; wayland-test-display.h).
 *
 * Each sway test starts its own headless sway (desktop-test-util's DtSway:
 * WLR_BACKENDS=headless, WLR_LIBINPUT_NO_DEVICES=1, the pixman renderer:
 * no GPU, no input device) and uses wl-clipboard as the other client: wl-copy
 * --foreground owns a selection until killed, wl-paste pastes. sway
 * refuses to run as root, so it and wl-clipboard run as the user nobody
 * (its passwd home does not exist: HOME is a directory of the test's),
 * with an XDG_RUNTIME_DIR of their own (mode 0700, theirs); the test
 * itself, root, connects to the compositor's socket by its full path. Each
 * of those processes leads a process group of its own, killed as a group
 * (wl-copy serves a file through a cat child of its own); PIDs and groups
 * of processes we started only. Everything runs on the test's main loop,
 * the module's Wayland connection included, so every wait iterates it
 * (bounded, no fixed sleeps). Without sway or wl-clipboard the program
 * fails: these tests do not skip. Run as another user than root, the test
 * runs sway and wl-clipboard as itself.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include "qga-desktop.h"
#include "qga-desktop-wayland.h"
#include "qga-error.h"

#include "desktop-test-util.h"
#include "wayland-test-display.h"

static char *sway_path;
static char *wl_copy_path;
static char *wl_paste_path;

/* --- the fixture: a compositor, the module, its announcements ----------- */

typedef struct {
  DtDesktop d;             /* its owners: wl-copy processes */
  DtSway sway;
} Fixture;

static GSubprocess *wl_copy (DtDesktop *d, QgaSelectionId selection, const char *type,
                            const char *path);
static int wl_paste (DtDesktop *d, QgaSelectionId selection, const char *type,
                     const char *out_path, GBytes **out);

static void
stop_group (GSubprocess *process)
{
  dt_signal_group (process, SIGSTOP);
}

static void
continue_group (GSubprocess *process)
{
  dt_signal_group (process, SIGCONT);
}

static const DtBackend wl_clipboard_backend = {
  .name = "wayland",
  .new_clipboard = qga_desktop_clipboard_wayland_new,
  .copy = wl_copy,
  .paste = wl_paste,
  .stop = stop_group,
  .resume = continue_group,
  .kill = dt_kill_group,
  .refused_paste_fails = FALSE,
};

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  dt_desktop_init (&f->d, &wl_clipboard_backend);
  dt_sway_start (&f->sway);
  f->d.display = f->sway.socket_path;
  dt_desktop_replace_clipboard (&f->d, 0, 0);
  dt_log_forget ();
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  dt_desktop_clear (&f->d);
  dt_sway_stop (&f->sway);
}

/* wl-copy --foreground: owns selection, offering the file's content as
 * type (NULL: text, by wl-copy's names), until killed; waits until the
 * module announced it. */
static GSubprocess *
wl_copy (DtDesktop *d, QgaSelectionId selection, const char *type, const char *path)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher =
    dt_sway_launcher (&((Fixture *) d)->sway, G_SUBPROCESS_FLAGS_STDOUT_SILENCE);

  g_ptr_array_add (argv, wl_copy_path);
  g_ptr_array_add (argv, "--foreground");
  if (selection == QGA_SELECTION_PRIMARY)
    g_ptr_array_add (argv, "--primary");
  if (type != NULL)
    {
      g_ptr_array_add (argv, "--type");
      g_ptr_array_add (argv, (char *) type);
    }
  g_subprocess_launcher_set_stdin_file_path (launcher, path);
  return dt_spawn_owner (d, launcher, argv, selection);
}

/* wl-paste: the exit status; its stdout in *out, or into out_path. type
 * NULL: --list-types. */
static int
wl_paste (DtDesktop *d, QgaSelectionId selection, const char *type, const char *out_path, GBytes **out)
{
  g_autoptr(GSubprocessLauncher) launcher =
    dt_sway_launcher (&((Fixture *) d)->sway, out_path != NULL ? 0 : G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[8];
  guint n = 0;

  argv[n++] = wl_paste_path;
  if (selection == QGA_SELECTION_PRIMARY)
    argv[n++] = "--primary";
  if (type == NULL)
    argv[n++] = "--list-types";
  else
    {
      argv[n++] = "--no-newline";
      argv[n++] = "--type";
      argv[n++] = type;
    }
  argv[n] = NULL;
  if (out_path != NULL)
    g_subprocess_launcher_set_stdout_file_path (launcher, out_path);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return dt_wait_process (process, out, qt_ms (60000), dt_kill_group);
}

/* ============================================================================ */

/* Another client copies non-ASCII text: we are told the text type, and
 * read the exact bytes. */
static void
test_read_text (Fixture *f, gconstpointer data)
{
  QgaSelectionId selection = GPOINTER_TO_INT (data);
  DtOwnerEvent *event = dt_copy_sample_text (&f->d, selection);

  g_assert_cmpuint (g_strv_length (event->types), ==, 1);   /* wl-copy's five names are one type */
  dt_assert_reads_sample_text (&f->d, selection);

  /* a type the owner does not offer */
  dt_assert_read_refused (&f->d, selection, "image/png", QGA_ERROR_NO_DATA);
}

/* We own the selection: wl-paste lists our types, gets each byte for
 * byte, and the provider is asked only on a paste. */
static void
test_take (Fixture *f, gconstpointer data)
{
  QgaSelectionId selection = GPOINTER_TO_INT (data);
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autoptr(GBytes) png = dt_sample_png ();
  g_autoptr(GBytes) listed = NULL, got_png = NULL, got_text = NULL;
  g_auto(GStrv) lines = NULL;
  DtProvider provider;

  dt_take_text_and_png (&f->d, selection, &provider);

  g_assert_cmpint (wl_paste (&f->d, selection, NULL, NULL, &listed), ==, 0);
  lines = g_strsplit (g_bytes_get_data (listed, NULL), "\n", -1);
  g_assert_true (g_strv_contains ((const char *const *) lines, TEXT));
  g_assert_true (g_strv_contains ((const char *const *) lines, "UTF8_STRING"));
  g_assert_true (g_strv_contains ((const char *const *) lines, "image/png"));
  g_assert_cmpuint (provider.calls, ==, 0);

  g_assert_cmpint (wl_paste (&f->d, selection, "image/png", NULL, &got_png), ==, 0);
  dt_assert_bytes_equal (got_png, png);
  g_assert_cmpuint (provider.calls, ==, 1);
  g_assert_cmpint (wl_paste (&f->d, selection, TEXT, NULL, &got_text), ==, 0);
  dt_assert_bytes_equal (got_text, text);
  g_assert_cmpuint (provider.calls, ==, 2);

  /* release: the selection is empty, and said so */
  qga_desktop_clipboard_release (f->d.clipboard, selection);
  g_assert_true (QT_WAIT (dt_count_events (&f->d, selection, FALSE, FALSE) >= 1, qt_ms (10000)));
  dt_provider_clear (&provider);
}

/* Reading what we own goes through the compositor to our own source,
 * even right after the take, before its echo is back. */
static void
test_read_own (Fixture *f, gconstpointer data)
{
  const char *types[] = { TEXT, NULL };
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;
  DtProvider provider;
  DtRead read;

  dt_provider_init (&provider);
  dt_provider_add (&provider, TEXT, text);
  g_assert_true (qga_desktop_clipboard_take (f->d.clipboard, QGA_SELECTION_CLIPBOARD, types, dt_provide,
                                             &provider, NULL, &error));
  g_assert_no_error (error);
  got = dt_read_to_file (&f->d, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_no_error (read.error);
  dt_assert_bytes_equal (got, text);
  g_assert_cmpuint (provider.calls, ==, 1);
  dt_provider_clear (&provider);
}

/* 64 MiB each way, checked by SHA-256. */
static void
test_large (Fixture *f, gconstpointer data)
{
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) content = dt_random_content (dt_big_size (), 3);
  g_autofree char *path = dt_write_temp_file (content);
  g_autofree char *expected = dt_sha256 (content);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  g_autoptr(GBytes) got = NULL, pasted = NULL;
  g_autofree char *got_sum = NULL, *pasted_sum = NULL;
  DtProvider provider;
  DtRead read;

  wl_copy (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, path);
  got = dt_read_to_file (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);
  g_assert_no_error (read.error);
  g_assert_cmpuint (read.bytes, ==, dt_big_size ());
  got_sum = dt_sha256 (got);
  g_assert_cmpstr (got_sum, ==, expected);
  g_clear_pointer (&got, g_bytes_unref);

  dt_provider_init (&provider);
  dt_provider_add (&provider, BIG_TYPE, content);
  dt_take (&f->d, QGA_SELECTION_PRIMARY, types, &provider);
  g_assert_cmpint (wl_paste (&f->d, QGA_SELECTION_PRIMARY, BIG_TYPE, out_path, NULL), ==, 0);
  pasted = dt_read_file (out_path);
  pasted_sum = dt_sha256 (pasted);
  g_assert_cmpstr (pasted_sum, ==, expected);
  g_unlink (out_path);
  g_unlink (path);
  dt_provider_clear (&provider);
}

/* Our take is announced once as ours and never as another client's; one
 * copy by another client is announced exactly once. */
static void
test_no_echo (Fixture *f, gconstpointer data)
{
  const char *types[] = { TEXT, NULL };
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autofree char *path = dt_write_temp_file (text);
  DtProvider provider;

  dt_provider_init (&provider);
  dt_provider_add (&provider, TEXT, text);
  dt_take (&f->d, QGA_SELECTION_CLIPBOARD, types, &provider);
  dt_take (&f->d, QGA_SELECTION_CLIPBOARD, types, &provider);
  /* the compositor answers in order: wl-copy's selection comes after every
   * echo of ours, so once it is in, any echo would have been too */
  wl_copy (&f->d, QGA_SELECTION_CLIPBOARD, NULL, path);
  g_assert_cmpuint (dt_count_events (&f->d, QGA_SELECTION_CLIPBOARD, TRUE, TRUE), ==, 2);
  g_assert_cmpuint (dt_count_events (&f->d, QGA_SELECTION_CLIPBOARD, FALSE, TRUE), ==, 1);
  g_assert_cmpuint (dt_count_events (&f->d, QGA_SELECTION_PRIMARY, FALSE, TRUE), ==, 0);
  /* and nobody was asked for our content */
  g_assert_cmpuint (provider.calls, ==, 0);
  dt_provider_clear (&provider);
}

/* max-size both ways: a read over it fails (LimitExceeded), a paste of
 * ours over it gets nothing. */
static void
test_limit (Fixture *f, gconstpointer data)
{
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) content = dt_random_content (2 * MiB, 5);
  g_autofree char *path = dt_write_temp_file (content);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  g_autoptr(GBytes) got = NULL, pasted = NULL;
  DtProvider provider;
  DtRead read;

  dt_desktop_replace_clipboard (&f->d, 1 * MiB, 0);
  wl_copy (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, path);
  got = dt_read_to_file (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&read.error);
  g_assert_false (read.ok);
  g_assert_cmpuint (g_bytes_get_size (got), <=, 1 * MiB);
  g_assert_true (dt_log_has ("refused " BIG_TYPE " from the clipboard selection: the content is over 1048576 bytes"));

  dt_provider_init (&provider);
  dt_provider_add (&provider, BIG_TYPE, content);
  dt_take (&f->d, QGA_SELECTION_CLIPBOARD, types, &provider);
  wl_paste (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, out_path, NULL);
  pasted = dt_read_file (out_path);
  g_assert_cmpuint (g_bytes_get_size (pasted), ==, 0);
  g_assert_cmpuint (provider.calls, ==, 1);
  g_assert_true (dt_log_has ("refused " BIG_TYPE " of the clipboard selection to a Wayland client: "
                          "the content is over 1048576 bytes"));
  g_unlink (out_path);
  dt_provider_clear (&provider);
}

typedef struct {
  int fd;
  gboolean eof;
} Drain;

static gboolean
on_drain (int fd, GIOCondition condition, gpointer user_data)
{
  Drain *drain = user_data;
  char buffer[65536];
  gssize n = read (fd, buffer, sizeof buffer);

  if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
    return G_SOURCE_CONTINUE;
  drain->eof = TRUE;
  return G_SOURCE_REMOVE;
}

/* wl-copy killed half way: the read fails (not a shorter content passed
 * as whole), and the next one works. */
static void
test_owner_killed (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) content = dt_random_content (dt_big_size (), 11);
  g_autofree char *path = dt_write_temp_file (content);
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autofree char *text_path = dt_write_temp_file (text);
  g_autoptr(GBytes) got = NULL;
  GSubprocess *owner;
  DtRead read;
  Drain drain = { -1, FALSE };
  int unread;

  owner = wl_copy (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, path);
  unread = dt_start_read_into_unread_pipe (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);

  dt_forget_owner (&f->d, owner);
  g_assert_true (g_unix_set_fd_nonblocking (unread, TRUE, NULL));
  drain.fd = unread;
  g_unix_fd_add (unread, G_IO_IN | G_IO_HUP | G_IO_ERR, on_drain, &drain);
  dt_wait_read (&read, qt_ms (10000));
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR);
  g_assert_nonnull (strstr (read.error->message, "before the end of its data"));
  g_clear_error (&read.error);
  g_assert_true (QT_WAIT (drain.eof, qt_ms (5000)));
  close (unread);

  wl_copy (&f->d, QGA_SELECTION_CLIPBOARD, NULL, text_path);
  got = dt_read_to_file (&f->d, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_no_error (read.error);
  dt_assert_bytes_equal (got, text);
}

/* The compositor goes away: the read in progress fails, "closed" once,
 * and what follows fails cleanly. */
static void
test_compositor_lost (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autofree char *path = dt_write_temp_file (text);
  GSubprocess *owner;
  DtRead read;
  QtPipeReader reader;

  owner = wl_copy (&f->d, QGA_SELECTION_CLIPBOARD, NULL, path);
  stop_group (owner);   /* the read waits for it */
  dt_start_read (&f->d, QGA_SELECTION_CLIPBOARD, TEXT, qt_pipe_reader_start (&reader), &read);
  g_assert_false (QT_WAIT (read.done, 200));
  dt_signal_group (f->sway.process, SIGKILL);
  dt_wait_read (&read, qt_ms (10000));
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR);
  g_assert_nonnull (strstr (read.error->message, "lost the connection"));
  g_clear_error (&read.error);
  continue_group (owner);
  g_bytes_unref (qt_pipe_reader_finish (&reader, 10000));
  g_assert_cmpuint (f->d.closed, ==, 1);
  g_assert_true (dt_log_has ("lost the connection to Wayland display"));

  dt_assert_lost_cleanly (&f->d);
}

/* The choice of backend, from the environment. */
static void
test_backend_choice (Fixture *f, gconstpointer data)
{
  DtDisplayEnv saved;
  g_autoptr(QgaDesktopClipboard) clipboard = NULL;
  g_autoptr(GError) error = NULL;
  WtDisplay *bare = NULL;

  dt_display_env_save (&saved);
  g_unsetenv ("DISPLAY");
  g_setenv ("WAYLAND_DISPLAY", f->sway.socket_path, TRUE);
  clipboard = qga_desktop_clipboard_new (0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qga_desktop_clipboard_get_backend_name (clipboard), ==, "wayland");
  /* sway 1.7 (wlroots 0.15) has wlr's only */
  g_assert_cmpstr (qga_desktop_clipboard_wayland_get_protocol (QGA_DESKTOP_CLIPBOARD_WAYLAND (clipboard)),
                   ==, "wlr-data-control-unstable-v1");
  g_assert_true (dt_log_has ("Wayland backend on display"));
  g_clear_object (&clipboard);

  bare = wt_display_start (FALSE);
  g_setenv ("WAYLAND_DISPLAY", wt_display_get_socket_path (bare), TRUE);
  g_assert_null (qga_desktop_clipboard_new (0, 0, &error));
  g_assert_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "neither zwlr_data_control_manager_v1 nor ext_data_control_manager_v1"));
  g_assert_nonnull (strstr (error->message, "Xwayland"));
  g_clear_error (&error);

  /* with DISPLAY too: X11, after saying why (no X server here: it fails
   * to connect, after the fallback was logged) */
  g_setenv ("DISPLAY", ":99999", TRUE);
  g_assert_null (qga_desktop_clipboard_new (0, 0, &error));
  g_assert_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "X display :99999"));
  g_clear_error (&error);
  g_assert_true (dt_log_has ("falling back to X11 on DISPLAY=:99999"));
  wt_display_stop (bare);

  dt_display_env_restore (&saved);
}

/* --- ext-data-control-v1 ---------------------------------------------------- */

/* The module's two instances are each other's other client, on a display
 * with ext-data-control-v1 only (wayland-test-display.h). */
static const DtBackend ext_backend = {
  .name = "wayland",
  .new_clipboard = qga_desktop_clipboard_wayland_new,
  .kill = dt_kill_group,
};

static void
ext_desktop_start (DtDesktop *d, WtDisplay *display)
{
  dt_desktop_init (d, &ext_backend);
  d->display = wt_display_get_socket_path (display);
  dt_desktop_replace_clipboard (d, 0, 0);
  g_assert_cmpstr (qga_desktop_clipboard_wayland_get_protocol (QGA_DESKTOP_CLIPBOARD_WAYLAND (d->clipboard)),
                   ==, "ext-data-control-v1");
}

/* reader reads type from selection, which the other instance owns. */
static void
ext_assert_reads (DtDesktop *reader, QgaSelectionId selection, const char *type, GBytes *expected)
{
  g_autoptr(GBytes) got = NULL;
  DtRead read;

  got = dt_read_pipe (reader, selection, type, &read);
  g_assert_no_error (read.error);
  g_assert_true (read.ok);
  g_assert_cmpuint (read.bytes, ==, g_bytes_get_size (expected));
  dt_assert_bytes_equal (got, expected);
}

/* Both ways on each selection: the owner's types (the marker hidden), each
 * byte from the owner's provider on a paste only, the owner replaced
 * (its source cancelled), a release seen as an empty selection; then the
 * display gone. */
static void
test_ext_data_control (void)
{
  const char *b_types[] = { "text/html", NULL };
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autoptr(GBytes) png = dt_sample_png ();
  g_autoptr(GBytes) html = g_bytes_new_static ("<b>b</b>", 8);
  WtDisplay *display = wt_display_start (TRUE);
  DtDesktop a = { NULL }, b = { NULL };

  ext_desktop_start (&a, display);
  ext_desktop_start (&b, display);

  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    {
      QgaSelectionId selection = i;
      DtProvider a_provider, b_provider;
      DtOwnerEvent *event;
      guint a_emptied;

      dt_take_text_and_png (&a, selection, &a_provider);
      event = dt_wait_announced (&b, selection, FALSE, 1);
      g_assert_cmpuint (g_strv_length (event->types), ==, 2);
      g_assert_true (g_strv_contains ((const char *const *) event->types, TEXT));
      g_assert_true (g_strv_contains ((const char *const *) event->types, "image/png"));
      g_assert_cmpuint (a_provider.calls, ==, 0);
      ext_assert_reads (&b, selection, "image/png", png);
      ext_assert_reads (&b, selection, TEXT, text);
      g_assert_cmpuint (a_provider.calls, ==, 2);
      dt_assert_read_refused (&b, selection, "text/html", QGA_ERROR_NO_DATA);

      dt_provider_init (&b_provider);
      dt_provider_add (&b_provider, "text/html", html);
      dt_take (&b, selection, b_types, &b_provider);
      event = dt_wait_announced (&a, selection, FALSE, 1);
      g_assert_cmpuint (g_strv_length (event->types), ==, 1);
      g_assert_cmpstr (event->types[0], ==, "text/html");
      ext_assert_reads (&a, selection, "text/html", html);
      g_assert_cmpuint (b_provider.calls, ==, 1);
      g_assert_cmpuint (a_provider.calls, ==, 2);   /* cancelled, not asked again */

      a_emptied = dt_count_events (&a, selection, FALSE, FALSE);
      qga_desktop_clipboard_release (b.clipboard, selection);
      g_assert_true (QT_WAIT (dt_count_events (&a, selection, FALSE, FALSE) > a_emptied, qt_ms (10000)));
      dt_assert_read_refused (&a, selection, "text/html", QGA_ERROR_NO_DATA);
      dt_provider_clear (&a_provider);
      dt_provider_clear (&b_provider);
    }

  wt_display_stop (display);
  g_assert_true (QT_WAIT (a.closed == 1 && b.closed == 1, qt_ms (10000)));
  dt_assert_lost_cleanly (&a);
  dt_desktop_clear (&a);
  dt_desktop_clear (&b);
}

int
main (int argc, char **argv)
{
  int status;

  dt_log_start ();
  qt_init (&argc, &argv);
  sway_path = dt_find_tool ("sway", "sway");
  wl_copy_path = dt_find_tool ("wl-copy", "wl-clipboard");
  wl_paste_path = dt_find_tool ("wl-paste", "wl-clipboard");
  dt_sway_find_client_user ();

  DT_ADD ("/desktop-wayland/backend-choice", test_backend_choice, NULL);
  DT_ADD ("/desktop-wayland/read-text/clipboard", test_read_text, GINT_TO_POINTER (QGA_SELECTION_CLIPBOARD));
  DT_ADD ("/desktop-wayland/read-text/primary", test_read_text, GINT_TO_POINTER (QGA_SELECTION_PRIMARY));
  DT_ADD ("/desktop-wayland/take/clipboard", test_take, GINT_TO_POINTER (QGA_SELECTION_CLIPBOARD));
  DT_ADD ("/desktop-wayland/take/primary", test_take, GINT_TO_POINTER (QGA_SELECTION_PRIMARY));
  DT_ADD ("/desktop-wayland/read-own", test_read_own, NULL);
  DT_ADD ("/desktop-wayland/large", test_large, NULL);
  DT_ADD ("/desktop-wayland/no-echo", test_no_echo, NULL);
  DT_ADD ("/desktop-wayland/limit", test_limit, NULL);
  DT_ADD ("/desktop-wayland/owner-killed", test_owner_killed, NULL);
  DT_ADD_SHARED ("/desktop-wayland/owner-stopped", dt_test_owner_stopped);
  DT_ADD_SHARED ("/desktop-wayland/cancel-read", dt_test_cancel_read);
  DT_ADD_SHARED ("/desktop-wayland/concurrent-reads", dt_test_concurrent_reads);
  DT_ADD_SHARED ("/desktop-wayland/provider-fails", dt_test_provider_fails);
  DT_ADD ("/desktop-wayland/compositor-lost", test_compositor_lost, NULL);
  g_test_add_func ("/desktop-wayland/ext-data-control", test_ext_data_control);

  status = qt_run ();
  dt_log_stop ();
  g_free (sway_path);
  g_free (wl_copy_path);
  g_free (wl_paste_path);
  return status;
}
