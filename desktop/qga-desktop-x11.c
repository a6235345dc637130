/* qga-desktop-x11.c: the X11 backend's connection, owners and ownership
 * (see qga-desktop-x11.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "qga-desktop-x11-private.h"
#include "qga-error.h"

/* Events handled per dispatch, so that a flood cannot starve the loop. */
#define EVENTS_PER_DISPATCH 256

static const char *const atom_names[X11_N_ATOMS] = {
  [X11_ATOM_CLIPBOARD] = "CLIPBOARD",
  [X11_ATOM_TARGETS] = "TARGETS",
  [X11_ATOM_TIMESTAMP] = "TIMESTAMP",
  [X11_ATOM_MULTIPLE] = "MULTIPLE",
  [X11_ATOM_INCR] = "INCR",
  [X11_ATOM_UTF8_STRING] = "UTF8_STRING",
  [X11_ATOM_TEXT] = "TEXT",
  [X11_ATOM_TIME_PROPERTY] = "_QGA_TIME",
  [X11_ATOM_TARGETS_CLIPBOARD] = "_QGA_TARGETS_CLIPBOARD",
  [X11_ATOM_TARGETS_PRIMARY] = "_QGA_TARGETS_PRIMARY",
};

G_DEFINE_TYPE (QgaDesktopClipboardX11, qga_desktop_clipboard_x11, QGA_TYPE_DESKTOP_CLIPBOARD)

static void handle_event (QgaDesktopClipboardX11 *self, xcb_generic_event_t *event);

/* --- round trips to the server --- */

xcb_atom_t
x11_intern_atom (QgaDesktopClipboardX11 *self, const char *name)
{
  xcb_intern_atom_cookie_t cookie = xcb_intern_atom (self->connection, FALSE, strlen (name), name);
  g_autofree xcb_intern_atom_reply_t *reply = xcb_intern_atom_reply (self->connection, cookie, NULL);

  return reply != NULL ? reply->atom : XCB_ATOM_NONE;
}

typedef struct {
  xcb_atom_t atom;
  xcb_get_atom_name_cookie_t cookie;
} NameQuery;

/* Any X client can offer atoms we have not seen, copy after copy: past
 * X11_MAX_ATOM_NAMES the cache starts again (names are asked again when
 * needed). Only a batch does that, before it adds: the names a caller got
 * from x11_atom_name() after its batch stay valid. */
static void
fetch_atom_names (QgaDesktopClipboardX11 *self, const xcb_atom_t *atoms, guint n,
                  gboolean may_make_room)
{
  g_autoptr(GArray) queries = g_array_new (FALSE, FALSE, sizeof (NameQuery));

  if (may_make_room && g_hash_table_size (self->atom_names) + n > X11_MAX_ATOM_NAMES)
    g_hash_table_remove_all (self->atom_names);
  /* all the requests first, then the replies: one round trip */
  for (guint i = 0; i < n; i++)
    if (atoms[i] != XCB_ATOM_NONE &&
        !g_hash_table_contains (self->atom_names, GUINT_TO_POINTER (atoms[i])))
      {
        NameQuery query = { atoms[i], xcb_get_atom_name (self->connection, atoms[i]) };

        g_array_append_val (queries, query);
      }
  for (guint i = 0; i < queries->len; i++)
    {
      NameQuery *query = &g_array_index (queries, NameQuery, i);
      g_autofree xcb_get_atom_name_reply_t *reply =
        xcb_get_atom_name_reply (self->connection, query->cookie, NULL);

      if (reply != NULL)
        g_hash_table_replace (self->atom_names, GUINT_TO_POINTER (query->atom),
                              g_strndup (xcb_get_atom_name_name (reply),
                                         xcb_get_atom_name_name_length (reply)));
    }
}

void
x11_fetch_atom_names (QgaDesktopClipboardX11 *self, const xcb_atom_t *atoms, guint n)
{
  fetch_atom_names (self, atoms, n, TRUE);
}

