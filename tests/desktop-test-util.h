/* desktop-test-util.h: what the desktop clipboard's backend tests
 * (test-desktop-x11.c, test-desktop-wayland.c) share: the module's log,
 * the other client's processes, the module under test and its
 * announcements, contents, reads through the module, a provider, and the
 * tests both backends run alike. Every wait iterates the main loop,
 * bounded (see test-util.h).
 */
#pragma once

#include <gio/gio.h>

#include "qga-desktop.h"

#include "test-util.h"

G_BEGIN_DECLS

#define TEXT QGA_DESKTOP_MIME_TEXT
#define BIG_TYPE "application/x-qga-test"
#define UTF8_SAMPLE "héllo wörld ✓ 日本語 — ünïcödé\n"
#define MiB (1024 * 1024)

/* --- the module's log (domain qga-desktop) --- */

/* Before qt_init(): from now on the module's messages are kept. */
void dt_log_start (void);
void dt_log_stop (void);
void dt_log_forget (void);
gboolean dt_log_has (const char *part);

/* --- processes --- */

/* How a process is ended when it must be: g_subprocess_force_exit, or
 * dt_kill_group for one leading a process group. */
typedef void (*DtKillFunc) (GSubprocess *process);

/* sig, or SIGKILL, to the process group process leads. */
void dt_signal_group (GSubprocess *process, int sig);
void dt_kill_group (GSubprocess *process);
/* Wait for process to exit (kill it if it does not within timeout_ms, and
 * fail); its stdout, if it was a pipe, in *out. The exit status, -1 for a
 * signal. */
int dt_wait_process (GSubprocess *process, GBytes **out, guint timeout_ms, DtKillFunc kill);
void dt_kill_process (GSubprocess *process, DtKillFunc kill);
/* The program's path, or the run fails (TAP: it does not skip). */
char *dt_find_tool (const char *name, const char *package);
/* A launcher whose processes get SIGTERM when the test program dies, even
 * if it aborts (SIGTERM: Xvfb then removes its socket and lock file). */
GSubprocessLauncher *dt_launcher_new (GSubprocessFlags flags);

/* --- an X server --- */

/* An Xvfb of 64x64, no TCP, that does not outlive the test. */
typedef struct {
  GSubprocess *process;
  char *display;           /* :N */
  char *log;               /* its stderr */
} DtXvfb;

/* Started and accepting connections (or the test fails with its log). */
void dt_xvfb_start (DtXvfb *xvfb);
/* SIGTERM (SIGKILL if it lingers), its log removed. */
void dt_xvfb_stop (DtXvfb *xvfb);

/* --- a headless sway, and wl-clipboard, as the client user --- */

/* A headless sway (WLR_BACKENDS=headless, WLR_LIBINPUT_NO_DEVICES=1, the
 * pixman renderer: no GPU, no input device). sway refuses to run as root,
 * so, when we are root, it and wl-clipboard run as the user nobody (its
 * passwd home does not exist: HOME is a directory of ours), with an
 * XDG_RUNTIME_DIR of their own (mode 0700, theirs); root connects to the
 * compositor's socket by its full path. Each of those processes leads a
 * process group of its own, killed as a group (dt_kill_group). As root,
 * each also gets a /tmp of its own, dir's tmp/ (a mount namespace): wl-copy
 * keeps what it serves in /tmp/wl-copy-buffer-XXXXXX, and a wl-copy that
 * is killed, as the tests do, would leave that behind. dir is not under
 * /tmp, so that the clients still find it. */
typedef struct {
  char *dir;               /* the client user's: home/, run/ (XDG_RUNTIME_DIR), tmp/, sway.log */
  char *tmp;               /* the clients' /tmp; NULL: they share ours (not root) */
  char *runtime_dir;
  char *home;
  char *log;
  GSubprocess *process;
  char *socket_name;       /* wayland-N, in runtime_dir */
  char *socket_path;
} DtSway;

/* Before any dt_sway_start(): who runs sway and wl-clipboard (nobody as
 * root, else ourselves); without that user the run fails (TAP Bail out). */
