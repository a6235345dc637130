/* qga-desktop-sync.c: a desktop's clipboard mirrored with a peer (see
 * qga-desktop-sync.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qga-desktop-sync.h"
#include "qga-error.h"

typedef struct {
  char **announced;         /* a desktop program's types, told to the peer; NULL: none */
  gboolean mirroring;       /* we hold the desktop selection for the peer's grab */
  guint32 peer_serial;      /* of that grab */
} Mirror;

struct _QgaDesktopSync {
  GObject parent_instance;

  QgaDesktopClipboard *desktop;
  QgaDesktopPeer *peer;
  char *peer_name;
  GCancellable *cancellable;  /* the fetches for the peer */
  Mirror mirrors[QGA_N_SELECTIONS];
  gboolean stopped;
};

G_DEFINE_TYPE (QgaDesktopSync, qga_desktop_sync, G_TYPE_OBJECT)

/* --- the peer pastes a desktop program's copy --- */

typedef struct {
  QgaDesktopSync *sync;
  guint request;
  QgaSelectionId selection;
  char *mime_type;
  int content;              /* the memfd the desktop's content goes into */
} Fetch;

static void
fetch_free (Fetch *fetch)
{
  if (fetch->content >= 0)
    close (fetch->content);
  g_object_unref (fetch->sync);
  g_free (fetch->mime_type);
  g_free (fetch);
}

static void
refuse_request (QgaDesktopSync *sync, guint request, const GError *error)
{
  qga_desktop_peer_supply_error (sync->peer, request, error);
}

static void
log_refused_fetch (QgaDesktopSync *sync, Fetch *fetch, const GError *error)
{
  const char *selection = qga_clipboard_selection_name (fetch->selection);

  if (g_error_matches (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED))
    g_message ("refused %s of the desktop's %s to %s: over the size limit of %" G_GUINT64_FORMAT
               " bytes", fetch->mime_type, selection, sync->peer_name,
               qga_desktop_clipboard_get_max_size (sync->desktop));
  else
    g_message ("cannot give %s of the desktop's %s to %s: %s", fetch->mime_type, selection,
               sync->peer_name, error->message);
}

static void
fetch_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fetch *fetch = user_data;
  QgaDesktopSync *sync = fetch->sync;
  g_autoptr(GError) error = NULL;
  guint64 bytes = 0;
  int content;

  if (!qga_desktop_clipboard_read_finish (QGA_DESKTOP_CLIPBOARD (source), result, &bytes, &error))
    {
      log_refused_fetch (sync, fetch, error);
      refuse_request (sync, fetch->request, error);
      fetch_free (fetch);
      return;
    }
  if (lseek (fetch->content, 0, SEEK_SET) < 0)
    {
      int saved = errno;

      g_set_error (&error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR, "cannot rewind the content: %s",
                   g_strerror (saved));
      log_refused_fetch (sync, fetch, error);
      refuse_request (sync, fetch->request, error);
      fetch_free (fetch);
      return;
    }
  g_debug ("giving %s %" G_GUINT64_FORMAT " bytes of %s from the desktop's %s",
           sync->peer_name, bytes, fetch->mime_type,
           qga_clipboard_selection_name (fetch->selection));
  content = fetch->content;
  fetch->content = -1;
  qga_desktop_peer_supply (sync->peer, fetch->request, content);
  fetch_free (fetch);
}

static gboolean
mirror_announces (Mirror *mirror, const char *mime_type)
{
  return mirror->announced != NULL &&
         g_strv_contains ((const char *const *) mirror->announced, mime_type);
}

static int
new_content_file (GError **error)
{
  int fd = memfd_create ("qga-desktop-sync", MFD_CLOEXEC);

  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR, "cannot create a memfd: %s",
                   g_strerror (saved));
    }
  return fd;
}

static void
on_peer_data_requested (QgaDesktopPeer *peer, guint selection, const char *mime_type,
                        guint request, QgaDesktopSync *sync)
{
  g_autoptr(GError) error = NULL;
  Fetch *fetch;
  int content;
  int sink;

  if (selection >= QGA_N_SELECTIONS || !mirror_announces (&sync->mirrors[selection], mime_type))
    {
      g_set_error (&error, QGA_ERROR, QGA_ERROR_NO_DATA,
                   "the desktop has no copy offering %s", mime_type);
      g_debug ("%s asked for %s: %s", sync->peer_name, mime_type, error->message);
      refuse_request (sync, request, error);
      return;
    }
  content = new_content_file (&error);
  sink = content >= 0 ? dup (content) : -1;
  if (sink < 0)
    {
      if (error == NULL)
        g_set_error (&error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR, "cannot dup the memfd: %s",
                     g_strerror (errno));
      if (content >= 0)
        close (content);
      g_warning ("cannot fetch %s for %s: %s", mime_type, sync->peer_name, error->message);
      refuse_request (sync, request, error);
      return;
    }
  fetch = g_new0 (Fetch, 1);
  fetch->sync = g_object_ref (sync);
  fetch->request = request;
  fetch->selection = selection;
  fetch->mime_type = g_strdup (mime_type);
  fetch->content = content;
  g_debug ("%s pastes %s from the desktop's %s: fetching it", sync->peer_name, mime_type,
           qga_clipboard_selection_name (selection));
  qga_desktop_clipboard_read_async (sync->desktop, selection, mime_type, sink, sync->cancellable,
                                    fetch_done, fetch);
}

