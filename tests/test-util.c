/* test-util.c: helpers shared by the integration tests (see test-util.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include <gio/gunixfdlist.h>

#include "qga-framer.h"

#include "test-util.h"

#define READ_CHUNK (256 * 1024)
#define STOP_TIMEOUT_MS 10000

static char *tmpdir;
static guint tmp_counter;
static char **wrapper_argv;      /* QGA_TEST_WRAPPER split into words, or NULL */
static char *argv0_dir;
static GDBusConnection *shared_bus;

/* --- setup, timing ------------------------------------------------------ */

void
qt_init (int *argc, char ***argv)
{
  const char *wrapper = g_getenv ("QGA_TEST_WRAPPER");

  g_test_init (argc, argv, NULL);
  signal (SIGPIPE, SIG_IGN);
  argv0_dir = g_path_get_dirname ((*argv)[0]);

  if (wrapper != NULL && *wrapper != '\0')
    {
      g_autoptr(GError) error = NULL;

      if (!g_shell_parse_argv (wrapper, NULL, &wrapper_argv, &error))
        g_error ("QGA_TEST_WRAPPER: %s", error->message);
    }
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);

        if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
            !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
          remove_tree (child);
        else
          g_unlink (child);
      }
  g_rmdir (path);
}

int
qt_run (void)
{
  int status = g_test_run ();

  if (tmpdir != NULL)
    remove_tree (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
  g_clear_object (&shared_bus);
  g_clear_pointer (&wrapper_argv, g_strfreev);
  g_clear_pointer (&argv0_dir, g_free);
  return status;
}

gboolean
qt_under_wrapper (void)
{
  return wrapper_argv != NULL;
}

guint64
qt_proc_rss_kib (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *status = NULL;
  const char *line;
  guint64 kib = 0;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "VmRSS:");
  g_assert_nonnull (line);
  g_assert_cmpint (sscanf (line, "VmRSS: %" G_GUINT64_FORMAT, &kib), ==, 1);
  return kib;
}

GPid
qt_process_stop (int pid, guint seconds)
{
  g_autofree char *script = g_strdup_printf ("sleep %u; kill -CONT %d", seconds, pid);
  const char *argv[] = { "/bin/sh", "-c", script, NULL };
  g_autoptr(GError) error = NULL;
  GPid watchdog;

  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                NULL, NULL, &watchdog, &error));
  g_assert_no_error (error);
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  return watchdog;
}

void
qt_process_continue (int pid, GPid watchdog)
{
  g_assert_cmpint (kill (pid, SIGCONT), ==, 0);
  kill (watchdog, SIGKILL);
  waitpid (watchdog, NULL, 0);
  g_spawn_close_pid (watchdog);
}

gboolean
qt_rss_is_meaningful (void)
{
  return !qt_under_wrapper () && g_getenv ("ASAN_OPTIONS") == NULL;
}

guint
qt_ms (guint base_ms)
{
  return qt_under_wrapper () ? base_ms * 10 : base_ms;
}

gint64
qt_now_ms (void)
{
  return g_get_monotonic_time () / 1000;
}

const char *
qt_tmpdir (void)
{
  if (tmpdir == NULL)
    {
      g_autoptr(GError) error = NULL;

      tmpdir = g_dir_make_tmp ("qga-test-XXXXXX", &error);
      g_assert_no_error (error);
    }
  return tmpdir;
}

char *
qt_tmp_path (const char *stem)
{
  g_autofree char *name = g_strdup_printf ("%s-%u", stem, ++tmp_counter);

  return g_build_filename (qt_tmpdir (), name, NULL);
}

/* --- waiting ------------------------------------------------------------ */

static gboolean
tick_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
qt_iterate_until (gint64 deadline_ms)
{
  gint64 now = qt_now_ms ();
  gboolean fired = FALSE;
  guint tick;

  if (now >= deadline_ms)
    return FALSE;
  tick = g_timeout_add ((guint) MIN (10, deadline_ms - now), tick_cb, &fired);
  g_main_context_iteration (NULL, TRUE);
  if (!fired)
    g_source_remove (tick);
  return TRUE;
}

gboolean
qt_wait_until (QtCondition cond, gpointer data, guint timeout_ms)
{
  return QT_WAIT (cond (data), timeout_ms);
}

static gboolean
fd_ready_cb (int fd, GIOCondition condition, gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
qt_wait_fd (int fd, GIOCondition events, guint timeout_ms)
{
  struct pollfd pfd = { .fd = fd, .events = 0 };
  gboolean ready = FALSE;
  GSource *source;

  /* already ready? (no main context round trip needed) */
  if (events & G_IO_IN)
    pfd.events |= POLLIN;
  if (events & G_IO_OUT)
    pfd.events |= POLLOUT;
  if (poll (&pfd, 1, 0) > 0)
    return TRUE;

  source = g_unix_fd_source_new (fd, events | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) fd_ready_cb, &ready, NULL);
  g_source_attach (source, NULL);
  QT_WAIT (ready, timeout_ms);
  g_source_destroy (source);
  g_source_unref (source);
  return ready;
}

/* --- processes ---------------------------------------------------------- */

struct _QtProc {
  GSubprocess *subprocess;
  char *name;
  int pid;
  gboolean exited;
  gboolean stopping;       /* we asked it to exit */
  /* with pipes */
  GOutputStream *in;
  GDataInputStream *out;
  GCancellable *cancellable;
  gboolean reading;
  GPtrArray *lines;
  guint next_line;
};

