/* bridge-clipboard.c: selections, grabs and transfers on the guest's side. */
#include "config.h"

#include <unistd.h>

#include "bridge-clipboard.h"
#include "qga-error.h"
#include "qga-log.h"
#include "qga-transfer.h"
#include "qga-wire.h"

#define BRIDGE_OWNER ":qga-bridge"   /* the dispatcher's owner for our own requests */
#define SMALL_LINE 512

/* What the bridge knows of the host's clipboard on this connection. */
typedef enum {
  HOST_UNKNOWN,
  HOST_QUERYING,
  HOST_CAPABLE,
  HOST_NOT_CAPABLE,
} HostState;

/* A guest-clipboard-request waiting for the owner to hand over its data. */
typedef struct {
  BridgeClipboard *clipboard;
  guint32 request_id;      /* the agent's number */
  guint32 transfer;        /* the host's number */
  QgaSelectionId selection;
  char *agent;
  guint timer;
  gboolean started;        /* SupplyData came: its transfer runs */
} Supply;

/* The caller of a supply or read, kept with its transfer. */
typedef struct {
  BridgeClipboard *clipboard;
  char *agent;
  guint32 request_id;      /* a supply's, or 0 */
  BridgeClipboardDoneFunc done;
  gpointer user_data;
} Job;

struct _BridgeClipboard {
  GObject parent;

  BridgeChannel *channel;
  BridgeDispatcher *dispatcher;
  BridgeSessions *sessions;
  guint64 max_size;
  guint64 host_max_size;   /* announced by the host; 0 if unknown */
  HostState host;
  guint generation;        /* of the connection: a reply from an older one is void */
  QgaSelection selections[QGA_N_SELECTIONS];
  char *owner_agent[QGA_N_SELECTIONS];   /* the agent whose program owns the guest's grab */
  QgaTransfers *transfers;
  GHashTable *supplies;    /* request_id → Supply */
  guint32 last_request_id;
  QgaRateLimit bad_input_limit;
};

