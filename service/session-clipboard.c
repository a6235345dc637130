/* session-clipboard.c: the session's clipboard, relayed to qga-bridge. */
#include "config.h"

#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "qga-bus-budget.h"
#include "qga-callers.h"
#include "qga-clipboard.h"
#include "qga-error.h"
#include "session-clipboard.h"
#include "session-link.h"
#include "session-relay.h"

#define BRIDGE_NAME "org.qemu.GuestAgent"
#define BRIDGE_PATH "/org/qemu/GuestAgent"
#define SESSIONS_INTERFACE "org.qemu.GuestAgent.Sessions"
#define CLIPBOARD_INTERFACE "org.qemu.GuestAgent.Clipboard"

#define MAX_REQUESTS 8           /* DataRequested waiting for an owner's answer */
#define MAX_READS 8
#define MAX_SUPPLIES 8
#define MAX_DEFERRED 64          /* calls waiting for a registration to end */
#define REQUEST_TIMEOUT_S 30
#define RETRY_MIN_S 1
#define RETRY_MAX_S 60
/* A program's call tries to register again only this long after a failure. */
#define RETRY_ON_CALL_US (5 * G_USEC_PER_SEC)
/* Longer than dbus-daemon's activation timeout (25 s), whose error says more. */
#define REGISTER_TIMEOUT_MS 30000
/* Read and SupplyData return when up to 256 MiB have crossed the port. */
#define TRANSFER_TIMEOUT_MS G_MAXINT

/* A program on the session bus we are working for. */
typedef struct {
  guint in_flight;         /* its calls forwarded to the bridge */
  guint n_owned;           /* selections it owns */
  guint n_requests;        /* DataRequested sent to it, unanswered */
} Caller;

typedef struct {
  char *name;              /* the owner's unique name, NULL if none */
  guint32 serial;          /* the bridge's serial for its grab */
} Owner;

/* A DataRequested from the bridge, passed on to an owner. */
typedef struct {
  SessionClipboard *clipboard;   /* not a reference: requests go first */
  guint32 id;
  char *owner;
  guint timeout_id;
} Request;

typedef enum {
  FORWARD_GRAB,
  FORWARD_RELEASE,
  FORWARD_SUPPLY_DATA,
  FORWARD_SUPPLY_ERROR,
  FORWARD_READ,
} ForwardKind;

/* A program's call, forwarded to the bridge. */
typedef struct {
  GDBusMethodInvocation *invocation;
  char *sender;
  ForwardKind kind;
  QgaSelectionId selection;
  guint32 serial;          /* Release: the grab it ends */
  SessionClipboard *clipboard;   /* SupplyData: not a reference, forwards go first */
  guint32 request_id;      /* SupplyData */
  SessionRelay *relay;     /* SupplyData: the owner's fd, copied to the bridge */
} Forward;

typedef void (*BridgeReplyFunc) (SessionClipboard *clipboard, GVariant *reply,
                                 const GError *error, gpointer data);

typedef struct {
  SessionClipboard *clipboard;
  BridgeReplyFunc func;
  gpointer data;
} BridgeCall;

struct _SessionClipboard {
  QgaGuestAgentClipboardSkeleton parent;

  GDBusConnection *session_bus;
  QgaCallers *callers;           /* name → Caller */
  QgaBusBudget *budget;          /* charged for the signals we send */
  Owner owners[QGA_N_SELECTIONS];
  guint grabs_in_flight[QGA_N_SELECTIONS];
  gboolean host_owns[QGA_N_SELECTIONS];
  /* While the budget holds, the host's grabs and releases are not sent to
   * the session bus, only remembered: the latest is sent once it takes
   * signals again (a later grab supersedes an earlier one anyway). */
  GVariant *host_grab[QGA_N_SELECTIONS];   /* HostGrabbed's parameters */
  gboolean host_news_held[QGA_N_SELECTIONS];
  GHashTable *requests;          /* GUINT_TO_POINTER (id) → Request */
  guint n_reads;
  guint n_supplies;

  /* the link to the bridge */
  GDBusConnection *system_bus;
  GCancellable *cancellable;     /* every call to the bridge */
  guint n_pending;               /* of those, not completed yet */
  guint signal_id;
  guint watch_id;
  char *bridge_owner;            /* the bridge's unique name, while it has one */
  char *registered_to;           /* the unique name that accepted our RegisterAgent */
  gboolean registering;
  gboolean active;
  GError *link_error;            /* why we are not registered */
  gint64 failed_at;              /* when registering last failed */
  guint retry_id;
  guint retry_delay;
  GQueue deferred;               /* GDBusMethodInvocation, waiting for registering */
  gboolean awaiting_link;        /* from the start until the first set_system_bus():
                                  * an activating call arrives before we are linked */
  gboolean shutting_down;
};

static void session_clipboard_iface_init (QgaGuestAgentClipboardIface *iface);
static void dispatch (SessionClipboard *clipboard, GDBusMethodInvocation *invocation);
static void register_agent (SessionClipboard *clipboard);

G_DEFINE_TYPE_WITH_CODE (SessionClipboard, session_clipboard,
                         QGA_TYPE_GUEST_AGENT_CLIPBOARD_SKELETON,
                         G_IMPLEMENT_INTERFACE (QGA_TYPE_GUEST_AGENT_CLIPBOARD,
                                                session_clipboard_iface_init))

/* --- errors --- */

static void
return_invalid_args (GDBusMethodInvocation *invocation, const char *what, const GError *error)
{
  g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                         "%s: %s", what, error->message);
}

/* For a call that cannot go to the bridge: why we are not registered. */
static void
return_unavailable (SessionClipboard *clipboard, GDBusMethodInvocation *invocation)
{
  if (clipboard->shutting_down)
    g_dbus_method_invocation_return_error_literal (invocation, QGA_ERROR, QGA_ERROR_CANCELLED,
                                                   "the session agent is stopping");
  else if (clipboard->system_bus == NULL)
    session_link_return_no_system_bus (invocation);
  else if (clipboard->link_error != NULL)
    session_link_return_error (invocation, clipboard->link_error,
                               "cannot register with the system bridge");
  else
    g_dbus_method_invocation_return_error_literal (invocation, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                                                   "not registered with the system bridge");
}