static void
child_setup (gpointer data)
{
  /* never outlive the test program, even if it aborts */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
proc_exited_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  QtProc *proc = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  proc->exited = TRUE;
  if (!proc->stopping)
    {
      GSubprocess *sub = proc->subprocess;

      if (g_subprocess_get_if_signaled (sub))
        g_test_message ("%s (pid %d) exited by itself: signal %d", proc->name, proc->pid,
                        g_subprocess_get_term_sig (sub));
      else
        g_test_message ("%s (pid %d) exited by itself: status %d", proc->name, proc->pid,
                        g_subprocess_get_exit_status (sub));
    }
}

static void proc_read_next (QtProc *proc);

static void
proc_line_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  QtProc *proc = data;
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
                                                     result, NULL, &error);

  if (line == NULL)
    {
      proc->reading = FALSE;
      return;
    }
  g_ptr_array_add (proc->lines, line);
  proc_read_next (proc);
}

static void
proc_read_next (QtProc *proc)
{
  g_data_input_stream_read_line_async (proc->out, G_PRIORITY_DEFAULT, proc->cancellable,
                                       proc_line_cb, proc);
}

QtProc *
qt_proc_spawn (const char *const *argv, gboolean pipes)
{
  return qt_proc_spawn_full (argv, pipes, NULL, NULL);
}

void
qt_add_wrapper (GPtrArray *argv)
{
  for (char **w = wrapper_argv; w != NULL && *w != NULL; w++)
    g_ptr_array_add (argv, *w);
}

QtProc *
qt_proc_spawn_full (const char *const *argv, gboolean pipes, const char *const *env,
                    const char *const *prefix)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cmdline = NULL;
  QtProc *proc = g_new0 (QtProc, 1);

  for (const char *const *p = prefix; p != NULL && *p != NULL; p++)
    g_ptr_array_add (args, (gpointer) *p);
  qt_add_wrapper (args);
  for (const char *const *a = argv; *a != NULL; a++)
    g_ptr_array_add (args, (gpointer) *a);
  g_ptr_array_add (args, NULL);

  launcher = g_subprocess_launcher_new (pipes ? G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                              : G_SUBPROCESS_FLAGS_NONE);
  if (!pipes)
    g_subprocess_launcher_take_stdout_fd (launcher, dup (STDERR_FILENO));
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  for (const char *const *e = env; e != NULL && *e != NULL; e++)
    {
      g_auto(GStrv) pair = g_strsplit (*e, "=", 2);

      g_subprocess_launcher_setenv (launcher, pair[0], pair[1] ? pair[1] : "", TRUE);
    }

  cmdline = g_strjoinv (" ", (char **) args->pdata);
  proc->subprocess = g_subprocess_launcher_spawnv (launcher, (const char *const *) args->pdata,
                                                   &error);
  g_assert_no_error (error);
  proc->name = g_path_get_basename (argv[0]);
  proc->pid = atoi (g_subprocess_get_identifier (proc->subprocess));
  g_test_message ("spawned pid %d: %s", proc->pid, cmdline);
  g_subprocess_wait_async (proc->subprocess, NULL, proc_exited_cb, proc);

  if (pipes)
    {
      proc->in = g_object_ref (g_subprocess_get_stdin_pipe (proc->subprocess));
      proc->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc->subprocess));
      g_data_input_stream_set_newline_type (proc->out, G_DATA_STREAM_NEWLINE_TYPE_LF);
      proc->cancellable = g_cancellable_new ();
      proc->lines = g_ptr_array_new_with_free_func (g_free);
      proc->reading = TRUE;
      proc_read_next (proc);
    }
  return proc;
}

char *
qt_program_path (const char *env, const char *relative)
{
  const char *path = g_getenv (env);

  if (path != NULL && *path != '\0')
    return g_strdup (path);
  return g_build_filename (argv0_dir, "..", relative, NULL);
}

QtProc *
qt_spawn_bridge (const char *socket_path, ...)
{
  g_autofree char *bridge = qt_program_path ("QGA_BRIDGE", "service/qga-bridge");
  g_autofree char *channel = g_strdup_printf ("--channel=unix:%s", socket_path);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  const char *arg;
  va_list ap;

  g_ptr_array_add (args, bridge);
  g_ptr_array_add (args, (gpointer) (qt_using_system_bus () ? "--bus=system" : "--bus=session"));
  g_ptr_array_add (args, channel);
  va_start (ap, socket_path);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return qt_proc_spawn ((const char *const *) args->pdata, FALSE);
}

QtProc *
qt_spawn_host (const char *socket_path, gboolean listen)
{
  g_autofree char *host = qt_program_path ("QGA_HOST", "host/qga-host");
  g_autofree char *socket_arg = g_strdup_printf ("--socket=%s", socket_path);
  const char *argv[] = { host, socket_arg, listen ? "--listen" : NULL, NULL };

  return qt_proc_spawn (argv, TRUE);
}

/* --- qga-host with its output collected ------------------------------------ */

typedef struct {
  GInputStream *stream;
  GByteArray *buf;
  gboolean done;
  guint8 chunk[16384];
} HostPipe;

struct _QtHostProc {
  GSubprocess *sub;
  GOutputStream *in;
  HostPipe out, err;
  gboolean exited;
  gsize out_consumed;      /* stdout bytes returned as lines */
};

