/* host-qmp.c: the QMP client (see host-qmp.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host-qmp.h"
#include "host-stats.h"
#include "qga-error.h"
#include "qga-log.h"
#include "qga-stream.h"
#include "qga-wire.h"

/* We send a few short commands at a time. */
#define QMP_MAX_QUEUE_SIZE (64 * 1024)

typedef enum {
  STEP_GREETING,
  STEP_CAPABILITIES,
  STEP_VERSION,
  STEP_KVM,
  STEP_NAME,
  STEP_CPUS,
  STEP_BALLOON,
  N_STEPS
} Step;

#define STEP_BIT(step) (1u << (step))

static const struct {
  const char *command;
  HostStatsField field;  /* the field it supplies; steps 0 and 1 supply none */
} steps[N_STEPS] = {
  [STEP_GREETING] = { NULL, 0 },
  [STEP_CAPABILITIES] = { "qmp_capabilities", 0 },
  [STEP_VERSION] = { "query-version", HOST_STATS_QEMU_VERSION },
  [STEP_KVM] = { "query-kvm", HOST_STATS_ACCELERATOR },
  [STEP_NAME] = { "query-name", HOST_STATS_VM_NAME },
  [STEP_CPUS] = { "query-cpus-fast", HOST_STATS_VCPUS },
  [STEP_BALLOON] = { "query-balloon", HOST_STATS_BALLOON },
};

typedef struct {
  HostQmp *qmp;
  guint id;
  HostQmpReadyFunc func;
  gpointer user_data;
  guint timeout_source;
} Waiter;

struct _HostQmp {
  char *path;
  guint allow;              /* HostStatsField mask */

  QgaStream *stream;        /* NULL while disconnected */
  gboolean busy;            /* a round of steps is in flight */
  guint round;              /* its steps (STEP_BIT mask) */
  Step step;                /* the step in flight */
  gint64 step_id;           /* the id of its command */
  gint64 next_id;
  guint step_timeout;
  gboolean connecting;      /* the round is a connection's first */

  gboolean autoconnect;     /* host_qmp_start() was called: retry by itself */
  guint retry_source;
  char *last_failure;       /* the last failure's message, until a success */

  gint64 last_round_end;    /* monotonic µs */
  gint64 next_attempt;      /* monotonic µs; no connection before */
  guint backoff_ms;
  gboolean failing;         /* the last attempt failed */

  /* the cache */
  char *qemu_version;
  char *accelerator;
  char *vm_name;
  gboolean has_vcpus;
  gint64 vcpus;
  gboolean has_balloon;
  gint64 balloon;

  GQueue waiters;           /* Waiter *, for the round in flight */
  GQueue completing;        /* Waiter *, being called back */
  guint next_waiter_id;

  QgaRateLimit warn_limit;
};

#define warn(qmp, ...) qga_rate_limited_warning (&(qmp)->warn_limit, __VA_ARGS__)

/* --- the cache --- */

static void
clear_cache (HostQmp *qmp)
{
  g_clear_pointer (&qmp->qemu_version, g_free);
  g_clear_pointer (&qmp->accelerator, g_free);
  g_clear_pointer (&qmp->vm_name, g_free);
  qmp->has_vcpus = FALSE;
  qmp->has_balloon = FALSE;
}

static void
set_string (char **slot, const char *value)
{
  g_free (*slot);
  *slot = value != NULL && *value != '\0' && strlen (value) <= HOST_STATS_MAX_STRING
            ? g_strdup (value) : NULL;
}

static void
add_if (guint mask, HostStatsField field, JsonObject *object, const char *value)
{
  if ((mask & HOST_STATS_BIT (field)) && value != NULL)
    json_object_set_string_member (object, host_stats_field_name (field), value);
}

