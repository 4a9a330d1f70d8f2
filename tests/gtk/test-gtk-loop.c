/* test-gtk-loop.c: GbridgeIOLoop inside a GTK 4 application
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Runs under Xvfb (tests/gtk/run-under-xvfb.sh).  The loop is on GTK's
 * default GMainContext, as in an application:
 *
 *  - fairness: GTK keeps drawing (and handling key presses) while gbridge
 *    runs a flood of chained callbacks or 10^5 timers, and gbridge keeps running while GTK is busy
 *    drawing; counted with the frame clock, with low lower bounds (a few
 *    frames where 60 a second are expected) that a loaded machine may take
 *    longer than a second to reach;
 *  - nesting: a nested main loop started from a gbridge callback, as a modal
 *    dialog does, keeps gbridge's callbacks, timers and fd handlers running;
 *  - shutdown: closing the window stops the application (or the loop, when
 *    gbridge_io_loop_start() runs the context) and closing the loop runs
 *    every pending destroy-notify exactly once.
 */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>

#include <gtk/gtk.h>
#include <gdk/x11/gdkx.h>
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <gbridge/gbridge.h>

/* How long each fairness test runs GTK's loop: long enough for GTK to draw
 * about 60 frames; the assertions ask for far fewer. A loaded machine may
 * need longer: the tests then run on until what they count got there, for
 * MAX_SECONDS at most. */
#define RUN_SECONDS 1.0
#define MAX_SECONDS 30
#define MIN_FRAMES 5

typedef struct
{
  GbridgeIOLoop *loop;
  GtkWidget     *window;
  guint          n_frames;
  gboolean       running;
} Fixture;

static gboolean
count_frame (GtkWidget     *widget,
             GdkFrameClock *clock,
             gpointer       user_data)
{
  ((Fixture *) user_data)->n_frames++;
  return G_SOURCE_CONTINUE;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->loop = gbridge_io_loop_new_for_context (NULL);
  f->window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (f->window), 200, 100);
  gtk_window_set_child (GTK_WINDOW (f->window), gtk_label_new ("gbridge"));
  gtk_window_present (GTK_WINDOW (f->window));
  /* Wait until the window is mapped and its frame clock runs. */
  while (!gtk_widget_get_mapped (f->window))
    g_main_context_iteration (NULL, TRUE);
  gtk_widget_add_tick_callback (f->window, count_frame, f, NULL);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  gtk_window_destroy (GTK_WINDOW (f->window));
  g_assert_true (gbridge_io_loop_close (f->loop, TRUE, NULL));
  g_assert_finalize_object (f->loop);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, fixture_set_up, (func), fixture_tear_down)

/* Runs GTK's loop (the default context) for RUN_SECONDS. */
static void
run_for_a_while (void)
{
  gint64 end = g_get_monotonic_time () + (gint64) (RUN_SECONDS * G_USEC_PER_SEC);

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
}

/* Runs GTK's loop for RUN_SECONDS, then on until @done (@data) returns TRUE,
 * MAX_SECONDS in all at most. */
static void
run_until (gboolean (*done) (gpointer data),
           gpointer   data)
{
  gint64 limit = g_get_monotonic_time () + MAX_SECONDS * G_USEC_PER_SEC;

  run_for_a_while ();
  while (!done (data) && g_get_monotonic_time () < limit)
    g_main_context_iteration (NULL, TRUE);
}

/* Input: key presses typed through the X server's XTEST extension, as a
 * keyboard would, into the focused window; counted by a key controller. */

static gboolean
count_key (GtkEventControllerKey *controller,
           guint                  keyval,
           guint                  keycode,
           GdkModifierType        state,
           gpointer               user_data)
{
  (*(guint *) user_data)++;
  return GDK_EVENT_STOP;
}

static void
watch_keys (Fixture *f,
            guint   *n_keys)
{
  GtkEventController *keys = gtk_event_controller_key_new ();

  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (count_key), n_keys);
  gtk_widget_add_controller (f->window, keys);
}

