/* qga-desktop-x11-serve.c: answering other clients' ConvertSelection while
 * we own a selection (ICCCM §2.2, §2.5, §2.7.2).
 *
 * TARGETS and TIMESTAMP are answered at once. MULTIPLE is refused, as ICCCM
 * lets an owner refuse any target: it asks for a list of conversions in
 * one, which no client needs from a clipboard bridge. For a content, the
 * provider is asked only now, writes into a pipe, and we gather all of it
 * (up to max-size) before answering (qga-desktop-serve.c): a provider that
 * fails or goes over the limit is refused cleanly, where a half-sent INCR
 * could only stop.
 * Then the content goes into the requestor's property whole if one
 * request can carry it, or by INCR: the property first gets INCR and the
 * size, and each time the requestor deletes it (PropertyNotify, which we
 * select on its window) the next chunk, and at the end an empty one.
 */
#include "config.h"

#include "qga-desktop-x11-private.h"

typedef enum {
  SERVE_GATHERING,         /* the provider writes into the pipe */
  SERVE_INCR,              /* chunks go as the requestor deletes the property */
} ServeState;

struct _X11Serve {
  QgaDesktopServe base;
  QgaDesktopClipboardX11 *self;
  xcb_window_t requestor;
  xcb_atom_t target;
  xcb_atom_t property;
  xcb_atom_t type;
  xcb_timestamp_t time;
  X11Encoding encoding;
  ServeState state;
};

static gboolean
other_incr_to (QgaDesktopClipboardX11 *self, X11Serve *serve)
{
  for (guint i = 0; i < self->transfers.serves->len; i++)
    {
      X11Serve *other = g_ptr_array_index (self->transfers.serves, i);

      if (other != serve && other->state == SERVE_INCR && other->requestor == serve->requestor)
        return TRUE;
    }
  return FALSE;
}

void
x11_serve_free (X11Serve *serve)
{
  QgaDesktopClipboardX11 *self = serve->self;

  if (serve->state == SERVE_INCR && self->connection != NULL && !self->broken &&
      serve->requestor != self->window && !other_incr_to (self, serve))
    {
      guint32 no_events = XCB_EVENT_MASK_NO_EVENT;

      xcb_change_window_attributes (self->connection, serve->requestor, XCB_CW_EVENT_MASK, &no_events);
    }
  qga_desktop_serve_clear (&serve->base);
  g_free (serve);
}

static void
refuse (QgaDesktopClipboardX11 *self, xcb_selection_request_event_t *event)
{
  x11_send_selection_notify (self, event->requestor, event->selection, event->target,
                             XCB_ATOM_NONE, event->time);
}

/* A paste we had accepted refused: the requestor gets None. */
static void
serve_refused (QgaDesktopServe *base)
{
  X11Serve *serve = (X11Serve *) base;
  QgaDesktopClipboardX11 *self = serve->self;

  x11_send_selection_notify (self, serve->requestor, self->selection_atoms[base->selection],
                             serve->target, XCB_ATOM_NONE, serve->time);
}

/* --- TARGETS, TIMESTAMP --- */

static void
answer_targets (QgaDesktopClipboardX11 *self, X11Selection *selection,
                xcb_selection_request_event_t *event, xcb_atom_t property)
{
  g_autoptr(GArray) atoms = g_array_new (FALSE, FALSE, sizeof (xcb_atom_t));

  g_array_append_val (atoms, self->atoms[X11_ATOM_TARGETS]);
  g_array_append_val (atoms, self->atoms[X11_ATOM_TIMESTAMP]);
  for (guint i = 0; i < selection->targets->len; i++)
    {
      xcb_atom_t target = g_array_index (selection->targets, X11Target, i).target;
      gboolean seen = FALSE;

      for (guint j = 0; j < atoms->len && !seen; j++)
        seen = g_array_index (atoms, xcb_atom_t, j) == target;
      if (!seen)
        g_array_append_val (atoms, target);
    }
  xcb_change_property (self->connection, XCB_PROP_MODE_REPLACE, event->requestor, property,
                       XCB_ATOM_ATOM, 32, atoms->len, atoms->data);
  x11_send_selection_notify (self, event->requestor, event->selection, event->target, property,
                             event->time);
}

