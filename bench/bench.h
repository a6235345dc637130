/* bench.h: qga-bench, the program behind 'make bench' (docs/PERFORMANCE.md).
 *
 * One program, three modes:
 *   qga-bench --bridge=PATH --host=PATH ...   the driver: starts private
 *       buses and every daemon, measures, prints the table, writes JSON lines
 *   qga-bench --trivial-service=NAME          the D-Bus floor: answers Ping and
 *       Call like the bridge does, and emits HostEvent for each line on stdin
 *   qga-bench --echo-server=SOCKET            the socket floor: answers JSON
 *       commands on a unix socket, parsed and built with json-glib
 *
 * Every figure is compared with a floor measured in the same run, never
 * with a fixed time: the machine may be slow or busy.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define BENCH_BRIDGE_NAME "org.qemu.GuestAgent"
#define BENCH_TRIVIAL_NAME "org.qemu.GuestAgentBench"
#define BENCH_OBJECT_PATH "/org/qemu/GuestAgent"
#define BENCH_INTERFACE "org.qemu.GuestAgent"
#define BENCH_EVENT_NAME "BENCH_FANOUT"

/* Untimed calls of each subject before the timed ones. */
#define BENCH_WARMUP_CALLS 200

/* Any single wait in the bench; past it, the bench is broken. */
#define BENCH_TIMEOUT_MS 20000

#define BENCH_ERROR (bench_error_quark ())
GQuark bench_error_quark (void);

/* --- bench-util.c: time, samples, /proc, sockets -------------------------- */

gint64 bench_now_ns (void);

/* Latency samples in nanoseconds. */
GArray *bench_samples_new (void);
void bench_samples_add (GArray *samples, gint64 ns);
void bench_samples_append (GArray *samples, GArray *more);
/* Nearest-rank percentile (0 < p <= 100) in microseconds; sorts samples. */
double bench_samples_percentile_us (GArray *samples, double p);

/* CPU time of all the threads of a process so far, in ns (0 if unknown). */
gint64 bench_proc_cpu_ns (GPid pid);

/* VmRSS and RssAnon of a process, in KiB (0 if unknown). */
gsize bench_proc_rss_kib (GPid pid);
gsize bench_proc_rss_anon_kib (GPid pid);

int bench_unix_listen (const char *path, GError **error);
int bench_unix_accept (int listen_fd, guint timeout_ms, GError **error);
/* Connect, retrying while the path does not exist or refuses, up to timeout. */
int bench_unix_connect (const char *path, guint timeout_ms, GError **error);
gboolean bench_write_all (int fd, const void *data, gsize length, GError **error);
/* poll() for events (POLLIN, ...); FALSE on timeout. */
gboolean bench_wait_fd (int fd, short events, guint timeout_ms);

/* --- bench-wire.c: the host's end of a qemu-ga style connection ----------- */

/* A blocking JSON client on a unix socket: one command, then its reply.
 * The same code talks to the bridge, to qemu-ga and to the echo server. */
typedef struct _BenchWire BenchWire;

BenchWire *bench_wire_new (int fd);   /* takes fd */
void bench_wire_free (BenchWire *wire);
int bench_wire_get_fd (BenchWire *wire);

/* Send {"execute": command, "id": id} and wait for the reply carrying id
 * (other lines are skipped). Errors: a timeout, EOF, or an error reply. */
gboolean bench_wire_execute (BenchWire *wire, const char *command, gint64 id,
                             GError **error);
/* guest-sync with a fresh id; checks the returned value. */
gboolean bench_wire_sync (BenchWire *wire, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchWire, bench_wire_free)

/* --- bench-servers.c: the floors' server ends ------------------------------ */

int bench_run_trivial_service (const char *name);
int bench_run_echo_server (const char *socket_path);
int bench_run_flood_client (const char *result_path);

/* --- bench-procs.c: private buses and the daemons ------------------------- */

typedef struct _BenchProc BenchProc;

/* Children's stdout and stderr go to log_fd (dup'ed). */
void bench_procs_set_log_fd (int log_fd);

/* Start argv (NULL-terminated) with DBUS_SESSION_BUS_ADDRESS set to
 * bus_address (unless NULL). With stdin_pipe, bench_proc_get_stdin_fd()
 * writes to its stdin. */
BenchProc *bench_proc_spawn (const char *label, const char *bus_address,
                             gboolean stdin_pipe, const char *const *argv,
                             GError **error);
/* qga-bridge, with the environment of the shipped systemd unit. */
BenchProc *bench_proc_spawn_bridge (const char *label, const char *bus_address,
                                    const char *const *argv, GError **error);