static void
type_keys (Fixture *f,
           guint    n)
{
  /* Newer GTK 4 deprecates its X11 backend API; these tests drive Xvfb with
   * XTest on purpose. */
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  GdkSurface *surface = gtk_native_get_surface (GTK_NATIVE (f->window));
  Display *xdisplay = gdk_x11_display_get_xdisplay (gtk_widget_get_display (f->window));
  KeyCode a = XKeysymToKeycode (xdisplay, XK_a);

  /* No window manager under Xvfb: give the window the focus ourselves. */
  XSetInputFocus (xdisplay, gdk_x11_surface_get_xid (surface), RevertToParent, CurrentTime);
  G_GNUC_END_IGNORE_DEPRECATIONS
  for (guint i = 0; i < n; i++)
    {
      g_assert_true (XTestFakeKeyEvent (xdisplay, a, True, CurrentTime));
      g_assert_true (XTestFakeKeyEvent (xdisplay, a, False, CurrentTime));
    }
  XFlush (xdisplay);
}

/* Fairness: a flood of chained callbacks */

typedef struct
{
  Fixture *f;
  guint64  n_calls;
  gboolean stop;
  guint    frames_before;
  guint    n_keys;
} Flood;

static void
flood_cb (gpointer user_data)
{
  Flood *flood = user_data;

  flood->n_calls++;
  if (!flood->stop)
    gbridge_io_loop_add_callback (flood->f->loop, flood_cb, flood, NULL);
}

static gboolean
flood_counted (gpointer data)
{
  Flood *flood = data;

  return flood->f->n_frames - flood->frames_before > MIN_FRAMES &&
         flood->n_keys == 10 && flood->n_calls > 1000;
}

static void
test_fairness_callback_flood (Fixture       *f,
                              gconstpointer  data)
{
  Flood flood = { f, 0, FALSE, f->n_frames, 0 };

  watch_keys (f, &flood.n_keys);
  /* Each callback adds the next one, so the loop always has work. */
  gbridge_io_loop_add_callback (f->loop, flood_cb, &flood, NULL);
  type_keys (f, 10);
  run_until (flood_counted, &flood);
  flood.stop = TRUE;

  g_test_message ("%" G_GUINT64_FORMAT " chained callbacks, %u frames, %u key presses",
                  flood.n_calls, f->n_frames - flood.frames_before, flood.n_keys);
  g_assert_cmpuint (f->n_frames - flood.frames_before, >, MIN_FRAMES);
  g_assert_cmpuint (flood.n_keys, ==, 10);
  g_assert_cmpuint (flood.n_calls, >, 1000);
}

/* Fairness: 10^5 timers */

#define N_TIMERS 100000

static void
timer_cb (gpointer user_data)
{
  (*(guint *) user_data)++;
}

/* Lets any stragglers fire (there is no upper bound on a slow machine),
 * MAX_SECONDS at most, then checks that all N_TIMERS fired and that GTK
 * kept drawing meanwhile. */
static void
assert_timers_fired (Fixture *f,
                     guint   *n_fired,
                     guint    frames_before)
{
  gint64 end = g_get_monotonic_time () + MAX_SECONDS * G_USEC_PER_SEC;

  while (*n_fired < N_TIMERS && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);

  g_test_message ("%u timers fired, %u frames", *n_fired, f->n_frames - frames_before);
  g_assert_cmpuint (*n_fired, ==, N_TIMERS);
  g_assert_cmpuint (f->n_frames - frames_before, >, MIN_FRAMES);
}

static void
test_fairness_timers (Fixture       *f,
                      gconstpointer  data)
{
  guint n_fired = 0;
  guint frames_before = f->n_frames;
  guint n_keys = 0;

  watch_keys (f, &n_keys);
  /* Spread over the second, so some are due in every iteration. */
  for (guint i = 0; i < N_TIMERS; i++)
    gbridge_io_loop_call_later (f->loop, RUN_SECONDS * i / N_TIMERS,
                                timer_cb, &n_fired, NULL);
  type_keys (f, 10);
  run_for_a_while ();
  g_assert_cmpuint (n_keys, ==, 10);
  assert_timers_fired (f, &n_fired, frames_before);
}

/* Fairness: 10^5 timers due at once */

static void
test_fairness_timers_due_together (Fixture       *f,
                                   gconstpointer  data)
{
  guint n_fired = 0;
  guint frames_before = f->n_frames;
  double when = gbridge_io_loop_time (f->loop) + 0.1;

  for (guint i = 0; i < N_TIMERS; i++)
    gbridge_io_loop_call_at (f->loop, when, timer_cb, &n_fired, NULL);
  run_for_a_while ();
  assert_timers_fired (f, &n_fired, frames_before);
}

/* Fairness: GTK busy drawing, gbridge still runs */

