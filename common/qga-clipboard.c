/* qga-clipboard.c: clipboard messages and the selection state machine. */
#include "config.h"

#include <string.h>

#include "qga-clipboard.h"
#include "qga-error.h"
#include "qga-wire.h"

static const char *const selection_names[QGA_N_SELECTIONS] = { "clipboard", "primary" };

gboolean
qga_clipboard_selection_from_name (const char *name, QgaSelectionId *id)
{
  for (int i = 0; i < QGA_N_SELECTIONS; i++)
    if (name != NULL && g_str_equal (name, selection_names[i]))
      {
        *id = i;
        return TRUE;
      }
  return FALSE;
}

const char *
qga_clipboard_selection_name (QgaSelectionId id)
{
  g_return_val_if_fail (id < QGA_N_SELECTIONS, "clipboard");
  return selection_names[id];
}

gboolean
qga_clipboard_is_event (const char *event_name)
{
  return g_str_has_prefix (event_name, "CLIPBOARD_");
}

static gboolean
type_is_valid (const char *type)
{
  gsize length = strlen (type);

  if (length == 0 || length > QGA_CLIPBOARD_MAX_TYPE_LENGTH)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if ((guchar) type[i] < 0x21 || (guchar) type[i] > 0x7e)
      return FALSE;
  return TRUE;
}

gboolean
qga_clipboard_check_types (const char *const *types, gssize n_types, GError **error)
{
  gsize n = n_types >= 0 ? (gsize) n_types : g_strv_length ((char **) types);

  if (n == 0 || n > QGA_CLIPBOARD_MAX_TYPES)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "a grab offers 1 to %d types, not %" G_GSIZE_FORMAT, QGA_CLIPBOARD_MAX_TYPES, n);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      if (!type_is_valid (types[i]))
        {
          g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                       "type %" G_GSIZE_FORMAT " is not 1-%d bytes of printable ASCII", i,
                       QGA_CLIPBOARD_MAX_TYPE_LENGTH);
          return FALSE;
        }
      for (gsize j = 0; j < i; j++)
        if (g_str_equal (types[i], types[j]))
          {
            g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                         "type '%s' is offered twice", types[i]);
            return FALSE;
          }
    }
  return TRUE;
}

/* --- members, checked --- */

static gboolean
get_uint_member (JsonObject *object, const char *name, guint64 min, guint64 max,
                 guint64 *value, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);
  gint64 v;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "'%s' is missing or not an integer", name);
      return FALSE;
    }
  v = json_node_get_int (node);
  if (v < 0 || (guint64) v < min || (guint64) v > max)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "'%s' must be between %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT,
                   name, min, max);
      return FALSE;
    }
  *value = (guint64) v;
  return TRUE;
}

static gboolean
get_selection_member (JsonObject *object, QgaSelectionId *selection, GError **error)
{
  const char *name = qga_wire_get_string_member (object, "selection");

  if (name == NULL || !qga_clipboard_selection_from_name (name, selection))
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                           "'selection' must be \"clipboard\" or \"primary\"");
      return FALSE;
    }
  return TRUE;
}

/* Every member of object is one of the allowed names. */
static gboolean
check_members (JsonObject *object, const char *const *allowed, GError **error)
{
  g_autoptr(GList) members = json_object_get_members (object);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (allowed, l->data))
      {
        g_autofree char *name = g_utf8_make_valid (l->data, MIN (strlen (l->data), 64));

        g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR, "unexpected member '%s'", name);
        return FALSE;
      }
  return TRUE;
}

/* --- capability --- */

JsonNode *
qga_clipboard_capability_new (guint64 max_size)
{
  g_autoptr(JsonObject) object = json_object_new ();

  json_object_set_int_member (object, "version", QGA_CLIPBOARD_VERSION);
  json_object_set_int_member (object, "max-size", (gint64) MIN (max_size, (guint64) G_MAXINT64));
  return json_node_init_object (json_node_alloc (), object);
}

gboolean
qga_clipboard_capability_parse (JsonObject *info, guint64 *max_size)
{
  JsonNode *node = json_object_get_member (info, "clipboard");
  JsonObject *object;
  guint64 version = 0;

  *max_size = 0;
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return FALSE;
  object = json_node_get_object (node);
  if (!get_uint_member (object, "version", 1, G_MAXINT64, &version, NULL) ||
      version != QGA_CLIPBOARD_VERSION)
    return FALSE;
  if (!get_uint_member (object, "max-size", 1, G_MAXINT64, max_size, NULL))
    *max_size = 0;
  return TRUE;
}

/* --- grab and release --- */