static void host_pipe_read_next (HostPipe *pipe);

static void
host_pipe_read_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  HostPipe *pipe = data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      pipe->done = TRUE;
      return;
    }
  g_byte_array_append (pipe->buf, pipe->chunk, (guint) n);
  host_pipe_read_next (pipe);
}

static void
host_pipe_read_next (HostPipe *pipe)
{
  g_input_stream_read_async (pipe->stream, pipe->chunk, sizeof pipe->chunk, G_PRIORITY_DEFAULT,
                             NULL, host_pipe_read_cb, pipe);
}

static void
host_pipe_start (HostPipe *pipe, GInputStream *stream)
{
  pipe->stream = stream;
  pipe->buf = g_byte_array_new ();
  host_pipe_read_next (pipe);
}

static void
host_proc_exited_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  QtHostProc *proc = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  proc->exited = TRUE;
}

QtHostProc *
qt_host_proc_spawn (const char *const *args, GBytes *input)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *host = qt_program_path ("QGA_HOST", "host/qga-host");
  g_autofree char *cmdline = NULL;
  QtHostProc *proc = g_new0 (QtHostProc, 1);

  qt_add_wrapper (argv);
  g_ptr_array_add (argv, host);
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  cmdline = g_strjoinv (" ", (char **) argv->pdata);
  g_test_message ("spawning %s", cmdline);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  proc->sub = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_wait_async (proc->sub, NULL, host_proc_exited_cb, proc);
  proc->in = g_subprocess_get_stdin_pipe (proc->sub);
  if (input != NULL)
    {
      /* qga-host reads all of stdin before it connects: a blocking write is fine. */
      gsize size;
      const void *data = g_bytes_get_data (input, &size);

      g_output_stream_write_all (proc->in, data, size, NULL, NULL, &error);
      g_assert_no_error (error);
      g_output_stream_close (proc->in, NULL, NULL);
    }
  host_pipe_start (&proc->out, g_subprocess_get_stdout_pipe (proc->sub));
  host_pipe_start (&proc->err, g_subprocess_get_stderr_pipe (proc->sub));
  return proc;
}

static char *
host_pipe_text (HostPipe *pipe)
{
  /* An empty GByteArray's data is NULL. */
  return g_strndup (pipe->buf->len > 0 ? (const char *) pipe->buf->data : "", pipe->buf->len);
}

int
qt_host_proc_wait (QtHostProc *proc, gboolean terminate, char **out, char **err)
{
  g_autofree char *err_text = NULL;
  int status;

  g_output_stream_close (proc->in, NULL, NULL);
  if (terminate)
    g_subprocess_send_signal (proc->sub, SIGTERM);
  if (!QT_WAIT (proc->exited && proc->out.done && proc->err.done, qt_ms (15000)))
    {
      g_subprocess_force_exit (proc->sub);
      QT_WAIT (proc->exited, qt_ms (5000));
      err_text = host_pipe_text (&proc->err);
      g_error ("qga-host did not exit in time; stderr: %s", err_text);
    }
  g_assert_false (g_subprocess_get_if_signaled (proc->sub));
  status = g_subprocess_get_exit_status (proc->sub);
  err_text = host_pipe_text (&proc->err);
  g_test_message ("qga-host exited with %d; stderr:\n%s", status, err_text);
  g_assert_cmpint (status, !=, 99);  /* valgrind found errors or leaks */
  if (out != NULL)
    *out = host_pipe_text (&proc->out);
  if (err != NULL)
    *err = g_steal_pointer (&err_text);
  g_byte_array_unref (proc->out.buf);
  g_byte_array_unref (proc->err.buf);
  g_object_unref (proc->sub);
  g_free (proc);
  return status;
}

void
qt_host_proc_signal (QtHostProc *proc, int sig)
{
  g_subprocess_send_signal (proc->sub, sig);
}

gboolean
qt_host_proc_exited (QtHostProc *proc)
{
  return proc->exited;
}

JsonNode *
qt_host_proc_next_line (QtHostProc *proc, guint timeout_ms)
{
  GByteArray *buf = proc->out.buf;
  const guint8 *nl = NULL;
  g_autofree char *line = NULL;

  /* An empty GByteArray's data is NULL, which memchr must not get. */
  QT_WAIT (buf->len > proc->out_consumed
           && (nl = memchr (buf->data + proc->out_consumed, '\n',
                            buf->len - proc->out_consumed)) != NULL,
           timeout_ms);
  if (nl == NULL)
    return NULL;
  line = g_strndup ((const char *) buf->data + proc->out_consumed,
                    (gsize) (nl - (buf->data + proc->out_consumed)));
  proc->out_consumed = (gsize) (nl - buf->data) + 1;
  g_test_message ("qga-host printed: %s", line);
  return qt_json_parse (line);
}

int
qt_proc_pid (QtProc *proc)
{
  return proc->pid;
}

gboolean
qt_proc_exited (QtProc *proc)
{
  return proc->exited;
}

static void
proc_free (QtProc *proc)
{
  if (proc->reading)
    {
      g_cancellable_cancel (proc->cancellable);
      if (!QT_WAIT (!proc->reading, qt_ms (5000)))
        g_error ("%s: stdout reader did not stop", proc->name);
    }
  g_clear_object (&proc->in);
  g_clear_object (&proc->out);
  g_clear_object (&proc->cancellable);
  g_clear_pointer (&proc->lines, g_ptr_array_unref);
  g_clear_object (&proc->subprocess);
  g_free (proc->name);
  g_free (proc);
}

