/* host-clipboard.c: qga-host's end of clipboard sync (see host-clipboard.h). */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "host-clipboard.h"
#include "qga-error.h"
#include "qga-log.h"
#include "qga-transfer.h"
#include "qga-wire.h"

#define REQUEST_ID_PREFIX "clipboard-"

typedef struct {
  HostClipboardSourceFunc func;
  HostClipboardServeFunc serve_func;  /* a lazy source instead of func */
  gpointer data;
  GDestroyNotify destroy;
  gboolean announced;       /* on an earlier connection or this one */
} Source;

/* One read, from guest-clipboard-request to the end of its transfer. */
typedef struct {
  char *request_id;
  guint32 transfer;
  QgaSelectionId selection;
  int sink;                 /* until the transfer takes it */
  HostClipboardReadStartedFunc started;
  HostClipboardReadDoneFunc done;
  gpointer user_data;
} Read;

/* A transfer the guest was promised, waiting for a lazy source's content. */
struct _HostClipboardServe {
  HostClipboard *clipboard;  /* NULL once the guest no longer waits */
  guint32 transfer;
  QgaSelectionId selection;
  char *type;
  guint64 max_size;
  guint idle_id;             /* until it is handed to the source */
};

struct _HostClipboard {
  guint64 max_size;
  HostPeer *peer;           /* not referenced; NULL while disconnected */
  gboolean guest_capable;
  guint64 guest_max_size;   /* 0: not announced */
  QgaSelection selections[QGA_N_SELECTIONS];
  Source sources[QGA_N_SELECTIONS];
  QgaTransfers *transfers;
  GPtrArray *requests;      /* Read *: sent, not yet answered */
  GPtrArray *serves;        /* HostClipboardServe *: promised, content not yet there */
  guint64 request_counter;
  guint32 transfer_counter;
  HostClipboardGuestFunc guest_func;
  gpointer guest_data;
  QgaRateLimit bad_input_limit;
};

static void G_GNUC_PRINTF (2, 3)
warn_bad_input (HostClipboard *clipboard, const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  if (!qga_rate_limit_allow (&clipboard->bad_input_limit))
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_warning ("%s", text);
}

/* Text that may come from the guest, cut short for a log line. */
static char *
excerpt (const char *text)
{
  return qga_log_excerpt (text, strlen (text));
}

static void
read_free (gpointer data)
{
  Read *read = data;

  if (read->sink >= 0)
    close (read->sink);
  g_free (read->request_id);
  g_free (read);
}

/* Calls done once and frees the read. */
static void
read_finish (Read *read, guint64 bytes, const GError *error)
{
  HostClipboardReadDoneFunc done = g_steal_pointer (&read->done);

  if (done != NULL)
    done (bytes, error, read->user_data);
}

static void
source_clear (Source *source)
{
  if (source->destroy != NULL)
    source->destroy (source->data);
  memset (source, 0, sizeof *source);
}

/* --- sending --- */

static gboolean
send_line (GBytes *line, gpointer user_data, GError **error)
{
  HostClipboard *clipboard = user_data;

  if (clipboard->peer == NULL)
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_HOST_DISCONNECTED,
                           "the guest is not connected");
      return FALSE;
    }
  return host_peer_send_line (clipboard->peer, line, error);
}

static void
send_or_warn (HostClipboard *clipboard, GBytes *line, const char *what)
{
  g_autoptr(GError) error = NULL;

  if (!send_line (line, clipboard, &error))
    g_warning ("cannot send %s to the guest: %s", what, error->message);
}

static void
announce_grab (HostClipboard *clipboard, QgaSelectionId id)
{
  QgaSelection *selection = &clipboard->selections[id];
  g_autoptr(GBytes) line = NULL;

  if (clipboard->peer == NULL || !clipboard->guest_capable || !selection->local_owned)
    return;
  if (clipboard->sources[id].announced)
    {
      /* A reconnect: grab again, so that a guest that kept our old serial
       * does not take the repeat for a stale grab. */
      g_auto(GStrv) types = g_strdupv (selection->local_types);

      qga_selection_grab_local (selection, (const char *const *) types);
    }
  clipboard->sources[id].announced = TRUE;
  line = qga_clipboard_build_grab (id, (const char *const *) selection->local_types,
                                   selection->local_serial, selection->peer_serial);
  g_debug ("announcing the host's grab of %s (serial %u)",
           qga_clipboard_selection_name (id), selection->local_serial);
  send_or_warn (clipboard, line, QGA_CLIPBOARD_EVENT_GRAB);
}

