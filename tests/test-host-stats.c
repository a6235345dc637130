/* test-host-stats.c: qga-host's host stats (docs/HOST-STATS.md), with this
 * program as the guest.
 *
 * Each test listens on a fresh unix socket, starts qga-host in serve mode
 * on it and plays qga-bridge on the raw wire: host-stats, host-info,
 * host-subscribe and host-unsubscribe, and the HOST_STATS events. The
 * values are checked against /proc as this program reads it, and the
 * hypervisor fields against a real QEMU (qemu-system-x86_64 -S, no guest),
 * which is required: without it the QEMU tests fail. QEMU runs without
 * QGA_TEST_WRAPPER; qga-host runs behind it. No bus is needed.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "test-util.h"

#define QEMU "qemu-system-x86_64"
#define HOST_NAME_LENGTH 300   /* over the 256-byte limit on strings */


/* --- qga-host, with stdout and stderr collected (test-util) ----------------- */

typedef QtHostProc Proc;

/* qga-host ARGS..., stdin a pipe kept open. */
static Proc *
host_spawn (const char *const *args)
{
  return qt_host_proc_spawn (args, NULL);
}

/* Close stdin, with terminate send SIGTERM (which stops serve mode), wait
 * for the exit and the end of the output; returns the exit status and
 * frees proc. */
static int
host_wait (Proc *proc, gboolean terminate, char **out, char **err)
{
  return qt_host_proc_wait (proc, terminate, out, err);
}

static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);   /* no QEMU outlives the test */
}

/* --- QEMU ------------------------------------------------------------------ */

typedef struct {
  GSubprocess *sub;
  char *qmp_path;
  gboolean exited;
} Qemu;

static void
qemu_exited_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Qemu *qemu = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  qemu->exited = TRUE;
}

static char *
find_qemu (void)
{
  char *path = g_find_program_in_path (QEMU);

  if (path == NULL)
    g_error (QEMU " is not installed, and this test needs a real QEMU's QMP socket: "
             "install qemu-system-x86 (tools/install-deps does)");
  return path;
}

/* What qemu --version says after "QEMU emulator version ". */
static char *
qemu_version_text (void)
{
  g_autofree char *qemu = find_qemu ();
  const char *argv[] = { qemu, "--version", NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  const char *prefix = "QEMU emulator version ";
  char *newline;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status,
                &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (out, prefix));
  newline = strchr (out, '\n');
  if (newline != NULL)
    *newline = '\0';
  return g_strdup (out + strlen (prefix));
}

/* qemu-system-x86_64 -S -nodefaults -display none -name testvm -smp 2,
 * with its QMP socket at qmp_path (NULL: a fresh path); waits until the
 * socket exists. */
static Qemu *
qemu_spawn (gboolean balloon, const char *qmp_path)
{
  g_autofree char *qemu_path = find_qemu ();
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *cmdline = NULL;
  Qemu *qemu = g_new0 (Qemu, 1);

  qemu->qmp_path = qmp_path != NULL ? g_strdup (qmp_path) : qt_tmp_path ("qmp");
  g_ptr_array_add (argv, g_strdup (qemu_path));
  g_ptr_array_add (argv, g_strdup ("-S"));
  g_ptr_array_add (argv, g_strdup ("-nodefaults"));
  g_ptr_array_add (argv, g_strdup ("-display"));
  g_ptr_array_add (argv, g_strdup ("none"));
  g_ptr_array_add (argv, g_strdup ("-name"));
  g_ptr_array_add (argv, g_strdup ("testvm"));
  g_ptr_array_add (argv, g_strdup ("-smp"));
  g_ptr_array_add (argv, g_strdup ("2"));
  g_ptr_array_add (argv, g_strdup ("-m"));
  g_ptr_array_add (argv, g_strdup ("128M"));
  if (balloon)
    {
      g_ptr_array_add (argv, g_strdup ("-device"));
      g_ptr_array_add (argv, g_strdup ("virtio-balloon"));
    }
  g_ptr_array_add (argv, g_strdup ("-qmp"));
  g_ptr_array_add (argv, g_strdup_printf ("unix:%s,server=on,wait=off", qemu->qmp_path));
  g_ptr_array_add (argv, NULL);
  cmdline = g_strjoinv (" ", (char **) argv->pdata);
  g_test_message ("spawning %s", cmdline);

  /* Not behind the wrapper; its output goes to our stderr (stdout is TAP). */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_subprocess_launcher_take_stdout_fd (launcher, dup (STDERR_FILENO));
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  qemu->sub = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_wait_async (qemu->sub, NULL, qemu_exited_cb, qemu);
  if (!QT_WAIT (qemu->exited || g_file_test (qemu->qmp_path, G_FILE_TEST_EXISTS), 20000))
    g_error (QEMU " did not create its QMP socket %s within 20 s", qemu->qmp_path);
  if (qemu->exited)
    g_error (QEMU " exited at once (see its messages above)");
  return qemu;
}