void
qt_proc_stop (QtProc *proc)
{
  g_autofree char *name = g_strdup (proc->name);
  gboolean killed = FALSE;
  int status;

  proc->stopping = TRUE;
  if (!proc->exited)
    g_subprocess_send_signal (proc->subprocess, SIGTERM);
  else
    g_test_message ("%s (pid %d) had already exited", name, proc->pid);

  if (!QT_WAIT (proc->exited, qt_ms (STOP_TIMEOUT_MS)))
    {
      g_subprocess_force_exit (proc->subprocess);
      killed = QT_WAIT (proc->exited, qt_ms (STOP_TIMEOUT_MS));
      g_assert_true (killed);
      proc_free (proc);
      g_error ("%s did not exit within %u ms of SIGTERM; killed", name, qt_ms (STOP_TIMEOUT_MS));
    }

  if (g_subprocess_get_if_signaled (proc->subprocess))
    {
      int sig = g_subprocess_get_term_sig (proc->subprocess);

      proc_free (proc);
      g_error ("%s died of signal %d (%s)", name, sig, g_strsignal (sig));
    }
  status = g_subprocess_get_exit_status (proc->subprocess);
  proc_free (proc);
  if (status != 0)
    g_error ("%s exited with status %d, expected 0%s", name, status,
             status == 99 ? " (valgrind found errors or leaks)" : "");
}

int
qt_proc_wait_exit (QtProc *proc, guint timeout_ms)
{
  int status = -1;

  proc->stopping = TRUE;
  if (!QT_WAIT (proc->exited, timeout_ms))
    {
      g_subprocess_force_exit (proc->subprocess);
      QT_WAIT (proc->exited, qt_ms (STOP_TIMEOUT_MS));
      g_error ("%s did not exit within %u ms", proc->name, timeout_ms);
    }
  if (g_subprocess_get_if_exited (proc->subprocess))
    status = g_subprocess_get_exit_status (proc->subprocess);
  proc_free (proc);
  return status;
}

void
qt_proc_write_line (QtProc *proc, const char *line)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strconcat (line, "\n", NULL);

  g_assert_nonnull (proc->in);
  g_output_stream_write_all (proc->in, text, strlen (text), NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_flush (proc->in, NULL, &error);
  g_assert_no_error (error);
}

JsonObject *
qt_proc_next_json (QtProc *proc, guint timeout_ms)
{
  gint64 deadline = qt_now_ms () + timeout_ms;

  g_assert_nonnull (proc->lines);
  for (;;)
    {
      while (proc->next_line < proc->lines->len)
        {
          const char *line = proc->lines->pdata[proc->next_line++];
          g_autoptr(JsonParser) parser = json_parser_new ();

          if (json_parser_load_from_data (parser, line, -1, NULL) &&
              JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
            return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
          g_test_message ("%s: non-JSON stdout line: %s", proc->name, line);
        }
      if (!proc->reading || !qt_iterate_until (deadline))
        return NULL;
    }
}

double
qt_proc_cpu_seconds (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *contents = NULL;
  g_auto(GStrv) fields = NULL;
  g_autoptr(GError) error = NULL;
  const char *after;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  /* pid (comm) state ppid ...: comm may hold spaces, so split after ')' */
  after = strrchr (contents, ')');
  g_assert_nonnull (after);
  fields = g_strsplit (after + 2, " ", -1);
  /* fields[0] is field 3 (state); utime is field 14, stime field 15 */
  g_assert_cmpuint (g_strv_length (fields), >, 12);
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) /
         (double) sysconf (_SC_CLK_TCK);
}

/* --- D-Bus -------------------------------------------------------------- */

static GBusType bus_type = G_BUS_TYPE_SESSION;

void
qt_use_system_bus (void)
{
  g_assert_null (shared_bus);
  bus_type = G_BUS_TYPE_SYSTEM;
}

gboolean
qt_using_system_bus (void)
{
  return bus_type == G_BUS_TYPE_SYSTEM;
}

GDBusConnection *
qt_bus (void)
{
  if (shared_bus == NULL)
    {
      g_autoptr(GError) error = NULL;

      shared_bus = g_bus_get_sync (bus_type, NULL, &error);
      g_assert_no_error (error);
      g_dbus_connection_set_exit_on_close (shared_bus, FALSE);
    }
  return shared_bus;
}

GDBusConnection *
qt_bus_connect_address (const char *address)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection = g_dbus_connection_new_for_address_sync (
      address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);

  g_assert_no_error (error);
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  return connection;
}

GDBusConnection *
qt_bus_new_connection (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = g_dbus_address_get_for_bus_sync (bus_type, NULL, &error);

  g_assert_no_error (error);
  return qt_bus_connect_address (address);
}

void
qt_bus_close (GDBusConnection *connection)
{
  g_autoptr(GError) error = NULL;

  g_dbus_connection_close_sync (connection, NULL, &error);
  g_assert_no_error (error);
  g_object_unref (connection);
}

static gboolean
name_has_owner (GDBusConnection *connection, const char *name)
{
  g_autoptr(GVariant) reply = NULL;
  gboolean owned = FALSE;

  reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", name), G_VARIANT_TYPE ("(b)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  g_assert_nonnull (reply);
  g_variant_get (reply, "(b)", &owned);
  return owned;
}

