/* test-clipboard-e2e.c: the whole clipboard path, with every real part.
 *
 *   this program (as guest programs) ─session bus─ qga-session ─┐
 *                                                   system bus ─ qga-bridge ─ unix socket ─ qga-host clipboard …
 *   tests/fake-logind (sessions and who is active) ─────────────┘
 *
 * Each "user session" is a dbus-daemon of its own (tests/session-bus.conf)
 * with a qga-session started in it; XDG_SESSION_ID tells fake-logind which
 * session the agent is in. The system bus is the private one dbus-test-runner
 * starts (tests/system-bus.conf, with our policy). qga-host runs as the
 * host side, one command at a time, listening on the port's socket; the
 * bridge connects to it as it would to QEMU's chardev.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "test-util.h"

#define CLIPBOARD_IFACE "org.qemu.GuestAgent.Clipboard"
#define TEXT_TYPE "text/plain;charset=utf-8"
#define PNG_TYPE "image/png"
#define NOBODY 65534

/* A 1x1 PNG: binary, with NUL bytes and bytes over 0x7f. */
static const guint8 png_1x1[] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
  0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
  0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
  0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

/* --- content, compared by length and SHA-256 --- */

static GBytes *
make_content (gsize size, guint64 seed)
{
  guint8 *data = g_malloc (size);
  guint64 x = seed | 1;

  for (gsize i = 0; i < size; i++)
    {
      if (i % 8 == 0)
        {
          x ^= x << 13;
          x ^= x >> 7;
          x ^= x << 17;
        }
      data[i] = (guint8) (x >> ((i % 8) * 8));
    }
  return g_bytes_new_take (data, size);
}

static char *
sha256_of_bytes (GBytes *bytes)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}

static char *
sha256_of_file (const char *path, gsize *size)
{
  g_autoptr(GMappedFile) file = g_mapped_file_new (path, FALSE, NULL);
  g_autoptr(GBytes) bytes = NULL;

  if (file == NULL)
    return NULL;
  bytes = g_mapped_file_get_bytes (file);
  *size = g_bytes_get_size (bytes);
  return sha256_of_bytes (bytes);
}

/* --- one user session: its bus, its agent, and this program on it --- */

typedef struct {
  const char *id;          /* XDG_SESSION_ID */
  int uid;                 /* -1: ours (root) */
  GSubprocess *bus;
  char *address;
  QtProc *agent;
  GDBusConnection *program;   /* this test, as a program of the session */
  guint signal_id;
  GPtrArray *signals;         /* "Member (args)" */
  /* what the program supplies when the host pastes */
  GBytes *content;
  gsize supply_limit;         /* write this much, then vanish (G_MAXSIZE: all) */
  GPtrArray *supplies;        /* QtFdCall */
  GPtrArray *writers;         /* GThread */
  int open_fd;                /* with supply_limit: the pipe, left open for the test to close */
} Session;

typedef struct {
  char *port;
  QtProc *logind;
  QtProc *bridge;
  Session *sessions[3];
  guint n_sessions;
} Fixture;

static QtFdCall *
fd_call_start (GDBusConnection *connection, const char *method, GVariant *parameters, int fd)
{
  return qt_fd_call_start (connection, CLIPBOARD_IFACE, method, parameters, fd);
}

static void
on_program_signal (GDBusConnection *connection, const char *sender, const char *path,
                   const char *interface, const char *member, GVariant *parameters,
                   gpointer user_data)
{
  Session *session = user_data;
  g_autofree char *text = g_variant_print (parameters, FALSE);

  g_ptr_array_add (session->signals, g_strdup_printf ("%s %s", member, text));
  if (g_str_equal (member, "DataRequested") && session->content != NULL)
    {
      int writer_fd;
      guint32 request_id;
      int fds[2];

      g_variant_get (parameters, "(&s&su)", NULL, NULL, &request_id);
      g_assert_no_errno (pipe2 (fds, O_CLOEXEC));
      g_ptr_array_add (session->supplies,
                       fd_call_start (connection, "SupplyData", g_variant_new ("(uh)", request_id, 0),
                                      fds[0]));
      writer_fd = fds[1];
      if (session->supply_limit != G_MAXSIZE)
        {
          /* the test closes it after it has left the bus, as a dying process would */
          session->open_fd = fds[1];
          writer_fd = dup (fds[1]);
        }
      g_ptr_array_add (session->writers,
                       qt_write_in_thread (writer_fd, session->content, session->supply_limit));
    }
}

/* Wait for a signal whose text starts with prefix; remove and return it. */
static char *
wait_signal (Session *session, const char *prefix, guint timeout_ms)
{
  gint64 deadline = qt_now_ms () + qt_ms (timeout_ms);

  do
    for (guint i = 0; i < session->signals->len; i++)
      if (g_str_has_prefix (session->signals->pdata[i], prefix))
        return g_ptr_array_steal_index (session->signals, i);
  while (qt_iterate_until (deadline));
  return NULL;
}

static guint
count_signals (Session *session, const char *prefix, guint settle_ms)
{
  gint64 deadline = qt_now_ms () + qt_ms (settle_ms);
  guint n = 0;

  while (qt_iterate_until (deadline))
    ;
  for (guint i = 0; i < session->signals->len; i++)
    n += g_str_has_prefix (session->signals->pdata[i], prefix);
  return n;
}

static const char *const *
as_user (int uid)
{
  static char uid_arg[32], gid_arg[32];
  /* setpriv drops the parent-death signal with the credentials: set it again */
  static const char *prefix[] = { "setpriv", uid_arg, gid_arg, "--clear-groups",
                                  "--pdeathsig=KILL", NULL };

  if (uid < 0)
    return NULL;
  g_snprintf (uid_arg, sizeof uid_arg, "--reuid=%d", uid);
  g_snprintf (gid_arg, sizeof gid_arg, "--regid=%d", uid);
  return prefix;
}

