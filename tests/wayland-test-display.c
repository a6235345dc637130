/* wayland-test-display.c: a small Wayland display for the desktop tests
 * (see wayland-test-display.h). Everything but start and stop runs in the
 * display's thread. */
#include "config.h"

#include <unistd.h>

#include <glib/gstdio.h>
#include <wayland-server.h>

#include "ext-data-control-v1-server-protocol.h"
#include "qga-clipboard.h"
#include "test-util.h"
#include "wayland-test-display.h"

/* The tests offer a handful of types; a client offering more is refused. */
#define MAX_SOURCE_TYPES 64

typedef struct {
  WtDisplay *display;
  struct wl_resource *resource;
  GPtrArray *types;
  guint64 serial;          /* 0 until set as a selection (once only) */
} Source;

typedef struct {
  WtDisplay *display;
  QgaSelectionId selection;
  guint64 source_serial;   /* the source it was made for */
} Offer;

struct _WtDisplay {
  struct wl_display *display;
  GThread *thread;
  char *dir;
  char *socket_path;
  GPtrArray *devices;      /* struct wl_resource * */
  Source *current[QGA_N_SELECTIONS];
  guint64 next_serial;
};

static void
destroy_resource (struct wl_client *client, struct wl_resource *resource)
{
  wl_resource_destroy (resource);
}

/* --- offers --- */

static void
offer_receive (struct wl_client *client, struct wl_resource *resource, const char *mime_type,
               int32_t fd)
{
  Offer *offer = wl_resource_get_user_data (resource);
  Source *source = offer->display->current[offer->selection];

  /* an offer of a selection since replaced: nothing to send, as in wlroots */
  if (source != NULL && source->serial == offer->source_serial)
    ext_data_control_source_v1_send_send (source->resource, mime_type, fd);
  close (fd);
}

static const struct ext_data_control_offer_v1_interface offer_implementation = {
  .receive = offer_receive,
  .destroy = destroy_resource,
};

static void
offer_free (struct wl_resource *resource)
{
  g_free (wl_resource_get_user_data (resource));
}

/* The device's selection event for one selection, with a new offer. */
static void
device_send_selection (struct wl_resource *device, WtDisplay *display, QgaSelectionId selection)
{
  Source *source = display->current[selection];
  struct wl_resource *offer_resource = NULL;

  if (source != NULL)
    {
      Offer *offer = g_new0 (Offer, 1);

      offer->display = display;
      offer->selection = selection;
      offer->source_serial = source->serial;
      offer_resource = wl_resource_create (wl_resource_get_client (device),
                                           &ext_data_control_offer_v1_interface,
                                           wl_resource_get_version (device), 0);
      wl_resource_set_implementation (offer_resource, &offer_implementation, offer, offer_free);
      ext_data_control_device_v1_send_data_offer (device, offer_resource);
      for (guint i = 0; i < source->types->len; i++)
        ext_data_control_offer_v1_send_offer (offer_resource, g_ptr_array_index (source->types, i));
    }
  if (selection == QGA_SELECTION_CLIPBOARD)
    ext_data_control_device_v1_send_selection (device, offer_resource);
  else
    ext_data_control_device_v1_send_primary_selection (device, offer_resource);
}

static void
broadcast_selection (WtDisplay *display, QgaSelectionId selection)
{
  for (guint i = 0; i < display->devices->len; i++)
    device_send_selection (g_ptr_array_index (display->devices, i), display, selection);
}

/* --- sources --- */

static void
source_offer (struct wl_client *client, struct wl_resource *resource, const char *mime_type)
{
  Source *source = wl_resource_get_user_data (resource);

  if (source->serial != 0 || source->types->len >= MAX_SOURCE_TYPES)
    {
      wl_resource_post_error (resource, EXT_DATA_CONTROL_SOURCE_V1_ERROR_INVALID_OFFER,
                              "offer after use, or over %d types", MAX_SOURCE_TYPES);
      return;
    }
  g_ptr_array_add (source->types, g_strdup (mime_type));
}

static const struct ext_data_control_source_v1_interface source_implementation = {
  .offer = source_offer,
  .destroy = destroy_resource,
};

static void
source_free (struct wl_resource *resource)
{
  Source *source = wl_resource_get_user_data (resource);

  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    if (source->display->current[i] == source)
      {
        source->display->current[i] = NULL;
        broadcast_selection (source->display, i);
      }
  g_ptr_array_unref (source->types);
  g_free (source);
}

/* --- devices --- */

