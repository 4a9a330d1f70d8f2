/* gbridge-future-loop.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-future-private.h"
#include "gbridge-io-loop.h"
#include "gbridge-worker-pool-private.h"

#include <glib/gi18n-lib.h>

/* run_in_thread, on the process-wide worker pool. */

typedef struct
{
  GbridgeFuture     *future;
  GbridgeThreadFunc  func;
  gpointer           user_data;
  GDestroyNotify     destroy;
} ThreadJob;

static void
thread_job_run (gpointer data)
{
  ThreadJob *job = data;

  /* Cancelled before it started: never started, as concurrent.futures. */
  if (!gbridge_future_is_done (job->future))
    {
      job->func (job->future, gbridge_future_get_cancellable (job->future),
                 job->user_data);
      gbridge_future_resolve (job->future, NULL, NULL);
    }

  /* The future first: once user_data is destroyed, the job holds nothing. */
  g_object_unref (job->future);
  if (job->destroy != NULL)
    job->destroy (job->user_data);
  g_free (job);
}

/**
 * gbridge_future_run_in_thread:
 * @loop: (nullable): the loop of the returned future, or %NULL for the
 *   current or default loop
 * @func: (scope notified) (closure user_data) (destroy destroy): the
 *   function to run in a worker thread
 * @user_data: data for @func
 * @destroy: (nullable): destroys @user_data in the worker thread after @func
 *   ran, or after it was skipped because the future was cancelled first
 *
 * Runs @func in a worker thread of a shared pool and returns the future it
 * completes, like asyncio's `run_in_executor`. If the future is cancelled
 * before a worker picks the job up, @func is never called; once running,
 * @func sees the cancellation through its #GCancellable.
 *
 * Returns: (transfer full): the future @func completes
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_run_in_thread (GbridgeIOLoop     *loop,
                              GbridgeThreadFunc  func,
                              gpointer           user_data,
                              GDestroyNotify     destroy)
{
  ThreadJob *job;
  GbridgeFuture *future;

  g_return_val_if_fail (loop == NULL || GBRIDGE_IS_IO_LOOP (loop), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  future = loop != NULL ? gbridge_future_new_for_loop (loop) : gbridge_future_new ();
  job = g_new0 (ThreadJob, 1);
  job->future = g_object_ref (future);
  job->func = func;
  job->user_data = user_data;
  job->destroy = destroy;
  _gbridge_worker_pool_push (_gbridge_worker_pool_get_default (), thread_job_run, job);

  return future;
}

/* A future, as GIO's async pattern */

typedef struct
{
  gint             ref_count;  /* g_atomic_int_*: inline, visible to TSan */
  GTask           *task;
  GCancellable    *cancellable;
  gulong           cancelled_id;
  gint             returned;
  GError          *failure;
  GValue          *value;
} Wait;

static void
gvalue_free (gpointer data)
{
  g_value_unset (data);
  g_free (data);
}

static Wait *
wait_ref (Wait *wait)
{
  g_atomic_int_inc (&wait->ref_count);
  return wait;
}

static void
wait_unref (gpointer data)
{
  Wait *wait = data;

  if (g_atomic_int_dec_and_test (&wait->ref_count))
    {
      g_clear_object (&wait->task);
      g_clear_object (&wait->cancellable);
      g_clear_error (&wait->failure);
      g_clear_pointer (&wait->value, gvalue_free);
      g_free (wait);
    }
}

static void
wait_release (gpointer data)
{
  Wait *wait = data;

  /* Not g_cancellable_disconnect(): that deadlocks when called from the
   * cancellable's own handler, which is where a future completes when
   * its cancellable is the one the wait watches. The handler holds its
   * own reference, so a concurrent emission stays safe. */
  if (wait->cancelled_id != 0)
    g_signal_handler_disconnect (wait->cancellable, wait->cancelled_id);
  wait_unref (wait);
}

