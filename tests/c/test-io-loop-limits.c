/* test-io-loop-limits.c: GbridgeIOLoop at the edges, the virtual clock's
 * range and creating a loop without a free file descriptor
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <gbridge/gbridge.h>

#include "gbridge-test-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

/* G_MAXINT64 / 2 microseconds, in seconds: where the virtual clock stops. */
#define CLOCK_MAX ((double) (G_MAXINT64 / 2) / G_USEC_PER_SEC)

static void
count_cb (gpointer data)
{
  (*(guint *) data)++;
}

static void
run_pending (GbridgeIOLoop *loop)
{
  while (g_main_context_iteration (gbridge_io_loop_get_context (loop), FALSE))
    ;
}

/* Advancing by huge steps saturates at the documented maximum: the time
 * never wraps to a negative value, and timeouts still run in order. */
static void
test_virtual_clock_saturates (void)
{
  GbridgeIOLoop *loop = gbridge_io_loop_new ();
  guint early = 0;
  guint late = 0;

  gbridge_io_loop_use_virtual_clock (loop, 0);
  gbridge_io_loop_call_at (loop, 1e6, count_cb, &early, NULL);

  for (int i = 0; i < 3; i++)
    {
      gbridge_io_loop_advance_clock (loop, 1e300);
      g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, CLOCK_MAX);
    }
  run_pending (loop);
  g_assert_cmpuint (early, ==, 1);

  gbridge_io_loop_advance_clock (loop, INFINITY);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, CLOCK_MAX);

  /* From the far past (clamped to G_MININT64 / 2 microseconds, one more
   * than -CLOCK_MAX), the largest step is exact, and the next saturates. */
  gbridge_io_loop_use_virtual_clock (loop, -1e300);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==,
                     (double) (G_MININT64 / 2) / G_USEC_PER_SEC);
  gbridge_io_loop_advance_clock (loop, 1e300);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, -1.0 / G_USEC_PER_SEC);
  gbridge_io_loop_advance_clock (loop, 1e300);
  gbridge_io_loop_advance_clock (loop, 1e300);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, CLOCK_MAX);

  /* An ordinary step still moves it exactly. */
  gbridge_io_loop_use_virtual_clock (loop, 1000);
  gbridge_io_loop_call_later (loop, 2.5, count_cb, &late, NULL);
  gbridge_io_loop_advance_clock (loop, 2.5);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, 1002.5);
  run_pending (loop);
  g_assert_cmpuint (late, ==, 1);

  g_assert_finalize_object (loop);
}

/* The clock only goes forward: a negative or NaN step is a programmer
 * error, and the clock stays where it was. */
static void
test_virtual_clock_negative_step (void)
{
  GbridgeIOLoop *loop = gbridge_io_loop_new ();

  gbridge_io_loop_use_virtual_clock (loop, 10);

  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*seconds >= 0*");
  gbridge_io_loop_advance_clock (loop, -1);
  g_test_assert_expected_messages ();
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, 10);

  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*seconds >= 0*");
  gbridge_io_loop_advance_clock (loop, -INFINITY);
  g_test_assert_expected_messages ();
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, 10);

  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*seconds >= 0*");
  gbridge_io_loop_advance_clock (loop, NAN);
  g_test_assert_expected_messages ();
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, 10);

  /* Zero is a step too, of nothing. */
  gbridge_io_loop_advance_clock (loop, 0);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, 10);

  g_assert_finalize_object (loop);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Gbridge/IOLoop/virtual-clock/saturates", test_virtual_clock_saturates);
  g_test_add_func ("/Gbridge/IOLoop/virtual-clock/negative-step", test_virtual_clock_negative_step);

  return g_test_run ();
}
