/* test-context-driver.c
 *
 * A GMainContext, with a GbridgeIOLoop and plain GLib sources on it, driven
 * from libuv through GbridgeContextDriver.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gbridge/gbridge.h>
#include <glib-unix.h>

#include <locale.h>
#include <unistd.h>
#include <uv.h>

/* The glue a libuv program would write: one uv_poll_t per descriptor the
 * context wants, one uv_timer_t for its deadline. */
typedef struct
{
  uv_loop_t            *uv;
  GbridgeContextDriver *driver;
  GHashTable           *polls;   /* fd -> uv_poll_t* */
  uv_timer_t            timer;
  guint                 dispatches;
} Glue;

static void glue_refresh (Glue *glue);

static void
glue_dispatch (Glue *glue)
{
  if (gbridge_context_driver_dispatch (glue->driver))
    glue->dispatches++;
  glue_refresh (glue);
}

static void
on_poll (uv_poll_t *poll,
         int        status,
         int        uv_events)
{
  Glue *glue = poll->data;
  GbridgeIOEvents events = GBRIDGE_IO_EVENTS_NONE;
  uv_os_fd_t fd;

  uv_fileno ((uv_handle_t *) poll, &fd);
  if (status < 0)
    events |= GBRIDGE_IO_EVENTS_ERROR;
  if (uv_events & UV_READABLE)
    events |= GBRIDGE_IO_EVENTS_READ;
  if (uv_events & UV_WRITABLE)
    events |= GBRIDGE_IO_EVENTS_WRITE;
  if (uv_events & UV_DISCONNECT)
    events |= GBRIDGE_IO_EVENTS_ERROR;
  gbridge_context_driver_set_ready (glue->driver, fd, events);
  glue_dispatch (glue);
}

static void
on_timer (uv_timer_t *timer)
{
  glue_dispatch (timer->data);
}

static void
free_poll (uv_handle_t *handle)
{
  g_free (handle);
}

static void
close_poll (gpointer data)
{
  uv_close (data, free_poll);
}

static void
glue_refresh (Glue *glue)
{
  int timeout = gbridge_context_driver_prepare (glue->driver);
  g_autoptr(GHashTable) wanted = g_hash_table_new (NULL, NULL);
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < gbridge_context_driver_get_n_fds (glue->driver); i++)
    {
      GbridgeIOEvents events;
      int fd = gbridge_context_driver_get_fd (glue->driver, i, &events);
      int uv_events = GPOINTER_TO_INT (g_hash_table_lookup (wanted, GINT_TO_POINTER (fd)));

      if (events & GBRIDGE_IO_EVENTS_READ)
        uv_events |= UV_READABLE;
      if (events & GBRIDGE_IO_EVENTS_WRITE)
        uv_events |= UV_WRITABLE;
      g_hash_table_insert (wanted, GINT_TO_POINTER (fd), GINT_TO_POINTER (uv_events | UV_DISCONNECT));
    }

  g_hash_table_iter_init (&iter, glue->polls);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (wanted, key))
      g_hash_table_iter_remove (&iter);

  g_hash_table_iter_init (&iter, wanted);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      uv_poll_t *poll = g_hash_table_lookup (glue->polls, key);

      if (poll == NULL)
        {
          poll = g_new0 (uv_poll_t, 1);
          g_assert_cmpint (uv_poll_init (glue->uv, poll, GPOINTER_TO_INT (key)), ==, 0);
          poll->data = glue;
          g_hash_table_insert (glue->polls, key, poll);
        }
      g_assert_cmpint (uv_poll_start (poll, GPOINTER_TO_INT (value), on_poll), ==, 0);
    }

  if (timeout >= 0)
    uv_timer_start (&glue->timer, on_timer, timeout, 0);
  else
    uv_timer_stop (&glue->timer);
}

static void
glue_init (Glue         *glue,
           uv_loop_t    *uv,
           GMainContext *context)
{
  g_autoptr(GError) error = NULL;

  glue->uv = uv;
  glue->driver = gbridge_context_driver_new (context);
  glue->polls = g_hash_table_new_full (NULL, NULL, NULL, close_poll);
  uv_timer_init (uv, &glue->timer);
  glue->timer.data = glue;
  g_assert_true (gbridge_context_driver_start (glue->driver, &error));
  g_assert_no_error (error);
  glue_refresh (glue);
}