void
host_qmp_add_fields (HostQmp *qmp, guint mask, JsonObject *object)
{
  mask &= qmp->allow;
  add_if (mask, HOST_STATS_QEMU_VERSION, object, qmp->qemu_version);
  add_if (mask, HOST_STATS_ACCELERATOR, object, qmp->accelerator);
  add_if (mask, HOST_STATS_VM_NAME, object, qmp->vm_name);
  if ((mask & HOST_STATS_BIT (HOST_STATS_VCPUS)) && qmp->has_vcpus)
    json_object_set_int_member (object, host_stats_field_name (HOST_STATS_VCPUS), qmp->vcpus);
  if ((mask & HOST_STATS_BIT (HOST_STATS_BALLOON)) && qmp->has_balloon)
    json_object_set_int_member (object, host_stats_field_name (HOST_STATS_BALLOON), qmp->balloon);
}

/* --- waiters --- */

static void
waiter_free (Waiter *waiter)
{
  g_clear_handle_id (&waiter->timeout_source, g_source_remove);
  g_free (waiter);
}

static void
call_waiter (Waiter *waiter)
{
  HostQmpReadyFunc func = waiter->func;
  gpointer user_data = waiter->user_data;

  waiter_free (waiter);
  func (user_data);
}

/* Call back everyone waiting for the round that just ended. Waiters are
 * moved aside first: one that a callback cancels is simply not called,
 * and a new round's waiters are not called for this one. */
static void
complete_waiters (HostQmp *qmp)
{
  Waiter *waiter;

  while ((waiter = g_queue_pop_head (&qmp->waiters)) != NULL)
    g_queue_push_tail (&qmp->completing, waiter);
  while ((waiter = g_queue_pop_head (&qmp->completing)) != NULL)
    call_waiter (waiter);
}

static gboolean
waiter_timeout_cb (gpointer user_data)
{
  Waiter *waiter = user_data;
  HostQmp *qmp = waiter->qmp;

  waiter->timeout_source = 0;
  g_debug ("QMP: answering without waiting longer for %s", qmp->path);
  g_queue_remove (&qmp->waiters, waiter);
  call_waiter (waiter);
  return G_SOURCE_REMOVE;
}

/* --- the connection --- */

static void stream_message_cb (QgaStream *stream, JsonNode *message, gpointer user_data);
static void stream_bad_input_cb (QgaStream *stream, GError *error, gpointer user_data);
static void stream_closed_cb (QgaStream *stream, GError *error, gpointer user_data);

static void
drop_stream (HostQmp *qmp)
{
  if (qmp->stream == NULL)
    return;
  g_signal_handlers_disconnect_by_data (qmp->stream, qmp);
  qga_stream_close (qmp->stream);
  g_clear_object (&qmp->stream);
}

static void
end_round (HostQmp *qmp)
{
  qmp->busy = FALSE;
  qmp->round = 0;
  qmp->step_id = 0;
  qmp->connecting = FALSE;
  g_clear_handle_id (&qmp->step_timeout, g_source_remove);
}

/* The connection failed: drop it and the cache, back off, answer the
 * waiters without the fields. */
static void start_connect (HostQmp *qmp);

static gboolean
retry_cb (gpointer user_data)
{
  HostQmp *qmp = user_data;

  qmp->retry_source = 0;
  if (qmp->stream == NULL)
    start_connect (qmp);
  return G_SOURCE_REMOVE;
}

static void G_GNUC_PRINTF (2, 3)
fail (HostQmp *qmp, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  /* The same failure again (a socket that stays absent) is not news. */
  if (g_strcmp0 (message, qmp->last_failure) != 0)
    warn (qmp, "QMP socket %s: %s; the hypervisor fields are absent until it answers",
          qmp->path, message);
  else
    g_debug ("QMP socket %s: %s, again", qmp->path, message);
  g_free (qmp->last_failure);
  qmp->last_failure = g_steal_pointer (&message);

  drop_stream (qmp);
  end_round (qmp);
  clear_cache (qmp);
  qmp->failing = TRUE;
  qmp->next_attempt = g_get_monotonic_time () + (gint64) qmp->backoff_ms * 1000;
  g_clear_handle_id (&qmp->retry_source, g_source_remove);
  if (qmp->autoconnect)
    qmp->retry_source = g_timeout_add (qmp->backoff_ms, retry_cb, qmp);
  qmp->backoff_ms = MIN (qmp->backoff_ms * 2, HOST_QMP_MAX_BACKOFF_MS);
  complete_waiters (qmp);
}