static void
return_access_denied (GDBusMethodInvocation *invocation, const char *message)
{
  g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR,
                                                 G_DBUS_ERROR_ACCESS_DENIED, message);
}

/* --- calls to the bridge --- */

static void
bridge_call_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BridgeCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), NULL,
                                                     result, &error);

  call->clipboard->n_pending--;
  if (call->func != NULL)
    call->func (call->clipboard, reply, error, call->data);
  g_object_unref (call->clipboard);
  g_free (call);
}

/* Every call to the bridge: never auto-started (a new bridge would not know
 * us), cancelled at shutdown, counted until done. */
static void
bridge_call (SessionClipboard *clipboard, const char *method, GVariant *parameters,
             const GVariantType *reply_type, GUnixFDList *fds, int timeout_ms,
             BridgeReplyFunc func, gpointer data)
{
  BridgeCall *call = g_new0 (BridgeCall, 1);

  call->clipboard = g_object_ref (clipboard);
  call->func = func;
  call->data = data;
  clipboard->n_pending++;
  g_dbus_connection_call_with_unix_fd_list (clipboard->system_bus, BRIDGE_NAME, BRIDGE_PATH,
                                            SESSIONS_INTERFACE, method, parameters, reply_type,
                                            G_DBUS_CALL_FLAGS_NO_AUTO_START, timeout_ms, fds,
                                            clipboard->cancellable, bridge_call_done, call);
}

static void
log_reply_error (SessionClipboard *clipboard, GVariant *reply, const GError *error,
                 gpointer data)
{
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("%s: %s", (const char *) data, error->message);
}

static void
supply_error_to_bridge (SessionClipboard *clipboard, guint32 request_id, const char *message)
{
  g_debug ("request %u: %s", request_id, message);
  if (clipboard->registered_to == NULL)
    return;
  bridge_call (clipboard, "SupplyError", g_variant_new ("(us)", request_id, message), NULL,
               NULL, -1, log_reply_error, "SupplyError");
}

/* For an owner that left. Sessions.Release names no grab: while another
 * program's Grab is on its way, the bridge would release that one. */
static void
release_to_bridge (SessionClipboard *clipboard, QgaSelectionId selection)
{
  if (clipboard->registered_to == NULL || clipboard->grabs_in_flight[selection] > 0)
    return;
  bridge_call (clipboard, "Release",
               g_variant_new ("(s)", qga_clipboard_selection_name (selection)), NULL, NULL, -1,
               log_reply_error, "Release for an owner that left");
}

/* --- callers, owners, requests --- */

static Caller *
caller_lookup (SessionClipboard *clipboard, const char *name)
{
  return clipboard->callers != NULL ? qga_callers_lookup (clipboard->callers, name) : NULL;
}

static void
owner_clear (SessionClipboard *clipboard, QgaSelectionId selection)
{
  Owner *owner = &clipboard->owners[selection];
  Caller *caller = caller_lookup (clipboard, owner->name);

  if (caller != NULL && caller->n_owned > 0)
    caller->n_owned--;
  g_clear_pointer (&owner->name, g_free);
  owner->serial = 0;
}

static void
owner_set (SessionClipboard *clipboard, QgaSelectionId selection, Caller *caller,
           guint32 serial)
{
  owner_clear (clipboard, selection);
  clipboard->owners[selection].name = g_strdup (qga_caller_name (caller));
  clipboard->owners[selection].serial = serial;
  caller->n_owned++;
  g_debug ("%s owns %s (serial %u)", qga_caller_name (caller), qga_clipboard_selection_name (selection),
           serial);
}

static void
owners_clear_all (SessionClipboard *clipboard)
{
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    owner_clear (clipboard, i);
}

static void
request_free (Request *request)
{
  Caller *caller = caller_lookup (request->clipboard, request->owner);

  if (caller != NULL && caller->n_requests > 0)
    caller->n_requests--;
  g_clear_handle_id (&request->timeout_id, g_source_remove);
  g_free (request->owner);
  g_free (request);
}

/* Answer the bridge for every request waiting for owner. */
static void
fail_requests_of (SessionClipboard *clipboard, const char *owner, const char *message)
{
  GHashTableIter iter;
  Request *request;

  g_hash_table_iter_init (&iter, clipboard->requests);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &request))
    {
      if (g_str_equal (request->owner, owner))
        {
          supply_error_to_bridge (clipboard, request->id, message);
          g_hash_table_iter_remove (&iter);
        }
    }
}

/* The caller left the bus: what it owned is released on its behalf. */
static void
caller_vanished (const char *sender, gpointer record, gpointer user_data)
{
  SessionClipboard *clipboard = user_data;
  Caller *caller = record;

  g_debug ("%s left the bus (%u call(s) in flight, %u selection(s) owned)", sender,
           caller->in_flight, caller->n_owned);
  fail_requests_of (clipboard, sender, "the owner left the bus");
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    {
      if (g_strcmp0 (clipboard->owners[i].name, sender) == 0)
        {
          owner_clear (clipboard, i);
          release_to_bridge (clipboard, i);
        }
    }
}

static gboolean
caller_is_idle (gconstpointer record)
{
  const Caller *caller = record;

  return caller->in_flight == 0 && caller->n_owned == 0 && caller->n_requests == 0;
}

static const QgaCallersFuncs caller_funcs = {
  .is_idle = caller_is_idle,
  .vanished = caller_vanished,
};

/* --- forwarded calls --- */

/* Counts the call against the limits; NULL (and the invocation answered)
 * past them. */
static Forward *
forward_start (SessionClipboard *clipboard, GDBusMethodInvocation *invocation,
               ForwardKind kind, QgaSelectionId selection)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr(GError) error = NULL;
  Caller *caller = qga_callers_track (clipboard->callers, sender, &error);
  Forward *forward;

  if (caller == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return NULL;
    }
  caller->in_flight++;
  if (kind == FORWARD_READ)
    clipboard->n_reads++;
  else if (kind == FORWARD_SUPPLY_DATA)
    clipboard->n_supplies++;
  forward = g_new0 (Forward, 1);
  forward->invocation = invocation;
  forward->sender = g_strdup (sender);
  forward->kind = kind;
  forward->selection = selection;
  return forward;
}

