/* test-future.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gbridge/gbridge.h>

#include "gbridge-test.h"

#include "gbridge-test-tsan.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

typedef struct
{
  GbridgeIOLoop *loop;
  GMainContext  *context;
  GString       *log;        /* what ran, in order */
  guint          destroyed;
  gboolean       in_complete;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->loop = gbridge_io_loop_new ();
  f->context = gbridge_io_loop_get_context (f->loop);
  f->log = g_string_new (NULL);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  /* Work still queued (a dispatch holds its future, the future its loop)
   * is dropped by close(), as an application's shutdown would. */
  gbridge_test_run_pending (f->loop);
  if (!gbridge_io_loop_is_closed (f->loop))
    g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_assert_finalize_object (f->loop);
  g_string_free (f->log, TRUE);
}

#define TEST(path, func) \
  g_test_add ("/Gbridge/Future/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

static GValue *
int_value (GValue *value,
           int     i)
{
  g_value_init (value, G_TYPE_INT);
  g_value_set_int (value, i);
  return value;
}

static int
future_int (GbridgeFuture *future)
{
  g_autoptr(GError) error = NULL;
  const GValue *value = gbridge_future_get_value (future, &error);

  g_assert_no_error (error);
  g_assert_nonnull (value);
  g_assert_true (G_VALUE_HOLDS_INT (value));
  return g_value_get_int (value);
}

typedef struct
{
  Fixture    *f;
  const char *name;
} Entry;

static Entry *
entry_new (Fixture    *f,
           const char *name)
{
  Entry *e = g_new0 (Entry, 1);

  e->f = f;
  e->name = name;
  return e;
}

static void
entry_free (gpointer data)
{
  Entry *e = data;

  e->f->destroyed++;
  g_free (e);
}

static void
log_cb (GbridgeFuture *future,
        gpointer       data)
{
  Entry *e = data;

  g_assert_true (gbridge_future_is_done (future));
  g_assert_false (e->f->in_complete);
  g_string_append (e->f->log, e->name);
}

static void
test_resolve_once (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GbridgeFuture) future = gbridge_future_new_for_loop (f->loop);
  g_auto(GValue) one = G_VALUE_INIT;
  g_auto(GValue) two = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_PENDING);
  g_assert_null (gbridge_future_get_value (future, &error));
  g_assert_error (error, GBRIDGE_FUTURE_ERROR, GBRIDGE_FUTURE_ERROR_PENDING);
  g_clear_error (&error);

  g_assert_true (gbridge_future_resolve (future, int_value (&one, 1), &error));
  g_assert_no_error (error);

  /* A second completion of any kind is an error and changes nothing. */
  g_assert_false (gbridge_future_resolve (future, int_value (&two, 2), &error));
  g_assert_error (error, GBRIDGE_FUTURE_ERROR, GBRIDGE_FUTURE_ERROR_ALREADY_DONE);
  g_clear_error (&error);
  g_assert_false (gbridge_future_take_failure (future,
                                               g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x"),
                                               &error));
  g_assert_error (error, GBRIDGE_FUTURE_ERROR, GBRIDGE_FUTURE_ERROR_ALREADY_DONE);
  g_assert_false (gbridge_future_cancel (future));

  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_RESOLVED);
  g_assert_true (gbridge_future_has_value (future));
  g_assert_cmpint (future_int (future), ==, 1);
  g_assert_null (gbridge_future_get_failure (future));
}

static void
test_no_value (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GbridgeFuture) future = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GError) error = NULL;

  g_assert_true (gbridge_future_resolve (future, NULL, &error));
  g_assert_null (gbridge_future_get_value (future, &error));
  g_assert_no_error (error);
  g_assert_false (gbridge_future_has_value (future));
  g_assert_true (gbridge_future_is_done (future));
}

