/* bridge-commands.c: host-to-guest commands, qemu-ga compatible. */
#include "config.h"

#include "bridge-commands.h"
#include "qga-error.h"
#include "qga-log.h"
#include "qga-wire.h"

typedef struct {
  const char *name;
  GType type;         /* G_TYPE_INT64 */
  const char *type_name;
} Param;

typedef struct {
  gboolean delimited; /* put 0xFF before the reply */
  BridgeClipboard *clipboard;
} CommandContext;

/* Returns the "return" value, or NULL with error set. */
typedef JsonNode *(*CommandFunc) (JsonObject *arguments, CommandContext *context, GError **error);

typedef struct {
  const char *name;
  CommandFunc func;
  const Param *params;  /* all required; NULL-named terminator; NULL: the command checks */
  gboolean success_response;
} Command;

static JsonNode *
int_node (gint64 value)
{
  return json_node_init_int (json_node_alloc (), value);
}

static JsonNode *
empty_object (void)
{
  g_autoptr(JsonObject) empty = json_object_new ();

  return json_node_init_object (json_node_alloc (), empty);
}

static JsonNode *
cmd_sync (JsonObject *arguments, CommandContext *context, GError **error)
{
  return int_node (json_object_get_int_member (arguments, "id"));
}

static JsonNode *
cmd_sync_delimited (JsonObject *arguments, CommandContext *context, GError **error)
{
  context->delimited = TRUE;
  return cmd_sync (arguments, context, error);
}

static JsonNode *
cmd_ping (JsonObject *arguments, CommandContext *context, GError **error)
{
  return empty_object ();
}

static JsonNode *
cmd_clipboard_request (JsonObject *arguments, CommandContext *context, GError **error)
{
  if (context->clipboard == NULL)
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED, "the clipboard is not enabled");
      return NULL;
    }
  if (!bridge_clipboard_handle_request (context->clipboard, arguments, error))
    return NULL;
  return empty_object ();
}

static JsonNode *cmd_info (JsonObject *arguments, CommandContext *context, GError **error);

static const Param sync_params[] = {
  { "id", G_TYPE_INT64, "integer" },
  { NULL },
};
static const Param no_params[] = { { NULL } };

static const Command commands[] = {
  { QGA_CLIPBOARD_GUEST_REQUEST, cmd_clipboard_request, NULL, TRUE },
  { "guest-info", cmd_info, no_params, TRUE },
  { "guest-ping", cmd_ping, no_params, TRUE },
  { "guest-sync", cmd_sync, sync_params, TRUE },
  { "guest-sync-delimited", cmd_sync_delimited, sync_params, TRUE },
};

/* qemu-ga's reply, and the clipboard capability (docs/CLIPBOARD.md §2). */
static JsonNode *
cmd_info (JsonObject *arguments, CommandContext *context, GError **error)
{
  QgaWireCommandInfo info[G_N_ELEMENTS (commands)];
  JsonNode *reply;

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    info[i] = (QgaWireCommandInfo) { commands[i].name, TRUE, commands[i].success_response };
  reply = qga_wire_build_info (PACKAGE_VERSION, info, G_N_ELEMENTS (info));
  if (context->clipboard != NULL)
    json_object_set_member (json_node_get_object (reply), "clipboard",
                            bridge_clipboard_get_capability (context->clipboard));
  return reply;
}

static const Command *
lookup (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name))
      return &commands[i];
  return NULL;
}

static gboolean
node_has_type (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

/* The QAPI input visitor's checks: declared parameters first, then extras. */
static gboolean
check_arguments (const Command *command, JsonObject *arguments, GError **error)
{
  g_autoptr(GList) members = json_object_get_members (arguments);

  for (const Param *p = command->params; p->name != NULL; p++)
    {
      JsonNode *value = json_object_get_member (arguments, p->name);

      if (value == NULL)
        {
          g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                       "Parameter '%s' is missing", p->name);
          return FALSE;
        }
      if (!node_has_type (value, p->type))
        {
          g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                       "Invalid parameter type for '%s', expected: %s", p->name, p->type_name);
          return FALSE;
        }
    }
  for (GList *l = members; l != NULL; l = l->next)
    {
      gboolean declared = FALSE;

      for (const Param *p = command->params; p->name != NULL; p++)
        declared |= g_str_equal (p->name, l->data);
      if (!declared)
        {
          g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                       "Parameter '%s' is unexpected", (const char *) l->data);
          return FALSE;
        }
    }
  return TRUE;
}

static GBytes *
error_reply (const GError *error, JsonNode *id)
{
  return qga_wire_build_error (qga_error_class_name (error->code), error->message, id, FALSE);
}

GBytes *
bridge_commands_handle (JsonNode *request, BridgeClipboard *clipboard)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) empty = json_object_new ();
  g_autoptr(JsonNode) result = NULL;
  CommandContext context = { FALSE, clipboard };
  JsonObject *object, *arguments;
  JsonNode *id;
  const Command *command;
  const char *name;

  if (!JSON_NODE_HOLDS_OBJECT (request))
    {
      g_set_error_literal (&error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                           "QMP input must be a JSON object");
      return error_reply (error, NULL);
    }
  object = json_node_get_object (request);
  id = json_object_get_member (object, "id");
  if (!qga_wire_check_command (object, &error))
    return error_reply (error, id);

  name = json_object_get_string_member (object, "execute");
  command = lookup (name);
  if (command == NULL)
    {
      g_set_error (&error, QGA_ERROR, QGA_ERROR_COMMAND_NOT_FOUND,
                   "The command %s has not been found", name);
      return error_reply (error, id);
    }
  arguments = json_object_has_member (object, "arguments")
                ? json_object_get_object_member (object, "arguments") : empty;
  if (command->params != NULL && !check_arguments (command, arguments, &error))
    return error_reply (error, id);

  if (QGA_DEBUG_ENABLED ())
    g_debug ("host command %s", name);
  result = command->func (arguments, &context, &error);
  if (result == NULL)
    return error_reply (error, id);
  return qga_wire_build_return (result, id, context.delimited);
}

GBytes *
bridge_commands_parse_error (const GError *error)
{
  return qga_wire_build_error (qga_error_class_name (QGA_ERROR_GENERIC_ERROR),
                               error->message, NULL, FALSE);
}
