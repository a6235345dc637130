/* host-stats.c: the host fields and the allow-list (see host-stats.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host-qmp.h"
#include "host-stats.h"

/* /proc files read whole (loadavg, meminfo, uptime) are small; anything
 * past this is not looked at. */
#define PROC_READ_MAX (64 * 1024)
/* /proc/cpuinfo is read up to the first "model name", and no further. */
#define CPUINFO_READ_MAX (1024 * 1024)

struct _HostStats {
  guint allow;
  HostQmp *qmp;   /* NULL without --qmp */
};

static const char *const field_names[HOST_STATS_N_FIELDS] = {
  [HOST_STATS_CPU_COUNT] = "cpu-count",
  [HOST_STATS_CPU_MODEL] = "cpu-model",
  [HOST_STATS_LOAD_AVERAGE] = "load-average",
  [HOST_STATS_MEMORY_TOTAL] = "memory-total",
  [HOST_STATS_MEMORY_AVAILABLE] = "memory-available",
  [HOST_STATS_UPTIME] = "uptime",
  [HOST_STATS_WALL_CLOCK] = "wall-clock",
  [HOST_STATS_QEMU_VERSION] = "qemu-version",
  [HOST_STATS_ACCELERATOR] = "accelerator",
  [HOST_STATS_VM_NAME] = "vm-name",
  [HOST_STATS_VCPUS] = "vcpus",
  [HOST_STATS_BALLOON] = "balloon",
};

const char *
host_stats_field_name (HostStatsField field)
{
  g_return_val_if_fail (field < HOST_STATS_N_FIELDS, NULL);
  return field_names[field];
}

gboolean
host_stats_parse_allow (const char *list, guint *allow, GError **error)
{
  g_auto(GStrv) names = NULL;
  guint mask = 0;

  if (*list == '\0')
    {
      *allow = 0;
      return TRUE;
    }
  names = g_strsplit (list, ",", -1);
  for (char **name = names; *name != NULL; name++)
    {
      guint field;

      g_strstrip (*name);
      for (field = 0; field < HOST_STATS_N_FIELDS; field++)
        if (g_str_equal (*name, field_names[field]))
          break;
      if (field == HOST_STATS_N_FIELDS)
        {
          g_autoptr(GString) known = g_string_new (NULL);

          for (guint i = 0; i < HOST_STATS_N_FIELDS; i++)
            g_string_append_printf (known, "%s%s", i > 0 ? ", " : "", field_names[i]);
          if (**name == '\0')
            g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         "--stats-allow: empty field name in '%s'", list);
          else
            g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         "--stats-allow: unknown field '%s' (known: %s)", *name, known->str);
          return FALSE;
        }
      mask |= HOST_STATS_BIT (field);
    }
  *allow = mask;
  return TRUE;
}

/* --- reading /proc --- */

/* The start of a small file, NUL-terminated; NULL if it cannot be read. */
static char *
read_proc_file (const char *path)
{
  g_autofree char *buffer = NULL;
  gsize length = 0;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    {
      g_debug ("cannot open %s: %s", path, g_strerror (errno));
      return NULL;
    }
  /* Allocated once the file is open: scan-build (clang 14) does not see
   * g_autofree's cleanup, and took the return above for a leak. */
  buffer = g_malloc (PROC_READ_MAX + 1);
  while (length < PROC_READ_MAX)
    {
      ssize_t n = read (fd, buffer + length, PROC_READ_MAX - length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_debug ("cannot read %s: %s", path, g_strerror (errno));
          close (fd);
          return NULL;
        }
      if (n == 0)
        break;
      length += (gsize) n;
    }
  close (fd);
  buffer[length] = '\0';
  return g_steal_pointer (&buffer);
}

/* A finite, non-negative number at *text, skipping blanks before it. */
static gboolean
parse_number (const char **text, double *value)
{
  const char *p = *text;
  char *end;
  double v;

  while (*p == ' ' || *p == '\t')
    p++;
  if (!g_ascii_isdigit (*p))
    return FALSE;
  v = g_ascii_strtod (p, &end);
  if (end == p || !isfinite (v) || v < 0)
    return FALSE;
  *text = end;
  *value = v;
  return TRUE;
}