static void
answer_timestamp (QgaDesktopClipboardX11 *self, X11Selection *selection,
                  xcb_selection_request_event_t *event, xcb_atom_t property)
{
  guint32 time = selection->taken_at;

  xcb_change_property (self->connection, XCB_PROP_MODE_REPLACE, event->requestor, property,
                       XCB_ATOM_INTEGER, 32, 1, &time);
  x11_send_selection_notify (self, event->requestor, event->selection, event->target, property,
                             event->time);
}

/* --- the content --- */

static void
serve_send_whole (X11Serve *serve)
{
  QgaDesktopClipboardX11 *self = serve->self;

  xcb_change_property (self->connection, XCB_PROP_MODE_REPLACE, serve->requestor, serve->property,
                       serve->type, 8, serve->base.content->len, serve->base.content->data);
  x11_send_selection_notify (self, serve->requestor, self->selection_atoms[serve->base.selection],
                             serve->target, serve->property, serve->time);
  qga_desktop_serve_end (&serve->base);
}

static void
serve_start_incr (X11Serve *serve)
{
  QgaDesktopClipboardX11 *self = serve->self;
  guint32 events = XCB_EVENT_MASK_PROPERTY_CHANGE;
  guint32 size = MIN (serve->base.content->len, G_MAXUINT32);

  /* Our own event mask on its window: the requestor's is its own. Ours
   * (reading what we own) has PropertyChange already. */
  if (serve->requestor != self->window)
    xcb_change_window_attributes (self->connection, serve->requestor, XCB_CW_EVENT_MASK, &events);
  xcb_change_property (self->connection, XCB_PROP_MODE_REPLACE, serve->requestor, serve->property,
                       self->atoms[X11_ATOM_INCR], 32, 1, &size);
  x11_send_selection_notify (self, serve->requestor, self->selection_atoms[serve->base.selection],
                             serve->target, serve->property, serve->time);
  serve->state = SERVE_INCR;
  qga_desktop_serve_progress (&serve->base);
}

/* The requestor deleted the property: the next chunk, or the empty one
 * that ends the transfer. */
static void
serve_send_next_chunk (X11Serve *serve)
{
  QgaDesktopClipboardX11 *self = serve->self;
  gsize length = MIN (self->max_chunk, serve->base.content->len - serve->base.sent);

  xcb_change_property (self->connection, XCB_PROP_MODE_REPLACE, serve->requestor, serve->property,
                       serve->type, 8, length, serve->base.content->data + serve->base.sent);
  serve->base.sent += length;
  qga_desktop_serve_progress (&serve->base);
  if (length == 0)
    qga_desktop_serve_end (&serve->base);
}

static gboolean
convert_to_latin1 (X11Serve *serve)
{
  GByteArray *content = serve->base.content;
  guint64 *buffered = &serve->self->transfers.serve_buffered;
  g_autoptr(GError) error = NULL;
  gsize written = 0;
  g_autofree char *latin1 = g_convert_with_fallback ((const char *) content->data, content->len,
                                                     "ISO-8859-1", "UTF-8", "?", NULL, &written,
                                                     &error);

  if (latin1 == NULL)
    {
      qga_desktop_serve_refuse (&serve->base, "the text is not UTF-8: %s", error->message);
      return FALSE;
    }
  *buffered -= content->len;
  g_byte_array_set_size (content, 0);
  g_byte_array_append (content, (const guint8 *) latin1, written);
  *buffered += written;
  return TRUE;
}

/* The content is whole: into the property whole if one request can
 * carry it, else by INCR. */