/* --- transfers --- */

static void
transfer_done_cb (QgaTransfer *transfer, guint64 bytes, const GError *error, gpointer user_data)
{
  const char *selection = qga_clipboard_selection_name (qga_transfer_get_selection (transfer));
  guint32 id = qga_transfer_get_id (transfer);

  if (qga_transfer_get_role (transfer) == QGA_TRANSFER_READER)
    {
      Read *read = qga_transfer_get_data (transfer);

      if (error == NULL)
        g_debug ("read %" G_GUINT64_FORMAT " bytes of %s (transfer %u)", bytes, selection, id);
      else
        g_debug ("reading %s failed (transfer %u): %s", selection, id, error->message);
      if (read != NULL)
        read_finish (read, bytes, error);
      return;
    }
  if (error == NULL)
    g_debug ("served %" G_GUINT64_FORMAT " bytes of %s to the guest (transfer %u)",
             bytes, selection, id);
  else
    g_message ("serving %s to the guest ended after %" G_GUINT64_FORMAT " bytes (transfer %u): %s",
               selection, bytes, id, error->message);
}

/* --- lazy sources --- */

static void
serve_free (HostClipboardServe *serve)
{
  g_clear_handle_id (&serve->idle_id, g_source_remove);
  g_free (serve->type);
  g_free (serve);
}

/* The guest no longer waits for serve: told so with error (if not NULL),
 * and serve freed now if its source never saw it (TRUE), or orphaned. */
static gboolean
serve_drop (HostClipboard *clipboard, HostClipboardServe *serve, const GError *error)
{
  g_ptr_array_remove_fast (clipboard->serves, serve);
  serve->clipboard = NULL;
  if (error != NULL && clipboard->peer != NULL)
    {
      g_autoptr(GBytes) line = qga_transfer_build_cancel (serve->transfer, QGA_TRANSFER_OWNER,
                                                          error);

      send_or_warn (clipboard, line, QGA_CLIPBOARD_EVENT_CANCEL);
    }
  if (serve->idle_id == 0)
    return FALSE;
  serve_free (serve);
  return TRUE;
}

static void
drop_serves (HostClipboard *clipboard, gboolean all, QgaSelectionId selection,
             const GError *error)
{
  for (guint i = clipboard->serves->len; i > 0; i--)
    {
      HostClipboardServe *serve = g_ptr_array_index (clipboard->serves, i - 1);

      if (all || serve->selection == selection)
        (void) serve_drop (clipboard, serve, error);
    }
}

static gboolean
serve_start_cb (gpointer user_data)
{
  HostClipboardServe *serve = user_data;
  Source *source = &serve->clipboard->sources[serve->selection];

  serve->idle_id = 0;
  source->serve_func (serve->selection, serve->type, serve, source->data);
  return G_SOURCE_REMOVE;
}

void
host_clipboard_serve_supply (HostClipboardServe *serve, int fd)
{
  HostClipboard *clipboard = serve->clipboard;
  g_autoptr(GError) error = NULL;
  QgaTransfer *transfer;

  if (clipboard == NULL)
    {
      close (fd);
      serve_free (serve);
      return;
    }
  g_ptr_array_remove_fast (clipboard->serves, serve);
  transfer = qga_transfer_new (QGA_TRANSFER_OWNER, serve->transfer, serve->selection, fd,
                               serve->max_size, send_line, transfer_done_cb, clipboard);
  if (!qga_transfers_add (clipboard->transfers, transfer, &error))
    {
      g_autoptr(GBytes) line = qga_transfer_build_cancel (serve->transfer, QGA_TRANSFER_OWNER,
                                                          error);

      qga_transfer_free (transfer);
      send_or_warn (clipboard, line, QGA_CLIPBOARD_EVENT_CANCEL);
    }
  else
    g_debug ("serving %s to the guest (transfer %u)",
             qga_clipboard_selection_name (serve->selection), serve->transfer);
  serve_free (serve);
}

