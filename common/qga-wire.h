/* qga-wire.h: the messages of the qemu-ga wire protocol, both directions.
 *
 * Four kinds of message travel each way (docs/PROTOCOL.md):
 *   command  {"execute": NAME, "arguments": {...}, "id": ID}
 *   return   {"return": VALUE, "id": ID}
 *   error    {"error": {"class": CLASS, "desc": TEXT}, "id": ID}
 *   event    {"event": NAME, "data": {...}, "timestamp": {"seconds": S, "microseconds": US}}
 * Every message is written as one line of JSON followed by '\n'.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define QGA_WIRE_SENTINEL 0xFF  /* precedes a guest-sync-delimited reply */

typedef enum {
  QGA_WIRE_INVALID,
  QGA_WIRE_COMMAND,
  QGA_WIRE_RETURN,
  QGA_WIRE_ERROR,
  QGA_WIRE_EVENT,
} QgaWireKind;

/* Parse one framed message. Checks UTF-8 before json-glib sees it. */
JsonNode *qga_wire_parse (const char *text, gsize length, GError **error);

/* What an object is, by its first distinguishing member; anything that is
 * not an object, or has none of execute/return/error/event, is INVALID. */
QgaWireKind qga_wire_classify (JsonNode *root);

/* Builders. id and arguments/data may be NULL (omitted). The result is one
 * line, '\n' included, prefixed with 0xFF when delimited is TRUE. */
GBytes *qga_wire_build_command (const char *name, JsonNode *arguments, JsonNode *id);
GBytes *qga_wire_build_return (JsonNode *value, JsonNode *id, gboolean delimited);
GBytes *qga_wire_build_error (const char *error_class, const char *desc,
                              JsonNode *id, gboolean delimited);
GBytes *qga_wire_build_event (const char *name, JsonNode *data);

/* An event whose data the caller writes as text (bulk data, where a
 * JsonNode would cost a copy): begin returns the line up to '"data":',
 * with room for reserve more bytes; the caller appends one JSON object,
 * which must be valid and free of raw control bytes; end adds the
 * timestamp and '\n' and frees the GString. */
GString *qga_wire_begin_event (const char *name, gsize reserve);
GBytes *qga_wire_end_event (GString *line);

/* Check a command's envelope as qemu's qmp_dispatch_check_obj() does:
 * "execute" present and a string, "arguments" an object, "id" anything,
 * no other member. Errors are QGA_ERROR_GENERIC_ERROR with qemu's texts. */
gboolean qga_wire_check_command (JsonObject *request, GError **error);

/* What guest-info and host-info say of one command. */
typedef struct {
  const char *name;
  gboolean enabled;
  gboolean success_response;
} QgaWireCommandInfo;

/* The return value of guest-info / host-info: {"version": VERSION,
 * "supported_commands": [{"enabled", "name", "success-response"}, ...]},
 * members in qemu-ga's order. */
JsonNode *qga_wire_build_info (const char *version, const QgaWireCommandInfo *commands,
                               gsize n_commands);

/* The text of a JSON value, compact, on one line. */
char *qga_wire_to_string (JsonNode *node);

/* Parse a caller-supplied JSON text that must be an object (arguments or
 * event data). Empty text means {}. Applies the same checks as the wire. */
JsonNode *qga_wire_parse_object (const char *text, gsize max_size, GError **error);

/* Name rules: commands are host-[a-z0-9-]+ or guest-[a-z0-9-]+ (with
 * the given prefix), events are [A-Z][A-Z0-9_]*; both at most 128 bytes. */
gboolean qga_wire_command_name_is_valid (const char *name, const char *prefix);
gboolean qga_wire_event_name_is_valid (const char *name);

/* A member's string value, or NULL if absent or of another type. Unlike
 * json_object_get_string_member_with_default(), never warns: the object
 * comes from the peer, and a wrong type is the peer's error, not ours. */
const char *qga_wire_get_string_member (JsonObject *object, const char *name);

/* An integer id member from a reply, if it is one. */
gboolean qga_wire_get_int_id (JsonObject *object, gint64 *id);

G_END_DECLS