static void
qemu_stop (Qemu *qemu)
{
  g_subprocess_send_signal (qemu->sub, SIGTERM);
  if (!QT_WAIT (qemu->exited, 10000))
    {
      g_subprocess_force_exit (qemu->sub);
      QT_WAIT (qemu->exited, 5000);
    }
  g_unlink (qemu->qmp_path);
  g_free (qemu->qmp_path);
  g_object_unref (qemu->sub);
  g_free (qemu);
}

/* --- the guest's end of the wire ------------------------------------------ */

typedef struct {
  char *socket_path;
  int listen_fd;
  QtWire *wire;
  Proc *host;
  gint64 next_id;
  guint events_skipped;   /* HOST_STATS seen while waiting for a reply */
} Guest;

static void
guest_accept (Guest *g)
{
  gint64 deadline = qt_now_ms () + qt_ms (10000);
  int fd = -1;

  while (fd < 0 && !qt_host_proc_exited (g->host) && qt_now_ms () < deadline)
    fd = qt_unix_accept (g->listen_fd, 100);
  if (fd < 0)
    g_error ("qga-host did not connect to %s%s", g->socket_path,
             qt_host_proc_exited (g->host) ? " (it exited)" : "");
  g_clear_pointer (&g->wire, qt_wire_free);
  g->wire = qt_wire_new (fd);
}

/* qga-host --socket=SOCKET ARGS... serve, connected. */
static Guest *
guest_start (const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  Guest *g = g_new0 (Guest, 1);

  g->socket_path = qt_tmp_path ("sock");
  g->listen_fd = qt_unix_listen (g->socket_path);
  g_ptr_array_add (argv, g_strdup_printf ("--socket=%s", g->socket_path));
  for (; args != NULL && *args != NULL; args++)
    g_ptr_array_add (argv, g_strdup (*args));
  g_ptr_array_add (argv, g_strdup ("serve"));
  g_ptr_array_add (argv, NULL);
  g->host = host_spawn ((const char *const *) argv->pdata);
  guest_accept (g);
  return g;
}

/* Stop qga-host (exit 0) and free; its stderr in *err if not NULL. Its
 * stdout must be empty: our HOST_STATS are not the guest's events. */
static void
guest_stop (Guest *g, char **err)
{
  g_autofree char *out = NULL;

  g_assert_cmpint (host_wait (g->host, TRUE, &out, err), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_clear_pointer (&g->wire, qt_wire_free);
  close (g->listen_fd);
  g_unlink (g->socket_path);
  g_free (g->socket_path);
  g_free (g);
}

static JsonObject *
next_message (Guest *g, guint timeout_ms)
{
  g_autoptr(JsonNode) node = qt_wire_read_message (g->wire, NULL, NULL, timeout_ms);

  if (node == NULL)
    return NULL;
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

static gboolean
is_event (JsonObject *message, const char *name)
{
  return g_strcmp0 (json_object_get_string_member_with_default (message, "event", NULL), name) == 0;
}

/* Send {"execute": name, "arguments": arguments_json, "id": N} and return
 * the reply with that id (a ref), skipping HOST_STATS events. */
static JsonObject *
guest_call (Guest *g, const char *name, const char *arguments_json, guint timeout_ms)
{
  gint64 id = ++g->next_id;
  g_autofree char *line = NULL;
  gint64 deadline;

  if (arguments_json != NULL)
    line = g_strdup_printf ("{\"execute\":\"%s\",\"arguments\":%s,\"id\":%" G_GINT64_FORMAT "}\n",
                            name, arguments_json, id);
  else
    line = g_strdup_printf ("{\"execute\":\"%s\",\"id\":%" G_GINT64_FORMAT "}\n", name, id);
  qt_wire_write_str (g->wire, line);
  deadline = qt_now_ms () + timeout_ms;
  for (;;)
    {
      gint64 left = deadline - qt_now_ms ();
      g_autoptr(JsonObject) message = next_message (g, (guint) MAX (left, 0));

      if (message == NULL)
        g_error ("no reply to %s within %u ms", name, timeout_ms);
      if (is_event (message, "HOST_STATS"))
        {
          g->events_skipped++;
          continue;
        }
      g_assert_cmpint (json_object_get_int_member (message, "id"), ==, id);
      return g_steal_pointer (&message);
    }
}

/* The "return" object of a call that must succeed (a ref). */
static JsonObject *
guest_call_ok (Guest *g, const char *name, const char *arguments_json)
{
  g_autoptr(JsonObject) reply = guest_call (g, name, arguments_json, qt_ms (5000));
  JsonNode *result = json_object_get_member (reply, "return");

  if (result == NULL || !JSON_NODE_HOLDS_OBJECT (result))
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), reply);
      g_autofree char *text = qt_json_to_string (node);

      g_error ("%s failed: %s", name, text);
    }
  return json_object_ref (json_node_get_object (result));
}

static void
guest_call_error (Guest *g, const char *name, const char *arguments_json,
                  const char *error_class, const char *desc)
{
  g_autoptr(JsonObject) reply = guest_call (g, name, arguments_json, qt_ms (5000));
  JsonObject *error = json_object_get_object_member (reply, "error");

  g_assert_nonnull (error);
  g_assert_cmpstr (json_object_get_string_member (error, "class"), ==, error_class);
  g_assert_cmpstr (json_object_get_string_member (error, "desc"), ==, desc);
}