static void
kill_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* The bus's environment is inherited by what it activates. */
static void
start_session_bus (Session *session, const char *id_env)
{
  g_autofree char *config = g_build_filename (g_getenv ("QGA_TEST_BUILDDIR"), "tests",
                                              "session-bus.conf", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  const char *const *prefix = as_user (session->uid);
  g_autofree char *config_arg = g_strdup_printf ("--config-file=%s", config);

  for (const char *const *p = prefix; p != NULL && *p != NULL; p++)
    g_ptr_array_add (argv, (gpointer) *p);
  g_ptr_array_add (argv, (gpointer) "dbus-daemon");
  g_ptr_array_add (argv, config_arg);
  g_ptr_array_add (argv, (gpointer) "--nofork");
  g_ptr_array_add (argv, (gpointer) "--print-address=1");
  g_ptr_array_add (argv, NULL);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  /* an aborted test must not leave its bus behind, holding the output open */
  g_subprocess_launcher_set_child_setup (launcher, kill_with_parent, NULL, NULL);
  g_subprocess_launcher_setenv (launcher, "XDG_SESSION_ID", strchr (id_env, '=') + 1, TRUE);
  session->bus = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (session->bus));
  session->address = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (session->address);
}

/* A user session with its bus; its agent started now, or, with
 * activated, by the bus on the first call. */
static Session *
session_start_full (const char *id, int uid, gboolean activated)
{
  Session *session = g_new0 (Session, 1);
  g_autofree char *bus_env = NULL;
  g_autofree char *id_env = g_strdup_printf ("XDG_SESSION_ID=%s", id);
  g_autofree char *agent_path = g_strdup (g_getenv ("QGA_SESSION"));
  const char *argv[] = { agent_path, "--verbose", NULL };
  const char *env[3];
  gint64 deadline;

  session->id = id;
  session->uid = uid;
  session->signals = g_ptr_array_new_with_free_func (g_free);
  session->supplies = g_ptr_array_new_with_free_func ((GDestroyNotify) qt_fd_call_free);
  session->writers = g_ptr_array_new ();
  session->supply_limit = G_MAXSIZE;
  session->open_fd = -1;
  start_session_bus (session, id_env);
  bus_env = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", session->address);
  env[0] = bus_env;
  env[1] = id_env;
  env[2] = NULL;
  if (!activated)
    session->agent = qt_proc_spawn_full (argv, FALSE, env, as_user (uid));
  session->program = qt_bus_connect_address (session->address);
  session->signal_id = g_dbus_connection_signal_subscribe (session->program, NULL, CLIPBOARD_IFACE,
                                                           NULL, QT_OBJECT_PATH, NULL,
                                                           G_DBUS_SIGNAL_FLAGS_NONE,
                                                           on_program_signal, session, NULL);
  /* wait for the agent to own its name on the session bus */
  deadline = qt_now_ms () + qt_ms (10000);
  while (!activated)
    {
      g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync (session->program, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "NameHasOwner",
                                     g_variant_new ("(s)", QT_BUS_NAME), G_VARIANT_TYPE ("(b)"),
                                     G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
      gboolean owned = FALSE;

      if (reply != NULL)
        g_variant_get (reply, "(b)", &owned);
      if (owned)
        break;
      g_assert_cmpint (qt_now_ms (), <, deadline);
      g_assert_false (qt_proc_exited (session->agent));
      g_usleep (20000);
    }
  return session;
}

static Session *
session_start (const char *id, int uid)
{
  return session_start_full (id, uid, FALSE);
}

/* Calls still on their way complete (with an error, once the connection
 * is closed) into their QtFdCall: wait for that before freeing them. */
static void
supplies_finish (Session *session)
{
  for (guint i = 0; i < session->supplies->len; i++)
    qt_fd_call_wait (session->supplies->pdata[i], 30000);
  g_ptr_array_set_size (session->supplies, 0);
}

static void
session_stop (Session *session)
{
  for (guint i = 0; i < session->writers->len; i++)
    g_thread_join (session->writers->pdata[i]);
  g_ptr_array_unref (session->writers);
  g_dbus_connection_signal_unsubscribe (session->program, session->signal_id);
  g_dbus_connection_close_sync (session->program, NULL, NULL);
  supplies_finish (session);
  g_object_unref (session->program);
  if (session->agent != NULL)
    qt_proc_stop (session->agent);
  g_subprocess_send_signal (session->bus, SIGTERM);
  g_subprocess_wait (session->bus, NULL, NULL);
  g_object_unref (session->bus);
  g_ptr_array_unref (session->signals);
  g_ptr_array_unref (session->supplies);
  g_clear_pointer (&session->content, g_bytes_unref);
  g_free (session->address);
  g_free (session);
}

/* --- the guest program's calls --- */

static guint32
program_grab (Session *session, const char *selection, const char *const *types)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_sync (session->program, QT_BUS_NAME, QT_OBJECT_PATH, CLIPBOARD_IFACE,
                                 "Grab", g_variant_new ("(s^as)", selection, types),
                                 G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, qt_ms (30000),
                                 NULL, &error);
  guint32 serial;

  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &serial);
  return serial;
}

/* A Read into a pipe, drained on the main loop into a checksum. */
typedef struct {
  QtFdCall *call;
  int fd;
  guint watch;
  GChecksum *checksum;
  gsize size;
  gboolean eof;
} Reading;

static gboolean
reading_readable (gint fd, GIOCondition condition, gpointer user_data)
{
  Reading *reading = user_data;
  guint8 buffer[65536];
  gssize n = read (fd, buffer, sizeof buffer);

  if (n > 0)
    {
      g_checksum_update (reading->checksum, buffer, n);
      reading->size += n;
      return G_SOURCE_CONTINUE;
    }
  if (n < 0 && errno == EAGAIN)
    return G_SOURCE_CONTINUE;
  reading->eof = TRUE;
  reading->watch = 0;
  return G_SOURCE_REMOVE;
}

