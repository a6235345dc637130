/* qga-desktop.c: the desktop clipboard's API and the choice of its backend
 * (see qga-desktop.h). */
#include "config.h"

#include <unistd.h>

#include "qga-desktop-private.h"
#include "qga-desktop-wayland.h"
#include "qga-desktop-x11.h"
#include "qga-error.h"

struct _QgaDesktopOffer {
  gint ref_count;
  QgaDesktopProvider provider;
  gpointer user_data;
  GDestroyNotify destroy;
};

/* Two references while the provider works: the backend's and the
 * provider's (dropped by complete). */
struct _QgaDesktopRequest {
  gint ref_count;
  gboolean completed;
  QgaDesktopOffer *offer;
  GCancellable *cancellable;
  QgaDesktopRequestDoneFunc done;
  gpointer done_data;
};

typedef struct {
  guint64 max_size;
  guint timeout_ms;
} QgaDesktopClipboardPrivate;

enum { PROP_0, PROP_MAX_SIZE, PROP_TIMEOUT_MS, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIGNAL_OWNER_CHANGED, SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (QgaDesktopClipboard, qga_desktop_clipboard, G_TYPE_OBJECT)

/* --- offers and requests --- */

QgaDesktopOffer *
qga_desktop_offer_new (QgaDesktopProvider provider, gpointer user_data, GDestroyNotify destroy)
{
  QgaDesktopOffer *offer = g_new0 (QgaDesktopOffer, 1);

  offer->ref_count = 1;
  offer->provider = provider;
  offer->user_data = user_data;
  offer->destroy = destroy;
  return offer;
}

QgaDesktopOffer *
qga_desktop_offer_ref (QgaDesktopOffer *offer)
{
  offer->ref_count++;
  return offer;
}

void
qga_desktop_offer_unref (QgaDesktopOffer *offer)
{
  if (offer == NULL || --offer->ref_count > 0)
    return;
  if (offer->destroy != NULL)
    offer->destroy (offer->user_data);
  g_free (offer);
}

void
qga_desktop_request_unref (QgaDesktopRequest *request)
{
  if (request == NULL || --request->ref_count > 0)
    return;
  g_clear_object (&request->cancellable);
  qga_desktop_offer_unref (request->offer);
  g_free (request);
}

QgaDesktopRequest *
qga_desktop_offer_ask (QgaDesktopOffer *offer, QgaDesktopClipboard *clipboard,
                       QgaSelectionId selection, const char *mime_type, int fd,
                       QgaDesktopRequestDoneFunc done, gpointer done_data)
{
  QgaDesktopRequest *request = g_new0 (QgaDesktopRequest, 1);

  request->ref_count = 2;
  request->offer = qga_desktop_offer_ref (offer);
  request->cancellable = g_cancellable_new ();
  request->done = done;
  request->done_data = done_data;
  offer->provider (clipboard, selection, mime_type, fd, request->cancellable, request,
                   offer->user_data);
  return request;
}

void
qga_desktop_request_complete (QgaDesktopRequest *request, const GError *error)
{
  QgaDesktopRequestDoneFunc done;

  g_return_if_fail (request != NULL);
  g_return_if_fail (!request->completed);
  request->completed = TRUE;
  done = g_steal_pointer (&request->done);
  if (done != NULL)
    done (error, request->done_data);
  qga_desktop_request_unref (request);
}

void
qga_desktop_request_abandon (QgaDesktopRequest *request)
{
  if (request == NULL)
    return;
  request->done = NULL;
  g_cancellable_cancel (request->cancellable);
  qga_desktop_request_unref (request);
}

/* --- the base class --- */

void
qga_desktop_clipboard_emit_owner_changed (QgaDesktopClipboard *clipboard,
                                          QgaSelectionId selection,
                                          const char *const *mime_types, gboolean ours)
{
  static const char *const none[] = { NULL };

  g_signal_emit (clipboard, signals[SIGNAL_OWNER_CHANGED], 0, (guint) selection,
                 mime_types != NULL ? mime_types : none, ours);
}

void
qga_desktop_clipboard_emit_closed (QgaDesktopClipboard *clipboard, const GError *error)
{
  g_signal_emit (clipboard, signals[SIGNAL_CLOSED], 0, error);
}

void
qga_desktop_read_return (GTask *task, guint64 bytes, GError *error)
{
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, (gssize) bytes);
}

