/* test-future-signal.c: futures of signals, file descriptors and sources
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gbridge/gbridge.h>

#include <glib-unix.h>
#include <gio/gio.h>
#include <unistd.h>

#include "gbridge-test.h"

/* An object with the signals the tests wait for. */

#define TEST_TYPE_EMITTER (test_emitter_get_type ())
G_DECLARE_FINAL_TYPE (TestEmitter, test_emitter, TEST, EMITTER, GObject)

struct _TestEmitter
{
  GObject  parent_instance;
  int      a;
  int      b;
  gboolean class_handler_ran;
};

enum { PROP_0, PROP_A, PROP_B, N_PROPS };
enum { SIG_PING, SIG_WITH_ARGS, SIG_ASK, SIG_ASK_PLAIN, N_SIGNALS };

static GParamSpec *emitter_props[N_PROPS];
static guint emitter_signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (TestEmitter, test_emitter, G_TYPE_OBJECT)

static void
test_emitter_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  TestEmitter *self = TEST_EMITTER (object);

  g_value_set_int (value, prop_id == PROP_A ? self->a : self->b);
}

static void
test_emitter_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  TestEmitter *self = TEST_EMITTER (object);

  if (prop_id == PROP_A)
    self->a = g_value_get_int (value);
  else
    self->b = g_value_get_int (value);
}

static gboolean
test_emitter_ask (TestEmitter *self)
{
  self->class_handler_ran = TRUE;
  return FALSE;
}