/* The bridge answered: give back the counts. Returns the caller, or NULL
 * if it has left the bus meanwhile. */
static Caller *
forward_end (SessionClipboard *clipboard, Forward *forward)
{
  Caller *caller = caller_lookup (clipboard, forward->sender);

  if (caller != NULL && caller->in_flight > 0)
    caller->in_flight--;
  if (forward->kind == FORWARD_READ)
    clipboard->n_reads--;
  else if (forward->kind == FORWARD_SUPPLY_DATA)
    clipboard->n_supplies--;
  return caller;
}

static void
forward_free (Forward *forward)
{
  g_clear_pointer (&forward->relay, session_relay_free);
  g_free (forward->sender);
  g_free (forward);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Forward, forward_free)

/* The fd at handle, alone in a new list, which closes it once the call to
 * the bridge is sent. Every fd of the message is taken from it, so that no
 * copy stays open here while the transfer runs: a pipe's reader must see
 * the end of the data when the bridge closes its end. */
static GUnixFDList *
take_fd (GDBusMethodInvocation *invocation, GVariant *handle, GError **error)
{
  GDBusMessage *message = g_dbus_method_invocation_get_message (invocation);
  GUnixFDList *list = g_dbus_message_get_unix_fd_list (message);
  gint32 index = g_variant_get_handle (handle);
  g_autofree int *fds = NULL;
  int n_fds = 0, fd = -1;

  if (list != NULL)
    fds = g_unix_fd_list_steal_fds (list, &n_fds);
  for (int i = 0; i < n_fds; i++)
    {
      if (i == index)
        fd = fds[i];
      else
        close (fds[i]);
    }
  if (fd < 0)
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                   "no file descriptor at index %d of the message", index);
      return NULL;
    }
  return g_unix_fd_list_new_from_array (&fd, 1);
}

/* TRUE if calls may go to the bridge now. Otherwise the invocation is
 * taken: kept until a registration in progress ends, or answered. */
static gboolean
link_ready (SessionClipboard *clipboard, GDBusMethodInvocation *invocation)
{
  if (clipboard->registered_to != NULL)
    return TRUE;
  /* This may start the bridge, if it is not running: a program's call
   * after a failed registration gives it another chance. */
  if (!clipboard->awaiting_link &&
      g_get_monotonic_time () - clipboard->failed_at >= RETRY_ON_CALL_US)
    register_agent (clipboard);
  if (!clipboard->registering && !clipboard->awaiting_link)
    return_unavailable (clipboard, invocation);
  else if (g_queue_get_length (&clipboard->deferred) >= MAX_DEFERRED)
    g_dbus_method_invocation_return_error (invocation, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                                           "too many calls waiting for the system bridge "
                                           "(limit %d)", MAX_DEFERRED);
  else
    g_queue_push_tail (&clipboard->deferred, invocation);
  return FALSE;
}

/* Registration ended: the waiting calls go on or fail. */
static void
flush_deferred (SessionClipboard *clipboard)
{
  GDBusMethodInvocation *invocation;

  while ((invocation = g_queue_pop_head (&clipboard->deferred)) != NULL)
    {
      if (clipboard->registered_to != NULL && !clipboard->shutting_down)
        dispatch (clipboard, invocation);
      else
        return_unavailable (clipboard, invocation);
    }
}

static gboolean
check_selection (GDBusMethodInvocation *invocation, const char *name, QgaSelectionId *selection)
{
  if (qga_clipboard_selection_from_name (name, selection))
    return TRUE;
  g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                         "unknown selection '%s': expected \"clipboard\" or "
                                         "\"primary\"", name);
  return FALSE;
}

/* --- methods --- */

static void
grab_done (SessionClipboard *clipboard, GVariant *reply, const GError *error, gpointer data)
{
  g_autoptr(Forward) forward = data;
  Caller *caller = forward_end (clipboard, forward);
  guint32 serial;

  clipboard->grabs_in_flight[forward->selection]--;
  if (error != NULL)
    {
      session_link_return_error (forward->invocation, error, NULL);
      return;
    }
  g_variant_get (reply, "(u)", &serial);
  if (caller != NULL)
    owner_set (clipboard, forward->selection, caller, serial);
  else
    release_to_bridge (clipboard, forward->selection);
  qga_guest_agent_clipboard_complete_grab (NULL, forward->invocation, serial);
}

static gboolean
handle_grab (QgaGuestAgentClipboard *iface, GDBusMethodInvocation *invocation,
             const char *selection_name, const char *const *types)
{
  SessionClipboard *clipboard = SESSION_CLIPBOARD (iface);
  g_autoptr(GError) error = NULL;
  QgaSelectionId selection;
  Forward *forward;

  if (!check_selection (invocation, selection_name, &selection))
    return TRUE;
  if (!qga_clipboard_check_types (types, -1, &error))
    {
      return_invalid_args (invocation, "invalid types", error);
      return TRUE;
    }
  if (!link_ready (clipboard, invocation))
    return TRUE;
  forward = forward_start (clipboard, invocation, FORWARD_GRAB, selection);
  if (forward == NULL)
    return TRUE;
  clipboard->grabs_in_flight[selection]++;
  bridge_call (clipboard, "Grab", g_dbus_method_invocation_get_parameters (invocation),
               G_VARIANT_TYPE ("(u)"), NULL, -1, grab_done, forward);
  return TRUE;
}

static void
release_done (SessionClipboard *clipboard, GVariant *reply, const GError *error, gpointer data)
{
  g_autoptr(Forward) forward = data;
  Owner *owner = &clipboard->owners[forward->selection];

  forward_end (clipboard, forward);
  if (error != NULL)
    {
      session_link_return_error (forward->invocation, error, NULL);
      return;
    }
  /* Another grab may have been made since: it stays. */
  if (g_strcmp0 (owner->name, forward->sender) == 0 && owner->serial == forward->serial)
    owner_clear (clipboard, forward->selection);
  qga_guest_agent_clipboard_complete_release (NULL, forward->invocation);
}

