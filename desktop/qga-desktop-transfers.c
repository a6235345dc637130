/* qga-desktop-transfers.c: a backend's reads and serves in progress, and
 * what limits them (qga-desktop-private.h). */
#include "config.h"

#include "qga-desktop-private.h"

void
qga_desktop_transfers_init (QgaDesktopTransfers *transfers, GDestroyNotify read_free,
                            GDestroyNotify serve_free)
{
  transfers->reads = g_ptr_array_new_with_free_func (read_free);
  transfers->serves = g_ptr_array_new_with_free_func (serve_free);
  transfers->serve_buffered = 0;
  transfers->refusals = (QgaRateLimit) QGA_RATE_LIMIT_INIT ("refused desktop clipboard transfers");
}

void
qga_desktop_transfers_abandon_serves (QgaDesktopTransfers *transfers)
{
  g_ptr_array_set_size (transfers->serves, 0);
}

void
qga_desktop_transfers_dispose (QgaDesktopTransfers *transfers)
{
  qga_desktop_transfers_abandon_serves (transfers);
  qga_rate_limit_clear (&transfers->refusals);
}

void
qga_desktop_transfers_finalize (QgaDesktopTransfers *transfers)
{
  g_ptr_array_unref (transfers->reads);
  g_ptr_array_unref (transfers->serves);
}

guint
qga_desktop_transfer_timer_add (QgaDesktopClipboard *clipboard, GSourceFunc func, gpointer data)
{
  guint timeout_ms = qga_desktop_clipboard_get_timeout_ms (clipboard);

  return g_timeout_add (CLAMP (timeout_ms / 4, 10, 1000), func, data);
}

gboolean
qga_desktop_transfer_stalled (QgaDesktopClipboard *clipboard, gint64 last_progress)
{
  guint timeout_ms = qga_desktop_clipboard_get_timeout_ms (clipboard);

  return g_get_monotonic_time () - last_progress >= (gint64) timeout_ms * 1000;
}