void
host_clipboard_serve_fail (HostClipboardServe *serve, const GError *error)
{
  HostClipboard *clipboard = serve->clipboard;

  if (clipboard != NULL)
    {
      g_debug ("cannot serve %s to the guest (transfer %u): %s",
               qga_clipboard_selection_name (serve->selection), serve->transfer, error->message);
      if (serve_drop (clipboard, serve, error))
        return;   /* not reached: the source has it, so its idle is done */
    }
  serve_free (serve);
}

static void
cancel_selection (HostClipboard *clipboard, QgaSelectionId selection, const char *why)
{
  g_autoptr(GError) error = g_error_new_literal (QGA_ERROR, QGA_ERROR_CANCELLED, why);

  qga_transfers_cancel_selection (clipboard->transfers, selection, error);
  drop_serves (clipboard, FALSE, selection, error);
}

/* --- from the guest: grabs and releases --- */

static void
handle_grab (HostClipboard *clipboard, JsonObject *data)
{
  QgaClipboardGrab grab = { 0 };
  g_autoptr(GError) error = NULL;
  QgaSelection *selection;
  const char *name;

  if (!qga_clipboard_grab_parse (data, &grab, &error))
    {
      g_autofree char *cut = excerpt (error->message);

      warn_bad_input (clipboard, "ignoring a malformed %s from the guest: %s",
                      QGA_CLIPBOARD_EVENT_GRAB, cut);
      qga_clipboard_grab_clear (&grab);
      return;
    }
  selection = &clipboard->selections[grab.selection];
  name = qga_clipboard_selection_name (grab.selection);
  switch (qga_selection_grab_peer (selection, &grab, TRUE))
    {
    case QGA_SELECTION_PEER_ACCEPTED:
    case QGA_SELECTION_PEER_WON_RACE:
      g_debug ("the guest grabbed %s (serial %u)", name, grab.serial);
      cancel_selection (clipboard, grab.selection, "the guest grabbed the selection");
      if (clipboard->guest_func != NULL)
        clipboard->guest_func (grab.selection, grab.serial,
                               (const char *const *) selection->peer_types,
                               clipboard->guest_data);
      break;
    case QGA_SELECTION_PEER_LOST_RACE:
      g_debug ("the guest's grab of %s (serial %u) crossed the host's: the host's stays",
               name, grab.serial);
      break;
    case QGA_SELECTION_PEER_STALE:
    default:
      g_debug ("ignoring a stale grab of %s from the guest (serial %u)", name, grab.serial);
      break;
    }
  qga_clipboard_grab_clear (&grab);
}

static void
handle_release (HostClipboard *clipboard, JsonObject *data)
{
  g_autoptr(GError) error = NULL;
  QgaSelectionId id;
  guint32 serial;

  if (!qga_clipboard_release_parse (data, &id, &serial, &error))
    {
      g_autofree char *cut = excerpt (error->message);

      warn_bad_input (clipboard, "ignoring a malformed %s from the guest: %s",
                      QGA_CLIPBOARD_EVENT_RELEASE, cut);
      return;
    }
  if (!qga_selection_release_peer (&clipboard->selections[id], serial))
    {
      g_debug ("ignoring a stale release of %s from the guest (serial %u)",
               qga_clipboard_selection_name (id), serial);
      return;
    }
  g_debug ("the guest released %s (serial %u)", qga_clipboard_selection_name (id), serial);
  if (clipboard->guest_func != NULL)
    clipboard->guest_func (id, serial, NULL, clipboard->guest_data);
}

