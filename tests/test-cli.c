/* test-cli.c: the command lines of the guest programs (qga-bridge,
 * qga-session, qga-clipboard-sync): --help, --version, and every bad value
 * refused with exit status 2 and a message naming the option.
 *
 * Each program runs behind QGA_TEST_WRAPPER with no bus and no display to
 * reach, so an option it wrongly accepted ends in a connection error
 * (exit 1) rather than in a daemon serving forever, and a memory error
 * under valgrind (exit 99) fails the case too.
 */

#include "config.h"

#include <string.h>
#include <sys/wait.h>

#include "test-util.h"

typedef struct {
  const char *args[3];
  int status;
  const char *stdout_part;
  const char *stderr_part;
} CliCase;

static const CliCase bridge_cases[] = {
  { { "--help" }, 0, "--request-timeout=SECONDS", NULL },
  { { "--help" }, 0, "--max-call-rate=N", NULL },
  { { "--version" }, 0, "qga-bridge " PACKAGE_VERSION, NULL },
  { { "--bus=elsewhere" }, 2, NULL, "--bus must be 'system' or 'session'" },
  { { "--channel=relative/path" }, 2, NULL, "expected an absolute device path or unix:PATH" },
  { { "--channel=unix:" }, 2, NULL, "unix:PATH needs a path" },
  { { "--request-timeout=0" }, 2, NULL, "--request-timeout must be" },
  { { "--request-timeout=86401" }, 2, NULL, "--request-timeout must be" },
  { { "--max-message-size=10" }, 2, NULL, "--max-message-size must be" },
  { { "--max-message-size=1073741825" }, 2, NULL, "--max-message-size must be" },
  { { "--max-message-size=4096", "--max-queue-size=4095" }, 2, NULL,
    "--max-queue-size must be at least --max-message-size" },
  { { "--max-queue-size=4294967297" }, 2, NULL, "--max-queue-size must be" },
  { { "--max-pending=0" }, 2, NULL, "--max-pending must be" },
  { { "--max-pending=65537" }, 2, NULL, "--max-pending must be" },
  { { "--max-call-rate=-1" }, 2, NULL, "--max-call-rate must be between 0 (no limit)" },
  { { "--max-call-rate=10000001" }, 2, NULL, "--max-call-rate must be" },
  { { "--max-call-rate=many" }, 2, NULL, "--max-call-rate" },
  { { "--host-window=0" }, 2, NULL, "--host-window must be" },
  { { "--host-window=65537" }, 2, NULL, "--host-window must be" },
  { { "--max-clients=0" }, 2, NULL, "--max-clients must be" },
  { { "--max-clients=65537" }, 2, NULL, "--max-clients must be" },
  { { "--max-agents=0" }, 2, NULL, "--max-agents must be" },
  { { "--max-agents=1025" }, 2, NULL, "--max-agents must be" },
  { { "--max-clipboard-size=0" }, 2, NULL, "--max-clipboard-size must be" },
  { { "--max-clipboard-size=4294967297" }, 2, NULL, "--max-clipboard-size must be" },
  { { "--clipboard-timeout=0.05" }, 2, NULL, "--clipboard-timeout must be" },
  { { "--clipboard-timeout=3601" }, 2, NULL, "--clipboard-timeout must be" },
  { { "--no-such-option" }, 2, NULL, "Unknown option" },
  { { "extra-argument" }, 2, NULL, "unexpected argument" },
  { { NULL } },
};

static const CliCase session_cases[] = {
  { { "--help" }, 0, "--max-clients=N", NULL },
  { { "--version" }, 0, "qga-session " PACKAGE_VERSION, NULL },
  { { "--max-clients=0" }, 2, NULL, "--max-clients must be between 1 and 65536" },
  { { "--max-clients=65537" }, 2, NULL, "--max-clients must be" },
  { { "--max-clients=some" }, 2, NULL, "--max-clients" },
  { { "--no-such-option" }, 2, NULL, "Unknown option" },
  { { "extra-argument" }, 2, NULL, "unexpected argument" },
  { { NULL } },
};