static void
add_load_average (JsonObject *object)
{
  g_autofree char *text = read_proc_file ("/proc/loadavg");
  const char *p = text;
  JsonArray *array;
  double load[3];

  if (text == NULL)
    return;
  for (int i = 0; i < 3; i++)
    if (!parse_number (&p, &load[i]))
      {
        g_debug ("cannot parse /proc/loadavg");
        return;
      }
  array = json_array_sized_new (3);
  for (int i = 0; i < 3; i++)
    json_array_add_double_element (array, load[i]);
  json_object_set_array_member (object, field_names[HOST_STATS_LOAD_AVERAGE], array);
}

static void
add_uptime (JsonObject *object)
{
  g_autofree char *text = read_proc_file ("/proc/uptime");
  const char *p = text;
  double uptime;

  if (text == NULL)
    return;
  if (!parse_number (&p, &uptime))
    {
      g_debug ("cannot parse /proc/uptime");
      return;
    }
  json_object_set_double_member (object, field_names[HOST_STATS_UPTIME], uptime);
}

/* The value of "KEY:   N kB" in meminfo, in bytes. */
static gboolean
meminfo_lookup (const char *meminfo, const char *key, gint64 *bytes)
{
  gsize key_length = strlen (key);

  for (const char *line = meminfo; line != NULL && *line != '\0';
       line = strchr (line, '\n'), line = line != NULL ? line + 1 : NULL)
    {
      const char *p;
      char *end;
      guint64 kib;

      if (strncmp (line, key, key_length) != 0 || line[key_length] != ':')
        continue;
      p = line + key_length + 1;
      while (*p == ' ' || *p == '\t')
        p++;
      if (!g_ascii_isdigit (*p))
        return FALSE;
      errno = 0;
      kib = g_ascii_strtoull (p, &end, 10);
      if (errno != 0 || kib > (guint64) G_MAXINT64 / 1024)
        return FALSE;
      if (strncmp (end, " kB", 3) != 0 || (end[3] != '\n' && end[3] != '\0'))
        return FALSE;
      *bytes = (gint64) (kib * 1024);
      return TRUE;
    }
  return FALSE;
}

static void
add_memory (guint allow, JsonObject *object)
{
  g_autofree char *text = read_proc_file ("/proc/meminfo");
  gint64 bytes;

  if (text == NULL)
    return;
  if ((allow & HOST_STATS_BIT (HOST_STATS_MEMORY_TOTAL)) &&
      meminfo_lookup (text, "MemTotal", &bytes))
    json_object_set_int_member (object, field_names[HOST_STATS_MEMORY_TOTAL], bytes);
  if ((allow & HOST_STATS_BIT (HOST_STATS_MEMORY_AVAILABLE)) &&
      meminfo_lookup (text, "MemAvailable", &bytes))
    json_object_set_int_member (object, field_names[HOST_STATS_MEMORY_AVAILABLE], bytes);
}

static gboolean
is_acceptable_string (const char *text)
{
  return *text != '\0' && strlen (text) <= HOST_STATS_MAX_STRING && g_utf8_validate (text, -1, NULL);
}

static void
add_cpu_model (JsonObject *object)
{
  FILE *file = fopen ("/proc/cpuinfo", "re");
  g_autofree char *line = NULL;
  gsize size = 0, total = 0;
  ssize_t n;

  if (file == NULL)
    {
      g_debug ("cannot open /proc/cpuinfo: %s", g_strerror (errno));
      return;
    }
  while (total < CPUINFO_READ_MAX && (n = getline (&line, &size, file)) > 0)
    {
      char *colon;

      total += (gsize) n;
      if (!g_str_has_prefix (line, "model name") || (colon = strchr (line, ':')) == NULL)
        continue;
      g_strstrip (colon + 1);
      if (is_acceptable_string (colon + 1))
        json_object_set_string_member (object, field_names[HOST_STATS_CPU_MODEL], colon + 1);
      break;
    }
  fclose (file);
}

