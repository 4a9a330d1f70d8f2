/* gbridge-io-loop-callbacks.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-io-loop-impl-private.h"

#include <errno.h>
#include <unistd.h>

#ifdef HAVE_EVENTFD
# include <sys/eventfd.h>
#endif

/* Callbacks: the queue add_callback() fills from any thread, repeating
 * callbacks, callbacks from signal handlers, and the wake-up. */

/* A repeating callback is a Callback whose func is NULL, whose user_data is
 * this and whose destroy is repeat_free(): the common Callback stays small.
 * It is queued again before each call, so a nested main loop started from
 * func runs it again. in_calls counts the calls on the stack, listed says
 * whether its Callback is in one of the loop's lists, and removed that the
 * latest call returned G_SOURCE_REMOVE. */
typedef struct
{
  GSourceFunc     func;
  gpointer        user_data;
  GDestroyNotify  destroy;
  guint           in_calls;
  guint           listed : 1;
  guint           removed : 1;
} Repeat;

/* Wakes the context up, from any thread or a signal handler. */
void
_gbridge_io_loop_wake_context (GbridgeIOLoop *self)
{
#ifdef HAVE_EVENTFD
  int fd = g_atomic_int_get (&self->wake_fd);

  if (fd >= 0)
    {
      guint64 one = 1;

      if (write (fd, &one, sizeof one) == sizeof one)
        return;
    }
#endif
  g_main_context_wakeup (self->context);
}

static void
repeat_free (gpointer data)
{
  Repeat *r = data;

  if (r->destroy != NULL)
    r->destroy (r->user_data);
  g_free (r);
}

/* Runs the repeating callback @cb just taken off the batch. Returns TRUE
 * when it is done with and the caller frees it. */
gboolean
_gbridge_io_loop_run_repeating (GbridgeIOLoop *self,
               Callback      *cb)
{
  Repeat *r = cb->user_data;
  gboolean again;

  r->listed = FALSE;
  if (r->removed)
    return r->in_calls == 0;  /* else the call on the stack finishes it */

  /* Queued again before the call: a nested main loop started from it keeps
   * running it, as it keeps running a callback that re-adds itself. */
  callback_list_push (&self->next_local, cb);
  r->listed = TRUE;
  r->in_calls++;
  if (G_UNLIKELY (self->metrics != NULL))
    again = _gbridge_loop_metrics_run_repeating (self->metrics, r->func, r->user_data);
  else
    again = r->func (r->user_data);
  r->in_calls--;
  r->removed = !again;

  if (!r->listed)
    {
      /* A nested loop took it off a list while this call ran. */
      if (again)
        {
          callback_list_push (&self->next_local, cb);
          r->listed = TRUE;
          return FALSE;
        }
      return r->in_calls == 0;
    }
  if (!again && r->in_calls == 0 && self->next_local.head == cb)
    {
      /* The usual case: unqueue it now rather than on the next iteration. */
      self->next_local.head = cb->next;
      if (self->next_local.head == NULL)
        self->next_local.tail = NULL;
      r->listed = FALSE;
      return TRUE;
    }
  /* Still queued: dropped when next reached, if still removed by then. */
  return FALSE;
}

G_ALWAYS_INLINE static inline gboolean
add_callback (GbridgeIOLoop   *self,
              GbridgeCallback  func,
              gpointer         user_data,
              GDestroyNotify   destroy)
{
  Callback *cb;
  gboolean was_empty;

  if (_gbridge_io_loop_dispatching == self)
    {
      callback_list_push (&self->next_local,
                          callback_new_local (self, func, user_data, destroy));
      return TRUE;
    }

  cb = callback_init (g_new (Callback, 1), func, user_data, destroy);

  pthread_mutex_lock (&self->remote_lock);
  if (self->closed)
    {
      pthread_mutex_unlock (&self->remote_lock);
      g_free (cb);
      refuse (user_data, destroy);
      return FALSE;
    }
  was_empty = self->remote.head == NULL;
  callback_list_push (&self->remote, cb);
  if (was_empty)
    g_atomic_int_set (&self->remote_pending, TRUE);
  pthread_mutex_unlock (&self->remote_lock);

  /* Only the first callback of a batch needs to wake the context: until the
   * loop takes the batch, the wake-up is still pending. */
  if (was_empty)
    _gbridge_io_loop_wake_context (self);

  return TRUE;
}

