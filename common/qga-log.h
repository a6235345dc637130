/* qga-log.h: logging what an untrusted peer sent, within bounds.
 *
 * Both ends parse bytes from a peer they do not trust. A peer that floods
 * bad input must not turn into a flood of log lines, nor into log lines
 * of megabytes: warnings about it go through a QgaRateLimit, and quotes of
 * its text through qga_log_excerpt().
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define QGA_LOG_EXCERPT_MAX 200

/* At most QGA_RATE_LIMIT_BURST warnings a second; the rest are counted and
 * summed up in one line ("suppressed N messages about WHAT") when the
 * second ends. */
#define QGA_RATE_LIMIT_BURST 10

typedef struct {
  const char *what;
  gint64 window_start;
  guint count;
  guint suppressed;
  guint summary_source;
} QgaRateLimit;

#define QGA_RATE_LIMIT_INIT(what) { (what), 0, 0, 0, 0 }

/* TRUE if one more warning may be logged now. Check before formatting, so
 * that a flood costs no formatting either. */
gboolean qga_rate_limit_allow (QgaRateLimit *limit);

/* g_warning (...) if limit allows it; otherwise the message is counted and
 * not even formatted. */
#define qga_rate_limited_warning(limit, ...) \
  G_STMT_START { if (qga_rate_limit_allow (limit)) g_warning (__VA_ARGS__); } G_STMT_END

/* Log any pending summary and stop its timer. */
void qga_rate_limit_clear (QgaRateLimit *limit);

/* g_debug() formats its message even when it is then dropped. On paths
 * taken for every message, check first: if (QGA_DEBUG_ENABLED ()) g_debug
 * (...). Only for programs that log through GLib's default writer (the
 * bridge; not qga-host, which has its own). */
#if GLIB_CHECK_VERSION (2, 68, 0)
#define QGA_DEBUG_ENABLED() (!g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))
#else
#define QGA_DEBUG_ENABLED() TRUE
#endif

/* At most QGA_LOG_EXCERPT_MAX bytes of text, valid UTF-8, on one line. */
char *qga_log_excerpt (const char *text, gsize length);

G_END_DECLS