/* --- a bus monitor --- */

struct _QtMonitor {
  GDBusConnection *connection;
  GMutex lock;
  GPtrArray *seen;          /* "SENDER MEMBER ARGS" */
};

static GDBusMessage *
monitor_filter (GDBusConnection *connection, GDBusMessage *message, gboolean incoming,
                gpointer user_data)
{
  QtMonitor *monitor = user_data;
  GDBusMessageType type = g_dbus_message_get_message_type (message);
  GVariant *body = g_dbus_message_get_body (message);
  g_autofree char *args = NULL;

  if (!incoming ||
      (type != G_DBUS_MESSAGE_TYPE_METHOD_CALL && type != G_DBUS_MESSAGE_TYPE_SIGNAL))
    return message;   /* the reply to BecomeMonitor */
  /* NameAcquired and NameLost are the bus's to us, not traffic seen */
  if (g_strcmp0 (g_dbus_message_get_sender (message), "org.freedesktop.DBus") != 0)
    {
      args = body != NULL ? g_variant_print (body, FALSE) : g_strdup ("()");
      g_mutex_lock (&monitor->lock);
      g_ptr_array_add (monitor->seen,
                       g_strdup_printf ("%s %s %s", g_dbus_message_get_sender (message),
                                        g_dbus_message_get_member (message), args));
      g_mutex_unlock (&monitor->lock);
    }
  /* a copy of someone else's message: a monitor must not answer it */
  g_object_unref (message);
  return NULL;
}

QtMonitor *
qt_monitor_start (const char *address, const char *const *rules)
{
  QtMonitor *monitor = g_new0 (QtMonitor, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_mutex_init (&monitor->lock);
  monitor->seen = g_ptr_array_new_with_free_func (g_free);
  monitor->connection = qt_bus_connect_address (address);
  g_dbus_connection_add_filter (monitor->connection, monitor_filter, monitor, NULL);
  reply = g_dbus_connection_call_sync (monitor->connection, "org.freedesktop.DBus",
                                       "/org/freedesktop/DBus", "org.freedesktop.DBus.Monitoring",
                                       "BecomeMonitor", g_variant_new ("(^asu)", rules, 0), NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  return monitor;
}

void
qt_monitor_stop (QtMonitor *monitor)
{
  g_dbus_connection_close_sync (monitor->connection, NULL, NULL);
  g_object_unref (monitor->connection);
  g_ptr_array_unref (monitor->seen);
  g_mutex_clear (&monitor->lock);
  g_free (monitor);
}

guint
qt_monitor_count (QtMonitor *monitor, const char *prefix)
{
  guint n = 0;

  g_mutex_lock (&monitor->lock);
  for (guint i = 0; i < monitor->seen->len; i++)
    {
      const char *line = monitor->seen->pdata[i];

      n += g_str_has_prefix (strchr (line, ' ') + 1, prefix);
    }
  g_mutex_unlock (&monitor->lock);
  return n;
}

gboolean
qt_monitor_wait (QtMonitor *monitor, const char *prefix, guint n, guint timeout_ms)
{
  return QT_WAIT (qt_monitor_count (monitor, prefix) >= n, timeout_ms);
}

GStrv
qt_monitor_seen (QtMonitor *monitor)
{
  GStrv lines;

  g_mutex_lock (&monitor->lock);
  lines = g_new (char *, monitor->seen->len + 1);
  for (guint i = 0; i < monitor->seen->len; i++)
    lines[i] = g_strdup (monitor->seen->pdata[i]);
  lines[monitor->seen->len] = NULL;
  g_mutex_unlock (&monitor->lock);
  return lines;
}

gboolean
qt_wait_name_owned (const char *name, gboolean owned, guint timeout_ms)
{
  return qt_wait_name_owned_on (qt_bus (), name, owned, timeout_ms);
}

gboolean
qt_wait_name_owned_on (GDBusConnection *connection, const char *name, gboolean owned,
                       guint timeout_ms)
{
  return QT_WAIT (name_has_owner (connection, name) == owned, timeout_ms);
}

GVariant *
qt_get_property (GDBusConnection *connection, const char *name)
{
  g_autoptr(GVariant) reply = NULL;
  GVariant *value = NULL;

  reply = g_dbus_connection_call_sync (connection, QT_BUS_NAME, QT_OBJECT_PATH,
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", QT_INTERFACE, name),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE,
                                       (int) qt_ms (10000), NULL, NULL);
  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(v)", &value);
  return value;
}

static int
host_connected_state (GDBusConnection *connection)
{
  g_autoptr(GVariant) value = qt_get_property (connection, "HostConnected");

  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return -1;
  return g_variant_get_boolean (value) ? 1 : 0;
}

gboolean
qt_get_host_connected (GDBusConnection *connection)
{
  int state = host_connected_state (connection);

  g_assert_cmpint (state, >=, 0);
  return state == 1;
}

static void
host_connected_changed_cb (GDBusConnection *connection, const char *sender, const char *path,
                           const char *interface, const char *member, GVariant *parameters,
                           gpointer user_data)
{
  GArray *values = user_data;
  g_autoptr(GVariant) changed = g_variant_get_child_value (parameters, 1);
  gboolean value;

  if (g_variant_lookup (changed, "HostConnected", "b", &value))
    g_array_append_val (values, value);
}

guint
qt_record_host_connected (GDBusConnection *connection, GArray *values)
{
  return g_dbus_connection_signal_subscribe (connection, NULL, "org.freedesktop.DBus.Properties",
                                             "PropertiesChanged", QT_OBJECT_PATH, QT_INTERFACE,
                                             G_DBUS_SIGNAL_FLAGS_NONE, host_connected_changed_cb,
                                             values, NULL);
}

gboolean
qt_wait_host_connected (gboolean value, guint timeout_ms)
{
  return QT_WAIT (host_connected_state (qt_bus ()) == (value ? 1 : 0), timeout_ms);
}

static void
call_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  QtCall *call = data;

  call->result = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &call->error);
  call->done = TRUE;
  call->done_ms = qt_now_ms ();
  if (call->order_counter != NULL)
    call->order = (*call->order_counter)++;
}