void dt_sway_find_client_user (void);
/* Started, its socket accepting connections (or the test fails with its log). */
void dt_sway_start (DtSway *sway);
/* SIGTERM to its group (SIGKILL if it lingers), its directory removed. */
void dt_sway_stop (DtSway *sway);
/* For a client of sway's: the client user, HOME, XDG_RUNTIME_DIR,
 * WAYLAND_DISPLAY (once it is up), a process group of its own, and never
 * outliving the test. */
GSubprocessLauncher *dt_sway_launcher (DtSway *sway, GSubprocessFlags flags);

/* --- the module under test, its announcements, the other client --- */

typedef struct {
  QgaSelectionId selection;
  char **types;
  gboolean ours;
} DtOwnerEvent;

typedef struct _DtDesktop DtDesktop;

/* The backend under test, and the other client (a program) the tests
 * copy and paste with. */
typedef struct {
  const char *name;                /* as qga_desktop_clipboard_get_backend_name() says */
  QgaDesktopClipboard *(*new_clipboard) (const char *display, guint64 max_size, guint timeout_ms,
                                         GError **error);
  /* The other client owns selection, offering the file at path as type
   * (NULL: text), until killed; waits until the module announced it. */
  GSubprocess *(*copy) (DtDesktop *d, QgaSelectionId selection, const char *type, const char *path);
  /* The other client pastes type: its exit status; its stdout in *out,
   * or into out_path. */
  int (*paste) (DtDesktop *d, QgaSelectionId selection, const char *type, const char *out_path,
                GBytes **out);
  void (*stop) (GSubprocess *owner);      /* it answers nothing until resume */
  void (*resume) (GSubprocess *owner);
  DtKillFunc kill;                        /* how its processes are ended */
  gboolean refused_paste_fails;           /* a refused paste exits with an error */
} DtBackend;

/* The first member of a test's fixture: the tests below take the fixture
 * as one. */
struct _DtDesktop {
  const DtBackend *backend;
  const char *display;     /* the fixture's, once its server is up */
  QgaDesktopClipboard *clipboard;
  GArray *events;          /* DtOwnerEvent */
  GPtrArray *owners;       /* the other client's owning processes still running */
  guint closed;            /* "closed" signals */
};

void dt_desktop_init (DtDesktop *d, const DtBackend *backend);
/* Every owner killed; the clipboard, which nothing else may hold, gone. */
void dt_desktop_clear (DtDesktop *d);
/* A new clipboard on d->display (0: the defaults) in d->clipboard, its
 * signals recorded in d. */
void dt_desktop_replace_clipboard (DtDesktop *d, guint64 max_size, guint timeout_ms);
/* An owner d kills at the end, unless dt_forget_owner() did. */
void dt_add_owner (DtDesktop *d, GSubprocess *process);
void dt_forget_owner (DtDesktop *d, GSubprocess *process);
/* Run argv (NULL-terminated here) as an owner of selection; waits until
 * the module announced it. */
GSubprocess *dt_spawn_owner (DtDesktop *d, GSubprocessLauncher *launcher, GPtrArray *argv,
                             QgaSelectionId selection);

const char *dt_selection_name (QgaSelectionId selection);
guint dt_count_events (DtDesktop *d, QgaSelectionId selection, gboolean ours, gboolean with_types);
/* The latest announcement of selection, once there are n with types. */
DtOwnerEvent *dt_wait_announced (DtDesktop *d, QgaSelectionId selection, gboolean ours, guint n);

/* --- contents --- */

/* UTF8_SAMPLE */
GBytes *dt_sample_text (void);
/* dt_png_pixel */
GBytes *dt_sample_png (void);
GBytes *dt_random_content (gsize size, guint64 seed);
char *dt_sha256 (GBytes *bytes);
char *dt_write_temp_file (GBytes *content);
GBytes *dt_read_file (const char *path);
void dt_assert_bytes_equal (GBytes *actual, GBytes *expected);
/* A PNG of one pixel, byte for byte. */
extern const guint8 dt_png_pixel[70];
/* 64 MiB; 16 under a wrapper (valgrind runs 20-50 times slower). */
gsize dt_big_size (void);

/* --- reading through the module --- */

typedef struct {
  gboolean done;
  gboolean ok;
  guint64 bytes;
  GError *error;
} DtRead;

