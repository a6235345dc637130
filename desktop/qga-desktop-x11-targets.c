/* qga-desktop-x11-targets.c: X selection targets <-> MIME types.
 *
 * Text has four names on X: UTF8_STRING (the one every toolkit reads
 * first), the MIME name itself, STRING (ISO 8859-1 by ICCCM, converted)
 * and TEXT (the owner's choice of encoding; we answer it in UTF-8, as GTK
 * and Qt do). Every other target whose name is a MIME type stands for
 * itself. The rest (TARGETS, TIMESTAMP, MULTIPLE, SAVE_TARGETS, DELETE,
 * COMPOUND_TEXT, application-private names...) carry no content we pass on.
 */
#include "config.h"

#include <string.h>

#include "qga-desktop-x11-private.h"

static const X11TargetChoice text_choices[] = {
  { "UTF8_STRING", X11_ENCODING_AS_IS, "UTF8_STRING" },
  { NULL, X11_ENCODING_AS_IS, NULL },
  { "STRING", X11_ENCODING_LATIN1, "STRING" },
  { "TEXT", X11_ENCODING_AS_IS, "UTF8_STRING" },
};

static const X11TargetChoice itself_choice[] = {
  { NULL, X11_ENCODING_AS_IS, NULL },
};

const char *
x11_target_to_mime_type (const char *target_name)
{
  const char *type[] = { target_name, NULL };

  if (target_name == NULL)
    return NULL;
  if (strcmp (target_name, "UTF8_STRING") == 0 || strcmp (target_name, "STRING") == 0 ||
      strcmp (target_name, "TEXT") == 0 ||
      g_ascii_strcasecmp (target_name, QGA_DESKTOP_MIME_TEXT) == 0)
    return QGA_DESKTOP_MIME_TEXT;
  if (strchr (target_name, '/') == NULL || !qga_clipboard_check_types (type, 1, NULL))
    return NULL;
  return target_name;
}

char **
x11_targets_to_mime_types (const char *const *target_names, guint n)
{
  g_autoptr(GPtrArray) types = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < n && types->len < QGA_CLIPBOARD_MAX_TYPES; i++)
    {
      const char *mime_type = x11_target_to_mime_type (target_names[i]);

      if (mime_type != NULL &&
          !g_ptr_array_find_with_equal_func (types, mime_type, g_str_equal, NULL))
        g_ptr_array_add (types, g_strdup (mime_type));
    }
  g_ptr_array_add (types, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&types), FALSE);
}

const X11TargetChoice *
x11_target_choices (const char *mime_type, guint *n_choices)
{
  if (strcmp (mime_type, QGA_DESKTOP_MIME_TEXT) == 0)
    {
      *n_choices = G_N_ELEMENTS (text_choices);
      return text_choices;
    }
  *n_choices = G_N_ELEMENTS (itself_choice);
  return itself_choice;
}

void
x11_target_clear (X11Target *target)
{
  g_clear_pointer (&target->mime_type, g_free);
}
