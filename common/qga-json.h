/* qga-json.h: JSON text to trees, and the generator for trees to text.
 *
 * qga_json_parse() is our own strict parser (RFC 8259, plus QEMU's
 * single-quoted strings) building json-glib trees. json-glib's parser is
 * not used on peer input: it sets up a scanner for every text, and
 * version 1.6 leaks the partly built tree of every text that fails to
 * parse. One generator per thread is kept and reused.
 *
 * The input must already have passed the framer's checks (qga-framer.h)
 * and be valid UTF-8.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The tree of one JSON value (sealed), or NULL with an error
 * (JSON_PARSER_ERROR) saying what is wrong and where. */
JsonNode *qga_json_parse (const char *text, gsize length, GError **error);

/* This thread's generator; set its root, generate, then set it to NULL. */
JsonGenerator *qga_json_thread_generator (void);

G_END_DECLS