enum { SIGNAL_HOST_GRABBED, SIGNAL_HOST_RELEASED, SIGNAL_DATA_REQUESTED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (BridgeClipboard, bridge_clipboard, G_TYPE_OBJECT)

static void
job_free (Job *job)
{
  g_free (job->agent);
  g_free (job);
}

static void
supply_free (Supply *supply)
{
  g_clear_handle_id (&supply->timer, g_source_remove);
  g_free (supply->agent);
  g_free (supply);
}

#define warn_host_input(clipboard, ...) \
  qga_rate_limited_warning (&(clipboard)->bad_input_limit, "clipboard: " __VA_ARGS__)

/* --- sending --- */

static gboolean
send_line (GBytes *line, gpointer user_data, GError **error)
{
  BridgeClipboard *clipboard = user_data;
  /* Acknowledgements and cancels are tiny and bounded by the transfers. */
  QgaStreamSendFlags flags = g_bytes_get_size (line) < SMALL_LINE ? QGA_STREAM_SEND_FORCE
                                                                  : QGA_STREAM_SEND_NONE;

  return bridge_channel_send (clipboard->channel, line, flags, error);
}

static void
send_or_log (BridgeClipboard *clipboard, GBytes *line, const char *what)
{
  g_autoptr(GError) error = NULL;

  if (!send_line (line, clipboard, &error))
    g_warning ("clipboard: cannot send %s to the host: %s", what, error->message);
}

static void
announce_grab (BridgeClipboard *clipboard, QgaSelectionId id)
{
  QgaSelection *selection = &clipboard->selections[id];
  g_autoptr(GBytes) line = NULL;

  if (clipboard->host != HOST_CAPABLE || !selection->local_owned)
    return;
  line = qga_clipboard_build_grab (id, (const char *const *) selection->local_types,
                                   selection->local_serial, selection->peer_serial);
  send_or_log (clipboard, line, QGA_CLIPBOARD_EVENT_GRAB);
}

static void
release_local (BridgeClipboard *clipboard, QgaSelectionId id)
{
  QgaSelection *selection = &clipboard->selections[id];
  g_autoptr(GBytes) line = NULL;

  g_clear_pointer (&clipboard->owner_agent[id], g_free);
  if (!qga_selection_release_local (selection))
    return;
  if (clipboard->host != HOST_CAPABLE)
    return;
  line = qga_clipboard_build_release (id, selection->local_serial);
  send_or_log (clipboard, line, QGA_CLIPBOARD_EVENT_RELEASE);
}

/* --- the host's capability --- */

static void
host_info_cb (const BridgeResult *result, gpointer user_data)
{
  g_autoptr(BridgeClipboard) clipboard = user_data;   /* the request's reference */
  guint64 max_size = 0;

  if (clipboard->host != HOST_QUERYING)
    return;
  if (result->error != NULL && result->host_error_class == NULL)
    {
      /* Not the host's answer: a timeout, or the host left. */
      g_debug ("clipboard: host-info failed: %s", result->error->message);
      clipboard->host = HOST_UNKNOWN;
    }
  else if (result->error == NULL && JSON_NODE_HOLDS_OBJECT (result->value) &&
           qga_clipboard_capability_parse (json_node_get_object (result->value), &max_size))
    {
      g_message ("clipboard: the host supports it (max-size %" G_GUINT64_FORMAT ")", max_size);
      clipboard->host = HOST_CAPABLE;
      clipboard->host_max_size = max_size;
      for (int id = 0; id < QGA_N_SELECTIONS; id++)
        announce_grab (clipboard, id);
    }
  else
    {
      g_message ("clipboard: the host did not announce clipboard support");
      clipboard->host = HOST_NOT_CAPABLE;
    }
}

/* Asked once per connection, when there is a session to sync with. */
static void
query_host (BridgeClipboard *clipboard)
{
  g_autoptr(GError) error = NULL;

  if (clipboard->host != HOST_UNKNOWN || !bridge_channel_is_connected (clipboard->channel) ||
      bridge_sessions_get_active (clipboard->sessions) == NULL)
    return;
  clipboard->host = HOST_QUERYING;
  if (!bridge_dispatcher_request (clipboard->dispatcher, "host-info", NULL, BRIDGE_OWNER,
                                  host_info_cb, g_object_ref (clipboard), &error))
    {
      g_debug ("clipboard: cannot ask host-info: %s", error->message);
      clipboard->host = HOST_UNKNOWN;
      g_object_unref (clipboard);
    }
}

/* --- the host's messages --- */

static void
drop_supplies_where (BridgeClipboard *clipboard, gboolean (*match) (Supply *, gconstpointer),
                     gconstpointer data, const GError *error)
{
  GHashTableIter iter;
  Supply *supply;

  g_hash_table_iter_init (&iter, clipboard->supplies);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &supply))
    {
      if (supply->started || !match (supply, data))
        continue;   /* a started one ends with its transfer */
      if (error != NULL)
        {
          g_autoptr(GBytes) line = qga_transfer_build_cancel (supply->transfer, QGA_TRANSFER_OWNER, error);

          send_or_log (clipboard, line, QGA_CLIPBOARD_EVENT_CANCEL);
        }
      g_hash_table_iter_remove (&iter);
    }
}

static gboolean
supply_has_selection (Supply *supply, gconstpointer data)
{
  return supply->selection == GPOINTER_TO_UINT (data);
}

static gboolean
supply_has_agent (Supply *supply, gconstpointer data)
{
  return g_str_equal (supply->agent, data);
}

static gboolean
supply_has_transfer (Supply *supply, gconstpointer data)
{
  return supply->transfer == GPOINTER_TO_UINT (data);
}

/* A new grab (either side's) ends what was moving for the old one. */
static void
cancel_selection_work (BridgeClipboard *clipboard, QgaSelectionId id, const char *why)
{
  g_autoptr(GError) error = g_error_new (QGA_ERROR, QGA_ERROR_CANCELLED, "%s", why);

  qga_transfers_cancel_selection (clipboard->transfers, id, error);
  drop_supplies_where (clipboard, supply_has_selection, GUINT_TO_POINTER (id), error);
}

