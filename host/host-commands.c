/* host-commands.c: the host-* command table and its dispatcher (see host-commands.h). */
#include "config.h"

#include "host-commands.h"
#include "qga-error.h"
#include "qga-wire.h"

struct _HostCommands {
  HostCommandsReplyFunc reply_func;
  gpointer user_data;
  HostClipboard *clipboard;
  GHashTable *delayed;  /* set of DelayedReply *, owned */
  gsize delayed_bytes;
};

typedef struct {
  HostCommands *commands;
  GBytes *reply;
  guint source;
} DelayedReply;

static JsonNode *host_ping (HostCommands *commands, JsonObject *arguments, guint *delay_ms,
                            GError **error);
static JsonNode *host_info (HostCommands *commands, JsonObject *arguments, guint *delay_ms,
                            GError **error);
static JsonNode *host_echo (HostCommands *commands, JsonObject *arguments, guint *delay_ms,
                            GError **error);
static JsonNode *host_clipboard_request (HostCommands *commands, JsonObject *arguments,
                                         guint *delay_ms, GError **error);

static const HostCommand command_table[] = {
  { "host-ping", host_ping, TRUE, TRUE },
  { "host-info", host_info, TRUE, TRUE },
  { "host-echo", host_echo, TRUE, TRUE },
  { QGA_CLIPBOARD_HOST_REQUEST, host_clipboard_request, TRUE, TRUE },
};

const HostCommand *
host_commands_get_table (gsize *n_commands)
{
  *n_commands = G_N_ELEMENTS (command_table);
  return command_table;
}

const HostCommand *
host_commands_lookup (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (command_table); i++)
    if (g_strcmp0 (command_table[i].name, name) == 0)
      return &command_table[i];
  return NULL;
}

/* --- the commands --- */

static JsonNode *
new_empty_object (void)
{
  g_autoptr(JsonObject) object = json_object_new ();

  return json_node_init_object (json_node_alloc (), object);
}

static JsonNode *
host_ping (HostCommands *commands, JsonObject *arguments, guint *delay_ms, GError **error)
{
  return new_empty_object ();
}

static JsonNode *
host_info (HostCommands *commands, JsonObject *arguments, guint *delay_ms, GError **error)
{
  QgaWireCommandInfo info[G_N_ELEMENTS (command_table)];
  g_autoptr(JsonNode) base = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *base_object;

  for (gsize i = 0; i < G_N_ELEMENTS (command_table); i++)
    info[i] = (QgaWireCommandInfo) { command_table[i].name, command_table[i].enabled,
                                     command_table[i].success_response };
  base = qga_wire_build_info (PACKAGE_VERSION, info, G_N_ELEMENTS (info));
  if (commands->clipboard == NULL)
    return g_steal_pointer (&base);
  /* The built tree is sealed: copy its members into a new object. */
  base_object = json_node_get_object (base);
  object = json_object_new ();
  members = json_object_get_members (base_object);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (object, l->data,
                            json_node_copy (json_object_get_member (base_object, l->data)));
  json_object_set_member (object, "clipboard",
                          qga_clipboard_capability_new (
                            host_clipboard_get_max_size (commands->clipboard)));
  return json_node_init_object (json_node_alloc (), object);
}

static JsonNode *
host_clipboard_request (HostCommands *commands, JsonObject *arguments, guint *delay_ms,
                        GError **error)
{
  if (commands->clipboard == NULL)
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_NO_DATA, "the host has no clipboard");
      return NULL;
    }
  return host_clipboard_handle_request (commands->clipboard, arguments, error);
}

static gboolean
get_delay_ms (JsonObject *arguments, guint *delay_ms, GError **error)
{
  JsonNode *node = json_object_get_member (arguments, "delay-ms");
  gint64 value;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                           "Parameter 'delay-ms' expects an integer");
      return FALSE;
    }
  value = json_node_get_int (node);
  if (value < 0 || value > HOST_COMMANDS_MAX_DELAY_MS)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "Parameter 'delay-ms' must be between 0 and %d",
                   HOST_COMMANDS_MAX_DELAY_MS);
      return FALSE;
    }
  *delay_ms = (guint) value;
  return TRUE;
}

static JsonNode *
host_echo (HostCommands *commands, JsonObject *arguments, guint *delay_ms, GError **error)
{
  if (arguments == NULL)
    return new_empty_object ();
  if (!get_delay_ms (arguments, delay_ms, error))
    return NULL;
  return json_node_init_object (json_node_alloc (), arguments);
}

/* --- replies --- */

static void
send_reply (HostCommands *commands, GBytes *reply)
{
  commands->reply_func (reply, commands->user_data);
}

static void
reply_error (HostCommands *commands, JsonNode *id, QgaErrorCode code, const char *desc)
{
  g_autoptr(GBytes) reply = qga_wire_build_error (qga_error_class_name (code), desc, id, FALSE);

  g_debug ("replying %s to a guest command", qga_error_class_name (code));
  send_reply (commands, reply);
}

