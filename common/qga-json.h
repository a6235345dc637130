/* qga-json.h: JSON text to trees, and the generator for trees to text.
 *
 * json-glib sets up a new scanner for every text it parses, which costs
 * more than the rest of the work on a small message; creating a parser or
 * generator costs about as much again. Strict JSON without escapes (nearly
 * every message) is parsed here directly into the tree json-glib would
 * build; anything else goes to json-glib, so what is accepted, and every
 * error text, stay json-glib's. One parser and one generator per thread
 * are kept and reused.
 *
 * The input must already have passed the framer's checks (qga-framer.h)
 * and be valid UTF-8: this layer adds no limits of its own.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The tree of one JSON value (sealed), or NULL with json-glib's error. */
JsonNode *qga_json_parse (const char *text, gsize length, GError **error);

/* This thread's generator; set its root, generate, then set it to NULL. */
JsonGenerator *qga_json_thread_generator (void);

G_END_DECLS
