/* A program built only from what `meson install` put in place. */
#include <gbridge/gbridge.h>

static void
done (gpointer data)
{
  *(int *) data = 1;
  gbridge_io_loop_stop (gbridge_io_loop_get_current ());
}

int
main (void)
{
  GbridgeIOLoop *loop = gbridge_io_loop_new ();
  int ran = 0;

  g_assert_true (GBRIDGE_CHECK_VERSION (1, 0, 0));
  g_assert_false (GBRIDGE_CHECK_VERSION (1, 1, 0));
  g_assert_cmpint (GBRIDGE_VERSION_MIN_REQUIRED, ==, GBRIDGE_VERSION_1_0);
  gbridge_io_loop_call_later (loop, 0.001, done, &ran, NULL);
  g_assert_true (gbridge_io_loop_start (loop, NULL));
  g_assert_cmpint (ran, ==, 1);
  g_object_unref (loop);
  g_print ("C: built against the installed gbridge-1.pc and ran a loop\n");
  return 0;
}
