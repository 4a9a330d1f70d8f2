/* guide-signals.c: awaiting a GObject signal, a file descriptor and a
 * GSource as futures (the guide's section "Awaiting signals and sources")
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Build: cc guide-signals.c $(pkg-config --cflags --libs gbridge-1)
 */

#include <unistd.h>
#include <glib-unix.h>
#include <gbridge/gbridge.h>

typedef struct
{
  GbridgeIOLoop *loop;
  GSimpleAction *action;
  GbridgeFuture *activated;
  int            pipe[2];
} App;

/* Somebody else emits the signal later: here, a loop callback. */
static void
activate (gpointer user_data)
{
  App *app = user_data;

  g_action_activate (G_ACTION (app->action), g_variant_new_string ("hello"));
}

static GbridgeFuture *
wait_for_activation (gpointer user_data)
{
  App *app = user_data;

  /* Connected now, disconnected once the future is done. */
  app->activated = gbridge_future_new_for_signal (app->loop, app->action, "activate");
  gbridge_io_loop_add_callback (app->loop, activate, app, NULL);
  return g_object_ref (app->activated);
}

static void
write_byte (gpointer user_data)
{
  App *app = user_data;

  if (write (app->pipe[1], "x", 1) != 1)
    g_printerr ("write failed\n");
}

static GbridgeFuture *
wait_for_readable (gpointer user_data)
{
  App *app = user_data;

  gbridge_io_loop_call_later (app->loop, 0.01, write_byte, app, NULL);
  /* A one-shot handler: removed once the future is done. */
  return gbridge_future_new_for_fd (app->loop, app->pipe[0], GBRIDGE_IO_EVENTS_READ);
}

static GbridgeFuture *
wait_for_timeout (gpointer user_data)
{
  App *app = user_data;
  GSource *source = g_timeout_source_new (10);
  GbridgeFuture *future = gbridge_future_new_for_source (app->loop, source);

  g_source_unref (source);
  return future;
}

int
main (void)
{
  App app = { 0 };
  g_autoptr(GError) error = NULL;
  g_auto(GValue) events = G_VALUE_INIT;
  const GValue *args;
  guint n_args;
  GbridgeFuture *never;
  GSource *hour;

  app.loop = gbridge_io_loop_new ();
  app.action = g_simple_action_new ("greet", G_VARIANT_TYPE_STRING);
  if (!g_unix_open_pipe (app.pipe, FD_CLOEXEC, &error))
    return 1;

  /* The signal's arguments after the instance: here, the parameter. */
  if (!gbridge_io_loop_run_sync (app.loop, wait_for_activation, &app, 5, NULL, &error))
    goto failed;
  args = gbridge_future_get_values (app.activated, &n_args, NULL);
  g_print ("activated with %s\n", g_variant_get_string (g_value_get_variant (&args[0]), NULL));

  /* The events that occurred on the descriptor. */
  if (!gbridge_io_loop_run_sync (app.loop, wait_for_readable, &app, 5, &events, &error))
    goto failed;
  g_print ("pipe readable: %s\n",
           g_value_get_flags (&events) & GBRIDGE_IO_EVENTS_READ ? "yes" : "no");

  if (!gbridge_io_loop_run_sync (app.loop, wait_for_timeout, &app, 5, NULL, &error))
    goto failed;
  g_print ("timeout fired\n");

  /* Cancelling a future destroys its source. */
  hour = g_timeout_source_new_seconds (3600);
  never = gbridge_future_new_for_source (app.loop, hour);
  gbridge_future_cancel (never);
  g_print ("cancelled source destroyed: %s\n", g_source_is_destroyed (hour) ? "yes" : "no");
  g_source_unref (hour);
  g_object_unref (never);

  g_object_unref (app.activated);
  g_object_unref (app.action);
  close (app.pipe[0]);
  close (app.pipe[1]);
  gbridge_io_loop_close (app.loop, FALSE, NULL);
  g_object_unref (app.loop);
  return 0;

failed:
  g_printerr ("%s\n", error->message);
  return 1;
}
