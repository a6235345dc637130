/* qga-desktop-x11-private.h: what the X11 backend's files share.
 *
 * qga-desktop-x11.c: the connection, its GSource, atoms, the owners of the
 *   selections (XFixes) and what they offer (TARGETS), our ownership.
 * qga-desktop-x11-read.c: reading a selection into an fd (requestor).
 * qga-desktop-x11-serve.c: answering other clients' conversions (owner).
 * qga-desktop-x11-targets.c: X targets <-> MIME types.
 */
#pragma once

#include <xcb/xcb.h>
#include <xcb/xfixes.h>

#include "qga-desktop-private.h"
#include "qga-desktop-x11.h"
#include "qga-log.h"

G_BEGIN_DECLS

/* Bytes asked per GetProperty: a large property is read in slices, so
 * that no more than this is held per transfer. */
#define X11_PROPERTY_SLICE (256 * 1024)
/* The most we put in one ChangeProperty (less if the server's maximum
 * request length is smaller); larger contents go with INCR. */
#define X11_MAX_CHUNK (256 * 1024)
/* Atoms accepted in an owner's TARGETS. */
#define X11_MAX_TARGETS 1024
/* Atom names kept between copies (a batch of TARGETS always fits). */
#define X11_MAX_ATOM_NAMES (4 * X11_MAX_TARGETS)
/* Property names our reads rotate through, so that a late answer to an
 * abandoned read does not land in the next one. */
#define X11_READ_PROPERTIES (2 * QGA_DESKTOP_MAX_READS)

typedef enum {
  X11_ATOM_CLIPBOARD,
  X11_ATOM_TARGETS,
  X11_ATOM_TIMESTAMP,
  X11_ATOM_MULTIPLE,
  X11_ATOM_INCR,
  X11_ATOM_UTF8_STRING,
  X11_ATOM_TEXT,
  X11_ATOM_TIME_PROPERTY,          /* _QGA_TIME: to get a server timestamp */
  X11_ATOM_TARGETS_CLIPBOARD,      /* _QGA_TARGETS_CLIPBOARD, _PRIMARY: where TARGETS lands */
  X11_ATOM_TARGETS_PRIMARY,
  X11_N_ATOMS
} X11AtomId;

typedef enum {
  X11_ENCODING_AS_IS,
  X11_ENCODING_LATIN1,     /* STRING: ISO 8859-1 on the X side, UTF-8 on ours */
} X11Encoding;

/* One X target we offer, or may ask for, and what it stands for. */
typedef struct {
  xcb_atom_t target;
  xcb_atom_t type;         /* the property type for it */
  X11Encoding encoding;
  char *mime_type;
} X11Target;

typedef struct {
  QgaDesktopClipboardX11 *self;   /* not a reference: it holds us */
  QgaSelectionId id;

  /* the current owner, from XFixes */
  xcb_window_t owner;             /* XCB_NONE, our window, or another client's */
  guint generation;               /* +1 for each XFixes notification */
  GArray *offered;                /* another owner's TARGETS (xcb_atom_t), once known */
  gboolean fetching;              /* a TARGETS conversion is on its way */
  guint fetching_generation;
  guint fetch_timeout;

  /* our ownership */
  QgaDesktopOffer *offer;         /* NULL unless we own it */
  char **mime_types;
  GArray *targets;                /* X11Target we answer for */
  xcb_timestamp_t taken_at;
} X11Selection;

typedef struct _X11Read X11Read;
typedef struct _X11Serve X11Serve;

struct _QgaDesktopClipboardX11 {
  QgaDesktopClipboard parent;

  char *display_name;
  xcb_connection_t *connection;
  xcb_window_t window;
  xcb_atom_t atoms[X11_N_ATOMS];
  xcb_atom_t selection_atoms[QGA_N_SELECTIONS];
  guint8 xfixes_first_event;
  GSource *source;
  GQueue deferred_events;         /* read off the wire while waiting for a timestamp */
  gboolean broken;                /* the connection failed */
  gsize max_chunk;                /* bytes per ChangeProperty */
  GHashTable *atom_names;         /* xcb_atom_t → name */

