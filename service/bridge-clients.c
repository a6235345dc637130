/* bridge-clients.c: the bridge's D-Bus callers and their requests in flight. */
#include "config.h"

#include "bridge-clients.h"
#include "qga-callers.h"
#include "qga-error.h"

typedef struct {
  guint in_flight;
} Client;

struct _BridgeClients {
  GObject parent;

  QgaCallers *callers;     /* sender → Client */
  guint max_pending;
};

enum { SIGNAL_VANISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (BridgeClients, bridge_clients, G_TYPE_OBJECT)

static gboolean
client_is_idle (gconstpointer record)
{
  return ((const Client *) record)->in_flight == 0;
}

static void
client_vanished (const char *sender, gpointer record, gpointer user_data)
{
  Client *client = record;

  g_debug ("client %s left the bus with %u request(s) in flight", sender, client->in_flight);
  g_signal_emit (BRIDGE_CLIENTS (user_data), signals[SIGNAL_VANISHED], 0, sender);
}

static const QgaCallersFuncs client_funcs = {
  .is_idle = client_is_idle,
  .vanished = client_vanished,
};

gboolean
bridge_clients_acquire (BridgeClients *clients, const char *sender, GError **error)
{
  Client *client = qga_callers_track (clients->callers, sender, error);

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
  Client *client = qga_callers_lookup (clients->callers, sender);

  /* Gone already if the caller left the bus: nothing to count down. */
  if (client != NULL && client->in_flight > 0)
    client->in_flight--;
}

guint
bridge_clients_get_count (BridgeClients *clients)
{
  return qga_callers_count (clients->callers);
}

BridgeClients *
bridge_clients_new (GDBusConnection *connection, guint max_clients, guint max_pending)
{
  BridgeClients *clients = g_object_new (BRIDGE_TYPE_CLIENTS, NULL);

  clients->callers = qga_callers_new (connection, max_clients, sizeof (Client),
                                      "clients with requests in flight", &client_funcs, clients);
  clients->max_pending = MAX (max_pending, 1);
  return clients;
}

static void
bridge_clients_finalize (GObject *object)
{
  BridgeClients *clients = BRIDGE_CLIENTS (object);

  qga_callers_free (clients->callers);
  G_OBJECT_CLASS (bridge_clients_parent_class)->finalize (object);
}

static void
bridge_clients_init (BridgeClients *clients)
{
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
