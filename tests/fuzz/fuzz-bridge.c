/* fuzz-bridge.c: qga-bridge's handling of what the host sends.
 *
 * The input is the byte stream from the host. The target builds the
 * bridge's objects as bridge-main.c does (channel, dispatcher, clipboard,
 * stats), attaches the channel to a unix socket that the target plays
 * the host on, and writes the input into it in at most 16 pieces (where
 * they end comes from the input's hash: fuzz_feed()), running the main
 * loop and reading the bridge's answers in between; then the host
 * detaches and everything is freed.
 * Every message goes the real way: QgaStream, framer and parser,
 * bridge-channel, the dispatcher, and from there bridge-commands
 * (guest-sync, guest-info, guest-clipboard-request, anything malformed),
 * the replies to the bridge's own requests (host-info, the clipboard's
 * host-clipboard-request), events, HOST_STATS (bridge-stats' typing) and
 * the CLIPBOARD_* events (bridge-clipboard, qga-clipboard, qga-transfer).
 *
 * The guest side is played too, so that the host's messages meet real
 * state: a session agent (fuzz-sessions.c) is active and, before the
 * input, grabs the clipboard with two types; when the host asks for them
 * (guest-clipboard-request), the agent supplies a pipe holding 60000
 * bytes (two chunks); when the host grabs, the agent reads the first
 * type into /dev/null. So the host's ACKs, DATA and CANCELs meet real
 * transfers. The bridge asks host-info with id 1 as it attaches (a reply
 * {"return": {"clipboard": {"version": 1}}, "id": 1} makes the host
 * clipboard-capable), and a read's host-clipboard-request gets the next
 * id. Nothing depends on the clock: the bridge's timers are 500 ms and
 * more, a run takes a few, and the channel is freed as soon as it has seen
 * the host go (before its 50 ms reconnect timer). */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include "bridge-channel.h"
#include "bridge-clipboard.h"
#include "bridge-dispatcher.h"
#include "bridge-sessions.h"
#include "bridge-stats.h"
#include "fuzz-util.h"

#define AGENT ":fuzz.agent"
#define MAX_MESSAGE_SIZE (64 * 1024)
#define MAX_CLIPBOARD_SIZE (1024 * 1024)

static const char *socket_path;
static int listen_fd = -1;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ();
  socket_path = fuzz_listen_socket ("bridge", &listen_fd);
  return 0;
}

static void
job_done (guint64 bytes, const GError *error, gpointer user_data)
{
  guint *n_done = user_data;

  (*n_done)++;
}

typedef struct {
  BridgeClipboard *clipboard;
  guint n_started;
  guint n_done;
} Agent;

static void
on_data_requested (BridgeClipboard *clipboard, const char *agent, const char *selection,
                   const char *type, guint request_id, gpointer user_data)
{
  Agent *state = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (agent, ==, AGENT);
  /* Every third request, the owner cannot supply it. */
  if (++state->n_started % 3 == 0)
    {
      bridge_clipboard_supply_error (clipboard, agent, request_id, "no such data", &error);
      return;
    }
  if (bridge_clipboard_supply (clipboard, agent, request_id, fuzz_pipe_with (60000), job_done,
                               &state->n_done, &error))
    return;
}

static void
on_host_grabbed (BridgeClipboard *clipboard, const char *selection, GStrv types, guint serial,
                 gpointer user_data)
{
  Agent *state = user_data;
  g_autoptr(GError) error = NULL;
  QgaSelectionId id;
  int sink;

  g_assert (qga_clipboard_selection_from_name (selection, &id));
  g_assert (types != NULL && types[0] != NULL);
  sink = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  g_assert (sink >= 0);
  if (bridge_clipboard_read (clipboard, AGENT, id, types[0], sink, job_done, &state->n_done, &error))
    state->n_started++;
}

static void
on_stats (BridgeStats *stats, GVariant *value, gpointer user_data)
{
  g_assert (g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *const types[] = { "text/plain;charset=utf-8", "image/png", NULL };
  g_autofree char *spec = g_strdup_printf ("unix:%s", socket_path);
  g_autoptr(BridgeChannel) channel = NULL;
  g_autoptr(BridgeDispatcher) dispatcher = NULL;
  g_autoptr(BridgeSessions) sessions = NULL;
  g_autoptr(BridgeClipboard) clipboard = NULL;
  g_autoptr(BridgeStats) stats = NULL;
  g_autoptr(GError) error = NULL;
  Agent agent = { 0 };
  guint32 serial;
  FuzzRng rng;
  int host;

  fuzz_rng_init (&rng, data, size);
  channel = bridge_channel_new (spec, MAX_MESSAGE_SIZE, 1024 * 1024, &error);
  g_assert_no_error (error);
  dispatcher = bridge_dispatcher_new (channel, 30.0, MAX_MESSAGE_SIZE);
  sessions = bridge_sessions_new (NULL, 1);
  clipboard = bridge_clipboard_new (channel, dispatcher, sessions, MAX_CLIPBOARD_SIZE);
  /* No bus here, so no subscribers: HOST_STATS is typed and signalled. */
  stats = g_object_new (BRIDGE_TYPE_STATS, NULL);
  bridge_dispatcher_set_stats (dispatcher, stats);
  g_signal_connect (stats, "updated", G_CALLBACK (on_stats), NULL);
  agent.clipboard = clipboard;
  g_signal_connect (clipboard, "data-requested", G_CALLBACK (on_data_requested), &agent);
  g_signal_connect (clipboard, "host-grabbed", G_CALLBACK (on_host_grabbed), &agent);
  g_assert (bridge_clipboard_grab (clipboard, AGENT, QGA_SELECTION_CLIPBOARD, types, &serial, &error));

  bridge_channel_start (channel);   /* a unix socket connects at once */
  g_assert (bridge_channel_is_connected (channel));
  host = fuzz_accept (listen_fd);
  g_assert (host >= 0);
  fuzz_iterate (100);
  fuzz_drain (host);

  fuzz_feed (host, data, size, &rng);

  close (host);   /* the host detaches: pending work ends */
  /* Only until the channel sees it: 50 ms later it would connect again
   * (its retry timer), which would make the run depend on the clock. */
  for (guint i = 0; i < 1000 && bridge_channel_is_connected (channel); i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert (!bridge_channel_is_connected (channel));
  g_assert_cmpuint (bridge_dispatcher_get_pending_count (dispatcher), ==, 0);
  g_assert_cmpuint (agent.n_done, <=, agent.n_started);

  g_signal_handlers_disconnect_by_data (clipboard, &agent);
  g_clear_object (&stats);
  g_clear_object (&clipboard);
  g_clear_object (&sessions);
  g_clear_object (&dispatcher);
  g_clear_object (&channel);   /* and its retry timer */
  fuzz_iterate (100);
  for (int fd; (fd = fuzz_accept (listen_fd)) >= 0;)
    close (fd);   /* none expected; never let one reach the next run */
  return 0;
}
