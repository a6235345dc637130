/* qga-desktop-wayland-protocol.c: ext-data-control-v1 and
 * wlr-data-control-unstable-v1 behind one set of requests.
 *
 * The two protocols have the same objects, requests, events and
 * arguments in the same order (ext is wlr's successor): only the
 * interfaces' names differ. So the requests go through wl_proxy with the
 * opcodes they share, and one listener per object serves both (libwayland
 * calls listeners from the wire's signature, not from C types).
 */
#include "config.h"

#include "ext-data-control-v1-client-protocol.h"
#include "wlr-data-control-unstable-v1-client-protocol.h"
#include "qga-desktop-wayland-private.h"

G_STATIC_ASSERT (EXT_DATA_CONTROL_MANAGER_V1_CREATE_DATA_SOURCE == ZWLR_DATA_CONTROL_MANAGER_V1_CREATE_DATA_SOURCE);
G_STATIC_ASSERT (EXT_DATA_CONTROL_MANAGER_V1_GET_DATA_DEVICE == ZWLR_DATA_CONTROL_MANAGER_V1_GET_DATA_DEVICE);
G_STATIC_ASSERT (EXT_DATA_CONTROL_MANAGER_V1_DESTROY == ZWLR_DATA_CONTROL_MANAGER_V1_DESTROY);
G_STATIC_ASSERT (EXT_DATA_CONTROL_DEVICE_V1_SET_SELECTION == ZWLR_DATA_CONTROL_DEVICE_V1_SET_SELECTION);
G_STATIC_ASSERT (EXT_DATA_CONTROL_DEVICE_V1_SET_PRIMARY_SELECTION == ZWLR_DATA_CONTROL_DEVICE_V1_SET_PRIMARY_SELECTION);
G_STATIC_ASSERT (EXT_DATA_CONTROL_DEVICE_V1_DESTROY == ZWLR_DATA_CONTROL_DEVICE_V1_DESTROY);
G_STATIC_ASSERT (EXT_DATA_CONTROL_SOURCE_V1_OFFER == ZWLR_DATA_CONTROL_SOURCE_V1_OFFER);
G_STATIC_ASSERT (EXT_DATA_CONTROL_SOURCE_V1_DESTROY == ZWLR_DATA_CONTROL_SOURCE_V1_DESTROY);
G_STATIC_ASSERT (EXT_DATA_CONTROL_OFFER_V1_RECEIVE == ZWLR_DATA_CONTROL_OFFER_V1_RECEIVE);
G_STATIC_ASSERT (EXT_DATA_CONTROL_OFFER_V1_DESTROY == ZWLR_DATA_CONTROL_OFFER_V1_DESTROY);

const WlProtocol wl_protocol_ext = {
  .name = "ext-data-control-v1",
  .manager = &ext_data_control_manager_v1_interface,
  .device = &ext_data_control_device_v1_interface,
  .source = &ext_data_control_source_v1_interface,
  .offer = &ext_data_control_offer_v1_interface,
  .max_version = 1,
  .primary_since = 1,
};

const WlProtocol wl_protocol_wlr = {
  .name = "wlr-data-control-unstable-v1",
  .manager = &zwlr_data_control_manager_v1_interface,
  .device = &zwlr_data_control_device_v1_interface,
  .source = &zwlr_data_control_source_v1_interface,
  .offer = &zwlr_data_control_offer_v1_interface,
  .max_version = 2,
  .primary_since = ZWLR_DATA_CONTROL_DEVICE_V1_PRIMARY_SELECTION_SINCE_VERSION,
};

static void
destroy_request (struct wl_proxy *proxy, guint32 opcode)
{
  wl_proxy_marshal_flags (proxy, opcode, NULL, wl_proxy_get_version (proxy),
                          WL_MARSHAL_FLAG_DESTROY);
}

struct wl_proxy *
wl_manager_create_source (QgaDesktopClipboardWayland *self)
{
  return wl_proxy_marshal_flags (self->manager, ZWLR_DATA_CONTROL_MANAGER_V1_CREATE_DATA_SOURCE,
                                 self->protocol->source, wl_proxy_get_version (self->manager), 0,
                                 NULL);
}

struct wl_proxy *
wl_manager_get_device (QgaDesktopClipboardWayland *self)
{
  return wl_proxy_marshal_flags (self->manager, ZWLR_DATA_CONTROL_MANAGER_V1_GET_DATA_DEVICE,
                                 self->protocol->device, wl_proxy_get_version (self->manager), 0,
                                 NULL, self->seat);
}

void
wl_manager_destroy (struct wl_proxy *manager)
{
  destroy_request (manager, ZWLR_DATA_CONTROL_MANAGER_V1_DESTROY);
}

void
wl_device_set_selection (QgaDesktopClipboardWayland *self, QgaSelectionId selection,
                         struct wl_proxy *source)
{
  guint32 opcode = selection == QGA_SELECTION_PRIMARY ? ZWLR_DATA_CONTROL_DEVICE_V1_SET_PRIMARY_SELECTION
                                                      : ZWLR_DATA_CONTROL_DEVICE_V1_SET_SELECTION;

  wl_proxy_marshal_flags (self->device, opcode, NULL, wl_proxy_get_version (self->device), 0, source);
}

void
wl_device_destroy (struct wl_proxy *device)
{
  destroy_request (device, ZWLR_DATA_CONTROL_DEVICE_V1_DESTROY);
}

void
wl_source_offer (struct wl_proxy *source, const char *name)
{
  wl_proxy_marshal_flags (source, ZWLR_DATA_CONTROL_SOURCE_V1_OFFER, NULL,
                          wl_proxy_get_version (source), 0, name);
}

void
wl_source_destroy (struct wl_proxy *source)
{
  destroy_request (source, ZWLR_DATA_CONTROL_SOURCE_V1_DESTROY);
}

void
wl_offer_receive (struct wl_proxy *offer, const char *name, int fd)
{
  wl_proxy_marshal_flags (offer, ZWLR_DATA_CONTROL_OFFER_V1_RECEIVE, NULL,
                          wl_proxy_get_version (offer), 0, name, fd);
}

void
wl_offer_destroy (struct wl_proxy *offer)
{
  destroy_request (offer, ZWLR_DATA_CONTROL_OFFER_V1_DESTROY);
}
