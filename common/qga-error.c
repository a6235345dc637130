/* qga-error.c: the QGA_ERROR domain, registered with D-Bus error names. */
#include "config.h"

#include <string.h>
#include <gio/gio.h>

#include "qga-error.h"

/* Indexed by code. */
#define ENTRY(code, cls) { code, QGA_DBUS_ERROR_PREFIX cls }
static const GDBusErrorEntry entries[QGA_ERROR_N_CODES] = {
  ENTRY (QGA_ERROR_GENERIC_ERROR, "GenericError"),
  ENTRY (QGA_ERROR_COMMAND_NOT_FOUND, "CommandNotFound"),
  ENTRY (QGA_ERROR_HOST_DISCONNECTED, "HostDisconnected"),
  ENTRY (QGA_ERROR_TIMEOUT, "Timeout"),
  ENTRY (QGA_ERROR_LIMIT_EXCEEDED, "LimitExceeded"),
  ENTRY (QGA_ERROR_QUEUE_FULL, "QueueFull"),
  ENTRY (QGA_ERROR_INVALID_REPLY, "InvalidReply"),
  ENTRY (QGA_ERROR_PROTOCOL, "ProtocolError"),
  ENTRY (QGA_ERROR_CANCELLED, "Cancelled"),
  ENTRY (QGA_ERROR_NO_DATA, "NoData"),
  ENTRY (QGA_ERROR_NOT_SUPPORTED, "NotSupported"),
};

GQuark
qga_error_quark (void)
{
  static gsize quark = 0;

  /* Guards itself with g_once on &quark: do not wrap it in another. */
  g_dbus_error_register_error_domain ("qga-error-quark", &quark, entries, G_N_ELEMENTS (entries));
  return (GQuark) quark;
}

const char *
qga_error_class_name (QgaErrorCode code)
{
  if ((int) code < 0 || code >= QGA_ERROR_N_CODES)
    code = QGA_ERROR_GENERIC_ERROR;
  return entries[code].dbus_error_name + strlen (QGA_DBUS_ERROR_PREFIX);
}

QgaErrorCode
qga_error_code_from_class (const char *error_class)
{
  for (int i = 0; i < QGA_ERROR_N_CODES; i++)
    if (g_strcmp0 (qga_error_class_name (i), error_class) == 0)
      return i;
  return QGA_ERROR_GENERIC_ERROR;
}

gboolean
qga_error_class_is_valid (const char *error_class)
{
  gsize len;

  if (error_class == NULL || !g_ascii_isalpha (error_class[0]))
    return FALSE;
  len = strlen (error_class);
  if (len > 64)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (error_class[i]) && error_class[i] != '_')
      return FALSE;
  return TRUE;
}
