/* test-util.h: helpers shared by the integration tests (test-protocol,
 * test-dbus).
 *
 * Everything here runs on the default main context of the test thread.
 * Every wait is bounded; pass base timeouts through qt_ms(), which scales
 * them by 10 when QGA_TEST_WRAPPER (valgrind) is set.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define QT_BUS_NAME "org.qemu.GuestAgent"
#define QT_OBJECT_PATH "/org/qemu/GuestAgent"
#define QT_INTERFACE "org.qemu.GuestAgent"
#define QT_ERROR_PREFIX "org.qemu.GuestAgent.Error."

/* --- setup, timing -------------------------------------------------------- */

/* g_test_init() plus our own state; qt_run() runs the tests and cleans up. */
void qt_init (int *argc, char ***argv);
int qt_run (void);

/* TRUE when QGA_TEST_WRAPPER is set (the daemons run under valgrind). */
gboolean qt_under_wrapper (void);

/* FALSE when the daemons' RSS says nothing about their own memory: under
 * QGA_TEST_WRAPPER (valgrind) or a sanitizer build (ASan's quarantine and
 * shadow memory; make check-asan sets ASAN_OPTIONS). */
gboolean qt_rss_is_meaningful (void);
/* A process's VmRSS. */
guint64 qt_proc_rss_kib (int pid);

/* SIGSTOP pid (a bus daemon, say). A shell continues it after seconds in
 * any case, so that a failed assertion cannot leave it stopped for good;
 * qt_process_continue() continues it now and ends that shell. */
GPid qt_process_stop (int pid, guint seconds);
void qt_process_continue (int pid, GPid watchdog);

/* A timeout in milliseconds, scaled by 10 under the wrapper. */
guint qt_ms (guint base_ms);

/* Monotonic clock in milliseconds. */
gint64 qt_now_ms (void);

/* The run's temporary directory (removed by qt_run()), and a fresh,
 * unique path inside it, e.g. qt_tmp_path ("sock") → TMP/sock-3. */
const char *qt_tmpdir (void);
char *qt_tmp_path (const char *stem);

/* --- waiting -------------------------------------------------------------- */

typedef gboolean (*QtCondition) (gpointer data);

/* Iterate the default main context until cond (data) is TRUE or timeout_ms
 * passed. The context is woken at least every 10 ms, so cond may poll
 * external state. Returns the last value of cond. */
gboolean qt_wait_until (QtCondition cond, gpointer data, guint timeout_ms);

/* One iteration of the default main context, blocking at most 10 ms and
 * never past deadline_ms (qt_now_ms() time). FALSE once deadline passed. */
gboolean qt_iterate_until (gint64 deadline_ms);

/* The same as qt_wait_until() with an expression, e.g.
 * g_assert_true (QT_WAIT (call->done, qt_ms (2000))); */
#define QT_WAIT(expr, timeout_ms)                                      \
  ({                                                                   \
    gint64 qt_wait_deadline_ = qt_now_ms () + (timeout_ms);            \
    gboolean qt_wait_ok_;                                              \
    while (!(qt_wait_ok_ = !!(expr)) && qt_iterate_until (qt_wait_deadline_)) \
      ;                                                                \
    qt_wait_ok_ || !!(expr);                                           \
  })

/* Wait until fd has one of events (G_IO_IN, G_IO_OUT...) pending, iterating
 * the main context meanwhile. FALSE on timeout. */
gboolean qt_wait_fd (int fd, GIOCondition events, guint timeout_ms);

/* --- processes ------------------------------------------------------------ */

typedef struct _QtProc QtProc;

/* A built program: $env if set, else relative to the build tree
 * ("service/qga-bridge"). */
char *qt_program_path (const char *env, const char *relative);

/* Append QGA_TEST_WRAPPER's words (valgrind and its options) to argv. */
void qt_add_wrapper (GPtrArray *argv);

/* Start argv behind QGA_TEST_WRAPPER. With pipes, stdin and stdout are
 * pipes to us (stdout lines are collected, see qt_proc_next_json());
 * otherwise stdin is /dev/null and stdout goes to our stderr. */
QtProc *qt_proc_spawn (const char *const *argv, gboolean pipes);

/* The same with env ("NAME=VALUE" strings) added to our environment, and
 * prefix (e.g. setpriv and its options) put before the wrapper; either
 * may be NULL. */
QtProc *qt_proc_spawn_full (const char *const *argv, gboolean pipes, const char *const *env,
                            const char *const *prefix);

/* qga-bridge --bus=session (or system, after qt_use_system_bus())
 * --channel=unix:SOCKET_PATH EXTRA..., NULL-terminated. */
QtProc *qt_spawn_bridge (const char *socket_path, ...) G_GNUC_NULL_TERMINATED;

/* qga-host ARGS... behind QGA_TEST_WRAPPER with its stdout and stderr
 * collected. With input, that is written to its stdin, which is then
 * closed; without, stdin stays open until qt_host_proc_wait(). */