GPid bench_proc_get_pid (BenchProc *proc);
const char *bench_proc_get_label (BenchProc *proc);
int bench_proc_get_stdin_fd (BenchProc *proc);
/* FALSE, with error, if it has exited since it was started. */
gboolean bench_proc_check_alive (BenchProc *proc, GError **error);
/* SIGTERM, bounded wait, SIGKILL. FALSE with error if it had already died
 * or did not exit 0. Frees proc. */
gboolean bench_proc_stop (BenchProc *proc, GError **error);

/* A private dbus-daemon (never the machine's own buses). */
typedef struct {
  BenchProc *daemon;
  char *address;
} BenchBus;

BenchBus *bench_bus_start (const char *label, GError **error);
gboolean bench_bus_stop (BenchBus *bus, GError **error);
GDBusConnection *bench_bus_connect (BenchBus *bus, GError **error);
/* The unique name owning name, waiting for one to appear. */
char *bench_bus_wait_owner (GDBusConnection *connection, const char *name,
                            GError **error);
/* One round trip to the bus: everything sent before it has been processed. */
gboolean bench_bus_round_trip (GDBusConnection *connection, GError **error);

/* --- bench-measure.c: the measurements ----------------------------------- */

/* What the measurements run against; set up by the driver. */
typedef struct {
  BenchBus *bus_a;           /* bridge A (host: qga-host), trivial service A */
  BenchBus *bus_b;           /* bridge B (host: the bench), trivial service B */
  char *bridge_b_owner;      /* unique names: the fan-out's signal senders */
  char *trivial_b_owner;
  char *echo_socket;         /* the echo server's socket */
  BenchWire *bridge_b_wire;  /* the bench as bridge B's host */
  BenchWire *qemu_ga_wire;   /* NULL without qemu-ga */
  BenchProc *trivial_b;      /* its stdin takes the fan-out triggers */
  const char *self;          /* this program, for the flooding client */
  const char *tmpdir;
  GPid bridge_a_pid, host_pid, trivial_a_pid, echo_pid, bridge_b_pid, qemu_ga_pid;
} BenchSetup;

typedef struct {
  guint calls;               /* round trips per subject */
  guint round;               /* calls per subject before switching */
  guint clients;             /* concurrency: connections */
  guint in_flight;           /* concurrency: calls in flight per connection */
  guint calls_per_client;    /* concurrency: calls per connection per round */
  guint concurrency_rounds;
  guint fanout_events;       /* events per subscriber count and subject */
} BenchPlan;

/* 1. Guest to host round trips: Ping through bridge A to qga-host, Ping to
 * trivial service A, and host-ping to the echo server. Appends samples. */
gboolean bench_measure_round_trip (const BenchSetup *setup, const BenchPlan *plan,
                                   GArray *bridge, GArray *dbus_floor,
                                   GArray *socket_floor, GError **error);

/* 2. Host to guest: guest-ping from the bench to bridge B and to qemu-ga. */
gboolean bench_measure_host_to_guest (const BenchSetup *setup, const BenchPlan *plan,
                                      GArray *bridge, GArray *qemu_ga, GError **error);

/* 3. Concurrency: calls per second through bridge A and to trivial service A.
 * Every reply is checked against what its own caller sent. */
gboolean bench_measure_concurrency (const BenchSetup *setup, const BenchPlan *plan,
                                    double *bridge_rate, double *floor_rate,
                                    GError **error);

/* 4. Fan-out: from the event's write until the last of n_subscribers has
 * the signal, from bridge B and from trivial service B. */
gboolean bench_measure_fanout (const BenchSetup *setup, const BenchPlan *plan,
                               guint n_subscribers, GArray *bridge, GArray *trivial,
                               GError **error);

/* --- bench-flood.c: 7. a flooding client ---------------------------------
 *
 * Another client's Ping through bridge A without and with one connection
 * flooding it with Pings (appends samples to quiet and flooded, adds the
 * flood's refused and answered calls). */
gboolean bench_measure_flood (const BenchSetup *setup, const BenchPlan *plan, GArray *quiet,
                              GArray *flooded, guint64 *refused, guint64 *answered,
                              GError **error);
/* The p99 ratio against the 3x target, OK or MISS, on stdout. */
/* 7: the flooding connection keeps this many Pings in flight. */
#define BENCH_FLOOD_IN_FLIGHT 256

