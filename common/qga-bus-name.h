/* qga-bus-name.h: owning a daemon's well-known bus name.
 *
 * RequestName is called directly, rather than through g_bus_own_name(), so
 * that a refusal can say why (the bus's own error text names the policy),
 * and a daemon started while another instance serves exits at once with
 * a message instead of queueing. The name allows replacement, so that
 * --replace can take it over; NameLost then tells the old instance.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  QGA_BUS_NAME_ACQUIRED,
  QGA_BUS_NAME_REFUSED,    /* message says why */
  QGA_BUS_NAME_LOST,       /* another instance replaced us */
} QgaBusNameEvent;

typedef void (*QgaBusNameFunc) (QgaBusNameEvent event, const char *message, gpointer user_data);

typedef struct _QgaBusName QgaBusName;

/* func is called once with ACQUIRED or REFUSED, and after ACQUIRED with
 * LOST if that happens. */
QgaBusName *qga_bus_name_own (GDBusConnection *connection, const char *name, gboolean replace,
                              QgaBusNameFunc func, gpointer user_data);

/* No call follows. */
void qga_bus_name_free (QgaBusName *owner);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QgaBusName, qga_bus_name_free)

G_END_DECLS