static gboolean
handle_release (QgaGuestAgentClipboard *iface, GDBusMethodInvocation *invocation,
                const char *selection_name)
{
  SessionClipboard *clipboard = SESSION_CLIPBOARD (iface);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  QgaSelectionId selection;
  Forward *forward;

  if (!check_selection (invocation, selection_name, &selection))
    return TRUE;
  if (g_strcmp0 (clipboard->owners[selection].name, sender) != 0)
    {
      return_access_denied (invocation, "the caller does not own this selection");
      return TRUE;
    }
  /* Sessions.Release names no grab: sent after another program's Grab, it
   * would end that one. The caller's grab is being replaced anyway. */
  if (clipboard->grabs_in_flight[selection] > 0)
    {
      owner_clear (clipboard, selection);
      qga_guest_agent_clipboard_complete_release (iface, invocation);
      return TRUE;
    }
  if (!link_ready (clipboard, invocation))
    return TRUE;
  forward = forward_start (clipboard, invocation, FORWARD_RELEASE, selection);
  if (forward == NULL)
    return TRUE;
  forward->serial = clipboard->owners[selection].serial;
  bridge_call (clipboard, "Release", g_dbus_method_invocation_get_parameters (invocation),
               NULL, NULL, -1, release_done, forward);
  return TRUE;
}

/* SupplyData and SupplyError come from the owner the request went to. */
static gboolean
check_request (SessionClipboard *clipboard, GDBusMethodInvocation *invocation, guint32 id)
{
  Request *request = g_hash_table_lookup (clipboard->requests, GUINT_TO_POINTER (id));

  if (request != NULL &&
      g_strcmp0 (request->owner, g_dbus_method_invocation_get_sender (invocation)) == 0)
    return TRUE;
  g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                                         "no request %u is waiting for this caller (it was "
                                         "answered, timed out, or sent to another)", id);
  return FALSE;
}

/* SupplyData's and Read's reply: the bridge's (t), or its error. */
static void
bytes_done (SessionClipboard *clipboard, GVariant *reply, const GError *error, gpointer data)
{
  g_autoptr(Forward) forward = data;

  forward_end (clipboard, forward);
  if (error != NULL)
    session_link_return_error (forward->invocation, error, NULL);
  else
    g_dbus_method_invocation_return_value (forward->invocation, reply);
}

static void
relay_failed (SessionRelay *relay, const char *message, gpointer user_data)
{
  Forward *forward = user_data;

  g_message ("request %u: %s", forward->request_id, message);
  supply_error_to_bridge (forward->clipboard, forward->request_id, message);
}

/* The list to send the bridge instead of the owner's fd: a pipe's end
 * that the relay fills (session-relay.h says why). */
static GUnixFDList *
relay_start (Forward *forward, GUnixFDList *owner_fds, GError **error)
{
  g_autofree int *fds = g_unix_fd_list_steal_fds (owner_fds, NULL);
  int bridge_fd = -1;

  forward->relay = session_relay_new (fds[0], forward->clipboard->session_bus, forward->sender,
                                      relay_failed, forward, &bridge_fd, error);
  if (forward->relay == NULL)
    return NULL;
  return g_unix_fd_list_new_from_array (&bridge_fd, 1);
}

static gboolean
handle_supply_data (QgaGuestAgentClipboard *iface, GDBusMethodInvocation *invocation,
                    guint request_id, GVariant *source)
{
  SessionClipboard *clipboard = SESSION_CLIPBOARD (iface);
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GUnixFDList) relay_fds = NULL;
  g_autoptr(GError) error = NULL;
  Forward *forward;

  if (!check_request (clipboard, invocation, request_id))
    return TRUE;
  if (clipboard->n_supplies >= MAX_SUPPLIES)
    {
      g_dbus_method_invocation_return_error (invocation, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                                             "too many SupplyData in progress (limit %d)",
                                             MAX_SUPPLIES);
      return TRUE;
    }
  if (!link_ready (clipboard, invocation))
    return TRUE;
  fds = take_fd (invocation, source, &error);
  if (fds == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return TRUE;
    }
  forward = forward_start (clipboard, invocation, FORWARD_SUPPLY_DATA, 0);
  if (forward == NULL)
    return TRUE;
  forward->clipboard = clipboard;
  forward->request_id = request_id;
  relay_fds = relay_start (forward, fds, &error);
  if (relay_fds == NULL)
    {
      forward_end (clipboard, forward);
      g_dbus_method_invocation_return_gerror (invocation, error);
      forward_free (forward);
      return TRUE;
    }
  g_hash_table_remove (clipboard->requests, GUINT_TO_POINTER (request_id));
  bridge_call (clipboard, "SupplyData", g_variant_new ("(uh)", request_id, 0),
               G_VARIANT_TYPE ("(t)"), relay_fds, TRANSFER_TIMEOUT_MS, bytes_done, forward);
  return TRUE;
}

static void
supply_error_done (SessionClipboard *clipboard, GVariant *reply, const GError *error,
                   gpointer data)
{
  g_autoptr(Forward) forward = data;

  forward_end (clipboard, forward);
  if (error != NULL)
    session_link_return_error (forward->invocation, error, NULL);
  else
    qga_guest_agent_clipboard_complete_supply_error (NULL, forward->invocation);
}

static gboolean
handle_supply_error (QgaGuestAgentClipboard *iface, GDBusMethodInvocation *invocation,
                     guint request_id, const char *message)
{
  SessionClipboard *clipboard = SESSION_CLIPBOARD (iface);
  Forward *forward;

  if (!check_request (clipboard, invocation, request_id))
    return TRUE;
  if (!link_ready (clipboard, invocation))
    return TRUE;
  forward = forward_start (clipboard, invocation, FORWARD_SUPPLY_ERROR, 0);
  if (forward == NULL)
    return TRUE;
  g_hash_table_remove (clipboard->requests, GUINT_TO_POINTER (request_id));
  bridge_call (clipboard, "SupplyError", g_dbus_method_invocation_get_parameters (invocation),
               NULL, NULL, -1, supply_error_done, forward);
  return TRUE;
}