static void
test_emitter_class_init (TestEmitterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_emitter_get_property;
  object_class->set_property = test_emitter_set_property;

  emitter_props[PROP_A] = g_param_spec_int ("a", NULL, NULL, 0, 100, 0,
                                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  emitter_props[PROP_B] = g_param_spec_int ("b", NULL, NULL, 0, 100, 0,
                                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, emitter_props);

  emitter_signals[SIG_PING] =
    g_signal_new ("ping", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  emitter_signals[SIG_WITH_ARGS] =
    g_signal_new ("with-args", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_INT, G_TYPE_STRING, G_TYPE_OBJECT);
  /* Like GtkWindow::close-request: TRUE stops the emission. */
  emitter_signals[SIG_ASK] =
    g_signal_new_class_handler ("ask", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                G_CALLBACK (test_emitter_ask),
                                g_signal_accumulator_true_handled, NULL, NULL,
                                G_TYPE_BOOLEAN, 0);
  /* No accumulator: the last handler's value is the result. */
  emitter_signals[SIG_ASK_PLAIN] =
    g_signal_new ("ask-plain", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_BOOLEAN, 0);
}

static void
test_emitter_init (TestEmitter *self)
{
}

/* GSignal hands a handler from the connecting thread to the emitting one
 * under GLib's own GMutex, a futex ThreadSanitizer cannot see in an
 * uninstrumented GLib: it would report the closure's fields as racing. */
static gboolean
skip_cross_thread_signals_under_tsan (void)
{
#if defined (__SANITIZE_THREAD__)
  g_test_skip ("GSignal synchronizes through GLib's futex mutex, invisible to ThreadSanitizer");
  return TRUE;
#else
  return FALSE;
#endif
}

/* Fixture */

typedef struct
{
  GbridgeIOLoop *loop;
  GMainContext  *context;
  TestEmitter   *emitter;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->context = g_main_context_new ();
  f->loop = gbridge_io_loop_new_for_context (f->context);
  f->emitter = g_object_new (TEST_TYPE_EMITTER, NULL);
}

static void
run_pending (Fixture *f)
{
  while (g_main_context_iteration (f->context, FALSE))
    ;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  run_pending (f);
  if (f->emitter != NULL)
    g_assert_finalize_object (f->emitter);
  if (!gbridge_io_loop_is_closed (f->loop))
    g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_assert_finalize_object (f->loop);
  g_main_context_unref (f->context);
}

#define TEST(path, func) \
  g_test_add ("/Gbridge/Future/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

static gboolean
has_handler (gpointer    instance,
             const char *detailed_signal)
{
  guint signal_id;
  GQuark detail;

  g_assert_true (g_signal_parse_name (detailed_signal, G_OBJECT_TYPE (instance),
                                      &signal_id, &detail, FALSE));
  return g_signal_has_handler_pending (instance, signal_id, detail, TRUE);
}

/* Signals */

static void
test_signal_args (Fixture       *f,
                  gconstpointer  data)
{
  GbridgeFuture *future;
  g_autoptr(GObject) extra = g_object_new (G_TYPE_OBJECT, NULL);
  const GValue *values;
  guint n_values = 99;

  future = gbridge_future_new_for_signal (f->loop, f->emitter, "with-args");
  g_assert_true (has_handler (f->emitter, "with-args"));
  g_assert_false (gbridge_future_is_done (future));

  g_signal_emit (f->emitter, emitter_signals[SIG_WITH_ARGS], 0, 42, "hello", extra);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_RESOLVED);
  g_assert_false (has_handler (f->emitter, "with-args"));

  /* The arguments after the instance, which the value does not hold. */
  values = gbridge_future_get_values (future, &n_values, NULL);
  g_assert_cmpuint (n_values, ==, 3);
  g_assert_cmpint (g_value_get_int (&values[0]), ==, 42);
  g_assert_cmpstr (g_value_get_string (&values[1]), ==, "hello");
  g_assert_true (g_value_get_object (&values[2]) == extra);

  /* A second emission changes nothing. */
  g_signal_emit (f->emitter, emitter_signals[SIG_WITH_ARGS], 0, 7, "again", NULL);
  values = gbridge_future_get_values (future, &n_values, NULL);
  g_assert_cmpint (g_value_get_int (&values[0]), ==, 42);

  g_assert_finalize_object (future);
}

static void
test_signal_no_args (Fixture       *f,
                     gconstpointer  data)
{
  GbridgeFuture *future;
  const GValue *value;
  guint n_values = 99;

  future = gbridge_future_new_for_signal (NULL, f->emitter, "ping");
  g_signal_emit (f->emitter, emitter_signals[SIG_PING], 0);

  value = gbridge_future_get_value (future, NULL);
  g_assert_nonnull (value);
  g_assert_true (G_VALUE_HOLDS_BOXED (value));
  g_assert_null (gbridge_future_get_values (future, &n_values, NULL));
  g_assert_cmpuint (n_values, ==, 0);
  g_assert_false (has_handler (f->emitter, "ping"));
  g_assert_finalize_object (future);
}

static void
test_signal_detail (Fixture       *f,
                    gconstpointer  data)
{
  GbridgeFuture *future;
  const GValue *values;
  guint n_values;

  future = gbridge_future_new_for_signal (f->loop, f->emitter, "notify::a");

  /* Another detail of the same signal is not the one awaited. */
  g_object_set (f->emitter, "b", 5, NULL);
  g_assert_false (gbridge_future_is_done (future));
  g_assert_true (has_handler (f->emitter, "notify::a"));

  g_object_set (f->emitter, "a", 6, NULL);
  g_assert_true (gbridge_future_is_done (future));
  values = gbridge_future_get_values (future, &n_values, NULL);
  g_assert_cmpuint (n_values, ==, 1);
  g_assert_cmpstr (G_PARAM_SPEC (g_value_get_param (&values[0]))->name, ==, "a");
  g_assert_false (has_handler (f->emitter, "notify::a"));
  g_assert_false (has_handler (f->emitter, "notify"));

  g_assert_finalize_object (future);
}

static void
test_signal_cancel (Fixture       *f,
                    gconstpointer  data)
{
  GbridgeFuture *future;

  future = gbridge_future_new_for_signal (f->loop, f->emitter, "ping");
  g_assert_true (has_handler (f->emitter, "ping"));

  g_assert_true (gbridge_future_cancel (future));
  g_assert_false (has_handler (f->emitter, "ping"));
  g_signal_emit (f->emitter, emitter_signals[SIG_PING], 0);
  g_assert_true (gbridge_future_is_cancelled (future));

  /* The future's own cancellable does the same. */
  g_clear_object (&future);
  future = gbridge_future_new_for_signal (f->loop, f->emitter, "ping");
  g_cancellable_cancel (gbridge_future_get_cancellable (future));
  g_assert_true (gbridge_future_is_cancelled (future));
  g_assert_false (has_handler (f->emitter, "ping"));

  g_assert_finalize_object (future);
}

static void
test_signal_disposed (Fixture       *f,
                      gconstpointer  data)
{
  GbridgeFuture *future;
  g_autoptr(GError) error = NULL;

  future = gbridge_future_new_for_signal (f->loop, f->emitter, "ping");

  /* The handler holds the future, not the emitter. */
  g_assert_finalize_object (g_steal_pointer (&f->emitter));

  gbridge_test_iterate_until_done (f->context, future);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_FAILED);
  g_assert_null (gbridge_future_get_value (future, &error));
  g_assert_error (error, GBRIDGE_FUTURE_ERROR, GBRIDGE_FUTURE_ERROR_DISPOSED);

  run_pending (f);
  g_assert_finalize_object (future);
}

static void
nothing (TestEmitter *emitter,
         gpointer     data)
{
}

static gulong other_handler;

static void
disconnect_other (GbridgeFuture *future,
                  gpointer       data)
{
  Fixture *f = data;

  if (g_signal_handler_is_connected (f->emitter, other_handler))
    g_signal_handler_disconnect (f->emitter, other_handler);
}

static void
test_signal_disposed_reentrant (Fixture       *f,
                                gconstpointer  data)
{
  GbridgeFuture *future;

  /* What the failure sets off may disconnect the instance's other
   * handlers (a Python signal_stream closing does): GLib aborts if that
   * happens while dispose still destroys them, so it must happen later. */
  other_handler = g_signal_connect (f->emitter, "ping", G_CALLBACK (nothing), NULL);
  future = gbridge_future_new_for_signal (f->loop, f->emitter, "notify::a");
  gbridge_future_add_completion_notify (future, disconnect_other, f, NULL);

  g_object_run_dispose (G_OBJECT (f->emitter));
  gbridge_test_iterate_until_done (f->context, future);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_FAILED);
  g_assert_false (has_handler (f->emitter, "ping"));

  run_pending (f);
  g_assert_finalize_object (future);
}