static void
test_fail_and_cancel (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GbridgeFuture) failed = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) cancelled = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) gio_cancelled = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GError) failure = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no such thing");
  g_autoptr(GError) cancel_error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "stop");
  g_autoptr(GError) error = NULL;

  g_assert_true (gbridge_future_fail (failed, failure, NULL));
  g_assert_null (gbridge_future_get_value (failed, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "no such thing");
  g_assert_true (g_error_matches (gbridge_future_get_failure (failed), G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
  g_clear_error (&error);

  g_assert_true (gbridge_future_cancel (cancelled));
  g_assert_true (gbridge_future_is_cancelled (cancelled));
  g_assert_false (gbridge_future_cancel (cancelled));
  g_assert_null (gbridge_future_get_value (cancelled, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* GIO's own cancellation error means cancelled, not failed. */
  g_assert_true (gbridge_future_fail (gio_cancelled, cancel_error, NULL));
  g_assert_cmpint (gbridge_future_get_state (gio_cancelled), ==, GBRIDGE_FUTURE_STATE_CANCELLED);
  {
    g_autoptr(GbridgeFuture) born_cancelled = gbridge_future_new_failed (cancel_error);

    g_assert_true (gbridge_future_is_cancelled (born_cancelled));
  }
}

static void
test_done_callbacks_order (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GbridgeFuture) future = gbridge_future_new_for_loop (f->loop);

  gbridge_future_add_done_callback (future, log_cb, entry_new (f, "a"), entry_free);
  gbridge_future_add_done_callback (future, log_cb, entry_new (f, "b"), entry_free);
  gbridge_test_run_pending (f->loop);
  g_assert_cmpstr (f->log->str, ==, "");

  f->in_complete = TRUE;
  gbridge_future_resolve (future, NULL, NULL);
  /* Never from inside the completion... */
  gbridge_future_add_done_callback (future, log_cb, entry_new (f, "c"), entry_free);
  f->in_complete = FALSE;
  g_assert_cmpstr (f->log->str, ==, "");

  /* ...but in the next iteration, in the order added, even the one added
   * after completion. */
  g_main_context_iteration (f->context, FALSE);
  g_assert_cmpstr (f->log->str, ==, "abc");
  g_assert_cmpuint (f->destroyed, ==, 3);

  /* Added to a done future: a later iteration too. */
  gbridge_future_add_done_callback (future, log_cb, entry_new (f, "d"), entry_free);
  g_assert_cmpstr (f->log->str, ==, "abc");
  gbridge_test_run_pending (f->loop);
  g_assert_cmpstr (f->log->str, ==, "abcd");
  g_assert_cmpuint (f->destroyed, ==, 4);
}

static void
add_nested_cb (GbridgeFuture *future,
               gpointer       data)
{
  Entry *e = data;

  g_string_append (e->f->log, e->name);
  gbridge_future_add_done_callback (future, log_cb, entry_new (e->f, "n"), entry_free);
}

static void
append_x (gpointer data)
{
  Fixture *f = data;

  g_string_append (f->log, "x");
}

static void
test_done_callback_added_from_callback (Fixture       *f,
                                        gconstpointer  data)
{
  g_autoptr(GbridgeFuture) future = gbridge_future_new_for_loop (f->loop);

  gbridge_future_add_done_callback (future, add_nested_cb, entry_new (f, "a"), entry_free);
  gbridge_future_resolve (future, NULL, NULL);
  g_main_context_iteration (f->context, FALSE);
  /* A callback added from a done-callback waits for the next iteration,
   * after what was already queued then: asyncio's call_soon(). */
  gbridge_io_loop_add_callback (f->loop, append_x, f, NULL);
  g_assert_cmpstr (f->log->str, ==, "a");
  g_main_context_iteration (f->context, FALSE);
  g_assert_cmpstr (f->log->str, ==, "anx");
  g_assert_cmpuint (f->destroyed, ==, 2);
}

static void
test_dropped_pending (Fixture       *f,
                      gconstpointer  data)
{
  GbridgeFuture *future = gbridge_future_new_for_loop (f->loop);

  gbridge_future_add_done_callback (future, log_cb, entry_new (f, "a"), entry_free);
  gbridge_future_add_completion_notify (future, log_cb, entry_new (f, "b"), entry_free);
  g_assert_finalize_object (future);
  gbridge_test_run_pending (f->loop);
  g_assert_cmpstr (f->log->str, ==, "");
  g_assert_cmpuint (f->destroyed, ==, 2);
}

static void
test_closed_loop (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GbridgeFuture) future = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) later = gbridge_future_new_for_loop (f->loop);

  gbridge_future_add_done_callback (future, log_cb, entry_new (f, "a"), entry_free);
  gbridge_future_resolve (future, NULL, NULL);
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  /* Closing the loop dropped the scheduled callback: destroyed, not run. */
  g_assert_cmpuint (f->destroyed, ==, 1);

  gbridge_future_resolve (later, NULL, NULL);
  gbridge_future_add_done_callback (later, log_cb, entry_new (f, "b"), entry_free);
  g_assert_cmpuint (f->destroyed, ==, 2);
  g_assert_cmpstr (f->log->str, ==, "");
}

static void
test_cancellable_both_ways (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GbridgeFuture) a = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) b = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) c = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) d = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GCancellable) linked = g_cancellable_new ();
  g_autoptr(GCancellable) precancelled = g_cancellable_new ();
  GCancellable *cancellable;

  /* Cancelling the future cancels its cancellable. */
  cancellable = gbridge_future_get_cancellable (a);
  g_assert_true (gbridge_future_get_cancellable (a) == cancellable);
  gbridge_future_cancel (a);
  g_assert_true (g_cancellable_is_cancelled (cancellable));

  /* Cancelling the cancellable cancels the future. */
  g_cancellable_cancel (gbridge_future_get_cancellable (b));
  g_assert_true (gbridge_future_is_cancelled (b));

  /* A linked cancellable, both ways; an already cancelled one at once. */
  gbridge_future_link_cancellable (c, linked);
  g_assert_true (gbridge_future_get_cancellable (c) == linked);
  g_cancellable_cancel (linked);
  g_assert_true (gbridge_future_is_cancelled (c));
  g_cancellable_cancel (precancelled);
  gbridge_future_link_cancellable (d, precancelled);
  g_assert_true (gbridge_future_is_cancelled (d));

  /* A resolved future's cancellable stays uncancelled and detached. */
  {
    g_autoptr(GbridgeFuture) e = gbridge_future_new_for_loop (f->loop);
    GCancellable *ec = gbridge_future_get_cancellable (e);

    gbridge_future_resolve (e, NULL, NULL);
    g_cancellable_cancel (ec);
    g_assert_cmpint (gbridge_future_get_state (e), ==, GBRIDGE_FUTURE_STATE_RESOLVED);
  }
}

