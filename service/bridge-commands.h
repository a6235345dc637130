/* bridge-commands.h: the guest-* commands the host may send, answered as
 * qemu-ga answers them (guest-sync, guest-sync-delimited, guest-ping,
 * guest-info), including qemu-ga's checks and error texts. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The reply line for one message from the host that is not a reply or an
 * event: a command, or anything malformed. */
GBytes *bridge_commands_handle (JsonNode *request);

/* The reply line for bytes that did not frame or parse. */
GBytes *bridge_commands_parse_error (const GError *error);

G_END_DECLS
