/* fuzz-qmp.c: qga-host's QMP client on what the QMP socket sends.
 *
 * The input is the byte stream from QEMU's QMP socket. The target plays
 * QEMU on a unix socket: the client (host-qmp.c, all hypervisor fields
 * allowed) connects, a waiter asks for the first round (as a guest's
 * host-info would), and the input is written in at most 16 pieces (most
 * ending at a newline; where, from the input's hash: fuzz_feed()) with
 * the main loop run and the client's commands read in between. The client numbers its commands
 * 1, 2, ... in the order qmp_capabilities, query-version, query-kvm,
 * query-name, query-cpus-fast, query-balloon, so replies with those ids
 * go through the real handling of each. Then it asks again (a second
 * round, or a reconnect after a failure), the socket closes, and
 * whatever was learnt is written out as host-info's "hypervisor" is. */
#include "config.h"

#include <unistd.h>

#include "fuzz-util.h"
#include "host-qmp.h"
#include "host-stats.h"

static const char *socket_path;
static int listen_fd = -1;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ();
  socket_path = fuzz_listen_socket ("qmp", &listen_fd);
  return 0;
}

static void
ready_cb (gpointer user_data)
{
  guint *n_ready = user_data;

  (*n_ready)++;
}

static void
add_fields (HostQmp *qmp)
{
  g_autoptr(JsonObject) object = json_object_new ();

  host_qmp_add_fields (qmp, HOST_STATS_HYPERVISOR, object);
  json_object_unref (g_steal_pointer (&object));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(HostQmp) qmp = NULL;
  guint n_ready = 0;
  guint n_waiting = 0;
  FuzzRng rng;
  int qemu;

  fuzz_rng_init (&rng, data, size);
  qmp = host_qmp_new (socket_path, HOST_STATS_HYPERVISOR);
  /* Not host_qmp_start(): that reconnects by itself, on a timer. */
  n_waiting += host_qmp_refresh (qmp, ready_cb, &n_ready) != 0;
  qemu = fuzz_accept (listen_fd);
  g_assert (qemu >= 0);

  fuzz_feed (qemu, data, size, &rng);
  add_fields (qmp);
  /* A second request: a new round, or, after a failure, none yet (the
   * client backs off), and a waiter that a cancel removes. */
  {
    guint id = host_qmp_refresh (qmp, ready_cb, &n_ready);

    if (id != 0)
      host_qmp_cancel (qmp, id);
  }
  fuzz_iterate (100);
  fuzz_drain (qemu);
  close (qemu);
  fuzz_iterate (1000);
  add_fields (qmp);
  g_assert_cmpuint (n_ready, <=, n_waiting);
  g_clear_pointer (&qmp, host_qmp_free);
  /* A connection the client made and dropped before accept() */
  for (int fd; (fd = fuzz_accept (listen_fd)) >= 0;)
    close (fd);
  fuzz_iterate (100);
  return 0;
}