static void
draw_slowly (GtkDrawingArea *area,
             cairo_t        *cr,
             int             width,
             int             height,
             gpointer        user_data)
{
  guint *n_draws = user_data;

  /* A heavy frame: 20 ms of drawing. */
  g_usleep (20000);
  cairo_set_source_rgb (cr, (*n_draws)++ % 2, 0.5, 0.5);
  cairo_paint (cr);
}

static gboolean
redraw_every_frame (GtkWidget     *widget,
                    GdkFrameClock *clock,
                    gpointer       user_data)
{
  gtk_widget_queue_draw (widget);
  return G_SOURCE_CONTINUE;
}

static void
pipe_readable (int             fd,
               GbridgeIOEvents events,
               gpointer        user_data)
{
  char buf[64];

  if (read (fd, buf, sizeof buf) > 0)
    (*(guint *) user_data)++;
}

typedef struct
{
  int   fd;
  guint n_ticks;
  guint n_draws;
  guint n_reads;
} Ticker;

static void
tick_and_write (gpointer user_data)
{
  Ticker *ticker = user_data;

  ticker->n_ticks++;
  g_assert_cmpint (write (ticker->fd, "x", 1), ==, 1);
}

static gboolean
ticker_counted (gpointer data)
{
  Ticker *ticker = data;

  return ticker->n_draws > MIN_FRAMES && ticker->n_ticks > MIN_FRAMES &&
         ticker->n_reads > MIN_FRAMES;
}

static void
test_fairness_gtk_busy (Fixture       *f,
                        gconstpointer  data)
{
  GtkWidget *area = gtk_drawing_area_new ();
  g_autoptr(GbridgePeriodicCallback) periodic = NULL;
  Ticker ticker = { -1, 0, 0, 0 };
  int fds[2];

  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (area), draw_slowly, &ticker.n_draws, NULL);
  gtk_widget_add_tick_callback (area, redraw_every_frame, NULL, NULL);
  gtk_window_set_child (GTK_WINDOW (f->window), area);

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), ==, 0);
  ticker.fd = fds[1];
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              pipe_readable, &ticker.n_reads, NULL, NULL));
  periodic = gbridge_periodic_callback_new (f->loop, 0.01, tick_and_write, &ticker, NULL);
  gbridge_periodic_callback_start (periodic);

  run_until (ticker_counted, &ticker);
  gbridge_periodic_callback_stop (periodic);

  g_test_message ("GTK drew %u heavy frames; gbridge ticked %u times, read %u times",
                  ticker.n_draws, ticker.n_ticks, ticker.n_reads);
  g_assert_cmpuint (ticker.n_draws, >, MIN_FRAMES);
  g_assert_cmpuint (ticker.n_ticks, >, MIN_FRAMES);
  g_assert_cmpuint (ticker.n_reads, >, MIN_FRAMES);
  gbridge_io_loop_remove_handler (f->loop, fds[0]);
  close (fds[0]);
  close (fds[1]);
}

/* Nesting: a modal dialog's loop, started from a gbridge callback */

typedef struct
{
  Fixture   *f;
  GtkWidget *dialog;
  GMainLoop *nested;
  int        fds[2];
  guint      n_callbacks;
  guint      n_timers;
  guint      n_reads;
  guint      n_dialog_frames;
  gboolean   in_nested;
  gboolean   closed_from_gbridge;
} Modal;

static void
modal_check_done (Modal *m)
{
  if (m->n_callbacks >= 3 && m->n_timers >= 3 && m->n_reads >= 3 &&
      m->n_dialog_frames >= 2 && !m->closed_from_gbridge)
    {
      /* As a "Close" button would: the dialog goes, its loop returns. */
      m->closed_from_gbridge = TRUE;
      gtk_window_destroy (GTK_WINDOW (m->dialog));
    }
}

static void
modal_callback (gpointer user_data)
{
  Modal *m = user_data;

  g_assert_true (m->in_nested);
  m->n_callbacks++;
  modal_check_done (m);
  if (m->n_callbacks < 3)
    gbridge_io_loop_add_callback (m->f->loop, modal_callback, m, NULL);
}

static void
modal_readable (int             fd,
                GbridgeIOEvents events,
                gpointer        user_data)
{
  Modal *m = user_data;
  char c;

  g_assert_true (m->in_nested);
  if (read (fd, &c, 1) == 1)
    m->n_reads++;
  modal_check_done (m);
}