const char *
x11_atom_name (QgaDesktopClipboardX11 *self, xcb_atom_t atom)
{
  fetch_atom_names (self, &atom, 1, FALSE);
  return g_hash_table_lookup (self->atom_names, GUINT_TO_POINTER (atom));
}

xcb_get_property_reply_t *
x11_get_property (QgaDesktopClipboardX11 *self, xcb_window_t window, xcb_atom_t property,
                  gsize offset, gsize max_bytes)
{
  xcb_get_property_cookie_t cookie =
    xcb_get_property (self->connection, FALSE, window, property, XCB_GET_PROPERTY_TYPE_ANY,
                      offset / 4, (max_bytes + 3) / 4);

  return xcb_get_property_reply (self->connection, cookie, NULL);
}

void
x11_send_selection_notify (QgaDesktopClipboardX11 *self, xcb_window_t requestor,
                           xcb_atom_t selection, xcb_atom_t target, xcb_atom_t property,
                           xcb_timestamp_t time)
{
  /* SendEvent takes 32 bytes whatever the event's size. */
  union {
    xcb_selection_notify_event_t notify;
    char bytes[32];
  } event;

  memset (&event, 0, sizeof event);
  event.notify.response_type = XCB_SELECTION_NOTIFY;
  event.notify.requestor = requestor;
  event.notify.selection = selection;
  event.notify.target = target;
  event.notify.property = property;
  event.notify.time = time;
  xcb_send_event (self->connection, FALSE, requestor, XCB_EVENT_MASK_NO_EVENT, event.bytes);
}

gboolean
x11_selection_id (QgaDesktopClipboardX11 *self, xcb_atom_t atom, QgaSelectionId *id)
{
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    if (self->selection_atoms[i] == atom)
      {
        *id = i;
        return TRUE;
      }
  return FALSE;
}

gint32
x11_time_diff (xcb_timestamp_t a, xcb_timestamp_t b)
{
  return (gint32) (a - b);
}

/* A timestamp from the server, which SetSelectionOwner and TIMESTAMP need
 * (ICCCM §2.1: never CurrentTime): an empty append to a property of ours
 * yields a PropertyNotify carrying the server's time. The events read
 * meanwhile are kept, in order, for the main loop. */
static xcb_timestamp_t
get_server_time (QgaDesktopClipboardX11 *self)
{
  xcb_generic_event_t *event;

  xcb_change_property (self->connection, XCB_PROP_MODE_APPEND, self->window,
                       self->atoms[X11_ATOM_TIME_PROPERTY], XCB_ATOM_INTEGER, 32, 0, NULL);
  xcb_flush (self->connection);
  while ((event = xcb_wait_for_event (self->connection)) != NULL)
    {
      xcb_property_notify_event_t *notify = (xcb_property_notify_event_t *) event;

      if ((event->response_type & 0x7F) == XCB_PROPERTY_NOTIFY && notify->window == self->window &&
          notify->atom == self->atoms[X11_ATOM_TIME_PROPERTY])
        {
          xcb_timestamp_t time = notify->time;

          free (event);
          return time;
        }
      g_queue_push_tail (&self->deferred_events, event);
    }
  return XCB_CURRENT_TIME;
}

/* --- what another owner offers --- */

static void
selection_forget_offered (X11Selection *selection)
{
  g_clear_pointer (&selection->offered, g_array_unref);
}

static void
stop_fetch_timeout (X11Selection *selection)
{
  g_clear_handle_id (&selection->fetch_timeout, g_source_remove);
}

static void start_targets_fetch (QgaDesktopClipboardX11 *self, QgaSelectionId id);

/* A fetch's answer is stale: ask the owner of now, if it is another client. */
static void
fetch_again (QgaDesktopClipboardX11 *self, X11Selection *selection)
{
  if (selection->owner != XCB_NONE && selection->owner != self->window)
    start_targets_fetch (self, selection->id);
}

