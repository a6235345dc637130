/* session-relay.h: an owner's content, copied to the bridge through a pipe.
 *
 * When a program supplies clipboard content, the end of its fd is the end
 * of the content, unless the program died: a process that exits closes
 * its fds too, and a truncated content would then reach the host as a
 * whole one. So the agent does not pass the program's fd on. It copies it
 * into a pipe of its own, whose other end goes to the bridge, and at the
 * end of the program's data asks the program, over the session bus, that
 * it is still there (org.freedesktop.DBus.Peer.Ping, which GDBus answers
 * for every connection). Only then does the bridge see the end of the
 * pipe. If the program is gone, "failed" is called first, so that the
 * agent can cancel the transfer with SupplyError.
 *
 * The copy goes through one 64 KiB buffer, at the pace the bridge reads.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _SessionRelay SessionRelay;

/* The content cannot be complete: message says why. Called at most once;
 * the relay has stopped, and the bridge's end of the pipe still sees no
 * end of file until the relay is freed. */
typedef void (*SessionRelayFailedFunc) (SessionRelay *relay, const char *message,
                                        gpointer user_data);

/* Takes source_fd. On success *bridge_fd is the pipe's read end, for the
 * caller to pass on (and close). */
SessionRelay *session_relay_new (int source_fd, GDBusConnection *session_bus, const char *owner,
                                 SessionRelayFailedFunc failed, gpointer user_data,
                                 int *bridge_fd, GError **error);
void session_relay_free (SessionRelay *relay);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SessionRelay, session_relay_free)

G_END_DECLS