static gboolean
handle_read (QgaGuestAgentClipboard *iface, GDBusMethodInvocation *invocation,
             const char *selection_name, const char *type, GVariant *sink)
{
  SessionClipboard *clipboard = SESSION_CLIPBOARD (iface);
  const char *const types[] = { type, NULL };
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GError) error = NULL;
  QgaSelectionId selection;
  Forward *forward;

  if (!check_selection (invocation, selection_name, &selection))
    return TRUE;
  if (!qga_clipboard_check_types (types, 1, &error))
    {
      return_invalid_args (invocation, "invalid type", error);
      return TRUE;
    }
  if (clipboard->n_reads >= MAX_READS)
    {
      g_dbus_method_invocation_return_error (invocation, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                                             "too many Reads in progress (limit %d)", MAX_READS);
      return TRUE;
    }
  if (!link_ready (clipboard, invocation))
    return TRUE;
  fds = take_fd (invocation, sink, &error);
  if (fds == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return TRUE;
    }
  forward = forward_start (clipboard, invocation, FORWARD_READ, selection);
  if (forward == NULL)
    return TRUE;
  bridge_call (clipboard, "Read", g_variant_new ("(ssh)", selection_name, type, 0),
               G_VARIANT_TYPE ("(t)"), fds, TRANSFER_TIMEOUT_MS, bytes_done, forward);
  return TRUE;
}

/* As in BridgeAgent: methods are dispatched here rather than through the
 * skeleton's handle-* signals. This also lets a call wait for a
 * registration and be dispatched again. GDBus has checked the arguments
 * against the interface's signatures. */
static void
dispatch (SessionClipboard *clipboard, GDBusMethodInvocation *invocation)
{
  QgaGuestAgentClipboard *iface = QGA_GUEST_AGENT_CLIPBOARD (clipboard);
  const char *method = g_dbus_method_invocation_get_method_name (invocation);
  GVariant *parameters = g_dbus_method_invocation_get_parameters (invocation);
  const char *first, *second;
  guint32 id;

  if (g_dbus_method_invocation_get_sender (invocation) == NULL)
    return_access_denied (invocation, "calls must come through the session bus");
  else if (g_str_equal (method, "Grab"))
    {
      g_autofree const char **types = NULL;

      g_variant_get (parameters, "(&s^a&s)", &first, &types);
      handle_grab (iface, invocation, first, types);
    }
  else if (g_str_equal (method, "Release"))
    {
      g_variant_get (parameters, "(&s)", &first);
      handle_release (iface, invocation, first);
    }
  else if (g_str_equal (method, "SupplyData"))
    {
      g_autoptr(GVariant) source = g_variant_get_child_value (parameters, 1);

      g_variant_get_child (parameters, 0, "u", &id);
      handle_supply_data (iface, invocation, id, source);
    }
  else if (g_str_equal (method, "SupplyError"))
    {
      g_variant_get (parameters, "(u&s)", &id, &first);
      handle_supply_error (iface, invocation, id, first);
    }
  else if (g_str_equal (method, "Read"))
    {
      g_autoptr(GVariant) sink = g_variant_get_child_value (parameters, 2);

      g_variant_get_child (parameters, 0, "&s", &first);
      g_variant_get_child (parameters, 1, "&s", &second);
      handle_read (iface, invocation, first, second, sink);
    }
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                           "Method %s is not implemented on interface %s",
                                           method, CLIPBOARD_INTERFACE);
}

static void
method_call (GDBusConnection *connection, const char *sender, const char *object_path,
             const char *interface_name, const char *method_name, GVariant *parameters,
             GDBusMethodInvocation *invocation, gpointer user_data)
{
  dispatch (SESSION_CLIPBOARD (user_data), invocation);
}

/* The interface has no properties: method calls are all it takes. */
static GDBusInterfaceVTable *
get_vtable (GDBusInterfaceSkeleton *skeleton)
{
  static GDBusInterfaceVTable vtable = { .method_call = method_call };

  return &vtable;
}

/* --- the bridge's signals --- */

/* Tell the session's programs whether the host owns selection now. */
static void
send_host_news (SessionClipboard *clipboard, QgaSelectionId selection)
{
  QgaGuestAgentClipboard *iface = QGA_GUEST_AGENT_CLIPBOARD (clipboard);
  GVariant *grab = clipboard->host_grab[selection];

  if (clipboard->budget != NULL && qga_bus_budget_is_holding (clipboard->budget))
    {
      if (!clipboard->host_news_held[selection])
        g_message ("the session bus is not reading: the host's news about %s waits",
                   qga_clipboard_selection_name (selection));
      clipboard->host_news_held[selection] = TRUE;
      return;
    }
  clipboard->host_news_held[selection] = FALSE;
  if (clipboard->host_owns[selection] && grab != NULL)
    {
      const char *name;
      g_autofree const char **types = NULL;
      guint32 serial;

      g_variant_get (grab, "(&s^a&su)", &name, &types, &serial);
      qga_guest_agent_clipboard_emit_host_grabbed (iface, name, types, serial);
    }
  else
    qga_guest_agent_clipboard_emit_host_released (iface, qga_clipboard_selection_name (selection));
  qga_bus_budget_charge (clipboard->budget, grab != NULL ? g_variant_get_size (grab) : 0);
}

static void
on_bus_hold_changed (QgaBusBudget *budget, gboolean hold, gpointer user_data)
{
  SessionClipboard *clipboard = user_data;

  for (guint i = 0; i < QGA_N_SELECTIONS && !hold; i++)
    if (clipboard->host_news_held[i])
      send_host_news (clipboard, i);
}