static void
modal_timer (gpointer user_data)
{
  Modal *m = user_data;

  g_assert_true (m->in_nested);
  m->n_timers++;
  g_assert_cmpint (write (m->fds[1], "x", 1), ==, 1);
  modal_check_done (m);
  if (m->n_timers < 3)
    gbridge_io_loop_call_later (m->f->loop, 0.01, modal_timer, m, NULL);
}

static gboolean
count_dialog_frame (GtkWidget     *widget,
                    GdkFrameClock *clock,
                    gpointer       user_data)
{
  Modal *m = user_data;

  m->n_dialog_frames++;
  modal_check_done (m);
  return G_SOURCE_CONTINUE;
}

static void
modal_destroyed (GtkWidget *dialog,
                 gpointer   user_data)
{
  g_main_loop_quit (((Modal *) user_data)->nested);
}

/* A gbridge callback that runs a modal dialog to completion, the way
 * gtk_dialog_run() used to and a synchronous "Are you sure?" still does. */
static void
open_modal_dialog (gpointer user_data)
{
  Modal *m = user_data;

  m->dialog = gtk_window_new ();
  gtk_window_set_modal (GTK_WINDOW (m->dialog), TRUE);
  gtk_window_set_transient_for (GTK_WINDOW (m->dialog), GTK_WINDOW (m->f->window));
  gtk_window_set_child (GTK_WINDOW (m->dialog), gtk_label_new ("Are you sure?"));
  g_signal_connect (m->dialog, "destroy", G_CALLBACK (modal_destroyed), m);
  gtk_widget_add_tick_callback (m->dialog, count_dialog_frame, m, NULL);

  gbridge_io_loop_add_callback (m->f->loop, modal_callback, m, NULL);
  gbridge_io_loop_call_later (m->f->loop, 0.01, modal_timer, m, NULL);
  g_assert_true (gbridge_io_loop_add_handler (m->f->loop, m->fds[0], GBRIDGE_IO_EVENTS_READ,
                                              modal_readable, m, NULL, NULL));
  gtk_window_present (GTK_WINDOW (m->dialog));

  m->nested = g_main_loop_new (NULL, FALSE);
  m->in_nested = TRUE;
  g_main_loop_run (m->nested);
  m->in_nested = FALSE;
  g_clear_pointer (&m->nested, g_main_loop_unref);
}

static void
test_nested_modal_dialog (Fixture       *f,
                          gconstpointer  data)
{
  Modal m = { f };

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, m.fds), ==, 0);
  gbridge_io_loop_add_callback (f->loop, open_modal_dialog, &m, NULL);

  /* The watchdog: the dialog closes itself once everything ran in it. */
  {
    gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

    while (!m.closed_from_gbridge && g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, TRUE);
  }

  g_assert_true (m.closed_from_gbridge);
  g_assert_false (m.in_nested);
  g_assert_cmpuint (m.n_callbacks, ==, 3);
  g_assert_cmpuint (m.n_timers, ==, 3);
  g_assert_cmpuint (m.n_reads, ==, 3);
  g_assert_cmpuint (m.n_dialog_frames, >=, 2);
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, m.fds[0]));
  close (m.fds[0]);
  close (m.fds[1]);
}

/* Shutdown: closing the window ends the application; closing the loop runs
 * every pending destroy-notify once. */

typedef struct
{
  GbridgeIOLoop *loop;
  GtkWindow     *window;
  int            fds[2];
  guint          n_registered;
  guint          n_destroyed;
  guint          n_ran_after_close;
} Shutdown;

static void
shutdown_destroyed (gpointer user_data)
{
  ((Shutdown *) user_data)->n_destroyed++;
}

static void
shutdown_never (gpointer user_data)
{
  ((Shutdown *) user_data)->n_ran_after_close++;
}

static void
shutdown_never_io (int             fd,
                   GbridgeIOEvents events,
                   gpointer        user_data)
{
  ((Shutdown *) user_data)->n_ran_after_close++;
}

static void
close_window (gpointer user_data)
{
  Shutdown *s = user_data;

  /* Work still pending when the window goes: a callback queued just now, a
   * timer an hour away and an fd that never becomes readable. */
  gbridge_io_loop_add_callback (s->loop, shutdown_never, s, shutdown_destroyed);
  gbridge_io_loop_call_later (s->loop, 3600, shutdown_never, s, shutdown_destroyed);
  g_assert_true (gbridge_io_loop_add_handler (s->loop, s->fds[0], GBRIDGE_IO_EVENTS_READ,
                                              shutdown_never_io, s, shutdown_destroyed,
                                              NULL));
  s->n_registered += 3;
  gtk_window_close (s->window);
}