static void
handle_grab (BridgeClipboard *clipboard, JsonObject *data)
{
  g_auto(QgaClipboardGrab) grab = { 0 };
  g_autoptr(GError) error = NULL;
  QgaSelectionOutcome outcome;
  const char *name;

  if (!qga_clipboard_grab_parse (data, &grab, &error))
    {
      warn_host_input (clipboard, "dropping a malformed CLIPBOARD_GRAB: %s", error->message);
      return;
    }
  name = qga_clipboard_selection_name (grab.selection);
  outcome = qga_selection_grab_peer (&clipboard->selections[grab.selection], &grab, FALSE);
  if (outcome == QGA_SELECTION_PEER_STALE)
    {
      g_debug ("clipboard: ignoring a stale host grab of %s (serial %u)", name, grab.serial);
      return;
    }
  if (outcome == QGA_SELECTION_PEER_WON_RACE)
    g_debug ("clipboard: the host's grab of %s crossed ours; the host's wins", name);
  g_clear_pointer (&clipboard->owner_agent[grab.selection], g_free);
  cancel_selection_work (clipboard, grab.selection, "the host grabbed the selection");
  g_signal_emit (clipboard, signals[SIGNAL_HOST_GRABBED], 0, name, grab.types, grab.serial);
}

static void
handle_release (BridgeClipboard *clipboard, JsonObject *data)
{
  g_autoptr(GError) error = NULL;
  QgaSelectionId id;
  guint32 serial;

  if (!qga_clipboard_release_parse (data, &id, &serial, &error))
    {
      warn_host_input (clipboard, "dropping a malformed CLIPBOARD_RELEASE: %s", error->message);
      return;
    }
  if (!qga_selection_release_peer (&clipboard->selections[id], serial))
    {
      g_debug ("clipboard: ignoring a stale host release of %s", qga_clipboard_selection_name (id));
      return;
    }
  g_signal_emit (clipboard, signals[SIGNAL_HOST_RELEASED], 0, qga_clipboard_selection_name (id));
}

/* The host cancels a request before the owner supplied anything. */
static gboolean
handle_early_cancel (BridgeClipboard *clipboard, JsonObject *data)
{
  JsonNode *transfer = json_object_get_member (data, "transfer");
  gint64 id;

  if (g_strcmp0 (qga_wire_get_string_member (data, "role"), "reader") != 0 || transfer == NULL ||
      !JSON_NODE_HOLDS_VALUE (transfer) || json_node_get_value_type (transfer) != G_TYPE_INT64)
    return FALSE;
  id = json_node_get_int (transfer);
  if (id < 1 || id > G_MAXUINT32 || qga_transfers_lookup (clipboard->transfers, QGA_TRANSFER_OWNER, id))
    return FALSE;
  drop_supplies_where (clipboard, supply_has_transfer, GUINT_TO_POINTER ((guint32) id), NULL);
  return TRUE;
}

void
bridge_clipboard_handle_event (BridgeClipboard *clipboard, const char *name, JsonObject *data)
{
  g_autofree char *problem = NULL;

  if (data == NULL)
    warn_host_input (clipboard, "dropping %s without data", name);
  else if (g_str_equal (name, QGA_CLIPBOARD_EVENT_GRAB))
    handle_grab (clipboard, data);
  else if (g_str_equal (name, QGA_CLIPBOARD_EVENT_RELEASE))
    handle_release (clipboard, data);
  else if (g_str_equal (name, QGA_CLIPBOARD_EVENT_CANCEL) && handle_early_cancel (clipboard, data))
    return;
  else if (!qga_transfers_handle_event (clipboard->transfers, name, data, &problem))
    warn_host_input (clipboard, "dropping an unknown clipboard event");
  else if (problem != NULL)
    warn_host_input (clipboard, "%s", problem);
}

/* --- the host reads the guest's clipboard --- */

static gboolean
on_supply_timeout (gpointer user_data)
{
  Supply *supply = user_data;
  BridgeClipboard *clipboard = supply->clipboard;
  g_autoptr(GError) error = g_error_new (QGA_ERROR, QGA_ERROR_TIMEOUT,
                                         "the guest's owner did not supply the data within %d s",
                                         BRIDGE_SUPPLY_TIMEOUT_MS / 1000);
  g_autoptr(GBytes) line = qga_transfer_build_cancel (supply->transfer, QGA_TRANSFER_OWNER, error);

  supply->timer = 0;
  send_or_log (clipboard, line, QGA_CLIPBOARD_EVENT_CANCEL);
  g_hash_table_remove (clipboard->supplies, GUINT_TO_POINTER (supply->request_id));
  return G_SOURCE_REMOVE;
}

static gboolean
transfer_number_in_use (BridgeClipboard *clipboard, guint32 transfer)
{
  Supply *supply;
  GHashTableIter iter;

  if (qga_transfers_lookup (clipboard->transfers, QGA_TRANSFER_OWNER, transfer) != NULL)
    return TRUE;
  g_hash_table_iter_init (&iter, clipboard->supplies);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &supply))
    if (supply->transfer == transfer)
      return TRUE;
  return FALSE;
}

