/* qga-desktop-wayland-private.h: what the Wayland backend's files share.
 *
 * qga-desktop-wayland.c: the connection and its GSource, the globals, the
 *   data device's offers (owner-changed, no echo), our sources (take,
 *   release, cancelled).
 * qga-desktop-wayland-protocol.c: the two data-control protocols behind
 *   one set of requests (their wire layouts are the same).
 * qga-desktop-wayland-read.c: reading an offer into an fd (receive).
 * qga-desktop-wayland-serve.c: answering our sources' send events.
 * qga-desktop-wayland-types.c: offered names <-> MIME types, our marker.
 */
#pragma once

#include <wayland-client.h>

#include "qga-desktop-private.h"
#include "qga-desktop-wayland.h"
#include "qga-log.h"

G_BEGIN_DECLS

/* Bytes moved per read() of a transfer's pipe: a read or a serve holds at
 * most this much that its destination has not taken yet. */
#define WL_PIPE_CHUNK (64 * 1024)
/* Names kept per offer; an owner offering more is read as offering these. */
#define WL_MAX_OFFERED_NAMES 1024
/* Our own sources offer one more name, this prefix and a token of the
 * clipboard object and the take: seeing it in an offer, we know the
 * selection is ours (the compositor echoes our own selections). Hidden
 * from callers, and never announced as a type. */
#define WL_MARKER_PREFIX "application/x-qga-desktop-source"

/* One of the two data-control protocols: the interfaces of its objects. */
typedef struct {
  const char *name;                      /* "ext-data-control-v1" */
  const struct wl_interface *manager;
  const struct wl_interface *device;
  const struct wl_interface *source;
  const struct wl_interface *offer;
  guint32 max_version;                   /* the manager's version we use at most */
  guint32 primary_since;                 /* the device's version with the primary selection */
} WlProtocol;

extern const WlProtocol wl_protocol_ext;
extern const WlProtocol wl_protocol_wlr;

/* An offer the compositor introduced: a selection's, another client's or
 * our own echoed back. */
typedef struct {
  QgaDesktopClipboardWayland *self;
  struct wl_proxy *proxy;
  GPtrArray *names;              /* as offered (char *), at most WL_MAX_OFFERED_NAMES */
  char *marker;                  /* a WL_MARKER_PREFIX name among them */
} WlOffer;

/* A take of ours: alive until cancelled or released. */
typedef struct {
  QgaDesktopClipboardWayland *self;
  struct wl_proxy *proxy;
  QgaSelectionId selection;
  QgaDesktopOffer *offer;        /* the provider */
  char **mime_types;
  char *marker;
} WlSource;

typedef struct {
  QgaSelectionId id;
  WlOffer *offer;                /* the selection now; NULL: none */
  guint generation;              /* +1 for each selection event */
  WlSource *source;              /* our take, until cancelled or released */
} WlSelection;

typedef struct _WlRead WlRead;
typedef struct _WlServe WlServe;

struct _QgaDesktopClipboardWayland {
  QgaDesktopClipboard parent;

  char *display_name;
  struct wl_display *display;
  struct wl_registry *registry;
  struct wl_proxy *seat;
  guint32 seat_global;
  const WlProtocol *protocol;
  struct wl_proxy *manager;
  struct wl_proxy *device;
  GSource *source;
  gboolean broken;                /* the connection failed, or the device finished */
  gboolean has_primary;           /* the device can set the primary selection */

  /* globals seen while setting up: the manager of each protocol */
  guint32 ext_global, ext_version;
  guint32 wlr_global, wlr_version;

  char *token;                    /* in our markers: this object's */
  guint take_serial;

  WlSelection selections[QGA_N_SELECTIONS];
  GPtrArray *offers;              /* WlOffer, each introduced and not destroyed */
  GPtrArray *sources;             /* WlSource, ours and alive */

  QgaDesktopTransfers transfers;  /* of WlRead and WlServe */
};

/* --- qga-desktop-wayland.c --- */

/* A GError for the lost connection (reads and takes after it fail). */
GError *wl_connection_lost_error (QgaDesktopClipboardWayland *self);
/* Ask the compositor for a round trip: listener's done runs once every
 * event it sent before has been handled. Never blocks. The callback is
 * the caller's to destroy (wl_callback_destroy), in done or before. */
struct wl_callback *wl_sync (QgaDesktopClipboardWayland *self,
                             const struct wl_callback_listener *listener, gpointer data);
/* Flush what we wrote without blocking (the GSource finishes it). */
void wl_flush (QgaDesktopClipboardWayland *self);

/* --- qga-desktop-wayland-protocol.c --- */

struct wl_proxy *wl_manager_create_source (QgaDesktopClipboardWayland *self);
struct wl_proxy *wl_manager_get_device (QgaDesktopClipboardWayland *self);
void wl_manager_destroy (struct wl_proxy *manager);
void wl_device_set_selection (QgaDesktopClipboardWayland *self, QgaSelectionId selection,
                              struct wl_proxy *source);
void wl_device_destroy (struct wl_proxy *device);
void wl_source_offer (struct wl_proxy *source, const char *name);
void wl_source_destroy (struct wl_proxy *source);
/* fd stays ours (the request sends a copy of it). */
void wl_offer_receive (struct wl_proxy *offer, const char *name, int fd);
void wl_offer_destroy (struct wl_proxy *offer);

/* --- qga-desktop-wayland-read.c --- */

void wl_read_start (QgaDesktopClipboardWayland *self, QgaSelectionId selection,
                    const char *mime_type, int fd, GTask *task);
/* The selection's offer or our source for it changed: reads waiting for
 * our take's echo may go on. */
void wl_reads_selection_changed (QgaDesktopClipboardWayland *self, QgaSelectionId selection);
void wl_reads_fail_all (QgaDesktopClipboardWayland *self, const GError *error);
void wl_read_free (WlRead *read);

/* --- qga-desktop-wayland-serve.c --- */

/* A send event on source: takes fd. */
void wl_serve_start (QgaDesktopClipboardWayland *self, WlSource *source, const char *name, int fd);
void wl_serve_free (WlServe *serve);

/* --- qga-desktop-wayland-types.c --- */

/* The MIME type an offered name stands for, or NULL (our marker, names
 * that are no MIME type). */
const char *wl_name_to_mime_type (const char *name);
/* The offered names as MIME types, in order, each once, at most
 * QGA_CLIPBOARD_MAX_TYPES. */
char **wl_names_to_mime_types (GPtrArray *names);
/* Text has this many names on Wayland (X's among them). */
#define WL_TEXT_NAMES 5
/* Fill names (room for WL_TEXT_NAMES + 1) with the names that carry
 * mime_type, in our order of preference, NULL-terminated: text's five, or
 * mime_type alone. */
void wl_names_for_mime_type (const char *mime_type, const char **names);
gboolean wl_name_is_marker (const char *name);
char *wl_marker_new (const char *token, guint serial);

G_END_DECLS