static gboolean
step_timeout_cb (gpointer user_data)
{
  HostQmp *qmp = user_data;

  qmp->step_timeout = 0;
  if (qmp->step == STEP_GREETING)
    fail (qmp, "no greeting within %d ms", HOST_QMP_STEP_TIMEOUT_MS);
  else
    fail (qmp, "no reply to %s within %d ms", steps[qmp->step].command,
          HOST_QMP_STEP_TIMEOUT_MS);
  return G_SOURCE_REMOVE;
}

static void
arm_step_timeout (HostQmp *qmp)
{
  g_clear_handle_id (&qmp->step_timeout, g_source_remove);
  qmp->step_timeout = g_timeout_add (HOST_QMP_STEP_TIMEOUT_MS, step_timeout_cb, qmp);
}

static void
round_done (HostQmp *qmp)
{
  if (qmp->connecting)
    {
      if (qmp->failing)
        g_message ("QMP socket %s answers", qmp->path);
      else
        g_debug ("QMP: connected to %s", qmp->path);
    }
  g_clear_pointer (&qmp->last_failure, g_free);
  qmp->failing = FALSE;
  qmp->backoff_ms = HOST_QMP_MIN_BACKOFF_MS;
  qmp->last_round_end = g_get_monotonic_time ();
  end_round (qmp);
  complete_waiters (qmp);
}

/* Send the round's next step, or end the round. */
static void
advance (HostQmp *qmp)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) id = NULL;
  g_autoptr(GBytes) bytes = NULL;
  int step = qmp->step;

  while (++step < N_STEPS && !(qmp->round & STEP_BIT (step)))
    ;
  if (step == N_STEPS)
    {
      round_done (qmp);
      return;
    }
  qmp->step = step;
  qmp->step_id = ++qmp->next_id;
  id = json_node_init_int (json_node_alloc (), qmp->step_id);
  bytes = qga_wire_build_command (steps[step].command, NULL, id);
  if (!qga_stream_send (qmp->stream, bytes, QGA_STREAM_SEND_NONE, &error))
    {
      fail (qmp, "cannot send %s: %s", steps[step].command, error->message);
      return;
    }
  arm_step_timeout (qmp);
}

static void
start_round (HostQmp *qmp, guint round)
{
  qmp->busy = TRUE;
  qmp->round = round;
  qmp->step = STEP_GREETING;  /* advance() starts after it */
  if (round & STEP_BIT (STEP_GREETING))
    arm_step_timeout (qmp);
  else
    advance (qmp);
}

static guint
query_steps (guint allow)
{
  guint round = 0;

  for (Step step = STEP_VERSION; step < N_STEPS; step++)
    if (allow & HOST_STATS_BIT (steps[step].field))
      round |= STEP_BIT (step);
  return round;
}

static int
connect_socket (const char *path, GError **error)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int fd;

  if (*path == '\0' || strlen (path) >= sizeof address.sun_path)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR,
                   "the path is empty or longer than %zu bytes", sizeof address.sun_path - 1);
      return -1;
    }
  strcpy (address.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR, "socket: %s", g_strerror (errno));
      return -1;
    }
  /* A unix socket connects at once or fails (EAGAIN: its backlog is full);
   * should one ever be in progress, the greeting's timeout covers it. */
  if (connect (fd, (struct sockaddr *) &address, sizeof address) < 0 && errno != EINPROGRESS)
    {
      g_set_error (error, QGA_ERROR, QGA_ERROR_GENERIC_ERROR, "cannot connect: %s",
                   g_strerror (errno));
      close (fd);
      return -1;
    }
  return fd;
}

/* Connect and start the first round. On failure there is no round, and
 * no waiter is called (there is none: a round was not in flight). */
