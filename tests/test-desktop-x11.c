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
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include "qga-desktop.h"
#include "qga-desktop-x11.h"
#include "qga-desktop-x11-private.h"   /* the targets mapping */
#include "qga-error.h"

#include "desktop-test-util.h"

static char *xclip_path;

/* --- processes ------------------------------------------------------------ */

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

/* --- the fixture: an X server, the module, its announcements -------------- */

typedef struct {
  DtDesktop d;             /* its owners: xclip -i processes */
  DtXvfb xvfb;
} Fixture;

static GSubprocess *xclip_copy (DtDesktop *d, QgaSelectionId selection, const char *target,
                               const char *path);
static int xclip_paste (DtDesktop *d, QgaSelectionId selection, const char *target,
                        const char *out_path, GBytes **out);

static void
continue_process (GSubprocess *process)
{
  g_subprocess_send_signal (process, SIGCONT);
}

static const DtBackend xclip_backend = {
  .name = "x11",
  .new_clipboard = qga_desktop_clipboard_x11_new,
  .copy = xclip_copy,
  .paste = xclip_paste,
  .stop = stop_process,
  .resume = continue_process,
  .kill = g_subprocess_force_exit,
  .refused_paste_fails = TRUE,
};

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  dt_desktop_init (&f->d, &xclip_backend);
  dt_xvfb_start (&f->xvfb);
  f->d.display = f->xvfb.display;
  dt_desktop_replace_clipboard (&f->d, 0, 0);
  dt_log_forget ();
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  dt_desktop_clear (&f->d);
  dt_xvfb_stop (&f->xvfb);
}

/* xclip -i: owns selection, offering the file's content as target (NULL:
 * xclip's default, UTF8_STRING), until killed; waits until the module
 * announced it. */
static GSubprocess *
xclip_copy (DtDesktop *d, QgaSelectionId selection, const char *target, const char *path)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher =
    dt_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);

  g_ptr_array_add (argv, xclip_path);
  g_ptr_array_add (argv, "-display");
  g_ptr_array_add (argv, (char *) d->display);
  g_ptr_array_add (argv, "-selection");
  g_ptr_array_add (argv, (char *) dt_selection_name (selection));
  g_ptr_array_add (argv, "-quiet");   /* in the foreground: its pid is ours to kill */
  if (target != NULL)
    {
      g_ptr_array_add (argv, "-t");
      g_ptr_array_add (argv, (char *) target);
    }
  g_ptr_array_add (argv, "-i");
  g_ptr_array_add (argv, (char *) path);
  return dt_spawn_owner (d, launcher, argv, selection);
}

/* xclip -o, left running, its stdout a pipe: dt_wait_process () collects it. */
static GSubprocess *
xclip_paste_start (Fixture *f, QgaSelectionId selection, const char *target)
{
  g_autoptr(GSubprocessLauncher) launcher =
    dt_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GError) error = NULL;
  GSubprocess *process = g_subprocess_launcher_spawn (launcher, &error, xclip_path,
                                                      "-display", f->xvfb.display,
                                                      "-selection", dt_selection_name (selection),
                                                      "-o", "-t", target, NULL);

  g_assert_no_error (error);
  return process;
}

