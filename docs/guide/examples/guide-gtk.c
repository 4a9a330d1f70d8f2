/* guide-gtk.c: gbridge in a GTK 4 application (the guide's chapter "In a
 * GTK application").  GTK runs the default GMainContext and
 * gbridge_io_loop_get_default() is the loop on it: no second loop, no thread
 * for it, no polling timer.  This one closes its window once the worker's
 * result is in, so that the test suite can run it.
 *
 * Build: cc guide-gtk.c $(pkg-config --cflags --libs gbridge-1 gtk4)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gtk/gtk.h>
#include <gbridge/gbridge.h>

typedef struct
{
  GtkWindow               *window;
  GtkLabel                *label;
  GbridgePeriodicCallback *clock;
  guint                    seconds;
} Ui;

static void
on_clock (gpointer user_data)
{
  Ui *ui = user_data;
  g_autofree char *text = g_strdup_printf ("%u × 100 ms", ++ui->seconds);

  gtk_label_set_text (ui->label, text);
}

static void
slow_sum (GbridgeFuture *future,
          GCancellable  *cancellable,
          gpointer       user_data)
{
  g_auto(GValue) value = G_VALUE_INIT;
  guint64 sum = 0;

  for (guint64 i = 1; i <= 10000000; i++)   /* in a worker thread */
    sum += i;
  g_value_init (&value, G_TYPE_UINT64);
  g_value_set_uint64 (&value, sum);
  gbridge_future_resolve (future, &value, NULL);
}

static void
on_sum (GbridgeFuture *future,
        gpointer       user_data)
{
  Ui *ui = user_data;
  const GValue *value = gbridge_future_get_value (future, NULL);
  g_autofree char *text = g_strdup_printf ("sum: %" G_GUINT64_FORMAT,
                                           g_value_get_uint64 (value));

  gtk_label_set_text (ui->label, text);           /* on GTK's thread */
  g_print ("%s\n", text);
  gtk_window_close (ui->window);
}

static void
on_activate (GtkApplication *app,
             gpointer        user_data)
{
  Ui *ui = user_data;
  GbridgeIOLoop *loop = gbridge_io_loop_get_default ();
  g_autoptr(GbridgeFuture) sum = NULL;

  ui->window = GTK_WINDOW (gtk_application_window_new (app));
  ui->label = GTK_LABEL (gtk_label_new ("working…"));
  gtk_window_set_child (ui->window, GTK_WIDGET (ui->label));
  gtk_window_present (ui->window);

  ui->clock = gbridge_periodic_callback_new (loop, 0.1, on_clock, ui, NULL);
  gbridge_periodic_callback_start (ui->clock);

  sum = gbridge_future_run_in_thread (loop, slow_sum, NULL, NULL);
  gbridge_io_loop_add_future (loop, sum, on_sum, ui, NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GtkApplication) app = gtk_application_new ("org.gbridge.GuideGtk",
                                                       G_APPLICATION_NON_UNIQUE);
  Ui ui = { 0 };
  int status;

  g_signal_connect (app, "activate", G_CALLBACK (on_activate), &ui);
  status = g_application_run (G_APPLICATION (app), argc, argv);

  /* The last window is gone: stop the clock; closing the default loop runs
   * the destroy-notify of everything still registered on it. */
  g_clear_object (&ui.clock);
  gbridge_io_loop_close (gbridge_io_loop_get_default (), FALSE, NULL);
  return status;
}
