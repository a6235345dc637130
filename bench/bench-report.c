/* bench-report.c: qga-bench's table (stdout) and JSON lines (results file).
 *
 * Every JSON line is an object with a "type": "machine", "latency",
 * "rate", "cpu", "memory" or "target". Targets carry "status": OK, MISS or SKIP.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "bench.h"

/* Allowed RSS growth between the first and the last pass: a few pages of
 * allocator noise, not a per-call leak (which would be megabytes here). */
#define GROWTH_TOLERANCE_KIB 64

const guint bench_fanout_sizes[BENCH_N_FANOUTS] = { 1, 10, 100 };

struct _BenchReport {
  FILE *out;
  guint misses;
};

/* --- figures -------------------------------------------------------------- */

void
bench_figures_init (BenchFigures *figures)
{
  memset (figures, 0, sizeof *figures);
  figures->rtt_bridge = bench_samples_new ();
  figures->rtt_dbus_floor = bench_samples_new ();
  figures->rtt_socket_floor = bench_samples_new ();
  figures->h2g_bridge = bench_samples_new ();
  figures->h2g_qemu_ga = bench_samples_new ();
  for (guint i = 0; i < BENCH_N_FANOUTS; i++)
    {
      figures->fanout_bridge[i] = bench_samples_new ();
      figures->fanout_trivial[i] = bench_samples_new ();
    }
}

void
bench_figures_clear (BenchFigures *figures)
{
  g_clear_pointer (&figures->rtt_bridge, g_array_unref);
  g_clear_pointer (&figures->rtt_dbus_floor, g_array_unref);
  g_clear_pointer (&figures->rtt_socket_floor, g_array_unref);
  g_clear_pointer (&figures->h2g_bridge, g_array_unref);
  g_clear_pointer (&figures->h2g_qemu_ga, g_array_unref);
  for (guint i = 0; i < BENCH_N_FANOUTS; i++)
    {
      g_clear_pointer (&figures->fanout_bridge[i], g_array_unref);
      g_clear_pointer (&figures->fanout_trivial[i], g_array_unref);
    }
}

void
bench_figures_add (BenchFigures *all, const BenchFigures *pass, guint n_passes)
{
  bench_samples_append (all->rtt_bridge, pass->rtt_bridge);
  bench_samples_append (all->rtt_dbus_floor, pass->rtt_dbus_floor);
  bench_samples_append (all->rtt_socket_floor, pass->rtt_socket_floor);
  bench_samples_append (all->h2g_bridge, pass->h2g_bridge);
  bench_samples_append (all->h2g_qemu_ga, pass->h2g_qemu_ga);
  all->rate_bridge += pass->rate_bridge / n_passes;
  all->rate_floor += pass->rate_floor / n_passes;
  for (guint i = 0; i < BENCH_CPU_N; i++)
    all->cpu_us[i] += pass->cpu_us[i] / n_passes;
  for (guint i = 0; i < BENCH_N_FANOUTS; i++)
    {
      bench_samples_append (all->fanout_bridge[i], pass->fanout_bridge[i]);
      bench_samples_append (all->fanout_trivial[i], pass->fanout_trivial[i]);
    }
}

BenchRss
bench_rss_of (GPid pid)
{
  return (BenchRss) { bench_proc_rss_kib (pid), bench_proc_rss_anon_kib (pid) };
}

/* --- JSON lines ----------------------------------------------------------
 *
 * Written by hand rather than with JsonGenerator, which prints doubles with
 * 17 significant digits (189.90000000000001): figures get one decimal,
 * ratios three. */

BenchReport *
bench_report_new (const char *path, GError **error)
{
  FILE *out = fopen (path, "w");
  BenchReport *report;

  if (out == NULL)
    {
      g_set_error (error, BENCH_ERROR, 0, "cannot write %s: %s", path, g_strerror (errno));
      return NULL;
    }
  report = g_new0 (BenchReport, 1);
  report->out = out;
  return report;
}

void
bench_report_free (BenchReport *report)
{
  if (report == NULL)
    return;
  fclose (report->out);
  g_free (report);
}

static void
add_key (GString *line, const char *name)
{
  g_string_append_printf (line, ",\"%s\":", name);
}

static void
add_string (GString *line, const char *name, const char *value)
{
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;

  add_key (line, name);
  if (value == NULL)
    {
      g_string_append (line, "null");
      return;
    }
  node = json_node_init_string (json_node_alloc (), value);
  text = json_to_string (node, FALSE);
  g_string_append (line, text);
}