static void
test_chain (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GbridgeFuture) source = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) destination = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) failing = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) failed_copy = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GError) failure = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_BUSY, "busy");
  g_autoptr(GError) error = NULL;
  g_auto(GValue) v = G_VALUE_INIT;

  gbridge_future_chain (source, destination);
  gbridge_future_chain (failing, failed_copy);
  gbridge_future_resolve (source, int_value (&v, 42), NULL);
  gbridge_future_fail (failing, failure, NULL);
  gbridge_test_iterate_until_done (f->context, destination);
  gbridge_test_iterate_until_done (f->context, failed_copy);
  g_assert_cmpint (future_int (destination), ==, 42);
  g_assert_null (gbridge_future_get_value (failed_copy, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
}

G_GNUC_BEGIN_IGNORE_DEPRECATIONS
static void
test_all (Fixture       *f,
          gconstpointer  data)
{
  GbridgeFuture *in[3];
  g_autoptr(GbridgeFuture) all = NULL;
  g_autoptr(GbridgeFuture) empty = NULL;
  GValueArray *values;
  g_auto(GValue) v = G_VALUE_INIT;

  for (guint i = 0; i < 3; i++)
    in[i] = gbridge_future_new_for_loop (f->loop);
  all = gbridge_future_all (in, 3);
  g_assert_true (gbridge_future_get_loop (all) == f->loop);

  /* Completed out of order; the values come back in the given order. */
  gbridge_future_resolve (in[2], int_value (&v, 30), NULL);
  g_value_unset (&v);
  gbridge_future_resolve (in[0], int_value (&v, 10), NULL);
  gbridge_test_run_pending (f->loop);
  g_assert_false (gbridge_future_is_done (all));
  gbridge_future_resolve (in[1], NULL, NULL);
  gbridge_test_iterate_until_done (f->context, all);

  values = g_value_get_boxed (gbridge_future_get_value (all, NULL));
  g_assert_cmpuint (values->n_values, ==, 3);
  g_assert_cmpint (g_value_get_int (&values->values[0]), ==, 10);
  g_assert_null (g_value_get_pointer (&values->values[1]));
  g_assert_cmpint (g_value_get_int (&values->values[2]), ==, 30);

  empty = gbridge_future_all (NULL, 0);
  values = g_value_get_boxed (gbridge_future_get_value (empty, NULL));
  g_assert_cmpuint (values->n_values, ==, 0);

  for (guint i = 0; i < 3; i++)
    g_object_unref (in[i]);
}
G_GNUC_END_IGNORE_DEPRECATIONS

static void
test_all_fails_first (Fixture       *f,
                      gconstpointer  data)
{
  GbridgeFuture *in[2];
  g_autoptr(GbridgeFuture) all = NULL;
  g_autoptr(GError) failure = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_BUSY, "busy");
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 2; i++)
    in[i] = gbridge_future_new_for_loop (f->loop);
  all = gbridge_future_all (in, 2);
  gbridge_future_fail (in[1], failure, NULL);
  gbridge_test_iterate_until_done (f->context, all);
  g_assert_false (gbridge_future_is_done (in[0]));
  g_assert_null (gbridge_future_get_value (all, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);

  for (guint i = 0; i < 2; i++)
    g_object_unref (in[i]);
}

static void
test_cancel_combined (Fixture       *f,
                      gconstpointer  data)
{
  GbridgeFuture *in[2];
  g_autoptr(GbridgeFuture) first = NULL;

  for (guint i = 0; i < 2; i++)
    in[i] = gbridge_future_new_for_loop (f->loop);
  first = gbridge_future_first (in, 2);
  gbridge_future_cancel (first);
  gbridge_test_run_pending (f->loop);
  g_assert_true (gbridge_future_is_cancelled (in[0]));
  g_assert_true (gbridge_future_is_cancelled (in[1]));

  for (guint i = 0; i < 2; i++)
    g_object_unref (in[i]);
}