typedef struct _QtHostProc QtHostProc;

QtHostProc *qt_host_proc_spawn (const char *const *args, GBytes *input);
/* Close stdin, with terminate send SIGTERM, wait (bounded) for the exit
 * and the end of the output, and free proc. Returns the exit status; a
 * signal death or valgrind's 99 fails. out and err may be NULL. */
int qt_host_proc_wait (QtHostProc *proc, gboolean terminate, char **out, char **err);
void qt_host_proc_signal (QtHostProc *proc, int sig);
gboolean qt_host_proc_exited (QtHostProc *proc);
/* The next line it printed on stdout, parsed as JSON; NULL on timeout. */
JsonNode *qt_host_proc_next_line (QtHostProc *proc, guint timeout_ms);

/* qga-host --socket=SOCKET_PATH [--listen] in serve mode, stdin/stdout piped. */
QtProc *qt_spawn_host (const char *socket_path, gboolean listen);

int qt_proc_pid (QtProc *proc);
gboolean qt_proc_exited (QtProc *proc);

/* Send SIGTERM, wait (bounded) for the exit and assert it exited 0; on
 * timeout SIGKILL it and fail. Frees proc. */
void qt_proc_stop (QtProc *proc);

/* Wait (bounded) for the process to exit by itself, free it and return
 * its exit status (-1 if a signal killed it). Fails on timeout. */
int qt_proc_wait_exit (QtProc *proc, guint timeout_ms);

/* Write one line (a '\n' is appended) to the process's stdin pipe. */
void qt_proc_write_line (QtProc *proc, const char *line);

/* The next stdout line (after the ones already returned) that parses as
 * a JSON object; NULL on timeout. Non-JSON lines are skipped. */
JsonObject *qt_proc_next_json (QtProc *proc, guint timeout_ms);

/* utime + stime of a process from /proc/PID/stat, in seconds. */
double qt_proc_cpu_seconds (int pid);

/* --- D-Bus ---------------------------------------------------------------- */

/* Make the helpers use the system bus instead of the session bus; call
 * before any of them connects. */
void qt_use_system_bus (void);
gboolean qt_using_system_bus (void);

/* The shared bus connection (owned by the helpers). */
GDBusConnection *qt_bus (void);

/* A new private connection to the session bus; close with qt_bus_close(). */
GDBusConnection *qt_bus_new_connection (void);
/* The same to the bus at address (a bus the test started itself). */
GDBusConnection *qt_bus_connect_address (const char *address);
void qt_bus_close (GDBusConnection *connection);

/* Wait until name has an owner (or none, with owned FALSE). */
gboolean qt_wait_name_owned (const char *name, gboolean owned, guint timeout_ms);
/* The same on another bus. */
gboolean qt_wait_name_owned_on (GDBusConnection *connection, const char *name, gboolean owned,
                                guint timeout_ms);

/* The bridge's property NAME (sync Get); NULL on error. */
GVariant *qt_get_property (GDBusConnection *connection, const char *name);
gboolean qt_get_host_connected (GDBusConnection *connection);

/* Record every HostConnected value announced by PropertiesChanged, as
 * seen on connection, into values (a GArray of gboolean). Returns the
 * subscription id. */
guint qt_record_host_connected (GDBusConnection *connection, GArray *values);

/* Wait until the bridge's HostConnected property is value. */
gboolean qt_wait_host_connected (gboolean value, guint timeout_ms);

/* An asynchronous method call on the bridge and its outcome. */
typedef struct {
  gboolean done;
  GVariant *result;
  GError *error;
  gint64 done_ms;      /* qt_now_ms() at completion */
  guint *order_counter; /* optional: completion order */
  guint order;
} QtCall;

QtCall *qt_call_start (GDBusConnection *connection, const char *method,
                       GVariant *parameters, const char *reply_type);
/* Wait until call is done; FALSE on timeout. */
gboolean qt_call_wait (QtCall *call, guint timeout_ms);
/* Frees a finished call (asserts it finished). */
void qt_call_free (QtCall *call);

/* Synchronous wrappers, returning the reply or NULL with error set. */
GVariant *qt_call_sync (GDBusConnection *connection, const char *method,
                        GVariant *parameters, const char *reply_type,
                        GError **error);

/* Assert error is the remote D-Bus error dbus_name; if message_part is
 * not NULL, the message must contain it. */
void qt_assert_dbus_error (const GError *error, const char *dbus_name,
                           const char *message_part);

/* A call on the bridge's object that passes one fd and returns (t), as the
 * clipboard's SupplyData and Read do. */
typedef struct {
  gboolean done;
  GVariant *reply;
  GError *error;
} QtFdCall;

/* Takes fd. dest is the bus name (QT_BUS_NAME on either bus). */
QtFdCall *qt_fd_call_start (GDBusConnection *connection, const char *interface,
                            const char *method, GVariant *parameters, int fd);