/* --- a desktop program pastes the peer's copy --- */

/* A take's provider data: what a paste needs, without the sync object
 * (the desktop holds the offer, and the sync holds the desktop). */
typedef struct {
  QgaDesktopPeer *peer;
  char *peer_name;
  guint32 serial;
} Offer;

static void
offer_free (gpointer data)
{
  Offer *offer = data;

  g_object_unref (offer->peer);
  g_free (offer->peer_name);
  g_free (offer);
}

typedef struct {
  QgaDesktopRequest *request;
  QgaSelectionId selection;
  char *mime_type;
  char *peer_name;
} Paste;

static void
paste_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Paste *paste = user_data;
  g_autoptr(GError) error = NULL;
  guint64 bytes = 0;
  const char *selection = qga_clipboard_selection_name (paste->selection);

  if (qga_desktop_peer_read_finish (QGA_DESKTOP_PEER (source), result, &bytes, &error))
    g_debug ("a desktop program pasted %" G_GUINT64_FORMAT " bytes of %s from %s's %s", bytes,
             paste->mime_type, paste->peer_name, selection);
  else
    g_message ("a desktop program's paste of %s from %s's %s failed: %s", paste->mime_type,
               paste->peer_name, selection, error->message);
  qga_desktop_request_complete (paste->request, error);
  g_free (paste->mime_type);
  g_free (paste->peer_name);
  g_free (paste);
}

static void
provide_from_peer (QgaDesktopClipboard *desktop, QgaSelectionId selection, const char *mime_type,
                   int fd, GCancellable *cancellable, QgaDesktopRequest *request,
                   gpointer user_data)
{
  Offer *offer = user_data;
  Paste *paste = g_new0 (Paste, 1);

  paste->request = request;
  paste->selection = selection;
  paste->mime_type = g_strdup (mime_type);
  paste->peer_name = g_strdup (offer->peer_name);
  g_debug ("a desktop program pastes %s from %s's %s (serial %u): reading it", mime_type,
           offer->peer_name, qga_clipboard_selection_name (selection), offer->serial);
  qga_desktop_peer_read_async (offer->peer, selection, mime_type, offer->serial, fd, cancellable,
                               paste_done, paste);
}

/* --- the peer's grabs, mirrored on the desktop --- */

static void
forget_announced (Mirror *mirror)
{
  g_clear_pointer (&mirror->announced, g_strfreev);
}

static void
on_peer_grabbed (QgaDesktopPeer *peer, guint selection, const char *const *mime_types,
                 guint serial, QgaDesktopSync *sync)
{
  g_autoptr(GError) error = NULL;
  Mirror *mirror;
  Offer *offer;

  if (selection >= QGA_N_SELECTIONS || sync->stopped)
    return;
  mirror = &sync->mirrors[selection];
  /* the peer's copy replaced ours there */
  forget_announced (mirror);
  offer = g_new0 (Offer, 1);
  offer->peer = g_object_ref (peer);
  offer->peer_name = g_strdup (sync->peer_name);
  offer->serial = serial;
  if (!qga_desktop_clipboard_take (sync->desktop, selection, mime_types, provide_from_peer, offer,
                                   offer_free, &error))
    {
      g_warning ("cannot take the desktop's %s for %s's copy: %s",
                 qga_clipboard_selection_name (selection), sync->peer_name, error->message);
      mirror->mirroring = FALSE;
      return;
    }
  mirror->mirroring = TRUE;
  mirror->peer_serial = serial;
  g_info ("%s copied to %s (serial %u, %u types): now offered on the desktop", sync->peer_name,
          qga_clipboard_selection_name (selection), serial, g_strv_length ((char **) mime_types));
}