QtCall *
qt_call_start (GDBusConnection *connection, const char *method, GVariant *parameters,
               const char *reply_type)
{
  QtCall *call = g_new0 (QtCall, 1);

  g_dbus_connection_call (connection, QT_BUS_NAME, QT_OBJECT_PATH, QT_INTERFACE, method,
                          parameters, reply_type ? G_VARIANT_TYPE (reply_type) : NULL,
                          G_DBUS_CALL_FLAGS_NONE, (int) qt_ms (60000), NULL,
                          call_done_cb, call);
  return call;
}

gboolean
qt_call_wait (QtCall *call, guint timeout_ms)
{
  return QT_WAIT (call->done, timeout_ms);
}

void
qt_call_free (QtCall *call)
{
  if (call == NULL)
    return;
  /* the callback still points at it otherwise */
  if (!call->done && !qt_call_wait (call, qt_ms (60000) + 1000))
    g_error ("a D-Bus call never finished");
  g_clear_pointer (&call->result, g_variant_unref);
  g_clear_error (&call->error);
  g_free (call);
}

GVariant *
qt_call_sync (GDBusConnection *connection, const char *method, GVariant *parameters,
              const char *reply_type, GError **error)
{
  return g_dbus_connection_call_sync (connection, QT_BUS_NAME, QT_OBJECT_PATH, QT_INTERFACE,
                                      method, parameters,
                                      reply_type ? G_VARIANT_TYPE (reply_type) : NULL,
                                      G_DBUS_CALL_FLAGS_NONE, (int) qt_ms (60000), NULL, error);
}

void
qt_assert_dbus_error (const GError *error, const char *dbus_name, const char *message_part)
{
  g_autofree char *remote = NULL;

  if (error == NULL)
    g_error ("expected D-Bus error %s, but the call succeeded", dbus_name);
  remote = g_dbus_error_get_remote_error (error);
  if (g_strcmp0 (remote, dbus_name) != 0)
    g_error ("expected D-Bus error %s, got %s: %s", dbus_name,
             remote ? remote : "(not remote)", error->message);
  if (message_part != NULL && strstr (error->message, message_part) == NULL)
    g_error ("D-Bus error %s: message \"%s\" lacks \"%s\"", dbus_name, error->message,
             message_part);
}

/* --- fd-passing calls and writers --- */

static void
fd_call_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  QtFdCall *call = user_data;

  call->reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), NULL,
                                                                 result, &call->error);
  call->done = TRUE;
}

QtFdCall *
qt_fd_call_start (GDBusConnection *connection, const char *interface, const char *method,
                  GVariant *parameters, int fd)
{
  g_autoptr(GUnixFDList) list = g_unix_fd_list_new_from_array (&fd, 1);   /* takes fd */
  QtFdCall *call = g_new0 (QtFdCall, 1);

  g_dbus_connection_call_with_unix_fd_list (connection, QT_BUS_NAME, QT_OBJECT_PATH, interface,
                                            method, parameters, G_VARIANT_TYPE ("(t)"),
                                            G_DBUS_CALL_FLAGS_NONE, G_MAXINT, list, NULL,
                                            fd_call_cb, call);
  return call;
}

static gboolean
fd_call_is_done (gpointer data)
{
  return ((QtFdCall *) data)->done;
}

void
qt_fd_call_wait (QtFdCall *call, guint timeout_ms)
{
  g_assert_true (qt_wait_until (fd_call_is_done, call, qt_ms (timeout_ms)));
}

guint64
qt_fd_call_bytes (QtFdCall *call, guint timeout_ms)
{
  guint64 bytes;

  qt_fd_call_wait (call, timeout_ms);
  g_assert_no_error (call->error);
  g_variant_get (call->reply, "(t)", &bytes);
  return bytes;
}

void
qt_fd_call_free (QtFdCall *call)
{
  g_assert_true (call->done);   /* its callback would write into freed memory */
  g_clear_pointer (&call->reply, g_variant_unref);
  g_clear_error (&call->error);
  g_free (call);
}

typedef struct {
  int fd;
  GBytes *content;
  gsize limit;
} Writer;

