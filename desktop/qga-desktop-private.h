/* qga-desktop-private.h: what the backends of QgaDesktopClipboard share.
 *
 * The offer (a take's provider, referenced by each paste it serves, so a
 * paste outlives a lost selection), the request handed to the provider,
 * and the base class's helpers. Not for the users of qga-desktop.h.
 */
#pragma once

#include "qga-desktop.h"
#include "qga-error.h"
#include "qga-log.h"

G_BEGIN_DECLS

QgaDesktopOffer *qga_desktop_offer_new (QgaDesktopProvider provider, gpointer user_data,
                                        GDestroyNotify destroy);
QgaDesktopOffer *qga_desktop_offer_ref (QgaDesktopOffer *offer);
void qga_desktop_offer_unref (QgaDesktopOffer *offer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (QgaDesktopOffer, qga_desktop_offer_unref)

/* Called once, from the provider's qga_desktop_request_complete(), unless
 * the backend abandoned the request first. */
typedef void (*QgaDesktopRequestDoneFunc) (const GError *error, gpointer user_data);

/* Ask the offer's provider for mime_type, to be written into fd (given to
 * the provider). done may be called before this returns. The request
 * returned is the backend's reference: end it with abandon() or, after
 * done, unref(). */
QgaDesktopRequest *qga_desktop_offer_ask (QgaDesktopOffer *offer, QgaDesktopClipboard *clipboard,
                                          QgaSelectionId selection, const char *mime_type,
                                          int fd, QgaDesktopRequestDoneFunc done,
                                          gpointer done_data);

/* The backend no longer waits: done will not be called, the provider's
 * cancellable is cancelled, and the backend's reference dropped. */
void qga_desktop_request_abandon (QgaDesktopRequest *request);
void qga_desktop_request_unref (QgaDesktopRequest *request);

void qga_desktop_clipboard_emit_owner_changed (QgaDesktopClipboard *clipboard,
                                               QgaSelectionId selection,
                                               const char *const *mime_types, gboolean ours);

void qga_desktop_clipboard_emit_closed (QgaDesktopClipboard *clipboard, const GError *error);

/* End a read's task: error NULL on success (then bytes is its size). */
void qga_desktop_read_return (GTask *task, guint64 bytes, GError *error);

/* A backend's new object (type), with max_size and timeout_ms or, for 0,
 * the defaults. */
gpointer qga_desktop_clipboard_new_backend (GType type, guint64 max_size, guint timeout_ms);

/* --- qga-desktop-transfers.c: a backend's reads and serves in progress,
 * and what limits them. --- */

typedef struct {
  GPtrArray *reads;               /* QgaDesktopRead first, in progress */
  GPtrArray *serves;              /* QgaDesktopServe first, in progress */
  guint64 serve_buffered;         /* bytes the serves hold, all together */
  /* other clients choose how often we refuse them: their lines are counted */
  QgaRateLimit refusals;
} QgaDesktopTransfers;

/* read_free and serve_free free a backend's read and serve. */
void qga_desktop_transfers_init (QgaDesktopTransfers *transfers, GDestroyNotify read_free,
                                 GDestroyNotify serve_free);
/* Every serve abandoned: its paster gets no more. */
void qga_desktop_transfers_abandon_serves (QgaDesktopTransfers *transfers);
/* For the backend's dispose: reads hold a reference to it through their
 * task, so none is left; the serves are abandoned. */
void qga_desktop_transfers_dispose (QgaDesktopTransfers *transfers);
void qga_desktop_transfers_finalize (QgaDesktopTransfers *transfers);

/* A timer for a transfer's no-progress timeout: func runs every quarter
 * of timeout-ms (10 ms to 1 s), and asks qga_desktop_transfer_stalled(). */
guint qga_desktop_transfer_timer_add (QgaDesktopClipboard *clipboard, GSourceFunc func,
                                      gpointer data);
/* TRUE once nothing moved for timeout-ms since last_progress (monotonic). */
gboolean qga_desktop_transfer_stalled (QgaDesktopClipboard *clipboard, gint64 last_progress);

/* --- qga-desktop-read.c: what a backend's read of a selection into the
 * caller's fd does alike: its task, the no-progress timeout, cancellation,
 * the size limit, writing into the fd, and the limit on reads. --- */

typedef struct _QgaDesktopRead QgaDesktopRead;

typedef struct {
  /* optional: the read ends, before it leaves the backend's list */
  void (*ending) (QgaDesktopRead *read);
  /* the caller's fd took what was waiting: go on */
  void (*resume) (QgaDesktopRead *read);
} QgaDesktopReadOps;

/* The first member of a backend's read; the transfers' reads free it (the
 * backend's read_free calls qga_desktop_read_clear()). */
struct _QgaDesktopRead {
  const QgaDesktopReadOps *ops;
  QgaDesktopClipboard *clipboard;     /* not a reference: the task holds one */
  QgaDesktopTransfers *transfers;     /* the backend's, whose reads hold us */
  GTask *task;
  QgaSelectionId selection;
  char *mime_type;
  int fd;                             /* the caller's */
  guint64 bytes;                      /* written into fd */
  guint fd_watch;
  guint timer;
  gint64 last_progress;
  GSource *cancel_source;
};

/* FALSE, with error, if QGA_DESKTOP_MAX_READS are in progress already. */
gboolean qga_desktop_reads_check_room (QgaDesktopTransfers *transfers, GError **error);
/* A read refused before it started: fd closed, task returned. */
void qga_desktop_read_refuse (GTask *task, int fd, GError *error);
/* A new read (struct_size bytes, its QgaDesktopRead first) into fd,
 * nonblocking already, in transfers, its timers started. */
gpointer qga_desktop_read_new (gsize struct_size, const QgaDesktopReadOps *ops,
                               QgaDesktopClipboard *clipboard, QgaDesktopTransfers *transfers,
                               GTask *task, QgaSelectionId selection, const char *mime_type,
                               int fd);
void qga_desktop_read_clear (QgaDesktopRead *read);
void qga_desktop_read_progress (QgaDesktopRead *read);
/* Ends the read: out of its list, freed, then its task returned. */
void qga_desktop_read_finish (QgaDesktopRead *read, GError *error);
void qga_desktop_read_fail (QgaDesktopRead *read, QgaErrorCode code, const char *format, ...)
  G_GNUC_PRINTF (3, 4);
void qga_desktop_reads_fail_all (QgaDesktopTransfers *transfers, const GError *error);
/* FALSE (the read failed, over max-size) unless more bytes fit. */
gboolean qga_desktop_read_check_size (QgaDesktopRead *read, guint64 more);
/* Write data from *offset into fd as far as it takes it now: TRUE when
 * all of it is written; FALSE when fd is full (ops->resume runs once it
 * is writable) or failed (the read ended). */
gboolean qga_desktop_read_write (QgaDesktopRead *read, const guint8 *data, gsize length,
                                 gsize *offset);

/* --- qga-desktop-serve.c: what a backend's answer to another client's
 * paste does alike: ask the provider, gather all its content (up to
 * max-size, and all serves together up to twice that) before anything
 * goes, the no-progress timeout, and the limit on serves. --- */

typedef struct _QgaDesktopServe QgaDesktopServe;

typedef struct {
  /* optional: tell the paster it gets nothing (before the serve ends) */
  void (*refused) (QgaDesktopServe *serve);
  /* the content is whole: send it (the serve ends when the backend is done) */
  void (*answer) (QgaDesktopServe *serve);
} QgaDesktopServeOps;

/* The first member of a backend's serve; the transfers' serves free it
 * (the backend's serve_free calls qga_desktop_serve_clear()). */
struct _QgaDesktopServe {
  const QgaDesktopServeOps *ops;
  QgaDesktopClipboard *clipboard;
  QgaDesktopTransfers *transfers; /* the backend's, whose serves hold us */
  QgaSelectionId selection;
  char *mime_type;
  char *paster;                   /* "X window 0x…", for the log */

  QgaDesktopRequest *request;
  gboolean asking;                /* inside the provider's call */
  gboolean provider_done;
  GError *provider_error;
  int pipe_fd;                    /* the provider writes into the other end */
  int provider_fd;                /* that end, until the provider is asked */
  guint pipe_watch;
  gboolean eof;

  GByteArray *content;
  gsize sent;                     /* of content, to the paster */
  gboolean answering;             /* ops->answer was called */
  guint timer;
  gint64 last_progress;
};

/* A new serve (struct_size bytes, its QgaDesktopServe first) in
 * transfers, with its pipe; NULL (refused with a line in the log, for the
 * backend to answer) if QGA_DESKTOP_MAX_SERVES are in progress already or
 * there is no pipe. The backend fills in its part, then calls
 * qga_desktop_serve_ask(). */
gpointer qga_desktop_serve_new (gsize struct_size, const QgaDesktopServeOps *ops,
                                QgaDesktopClipboard *clipboard, QgaDesktopTransfers *transfers,
                                QgaSelectionId selection, const char *mime_type,
                                const char *paster);
/* Ask offer's provider; ops->answer runs once the content is whole,
 * maybe before this returns. */
void qga_desktop_serve_ask (QgaDesktopServe *serve, QgaDesktopOffer *offer);
void qga_desktop_serve_clear (QgaDesktopServe *serve);
void qga_desktop_serve_progress (QgaDesktopServe *serve);
/* Out of the backend's list, freed. */
void qga_desktop_serve_end (QgaDesktopServe *serve);
/* Refuse a paste we had accepted, before anything was sent: why in the
 * log, ops->refused, the end. */
void qga_desktop_serve_refuse (QgaDesktopServe *serve, const char *format, ...)
  G_GNUC_PRINTF (2, 3);

G_END_DECLS
