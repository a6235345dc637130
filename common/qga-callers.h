/* qga-callers.h: D-Bus callers tracked by unique name, with a bound.
 *
 * Each caller has a record of the user's own (record_size bytes, zeroed
 * when made, freed with the caller's entry), made on its first call, that
 * goes when the caller leaves the bus: the table follows NameOwnerChanged
 * with one subscription made when it is, so a caller's departure is seen
 * after its messages and before any message sent after it (a name watch
 * per caller could report it late), and a record made for a caller that
 * has already left goes after a NameHasOwner check. A record outlives the
 * caller's last call, so that a busy program does not cost a check per
 * call; when the table is
 * full, an idle record makes room, and with none idle the new caller is
 * refused. Records hold counters, not pointers to free. Used by
 * qga-bridge's clients and stats subscribers and by qga-session's two
 * objects.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _QgaCallers QgaCallers;

typedef struct {
  /* Whether the record may be forgotten to make room. */
  gboolean (*is_idle) (gconstpointer record);
  /* The caller left the bus (optional); its record is freed right after. */
  void (*vanished) (const char *name, gpointer record, gpointer user_data);
} QgaCallersFuncs;

/* busy_what completes the refusal "too many %s (limit N)". */
QgaCallers *qga_callers_new (GDBusConnection *connection, guint max_callers, gsize record_size,
                             const char *busy_what, const QgaCallersFuncs *funcs,
                             gpointer user_data);
void qga_callers_free (QgaCallers *callers);
/* Forget every caller, without vanished. */
void qga_callers_clear (QgaCallers *callers);

gpointer qga_callers_lookup (QgaCallers *callers, const char *name);
/* name's record, made (and checked) if it had none; NULL with
 * QGA_ERROR_LIMIT_EXCEEDED when the table is full of busy callers. */
gpointer qga_callers_track (QgaCallers *callers, const char *name, GError **error);
/* Forget name (without vanished); FALSE if it had no record. */
gboolean qga_callers_remove (QgaCallers *callers, const char *name);
guint qga_callers_count (QgaCallers *callers);
/* The unique name of the caller a record belongs to. */
const char *qga_caller_name (gconstpointer record);

typedef void (*QgaCallersFunc) (const char *name, gpointer record, gpointer user_data);
void qga_callers_foreach (QgaCallers *callers, QgaCallersFunc func, gpointer user_data);

G_END_DECLS