static Reading *
program_read_start (Session *session, const char *selection, const char *type)
{
  Reading *reading = g_new0 (Reading, 1);
  int fds[2];

  g_assert_no_errno (pipe2 (fds, O_CLOEXEC | O_NONBLOCK));
  reading->fd = fds[0];
  reading->checksum = g_checksum_new (G_CHECKSUM_SHA256);
  reading->watch = g_unix_fd_add (fds[0], G_IO_IN | G_IO_HUP, reading_readable, reading);
  reading->call = fd_call_start (session->program, "Read",
                                 g_variant_new ("(ssh)", selection, type, 0), fds[1]);
  return reading;
}

static gboolean
reading_is_done (gpointer data)
{
  Reading *reading = data;

  return reading->call->done && (reading->call->error != NULL || reading->eof);
}

/* Wait for the end; the error, if the Read failed. */
static void
reading_finish (Reading *reading, guint timeout_ms)
{
  g_assert_true (qt_wait_until (reading_is_done, reading, qt_ms (timeout_ms)));
}

static void
reading_free (Reading *reading)
{
  if (reading->watch != 0)
    g_source_remove (reading->watch);
  close (reading->fd);
  g_checksum_free (reading->checksum);
  qt_fd_call_free (reading->call);
  g_free (reading);
}

/* The Read succeeded with exactly content. */
static void
assert_read (Reading *reading, GBytes *content)
{
  g_autofree char *expected = sha256_of_bytes (content);
  guint64 bytes;

  reading_finish (reading, 120000);
  g_assert_no_error (reading->call->error);
  g_variant_get (reading->call->reply, "(t)", &bytes);
  g_assert_cmpuint (bytes, ==, g_bytes_get_size (content));
  g_assert_cmpuint (reading->size, ==, g_bytes_get_size (content));
  g_assert_cmpstr (g_checksum_get_string (reading->checksum), ==, expected);
}

/* --- the host: qga-host commands on the port's socket --- */

static QtProc *
host_start (Fixture *f, const char *const *args)
{
  g_autofree char *socket_arg = g_strdup_printf ("--socket=%s", f->port);
  g_autofree char *host = g_strdup (g_getenv ("QGA_HOST"));
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, host);
  g_ptr_array_add (argv, socket_arg);
  g_ptr_array_add (argv, (gpointer) "--listen");
  g_ptr_array_add (argv, (gpointer) "--timeout=60");
  for (const char *const *a = args; *a != NULL; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  g_ptr_array_add (argv, NULL);
  return qt_proc_spawn ((const char *const *) argv->pdata, TRUE);
}

/* Run a qga-host command to its end; its exit status. */
static int
host_run (Fixture *f, const char *const *args)
{
  return qt_proc_wait_exit (host_start (f, args), qt_ms (120000));
}

/* qga-host clipboard get into a file: the file's checksum, or NULL. */
static char *
host_get (Fixture *f, const char *selection, const char *type, gsize *size, int *status)
{
  g_autofree char *path = qt_tmp_path ("get");
  g_autofree char *selection_arg = g_strdup_printf ("--selection=%s", selection);
  g_autofree char *type_arg = g_strdup_printf ("--type=%s", type);
  const char *args[] = { selection_arg, type_arg, "clipboard", "get", path, NULL };
  char *sum;

  *status = host_run (f, args);
  sum = sha256_of_file (path, size);
  g_unlink (path);
  return sum;
}

/* qga-host clipboard set, serving content until stopped; the guest has
 * seen the grab when this returns. */
static QtProc *
host_set (Fixture *f, Session *active, const char *selection, const char *type, GBytes *content)
{
  g_autofree char *path = qt_tmp_path ("set");
  g_autofree char *selection_arg = g_strdup_printf ("--selection=%s", selection);
  g_autofree char *type_arg = g_strdup_printf ("--type=%s", type);
  const char *args[] = { selection_arg, type_arg, "clipboard", "set", path, NULL };
  g_autofree char *grabbed = NULL;
  g_autofree char *expected = g_strdup_printf ("HostGrabbed ('%s', ['%s']", selection, type);
  QtProc *host;

  g_assert_true (g_file_set_contents (path, g_bytes_get_data (content, NULL),
                                      g_bytes_get_size (content), NULL));
  host = host_start (f, args);
  grabbed = wait_signal (active, expected, 30000);
  g_assert_nonnull (grabbed);
  return host;
}

/* --- fixture --- */

/* data: "no-logind" for a bus without org.freedesktop.login1 */
static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const char *logind_argv[] = {
    g_getenv ("QGA_FAKE_LOGIND"), "--session", "s1:active:seat0", "--session", "s2:inactive:seat0",
    "--session", "s3:active:", NULL
  };

  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
  if (data == NULL)
    {
      f->logind = qt_proc_spawn (logind_argv, TRUE);
      g_assert_true (qt_wait_name_owned ("org.freedesktop.login1", TRUE, qt_ms (5000)));
    }
  f->port = qt_tmp_path ("port");
  f->bridge = qt_spawn_bridge (f->port, "--verbose", NULL);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, TRUE, qt_ms (10000)));
  f->sessions[f->n_sessions++] = session_start ("s1", -1);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < f->n_sessions; i++)
    session_stop (f->sessions[i]);
  qt_proc_stop (f->bridge);
  if (f->logind != NULL)
    qt_proc_stop (f->logind);
  g_unlink (f->port);
  g_free (f->port);
  g_assert_true (qt_wait_name_owned (QT_BUS_NAME, FALSE, qt_ms (5000)));
}

/* --- tests --- */

