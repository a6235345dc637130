/* host-control.c: the control lines of serve mode (see host-control.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "host-control.h"
#include "qga-wire.h"

#define CONTROL_READ_CHUNK (64 * 1024)

typedef struct _ControlInput ControlInput;
typedef void (*ControlLineFunc) (const char *line, gsize length, gpointer user_data);

/* Line reader on a non-blocking-safe fd: one read() per wakeup, so stdin
 * need not be switched to O_NONBLOCK (which would leak to the parent's tty). */
struct _ControlInput {
  int fd;
  guint source;
  GByteArray *line;
  gboolean discarding;      /* inside a line that was too long */
  ControlLineFunc func;
  gpointer user_data;
};

struct _HostControl {
  ControlInput *input;
  gsize max_message_size;
  HostControlPeerFunc get_peer;
  gpointer user_data;
  gint64 next_id;           /* ids of the commands sent from here */
};

/* --- the line reader --- */

static void
control_input_emit (ControlInput *input)
{
  GByteArray *line = input->line;
  gsize length = line->len;

  /* A CRLF line ends before its '\r'; the NUL terminates it for the handler. */
  if (length > 0 && line->data[length - 1] == '\r')
    g_byte_array_set_size (line, --length);
  g_byte_array_append (line, (const guint8 *) "", 1);
  input->func ((const char *) line->data, length, input->user_data);
  g_byte_array_set_size (line, 0);
}

static void
control_input_feed (ControlInput *input, const guint8 *data, gsize length)
{
  while (length > 0)
    {
      const guint8 *newline = memchr (data, '\n', length);
      gsize piece = newline != NULL ? (gsize) (newline - data) : length;

      if (!input->discarding && input->line->len + piece > HOST_CONTROL_LINE_MAX)
        {
          g_warning ("control input: a line longer than %d bytes was rejected", HOST_CONTROL_LINE_MAX);
          g_byte_array_set_size (input->line, 0);
          input->discarding = TRUE;
        }
      if (!input->discarding)
        g_byte_array_append (input->line, data, piece);
      if (newline == NULL)
        return;
      if (!input->discarding)
        control_input_emit (input);
      input->discarding = FALSE;
      g_byte_array_set_size (input->line, 0);
      data += piece + 1;
      length -= piece + 1;
    }
}

static gboolean
control_input_ready_cb (int fd, GIOCondition condition, gpointer user_data)
{
  ControlInput *input = user_data;
  guint8 buffer[CONTROL_READ_CHUNK];
  ssize_t n = read (fd, buffer, sizeof buffer);

  if (n > 0)
    {
      control_input_feed (input, buffer, n);
      return G_SOURCE_CONTINUE;
    }
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
    return G_SOURCE_CONTINUE;
  if (n < 0)
    g_warning ("control input: read failed: %s; no longer reading stdin", g_strerror (errno));
  else
    g_debug ("control input: end of file");
  if (input->line->len > 0 && !input->discarding)
    control_input_emit (input);  /* a last line without '\n' */
  input->source = 0;
  return G_SOURCE_REMOVE;
}

static ControlInput *
control_input_new (int fd, ControlLineFunc func, gpointer user_data)
{
  ControlInput *input = g_new0 (ControlInput, 1);

  input->fd = fd;
  input->line = g_byte_array_new ();
  input->func = func;
  input->user_data = user_data;
  if (fcntl (fd, F_GETFD) < 0)
    g_debug ("control input: fd %d is not open", fd);
  else
    input->source = g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR, control_input_ready_cb, input);
  return input;
}

static void
control_input_free (ControlInput *input)
{
  if (input == NULL)
    return;
  g_clear_handle_id (&input->source, g_source_remove);
  g_byte_array_unref (input->line);
  g_free (input);
}

/* --- the commands --- */

/* Split "WORD REST": *word ends at the first blank, *rest starts after the
 * blanks that follow it. */
static char *
next_word (const char *text, const char **rest)
{
  gsize start = strspn (text, " \t");
  gsize end = start + strcspn (text + start, " \t");

  *rest = text + end + strspn (text + end, " \t");
  return g_strndup (text + start, end - start);
}