static void
add_int (GString *line, const char *name, gint64 value)
{
  add_key (line, name);
  g_string_append_printf (line, "%" G_GINT64_FORMAT, value);
}

static void
add_number (GString *line, const char *name, double value, int decimals)
{
  char text[G_ASCII_DTOSTR_BUF_SIZE];

  add_key (line, name);
  g_string_append (line, g_ascii_formatd (text, sizeof text, decimals == 1 ? "%.1f" : "%.3f", value));
}

static GString *
begin_line (const char *type)
{
  GString *line = g_string_new ("{\"type\":\"");

  g_string_append (line, type);
  g_string_append_c (line, '"');
  return line;
}

static void
write_line (BenchReport *report, GString *line)
{
  g_string_append (line, "}\n");
  fputs (line->str, report->out);
  fflush (report->out);
  g_string_free (line, TRUE);
}

/* --- the machine ---------------------------------------------------------- */

static char *
file_field (const char *path, const char *key)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (key == NULL || g_str_has_prefix (lines[i], key))
      {
        const char *value = key != NULL ? strchr (lines[i], ':') : NULL;

        return g_strstrip (g_strdup (value != NULL ? value + 1 : lines[i]));
      }
  return NULL;
}

static char *
command_output (const char *program, const char *option)
{
  const char *argv[] = { program, option, NULL };
  g_autofree char *out = NULL;
  char *newline;

  if (program == NULL ||
      !g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, &out, NULL, NULL, NULL))
    return NULL;
  newline = strchr (out, '\n');
  if (newline != NULL)
    *newline = '\0';
  return g_strdup (out);
}

void
bench_report_machine (BenchReport *report, const char *qemu_ga_path, guint passes)
{
  GString *line = begin_line ("machine");
  g_autofree char *cpu = file_field ("/proc/cpuinfo", "model name");
  g_autofree char *memory = file_field ("/proc/meminfo", "MemTotal");
  g_autofree char *debian = file_field ("/etc/debian_version", NULL);
  g_autofree char *load = file_field ("/proc/loadavg", NULL);
  g_autofree char *dbus = command_output ("dbus-daemon", "--version");
  g_autofree char *qemu_ga = command_output (qemu_ga_path, "--version");
  g_autofree char *glib = g_strdup_printf ("%u.%u.%u", glib_major_version, glib_minor_version,
                                           glib_micro_version);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *date = g_date_time_format_iso8601 (now);
  struct utsname uts;

  uname (&uts);
  add_string (line, "date", date);
  add_string (line, "cpu", cpu);
  add_int (line, "cores", g_get_num_processors ());
  add_string (line, "memory", memory);
  add_string (line, "kernel", uts.release);
  add_string (line, "debian", debian);
  add_string (line, "glib", glib);
  add_string (line, "json_glib", JSON_VERSION_S);
  add_string (line, "dbus_daemon", dbus);
  add_string (line, "qemu_ga", qemu_ga);
  add_string (line, "loadavg", load);
  add_int (line, "passes", passes);
  write_line (report, line);

  printf ("qga-bench %s, %s\n", PACKAGE_VERSION, date);
  printf ("machine: %s, %u cores, %s, Linux %s, Debian %s\n", cpu ? cpu : "?",
          g_get_num_processors (), memory ? memory : "?", uts.release, debian ? debian : "?");
  printf ("software: GLib %s, json-glib %s, %s, %s\n", glib, JSON_VERSION_S,
          dbus ? dbus : "dbus-daemon ?", qemu_ga ? qemu_ga : "no qemu-ga");
  printf ("load average at start: %s\n\n", load ? load : "?");
  fflush (stdout);
}

/* --- figures as JSON lines ------------------------------------------------ */

static void
write_latency (BenchReport *report, guint pass, const char *test, const char *subject,
               GArray *samples)
{
  GString *line;

  if (samples->len == 0)
    return;
  line = begin_line ("latency");
  add_string (line, "test", test);
  add_string (line, "subject", subject);
  add_int (line, "pass", pass);
  add_int (line, "n", samples->len);
  add_number (line, "p50_us", bench_samples_percentile_us (samples, 50), 1);
  add_number (line, "p99_us", bench_samples_percentile_us (samples, 99), 1);
  write_line (report, line);
}