static void
guest_to_host (Fixture *f, const char *type, GBytes *content)
{
  Session *s = f->sessions[0];
  const char *types[] = { type, NULL };
  g_autofree char *expected = sha256_of_bytes (content);
  g_autofree char *got = NULL;
  gsize size = 0;
  int status;

  g_clear_pointer (&s->content, g_bytes_unref);
  s->content = g_bytes_ref (content);
  program_grab (s, "clipboard", types);
  got = host_get (f, "clipboard", type, &size, &status);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpuint (size, ==, g_bytes_get_size (content));
  g_assert_cmpstr (got, ==, expected);
  g_assert_cmpuint (s->supplies->len, ==, 1);
  qt_fd_call_wait (s->supplies->pdata[0], 30000);
  g_assert_no_error (((QtFdCall *) s->supplies->pdata[0])->error);
  supplies_finish (s);
}

static void
host_to_guest (Fixture *f, const char *type, GBytes *content)
{
  Session *s = f->sessions[0];
  QtProc *host = host_set (f, s, "clipboard", type, content);
  Reading *reading = program_read_start (s, "clipboard", type);

  assert_read (reading, content);
  reading_free (reading);
  qt_proc_stop (host);
}

static void
test_text (Fixture *f, gconstpointer data)
{
  static const char guest_text[] = "copied in the guest: h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93";
  static const char host_text[] = "copied on the host: \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\x8b";
  g_autoptr(GBytes) from_guest = g_bytes_new_static (guest_text, strlen (guest_text));
  g_autoptr(GBytes) from_host = g_bytes_new_static (host_text, strlen (host_text));

  guest_to_host (f, TEXT_TYPE, from_guest);
  host_to_guest (f, TEXT_TYPE, from_host);
}

static void
test_png (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) png = g_bytes_new_static (png_1x1, sizeof png_1x1);

  guest_to_host (f, PNG_TYPE, png);
  host_to_guest (f, PNG_TYPE, png);
}

/* 64 MiB each way (8 MiB under valgrind, which is 50 times slower). */
static void
test_large (Fixture *f, gconstpointer data)
{
  gsize size = qt_under_wrapper () ? 8 * 1024 * 1024 : 64 * 1024 * 1024;
  g_autoptr(GBytes) up = make_content (size, 11);
  g_autoptr(GBytes) down = make_content (size, 12);

  guest_to_host (f, "application/octet-stream", up);
  host_to_guest (f, "application/octet-stream", down);
}

/* Four guest programs read the host's content at the same time. */
static void
test_concurrent (Fixture *f, gconstpointer data)
{
  Session *s = f->sessions[0];
  g_autoptr(GBytes) content = make_content (3 * 1024 * 1024 + 5, 21);
  QtProc *host = host_set (f, s, "clipboard", TEXT_TYPE, content);
  Reading *readings[4];

  for (guint i = 0; i < G_N_ELEMENTS (readings); i++)
    readings[i] = program_read_start (s, "clipboard", TEXT_TYPE);
  for (guint i = 0; i < G_N_ELEMENTS (readings); i++)
    {
      assert_read (readings[i], content);
      reading_free (readings[i]);
    }
  qt_proc_stop (host);
}

/* One copy makes exactly one grab on the other side, and nothing comes
 * back: the guest's grab is seen once by qga-host clipboard watch, and the
 * host's grab reaches the guest once without the guest grabbing back
 * (which would end clipboard set). */
static void
test_no_echo (Fixture *f, gconstpointer data)
{
  Session *s = f->sessions[0];
  const char *types[] = { TEXT_TYPE, NULL };
  const char *watch_args[] = { "clipboard", "watch", NULL };
  g_autoptr(GBytes) content = g_bytes_new_static ("x", 1);
  g_autoptr(JsonObject) line = NULL;
  g_autoptr(JsonObject) extra = NULL;
  QtProc *watch = host_start (f, watch_args);
  QtProc *host;

  g_assert_cmpuint (program_grab (s, "primary", types), >=, 1);
  line = qt_proc_next_json (watch, qt_ms (30000));
  g_assert_nonnull (line);
  g_assert_cmpstr (json_object_get_string_member (line, "event"), ==, "grab");
  g_assert_cmpstr (json_object_get_string_member (line, "selection"), ==, "primary");
  extra = qt_proc_next_json (watch, qt_ms (1000));
  g_assert_null (extra);
  qt_proc_stop (watch);

  host = host_set (f, s, "clipboard", TEXT_TYPE, content);
  g_assert_cmpuint (count_signals (s, "HostGrabbed", 1000), ==, 0);   /* the one was taken */
  g_assert_false (qt_proc_exited (host));
  qt_proc_stop (host);
}

static void
assert_read_denied (Session *session)
{
  Reading *reading = program_read_start (session, "clipboard", TEXT_TYPE);

  reading_finish (reading, 30000);
  qt_assert_dbus_error (reading->call->error, "org.freedesktop.DBus.Error.AccessDenied", NULL);
  reading_free (reading);
}

/* Only the active session's agent hears of the host's clipboard: an
 * inactive session and another user's seatless session get nothing and
 * are refused; switching the active session moves it. */
static void
test_inactive_and_other_user (Fixture *f, gconstpointer data)
{
  Session *active = f->sessions[0];
  Session *inactive = f->sessions[f->n_sessions++] = session_start ("s2", -1);
  Session *other = f->sessions[f->n_sessions++] = session_start ("s3", NOBODY);
  g_autoptr(GBytes) content = g_bytes_new_static ("secret", 6);
  g_autofree char *grabbed = NULL;
  QtProc *host;
  Reading *reading;

  /* both registered before the host grabs */
  assert_read_denied (inactive);
  assert_read_denied (other);
  host = host_set (f, active, "clipboard", TEXT_TYPE, content);
  g_assert_cmpuint (count_signals (inactive, "HostGrabbed", 500), ==, 0);
  g_assert_cmpuint (count_signals (other, "HostGrabbed", 0), ==, 0);
  assert_read_denied (inactive);
  assert_read_denied (other);

  /* the user switches to s2 */
  qt_proc_write_line (f->logind, "active s1 no");
  qt_proc_write_line (f->logind, "active s2 yes");
  grabbed = wait_signal (inactive, "HostGrabbed ('clipboard'", 10000);
  g_assert_nonnull (grabbed);
  g_free (wait_signal (active, "HostReleased ('clipboard'", 10000));
  reading = program_read_start (inactive, "clipboard", TEXT_TYPE);
  assert_read (reading, content);
  reading_free (reading);
  assert_read_denied (active);
  g_assert_cmpuint (count_signals (other, "HostGrabbed", 0), ==, 0);
  qt_proc_stop (host);
}