/* xclip -o: the exit status; its stdout in *out, or into out_path. */
static int
xclip_paste (DtDesktop *d, QgaSelectionId selection, const char *target, const char *out_path,
             GBytes **out)
{
  g_autoptr(GSubprocessLauncher) launcher =
    dt_launcher_new (out_path != NULL ? G_SUBPROCESS_FLAGS_STDERR_SILENCE
                                   : G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  if (out_path != NULL)
    g_subprocess_launcher_set_stdout_file_path (launcher, out_path);
  process = g_subprocess_launcher_spawn (launcher, &error, xclip_path, "-display", d->display,
                                         "-selection", dt_selection_name (selection),
                                         "-o", "-t", target != NULL ? target : "UTF8_STRING", NULL);
  g_assert_no_error (error);
  return dt_wait_process (process, out, qt_ms (60000), g_subprocess_force_exit);
}

/* ============================================================================ */

static void
test_backend_choice (Fixture *f, gconstpointer data)
{
  DtDisplayEnv saved;
  g_autoptr(QgaDesktopClipboard) clipboard = NULL;
  g_autoptr(GError) error = NULL;

  dt_display_env_save (&saved);
  g_unsetenv ("WAYLAND_DISPLAY");
  g_unsetenv ("DISPLAY");
  g_assert_null (qga_desktop_clipboard_new (0, 0, &error));
  g_assert_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  g_setenv ("DISPLAY", f->xvfb.display, TRUE);
  clipboard = qga_desktop_clipboard_new (0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qga_desktop_clipboard_get_backend_name (clipboard), ==, "x11");
  g_assert_true (dt_log_has ("X11 backend on display"));
  g_assert_cmpuint (qga_desktop_clipboard_get_max_size (clipboard), ==, QGA_CLIPBOARD_DEFAULT_MAX_SIZE);
  g_clear_object (&clipboard);

  g_setenv ("DISPLAY", ":99999", TRUE);
  g_assert_null (qga_desktop_clipboard_new (0, 0, &error));
  g_assert_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED);

  dt_display_env_restore (&saved);
}

/* (1), (4): another client copies text; we are told the type, and read
 * the exact bytes only when we ask. */
static void
test_read_text (Fixture *f, gconstpointer data)
{
  QgaSelectionId selection = GPOINTER_TO_INT (data);
  QgaSelectionId other = selection == QGA_SELECTION_CLIPBOARD ? QGA_SELECTION_PRIMARY
                                                              : QGA_SELECTION_CLIPBOARD;
  DtOwnerEvent *event;
  DtRead read;

  dt_copy_sample_text (&f->d, selection);
  g_assert_cmpuint (dt_count_events (&f->d, other, FALSE, TRUE), ==, 0);
  dt_assert_reads_sample_text (&f->d, selection);

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
    latin1_path = dt_write_temp_file (latin1_bytes);
    back = g_convert (latin1, -1, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
    expected = g_bytes_new (back, strlen (back));
    xclip_copy (&f->d, selection, "STRING", latin1_path);
    event = dt_wait_announced (&f->d, selection, FALSE, 2);
    g_assert_true (g_strv_contains ((const char *const *) event->types, TEXT));
    got_text = dt_read_pipe (&f->d, selection, TEXT, &read);
    g_assert_no_error (read.error);
    dt_assert_bytes_equal (got_text, expected);
  }

  /* a type the owner does not offer */
  dt_assert_read_refused (&f->d, selection, "image/png", QGA_ERROR_NO_DATA);
}

/* (2), (4): we own the selection; xclip sees our types, gets each content
 * byte for byte, and the provider is asked only on a paste. */