static void
write_rate (BenchReport *report, guint pass, const char *subject, double rate)
{
  GString *line = begin_line ("rate");

  add_string (line, "test", "concurrency");
  add_string (line, "subject", subject);
  add_int (line, "pass", pass);
  add_number (line, "calls_per_s", rate, 1);
  write_line (report, line);
}

static const struct {
  const char *test;
  const char *process;
  const char *label;
} cpu_rows[BENCH_CPU_N] = {
  [BENCH_CPU_RTT_BRIDGE] = { "round-trip", "qga-bridge", "1 round trip: qga-bridge A" },
  [BENCH_CPU_RTT_HOST] = { "round-trip", "qga-host", "1 round trip: qga-host" },
  [BENCH_CPU_RTT_TRIVIAL] = { "round-trip", "trivial", "1 round trip: trivial service" },
  [BENCH_CPU_RTT_ECHO] = { "round-trip", "echo", "1 round trip: echo server" },
  [BENCH_CPU_H2G_BRIDGE] = { "host-to-guest", "qga-bridge", "2 host->guest: qga-bridge B" },
  [BENCH_CPU_H2G_QEMU_GA] = { "host-to-guest", "qemu-ga", "2 host->guest: qemu-ga" },
  [BENCH_CPU_CONC_BRIDGE] = { "concurrency", "qga-bridge", "3 concurrency: qga-bridge A" },
  [BENCH_CPU_CONC_HOST] = { "concurrency", "qga-host", "3 concurrency: qga-host" },
  [BENCH_CPU_CONC_TRIVIAL] = { "concurrency", "trivial", "3 concurrency: trivial service" },
};

static void
write_cpu (BenchReport *report, guint pass, const BenchFigures *f)
{
  for (guint i = 0; i < BENCH_CPU_N; i++)
    {
      GString *line;

      if (f->cpu_us[i] <= 0)
        continue;
      line = begin_line ("cpu");
      add_string (line, "test", cpu_rows[i].test);
      add_string (line, "process", cpu_rows[i].process);
      add_int (line, "pass", pass);
      add_number (line, "cpu_us_per_call", f->cpu_us[i], 1);
      write_line (report, line);
    }
}

void
bench_report_figures (BenchReport *report, guint pass, const BenchFigures *f)
{
  write_cpu (report, pass, f);
  write_latency (report, pass, "round-trip", "bridge", f->rtt_bridge);
  write_latency (report, pass, "round-trip", "dbus-floor", f->rtt_dbus_floor);
  write_latency (report, pass, "round-trip", "socket-floor", f->rtt_socket_floor);
  write_latency (report, pass, "host-to-guest", "bridge", f->h2g_bridge);
  write_latency (report, pass, "host-to-guest", "qemu-ga", f->h2g_qemu_ga);
  write_rate (report, pass, "bridge", f->rate_bridge);
  write_rate (report, pass, "dbus-floor", f->rate_floor);
  for (guint i = 0; i < BENCH_N_FANOUTS; i++)
    {
      g_autofree char *test = g_strdup_printf ("fanout-%u", bench_fanout_sizes[i]);

      write_latency (report, pass, test, "bridge", f->fanout_bridge[i]);
      write_latency (report, pass, test, "trivial", f->fanout_trivial[i]);
    }
}

static void
write_memory (BenchReport *report, const char *subject, const char *when, BenchRss rss)
{
  GString *line = begin_line ("memory");

  add_string (line, "subject", subject);
  add_string (line, "when", when);
  add_int (line, "rss_kib", rss.rss_kib);
  add_int (line, "rss_anon_kib", rss.anon_kib);
  write_line (report, line);
}

static void
write_all_memory (BenchReport *report, const BenchMemory *memory)
{
  if (memory->qemu_ga_idle.rss_kib > 0)
    write_memory (report, "qemu-ga", "idle", memory->qemu_ga_idle);
  for (guint p = 0; p <= memory->passes; p++)
    {
      g_autofree char *when = p == 0 ? g_strdup ("idle") : g_strdup_printf ("after-pass-%u", p);

      write_memory (report, "bridge-a", when, memory->bridge_a[p]);
      write_memory (report, "bridge-b", when, memory->bridge_b[p]);
    }
}

/* --- the table ------------------------------------------------------------ */

static void
print_latency_row (const char *subject, GArray *samples)
{
  if (samples->len == 0)
    printf ("    %-52s %10s %10s\n", subject, "-", "-");
  else
    printf ("    %-52s %10.1f %10.1f\n", subject, bench_samples_percentile_us (samples, 50),
            bench_samples_percentile_us (samples, 99));
}

