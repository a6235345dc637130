/* host-stats.h: what qga-host tells the guest about the host and the VM
 * (docs/HOST-STATS.md §1).
 *
 * A HostStats lives as long as the program. It holds the allow-list
 * (--stats-allow) and, given --qmp, the QMP client (host-qmp.h) that
 * supplies the hypervisor fields. It builds:
 *  - the host-stats object (also the data of HOST_STATS): the host fields,
 *    read from /proc and sysconf() when it is built, and "balloon";
 *  - host-info's "hypervisor" object.
 * A field that the allow-list refuses is absent and its source is never
 * read (nor queried over QMP); a field that cannot be read is absent too,
 * never zero or made up. Strings longer than HOST_STATS_MAX_STRING bytes,
 * or not valid UTF-8, count as unreadable.
 *
 * The hypervisor fields come from the QMP client's cache; before building
 * an answer that has some, a caller asks for fresh values with
 * host_stats_refresh(), which may make it wait (at most
 * HOST_QMP_WAIT_MS).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define HOST_STATS_VERSION 1
#define HOST_STATS_MIN_INTERVAL_MS 100
#define HOST_STATS_MAX_INTERVAL_MS 3600000
#define HOST_STATS_MAX_STRING 256

typedef enum {
  HOST_STATS_CPU_COUNT,
  HOST_STATS_CPU_MODEL,
  HOST_STATS_LOAD_AVERAGE,
  HOST_STATS_MEMORY_TOTAL,
  HOST_STATS_MEMORY_AVAILABLE,
  HOST_STATS_UPTIME,
  HOST_STATS_WALL_CLOCK,
  /* from QMP */
  HOST_STATS_QEMU_VERSION,
  HOST_STATS_ACCELERATOR,
  HOST_STATS_VM_NAME,
  HOST_STATS_VCPUS,
  HOST_STATS_BALLOON,
  HOST_STATS_N_FIELDS
} HostStatsField;

/* Sets of fields, as bit masks. */
#define HOST_STATS_BIT(field) (1u << (field))
#define HOST_STATS_ALL ((1u << HOST_STATS_N_FIELDS) - 1)
#define HOST_STATS_HYPERVISOR                                                    \
  (HOST_STATS_BIT (HOST_STATS_QEMU_VERSION) | HOST_STATS_BIT (HOST_STATS_ACCELERATOR) | \
   HOST_STATS_BIT (HOST_STATS_VM_NAME) | HOST_STATS_BIT (HOST_STATS_VCPUS) |             \
   HOST_STATS_BIT (HOST_STATS_BALLOON))
/* What host-stats and HOST_STATS carry. */
#define HOST_STATS_STATS ((HOST_STATS_ALL & ~HOST_STATS_HYPERVISOR) | \
                          HOST_STATS_BIT (HOST_STATS_BALLOON))

/* The field's JSON name, e.g. "cpu-count". */
const char *host_stats_field_name (HostStatsField field);

/* Parse --stats-allow's FIELD,... ("" is the empty set) into a mask.
 * Fails (G_OPTION_ERROR_BAD_VALUE) on an unknown or empty name. */
gboolean host_stats_parse_allow (const char *list, guint *allow, GError **error);

typedef struct _HostStats HostStats;

/* allow: a mask of fields. qmp_path: the VM's QMP socket, or NULL. */
HostStats *host_stats_new (guint allow, const char *qmp_path);
void host_stats_free (HostStats *stats);

guint host_stats_get_allow (HostStats *stats);

/* Connect to QMP now (serve mode) rather than at the first request. */
void host_stats_start (HostStats *stats);

/* Called once the values asked for are fresh, or the wait ended. */
typedef void (*HostStatsReadyFunc) (gpointer user_data);

/* Ask for fresh values of the QMP fields in wanted. Returns 0 if there is
 * nothing to wait for (build the answer now), else a wait id: func is
 * called later from the main loop, exactly once, unless cancelled. */
guint host_stats_refresh (HostStats *stats, guint wanted, HostStatsReadyFunc func,
                          gpointer user_data);
void host_stats_cancel (HostStats *stats, guint wait_id);

/* The host-stats object (a new node): host fields read now, "balloon"
 * from the QMP cache. */
JsonNode *host_stats_build (HostStats *stats);

/* Adds "hypervisor" (when there is a QMP socket) and "host-stats" (the
 * version and interval bounds) to a host-info object. */
void host_stats_add_to_info (HostStats *stats, JsonObject *info);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HostStats, host_stats_free)

G_END_DECLS