static void
add_host_fields (guint allow, JsonObject *object)
{
  if (allow & HOST_STATS_BIT (HOST_STATS_CPU_COUNT))
    {
      long n = sysconf (_SC_NPROCESSORS_ONLN);

      if (n > 0 && n <= G_MAXUINT32)
        json_object_set_int_member (object, field_names[HOST_STATS_CPU_COUNT], n);
    }
  if (allow & HOST_STATS_BIT (HOST_STATS_CPU_MODEL))
    add_cpu_model (object);
  if (allow & HOST_STATS_BIT (HOST_STATS_LOAD_AVERAGE))
    add_load_average (object);
  if (allow & (HOST_STATS_BIT (HOST_STATS_MEMORY_TOTAL) |
               HOST_STATS_BIT (HOST_STATS_MEMORY_AVAILABLE)))
    add_memory (allow, object);
  if (allow & HOST_STATS_BIT (HOST_STATS_UPTIME))
    add_uptime (object);
  if (allow & HOST_STATS_BIT (HOST_STATS_WALL_CLOCK))
    json_object_set_int_member (object, field_names[HOST_STATS_WALL_CLOCK], g_get_real_time ());
}

/* --- the object --- */

HostStats *
host_stats_new (guint allow, const char *qmp_path)
{
  HostStats *stats = g_new0 (HostStats, 1);

  stats->allow = allow & HOST_STATS_ALL;
  if (qmp_path != NULL)
    stats->qmp = host_qmp_new (qmp_path, stats->allow & HOST_STATS_HYPERVISOR);
  return stats;
}

void
host_stats_free (HostStats *stats)
{
  if (stats == NULL)
    return;
  g_clear_pointer (&stats->qmp, host_qmp_free);
  g_free (stats);
}

guint
host_stats_get_allow (HostStats *stats)
{
  return stats->allow;
}

void
host_stats_start (HostStats *stats)
{
  if (stats->qmp != NULL)
    host_qmp_start (stats->qmp);
}

guint
host_stats_refresh (HostStats *stats, guint wanted, HostStatsReadyFunc func, gpointer user_data)
{
  if (stats->qmp == NULL || (wanted & stats->allow & HOST_STATS_HYPERVISOR) == 0)
    return 0;
  return host_qmp_refresh (stats->qmp, func, user_data);
}

void
host_stats_cancel (HostStats *stats, guint wait_id)
{
  if (stats->qmp != NULL && wait_id != 0)
    host_qmp_cancel (stats->qmp, wait_id);
}

JsonNode *
host_stats_build (HostStats *stats)
{
  g_autoptr(JsonObject) object = json_object_new ();

  add_host_fields (stats->allow & HOST_STATS_STATS, object);
  if (stats->qmp != NULL)
    host_qmp_add_fields (stats->qmp, stats->allow & HOST_STATS_BIT (HOST_STATS_BALLOON), object);
  return json_node_init_object (json_node_alloc (), object);
}

void
host_stats_add_to_info (HostStats *stats, JsonObject *info)
{
  JsonObject *bounds = json_object_new ();

  if (stats->qmp != NULL)
    {
      JsonObject *hypervisor = json_object_new ();

      host_qmp_add_fields (stats->qmp, stats->allow & HOST_STATS_HYPERVISOR, hypervisor);
      json_object_set_object_member (info, "hypervisor", hypervisor);
    }
  json_object_set_int_member (bounds, "version", HOST_STATS_VERSION);
  json_object_set_int_member (bounds, "min-interval-ms", HOST_STATS_MIN_INTERVAL_MS);
  json_object_set_int_member (bounds, "max-interval-ms", HOST_STATS_MAX_INTERVAL_MS);
  json_object_set_object_member (info, "host-stats", bounds);
}