static void
glue_clear (Glue *glue)
{
  g_hash_table_remove_all (glue->polls);
  uv_close ((uv_handle_t *) &glue->timer, NULL);
  uv_run (glue->uv, UV_RUN_NOWAIT);
  g_hash_table_unref (glue->polls);
  gbridge_context_driver_stop (glue->driver);
  g_assert_finalize_object (glue->driver);
}

/* What the sources on the context record. */
typedef struct
{
  uv_loop_t     *uv;
  GbridgeIOLoop *loop;
  GPtrArray     *seen;
  int            pipe[2];
  GThread       *thread;
  const guint   *dispatches;   /* the glue's count: the dispatch running now */
  guint          callback_at;
  guint          idle_at;
  guint          timeout_at;
  guint          fd_at;
} State;

static void
record (State      *s,
        const char *what)
{
  g_ptr_array_add (s->seen, g_strdup (what));
  /* Everything expected: let uv_run() return. */
  if (s->seen->len == 6)
    uv_stop (s->uv);
}

static void
on_gbridge_callback (gpointer data)
{
  State *s = data;

  s->callback_at = *s->dispatches;
  record (s, "gbridge callback");
}

static void
on_gbridge_timeout (gpointer data)
{
  State *s = data;

  record (s, "gbridge timeout");
}

static gboolean
on_glib_timeout (gpointer data)
{
  State *s = data;

  s->timeout_at = *s->dispatches;
  record (s, "glib timeout");
  /* Now the gbridge handler gets something. A plain GLib source writes it:
   * gbridge reads descriptors that its own callbacks made ready in the same
   * dispatch, and this test is about libuv coming back for it. */
  g_assert_cmpint (write (s->pipe[1], "x", 1), ==, 1);
  return G_SOURCE_REMOVE;
}

static gboolean
on_glib_idle (gpointer data)
{
  State *s = data;

  s->idle_at = *s->dispatches;
  record (s, "glib idle");
  return G_SOURCE_REMOVE;
}

static void
on_gbridge_fd (int             fd,
               GbridgeIOEvents events,
               gpointer        data)
{
  State *s = data;
  char c;

  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  gbridge_io_loop_remove_handler (s->loop, fd);
  s->fd_at = *s->dispatches;
  record (s, "gbridge fd");
}

static void
on_remote_callback (gpointer data)
{
  record (data, "other thread");
}

