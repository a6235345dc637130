/* bridge-clients.c: D-Bus callers tracked with name watches. */
#include "config.h"

#include "bridge-clients.h"
#include "qga-error.h"

typedef struct {
  char *sender;
  guint watch_id;
  guint in_flight;
} Client;

struct _BridgeClients {
  GObject parent;

  GDBusConnection *connection;
  GHashTable *by_sender;   /* sender → Client */
  guint max_clients;
  guint max_pending;
};

enum { SIGNAL_VANISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (BridgeClients, bridge_clients, G_TYPE_OBJECT)

static void
client_free (Client *client)
{
  if (client->watch_id != 0)
    g_bus_unwatch_name (client->watch_id);
  g_free (client->sender);
  g_free (client);
}

static void
on_name_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  BridgeClients *clients = user_data;
  g_autofree char *sender = g_strdup (name);
  Client *client = g_hash_table_lookup (clients->by_sender, sender);

  if (client == NULL)
    return;
  g_debug ("client %s left the bus with %u request(s) in flight", sender, client->in_flight);
  g_hash_table_remove (clients->by_sender, sender);
  g_signal_emit (clients, signals[SIGNAL_VANISHED], 0, sender);
}

static gboolean
evict_one_idle (BridgeClients *clients)
{
  GHashTableIter iter;
  Client *client;

  g_hash_table_iter_init (&iter, clients->by_sender);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &client))
    {
      if (client->in_flight == 0)
        {
          g_hash_table_iter_remove (&iter);
          return TRUE;
        }
    }
  return FALSE;
}

static Client *
track (BridgeClients *clients, const char *sender, GError **error)
{
  Client *client;

  if (g_hash_table_size (clients->by_sender) >= clients->max_clients &&
      !evict_one_idle (clients))
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                   "too many clients with requests in flight (limit %u)", clients->max_clients);
      return NULL;
    }
  client = g_new0 (Client, 1);
  client->sender = g_strdup (sender);
  g_hash_table_insert (clients->by_sender, client->sender, client);
  /* Added last: if the sender is already gone, this reports it at once. */
  client->watch_id = g_bus_watch_name_on_connection (clients->connection, sender,
                                                     G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                     NULL, on_name_vanished,
                                                     clients, NULL);
  return client;
}

gboolean
bridge_clients_acquire (BridgeClients *clients, const char *sender, GError **error)
{
  Client *client = g_hash_table_lookup (clients->by_sender, sender);

  if (client == NULL)
    client = track (clients, sender, error);
  if (client == NULL)
    return FALSE;
  if (client->in_flight >= clients->max_pending)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED,
                   "too many requests in flight from %s (limit %u)", sender, clients->max_pending);
      return FALSE;
    }
  client->in_flight++;
  return TRUE;
}

void
bridge_clients_release (BridgeClients *clients, const char *sender)
{
  Client *client = g_hash_table_lookup (clients->by_sender, sender);

  /* Gone already if the caller left the bus: nothing to count down. */
  if (client != NULL && client->in_flight > 0)
    client->in_flight--;
}

guint
bridge_clients_get_count (BridgeClients *clients)
{
  return g_hash_table_size (clients->by_sender);
}

BridgeClients *
bridge_clients_new (GDBusConnection *connection, guint max_clients, guint max_pending)
{
  BridgeClients *clients = g_object_new (BRIDGE_TYPE_CLIENTS, NULL);

  clients->connection = g_object_ref (connection);
  clients->max_clients = MAX (max_clients, 1);
  clients->max_pending = MAX (max_pending, 1);
  return clients;
}

static void
bridge_clients_finalize (GObject *object)
{
  BridgeClients *clients = BRIDGE_CLIENTS (object);

  g_hash_table_destroy (clients->by_sender);
  g_clear_object (&clients->connection);
  G_OBJECT_CLASS (bridge_clients_parent_class)->finalize (object);
}

static void
bridge_clients_init (BridgeClients *clients)
{
  clients->by_sender = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                              (GDestroyNotify) client_free);
}

static void
bridge_clients_class_init (BridgeClientsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = bridge_clients_finalize;

  signals[SIGNAL_VANISHED] =
    g_signal_new ("vanished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}