static gboolean
on_fetch_timeout (gpointer user_data)
{
  X11Selection *selection = user_data;

  selection->fetch_timeout = 0;
  selection->fetching = FALSE;
  g_debug ("%s: the owner did not answer TARGETS", qga_clipboard_selection_name (selection->id));
  if (selection->fetching_generation != selection->generation)
    fetch_again (selection->self, selection);
  else
    qga_desktop_clipboard_emit_owner_changed (QGA_DESKTOP_CLIPBOARD (selection->self), selection->id,
                                              NULL, FALSE);
  return G_SOURCE_REMOVE;
}

/* One TARGETS conversion per selection at a time: with two, the answers of
 * two owners could cross in the one property. A change of owner meanwhile
 * makes the answer stale, and the fetch starts again once it is in. */
static void
start_targets_fetch (QgaDesktopClipboardX11 *self, QgaSelectionId id)
{
  X11Selection *selection = &self->selections[id];

  if (selection->fetching)
    return;
  selection->fetching = TRUE;
  selection->fetching_generation = selection->generation;
  xcb_delete_property (self->connection, self->window, self->atoms[X11_ATOM_TARGETS_CLIPBOARD + id]);
  xcb_convert_selection (self->connection, self->window, self->selection_atoms[id],
                         self->atoms[X11_ATOM_TARGETS], self->atoms[X11_ATOM_TARGETS_CLIPBOARD + id],
                         XCB_CURRENT_TIME);
  selection->fetch_timeout =
    g_timeout_add (qga_desktop_clipboard_get_timeout_ms (QGA_DESKTOP_CLIPBOARD (self)),
                   on_fetch_timeout, selection);
}

/* The atoms of a TARGETS answer, at most X11_MAX_TARGETS; NULL if none. */
static GArray *
read_targets_property (QgaDesktopClipboardX11 *self, xcb_atom_t property)
{
  g_autofree xcb_get_property_reply_t *reply =
    x11_get_property (self, self->window, property, 0, X11_MAX_TARGETS * sizeof (xcb_atom_t));
  GArray *atoms;

  xcb_delete_property (self->connection, self->window, property);
  if (reply == NULL || reply->type != XCB_ATOM_ATOM || reply->format != 32)
    return NULL;
  atoms = g_array_new (FALSE, FALSE, sizeof (xcb_atom_t));
  g_array_append_vals (atoms, xcb_get_property_value (reply),
                       xcb_get_property_value_length (reply) / sizeof (xcb_atom_t));
  return atoms;
}

static char **
offered_mime_types (QgaDesktopClipboardX11 *self, GArray *atoms)
{
  g_autofree const char **names = g_new0 (const char *, atoms->len + 1);

  x11_fetch_atom_names (self, (const xcb_atom_t *) atoms->data, atoms->len);
  for (guint i = 0; i < atoms->len; i++)
    names[i] = x11_atom_name (self, g_array_index (atoms, xcb_atom_t, i));
  return x11_targets_to_mime_types (names, atoms->len);
}

static void
handle_targets_answer (QgaDesktopClipboardX11 *self, QgaSelectionId id,
                       xcb_selection_notify_event_t *event)
{
  X11Selection *selection = &self->selections[id];
  g_autoptr(GArray) atoms = NULL;
  g_auto(GStrv) mime_types = NULL;

  if (!selection->fetching)
    return;
  selection->fetching = FALSE;
  stop_fetch_timeout (selection);
  if (event->property != XCB_ATOM_NONE)
    atoms = read_targets_property (self, event->property);
  if (selection->fetching_generation != selection->generation)
    {
      fetch_again (self, selection);
      return;
    }
  if (atoms == NULL)
    atoms = g_array_new (FALSE, FALSE, sizeof (xcb_atom_t));
  mime_types = offered_mime_types (self, atoms);
  selection_forget_offered (selection);
  selection->offered = g_steal_pointer (&atoms);
  g_debug ("%s: another client offers %u types", qga_clipboard_selection_name (id),
           g_strv_length (mime_types));
  qga_desktop_clipboard_emit_owner_changed (QGA_DESKTOP_CLIPBOARD (self), id,
                                            (const char *const *) mime_types, FALSE);
}

/* --- owners --- */