static void
test_any_and_first (Fixture       *f,
                    gconstpointer  data)
{
  GbridgeFuture *in[3];
  g_autoptr(GbridgeFuture) any = NULL;
  g_autoptr(GbridgeFuture) first = NULL;
  g_autoptr(GbridgeFuture) all_fail = NULL;
  g_autoptr(GError) busy = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_BUSY, "busy");
  g_autoptr(GError) exists = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_EXISTS, "exists");
  g_autoptr(GError) error = NULL;
  g_auto(GValue) v = G_VALUE_INIT;

  for (guint i = 0; i < 3; i++)
    in[i] = gbridge_future_new_for_loop (f->loop);
  any = gbridge_future_any (in, 3);
  first = gbridge_future_first (in, 3);

  /* A failure first: first() takes it, any() waits for a value. */
  gbridge_future_fail (in[0], busy, NULL);
  gbridge_test_iterate_until_done (f->context, first);
  g_assert_null (gbridge_future_get_value (first, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_clear_error (&error);
  g_assert_false (gbridge_future_is_done (any));

  gbridge_future_resolve (in[2], int_value (&v, 7), NULL);
  gbridge_test_iterate_until_done (f->context, any);
  g_assert_cmpint (future_int (any), ==, 7);
  /* The loser is left alone. */
  g_assert_false (gbridge_future_is_done (in[1]));

  for (guint i = 0; i < 3; i++)
    g_object_unref (in[i]);

  /* any() fails only when all fail, with the last failure. */
  for (guint i = 0; i < 2; i++)
    in[i] = gbridge_future_new_for_loop (f->loop);
  all_fail = gbridge_future_any (in, 2);
  gbridge_future_fail (in[0], busy, NULL);
  gbridge_future_fail (in[1], exists, NULL);
  gbridge_test_iterate_until_done (f->context, all_fail);
  g_assert_null (gbridge_future_get_value (all_fail, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  for (guint i = 0; i < 2; i++)
    g_object_unref (in[i]);
}

static void
test_with_timeout (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GbridgeFuture) slow = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) fast = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) slow_t = NULL;
  g_autoptr(GbridgeFuture) fast_t = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GValue) v = G_VALUE_INIT;

  gbridge_io_loop_use_virtual_clock (f->loop, 100.0);
  slow_t = gbridge_future_with_timeout (slow, 5.0);
  fast_t = gbridge_future_with_timeout (fast, 5.0);

  gbridge_io_loop_advance_clock (f->loop, 1.0);
  gbridge_test_run_pending (f->loop);
  gbridge_future_resolve (fast, int_value (&v, 3), NULL);
  gbridge_test_run_pending (f->loop);
  g_assert_cmpint (future_int (fast_t), ==, 3);
  g_assert_false (gbridge_future_is_done (slow_t));

  gbridge_io_loop_advance_clock (f->loop, 4.0);
  gbridge_test_run_pending (f->loop);
  g_assert_null (gbridge_future_get_value (slow_t, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_true (gbridge_future_is_cancelled (slow));
}

static void
test_with_timeout_closed_loop (Fixture       *f,
                               gconstpointer  data)
{
  GbridgeFuture *inner = gbridge_future_new_for_loop (f->loop);
  GbridgeFuture *timed = gbridge_future_with_timeout (inner, 60.0);

  /* The timer never fires: neither future may be kept alive by it. */
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_object_add_weak_pointer (G_OBJECT (inner), (gpointer *) &inner);
  g_object_add_weak_pointer (G_OBJECT (timed), (gpointer *) &timed);
  g_object_unref (timed);
  g_object_unref (inner);
  g_assert_null (inner);
  g_assert_null (timed);
}

static void
test_add_future_other_loop (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GbridgeIOLoop) other = gbridge_io_loop_new ();
  g_autoptr(GbridgeFuture) future = gbridge_future_new_for_loop (other);

  gbridge_io_loop_add_future (f->loop, future, log_cb, entry_new (f, "a"), entry_free);
  gbridge_future_resolve (future, NULL, NULL);
  /* Runs on this loop, although nothing runs the future's own loop. */
  gbridge_test_run_pending (f->loop);
  g_assert_cmpstr (f->log->str, ==, "a");
  g_assert_cmpuint (f->destroyed, ==, 1);

  /* Already done: still a later iteration. */
  gbridge_io_loop_add_future (f->loop, future, log_cb, entry_new (f, "b"), entry_free);
  g_assert_cmpstr (f->log->str, ==, "a");
  gbridge_test_run_pending (f->loop);
  g_assert_cmpstr (f->log->str, ==, "ab");
  g_assert_true (gbridge_io_loop_close (other, FALSE, NULL));
}