/* The callback of a read whose user_data is a DtRead. */
void dt_on_read_done (GObject *source, GAsyncResult *result, gpointer user_data);
void dt_start_read (DtDesktop *d, QgaSelectionId selection, const char *type, int fd, DtRead *read);
void dt_wait_read (DtRead *read, guint timeout_ms);
/* Start a read into a pipe nobody reads yet, and wait until it holds
 * data: the transfer has begun and waits for us, with the rest still at
 * the owner. Returns the pipe's read end. */
int dt_start_read_into_unread_pipe (DtDesktop *d, QgaSelectionId selection, const char *type,
                                    DtRead *read);
/* Read into a pipe; returns what came through it. */
GBytes *dt_read_pipe (DtDesktop *d, QgaSelectionId selection, const char *type, DtRead *read);
/* Read into a file; returns what it holds afterwards. */
GBytes *dt_read_to_file (DtDesktop *d, QgaSelectionId selection, const char *type, DtRead *read);

/* --- our provider --- */

typedef struct {
  GHashTable *contents;    /* MIME type → GBytes */
  guint calls;
  guint in_progress;
  gboolean hold;           /* keep the requests in held until dt_provider_release_held () */
  gboolean fail;           /* complete at once, with an error, before returning */
  GPtrArray *held;         /* the requests held */
} DtProvider;

/* The QgaDesktopProvider for a DtProvider. */
void dt_provide (QgaDesktopClipboard *clipboard, QgaSelectionId selection, const char *mime_type,
                 int fd, GCancellable *cancellable, QgaDesktopRequest *request, gpointer user_data);
void dt_provider_init (DtProvider *provider);
/* Releases what is held, and waits until every request is complete. */
void dt_provider_clear (DtProvider *provider);
void dt_provider_add (DtProvider *provider, const char *type, GBytes *content);
void dt_provider_release_held (DtProvider *provider);
/* Take selection with types, provided by provider; waits until the
 * module announced it. */
void dt_take (DtDesktop *d, QgaSelectionId selection, const char *const *types,
              DtProvider *provider);

/* --- what the tests of both backends do and check alike --- */

/* DISPLAY and WAYLAND_DISPLAY, saved to be put back (or unset) after a
 * test that changes them. */
typedef struct {
  char *display;
  char *wayland_display;
} DtDisplayEnv;

void dt_display_env_save (DtDisplayEnv *env);
void dt_display_env_restore (DtDisplayEnv *env);

/* The other client copies UTF8_SAMPLE into selection: its first
 * announcement, which has the text type. */
DtOwnerEvent *dt_copy_sample_text (DtDesktop *d, QgaSelectionId selection);
/* Reading selection as text gives UTF8_SAMPLE exactly. */
void dt_assert_reads_sample_text (DtDesktop *d, QgaSelectionId selection);
/* Reading type from selection fails with code (a QGA_ERROR). */
void dt_assert_read_refused (DtDesktop *d, QgaSelectionId selection, const char *type, int code);
/* Take selection as text (UTF8_SAMPLE) and image/png (dt_png_pixel),
 * provided by provider (initialized here). */
void dt_take_text_and_png (DtDesktop *d, QgaSelectionId selection, DtProvider *provider);

/* After the server went away: reads and takes fail cleanly, and "closed"
 * was emitted once. */
void dt_assert_lost_cleanly (DtDesktop *d);

/* For a test program whose fixture, Fixture, has its DtDesktop first and
 * is set up and torn down by fixture_set_up() and fixture_tear_down(). */
#define DT_ADD(path, func, data) \
  g_test_add (path, Fixture, data, fixture_set_up, func, fixture_tear_down)
/* Add one of the tests below, which take the fixture as its DtDesktop. */
#define DT_ADD_SHARED(path, func) \
  g_test_add_vtable (path, sizeof (Fixture), NULL, (GTestFixtureFunc) fixture_set_up, \
                     (GTestFixtureFunc) func, (GTestFixtureFunc) fixture_tear_down)

/* The tests both backends share. */
void dt_test_owner_stopped (DtDesktop *d, gconstpointer data);
void dt_test_cancel_read (DtDesktop *d, gconstpointer data);
void dt_test_concurrent_reads (DtDesktop *d, gconstpointer data);
void dt_test_provider_fails (DtDesktop *d, gconstpointer data);

G_END_DECLS
