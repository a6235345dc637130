/* host-commands.h: the host-* commands qga-host answers for the guest.
 *
 * The guest (qga-bridge) sends commands named host-*; every one qga-host
 * knows is a row in the table in host-commands.c, with its handler and the
 * flags host-info reports. A handler is synchronous: it returns the "return"
 * value or fails with a GError whose code (QgaErrorCode) gives the wire
 * error class. It may ask for its reply to be sent later (host-echo's
 * "delay-ms"); HostCommands owns those pending replies and drops them when
 * it is freed, i.e. when the guest disconnects.
 *
 * HostCommands validates a command object the way qemu-ga does before
 * running it, and sends every reply through the HostCommandsReplyFunc it
 * was created with.
 *
 * host-clipboard-request is handed to the HostClipboard the HostCommands
 * was created with, and host-info announces that clipboard's capability
 * (docs/CLIPBOARD.md §2). Without a clipboard, host-clipboard-request
 * answers NoData and host-info has no "clipboard" member.
 *
 * host-stats, host-subscribe and host-unsubscribe answer from the
 * HostStats the HostCommands was created with (docs/HOST-STATS.md), and
 * host-info gains its "hypervisor" and "host-stats" members. A command
 * whose answer has QMP fields waits for them to be fresh (at most
 * HOST_QMP_WAIT_MS; see host-qmp.h), so its reply may come after the
 * replies to later commands; at most HOST_COMMANDS_MAX_WAITING wait, and
 * any more are answered from the cache at once. A subscription sends a
 * HOST_STATS event through the HostCommandsEventFunc every interval, the
 * first at once, until host-unsubscribe or until the HostCommands is
 * freed (the connection ended).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "host-clipboard.h"
#include "host-stats.h"

G_BEGIN_DECLS

#define HOST_COMMANDS_MAX_DELAYED 256
#define HOST_COMMANDS_MAX_DELAYED_BYTES (32 * 1024 * 1024)
#define HOST_COMMANDS_MAX_DELAY_MS 10000
#define HOST_COMMANDS_MAX_WAITING 64

typedef struct _HostCommands HostCommands;

/* Called with one complete reply line for the guest. */
typedef void (*HostCommandsReplyFunc) (GBytes *reply, gpointer user_data);

/* Called with one event line of our own (HOST_STATS) for the guest; the
 * receiver may drop it (a guest that does not read). */
typedef void (*HostCommandsEventFunc) (GBytes *event, gpointer user_data);

/* Returns the "return" value (a new node), or NULL with error set. To delay
 * the reply, a handler sets *delay_ms (0 means now). */
typedef JsonNode *(*HostCommandHandler) (HostCommands *commands, JsonObject *arguments,
                                         guint *delay_ms, GError **error);

typedef struct {
  const char *name;
  HostCommandHandler handler;
  gboolean enabled;
  gboolean success_response;  /* FALSE: no reply on success, as qemu-ga's guest-shutdown */
  gboolean no_arguments;      /* TRUE: any argument is an error */
  guint fresh_fields;         /* the QMP fields (host-stats.h mask) its answer has */
} HostCommand;

/* clipboard and stats (not referenced, may be NULL) must outlive the
 * HostCommands. Without stats, host-stats and host-subscribe answer
 * NotSupported. */
HostCommands *host_commands_new (HostCommandsReplyFunc reply_func,
                                 HostCommandsEventFunc event_func, gpointer user_data,
                                 HostClipboard *clipboard, HostStats *stats);
void host_commands_free (HostCommands *commands);

/* Handle one message from the guest that is not a reply or an event: a
 * command, or something that should have been one. Every outcome that
 * qemu-ga would answer is answered, with the message's "id" echoed. */
void host_commands_dispatch (HostCommands *commands, JsonNode *message);

guint host_commands_get_n_delayed (HostCommands *commands);

/* The interval of the HOST_STATS subscription, 0 if none. */
guint host_commands_get_interval (HostCommands *commands);

/* The table, for tests and host-info. */
const HostCommand *host_commands_lookup (const char *name);
const HostCommand *host_commands_get_table (gsize *n_commands);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HostCommands, host_commands_free)

G_END_DECLS
