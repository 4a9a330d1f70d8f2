/* gtk-demo.c: a GTK 4 application whose gbridge work shares GTK's loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GTK runs the default GMainContext; gbridge_io_loop_get_default() is the
 * GbridgeIOLoop on that very context, so everything below runs on GTK's own
 * main loop, with no second thread for the loop and no polling timer:
 *
 *  - a TCP echo server on 127.0.0.1, served through fd handlers;
 *  - a GbridgePeriodicCallback that updates a label every 100 ms;
 *  - a computation in a worker thread (gbridge_future_run_in_thread()) that
 *    reports its progress with gbridge_io_loop_add_callback() (safe from any
 *    thread) and whose result comes back through the future.
 *
 * Run it from a build tree:  _build/examples/gbridge-gtk-demo
 * Then:                      nc 127.0.0.1 <port shown>, and type a line
 *
 * With --self-test=DIR it also connects to its own server, waits until the
 * three labels show their results, checks them, saves a screenshot of the
 * window as DIR/gtk-demo-c.png, checks the PNG, and quits (the test suite
 * runs it this way under Xvfb).
 */

#define _GNU_SOURCE  /* accept4() */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtk/gtk.h>
#include <gbridge/gbridge.h>

#define N_PRIMES_BELOW 200000

typedef struct
{
  GtkApplication          *app;
  GtkWindow               *window;
  GtkLabel                *tick_label;
  GtkLabel                *worker_label;
  GtkLabel                *socket_label;
  GbridgeIOLoop           *loop;
  GbridgePeriodicCallback *ticker;
  int                      listen_fd;
  guint                    n_ticks;
  guint                    n_frames;
  guint                    checked_at_frame;
  char                    *self_test_dir;
  GdkPaintable            *paintable;  /* the window's frames, for --self-test */
  int                      status;
} Demo;

/* The echo server: one fd handler for the listening socket, one per client. */

static void
on_client_readable (int             fd,
                    GbridgeIOEvents events,
                    gpointer        user_data)
{
  Demo *demo = user_data;
  char buf[256];
  ssize_t n = read (fd, buf, sizeof buf - 1);

  if (n <= 0)
    {
      gbridge_io_loop_remove_handler (demo->loop, fd);
      close (fd);
      return;
    }

  buf[n] = '\0';
  g_strchomp (buf);
  if (write (fd, buf, n) < 0)
    g_warning ("echo: %s", g_strerror (errno));

  {
    g_autofree char *text = g_strdup_printf ("socket: echoed “%s”", buf);

    gtk_label_set_text (demo->socket_label, text);
  }
}

static void
on_listen_readable (int             fd,
                    GbridgeIOEvents events,
                    gpointer        user_data)
{
  Demo *demo = user_data;
  g_autoptr(GError) error = NULL;
  int client = accept4 (fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

  if (client < 0)
    return;
  if (!gbridge_io_loop_add_handler (demo->loop, client, GBRIDGE_IO_EVENTS_READ,
                                    on_client_readable, demo, NULL, &error))
    {
      g_warning ("%s", error->message);
      close (client);
    }
}

static int
listen_on_localhost (guint16 *port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd < 0 ||
      bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      listen (fd, 16) < 0 ||
      getsockname (fd, (struct sockaddr *) &addr, &len) < 0)
    {
      if (fd >= 0)
        close (fd);
      return -1;
    }
  *port = ntohs (addr.sin_port);
  return fd;
}

/* The ticker: a GbridgePeriodicCallback on GTK's loop. */

static void
on_tick (gpointer user_data)
{
  Demo *demo = user_data;
  g_autofree char *text = g_strdup_printf ("tick %u", ++demo->n_ticks);

  gtk_label_set_text (demo->tick_label, text);
}

/* The worker: counts primes in a thread of gbridge's pool. Progress goes to
 * GTK's thread through add_callback; the future is completed in the worker
 * and its done-callback runs here, on GTK's thread. */

typedef struct
{
  Demo  *demo;
  guint  reached;
} Progress;