static gpointer
writer_thread (gpointer data)
{
  Writer *writer = data;
  gsize size;
  const guint8 *bytes = g_bytes_get_data (writer->content, &size);
  gsize done = 0;

  size = MIN (size, writer->limit);
  while (done < size)
    {
      gssize n = write (writer->fd, bytes + done, size - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break;
      done += n;
    }
  close (writer->fd);
  g_bytes_unref (writer->content);
  g_free (writer);
  return GSIZE_TO_POINTER (done);
}

GThread *
qt_write_in_thread (int fd, GBytes *content, gsize limit)
{
  Writer *writer = g_new0 (Writer, 1);

  writer->fd = fd;
  writer->content = g_bytes_ref (content);
  writer->limit = limit;
  return g_thread_new ("writer", writer_thread, writer);
}

/* --- raw unix sockets --------------------------------------------------- */

static gboolean
on_pipe_readable (int fd, GIOCondition condition, gpointer user_data)
{
  QtPipeReader *reader = user_data;
  guint8 buffer[65536];
  gssize n = read (fd, buffer, sizeof buffer);

  if (n > 0)
    {
      g_byte_array_append (reader->data, buffer, n);
      return G_SOURCE_CONTINUE;
    }
  if (n < 0 && errno == EAGAIN)
    return G_SOURCE_CONTINUE;
  reader->eof = TRUE;
  reader->watch = 0;
  return G_SOURCE_REMOVE;
}

int
qt_pipe_reader_start (QtPipeReader *reader)
{
  int fds[2];

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  g_assert_true (g_unix_set_fd_nonblocking (fds[0], TRUE, NULL));
  reader->fd = fds[0];
  reader->data = g_byte_array_new ();
  reader->eof = FALSE;
  reader->watch = g_unix_fd_add (fds[0], G_IO_IN | G_IO_HUP | G_IO_ERR, on_pipe_readable, reader);
  return fds[1];
}

GBytes *
qt_pipe_reader_finish (QtPipeReader *reader, guint timeout_ms)
{
  g_assert_true (QT_WAIT (reader->eof, qt_ms (timeout_ms)));
  close (reader->fd);
  return g_byte_array_free_to_bytes (g_steal_pointer (&reader->data));
}

int
qt_unix_listen (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (strlen (path), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, path);
  g_unlink (path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (fd, 4), ==, 0);
  return fd;
}

int
qt_unix_accept (int listen_fd, guint timeout_ms)
{
  gint64 deadline = qt_now_ms () + timeout_ms;

  for (;;)
    {
      int fd = accept4 (listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (fd >= 0)
        return fd;
      g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                     errno == ECONNABORTED);
      if (!qt_wait_fd (listen_fd, G_IO_IN, (guint) MAX (0, deadline - qt_now_ms ())))
        return -1;
    }
}

int
qt_accept_bridge (int listen_fd, QtProc *bridge, guint timeout_ms)
{
  gint64 deadline = qt_now_ms () + timeout_ms;

  while (!qt_proc_exited (bridge) && qt_now_ms () < deadline)
    {
      int fd = qt_unix_accept (listen_fd, 100);

      if (fd >= 0)
        return fd;
    }
  return -1;
}

QtWire *
qt_wire_new (int fd)
{
  QtWire *wire = g_new0 (QtWire, 1);

  g_assert_cmpint (fd, >=, 0);
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  wire->fd = fd;
  wire->buf = g_byte_array_new ();
  return wire;
}

void
qt_wire_free (QtWire *wire)
{
  if (wire == NULL)
    return;
  if (wire->fd >= 0)
    close (wire->fd);
  g_byte_array_unref (wire->buf);
  g_free (wire);
}

void
qt_wire_write (QtWire *wire, const void *data, gsize length)
{
  const guint8 *p = data;

  while (length > 0)
    {
      ssize_t n = write (wire->fd, p, length);

      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (!qt_wait_fd (wire->fd, G_IO_OUT, qt_ms (10000)))
            g_error ("the bridge stopped reading (%" G_GSIZE_FORMAT " bytes unwritten)", length);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        g_error ("write to the bridge: %s", g_strerror (errno));
      p += n;
      length -= (gsize) n;
    }
}

void
qt_wire_write_str (QtWire *wire, const char *text)
{
  qt_wire_write (wire, text, strlen (text));
}

void
qt_wire_write_bytewise (QtWire *wire, const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    qt_wire_write (wire, p, 1);
}

/* Read what is available, waiting until deadline_ms. FALSE on timeout or EOF. */
static gboolean
wire_read_more (QtWire *wire, gint64 deadline_ms)
{
  guint8 chunk[READ_CHUNK];

  for (;;)
    {
      ssize_t n;

      if (wire->eof)
        return FALSE;
      n = read (wire->fd, chunk, sizeof chunk);
      if (n > 0)
        {
          g_byte_array_append (wire->buf, chunk, (guint) n);
          return TRUE;
        }
      if (n == 0)
        {
          wire->eof = TRUE;
          return FALSE;
        }
      if (errno == EINTR)
        continue;
      if (errno == ECONNRESET)
        {
          wire->eof = TRUE;
          return FALSE;
        }
      g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
      if (!qt_wait_fd (wire->fd, G_IO_IN, (guint) MAX (0, deadline_ms - qt_now_ms ())))
        return FALSE;
    }
}

/* Index just past the first byte b in the buffer, reading as needed; 0 on
 * timeout or end of file. */
static gsize
wire_find (QtWire *wire, guint8 b, guint timeout_ms)
{
  gint64 deadline = qt_now_ms () + timeout_ms;
  gsize scanned = 0;

  for (;;)
    {
      /* An empty GByteArray's data is NULL, which memchr must not get. */
      const guint8 *hit = wire->buf->len > scanned
        ? memchr (wire->buf->data + scanned, b, wire->buf->len - scanned) : NULL;

      if (hit != NULL)
        return (gsize) (hit - wire->buf->data) + 1;
      scanned = wire->buf->len;
      if (!wire_read_more (wire, deadline))
        return 0;
    }
}

GBytes *
qt_wire_read_line (QtWire *wire, guint timeout_ms)
{
  gsize end = wire_find (wire, '\n', timeout_ms);
  GBytes *line;

  if (end == 0)
    return NULL;
  line = g_bytes_new (wire->buf->data, end);
  g_byte_array_remove_range (wire->buf, 0, (guint) end);
  return line;
}

gboolean
qt_wire_skip_through (QtWire *wire, guint8 b, guint timeout_ms)
{
  gsize end = wire_find (wire, b, timeout_ms);

  if (end == 0)
    return FALSE;
  g_byte_array_remove_range (wire->buf, 0, (guint) end);
  return TRUE;
}

gboolean
qt_wire_is_silent (QtWire *wire, guint ms)
{
  if (wire->buf->len > 0)
    return FALSE;
  return !wire_read_more (wire, qt_now_ms () + ms) && !wire->eof;
}

JsonNode *
qt_wire_read_message (QtWire *wire, gboolean *delimited, GBytes **raw, guint timeout_ms)
{
  g_autoptr(GBytes) line = qt_wire_read_line (wire, timeout_ms);
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(QgaFramer) framer = NULL;
  const char *message = NULL;
  gsize message_length = 0;
  const char *data;
  gsize length;
  gsize offset = 0;

  if (line == NULL)
    return NULL;
  data = g_bytes_get_data (line, &length);
  g_assert_cmpuint (length, >=, 2);
  g_assert_cmpint (data[length - 1], ==, '\n');

  if ((guint8) data[0] == 0xFF)
    {
      if (delimited == NULL)
        g_error ("unexpected 0xFF before a message: %.*s", (int) MIN (length, 200), data);
      offset = 1;
    }
  if (delimited != NULL)
    *delimited = offset == 1;
  if (memchr (data + offset, 0xFF, length - offset) != NULL)
    g_error ("a 0xFF byte inside a message line");
  /* compact JSON: no raw control byte but the final newline (they would
   * be resync bytes to the peer's framer) */
  for (gsize i = offset; i + 1 < length; i++)
    if ((guint8) data[i] < 0x20)
      g_error ("raw control byte 0x%02x at offset %" G_GSIZE_FORMAT " of a message line: %.200s",
               (guint8) data[i], i, data);

  /* exactly one JSON value, filling the whole line */
  framer = qga_framer_new (length + 16);
  qga_framer_push (framer, data + offset, length - offset);
  if (qga_framer_next (framer, &message, &message_length, &error) != QGA_FRAMER_MESSAGE)
    g_error ("not one JSON message: %s: %.*s", error ? error->message : "incomplete",
             (int) MIN (length, 200), data);
  g_assert_cmpuint (message_length, ==, length - offset - 1);
  g_assert_true (message[0] == '{' || message[0] == '[');
  g_assert_cmpint (qga_framer_next (framer, &message, &message_length, &error), ==,
                   QGA_FRAMER_NEED_MORE);
  g_assert_true (qga_framer_is_idle (framer));

  g_assert_true (g_utf8_validate (data + offset, (gssize) (length - offset), NULL));
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data + offset, (gssize) (length - offset), &error))
    g_error ("bad JSON from the bridge: %s: %.*s", error->message, (int) MIN (length, 200), data);
  if (raw != NULL)
    *raw = g_bytes_ref (line);
  return json_parser_steal_root (parser);
}

