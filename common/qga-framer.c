/* qga-framer.c: incremental JSON message framing (see qga-framer.h). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "qga-framer.h"

typedef enum {
  MODE_IDLE,    /* between messages */
  MODE_VALUE,   /* inside an object, array or top-level string */
  MODE_SCALAR,  /* inside a top-level number or literal */
  MODE_SKIP,    /* discarding the rest of a rejected value */
  MODE_SKIP_SCALAR, /* discarding the rest of a rejected top-level scalar */
} Mode;

struct _QgaFramer {
  GByteArray *buf;
  gsize pos;            /* next byte to scan */
  gsize msg_start;      /* first byte of the current message */
  gsize max_size;
  Mode mode;

  guint depth;
  gboolean in_string;
  char quote;           /* '"' or '\'' (QEMU accepts single-quoted strings) */
  guint escape;         /* 0: none, 1: after '\', 2..5: inside \uXXXX */
  gboolean u_all_zero;

  gboolean in_number;
  gsize number_start;   /* offset from msg_start */
  int pending_error_code;   /* -1: none; else a QgaFramerError found mid-message */
};

G_DEFINE_QUARK (qga-framer-error-quark, qga_framer_error)

QgaFramer *
qga_framer_new (gsize max_message_size)
{
  QgaFramer *framer = g_new0 (QgaFramer, 1);

  /* Grown by the first push: a framer made for one short text (D-Bus
   * arguments, qga_wire_parse_object()) should not cost a 4 KiB block. */
  framer->buf = g_byte_array_new ();
  framer->max_size = MAX (max_message_size, 2);
  framer->pending_error_code = -1;
  return framer;
}

void
qga_framer_free (QgaFramer *framer)
{
  if (framer == NULL)
    return;
  g_byte_array_unref (framer->buf);
  g_free (framer);
}

gsize
qga_framer_get_max_message_size (QgaFramer *framer)
{
  return framer->max_size;
}

static void
reset_lexer (QgaFramer *framer)
{
  framer->depth = 0;
  framer->in_string = FALSE;
  framer->escape = 0;
  framer->in_number = FALSE;
  framer->pending_error_code = -1;
  framer->mode = MODE_IDLE;
}

void
qga_framer_reset (QgaFramer *framer)
{
  g_byte_array_set_size (framer->buf, 0);
  framer->pos = 0;
  framer->msg_start = 0;
  reset_lexer (framer);
}

gboolean
qga_framer_is_idle (QgaFramer *framer)
{
  return framer->mode == MODE_IDLE;
}

/* Drop bytes that no message needs any more, so the buffer holds at most
 * the current message plus what is not yet scanned. */
static void
compact (QgaFramer *framer)
{
  gsize keep_from;

  if (framer->mode == MODE_VALUE || framer->mode == MODE_SCALAR)
    keep_from = framer->msg_start;
  else
    keep_from = framer->pos;

  if (keep_from == 0)
    return;
  g_byte_array_remove_range (framer->buf, 0, keep_from);
  framer->pos -= keep_from;
  framer->msg_start -= MIN (framer->msg_start, keep_from);
}

void
qga_framer_release_memory (QgaFramer *framer)
{
  compact (framer);
  if (framer->buf->len > 0)
    return;
  g_byte_array_unref (framer->buf);
  framer->buf = g_byte_array_new ();
}

void
qga_framer_push (QgaFramer *framer, const void *data, gsize length)
{
  g_warn_if_fail (framer->pos == framer->buf->len);
  compact (framer);
  g_byte_array_append (framer->buf, data, length);
}

static gboolean
is_reset_byte (guint8 c)
{
  return c == 0xFF || c == 0xFE ||
         (c < 0x20 && c != '\t' && c != '\r' && c != '\n');
}