gpointer
qga_desktop_clipboard_new_backend (GType type, guint64 max_size, guint timeout_ms)
{
  return g_object_new (type,
                       "max-size", max_size != 0 ? max_size : QGA_CLIPBOARD_DEFAULT_MAX_SIZE,
                       "timeout-ms", timeout_ms != 0 ? timeout_ms : QGA_DESKTOP_DEFAULT_TIMEOUT_MS,
                       NULL);
}

static void
qga_desktop_clipboard_get_property (GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
  QgaDesktopClipboardPrivate *priv =
    qga_desktop_clipboard_get_instance_private (QGA_DESKTOP_CLIPBOARD (object));

  switch (prop_id)
    {
    case PROP_MAX_SIZE:
      g_value_set_uint64 (value, priv->max_size);
      break;
    case PROP_TIMEOUT_MS:
      g_value_set_uint (value, priv->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qga_desktop_clipboard_set_property (GObject *object, guint prop_id, const GValue *value,
                                    GParamSpec *pspec)
{
  QgaDesktopClipboardPrivate *priv =
    qga_desktop_clipboard_get_instance_private (QGA_DESKTOP_CLIPBOARD (object));

  switch (prop_id)
    {
    case PROP_MAX_SIZE:
      priv->max_size = g_value_get_uint64 (value);
      break;
    case PROP_TIMEOUT_MS:
      priv->timeout_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
qga_desktop_clipboard_init (QgaDesktopClipboard *clipboard)
{
}

static void
qga_desktop_clipboard_class_init (QgaDesktopClipboardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = qga_desktop_clipboard_get_property;
  object_class->set_property = qga_desktop_clipboard_set_property;

  props[PROP_MAX_SIZE] =
    g_param_spec_uint64 ("max-size", "Max size", "The largest content read or served, in bytes",
                         1, G_MAXUINT64, QGA_CLIPBOARD_DEFAULT_MAX_SIZE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  props[PROP_TIMEOUT_MS] =
    g_param_spec_uint ("timeout-ms", "Timeout", "How long a transfer may make no progress, in ms",
                       1, G_MAXUINT, QGA_DESKTOP_DEFAULT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNAL_OWNER_CHANGED] =
    g_signal_new ("owner-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_STRV, G_TYPE_BOOLEAN);
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

/* --- the API --- */

QgaDesktopClipboard *
qga_desktop_clipboard_new (guint64 max_size, guint timeout_ms, GError **error)
{
  const char *wayland_display = g_getenv ("WAYLAND_DISPLAY");
  const char *x11_display = g_getenv ("DISPLAY");
  gboolean have_x11 = x11_display != NULL && *x11_display != '\0';
  QgaDesktopClipboard *clipboard;

  /* Wayland first: under a Wayland compositor, DISPLAY is Xwayland's,
   * which sees only what X clients copy. */
  if (wayland_display != NULL && *wayland_display != '\0')
    {
      g_autoptr(GError) wayland_error = NULL;

      clipboard = qga_desktop_clipboard_wayland_new (wayland_display, max_size, timeout_ms,
                                                     &wayland_error);
      if (clipboard != NULL)
        {
          g_message ("desktop clipboard: Wayland backend on display %s (%s)", wayland_display,
                     qga_desktop_clipboard_wayland_get_protocol (QGA_DESKTOP_CLIPBOARD_WAYLAND (clipboard)));
          return clipboard;
        }
      g_message ("desktop clipboard: %s", wayland_error->message);
      if (!have_x11)
        {
          g_propagate_error (error, g_steal_pointer (&wayland_error));
          return NULL;
        }
      g_message ("desktop clipboard: falling back to X11 on DISPLAY=%s (Xwayland: only X "
                 "applications' copies are seen, and only they see ours)", x11_display);
    }
  if (!have_x11)
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED,
                           "no display for the desktop clipboard: neither WAYLAND_DISPLAY nor DISPLAY is set");
      return NULL;
    }
  clipboard = qga_desktop_clipboard_x11_new (x11_display, max_size, timeout_ms, error);
  if (clipboard != NULL)
    g_message ("desktop clipboard: X11 backend on display %s", x11_display);
  return clipboard;
}

const char *
qga_desktop_clipboard_get_backend_name (QgaDesktopClipboard *clipboard)
{
  g_return_val_if_fail (QGA_IS_DESKTOP_CLIPBOARD (clipboard), NULL);
  return QGA_DESKTOP_CLIPBOARD_GET_CLASS (clipboard)->get_backend_name (clipboard);
}

guint64
qga_desktop_clipboard_get_max_size (QgaDesktopClipboard *clipboard)
{
  QgaDesktopClipboardPrivate *priv = qga_desktop_clipboard_get_instance_private (clipboard);

  return priv->max_size;
}

guint
qga_desktop_clipboard_get_timeout_ms (QgaDesktopClipboard *clipboard)
{
  QgaDesktopClipboardPrivate *priv = qga_desktop_clipboard_get_instance_private (clipboard);

  return priv->timeout_ms;
}

static gboolean
check_selection (QgaSelectionId selection, GError **error)
{
  if ((guint) selection < QGA_N_SELECTIONS)
    return TRUE;
  g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR, "no selection number %d", selection);
  return FALSE;
}

gboolean
qga_desktop_clipboard_take (QgaDesktopClipboard *clipboard, QgaSelectionId selection,
                            const char *const *mime_types, QgaDesktopProvider provider,
                            gpointer user_data, GDestroyNotify destroy, GError **error)
{
  QgaDesktopOffer *offer;
  gboolean taken;

  g_return_val_if_fail (QGA_IS_DESKTOP_CLIPBOARD (clipboard), FALSE);
  g_return_val_if_fail (provider != NULL, FALSE);
  if (!check_selection (selection, error) ||
      !qga_clipboard_check_types (mime_types, -1, error))
    {
      if (destroy != NULL)
        destroy (user_data);
      return FALSE;
    }
  offer = qga_desktop_offer_new (provider, user_data, destroy);
  taken = QGA_DESKTOP_CLIPBOARD_GET_CLASS (clipboard)->take (clipboard, selection, mime_types,
                                                              offer, error);
  qga_desktop_offer_unref (offer);
  return taken;
}

void
qga_desktop_clipboard_release (QgaDesktopClipboard *clipboard, QgaSelectionId selection)
{
  g_return_if_fail (QGA_IS_DESKTOP_CLIPBOARD (clipboard));
  g_return_if_fail ((guint) selection < QGA_N_SELECTIONS);
  QGA_DESKTOP_CLIPBOARD_GET_CLASS (clipboard)->release (clipboard, selection);
}

void
qga_desktop_clipboard_read_async (QgaDesktopClipboard *clipboard, QgaSelectionId selection,
                                  const char *mime_type, int fd, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  const char *types[] = { mime_type, NULL };

  g_return_if_fail (QGA_IS_DESKTOP_CLIPBOARD (clipboard));
  task = g_task_new (clipboard, cancellable, callback, user_data);
  g_task_set_source_tag (task, qga_desktop_clipboard_read_async);
  /* The backend ends a cancelled read with QGA_ERROR_CANCELLED itself. */
  g_task_set_check_cancellable (task, FALSE);
  if (fd < 0)
    g_set_error_literal (&error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR, "no file descriptor to write to");
  else if (check_selection (selection, &error))
    qga_clipboard_check_types (types, 1, &error);
  if (error != NULL)
    {
      if (fd >= 0)
        close (fd);
      g_task_return_error (task, error);
      return;
    }
  QGA_DESKTOP_CLIPBOARD_GET_CLASS (clipboard)->read (clipboard, selection, mime_type, fd, task);
}

gboolean
qga_desktop_clipboard_read_finish (QgaDesktopClipboard *clipboard, GAsyncResult *result,
                                   guint64 *bytes, GError **error)
{
  gssize n;

  g_return_val_if_fail (g_task_is_valid (result, clipboard), FALSE);
  n = g_task_propagate_int (G_TASK (result), error);
  if (n < 0)
    return FALSE;
  if (bytes != NULL)
    *bytes = n;
  return TRUE;
}