void
host_clipboard_handle_event (HostClipboard *clipboard, const char *name, JsonNode *data)
{
  JsonObject *object = data != NULL && JSON_NODE_HOLDS_OBJECT (data) ? json_node_get_object (data)
                                                                      : NULL;
  g_autofree char *problem = NULL;

  if (object == NULL)
    {
      g_autofree char *cut = excerpt (name);

      warn_bad_input (clipboard, "ignoring %s from the guest: its data is not an object", cut);
      return;
    }
  if (g_str_equal (name, QGA_CLIPBOARD_EVENT_GRAB))
    handle_grab (clipboard, object);
  else if (g_str_equal (name, QGA_CLIPBOARD_EVENT_RELEASE))
    handle_release (clipboard, object);
  else if (!qga_transfers_handle_event (clipboard->transfers, name, object, &problem))
    {
      g_autofree char *cut = excerpt (name);

      warn_bad_input (clipboard, "ignoring an unknown clipboard event from the guest: %s", cut);
    }
  else if (problem != NULL)
    {
      g_autofree char *cut = excerpt (problem);

      warn_bad_input (clipboard, "clipboard data from the guest: %s", cut);
    }
}

/* --- from the guest: host-clipboard-request --- */

static gboolean
serving_transfer (HostClipboard *clipboard, guint32 transfer)
{
  for (guint i = 0; i < clipboard->serves->len; i++)
    if (((HostClipboardServe *) g_ptr_array_index (clipboard->serves, i))->transfer == transfer)
      return TRUE;
  return FALSE;
}

/* The source is asked from the main loop, once the reply is on its way:
 * a CLIPBOARD_CANCEL must not overtake it. */
static void
promise_serve (HostClipboard *clipboard, const QgaClipboardRequest *request, guint64 max_size)
{
  HostClipboardServe *serve = g_new0 (HostClipboardServe, 1);

  serve->clipboard = clipboard;
  serve->transfer = request->transfer;
  serve->selection = request->selection;
  serve->type = g_strdup (request->type);
  serve->max_size = max_size;
  serve->idle_id = g_idle_add (serve_start_cb, serve);
  g_ptr_array_add (clipboard->serves, serve);
  g_debug ("the guest asked for %s as %s (transfer %u): fetching it",
           qga_clipboard_selection_name (request->selection), request->type, request->transfer);
}

static JsonNode *
serve_request (HostClipboard *clipboard, const QgaClipboardRequest *request, GError **error)
{
  g_autoptr(JsonObject) empty = NULL;
  QgaSelection *selection;
  Source *source;
  QgaTransfer *transfer;
  guint64 max_size;
  int fd;

  selection = &clipboard->selections[request->selection];
  source = &clipboard->sources[request->selection];
  if (!qga_selection_local_offers (selection, request->serial, request->type) ||
      (source->func == NULL && source->serve_func == NULL))
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NO_DATA,
                   "the host has no grab of %s with serial %u offering that type",
                   qga_clipboard_selection_name (request->selection), request->serial);
      return NULL;
    }
  if (qga_transfers_count (clipboard->transfers, QGA_TRANSFER_OWNER) + clipboard->serves->len >=
      QGA_TRANSFER_MAX_AT_ONCE)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                   "the host is already serving %d transfers", QGA_TRANSFER_MAX_AT_ONCE);
      return NULL;
    }
  if (qga_transfers_lookup (clipboard->transfers, QGA_TRANSFER_OWNER, request->transfer) != NULL ||
      serving_transfer (clipboard, request->transfer))
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "transfer %u is already in progress", request->transfer);
      return NULL;
    }

  max_size = clipboard->max_size;
  if (clipboard->guest_max_size > 0)
    max_size = MIN (max_size, clipboard->guest_max_size);
  if (source->serve_func != NULL)
    {
      promise_serve (clipboard, request, max_size);
      empty = json_object_new ();
      return json_node_init_object (json_node_alloc (), empty);
    }
  fd = source->func (request->selection, request->type, source->data, error);
  if (fd < 0)
    return NULL;
  transfer = qga_transfer_new (QGA_TRANSFER_OWNER, request->transfer, request->selection, fd,
                               max_size, send_line, transfer_done_cb, clipboard);
  if (!qga_transfers_add (clipboard->transfers, transfer, error))
    {
      qga_transfer_free (transfer);
      return NULL;
    }
  g_debug ("serving %s to the guest (transfer %u)",
           qga_clipboard_selection_name (request->selection), request->transfer);
  empty = json_object_new ();
  return json_node_init_object (json_node_alloc (), empty);
}