/* --- /proc, read by the test ---------------------------------------------- */

static char *
read_file (const char *path)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&text);
}

static gint64
meminfo_bytes (const char *key)
{
  g_autofree char *text = read_file ("/proc/meminfo");
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *prefix = g_strdup_printf ("%s:", key);

  for (char **line = lines; *line != NULL; line++)
    if (g_str_has_prefix (*line, prefix))
      return (gint64) g_ascii_strtoull (*line + strlen (prefix), NULL, 10) * 1024;
  g_error ("no %s in /proc/meminfo", key);
}

static char *
cpu_model (void)
{
  g_autofree char *text = read_file ("/proc/cpuinfo");
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (char **line = lines; *line != NULL; line++)
    if (g_str_has_prefix (*line, "model name"))
      {
        char *colon = strchr (*line, ':');

        return colon != NULL ? g_strstrip (g_strdup (colon + 1)) : NULL;
      }
  return NULL;
}

static void
read_loadavg (double load[3])
{
  g_autofree char *text = read_file ("/proc/loadavg");

  g_assert_cmpint (sscanf (text, "%lf %lf %lf", &load[0], &load[1], &load[2]), ==, 3);
}

static double
read_uptime (void)
{
  g_autofree char *text = read_file ("/proc/uptime");

  return g_ascii_strtod (text, NULL);
}

static double
get_number (JsonNode *node)
{
  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_VALUE (node));
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return (double) json_node_get_int (node);
  g_assert_true (json_node_get_value_type (node) == G_TYPE_DOUBLE);
  return json_node_get_double (node);
}

static gint64
get_int (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    g_error ("no member %s", name);
  g_assert_true (JSON_NODE_HOLDS_VALUE (node));
  g_assert_true (json_node_get_value_type (node) == G_TYPE_INT64);
  return json_node_get_int (node);
}

static void
assert_members (JsonObject *object, const char *const *names)
{
  g_autoptr(GList) members = json_object_get_members (object);

  g_assert_cmpuint (g_list_length (members), ==, g_strv_length ((char **) names));
  for (; *names != NULL; names++)
    if (!json_object_has_member (object, *names))
      g_error ("member %s is missing", *names);
}

static const char *const host_fields[] = {
  "cpu-count", "cpu-model", "load-average", "memory-total", "memory-available", "uptime",
  "wall-clock", NULL
};

/* --- the tests -------------------------------------------------------------- */

static void
test_values (void)
{
  Guest *g = guest_start (NULL);
  g_autoptr(JsonObject) stats = NULL;
  g_autofree char *model = cpu_model ();
  double load_before[3], load_after[3], uptime_before, uptime_after;
  gint64 real_before, real_after, memory_total;
  JsonArray *load;

  read_loadavg (load_before);
  uptime_before = read_uptime ();
  real_before = g_get_real_time ();
  stats = guest_call_ok (g, "host-stats", NULL);
  real_after = g_get_real_time ();
  uptime_after = read_uptime ();
  read_loadavg (load_after);

  g_assert_cmpint (get_int (stats, "cpu-count"), ==, sysconf (_SC_NPROCESSORS_ONLN));
  memory_total = get_int (stats, "memory-total");
  g_assert_cmpint (memory_total, ==, meminfo_bytes ("MemTotal"));
  g_assert_cmpint (get_int (stats, "memory-available"), >, 0);
  g_assert_cmpint (get_int (stats, "memory-available"), <=, memory_total);
  load = json_object_get_array_member (stats, "load-average");
  g_assert_cmpuint (json_array_get_length (load), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      double value = get_number (json_array_get_element (load, i));

      g_assert_cmpfloat (value, >=, MIN (load_before[i], load_after[i]) - 0.5);
      g_assert_cmpfloat (value, <=, MAX (load_before[i], load_after[i]) + 0.5);
    }
  g_assert_cmpfloat (get_number (json_object_get_member (stats, "uptime")), >=, uptime_before - 1);
  g_assert_cmpfloat (get_number (json_object_get_member (stats, "uptime")), <=, uptime_after + 1);
  g_assert_cmpint (get_int (stats, "wall-clock"), >=, real_before - 2 * G_USEC_PER_SEC);
  g_assert_cmpint (get_int (stats, "wall-clock"), <=, real_after + 2 * G_USEC_PER_SEC);
  if (model != NULL)
    g_assert_cmpstr (json_object_get_string_member (stats, "cpu-model"), ==, model);
  else
    g_assert_false (json_object_has_member (stats, "cpu-model"));
  /* Nothing else: no QMP, no balloon. */
  if (model != NULL)
    assert_members (stats, host_fields);

  /* host-info: the bounds; no "hypervisor" without --qmp */
  {
    g_autoptr(JsonObject) info = guest_call_ok (g, "host-info", NULL);
    g_autoptr(GList) commands = NULL;
    JsonArray *supported = json_object_get_array_member (info, "supported_commands");
    const char *wanted[] = { "host-stats", "host-subscribe", "host-unsubscribe" };

    qt_assert_member_json (info, "host-stats",
                           "{\"version\":1,\"min-interval-ms\":100,\"max-interval-ms\":3600000}");
    g_assert_false (json_object_has_member (info, "hypervisor"));
    for (gsize w = 0; w < G_N_ELEMENTS (wanted); w++)
      {
        gboolean found = FALSE;

        for (guint i = 0; i < json_array_get_length (supported); i++)
          {
            JsonObject *command = json_array_get_object_element (supported, i);

            if (g_str_equal (json_object_get_string_member (command, "name"), wanted[w]))
              found = json_object_get_boolean_member (command, "enabled");
          }
        g_assert_true (found);
      }
  }
  guest_stop (g, NULL);
}

