/* bridge-stats.c: subscriptions to the host's stats, and their types. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "bridge-stats.h"
#include "qga-callers.h"
#include "qga-error.h"
#include "qga-log.h"

#define BRIDGE_OWNER ":qga-bridge"
#define MAX_STRING 256

typedef enum {
  FIELD_UINT32,            /* u */
  FIELD_UINT64,            /* t */
  FIELD_INT64,             /* x */
  FIELD_DOUBLE,            /* d */
  FIELD_STRING,            /* s */
  FIELD_LOAD,              /* ad, three non-negative numbers */
} FieldType;

static const struct {
  const char *name;
  FieldType type;
} fields[] = {
  { "cpu-count", FIELD_UINT32 },
  { "cpu-model", FIELD_STRING },
  { "load-average", FIELD_LOAD },
  { "memory-total", FIELD_UINT64 },
  { "memory-available", FIELD_UINT64 },
  { "uptime", FIELD_DOUBLE },
  { "wall-clock", FIELD_INT64 },
  { "balloon", FIELD_UINT64 },
  { "qemu-version", FIELD_STRING },
  { "accelerator", FIELD_STRING },
  { "vm-name", FIELD_STRING },
  { "vcpus", FIELD_UINT32 },
};

typedef struct {
  guint32 interval_ms;     /* 0 once it has left */
} Subscriber;

struct _BridgeStats {
  GObject parent;

  GDBusConnection *connection;
  BridgeChannel *channel;
  BridgeDispatcher *dispatcher;
  QgaCallers *subscribers;   /* sender → Subscriber */
  guint32 streaming_ms;      /* the interval asked of the host; 0: none */
  QgaRateLimit bad_input_limit;
};

enum { SIGNAL_UPDATED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (BridgeStats, bridge_stats, G_TYPE_OBJECT)

/* --- types --- */

static gboolean
get_number (JsonNode *node, double *value)
{
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    *value = (double) json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    *value = json_node_get_double (node);
  else
    return FALSE;
  return isfinite (*value);
}

static gboolean
get_int (JsonNode *node, gint64 min, gint64 max, gint64 *value)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return *value >= min && *value <= max;
}

static GVariant *
load_to_variant (JsonNode *node)
{
  double values[3];
  JsonArray *array;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  array = json_node_get_array (node);
  if (json_array_get_length (array) != 3)
    return NULL;
  for (guint i = 0; i < 3; i++)
    if (!get_number (json_array_get_element (array, i), &values[i]) || values[i] < 0)
      return NULL;
  return g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, values, 3, sizeof (double));
}

static GVariant *
field_to_variant (FieldType type, JsonNode *node)
{
  const char *text;
  gint64 integer;
  double number;

  switch (type)
    {
    case FIELD_UINT32:
      return get_int (node, 0, G_MAXUINT32, &integer) ? g_variant_new_uint32 (integer) : NULL;
    case FIELD_UINT64:
      /* JSON integers here are int64: the upper half of t is out of reach */
      return get_int (node, 0, G_MAXINT64, &integer) ? g_variant_new_uint64 (integer) : NULL;
    case FIELD_INT64:
      return get_int (node, G_MININT64, G_MAXINT64, &integer) ? g_variant_new_int64 (integer) : NULL;
    case FIELD_DOUBLE:
      return get_number (node, &number) ? g_variant_new_double (number) : NULL;
    case FIELD_STRING:
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        return NULL;
      text = json_node_get_string (node);
      /* the wire has checked UTF-8 */
      return strlen (text) <= MAX_STRING ? g_variant_new_string (text) : NULL;
    case FIELD_LOAD:
      return load_to_variant (node);
    default:
      return NULL;
    }
}

GVariant *
bridge_stats_to_variant (JsonObject *object)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      JsonNode *node = json_object_get_member (object, fields[i].name);
      GVariant *value;

      if (node == NULL)
        continue;
      value = field_to_variant (fields[i].type, node);
      if (value != NULL)
        g_variant_builder_add (&builder, "{sv}", fields[i].name, value);
      else
        g_debug ("dropping the host's '%s': not of its type or out of range", fields[i].name);
    }
  return g_variant_builder_end (&builder);
}

void
bridge_stats_handle_event (BridgeStats *stats, JsonObject *data)
{
  g_autoptr(GVariant) variant = NULL;

  if (data == NULL)
    {
      qga_rate_limited_warning (&stats->bad_input_limit, "dropping a HOST_STATS event without data");
      return;
    }
  if (stats->streaming_ms == 0)
    g_debug ("HOST_STATS while no one is subscribed");
  variant = g_variant_ref_sink (bridge_stats_to_variant (data));
  g_signal_emit (stats, signals[SIGNAL_UPDATED], 0, variant);
}

/* --- the host's stream --- */

static void
keep_smallest_interval (const char *sender, gpointer record, gpointer user_data)
{
  const Subscriber *subscriber = record;
  guint32 *smallest = user_data;

  if (subscriber->interval_ms > 0 && (*smallest == 0 || subscriber->interval_ms < *smallest))
    *smallest = subscriber->interval_ms;
}

static guint32
wanted_interval (BridgeStats *stats)
{
  guint32 smallest = 0;

  qga_callers_foreach (stats->subscribers, keep_smallest_interval, &smallest);
  return smallest;
}