/* --- bench-clipboard.c: 6. clipboard transfers ---------------------------
 *
 * A guest program (this process: its D-Bus calls on the main loop, its
 * pipe end on a thread) -> qga-session (on its own private session bus S)
 * -> qga-bridge C (on private bus C, which is qga-session's "system bus")
 * -> the port -> this process as the host, speaking the wire with
 * json-glib. The floor is the same host code against the clipboard floor
 * server (bench-servers.c): json-glib on both ends of a unix socket, the
 * same chunks, window and acknowledgements, no D-Bus and no daemon of ours. */

#define BENCH_CLIP_N_SIZES 5
#define BENCH_CLIP_N_DIRECTIONS 2    /* 0 host->guest, 1 guest->host */
#define BENCH_CLIP_CHUNK 49152       /* docs/CLIPBOARD.md: 48 KiB decoded per chunk */
#define BENCH_CLIP_WINDOW 8
#define BENCH_CLIP_TYPE "application/octet-stream"

extern const guint64 bench_clip_sizes[BENCH_CLIP_N_SIZES];
extern const char *const bench_clip_direction_names[BENCH_CLIP_N_DIRECTIONS];

typedef enum {
  BENCH_CLIP_REAL,             /* through qga-session and qga-bridge */
  BENCH_CLIP_FLOOR,            /* the json-glib socket floor */
  BENCH_CLIP_N_SUBJECTS
} BenchClipSubject;

/* CPU time over the transfers of one direction, all sizes. */
typedef enum {
  BENCH_CLIP_CPU_BRIDGE,       /* qga-bridge C, during the real transfers */
  BENCH_CLIP_CPU_SESSION,      /* qga-session, during the real transfers */
  BENCH_CLIP_CPU_BENCH_REAL,   /* this process (host and guest program), real transfers */
  BENCH_CLIP_CPU_FLOOR,        /* the floor server, during the floor's transfers */
  BENCH_CLIP_CPU_BENCH_FLOOR,  /* this process (host), the floor's transfers */
  BENCH_CLIP_N_CPU
} BenchClipCpu;

typedef struct {
  gsize rss_kib;               /* VmRSS */
  gsize hwm_kib;               /* VmHWM (peak) */
} BenchClipRss;

/* All passes: durations in ns per transfer; CPU and bytes summed. */
typedef struct {
  guint passes;
  GArray *times[BENCH_CLIP_N_DIRECTIONS][BENCH_CLIP_N_SIZES][BENCH_CLIP_N_SUBJECTS];
  gint64 cpu_ns[BENCH_CLIP_N_DIRECTIONS][BENCH_CLIP_N_CPU];
  guint64 cpu_bytes[BENCH_CLIP_N_DIRECTIONS][BENCH_CLIP_N_SUBJECTS];
  BenchClipRss bridge_idle, session_idle;
  /* The largest peak over all passes, while the largest size moved. */
  BenchClipRss bridge_peak[BENCH_CLIP_N_DIRECTIONS], session_peak[BENCH_CLIP_N_DIRECTIONS];
} BenchClipResults;

typedef struct _BenchClipboard BenchClipboard;

/* Start bus C, bus S, qga-bridge C, qga-session and the floor server in
 * tmpdir; wait until the bridge has the agent and the host capability. */
gboolean bench_clipboard_start (BenchClipboard **clip, const char *bridge_path,
                                const char *session_path, const char *self, const char *tmpdir,
                                GError **error);   /* *clip is set even on failure: stop it */
gboolean bench_clipboard_run_pass (BenchClipboard *clip, guint pass, gboolean quick,
                                   GError **error);
gboolean bench_clipboard_check_alive (BenchClipboard *clip, GError **error);
const BenchClipResults *bench_clipboard_get_results (BenchClipboard *clip);
/* FALSE with error if a daemon had died; frees clip. */
gboolean bench_clipboard_stop (BenchClipboard *clip, GError **error);

/* Shared by both ends (the bench as host, the floor server). Content is a
 * fixed pseudo-random pattern: byte i of every content is the same. */
const guint8 *bench_clip_pattern_at (guint64 offset, gsize length);   /* length <= 65521 */
gboolean bench_clip_pattern_check (guint64 offset, const guint8 *data, gsize length);

/* One wire line, '\n' included, built with JsonBuilder and JsonGenerator. */
char *bench_clip_build_data (JsonGenerator *generator, guint32 transfer, guint32 seq,
                             const guint8 *data, gsize length, gboolean last, gsize *line_length);
char *bench_clip_build_ack (JsonGenerator *generator, guint32 transfer, guint32 seq,
                            gsize *line_length);