static guint32
next_request_id (BridgeClipboard *clipboard)
{
  do
    clipboard->last_request_id = clipboard->last_request_id == G_MAXUINT32
                                   ? 1 : clipboard->last_request_id + 1;
  while (g_hash_table_contains (clipboard->supplies, GUINT_TO_POINTER (clipboard->last_request_id)));
  return clipboard->last_request_id;
}

gboolean
bridge_clipboard_handle_request (BridgeClipboard *clipboard, JsonObject *arguments, GError **error)
{
  g_auto(QgaClipboardRequest) request = { 0 };
  const char *agent, *name;
  Supply *supply;

  if (!qga_clipboard_request_parse (arguments, &request, error))
    return FALSE;
  name = qga_clipboard_selection_name (request.selection);
  agent = clipboard->owner_agent[request.selection];
  if (!qga_selection_local_offers (&clipboard->selections[request.selection], request.serial,
                                   request.type))
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NO_DATA,
                   "the guest's %s has no grab with serial %u offering '%s'", name,
                   request.serial, request.type);
      return FALSE;
    }
  if (agent == NULL || g_strcmp0 (agent, bridge_sessions_get_active (clipboard->sessions)) != 0)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NO_DATA,
                   "no active session agent can supply the guest's %s", name);
      return FALSE;
    }
  if (g_hash_table_size (clipboard->supplies) >= QGA_TRANSFER_MAX_AT_ONCE)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                   "%d clipboard transfers to the host are in progress", QGA_TRANSFER_MAX_AT_ONCE);
      return FALSE;
    }
  if (transfer_number_in_use (clipboard, request.transfer))
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "transfer %u is already in progress", request.transfer);
      return FALSE;
    }
  supply = g_new0 (Supply, 1);
  supply->clipboard = clipboard;
  supply->request_id = next_request_id (clipboard);
  supply->transfer = request.transfer;
  supply->selection = request.selection;
  supply->agent = g_strdup (agent);
  supply->timer = g_timeout_add (BRIDGE_SUPPLY_TIMEOUT_MS, on_supply_timeout, supply);
  g_hash_table_insert (clipboard->supplies, GUINT_TO_POINTER (supply->request_id), supply);
  g_debug ("clipboard: the host reads %s as %s (transfer %u, request %u)", name, request.type,
           request.transfer, supply->request_id);
  g_signal_emit (clipboard, signals[SIGNAL_DATA_REQUESTED], 0, agent, name, request.type,
                 supply->request_id);
  return TRUE;
}

static void
transfer_done (QgaTransfer *transfer, guint64 bytes, const GError *error, gpointer user_data)
{
  Job *job = qga_transfer_get_data (transfer);

  if (job != NULL && job->request_id != 0)
    g_hash_table_remove (job->clipboard->supplies, GUINT_TO_POINTER (job->request_id));
  if (error != NULL)
    g_debug ("clipboard: transfer %u (%s) failed after %" G_GUINT64_FORMAT " bytes: %s",
             qga_transfer_get_id (transfer),
             qga_transfer_get_role (transfer) == QGA_TRANSFER_OWNER ? "to the host" : "from the host",
             bytes, error->message);
  if (job != NULL)
    job->done (bytes, error, job->user_data);
}

static Job *
job_new (BridgeClipboard *clipboard, const char *agent, guint32 request_id,
         BridgeClipboardDoneFunc done, gpointer user_data)
{
  Job *job = g_new0 (Job, 1);

  job->clipboard = clipboard;
  job->request_id = request_id;
  job->agent = g_strdup (agent);
  job->done = done;
  job->user_data = user_data;
  return job;
}

/* running_ok: a supply whose transfer has started counts (SupplyError). */
static Supply *
lookup_supply (BridgeClipboard *clipboard, const char *agent, guint32 request_id,
               gboolean running_ok, GError **error)
{
  Supply *supply = g_hash_table_lookup (clipboard->supplies, GUINT_TO_POINTER (request_id));

  if (supply == NULL || (supply->started && !running_ok))
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NO_DATA,
                   "request %u is not pending (answered, cancelled or timed out)", request_id);
      supply = NULL;
    }
  else if (!g_str_equal (supply->agent, agent))
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                   "request %u was not sent to this agent", request_id);
      supply = NULL;
    }
  return supply;
}