static void
on_host_grabbed (SessionClipboard *clipboard, GVariant *parameters)
{
  const char *name;
  g_autofree const char **types = NULL;
  guint32 serial;
  QgaSelectionId selection;

  g_variant_get (parameters, "(&s^a&su)", &name, &types, &serial);
  if (!qga_clipboard_selection_from_name (name, &selection))
    return;
  if (clipboard->owners[selection].name != NULL)
    {
      g_debug ("the host's grab of %s ends %s's", name, clipboard->owners[selection].name);
      owner_clear (clipboard, selection);
    }
  clipboard->host_owns[selection] = TRUE;
  g_clear_pointer (&clipboard->host_grab[selection], g_variant_unref);
  clipboard->host_grab[selection] = g_variant_ref (parameters);
  send_host_news (clipboard, selection);
}

static void
on_host_released (SessionClipboard *clipboard, GVariant *parameters)
{
  const char *name;
  QgaSelectionId selection;

  g_variant_get (parameters, "(&s)", &name);
  if (!qga_clipboard_selection_from_name (name, &selection))
    return;
  clipboard->host_owns[selection] = FALSE;
  g_clear_pointer (&clipboard->host_grab[selection], g_variant_unref);
  send_host_news (clipboard, selection);
}

static gboolean
on_request_timeout (gpointer user_data)
{
  Request *request = user_data;
  SessionClipboard *clipboard = request->clipboard;

  request->timeout_id = 0;
  supply_error_to_bridge (clipboard, request->id, "the owner did not answer");
  g_hash_table_remove (clipboard->requests, GUINT_TO_POINTER (request->id));
  return G_SOURCE_REMOVE;
}

/* The host pastes: the session's owner of the selection is asked, alone. */
static void
on_data_requested (SessionClipboard *clipboard, GVariant *parameters)
{
  const char *name, *type;
  guint32 id;
  QgaSelectionId selection;
  g_autoptr(GError) error = NULL;
  Caller *owner = NULL;
  Request *request;

  g_variant_get (parameters, "(&s&su)", &name, &type, &id);
  if (qga_clipboard_selection_from_name (name, &selection))
    owner = caller_lookup (clipboard, clipboard->owners[selection].name);
  if (owner == NULL)
    {
      supply_error_to_bridge (clipboard, id, "no owner in this session");
      return;
    }
  if (g_hash_table_contains (clipboard->requests, GUINT_TO_POINTER (id)))
    {
      g_debug ("request %u: already waiting for its owner: ignored", id);
      return;
    }
  if (g_hash_table_size (clipboard->requests) >= MAX_REQUESTS)
    {
      supply_error_to_bridge (clipboard, id, "too many requests waiting for the owner");
      return;
    }
  if (!g_dbus_connection_emit_signal (clipboard->session_bus, qga_caller_name (owner),
                                      SESSION_OBJECT_PATH, CLIPBOARD_INTERFACE, "DataRequested",
                                      g_variant_new ("(ssu)", name, type, id), &error))
    {
      supply_error_to_bridge (clipboard, id, error->message);
      return;
    }
  qga_bus_budget_charge (clipboard->budget, 0);
  g_debug ("request %u: %s of %s asked of %s", id, type, name, qga_caller_name (owner));
  request = g_new0 (Request, 1);
  request->clipboard = clipboard;
  request->id = id;
  request->owner = g_strdup (qga_caller_name (owner));
  request->timeout_id = g_timeout_add_seconds (REQUEST_TIMEOUT_S, on_request_timeout, request);
  owner->n_requests++;
  g_hash_table_insert (clipboard->requests, GUINT_TO_POINTER (id), request);
}

static void
set_active (SessionClipboard *clipboard, gboolean active)
{
  if (active == clipboard->active)
    return;
  clipboard->active = active;
  if (active)
    {
      g_message ("this session is now the active one: it has the clipboard");
      return;
    }
  g_message ("this session is no longer the active one: its grabs are dropped");
  owners_clear_all (clipboard);
}