static void
test_take (Fixture *f, gconstpointer data)
{
  QgaSelectionId selection = GPOINTER_TO_INT (data);
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autoptr(GBytes) png = dt_sample_png ();
  g_autoptr(GBytes) targets = NULL, got_png = NULL, got_text = NULL, got_latin1 = NULL;
  g_auto(GStrv) target_names = NULL;
  g_autofree char *latin1 = NULL, *listed = NULL;
  static const char *const expected_targets[] = {
    "TARGETS", "TIMESTAMP", "UTF8_STRING", "STRING", "TEXT", TEXT, "image/png",
  };
  DtProvider provider;

  dt_take_text_and_png (&f->d, selection, &provider);
  g_assert_cmpuint (provider.calls, ==, 0);

  g_assert_cmpint (xclip_paste (&f->d, selection, "TARGETS", NULL, &targets), ==, 0);
  listed = g_strndup (g_bytes_get_data (targets, NULL), g_bytes_get_size (targets));
  target_names = g_strsplit (g_strstrip (listed), "\n", -1);
  for (gsize i = 0; i < G_N_ELEMENTS (expected_targets); i++)
    if (!g_strv_contains ((const char *const *) target_names, expected_targets[i]))
      g_error ("TARGETS lacks %s: %s", expected_targets[i], listed);
  g_assert_cmpuint (provider.calls, ==, 0);

  g_assert_cmpint (xclip_paste (&f->d, selection, "image/png", NULL, &got_png), ==, 0);
  dt_assert_bytes_equal (got_png, png);
  g_assert_cmpuint (provider.calls, ==, 1);

  g_assert_cmpint (xclip_paste (&f->d, selection, "UTF8_STRING", NULL, &got_text), ==, 0);
  dt_assert_bytes_equal (got_text, text);
  g_assert_cmpuint (provider.calls, ==, 2);

  /* STRING is ISO 8859-1: what it cannot carry becomes '?' */
  g_assert_cmpint (xclip_paste (&f->d, selection, "STRING", NULL, &got_latin1), ==, 0);
  latin1 = g_convert_with_fallback (UTF8_SAMPLE, -1, "ISO-8859-1", "UTF-8", "?", NULL, NULL, NULL);
  g_assert_cmpmem (g_bytes_get_data (got_latin1, NULL), g_bytes_get_size (got_latin1),
                   latin1, strlen (latin1));
  g_assert_cmpuint (provider.calls, ==, 3);

  /* a target we do not offer, and MULTIPLE: refused, without asking */
  g_assert_cmpint (xclip_paste (&f->d, selection, "text/html", NULL, NULL), !=, 0);
  g_assert_cmpint (xclip_paste (&f->d, selection, "MULTIPLE", NULL, NULL), !=, 0);
  g_assert_cmpuint (provider.calls, ==, 3);

  /* released: xclip finds nothing */
  qga_desktop_clipboard_release (f->d.clipboard, selection);
  g_assert_true (QT_WAIT (dt_count_events (&f->d, selection, FALSE, FALSE) >= 1, qt_ms (10000)));
  g_assert_cmpint (xclip_paste (&f->d, selection, "UTF8_STRING", NULL, NULL), !=, 0);
  g_assert_cmpuint (provider.calls, ==, 3);
  dt_provider_clear (&provider);
}

/* (3): 64 MiB each way, through INCR (16 under valgrind: INCR all the same). */
static void
test_incr_read (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) content = dt_random_content (dt_big_size (), 42);
  g_autofree char *path = dt_write_temp_file (content);
  g_autofree char *expected = dt_sha256 (content);
  g_autofree char *actual = NULL;
  g_autoptr(GBytes) got = NULL;
  DtRead read;
  DtOwnerEvent *event;

  xclip_copy (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, path);
  event = dt_wait_announced (&f->d, QGA_SELECTION_CLIPBOARD, FALSE, 1);
  g_assert_true (g_strv_contains ((const char *const *) event->types, BIG_TYPE));
  got = dt_read_to_file (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);
  g_assert_no_error (read.error);
  g_assert_true (dt_log_has ("reading " BIG_TYPE " from clipboard by INCR"));
  g_assert_cmpuint (read.bytes, ==, dt_big_size ());
  actual = dt_sha256 (got);
  g_assert_cmpstr (actual, ==, expected);
}

static void
test_incr_serve (Fixture *f, gconstpointer data)
{
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) content = dt_random_content (dt_big_size (), 7);
  g_autofree char *expected = dt_sha256 (content);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  g_autofree char *actual = NULL;
  g_autoptr(GBytes) got = NULL;
  DtProvider provider;

  dt_provider_init (&provider);
  dt_provider_add (&provider, BIG_TYPE, content);
  dt_take (&f->d, QGA_SELECTION_CLIPBOARD, types, &provider);
  g_assert_cmpint (xclip_paste (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, out_path, NULL), ==, 0);
  g_assert_true (dt_log_has (" of " BIG_TYPE " to X window"));
  g_assert_true (dt_log_has (" by INCR, "));
  got = dt_read_file (out_path);
  g_assert_cmpuint (g_bytes_get_size (got), ==, dt_big_size ());
  actual = dt_sha256 (got);
  g_assert_cmpstr (actual, ==, expected);
  g_assert_cmpuint (provider.calls, ==, 1);
  g_unlink (out_path);
  dt_provider_clear (&provider);
}

/* (5): our own take is never another client's copy; another client's
 * copy is announced once. */