gboolean
bridge_clipboard_supply (BridgeClipboard *clipboard, const char *agent, guint32 request_id,
                         int fd, BridgeClipboardDoneFunc done, gpointer user_data, GError **error)
{
  Supply *supply = lookup_supply (clipboard, agent, request_id, FALSE, error);
  QgaTransfer *transfer;

  if (supply == NULL)
    {
      close (fd);
      return FALSE;
    }
  /* Stop at the smaller limit: the host would cancel past its own. */
  transfer = qga_transfer_new (QGA_TRANSFER_OWNER, supply->transfer, supply->selection, fd,
                               clipboard->host_max_size != 0
                                 ? MIN (clipboard->max_size, clipboard->host_max_size)
                                 : clipboard->max_size,
                               send_line, transfer_done, clipboard);
  if (!qga_transfers_add (clipboard->transfers, transfer, error))
    {
      qga_transfer_free (transfer);
      g_hash_table_remove (clipboard->supplies, GUINT_TO_POINTER (request_id));
      return FALSE;
    }
  supply->started = TRUE;
  g_clear_handle_id (&supply->timer, g_source_remove);
  qga_transfer_set_data (transfer, job_new (clipboard, agent, request_id, done, user_data),
                         (GDestroyNotify) job_free);
  return TRUE;
}

gboolean
bridge_clipboard_supply_error (BridgeClipboard *clipboard, const char *agent, guint32 request_id,
                               const char *message, GError **error)
{
  Supply *supply = lookup_supply (clipboard, agent, request_id, TRUE, error);
  g_autoptr(GError) reason = NULL;
  g_autoptr(GBytes) line = NULL;
  QgaTransfer *transfer;

  if (supply == NULL)
    return FALSE;
  reason = g_error_new (QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                        "the guest's owner cannot supply it: %.256s", message);
  if (supply->started)
    {
      /* e.g. the owner died with its content half written */
      transfer = qga_transfers_lookup (clipboard->transfers, QGA_TRANSFER_OWNER, supply->transfer);
      if (transfer != NULL)
        qga_transfers_cancel (clipboard->transfers, transfer, reason);
      return TRUE;
    }
  line = qga_transfer_build_cancel (supply->transfer, QGA_TRANSFER_OWNER, reason);
  send_or_log (clipboard, line, QGA_CLIPBOARD_EVENT_CANCEL);
  g_hash_table_remove (clipboard->supplies, GUINT_TO_POINTER (request_id));
  return TRUE;
}

/* --- the guest reads the host's clipboard --- */

typedef struct {
  BridgeClipboard *clipboard;
  guint32 transfer;
  guint generation;
} ReadRequest;

static void
read_reply_cb (const BridgeResult *result, gpointer user_data)
{
  ReadRequest *request = user_data;
  BridgeClipboard *clipboard = request->clipboard;
  QgaTransfer *transfer = qga_transfers_lookup (clipboard->transfers, QGA_TRANSFER_READER,
                                                request->transfer);

  if (result->error != NULL && transfer != NULL && request->generation == clipboard->generation)
    qga_transfers_fail (clipboard->transfers, transfer, result->error);
  g_object_unref (clipboard);
  g_free (request);
}

