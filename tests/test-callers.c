/* test-callers.c: common/qga-callers.c, the bounded table of D-Bus callers
 * that qga-bridge's clients and qga-session's objects share, over a real
 * session bus: records made on demand, the bound with idle records evicted
 * first and busy ones refused, a caller leaving the bus reported once, a
 * caller already gone reported at once, foreach and clear.
 */
#include "config.h"

#include "qga-callers.h"
#include "qga-error.h"
#include "test-util.h"

typedef struct {
  gboolean busy;
  guint calls;
} Record;

typedef struct {
  QgaCallers *callers;
  GPtrArray *vanished;     /* names, in order */
} Fixture;

static gboolean
record_is_idle (gconstpointer data)
{
  return !((const Record *) data)->busy;
}

static void
record_vanished (const char *name, gpointer data, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_cmpstr (qga_caller_name (data), ==, name);
  g_ptr_array_add (f->vanished, g_strdup (name));
}

static const QgaCallersFuncs funcs = {
  .is_idle = record_is_idle,
  .vanished = record_vanished,
};

static void
fixture_setup (Fixture *f, gconstpointer user_data)
{
  f->vanished = g_ptr_array_new_with_free_func (g_free);
  f->callers = qga_callers_new (qt_bus (), 2, sizeof (Record), "things in test", &funcs, f);
}

static void
fixture_teardown (Fixture *f, gconstpointer user_data)
{
  g_clear_pointer (&f->callers, qga_callers_free);
  g_ptr_array_unref (f->vanished);
}

static void
count_record (const char *name, gpointer record, gpointer user_data)
{
  g_assert_cmpstr (qga_caller_name (record), ==, name);
  (*(guint *) user_data)++;
}

static void
test_bound (Fixture *f, gconstpointer user_data)
{
  GDBusConnection *a = qt_bus_new_connection ();
  GDBusConnection *b = qt_bus_new_connection ();
  GDBusConnection *c = qt_bus_new_connection ();
  g_autofree char *name_a = g_strdup (g_dbus_connection_get_unique_name (a));
  g_autofree char *name_b = g_strdup (g_dbus_connection_get_unique_name (b));
  g_autofree char *name_c = g_strdup (g_dbus_connection_get_unique_name (c));
  g_autoptr(GError) error = NULL;
  Record *ra, *rb, *rc;
  guint n = 0;

  ra = qga_callers_track (f->callers, name_a, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ra);
  g_assert_false (ra->busy);                      /* made zeroed */
  g_assert_cmpstr (qga_caller_name (ra), ==, name_a);
  ra->busy = TRUE;
  ra->calls = 7;
  g_assert_true (qga_callers_track (f->callers, name_a, NULL) == ra);   /* the same record */
  g_assert_cmpuint (ra->calls, ==, 7);
  rb = qga_callers_track (f->callers, name_b, &error);
  g_assert_no_error (error);
  rb->busy = TRUE;
  g_assert_cmpuint (qga_callers_count (f->callers), ==, 2);

  /* full of busy callers: the third is refused */
  g_assert_null (qga_callers_track (f->callers, name_c, &error));
  g_assert_error (error, QGA_ERROR, QGA_ERROR_LIMIT_EXCEEDED);
  g_assert_cmpstr (error->message, ==, "too many things in test (limit 2)");
  g_clear_error (&error);

  /* an idle record makes room, without a word to vanished */
  ra->busy = FALSE;
  rc = qga_callers_track (f->callers, name_c, &error);
  g_assert_no_error (error);
  g_assert_nonnull (rc);
  rc->busy = TRUE;
  g_assert_null (qga_callers_lookup (f->callers, name_a));
  g_assert_true (qga_callers_lookup (f->callers, name_b) == rb);
  g_assert_cmpstr (qga_caller_name (rb), ==, name_b);
  qga_callers_foreach (f->callers, count_record, &n);
  g_assert_cmpuint (n, ==, 2);

  /* c leaves the bus: reported once, its record gone */
  qt_bus_close (c);
  g_assert_true (QT_WAIT (f->vanished->len == 1, qt_ms (5000)));
  g_assert_cmpstr (f->vanished->pdata[0], ==, name_c);
  g_assert_null (qga_callers_lookup (f->callers, name_c));
  g_assert_cmpuint (qga_callers_count (f->callers), ==, 1);

  /* the evicted a is not watched any more: leaving says nothing */
  qt_bus_close (a);
  g_assert_true (qt_wait_name_owned (name_a, FALSE, qt_ms (5000)));
  g_assert_false (QT_WAIT (f->vanished->len > 1, 300));

  /* remove forgets one without vanished */
  g_assert_true (qga_callers_remove (f->callers, name_b));
  g_assert_false (qga_callers_remove (f->callers, name_b));
  g_assert_null (qga_callers_lookup (f->callers, name_b));
  g_assert_nonnull (qga_callers_track (f->callers, name_b, NULL));

  /* clear forgets b without vanished */
  qga_callers_clear (f->callers);
  g_assert_cmpuint (qga_callers_count (f->callers), ==, 0);
  g_assert_null (qga_callers_lookup (f->callers, name_b));
  qt_bus_close (b);
  g_assert_false (QT_WAIT (f->vanished->len > 1, 300));
}

/* A caller that left before its first call is tracked is reported at once. */
static void
test_already_gone (Fixture *f, gconstpointer user_data)
{
  GDBusConnection *gone = qt_bus_new_connection ();
  g_autofree char *name = g_strdup (g_dbus_connection_get_unique_name (gone));

  qt_bus_close (gone);
  g_assert_true (qt_wait_name_owned (name, FALSE, qt_ms (5000)));
  g_assert_nonnull (qga_callers_track (f->callers, name, NULL));
  g_assert_true (QT_WAIT (f->vanished->len == 1, qt_ms (5000)));
  g_assert_cmpstr (f->vanished->pdata[0], ==, name);
  g_assert_cmpuint (qga_callers_count (f->callers), ==, 0);
}

int
main (int argc, char **argv)
{
  qt_init (&argc, &argv);
  g_test_add ("/callers/bound", Fixture, NULL, fixture_setup, test_bound, fixture_teardown);
  g_test_add ("/callers/already-gone", Fixture, NULL, fixture_setup, test_already_gone,
              fixture_teardown);
  return qt_run ();
}