static void
square_in_thread (GbridgeFuture *future,
                  GCancellable  *cancellable,
                  gpointer       data)
{
  int *n = data;
  g_auto(GValue) v = G_VALUE_INIT;

  g_assert_true (G_IS_CANCELLABLE (cancellable));
  g_assert_false (g_main_context_is_owner (g_main_context_default ()));
  gbridge_future_resolve (future, int_value (&v, *n * *n), NULL);
}

static gint thread_destroyed;

static void
free_and_count (gpointer data)
{
  g_free (data);
  g_atomic_int_inc (&thread_destroyed);
}

static void
test_run_in_thread (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GbridgeFuture) future = NULL;
  int *n = g_new (int, 1);

  *n = 12;
  future = gbridge_future_run_in_thread (f->loop, square_in_thread, n, free_and_count);
  g_assert_true (gbridge_future_get_loop (future) == f->loop);
  gbridge_test_iterate_until_done (f->context, future);
  g_assert_cmpint (future_int (future), ==, 144);
  /* The worker lets go of the future before it destroys user_data. */
  while (g_atomic_int_get (&thread_destroyed) == 0)
    g_usleep (1000);
}

static guint gio_callbacks;

static void
ready_and_count (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  gio_callbacks++;
  gbridge_future_async_ready_callback (source, result, data);
}

static void
test_from_gio_async (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFile) missing = NULL;
  g_autoptr(GbridgeFuture) read = NULL;
  g_autoptr(GbridgeFuture) raw = NULL;
  g_autoptr(GbridgeFuture) failed = NULL;
  g_autoptr(GbridgeFuture) cancelled = NULL;
  g_autoptr(GError) error = NULL;
  int fd;

  if (gbridge_test_skip_under_tsan ())
    return;

  fd = g_file_open_tmp ("gbridge-future-XXXXXX", &path, &error);
  g_assert_no_error (error);
  close (fd);
  file = g_file_new_for_path (path);
  missing = g_file_new_for_path ("/nonexistent/gbridge");

  g_main_context_push_thread_default (f->context);

  /* With a finish function: the finished value. */
  read = gbridge_future_new_for_async (f->loop, G_TYPE_FILE_INPUT_STREAM,
                                       (GbridgeFinishFunc) g_file_read_finish);
  g_file_read_async (file, G_PRIORITY_DEFAULT, gbridge_future_get_cancellable (read),
                     gbridge_future_async_ready_callback, g_object_ref (read));
  gbridge_test_iterate_until_done (f->context, read);
  g_assert_true (G_IS_FILE_INPUT_STREAM (gbridge_future_get_object (read, &error)));
  g_assert_no_error (error);

  /* Without: the GAsyncResult. */
  raw = gbridge_future_new_for_async (f->loop, G_TYPE_INVALID, NULL);
  g_file_read_async (file, G_PRIORITY_DEFAULT, NULL,
                     gbridge_future_async_ready_callback, g_object_ref (raw));
  gbridge_test_iterate_until_done (f->context, raw);
  g_assert_true (G_IS_ASYNC_RESULT (gbridge_future_get_object (raw, NULL)));
  g_object_unref (g_file_read_finish (file, gbridge_future_get_object (raw, NULL), NULL));

  /* A GIO error fails the future. */
  failed = gbridge_future_new_for_async (f->loop, G_TYPE_FILE_INPUT_STREAM,
                                         (GbridgeFinishFunc) g_file_read_finish);
  g_file_read_async (missing, G_PRIORITY_DEFAULT, NULL,
                     gbridge_future_async_ready_callback, g_object_ref (failed));
  gbridge_test_iterate_until_done (f->context, failed);
  g_assert_null (gbridge_future_get_value (failed, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Cancelling the future cancels the operation through its cancellable. */
  cancelled = gbridge_future_new_for_async (f->loop, G_TYPE_FILE_INPUT_STREAM,
                                            (GbridgeFinishFunc) g_file_read_finish);
  gbridge_future_cancel (cancelled);
  g_file_read_async (file, G_PRIORITY_DEFAULT, gbridge_future_get_cancellable (cancelled),
                     ready_and_count, g_object_ref (cancelled));
  g_assert_true (g_cancellable_is_cancelled (gbridge_future_get_cancellable (cancelled)));
  /* The GIO callback still runs, from GIO's worker, and drops its
   * reference. */
  while (gio_callbacks == 0)
    g_main_context_iteration (f->context, TRUE);
  g_assert_true (gbridge_future_is_cancelled (cancelled));

  g_main_context_pop_thread_default (f->context);
  g_unlink (path);
}

static void
task_thread (GTask        *task,
             gpointer      source,
             gpointer      data,
             GCancellable *cancellable)
{
  g_auto(GValue) v = G_VALUE_INIT;

  if (GPOINTER_TO_INT (data) < 0)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "negative");
  else
    g_task_return_value (task, int_value (&v, GPOINTER_TO_INT (data) + 1));
}

