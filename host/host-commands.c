/* host-commands.c: the host-* command table and its dispatcher (see host-commands.h). */
#include "config.h"

#include <string.h>

#include "host-commands.h"
#include "qga-error.h"
#include "qga-log.h"
#include "qga-wire.h"

struct _HostCommands {
  HostCommandsReplyFunc reply_func;
  HostCommandsEventFunc event_func;
  gpointer user_data;
  HostClipboard *clipboard;
  HostStats *stats;
  GHashTable *delayed;  /* set of DelayedReply *, owned */
  gsize delayed_bytes;
  GHashTable *waiting;  /* set of WaitingCommand *, owned */

  /* the HOST_STATS subscription */
  guint interval_ms;    /* 0: none */
  guint tick_source;
  guint first_source;
  guint tick_wait;      /* the tick waiting for fresh QMP fields */
};

/* A command whose answer waits for fresh QMP fields. */
typedef struct {
  HostCommands *commands;
  const HostCommand *command;
  JsonObject *arguments;  /* a reference, or NULL */
  JsonNode *id;           /* a copy, or NULL */
  guint wait_id;
} WaitingCommand;

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
static JsonNode *host_stats (HostCommands *commands, JsonObject *arguments, guint *delay_ms,
                             GError **error);
static JsonNode *host_subscribe (HostCommands *commands, JsonObject *arguments,
                                 guint *delay_ms, GError **error);
static JsonNode *host_unsubscribe (HostCommands *commands, JsonObject *arguments,
                                   guint *delay_ms, GError **error);

static const HostCommand command_table[] = {
  { "host-ping", host_ping, TRUE, TRUE, FALSE, 0 },
  { "host-info", host_info, TRUE, TRUE, FALSE, HOST_STATS_HYPERVISOR },
  { "host-echo", host_echo, TRUE, TRUE, FALSE, 0 },
  { QGA_CLIPBOARD_HOST_REQUEST, host_clipboard_request, TRUE, TRUE, FALSE, 0 },
  { "host-stats", host_stats, TRUE, TRUE, TRUE, HOST_STATS_BIT (HOST_STATS_BALLOON) },
  { "host-subscribe", host_subscribe, TRUE, TRUE, FALSE, 0 },
  { "host-unsubscribe", host_unsubscribe, TRUE, TRUE, TRUE, 0 },
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
  if (commands->clipboard == NULL && commands->stats == NULL)
    return g_steal_pointer (&base);
  /* The built tree is sealed: copy its members into a new object. */
  base_object = json_node_get_object (base);
  object = json_object_new ();
  members = json_object_get_members (base_object);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (object, l->data,
                            json_node_copy (json_object_get_member (base_object, l->data)));
  if (commands->clipboard != NULL)
    json_object_set_member (object, "clipboard",
                            qga_clipboard_capability_new (
                              host_clipboard_get_max_size (commands->clipboard)));
  if (commands->stats != NULL)
    host_stats_add_to_info (commands->stats, object);
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

/* --- host stats --- */

static gboolean
check_stats (HostCommands *commands, GError **error)
{
  if (commands->stats != NULL)
    return TRUE;
  g_set_error_literal (error, QGA_ERROR, QGA_ERROR_NOT_SUPPORTED, "the host has no stats");
  return FALSE;
}

static JsonNode *
host_stats (HostCommands *commands, JsonObject *arguments, guint *delay_ms, GError **error)
{
  if (!check_stats (commands, error))
    return NULL;
  return host_stats_build (commands->stats);
}

static void
send_stats_event (HostCommands *commands)
{
  g_autoptr(JsonNode) data = host_stats_build (commands->stats);
  g_autoptr(GBytes) event = qga_wire_build_event ("HOST_STATS", data);

  commands->event_func (event, commands->user_data);
}

static void
tick_ready_cb (gpointer user_data)
{
  HostCommands *commands = user_data;

  commands->tick_wait = 0;
  if (commands->interval_ms != 0)
    send_stats_event (commands);
}

static void
tick (HostCommands *commands)
{
  if (commands->tick_wait != 0)
    return;  /* the last one still waits for QMP: skip this one */
  commands->tick_wait = host_stats_refresh (commands->stats, HOST_STATS_BIT (HOST_STATS_BALLOON),
                                            tick_ready_cb, commands);
  if (commands->tick_wait == 0)
    send_stats_event (commands);
}

static gboolean
tick_cb (gpointer user_data)
{
  tick (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
first_tick_cb (gpointer user_data)
{
  HostCommands *commands = user_data;

  commands->first_source = 0;
  tick (commands);
  return G_SOURCE_REMOVE;
}

static void
unsubscribe (HostCommands *commands)
{
  if (commands->interval_ms != 0)
    g_debug ("HOST_STATS subscription ended");
  commands->interval_ms = 0;
  g_clear_handle_id (&commands->tick_source, g_source_remove);
  g_clear_handle_id (&commands->first_source, g_source_remove);
  if (commands->tick_wait != 0)
    host_stats_cancel (commands->stats, commands->tick_wait);
  commands->tick_wait = 0;
}

/* The first event once the reply is out (an idle runs after it is
 * queued), then one every interval. */
static void
subscribe (HostCommands *commands, guint interval_ms)
{
  unsubscribe (commands);
  g_debug ("HOST_STATS every %u ms", interval_ms);
  commands->interval_ms = interval_ms;
  commands->first_source = g_idle_add (first_tick_cb, commands);
  commands->tick_source = g_timeout_add (interval_ms, tick_cb, commands);
}

static gboolean
check_arguments (JsonObject *arguments, const char *const *known, GError **error)
{
  g_autoptr(GList) members = arguments != NULL ? json_object_get_members (arguments) : NULL;

  for (GList *l = members; l != NULL; l = l->next)
    if (known == NULL || !g_strv_contains (known, l->data))
      {
        g_autofree char *cut = qga_log_excerpt (l->data, strlen (l->data));

        g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR, "Parameter '%s' is unexpected",
                     cut);
        return FALSE;
      }
  return TRUE;
}

static JsonNode *
host_subscribe (HostCommands *commands, JsonObject *arguments, guint *delay_ms, GError **error)
{
  static const char *const known[] = { "interval-ms", NULL };
  g_autoptr(JsonObject) result = NULL;
  JsonNode *node;
  gint64 value;

  if (!check_arguments (arguments, known, error))
    return NULL;
  node = arguments != NULL ? json_object_get_member (arguments, "interval-ms") : NULL;
  if (node == NULL)
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                           "Parameter 'interval-ms' is missing");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error_literal (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                           "Invalid parameter type for 'interval-ms', expected: integer");
      return NULL;
    }
  value = json_node_get_int (node);
  if (value < 1 || value > G_MAXUINT32)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "Parameter 'interval-ms' must be between 1 and %u", G_MAXUINT32);
      return NULL;
    }
  if (!check_stats (commands, error))
    return NULL;
  value = CLAMP (value, HOST_STATS_MIN_INTERVAL_MS, HOST_STATS_MAX_INTERVAL_MS);
  subscribe (commands, (guint) value);
  result = json_object_new ();
  json_object_set_int_member (result, "interval-ms", value);
  return json_node_init_object (json_node_alloc (), result);
}