static void
print_fanout (const BenchFigures *f)
{
  printf ("4 fan-out: host event written -> last subscriber has the signal\n");
  for (guint i = 0; i < BENCH_N_FANOUTS; i++)
    {
      guint n = bench_fanout_sizes[i];
      g_autofree char *bridge = g_strdup_printf ("%3u subscriber%s, %u events: qga-bridge", n,
                                                 n == 1 ? " " : "s", f->fanout_bridge[i]->len);
      g_autofree char *trivial = g_strdup_printf ("%3u subscriber%s, %u events: trivial service", n,
                                                  n == 1 ? " " : "s", f->fanout_trivial[i]->len);

      print_latency_row (bridge, f->fanout_bridge[i]);
      print_latency_row (trivial, f->fanout_trivial[i]);
    }
}

/* Only what was measured (see --only). */
static void
print_measurements (const BenchFigures *f, const BenchPlan *plan, guint passes)
{
  printf ("Measurements (%u pass%s pooled)                                   p50 us     p99 us\n",
          passes, passes == 1 ? "" : "es");
  if (f->rtt_bridge->len > 0)
    {
      printf ("1 guest->host Ping round trip, %u calls each\n", f->rtt_bridge->len);
      print_latency_row ("D-Bus client -> qga-bridge -> qga-host and back", f->rtt_bridge);
      print_latency_row ("floor: GDBus call to a trivial service", f->rtt_dbus_floor);
      print_latency_row ("floor: JSON request/reply on a unix socket", f->rtt_socket_floor);
    }
  if (f->h2g_bridge->len > 0)
    {
      printf ("2 host->guest guest-ping from the bench as host, %u calls each\n", f->h2g_bridge->len);
      print_latency_row ("qga-bridge", f->h2g_bridge);
      print_latency_row ("qemu-ga", f->h2g_qemu_ga);
    }
  if (f->rate_floor > 0)
    {
      printf ("3 concurrency: %u connections x %u calls in flight (Call host-echo)    calls/s\n",
              plan->clients, plan->in_flight);
      printf ("    %-52s %10.0f\n", "qga-bridge + qga-host", f->rate_bridge);
      printf ("    %-52s %10.0f\n", "floor: GDBus async calls to a trivial service", f->rate_floor);
    }
  if (f->fanout_bridge[0]->len > 0)
    print_fanout (f);
}

static void
print_cpu (const BenchFigures *f)
{
  printf ("CPU time per call, us (every thread of the process)\n");
  for (guint i = 0; i < BENCH_CPU_N; i++)
    if (f->cpu_us[i] > 0)
      printf ("    %-52s %10.1f\n", cpu_rows[i].label, f->cpu_us[i]);
}

static void
print_rss_row (const char *subject, const BenchRss *points, guint n_points)
{
  printf ("    %-20s", subject);
  for (guint p = 0; p < n_points; p++)
    printf (" %8zu (%6zu)", points[p].rss_kib, points[p].anon_kib);
  printf ("\n");
}

static void
print_memory (const BenchMemory *memory)
{
  printf ("5 memory, VmRSS KiB (RssAnon)  %15s", "idle");
  for (guint p = 1; p <= memory->passes; p++)
    printf ("   after pass %u", p);
  printf ("\n");
  print_rss_row ("qga-bridge A", memory->bridge_a, memory->passes + 1);
  print_rss_row ("qga-bridge B", memory->bridge_b, memory->passes + 1);
  if (memory->qemu_ga_idle.rss_kib > 0)
    print_rss_row ("qemu-ga", &memory->qemu_ga_idle, 1);
  printf ("    (A serves the D-Bus calls of 1 and 3, B the host commands and events of 2 and 4)\n");
}

/* --- targets -------------------------------------------------------------- */

typedef enum {
  AT_MOST,
  AT_LEAST,
} Bound;

