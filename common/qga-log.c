/* qga-log.c: rate-limited warnings and excerpts of peer text. */
#include "config.h"

#include "qga-log.h"

#define WINDOW_USEC G_USEC_PER_SEC

char *
qga_log_excerpt (const char *text, gsize length)
{
  gsize cut = MIN (length, QGA_LOG_EXCERPT_MAX);
  g_autofree char *valid = g_utf8_make_valid (text, cut);
  GString *out = g_string_sized_new (cut + 32);

  for (const char *p = valid; *p != '\0'; p++)
    g_string_append_c (out, (guchar) *p < 0x20 || *p == 0x7f ? '?' : *p);
  if (cut < length)
    g_string_append_printf (out, "... (%" G_GSIZE_FORMAT " bytes)", length);
  return g_string_free (out, FALSE);
}

static void
flush (QgaRateLimit *limit)
{
  if (limit->suppressed > 0)
    g_warning ("suppressed %u messages about %s", limit->suppressed, limit->what);
  limit->suppressed = 0;
}

static gboolean
summary_cb (gpointer user_data)
{
  QgaRateLimit *limit = user_data;

  limit->summary_source = 0;
  flush (limit);
  return G_SOURCE_REMOVE;
}

gboolean
qga_rate_limit_allow (QgaRateLimit *limit)
{
  gint64 now = g_get_monotonic_time ();

  if (now - limit->window_start >= WINDOW_USEC)
    {
      g_clear_handle_id (&limit->summary_source, g_source_remove);
      flush (limit);
      limit->window_start = now;
      limit->count = 0;
    }
  if (limit->count < QGA_RATE_LIMIT_BURST)
    {
      limit->count++;
      return TRUE;
    }
  if (limit->suppressed++ == 0)
    {
      gint64 left_ms = (limit->window_start + WINDOW_USEC - now) / 1000;

      limit->summary_source = g_timeout_add ((guint) MAX (left_ms, 1), summary_cb, limit);
    }
  return FALSE;
}

void
qga_rate_limit_clear (QgaRateLimit *limit)
{
  g_clear_handle_id (&limit->summary_source, g_source_remove);
  flush (limit);
}
