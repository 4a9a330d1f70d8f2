/* guide-c.c: gbridge from C (the guide's chapter "Using gbridge from C")
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Build: cc guide-c.c $(pkg-config --cflags --libs gbridge-1)
 */

#include <unistd.h>
#include <gbridge/gbridge.h>

typedef struct
{
  GbridgeIOLoop *loop;
  int            pipe[2];
  guint          n_ticks;
} App;

/* An fd handler: called while the read end of the pipe is readable. */
static void
on_readable (int             fd,
             GbridgeIOEvents events,
             gpointer        user_data)
{
  App *app = user_data;
  char buf[64];
  ssize_t n = read (fd, buf, sizeof buf - 1);

  buf[MAX (n, 0)] = '\0';
  g_print ("fd handler read \"%s\"\n", buf);
  gbridge_io_loop_remove_handler (app->loop, fd);
}

/* A timer: writes to the pipe, which wakes the fd handler. */
static void
on_timer (gpointer user_data)
{
  App *app = user_data;

  g_print ("timer fired at %.3f s\n", gbridge_io_loop_time (app->loop));
  if (write (app->pipe[1], "ping", 4) != 4)
    g_printerr ("write failed\n");
}

/* A periodic callback, on Tornado's fixed start-to-start grid. */
static void
on_tick (gpointer user_data)
{
  App *app = user_data;

  g_print ("tick %u\n", ++app->n_ticks);
}

/* Runs in a worker thread; the future's done-callbacks run on the loop. */
static void
compute (GbridgeFuture *future,
         GCancellable  *cancellable,
         gpointer       user_data)
{
  g_auto(GValue) value = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_INT);
  g_value_set_int (&value, 6 * 7);
  gbridge_future_resolve (future, &value, NULL);
}

static GbridgeFuture *
start_work (gpointer user_data)
{
  App *app = user_data;

  return gbridge_future_run_in_thread (app->loop, compute, NULL, NULL);
}

int
main (void)
{
  App app = { 0 };
  g_autoptr(GbridgePeriodicCallback) ticker = NULL;
  g_auto(GValue) result = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;

  app.loop = gbridge_io_loop_new ();   /* a private GMainContext */
  if (pipe (app.pipe) != 0)
    return 1;

  gbridge_io_loop_add_handler (app.loop, app.pipe[0], GBRIDGE_IO_EVENTS_READ,
                               on_readable, &app, NULL, &error);
  gbridge_io_loop_call_later (app.loop, 0.05, on_timer, &app, NULL);
  ticker = gbridge_periodic_callback_new (app.loop, 0.02 /* s */, on_tick, &app, NULL);
  gbridge_periodic_callback_start (ticker);

  /* Tornado's run_sync: run the loop until the future is done (5 s at most). */
  if (!gbridge_io_loop_run_sync (app.loop, start_work, &app, 5.0, &result, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_print ("the worker computed %d\n", g_value_get_int (&result));

  /* Let the timer, the fd handler and a few ticks run, then stop. */
  gbridge_io_loop_call_later (app.loop, 0.2, (GbridgeCallback) gbridge_io_loop_stop,
                              app.loop, NULL);
  gbridge_io_loop_start (app.loop, &error);
  gbridge_periodic_callback_stop (ticker);

  /* close() drops what is still registered, running each destroy-notify. */
  gbridge_io_loop_close (app.loop, TRUE, NULL);
  close (app.pipe[1]);
  g_object_unref (app.loop);
  return app.n_ticks > 0 ? 0 : 1;
}
