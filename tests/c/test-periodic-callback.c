/* test-periodic-callback.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gbridge/gbridge.h>

#include "gbridge-test.h"

#include <math.h>

typedef struct
{
  GbridgeIOLoop           *loop;
  GMainContext            *context;
  GbridgePeriodicCallback *pc;
  GArray                  *times;
  const double            *sleeps;   /* how long each call "takes" */
  guint                    n_sleeps;
  guint                    destroyed;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->loop = gbridge_io_loop_new ();
  f->context = gbridge_io_loop_get_context (f->loop);
  f->times = g_array_new (FALSE, FALSE, sizeof (double));
  gbridge_io_loop_use_virtual_clock (f->loop, 1000.0);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->pc != NULL)
    g_assert_finalize_object (f->pc);
  g_assert_finalize_object (f->loop);
  g_array_unref (f->times);
}

#define TEST(path, func) \
  g_test_add ("/Gbridge/PeriodicCallback/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

static void
record_cb (gpointer data)
{
  Fixture *f = data;
  double now = gbridge_io_loop_time (f->loop);
  guint i = f->times->len;

  g_array_append_val (f->times, now);
  if (i < f->n_sleeps)
    gbridge_io_loop_advance_clock (f->loop, f->sleeps[i]);
}

static void
count_destroy (gpointer data)
{
  Fixture *f = data;

  f->destroyed++;
}

/* Steps the virtual clock until @n calls were made. */
static void
run_calls (Fixture *f,
           guint    n,
           double   step)
{
  while (f->times->len < n)
    {
      gbridge_io_loop_advance_clock (f->loop, step);
      gbridge_test_run_pending (f->loop);
    }
}

static void
assert_times (Fixture      *f,
              const double *expected,
              guint         n)
{
  g_assert_cmpuint (f->times->len, >=, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpfloat_with_epsilon (g_array_index (f->times, double, i), expected[i], 1e-6);
}

static void
test_basic (Fixture       *f,
            gconstpointer  data)
{
  const double expected[] = { 1010, 1020, 1030, 1040, 1050 };

  f->pc = gbridge_periodic_callback_new (f->loop, 10.0, record_cb, f, count_destroy);
  g_assert_false (gbridge_periodic_callback_is_running (f->pc));
  g_assert_true (gbridge_periodic_callback_get_loop (f->pc) == f->loop);
  g_assert_cmpfloat (gbridge_periodic_callback_get_interval (f->pc), ==, 10.0);

  gbridge_periodic_callback_start (f->pc);
  g_assert_true (gbridge_periodic_callback_is_running (f->pc));
  /* Not called at start: one period later. */
  gbridge_test_run_pending (f->loop);
  g_assert_cmpuint (f->times->len, ==, 0);

  run_calls (f, G_N_ELEMENTS (expected), 1.0);
  assert_times (f, expected, G_N_ELEMENTS (expected));

  gbridge_periodic_callback_stop (f->pc);
  g_assert_false (gbridge_periodic_callback_is_running (f->pc));
  gbridge_io_loop_advance_clock (f->loop, 100);
  gbridge_test_run_pending (f->loop);
  g_assert_cmpuint (f->times->len, ==, G_N_ELEMENTS (expected));

  g_assert_finalize_object (g_steal_pointer (&f->pc));
  g_assert_cmpuint (f->destroyed, ==, 1);
}

static void
test_overrun (Fixture       *f,
              gconstpointer  data)
{
  /* Tornado's test_overrun: calls that take longer than the period skip
   * whole cycles and land back on the 10 s grid. */
  const double sleeps[] = { 9, 9, 10, 11, 20, 20, 35, 35, 0, 0, 0 };
  const double expected[] = {
    1010, 1020, 1030,   /* on schedule */
    1050, 1070,         /* delayed one cycle */
    1100, 1130,         /* delayed two cycles */
    1170, 1210,         /* delayed three cycles */
    1220, 1230,         /* back on schedule */
  };

  f->sleeps = sleeps;
  f->n_sleeps = G_N_ELEMENTS (sleeps);
  f->pc = gbridge_periodic_callback_new (f->loop, 10.0, record_cb, f, NULL);
  gbridge_periodic_callback_start (f->pc);
  run_calls (f, G_N_ELEMENTS (expected), 1.0);
  assert_times (f, expected, G_N_ELEMENTS (expected));
  gbridge_periodic_callback_stop (f->pc);
}

static void
test_jitter (Fixture       *f,
             gconstpointer  data)
{
  const double period = 0.010;
  const double jitter = 0.5;
  GRand *rand = g_rand_new_with_seed (4242);
  double expected[20];
  double next = 1000.0;
  gboolean varied = FALSE;

  f->pc = gbridge_periodic_callback_new (f->loop, period, record_cb, f, NULL);
  gbridge_periodic_callback_set_jitter (f->pc, jitter);
  g_assert_cmpfloat (gbridge_periodic_callback_get_jitter (f->pc), ==, jitter);
  gbridge_periodic_callback_set_seed (f->pc, 4242);

  /* Each period is the nominal one times 1 + jitter * (r - 0.5). */
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      double p = period * (1.0 + jitter * (g_rand_double (rand) - 0.5));

      g_assert_cmpfloat (p, >=, period * (1 - jitter / 2));
      g_assert_cmpfloat (p, <, period * (1 + jitter / 2));
      next += p;
      expected[i] = next;
      if (i > 0 && fabs ((expected[i] - expected[i - 1]) - period) > 1e-4)
        varied = TRUE;
    }
  g_assert_true (varied);

  gbridge_periodic_callback_start (f->pc);
  /* Microsecond steps: the loop's clock resolution. */
  run_calls (f, G_N_ELEMENTS (expected), 1e-6);
  assert_times (f, expected, G_N_ELEMENTS (expected));
  gbridge_periodic_callback_stop (f->pc);
  g_rand_free (rand);
}

static void
restart_cb (gpointer data)
{
  Fixture *f = data;
  double now = gbridge_io_loop_time (f->loop);

  g_array_append_val (f->times, now);
  /* Restarting from the callback must not schedule two calls. */
  gbridge_periodic_callback_stop (f->pc);
  gbridge_periodic_callback_start (f->pc);
}

static void
test_restart_from_callback (Fixture       *f,
                            gconstpointer  data)
{
  const double expected[] = { 1001, 1002, 1003 };

  f->pc = gbridge_periodic_callback_new (f->loop, 1.0, restart_cb, f, NULL);
  gbridge_periodic_callback_start (f->pc);
  for (guint i = 0; i < 3; i++)
    {
      gbridge_io_loop_advance_clock (f->loop, 1.0);
      gbridge_test_run_pending (f->loop);
    }
  g_assert_cmpuint (f->times->len, ==, 3);
  assert_times (f, expected, 3);
  gbridge_periodic_callback_stop (f->pc);
}

static void
test_loop_keeps_it (Fixture       *f,
                    gconstpointer  data)
{
  GbridgePeriodicCallback *pc;

  pc = gbridge_periodic_callback_new (f->loop, 1.0, record_cb, f, count_destroy);
  gbridge_periodic_callback_start (f->pc = pc);
  /* The caller lets go; the running callback lives on. */
  g_object_unref (pc);
  run_calls (f, 2, 1.0);
  g_assert_cmpuint (f->destroyed, ==, 0);
  /* Closing the loop drops it, and its destroy-notify runs once. */
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_assert_cmpuint (f->destroyed, ==, 1);
  f->pc = NULL;
}

static void
test_real_clock (Fixture       *f,
                 gconstpointer  data)
{
  GbridgeIOLoop *loop = gbridge_io_loop_new ();
  GbridgePeriodicCallback *pc;
  Fixture real = { loop, gbridge_io_loop_get_context (loop), };

  double t0;

  real.times = g_array_new (FALSE, FALSE, sizeof (double));
  pc = gbridge_periodic_callback_new (loop, 0.002, record_cb, &real, NULL);
  t0 = gbridge_io_loop_time (loop);
  gbridge_periodic_callback_start (pc);
  while (real.times->len < 3)
    g_main_context_iteration (real.context, TRUE);
  /* On the monotonic clock, call i never comes before its slot on the
   * grid, start + (i + 1) periods. */
  for (guint i = 0; i < 3; i++)
    g_assert_cmpfloat (g_array_index (real.times, double, i), >=, t0 + (i + 1) * 0.002);
  gbridge_periodic_callback_stop (pc);
  g_assert_finalize_object (pc);
  g_assert_finalize_object (loop);
  g_array_unref (real.times);
}

/* One rule for the period, in the constructor and the setter: finite and
 * greater than 0, or a programmer error that changes nothing. */
static void
test_interval_must_be_finite (Fixture       *f,
                                   gconstpointer  data)
{
  const double bad[] = { INFINITY, -INFINITY, NAN, 0, -1 };
  GbridgePeriodicCallback *pc;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*INTERVAL_IS_VALID*");
      pc = gbridge_periodic_callback_new (f->loop, bad[i], record_cb, f, count_destroy);
      g_test_assert_expected_messages ();
      g_assert_null (pc);
    }

  f->pc = gbridge_periodic_callback_new (f->loop, 0.25, record_cb, f, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*INTERVAL_IS_VALID*");
      gbridge_periodic_callback_set_interval (f->pc, bad[i]);
      g_test_assert_expected_messages ();
      g_assert_cmpfloat (gbridge_periodic_callback_get_interval (f->pc), ==, 0.25);
    }

  /* The largest finite period is accepted. */
  gbridge_periodic_callback_set_interval (f->pc, G_MAXDOUBLE);
  g_assert_cmpfloat (gbridge_periodic_callback_get_interval (f->pc), ==, G_MAXDOUBLE);
}