static void
selection_drop_ours (X11Selection *selection)
{
  g_clear_pointer (&selection->offer, qga_desktop_offer_unref);
  g_clear_pointer (&selection->mime_types, g_strfreev);
  g_clear_pointer (&selection->targets, g_array_unref);
}

/* XFixes: selection has a new owner, or its owner's window or client has
 * gone. Ours (after take) is announced with our types; another client's
 * once its TARGETS are in. */
static void
handle_owner_notify (QgaDesktopClipboardX11 *self, xcb_xfixes_selection_notify_event_t *event)
{
  QgaSelectionId id;
  X11Selection *selection;
  gboolean set = event->subtype == XCB_XFIXES_SELECTION_EVENT_SET_SELECTION_OWNER;

  if (!x11_selection_id (self, event->selection, &id))
    return;
  selection = &self->selections[id];
  if (!set)
    x11_reads_owner_gone (self, id, selection->generation);
  if (set && event->owner != self->window && selection->offer != NULL &&
      x11_time_diff (event->selection_timestamp, selection->taken_at) < 0)
    return;   /* an owner before our take, announced late: ours is current */
  selection->generation++;
  selection->owner = set ? event->owner : XCB_NONE;
  selection_forget_offered (selection);
  if (selection->owner == self->window)
    {
      if (selection->offer != NULL)
        qga_desktop_clipboard_emit_owner_changed (QGA_DESKTOP_CLIPBOARD (self), id,
                                                  (const char *const *) selection->mime_types, TRUE);
    }
  else if (selection->owner == XCB_NONE)
    qga_desktop_clipboard_emit_owner_changed (QGA_DESKTOP_CLIPBOARD (self), id, NULL, FALSE);
  else
    start_targets_fetch (self, id);
}

static void
handle_selection_clear (QgaDesktopClipboardX11 *self, xcb_selection_clear_event_t *event)
{
  QgaSelectionId id;
  X11Selection *selection;

  if (event->owner != self->window || !x11_selection_id (self, event->selection, &id))
    return;
  selection = &self->selections[id];
  /* A clear older than our latest take is about an earlier one. */
  if (selection->offer == NULL || x11_time_diff (event->time, selection->taken_at) < 0)
    return;
  g_debug ("%s: another client took it", qga_clipboard_selection_name (id));
  selection_drop_ours (selection);
}

static void
handle_selection_notify (QgaDesktopClipboardX11 *self, xcb_selection_notify_event_t *event)
{
  QgaSelectionId id;

  if (event->requestor != self->window)
    return;
  if (x11_selection_id (self, event->selection, &id) &&
      event->target == self->atoms[X11_ATOM_TARGETS] &&
      (event->property == XCB_ATOM_NONE ||
       event->property == self->atoms[X11_ATOM_TARGETS_CLIPBOARD + id]))
    {
      /* a refused TARGETS could be a read's too: reads never ask for TARGETS */
      handle_targets_answer (self, id, event);
      return;
    }
  x11_reads_handle_selection_notify (self, event);
}

static void
handle_error (QgaDesktopClipboardX11 *self, xcb_generic_error_t *error)
{
  g_debug ("X error %u (request %u.%u, resource 0x%x)", error->error_code, error->major_code,
           error->minor_code, error->resource_id);
  x11_serves_handle_error (self, error);
}

static void
handle_event (QgaDesktopClipboardX11 *self, xcb_generic_event_t *event)
{
  guint8 type = event->response_type & 0x7F;

  if (type == 0)
    handle_error (self, (xcb_generic_error_t *) event);
  else if (type == XCB_SELECTION_REQUEST)
    x11_serve_handle_request (self, (xcb_selection_request_event_t *) event);
  else if (type == XCB_SELECTION_NOTIFY)
    handle_selection_notify (self, (xcb_selection_notify_event_t *) event);
  else if (type == XCB_SELECTION_CLEAR)
    handle_selection_clear (self, (xcb_selection_clear_event_t *) event);
  else if (type == XCB_PROPERTY_NOTIFY)
    {
      xcb_property_notify_event_t *notify = (xcb_property_notify_event_t *) event;

      /* our window: a read's chunk; anyone's, ours included when we
       * read what we own: a serve's requestor deleting a chunk */
      if (notify->window != self->window || !x11_reads_handle_property_notify (self, notify))
        x11_serves_handle_property_notify (self, notify);
    }
  else if (type == self->xfixes_first_event + XCB_XFIXES_SELECTION_NOTIFY)
    handle_owner_notify (self, (xcb_xfixes_selection_notify_event_t *) event);
}

