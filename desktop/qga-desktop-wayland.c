/* qga-desktop-wayland.c: the Wayland backend's connection, offers and
 * sources (see qga-desktop-wayland.h).
 *
 * No echo: the compositor sends a data-control client a new offer for
 * every selection, its own included, and an offer does not say whose it
 * is. So each source of ours offers one more name, a marker
 * (WL_MARKER_PREFIX;id=TOKEN;take=N, TOKEN random per object, N per take):
 * an offer carrying our token is ours, announced with ours TRUE when it is
 * our current take's, and not at all when it is an earlier one's. The
 * marker is never shown to callers as a type. Timing cannot do this: the
 * echo comes back whenever the compositor gets to it, after other
 * clients' selections possibly.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "qga-desktop-wayland-private.h"
#include "qga-error.h"

G_DEFINE_TYPE (QgaDesktopClipboardWayland, qga_desktop_clipboard_wayland, QGA_TYPE_DESKTOP_CLIPBOARD)

static void connection_lost (QgaDesktopClipboardWayland *self, const char *why);

/* --- offers --- */

static void
offer_free (WlOffer *offer)
{
  if (offer->proxy != NULL)
    wl_offer_destroy (offer->proxy);
  g_ptr_array_unref (offer->names);
  g_free (offer->marker);
  g_free (offer);
}

static void
on_offer_name (void *data, struct wl_proxy *proxy, const char *name)
{
  WlOffer *offer = data;

  if (wl_name_is_marker (name))
    {
      g_free (offer->marker);
      offer->marker = g_strdup (name);
    }
  else if (offer->names->len < WL_MAX_OFFERED_NAMES)
    g_ptr_array_add (offer->names, g_strdup (name));
}

/* The data-control offer's events (both protocols: the same wire). */
static const struct {
  void (*offer) (void *data, struct wl_proxy *offer, const char *name);
} offer_listener = { on_offer_name };

static gboolean
offer_is_ours (QgaDesktopClipboardWayland *self, WlOffer *offer)
{
  g_autofree char *prefix = NULL;

  if (offer->marker == NULL)
    return FALSE;
  prefix = g_strdup_printf (WL_MARKER_PREFIX ";id=%s;", self->token);
  return g_str_has_prefix (offer->marker, prefix);
}

static void
drop_offer (QgaDesktopClipboardWayland *self, WlOffer *offer)
{
  g_ptr_array_remove_fast (self->offers, offer);
}

/* --- our sources --- */

static void
source_free (WlSource *source)
{
  if (source->proxy != NULL)
    wl_source_destroy (source->proxy);
  qga_desktop_offer_unref (source->offer);
  g_strfreev (source->mime_types);
  g_free (source->marker);
  g_free (source);
}

static void
drop_source (QgaDesktopClipboardWayland *self, WlSource *source)
{
  WlSelection *selection = &self->selections[source->selection];

  g_ptr_array_remove_fast (self->sources, source);
  if (selection->source == source)
    {
      selection->source = NULL;
      wl_reads_selection_changed (self, selection->id);
    }
}

static void
on_source_send (void *data, struct wl_proxy *proxy, const char *name, int32_t fd)
{
  WlSource *source = data;

  wl_serve_start (source->self, source, name, fd);
}

static void
on_source_cancelled (void *data, struct wl_proxy *proxy)
{
  WlSource *source = data;

  g_debug ("%s: another client took it", qga_clipboard_selection_name (source->selection));
  drop_source (source->self, source);
}

static const struct {
  void (*send) (void *data, struct wl_proxy *source, const char *name, int32_t fd);
  void (*cancelled) (void *data, struct wl_proxy *source);
} source_listener = { on_source_send, on_source_cancelled };

/* --- the data device: selections --- */

static void
announce_selection (QgaDesktopClipboardWayland *self, WlSelection *selection)
{
  QgaDesktopClipboard *clipboard = QGA_DESKTOP_CLIPBOARD (self);
  WlOffer *offer = selection->offer;
  g_auto(GStrv) mime_types = NULL;

  if (offer == NULL)
    {
      qga_desktop_clipboard_emit_owner_changed (clipboard, selection->id, NULL, FALSE);
      return;
    }
  if (offer_is_ours (self, offer))
    {
      /* an earlier take's echo, late: the current one's follows */
      if (selection->source != NULL && strcmp (offer->marker, selection->source->marker) == 0)
        qga_desktop_clipboard_emit_owner_changed (clipboard, selection->id,
                                                  (const char *const *) selection->source->mime_types,
                                                  TRUE);
      return;
    }
  mime_types = wl_names_to_mime_types (offer->names);
  g_debug ("%s: another client offers %u types", qga_clipboard_selection_name (selection->id),
           g_strv_length (mime_types));
  qga_desktop_clipboard_emit_owner_changed (clipboard, selection->id,
                                            (const char *const *) mime_types, FALSE);
}