static void
test_signal_dropped_future (Fixture       *f,
                            gconstpointer  data)
{
  GbridgeFuture *future;
  GWeakRef ref;

  /* A future nobody holds still resolves (the handler holds it), and is
   * gone once it did. */
  future = gbridge_future_new_for_signal (f->loop, f->emitter, "ping");
  g_weak_ref_init (&ref, future);
  g_object_unref (future);
  future = g_weak_ref_get (&ref);
  g_assert_nonnull (future);
  g_object_unref (future);

  g_signal_emit (f->emitter, emitter_signals[SIG_PING], 0);
  g_assert_null (g_weak_ref_get (&ref));
  g_assert_false (has_handler (f->emitter, "ping"));
  g_weak_ref_clear (&ref);
}

static gboolean
return_true (gpointer instance,
             gpointer data)
{
  return TRUE;
}

static void
test_signal_return_value (Fixture       *f,
                          gconstpointer  data)
{
  GbridgeFuture *future;
  gboolean handled = TRUE;

  /* With an accumulator the waiting handler returns FALSE: not handled,
   * so the class handler (the window closing) still runs. */
  future = gbridge_future_new_for_signal (f->loop, f->emitter, "ask");
  g_signal_emit (f->emitter, emitter_signals[SIG_ASK], 0, &handled);
  g_assert_true (gbridge_future_is_done (future));
  g_assert_false (handled);
  g_assert_true (f->emitter->class_handler_ran);
  g_assert_finalize_object (future);

  /* Without one it leaves the value of the handler before it. */
  g_signal_connect (f->emitter, "ask-plain", G_CALLBACK (return_true), NULL);
  future = gbridge_future_new_for_signal (f->loop, f->emitter, "ask-plain");
  handled = FALSE;
  g_signal_emit (f->emitter, emitter_signals[SIG_ASK_PLAIN], 0, &handled);
  g_assert_true (gbridge_future_is_done (future));
  g_assert_true (handled);
  g_assert_finalize_object (future);
}