/* The guest program that owns the selection dies half way through its
 * content: the host's paste fails and writes no file; the next one works. */
static void
test_owner_vanishes (Fixture *f, gconstpointer data)
{
  Session *s = f->sessions[0];
  const char *types[] = { TEXT_TYPE, NULL };
  g_autoptr(GBytes) content = make_content (1024 * 1024, 31);
  g_autofree char *got = NULL;
  gsize size = 0;
  int status;

  s->content = g_bytes_ref (content);
  s->supply_limit = 300 * 1024;
  program_grab (s, "clipboard", types);
  {
    const char *args[] = { "--type=" TEXT_TYPE, "clipboard", "get", "/dev/null", NULL };
    QtProc *host = host_start (f, args);
    gint64 deadline = qt_now_ms () + qt_ms (30000);

    while (s->writers->len == 0 && qt_iterate_until (deadline))
      ;
    g_assert_cmpuint (s->writers->len, ==, 1);
    g_thread_join (g_ptr_array_steal_index (s->writers, 0));
    /* the program dies: its bus connection and its pipe close */
    g_dbus_connection_close_sync (s->program, NULL, NULL);
    close (s->open_fd);
    s->open_fd = -1;
    status = qt_proc_wait_exit (host, qt_ms (60000));
    g_assert_cmpint (status, ==, 1);
  }
  /* a new program on the session bus grabs again; the paste works */
  g_dbus_connection_signal_unsubscribe (s->program, s->signal_id);
  supplies_finish (s);
  g_object_unref (s->program);
  s->program = qt_bus_connect_address (s->address);
  s->signal_id = g_dbus_connection_signal_subscribe (s->program, NULL, CLIPBOARD_IFACE, NULL,
                                                     QT_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                     on_program_signal, s, NULL);
  s->supply_limit = G_MAXSIZE;
  program_grab (s, "clipboard", types);
  got = host_get (f, "clipboard", TEXT_TYPE, &size, &status);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpuint (size, ==, g_bytes_get_size (content));
}

/* The host goes away in the middle of a Read: the reader gets an error,
 * and the next paste works. */
static void
test_host_disconnect (Fixture *f, gconstpointer data)
{
  Session *s = f->sessions[0];
  g_autoptr(GBytes) big = make_content (qt_under_wrapper () ? 4 << 20 : 32 << 20, 41);
  g_autoptr(GBytes) small = g_bytes_new_static ("after", 5);
  QtProc *host = host_set (f, s, "clipboard", TEXT_TYPE, big);
  Reading *reading = program_read_start (s, "clipboard", TEXT_TYPE);
  gint64 deadline = qt_now_ms () + qt_ms (30000);

  while (reading->size == 0 && qt_iterate_until (deadline))
    ;
  g_assert_cmpuint (reading->size, >, 0);
  kill (qt_proc_pid (host), SIGKILL);
  reading_finish (reading, 30000);
  g_assert_nonnull (reading->call->error);
  qt_assert_dbus_error (reading->call->error, "org.qemu.GuestAgent.Error.HostDisconnected", NULL);
  g_assert_cmpuint (reading->size, <, g_bytes_get_size (big));
  reading_free (reading);
  (void) qt_proc_wait_exit (host, qt_ms (5000));

  host_to_guest (f, TEXT_TYPE, small);
}

/* Without logind (docs/CLIPBOARD.md §6.1): the first user to register
 * holds the clipboard; another user's agent is refused, and gets the
 * clipboard once the first user's agents are gone. */
static void
test_no_logind_fallback (Fixture *f, gconstpointer data)
{
  Session *first = f->sessions[0];
  g_autoptr(GBytes) content = g_bytes_new_static ("fallback", 8);
  Session *other;
  QtProc *host;
  Reading *reading;

  /* the first user's agent is registered (its call goes through) */
  host = host_set (f, first, "clipboard", TEXT_TYPE, content);
  reading = program_read_start (first, "clipboard", TEXT_TYPE);
  assert_read (reading, content);
  reading_free (reading);
  other = f->sessions[f->n_sessions++] = session_start ("s9", NOBODY);
  assert_read_denied (other);
  g_assert_cmpuint (count_signals (other, "HostGrabbed", 300), ==, 0);

  /* the first user logs out: the other user's agent takes over */
  session_stop (first);
  f->sessions[0] = f->sessions[--f->n_sessions];
  g_free (wait_signal (other, "HostGrabbed ('clipboard'", 10000));
  reading = program_read_start (other, "clipboard", TEXT_TYPE);
  assert_read (reading, content);
  reading_free (reading);
  qt_proc_stop (host);
}

/* Nothing runs qga-session by hand: the session bus starts it for a
 * program's first call, and the clipboard works through it. */
static void
test_activation (Fixture *f, gconstpointer data)
{
  Session *s = f->sessions[f->n_sessions++] = session_start_full ("s1", -1, TRUE);
  const char *types[] = { TEXT_TYPE, NULL };
  g_autoptr(GBytes) content = g_bytes_new_static ("activated", 9);
  g_autofree char *got = NULL;
  g_autofree char *expected = sha256_of_bytes (content);
  gsize size = 0;
  int status;

  /* the fixture's own session leaves first, so that this one is the active agent */
  session_stop (f->sessions[0]);
  f->sessions[0] = f->sessions[--f->n_sessions];
  s->content = g_bytes_ref (content);
  g_assert_cmpuint (program_grab (s, "clipboard", types), >=, 1);
  got = host_get (f, "clipboard", TEXT_TYPE, &size, &status);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (got, ==, expected);
}