char *bench_clip_build_reply (JsonGenerator *generator, JsonNode *id, JsonNode *value,
                              gsize *line_length);
char *bench_clip_build_command (JsonGenerator *generator, const char *command,
                                JsonNode *arguments, gint64 id, gsize *line_length);
/* CLIPBOARD_DATA's data member decoded into buffer (>= BENCH_CLIP_CHUNK bytes). */
gboolean bench_clip_decode_data (JsonObject *data, guint8 *buffer, gsize *length,
                                 guint32 *seq, gboolean *last, GError **error);

/* A guest program's end of a pipe, on a thread: drain (read to EOF, check
 * the pattern) or feed (write size bytes of the pattern, then close). */
typedef struct _BenchPipeJob BenchPipeJob;
BenchPipeJob *bench_pipe_drain_start (int fd);          /* takes fd */
BenchPipeJob *bench_pipe_feed_start (int fd, guint64 size);
/* Join: bytes moved, and when the thread ended (bench_now_ns). */
gboolean bench_pipe_job_finish (BenchPipeJob *job, guint64 *bytes, gint64 *end_ns,
                                GError **error);

int bench_run_clipboard_floor (const char *socket_path);

/* --- bench-report.c: the table and the JSON lines ------------------------ */

#define BENCH_N_FANOUTS 3
#define BENCH_MAX_PASSES 8

extern const guint bench_fanout_sizes[BENCH_N_FANOUTS];

/* CPU time per call of the daemons, all threads: steadier than latency on
 * a busy machine, and it says where the time goes. Each daemon serves one
 * subject only, so its CPU time over a measurement is that subject's. */
typedef enum {
  BENCH_CPU_RTT_BRIDGE,
  BENCH_CPU_RTT_HOST,
  BENCH_CPU_RTT_TRIVIAL,
  BENCH_CPU_RTT_ECHO,
  BENCH_CPU_H2G_BRIDGE,
  BENCH_CPU_H2G_QEMU_GA,
  BENCH_CPU_CONC_BRIDGE,
  BENCH_CPU_CONC_HOST,
  BENCH_CPU_CONC_TRIVIAL,
  BENCH_CPU_N
} BenchCpuIndex;

/* The figures of one pass, or of all passes pooled. */
typedef struct {
  GArray *rtt_bridge;
  GArray *rtt_dbus_floor;
  GArray *rtt_socket_floor;
  GArray *h2g_bridge;
  GArray *h2g_qemu_ga;       /* empty without qemu-ga */
  double rate_bridge;        /* calls per second */
  double rate_floor;
  GArray *fanout_bridge[BENCH_N_FANOUTS];
  GArray *fanout_trivial[BENCH_N_FANOUTS];
  double cpu_us[BENCH_CPU_N];   /* per call; averaged over passes */
} BenchFigures;

void bench_figures_init (BenchFigures *figures);
void bench_figures_clear (BenchFigures *figures);
/* Pool the samples of one pass into all; rates are averaged over passes. */
void bench_figures_add (BenchFigures *all, const BenchFigures *pass, guint n_passes);

typedef struct {
  gsize rss_kib;
  gsize anon_kib;
} BenchRss;

BenchRss bench_rss_of (GPid pid);

typedef struct {
  guint passes;
  BenchRss qemu_ga_idle;     /* zero without qemu-ga */
  BenchRss bridge_a[BENCH_MAX_PASSES + 1];  /* [0] idle, [p] after pass p */
  BenchRss bridge_b[BENCH_MAX_PASSES + 1];
} BenchMemory;

typedef struct _BenchReport BenchReport;

/* Opens path for the JSON lines; the table goes to stdout. */
BenchReport *bench_report_new (const char *path, GError **error);
void bench_report_free (BenchReport *report);

/* The machine, as a JSON line and the table's heading. */
void bench_report_machine (BenchReport *report, const char *qemu_ga_path, guint passes);
/* One pass's figures as JSON lines (pass 0: all pooled). */
void bench_report_figures (BenchReport *report, guint pass, const BenchFigures *figures);
/* The table, and each target with its verdict as a JSON line. */
void bench_report_summary (BenchReport *report, const BenchFigures *all,
                           const BenchMemory *memory, const BenchPlan *plan);
/* 6: the clipboard's JSON lines, table and targets. */
void bench_report_clipboard (BenchReport *report, const BenchClipResults *results);
/* The count of missed targets, last. */
void bench_report_flood (BenchReport *report, GArray *quiet, GArray *flooded, guint64 refused,
                         guint64 answered);
void bench_report_end (BenchReport *report);

G_END_DECLS