static gpointer
emit_ping (gpointer data)
{
  g_signal_emit (data, emitter_signals[SIG_PING], 0);
  return NULL;
}

static void
test_signal_other_thread (Fixture       *f,
                          gconstpointer  data)
{
  GbridgeFuture *future;
  GThread *thread;

  if (skip_cross_thread_signals_under_tsan ())
    return;

  future = gbridge_future_new_for_signal (f->loop, f->emitter, "ping");
  thread = g_thread_new ("emitter", emit_ping, f->emitter);
  gbridge_test_iterate_until_done (f->context, future);
  g_thread_join (thread);

  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_RESOLVED);
  g_assert_false (has_handler (f->emitter, "ping"));
  run_pending (f);
  g_assert_finalize_object (future);
}

typedef struct
{
  TestEmitter *emitter;
  gint         stop;
} Pinger;

static gpointer
keep_pinging (gpointer data)
{
  Pinger *pinger = data;

  while (!g_atomic_int_get (&pinger->stop))
    g_signal_emit (pinger->emitter, emitter_signals[SIG_PING], 0);
  return NULL;
}

static gpointer
unref_in_thread (gpointer data)
{
  g_object_unref (data);
  return NULL;
}

static void
test_signal_races (Fixture       *f,
                   gconstpointer  data)
{
  Pinger pinger = { f->emitter, FALSE };
  GThread *thread;

  if (skip_cross_thread_signals_under_tsan ())
    return;

  /* Emission in one thread against cancellation and new waits in this
   * one: each future ends resolved or cancelled, with its handler gone. */
  thread = g_thread_new ("pinger", keep_pinging, &pinger);
  for (guint i = 0; i < 500; i++)
    {
      GbridgeFuture *future = gbridge_future_new_for_signal (f->loop, f->emitter, "ping");

      if (i % 2)
        gbridge_future_cancel (future);
      else
        while (!gbridge_future_is_done (future))
          g_thread_yield ();
      g_assert_true (gbridge_future_is_done (future));
      g_object_unref (future);
      run_pending (f);
    }
  g_atomic_int_set (&pinger.stop, TRUE);
  g_thread_join (thread);
  g_assert_false (has_handler (f->emitter, "ping"));

  /* The instance's last reference dropped in another thread while a
   * cancellation here disconnects. */
  for (guint i = 0; i < 200; i++)
    {
      TestEmitter *emitter = g_object_new (TEST_TYPE_EMITTER, NULL);
      GbridgeFuture *future = gbridge_future_new_for_signal (f->loop, emitter, "ping");

      thread = g_thread_new ("unref", unref_in_thread, emitter);
      gbridge_future_cancel (future);
      g_thread_join (thread);
      g_assert_true (gbridge_future_is_done (future));
      g_object_unref (future);
      run_pending (f);
    }
}

/* File descriptors */

static void
test_fd_readable (Fixture       *f,
                  gconstpointer  data)
{
  GbridgeFuture *future;
  int fds[2];
  const GValue *value;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));

  future = gbridge_future_new_for_fd (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ);
  g_assert_false (gbridge_future_is_done (future));
  run_pending (f);
  g_assert_false (gbridge_future_is_done (future));

  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  gbridge_test_iterate_until_done (f->context, future);

  value = gbridge_future_get_value (future, NULL);
  g_assert_true (G_VALUE_HOLDS (value, GBRIDGE_TYPE_IO_EVENTS));
  g_assert_cmpuint (g_value_get_flags (value), ==, GBRIDGE_IO_EVENTS_READ);
  /* One-shot: the handler is gone, and the fd takes a new one. */
  g_assert_false (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_clear_object (&future);
  future = gbridge_future_new_for_fd (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ);
  gbridge_test_iterate_until_done (f->context, future);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_RESOLVED);

  run_pending (f);
  g_assert_finalize_object (future);
  close (fds[0]);
  close (fds[1]);
}