void
qga_clipboard_grab_clear (QgaClipboardGrab *grab)
{
  g_clear_pointer (&grab->types, g_strfreev);
}

static char **
parse_types (JsonObject *data, GError **error)
{
  JsonNode *node = json_object_get_member (data, "types");
  g_autoptr(GPtrArray) builder = NULL;
  g_auto(GStrv) types = NULL;
  JsonArray *array;
  guint n;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                           "'types' is missing or not an array");
      return NULL;
    }
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  if (n == 0 || n > QGA_CLIPBOARD_MAX_TYPES)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "a grab offers 1 to %d types, not %u", QGA_CLIPBOARD_MAX_TYPES, n);
      return NULL;
    }
  builder = g_ptr_array_new_full (n + 1, g_free);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        {
          g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR, "type %u is not a string", i);
          return NULL;
        }
      g_ptr_array_add (builder, g_strdup (json_node_get_string (element)));
    }
  g_ptr_array_add (builder, NULL);
  types = (char **) g_ptr_array_steal (builder, NULL);
  if (!qga_clipboard_check_types ((const char *const *) types, n, error))
    return NULL;
  return g_steal_pointer (&types);
}

gboolean
qga_clipboard_grab_parse (JsonObject *data, QgaClipboardGrab *grab, GError **error)
{
  static const char *const allowed[] = { "selection", "types", "serial", "peer-serial", NULL };
  guint64 serial = 0, peer_serial = 0;

  memset (grab, 0, sizeof *grab);
  if (!check_members (data, allowed, error) ||
      !get_selection_member (data, &grab->selection, error) ||
      !get_uint_member (data, "serial", 1, G_MAXUINT32, &serial, error) ||
      !get_uint_member (data, "peer-serial", 0, G_MAXUINT32, &peer_serial, error))
    return FALSE;
  grab->types = parse_types (data, error);
  if (grab->types == NULL)
    return FALSE;
  grab->serial = serial;
  grab->peer_serial = peer_serial;
  return TRUE;
}

gboolean
qga_clipboard_release_parse (JsonObject *data, QgaSelectionId *selection, guint32 *serial,
                             GError **error)
{
  static const char *const allowed[] = { "selection", "serial", NULL };
  guint64 value = 0;

  if (!check_members (data, allowed, error) ||
      !get_selection_member (data, selection, error) ||
      !get_uint_member (data, "serial", 1, G_MAXUINT32, &value, error))
    return FALSE;
  *serial = value;
  return TRUE;
}

GBytes *
qga_clipboard_build_grab (QgaSelectionId selection, const char *const *types,
                          guint32 serial, guint32 peer_serial)
{
  g_autoptr(JsonObject) data = json_object_new ();
  g_autoptr(JsonArray) array = json_array_new ();
  g_autoptr(JsonNode) node = NULL;

  for (gsize i = 0; types[i] != NULL; i++)
    json_array_add_string_element (array, types[i]);
  json_object_set_string_member (data, "selection", qga_clipboard_selection_name (selection));
  json_object_set_array_member (data, "types", g_steal_pointer (&array));
  json_object_set_int_member (data, "serial", serial);
  json_object_set_int_member (data, "peer-serial", peer_serial);
  node = json_node_init_object (json_node_alloc (), data);
  return qga_wire_build_event (QGA_CLIPBOARD_EVENT_GRAB, node);
}

GBytes *
qga_clipboard_build_release (QgaSelectionId selection, guint32 serial)
{
  g_autoptr(JsonObject) data = json_object_new ();
  g_autoptr(JsonNode) node = NULL;

  json_object_set_string_member (data, "selection", qga_clipboard_selection_name (selection));
  json_object_set_int_member (data, "serial", serial);
  node = json_node_init_object (json_node_alloc (), data);
  return qga_wire_build_event (QGA_CLIPBOARD_EVENT_RELEASE, node);
}

/* --- requests --- */

void
qga_clipboard_request_clear (QgaClipboardRequest *request)
{
  g_clear_pointer (&request->type, g_free);
}

gboolean
qga_clipboard_request_parse (JsonObject *arguments, QgaClipboardRequest *request, GError **error)
{
  static const char *const allowed[] = { "selection", "type", "serial", "transfer", NULL };
  guint64 serial = 0, transfer = 0;
  const char *type;

  memset (request, 0, sizeof *request);
  if (!check_members (arguments, allowed, error) ||
      !get_selection_member (arguments, &request->selection, error) ||
      !get_uint_member (arguments, "serial", 0, G_MAXUINT32, &serial, error) ||
      !get_uint_member (arguments, "transfer", 1, G_MAXUINT32, &transfer, error))
    return FALSE;
  type = qga_wire_get_string_member (arguments, "type");
  if (type == NULL || !type_is_valid (type))
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "'type' must be 1-%d bytes of printable ASCII", QGA_CLIPBOARD_MAX_TYPE_LENGTH);
      return FALSE;
    }
  request->type = g_strdup (type);
  request->serial = serial;
  request->transfer = transfer;
  return TRUE;
}