/* --- the connection as a main-loop source --- */

/* XCB reads events off the socket into its own queue whenever it waits for
 * a reply, so the fd being quiet does not mean there is nothing to do:
 * prepare and check look at XCB's queue, and prepare flushes what we
 * wrote, so every request goes out before the loop sleeps. */
typedef struct {
  GSource source;
  QgaDesktopClipboardX11 *self;
  gpointer fd_tag;
} X11Source;

static gboolean
has_pending_events (QgaDesktopClipboardX11 *self)
{
  xcb_generic_event_t *event;

  if (!g_queue_is_empty (&self->deferred_events))
    return TRUE;
  event = xcb_poll_for_queued_event (self->connection);
  if (event == NULL)
    return FALSE;
  g_queue_push_tail (&self->deferred_events, event);
  return TRUE;
}

static gboolean
x11_source_prepare (GSource *source, gint *timeout)
{
  X11Source *x11 = (X11Source *) source;

  *timeout = -1;
  if (x11->self->broken)
    return FALSE;
  xcb_flush (x11->self->connection);
  return has_pending_events (x11->self) || xcb_connection_has_error (x11->self->connection);
}

static gboolean
x11_source_check (GSource *source)
{
  X11Source *x11 = (X11Source *) source;

  if (x11->self->broken)
    return FALSE;
  return g_source_query_unix_fd (source, x11->fd_tag) != 0 || has_pending_events (x11->self);
}

static xcb_generic_event_t *
next_event (QgaDesktopClipboardX11 *self)
{
  if (!g_queue_is_empty (&self->deferred_events))
    return g_queue_pop_head (&self->deferred_events);
  return xcb_poll_for_event (self->connection);
}

static void
connection_failed (QgaDesktopClipboardX11 *self)
{
  g_autoptr(GError) error = NULL;

  self->broken = TRUE;
  g_message ("desktop clipboard: lost the connection to X display %s (XCB error %d)",
             self->display_name, xcb_connection_has_error (self->connection));
  error = g_error_new (QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                       "lost the connection to X display %s", self->display_name);
  x11_reads_fail_all (self, error);
  qga_desktop_transfers_abandon_serves (&self->transfers);
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    {
      stop_fetch_timeout (&self->selections[i]);
      self->selections[i].fetching = FALSE;
      self->selections[i].owner = XCB_NONE;
      selection_forget_offered (&self->selections[i]);
      selection_drop_ours (&self->selections[i]);
    }
  qga_desktop_clipboard_emit_closed (QGA_DESKTOP_CLIPBOARD (self), error);
}

static gboolean
x11_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  /* a signal handler may drop the last other reference */
  g_autoptr(QgaDesktopClipboardX11) self = g_object_ref (((X11Source *) source)->self);
  xcb_generic_event_t *event;

  for (guint i = 0; i < EVENTS_PER_DISPATCH && self->connection != NULL &&
       (event = next_event (self)) != NULL; i++)
    {
      handle_event (self, event);
      free (event);
    }
  if (self->connection == NULL)
    return G_SOURCE_REMOVE;   /* disposed meanwhile */
  if (xcb_connection_has_error (self->connection))
    {
      connection_failed (self);
      return G_SOURCE_REMOVE;
    }
  xcb_flush (self->connection);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs x11_source_funcs = {
  .prepare = x11_source_prepare,
  .check = x11_source_check,
  .dispatch = x11_source_dispatch,
};

