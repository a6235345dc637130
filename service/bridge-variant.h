/* bridge-variant.h: JSON values as D-Bus variants.
 *
 * string → s, true/false → b, integer → x, other number → d,
 * object → a{sv} (null members are left out), array of strings only → as,
 * array of objects only → aa{sv}, any other array → av. A value nested
 * deeper than BRIDGE_VARIANT_MAX_DEPTH becomes its JSON text (s), which
 * keeps every result within D-Bus's container nesting limit.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#define BRIDGE_VARIANT_MAX_DEPTH 12

/* A floating a{sv}. */
GVariant *bridge_variant_from_json_object (JsonObject *object);