JsonNode *
qga_clipboard_request_build_arguments (QgaSelectionId selection, const char *type,
                                       guint32 serial, guint32 transfer)
{
  g_autoptr(JsonObject) arguments = json_object_new ();

  json_object_set_string_member (arguments, "selection", qga_clipboard_selection_name (selection));
  json_object_set_string_member (arguments, "type", type);
  json_object_set_int_member (arguments, "serial", serial);
  json_object_set_int_member (arguments, "transfer", transfer);
  return json_node_init_object (json_node_alloc (), arguments);
}

/* --- selection state --- */

void
qga_selection_clear (QgaSelection *selection)
{
  g_clear_pointer (&selection->local_types, g_strfreev);
  g_clear_pointer (&selection->peer_types, g_strfreev);
  memset (selection, 0, sizeof *selection);
}

guint32
qga_selection_grab_local (QgaSelection *selection, const char *const *types)
{
  selection->local_serial = selection->local_serial == G_MAXUINT32 ? 1 : selection->local_serial + 1;
  selection->local_owned = TRUE;
  g_strfreev (selection->local_types);
  selection->local_types = g_strdupv ((char **) types);
  selection->peer_owned = FALSE;
  g_clear_pointer (&selection->peer_types, g_strfreev);
  return selection->local_serial;
}

gboolean
qga_selection_release_local (QgaSelection *selection)
{
  if (!selection->local_owned)
    return FALSE;
  selection->local_owned = FALSE;
  g_clear_pointer (&selection->local_types, g_strfreev);
  return TRUE;
}

static void
take_peer_grab (QgaSelection *selection, const QgaClipboardGrab *grab)
{
  selection->peer_owned = TRUE;
  g_strfreev (selection->peer_types);
  selection->peer_types = g_strdupv (grab->types);
  selection->local_owned = FALSE;
  g_clear_pointer (&selection->local_types, g_strfreev);
}

/* Serials wrap after 2^32-1 grabs; "newer" is judged within half the range. */
static gboolean
serial_is_newer (guint32 serial, guint32 than)
{
  return serial != than && (guint32) (serial - than) < 0x80000000u;
}

QgaSelectionOutcome
qga_selection_grab_peer (QgaSelection *selection, const QgaClipboardGrab *grab,
                         gboolean we_are_host)
{
  gboolean crossed;

  if (selection->peer_serial != 0 && !serial_is_newer (grab->serial, selection->peer_serial))
    return QGA_SELECTION_PEER_STALE;
  selection->peer_serial = grab->serial;
  /* The peer had not seen our current grab when it sent this one. */
  crossed = selection->local_owned && grab->peer_serial != selection->local_serial;
  if (crossed && we_are_host)
    return QGA_SELECTION_PEER_LOST_RACE;
  take_peer_grab (selection, grab);
  return crossed ? QGA_SELECTION_PEER_WON_RACE : QGA_SELECTION_PEER_ACCEPTED;
}

gboolean
qga_selection_forget_peer (QgaSelection *selection)
{
  gboolean owned = selection->peer_owned;

  selection->peer_owned = FALSE;
  selection->peer_serial = 0;
  g_clear_pointer (&selection->peer_types, g_strfreev);
  return owned;
}

gboolean
qga_selection_release_peer (QgaSelection *selection, guint32 serial)
{
  if (!selection->peer_owned || serial != selection->peer_serial)
    return FALSE;
  selection->peer_owned = FALSE;
  g_clear_pointer (&selection->peer_types, g_strfreev);
  return TRUE;
}

static gboolean
offers (char **types, const char *type)
{
  return types != NULL && g_strv_contains ((const char *const *) types, type);
}

gboolean
qga_selection_peer_offers (const QgaSelection *selection, guint32 serial, const char *type)
{
  return selection->peer_owned && (serial == 0 || serial == selection->peer_serial) &&
         offers (selection->peer_types, type);
}

gboolean
qga_selection_local_offers (const QgaSelection *selection, guint32 serial, const char *type)
{
  return selection->local_owned && (serial == 0 || serial == selection->local_serial) &&
         offers (selection->local_types, type);
}