static void
test_allow (void)
{
  {
    const char *args[] = { "--stats-allow=cpu-count, uptime,wall-clock", NULL };
    Guest *g = guest_start (args);
    g_autoptr(JsonObject) stats = guest_call_ok (g, "host-stats", NULL);
    const char *expected[] = { "cpu-count", "uptime", "wall-clock", NULL };

    assert_members (stats, expected);
    guest_stop (g, NULL);
  }
  {
    /* Empty: nothing, even with a QMP socket (never connected to). */
    g_autofree char *qmp = qt_tmp_path ("no-qmp");
    g_autofree char *qmp_arg = g_strdup_printf ("--qmp=%s", qmp);
    const char *args[] = { "--stats-allow=", qmp_arg, NULL };
    Guest *g = guest_start (args);
    g_autoptr(JsonObject) stats = guest_call_ok (g, "host-stats", NULL);
    g_autoptr(JsonObject) info = guest_call_ok (g, "host-info", NULL);
    g_autofree char *err = NULL;

    g_assert_cmpuint (json_object_get_size (stats), ==, 0);
    qt_assert_member_json (info, "hypervisor", "{}");
    guest_stop (g, &err);
    g_assert_null (strstr (err, "QMP"));
  }
  {
    /* Events carry only the allowed fields too. */
    const char *args[] = { "--stats-allow=memory-total", NULL };
    Guest *g = guest_start (args);
    g_autoptr(JsonObject) result = guest_call_ok (g, "host-subscribe", "{\"interval-ms\":100}");
    g_autoptr(JsonObject) event = next_message (g, qt_ms (5000));
    const char *expected[] = { "memory-total", NULL };

    g_assert_nonnull (event);
    g_assert_true (is_event (event, "HOST_STATS"));
    assert_members (json_object_get_object_member (event, "data"), expected);
    guest_stop (g, NULL);
  }
}