static void
on_bridge_signal (GDBusConnection *connection, const char *sender, const char *path,
                  const char *interface, const char *member, GVariant *parameters,
                  gpointer user_data)
{
  SessionClipboard *clipboard = user_data;

  if (connection != clipboard->system_bus)
    return;
  /* GDBus matches a well-known sender name only since GLib 2.80.1 (and
   * its backports); before, any client could forge these. */
  if (g_strcmp0 (sender, clipboard->bridge_owner) != 0 &&
      g_strcmp0 (sender, clipboard->registered_to) != 0)
    {
      g_debug ("ignored signal %s from %s, which is not the bridge", member, sender);
      return;
    }
  if (g_str_equal (member, "HostGrabbed") &&
      g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sasu)")))
    on_host_grabbed (clipboard, parameters);
  else if (g_str_equal (member, "HostReleased") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(s)")))
    on_host_released (clipboard, parameters);
  else if (g_str_equal (member, "DataRequested") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ssu)")))
    on_data_requested (clipboard, parameters);
  else if (g_str_equal (member, "ActiveChanged") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(b)")))
    {
      gboolean active;

      g_variant_get (parameters, "(b)", &active);
      set_active (clipboard, active);
    }
  else
    g_debug ("ignored signal %s%s from the bridge", member,
             g_variant_get_type_string (parameters));
}

/* --- registration --- */

static void
set_link_error (SessionClipboard *clipboard, const GError *error)
{
  g_clear_error (&clipboard->link_error);
  clipboard->link_error = g_error_copy (error);
}

/* The bridge is gone or replaced, or the bus closed: it has forgotten our
 * grabs, and whatever the host owned is out of reach. */
static void send_host_news (SessionClipboard *clipboard, QgaSelectionId selection);

static void
link_lost (SessionClipboard *clipboard, const char *why)
{
  if (clipboard->registered_to != NULL)
    g_message ("unregistered from the system bridge: %s", why);
  g_clear_pointer (&clipboard->registered_to, g_free);
  clipboard->active = FALSE;
  owners_clear_all (clipboard);
  g_hash_table_remove_all (clipboard->requests);
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    {
      if (clipboard->host_owns[i])
        {
          clipboard->host_owns[i] = FALSE;
          g_clear_pointer (&clipboard->host_grab[i], g_variant_unref);
          send_host_news (clipboard, i);
        }
    }
}

static gboolean
on_retry (gpointer user_data)
{
  SessionClipboard *clipboard = user_data;

  clipboard->retry_id = 0;
  register_agent (clipboard);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (SessionClipboard *clipboard)
{
  clipboard->retry_delay = clipboard->retry_delay == 0
    ? RETRY_MIN_S : MIN (clipboard->retry_delay * 2, RETRY_MAX_S);
  g_clear_handle_id (&clipboard->retry_id, g_source_remove);
  clipboard->retry_id = g_timeout_add_seconds (clipboard->retry_delay, on_retry, clipboard);
}

static void
register_failed (SessionClipboard *clipboard, const GError *error)
{
  g_autofree char *name = g_dbus_error_get_remote_error (error);
  g_autoptr(GError) stripped = g_error_copy (error);

  g_dbus_error_strip_remote_error (stripped);
  /* The same failure again (a retry, or a program's call) is not news. */
  if (clipboard->link_error == NULL || g_strcmp0 (clipboard->link_error->message, error->message) != 0)
    g_message ("cannot register with the system bridge: %s%s%s%s", stripped->message,
               name != NULL ? " (" : "", name != NULL ? name : "", name != NULL ? ")" : "");
  else
    g_debug ("cannot register with the system bridge: %s", stripped->message);
  set_link_error (clipboard, error);
  clipboard->failed_at = g_get_monotonic_time ();
  /* A bridge that is running but refused us is asked again later; one that
   * is not running is asked when it appears on the bus. */
  if (clipboard->bridge_owner != NULL)
    schedule_retry (clipboard);
}

static void
register_succeeded (SessionClipboard *clipboard, GDBusMessage *reply)
{
  gboolean active;

  g_variant_get (g_dbus_message_get_body (reply), "(b)", &active);
  g_free (clipboard->registered_to);
  clipboard->registered_to = g_strdup (g_dbus_message_get_sender (reply));
  g_clear_error (&clipboard->link_error);
  clipboard->retry_delay = 0;
  clipboard->active = active;
  g_message ("registered with the system bridge (%s): this session is %s",
             clipboard->registered_to,
             active ? "the active one" : "not the active one");
}

static void
register_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SessionClipboard *clipboard = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusMessage) reply =
    g_dbus_connection_send_message_with_reply_finish (G_DBUS_CONNECTION (source), result, &error);

  clipboard->n_pending--;
  /* A reply on a connection that closed is stale: its "closed" handler
   * deals with that. */
  if (G_DBUS_CONNECTION (source) != clipboard->system_bus || clipboard->shutting_down ||
      g_dbus_connection_is_closed (G_DBUS_CONNECTION (source)))
    {
      g_object_unref (clipboard);
      return;
    }
  clipboard->registering = FALSE;
  if (reply != NULL && !g_dbus_message_to_gerror (reply, &error) &&
      !g_variant_is_of_type (g_dbus_message_get_body (reply), G_VARIANT_TYPE ("(b)")))
    g_set_error (&error, QGA_ERROR, QGA_ERROR_INVALID_REPLY,
                 "RegisterAgent returned an unexpected reply");
  if (error != NULL)
    register_failed (clipboard, error);
  else
    register_succeeded (clipboard, reply);
  /* The bridge was replaced while we registered with the previous one. */
  if (clipboard->registered_to != NULL && clipboard->bridge_owner != NULL &&
      !g_str_equal (clipboard->registered_to, clipboard->bridge_owner))
    {
      link_lost (clipboard, "the system bridge was replaced");
      register_agent (clipboard);
    }
  if (!clipboard->registering)
    flush_deferred (clipboard);
  g_object_unref (clipboard);
}

/* Starts the bridge by bus activation if it is not running. The reply's
 * sender says which instance accepted us. */
static void
register_agent (SessionClipboard *clipboard)
{
  g_autoptr(GDBusMessage) message = NULL;

  if (clipboard->system_bus == NULL || clipboard->registering || clipboard->shutting_down)
    return;
  g_clear_handle_id (&clipboard->retry_id, g_source_remove);
  message = g_dbus_message_new_method_call (BRIDGE_NAME, BRIDGE_PATH, SESSIONS_INTERFACE,
                                            "RegisterAgent");
  clipboard->registering = TRUE;
  clipboard->n_pending++;
  g_dbus_connection_send_message_with_reply (clipboard->system_bus, message,
                                             G_DBUS_SEND_MESSAGE_FLAGS_NONE, REGISTER_TIMEOUT_MS, NULL,
                                             clipboard->cancellable, register_done,
                                             g_object_ref (clipboard));
}

static void
on_bridge_appeared (GDBusConnection *connection, const char *name, const char *owner,
                    gpointer user_data)
{
  SessionClipboard *clipboard = user_data;

  if (connection != clipboard->system_bus)
    return;
  g_free (clipboard->bridge_owner);
  clipboard->bridge_owner = g_strdup (owner);
  g_debug ("the system bridge is %s", owner);
  if (g_strcmp0 (owner, clipboard->registered_to) == 0)
    return;
  if (clipboard->registered_to != NULL)
    link_lost (clipboard, "the system bridge was replaced");
  register_agent (clipboard);
}

static void
on_bridge_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  SessionClipboard *clipboard = user_data;
  g_autoptr(GError) error = NULL;

  if (connection != clipboard->system_bus)
    return;
  g_clear_pointer (&clipboard->bridge_owner, g_free);
  g_clear_handle_id (&clipboard->retry_id, g_source_remove);
  clipboard->retry_delay = 0;
  if (clipboard->registered_to == NULL)
    return;
  link_lost (clipboard, "the system bridge left the bus; waiting for it to return");
  error = g_error_new_literal (QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                               "it left the system bus");
  set_link_error (clipboard, error);
}

