/* vm-clipboard: a guest program using the clipboard through qga-session,
 * for the VM test (tests/vm/guest-init). gdbus cannot pass the file
 * descriptors the Clipboard interface moves data through, so this does.
 *
 *   vm-clipboard [--timeout=S] offer SELECTION TYPE TEXT
 *     Grabs SELECTION offering TYPE, printing "grabbed SERIAL", and
 *     supplies TEXT when the host pastes, printing "supplied BYTES". Exits 0
 *     after the first supply the host received in full.
 *   vm-clipboard [--timeout=S] read SELECTION TYPE
 *     Prints "waiting", then waits for the host to grab SELECTION offering
 *     TYPE, reads it and prints "read BYTES: TEXT". Exits 0.
 *
 * Calls auto-start qga-session on the session bus. A Grab refused while
 * qga-session is still registering with the bridge is tried again every
 * 200 ms. Everything is bounded by --timeout (default 30 s): exit 1 then,
 * with the last error on stderr. Exit 2 for a usage error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#define NAME "org.qemu.GuestAgent"
#define PATH "/org/qemu/GuestAgent"
#define IFACE "org.qemu.GuestAgent.Clipboard"
#define CALL_TIMEOUT_MS 20000
#define GRAB_RETRY_MS 200
/* The test's texts are short; anything longer than this is an error. */
#define MAX_READ (64 * 1024)

typedef struct {
  GDBusConnection *bus;
  GMainLoop *loop;
  int status;
  const char *selection;
  const char *type;
  const char *text;         /* offer only */
  char *last_error;
  int sink;                 /* read: the Read's sink, or -1 */
} Client;

static void
finish (Client *client, int status)
{
  client->status = status;
  g_main_loop_quit (client->loop);
}

/* Prints an error once, not again while it repeats (the Grab retries). */
static void
note_error (Client *client, const char *what, const GError *error)
{
  g_autofree char *message = g_strdup_printf ("%s: %s", what, error->message);

  if (g_strcmp0 (message, client->last_error) != 0)
    g_printerr ("vm-clipboard: %s\n", message);
  g_free (client->last_error);
  client->last_error = g_steal_pointer (&message);
}

static int
memfd_with_text (const char *text, GError **error)
{
  gsize length = strlen (text);
  int fd = memfd_create ("vm-clipboard", MFD_CLOEXEC);

  if (fd < 0 || write (fd, text, length) != (gssize) length || lseek (fd, 0, SEEK_SET) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "memfd: %s", g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return -1;
    }
  return fd;
}

static void
call_with_fd (Client *client, const char *method, GVariant *parameters, int fd,
              GAsyncReadyCallback callback)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new_from_array (&fd, 1);

  g_dbus_connection_call_with_unix_fd_list (client->bus, NAME, PATH, IFACE, method, parameters,
                                            G_VARIANT_TYPE ("(t)"), G_DBUS_CALL_FLAGS_NONE,
                                            CALL_TIMEOUT_MS, fds, NULL, callback, client);
}

/* --- offer --- */

static void grab (Client *client);

static gboolean
grab_again_cb (gpointer user_data)
{
  grab (user_data);
  return G_SOURCE_REMOVE;
}

static void
grab_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  guint32 serial;

  if (reply == NULL)
    {
      note_error (client, "Grab", error);
      g_timeout_add (GRAB_RETRY_MS, grab_again_cb, client);
      return;
    }
  g_variant_get (reply, "(u)", &serial);
  g_print ("grabbed %u\n", serial);
}

static void
grab (Client *client)
{
  const char *types[] = { client->type, NULL };

  g_dbus_connection_call (client->bus, NAME, PATH, IFACE, "Grab",
                          g_variant_new ("(s^as)", client->selection, types),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                          NULL, grab_cb, client);
}

static void
supply_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  guint64 bytes;

  reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), NULL,
                                                           result, &error);
  if (reply == NULL)
    {
      note_error (client, "SupplyData", error);
      return;   /* the host may paste again */
    }
  g_variant_get (reply, "(t)", &bytes);
  g_print ("supplied %" G_GUINT64_FORMAT "\n", bytes);
  finish (client, bytes == strlen (client->text) ? 0 : 1);
}

static void
data_requested_cb (GDBusConnection *bus, const char *sender, const char *path,
                   const char *interface, const char *signal, GVariant *parameters,
                   gpointer user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  const char *selection, *type;
  guint32 request_id;
  int fd;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ssu)")))
    return;
  g_variant_get (parameters, "(&s&su)", &selection, &type, &request_id);
  g_print ("requested %s %s\n", selection, type);
  fd = memfd_with_text (client->text, &error);
  if (fd < 0)
    {
      note_error (client, "DataRequested", error);
      finish (client, 1);
      return;
    }
  call_with_fd (client, "SupplyData", g_variant_new ("(uh)", request_id, 0), fd, supply_cb);
}