static void
show_progress (gpointer user_data)
{
  Progress *progress = user_data;
  g_autofree char *text = NULL;

  /* The result may have arrived first: never overwrite it. */
  if (!g_str_has_prefix (gtk_label_get_text (progress->demo->worker_label),
                         "worker: counting"))
    return;
  text = g_strdup_printf ("worker: counting primes… %u%%",
                          progress->reached * 100 / N_PRIMES_BELOW);
  gtk_label_set_text (progress->demo->worker_label, text);
}

static void
count_primes (GbridgeFuture *future,
              GCancellable  *cancellable,
              gpointer       user_data)
{
  Demo *demo = user_data;
  g_auto(GValue) value = G_VALUE_INIT;
  guint n = 0;

  for (guint i = 2; i < N_PRIMES_BELOW; i++)
    {
      gboolean prime = TRUE;

      if (i % 1000 == 0 && g_cancellable_is_cancelled (cancellable))
        return;
      if (i % 20000 == 0)
        {
          Progress *progress = g_new (Progress, 1);

          progress->demo = demo;
          progress->reached = i;
          gbridge_io_loop_add_callback (demo->loop, show_progress, progress, g_free);
        }
      for (guint d = 2; d * d <= i && prime; d++)
        prime = i % d != 0;
      n += prime;
    }

  g_value_init (&value, G_TYPE_UINT);
  g_value_set_uint (&value, n);
  gbridge_future_resolve (future, &value, NULL);
}

static void
on_primes_counted (GbridgeFuture *future,
                   gpointer       user_data)
{
  Demo *demo = user_data;
  g_autoptr(GError) error = NULL;
  const GValue *value = gbridge_future_get_value (future, &error);
  g_autofree char *text = NULL;

  if (value == NULL)
    text = g_strdup_printf ("worker: %s", error->message);
  else
    text = g_strdup_printf ("worker: %u primes below %u",
                            g_value_get_uint (value), N_PRIMES_BELOW);
  gtk_label_set_text (demo->worker_label, text);
}

/* --self-test: the checks the test suite runs under Xvfb. */

static gboolean
count_frame (GtkWidget     *widget,
             GdkFrameClock *clock,
             gpointer       user_data)
{
  ((Demo *) user_data)->n_frames++;
  return G_SOURCE_CONTINUE;
}

/* Reports a failed check; returns FALSE for the caller to return. */
static gboolean
fail (Demo       *demo,
      const char *format,
      ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (Demo       *demo,
      const char *format,
      ...)
{
  va_list args;

  va_start (args, format);
  g_printerr ("gtk-demo self-test FAILED: ");
  vfprintf (stderr, format, args);
  g_printerr ("\n");
  va_end (args);
  demo->status = 1;
  return FALSE;
}

/* Renders the window with its own renderer into a texture, saves it as a
 * PNG, loads the PNG back and checks it is the window, not a blank image. */
static gboolean
save_and_check_screenshot (Demo       *demo,
                           const char *path)
{
  GtkWidget *window = GTK_WIDGET (demo->window);
  int width = gtk_widget_get_width (window);
  int height = gtk_widget_get_height (window);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GdkTexture) loaded = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guchar *pixels = NULL;
  GHashTable *colours;
  guint n_colours;

  gdk_paintable_snapshot (demo->paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  if (node == NULL)
    return fail (demo, "the window rendered nothing");
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, path))
    return fail (demo, "cannot save %s", path);

  loaded = gdk_texture_new_from_filename (path, &error);
  if (loaded == NULL)
    return fail (demo, "cannot load %s back: %s", path, error->message);
  if (gdk_texture_get_width (loaded) != width || gdk_texture_get_height (loaded) != height)
    return fail (demo, "%s is %dx%d, the window %dx%d", path,
                 gdk_texture_get_width (loaded), gdk_texture_get_height (loaded),
                 width, height);

  pixels = g_malloc ((gsize) width * height * 4);
  gdk_texture_download (loaded, pixels, (gsize) width * 4);
  colours = g_hash_table_new (NULL, NULL);
  for (gsize i = 0; i < (gsize) width * height; i++)
    g_hash_table_add (colours, GUINT_TO_POINTER (((guint32 *) pixels)[i]));
  n_colours = g_hash_table_size (colours);
  g_hash_table_destroy (colours);
  /* Text is antialiased: a window showing labels has many shades. */
  if (n_colours < 8)
    return fail (demo, "%s looks blank: %u colours", path, n_colours);

  g_print ("screenshot: %s (%dx%d, %u colours)\n", path, width, height, n_colours);
  return TRUE;
}