static void
attach_source (QgaDesktopClipboardX11 *self)
{
  X11Source *source = (X11Source *) g_source_new (&x11_source_funcs, sizeof (X11Source));

  source->self = self;
  source->fd_tag = g_source_add_unix_fd (&source->source,
                                         xcb_get_file_descriptor (self->connection),
                                         G_IO_IN | G_IO_ERR | G_IO_HUP);
  g_source_set_name (&source->source, "qga-desktop X11");
  g_source_attach (&source->source, NULL);
  self->source = &source->source;
}

/* --- setting up --- */

static gboolean
init_xfixes (QgaDesktopClipboardX11 *self, GError **error)
{
  const xcb_query_extension_reply_t *extension =
    xcb_get_extension_data (self->connection, &xcb_xfixes_id);
  g_autofree xcb_xfixes_query_version_reply_t *version = NULL;

  if (extension == NULL || !extension->present)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED,
                   "X display %s has no XFixes extension", self->display_name);
      return FALSE;
    }
  self->xfixes_first_event = extension->first_event;
  /* XFixes answers nothing before its version is asked. */
  version = xcb_xfixes_query_version_reply (self->connection,
                                            xcb_xfixes_query_version (self->connection, 5, 0), NULL);
  if (version == NULL || version->major_version < 1)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED,
                   "X display %s has no usable XFixes (version 1 or later)", self->display_name);
      return FALSE;
    }
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    xcb_xfixes_select_selection_input (self->connection, self->window, self->selection_atoms[i],
                                       XCB_XFIXES_SELECTION_EVENT_MASK_SET_SELECTION_OWNER |
                                       XCB_XFIXES_SELECTION_EVENT_MASK_SELECTION_WINDOW_DESTROY |
                                       XCB_XFIXES_SELECTION_EVENT_MASK_SELECTION_CLIENT_CLOSE);
  return TRUE;
}

static void
create_window (QgaDesktopClipboardX11 *self, xcb_screen_t *screen)
{
  guint32 event_mask = XCB_EVENT_MASK_PROPERTY_CHANGE;

  self->window = xcb_generate_id (self->connection);
  xcb_create_window (self->connection, XCB_COPY_FROM_PARENT, self->window, screen->root,
                     -1, -1, 1, 1, 0, XCB_WINDOW_CLASS_INPUT_ONLY, XCB_COPY_FROM_PARENT,
                     XCB_CW_EVENT_MASK, &event_mask);
}

static void
intern_atoms (QgaDesktopClipboardX11 *self)
{
  xcb_intern_atom_cookie_t cookies[X11_N_ATOMS + X11_READ_PROPERTIES];
  char *names[X11_READ_PROPERTIES] = { NULL };

  for (guint i = 0; i < X11_N_ATOMS; i++)
    cookies[i] = xcb_intern_atom (self->connection, FALSE, strlen (atom_names[i]), atom_names[i]);
  for (guint i = 0; i < X11_READ_PROPERTIES; i++)
    {
      names[i] = g_strdup_printf ("_QGA_SELECTION_%u", i);
      cookies[X11_N_ATOMS + i] = xcb_intern_atom (self->connection, FALSE, strlen (names[i]), names[i]);
    }
  for (guint i = 0; i < X11_N_ATOMS + X11_READ_PROPERTIES; i++)
    {
      g_autofree xcb_intern_atom_reply_t *reply =
        xcb_intern_atom_reply (self->connection, cookies[i], NULL);
      xcb_atom_t atom = reply != NULL ? reply->atom : XCB_ATOM_NONE;

      if (i < X11_N_ATOMS)
        self->atoms[i] = atom;
      else
        self->read_properties[i - X11_N_ATOMS] = atom;
    }
  for (guint i = 0; i < X11_READ_PROPERTIES; i++)
    g_free (names[i]);
  self->selection_atoms[QGA_SELECTION_CLIPBOARD] = self->atoms[X11_ATOM_CLIPBOARD];
  self->selection_atoms[QGA_SELECTION_PRIMARY] = XCB_ATOM_PRIMARY;
}

