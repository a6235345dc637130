/* host-qmp.h: a small asynchronous client of a VM's QMP socket.
 *
 * It connects to QEMU's QMP unix socket, reads the greeting, negotiates
 * capabilities (qmp_capabilities), then asks query-version, query-kvm,
 * query-name, query-cpus-fast and query-balloon (only those whose fields
 * the allow-list lets through) and keeps the answers in a cache.
 *
 * Policy:
 *  - One connection, kept open. The static fields (version, accelerator,
 *    name) are asked once per connection; the ones that change (vcpus,
 *    balloon) are asked again by each refresh, which a request that needs
 *    them starts (host-info, host-stats, each HOST_STATS tick). Requests
 *    that arrive while a round of queries is in flight join it; a refresh
 *    within HOST_QMP_FRESH_MS of the last one uses the cache.
 *  - Every step (the greeting, each reply) must come within
 *    HOST_QMP_STEP_TIMEOUT_MS, and nobody waits for QMP longer than
 *    HOST_QMP_WAIT_MS: a socket that accepts and never answers delays an
 *    answer by that much at most, and the answer lacks the fields.
 *  - Any failure (connect, timeout, bad greeting, the socket closing)
 *    drops the connection and empties the cache: the hypervisor fields are
 *    absent until a new connection has answered. A new connection is tried
 *    after a back-off (1 s after the first failure, doubling up to
 *    HOST_QMP_MAX_BACKOFF_MS, back to 1 s after a success): by itself
 *    after host_qmp_start() (serve mode), and by the first request after
 *    it. Only the first connection (at startup in serve mode, else at the
 *    first request) makes requests wait: after a failure, connecting again
 *    goes on in the background, and requests are answered at once from
 *    the (empty) cache.
 *    A failure is logged as a warning (rate-limited), the same failure
 *    again only as a debug message; the first success after failures is
 *    logged once.
 *  - Asynchronous events from QEMU are ignored; replies are matched by
 *    their integer "id". An error reply leaves its field absent
 *    (query-balloon's DeviceNotActive, a VM without a balloon, quietly).
 *  - Everything QEMU sends is checked as untrusted: at most
 *    HOST_QMP_MAX_MESSAGE_SIZE bytes a message, types checked, strings
 *    over HOST_STATS_MAX_STRING bytes dropped.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define HOST_QMP_STEP_TIMEOUT_MS 2000
#define HOST_QMP_WAIT_MS 2000
#define HOST_QMP_FRESH_MS 50
#define HOST_QMP_MIN_BACKOFF_MS 1000
#define HOST_QMP_MAX_BACKOFF_MS 60000
#define HOST_QMP_MAX_MESSAGE_SIZE (1024 * 1024)
#define HOST_QMP_MAX_WAITERS 256

typedef struct _HostQmp HostQmp;

typedef void (*HostQmpReadyFunc) (gpointer user_data);

/* allow: the mask of HostStatsField (host-stats.h) that may be queried. */
HostQmp *host_qmp_new (const char *path, guint allow);
void host_qmp_free (HostQmp *qmp);

const char *host_qmp_get_path (HostQmp *qmp);

/* Connect now, if not connected or connecting (ignores the back-off). */
void host_qmp_start (HostQmp *qmp);

/* See host_stats_refresh(): 0 means use the cache now. */
guint host_qmp_refresh (HostQmp *qmp, HostQmpReadyFunc func, gpointer user_data);
void host_qmp_cancel (HostQmp *qmp, guint wait_id);

/* Add the cached fields that are in mask to object. */
void host_qmp_add_fields (HostQmp *qmp, guint mask, JsonObject *object);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HostQmp, host_qmp_free)

G_END_DECLS