static void
target (BenchReport *report, const char *id, const char *what, double value, Bound bound,
        double limit, gboolean measured, const char *unit)
{
  GString *line = begin_line ("target");
  gboolean met = bound == AT_MOST ? value <= limit : value >= limit;
  const char *status = !measured ? "SKIP" : met ? "OK" : "MISS";

  if (measured && !met)
    report->misses++;
  add_string (line, "id", id);
  add_string (line, "what", what);
  if (measured)
    add_number (line, "value", value, 3);
  add_string (line, "bound", bound == AT_MOST ? "<=" : ">=");
  add_number (line, "limit", limit, 3);
  add_string (line, "status", status);
  write_line (report, line);

  if (measured)
    printf ("  %-58s %8.3f%s  %s %5.2f%s  %s\n", what, value, unit, bound == AT_MOST ? "<=" : ">=",
            limit, unit, status);
  else
    printf ("  %-58s %8s%s  %s %5.2f%s  %s\n", what, "-", unit, bound == AT_MOST ? "<=" : ">=",
            limit, unit, status);
}

static double
ratio (double a, double b)
{
  return b > 0 ? a / b : 0;
}

static void
latency_targets (BenchReport *report, const BenchFigures *f)
{
  double bridge = bench_samples_percentile_us (f->rtt_bridge, 50);
  double floors = bench_samples_percentile_us (f->rtt_dbus_floor, 50) +
                  bench_samples_percentile_us (f->rtt_socket_floor, 50);

  target (report, "round-trip", "1 round trip p50 / (D-Bus floor + socket floor)",
          ratio (bridge, floors), AT_MOST, 1.25, f->rtt_bridge->len > 0, "x");
  target (report, "host-to-guest", "2 host->guest p50 / qemu-ga p50",
          ratio (bench_samples_percentile_us (f->h2g_bridge, 50),
                 bench_samples_percentile_us (f->h2g_qemu_ga, 50)),
          AT_MOST, 1.10, f->h2g_bridge->len > 0 && f->h2g_qemu_ga->len > 0, "x");
  target (report, "concurrency", "3 throughput / GDBus async floor",
          ratio (f->rate_bridge, f->rate_floor), AT_LEAST, 0.80, f->rate_floor > 0, "x");
  for (guint i = 0; i < BENCH_N_FANOUTS; i++)
    {
      g_autofree char *id = g_strdup_printf ("fanout-%u", bench_fanout_sizes[i]);
      g_autofree char *what = g_strdup_printf ("4 fan-out to %u: p50 / trivial service p50",
                                               bench_fanout_sizes[i]);

      target (report, id, what,
              ratio (bench_samples_percentile_us (f->fanout_bridge[i], 50),
                     bench_samples_percentile_us (f->fanout_trivial[i], 50)),
              AT_MOST, 1.20, f->fanout_bridge[i]->len > 0, "x");
    }
}

static void
memory_targets (BenchReport *report, const BenchMemory *m)
{
  gboolean have_qemu_ga = m->qemu_ga_idle.rss_kib > 0;
  const struct { const char *id; const char *name; const BenchRss *rss; } bridges[] = {
    { "a", "A", m->bridge_a },
    { "b", "B", m->bridge_b },
  };

  for (guint b = 0; b < G_N_ELEMENTS (bridges); b++)
    {
      const BenchRss *rss = bridges[b].rss;
      g_autofree char *id_idle = g_strdup_printf ("memory-idle-%s", bridges[b].id);
      g_autofree char *id_after = g_strdup_printf ("memory-after-%s", bridges[b].id);
      g_autofree char *id_growth = g_strdup_printf ("memory-growth-%s", bridges[b].id);
      g_autofree char *what_idle = g_strdup_printf ("5 bridge %s idle RSS / qemu-ga idle RSS",
                                                    bridges[b].name);
      g_autofree char *what_after = g_strdup_printf ("5 bridge %s RSS after the runs / qemu-ga idle RSS",
                                                     bridges[b].name);
      g_autofree char *what_growth =
        m->passes >= 2 ? g_strdup_printf ("5 bridge %s RSS growth, pass %u vs pass 1 (KiB)",
                                          bridges[b].name, m->passes)
                       : g_strdup_printf ("5 bridge %s RSS growth (needs --passes=2)",
                                          bridges[b].name);

      target (report, id_idle, what_idle, ratio (rss[0].rss_kib, m->qemu_ga_idle.rss_kib),
              AT_MOST, 1.5, have_qemu_ga, "x");
      target (report, id_after, what_after,
              ratio (rss[m->passes].rss_kib, m->qemu_ga_idle.rss_kib),
              AT_MOST, 1.5, have_qemu_ga, "x");
      target (report, id_growth, what_growth,
              (double) rss[m->passes].rss_kib - (double) rss[1].rss_kib,
              AT_MOST, GROWTH_TOLERANCE_KIB, m->passes >= 2, " ");
    }
}