static void
start_connect (HostQmp *qmp)
{
  g_autoptr(GError) error = NULL;
  int fd;

  g_debug ("QMP: connecting to %s", qmp->path);
  g_clear_handle_id (&qmp->retry_source, g_source_remove);
  fd = connect_socket (qmp->path, &error);
  if (fd < 0)
    {
      fail (qmp, "%s", error->message);
      return;
    }
  qmp->stream = qga_stream_new (fd, TRUE, HOST_QMP_MAX_MESSAGE_SIZE, QMP_MAX_QUEUE_SIZE);
  g_signal_connect (qmp->stream, "message", G_CALLBACK (stream_message_cb), qmp);
  g_signal_connect (qmp->stream, "bad-input", G_CALLBACK (stream_bad_input_cb), qmp);
  g_signal_connect (qmp->stream, "closed", G_CALLBACK (stream_closed_cb), qmp);
  qmp->connecting = TRUE;
  start_round (qmp, STEP_BIT (STEP_GREETING) | STEP_BIT (STEP_CAPABILITIES) |
                    query_steps (qmp->allow));
}

/* --- QEMU's replies --- */

static gboolean
get_int (JsonObject *object, const char *name, gint64 min, gint64 max, gint64 *value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return *value >= min && *value <= max;
}

static JsonObject *
get_object (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)", as qemu --version says it. */
static char *
format_version (JsonObject *result)
{
  JsonObject *qemu = get_object (json_object_get_member (result, "qemu"));
  const char *package = qga_wire_get_string_member (result, "package");
  g_autofree char *trimmed = NULL;
  gint64 major, minor, micro;

  if (qemu == NULL || !get_int (qemu, "major", 0, G_MAXINT32, &major) ||
      !get_int (qemu, "minor", 0, G_MAXINT32, &minor) ||
      !get_int (qemu, "micro", 0, G_MAXINT32, &micro))
    return NULL;
  trimmed = g_strstrip (g_strdup (package != NULL ? package : ""));
  if (*trimmed == '\0')
    return g_strdup_printf ("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT,
                            major, minor, micro);
  /* Old QEMUs sent the parentheses in the package string. */
  if (*trimmed == '(')
    return g_strdup_printf ("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT " %s",
                            major, minor, micro, trimmed);
  return g_strdup_printf ("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT " (%s)",
                          major, minor, micro, trimmed);
}

/* A return value; FALSE if it is not what the command returns. */
static gboolean
handle_return (HostQmp *qmp, Step step, JsonNode *result)
{
  JsonObject *object = get_object (result);

  switch (step)
    {
    case STEP_CAPABILITIES:
      return TRUE;
    case STEP_VERSION:
      {
        g_autofree char *version = object != NULL ? format_version (object) : NULL;

        set_string (&qmp->qemu_version, version);
        return version != NULL;
      }
    case STEP_KVM:
      {
        JsonNode *enabled = object != NULL ? json_object_get_member (object, "enabled") : NULL;

        g_clear_pointer (&qmp->accelerator, g_free);
        if (enabled == NULL || !JSON_NODE_HOLDS_VALUE (enabled) ||
            json_node_get_value_type (enabled) != G_TYPE_BOOLEAN)
          return FALSE;
        qmp->accelerator = g_strdup (json_node_get_boolean (enabled) ? "kvm" : "tcg");
        return TRUE;
      }
    case STEP_NAME:
      {
        JsonNode *name = object != NULL ? json_object_get_member (object, "name") : NULL;

        g_clear_pointer (&qmp->vm_name, g_free);
        if (object == NULL)
          return FALSE;
        if (name == NULL)
          return TRUE;  /* the VM has no name */
        if (!JSON_NODE_HOLDS_VALUE (name) || json_node_get_value_type (name) != G_TYPE_STRING)
          return FALSE;
        set_string (&qmp->vm_name, json_node_get_string (name));
        return TRUE;
      }
    case STEP_CPUS:
      qmp->has_vcpus = result != NULL && JSON_NODE_HOLDS_ARRAY (result);
      if (qmp->has_vcpus)
        qmp->vcpus = json_array_get_length (json_node_get_array (result));
      return qmp->has_vcpus;
    case STEP_BALLOON:
      qmp->has_balloon = object != NULL && get_int (object, "actual", 0, G_MAXINT64, &qmp->balloon);
      return qmp->has_balloon;
    case STEP_GREETING:
    case N_STEPS:
    default:
      g_assert_not_reached ();
    }
}