static gboolean
label_has_prefix (GtkLabel   *label,
                  const char *prefix)
{
  return g_str_has_prefix (gtk_label_get_text (label), prefix);
}

static void
self_test_screenshot (gpointer user_data)
{
  Demo *demo = user_data;
  g_autofree char *path = NULL;

  /* The paintable holds the last frame drawn: wait until the labels as
   * checked have been drawn. */
  if (demo->n_frames < demo->checked_at_frame + 2)
    {
      gbridge_io_loop_call_later (demo->loop, 0.02, self_test_screenshot, demo, NULL);
      return;
    }
  path = g_build_filename (demo->self_test_dir, "gtk-demo-c.png", NULL);
  save_and_check_screenshot (demo, path);
  /* Closing the window quits the application, as a user would. */
  gtk_window_close (demo->window);
}

static void
self_test_poll (gpointer user_data)
{
  Demo *demo = user_data;
  g_autofree char *expected = NULL;

  if (demo->n_ticks < 3 ||
      !label_has_prefix (demo->worker_label, "worker: 17984") ||
      !label_has_prefix (demo->socket_label, "socket: echoed"))
    {
      gbridge_io_loop_call_later (demo->loop, 0.05, self_test_poll, demo, NULL);
      return;
    }

  /* There are 17984 primes below 200000. */
  expected = g_strdup_printf ("worker: 17984 primes below %u", N_PRIMES_BELOW);
  if (g_strcmp0 (gtk_label_get_text (demo->worker_label), expected) != 0)
    fail (demo, "worker label is “%s”", gtk_label_get_text (demo->worker_label));
  if (g_strcmp0 (gtk_label_get_text (demo->socket_label), "socket: echoed “hello gbridge”") != 0)
    fail (demo, "socket label is “%s”", gtk_label_get_text (demo->socket_label));
  if (demo->n_frames < 2)
    fail (demo, "GTK drew %u frames while gbridge worked", demo->n_frames);

  g_print ("labels: “%s”, “%s”, “%s”; %u frames so far\n",
           gtk_label_get_text (demo->tick_label),
           gtk_label_get_text (demo->worker_label),
           gtk_label_get_text (demo->socket_label), demo->n_frames);
  /* The ticker goes on; stop it so that the screenshot shows this state. */
  gbridge_periodic_callback_stop (demo->ticker);
  demo->checked_at_frame = demo->n_frames;
  self_test_screenshot (demo);
}

static void
on_client_reply (int             fd,
                 GbridgeIOEvents events,
                 gpointer        user_data)
{
  Demo *demo = user_data;
  char buf[64];

  if (read (fd, buf, sizeof buf) <= 0)
    {
      gbridge_io_loop_remove_handler (demo->loop, fd);
      close (fd);
    }
}

static void
self_test_connect (Demo    *demo,
                   guint16  port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  /* A blocking connect to our own listening socket completes at once. */
  if (fd < 0 || connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      write (fd, "hello gbridge\n", 14) != 14)
    {
      fail (demo, "cannot talk to our own server: %s", g_strerror (errno));
      return;
    }
  gbridge_io_loop_add_handler (demo->loop, fd, GBRIDGE_IO_EVENTS_READ,
                               on_client_reply, demo, NULL, NULL);
}

static void
self_test_watchdog (gpointer user_data)
{
  Demo *demo = user_data;

  fail (demo, "still waiting after 30 s: “%s”, “%s”, “%s”",
        gtk_label_get_text (demo->tick_label),
        gtk_label_get_text (demo->worker_label),
        gtk_label_get_text (demo->socket_label));
  gtk_window_close (demo->window);
}