static void
never_called (int             fd,
              GbridgeIOEvents events,
              gpointer        data)
{
  g_assert_not_reached ();
}

static void
test_fd_exists (Fixture       *f,
                gconstpointer  data)
{
  GbridgeFuture *future;
  g_autoptr(GError) error = NULL;
  int fds[2];

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[1], GBRIDGE_IO_EVENTS_NONE,
                                              never_called, NULL, NULL, NULL));

  future = gbridge_future_new_for_fd (f->loop, fds[1], GBRIDGE_IO_EVENTS_WRITE);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_FAILED);
  g_assert_null (gbridge_future_get_value (future, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_EXISTS);
  g_assert_finalize_object (future);

  /* The handler that was there stays. */
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds[1]));
  close (fds[0]);
  close (fds[1]);
}

static gpointer
cancel_in_thread (gpointer data)
{
  gbridge_future_cancel (data);
  return NULL;
}

static void
test_fd_cancel (Fixture       *f,
                gconstpointer  data)
{
  GbridgeFuture *future;
  GThread *thread;
  int fds[2];

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));

  future = gbridge_future_new_for_fd (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ);
  g_assert_true (gbridge_future_cancel (future));
  /* On the loop's thread the handler goes at once. */
  g_assert_false (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_clear_object (&future);

  /* From another thread, in the loop's next iteration. */
  future = gbridge_future_new_for_fd (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ);
  thread = g_thread_new ("cancel", cancel_in_thread, future);
  g_thread_join (thread);
  g_assert_true (gbridge_future_is_cancelled (future));
  run_pending (f);
  g_assert_false (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_assert_finalize_object (future);

  /* A handler removed by someone else cancels the future. */
  future = gbridge_future_new_for_fd (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ);
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_assert_true (gbridge_future_is_cancelled (future));
  run_pending (f);
  g_assert_finalize_object (future);

  /* So does the loop closing. */
  future = gbridge_future_new_for_fd (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ);
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_assert_true (gbridge_future_is_cancelled (future));
  g_assert_finalize_object (future);

  close (fds[0]);
  close (fds[1]);
}

/* Sources */

static void
test_source_fired (Fixture       *f,
                   gconstpointer  data)
{
  GbridgeFuture *future;
  GSource *source;
  guint n_values = 99;

  source = g_timeout_source_new (1);
  future = gbridge_future_new_for_source (f->loop, source);
  g_assert_true (g_source_get_context (source) == f->context);
  gbridge_test_iterate_until_done (f->context, future);

  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_RESOLVED);
  /* A timeout's callback has no arguments. */
  g_assert_null (gbridge_future_get_values (future, &n_values, NULL));
  g_assert_cmpuint (n_values, ==, 0);
  g_assert_true (g_source_is_destroyed (source));

  run_pending (f);
  g_assert_finalize_object (future);
  g_source_unref (source);
}

static void
test_source_arguments (Fixture       *f,
                       gconstpointer  data)
{
  GbridgeFuture *future;
  GSource *source;
  const GValue *values;
  guint n_values;
  int fds[2];

  /* A source whose callback is not a GSourceFunc. */
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  source = g_unix_fd_source_new (fds[0], G_IO_IN);
  future = gbridge_future_new_for_source (f->loop, source);
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  gbridge_test_iterate_until_done (f->context, future);

  values = gbridge_future_get_values (future, &n_values, NULL);
  g_assert_cmpuint (n_values, ==, 2);
  g_assert_cmpint (g_value_get_int (&values[0]), ==, fds[0]);
  g_assert_cmpuint (g_value_get_flags (&values[1]) & G_IO_IN, ==, G_IO_IN);
  g_assert_true (g_source_is_destroyed (source));

  run_pending (f);
  g_assert_finalize_object (future);
  g_source_unref (source);
  close (fds[0]);
  close (fds[1]);
}