static void
stop_from_callback_cb (gpointer data)
{
  Fixture *f = data;

  record_cb (f);
  if (f->times->len == 3)
    gbridge_periodic_callback_stop (f->pc);
}

/* Tornado's rule, and a cycle on purpose: with every user reference gone,
 * a started periodic callback keeps itself and its loop alive, and keeps
 * running; stopping it (here from its own callback) lets both go. */
static void
test_keeps_loop_alive (Fixture       *f,
                       gconstpointer  data)
{
  GMainContext *context = g_main_context_ref (f->context);
  GbridgeIOLoop *loop = f->loop;
  GbridgePeriodicCallback *pc;

  pc = gbridge_periodic_callback_new (f->loop, 1.0, stop_from_callback_cb, f, count_destroy);
  g_object_add_weak_pointer (G_OBJECT (pc), (gpointer *) &f->pc);
  g_object_add_weak_pointer (G_OBJECT (loop), (gpointer *) &f->loop);
  f->pc = pc;
  gbridge_periodic_callback_start (pc);
  g_object_unref (pc);
  g_object_unref (loop);
  g_assert_nonnull (f->pc);
  g_assert_nonnull (f->loop);

  while (f->loop != NULL)
    {
      g_assert_cmpuint (f->times->len, <, 3);
      gbridge_io_loop_advance_clock (f->loop, 1.0);
      while (f->loop != NULL && g_main_context_iteration (context, FALSE))
        ;
    }

  g_assert_cmpuint (f->times->len, ==, 3);
  g_assert_null (f->pc);
  g_assert_cmpuint (f->destroyed, ==, 1);
  g_main_context_unref (context);

  /* Both are gone: the fixture has nothing left to finalize. */
  f->loop = gbridge_io_loop_new ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  TEST ("basic", test_basic);
  TEST ("overrun", test_overrun);
  TEST ("jitter", test_jitter);
  TEST ("restart-from-callback", test_restart_from_callback);
  TEST ("loop-keeps-it", test_loop_keeps_it);
  TEST ("real-clock", test_real_clock);
  TEST ("interval/must-be-finite", test_interval_must_be_finite);
  TEST ("keeps-loop-alive", test_keeps_loop_alive);

  return g_test_run ();
}