static void
shutdown_activate (GtkApplication *app,
                   gpointer        user_data)
{
  Shutdown *s = user_data;

  s->window = GTK_WINDOW (gtk_application_window_new (app));
  gtk_window_present (s->window);
  gbridge_io_loop_call_later (s->loop, 0.05, close_window, s, shutdown_destroyed);
  s->n_registered++;
}

static void
shutdown_app_shutdown (GApplication *app,
                       gpointer      user_data)
{
  Shutdown *s = user_data;

  /* The application's last word: nothing of gbridge's outlives it. */
  g_assert_true (gbridge_io_loop_close (s->loop, TRUE, NULL));
}

static void
test_shutdown_on_close (void)
{
  Shutdown s = { 0 };
  g_autoptr(GtkApplication) app = gtk_application_new ("org.gbridge.TestShutdown",
                                                       G_APPLICATION_NON_UNIQUE);

  s.loop = gbridge_io_loop_new_for_context (NULL);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s.fds), ==, 0);
  g_signal_connect (app, "activate", G_CALLBACK (shutdown_activate), &s);
  g_signal_connect (app, "shutdown", G_CALLBACK (shutdown_app_shutdown), &s);

  g_assert_cmpint (g_application_run (G_APPLICATION (app), 0, NULL), ==, 0);

  g_assert_true (gbridge_io_loop_is_closed (s.loop));
  g_assert_cmpuint (s.n_registered, ==, 4);
  g_assert_cmpuint (s.n_destroyed, ==, s.n_registered);
  g_assert_cmpuint (s.n_ran_after_close, ==, 0);
  /* close (all_fds: TRUE) closed the watched fd. */
  g_assert_cmpint (fcntl (s.fds[0], F_GETFD), ==, -1);
  g_assert_cmpint (errno, ==, EBADF);
  close (s.fds[1]);
  g_assert_finalize_object (s.loop);
  g_assert_finalize_object (g_steal_pointer (&app));
}

/* The other way round: gbridge_io_loop_start() runs the context (GTK needs
 * nothing more than the default context being run) and closing the window
 * stops the loop. */

static gboolean
stop_loop_on_close (GtkWindow *window,
                    gpointer   user_data)
{
  gbridge_io_loop_stop (((Shutdown *) user_data)->loop);
  return FALSE;   /* let the window close */
}

static void
test_shutdown_loop_start (void)
{
  Shutdown s = { 0 };
  g_autoptr(GError) error = NULL;

  s.loop = gbridge_io_loop_new_for_context (NULL);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s.fds), ==, 0);
  s.window = GTK_WINDOW (gtk_window_new ());
  g_signal_connect (s.window, "close-request", G_CALLBACK (stop_loop_on_close), &s);
  gtk_window_present (s.window);
  gbridge_io_loop_call_later (s.loop, 0.05, close_window, &s, shutdown_destroyed);
  s.n_registered++;

  g_assert_true (gbridge_io_loop_start (s.loop, &error));
  g_assert_no_error (error);
  g_assert_false (gbridge_io_loop_is_running (s.loop));

  g_assert_true (gbridge_io_loop_close (s.loop, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (s.n_registered, ==, 4);
  g_assert_cmpuint (s.n_destroyed, ==, s.n_registered);
  g_assert_cmpuint (s.n_ran_after_close, ==, 0);
  g_assert_cmpint (fcntl (s.fds[0], F_GETFD), ==, -1);
  close (s.fds[1]);
  g_assert_finalize_object (s.loop);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gtk_init ();

  TEST ("/Gbridge/Gtk/fairness/callback-flood", test_fairness_callback_flood);
  TEST ("/Gbridge/Gtk/fairness/timers", test_fairness_timers);
  TEST ("/Gbridge/Gtk/fairness/timers-due-together", test_fairness_timers_due_together);
  TEST ("/Gbridge/Gtk/fairness/gtk-busy", test_fairness_gtk_busy);
  TEST ("/Gbridge/Gtk/nested/modal-dialog", test_nested_modal_dialog);
  g_test_add_func ("/Gbridge/Gtk/shutdown/close-window", test_shutdown_on_close);
  g_test_add_func ("/Gbridge/Gtk/shutdown/loop-start", test_shutdown_loop_start);

  return g_test_run ();
}