/* --- read --- */

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GUnixFDList) out_fds = NULL;
  g_autofree char *text = NULL;
  guint64 bytes;
  gssize got;

  reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), &out_fds,
                                                           result, &error);
  if (reply == NULL)
    {
      note_error (client, "Read", error);
      finish (client, 1);
      return;
    }
  g_variant_get (reply, "(t)", &bytes);
  text = g_malloc0 (MAX_READ + 1);
  got = pread (client->sink, text, MAX_READ, 0);
  if (got < 0 || (guint64) got != bytes)
    {
      g_printerr ("vm-clipboard: Read said %" G_GUINT64_FORMAT " bytes, the sink has %zd\n",
                  bytes, got);
      finish (client, 1);
      return;
    }
  g_print ("read %" G_GUINT64_FORMAT ": %s\n", bytes, text);
  finish (client, 0);
}

static void
host_grabbed_cb (GDBusConnection *bus, const char *sender, const char *path,
                 const char *interface, const char *signal, GVariant *parameters,
                 gpointer user_data)
{
  Client *client = user_data;
  g_autofree const char **types = NULL;
  const char *selection;
  guint32 serial;
  int fd;

  if (client->sink >= 0 || !g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sasu)")))
    return;
  g_variant_get (parameters, "(&s^a&su)", &selection, &types, &serial);
  g_print ("host grabbed %s serial %u\n", selection, serial);
  if (!g_str_equal (selection, client->selection) ||
      !g_strv_contains ((const char *const *) types, client->type))
    return;

  client->sink = memfd_create ("vm-clipboard-sink", MFD_CLOEXEC);
  /* the fd list takes the duplicate; the sink stays ours to read after */
  fd = client->sink >= 0 ? dup (client->sink) : -1;
  if (fd < 0)
    {
      g_printerr ("vm-clipboard: memfd: %s\n", g_strerror (errno));
      finish (client, 1);
      return;
    }
  call_with_fd (client, "Read", g_variant_new ("(ssh)", client->selection, client->type, 0),
                fd, read_cb);
}

/* --- main --- */

static gboolean
timeout_cb (gpointer user_data)
{
  Client *client = user_data;

  g_printerr ("vm-clipboard: timed out%s%s\n", client->last_error ? "; last error: " : "",
              client->last_error ? client->last_error : "");
  finish (client, 1);
  return G_SOURCE_REMOVE;
}

static int
usage (const char *message)
{
  g_printerr ("vm-clipboard: %s\n"
              "usage: vm-clipboard [--timeout=S] offer SELECTION TYPE TEXT\n"
              "       vm-clipboard [--timeout=S] read SELECTION TYPE\n", message);
  return 2;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GOptionContext) context = NULL;
  gint timeout_s = 30;
  GOptionEntry entries[] = {
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "Give up after S seconds (1-600)", "S" },
    { NULL }
  };
  Client client = { .status = 1, .sink = -1 };
  gboolean offer;

  setvbuf (stdout, NULL, _IOLBF, 0);   /* the guest script waits for lines */
  context = g_option_context_new ("offer SELECTION TYPE TEXT | read SELECTION TYPE");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage (error->message);
  if (timeout_s < 1 || timeout_s > 600)
    return usage ("--timeout must be 1 to 600");
  offer = argc == 5 && g_str_equal (argv[1], "offer");
  if (!offer && !(argc == 4 && g_str_equal (argv[1], "read")))
    return usage ("expected offer or read and their arguments");
  client.selection = argv[2];
  client.type = argv[3];
  client.text = offer ? argv[4] : NULL;

  client.bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (client.bus == NULL)
    {
      g_printerr ("vm-clipboard: the session bus: %s\n", error->message);
      return 1;
    }
  loop = g_main_loop_new (NULL, FALSE);
  client.loop = loop;
  g_timeout_add_seconds (timeout_s, timeout_cb, &client);

  if (offer)
    {
      g_dbus_connection_signal_subscribe (client.bus, NULL, IFACE, "DataRequested", PATH, NULL,
                                          G_DBUS_SIGNAL_FLAGS_NONE, data_requested_cb, &client, NULL);
      grab (&client);
    }
  else
    {
      /* Subscribed before "waiting" is printed: the caller starts the host's
       * grab only after that, so the signal cannot be missed. */
      g_dbus_connection_signal_subscribe (client.bus, NULL, IFACE, "HostGrabbed", PATH, NULL,
                                          G_DBUS_SIGNAL_FLAGS_NONE, host_grabbed_cb, &client, NULL);
      /* A round trip: the match rule is in place once this returns. It
       * starts qga-session if it is not running (in the VM test it is,
       * and registered with the bridge, since the offer step). */
      g_autoptr(GVariant) ping = g_dbus_connection_call_sync (client.bus, NAME, PATH,
                                                              "org.freedesktop.DBus.Peer", "Ping",
                                                              NULL, NULL, G_DBUS_CALL_FLAGS_NONE,
                                                              CALL_TIMEOUT_MS, NULL, &error);
      if (ping == NULL)
        {
          g_printerr ("vm-clipboard: %s: %s\n", NAME, error->message);
          return 1;
        }
      g_print ("waiting\n");
    }
  g_main_loop_run (loop);
  if (client.sink >= 0)
    close (client.sink);
  g_free (client.last_error);
  g_object_unref (client.bus);
  return client.status;
}