/* --- org.qemu.GuestAgent on the session bus, relayed by qga-session --- */

/* qga-host serving the guest: it answers the host-* commands. */
static QtProc *
host_serve (Fixture *f)
{
  const char *args[] = { "serve", NULL };

  return host_start (f, args);
}

static gboolean
agent_host_connected (gpointer data)
{
  Session *session = data;
  g_autoptr(GVariant) value = qt_get_property (session->program, "HostConnected");

  return value != NULL && g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN) &&
         g_variant_get_boolean (value);
}

static gboolean
agent_host_disconnected (gpointer data)
{
  return !agent_host_connected (data);
}

/* The session's org.qemu.GuestAgent signals, recorded with the clipboard's. */
static guint
agent_signals_subscribe (Session *session, GDBusConnection *connection)
{
  return g_dbus_connection_signal_subscribe (connection, NULL, QT_INTERFACE, NULL, QT_OBJECT_PATH,
                                             NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_program_signal,
                                             session, NULL);
}

static void
agent_call_ok (GDBusConnection *connection, const char *method, GVariant *parameters)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = qt_call_sync (connection, method, parameters, "()", &error);

  g_assert_no_error (error);
}

static void
agent_call_fails (GDBusConnection *connection, const char *method, GVariant *parameters,
                  const char *dbus_error, const char *message_part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = qt_call_sync (connection, method, parameters, NULL, &error);

  g_assert_null (reply);
  qt_assert_dbus_error (error, dbus_error, message_part);
}

/* The agent's properties and the forwarded methods, with the bridge's and
 * the host's answers, errors included; HostEvent both ways. */
static void
test_session_api (Fixture *f, gconstpointer data)
{
  Session *s = f->sessions[0];
  QtProc *host = host_serve (f);
  guint signal_id = agent_signals_subscribe (s, s->program);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) version = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) info = NULL;
  g_autoptr(GVariant) commands = NULL;
  g_autoptr(JsonNode) echoed = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autofree char *host_event = NULL;
  const char *text;

  g_assert_true (qt_wait_until (agent_host_connected, s, qt_ms (30000)));
  version = qt_get_property (s->program, "Version");
  g_assert_nonnull (version);
  g_assert_cmpstr (g_variant_get_string (version, NULL), ==, PACKAGE_VERSION);

  agent_call_ok (s->program, "Ping", NULL);

  reply = qt_call_sync (s->program, "GetHostInfo", NULL, "(a{sv})", &error);
  g_assert_no_error (error);
  info = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (info, "version", "&s", &text));
  g_assert_cmpstr (text, !=, "");
  commands = g_variant_lookup_value (info, "supported_commands", G_VARIANT_TYPE ("aa{sv}"));
  g_assert_nonnull (commands);
  g_assert_cmpuint (g_variant_n_children (commands), >, 0);
  g_clear_pointer (&reply, g_variant_unref);

  /* root: the system bus policy lets Call through */
  reply = qt_call_sync (s->program, "Call", g_variant_new ("(ss)", "host-echo", "{\"x\":1}"), "(s)",
                        &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(&s)", &text);
  echoed = qt_json_parse (text);
  qt_assert_member_json (json_node_get_object (echoed), "x", "1");

  /* errors keep their names: the host's, the bridge's */
  agent_call_fails (s->program, "Call", g_variant_new ("(ss)", "host-frobnicate", ""),
                    QT_ERROR_PREFIX "CommandNotFound", NULL);
  agent_call_fails (s->program, "Call", g_variant_new ("(ss)", "guest-ping", ""),
                    "org.freedesktop.DBus.Error.InvalidArgs", "invalid command name");

  /* events both ways */
  agent_call_ok (s->program, "SendEvent", g_variant_new ("(ss)", "GUEST_HELLO", "{\"a\":2}"));
  event = qt_proc_next_json (host, qt_ms (10000));
  g_assert_nonnull (event);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "GUEST_HELLO");
  qt_proc_write_line (host, "event HOST_HELLO {\"b\":3}");
  host_event = wait_signal (s, "HostEvent ('HOST_HELLO', '{\"b\":3}')", 10000);
  g_assert_nonnull (host_event);

  /* HostConnected follows the bridge's */
  qt_proc_stop (host);
  g_assert_true (qt_wait_until (agent_host_disconnected, s, qt_ms (10000)));
  agent_call_fails (s->program, "Ping", NULL, QT_ERROR_PREFIX "HostDisconnected", NULL);
  g_dbus_connection_signal_unsubscribe (s->program, signal_id);
}

/* Call and SendEvent go to the bridge as the session's user: for another
 * user than root, the system bus policy refuses them; Ping is anyone's. */
static void
test_session_call_denied (Fixture *f, gconstpointer data)
{
  Session *other = f->sessions[f->n_sessions++] = session_start ("s3", NOBODY);
  QtProc *host = host_serve (f);

  g_assert_true (qt_wait_until (agent_host_connected, other, qt_ms (30000)));
  agent_call_ok (other->program, "Ping", NULL);
  agent_call_fails (other->program, "Call", g_variant_new ("(ss)", "host-echo", "{}"),
                    "org.freedesktop.DBus.Error.AccessDenied", NULL);
  agent_call_fails (other->program, "SendEvent", g_variant_new ("(ss)", "GUEST_HELLO", "{}"),
                    "org.freedesktop.DBus.Error.AccessDenied", NULL);
  qt_proc_stop (host);
}

/* A monitor on the system bus: the stats (un)subscriptions the bridge gets. */
static QtMonitor *
monitor_start (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  const char *rules[] = {
    "type='method_call',interface='" QT_INTERFACE "',member='SubscribeHostStats'",
    "type='method_call',interface='" QT_INTERFACE "',member='UnsubscribeHostStats'",
    NULL
  };

  g_assert_no_error (error);
  return qt_monitor_start (address, rules);
}

