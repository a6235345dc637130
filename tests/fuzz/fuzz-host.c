/* fuzz-host.c: qga-host's handling of what the guest sends.
 *
 * The input is the byte stream from the guest. The target builds what
 * qga-host's serve mode builds (host-main.c): the clipboard and the stats
 * (no QMP socket: fuzz-qmp covers it), and a HostPeer on one end of a
 * socketpair; it plays the guest on the other end, writing the input in
 * at most 16 pieces (most ending at a newline; where, from the input's
 * hash: fuzz_feed()) and reading qga-host's answers in between, then
 * closes it. Every message goes the
 * real way: QgaStream, framer, parser, host-peer, then host-commands
 * (host-ping, host-info, host-echo with its delayed replies, host-stats,
 * host-subscribe, host-unsubscribe, host-clipboard-request, anything
 * malformed), host-clipboard (CLIPBOARD_* events, the replies to its
 * guest-clipboard-requests, transfers in qga-transfer) and the peer's
 * reply and event signals (printed as serve mode prints them).
 *
 * The host side is played too: before the input, qga-host has grabbed
 * the clipboard (two types; a request for them is served from a pipe
 * holding 60000 bytes, two chunks) and asked guest-info with id 1 (a
 * reply carrying {"clipboard": {"version": 1}} makes the guest capable,
 * as clipboard_info_reply() in host-main.c does); when the guest grabs,
 * the host reads the first type into /dev/null (its
 * guest-clipboard-request has the string id "clipboard-N"). Only
 * /proc's figures and the wall clock vary from run to run, never a
 * path. */
#include "config.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "host-clipboard.h"
#include "host-peer.h"
#include "host-stats.h"
#include "qga-wire.h"

#define MAX_MESSAGE_SIZE (64 * 1024)
#define MAX_CLIPBOARD_SIZE (1024 * 1024)
#define INFO_ID 1

typedef struct {
  HostClipboard *clipboard;
  guint n_reads;
  guint n_done;
  guint n_sources;
} Host;

static int
source_cb (QgaSelectionId selection, const char *type, gpointer user_data, GError **error)
{
  Host *host = user_data;

  /* Every third request, the source cannot open its content. */
  if (++host->n_sources % 3 == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no such content");
      return -1;
    }
  return fuzz_pipe_with (60000);
}

static void
read_done (guint64 bytes, const GError *error, gpointer user_data)
{
  Host *host = user_data;

  host->n_done++;
}

static void
guest_cb (QgaSelectionId selection, guint32 serial, const char *const *types, gpointer user_data)
{
  Host *host = user_data;
  g_autoptr(GError) error = NULL;
  int sink;

  if (types == NULL)
    return;   /* released */
  sink = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  g_assert (sink >= 0);
  if (host_clipboard_read (host->clipboard, selection, types[0], FALSE, sink, NULL, read_done,
                           host, &error))
    host->n_reads++;
}

/* serve mode prints replies and events; the guest-info reply is the clipboard's */
static void
reply_cb (HostPeer *peer, JsonNode *message, gpointer user_data)
{
  Host *host = user_data;
  g_autofree char *text = qga_wire_to_string (message);
  JsonObject *reply = json_node_get_object (message);
  JsonNode *result = json_object_get_member (reply, "return");
  gint64 id;

  if (qga_wire_get_int_id (reply, &id) && id == INFO_ID && result != NULL &&
      JSON_NODE_HOLDS_OBJECT (result))
    host_clipboard_set_guest_info (host->clipboard, json_node_get_object (result));
}

static void
event_cb (HostPeer *peer, JsonNode *message, gpointer user_data)
{
  g_autofree char *text = qga_wire_to_string (message);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *const types[] = { "text/plain;charset=utf-8", "image/png", NULL };
  g_autoptr(HostClipboard) clipboard = host_clipboard_new (MAX_CLIPBOARD_SIZE);
  g_autoptr(HostStats) stats = NULL;
  g_autoptr(HostPeer) peer = NULL;
  g_autoptr(GError) error = NULL;
  Host host = { clipboard };
  FuzzRng rng;
  int fds[2];

  fuzz_init ();
  fuzz_rng_init (&rng, data, size);
  /* Not /proc/cpuinfo (its model name, read per request, is slow to read
   * and not the guest's input); every other field. */
  stats = host_stats_new (HOST_STATS_ALL & ~HOST_STATS_BIT (HOST_STATS_CPU_MODEL), NULL);
  host_clipboard_set_guest_func (clipboard, guest_cb, &host);
  host_clipboard_grab (clipboard, QGA_SELECTION_CLIPBOARD, types, source_cb, &host, NULL);
  g_assert (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  peer = host_peer_new (fds[0], MAX_MESSAGE_SIZE, clipboard, stats);
  g_signal_connect (peer, "reply", G_CALLBACK (reply_cb), &host);
  g_signal_connect (peer, "event", G_CALLBACK (event_cb), &host);
  g_assert (host_peer_send_sync (peer, 1234567, &error));
  g_assert (host_peer_send_command (peer, "guest-info", NULL, INFO_ID, &error));
  fuzz_iterate (100);
  fuzz_drain (fds[1]);

  fuzz_feed (fds[1], data, size, &rng);

  close (fds[1]);   /* the guest goes: delayed replies and transfers end */
  fuzz_iterate (1000);
  g_assert_cmpuint (host.n_done, <=, host.n_reads);
  g_clear_object (&peer);
  g_clear_pointer (&clipboard, host_clipboard_free);
  g_clear_pointer (&stats, host_stats_free);
  fuzz_iterate (100);
  return 0;
}