/* What the selections hold already: as if their owners had just taken them. */
static void
learn_current_owners (QgaDesktopClipboardX11 *self)
{
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    {
      g_autofree xcb_get_selection_owner_reply_t *reply =
        xcb_get_selection_owner_reply (self->connection,
                                       xcb_get_selection_owner (self->connection, self->selection_atoms[i]),
                                       NULL);

      if (reply == NULL || reply->owner == XCB_NONE)
        continue;
      self->selections[i].generation++;
      self->selections[i].owner = reply->owner;
      start_targets_fetch (self, i);
    }
}

static gboolean
connect_display (QgaDesktopClipboardX11 *self, GError **error)
{
  int screen_number = 0;
  xcb_screen_iterator_t screens;
  guint32 max_request_bytes;

  self->connection = xcb_connect (self->display_name, &screen_number);
  if (xcb_connection_has_error (self->connection))
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED,
                   "cannot connect to X display %s", self->display_name);
      return FALSE;
    }
  screens = xcb_setup_roots_iterator (xcb_get_setup (self->connection));
  for (int i = 0; i < screen_number && screens.rem > 0; i++)
    xcb_screen_next (&screens);
  if (screens.rem == 0)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED,
                   "X display %s has no screen %d", self->display_name, screen_number);
      return FALSE;
    }
  /* in 4-byte units, BIG-REQUESTS included; ChangeProperty's header is
   * 24 bytes, 28 with BIG-REQUESTS */
  max_request_bytes = MIN (xcb_get_maximum_request_length (self->connection), G_MAXUINT32 / 4) * 4;
  self->max_chunk = MIN ((gsize) max_request_bytes - 32, X11_MAX_CHUNK);
  create_window (self, screens.data);
  intern_atoms (self);
  return init_xfixes (self, error);
}

QgaDesktopClipboard *
qga_desktop_clipboard_x11_new (const char *display, guint64 max_size, guint timeout_ms,
                               GError **error)
{
  g_autoptr(QgaDesktopClipboardX11) self = NULL;

  g_return_val_if_fail (display != NULL, NULL);
  self = qga_desktop_clipboard_new_backend (QGA_TYPE_DESKTOP_CLIPBOARD_X11, max_size, timeout_ms);
  self->display_name = g_strdup (display);
  if (!connect_display (self, error))
    return NULL;
  learn_current_owners (self);
  attach_source (self);
  xcb_flush (self->connection);
  return QGA_DESKTOP_CLIPBOARD (g_steal_pointer (&self));
}

/* --- the backend's methods --- */

static const char *
x11_get_backend_name (QgaDesktopClipboard *clipboard)
{
  return "x11";
}

/* Every target that carries one of mime_types, the first one first. */
static GArray *
targets_for_mime_types (QgaDesktopClipboardX11 *self, const char *const *mime_types)
{
  GArray *targets = g_array_new (FALSE, TRUE, sizeof (X11Target));

  g_array_set_clear_func (targets, (GDestroyNotify) x11_target_clear);
  for (guint i = 0; mime_types[i] != NULL; i++)
    {
      guint n_choices;
      const X11TargetChoice *choices = x11_target_choices (mime_types[i], &n_choices);

      for (guint c = 0; c < n_choices; c++)
        {
          X11Target target = { 0 };

          target.target = x11_intern_atom (self, choices[c].name != NULL ? choices[c].name : mime_types[i]);
          target.type = choices[c].type_name != NULL ? x11_intern_atom (self, choices[c].type_name)
                                                     : target.target;
          target.encoding = choices[c].encoding;
          target.mime_type = g_strdup (mime_types[i]);
          g_array_append_val (targets, target);
          /* The array owns mime_type now (its clear function frees it):
           * cppcheck does not know GArray. */
          /* cppcheck-suppress memleak */
        }
    }
  return targets;
}