static void
test_cli (void)
{
  static const struct {
    const char *arg;
    const char *message;
  } cases[] = {
    { "--stats-allow=cpu-count,bogus", "unknown field 'bogus'" },
    { "--stats-allow=cpu-count,,uptime", "empty field name" },
    { "--stats-allow=,", "empty field name" },
    { "--qmp=", "--qmp" },
    { "--timeout=0", "--timeout must be a positive number" },
    { "--timeout=nan", "--timeout must be" },
    { "--max-message-size=63", "--max-message-size must be between 64 and" },
    { "--max-message-size=1073741825", "--max-message-size must be" },
    { "--clipboard-timeout=3601", "--clipboard-timeout must be" },
    { "--no-such-option", "Unknown option" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *args[] = { "--socket=/nonexistent/socket", cases[i].arg, "serve", NULL };
      Proc *proc = host_spawn (args);
      g_autofree char *err = NULL;
      int status = host_wait (proc, FALSE, NULL, &err);

      if (status != 2 || strstr (err, cases[i].message) == NULL)
        g_error ("qga-host %s: exit status %d, expected 2 and \"%s\"; stderr: %s",
                 cases[i].arg, status, cases[i].message, err);
    }
  {
    const char *args[] = { "--help", NULL };
    Proc *proc = host_spawn (args);
    g_autofree char *out = NULL;

    g_assert_cmpint (host_wait (proc, FALSE, &out, NULL), ==, 0);
    g_assert_nonnull (strstr (out, "--qmp"));
    g_assert_nonnull (strstr (out, "--stats-allow"));
    g_assert_nonnull (strstr (out, "host-subscribe"));
  }
}

/* Count HOST_STATS events arriving within ms; fails on anything else. */
static guint
count_events (Guest *g, guint ms)
{
  gint64 deadline = qt_now_ms () + ms;
  guint n = 0;

  for (;;)
    {
      gint64 left = deadline - qt_now_ms ();
      g_autoptr(JsonObject) message = NULL;

      if (left <= 0)
        return n;
      message = next_message (g, (guint) left);
      if (message == NULL)
        return n;
      g_assert_true (is_event (message, "HOST_STATS"));
      g_assert_true (json_object_has_member (json_object_get_object_member (message, "data"),
                                             "memory-total"));
      g_assert_true (json_object_has_member (message, "timestamp"));
      n++;
    }
}

static void
test_subscribe (void)
{
  Guest *g = guest_start (NULL);
  g_autoptr(JsonObject) result = NULL;
  g_autoptr(JsonObject) first = NULL;
  guint n;
  gint64 start;

  /* Not subscribed: unsubscribing is fine, and nothing flows. */
  g_clear_pointer (&result, json_object_unref);
  result = guest_call_ok (g, "host-unsubscribe", NULL);
  g_assert_cmpuint (json_object_get_size (result), ==, 0);
  g_assert_true (qt_wire_is_silent (g->wire, 300));

  /* 1 ms is clamped to 100; the first event comes at once. */
  g_clear_pointer (&result, json_object_unref);
  start = qt_now_ms ();
  result = guest_call_ok (g, "host-subscribe", "{\"interval-ms\":1}");
  g_assert_cmpint (get_int (result, "interval-ms"), ==, 100);
  first = next_message (g, qt_ms (2000));
  g_assert_nonnull (first);
  g_assert_true (is_event (first, "HOST_STATS"));
  /* at least 3 more within 5 intervals (scaled under valgrind) */
  n = count_events (g, qt_ms (500));
  g_test_message ("%u events in %u ms at 100 ms", n, qt_ms (500));
  g_assert_cmpuint (n, >=, 3);
  /* and not a flood: at most one per 100 ms, and a margin */
  g_assert_cmpuint (n + 1, <=, (qt_now_ms () - start) / 100 + 3);

  /* Again: replaces the interval (one event at once, then every 400 ms). */
  g_clear_pointer (&result, json_object_unref);
  result = guest_call_ok (g, "host-subscribe", "{\"interval-ms\":400}");
  g_assert_cmpint (get_int (result, "interval-ms"), ==, 400);
  start = qt_now_ms ();
  n = count_events (g, 1000);
  g_test_message ("%u events in %" G_GINT64_FORMAT " ms at 400 ms", n, qt_now_ms () - start);
  g_assert_cmpuint (n, >=, 1);
  g_assert_cmpuint (n, <=, 4);

  /* Clamped at the top. */
  g_clear_pointer (&result, json_object_unref);
  result = guest_call_ok (g, "host-subscribe", "{\"interval-ms\":4294967295}");
  g_assert_cmpint (get_int (result, "interval-ms"), ==, 3600000);
  g_clear_pointer (&result, json_object_unref);
  result = guest_call_ok (g, "host-subscribe", "{\"interval-ms\":100}");
  g_assert_cmpint (get_int (result, "interval-ms"), ==, 100);

  /* Unsubscribe: events that were on their way come before the reply
   * (guest_call skips them), none after it within 3 intervals. */
  g_clear_pointer (&result, json_object_unref);
  result = guest_call_ok (g, "host-unsubscribe", NULL);
  g_assert_cmpuint (json_object_get_size (result), ==, 0);
  g_assert_true (qt_wire_is_silent (g->wire, 300));

  /* A disconnect ends the subscription: qga-host connects again (serve
   * mode) and sends nothing unasked. */
  g_clear_pointer (&result, json_object_unref);
  result = guest_call_ok (g, "host-subscribe", "{\"interval-ms\":100}");
  g_clear_pointer (&g->wire, qt_wire_free);
  guest_accept (g);
  g_assert_true (qt_wire_is_silent (g->wire, 500));
  g_clear_pointer (&result, json_object_unref);
  result = guest_call_ok (g, "host-ping", NULL);
  guest_stop (g, NULL);
}

static void
test_bad_arguments (void)
{
  Guest *g = guest_start (NULL);
  static const struct {
    const char *command;
    const char *arguments;
    const char *desc;
  } cases[] = {
    { "host-subscribe", NULL, "Parameter 'interval-ms' is missing" },
    { "host-subscribe", "{}", "Parameter 'interval-ms' is missing" },
    { "host-subscribe", "{\"interval-ms\":\"1000\"}",
      "Invalid parameter type for 'interval-ms', expected: integer" },
    { "host-subscribe", "{\"interval-ms\":1000.5}",
      "Invalid parameter type for 'interval-ms', expected: integer" },
    { "host-subscribe", "{\"interval-ms\":null}",
      "Invalid parameter type for 'interval-ms', expected: integer" },
    { "host-subscribe", "{\"interval-ms\":[1]}",
      "Invalid parameter type for 'interval-ms', expected: integer" },
    { "host-subscribe", "{\"interval-ms\":-1}",
      "Parameter 'interval-ms' must be between 1 and 4294967295" },
    { "host-subscribe", "{\"interval-ms\":0}",
      "Parameter 'interval-ms' must be between 1 and 4294967295" },
    { "host-subscribe", "{\"interval-ms\":4294967296}",
      "Parameter 'interval-ms' must be between 1 and 4294967295" },
    { "host-subscribe", "{\"interval-ms\":9223372036854775807}",
      "Parameter 'interval-ms' must be between 1 and 4294967295" },
    { "host-subscribe", "{\"interval-ms\":1e30}",
      "Invalid parameter type for 'interval-ms', expected: integer" },
    { "host-subscribe", "{\"interval-ms\":100,\"extra\":1}", "Parameter 'extra' is unexpected" },
    { "host-stats", "{\"x\":1}", "Parameter 'x' is unexpected" },
    { "host-unsubscribe", "{\"interval-ms\":100}", "Parameter 'interval-ms' is unexpected" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    guest_call_error (g, cases[i].command, cases[i].arguments, "GenericError", cases[i].desc);
  /* "arguments" that is not an object: the envelope check */
  {
    g_autoptr(JsonObject) reply = guest_call (g, "host-subscribe", "5", qt_ms (5000));

    g_assert_true (json_object_has_member (reply, "error"));
  }
  /* None of them subscribed. */
  g_assert_true (qt_wire_is_silent (g->wire, 300));
  guest_stop (g, NULL);
}

static void
test_qemu (gconstpointer data)
{
  gboolean balloon = GPOINTER_TO_INT (data);
  Qemu *qemu = qemu_spawn (balloon, NULL);
  g_autofree char *qmp_arg = g_strdup_printf ("--qmp=%s", qemu->qmp_path);
  g_autofree char *version = qemu_version_text ();

  {
    const char *args[] = { qmp_arg, NULL };
    Guest *g = guest_start (args);
    g_autoptr(JsonObject) info = guest_call_ok (g, "host-info", NULL);
    g_autoptr(JsonObject) stats = NULL;
    g_autoptr(JsonObject) event = NULL;
    JsonObject *hypervisor = json_object_get_object_member (info, "hypervisor");
    const char *with_balloon[] = { "qemu-version", "accelerator", "vm-name", "vcpus", "balloon",
                                   NULL };
    gint64 vcpus;

    g_assert_nonnull (hypervisor);
    g_assert_cmpstr (json_object_get_string_member (hypervisor, "qemu-version"), ==, version);
    g_assert_cmpstr (json_object_get_string_member (hypervisor, "accelerator"), ==, "tcg");
    g_assert_cmpstr (json_object_get_string_member (hypervisor, "vm-name"), ==, "testvm");
    vcpus = get_int (hypervisor, "vcpus");
    g_assert_cmpint (vcpus, ==, 2);
    if (balloon)
      {
        g_assert_cmpint (get_int (hypervisor, "balloon"), ==, 128 * 1024 * 1024);
        assert_members (hypervisor, with_balloon);
      }
    else
      {
        with_balloon[4] = NULL;
        assert_members (hypervisor, with_balloon);
      }

    /* host-stats: the host fields, and balloon */
    stats = guest_call_ok (g, "host-stats", NULL);
    g_assert_cmpint (get_int (stats, "memory-total"), ==, meminfo_bytes ("MemTotal"));
    g_assert_false (json_object_has_member (stats, "vm-name"));
    if (balloon)
      g_assert_cmpint (get_int (stats, "balloon"), ==, 128 * 1024 * 1024);
    else
      g_assert_false (json_object_has_member (stats, "balloon"));

    /* and in the events */
    g_clear_pointer (&stats, json_object_unref);
    stats = guest_call_ok (g, "host-subscribe", "{\"interval-ms\":100}");
    for (int i = 0; i < 3; i++)
      {
        g_clear_pointer (&event, json_object_unref);
        event = next_message (g, qt_ms (5000));
        g_assert_nonnull (event);
        g_assert_true (is_event (event, "HOST_STATS"));
        g_assert_cmpint (json_object_has_member (json_object_get_object_member (event, "data"),
                                                 "balloon"), ==, balloon);
      }
    g_clear_pointer (&stats, json_object_unref);
    stats = guest_call_ok (g, "host-unsubscribe", NULL);
    guest_stop (g, NULL);
  }

  /* The allow-list applies to the QMP fields too. */
  {
    const char *args[] = { qmp_arg, "--stats-allow=vm-name,cpu-count", NULL };
    Guest *g = guest_start (args);
    g_autoptr(JsonObject) info = guest_call_ok (g, "host-info", NULL);
    g_autoptr(JsonObject) stats = guest_call_ok (g, "host-stats", NULL);
    const char *hypervisor_fields[] = { "vm-name", NULL };
    const char *stats_fields[] = { "cpu-count", NULL };

    assert_members (json_object_get_object_member (info, "hypervisor"), hypervisor_fields);
    assert_members (stats, stats_fields);
    guest_stop (g, NULL);
  }
  qemu_stop (qemu);
}

/* The QMP socket is absent: a clear warning, the host fields still work,
 * and host-info has "hypervisor": {} at once. */
static void
test_qmp_absent (void)
{
  g_autofree char *qmp = qt_tmp_path ("absent-qmp");
  g_autofree char *qmp_arg = g_strdup_printf ("--qmp=%s", qmp);
  const char *args[] = { qmp_arg, NULL };
  Guest *g = guest_start (args);
  g_autoptr(JsonObject) info = NULL;
  g_autoptr(JsonObject) stats = NULL;
  g_autofree char *err = NULL;
  g_autofree char *expected = g_strdup_printf ("QMP socket %s: cannot connect: ", qmp);

  info = guest_call_ok (g, "host-info", NULL);
  qt_assert_member_json (info, "hypervisor", "{}");
  stats = guest_call_ok (g, "host-stats", NULL);
  assert_members (stats, host_fields);
  guest_stop (g, &err);
  g_assert_nonnull (strstr (err, expected));
  g_assert_nonnull (strstr (err, g_strerror (ENOENT)));
}

/* host-info's "hypervisor" object, as JSON text. */
static char *
hypervisor_text (Guest *g)
{
  g_autoptr(JsonObject) info = guest_call_ok (g, "host-info", NULL);

  return qt_json_to_string (json_object_get_member (info, "hypervisor"));
}

/* QEMU starts after qga-host (serve mode connects by itself, after its
 * back-off), then goes away (the fields go with it). */
static void
test_qmp_late (void)
{
  g_autofree char *qmp = qt_tmp_path ("late-qmp");
  g_autofree char *qmp_arg = g_strdup_printf ("--qmp=%s", qmp);
  const char *args[] = { qmp_arg, NULL };
  Guest *g = guest_start (args);
  g_autofree char *text = hypervisor_text (g);
  g_autofree char *err = NULL;
  Qemu *qemu;
  gint64 deadline;

  g_assert_cmpstr (text, ==, "{}");
  qemu = qemu_spawn (FALSE, qmp);
  deadline = qt_now_ms () + qt_ms (10000);
  while (strstr (text, "testvm") == NULL && qt_now_ms () < deadline)
    {
      QT_WAIT (FALSE, 100);
      g_free (text);
      text = hypervisor_text (g);
    }
  g_test_message ("hypervisor: %s", text);
  g_assert_nonnull (strstr (text, "\"vm-name\":\"testvm\""));

  qemu_stop (qemu);
  deadline = qt_now_ms () + qt_ms (10000);
  while (!g_str_equal (text, "{}") && qt_now_ms () < deadline)
    {
      QT_WAIT (FALSE, 100);
      g_free (text);
      text = hypervisor_text (g);
    }
  g_assert_cmpstr (text, ==, "{}");
  guest_stop (g, &err);
  g_assert_nonnull (strstr (err, "answers"));
  g_assert_nonnull (strstr (err, "the connection closed"));
}

/* Play QEMU on a QMP connection: answer each command, after an event
 * and a reply with an id nobody asked for, until no command comes within
 * ms. Returns the names of the commands answered, space-separated. */
static char *
fake_qmp_serve (QtWire *qmp, guint ms)
{
  g_autoptr(GString) names = g_string_new (NULL);
  g_autofree char *long_name = g_strnfill (HOST_NAME_LENGTH, 'n');

  for (;;)
    {
      g_autoptr(JsonNode) node = qt_wire_read_message (qmp, NULL, NULL, ms);
      JsonObject *command;
      const char *name;
      g_autofree char *id = NULL;
      g_autofree char *answer = NULL;

      if (node == NULL)
        return g_string_free (g_steal_pointer (&names), FALSE);
      command = json_node_get_object (node);
      name = json_object_get_string_member (command, "execute");
      id = qt_json_to_string (json_object_get_member (command, "id"));
      g_string_append_printf (names, "%s%s", names->len > 0 ? " " : "", name);
      if (g_str_equal (name, "qmp_capabilities"))
        answer = g_strdup ("{\"return\":{}");
      else if (g_str_equal (name, "query-version"))
        answer = g_strdup ("{\"return\":{\"qemu\":{\"major\":9,\"minor\":1,\"micro\":0},"
                           "\"package\":\"\"}");
      else if (g_str_equal (name, "query-kvm"))
        answer = g_strdup ("{\"return\":{\"enabled\":true,\"present\":true}");
      else if (g_str_equal (name, "query-name"))  /* too long: dropped */
        answer = g_strdup_printf ("{\"return\":{\"name\":\"%s\"}", long_name);
      else if (g_str_equal (name, "query-cpus-fast"))
        answer = g_strdup ("{\"return\":[{\"cpu-index\":0},{},{},{}]");
      else if (g_str_equal (name, "query-balloon"))
        answer = g_strdup ("{\"error\":{\"class\":\"DeviceNotActive\","
                           "\"desc\":\"No balloon device has been activated\"}");
      else
        g_error ("unexpected QMP command %s", name);
      qt_wire_write_str (qmp, "{\"timestamp\":{\"seconds\":1,\"microseconds\":2},"
                              "\"event\":\"RESET\",\"data\":{\"guest\":false}}\r\n");
      qt_wire_write_str (qmp, "{\"return\":{\"qemu\":{}},\"id\":987654}\r\n");
      qt_wire_write_str (qmp, answer);
      qt_wire_write_str (qmp, ",\"id\":");
      qt_wire_write_str (qmp, id);
      qt_wire_write_str (qmp, "}\r\n");
    }
}

/* A QMP peer that mixes events and stray replies in, fails query-balloon,
 * and names the VM with a string that is too long. */
static void
test_qmp_fake (void)
{
  g_autofree char *path = qt_tmp_path ("fake-qmp");
  g_autofree char *qmp_arg = g_strdup_printf ("--qmp=%s", path);
  int listen_fd = qt_unix_listen (path);
  const char *args[] = { qmp_arg, NULL };
  Guest *g = guest_start (args);
  g_autoptr(QtWire) qmp = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *served = NULL;
  g_autofree char *text = NULL;
  g_autofree char *err = NULL;
  int fd = qt_unix_accept (listen_fd, qt_ms (5000));

  g_assert_cmpint (fd, >=, 0);
  qmp = qt_wire_new (fd);
  qt_wire_write_str (qmp, "{\"QMP\":{\"version\":{\"qemu\":{\"major\":9,\"minor\":1,"
                          "\"micro\":0},\"package\":\"\"},\"capabilities\":[\"oob\"]}}\r\n");
  served = fake_qmp_serve (qmp, qt_ms (500));
  g_assert_cmpstr (served, ==, "qmp_capabilities query-version query-kvm query-name "
                               "query-cpus-fast query-balloon");

  /* host-info refreshes what changes (vcpus, balloon) and waits for it */
  QT_WAIT (FALSE, 100);
  qt_wire_write_str (g->wire, "{\"execute\":\"host-info\",\"id\":\"info\"}\n");
  g_free (served);
  served = fake_qmp_serve (qmp, qt_ms (500));
  g_assert_cmpstr (served, ==, "query-cpus-fast query-balloon");
  {
    g_autoptr(JsonObject) message = next_message (g, qt_ms (5000));

    g_assert_nonnull (message);
    g_assert_cmpstr (json_object_get_string_member (message, "id"), ==, "info");
    text = qt_json_to_string (json_object_get_member (
      json_object_get_object_member (message, "return"), "hypervisor"));
  }
  g_assert_cmpstr (text, ==, "{\"qemu-version\":\"9.1.0\",\"accelerator\":\"kvm\",\"vcpus\":4}");

  /* QEMU goes away: the fields go too, and nobody waits */
  g_clear_pointer (&qmp, qt_wire_free);
  close (listen_fd);
  g_unlink (path);
  QT_WAIT (FALSE, 200);
  reply = guest_call_ok (g, "host-info", NULL);
  qt_assert_member_json (reply, "hypervisor", "{}");
  guest_stop (g, &err);
  g_assert_nonnull (strstr (err, "the connection closed"));
  g_assert_null (strstr (err, "query-balloon failed"));  /* DeviceNotActive: quiet */
}

/* The QMP socket accepts and never says a word: host-info and host-stats
 * still answer within a bound, without the QMP fields, and events flow. */
static void
test_qmp_hang (void)
{
  g_autofree char *qmp = qt_tmp_path ("hung-qmp");
  g_autofree char *qmp_arg = g_strdup_printf ("--qmp=%s", qmp);
  int listen_fd = qt_unix_listen (qmp);
  const char *args[] = { qmp_arg, NULL };
  Guest *g = guest_start (args);
  g_autoptr(JsonObject) info = NULL;
  g_autoptr(JsonObject) stats = NULL;
  g_autoptr(JsonObject) result = NULL;
  g_autofree char *err = NULL;
  int qmp_fd = qt_unix_accept (listen_fd, qt_ms (5000));
  gint64 start;

  g_assert_cmpint (qmp_fd, >=, 0);
  start = qt_now_ms ();
  info = guest_call_ok (g, "host-info", NULL);
  g_test_message ("host-info took %" G_GINT64_FORMAT " ms", qt_now_ms () - start);
  g_assert_cmpint (qt_now_ms () - start, <, qt_ms (5000));
  qt_assert_member_json (info, "hypervisor", "{}");
  stats = guest_call_ok (g, "host-stats", NULL);
  assert_members (stats, host_fields);

  result = guest_call_ok (g, "host-subscribe", "{\"interval-ms\":100}");
  g_assert_cmpuint (count_events (g, qt_ms (1000)), >=, 3);
  guest_stop (g, &err);
  g_assert_nonnull (strstr (err, "no greeting within"));
  close (qmp_fd);
  close (listen_fd);
  g_unlink (qmp);
}

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);
  g_test_add_func ("/host-stats/cli", test_cli);
  g_test_add_func ("/host-stats/values", test_values);
  g_test_add_func ("/host-stats/allow", test_allow);
  g_test_add_func ("/host-stats/subscribe", test_subscribe);
  g_test_add_func ("/host-stats/bad-arguments", test_bad_arguments);
  g_test_add_data_func ("/host-stats/qemu", GINT_TO_POINTER (FALSE), test_qemu);
  g_test_add_data_func ("/host-stats/qemu-balloon", GINT_TO_POINTER (TRUE), test_qemu);
  g_test_add_func ("/host-stats/qmp-absent", test_qmp_absent);
  g_test_add_func ("/host-stats/qmp-hang", test_qmp_hang);
  g_test_add_func ("/host-stats/qmp-late", test_qmp_late);
  g_test_add_func ("/host-stats/qmp-fake", test_qmp_fake);
  return qt_run ();
}
