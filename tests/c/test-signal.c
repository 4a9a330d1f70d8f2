/* test-signal.c: Unix signal handlers on several loops at once
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <gbridge/gbridge.h>

#include "gbridge-test.h"

#include <signal.h>

typedef struct
{
  GbridgeIOLoop *a;
  GbridgeIOLoop *b;
  guint          a_calls;
  guint          b_calls;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->a = gbridge_io_loop_new ();
  f->b = gbridge_io_loop_new ();
  f->a_calls = 0;
  f->b_calls = 0;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_finalize_object (f->a);
  g_assert_finalize_object (f->b);
  signal (SIGUSR1, SIG_DFL);
  signal (SIGUSR2, SIG_DFL);
}

#define TEST(path, func) \
  g_test_add ("/Gbridge/Signal/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

static void
on_sigusr1 (int      signum,
            gpointer data)
{
  Fixture *f = data;

  g_assert_cmpint (signum, ==, SIGUSR1);
  f->a_calls++;
}

static void
on_sigusr2 (int      signum,
            gpointer data)
{
  Fixture *f = data;

  g_assert_cmpint (signum, ==, SIGUSR2);
  f->b_calls++;
}

static void
add_handlers (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gbridge_io_loop_add_signal_handler (f->a, SIGUSR1, on_sigusr1, f, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (gbridge_io_loop_add_signal_handler (f->b, SIGUSR2, on_sigusr2, f, NULL, &error));
  g_assert_no_error (error);
}

/* Two loops, one signal each, both raised before either loop looks: each
 * loop gets its own, whichever loop iterates first. */
static void
test_two_loops (Fixture       *f,
                gconstpointer  data)
{
  gboolean b_first = GPOINTER_TO_INT (data);
  GbridgeIOLoop *first = b_first ? f->b : f->a;
  GbridgeIOLoop *second = b_first ? f->a : f->b;

  add_handlers (f);

  for (guint round = 1; round <= 3; round++)
    {
      raise (SIGUSR1);
      raise (SIGUSR2);
      gbridge_test_run_pending (first);
      gbridge_test_run_pending (second);
      g_assert_cmpuint (f->a_calls, ==, round);
      g_assert_cmpuint (f->b_calls, ==, round);
    }

  /* Iterating the other loop only never consumes this loop's signal. */
  raise (SIGUSR1);
  gbridge_test_run_pending (f->b);
  gbridge_test_run_pending (f->b);
  g_assert_cmpuint (f->a_calls, ==, 3);
  gbridge_test_run_pending (f->a);
  g_assert_cmpuint (f->a_calls, ==, 4);
}

/* A delivery that arrived for a handler removed before its loop looked is
 * not handed to the next loop that handles the signal. */
static void
test_removed_not_inherited (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  signal (SIGUSR1, SIG_IGN);
  add_handlers (f);
  raise (SIGUSR1);
  g_assert_true (gbridge_io_loop_remove_signal_handler (f->a, SIGUSR1));

  /* Loop B takes SIGUSR1 over, and wakes up for a SIGUSR2 of its own. */
  g_assert_true (gbridge_io_loop_add_signal_handler (f->b, SIGUSR1, on_sigusr1, f, NULL, &error));
  g_assert_no_error (error);
  raise (SIGUSR2);
  gbridge_test_run_pending (f->b);
  gbridge_test_run_pending (f->a);
  g_assert_cmpuint (f->b_calls, ==, 1);
  g_assert_cmpuint (f->a_calls, ==, 0);

  raise (SIGUSR1);
  gbridge_test_run_pending (f->b);
  g_assert_cmpuint (f->a_calls, ==, 1);
  g_assert_true (gbridge_io_loop_remove_signal_handler (f->b, SIGUSR1));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/Gbridge/Signal/two-loops/a-first", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_two_loops, fixture_teardown);
  g_test_add ("/Gbridge/Signal/two-loops/b-first", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_two_loops, fixture_teardown);
  TEST ("removed-not-inherited", test_removed_not_inherited);

  return g_test_run ();
}