static void
test_no_echo (Fixture *f, gconstpointer data)
{
  const char *types[] = { TEXT, NULL };
  g_autoptr(GBytes) text = g_bytes_new_static ("ours", 4);
  g_autoptr(GBytes) theirs = g_bytes_new_static ("theirs", 6);
  g_autofree char *path = dt_write_temp_file (theirs);
  g_autoptr(GBytes) pasted = NULL, got = NULL;
  DtProvider provider;
  DtRead read;

  dt_provider_init (&provider);
  dt_provider_add (&provider, TEXT, text);
  dt_take (&f->d, QGA_SELECTION_CLIPBOARD, types, &provider);
  /* a paste through the server: every event of our take is in by its end */
  g_assert_cmpint (xclip_paste (&f->d, QGA_SELECTION_CLIPBOARD, NULL, NULL, &pasted), ==, 0);
  dt_assert_bytes_equal (pasted, text);
  g_assert_cmpuint (dt_count_events (&f->d, QGA_SELECTION_CLIPBOARD, FALSE, TRUE), ==, 0);
  g_assert_cmpuint (dt_count_events (&f->d, QGA_SELECTION_CLIPBOARD, FALSE, FALSE), ==, 0);
  g_assert_cmpuint (dt_count_events (&f->d, QGA_SELECTION_CLIPBOARD, TRUE, TRUE), ==, 1);

  /* taking it again while we own it: still ours */
  dt_take (&f->d, QGA_SELECTION_CLIPBOARD, types, &provider);
  g_assert_cmpuint (dt_count_events (&f->d, QGA_SELECTION_CLIPBOARD, FALSE, TRUE), ==, 0);

  xclip_copy (&f->d, QGA_SELECTION_CLIPBOARD, NULL, path);
  /* a read through the server: the events before it are in */
  got = dt_read_to_file (&f->d, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_no_error (read.error);
  dt_assert_bytes_equal (got, theirs);
  g_assert_cmpuint (dt_count_events (&f->d, QGA_SELECTION_CLIPBOARD, FALSE, TRUE), ==, 1);
  g_assert_cmpuint (dt_count_events (&f->d, QGA_SELECTION_CLIPBOARD, FALSE, FALSE), ==, 0);
  g_assert_cmpuint (dt_count_events (&f->d, QGA_SELECTION_CLIPBOARD, TRUE, TRUE), ==, 2);
  g_assert_cmpuint (dt_count_events (&f->d, QGA_SELECTION_PRIMARY, FALSE, TRUE), ==, 0);
  dt_provider_clear (&provider);
}

/* (6): over max-size, both ways: refused, said in the log, never
 * delivered as a content. Reading, a whole property and an INCR that
 * announces its size are refused before the first byte is written; an
 * INCR whose owner announces no size (xclip) fails once past the limit. */
static void
refuse_read_from (Fixture *f, QgaDesktopClipboard *owner, gsize size)
{
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) content = dt_random_content (size, size);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;
  DtProvider provider;
  DtRead read;

  dt_provider_init (&provider);
  dt_provider_add (&provider, BIG_TYPE, content);
  g_assert_true (qga_desktop_clipboard_take (owner, QGA_SELECTION_CLIPBOARD, types, dt_provide,
                                             &provider, NULL, &error));
  g_assert_no_error (error);
  dt_wait_announced (&f->d, QGA_SELECTION_CLIPBOARD, FALSE, dt_count_events (&f->d, QGA_SELECTION_CLIPBOARD, FALSE, TRUE) + 1);
  dt_log_forget ();
  got = dt_read_to_file (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&read.error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_assert_true (dt_log_has ("refused " BIG_TYPE " from the clipboard selection: the content is over"));
  qga_desktop_clipboard_release (owner, QGA_SELECTION_CLIPBOARD);
  dt_provider_clear (&provider);
}

static void
test_limit_read (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) content = dt_random_content (2 * MiB, 1);
  g_autofree char *path = dt_write_temp_file (content);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(QgaDesktopClipboard) owner = NULL;
  g_autoptr(GError) error = NULL;
  GSubprocess *xclip;
  DtRead read;

  dt_desktop_replace_clipboard (&f->d, 1 * MiB, 0);
  xclip = xclip_copy (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, path);
  got = dt_read_to_file (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED);
  g_assert_nonnull (strstr (read.error->message, "over 1048576 bytes"));
  g_clear_error (&read.error);
  g_assert_cmpuint (g_bytes_get_size (got), <=, 1 * MiB);
  g_assert_true (dt_log_has ("refused " BIG_TYPE " from the clipboard selection: the content is over 1048576 bytes"));
  dt_forget_owner (&f->d, xclip);
  g_clear_pointer (&got, g_bytes_unref);

  /* another client of ours as the owner: INCR with its size, then a
   * whole property (under the 256 KiB chunk) over a 100 KiB limit */
  owner = qga_desktop_clipboard_x11_new (f->xvfb.display, 0, 0, &error);
  g_assert_no_error (error);
  refuse_read_from (f, owner, 8 * MiB);
  dt_desktop_replace_clipboard (&f->d, 100 * 1024, 0);
  refuse_read_from (f, owner, 200 * 1024);

  /* and a content within the limit still goes */
  {
    g_autoptr(GBytes) small = dt_random_content (100 * 1024, 3);
    g_autofree char *small_path = dt_write_temp_file (small);

    xclip_copy (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, small_path);
    got = dt_read_to_file (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);
    g_assert_no_error (read.error);
    dt_assert_bytes_equal (got, small);
  }
}