  X11Selection selections[QGA_N_SELECTIONS];

  QgaDesktopTransfers transfers;  /* of X11Read and X11Serve */
  xcb_atom_t read_properties[X11_READ_PROPERTIES];
  guint next_read_property;
};

/* --- qga-desktop-x11.c --- */

/* Synchronous round trips to the server (never waits for another client). */
xcb_atom_t x11_intern_atom (QgaDesktopClipboardX11 *self, const char *name);
const char *x11_atom_name (QgaDesktopClipboardX11 *self, xcb_atom_t atom);
/* Fill the name cache for atoms with one round trip for all. */
void x11_fetch_atom_names (QgaDesktopClipboardX11 *self, const xcb_atom_t *atoms, guint n);
/* bytes from offset (a multiple of 4) of property, at most max_bytes;
 * NULL if the request failed. */
xcb_get_property_reply_t *x11_get_property (QgaDesktopClipboardX11 *self, xcb_window_t window,
                                            xcb_atom_t property, gsize offset, gsize max_bytes);
void x11_send_selection_notify (QgaDesktopClipboardX11 *self, xcb_window_t requestor,
                                xcb_atom_t selection, xcb_atom_t target, xcb_atom_t property,
                                xcb_timestamp_t time);
/* TRUE if selection atom is CLIPBOARD or PRIMARY; its id in *id. */
gboolean x11_selection_id (QgaDesktopClipboardX11 *self, xcb_atom_t atom, QgaSelectionId *id);
/* a - b for X timestamps, which wrap. */
gint32 x11_time_diff (xcb_timestamp_t a, xcb_timestamp_t b);

/* --- qga-desktop-x11-read.c --- */

void x11_read_start (QgaDesktopClipboardX11 *self, QgaSelectionId selection,
                     const char *mime_type, int fd, GTask *task);
/* TRUE if the event was for a read. */
gboolean x11_reads_handle_selection_notify (QgaDesktopClipboardX11 *self,
                                            xcb_selection_notify_event_t *event);
gboolean x11_reads_handle_property_notify (QgaDesktopClipboardX11 *self,
                                           xcb_property_notify_event_t *event);
/* The owner of selection at generation has gone (its window or client):
 * the reads from it end. */
void x11_reads_owner_gone (QgaDesktopClipboardX11 *self, QgaSelectionId selection,
                           guint generation);
/* End every read with error. */
void x11_reads_fail_all (QgaDesktopClipboardX11 *self, const GError *error);
void x11_read_free (X11Read *read);

/* --- qga-desktop-x11-serve.c --- */

void x11_serve_handle_request (QgaDesktopClipboardX11 *self, xcb_selection_request_event_t *event);
gboolean x11_serves_handle_property_notify (QgaDesktopClipboardX11 *self,
                                            xcb_property_notify_event_t *event);
/* An X error about window: the serves for it end. */
void x11_serves_handle_error (QgaDesktopClipboardX11 *self, xcb_generic_error_t *error);
void x11_serve_free (X11Serve *serve);

/* --- qga-desktop-x11-targets.c --- */

/* The MIME type an X target stands for, or NULL if none (TARGETS,
 * TIMESTAMP, MULTIPLE, ... and names that are no MIME type). */
const char *x11_target_to_mime_type (const char *target_name);
/* The owner's targets (names) as MIME types, in order, each once, at most
 * QGA_CLIPBOARD_MAX_TYPES. */
char **x11_targets_to_mime_types (const char *const *target_names, guint n);
/* The target names that can carry mime_type, in our order of preference,
 * with their encoding; NULL-terminated static array. */
typedef struct {
  const char *name;          /* NULL: mime_type itself */
  X11Encoding encoding;
  const char *type_name;     /* the property type when we serve it; NULL: the target */
} X11TargetChoice;
const X11TargetChoice *x11_target_choices (const char *mime_type, guint *n_choices);
void x11_target_clear (X11Target *target);

G_END_DECLS
