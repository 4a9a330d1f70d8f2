/* test-gtk-signal.c: awaiting GTK 4 signals with gbridge futures, under Xvfb
 *
 * A real button activated with gtk_widget_activate() resolves the future of
 * its "clicked"; a window's "close-request" resolves without stopping the
 * close; a destroyed window fails the future of a signal it never emitted.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gtk/gtk.h>
#include <gbridge/gbridge.h>

typedef struct
{
  GbridgeIOLoop *loop;
  GtkWidget     *window;
  GtkWidget     *button;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->loop = gbridge_io_loop_new_for_context (NULL);
  f->window = gtk_window_new ();
  f->button = gtk_button_new_with_label ("Click");
  gtk_window_set_child (GTK_WINDOW (f->window), f->button);
  gtk_window_present (GTK_WINDOW (f->window));
  while (!gtk_widget_get_mapped (f->button))
    g_main_context_iteration (NULL, TRUE);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->window != NULL)
    gtk_window_destroy (GTK_WINDOW (f->window));
  g_assert_true (gbridge_io_loop_close (f->loop, TRUE, NULL));
  g_assert_finalize_object (f->loop);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, fixture_set_up, (func), fixture_tear_down)

static gboolean
has_handler (gpointer    instance,
             const char *signal)
{
  return g_signal_has_handler_pending (instance, g_signal_lookup (signal, G_OBJECT_TYPE (instance)),
                                       0, TRUE);
}

/* run_sync's function: starts the wait, then clicks from a loop callback,
 * as a user's click arrives from the main loop. */

static void
activate (gpointer data)
{
  g_assert_true (gtk_widget_activate (data));
}

static GbridgeFuture *
click_and_wait (gpointer data)
{
  Fixture *f = data;
  GbridgeFuture *future = gbridge_future_new_for_signal (f->loop, f->button, "clicked");

  gbridge_io_loop_add_callback (f->loop, activate, f->button, NULL);
  return future;
}

static void
test_button_clicked (Fixture       *f,
                     gconstpointer  data)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;

  g_assert_true (gbridge_io_loop_run_sync (f->loop, click_and_wait, f, 30, &value, &error));
  g_assert_no_error (error);
  /* "clicked" has no arguments besides the button: an empty array. */
  g_assert_true (G_VALUE_HOLDS_BOXED (&value));
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  g_assert_cmpuint (((GValueArray *) g_value_get_boxed (&value))->n_values, ==, 0);
  G_GNUC_END_IGNORE_DEPRECATIONS
  g_assert_false (has_handler (f->button, "clicked"));
}

static void
close_window (gpointer data)
{
  gtk_window_close (data);
}

static GbridgeFuture *
close_and_wait (gpointer data)
{
  Fixture *f = data;
  GbridgeFuture *future = gbridge_future_new_for_signal (f->loop, f->window, "close-request");

  gbridge_io_loop_add_callback (f->loop, close_window, f->window, NULL);
  return future;
}

static void
test_close_request (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GWeakRef window;

  g_weak_ref_init (&window, f->window);
  g_assert_true (gbridge_io_loop_run_sync (f->loop, close_and_wait, f, 30, NULL, &error));
  g_assert_no_error (error);
  /* The window's own reference goes with the close. */
  f->window = NULL;

  /* The waiting handler returned FALSE: the close went on, and destroyed
   * the window. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_null (g_weak_ref_get (&window));
  g_weak_ref_clear (&window);
}

static void
destroy_window (gpointer data)
{
  gtk_window_destroy (data);
}

static GbridgeFuture *
destroy_and_wait (gpointer data)
{
  Fixture *f = data;
  GbridgeFuture *future = gbridge_future_new_for_signal (f->loop, f->button, "clicked");

  gbridge_io_loop_add_callback (f->loop, destroy_window, g_steal_pointer (&f->window), NULL);
  return future;
}

static void
test_destroyed (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (gbridge_io_loop_run_sync (f->loop, destroy_and_wait, f, 30, NULL, &error));
  g_assert_error (error, GBRIDGE_FUTURE_ERROR, GBRIDGE_FUTURE_ERROR_DISPOSED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gtk_init ();

  TEST ("/Gbridge/Gtk/signal/button-clicked", test_button_clicked);
  TEST ("/Gbridge/Gtk/signal/close-request", test_close_request);
  TEST ("/Gbridge/Gtk/signal/destroyed", test_destroyed);

  return g_test_run ();
}