static void
test_source_cancel (Fixture       *f,
                    gconstpointer  data)
{
  GbridgeFuture *future;
  GSource *source;
  GThread *thread;

  source = g_timeout_source_new_seconds (3600);
  future = gbridge_future_new_for_source (f->loop, source);
  g_assert_true (gbridge_future_cancel (future));
  g_assert_true (g_source_is_destroyed (source));
  g_assert_finalize_object (future);
  g_source_unref (source);

  /* From another thread too: a GSource may be destroyed from any. */
  source = g_timeout_source_new_seconds (3600);
  future = gbridge_future_new_for_source (f->loop, source);
  thread = g_thread_new ("cancel", cancel_in_thread, future);
  g_thread_join (thread);
  g_assert_true (g_source_is_destroyed (source));
  g_assert_finalize_object (future);
  g_source_unref (source);

  /* Destroyed by someone else: the future is cancelled. */
  source = g_timeout_source_new_seconds (3600);
  future = gbridge_future_new_for_source (f->loop, source);
  g_source_destroy (source);
  g_assert_true (gbridge_future_is_cancelled (future));
  g_assert_finalize_object (future);
  g_source_unref (source);
}

/* Attacks: what a hostile or careless caller does. */

static void
test_signal_closed_loop (Fixture       *f,
                         gconstpointer  data)
{
  GbridgeFuture *future;
  g_autoptr(GError) error = NULL;

  /* A closed loop does not complete the future: the instance may still
   * emit, and completion needs no loop. */
  future = gbridge_future_new_for_signal (f->loop, f->emitter, "ping");
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_assert_false (gbridge_future_is_done (future));
  g_signal_emit (f->emitter, emitter_signals[SIG_PING], 0);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_RESOLVED);
  g_assert_false (has_handler (f->emitter, "ping"));
  g_assert_finalize_object (future);

  /* Disposed then: the loop refuses the deferred failure, so the future
   * fails at once, and nothing leaks. */
  future = gbridge_future_new_for_signal (f->loop, f->emitter, "ping");
  g_assert_finalize_object (g_steal_pointer (&f->emitter));
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_FAILED);
  g_assert_null (gbridge_future_get_value (future, &error));
  g_assert_error (error, GBRIDGE_FUTURE_ERROR, GBRIDGE_FUTURE_ERROR_DISPOSED);
  g_assert_finalize_object (future);
}

static void
test_signal_closed_loop_reentrant (Fixture       *f,
                                   gconstpointer  data)
{
  GbridgeFuture *future;

  /* signal/disposed/reentrant on a closed loop, which cannot defer the
   * failure: disconnecting another handler from what the failure sets off
   * must still not happen inside g_signal_handlers_destroy(). */
  other_handler = g_signal_connect (f->emitter, "ping", G_CALLBACK (nothing), NULL);
  future = gbridge_future_new_for_signal (f->loop, f->emitter, "notify::a");
  gbridge_future_add_completion_notify (future, disconnect_other, f, NULL);
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));

  g_object_run_dispose (G_OBJECT (f->emitter));
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_FAILED);
  g_assert_false (has_handler (f->emitter, "ping"));
  g_assert_finalize_object (future);
}

static void
unref_future (GbridgeFuture *future,
              gpointer       data)
{
  g_object_unref (future);
}

static void
test_signal_unref_in_done_callback (Fixture       *f,
                                    gconstpointer  data)
{
  GbridgeFuture *future;
  GWeakRef ref;

  /* The caller's only reference dropped by the future's own callback. */
  future = gbridge_future_new_for_signal (f->loop, f->emitter, "ping");
  g_weak_ref_init (&ref, future);
  gbridge_future_add_done_callback (future, unref_future, NULL, NULL);
  g_signal_emit (f->emitter, emitter_signals[SIG_PING], 0);
  run_pending (f);
  g_assert_null (g_weak_ref_get (&ref));
  g_weak_ref_clear (&ref);
  g_assert_false (has_handler (f->emitter, "ping"));
}

#define N_MANY 1000