static void
device_set (struct wl_resource *device, struct wl_resource *source_resource,
            QgaSelectionId selection)
{
  WtDisplay *display = wl_resource_get_user_data (device);
  Source *source = source_resource != NULL ? wl_resource_get_user_data (source_resource) : NULL;
  Source *replaced = display->current[selection];

  if (source != NULL && source->serial != 0)
    {
      wl_resource_post_error (device, EXT_DATA_CONTROL_DEVICE_V1_ERROR_USED_SOURCE,
                              "the source was already used");
      return;
    }
  if (source != NULL)
    source->serial = ++display->next_serial;
  display->current[selection] = source;
  if (replaced != NULL && replaced != source)
    ext_data_control_source_v1_send_cancelled (replaced->resource);
  broadcast_selection (display, selection);
}

static void
device_set_selection (struct wl_client *client, struct wl_resource *device,
                      struct wl_resource *source)
{
  device_set (device, source, QGA_SELECTION_CLIPBOARD);
}

static void
device_set_primary_selection (struct wl_client *client, struct wl_resource *device,
                              struct wl_resource *source)
{
  device_set (device, source, QGA_SELECTION_PRIMARY);
}

static const struct ext_data_control_device_v1_interface device_implementation = {
  .set_selection = device_set_selection,
  .destroy = destroy_resource,
  .set_primary_selection = device_set_primary_selection,
};

static void
device_free (struct wl_resource *device)
{
  WtDisplay *display = wl_resource_get_user_data (device);

  g_ptr_array_remove (display->devices, device);
}

/* --- the manager and the seat --- */

static void
manager_create_data_source (struct wl_client *client, struct wl_resource *manager, uint32_t id)
{
  Source *source = g_new0 (Source, 1);

  source->display = wl_resource_get_user_data (manager);
  source->types = g_ptr_array_new_with_free_func (g_free);
  source->resource = wl_resource_create (client, &ext_data_control_source_v1_interface,
                                         wl_resource_get_version (manager), id);
  wl_resource_set_implementation (source->resource, &source_implementation, source, source_free);
}

static void
manager_get_data_device (struct wl_client *client, struct wl_resource *manager, uint32_t id,
                         struct wl_resource *seat)
{
  WtDisplay *display = wl_resource_get_user_data (manager);
  struct wl_resource *device = wl_resource_create (client, &ext_data_control_device_v1_interface,
                                                   wl_resource_get_version (manager), id);

  wl_resource_set_implementation (device, &device_implementation, display, device_free);
  g_ptr_array_add (display->devices, device);
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    device_send_selection (device, display, i);
}

static const struct ext_data_control_manager_v1_interface manager_implementation = {
  .create_data_source = manager_create_data_source,
  .get_data_device = manager_get_data_device,
  .destroy = destroy_resource,
};

static void
bind_manager (struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
  struct wl_resource *resource = wl_resource_create (client, &ext_data_control_manager_v1_interface,
                                                     MIN (version, 1), id);

  wl_resource_set_implementation (resource, &manager_implementation, data, NULL);
}

static void
bind_seat (struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
  struct wl_resource *resource = wl_resource_create (client, &wl_seat_interface, MIN (version, 1), id);

  wl_resource_set_implementation (resource, NULL, NULL, NULL);
}

/* --- the display --- */

static gpointer
run_display (gpointer data)
{
  WtDisplay *display = data;

  wl_display_run (display->display);
  return NULL;
}

WtDisplay *
wt_display_start (gboolean data_control)
{
  WtDisplay *display = g_new0 (WtDisplay, 1);

  display->dir = qt_tmp_path ("wayland");
  g_assert_cmpint (g_mkdir (display->dir, 0700), ==, 0);
  display->socket_path = g_build_filename (display->dir, "wayland-test", NULL);
  display->devices = g_ptr_array_new ();
  display->display = wl_display_create ();
  wl_global_create (display->display, &wl_seat_interface, 1, NULL, bind_seat);
  if (data_control)
    wl_global_create (display->display, &ext_data_control_manager_v1_interface, 1, display,
                      bind_manager);
  g_assert_cmpint (wl_display_add_socket (display->display, display->socket_path), ==, 0);
  display->thread = g_thread_new ("wayland-test-display", run_display, display);
  return display;
}

const char *
wt_display_get_socket_path (WtDisplay *display)
{
  return display->socket_path;
}

void
wt_display_stop (WtDisplay *display)
{
  /* wl_display_terminate only wakes the display's loop; once the thread
   * has returned, destroying the clients' resources here is safe */
  wl_display_terminate (display->display);
  g_thread_join (display->thread);
  /* no selection events to clients being torn down */
  for (guint i = 0; i < QGA_N_SELECTIONS; i++)
    display->current[i] = NULL;
  wl_display_destroy_clients (display->display);
  wl_display_destroy (display->display);
  g_assert_cmpuint (display->devices->len, ==, 0);
  g_ptr_array_unref (display->devices);
  g_rmdir (display->dir);
  g_free (display->socket_path);
  g_free (display->dir);
  g_free (display);
}