static void
test_limit_serve (Fixture *f, gconstpointer data)
{
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) content = dt_random_content (2 * MiB, 5);
  g_autofree char *out_path = qt_tmp_path ("pasted");
  g_autoptr(GBytes) got = NULL;
  DtProvider provider;

  dt_desktop_replace_clipboard (&f->d, 1 * MiB, 0);
  dt_provider_init (&provider);
  dt_provider_add (&provider, BIG_TYPE, content);
  dt_take (&f->d, QGA_SELECTION_CLIPBOARD, types, &provider);
  g_assert_cmpint (xclip_paste (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, out_path, NULL), !=, 0);
  got = dt_read_file (out_path);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_assert_cmpuint (provider.calls, ==, 1);
  g_assert_true (dt_log_has ("refused " BIG_TYPE " of the clipboard selection to X window"));
  g_assert_true (dt_log_has ("the content is over 1048576 bytes"));
  g_unlink (out_path);
  dt_provider_clear (&provider);
}

/* (7): the owner dies half way through INCR: the read fails at once, and
 * the next one works. */
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
  int unread;
  gint64 killed_at;

  owner = xclip_copy (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, path);
  /* half way through its INCR transfer */
  unread = dt_start_read_into_unread_pipe (&f->d, QGA_SELECTION_CLIPBOARD, BIG_TYPE, &read);

  killed_at = qt_now_ms ();
  dt_forget_owner (&f->d, owner);
  dt_wait_read (&read, qt_ms (10000));
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR);
  g_assert_nonnull (strstr (read.error->message, "left before the end"));
  g_clear_error (&read.error);
  /* told by XFixes, not by the 30 s timeout */
  g_assert_cmpint (qt_now_ms () - killed_at, <, qt_ms (5000));
  close (unread);

  xclip_copy (&f->d, QGA_SELECTION_CLIPBOARD, NULL, text_path);
  got = dt_read_to_file (&f->d, QGA_SELECTION_CLIPBOARD, TEXT, &read);
  g_assert_no_error (read.error);
  dt_assert_bytes_equal (got, text);
}

/* Reading what we own goes through the server like any paste, INCR
 * included (we are both ends of it, on one window). */
