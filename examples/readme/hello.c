#include <unistd.h>
#include <gbridge/gbridge.h>

static int fds[2];

static void
on_tick (gpointer user_data)
{
  g_print ("tick\n");
  if (write (fds[1], "hello", 5) != 5)
    g_printerr ("write failed\n");
}

static void
on_readable (int fd, GbridgeIOEvents events, gpointer loop)
{
  char buf[16];
  ssize_t n = read (fd, buf, sizeof buf);

  g_print ("read %.*s\n", (int) MAX (n, 0), buf);
  gbridge_io_loop_stop (loop);
}

int
main (void)
{
  GbridgeIOLoop *loop = gbridge_io_loop_get_default ();  /* on GLib's default context */
  g_autoptr(GbridgePeriodicCallback) ticker =
    gbridge_periodic_callback_new (loop, 0.1 /* seconds */, on_tick, NULL, NULL);
  g_autoptr(GError) error = NULL;

  if (pipe (fds) != 0)
    return 1;
  gbridge_io_loop_add_handler (loop, fds[0], GBRIDGE_IO_EVENTS_READ, on_readable, loop, NULL, &error);
  gbridge_periodic_callback_start (ticker);
  return gbridge_io_loop_start (loop, &error) ? 0 : 1;  /* or GLib's or GTK's main loop */
}