JsonObject *
qt_wire_expect_object (QtWire *wire)
{
  g_autoptr(JsonNode) node = qt_wire_read_message (wire, NULL, NULL, qt_ms (5000));

  if (node == NULL)
    g_error ("no message from the bridge within %u ms", qt_ms (5000));
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

void
qt_wire_sync (QtWire *wire, gint64 id)
{
  g_autofree char *command = g_strdup_printf (
      "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":%" G_GINT64_FORMAT "}}\n", id);
  g_autoptr(JsonObject) reply = NULL;

  qt_wire_write_str (wire, command);
  reply = qt_wire_expect_object (wire);
  if (json_object_get_size (reply) != 1 || !json_object_has_member (reply, "return") ||
      json_node_get_value_type (json_object_get_member (reply, "return")) != G_TYPE_INT64 ||
      json_object_get_int_member (reply, "return") != id)
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), reply);
      g_autofree char *text = qt_json_to_string (node);

      g_error ("guest-sync %" G_GINT64_FORMAT ": unexpected reply %s", id, text);
    }
}

/* --- JSON --------------------------------------------------------------- */

JsonNode *
qt_json_parse (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  if (!json_parser_load_from_data (parser, text, -1, &error))
    g_error ("invalid JSON (%s): %.200s", error->message, text);
  return json_parser_steal_root (parser);
}

char *
qt_json_to_string (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

void
qt_assert_member_json (JsonObject *object, const char *name, const char *json)
{
  g_autoptr(JsonNode) expected = qt_json_parse (json);
  JsonNode *actual = json_object_get_member (object, name);

  if (actual == NULL)
    g_error ("member \"%s\" missing (expected %s)", name, json);
  if (!json_node_equal (actual, expected))
    {
      g_autofree char *text = qt_json_to_string (actual);

      g_error ("member \"%s\": got %.300s, expected %.300s", name, text, json);
    }
}