/* Wait until done; asserts it finishes within timeout_ms (scaled). */
void qt_fd_call_wait (QtFdCall *call, guint timeout_ms);
/* The (t) it returned; asserts success. */
guint64 qt_fd_call_bytes (QtFdCall *call, guint timeout_ms);
void qt_fd_call_free (QtFdCall *call);

/* A program writing content (at most limit bytes) into fd at its own pace,
 * in a thread; fd is closed at the end. g_thread_join() returns the number
 * of bytes written (GSIZE_TO_POINTER). */
GThread *qt_write_in_thread (int fd, GBytes *content, gsize limit);

/* What arrives at a pipe's read end, gathered while the main loop runs:
 * qt_pipe_reader_start() returns the write end, for the program under
 * test; qt_pipe_reader_finish() waits (scaled timeout_ms) for the end of
 * the pipe and returns everything that came. */
typedef struct {
  int fd;
  GByteArray *data;
  gboolean eof;
  guint watch;
} QtPipeReader;

int qt_pipe_reader_start (QtPipeReader *reader);
GBytes *qt_pipe_reader_finish (QtPipeReader *reader, guint timeout_ms);

/* --- raw unix sockets (the test as the host) ------------------------------ */

int qt_unix_listen (const char *path);
/* A connected, non-blocking fd, or -1 on timeout. */
int qt_unix_accept (int listen_fd, guint timeout_ms);

/* Accept the bridge's connection on listen_fd, giving up (-1) after
 * timeout_ms (not scaled) or as soon as bridge has exited. */
int qt_accept_bridge (int listen_fd, QtProc *bridge, guint timeout_ms);

typedef struct {
  int fd;
  GByteArray *buf;   /* read, not yet consumed */
  gboolean eof;
} QtWire;

QtWire *qt_wire_new (int fd);   /* takes fd */
void qt_wire_free (QtWire *wire); /* closes fd */

/* Write everything (bounded wait while the peer does not read); asserts. */
void qt_wire_write (QtWire *wire, const void *data, gsize length);
void qt_wire_write_str (QtWire *wire, const char *text);
/* One write() per byte. */
void qt_wire_write_bytewise (QtWire *wire, const char *text);

/* The next line, '\n' included; NULL on timeout or end of file. */
GBytes *qt_wire_read_line (QtWire *wire, guint timeout_ms);
/* Read and discard bytes up to and including the first byte b. */
gboolean qt_wire_skip_through (QtWire *wire, guint8 b, guint timeout_ms);
/* TRUE if no byte arrives within ms (and none is buffered). */
gboolean qt_wire_is_silent (QtWire *wire, guint ms);

/* The next message: reads one line, asserts it is exactly one JSON value
 * (checked with qga-framer) followed by '\n', with a leading 0xFF only if
 * delimited is not NULL (*delimited then tells whether it was there).
 * NULL on timeout. If raw is not NULL, it receives the line's bytes. */
JsonNode *qt_wire_read_message (QtWire *wire, gboolean *delimited,
                                GBytes **raw, guint timeout_ms);
/* The same, asserting it arrives within a (scaled) default timeout and is
 * an object. */
JsonObject *qt_wire_expect_object (QtWire *wire);

/* guest-sync round trip: writes guest-sync with id and asserts the next
 * message is exactly {"return": id}. */
void qt_wire_sync (QtWire *wire, gint64 id);

/* --- a bus monitor -------------------------------------------------------- */

/* A connection to the bus at address that became a monitor
 * (org.freedesktop.DBus.Monitoring.BecomeMonitor) for rules: it records
 * every method call and signal it sees, in order, as "SENDER MEMBER ARGS"
 * (ARGS as g_variant_print()s them, "()" for none). Recorded in GDBus's
 * worker thread: the test's main loop need not run. */
typedef struct _QtMonitor QtMonitor;

QtMonitor *qt_monitor_start (const char *address, const char *const *rules);
void qt_monitor_stop (QtMonitor *monitor);
/* How many of those seen are "MEMBER ARGS" starting with prefix ("": all). */
guint qt_monitor_count (QtMonitor *monitor, const char *prefix);
/* Wait until qt_monitor_count (monitor, prefix) >= n; FALSE on timeout. */
gboolean qt_monitor_wait (QtMonitor *monitor, const char *prefix, guint n, guint timeout_ms);
/* A copy of the lines seen so far. */
GStrv qt_monitor_seen (QtMonitor *monitor);

/* --- JSON ----------------------------------------------------------------- */

JsonNode *qt_json_parse (const char *text);   /* asserts valid JSON */
char *qt_json_to_string (JsonNode *node);
/* Assert object has member name equal (json_node_equal) to the JSON text. */
void qt_assert_member_json (JsonObject *object, const char *name, const char *json);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QtWire, qt_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (QtCall, qt_call_free)

G_END_DECLS