JsonNode *
host_clipboard_handle_request (HostClipboard *clipboard, JsonObject *arguments, GError **error)
{
  QgaClipboardRequest request = { 0 };
  JsonNode *result;

  if (arguments == NULL)
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                           "Parameter 'selection' is missing");
      return NULL;
    }
  if (!qga_clipboard_request_parse (arguments, &request, error))
    return NULL;
  result = serve_request (clipboard, &request, error);
  qga_clipboard_request_clear (&request);
  return result;
}

/* --- reads --- */

static Read *
take_request (HostClipboard *clipboard, const char *request_id)
{
  for (guint i = 0; i < clipboard->requests->len; i++)
    {
      Read *read = g_ptr_array_index (clipboard->requests, i);

      if (g_str_equal (read->request_id, request_id))
        return g_ptr_array_steal_index (clipboard->requests, i);
    }
  return NULL;
}

static GError *
error_from_reply (JsonObject *reply)
{
  JsonNode *node = json_object_get_member (reply, "error");
  JsonObject *object = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node)
                                                                     : NULL;
  const char *error_class = object != NULL ? qga_wire_get_string_member (object, "class") : NULL;
  const char *desc = object != NULL ? qga_wire_get_string_member (object, "desc") : NULL;
  g_autofree char *cut = NULL;
  QgaErrorCode code;

  if (error_class == NULL || desc == NULL || !qga_error_class_is_valid (error_class) ||
      strlen (error_class) > 64)
    return g_error_new_literal (QGA_ERROR, QGA_ERROR_INVALID_REPLY,
                                "the guest sent a malformed error reply");
  cut = excerpt (desc);
  code = qga_error_code_from_class (error_class);
  if (!g_str_equal (qga_error_class_name (code), error_class))
    return g_error_new (QGA_ERROR, code, "%s: %s", error_class, cut);
  return g_error_new_literal (QGA_ERROR, code, cut);
}

gboolean
host_clipboard_handle_reply (HostClipboard *clipboard, JsonObject *reply)
{
  const char *request_id = qga_wire_get_string_member (reply, "id");
  g_autoptr(GError) error = NULL;
  QgaTransfer *transfer;
  Read *read;
  int sink;

  if (request_id == NULL || !g_str_has_prefix (request_id, REQUEST_ID_PREFIX))
    return FALSE;
  read = take_request (clipboard, request_id);
  if (read == NULL)
    {
      g_debug ("ignoring a reply to a clipboard request that has ended");
      return TRUE;
    }
  if (!json_object_has_member (reply, "return"))
    {
      error = error_from_reply (reply);
      read_finish (read, 0, error);
      read_free (read);
      return TRUE;
    }
  sink = read->sink;
  read->sink = -1;
  transfer = qga_transfer_new (QGA_TRANSFER_READER, read->transfer, read->selection,
                               sink, clipboard->max_size,
                               send_line, transfer_done_cb, clipboard);
  if (!qga_transfers_add (clipboard->transfers, transfer, &error))
    {
      qga_transfer_free (transfer);
      read_finish (read, 0, error);
      read_free (read);
      return TRUE;
    }
  qga_transfer_set_data (transfer, read, read_free);
  g_debug ("the guest accepted clipboard request %s (transfer %u)", request_id, read->transfer);
  if (read->started != NULL)
    read->started (read->user_data);
  return TRUE;
}

static gboolean
transfer_id_in_use (HostClipboard *clipboard, guint32 id)
{
  if (qga_transfers_lookup (clipboard->transfers, QGA_TRANSFER_READER, id) != NULL)
    return TRUE;
  for (guint i = 0; i < clipboard->requests->len; i++)
    if (((Read *) g_ptr_array_index (clipboard->requests, i))->transfer == id)
      return TRUE;
  return FALSE;
}