gboolean
bridge_clipboard_read (BridgeClipboard *clipboard, const char *agent, QgaSelectionId id,
                       const char *type, int fd, BridgeClipboardDoneFunc done,
                       gpointer user_data, GError **error)
{
  QgaSelection *selection = &clipboard->selections[id];
  g_autoptr(JsonNode) arguments = NULL;
  ReadRequest *request;
  QgaTransfer *transfer;
  guint32 number;

  if (!bridge_channel_is_connected (clipboard->channel))
    {
      close (fd);
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_HOST_DISCONNECTED, "no host is attached to the port");
      return FALSE;
    }
  if (clipboard->host == HOST_NOT_CAPABLE)
    {
      close (fd);
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED,
                           "the host did not announce clipboard support");
      return FALSE;
    }
  if (!qga_selection_peer_offers (selection, 0, type))
    {
      close (fd);
      g_set_error (error, QGA_ERROR, QGA_ERROR_NO_DATA, "the host's %s offers no '%s'",
                   qga_clipboard_selection_name (id), type);
      return FALSE;
    }
  number = qga_transfers_next_reader_id (clipboard->transfers);
  transfer = qga_transfer_new (QGA_TRANSFER_READER, number, id, fd, clipboard->max_size,
                               send_line, transfer_done, clipboard);
  if (!qga_transfers_add (clipboard->transfers, transfer, error))
    {
      qga_transfer_free (transfer);
      return FALSE;
    }
  arguments = qga_clipboard_request_build_arguments (id, type, selection->peer_serial, number);
  request = g_new0 (ReadRequest, 1);
  request->clipboard = g_object_ref (clipboard);
  request->transfer = number;
  request->generation = clipboard->generation;
  if (!bridge_dispatcher_request (clipboard->dispatcher, QGA_CLIPBOARD_HOST_REQUEST, arguments,
                                  agent, read_reply_cb, request, error))
    {
      g_object_unref (clipboard);
      g_free (request);
      qga_transfers_fail (clipboard->transfers, transfer, *error);
      return FALSE;
    }
  qga_transfer_set_data (transfer, job_new (clipboard, agent, 0, done, user_data),
                         (GDestroyNotify) job_free);
  return TRUE;
}

/* --- the guest's grabs --- */

gboolean
bridge_clipboard_grab (BridgeClipboard *clipboard, const char *agent, QgaSelectionId id,
                       const char *const *types, guint32 *serial, GError **error)
{
  if (!qga_clipboard_check_types (types, -1, error))
    return FALSE;
  cancel_selection_work (clipboard, id, "the guest grabbed the selection");
  *serial = qga_selection_grab_local (&clipboard->selections[id], types);
  g_free (clipboard->owner_agent[id]);
  clipboard->owner_agent[id] = g_strdup (agent);
  announce_grab (clipboard, id);
  return TRUE;
}

gboolean
bridge_clipboard_release (BridgeClipboard *clipboard, const char *agent, QgaSelectionId id,
                          GError **error)
{
  if (!clipboard->selections[id].local_owned || g_strcmp0 (clipboard->owner_agent[id], agent) != 0)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NO_DATA, "the guest does not own the %s",
                   qga_clipboard_selection_name (id));
      return FALSE;
    }
  release_local (clipboard, id);
  return TRUE;
}

gboolean
bridge_clipboard_get_host_grab (BridgeClipboard *clipboard, QgaSelectionId id,
                                const char *const **types, guint32 *serial)
{
  QgaSelection *selection = &clipboard->selections[id];

  if (!selection->peer_owned)
    return FALSE;
  *types = (const char *const *) selection->peer_types;
  *serial = selection->peer_serial;
  return TRUE;
}

JsonNode *
bridge_clipboard_get_capability (BridgeClipboard *clipboard)
{
  return qga_clipboard_capability_new (clipboard->max_size);
}

/* --- agents and the port come and go --- */

static gboolean
job_has_agent (QgaTransfer *transfer, gconstpointer agent)
{
  Job *job = qga_transfer_get_data (transfer);

  return job != NULL && g_str_equal (job->agent, agent);
}

/* The agent's programs lose their grabs, and what moves for them stops. */
static void
forget_agent (BridgeClipboard *clipboard, const char *agent, const char *why)
{
  g_autoptr(GError) error = g_error_new (QGA_ERROR, QGA_ERROR_CANCELLED, "%s", why);

  for (int id = 0; id < QGA_N_SELECTIONS; id++)
    if (g_strcmp0 (clipboard->owner_agent[id], agent) == 0)
      release_local (clipboard, id);
  drop_supplies_where (clipboard, supply_has_agent, agent, error);
  qga_transfers_cancel_where (clipboard->transfers, job_has_agent, agent, error);
}

static void
on_agent_removed (BridgeSessions *sessions, const char *agent, gpointer user_data)
{
  forget_agent (user_data, agent, "the session agent left");
}

static void
on_active_changed (BridgeSessions *sessions, const char *old_agent, const char *new_agent,
                   gpointer user_data)
{
  BridgeClipboard *clipboard = user_data;

  if (old_agent != NULL)
    forget_agent (clipboard, old_agent, "the session is no longer the active one");
  query_host (clipboard);
}

static void
on_connected (BridgeChannel *channel, gpointer user_data)
{
  query_host (user_data);
}

