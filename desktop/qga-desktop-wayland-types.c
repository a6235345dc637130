/* qga-desktop-wayland-types.c: the names an offer carries <-> MIME types.
 *
 * Wayland offers carry MIME types, and for text also the X names that
 * toolkits and wl-copy add for Xwayland's sake: text/plain;charset=utf-8,
 * UTF8_STRING, text/plain, TEXT and STRING all stand for the module's text
 * type. On Wayland they all carry UTF-8 in practice (wl-copy, GTK and Qt
 * write the same bytes for each), so no name is converted; we read the
 * first of them on offer in that order, and offer all five for our text.
 * Other names with a '/' that are valid types stand for themselves; the
 * rest (and our marker) for nothing.
 */
#include "config.h"

#include <string.h>

#include "qga-desktop-wayland-private.h"

static const char *const text_names[WL_TEXT_NAMES] = {
  QGA_DESKTOP_MIME_TEXT, "UTF8_STRING", "text/plain", "TEXT", "STRING",
};

static gboolean
is_text_name (const char *name)
{
  for (guint i = 1; i < WL_TEXT_NAMES; i++)
    if (strcmp (name, text_names[i]) == 0)
      return TRUE;
  return g_ascii_strcasecmp (name, QGA_DESKTOP_MIME_TEXT) == 0;
}

gboolean
wl_name_is_marker (const char *name)
{
  return g_str_has_prefix (name, WL_MARKER_PREFIX);
}

char *
wl_marker_new (const char *token, guint serial)
{
  return g_strdup_printf (WL_MARKER_PREFIX ";id=%s;take=%u", token, serial);
}

const char *
wl_name_to_mime_type (const char *name)
{
  const char *type[] = { name, NULL };

  if (name == NULL || wl_name_is_marker (name))
    return NULL;
  if (is_text_name (name))
    return QGA_DESKTOP_MIME_TEXT;
  if (strchr (name, '/') == NULL || !qga_clipboard_check_types (type, 1, NULL))
    return NULL;
  return name;
}

char **
wl_names_to_mime_types (GPtrArray *names)
{
  g_autoptr(GPtrArray) types = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < names->len && types->len < QGA_CLIPBOARD_MAX_TYPES; i++)
    {
      const char *mime_type = wl_name_to_mime_type (g_ptr_array_index (names, i));

      if (mime_type != NULL &&
          !g_ptr_array_find_with_equal_func (types, mime_type, g_str_equal, NULL))
        g_ptr_array_add (types, g_strdup (mime_type));
    }
  g_ptr_array_add (types, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&types), FALSE);
}

void
wl_names_for_mime_type (const char *mime_type, const char **names)
{
  guint n = 0;

  if (strcmp (mime_type, QGA_DESKTOP_MIME_TEXT) == 0)
    for (; n < WL_TEXT_NAMES; n++)
      names[n] = text_names[n];
  else
    names[n++] = mime_type;
  names[n] = NULL;
}