void
bench_report_summary (BenchReport *report, const BenchFigures *all, const BenchMemory *memory,
                      const BenchPlan *plan)
{
  write_all_memory (report, memory);
  print_measurements (all, plan, memory->passes);
  print_memory (memory);
  print_cpu (all);
  printf ("\nTargets                                                          value      target  result\n");
  latency_targets (report, all);
  memory_targets (report, memory);
  fflush (stdout);
}

/* --- 6. the clipboard ------------------------------------------------------ */

/* Throughput targets for the sizes from this index up: the smaller ones
 * are bound by the latency of the D-Bus calls, not by the data. */
#define CLIP_FIRST_TARGET_SIZE 3
#define CLIP_MIN_RATIO 0.70
#define CLIP_MAX_PEAK_MIB 32

static const char *const clip_subject_names[BENCH_CLIP_N_SUBJECTS] = { "bridge", "floor" };
static const char *const clip_arrows[BENCH_CLIP_N_DIRECTIONS] = { "host->guest", "guest->host" };

/* The median, averaging the middle two of an even count (2 passes of one). */
static double
median_ms (GArray *samples)
{
  guint n = samples->len;

  if (n == 0)
    return 0;
  bench_samples_percentile_us (samples, 50);   /* sorts */
  if (n % 2 == 1)
    return g_array_index (samples, gint64, n / 2) / 1e6;
  return (g_array_index (samples, gint64, n / 2 - 1) + g_array_index (samples, gint64, n / 2)) / 2e6;
}

static double
mib_per_s (guint64 size, double ms)
{
  return ms > 0 ? size / 1048576.0 / (ms / 1000.0) : 0;
}

static char *
size_label (guint64 size)
{
  return size >= 1048576 ? g_strdup_printf ("%" G_GUINT64_FORMAT " MiB", size / 1048576)
                         : g_strdup_printf ("%" G_GUINT64_FORMAT " KiB", size / 1024);
}

static const struct {
  const char *process;
  const char *label;
  BenchClipSubject subject;
} clip_cpu_rows[BENCH_CLIP_N_CPU] = {
  [BENCH_CLIP_CPU_BRIDGE] = { "qga-bridge", "qga-bridge", BENCH_CLIP_REAL },
  [BENCH_CLIP_CPU_SESSION] = { "qga-session", "qga-session", BENCH_CLIP_REAL },
  [BENCH_CLIP_CPU_BENCH_REAL] = { "bench-real", "the bench (host + guest program)", BENCH_CLIP_REAL },
  [BENCH_CLIP_CPU_FLOOR] = { "floor-server", "floor server", BENCH_CLIP_FLOOR },
  [BENCH_CLIP_CPU_BENCH_FLOOR] = { "bench-floor", "the bench (host)", BENCH_CLIP_FLOOR },
};

static double
clip_cpu_ms_per_mib (const BenchClipResults *r, guint d, guint i)
{
  guint64 bytes = r->cpu_bytes[d][clip_cpu_rows[i].subject];

  return bytes > 0 ? r->cpu_ns[d][i] / 1e6 / (bytes / 1048576.0) : 0;
}

static void
clip_write_lines (BenchReport *report, const BenchClipResults *r)
{
  const struct { const char *subject; const char *when; BenchClipRss rss; } memory[] = {
    { "bridge-c", "idle", r->bridge_idle },
    { "qga-session", "idle", r->session_idle },
    { "bridge-c", "peak-host-to-guest", r->bridge_peak[0] },
    { "bridge-c", "peak-guest-to-host", r->bridge_peak[1] },
    { "qga-session", "peak-host-to-guest", r->session_peak[0] },
    { "qga-session", "peak-guest-to-host", r->session_peak[1] },
  };

  for (guint d = 0; d < BENCH_CLIP_N_DIRECTIONS; d++)
    {
      for (guint s = 0; s < BENCH_CLIP_N_SIZES; s++)
        for (guint k = 0; k < BENCH_CLIP_N_SUBJECTS; k++)
          {
            GArray *samples = r->times[d][s][k];
            double ms = median_ms (samples);
            GString *line;

            if (samples->len == 0)
              continue;
            line = begin_line ("clipboard");
            add_string (line, "direction", bench_clip_direction_names[d]);
            add_int (line, "size", bench_clip_sizes[s]);
            add_string (line, "subject", clip_subject_names[k]);
            add_int (line, "pass", 0);
            add_int (line, "n", samples->len);
            add_number (line, "median_ms", ms, 3);
            add_number (line, "min_ms", g_array_index (samples, gint64, 0) / 1e6, 3);
            add_number (line, "mib_per_s", mib_per_s (bench_clip_sizes[s], ms), 1);
            write_line (report, line);
          }
      for (guint i = 0; i < BENCH_CLIP_N_CPU; i++)
        {
          GString *line = begin_line ("cpu");

          add_string (line, "test", bench_clip_direction_names[d]);
          add_string (line, "process", clip_cpu_rows[i].process);
          add_int (line, "pass", 0);
          add_number (line, "cpu_ms_per_mib", clip_cpu_ms_per_mib (r, d, i), 3);
          write_line (report, line);
        }
    }
  for (guint i = 0; i < G_N_ELEMENTS (memory); i++)
    {
      GString *line = begin_line ("memory");

      add_string (line, "test", "clipboard");
      add_string (line, "subject", memory[i].subject);
      add_string (line, "when", memory[i].when);
      add_int (line, "rss_kib", memory[i].rss.rss_kib);
      add_int (line, "hwm_kib", memory[i].rss.hwm_kib);
      write_line (report, line);
    }
}