/* Every offer but the selections' own: the one replaced, and any the
 * compositor introduced without a selection event for it. */
static void
drop_stale_offers (QgaDesktopClipboardWayland *self)
{
  for (guint i = self->offers->len; i > 0; i--)
    {
      WlOffer *offer = g_ptr_array_index (self->offers, i - 1);
      gboolean current = FALSE;

      for (guint s = 0; s < QGA_N_SELECTIONS; s++)
        current = current || self->selections[s].offer == offer;
      if (!current)
        drop_offer (self, offer);
    }
}

static void
set_selection_offer (QgaDesktopClipboardWayland *self, QgaSelectionId id, struct wl_proxy *proxy)
{
  WlSelection *selection = &self->selections[id];
  WlOffer *offer = proxy != NULL ? wl_proxy_get_user_data (proxy) : NULL;

  selection->offer = offer;
  drop_stale_offers (self);
  selection->generation++;
  announce_selection (self, selection);
  wl_reads_selection_changed (self, id);
}

static void
on_device_data_offer (void *data, struct wl_proxy *device, struct wl_proxy *proxy)
{
  QgaDesktopClipboardWayland *self = data;
  WlOffer *offer = g_new0 (WlOffer, 1);

  offer->self = self;
  offer->proxy = proxy;
  offer->names = g_ptr_array_new_with_free_func (g_free);
  wl_proxy_add_listener (proxy, (void (**) (void)) &offer_listener, offer);
  g_ptr_array_add (self->offers, offer);
}

static void
on_device_selection (void *data, struct wl_proxy *device, struct wl_proxy *offer)
{
  set_selection_offer (data, QGA_SELECTION_CLIPBOARD, offer);
}

static void
on_device_primary_selection (void *data, struct wl_proxy *device, struct wl_proxy *offer)
{
  set_selection_offer (data, QGA_SELECTION_PRIMARY, offer);
}

static void
on_device_finished (void *data, struct wl_proxy *device)
{
  connection_lost (data, "the compositor ended our data control (its seat went away)");
}

static const struct {
  void (*data_offer) (void *data, struct wl_proxy *device, struct wl_proxy *offer);
  void (*selection) (void *data, struct wl_proxy *device, struct wl_proxy *offer);
  void (*finished) (void *data, struct wl_proxy *device);
  void (*primary_selection) (void *data, struct wl_proxy *device, struct wl_proxy *offer);
} device_listener = {
  on_device_data_offer, on_device_selection, on_device_finished, on_device_primary_selection,
};

/* --- the connection as a main-loop source --- */

/* libwayland's reading protocol: prepare_read (or dispatch what is
 * queued), flush, poll, then read_events or cancel_read, then dispatch.
 * A flush that would block waits for POLLOUT. One read prepared at a time:
 * should GLib skip check after prepare, the next prepare reuses it. */
typedef struct {
  GSource source;
  QgaDesktopClipboardWayland *self;
  gpointer fd_tag;
  gboolean reading;
  gboolean want_out;
} WlDisplaySource;

static void
display_source_flush (WlDisplaySource *source)
{
  struct wl_display *display = source->self->display;
  gboolean want_out = wl_display_flush (display) < 0 && errno == EAGAIN;

  if (want_out != source->want_out)
    {
      source->want_out = want_out;
      g_source_modify_unix_fd (&source->source, source->fd_tag,
                               G_IO_IN | G_IO_ERR | G_IO_HUP | (want_out ? G_IO_OUT : 0));
    }
}

static gboolean
display_source_prepare (GSource *gsource, gint *timeout)
{
  WlDisplaySource *source = (WlDisplaySource *) gsource;
  struct wl_display *display = source->self->display;

  *timeout = -1;
  if (source->self->broken)
    return FALSE;
  if (!source->reading)
    {
      if (wl_display_prepare_read (display) != 0)
        return TRUE;   /* events queued already: dispatch them first */
      source->reading = TRUE;
    }
  display_source_flush (source);
  return wl_display_get_error (display) != 0;
}