/* The calls seen, once there are n of them: "MEMBER ARGS" lines, all
 * asserted to come from one sender. */
static char *
monitor_wait (QtMonitor *monitor, guint n)
{
  g_autoptr(GString) text = g_string_new (NULL);
  g_auto(GStrv) seen = NULL;
  g_autofree char *sender = NULL;

  g_assert_true (qt_monitor_wait (monitor, "", n, qt_ms (10000)));
  seen = qt_monitor_seen (monitor);
  for (guint i = 0; seen[i] != NULL; i++)
    {
      const char *space = strchr (seen[i], ' ');

      if (sender == NULL)
        sender = g_strndup (seen[i], space - seen[i]);
      g_assert_true (strncmp (seen[i], sender, space - seen[i]) == 0 &&
                     sender[space - seen[i]] == '\0');
      g_string_append_printf (text, "%s%s", i > 0 ? "; " : "", space + 1);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* GetHostStats relayed; two programs subscribe and the agent holds one
 * subscription at the bridge, at the smallest interval, changed only when
 * that changes; HostStats reach the session while one is subscribed and
 * stop when none is. */
static void
count_flood_event (GDBusConnection *connection, const char *sender, const char *path,
                   const char *interface, const char *member, GVariant *parameters,
                   gpointer user_data)
{
  const char *name;

  g_variant_get (parameters, "(&s&s)", &name, NULL);
  if (g_str_equal (name, "FLOOD"))
    (*(guint *) user_data)++;
}

/* Write all of text to a non-blocking fd, waiting while it is full. */
static void
write_all_waiting (int fd, const char *text, gsize length)
{
  gint64 deadline = qt_now_ms () + qt_ms (30000);

  while (length > 0)
    {
      ssize_t n = write (fd, text, length);

      if (n > 0)
        {
          text += n;
          length -= (gsize) n;
          continue;
        }
      g_assert_true (n < 0 && (errno == EAGAIN || errno == EINTR));
      g_assert_cmpint (qt_now_ms (), <, deadline);
      g_usleep (2000);
    }
}

/* The session bus stops reading while this program, as the host, sends
 * 48 MiB of events: the bridge passes them on the system bus, and
 * qga-session, which cannot hold the system bus, drops what it cannot
 * relay once 4 MiB wait for the session bus, so it stays small. Once the
 * session bus runs again, new events reach the session's programs. */
static void
test_session_bus_stalled (Fixture *f, gconstpointer data)
{
  const guint n_events = qt_under_wrapper () ? 500 : 6000;
  const guint64 rss_bound_kib = 16 * 1024;
  Session *s = f->sessions[0];
  int listen_fd = qt_unix_listen (f->port);
  int wire = qt_accept_bridge (listen_fd, f->bridge, qt_ms (10000));
  int bus_pid = atoi (g_subprocess_get_identifier (s->bus));
  int agent_pid = qt_proc_pid (s->agent);
  g_autofree char *blob = g_strnfill (8000, 'e');
  g_autofree char *flood = g_strdup_printf ("{\"event\":\"FLOOD\",\"data\":{\"blob\":\"%s\"}}\n", blob);
  guint on_session = 0, on_system = 0, session_sub, system_sub;
  guint64 rss_start, rss_stalled;
  GPid watchdog;

  g_assert_cmpint (wire, >=, 0);
  g_assert_true (g_unix_set_fd_nonblocking (wire, TRUE, NULL));
  session_sub = g_dbus_connection_signal_subscribe (s->program, NULL, QT_INTERFACE, "HostEvent",
                                                    QT_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                    count_flood_event, &on_session, NULL);
  system_sub = g_dbus_connection_signal_subscribe (qt_bus (), NULL, QT_INTERFACE, "HostEvent",
                                                   QT_OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                   count_flood_event, &on_system, NULL);
  /* one event through, so that qga-session relays and the match rules stand */
  write_all_waiting (wire, flood, strlen (flood));
  g_assert_true (QT_WAIT (on_session == 1 && on_system == 1, qt_ms (10000)));
  rss_start = qt_proc_rss_kib (agent_pid);

  watchdog = qt_process_stop (bus_pid, 60);
  for (guint i = 0; i < n_events; i++)
    {
      write_all_waiting (wire, flood, strlen (flood));
      g_main_context_iteration (NULL, FALSE);
    }
  /* the system bus carried all of them: so qga-session has been sent them */
  g_assert_true (QT_WAIT (on_system == n_events + 1, qt_ms (60000)));
  QT_WAIT (FALSE, 500);
  rss_stalled = qt_proc_rss_kib (agent_pid);
  g_test_message ("session bus stopped: %u events of 8 KB; qga-session VmRSS %" G_GUINT64_FORMAT
                  " -> %" G_GUINT64_FORMAT " KiB", n_events, rss_start, rss_stalled);
  if (qt_rss_is_meaningful ())
    g_assert_cmpuint (rss_stalled, <=, rss_start + rss_bound_kib);

  /* the session bus runs again: what was relayed arrives, the rest was
   * dropped, and a new event gets through */
  qt_process_continue (bus_pid, watchdog);
  QT_WAIT (FALSE, 2000);
  g_test_message ("%u of %u reached the session's program", on_session - 1, n_events);
  if (!qt_under_wrapper ())
    g_assert_cmpuint (on_session - 1, <, n_events);
  {
    guint before = on_session;

    write_all_waiting (wire, flood, strlen (flood));
    g_assert_true (QT_WAIT (on_session == before + 1, qt_ms (10000)));
  }
  g_assert_false (qt_proc_exited (s->agent));
  g_dbus_connection_signal_unsubscribe (s->program, session_sub);
  g_dbus_connection_signal_unsubscribe (qt_bus (), system_sub);
  close (wire);
  close (listen_fd);
}

static void
test_session_stats (Fixture *f, gconstpointer data)
{
  Session *s = f->sessions[0];
  QtProc *host = host_serve (f);
  guint signal_id = agent_signals_subscribe (s, s->program);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autofree char *seen = NULL;
  GDBusConnection *second;
  QtMonitor *monitor;
  guint32 cpus = 0;

  g_assert_true (qt_wait_until (agent_host_connected, s, qt_ms (30000)));
  reply = qt_call_sync (s->program, "GetHostStats", NULL, "(a{sv})", &error);
  g_assert_no_error (error);
  stats = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (stats, "cpu-count", "u", &cpus));
  g_assert_cmpuint (cpus, ==, sysconf (_SC_NPROCESSORS_ONLN));

  agent_call_fails (s->program, "SubscribeHostStats", g_variant_new ("(u)", 0),
                    "org.freedesktop.DBus.Error.InvalidArgs", NULL);
  agent_call_fails (s->program, "UnsubscribeHostStats", NULL,
                    QT_ERROR_PREFIX "GenericError", "no stats subscription");

  monitor = monitor_start ();
  second = qt_bus_connect_address (s->address);
  agent_call_ok (s->program, "SubscribeHostStats", g_variant_new ("(u)", 300));
  agent_call_ok (second, "SubscribeHostStats", g_variant_new ("(u)", 100));
  agent_call_ok (second, "SubscribeHostStats", g_variant_new ("(u)", 500));   /* replaces 100 */
  seen = monitor_wait (monitor, 3);
  g_assert_cmpstr (seen, ==, "SubscribeHostStats (300,); SubscribeHostStats (100,); "
                   "SubscribeHostStats (300,)");
  g_free (wait_signal (s, "HostStats ({", 10000));
  g_assert_cmpuint (count_signals (s, "HostStats ({", 1500), >=, 2);

  /* the second program unsubscribes: nothing changes at the bridge */
  agent_call_ok (second, "UnsubscribeHostStats", NULL);
  g_ptr_array_set_size (s->signals, 0);
  g_assert_cmpuint (count_signals (s, "HostStats ({", 1500), >=, 2);

  /* it subscribes again, then leaves the bus: back to the first's interval */
  agent_call_ok (second, "SubscribeHostStats", g_variant_new ("(u)", 100));
  g_dbus_connection_close_sync (second, NULL, NULL);
  g_object_unref (second);
  g_free (seen);
  seen = monitor_wait (monitor, 5);
  g_assert_true (g_str_has_suffix (seen, "SubscribeHostStats (100,); "
                                   "SubscribeHostStats (300,)"));

  /* the last one unsubscribes: so does the agent, and HostStats stop */
  agent_call_ok (s->program, "UnsubscribeHostStats", NULL);
  g_free (seen);
  seen = monitor_wait (monitor, 6);
  g_assert_true (g_str_has_suffix (seen, "UnsubscribeHostStats ()"));
  (void) count_signals (s, "HostStats", 500);
  g_ptr_array_set_size (s->signals, 0);
  g_assert_cmpuint (count_signals (s, "HostStats", 1500), ==, 0);
  g_assert_cmpuint (qt_monitor_count (monitor, ""), ==, 6);

  qt_monitor_stop (monitor);
  g_dbus_connection_signal_unsubscribe (s->program, signal_id);
  qt_proc_stop (host);
}

/* The bridge restarts: the agent subscribes again by itself, and HostStats
 * come back to the program that subscribed before. */
static void
test_session_stats_bridge_restart (Fixture *f, gconstpointer data)
{
  Session *s = f->sessions[0];
  QtProc *host = host_serve (f);
  guint signal_id = agent_signals_subscribe (s, s->program);

  g_assert_true (qt_wait_until (agent_host_connected, s, qt_ms (30000)));
  agent_call_ok (s->program, "SubscribeHostStats", g_variant_new ("(u)", 200));
  g_free (wait_signal (s, "HostStats ({", 10000));

  qt_proc_stop (f->bridge);
  g_assert_true (qt_wait_until (agent_host_disconnected, s, qt_ms (10000)));
  f->bridge = qt_spawn_bridge (f->port, "--verbose", NULL);
  g_assert_true (qt_wait_until (agent_host_connected, s, qt_ms (30000)));
  g_ptr_array_set_size (s->signals, 0);
  g_assert_cmpuint (count_signals (s, "HostStats ({", 2000), >=, 2);

  agent_call_ok (s->program, "UnsubscribeHostStats", NULL);
  g_dbus_connection_signal_unsubscribe (s->program, signal_id);
  qt_proc_stop (host);
}

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);
  qt_use_system_bus ();
  if (geteuid () != 0)
    {
      g_test_skip ("needs root: the test runs agents as another user and owns system bus names");
      return qt_run ();
    }
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/clipboard-e2e/text", test_text);
  ADD ("/clipboard-e2e/png", test_png);
  ADD ("/clipboard-e2e/large", test_large);
  ADD ("/clipboard-e2e/concurrent", test_concurrent);
  ADD ("/clipboard-e2e/no-echo", test_no_echo);
  ADD ("/clipboard-e2e/inactive-and-other-user", test_inactive_and_other_user);
  ADD ("/clipboard-e2e/owner-vanishes", test_owner_vanishes);
  ADD ("/clipboard-e2e/host-disconnect", test_host_disconnect);
  ADD ("/clipboard-e2e/activation", test_activation);
  ADD ("/clipboard-e2e/session-api", test_session_api);
  ADD ("/clipboard-e2e/session-call-denied", test_session_call_denied);
  ADD ("/clipboard-e2e/session-stats", test_session_stats);
  ADD ("/clipboard-e2e/session-stats-bridge-restart", test_session_stats_bridge_restart);
  ADD ("/clipboard-e2e/session-bus-stalled", test_session_bus_stalled);
  g_test_add ("/clipboard-e2e/no-logind-fallback", Fixture, "no-logind", fixture_setup,
              test_no_logind_fallback, fixture_teardown);
  return qt_run ();
}