static void
clip_print (const BenchClipResults *r)
{
  printf ("\n6 clipboard (%u pass%s): a guest program -> qga-session -> qga-bridge -> the bench as host\n",
          r->passes, r->passes == 1 ? "" : "es");
  printf ("  floor: the same chunks, window and acks over a unix socket, json-glib both ends\n");
  for (guint d = 0; d < BENCH_CLIP_N_DIRECTIONS; d++)
    {
      printf ("  %-12s %8s %5s %12s %10s %12s %10s %8s\n", clip_arrows[d], "size", "n",
              "bridge ms", "MiB/s", "floor ms", "MiB/s", "ratio");
      for (guint s = 0; s < BENCH_CLIP_N_SIZES; s++)
        {
          g_autofree char *label = size_label (bench_clip_sizes[s]);
          double real = median_ms (r->times[d][s][BENCH_CLIP_REAL]);
          double floor_ms = median_ms (r->times[d][s][BENCH_CLIP_FLOOR]);

          if (r->times[d][s][BENCH_CLIP_REAL]->len == 0)
            continue;
          printf ("  %-12s %8s %5u %12.2f %10.1f %12.2f %10.1f %8.3f\n", "", label,
                  r->times[d][s][BENCH_CLIP_REAL]->len, real, mib_per_s (bench_clip_sizes[s], real),
                  floor_ms, mib_per_s (bench_clip_sizes[s], floor_ms), ratio (floor_ms, real));
        }
    }
  printf ("  CPU ms per MiB moved, all sizes  %14s %14s\n", clip_arrows[0], clip_arrows[1]);
  for (guint i = 0; i < BENCH_CLIP_N_CPU; i++)
    printf ("    %-8s %-36s %8.2f %14.2f\n",
            clip_cpu_rows[i].subject == BENCH_CLIP_REAL ? "bridge:" : "floor:", clip_cpu_rows[i].label,
            clip_cpu_ms_per_mib (r, 0, i), clip_cpu_ms_per_mib (r, 1, i));
  printf ("  memory KiB, VmRSS idle; peak while the largest size moved (VmHWM, sampled VmRSS)\n");
  printf ("    %-12s idle %8zu   host->guest %8zu (+%zu)   guest->host %8zu (+%zu)\n", "qga-bridge",
          r->bridge_idle.rss_kib, r->bridge_peak[0].rss_kib,
          r->bridge_peak[0].rss_kib - MIN (r->bridge_peak[0].rss_kib, r->bridge_idle.rss_kib),
          r->bridge_peak[1].rss_kib,
          r->bridge_peak[1].rss_kib - MIN (r->bridge_peak[1].rss_kib, r->bridge_idle.rss_kib));
  printf ("    %-12s idle %8zu   host->guest %8zu (+%zu)   guest->host %8zu (+%zu)\n", "qga-session",
          r->session_idle.rss_kib, r->session_peak[0].rss_kib,
          r->session_peak[0].rss_kib - MIN (r->session_peak[0].rss_kib, r->session_idle.rss_kib),
          r->session_peak[1].rss_kib,
          r->session_peak[1].rss_kib - MIN (r->session_peak[1].rss_kib, r->session_idle.rss_kib));
}

