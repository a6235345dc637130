/* bridge-commands.h: the guest-* commands the host may send, answered as
 * qemu-ga answers them (guest-sync, guest-sync-delimited, guest-ping,
 * guest-info), including qemu-ga's checks and error texts, and
 * guest-clipboard-request, which goes to the clipboard. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "bridge-clipboard.h"

G_BEGIN_DECLS

/* The reply line for one message from the host that is not a reply or an
 * event: a command, or anything malformed. */
GBytes *bridge_commands_handle (JsonNode *request, BridgeClipboard *clipboard);

/* The reply line for bytes that did not frame or parse. */
GBytes *bridge_commands_parse_error (const GError *error);

G_END_DECLS