static void
forget_field (HostQmp *qmp, Step step)
{
  switch (step)
    {
    case STEP_VERSION:
      g_clear_pointer (&qmp->qemu_version, g_free);
      break;
    case STEP_KVM:
      g_clear_pointer (&qmp->accelerator, g_free);
      break;
    case STEP_NAME:
      g_clear_pointer (&qmp->vm_name, g_free);
      break;
    case STEP_CPUS:
      qmp->has_vcpus = FALSE;
      break;
    case STEP_BALLOON:
      qmp->has_balloon = FALSE;
      break;
    default:
      break;
    }
}

static void
handle_reply (HostQmp *qmp, JsonObject *reply)
{
  Step step = qmp->step;
  JsonNode *result = json_object_get_member (reply, "return");
  JsonObject *error = get_object (json_object_get_member (reply, "error"));

  if (result != NULL)
    {
      if (!handle_return (qmp, step, result))
        warn (qmp, "QMP socket %s: unexpected reply to %s; its field is absent", qmp->path,
              steps[step].command);
    }
  else
    {
      const char *error_class = error != NULL ? qga_wire_get_string_member (error, "class") : NULL;
      const char *desc = error != NULL ? qga_wire_get_string_member (error, "desc") : NULL;
      g_autofree char *cut = desc != NULL ? qga_log_excerpt (desc, strlen (desc)) : NULL;
      g_autofree char *cut_class = error_class != NULL
                                     ? qga_log_excerpt (error_class, strlen (error_class)) : NULL;

      if (step == STEP_CAPABILITIES)
        {
          fail (qmp, "qmp_capabilities failed: %s: %s", cut_class ? cut_class : "?",
                cut ? cut : "?");
          return;
        }
      forget_field (qmp, step);
      if (step == STEP_BALLOON && g_strcmp0 (error_class, "DeviceNotActive") == 0)
        g_debug ("QMP: the VM has no balloon");
      else
        warn (qmp, "QMP socket %s: %s failed: %s: %s; its field is absent", qmp->path,
              steps[step].command, cut_class ? cut_class : "?", cut ? cut : "?");
    }
  advance (qmp);
}

static void
stream_message_cb (QgaStream *stream, JsonNode *message, gpointer user_data)
{
  HostQmp *qmp = user_data;
  JsonObject *object = get_object (message);
  gint64 id;

  if (object == NULL)
    {
      warn (qmp, "QMP socket %s: a message that is not an object; ignored", qmp->path);
      return;
    }
  if (qmp->busy && qmp->step == STEP_GREETING)
    {
      if (get_object (json_object_get_member (object, "QMP")) == NULL)
        fail (qmp, "not a QMP greeting");
      else
        advance (qmp);
      return;
    }
  if (json_object_has_member (object, "event"))
    return;  /* QEMU's events: not ours to handle */
  if (!qmp->busy || !qga_wire_get_int_id (object, &id) || id != qmp->step_id ||
      (!json_object_has_member (object, "return") && !json_object_has_member (object, "error")))
    {
      if (qga_rate_limit_allow (&qmp->warn_limit))
        {
          g_autofree char *text = qga_wire_to_string (message);
          g_autofree char *cut = qga_log_excerpt (text, strlen (text));

          g_warning ("QMP socket %s: an unexpected message, ignored: %s", qmp->path, cut);
        }
      return;
    }
  handle_reply (qmp, object);
}

static void
stream_bad_input_cb (QgaStream *stream, GError *error, gpointer user_data)
{
  HostQmp *qmp = user_data;
  g_autofree char *cut = NULL;

  if (!qga_rate_limit_allow (&qmp->warn_limit))
    return;   /* formatted only when logged */
  cut = qga_log_excerpt (error->message, strlen (error->message));
  g_warning ("QMP socket %s: bad input: %s", qmp->path, cut);
}

