/* qga-bus-budget.c: bytes handed to GDBus, until a flush confirms them. */
#include "config.h"

#include "qga-bus-budget.h"

/* Below this many unconfirmed bytes no flush is started: a flush costs a
 * round trip to GDBus's worker thread and a wakeup of the main loop, which
 * for a message at a time would be a tenth of a call's cost. Bytes below
 * it may stay counted after they were written; the limit is far above. */
#define FLUSH_THRESHOLD (64 * 1024)

struct _QgaBusBudget {
  GObject parent;

  GDBusConnection *connection;
  GCancellable *cancellable;
  gsize limit;
  gsize flushing;          /* charged before the flush in progress began */
  gsize fresh;             /* charged since */
  gboolean holding;
};

enum { SIGNAL_HOLD_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (QgaBusBudget, qga_bus_budget, G_TYPE_OBJECT)

static void maybe_flush (QgaBusBudget *budget);

static void
set_holding (QgaBusBudget *budget, gboolean holding)
{
  if (budget->holding == holding)
    return;
  budget->holding = holding;
  g_signal_emit (budget, signals[SIGNAL_HOLD_CHANGED], 0, holding);
}

static void
update_holding (QgaBusBudget *budget)
{
  gsize unconfirmed = budget->flushing + budget->fresh;

  if (unconfirmed > budget->limit)
    set_holding (budget, TRUE);
  else if (unconfirmed <= budget->limit / 2)
    set_holding (budget, FALSE);
}

static void
on_flushed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  QgaBusBudget *budget;

  /* On failure the connection is closed, and the bridge exits. */
  if (!g_dbus_connection_flush_finish (G_DBUS_CONNECTION (source), result, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  budget = QGA_BUS_BUDGET (user_data);
  budget->flushing = 0;
  maybe_flush (budget);
  update_holding (budget);
}

static void
maybe_flush (QgaBusBudget *budget)
{
  if (budget->flushing > 0 || budget->fresh < FLUSH_THRESHOLD)
    return;
  budget->flushing = budget->fresh;
  budget->fresh = 0;
  g_dbus_connection_flush (budget->connection, budget->cancellable, on_flushed, budget);
}

void
qga_bus_budget_charge (QgaBusBudget *budget, gsize body_bytes)
{
  if (budget == NULL)
    return;
  budget->fresh += body_bytes + QGA_BUS_MESSAGE_OVERHEAD;
  maybe_flush (budget);
  update_holding (budget);
}

gboolean
qga_bus_budget_is_holding (QgaBusBudget *budget)
{
  return budget->holding;
}

gsize
qga_bus_budget_get_unconfirmed (QgaBusBudget *budget)
{
  return budget->flushing + budget->fresh;
}

QgaBusBudget *
qga_bus_budget_new (GDBusConnection *connection, gsize limit)
{
  QgaBusBudget *budget = g_object_new (QGA_TYPE_BUS_BUDGET, NULL);

  budget->connection = g_object_ref (connection);
  budget->limit = MAX (limit, 2 * FLUSH_THRESHOLD);
  return budget;
}

static void
qga_bus_budget_dispose (GObject *object)
{
  QgaBusBudget *budget = QGA_BUS_BUDGET (object);

  g_cancellable_cancel (budget->cancellable);
  g_clear_object (&budget->connection);
  G_OBJECT_CLASS (qga_bus_budget_parent_class)->dispose (object);
}

static void
qga_bus_budget_finalize (GObject *object)
{
  g_clear_object (&QGA_BUS_BUDGET (object)->cancellable);
  G_OBJECT_CLASS (qga_bus_budget_parent_class)->finalize (object);
}

static void
qga_bus_budget_init (QgaBusBudget *budget)
{
  budget->cancellable = g_cancellable_new ();
}

static void
qga_bus_budget_class_init (QgaBusBudgetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = qga_bus_budget_dispose;
  object_class->finalize = qga_bus_budget_finalize;

  signals[SIGNAL_HOLD_CHANGED] =
    g_signal_new ("hold-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}