static HostPeer *
peer_or_warn (HostControl *control, const char *what, const char *name)
{
  HostPeer *peer = control->get_peer (control->user_data);

  if (peer == NULL)
    g_warning ("no guest connected: dropped %s %s", what, name);
  return peer;
}

static void
warn_send_failed (const char *what, GError *error)
{
  g_warning ("cannot send %s to the guest: %s", what, error->message);
}

static void
control_event (HostControl *control, const char *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) data = NULL;
  HostPeer *peer;
  const char *rest;
  g_autofree char *name = next_word (args, &rest);

  if (!qga_wire_event_name_is_valid (name))
    {
      g_warning ("control input: invalid event name '%.128s' (expected [A-Z][A-Z0-9_]*)", name);
      return;
    }
  data = qga_wire_parse_object (rest, control->max_message_size, &error);
  if (data == NULL)
    {
      g_warning ("control input: invalid data for event %s: %s", name, error->message);
      return;
    }
  peer = peer_or_warn (control, "event", name);
  if (peer == NULL)
    return;
  if (!host_peer_send_event (peer, name, data, &error))
    warn_send_failed ("the event", error);
}

static void
control_call (HostControl *control, const char *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) arguments = NULL;
  HostPeer *peer;
  const char *rest;
  g_autofree char *name = next_word (args, &rest);

  if (!qga_wire_command_name_is_valid (name, "guest-"))
    {
      g_warning ("control input: invalid command name '%.128s' (expected guest-[a-z0-9-]+)", name);
      return;
    }
  if (*rest != '\0')
    {
      arguments = qga_wire_parse_object (rest, control->max_message_size, &error);
      if (arguments == NULL)
        {
          g_warning ("control input: invalid arguments for %s: %s", name, error->message);
          return;
        }
    }
  peer = peer_or_warn (control, "call", name);
  if (peer == NULL)
    return;
  if (!host_peer_send_command (peer, name, arguments, control->next_id++, &error))
    warn_send_failed ("the command", error);
}

static void
control_raw (HostControl *control, const char *text, gsize length)
{
  g_autoptr(GError) error = NULL;
  HostPeer *peer = peer_or_warn (control, "raw", "line");

  if (peer == NULL)
    return;
  if (!host_peer_send_raw (peer, text, length, &error))
    warn_send_failed ("the raw line", error);
}

static void
control_sync (HostControl *control)
{
  g_autoptr(GError) error = NULL;
  HostPeer *peer = peer_or_warn (control, "sync", "request");

  if (peer == NULL)
    return;
  if (!host_peer_send_sync (peer, control->next_id++, &error))
    warn_send_failed ("guest-sync-delimited", error);
}

static void
control_line_cb (const char *line, gsize length, gpointer user_data)
{
  HostControl *control = user_data;
  const char *rest;
  g_autofree char *verb = NULL;

  if (strspn (line, " \t") == length)
    return;
  verb = next_word (line, &rest);
  /* raw keeps its text byte for byte: everything after "raw " */
  if (g_str_equal (verb, "raw"))
    {
      const char *text = line + strspn (line, " \t") + strlen ("raw");

      if (*text == ' ' || *text == '\t')
        text++;
      control_raw (control, text, length - (text - line));
      return;
    }
  if (strlen (line) != length)
    g_warning ("control input: line contains a NUL byte; ignored");
  else if (g_str_equal (verb, "event"))
    control_event (control, rest);
  else if (g_str_equal (verb, "call"))
    control_call (control, rest);
  else if (g_str_equal (verb, "sync") && *rest == '\0')
    control_sync (control);
  else
    g_warning ("control input: cannot parse '%.64s' (expected event, call, raw or sync)", line);
}

/* --- HostControl --- */

HostControl *
host_control_new (int fd, gsize max_message_size,
                  HostControlPeerFunc get_peer, gpointer user_data)
{
  HostControl *control = g_new0 (HostControl, 1);

  control->max_message_size = max_message_size;
  control->get_peer = get_peer;
  control->user_data = user_data;
  control->next_id = 1;
  control->input = control_input_new (fd, control_line_cb, control);
  return control;
}

void
host_control_free (HostControl *control)
{
  if (control == NULL)
    return;
  control_input_free (control->input);
  g_free (control);
}