static void
on_disconnected (BridgeChannel *channel, gpointer user_data)
{
  BridgeClipboard *clipboard = user_data;
  g_autoptr(GError) error = g_error_new_literal (QGA_ERROR, QGA_ERROR_HOST_DISCONNECTED,
                                                 "the host detached from the port");

  clipboard->host = HOST_UNKNOWN;
  clipboard->host_max_size = 0;
  clipboard->generation++;
  qga_transfers_abort_all (clipboard->transfers, error);
  g_hash_table_remove_all (clipboard->supplies);
  for (int id = 0; id < QGA_N_SELECTIONS; id++)
    if (qga_selection_forget_peer (&clipboard->selections[id]))
      g_signal_emit (clipboard, signals[SIGNAL_HOST_RELEASED], 0, qga_clipboard_selection_name (id));
}

void
bridge_clipboard_set_transfer_timeout (BridgeClipboard *clipboard, guint timeout_ms)
{
  qga_transfers_set_timeout (clipboard->transfers, timeout_ms);
}

BridgeClipboard *
bridge_clipboard_new (BridgeChannel *channel, BridgeDispatcher *dispatcher,
                      BridgeSessions *sessions, guint64 max_size)
{
  BridgeClipboard *clipboard = g_object_new (BRIDGE_TYPE_CLIPBOARD, NULL);

  clipboard->channel = g_object_ref (channel);
  clipboard->dispatcher = g_object_ref (dispatcher);
  clipboard->sessions = g_object_ref (sessions);
  clipboard->max_size = max_size;
  bridge_dispatcher_set_clipboard (dispatcher, clipboard);
  g_signal_connect_object (channel, "connected", G_CALLBACK (on_connected), clipboard, 0);
  g_signal_connect_object (channel, "disconnected", G_CALLBACK (on_disconnected), clipboard, 0);
  g_signal_connect_object (sessions, "agent-removed", G_CALLBACK (on_agent_removed), clipboard, 0);
  g_signal_connect_object (sessions, "active-changed", G_CALLBACK (on_active_changed), clipboard, 0);
  return clipboard;
}

static void
bridge_clipboard_dispose (GObject *object)
{
  BridgeClipboard *clipboard = BRIDGE_CLIPBOARD (object);

  if (clipboard->transfers != NULL)
    {
      g_autoptr(GError) error = g_error_new_literal (QGA_ERROR, QGA_ERROR_CANCELLED,
                                                     "the bridge is shutting down");

      qga_transfers_abort_all (clipboard->transfers, error);
    }
  if (clipboard->supplies != NULL)
    g_hash_table_remove_all (clipboard->supplies);
  if (clipboard->dispatcher != NULL)
    bridge_dispatcher_set_clipboard (clipboard->dispatcher, NULL);
  g_clear_object (&clipboard->channel);
  g_clear_object (&clipboard->dispatcher);
  g_clear_object (&clipboard->sessions);
  G_OBJECT_CLASS (bridge_clipboard_parent_class)->dispose (object);
}

static void
bridge_clipboard_finalize (GObject *object)
{
  BridgeClipboard *clipboard = BRIDGE_CLIPBOARD (object);

  qga_transfers_free (clipboard->transfers);
  g_hash_table_destroy (clipboard->supplies);
  for (int id = 0; id < QGA_N_SELECTIONS; id++)
    {
      qga_selection_clear (&clipboard->selections[id]);
      g_free (clipboard->owner_agent[id]);
    }
  qga_rate_limit_clear (&clipboard->bad_input_limit);
  G_OBJECT_CLASS (bridge_clipboard_parent_class)->finalize (object);
}

static void
bridge_clipboard_init (BridgeClipboard *clipboard)
{
  clipboard->transfers = qga_transfers_new ();
  clipboard->supplies = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) supply_free);
  clipboard->bad_input_limit = (QgaRateLimit) QGA_RATE_LIMIT_INIT ("bad clipboard input from the host");
}

static void
bridge_clipboard_class_init (BridgeClipboardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = bridge_clipboard_dispose;
  object_class->finalize = bridge_clipboard_finalize;
  signals[SIGNAL_HOST_GRABBED] =
    g_signal_new ("host-grabbed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRV, G_TYPE_UINT);
  signals[SIGNAL_HOST_RELEASED] =
    g_signal_new ("host-released", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_DATA_REQUESTED] =
    g_signal_new ("data-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT);
}