static gboolean
x11_take (QgaDesktopClipboard *clipboard, QgaSelectionId id, const char *const *mime_types,
          QgaDesktopOffer *offer, GError **error)
{
  QgaDesktopClipboardX11 *self = QGA_DESKTOP_CLIPBOARD_X11 (clipboard);
  X11Selection *selection = &self->selections[id];
  g_autoptr(GArray) targets = NULL;
  g_autofree xcb_get_selection_owner_reply_t *reply = NULL;
  xcb_timestamp_t time;

  if (self->broken)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "lost the connection to X display %s", self->display_name);
      return FALSE;
    }
  targets = targets_for_mime_types (self, mime_types);
  time = get_server_time (self);
  xcb_set_selection_owner (self->connection, self->window, self->selection_atoms[id], time);
  reply = xcb_get_selection_owner_reply (self->connection,
                                         xcb_get_selection_owner (self->connection, self->selection_atoms[id]),
                                         NULL);
  if (reply == NULL || reply->owner != self->window)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "the X server did not give us the %s selection", qga_clipboard_selection_name (id));
      return FALSE;
    }
  selection_drop_ours (selection);
  selection->offer = qga_desktop_offer_ref (offer);
  selection->mime_types = g_strdupv ((char **) mime_types);
  selection->targets = g_steal_pointer (&targets);
  selection->taken_at = time;
  return TRUE;
}

static void
x11_release (QgaDesktopClipboard *clipboard, QgaSelectionId id)
{
  QgaDesktopClipboardX11 *self = QGA_DESKTOP_CLIPBOARD_X11 (clipboard);
  X11Selection *selection = &self->selections[id];

  if (selection->offer == NULL)
    return;
  /* With our take's time: should another client own it by now, the
   * server ignores this instead of taking it from them. */
  xcb_set_selection_owner (self->connection, XCB_NONE, self->selection_atoms[id],
                           selection->taken_at);
  xcb_flush (self->connection);   /* a program may release and exit */
  selection_drop_ours (selection);
}

static void
x11_read (QgaDesktopClipboard *clipboard, QgaSelectionId id, const char *mime_type, int fd,
          GTask *task)
{
  x11_read_start (QGA_DESKTOP_CLIPBOARD_X11 (clipboard), id, mime_type, fd, task);
}

static void
qga_desktop_clipboard_x11_dispose (GObject *object)
{
  QgaDesktopClipboardX11 *self = QGA_DESKTOP_CLIPBOARD_X11 (object);

  qga_desktop_transfers_dispose (&self->transfers);
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    {
      stop_fetch_timeout (&self->selections[i]);
      selection_forget_offered (&self->selections[i]);
      selection_drop_ours (&self->selections[i]);
    }
  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
  g_queue_clear_full (&self->deferred_events, free);
  if (self->connection != NULL)
    {
      xcb_disconnect (self->connection);
      self->connection = NULL;
    }
  G_OBJECT_CLASS (qga_desktop_clipboard_x11_parent_class)->dispose (object);
}

static void
qga_desktop_clipboard_x11_finalize (GObject *object)
{
  QgaDesktopClipboardX11 *self = QGA_DESKTOP_CLIPBOARD_X11 (object);

  qga_desktop_transfers_finalize (&self->transfers);
  g_hash_table_unref (self->atom_names);
  g_free (self->display_name);
  G_OBJECT_CLASS (qga_desktop_clipboard_x11_parent_class)->finalize (object);
}

static void
qga_desktop_clipboard_x11_init (QgaDesktopClipboardX11 *self)
{
  g_queue_init (&self->deferred_events);
  qga_desktop_transfers_init (&self->transfers, (GDestroyNotify) x11_read_free,
                              (GDestroyNotify) x11_serve_free);
  self->atom_names = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    {
      self->selections[i].self = self;
      self->selections[i].id = i;
    }
}

static void
qga_desktop_clipboard_x11_class_init (QgaDesktopClipboardX11Class *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  QgaDesktopClipboardClass *clipboard_class = QGA_DESKTOP_CLIPBOARD_CLASS (klass);

  object_class->dispose = qga_desktop_clipboard_x11_dispose;
  object_class->finalize = qga_desktop_clipboard_x11_finalize;
  clipboard_class->get_backend_name = x11_get_backend_name;
  clipboard_class->take = x11_take;
  clipboard_class->release = x11_release;
  clipboard_class->read = x11_read;
}