static void
test_signal_many (Fixture       *f,
                  gconstpointer  data)
{
  GbridgeFuture *futures[N_MANY];

  /* One instance awaited by many futures, then finalized: each fails
   * once, and each is freed. */
  for (guint i = 0; i < N_MANY; i++)
    futures[i] = gbridge_future_new_for_signal (f->loop, f->emitter,
                                                i % 2 ? "ping" : "notify::a");
  g_assert_finalize_object (g_steal_pointer (&f->emitter));
  run_pending (f);
  for (guint i = 0; i < N_MANY; i++)
    {
      g_assert_cmpint (gbridge_future_get_state (futures[i]), ==,
                       GBRIDGE_FUTURE_STATE_FAILED);
      g_assert_finalize_object (futures[i]);
    }
}

static void
dispose_instance (TestEmitter *emitter,
                  gpointer     data)
{
  g_object_run_dispose (G_OBJECT (emitter));
}

static void
test_signal_disposed_in_emission (Fixture       *f,
                                  gconstpointer  data)
{
  GbridgeFuture *future;

  /* A handler before ours disposes the instance in the emission: ours is
   * not called any more, and the future fails instead of resolving. */
  g_signal_connect (f->emitter, "ping", G_CALLBACK (dispose_instance), NULL);
  future = gbridge_future_new_for_signal (f->loop, f->emitter, "ping");
  g_signal_emit (f->emitter, emitter_signals[SIG_PING], 0);
  gbridge_test_iterate_until_done (f->context, future);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_FAILED);
  run_pending (f);
  g_assert_finalize_object (future);
}

static void
test_signal_detail_never (Fixture       *f,
                          gconstpointer  data)
{
  GbridgeFuture *future;

  /* A detail of a detailed signal that names nothing is a wait that never
   * ends, not an error (GLib accepts it too). */
  future = gbridge_future_new_for_signal (f->loop, f->emitter, "notify::no-such-property");
  g_object_set (f->emitter, "a", 1, "b", 2, NULL);
  run_pending (f);
  g_assert_false (gbridge_future_is_done (future));
  g_assert_true (gbridge_future_cancel (future));
  run_pending (f);
  g_assert_finalize_object (future);
}

static void
test_signal_invalid (Fixture       *f,
                     gconstpointer  data)
{
  const char *names[] = { "no-such-signal", "ping::detail", "", "::a", "notify:a" };
  g_autoptr(GObject) plain = g_object_new (G_TYPE_OBJECT, NULL);
  GParamSpec *pspec = g_param_spec_int ("x", NULL, NULL, 0, 1, 0, G_PARAM_READWRITE);

  /* Programmer errors: a critical and NULL, never a crash. */
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*");
      g_assert_null (gbridge_future_new_for_signal (f->loop, f->emitter, names[i]));
      g_test_assert_expected_messages ();
    }
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*G_IS_OBJECT*");
  g_assert_null (gbridge_future_new_for_signal (f->loop, pspec, "notify"));
  g_test_assert_expected_messages ();
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*G_IS_OBJECT*");
  g_assert_null (gbridge_future_new_for_signal (f->loop, NULL, "notify"));
  g_test_assert_expected_messages ();
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*detailed_signal*");
  g_assert_null (gbridge_future_new_for_signal (f->loop, plain, NULL));
  g_test_assert_expected_messages ();
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*GBRIDGE_IS_IO_LOOP*");
  g_assert_null (gbridge_future_new_for_signal ((GbridgeIOLoop *) plain, f->emitter, "ping"));
  g_test_assert_expected_messages ();
  g_param_spec_unref (g_param_spec_ref_sink (pspec));
}

static void
test_fd_removed_by_other (Fixture       *f,
                          gconstpointer  data)
{
  GbridgeFuture *future;
  int fds[2];

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));

  /* Removed by the caller, ready at the same time: the future is
   * cancelled exactly once and the fd takes a new handler. */
  future = gbridge_future_new_for_fd (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ);
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_assert_true (gbridge_future_is_cancelled (future));
  run_pending (f);
  g_assert_true (gbridge_future_is_cancelled (future));
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              never_called, NULL, NULL, NULL));
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_assert_finalize_object (future);

  /* Created on a closed loop: failed, not pending forever. */
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  future = gbridge_future_new_for_fd (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_FAILED);
  g_assert_finalize_object (future);

  close (fds[0]);
  close (fds[1]);
}