static gboolean
wait_return (gpointer user_data)
{
  Wait *wait = user_data;

  if (wait->failure != NULL)
    g_task_return_error (wait->task, g_steal_pointer (&wait->failure));
  else
    g_task_return_pointer (wait->task, g_steal_pointer (&wait->value), gvalue_free);

  /* The task holds the future as its source object; a wait that stopped
   * early must not keep a pending future alive through its notify. */
  g_clear_object (&wait->task);

  return G_SOURCE_REMOVE;
}

/* Returns the task from an idle in its own context, so the waiter's
 * callback never runs inside the call that completed the future. */
static void
wait_return_later (Wait *wait)
{
  GSource *source = g_idle_source_new ();

  g_source_set_static_name (source, "[gbridge] future wait");
  g_source_set_callback (source, wait_return, wait_ref (wait), wait_unref);
  g_source_attach (source, g_task_get_context (wait->task));
  g_source_unref (source);
}

static void
wait_done (GbridgeFuture *future,
           gpointer       user_data)
{
  Wait *wait = user_data;
  const GValue *value;

  if (!g_atomic_int_compare_and_exchange (&wait->returned, FALSE, TRUE))
    return;

  value = gbridge_future_get_value (future, &wait->failure);
  if (value != NULL)
    {
      wait->value = g_new0 (GValue, 1);
      g_value_init (wait->value, G_VALUE_TYPE (value));
      g_value_copy (value, wait->value);
    }
  wait_return_later (wait);
}

static void
wait_cancelled (GCancellable *cancellable,
                gpointer      user_data)
{
  Wait *wait = user_data;

  /* Stop waiting; the future itself goes on. */
  if (!g_atomic_int_compare_and_exchange (&wait->returned, FALSE, TRUE))
    return;

  g_set_error_literal (&wait->failure, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                       _("The wait was cancelled"));
  wait_return_later (wait);
}

/**
 * gbridge_future_wait_async:
 * @self: a #GbridgeFuture
 * @cancellable: (nullable): a #GCancellable to stop waiting
 * @callback: (scope async): called when the future is done
 * @user_data: data for @callback
 *
 * Waits for the future, the GIO way, so that GIO consumers, Vala's
 * `yield`, PyGObject and GJS's `Gio._promisify()` can await it. Cancelling
 * @cancellable stops the wait (with %G_IO_ERROR_CANCELLED), not the future;
 * to cancel the future, use gbridge_future_cancel().
 *
 * @callback runs in the thread-default main context of the calling thread,
 * in a later iteration than the completion; call
 * gbridge_future_wait_finish() from it.
 *
 * Since: 1.0
 */
