/* qga-clipboard.h: clipboard messages and selection state, both ends.
 *
 * The wire messages of docs/CLIPBOARD.md (grab, release, request, the
 * capability) with their checks, and QgaSelection: what one side knows of
 * one selection, with the serial and crossed-grab rules. qga-bridge and
 * qga-host both use this, so the two ends cannot disagree on the rules.
 * Everything parsed here comes from the peer and is checked before use.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define QGA_CLIPBOARD_VERSION 1
#define QGA_CLIPBOARD_DEFAULT_MAX_SIZE (G_GUINT64_CONSTANT (256) * 1024 * 1024)
#define QGA_CLIPBOARD_MAX_TYPES 64
#define QGA_CLIPBOARD_MAX_TYPE_LENGTH 255

#define QGA_CLIPBOARD_EVENT_GRAB "CLIPBOARD_GRAB"
#define QGA_CLIPBOARD_EVENT_RELEASE "CLIPBOARD_RELEASE"
#define QGA_CLIPBOARD_EVENT_DATA "CLIPBOARD_DATA"
#define QGA_CLIPBOARD_EVENT_ACK "CLIPBOARD_ACK"
#define QGA_CLIPBOARD_EVENT_CANCEL "CLIPBOARD_CANCEL"
#define QGA_CLIPBOARD_GUEST_REQUEST "guest-clipboard-request"
#define QGA_CLIPBOARD_HOST_REQUEST "host-clipboard-request"

typedef enum {
  QGA_SELECTION_CLIPBOARD,
  QGA_SELECTION_PRIMARY,
  QGA_N_SELECTIONS,
} QgaSelectionId;

/* "clipboard" → QGA_SELECTION_CLIPBOARD; FALSE for anything else. */
gboolean qga_clipboard_selection_from_name (const char *name, QgaSelectionId *id);
const char *qga_clipboard_selection_name (QgaSelectionId id);

/* TRUE if every event name starting with CLIPBOARD_ is ours to handle. */
gboolean qga_clipboard_is_event (const char *event_name);

/* 1 to 64 types, each 1-255 bytes of 0x21-0x7E, no duplicates. n_types may
 * be -1 for a NULL-terminated array. Errors: QGA_ERROR_GENERIC_ERROR. */
gboolean qga_clipboard_check_types (const char *const *types, gssize n_types, GError **error);

/* --- the capability, in guest-info and host-info --- */

/* {"version": 1, "max-size": max_size} */
JsonNode *qga_clipboard_capability_new (guint64 max_size);

/* From an info reply's object: TRUE if it has "clipboard" with version 1;
 * its max-size (or 0 if absent or not a positive integer) in *max_size. */
gboolean qga_clipboard_capability_parse (JsonObject *info, guint64 *max_size);

/* --- grab and release --- */

typedef struct {
  QgaSelectionId selection;
  char **types;            /* NULL-terminated */
  guint32 serial;          /* >= 1 */
  guint32 peer_serial;
} QgaClipboardGrab;

void qga_clipboard_grab_clear (QgaClipboardGrab *grab);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (QgaClipboardGrab, qga_clipboard_grab_clear)

/* CLIPBOARD_GRAB's data, checked: selection, 1-64 valid types, serial
 * 1..2^32-1, peer-serial 0..2^32-1. Fills grab (cleared on failure). */
gboolean qga_clipboard_grab_parse (JsonObject *data, QgaClipboardGrab *grab, GError **error);

/* CLIPBOARD_RELEASE's data: selection and serial. */
gboolean qga_clipboard_release_parse (JsonObject *data, QgaSelectionId *selection,
                                      guint32 *serial, GError **error);

GBytes *qga_clipboard_build_grab (QgaSelectionId selection, const char *const *types,
                                  guint32 serial, guint32 peer_serial);
GBytes *qga_clipboard_build_release (QgaSelectionId selection, guint32 serial);

/* --- requests: guest-clipboard-request / host-clipboard-request --- */

typedef struct {
  QgaSelectionId selection;
  char *type;
  guint32 serial;
  guint32 transfer;        /* >= 1 */
} QgaClipboardRequest;

void qga_clipboard_request_clear (QgaClipboardRequest *request);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (QgaClipboardRequest, qga_clipboard_request_clear)

/* The command's arguments object, checked (exactly the four members). */
gboolean qga_clipboard_request_parse (JsonObject *arguments, QgaClipboardRequest *request,
                                      GError **error);
JsonNode *qga_clipboard_request_build_arguments (QgaSelectionId selection, const char *type,
                                                 guint32 serial, guint32 transfer);

/* --- what one side knows of one selection --- */

typedef struct {
  guint32 local_serial;    /* our latest grab, 0 if none yet */
  gboolean local_owned;    /* our latest grab is the current one */
  char **local_types;
  guint32 peer_serial;     /* the peer's latest grab we have received */
  gboolean peer_owned;     /* the peer's latest grab is the current one */
  char **peer_types;
} QgaSelection;

void qga_selection_clear (QgaSelection *selection);

/* We grab: the next serial (wrapping past 2^32-1 back to 1), our types
 * current, the peer's grab superseded. Returns the serial. */
guint32 qga_selection_grab_local (QgaSelection *selection, const char *const *types);

/* We release our current grab; FALSE if we had none. */
gboolean qga_selection_release_local (QgaSelection *selection);

typedef enum {
  QGA_SELECTION_PEER_ACCEPTED,   /* the peer owns it now */
  QGA_SELECTION_PEER_WON_RACE,   /* crossed with ours, the host's wins: the peer's (we are the guest) */
  QGA_SELECTION_PEER_LOST_RACE,  /* crossed with ours, the host's wins: ours stays (we are the host) */
  QGA_SELECTION_PEER_STALE,      /* serial not newer than one seen before: ignored */
} QgaSelectionOutcome;

/* Apply a grab from the peer (docs/CLIPBOARD.md §4): we_are_host says
 * which end we are, for the crossed-grab rule. On ACCEPTED and WON_RACE
 * the grab's types are taken (grab->types is left as it was). */
QgaSelectionOutcome qga_selection_grab_peer (QgaSelection *selection,
                                             const QgaClipboardGrab *grab,
                                             gboolean we_are_host);

/* The port closed: whatever peer comes next numbers its grabs from 1
 * again, and has no grab until it says so. Returns whether the peer owned
 * the selection. Our own grab stays. */
gboolean qga_selection_forget_peer (QgaSelection *selection);

/* Apply a release from the peer; FALSE if stale (not its current grab). */
gboolean qga_selection_release_peer (QgaSelection *selection, guint32 serial);

/* TRUE if the peer's current grab is serial and offers type. */
gboolean qga_selection_peer_offers (const QgaSelection *selection, guint32 serial,
                                    const char *type);

/* TRUE if our current grab is serial and offers type. */
gboolean qga_selection_local_offers (const QgaSelection *selection, guint32 serial,
                                     const char *type);

G_END_DECLS