static void
host_request_done (const BridgeResult *result, gpointer user_data)
{
  if (result->error != NULL)
    g_message ("%s failed: %s", (const char *) user_data, result->error->message);
}

/* Tell the host what is wanted now, if that changed or force. */
static void
update_stream (BridgeStats *stats, gboolean force)
{
  guint32 wanted = wanted_interval (stats);
  g_autoptr(JsonNode) arguments = NULL;
  g_autoptr(GError) error = NULL;
  const char *command;

  if (wanted == stats->streaming_ms && !force)
    return;
  stats->streaming_ms = wanted;
  if (!bridge_channel_is_connected (stats->channel))
    return;   /* asked again on the next connection */
  if (wanted != 0)
    {
      g_autoptr(JsonObject) object = json_object_new ();

      json_object_set_int_member (object, "interval-ms", wanted);
      arguments = json_node_init_object (json_node_alloc (), object);
      command = "host-subscribe";
    }
  else
    command = "host-unsubscribe";
  g_debug ("%s %u ms", command, wanted);
  if (!bridge_dispatcher_request (stats->dispatcher, command, arguments, BRIDGE_OWNER,
                                  host_request_done, (gpointer) command, &error))
    g_message ("cannot send %s: %s", command, error->message);
}

static void
on_connected (BridgeChannel *channel, gpointer user_data)
{
  BridgeStats *stats = user_data;

  if (stats->streaming_ms != 0)
    update_stream (stats, TRUE);
}

/* --- subscribers --- */

/* Every record is a subscription in force: none is evicted. */
static gboolean
subscriber_is_idle (gconstpointer record)
{
  return FALSE;
}

static void
subscriber_vanished (const char *sender, gpointer record, gpointer user_data)
{
  g_debug ("stats subscriber %s left the bus", sender);
  ((Subscriber *) record)->interval_ms = 0;
  update_stream (BRIDGE_STATS (user_data), FALSE);
}

static const QgaCallersFuncs subscriber_funcs = {
  .is_idle = subscriber_is_idle,
  .vanished = subscriber_vanished,
};

gboolean
bridge_stats_subscribe (BridgeStats *stats, const char *sender, guint32 interval_ms,
                        GError **error)
{
  Subscriber *subscriber;

  if (interval_ms == 0)
    {
      g_set_error_literal (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                           "the interval must be at least 1 ms");
      return FALSE;
    }
  subscriber = qga_callers_track (stats->subscribers, sender, error);
  if (subscriber == NULL)
    return FALSE;
  subscriber->interval_ms = CLAMP (interval_ms, BRIDGE_STATS_MIN_INTERVAL_MS,
                                   BRIDGE_STATS_MAX_INTERVAL_MS);
  update_stream (stats, FALSE);
  return TRUE;
}

gboolean
bridge_stats_unsubscribe (BridgeStats *stats, const char *sender)
{
  if (!qga_callers_remove (stats->subscribers, sender))
    return FALSE;
  update_stream (stats, FALSE);
  return TRUE;
}

guint
bridge_stats_get_subscriber_count (BridgeStats *stats)
{
  return qga_callers_count (stats->subscribers);
}

BridgeStats *
bridge_stats_new (GDBusConnection *connection, BridgeChannel *channel,
                  BridgeDispatcher *dispatcher, guint max_subscribers)
{
  BridgeStats *stats = g_object_new (BRIDGE_TYPE_STATS, NULL);

  stats->connection = g_object_ref (connection);
  stats->channel = g_object_ref (channel);
  stats->dispatcher = g_object_ref (dispatcher);
  stats->subscribers = qga_callers_new (connection, max_subscribers, sizeof (Subscriber),
                                        "stats subscribers", &subscriber_funcs, stats);
  bridge_dispatcher_set_stats (dispatcher, stats);
  g_signal_connect_object (channel, "connected", G_CALLBACK (on_connected), stats, 0);
  return stats;
}

static void
bridge_stats_dispose (GObject *object)
{
  BridgeStats *stats = BRIDGE_STATS (object);

  if (stats->subscribers != NULL)
    qga_callers_clear (stats->subscribers);
  if (stats->dispatcher != NULL)
    bridge_dispatcher_set_stats (stats->dispatcher, NULL);
  g_clear_object (&stats->dispatcher);
  g_clear_object (&stats->channel);
  g_clear_object (&stats->connection);
  G_OBJECT_CLASS (bridge_stats_parent_class)->dispose (object);
}

static void
bridge_stats_finalize (GObject *object)
{
  BridgeStats *stats = BRIDGE_STATS (object);

  g_clear_pointer (&stats->subscribers, qga_callers_free);
  qga_rate_limit_clear (&stats->bad_input_limit);
  G_OBJECT_CLASS (bridge_stats_parent_class)->finalize (object);
}

static void
bridge_stats_init (BridgeStats *stats)
{
  stats->bad_input_limit = (QgaRateLimit) QGA_RATE_LIMIT_INIT ("bad stats from the host");
}

static void
bridge_stats_class_init (BridgeStatsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = bridge_stats_dispose;
  object_class->finalize = bridge_stats_finalize;
  signals[SIGNAL_UPDATED] =
    g_signal_new ("updated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_VARIANT);
}