void
gbridge_future_wait_async (GbridgeFuture       *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  Wait *wait;

  g_return_if_fail (GBRIDGE_IS_FUTURE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  wait = g_new0 (Wait, 1);
  wait->ref_count = 1;
  wait->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (wait->task, gbridge_future_wait_async);
  g_task_set_check_cancellable (wait->task, FALSE);

  if (cancellable != NULL)
    {
      wait->cancellable = g_object_ref (cancellable);
      wait->cancelled_id = g_cancellable_connect (cancellable,
                                                  G_CALLBACK (wait_cancelled),
                                                  wait_ref (wait), wait_unref);
    }
  /* The completion notify, not a done-callback: the waiter's context need
   * not be the future's loop. */
  gbridge_future_add_completion_notify (self, wait_done, wait, wait_release);
}

/**
 * gbridge_future_wait_finish:
 * @self: a #GbridgeFuture
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes gbridge_future_wait_async().
 *
 * Returns: (transfer full) (nullable): a copy of the future's value, or
 *   %NULL if it resolved with no value or did not resolve; then @error holds
 *   its failure, %G_IO_ERROR_CANCELLED if it or the wait was cancelled
 *
 * Since: 1.0
 */
GValue *
gbridge_future_wait_finish (GbridgeFuture  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gbridge_future_wait_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* The loop's side */

/* The record is shared by the completion notify and, once the future is
 * done, the loop callback; the last of the two to let go destroys it, so
 * user_data is destroyed after func ran or when it never will. It holds
 * no reference to the future before completion: a future dropped while
 * pending must not be kept alive by its own notify. */
typedef struct
{
  gint                   ref_count;  /* g_atomic_int_*: inline, visible to TSan */
  GbridgeFuture         *future;
  GbridgeIOLoop         *loop;
  GbridgeFutureCallback  func;
  gpointer               user_data;
  GDestroyNotify         destroy;
} AddFuture;

static void
add_future_unref (gpointer data)
{
  AddFuture *add = data;

  if (!g_atomic_int_dec_and_test (&add->ref_count))
    return;

  if (add->destroy != NULL)
    add->destroy (add->user_data);
  g_clear_object (&add->future);
  g_object_unref (add->loop);
  g_free (add);
}

static void
add_future_run (gpointer data)
{
  AddFuture *add = data;

  add->func (add->future, add->user_data);
}

static void
add_future_completed (GbridgeFuture *future,
                      gpointer       user_data)
{
  AddFuture *add = user_data;

  add->future = g_object_ref (future);
  g_atomic_int_inc (&add->ref_count);
  /* On a closed loop this reference is dropped at once. */
  gbridge_io_loop_add_callback (add->loop, add_future_run, add, add_future_unref);
}

/**
 * gbridge_io_loop_add_future:
 * @self: a #GbridgeIOLoop
 * @future: a #GbridgeFuture
 * @func: (scope notified) (closure user_data) (destroy destroy): called
 *   with @future once it is done
 * @user_data: data for @func
 * @destroy: (nullable): destroys @user_data after @func ran, or when it
 *   never will (the loop closed first, or @future was dropped while
 *   pending)
 *
 * Schedules @func on this loop, with @future, once @future is done; also
 * when it is already done, and whatever loop @future belongs to. Safe from
 * any thread. Tornado's `IOLoop.add_future()`.
 *
 * Since: 1.0
 */
void
gbridge_io_loop_add_future (GbridgeIOLoop         *self,
                            GbridgeFuture         *future,
                            GbridgeFutureCallback  func,
                            gpointer               user_data,
                            GDestroyNotify         destroy)
{
  AddFuture *add;

  g_return_if_fail (GBRIDGE_IS_IO_LOOP (self));
  g_return_if_fail (GBRIDGE_IS_FUTURE (future));
  g_return_if_fail (func != NULL);

  add = g_new0 (AddFuture, 1);
  add->ref_count = 1;
  add->loop = g_object_ref (self);
  add->func = func;
  add->user_data = user_data;
  add->destroy = destroy;

  /* Completion notify: hops straight onto this loop from the completing
   * thread, whichever loop the future belongs to. */
  gbridge_future_add_completion_notify (future, add_future_completed, add,
                                        add_future_unref);
}

typedef struct
{
  gint               ref_count;  /* g_atomic_int_*: inline, visible to TSan */
  GbridgeIOLoop     *loop;
  GbridgeFutureFunc  func;
  gpointer           user_data;
  GbridgeFuture     *future;
  gboolean           active;
  gboolean           timed_out;
  gboolean           called;
} RunSync;

static RunSync *
run_sync_ref (RunSync *run)
{
  g_atomic_int_inc (&run->ref_count);
  return run;
}

static void
run_sync_unref (gpointer data)
{
  RunSync *run = data;

  if (g_atomic_int_dec_and_test (&run->ref_count))
    {
      g_clear_object (&run->future);
      g_object_unref (run->loop);
      g_free (run);
    }
}

static void
run_sync_done (GbridgeFuture *future,
               gpointer       user_data)
{
  RunSync *run = user_data;

  /* A future cancelled by the timeout completes after run_sync()
   * returned; it must not stop a later run of the loop. */
  if (run->active)
    gbridge_io_loop_stop (run->loop);
}

static void
run_sync_call (gpointer data)
{
  RunSync *run = data;

  if (!run->active)
    return;
  run->called = TRUE;
  run->future = run->func (run->user_data);
  if (run->future == NULL)
    gbridge_io_loop_stop (run->loop);
  else
    /* On this loop, whatever loop the future belongs to: its done-callbacks
     * would run on that loop, which may be another thread's or not run. */
    gbridge_io_loop_add_future (run->loop, run->future, run_sync_done,
                                run_sync_ref (run), run_sync_unref);
}

static void
run_sync_timeout (gpointer data)
{
  RunSync *run = data;

  if (run->future != NULL && gbridge_future_is_done (run->future))
    return;
  run->timed_out = TRUE;
  gbridge_io_loop_stop (run->loop);
}

/**
 * gbridge_io_loop_run_sync:
 * @self: a #GbridgeIOLoop that is not running
 * @func: (scope call) (closure user_data): starts the work and returns its
 *   future, or %NULL when there is nothing to wait for
 * @user_data: data for @func
 * @timeout: seconds to wait at most, or 0 for no limit
 * @value: (out caller-allocates) (optional): return location for the
 *   future's value; when it has none, or on failure, a %NULL
 *   %G_TYPE_POINTER, which the bindings show as None or null
 * @error: return location for a #GError
 *
 * Starts the loop, calls @func on it (the loop is current while @func
 * runs), runs the loop until the future @func returned is done, stops it
 * and returns the outcome. Tornado's `IOLoop.run_sync()`.
 *
 * Returns: (skip): %TRUE if the future resolved (or @func returned %NULL);
 *   %FALSE with the future's failure, %G_IO_ERROR_CANCELLED if it was
 *   cancelled, %G_IO_ERROR_TIMED_OUT after @timeout seconds (the future is
 *   then cancelled), %GBRIDGE_FUTURE_ERROR_PENDING if the loop was stopped
 *   by someone else first, or the error of gbridge_io_loop_start(), such as
 *   %GBRIDGE_IO_LOOP_ERROR_RUNNING when called on a running loop
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_run_sync (GbridgeIOLoop      *self,
                          GbridgeFutureFunc   func,
                          gpointer            user_data,
                          double              timeout,
                          GValue             *value,
                          GError            **error)
{
  RunSync *run;
  guint64 timer = 0;
  gboolean ret = FALSE;
  const GValue *result;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail (timeout >= 0, FALSE);
  g_return_val_if_fail (value == NULL || !G_IS_VALUE (value), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  run = g_new0 (RunSync, 1);
  run->ref_count = 1;
  run->loop = g_object_ref (self);
  run->func = func;
  run->user_data = user_data;
  run->active = TRUE;

  /* A running or closed loop is refused by gbridge_io_loop_start() below;
   * the call queued here then never calls @func (run->active is FALSE by
   * the time it runs, or it is dropped by the closed loop at once). */
  gbridge_io_loop_add_callback (self, run_sync_call, run_sync_ref (run),
                                run_sync_unref);
  if (timeout > 0)
    timer = gbridge_io_loop_call_later (self, timeout, run_sync_timeout,
                                        run_sync_ref (run), run_sync_unref);

  if (!gbridge_io_loop_start (self, error))
    goto out;

  if (run->timed_out)
    {
      if (run->future != NULL)
        gbridge_future_cancel (run->future);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   _("Timed out after %g seconds"), timeout);
      goto out;
    }

  if (run->future == NULL && run->called)
    {
      /* @func had nothing to wait for. */
      ret = TRUE;
      goto out;
    }

  if (run->future == NULL || !gbridge_future_is_done (run->future))
    {
      g_set_error_literal (error, GBRIDGE_FUTURE_ERROR,
                           GBRIDGE_FUTURE_ERROR_PENDING,
                           _("The loop stopped before the future was done"));
      goto out;
    }

  result = gbridge_future_get_value (run->future, error);
  if (result != NULL && value != NULL)
    {
      g_value_init (value, G_VALUE_TYPE (result));
      g_value_copy (result, value);
    }
  ret = gbridge_future_get_state (run->future) == GBRIDGE_FUTURE_STATE_RESOLVED;

out:
  if (value != NULL && !G_IS_VALUE (value))
    g_value_init (value, G_TYPE_POINTER);
  run->active = FALSE;
  if (timer != 0)
    gbridge_io_loop_remove_timeout (self, timer);
  run_sync_unref (run);
  return ret;
}