static const CliCase clipboard_sync_cases[] = {
  { { "--help" }, 0, "--max-clipboard-size=BYTES", NULL },
  { { "--help" }, 0, "--clipboard-timeout=SECONDS", NULL },
  { { "--version" }, 0, "qga-clipboard-sync " PACKAGE_VERSION, NULL },
  { { "--max-clipboard-size=0" }, 2, NULL, "--max-clipboard-size must be between 1 and" },
  { { "--max-clipboard-size=4294967297" }, 2, NULL, "--max-clipboard-size must be" },
  { { "--clipboard-timeout=0.05" }, 2, NULL, "--clipboard-timeout must be" },
  { { "--clipboard-timeout=3601" }, 2, NULL, "--clipboard-timeout must be" },
  { { "--clipboard-timeout=nan" }, 2, NULL, "--clipboard-timeout must be" },
  { { "--no-such-option" }, 2, NULL, "Unknown option" },
  { { "extra-argument" }, 2, NULL, "unexpected argument" },
  { { NULL } },
};

static char **
unreachable_environment (void)
{
  const char *nowhere = "unix:path=/nonexistent/qga-test-bus";
  char **env = g_get_environ ();

  env = g_environ_setenv (env, "DBUS_SESSION_BUS_ADDRESS", nowhere, TRUE);
  env = g_environ_setenv (env, "DBUS_SYSTEM_BUS_ADDRESS", nowhere, TRUE);
  env = g_environ_unsetenv (env, "DBUS_STARTER_ADDRESS");
  env = g_environ_unsetenv (env, "DISPLAY");
  return g_environ_unsetenv (env, "WAYLAND_DISPLAY");
}

static int
run_program (const char *program, const char *const *args, char **out, char **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) env = unreachable_environment ();
  g_autoptr(GError) error = NULL;
  int status = -1;

  qt_add_wrapper (argv);
  g_ptr_array_add (argv, (gpointer) program);
  for (gsize i = 0; i < 3 && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL,
                out, err, &status, &error);
  g_assert_no_error (error);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
check_cases (const char *program, const CliCase *cases)
{
  for (const CliCase *c = cases; c->args[0] != NULL; c++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      int status = run_program (program, c->args, &out, &err);

      g_test_message ("%s %s%s%s → %d", program, c->args[0], c->args[1] ? " " : "",
                      c->args[1] ? c->args[1] : "", status);
      if (status != c->status)
        g_error ("%s %s: exit status %d, expected %d; stderr: %s", program, c->args[0],
                 status, c->status, err);
      if (c->stdout_part && strstr (out, c->stdout_part) == NULL)
        g_error ("%s %s: stdout lacks \"%s\": %s", program, c->args[0], c->stdout_part, out);
      if (c->stderr_part && strstr (err, c->stderr_part) == NULL)
        g_error ("%s %s: stderr lacks \"%s\": %s", program, c->args[0], c->stderr_part, err);
    }
}

static void
test_bridge (void)
{
  g_autofree char *program = qt_program_path ("QGA_BRIDGE", "service/qga-bridge");

  check_cases (program, bridge_cases);
}

static void
test_session (void)
{
  g_autofree char *program = qt_program_path ("QGA_SESSION", "service/qga-session");

  check_cases (program, session_cases);
}

static void
test_clipboard_sync (void)
{
  g_autofree char *program = qt_program_path ("QGA_CLIPBOARD_SYNC", "service/qga-clipboard-sync");

  check_cases (program, clipboard_sync_cases);
}

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);
  g_test_add_func ("/cli/qga-bridge", test_bridge);
  g_test_add_func ("/cli/qga-session", test_session);
  g_test_add_func ("/cli/qga-clipboard-sync", test_clipboard_sync);
  return qt_run ();
}
