/* bridge-config.h: the daemon's settings, from the command line. */
#pragma once

#include <gio/gio.h>

#define BRIDGE_DEFAULT_CHANNEL "/dev/virtio-ports/org.qemu.guest_bridge.0"
#define BRIDGE_BUS_NAME "org.qemu.GuestAgent"
#define BRIDGE_OBJECT_PATH "/org/qemu/GuestAgent"

typedef struct {
  GBusType bus_type;
  char *channel_spec;
  double request_timeout;    /* seconds */
  gsize max_message_size;    /* bytes, both directions and D-Bus input */
  gsize max_queue_size;      /* bytes waiting to be written to the host */
  guint max_pending;         /* requests in flight per D-Bus client */
  guint max_call_rate;       /* requests a second per D-Bus client, 0 for no limit */
  guint host_window;         /* requests per D-Bus client on the wire at once */
  guint max_clients;         /* D-Bus clients tracked at once */
  guint max_agents;          /* session agents registered at once */
  guint64 max_clipboard_size; /* bytes of one clipboard content, both ways */
  double clipboard_timeout;  /* seconds without progress before a transfer is cancelled */
  gboolean verbose;
  gboolean replace;
} BridgeConfig;