static void
test_read_own (Fixture *f, gconstpointer data)
{
  const char *types[] = { TEXT, BIG_TYPE, NULL };
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autoptr(GBytes) big = dt_random_content (3 * MiB, 13);
  g_autoptr(GBytes) got = NULL, got_big = NULL;
  DtProvider provider;
  DtRead read;

  dt_provider_init (&provider);
  dt_provider_add (&provider, TEXT, text);
  dt_provider_add (&provider, BIG_TYPE, big);
  dt_take (&f->d, QGA_SELECTION_PRIMARY, types, &provider);
  got = dt_read_to_file (&f->d, QGA_SELECTION_PRIMARY, TEXT, &read);
  g_assert_no_error (read.error);
  dt_assert_bytes_equal (got, text);
  g_assert_cmpuint (provider.calls, ==, 1);
  got_big = dt_read_to_file (&f->d, QGA_SELECTION_PRIMARY, BIG_TYPE, &read);
  g_assert_no_error (read.error);
  g_assert_true (dt_log_has ("reading " BIG_TYPE " from primary by INCR (at least 3145728 bytes)"));
  dt_assert_bytes_equal (got_big, big);
  g_assert_cmpuint (provider.calls, ==, 2);
  /* and the window still hears of the next chunk after that */
  g_clear_pointer (&got, g_bytes_unref);
  got = dt_read_to_file (&f->d, QGA_SELECTION_PRIMARY, BIG_TYPE, &read);
  g_assert_no_error (read.error);
  dt_assert_bytes_equal (got, big);
  dt_provider_clear (&provider);
}

/* At most QGA_DESKTOP_MAX_SERVES pastes of ours at once: the next is
 * refused, and those in progress complete. */
static void
test_concurrent_serves (Fixture *f, gconstpointer data)
{
  /* not text: xclip asks again for STRING when UTF8_STRING is refused */
  const char *types[] = { BIG_TYPE, NULL };
  g_autoptr(GBytes) text = dt_random_content (1000, 9);
  GSubprocess *pastes[QGA_DESKTOP_MAX_SERVES + 1];
  guint succeeded = 0, refused = 0;
  DtProvider provider;

  dt_provider_init (&provider);
  dt_provider_add (&provider, BIG_TYPE, text);
  provider.hold = TRUE;
  dt_take (&f->d, QGA_SELECTION_CLIPBOARD, types, &provider);
  for (guint i = 0; i < G_N_ELEMENTS (pastes); i++)
    pastes[i] = xclip_paste_start (f, QGA_SELECTION_CLIPBOARD, BIG_TYPE);
  g_assert_true (QT_WAIT (provider.calls == QGA_DESKTOP_MAX_SERVES &&
                          dt_log_has ("pastes are in progress already"), qt_ms (10000)));
  dt_provider_release_held (&provider);
  for (guint i = 0; i < G_N_ELEMENTS (pastes); i++)
    {
      g_autoptr(GBytes) out = NULL;

      if (dt_wait_process (pastes[i], &out, qt_ms (10000), g_subprocess_force_exit) == 0)
        {
          dt_assert_bytes_equal (out, text);
          succeeded++;
        }
      else
        refused++;
      g_object_unref (pastes[i]);
    }
  g_assert_cmpuint (succeeded, ==, QGA_DESKTOP_MAX_SERVES);
  g_assert_cmpuint (refused, ==, 1);
  g_assert_cmpuint (provider.calls, ==, QGA_DESKTOP_MAX_SERVES);
  dt_provider_clear (&provider);
}

/* The X server goes away: the read in progress fails, "closed" is
 * emitted once, and what follows fails cleanly. */
static void
test_display_lost (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) text = dt_sample_text ();
  g_autofree char *path = dt_write_temp_file (text);
  GSubprocess *owner;
  DtRead read;
  QtPipeReader reader;

  owner = xclip_copy (&f->d, QGA_SELECTION_CLIPBOARD, NULL, path);
  stop_process (owner);
  dt_start_read (&f->d, QGA_SELECTION_CLIPBOARD, TEXT, qt_pipe_reader_start (&reader), &read);
  g_subprocess_send_signal (f->xvfb.process, SIGTERM);
  dt_wait_read (&read, qt_ms (10000));
  g_assert_error (read.error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR);
  g_assert_nonnull (strstr (read.error->message, "lost the connection"));
  g_clear_error (&read.error);
  g_bytes_unref (qt_pipe_reader_finish (&reader, 10000));
  g_assert_cmpuint (f->d.closed, ==, 1);
  g_assert_true (dt_log_has ("lost the connection to X display"));

  dt_assert_lost_cleanly (&f->d);
}

/* Any X client can offer atoms we have not seen, copy after copy: the
 * module's atom-name cache holds at most X11_MAX_ATOM_NAMES, and every
 * atom still has its name (asked again once dropped). Six batches of
 * X11_MAX_TARGETS fresh atoms, as six copies offering that many. */