static gboolean
is_whitespace (guint8 c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static gboolean
ends_scalar (guint8 c)
{
  return is_whitespace (c) || strchr ("{}[],:\"'", c) != NULL || is_reset_byte (c);
}

static gboolean
is_number_char (guint8 c)
{
  return g_ascii_isdigit (c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* json-glib wraps integers beyond int64 and turns huge exponents into inf. */
static gboolean
number_in_range (const char *text, gsize len)
{
  const char *digits = text;
  gsize ndigits = len;
  gboolean negative = FALSE;

  if (len > 0 && text[0] == '-')
    {
      negative = TRUE;
      digits++;
      ndigits--;
    }
  if (memchr (text, '.', len) || memchr (text, 'e', len) || memchr (text, 'E', len))
    {
      g_autofree char *copy = g_strndup (text, MIN (len, 512));
      double value = g_ascii_strtod (copy, NULL);

      return len <= 512 && isfinite (value);
    }
  if (ndigits < 19)
    return TRUE;
  if (ndigits > 19)
    return FALSE;
  return memcmp (digits, negative ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

static void
note_error (QgaFramer *framer, QgaFramerError code)
{
  if (framer->pending_error_code < 0)
    framer->pending_error_code = code;
}

static void
end_number (QgaFramer *framer)
{
  const char *start = (const char *) framer->buf->data + framer->msg_start + framer->number_start;
  gsize len = framer->pos - (framer->msg_start + framer->number_start);

  framer->in_number = FALSE;
  if (framer->mode != MODE_SKIP && !number_in_range (start, len))
    note_error (framer, QGA_FRAMER_ERROR_NUMBER_RANGE);
}

static void
scan_string_byte (QgaFramer *framer, guint8 c)
{
  if (framer->escape == 1)
    {
      framer->escape = (c == 'u') ? 2 : 0;
      framer->u_all_zero = TRUE;
      return;
    }
  if (framer->escape >= 2)
    {
      if (c != '0')
        framer->u_all_zero = FALSE;
      if (++framer->escape == 6)
        {
          framer->escape = 0;
          if (framer->u_all_zero && framer->mode != MODE_SKIP)
            note_error (framer, QGA_FRAMER_ERROR_NUL);
        }
      return;
    }
  if (c == '\\')
    framer->escape = 1;
  else if (c == (guint8) framer->quote)
    framer->in_string = FALSE;
}

static QgaFramerStatus
fail (GError **error, QgaFramerError code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static QgaFramerStatus
fail (GError **error, QgaFramerError code, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (QGA_FRAMER_ERROR, code, format, args));
  va_end (args);
  return QGA_FRAMER_FAILED;
}

static QgaFramerStatus
finish_message (QgaFramer *framer, gsize end, const char **message, gsize *length,
                GError **error)
{
  int pending = framer->pending_error_code;

  framer->pos = end;
  reset_lexer (framer);
  switch (pending)
    {
    case -1:
      *message = (const char *) framer->buf->data + framer->msg_start;
      *length = end - framer->msg_start;
      return QGA_FRAMER_MESSAGE;
    case QGA_FRAMER_ERROR_NUMBER_RANGE:
      return fail (error, pending, "JSON parse error, number out of range");
    default:
      return fail (error, pending, "JSON parse error, \\u0000 in a string is not supported");
    }
}

static void
start_message (QgaFramer *framer, Mode mode)
{
  framer->mode = mode;
  framer->msg_start = framer->pos;
}

/* How many bytes from pos on (before end) are plain string content: no
 * quote, no backslash, no reset byte. Such bytes change no state, so they
 * are skipped in one tight loop rather than one state step each: large
 * strings (a clipboard chunk is 64 KiB of base64) are most of the input. */
static gsize
plain_string_run (QgaFramer *framer, gsize end)
{
  const guint8 *data = framer->buf->data;
  guint8 quote = (guint8) framer->quote;
  gsize i = framer->pos;

  while (i < end)
    {
      guint8 c = data[i];

      if (c < 0x20 || c >= 0xFE || c == quote || c == '\\')
        break;
      i++;
    }
  return i - framer->pos;
}

/* Scan one byte inside MODE_VALUE or MODE_SKIP. Returns TRUE when the
 * top-level value closed with this byte. */
static gboolean
scan_value_byte (QgaFramer *framer, guint8 c, gboolean *too_deep)
{
  if (framer->in_string)
    {
      scan_string_byte (framer, c);
      return !framer->in_string && framer->depth == 0;
    }
  if (framer->in_number && !is_number_char (c))
    end_number (framer);

  switch (c)
    {
    case '"':
    case '\'':
      framer->in_string = TRUE;
      framer->quote = c;
      return FALSE;
    case '{':
    case '[':
      if (++framer->depth > QGA_FRAMER_MAX_DEPTH && framer->mode != MODE_SKIP)
        *too_deep = TRUE;
      return FALSE;
    case '}':
    case ']':
      if (framer->depth > 0)
        framer->depth--;
      return framer->depth == 0;
    default:
      if (!framer->in_number && (g_ascii_isdigit (c) || c == '-') && framer->mode != MODE_SKIP)
        {
          framer->in_number = TRUE;
          framer->number_start = framer->pos - framer->msg_start;
        }
      return FALSE;
    }
}

static QgaFramerStatus
begin_value (QgaFramer *framer, guint8 c, GError **error)
{
  switch (c)
    {
    case '{':
    case '[':
      start_message (framer, MODE_VALUE);
      framer->depth = 1;
      break;
    case '"':
    case '\'':
      start_message (framer, MODE_VALUE);
      framer->in_string = TRUE;
      framer->quote = c;
      break;
    case '}':
    case ']':
    case ',':
    case ':':
      framer->pos++;
      return fail (error, QGA_FRAMER_ERROR_SYNTAX, "JSON parse error, stray '%c'", c);
    default:
      start_message (framer, MODE_SCALAR);
      if (g_ascii_isdigit (c) || c == '-')
        {
          framer->in_number = TRUE;
          framer->number_start = 0;
        }
      return QGA_FRAMER_NEED_MORE;  /* re-scan this byte in MODE_SCALAR */
    }
  framer->pos++;
  return QGA_FRAMER_NEED_MORE;
}

static QgaFramerStatus
enter_skip (QgaFramer *framer, QgaFramerError code, GError **error)
{
  gsize limit = framer->max_size;

  framer->mode = MODE_SKIP;
  framer->in_number = FALSE;
  if (code == QGA_FRAMER_ERROR_TOO_DEEP)
    return fail (error, code, "JSON nesting depth limit exceeded (%d)", QGA_FRAMER_MAX_DEPTH);
  return fail (error, code, "JSON message exceeds the size limit of %" G_GSIZE_FORMAT " bytes", limit);
}

QgaFramerStatus
qga_framer_next (QgaFramer *framer, const char **message, gsize *length, GError **error)
{
  GByteArray *buf = framer->buf;

  while (framer->pos < buf->len)
    {
      guint8 c;
      gboolean too_deep = FALSE;
      gboolean closed;

      if (framer->in_string && framer->escape == 0)
        {
          /* In MODE_VALUE, stop where the byte-wise size check would fire. */
          gsize end = framer->mode == MODE_VALUE ? MIN (buf->len, framer->msg_start + framer->max_size)
                                                 : buf->len;
          gsize run = framer->pos < end ? plain_string_run (framer, end) : 0;

          if (run > 0)
            {
              framer->pos += run;
              continue;
            }
        }
      c = buf->data[framer->pos];
      if (is_reset_byte (c))
        {
          framer->pos++;
          reset_lexer (framer);
          return fail (error, QGA_FRAMER_ERROR_RESET,
                       "JSON parse error, stray byte 0x%02x", c);
        }

      switch (framer->mode)
        {
        case MODE_IDLE:
          if (is_whitespace (c))
            {
              framer->pos++;
              continue;
            }
          if (begin_value (framer, c, error) == QGA_FRAMER_FAILED)
            return QGA_FRAMER_FAILED;
          continue;

        case MODE_SCALAR:
          if (ends_scalar (c))
            {
              if (framer->in_number)
                end_number (framer);
              return finish_message (framer, framer->pos, message, length, error);
            }
          break;

        case MODE_SKIP_SCALAR:
          if (ends_scalar (c))
            {
              reset_lexer (framer);
              continue;
            }
          break;

        case MODE_VALUE:
        case MODE_SKIP:
          closed = scan_value_byte (framer, c, &too_deep);
          if (too_deep)
            {
              framer->pos++;
              return enter_skip (framer, QGA_FRAMER_ERROR_TOO_DEEP, error);
            }
          if (closed && framer->mode == MODE_SKIP)
            {
              framer->pos++;
              reset_lexer (framer);
              continue;
            }
          if (closed && framer->pos + 1 - framer->msg_start > framer->max_size)
            {
              framer->pos++;
              reset_lexer (framer);
              return fail (error, QGA_FRAMER_ERROR_TOO_LARGE,
                           "JSON message exceeds the size limit of %" G_GSIZE_FORMAT " bytes",
                           framer->max_size);
            }
          if (closed)
            return finish_message (framer, framer->pos + 1, message, length, error);
          break;
        }

      framer->pos++;
      if ((framer->mode == MODE_VALUE || framer->mode == MODE_SCALAR) &&
          framer->pos - framer->msg_start > framer->max_size)
        {
          gboolean scalar = framer->mode == MODE_SCALAR;
          QgaFramerStatus status = enter_skip (framer, QGA_FRAMER_ERROR_TOO_LARGE, error);

          if (scalar)
            framer->mode = MODE_SKIP_SCALAR;
          return status;
        }
    }
  return QGA_FRAMER_NEED_MORE;
}