static gboolean
display_source_check (GSource *gsource)
{
  WlDisplaySource *source = (WlDisplaySource *) gsource;
  struct wl_display *display = source->self->display;
  GIOCondition revents = g_source_query_unix_fd (gsource, source->fd_tag);

  if (source->reading)
    {
      source->reading = FALSE;
      if (revents & (G_IO_IN | G_IO_ERR | G_IO_HUP))
        wl_display_read_events (display);   /* an error stays in wl_display_get_error() */
      else
        wl_display_cancel_read (display);
    }
  if (source->self->broken)
    return FALSE;
  return revents != 0 || wl_display_get_error (display) != 0;
}

static gboolean
display_source_dispatch (GSource *gsource, GSourceFunc callback, gpointer user_data)
{
  WlDisplaySource *source = (WlDisplaySource *) gsource;
  /* a signal handler may drop the last other reference */
  g_autoptr(QgaDesktopClipboardWayland) self = g_object_ref (source->self);

  if (self->broken || self->display == NULL)
    return G_SOURCE_REMOVE;
  if (wl_display_dispatch_pending (self->display) < 0 || wl_display_get_error (self->display) != 0)
    {
      connection_lost (self, g_strerror (wl_display_get_error (self->display)));
      return G_SOURCE_REMOVE;
    }
  if (self->broken)
    return G_SOURCE_REMOVE;   /* the data control finished */
  display_source_flush (source);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs display_source_funcs = {
  .prepare = display_source_prepare,
  .check = display_source_check,
  .dispatch = display_source_dispatch,
};

static void
attach_source (QgaDesktopClipboardWayland *self)
{
  WlDisplaySource *source =
    (WlDisplaySource *) g_source_new (&display_source_funcs, sizeof (WlDisplaySource));

  source->self = self;
  source->fd_tag = g_source_add_unix_fd (&source->source, wl_display_get_fd (self->display),
                                         G_IO_IN | G_IO_ERR | G_IO_HUP);
  g_source_set_name (&source->source, "qga-desktop Wayland");
  g_source_attach (&source->source, NULL);
  self->source = &source->source;
}

static void
detach_source (QgaDesktopClipboardWayland *self)
{
  WlDisplaySource *source = (WlDisplaySource *) self->source;

  if (source == NULL)
    return;
  if (source->reading)
    wl_display_cancel_read (self->display);
  source->reading = FALSE;
  g_source_destroy (self->source);
  g_clear_pointer (&self->source, g_source_unref);
}

void
wl_flush (QgaDesktopClipboardWayland *self)
{
  if (self->source != NULL && !self->broken)
    display_source_flush ((WlDisplaySource *) self->source);
}

struct wl_callback *
wl_sync (QgaDesktopClipboardWayland *self, const struct wl_callback_listener *listener,
         gpointer data)
{
  struct wl_callback *callback = wl_display_sync (self->display);

  wl_callback_add_listener (callback, listener, data);
  wl_flush (self);
  return callback;
}

GError *
wl_connection_lost_error (QgaDesktopClipboardWayland *self)
{
  return g_error_new (QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                      "lost the connection to Wayland display %s", self->display_name);
}

static void
forget_selections (QgaDesktopClipboardWayland *self)
{
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    {
      self->selections[i].offer = NULL;
      self->selections[i].source = NULL;
    }
  g_ptr_array_set_size (self->offers, 0);
  g_ptr_array_set_size (self->sources, 0);
}

/* The compositor went away (or our data control ended): reads fail,
 * serves stop, "closed" once. */
static void
connection_lost (QgaDesktopClipboardWayland *self, const char *why)
{
  g_autoptr(GError) error = NULL;

  if (self->broken)
    return;
  self->broken = TRUE;
  g_message ("desktop clipboard: lost the connection to Wayland display %s (%s)",
             self->display_name, why);
  error = wl_connection_lost_error (self);
  wl_reads_fail_all (self, error);
  qga_desktop_transfers_abandon_serves (&self->transfers);
  forget_selections (self);
  qga_desktop_clipboard_emit_closed (QGA_DESKTOP_CLIPBOARD (self), error);
}

/* --- setting up --- */

static void
on_global (void *data, struct wl_registry *registry, uint32_t name, const char *interface,
           uint32_t version)
{
  QgaDesktopClipboardWayland *self = data;

  if (strcmp (interface, wl_seat_interface.name) == 0 && self->seat_global == 0)
    self->seat_global = name;
  else if (strcmp (interface, wl_protocol_ext.manager->name) == 0)
    {
      self->ext_global = name;
      self->ext_version = version;
    }
  else if (strcmp (interface, wl_protocol_wlr.manager->name) == 0)
    {
      self->wlr_global = name;
      self->wlr_version = version;
    }
}

static void
on_global_remove (void *data, struct wl_registry *registry, uint32_t name)
{
  /* the seat's going ends our data device with "finished" */
}

static const struct wl_registry_listener registry_listener = { on_global, on_global_remove };

static gboolean
bind_data_control (QgaDesktopClipboardWayland *self, GError **error)
{
  guint32 global, version;

  /* ext is the successor: preferred when both are there */
  if (self->ext_global != 0)
    {
      self->protocol = &wl_protocol_ext;
      global = self->ext_global;
      version = self->ext_version;
    }
  else if (self->wlr_global != 0)
    {
      self->protocol = &wl_protocol_wlr;
      global = self->wlr_global;
      version = self->wlr_version;
    }
  else
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED,
                   "the Wayland compositor on %s offers neither zwlr_data_control_manager_v1 nor "
                   "ext_data_control_manager_v1, so its clipboard cannot be synced (under "
                   "Xwayland, only the X11 backend would serve X applications)",
                   self->display_name);
      return FALSE;
    }
  if (self->seat_global == 0)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED,
                   "the Wayland compositor on %s has no seat", self->display_name);
      return FALSE;
    }
  version = MIN (version, self->protocol->max_version);
  self->manager = wl_registry_bind (self->registry, global, self->protocol->manager, version);
  self->seat = wl_registry_bind (self->registry, self->seat_global, &wl_seat_interface, 1);
  self->device = wl_manager_get_device (self);
  wl_proxy_add_listener (self->device, (void (**) (void)) &device_listener, self);
  self->has_primary = version >= self->protocol->primary_since;
  return TRUE;
}