static void
test_from_task (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GbridgeFuture) ok = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) bad = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GTask) ok_task = NULL;
  g_autoptr(GTask) bad_task = NULL;
  g_autoptr(GError) error = NULL;

  if (gbridge_test_skip_under_tsan ())
    return;

  g_main_context_push_thread_default (f->context);
  ok_task = gbridge_future_new_task (ok, NULL);
  bad_task = gbridge_future_new_task (bad, NULL);
  g_assert_true (g_task_get_cancellable (ok_task) == gbridge_future_get_cancellable (ok));
  g_task_set_task_data (ok_task, GINT_TO_POINTER (41), NULL);
  g_task_set_task_data (bad_task, GINT_TO_POINTER (-1), NULL);
  g_task_run_in_thread (ok_task, task_thread);
  g_task_run_in_thread (bad_task, task_thread);
  g_main_context_pop_thread_default (f->context);

  gbridge_test_iterate_until_done (f->context, ok);
  gbridge_test_iterate_until_done (f->context, bad);
  g_assert_cmpint (future_int (ok), ==, 42);
  g_assert_null (gbridge_future_get_value (bad, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

static void
wait_ready (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  GValue **out = data;
  g_autoptr(GError) error = NULL;

  *out = gbridge_future_wait_finish (GBRIDGE_FUTURE (source), result, &error);
  if (error != NULL)
    {
      *out = g_new0 (GValue, 1);
      g_value_init (*out, G_TYPE_INT);
      g_value_set_int (*out, -error->code);
    }
}

static void
test_wait_async (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GbridgeFuture) future = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) failing = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GbridgeFuture) forever = gbridge_future_new_for_loop (f->loop);
  g_autoptr(GCancellable) stop_waiting = g_cancellable_new ();
  g_autoptr(GError) failure = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_BUSY, "busy");
  GValue *got = NULL, *got_failure = NULL, *got_cancel = NULL;
  g_auto(GValue) v = G_VALUE_INIT;

  g_main_context_push_thread_default (f->context);
  gbridge_future_wait_async (future, NULL, wait_ready, &got);
  gbridge_future_wait_async (failing, NULL, wait_ready, &got_failure);
  gbridge_future_wait_async (forever, stop_waiting, wait_ready, &got_cancel);
  g_main_context_pop_thread_default (f->context);

  gbridge_future_resolve (future, int_value (&v, 5), NULL);
  gbridge_future_fail (failing, failure, NULL);
  g_assert_null (got);
  g_cancellable_cancel (stop_waiting);
  while (got == NULL || got_failure == NULL || got_cancel == NULL)
    g_main_context_iteration (f->context, TRUE);

  g_assert_cmpint (g_value_get_int (got), ==, 5);
  g_assert_cmpint (g_value_get_int (got_failure), ==, -G_IO_ERROR_BUSY);
  g_assert_cmpint (g_value_get_int (got_cancel), ==, -G_IO_ERROR_CANCELLED);
  /* Stopping the wait left the future alone. */
  g_assert_false (gbridge_future_is_done (forever));

  g_value_unset (got);
  g_value_unset (got_failure);
  g_value_unset (got_cancel);
  g_free (got);
  g_free (got_failure);
  g_free (got_cancel);
}

/* run_sync */

static GbridgeFuture *
return_null (gpointer data)
{
  Fixture *f = data;

  g_assert_true (gbridge_io_loop_get_current () == f->loop);
  g_string_append (f->log, "called");
  return NULL;
}

static void
test_run_sync_immediate (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GValue) value = G_VALUE_INIT;

  g_assert_true (gbridge_io_loop_run_sync (f->loop, return_null, f, 0, &value, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS_POINTER (&value));
  g_assert_null (g_value_get_pointer (&value));
  g_assert_cmpstr (f->log->str, ==, "called");
  g_assert_false (gbridge_io_loop_is_running (f->loop));
}

static void
resolve_later_cb (gpointer data)
{
  GbridgeFuture *future = data;
  g_auto(GValue) v = G_VALUE_INIT;

  gbridge_future_resolve (future, int_value (&v, 99), NULL);
}

static GbridgeFuture *
return_delayed (gpointer data)
{
  Fixture *f = data;
  GbridgeFuture *future = gbridge_future_new ();

  /* gbridge_future_new() picks the current loop: run_sync made it so. */
  g_assert_true (gbridge_future_get_loop (future) == f->loop);
  gbridge_io_loop_call_later (f->loop, 0.001, resolve_later_cb,
                              g_object_ref (future), g_object_unref);
  return future;
}

static void
test_run_sync_delayed (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GValue) value = G_VALUE_INIT;

  g_assert_true (gbridge_io_loop_run_sync (f->loop, return_delayed, f, 10, &value, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_value_get_int (&value), ==, 99);
}