static void G_GNUC_PRINTF (4, 5)
reply_error_printf (HostCommands *commands, JsonNode *id, QgaErrorCode code,
                    const char *format, ...)
{
  va_list args;
  g_autofree char *desc = NULL;

  va_start (args, format);
  desc = g_strdup_vprintf (format, args);
  va_end (args);
  reply_error (commands, id, code, desc);
}

static void
delayed_reply_free (gpointer data)
{
  DelayedReply *delayed = data;

  g_clear_handle_id (&delayed->source, g_source_remove);
  delayed->commands->delayed_bytes -= g_bytes_get_size (delayed->reply);
  g_bytes_unref (delayed->reply);
  g_free (delayed);
}

static gboolean
delayed_reply_cb (gpointer data)
{
  DelayedReply *delayed = data;
  HostCommands *commands = delayed->commands;

  /* Out of the table before sending, in case the reply callback frees us. */
  delayed->source = 0;
  g_hash_table_steal (commands->delayed, delayed);
  send_reply (commands, delayed->reply);
  delayed_reply_free (delayed);
  return G_SOURCE_REMOVE;
}

static void
reply_later (HostCommands *commands, GBytes *reply, guint delay_ms)
{
  DelayedReply *delayed = g_new0 (DelayedReply, 1);

  delayed->commands = commands;
  delayed->reply = g_bytes_ref (reply);
  commands->delayed_bytes += g_bytes_get_size (reply);
  delayed->source = g_timeout_add (delay_ms, delayed_reply_cb, delayed);
  g_hash_table_add (commands->delayed, delayed);
}

/* --- dispatch --- */

static void
reply_gerror (HostCommands *commands, JsonNode *id, const GError *error)
{
  QgaErrorCode code = error->domain == QGA_ERROR ? error->code : QGA_ERROR_GENERIC_ERROR;

  reply_error (commands, id, code, error->message);
}

static void
run_command (HostCommands *commands, const HostCommand *command, JsonObject *arguments,
             JsonNode *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GBytes) reply = NULL;
  guint delay_ms = 0;

  result = command->handler (commands, arguments, &delay_ms, &error);
  if (result == NULL)
    {
      reply_gerror (commands, id, error);
      return;
    }
  if (!command->success_response)
    return;
  if (delay_ms > 0 && g_hash_table_size (commands->delayed) >= HOST_COMMANDS_MAX_DELAYED)
    {
      reply_error (commands, id, QGA_ERROR_GENERIC_ERROR, "too many delayed replies");
      return;
    }

  reply = qga_wire_build_return (result, id, FALSE);
  if (delay_ms == 0)
    send_reply (commands, reply);
  else if (commands->delayed_bytes + g_bytes_get_size (reply) > HOST_COMMANDS_MAX_DELAYED_BYTES)
    reply_error_printf (commands, id, QGA_ERROR_GENERIC_ERROR,
                        "too many delayed replies (over %d bytes pending)",
                        HOST_COMMANDS_MAX_DELAYED_BYTES);
  else
    reply_later (commands, reply, delay_ms);
}

void
host_commands_dispatch (HostCommands *commands, JsonNode *message)
{
  g_autoptr(GError) error = NULL;
  JsonObject *object;
  JsonNode *id;
  JsonNode *arguments;
  const char *name;
  const HostCommand *command;

  if (!JSON_NODE_HOLDS_OBJECT (message))
    {
      reply_error (commands, NULL, QGA_ERROR_GENERIC_ERROR, "QMP input must be a JSON object");
      return;
    }
  object = json_node_get_object (message);
  id = json_object_get_member (object, "id");
  if (!qga_wire_check_command (object, &error))
    {
      reply_gerror (commands, id, error);
      return;
    }

  name = json_object_get_string_member (object, "execute");
  command = host_commands_lookup (name);
  if (command == NULL)
    {
      reply_error_printf (commands, id, QGA_ERROR_COMMAND_NOT_FOUND,
                          "The command %s has not been found", name);
      return;
    }
  if (!command->enabled)
    {
      reply_error_printf (commands, id, QGA_ERROR_GENERIC_ERROR,
                          "The command %s has been disabled for this instance", name);
      return;
    }

  g_debug ("running %s", command->name);
  arguments = json_object_get_member (object, "arguments");
  run_command (commands, command, arguments != NULL ? json_node_get_object (arguments) : NULL, id);
}

guint
host_commands_get_n_delayed (HostCommands *commands)
{
  return g_hash_table_size (commands->delayed);
}

HostCommands *
host_commands_new (HostCommandsReplyFunc reply_func, gpointer user_data,
                   HostClipboard *clipboard)
{
  HostCommands *commands = g_new0 (HostCommands, 1);

  commands->reply_func = reply_func;
  commands->user_data = user_data;
  commands->clipboard = clipboard;
  commands->delayed = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                             delayed_reply_free, NULL);
  return commands;
}

void
host_commands_free (HostCommands *commands)
{
  if (commands == NULL)
    return;
  g_hash_table_unref (commands->delayed);
  g_free (commands);
}