gboolean
host_clipboard_read (HostClipboard *clipboard, QgaSelectionId selection, const char *type,
                     gboolean any_grab, int sink, HostClipboardReadStartedFunc started,
                     HostClipboardReadDoneFunc done, gpointer user_data, GError **error)
{
  QgaSelection *state = &clipboard->selections[selection];
  g_autoptr(JsonNode) arguments = NULL;
  g_autoptr(JsonNode) id = NULL;
  g_autoptr(GBytes) line = NULL;
  guint32 serial;
  Read *read;

  if (clipboard->peer == NULL)
    {
      close (sink);
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_HOST_DISCONNECTED,
                           "the guest is not connected");
      return FALSE;
    }
  if (clipboard->requests->len +
      qga_transfers_count (clipboard->transfers, QGA_TRANSFER_READER) >= QGA_TRANSFER_MAX_AT_ONCE)
    {
      close (sink);
      g_set_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                   "already reading %d contents", QGA_TRANSFER_MAX_AT_ONCE);
      return FALSE;
    }

  read = g_new0 (Read, 1);
  read->request_id = g_strdup_printf (REQUEST_ID_PREFIX "%" G_GUINT64_FORMAT,
                                      ++clipboard->request_counter);
  do
    clipboard->transfer_counter = clipboard->transfer_counter == G_MAXUINT32
                                  ? 1 : clipboard->transfer_counter + 1;
  while (transfer_id_in_use (clipboard, clipboard->transfer_counter));
  read->transfer = clipboard->transfer_counter;
  read->selection = selection;
  read->sink = sink;
  read->started = started;
  read->done = done;
  read->user_data = user_data;

  serial = state->peer_owned && !any_grab ? state->peer_serial : 0;
  arguments = qga_clipboard_request_build_arguments (selection, type, serial, read->transfer);
  id = json_node_init_string (json_node_alloc (), read->request_id);
  line = qga_wire_build_command (QGA_CLIPBOARD_GUEST_REQUEST, arguments, id);
  if (!send_line (line, clipboard, error))
    {
      read_free (read);
      return FALSE;
    }
  g_debug ("asked the guest for %s (serial %u, transfer %u)",
           qga_clipboard_selection_name (selection), serial, read->transfer);
  g_ptr_array_add (clipboard->requests, read);
  return TRUE;
}

/* --- grabs --- */

guint32
host_clipboard_grab (HostClipboard *clipboard, QgaSelectionId selection,
                     const char *const *types, HostClipboardSourceFunc source,
                     gpointer source_data, GDestroyNotify source_destroy)
{
  guint32 serial;

  cancel_selection (clipboard, selection, "the host grabbed the selection");
  serial = qga_selection_grab_local (&clipboard->selections[selection], types);
  source_clear (&clipboard->sources[selection]);
  clipboard->sources[selection] = (Source) { .func = source, .data = source_data,
                                             .destroy = source_destroy };
  announce_grab (clipboard, selection);
  return serial;
}

guint32
host_clipboard_grab_lazy (HostClipboard *clipboard, QgaSelectionId selection,
                          const char *const *types, HostClipboardServeFunc func,
                          gpointer func_data, GDestroyNotify func_destroy)
{
  guint32 serial;

  cancel_selection (clipboard, selection, "the host grabbed the selection");
  serial = qga_selection_grab_local (&clipboard->selections[selection], types);
  source_clear (&clipboard->sources[selection]);
  clipboard->sources[selection] = (Source) { .serve_func = func, .data = func_data,
                                             .destroy = func_destroy };
  announce_grab (clipboard, selection);
  return serial;
}

gboolean
host_clipboard_release (HostClipboard *clipboard, QgaSelectionId selection)
{
  QgaSelection *state = &clipboard->selections[selection];
  guint32 serial = state->local_serial;
  g_autoptr(GBytes) line = NULL;

  if (!qga_selection_release_local (state))
    return FALSE;
  cancel_selection (clipboard, selection, "the host released the selection");
  source_clear (&clipboard->sources[selection]);
  if (clipboard->peer == NULL || !clipboard->guest_capable)
    return TRUE;
  line = qga_clipboard_build_release (selection, serial);
  send_or_warn (clipboard, line, QGA_CLIPBOARD_EVENT_RELEASE);
  return TRUE;
}

/* --- the connection --- */

void
host_clipboard_attach (HostClipboard *clipboard, HostPeer *peer)
{
  g_return_if_fail (clipboard->peer == NULL);
  clipboard->peer = peer;
}