static gpointer
other_thread (gpointer data)
{
  State *s = data;

  g_usleep (20 * G_TIME_SPAN_MILLISECOND);
  gbridge_io_loop_add_callback (s->loop, on_remote_callback, s, NULL);
  return NULL;
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

static void
test_libuv_drives_context (void)
{
  static const char *expected[] = {
    "gbridge callback", "gbridge fd", "gbridge timeout", "glib idle",
    "glib timeout", "other thread",
  };
  GMainContext *context = g_main_context_new ();
  uv_loop_t uv;
  Glue glue = { 0 };
  State s = { 0 };
  GSource *source;

  uv_loop_init (&uv);
  s.uv = &uv;
  s.seen = g_ptr_array_new_with_free_func (g_free);
  s.dispatches = &glue.dispatches;
  s.loop = gbridge_io_loop_new_for_context (context);
  g_assert_true (g_unix_open_pipe (s.pipe, FD_CLOEXEC, NULL));

  gbridge_io_loop_add_callback (s.loop, on_gbridge_callback, &s, NULL);
  gbridge_io_loop_call_later (s.loop, 0.01, on_gbridge_timeout, &s, NULL);
  g_assert_true (gbridge_io_loop_add_handler (s.loop, s.pipe[0], GBRIDGE_IO_EVENTS_READ,
                                              on_gbridge_fd, &s, NULL, NULL));
  source = g_timeout_source_new (30);
  g_source_set_callback (source, on_glib_timeout, &s, NULL);
  g_source_attach (source, context);
  g_source_unref (source);
  source = g_idle_source_new ();
  g_source_set_callback (source, on_glib_idle, &s, NULL);
  g_source_attach (source, context);
  g_source_unref (source);

  glue_init (&glue, &uv, context);
  /* Not before the driver owns the context: the wake-up must reach libuv. */
  s.thread = g_thread_new ("other", other_thread, &s);

  uv_run (&uv, UV_RUN_DEFAULT);

  g_thread_join (s.thread);
  g_ptr_array_sort (s.seen, compare_strings);
  g_assert_cmpuint (s.seen->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (g_ptr_array_index (s.seen, i), ==, expected[i]);
  /* libuv came back for what happened later: the fd the GLib timeout wrote
   * to is read in a later dispatch, and the idle (a lower priority) never in
   * the first one, which runs the gbridge callback. How many dispatches it
   * took beyond that depends on how late a loaded machine wakes up. */
  g_assert_cmpuint (s.fd_at, >, s.timeout_at);
  g_assert_cmpuint (s.idle_at, !=, s.callback_at);

  glue_clear (&glue);
  g_assert_cmpint (uv_loop_close (&uv), ==, 0);
  g_assert_true (gbridge_io_loop_close (s.loop, FALSE, NULL));
  g_assert_finalize_object (s.loop);
  close (s.pipe[0]);
  close (s.pipe[1]);
  g_ptr_array_unref (s.seen);
  g_main_context_unref (context);
}

static gpointer
start_in_thread (gpointer data)
{
  GbridgeContextDriver *driver = gbridge_context_driver_new (data);
  GError *error = NULL;

  g_assert_false (gbridge_context_driver_start (driver, &error));
  g_object_unref (driver);
  return error;
}

static void
test_context_busy (void)
{
  GMainContext *context = g_main_context_new ();
  GbridgeContextDriver *driver = gbridge_context_driver_new (context);
  GError *error = NULL;

  g_assert_true (gbridge_context_driver_get_context (driver) == context);
  g_assert_true (gbridge_context_driver_start (driver, &error));
  g_assert_no_error (error);
  g_assert_true (gbridge_context_driver_is_running (driver));
  g_assert_true (g_main_context_is_owner (context));
  /* The thread-default context, for GIO operations started from callbacks. */
  g_assert_true (g_main_context_get_thread_default () == context);

  error = g_thread_join (g_thread_new ("busy", start_in_thread, context));
  g_assert_error (error, GBRIDGE_CONTEXT_DRIVER_ERROR, GBRIDGE_CONTEXT_DRIVER_ERROR_CONTEXT_BUSY);
  g_clear_error (&error);

  gbridge_context_driver_stop (driver);
  g_assert_false (gbridge_context_driver_is_running (driver));
  g_assert_false (g_main_context_is_owner (context));
  g_assert_finalize_object (driver);
  g_main_context_unref (context);
}

static void
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
}

static void
test_default_context_and_dispatch_without_prepare (void)
{
  GbridgeContextDriver *driver = gbridge_context_driver_new (NULL);
  GbridgeIOLoop *loop = gbridge_io_loop_get_default ();
  gboolean ran = FALSE;
  GError *error = NULL;

  g_assert_true (gbridge_context_driver_get_context (driver) == g_main_context_default ());
  g_assert_true (gbridge_context_driver_start (driver, &error));
  g_assert_no_error (error);
  gbridge_io_loop_add_callback (loop, set_flag, &ran, NULL);
  g_assert_true (gbridge_context_driver_dispatch (driver));
  g_assert_true (ran);
  /* Finalizing a started driver releases the context. */
  g_assert_finalize_object (driver);
  g_assert_false (g_main_context_is_owner (g_main_context_default ()));
}

int
main (int   argc,
      char *argv[])
{
  setlocale (LC_ALL, "C");
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Gbridge/ContextDriver/libuv", test_libuv_drives_context);
  g_test_add_func ("/Gbridge/ContextDriver/context-busy", test_context_busy);
  g_test_add_func ("/Gbridge/ContextDriver/default-context",
                   test_default_context_and_dispatch_without_prepare);

  return g_test_run ();
}