/* A future of another loop, which nothing runs: run_sync waits for it on
 * its own loop, as Tornado's run_sync waits with add_future. */
static GbridgeFuture *
return_other_loops (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GbridgeIOLoop) other = gbridge_io_loop_new ();
  GbridgeFuture *future = gbridge_future_new_for_loop (other);

  gbridge_io_loop_call_later (f->loop, 0.001, resolve_later_cb,
                              g_object_ref (future), g_object_unref);
  return future;
}

static void
test_run_sync_other_loop (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GValue) value = G_VALUE_INIT;

  g_assert_true (gbridge_io_loop_run_sync (f->loop, return_other_loops, f, 10, &value, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_value_get_int (&value), ==, 99);
}

static GbridgeFuture *
return_failed (gpointer data)
{
  g_autoptr(GError) failure = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "nope");

  return gbridge_future_new_failed (failure);
}

static void
test_run_sync_error (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (gbridge_io_loop_run_sync (f->loop, return_failed, f, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpstr (error->message, ==, "nope");
}

static GbridgeFuture *
return_pending (gpointer data)
{
  GbridgeFuture **out = data;

  *out = gbridge_future_new ();
  return g_object_ref (*out);
}

static void
test_run_sync_timeout (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GbridgeFuture) pending = NULL;

  g_assert_false (gbridge_io_loop_run_sync (f->loop, return_pending, &pending, 0.01, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_true (gbridge_future_is_cancelled (pending));

  /* The cancelled future's done-callback must not stop the next run. */
  g_clear_error (&error);
  g_assert_true (gbridge_io_loop_run_sync (f->loop, return_delayed, f, 10, NULL, &error));
  g_assert_no_error (error);
}

static GbridgeFuture *
nested_run_sync (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GError) error = NULL;

  g_assert_false (gbridge_io_loop_run_sync (f->loop, return_null, f, 0, NULL, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_RUNNING);
  g_string_append (f->log, "refused;");
  return NULL;
}

static void
test_run_sync_running (Fixture       *f,
                       gconstpointer  data)
{
  g_assert_true (gbridge_io_loop_run_sync (f->loop, nested_run_sync, f, 0, NULL, NULL));
  g_assert_cmpstr (f->log->str, ==, "refused;");
}

static void
test_run_sync_closed (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_assert_false (gbridge_io_loop_run_sync (f->loop, return_null, f, 1, NULL, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_CLOSED);
  g_assert_cmpstr (f->log->str, ==, "");
}

/* Tornado's test_add_future_threads: futures completed by worker threads,
 * their callbacks on the loop. */

typedef struct
{
  GbridgeIOLoop *loop;
  GThread       *loop_thread;
  GPtrArray     *futures;
  guint          begin, end;
  gint           callbacks;
  gint           destroyed;
  gint           wrong_thread;
} Stress;

static gpointer
complete_range (gpointer data)
{
  Stress *s = ((Stress **) data)[0];
  guint index = GPOINTER_TO_UINT (((gpointer *) data)[1]);
  guint n = s->futures->len / 8;

  for (guint i = index * n; i < (index + 1) * n; i++)
    {
      GbridgeFuture *future = s->futures->pdata[i];

      if (i % 3 == 0)
        gbridge_future_cancel (future);
      else
        gbridge_future_resolve (future, NULL, NULL);
    }
  return NULL;
}

static void
stress_cb (GbridgeFuture *future,
           gpointer       data)
{
  Stress *s = data;

  if (g_thread_self () != s->loop_thread)
    g_atomic_int_inc (&s->wrong_thread);
  if (g_atomic_int_add (&s->callbacks, 1) + 1 == (gint) s->futures->len)
    gbridge_io_loop_stop (s->loop);
}

static void
stress_destroy (gpointer data)
{
  Stress *s = data;

  g_atomic_int_inc (&s->destroyed);
}

static void
test_threads_complete (Fixture       *f,
                       gconstpointer  data)
{
  Stress s = { 0 };
  GThread *threads[8];
  gpointer args[8][2];
  guint n = g_test_thorough () ? 400000 : 100000;

  s.loop = f->loop;
  s.loop_thread = g_thread_self ();
  s.futures = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n; i++)
    {
      GbridgeFuture *future = gbridge_future_new_for_loop (f->loop);

      g_ptr_array_add (s.futures, future);
      /* Half through the future, half through add_future(). */
      if (i % 2 == 0)
        gbridge_future_add_done_callback (future, stress_cb, &s, stress_destroy);
      else
        gbridge_io_loop_add_future (f->loop, future, stress_cb, &s, stress_destroy);
    }

  for (guint i = 0; i < 8; i++)
    {
      args[i][0] = &s;
      args[i][1] = GUINT_TO_POINTER (i);
      threads[i] = g_thread_new ("complete", complete_range, args[i]);
    }
  g_assert_true (gbridge_io_loop_start (f->loop, NULL));
  for (guint i = 0; i < 8; i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (s.callbacks, ==, (gint) n);
  g_assert_cmpint (s.destroyed, ==, (gint) n);
  g_assert_cmpint (s.wrong_thread, ==, 0);
  g_ptr_array_unref (s.futures);
}

/* The worker that completes a future drops the last reference after
 * run_sync() read the future's state and let go of its own: finalize runs
 * in the worker. Nothing that ThreadSanitizer sees orders the two threads
 * (GObject's reference count is in uninstrumented GLib, and the hand-over
 * below is a relaxed atomic): it must still see that run_sync()'s read
 * happens before the future's mutex is destroyed. */
typedef struct
{
  GbridgeFuture *future;     /* the worker's own reference */
  int            go;         /* relaxed: orders nothing for TSan */
  GThread       *finalized_in;
} LastRef;

/* The future's value goes with the future: its free function tells which
 * thread finalized the future, without synchronizing anything (a weak
 * reference would, through GLib's locks). */
static void
record_finalizing_thread (gpointer data)
{
  LastRef *last = data;

  last->finalized_in = g_thread_self ();
}

static gpointer
resolve_then_drop_last (gpointer data)
{
  LastRef *last = data;
  g_auto(GValue) v = G_VALUE_INIT;
  GBytes *bytes = g_bytes_new_with_free_func ("7", 1, record_finalizing_thread, last);

  g_value_init (&v, G_TYPE_BYTES);
  g_value_take_boxed (&v, bytes);
  gbridge_future_resolve (last->future, &v, NULL);
  g_value_unset (&v);

  while (!__atomic_load_n (&last->go, __ATOMIC_RELAXED))
    g_usleep (1000);

  g_object_unref (last->future);
  return NULL;
}

static GThread *last_ref_thread;

static GbridgeFuture *
return_completed_by_worker (gpointer data)
{
  LastRef *last = data;
  GbridgeFuture *future = gbridge_future_new ();

  last->future = g_object_ref (future);
  last_ref_thread = g_thread_new ("last-ref", resolve_then_drop_last, last);
  return future;
}

static void
test_run_sync_last_ref_in_worker (Fixture       *f,
                                  gconstpointer  data)
{
  LastRef last = { 0 };
  g_autoptr(GError) error = NULL;
  GThread *worker;

  /* No copy of the value: the future holds the only one. */
  g_assert_true (gbridge_io_loop_run_sync (f->loop, return_completed_by_worker, &last, 10,
                                           NULL, &error));
  g_assert_no_error (error);
  gbridge_test_run_pending (f->loop);

  worker = g_steal_pointer (&last_ref_thread);
  __atomic_store_n (&last.go, 1, __ATOMIC_RELAXED);
  g_thread_join (worker);

  /* The case this test is about did happen. */
  g_assert_true (last.finalized_in == worker);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  TEST ("resolve/once", test_resolve_once);
  TEST ("resolve/no-value", test_no_value);
  TEST ("fail-and-cancel", test_fail_and_cancel);
  TEST ("done-callbacks/order", test_done_callbacks_order);
  TEST ("done-callbacks/added-from-callback", test_done_callback_added_from_callback);
  TEST ("done-callbacks/dropped-pending", test_dropped_pending);
  TEST ("done-callbacks/closed-loop", test_closed_loop);
  TEST ("cancellable", test_cancellable_both_ways);
  TEST ("chain", test_chain);
  TEST ("all", test_all);
  TEST ("all/fails-first", test_all_fails_first);
  TEST ("any-and-first", test_any_and_first);
  TEST ("cancel-combined", test_cancel_combined);
  TEST ("with-timeout", test_with_timeout);
  TEST ("with-timeout/closed-loop", test_with_timeout_closed_loop);
  TEST ("add-future/other-loop", test_add_future_other_loop);
  TEST ("run-in-thread", test_run_in_thread);
  TEST ("gio/async", test_from_gio_async);
  TEST ("gio/task", test_from_task);
  TEST ("gio/wait-async", test_wait_async);
  TEST ("run-sync/immediate", test_run_sync_immediate);
  TEST ("run-sync/delayed", test_run_sync_delayed);
  TEST ("run-sync/other-loop", test_run_sync_other_loop);
  TEST ("run-sync/error", test_run_sync_error);
  TEST ("run-sync/timeout", test_run_sync_timeout);
  TEST ("run-sync/running", test_run_sync_running);
  TEST ("run-sync/closed", test_run_sync_closed);
  TEST ("run-sync/last-ref-in-worker", test_run_sync_last_ref_in_worker);
  TEST ("threads/complete", test_threads_complete);

  return g_test_run ();
}