static void
stream_closed_cb (QgaStream *stream, GError *error, gpointer user_data)
{
  HostQmp *qmp = user_data;

  fail (qmp, "the connection closed (%s)", error != NULL ? error->message : "end of file");
}

/* --- the API --- */

void
host_qmp_start (HostQmp *qmp)
{
  if (qmp->allow == 0 || qmp->stream != NULL)
    return;
  qmp->autoconnect = TRUE;
  start_connect (qmp);
}

guint
host_qmp_refresh (HostQmp *qmp, HostQmpReadyFunc func, gpointer user_data)
{
  gint64 now = g_get_monotonic_time ();
  Waiter *waiter;

  if (qmp->allow == 0)
    return 0;
  if (!qmp->busy)
    {
      if (qmp->stream != NULL)
        {
          guint round = query_steps (qmp->allow) & (STEP_BIT (STEP_CPUS) | STEP_BIT (STEP_BALLOON));

          if (round == 0 || now - qmp->last_round_end < HOST_QMP_FRESH_MS * 1000)
            return 0;
          start_round (qmp, round);
        }
      else if (now >= qmp->next_attempt)
        start_connect (qmp);
      if (!qmp->busy)
        return 0;
    }
  /* After a failure, connecting again goes on in the background: a QMP
   * socket that hangs delays no more than the first answers. */
  if (qmp->connecting && qmp->failing)
    return 0;
  if (g_queue_get_length (&qmp->waiters) >= HOST_QMP_MAX_WAITERS)
    return 0;
  waiter = g_new0 (Waiter, 1);
  waiter->qmp = qmp;
  waiter->id = ++qmp->next_waiter_id;
  if (waiter->id == 0)
    waiter->id = ++qmp->next_waiter_id;
  waiter->func = func;
  waiter->user_data = user_data;
  waiter->timeout_source = g_timeout_add (HOST_QMP_WAIT_MS, waiter_timeout_cb, waiter);
  g_queue_push_tail (&qmp->waiters, waiter);
  return waiter->id;
}

static gboolean
remove_waiter (GQueue *queue, guint wait_id)
{
  for (GList *l = queue->head; l != NULL; l = l->next)
    {
      Waiter *waiter = l->data;

      if (waiter->id == wait_id)
        {
          g_queue_delete_link (queue, l);
          waiter_free (waiter);
          return TRUE;
        }
    }
  return FALSE;
}

void
host_qmp_cancel (HostQmp *qmp, guint wait_id)
{
  if (!remove_waiter (&qmp->waiters, wait_id))
    remove_waiter (&qmp->completing, wait_id);
}

const char *
host_qmp_get_path (HostQmp *qmp)
{
  return qmp->path;
}

HostQmp *
host_qmp_new (const char *path, guint allow)
{
  HostQmp *qmp = g_new0 (HostQmp, 1);

  qmp->path = g_strdup (path);
  qmp->allow = allow & HOST_STATS_HYPERVISOR;
  qmp->backoff_ms = HOST_QMP_MIN_BACKOFF_MS;
  qmp->warn_limit = (QgaRateLimit) QGA_RATE_LIMIT_INIT ("QMP");
  g_queue_init (&qmp->waiters);
  g_queue_init (&qmp->completing);
  return qmp;
}

void
host_qmp_free (HostQmp *qmp)
{
  if (qmp == NULL)
    return;
  drop_stream (qmp);
  end_round (qmp);
  g_clear_handle_id (&qmp->retry_source, g_source_remove);
  g_clear_pointer (&qmp->last_failure, g_free);
  g_queue_clear_full (&qmp->waiters, (GDestroyNotify) waiter_free);
  g_queue_clear_full (&qmp->completing, (GDestroyNotify) waiter_free);
  clear_cache (qmp);
  qga_rate_limit_clear (&qmp->warn_limit);
  g_free (qmp->path);
  g_free (qmp);
}
