/* bridge-variant.c: JSON → GVariant (see bridge-variant.h). */
#include "config.h"

#include "bridge-variant.h"
#include "qga-wire.h"

static GVariant *from_node (JsonNode *node, guint depth);

static GVariant *
from_object (JsonObject *object, guint depth)
{
  GVariantBuilder builder;
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &name, &member))
    {
      GVariant *value = from_node (member, depth + 1);

      if (value != NULL)
        g_variant_builder_add (&builder, "{sv}", name, value);
    }
  return g_variant_builder_end (&builder);
}

static gboolean
all_elements_hold (JsonArray *array, JsonNodeType type, GType value_type)
{
  guint n = json_array_get_length (array);

  if (n == 0)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (JSON_NODE_TYPE (element) != type)
        return FALSE;
      if (type == JSON_NODE_VALUE && json_node_get_value_type (element) != value_type)
        return FALSE;
    }
  return TRUE;
}

static GVariant *
from_array (JsonArray *array, guint depth)
{
  GVariantBuilder builder;
  guint n = json_array_get_length (array);

  if (all_elements_hold (array, JSON_NODE_VALUE, G_TYPE_STRING))
    {
      g_variant_builder_init (&builder, G_VARIANT_TYPE_STRING_ARRAY);
      for (guint i = 0; i < n; i++)
        g_variant_builder_add (&builder, "s", json_array_get_string_element (array, i));
      return g_variant_builder_end (&builder);
    }
  if (all_elements_hold (array, JSON_NODE_OBJECT, G_TYPE_INVALID))
    {
      g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
      for (guint i = 0; i < n; i++)
        g_variant_builder_add_value (&builder,
                                     from_object (json_array_get_object_element (array, i), depth + 1));
      return g_variant_builder_end (&builder);
    }
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < n; i++)
    {
      GVariant *element = from_node (json_array_get_element (array, i), depth + 1);

      if (element != NULL)
        g_variant_builder_add (&builder, "v", element);
    }
  return g_variant_builder_end (&builder);
}

static GVariant *
from_value (JsonNode *node)
{
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      return g_variant_new_string (json_node_get_string (node));
    case G_TYPE_BOOLEAN:
      return g_variant_new_boolean (json_node_get_boolean (node));
    case G_TYPE_INT64:
      return g_variant_new_int64 (json_node_get_int (node));
    default:
      return g_variant_new_double (json_node_get_double (node));
    }
}

static GVariant *
from_node (JsonNode *node, guint depth)
{
  if (JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (depth >= BRIDGE_VARIANT_MAX_DEPTH && !JSON_NODE_HOLDS_VALUE (node))
    {
      g_autofree char *text = qga_wire_to_string (node);

      return g_variant_new_string (text);
    }
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      return from_object (json_node_get_object (node), depth);
    case JSON_NODE_ARRAY:
      return from_array (json_node_get_array (node), depth);
    default:
      return from_value (node);
    }
}

GVariant *
bridge_variant_from_json_object (JsonObject *object)
{
  return from_object (object, 0);
}