static gboolean
connect_display (QgaDesktopClipboardWayland *self, GError **error)
{
  self->display = wl_display_connect (self->display_name);
  if (self->display == NULL)
    {
      int saved = errno;

      g_set_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED,
                   "cannot connect to Wayland display %s: %s", self->display_name,
                   g_strerror (saved));
      return FALSE;
    }
  self->registry = wl_display_get_registry (self->display);
  wl_registry_add_listener (self->registry, &registry_listener, self);
  if (wl_display_roundtrip (self->display) < 0)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED,
                   "the Wayland display %s did not answer", self->display_name);
      return FALSE;
    }
  return bind_data_control (self, error);
}

QgaDesktopClipboard *
qga_desktop_clipboard_wayland_new (const char *display, guint64 max_size, guint timeout_ms,
                                   GError **error)
{
  g_autoptr(QgaDesktopClipboardWayland) self = NULL;

  g_return_val_if_fail (display != NULL, NULL);
  self = qga_desktop_clipboard_new_backend (QGA_TYPE_DESKTOP_CLIPBOARD_WAYLAND, max_size, timeout_ms);
  self->display_name = g_strdup (display);
  if (!connect_display (self, error))
    return NULL;
  attach_source (self);
  wl_flush (self);
  return QGA_DESKTOP_CLIPBOARD (g_steal_pointer (&self));
}

const char *
qga_desktop_clipboard_wayland_get_protocol (QgaDesktopClipboardWayland *self)
{
  g_return_val_if_fail (QGA_IS_DESKTOP_CLIPBOARD_WAYLAND (self), NULL);
  return self->protocol != NULL ? self->protocol->name : NULL;
}

/* --- the backend's methods --- */

static const char *
wayland_get_backend_name (QgaDesktopClipboard *clipboard)
{
  return "wayland";
}

/* Each name once: a caller's own "text/plain" and our text's. */
static void
offer_names (WlSource *source, const char *const *mime_types)
{
  g_autoptr(GHashTable) offered = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; mime_types[i] != NULL; i++)
    {
      const char *names[WL_TEXT_NAMES + 1];

      wl_names_for_mime_type (mime_types[i], names);
      for (guint n = 0; names[n] != NULL; n++)
        if (g_hash_table_add (offered, (gpointer) names[n]))
          wl_source_offer (source->proxy, names[n]);
    }
  wl_source_offer (source->proxy, source->marker);
}