static void
serve_answer (QgaDesktopServe *base)
{
  X11Serve *serve = (X11Serve *) base;

  if (serve->encoding == X11_ENCODING_LATIN1 && !convert_to_latin1 (serve))
    return;
  if (base->content->len <= serve->self->max_chunk)
    {
      g_debug ("serving %u bytes of %s to X window 0x%x", base->content->len, base->mime_type,
               serve->requestor);
      serve_send_whole (serve);
    }
  else
    {
      g_debug ("serving %u bytes of %s to X window 0x%x by INCR, %" G_GSIZE_FORMAT " at a time",
               base->content->len, base->mime_type, serve->requestor, serve->self->max_chunk);
      serve_start_incr (serve);
    }
}

static const QgaDesktopServeOps serve_ops = { serve_refused, serve_answer };

static void
start_serve (QgaDesktopClipboardX11 *self, QgaSelectionId id, X11Selection *selection,
             const X11Target *target, xcb_selection_request_event_t *event, xcb_atom_t property)
{
  g_autofree char *paster = g_strdup_printf ("X window 0x%x", event->requestor);
  X11Serve *serve = qga_desktop_serve_new (sizeof (X11Serve), &serve_ops,
                                           QGA_DESKTOP_CLIPBOARD (self), &self->transfers, id,
                                           target->mime_type, paster);

  if (serve == NULL)
    {
      refuse (self, event);
      return;
    }
  serve->self = self;
  serve->requestor = event->requestor;
  serve->target = event->target;
  serve->property = property;
  serve->type = target->type;
  serve->time = event->time;
  serve->encoding = target->encoding;
  serve->state = SERVE_GATHERING;
  qga_desktop_serve_ask (&serve->base, selection->offer);
}

void
x11_serve_handle_request (QgaDesktopClipboardX11 *self, xcb_selection_request_event_t *event)
{
  QgaSelectionId id;
  X11Selection *selection = NULL;
  /* ICCCM §2.2: a requestor from before ICCCM may leave property None */
  xcb_atom_t property = event->property != XCB_ATOM_NONE ? event->property : event->target;

  if (x11_selection_id (self, event->selection, &id))
    selection = &self->selections[id];
  if (selection == NULL || selection->offer == NULL || event->owner != self->window || self->broken ||
      (event->time != XCB_CURRENT_TIME && x11_time_diff (event->time, selection->taken_at) < 0))
    {
      refuse (self, event);
      return;
    }
  if (event->target == self->atoms[X11_ATOM_TARGETS])
    answer_targets (self, selection, event, property);
  else if (event->target == self->atoms[X11_ATOM_TIMESTAMP])
    answer_timestamp (self, selection, event, property);
  else
    {
      for (guint i = 0; i < selection->targets->len; i++)
        {
          const X11Target *target = &g_array_index (selection->targets, X11Target, i);

          if (target->target == event->target)
            {
              start_serve (self, id, selection, target, event, property);
              return;
            }
        }
      refuse (self, event);   /* MULTIPLE among them */
    }
}

gboolean
x11_serves_handle_property_notify (QgaDesktopClipboardX11 *self, xcb_property_notify_event_t *event)
{
  if (event->state != XCB_PROPERTY_DELETE)
    return FALSE;
  for (guint i = 0; i < self->transfers.serves->len; i++)
    {
      X11Serve *serve = g_ptr_array_index (self->transfers.serves, i);

      if (serve->state == SERVE_INCR && serve->requestor == event->window &&
          serve->property == event->atom)
        {
          serve_send_next_chunk (serve);
          return TRUE;
        }
    }
  return FALSE;
}

void
x11_serves_handle_error (QgaDesktopClipboardX11 *self, xcb_generic_error_t *error)
{
  if (error->error_code != XCB_WINDOW)
    return;
  for (guint i = self->transfers.serves->len; i > 0; i--)
    {
      X11Serve *serve = g_ptr_array_index (self->transfers.serves, i - 1);

      if (serve->requestor == error->resource_id)
        {
          g_debug ("X window 0x%x left before the end of %s", serve->requestor, serve->base.mime_type);
          serve->state = SERVE_GATHERING;   /* its window is gone: leave its event mask */
          qga_desktop_serve_end (&serve->base);
        }
    }
}

