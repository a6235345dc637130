/* fuzz-framer.c: the framer and the wire parser, on bytes from the peer.
 *
 * The input is the byte stream of a connection. The first byte picks the
 * message size limit; the rest is pushed into a framer in pieces whose
 * sizes come from the input's hash (as reads of a socket split it), and
 * every message that comes out goes through qga_wire_parse() and
 * qga_wire_classify(), as in QgaStream. Checked besides "no crash":
 *
 *  - the same stream pushed at once and pushed in pieces gives the same
 *    messages and the same errors (the framer does not depend on how
 *    reads split the input);
 *  - a parsed message printed again (qga_wire_to_string) frames as one
 *    message and parses to the same text (what we send, we accept);
 *  - the input as caller-supplied text (qga_wire_parse_object, the D-Bus
 *    arguments' path) never crashes, and accepts only objects. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "qga-framer.h"
#include "qga-wire.h"

static const gsize size_limits[] = { 2, 16, 64, 256, 4096, 65536, 8 * 1024 * 1024, 3 };

static void
check_round_trip (JsonNode *root)
{
  g_autofree char *text = qga_wire_to_string (root);
  g_autofree char *line = g_strconcat (text, "\n", NULL);
  g_autoptr(QgaFramer) framer = qga_framer_new (strlen (line));
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autofree char *text_again = NULL;
  const char *message;
  gsize length;
  QgaFramerStatus status;

  /* A top-level scalar ends at the next delimiter, as on the wire. One
   * push: the framer expects the last one scanned before the next. */
  qga_framer_push (framer, line, strlen (line));
  status = qga_framer_next (framer, &message, &length, &error);
  if (status != QGA_FRAMER_MESSAGE)
    {
      fprintf (stderr, "our own text does not frame: %s (%s)\n", text,
               error ? error->message : "need more");
      abort ();
    }
  again = qga_wire_parse (message, length, &error);
  if (again == NULL)
    {
      fprintf (stderr, "our own text does not parse: %s (%s)\n", text, error->message);
      abort ();
    }
  text_again = qga_wire_to_string (again);
  if (strcmp (text, text_again) != 0)
    {
      fprintf (stderr, "round trip changed the text:\n%s\n%s\n", text, text_again);
      abort ();
    }
}

static void
handle_message (const char *message, gsize length, GString *log, gboolean parse)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;

  g_string_append_c (log, 'M');
  g_string_append_len (log, message, length);
  g_string_append_c (log, '\n');
  if (!parse)
    return;   /* the same text as the other pass's */
  root = qga_wire_parse (message, length, &error);
  if (root == NULL)
    {
      g_assert (error != NULL);
      return;
    }
  g_assert (error == NULL);
  if (JSON_NODE_HOLDS_OBJECT (root) && qga_wire_classify (root) == QGA_WIRE_COMMAND)
    {
      g_autoptr(GError) check_error = NULL;

      qga_wire_check_command (json_node_get_object (root), &check_error);
    }
  check_round_trip (root);
}

/* Drain the framer; parse (and check) what it yields if parse. */
static void
drain (QgaFramer *framer, GString *log, gboolean parse)
{
  const char *message;
  gsize length;
  QgaFramerStatus status;

  for (;;)
    {
      g_autoptr(GError) error = NULL;

      status = qga_framer_next (framer, &message, &length, &error);
      if (status == QGA_FRAMER_NEED_MORE)
        {
          g_assert (error == NULL);
          return;
        }
      if (status == QGA_FRAMER_FAILED)
        {
          g_assert (error != NULL && error->domain == QGA_FRAMER_ERROR);
          /* Not printf: some inputs are an error a byte. */
          g_string_append_c (log, 'E');
          g_string_append_c (log, (char) ('0' + error->code));
          g_string_append_c (log, '\n');
          continue;
        }
      g_assert (error == NULL);
      g_assert (length <= qga_framer_get_max_message_size (framer));
      handle_message (message, length, log, parse);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(QgaFramer) whole = NULL;
  g_autoptr(QgaFramer) split = NULL;
  /* Kept across inputs (not leaks: reachable), emptied for each. */
  static GString *whole_log, *split_log;
  FuzzRng rng;
  gsize limit;

  fuzz_init ();
  if (size < 1)
    return 0;
  whole_log = whole_log ? g_string_truncate (whole_log, 0) : g_string_new (NULL);
  split_log = split_log ? g_string_truncate (split_log, 0) : g_string_new (NULL);
  limit = size_limits[data[0] % G_N_ELEMENTS (size_limits)];
  fuzz_rng_init (&rng, data, size);
  data++;
  size--;

  whole = qga_framer_new (limit);
  qga_framer_push (whole, data, size);
  drain (whole, whole_log, TRUE);

  split = qga_framer_new (limit);
  for (size_t done = 0; done < size;)
    {
      size_t piece = 1 + fuzz_rng_next (&rng) % 64;   /* not inside MIN(): evaluated twice */

      piece = MIN (piece, size - done);

      qga_framer_push (split, data + done, piece);
      done += piece;
      drain (split, split_log, FALSE);
      if (fuzz_rng_next (&rng) % 16 == 0)
        qga_framer_release_memory (split);
    }
  if (strcmp (whole_log->str, split_log->str) != 0)
    {
      fprintf (stderr, "the framer's output depends on how the input is split:\n"
               "--- at once\n%s--- in pieces\n%s", whole_log->str, split_log->str);
      abort ();
    }
  g_assert (qga_framer_is_idle (whole) == qga_framer_is_idle (split));

  /* The same bytes as D-Bus call arguments. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) object = NULL;
    g_autofree char *text = g_strndup ((const char *) data, size);

    object = qga_wire_parse_object (text, limit, &error);
    g_assert ((object == NULL) != (error == NULL));
    if (object != NULL)
      {
        g_assert (JSON_NODE_HOLDS_OBJECT (object));
        check_round_trip (object);
      }
  }
  return 0;
}