static gboolean
wayland_take (QgaDesktopClipboard *clipboard, QgaSelectionId id, const char *const *mime_types,
              QgaDesktopOffer *offer, GError **error)
{
  QgaDesktopClipboardWayland *self = QGA_DESKTOP_CLIPBOARD_WAYLAND (clipboard);
  WlSource *source;

  if (self->broken)
    {
      g_propagate_error (error, wl_connection_lost_error (self));
      return FALSE;
    }
  if (id == QGA_SELECTION_PRIMARY && !self->has_primary)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED,
                   "the compositor's data control has no primary selection (%s version %u)",
                   self->protocol->manager->name, wl_proxy_get_version (self->manager));
      return FALSE;
    }
  source = g_new0 (WlSource, 1);
  source->self = self;
  source->selection = id;
  source->offer = qga_desktop_offer_ref (offer);
  source->mime_types = g_strdupv ((char **) mime_types);
  source->marker = wl_marker_new (self->token, ++self->take_serial);
  source->proxy = wl_manager_create_source (self);
  wl_proxy_add_listener (source->proxy, (void (**) (void)) &source_listener, source);
  offer_names (source, mime_types);
  wl_device_set_selection (self, id, source->proxy);
  /* the previous source stays until the compositor cancels it: pastes
   * asked of it before are still served */
  g_ptr_array_add (self->sources, source);
  self->selections[id].source = source;
  wl_flush (self);
  return TRUE;
}

static void
wayland_release (QgaDesktopClipboard *clipboard, QgaSelectionId id)
{
  QgaDesktopClipboardWayland *self = QGA_DESKTOP_CLIPBOARD_WAYLAND (clipboard);
  WlSource *source = self->selections[id].source;

  if (source == NULL)
    return;
  /* Destroying the source clears the selection if it is still ours, and
   * only then: set_selection (NULL) would clear another client's
   * selection set meanwhile. */
  drop_source (self, source);
  wl_flush (self);
}

static void
wayland_read (QgaDesktopClipboard *clipboard, QgaSelectionId id, const char *mime_type, int fd,
              GTask *task)
{
  wl_read_start (QGA_DESKTOP_CLIPBOARD_WAYLAND (clipboard), id, mime_type, fd, task);
}

static void
qga_desktop_clipboard_wayland_dispose (GObject *object)
{
  QgaDesktopClipboardWayland *self = QGA_DESKTOP_CLIPBOARD_WAYLAND (object);

  qga_desktop_transfers_dispose (&self->transfers);
  forget_selections (self);
  detach_source (self);
  if (self->device != NULL)
    wl_device_destroy (g_steal_pointer (&self->device));
  if (self->manager != NULL)
    wl_manager_destroy (g_steal_pointer (&self->manager));
  g_clear_pointer (&self->seat, wl_proxy_destroy);
  g_clear_pointer (&self->registry, wl_registry_destroy);
  if (self->display != NULL)
    {
      wl_display_flush (self->display);   /* a program may release and exit */
      g_clear_pointer (&self->display, wl_display_disconnect);
    }
  G_OBJECT_CLASS (qga_desktop_clipboard_wayland_parent_class)->dispose (object);
}

static void
qga_desktop_clipboard_wayland_finalize (GObject *object)
{
  QgaDesktopClipboardWayland *self = QGA_DESKTOP_CLIPBOARD_WAYLAND (object);

  qga_desktop_transfers_finalize (&self->transfers);
  g_ptr_array_unref (self->offers);
  g_ptr_array_unref (self->sources);
  g_free (self->display_name);
  g_free (self->token);
  G_OBJECT_CLASS (qga_desktop_clipboard_wayland_parent_class)->finalize (object);
}

static void
qga_desktop_clipboard_wayland_init (QgaDesktopClipboardWayland *self)
{
  qga_desktop_transfers_init (&self->transfers, (GDestroyNotify) wl_read_free,
                              (GDestroyNotify) wl_serve_free);
  self->offers = g_ptr_array_new_with_free_func ((GDestroyNotify) offer_free);
  self->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) source_free);
  self->token = g_strdup_printf ("%08x%08x", g_random_int (), g_random_int ());
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    self->selections[i].id = i;
}

static void
qga_desktop_clipboard_wayland_class_init (QgaDesktopClipboardWaylandClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  QgaDesktopClipboardClass *clipboard_class = QGA_DESKTOP_CLIPBOARD_CLASS (klass);

  object_class->dispose = qga_desktop_clipboard_wayland_dispose;
  object_class->finalize = qga_desktop_clipboard_wayland_finalize;
  clipboard_class->get_backend_name = wayland_get_backend_name;
  clipboard_class->take = wayland_take;
  clipboard_class->release = wayland_release;
  clipboard_class->read = wayland_read;
}