/* Drop everything tied to the current system bus connection. */
static void
unlink_system_bus (SessionClipboard *clipboard, const char *why)
{
  if (clipboard->system_bus == NULL)
    return;
  link_lost (clipboard, why);
  if (clipboard->signal_id != 0)
    g_dbus_connection_signal_unsubscribe (clipboard->system_bus, clipboard->signal_id);
  clipboard->signal_id = 0;
  g_clear_handle_id (&clipboard->watch_id, g_bus_unwatch_name);
  g_clear_handle_id (&clipboard->retry_id, g_source_remove);
  g_clear_pointer (&clipboard->bridge_owner, g_free);
  clipboard->registering = FALSE;
  clipboard->retry_delay = 0;
  g_clear_object (&clipboard->system_bus);
}

void
session_clipboard_set_system_bus (SessionClipboard *clipboard, GDBusConnection *system_bus)
{
  gboolean was_awaiting = clipboard->awaiting_link;

  g_return_if_fail (SESSION_IS_CLIPBOARD (clipboard));

  clipboard->awaiting_link = FALSE;
  if (system_bus == clipboard->system_bus)
    {
      if (was_awaiting)
        flush_deferred (clipboard);
      return;
    }
  unlink_system_bus (clipboard, "the system bus connection closed");
  g_clear_error (&clipboard->link_error);
  /* Calls made while we started wait for the registration below. */
  if (!was_awaiting || system_bus == NULL || clipboard->shutting_down)
    flush_deferred (clipboard);
  if (system_bus == NULL || clipboard->shutting_down)
    return;

  clipboard->system_bus = g_object_ref (system_bus);
  /* The bridge sends these to us alone (unicast); on_bridge_signal()
   * checks that they come from the owner of its name. */
  clipboard->signal_id =
    g_dbus_connection_signal_subscribe (system_bus, BRIDGE_NAME, SESSIONS_INTERFACE, NULL,
                                        BRIDGE_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_bridge_signal, clipboard, NULL);
  clipboard->watch_id = g_bus_watch_name_on_connection (system_bus, BRIDGE_NAME,
                                                        G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                        on_bridge_appeared, on_bridge_vanished,
                                                        clipboard, NULL);
  register_agent (clipboard);
}

void
session_clipboard_shutdown (SessionClipboard *clipboard)
{
  g_return_if_fail (SESSION_IS_CLIPBOARD (clipboard));

  if (clipboard->shutting_down)
    return;
  clipboard->shutting_down = TRUE;
  if (clipboard->registered_to != NULL)
    {
      /* No reply expected: the bridge also sees our connection close. */
      g_dbus_connection_call (clipboard->system_bus, BRIDGE_NAME, BRIDGE_PATH,
                              SESSIONS_INTERFACE, "UnregisterAgent", NULL, NULL,
                              G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
      g_message ("unregistering from the system bridge");
      g_clear_pointer (&clipboard->registered_to, g_free);
    }
  g_cancellable_cancel (clipboard->cancellable);
  flush_deferred (clipboard);
  g_hash_table_remove_all (clipboard->requests);
  owners_clear_all (clipboard);
  g_clear_handle_id (&clipboard->retry_id, g_source_remove);
}

gboolean
session_clipboard_is_idle (SessionClipboard *clipboard)
{
  return clipboard->n_pending == 0;
}

void
session_clipboard_set_bus_budget (SessionClipboard *clipboard, QgaBusBudget *budget)
{
  g_set_object (&clipboard->budget, budget);
  g_signal_connect_object (budget, "hold-changed", G_CALLBACK (on_bus_hold_changed), clipboard, 0);
}

SessionClipboard *
session_clipboard_new (GDBusConnection *session_bus, guint max_clients)
{
  SessionClipboard *clipboard = g_object_new (SESSION_TYPE_CLIPBOARD, NULL);

  clipboard->session_bus = g_object_ref (session_bus);
  clipboard->callers = qga_callers_new (session_bus, max_clients, sizeof (Caller),
                                       "callers with grabs or calls in progress",
                                       &caller_funcs, clipboard);
  return clipboard;
}

static void
session_clipboard_dispose (GObject *object)
{
  SessionClipboard *clipboard = SESSION_CLIPBOARD (object);

  clipboard->shutting_down = TRUE;
  flush_deferred (clipboard);
  unlink_system_bus (clipboard, "stopping");
  /* Requests refer to callers: they go first. */
  g_hash_table_remove_all (clipboard->requests);
  owners_clear_all (clipboard);
  if (clipboard->callers != NULL)
    qga_callers_clear (clipboard->callers);
  g_clear_object (&clipboard->budget);
  g_clear_object (&clipboard->session_bus);
  G_OBJECT_CLASS (session_clipboard_parent_class)->dispose (object);
}

static void
session_clipboard_finalize (GObject *object)
{
  SessionClipboard *clipboard = SESSION_CLIPBOARD (object);

  g_hash_table_destroy (clipboard->requests);
  g_clear_pointer (&clipboard->callers, qga_callers_free);
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    g_clear_pointer (&clipboard->host_grab[i], g_variant_unref);
  g_clear_error (&clipboard->link_error);
  g_clear_object (&clipboard->cancellable);
  G_OBJECT_CLASS (session_clipboard_parent_class)->finalize (object);
}

static void
session_clipboard_init (SessionClipboard *clipboard)
{
  /* Answer calls in the main thread, in order with the bridge's signals. */
  g_dbus_interface_skeleton_set_flags (G_DBUS_INTERFACE_SKELETON (clipboard),
                                       G_DBUS_INTERFACE_SKELETON_FLAGS_NONE);
  clipboard->awaiting_link = TRUE;
  clipboard->requests = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                               (GDestroyNotify) request_free);
  clipboard->cancellable = g_cancellable_new ();
  g_queue_init (&clipboard->deferred);
}

static void
session_clipboard_class_init (SessionClipboardClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = session_clipboard_dispose;
  G_OBJECT_CLASS (klass)->finalize = session_clipboard_finalize;
  G_DBUS_INTERFACE_SKELETON_CLASS (klass)->get_vtable = get_vtable;
}

static void
session_clipboard_iface_init (QgaGuestAgentClipboardIface *iface)
{
  iface->handle_grab = handle_grab;
  iface->handle_release = handle_release;
  iface->handle_supply_data = handle_supply_data;
  iface->handle_supply_error = handle_supply_error;
  iface->handle_read = handle_read;
}