/**
 * gbridge_io_loop_add_callback:
 * @self: a #GbridgeIOLoop
 * @func: (scope notified) (closure user_data) (destroy destroy): the callback
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data after @func ran, or when it is
 *   dropped
 *
 * Calls @func on the next iteration of the loop. Callbacks run in the order
 * they were added by each thread; a callback added while callbacks run waits
 * for the next iteration.
 *
 * This is the function to call from other threads: it is thread-safe and
 * wakes the loop. From a callback of the loop it takes no lock.
 *
 * Returns: %TRUE if queued; %FALSE if the loop is closed, in which case
 *   @destroy was called on @user_data
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_add_callback (GbridgeIOLoop   *self,
                              GbridgeCallback  func,
                              gpointer         user_data,
                              GDestroyNotify   destroy)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  return add_callback (self, func, user_data, destroy);
}

/**
 * gbridge_io_loop_add_repeating_callback:
 * @self: a #GbridgeIOLoop
 * @func: (scope notified) (closure user_data) (destroy destroy): the callback
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data once @func returned
 *   %G_SOURCE_REMOVE, or when it is dropped
 *
 * Calls @func on the next iteration of the loop, and again on each
 * following iteration for as long as it returns %G_SOURCE_CONTINUE, as a
 * callback that adds itself again with gbridge_io_loop_add_callback() would
 * be called, without the cost of adding it each time. This is for work that
 * comes in bursts, such as another event loop's queue of ready callbacks:
 * while @func is queued the loop does not sleep, so it returns
 * %G_SOURCE_REMOVE once its work is done.
 *
 * @func is queued again before each call, so a nested main loop started
 * from @func calls it again (GLib sources, by default, are not re-entered).
 * A call that returns %G_SOURCE_REMOVE ends the repetition even while an
 * outer call of @func is still running; the last call to return decides.
 *
 * Thread-safe, like gbridge_io_loop_add_callback().
 *
 * Returns: %TRUE if queued; %FALSE if the loop is closed, in which case
 *   @destroy was called on @user_data
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_add_repeating_callback (GbridgeIOLoop  *self,
                                        GSourceFunc     func,
                                        gpointer        user_data,
                                        GDestroyNotify  destroy)
{
  Repeat *r;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  r = g_new (Repeat, 1);
  r->func = func;
  r->user_data = user_data;
  r->destroy = destroy;
  r->in_calls = 0;
  r->listed = TRUE;
  r->removed = FALSE;
  return add_callback (self, NULL, r, repeat_free);
}

/**
 * gbridge_io_loop_add_callback_from_signal: (skip)
 * @self: a #GbridgeIOLoop
 * @func: the callback
 * @user_data: data for @func
 *
 * Calls @func on the next iteration of the loop. Unlike
 * gbridge_io_loop_add_callback(), this is async-signal-safe: it neither
 * allocates memory nor takes a lock, so a plain Unix signal handler may call
 * it. Up to 256 callbacks can wait at once. Bindings use
 * gbridge_io_loop_add_signal_handler() or gbridge_io_loop_add_callback()
 * instead.
 *
 * Returns: %TRUE if queued; %FALSE if the loop is closed or 256 callbacks are
 *   already waiting
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_add_callback_from_signal (GbridgeIOLoop   *self,
                                          GbridgeCallback  func,
                                          gpointer         user_data)
{
  int saved_errno = errno;
  gboolean queued = FALSE;

  if (self != NULL && func != NULL && !g_atomic_int_get (&self->closed))
    {
      queued = _gbridge_signal_ring_push (&self->ring, func, user_data);
      if (queued)
        _gbridge_io_loop_wake_context (self);
    }
  errno = saved_errno;
  return queued;
}

/**
 * gbridge_io_loop_add_signal_handler:
 * @self: a #GbridgeIOLoop
 * @signum: a Unix signal number that can be caught (not `SIGKILL` or
 *   `SIGSTOP`)
 * @func: (scope notified) (closure user_data) (destroy destroy): the handler
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data when the handler is removed
 * @error: return location for a #GError
 *
 * Calls @func on the loop, as an ordinary callback, each time @signum is
 * delivered; several deliveries between two iterations call it once. The
 * signal's previous disposition is saved and restored by
 * gbridge_io_loop_remove_signal_handler().
 *
 * One loop at a time handles a given signal. Adding a handler for a signal
 * this loop already handles replaces the handler.
 *
 * On failure, @destroy is called on @user_data before returning.
 *
 * Returns: %TRUE on success; %FALSE with @error set if the signal cannot be
 *   caught (%GBRIDGE_IO_LOOP_ERROR_INVALID_SIGNAL), another loop handles it
 *   (%GBRIDGE_IO_LOOP_ERROR_EXISTS), or the loop is closed
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_add_signal_handler (GbridgeIOLoop      *self,
                                    int                 signum,
                                    GbridgeSignalFunc   func,
                                    gpointer            user_data,
                                    GDestroyNotify      destroy,
                                    GError            **error)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (refuse_if_closed (self, user_data, destroy, error))
    return FALSE;

  if (!_gbridge_signal_add (self, self->context, &self->signals_pending, signum,
                            func, user_data, destroy, error))
    {
      refuse (user_data, destroy);
      return FALSE;
    }

  return TRUE;
}

/**
 * gbridge_io_loop_remove_signal_handler:
 * @self: a #GbridgeIOLoop
 * @signum: a Unix signal number
 *
 * Removes the handler of @signum, restores the disposition the signal had
 * before gbridge_io_loop_add_signal_handler(), and calls the handler's
 * destroy-notify.
 *
 * Returns: %TRUE if @self handled @signum
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_remove_signal_handler (GbridgeIOLoop *self,
                                       int            signum)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);

  return _gbridge_signal_remove (self, signum);
}