/* Ends every read, pending or in progress, with error. */
static void
end_everything (HostClipboard *clipboard, const GError *error)
{
  g_autoptr(GPtrArray) requests = g_steal_pointer (&clipboard->requests);

  clipboard->requests = g_ptr_array_new ();
  qga_transfers_abort_all (clipboard->transfers, error);
  drop_serves (clipboard, TRUE, 0, NULL);
  for (guint i = 0; i < requests->len; i++)
    {
      Read *read = g_ptr_array_index (requests, i);

      read_finish (read, 0, error);
      read_free (read);
    }
}

void
host_clipboard_detach (HostClipboard *clipboard, HostPeer *peer)
{
  g_autoptr(GError) error = NULL;

  if (clipboard->peer == NULL || clipboard->peer != peer)
    return;
  clipboard->peer = NULL;
  clipboard->guest_capable = FALSE;
  clipboard->guest_max_size = 0;
  /* The next guest (perhaps a restarted one) starts its serials afresh,
   * and learns the host's grabs again when it shows the capability. */
  for (gsize i = 0; i < QGA_N_SELECTIONS; i++)
    qga_selection_forget_peer (&clipboard->selections[i]);
  error = g_error_new_literal (QGA_ERROR, QGA_ERROR_HOST_DISCONNECTED,
                               "the connection to the guest closed");
  end_everything (clipboard, error);
}

gboolean
host_clipboard_set_guest_info (HostClipboard *clipboard, JsonObject *info)
{
  guint64 max_size = 0;

  clipboard->guest_capable = qga_clipboard_capability_parse (info, &max_size);
  clipboard->guest_max_size = clipboard->guest_capable ? max_size : 0;
  if (!clipboard->guest_capable)
    return FALSE;
  g_debug ("the guest has the clipboard (max-size %" G_GUINT64_FORMAT ")", max_size);
  for (gsize i = 0; i < QGA_N_SELECTIONS; i++)
    announce_grab (clipboard, i);
  return TRUE;
}

gboolean
host_clipboard_guest_has_capability (HostClipboard *clipboard)
{
  return clipboard->guest_capable;
}

const char *const *
host_clipboard_get_guest_grab (HostClipboard *clipboard, QgaSelectionId selection,
                               guint32 *serial)
{
  QgaSelection *state = &clipboard->selections[selection];

  if (!state->peer_owned)
    return NULL;
  *serial = state->peer_serial;
  return (const char *const *) state->peer_types;
}

/* --- life --- */

guint64
host_clipboard_get_max_size (HostClipboard *clipboard)
{
  return clipboard->max_size;
}

void
host_clipboard_set_guest_func (HostClipboard *clipboard, HostClipboardGuestFunc func,
                               gpointer user_data)
{
  clipboard->guest_func = func;
  clipboard->guest_data = user_data;
}

void
host_clipboard_set_transfer_timeout (HostClipboard *clipboard, guint timeout_ms)
{
  qga_transfers_set_timeout (clipboard->transfers, timeout_ms);
}

HostClipboard *
host_clipboard_new (guint64 max_size)
{
  HostClipboard *clipboard = g_new0 (HostClipboard, 1);

  clipboard->max_size = max_size;
  clipboard->transfers = qga_transfers_new ();
  clipboard->requests = g_ptr_array_new ();
  clipboard->serves = g_ptr_array_new ();
  clipboard->bad_input_limit = (QgaRateLimit) QGA_RATE_LIMIT_INIT ("clipboard input from the guest");
  return clipboard;
}

void
host_clipboard_free (HostClipboard *clipboard)
{
  g_autoptr(GError) error = NULL;

  if (clipboard == NULL)
    return;
  clipboard->peer = NULL;
  error = g_error_new_literal (QGA_ERROR, QGA_ERROR_CANCELLED, "qga-host is stopping");
  end_everything (clipboard, error);
  qga_transfers_free (clipboard->transfers);
  g_ptr_array_unref (clipboard->requests);
  g_ptr_array_unref (clipboard->serves);
  for (gsize i = 0; i < QGA_N_SELECTIONS; i++)
    {
      qga_selection_clear (&clipboard->selections[i]);
      source_clear (&clipboard->sources[i]);
    }
  qga_rate_limit_clear (&clipboard->bad_input_limit);
  g_free (clipboard);
}
