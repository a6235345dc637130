/* qga-error.h: the error domain shared by qga-bridge and qga-host.
 *
 * Every code has a registered D-Bus error name, org.qemu.GuestAgent.Error.<Name>,
 * so a GError raised anywhere in the bridge reaches a D-Bus caller with a
 * stable, documented name (see docs/DBUS-API.md).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define QGA_ERROR (qga_error_quark ())
#define QGA_DBUS_ERROR_PREFIX "org.qemu.GuestAgent.Error."

typedef enum {
  QGA_ERROR_GENERIC_ERROR,       /* GenericError: the host's generic class, and ours */
  QGA_ERROR_COMMAND_NOT_FOUND,   /* CommandNotFound: the peer does not know the command */
  QGA_ERROR_HOST_DISCONNECTED,   /* HostDisconnected: no host attached, or it left */
  QGA_ERROR_TIMEOUT,             /* Timeout: no reply within --request-timeout */
  QGA_ERROR_LIMIT_EXCEEDED,      /* LimitExceeded: a per-client or global limit */
  QGA_ERROR_QUEUE_FULL,          /* QueueFull: the outgoing queue to the host is full */
  QGA_ERROR_INVALID_REPLY,       /* InvalidReply: the host sent a malformed reply */
  QGA_ERROR_PROTOCOL,            /* ProtocolError: malformed bytes on the wire */
  QGA_ERROR_CANCELLED,           /* Cancelled: the caller left or the bridge is stopping */
  QGA_ERROR_NO_DATA,             /* NoData: no clipboard content of that selection and type */
  QGA_ERROR_NOT_SUPPORTED,       /* NotSupported: the peer did not announce the feature */
} QgaErrorCode;

#define QGA_ERROR_N_CODES (QGA_ERROR_NOT_SUPPORTED + 1)

GQuark qga_error_quark (void);

/* The D-Bus error class name (the part after the prefix), e.g. "Timeout". */
const char *qga_error_class_name (QgaErrorCode code);

/* Map a wire error class ("GenericError", ...) to a code; unknown → GENERIC_ERROR. */
QgaErrorCode qga_error_code_from_class (const char *error_class);

/* TRUE if s is usable as the last element of a D-Bus error name. */
gboolean qga_error_class_is_valid (const char *error_class);

G_END_DECLS