static JsonNode *
host_unsubscribe (HostCommands *commands, JsonObject *arguments, guint *delay_ms, GError **error)
{
  unsubscribe (commands);
  return new_empty_object ();
}

guint
host_commands_get_interval (HostCommands *commands)
{
  return commands->interval_ms;
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
  /* The table owns delayed now (its destroy function frees it, or
   * delayed_reply_cb steals and frees it): cppcheck does not know GHashTable. */
  /* cppcheck-suppress memleak */
}

/* --- dispatch --- */

static void
reply_gerror (HostCommands *commands, JsonNode *id, const GError *error)
{
  QgaErrorCode code = error->domain == QGA_ERROR ? error->code : QGA_ERROR_GENERIC_ERROR;

  reply_error (commands, id, code, error->message);
}

static void
run_command_now (HostCommands *commands, const HostCommand *command, JsonObject *arguments,
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

static void
waiting_command_free (gpointer data)
{
  WaitingCommand *waiting = data;

  if (waiting->wait_id != 0)
    host_stats_cancel (waiting->commands->stats, waiting->wait_id);
  g_clear_pointer (&waiting->arguments, json_object_unref);
  g_clear_pointer (&waiting->id, json_node_unref);
  g_free (waiting);
}

static void
waiting_ready_cb (gpointer user_data)
{
  WaitingCommand *waiting = user_data;
  HostCommands *commands = waiting->commands;

  waiting->wait_id = 0;
  g_hash_table_steal (commands->waiting, waiting);
  run_command_now (commands, waiting->command, waiting->arguments, waiting->id);
  waiting_command_free (waiting);
}

static void
run_command (HostCommands *commands, const HostCommand *command, JsonObject *arguments,
             JsonNode *id)
{
  g_autoptr(GError) error = NULL;
  WaitingCommand *waiting;

  if (command->no_arguments && !check_arguments (arguments, NULL, &error))
    {
      reply_gerror (commands, id, error);
      return;
    }
  if (command->fresh_fields == 0 || commands->stats == NULL ||
      g_hash_table_size (commands->waiting) >= HOST_COMMANDS_MAX_WAITING)
    {
      run_command_now (commands, command, arguments, id);
      return;
    }
  waiting = g_new0 (WaitingCommand, 1);
  waiting->commands = commands;
  waiting->command = command;
  waiting->wait_id = host_stats_refresh (commands->stats, command->fresh_fields,
                                         waiting_ready_cb, waiting);
  if (waiting->wait_id == 0)
    {
      g_free (waiting);
      run_command_now (commands, command, arguments, id);
      return;
    }
  waiting->arguments = arguments != NULL ? json_object_ref (arguments) : NULL;
  waiting->id = id != NULL ? json_node_copy (id) : NULL;
  g_hash_table_add (commands->waiting, waiting);
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
host_commands_new (HostCommandsReplyFunc reply_func, HostCommandsEventFunc event_func,
                   gpointer user_data, HostClipboard *clipboard, HostStats *stats)
{
  HostCommands *commands = g_new0 (HostCommands, 1);

  commands->reply_func = reply_func;
  commands->event_func = event_func;
  commands->user_data = user_data;
  commands->clipboard = clipboard;
  commands->stats = stats;
  commands->delayed = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                             delayed_reply_free, NULL);
  commands->waiting = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                             waiting_command_free, NULL);
  return commands;
}

void
host_commands_free (HostCommands *commands)
{
  if (commands == NULL)
    return;
  unsubscribe (commands);
  g_hash_table_unref (commands->waiting);
  g_hash_table_unref (commands->delayed);
  g_free (commands);
}