static void
clip_targets (BenchReport *report, const BenchClipResults *r)
{
  g_autofree char *largest = size_label (bench_clip_sizes[BENCH_CLIP_N_SIZES - 1]);

  for (guint d = 0; d < BENCH_CLIP_N_DIRECTIONS; d++)
    for (guint s = CLIP_FIRST_TARGET_SIZE; s < BENCH_CLIP_N_SIZES; s++)
      {
        g_autofree char *label = size_label (bench_clip_sizes[s]);
        g_autofree char *id = g_strdup_printf ("clipboard-%s-%" G_GUINT64_FORMAT,
                                               bench_clip_direction_names[d], bench_clip_sizes[s]);
        g_autofree char *what = g_strdup_printf ("6 clipboard %s %s: throughput / floor",
                                                 clip_arrows[d], label);
        GArray *real = r->times[d][s][BENCH_CLIP_REAL];

        target (report, id, what, ratio (median_ms (r->times[d][s][BENCH_CLIP_FLOOR]), median_ms (real)),
                AT_LEAST, CLIP_MIN_RATIO, real->len > 0, "x");
      }
  for (guint d = 0; d < BENCH_CLIP_N_DIRECTIONS; d++)
    {
      const struct { const char *id; const char *name; BenchClipRss idle, peak; } procs[] = {
        { "bridge", "qga-bridge", r->bridge_idle, r->bridge_peak[d] },
        { "session", "qga-session", r->session_idle, r->session_peak[d] },
      };

      for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
        {
          g_autofree char *id = g_strdup_printf ("clipboard-peak-%s-%s", procs[i].id,
                                                 bench_clip_direction_names[d]);
          g_autofree char *what = g_strdup_printf ("6 %s peak RSS over idle, %s %s (MiB)",
                                                   procs[i].name, clip_arrows[d], largest);

          target (report, id, what,
                  ((double) procs[i].peak.rss_kib - (double) procs[i].idle.rss_kib) / 1024.0,
                  AT_MOST, CLIP_MAX_PEAK_MIB, procs[i].peak.rss_kib > 0, " ");
        }
    }
}

void
bench_report_clipboard (BenchReport *report, const BenchClipResults *results)
{
  clip_write_lines (report, results);
  clip_print (results);
  printf ("\nTargets                                                          value      target  result\n");
  clip_targets (report, results);
  fflush (stdout);
}

/* --- 7. a flooding client --------------------------------------------------- */

#define FLOOD_MAX_RATIO 3.0

void
bench_report_flood (BenchReport *report, GArray *quiet, GArray *flooded, guint64 refused,
                    guint64 answered)
{
  double p50_quiet = bench_samples_percentile_us (quiet, 50);
  double p99_quiet = bench_samples_percentile_us (quiet, 99);
  double p50_flooded = bench_samples_percentile_us (flooded, 50);
  double p99_flooded = bench_samples_percentile_us (flooded, 99);
  GString *line = begin_line ("flood");

  add_int (line, "in_flight", BENCH_FLOOD_IN_FLIGHT);
  add_int (line, "answered", (gint64) answered);
  add_int (line, "refused", (gint64) refused);
  add_number (line, "p50_quiet_us", p50_quiet, 1);
  add_number (line, "p99_quiet_us", p99_quiet, 1);
  add_number (line, "p50_flooded_us", p50_flooded, 1);
  add_number (line, "p99_flooded_us", p99_flooded, 1);
  write_line (report, line);

  printf ("\n7. A flooding client (%d Pings in flight, past --max-pending=64 and --max-call-rate=2000)\n",
          BENCH_FLOOD_IN_FLIGHT);
  printf ("   flood calls answered %" G_GUINT64_FORMAT ", refused (LimitExceeded) %" G_GUINT64_FORMAT "\n",
          answered, refused);
  printf ("   another client's Ping p50 %.0f us -> %.0f us, p99 %.0f us -> %.0f us\n",
          p50_quiet, p50_flooded, p99_quiet, p99_flooded);
  printf ("\nTargets                                                          value      target  result\n");
  target (report, "flood-p99", "7 another client's Ping p99 with / without a flood",
          ratio (p99_flooded, p99_quiet), AT_MOST, FLOOD_MAX_RATIO, quiet->len > 0, "x");
  fflush (stdout);
}

void
bench_report_end (BenchReport *report)
{
  printf ("\n%u target%s missed.\n", report->misses, report->misses == 1 ? "" : "s");
  fflush (stdout);
}