static void
test_atom_names_bounded (Fixture *f, gconstpointer data)
{
  QgaDesktopClipboardX11 *x11 = (QgaDesktopClipboardX11 *) f->d.clipboard;
  guint n = X11_MAX_ATOM_NAMES + 2 * X11_MAX_TARGETS;
  g_autofree xcb_atom_t *atoms = g_new (xcb_atom_t, n);
  guint before = g_hash_table_size (x11->atom_names);
  guint most = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("_QGA_TEST_ATOM_%u", i);

      atoms[i] = x11_intern_atom (x11, name);
      g_assert_cmpuint (atoms[i], !=, XCB_ATOM_NONE);
    }
  for (guint i = 0; i < n; i += X11_MAX_TARGETS)
    {
      x11_fetch_atom_names (x11, atoms + i, MIN (X11_MAX_TARGETS, n - i));
      most = MAX (most, g_hash_table_size (x11->atom_names));
    }
  g_assert_cmpuint (most, <=, X11_MAX_ATOM_NAMES);
  g_assert_cmpuint (most, >, before + X11_MAX_TARGETS);   /* it did fill */
  for (guint i = 0; i < n; i += 997)
    {
      g_autofree char *name = g_strdup_printf ("_QGA_TEST_ATOM_%u", i);

      g_assert_cmpstr (x11_atom_name (x11, atoms[i]), ==, name);
    }
  g_assert_cmpuint (g_hash_table_size (x11->atom_names), <=, X11_MAX_ATOM_NAMES);
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

int
main (int argc, char **argv)
{
  int status;

  dt_log_start ();
  qt_init (&argc, &argv);
  g_free (dt_find_tool ("Xvfb", "xvfb"));   /* missing: the run fails now, not per case */
  xclip_path = dt_find_tool ("xclip", "xclip");

  g_test_add_func ("/desktop-x11/targets-mapping", test_targets_mapping);
  DT_ADD ("/desktop-x11/backend-choice", test_backend_choice, NULL);
  DT_ADD ("/desktop-x11/read-text/clipboard", test_read_text, GINT_TO_POINTER (QGA_SELECTION_CLIPBOARD));
  DT_ADD ("/desktop-x11/read-text/primary", test_read_text, GINT_TO_POINTER (QGA_SELECTION_PRIMARY));
  DT_ADD ("/desktop-x11/take/clipboard", test_take, GINT_TO_POINTER (QGA_SELECTION_CLIPBOARD));
  DT_ADD ("/desktop-x11/take/primary", test_take, GINT_TO_POINTER (QGA_SELECTION_PRIMARY));
  DT_ADD ("/desktop-x11/read-own", test_read_own, NULL);
  DT_ADD ("/desktop-x11/incr/read", test_incr_read, NULL);
  DT_ADD ("/desktop-x11/incr/serve", test_incr_serve, NULL);
  DT_ADD ("/desktop-x11/no-echo", test_no_echo, NULL);
  DT_ADD ("/desktop-x11/limit/read", test_limit_read, NULL);
  DT_ADD ("/desktop-x11/limit/serve", test_limit_serve, NULL);
  DT_ADD ("/desktop-x11/owner-killed", test_owner_killed, NULL);
  DT_ADD_SHARED ("/desktop-x11/owner-stopped", dt_test_owner_stopped);
  DT_ADD_SHARED ("/desktop-x11/provider-fails", dt_test_provider_fails);
  DT_ADD_SHARED ("/desktop-x11/cancel-read", dt_test_cancel_read);
  DT_ADD_SHARED ("/desktop-x11/concurrent/reads", dt_test_concurrent_reads);
  DT_ADD ("/desktop-x11/concurrent/serves", test_concurrent_serves, NULL);
  DT_ADD ("/desktop-x11/display-lost", test_display_lost, NULL);
  DT_ADD ("/desktop-x11/atom-names-bounded", test_atom_names_bounded, NULL);

  status = qt_run ();
  dt_log_stop ();
  g_free (xclip_path);
  return status;
}
