/* fuzz-variant.c: the host's JSON as D-Bus values in the bridge.
 *
 * The input is one message's text from the host. Parsed as the wire
 * parses it, an object goes through both conversions the bridge applies
 * to host data: bridge_stats_to_variant() (HOST_STATS, host-stats and
 * host-info's "hypervisor": typed fields) and
 * bridge_variant_from_json_object() (GetHostInfo). Each result must be an
 * a{sv} in normal form that a D-Bus message can carry: it is serialised
 * in a method return and read back. */
#include "config.h"

#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>

#include "bridge-stats.h"
#include "bridge-variant.h"
#include "fuzz-util.h"
#include "qga-wire.h"

static void
check_dbus_value (GVariant *value)
{
  g_autoptr(GDBusMessage) message = NULL;
  g_autoptr(GDBusMessage) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guchar *blob = NULL;
  gsize size;

  g_assert (g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT));
  g_assert (g_variant_is_normal_form (value));
  message = g_dbus_message_new_signal ("/org/qemu/GuestAgent", "org.qemu.GuestAgent", "HostStats");
  g_dbus_message_set_body (message, g_variant_new_tuple (&value, 1));
  blob = g_dbus_message_to_blob (message, &size, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
  if (blob == NULL)
    {
      fprintf (stderr, "D-Bus cannot carry our value: %s\n", error->message);
      abort ();
    }
  again = g_dbus_message_new_from_blob (blob, size, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
  if (again == NULL)
    {
      fprintf (stderr, "D-Bus cannot read back our value: %s\n", error->message);
      abort ();
    }
  g_assert (g_variant_equal (g_dbus_message_get_body (message), g_dbus_message_get_body (again)));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) info = NULL;

  fuzz_init ();
  root = qga_wire_parse ((const char *) data, size, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return 0;
  stats = g_variant_ref_sink (bridge_stats_to_variant (json_node_get_object (root)));
  check_dbus_value (stats);
  info = g_variant_ref_sink (bridge_variant_from_json_object (json_node_get_object (root)));
  check_dbus_value (info);
  return 0;
}