/* The application */

static GtkLabel *
add_label (GtkBox     *box,
           const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gtk_box_append (box, label);
  return GTK_LABEL (label);
}

static void
on_activate (GtkApplication *app,
             gpointer        user_data)
{
  Demo *demo = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GbridgeFuture) primes = NULL;
  g_autofree char *title = NULL;
  GtkWidget *box;
  guint16 port = 0;

  demo->window = GTK_WINDOW (gtk_application_window_new (app));
  gtk_window_set_default_size (demo->window, 420, 160);
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_widget_set_margin_start (box, 18);
  gtk_widget_set_margin_end (box, 18);
  gtk_widget_set_margin_top (box, 18);
  gtk_widget_set_margin_bottom (box, 18);
  gtk_window_set_child (demo->window, box);
  demo->tick_label = add_label (GTK_BOX (box), "tick 0");
  demo->worker_label = add_label (GTK_BOX (box), "worker: counting primes…");
  gtk_label_set_width_chars (demo->worker_label, 36);
  demo->socket_label = add_label (GTK_BOX (box), "socket: waiting for a client");

  demo->listen_fd = listen_on_localhost (&port);
  if (demo->listen_fd < 0 ||
      !gbridge_io_loop_add_handler (demo->loop, demo->listen_fd, GBRIDGE_IO_EVENTS_READ,
                                    on_listen_readable, demo, NULL, &error))
    {
      fail (demo, "cannot serve: %s", error ? error->message : g_strerror (errno));
      return;
    }
  title = g_strdup_printf ("gbridge GTK demo — echo on 127.0.0.1:%u", port);
  gtk_window_set_title (demo->window, title);
  g_print ("echo server on 127.0.0.1:%u\n", port);

  demo->ticker = gbridge_periodic_callback_new (demo->loop, 0.1, on_tick, demo, NULL);
  gbridge_periodic_callback_start (demo->ticker);

  primes = gbridge_future_run_in_thread (demo->loop, count_primes, demo, NULL);
  gbridge_io_loop_add_future (demo->loop, primes, on_primes_counted, demo, NULL);

  if (demo->self_test_dir != NULL)
    {
      gtk_widget_add_tick_callback (GTK_WIDGET (demo->window), count_frame, demo, NULL);
      /* Created before the first frame: it records the frames drawn after it. */
      demo->paintable = gtk_widget_paintable_new (GTK_WIDGET (demo->window));
      self_test_connect (demo, port);
      gbridge_io_loop_call_later (demo->loop, 0.05, self_test_poll, demo, NULL);
      gbridge_io_loop_call_later (demo->loop, 30.0, self_test_watchdog, demo, NULL);
    }

  gtk_window_present (demo->window);
}

int
main (int   argc,
      char *argv[])
{
  Demo demo = { .listen_fd = -1 };
  g_autoptr(GtkApplication) app = NULL;
  int status;

  for (int i = 1; i < argc; i++)
    if (g_str_has_prefix (argv[i], "--self-test="))
      demo.self_test_dir = argv[i] + strlen ("--self-test=");
  if (demo.self_test_dir != NULL)
    g_mkdir_with_parents (demo.self_test_dir, 0755);

  demo.loop = gbridge_io_loop_get_default ();
  app = gtk_application_new ("org.gbridge.GtkDemo", G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "activate", G_CALLBACK (on_activate), &demo);
  status = g_application_run (G_APPLICATION (app), 1, argv);

  /* The window is closed: stop the ticker, then close the loop, which drops
   * every handler and timer still registered and runs their destroy-notifies. */
  if (demo.ticker != NULL)
    gbridge_periodic_callback_stop (demo.ticker);
  g_clear_object (&demo.ticker);
  g_clear_object (&demo.paintable);
  gbridge_io_loop_close (demo.loop, TRUE, NULL);
  demo.listen_fd = -1;

  return status != 0 ? status : demo.status;
}