static void
test_fd_reused (Fixture       *f,
                gconstpointer  data)
{
  GbridgeFuture *future;
  int fds[2], again[2];

  /* The fd closed and its number reused by a file that becomes ready: the
   * old registration never reports the new file. */
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  future = gbridge_future_new_for_fd (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ);
  close (fds[0]);
  close (fds[1]);
  g_assert_true (g_unix_open_pipe (again, FD_CLOEXEC, NULL));
  g_assert_cmpint (again[0], ==, fds[0]);
  g_assert_cmpint (write (again[1], "x", 1), ==, 1);
  run_pending (f);
  if (gbridge_future_is_done (future))
    g_assert_cmpint (gbridge_future_get_state (future), !=, GBRIDGE_FUTURE_STATE_RESOLVED);
  else
    g_assert_true (gbridge_future_cancel (future));
  run_pending (f);
  g_assert_finalize_object (future);

  /* And the number takes a handler of its own again. */
  g_assert_true (gbridge_io_loop_add_handler (f->loop, again[0], GBRIDGE_IO_EVENTS_READ,
                                              never_called, NULL, NULL, NULL));
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, again[0]));
  close (again[0]);
  close (again[1]);
}

static void
test_source_invalid (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GMainContext) other = g_main_context_new ();
  GSource *source;

  /* Attached elsewhere, destroyed: programmer errors. */
  source = g_timeout_source_new_seconds (3600);
  g_source_attach (source, other);
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*g_source_get_context*");
  g_assert_null (gbridge_future_new_for_source (f->loop, source));
  g_test_assert_expected_messages ();
  g_source_destroy (source);
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*");
  g_assert_null (gbridge_future_new_for_source (f->loop, source));
  g_test_assert_expected_messages ();
  g_source_unref (source);

  source = g_timeout_source_new_seconds (3600);
  g_source_destroy (source);
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*g_source_is_destroyed*");
  g_assert_null (gbridge_future_new_for_source (f->loop, source));
  g_test_assert_expected_messages ();
  g_source_unref (source);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  TEST ("signal/args", test_signal_args);
  TEST ("signal/no-args", test_signal_no_args);
  TEST ("signal/detail", test_signal_detail);
  TEST ("signal/cancel", test_signal_cancel);
  TEST ("signal/disposed", test_signal_disposed);
  TEST ("signal/disposed/reentrant", test_signal_disposed_reentrant);
  TEST ("signal/dropped-future", test_signal_dropped_future);
  TEST ("signal/return-value", test_signal_return_value);
  TEST ("signal/other-thread", test_signal_other_thread);
  TEST ("signal/races", test_signal_races);
  TEST ("fd/readable", test_fd_readable);
  TEST ("fd/exists", test_fd_exists);
  TEST ("fd/cancel", test_fd_cancel);
  TEST ("source/fired", test_source_fired);
  TEST ("source/arguments", test_source_arguments);
  TEST ("source/cancel", test_source_cancel);
  TEST ("signal/closed-loop", test_signal_closed_loop);
  TEST ("signal/closed-loop/reentrant", test_signal_closed_loop_reentrant);
  TEST ("signal/unref-in-done-callback", test_signal_unref_in_done_callback);
  TEST ("signal/many", test_signal_many);
  TEST ("signal/disposed-in-emission", test_signal_disposed_in_emission);
  TEST ("signal/detail-never", test_signal_detail_never);
  TEST ("signal/invalid", test_signal_invalid);
  TEST ("fd/removed-by-other", test_fd_removed_by_other);
  TEST ("fd/reused", test_fd_reused);
  TEST ("source/invalid", test_source_invalid);

  return g_test_run ();
}