static void
on_peer_released (QgaDesktopPeer *peer, guint selection, QgaDesktopSync *sync)
{
  Mirror *mirror;

  if (selection >= QGA_N_SELECTIONS)
    return;
  mirror = &sync->mirrors[selection];
  if (!mirror->mirroring)
    return;
  mirror->mirroring = FALSE;
  g_info ("%s released %s: released on the desktop", sync->peer_name,
          qga_clipboard_selection_name (selection));
  qga_desktop_clipboard_release (sync->desktop, selection);
}

static void
on_peer_reset (QgaDesktopPeer *peer, QgaDesktopSync *sync)
{
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    if (sync->mirrors[i].announced != NULL)
      {
        g_info ("announcing the desktop's %s to %s again", qga_clipboard_selection_name (i),
                sync->peer_name);
        qga_desktop_peer_grab (peer, i, (const char *const *) sync->mirrors[i].announced);
      }
}

/* --- the desktop's owners, announced to the peer --- */

static void
on_desktop_owner_changed (QgaDesktopClipboard *desktop, guint selection,
                          const char *const *mime_types, gboolean ours, QgaDesktopSync *sync)
{
  Mirror *mirror;
  const char *name = qga_clipboard_selection_name (selection);

  if (selection >= QGA_N_SELECTIONS || sync->stopped)
    return;
  mirror = &sync->mirrors[selection];
  if (ours)
    {
      g_debug ("the desktop's %s is ours now: not announced back", name);
      return;
    }
  mirror->mirroring = FALSE;
  if (mime_types == NULL || mime_types[0] == NULL)
    {
      if (mirror->announced == NULL)
        return;
      forget_announced (mirror);
      g_info ("the desktop's %s has no owner any more: released for %s", name, sync->peer_name);
      qga_desktop_peer_release (sync->peer, selection);
      return;
    }
  forget_announced (mirror);
  mirror->announced = g_strdupv ((char **) mime_types);
  g_info ("a desktop program copied to %s (%u types): announced to %s", name,
          g_strv_length ((char **) mime_types), sync->peer_name);
  qga_desktop_peer_grab (sync->peer, selection, mime_types);
}

/* --- life --- */

void
qga_desktop_sync_stop (QgaDesktopSync *sync)
{
  if (sync->stopped)
    return;
  sync->stopped = TRUE;
  g_signal_handlers_disconnect_by_data (sync->desktop, sync);
  g_signal_handlers_disconnect_by_data (sync->peer, sync);
  g_cancellable_cancel (sync->cancellable);
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    {
      if (sync->mirrors[i].mirroring)
        qga_desktop_clipboard_release (sync->desktop, i);
      sync->mirrors[i].mirroring = FALSE;
    }
}

static void
qga_desktop_sync_dispose (GObject *object)
{
  QgaDesktopSync *sync = QGA_DESKTOP_SYNC (object);

  if (sync->desktop != NULL)
    qga_desktop_sync_stop (sync);
  g_clear_object (&sync->desktop);
  g_clear_object (&sync->peer);
  G_OBJECT_CLASS (qga_desktop_sync_parent_class)->dispose (object);
}

static void
qga_desktop_sync_finalize (GObject *object)
{
  QgaDesktopSync *sync = QGA_DESKTOP_SYNC (object);

  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    forget_announced (&sync->mirrors[i]);
  g_clear_object (&sync->cancellable);
  g_free (sync->peer_name);
  G_OBJECT_CLASS (qga_desktop_sync_parent_class)->finalize (object);
}

static void
qga_desktop_sync_init (QgaDesktopSync *sync)
{
  sync->cancellable = g_cancellable_new ();
}

static void
qga_desktop_sync_class_init (QgaDesktopSyncClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = qga_desktop_sync_dispose;
  object_class->finalize = qga_desktop_sync_finalize;
}

QgaDesktopSync *
qga_desktop_sync_new (QgaDesktopClipboard *desktop, QgaDesktopPeer *peer, const char *peer_name)
{
  QgaDesktopSync *sync = g_object_new (QGA_TYPE_DESKTOP_SYNC, NULL);

  sync->desktop = g_object_ref (desktop);
  sync->peer = g_object_ref (peer);
  sync->peer_name = g_strdup (peer_name);
  g_signal_connect (desktop, "owner-changed", G_CALLBACK (on_desktop_owner_changed), sync);
  g_signal_connect (peer, "grabbed", G_CALLBACK (on_peer_grabbed), sync);
  g_signal_connect (peer, "released", G_CALLBACK (on_peer_released), sync);
  g_signal_connect (peer, "data-requested", G_CALLBACK (on_peer_data_requested), sync);
  g_signal_connect (peer, "reset", G_CALLBACK (on_peer_reset), sync);
  return sync;
}
