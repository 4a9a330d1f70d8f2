/* gbridge-future-signal.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-future-private.h"
#include "gbridge-io-loop.h"
#include "gbridge-enums.h"

#include <glib/gi18n-lib.h>
#include <glib-unix.h>

/* Futures of GObject signals, file descriptors and GSources: the future
 * resolves the first time the thing happens, and whatever was connected,
 * registered or attached for it goes away with the future's completion. */

/* Collects @n_params values into the #GValueArray a future of a signal or
 * source resolves with: the one list of #GValue that PyGObject turns into a
 * list (see gbridge_future_all()). */
G_GNUC_BEGIN_IGNORE_DEPRECATIONS
static void
resolve_with_values (GbridgeFuture *future,
                     guint          n_params,
                     const GValue  *params)
{
  g_auto(GValue) value = G_VALUE_INIT;
  GValueArray *values = g_value_array_new (n_params);

  for (guint i = 0; i < n_params; i++)
    g_value_array_append (values, &params[i]);

  g_value_init (&value, g_value_array_get_type ());
  g_value_take_boxed (&value, values);
  gbridge_future_resolve (future, &value, NULL);
}
G_GNUC_END_IGNORE_DEPRECATIONS

/* Signals.
 *
 * The handler is a closure of our own (a marshal sees every argument,
 * whatever the signal), owned by the handler alone: its invalidation means
 * the handler is gone. It shares a record with the future's completion
 * notify, which disconnects it in whatever thread completes the future.
 * The instance is only reached through a weak reference, so the
 * disconnection never touches an object being finalized: dispose destroys
 * the handler first, which invalidates the closure, which fails a future
 * that is still pending. */

typedef struct
{
  gint           ref_count;  /* g_atomic_int_*: inline, visible to TSan */
  GbridgeFuture *future;
  GWeakRef       instance;
  gpointer       instance_ptr; /* only while the instance is known alive */
  GThread       *deferring;  /* g_atomic_pointer_*: inside the invalidation's add_callback */
  gboolean       refused;    /* that add_callback refused: the loop is closed */
  gint           fired;      /* g_atomic_int_*: the first emission claims it */
} SignalWait;

static SignalWait *
signal_wait_ref (SignalWait *wait)
{
  g_atomic_int_inc (&wait->ref_count);
  return wait;
}

static void
signal_wait_unref (gpointer data)
{
  SignalWait *wait = data;

  if (g_atomic_int_dec_and_test (&wait->ref_count))
    {
      g_weak_ref_clear (&wait->instance);
      g_object_unref (wait->future);
      g_free (wait);
    }
}

static void
signal_closure_marshal (GClosure     *closure,
                        GValue       *return_value,
                        guint         n_param_values,
                        const GValue *param_values,
                        gpointer      invocation_hint,
                        gpointer      marshal_data)
{
  SignalWait *wait = closure->data;

  /* The return value is left alone: with an accumulator it was reset to
   * the type's default (FALSE, 0, NULL), without one it keeps what the
   * handler before returned. Waiting never vetoes or handles anything. */

  /* A nested or concurrent emission before the disconnection landed. */
  if (!g_atomic_int_compare_and_exchange (&wait->fired, FALSE, TRUE))
    return;

  /* param_values[0] is the instance, which the waiter has already. */
  resolve_with_values (wait->future, n_param_values - 1, param_values + 1);
}

static void
signal_fail_disposed (gpointer data)
{
  SignalWait *wait = data;
  GError *failure;

  failure = g_error_new_literal (GBRIDGE_FUTURE_ERROR,
                                 GBRIDGE_FUTURE_ERROR_DISPOSED,
                                 _("The object was disposed before it emitted the signal"));
  gbridge_future_take_failure (wait->future, failure, NULL);
}

static void
signal_disposed_destroy (gpointer data)
{
  SignalWait *wait = data;

  /* Refused at once by a closed loop, inside the invalidation: still
   * within dispose, so not now (see signal_closure_invalidated()). */
  if (g_atomic_pointer_get (&wait->deferring) == g_thread_self ())
    wait->refused = TRUE;
  /* Dropped by the loop closing since: fail now, there is no later. */
  else if (!gbridge_future_is_done (wait->future))
    signal_fail_disposed (wait);
  signal_wait_unref (wait);
}

static void
signal_instance_weak_notify (gpointer  data,
                             GObject  *where_the_object_was)
{
  SignalWait *wait = data;

  if (!gbridge_future_is_done (wait->future))
    signal_fail_disposed (wait);
  signal_wait_unref (wait);
}

static void
signal_closure_invalidated (gpointer  data,
                            GClosure *closure)
{
  SignalWait *wait = data;

  /* Disconnected after completion: the future is done, nothing happens.
   * Otherwise the instance's handlers are being destroyed (dispose). */
  if (gbridge_future_is_done (wait->future))
    return;

  /* Not from here: g_signal_handlers_destroy() is still walking the
   * handlers, and a completion notify that disconnects another handler of
   * the instance (a Python signal_stream closing) would make GLib abort.
   * The future fails from the loop once dispose is over. */
  g_atomic_pointer_set (&wait->deferring, g_thread_self ());
  gbridge_io_loop_add_callback (gbridge_future_get_loop (wait->future),
                                signal_fail_disposed, signal_wait_ref (wait),
                                signal_disposed_destroy);
  g_atomic_pointer_set (&wait->deferring, NULL);

  /* A closed loop has no later. GObject's dispose calls weak notifies
   * right after it destroyed the signal handlers, so a weak reference is
   * the end of the disposal. The instance is alive: it is disposing, or
   * someone disconnected the handler (then the failure waits for the
   * disposal). */
  if (wait->refused)
    g_object_weak_ref (wait->instance_ptr, signal_instance_weak_notify,
                       signal_wait_ref (wait));
}

static void
signal_closure_finalize (gpointer  data,
                         GClosure *closure)
{
  signal_wait_unref (data);
}

static void
signal_future_done (GbridgeFuture *future,
                    gpointer       user_data)
{
  SignalWait *wait = user_data;
  g_autoptr(GObject) instance = g_weak_ref_get (&wait->instance);

  /* Matched by the closure's data, which this notify keeps alive (so no
   * other closure can have it), not by handler id: that finds nothing,
   * silently, when dispose destroyed the handler in the meantime. */
  if (instance != NULL)
    g_signal_handlers_disconnect_matched (instance, G_SIGNAL_MATCH_DATA,
                                          0, 0, NULL, NULL, wait);
}

/**
 * gbridge_future_new_for_signal:
 * @loop: (nullable): the loop of the future, or %NULL for the current or
 *   default loop
 * @instance: (type GObject): the object that emits the signal
 * @detailed_signal: a signal name, with an optional detail, as for
 *   g_signal_connect(): `"clicked"`, `"notify::label"`
 *
 * Creates a future that resolves the next time @instance emits
 * @detailed_signal, with the signal's arguments after the instance: a
 * #GValueArray (as for gbridge_future_all()), empty for a signal without
 * arguments, which Python sees as a list and GJS reads with
 * gbridge_future_get_values(). The instance is left out: the waiter has
 * it, and the future's value does not keep it alive.
 *
 * The future connects a handler, which is disconnected once the future is
 * done, whatever completed it: the emission, gbridge_future_cancel(), or
 * anyone else. If @instance is disposed (finalized, or destroyed like a
 * `GtkWidget`) first, its handlers go and the future fails with
 * %GBRIDGE_FUTURE_ERROR_DISPOSED, from a callback on the future's loop
 * once the disposal is over (so that what the failure sets off may touch
 * the instance's other handlers), or at the end of the disposal when the
 * loop is closed. The handler holds the future, not the instance.
 *
 * The handler runs with the signal's other handlers, before the class
 * handler of a %G_SIGNAL_RUN_LAST signal, and leaves the signal's return
 * value as it finds it: the type's default (%FALSE, 0, %NULL) for a signal
 * with an accumulator, so waiting for `GtkWindow::close-request` does not
 * stop the window from closing, and the previous handler's value for one
 * without.
 *
 * The signal may be emitted in any thread: the future resolves there (a
 * future may be completed from any thread; its done-callbacks still run on
 * its loop) and the handler is disconnected there. A second emission that
 * races with the first, or runs inside it, is ignored.
 *
 * Returns: (transfer full): a new pending #GbridgeFuture
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_new_for_signal (GbridgeIOLoop *loop,
                               gpointer       instance,
                               const char    *detailed_signal)
{
  GbridgeFuture *future;
  SignalWait *wait;
  GClosure *closure;
  guint signal_id;
  GQuark detail;

  g_return_val_if_fail (loop == NULL || GBRIDGE_IS_IO_LOOP (loop), NULL);
  g_return_val_if_fail (G_IS_OBJECT (instance), NULL);
  g_return_val_if_fail (detailed_signal != NULL, NULL);

  if (!g_signal_parse_name (detailed_signal, G_OBJECT_TYPE (instance),
                            &signal_id, &detail, TRUE))
    {
      g_critical ("%s: %s has no signal \"%s\"", G_STRFUNC,
                  G_OBJECT_TYPE_NAME (instance), detailed_signal);
      return NULL;
    }

  future = loop != NULL ? gbridge_future_new_for_loop (loop) : gbridge_future_new ();

  wait = g_new0 (SignalWait, 1);
  wait->ref_count = 1;
  wait->future = g_object_ref (future);
  g_weak_ref_init (&wait->instance, instance);
  wait->instance_ptr = instance;

  /* The handler's closure holds one reference to the record, the
   * completion notify the other: the cycle through the future breaks when
   * the future completes. */
  closure = g_closure_new_simple (sizeof (GClosure), signal_wait_ref (wait));
  g_closure_set_marshal (closure, signal_closure_marshal);
  g_closure_add_invalidate_notifier (closure, wait, signal_closure_invalidated);
  g_closure_add_finalize_notifier (closure, wait, signal_closure_finalize);
  g_signal_connect_closure_by_id (instance, signal_id, detail, closure, FALSE);

  gbridge_future_add_completion_notify (future, signal_future_done, wait,
                                        signal_wait_unref);

  return future;
}

/* File descriptors: a one-shot handler on the loop. */

typedef struct
{
  gint           ref_count;  /* g_atomic_int_*: inline, visible to TSan */
  GbridgeIOLoop *loop;
  GbridgeFuture *future;
  GThread       *thread;     /* the loop's thread, which made the handler */
  int            fd;
  gboolean       registered; /* loop thread only */
} FdWait;

static FdWait *
fd_wait_ref (FdWait *wait)
{
  g_atomic_int_inc (&wait->ref_count);
  return wait;
}

static void
fd_wait_unref (gpointer data)
{
  FdWait *wait = data;

  if (g_atomic_int_dec_and_test (&wait->ref_count))
    {
      g_object_unref (wait->future);
      g_object_unref (wait->loop);
      g_free (wait);
    }
}

static void
fd_ready (int              fd,
          GbridgeIOEvents  events,
          gpointer         user_data)
{
  FdWait *wait = user_data;
  g_auto(GValue) value = G_VALUE_INIT;

  g_value_init (&value, GBRIDGE_TYPE_IO_EVENTS);
  g_value_set_flags (&value, events);
  /* Completion removes the handler, through fd_future_done(). */
  gbridge_future_resolve (wait->future, &value, NULL);
}

static void
fd_handler_destroyed (gpointer data)
{
  FdWait *wait = data;

  /* Removed by someone else (gbridge_io_loop_remove_handler(), the loop
   * closing), it will never resolve. A refusal is not a removal: the
   * future fails with the reason instead. */
  if (wait->registered)
    gbridge_future_cancel (wait->future);
  wait->registered = FALSE;
  fd_wait_unref (wait);
}

static void
fd_remove (gpointer data)
{
  FdWait *wait = data;

  /* A handler the fd got since then is someone else's. */
  if (wait->registered)
    gbridge_io_loop_remove_handler (wait->loop, wait->fd);
}

static void
fd_future_done (GbridgeFuture *future,
                gpointer       user_data)
{
  FdWait *wait = user_data;

  /* Handlers belong to the loop's thread; a cancellation from another
   * thread hands the removal over. */
  if (g_thread_self () == wait->thread)
    fd_remove (wait);
  else
    gbridge_io_loop_add_callback (wait->loop, fd_remove, fd_wait_ref (wait),
                                  fd_wait_unref);
}

/**
 * gbridge_future_new_for_fd:
 * @loop: the loop to watch @fd on
 * @fd: an open file descriptor without a handler on @loop
 * @events: the events to wait for
 *
 * Creates a future on @loop that resolves with the #GbridgeIOEvents that
 * occurred once @fd is ready for one of @events (or has an error or
 * hang-up, which is always reported). It watches @fd with a one-shot
 * handler, gbridge_io_loop_add_handler(), so the rules of handlers hold: one
 * handler per descriptor, and both this call and the cancellation of the
 * future belong to the loop's thread (a cancellation from another thread
 * removes the handler in the loop's next iteration).
 *
 * The handler is removed once the future is done, whatever completed it. If
 * it is removed first by other means (gbridge_io_loop_remove_handler(), the
 * loop closing), the future is cancelled.
 *
 * Returns: (transfer full): a new #GbridgeFuture, failed with the error of
 *   gbridge_io_loop_add_handler() if the handler could not be added:
 *   %GBRIDGE_IO_LOOP_ERROR_EXISTS if @fd already has one
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_new_for_fd (GbridgeIOLoop   *loop,
                           int              fd,
                           GbridgeIOEvents  events)
{
  g_autoptr(GError) error = NULL;
  GbridgeFuture *future;
  FdWait *wait;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (loop), NULL);
  g_return_val_if_fail (fd >= 0, NULL);

  future = gbridge_future_new_for_loop (loop);

  wait = g_new0 (FdWait, 1);
  wait->ref_count = 1;
  wait->loop = g_object_ref (loop);
  wait->future = g_object_ref (future);
  wait->thread = g_thread_self ();
  wait->fd = fd;

  /* The handler's reference; a refusal drops it through the notify. */
  if (!gbridge_io_loop_add_handler (loop, fd, events, fd_ready,
                                    fd_wait_ref (wait), fd_handler_destroyed,
                                    &error))
    {
      fd_wait_unref (wait);
      gbridge_future_fail (future, error, NULL);
      return future;
    }

  wait->registered = TRUE;

  gbridge_future_add_completion_notify (future, fd_future_done, wait,
                                        fd_wait_unref);
  return future;
}

/* GSources: a closure as the source's callback, which every source type
 * that g_source_set_closure() accepts calls with its arguments. */

typedef struct
{
  gint           ref_count;  /* g_atomic_int_*: inline, visible to TSan */
  GbridgeFuture *future;
  GSource       *source;
} SourceWait;

static SourceWait *
source_wait_ref (SourceWait *wait)
{
  g_atomic_int_inc (&wait->ref_count);
  return wait;
}

static void
source_wait_unref (gpointer data)
{
  SourceWait *wait = data;

  if (g_atomic_int_dec_and_test (&wait->ref_count))
    {
      g_object_unref (wait->future);
      g_source_unref (wait->source);
      g_free (wait);
    }
}

static void
source_closure_marshal (GClosure     *closure,
                        GValue       *return_value,
                        guint         n_param_values,
                        const GValue *param_values,
                        gpointer      invocation_hint,
                        gpointer      marshal_data)
{
  SourceWait *wait = closure->data;

  resolve_with_values (wait->future, n_param_values, param_values);
  if (return_value != NULL && G_VALUE_HOLDS_BOOLEAN (return_value))
    g_value_set_boolean (return_value, G_SOURCE_REMOVE);
}

static void
source_closure_finalize (gpointer  data,
                         GClosure *closure)
{
  SourceWait *wait = data;

  /* The source let its callback go: it fired, was destroyed by the
   * future's completion, or by someone else, which cancels the future. */
  gbridge_future_cancel (wait->future);
  source_wait_unref (wait);
}

static void
source_future_done (GbridgeFuture *future,
                    gpointer       user_data)
{
  SourceWait *wait = user_data;

  g_source_destroy (wait->source);
}

static gboolean
source_takes_closure (GSource *source)
{
  const GSourceFuncs *funcs = source->source_funcs;

  /* g_source_set_closure()'s own test, without its critical. */
  return funcs->closure_callback != NULL ||
         funcs == &g_timeout_funcs ||
         funcs == &g_idle_funcs ||
         funcs == &g_child_watch_funcs ||
         funcs == &g_io_watch_funcs ||
         funcs == &g_unix_signal_funcs ||
         funcs == &g_unix_fd_source_funcs;
}

/**
 * gbridge_future_new_for_source:
 * @loop: the loop whose #GMainContext @source is attached to
 * @source: a #GSource that is not attached yet
 *
 * Attaches @source to the context of @loop and creates a future on @loop
 * that resolves the first time @source dispatches, with the arguments its
 * callback gets, without the user data: a #GValueArray, as for
 * gbridge_future_new_for_signal(). It is empty for a timeout or an idle
 * source, holds the pid and the wait status for a child watch
 * (g_child_watch_source_new()), the descriptor and the #GIOCondition for a
 * Unix fd source (g_unix_fd_source_new()), the channel and the condition
 * for a #GIOChannel watch, the #GCancellable for a
 * g_cancellable_source_new(), the stream for a pollable stream's source,
 * and so on.
 *
 * Any source that g_source_set_closure() accepts will do: GLib's timeout,
 * idle, child watch, Unix signal, Unix fd and #GIOChannel sources and
 * every source type with a closure callback, which includes GIO's. The
 * callback @source had is replaced, and it returns %G_SOURCE_REMOVE, so
 * the source is destroyed once it fired.
 *
 * Once the future is done, whatever completed it, @source is destroyed:
 * cancelling the future stops a timeout. If @source is destroyed first by
 * other means (g_source_destroy()), the future is cancelled. The future
 * holds a reference to @source until it is done.
 *
 * Returns: (transfer full): a new pending #GbridgeFuture
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_new_for_source (GbridgeIOLoop *loop,
                               GSource       *source)
{
  GbridgeFuture *future;
  SourceWait *wait;
  GClosure *closure;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (loop), NULL);
  g_return_val_if_fail (source != NULL, NULL);
  /* Destroyed first: g_source_get_context() criticizes a destroyed
   * source that was never attached. */
  g_return_val_if_fail (!g_source_is_destroyed (source), NULL);
  g_return_val_if_fail (g_source_get_context (source) == NULL, NULL);
  g_return_val_if_fail (source_takes_closure (source), NULL);

  future = gbridge_future_new_for_loop (loop);

  wait = g_new0 (SourceWait, 1);
  wait->ref_count = 1;
  wait->future = g_object_ref (future);
  wait->source = g_source_ref (source);

  /* The closure is the source's callback, and holds the wait while the
   * source holds it. */
  closure = g_closure_new_simple (sizeof (GClosure), source_wait_ref (wait));
  g_closure_set_marshal (closure, source_closure_marshal);
  g_closure_add_finalize_notifier (closure, wait, source_closure_finalize);
  g_source_set_closure (source, closure);

  gbridge_future_add_completion_notify (future, source_future_done, wait,
                                        source_wait_unref);
  g_source_attach (source, gbridge_io_loop_get_context (loop));

  return future;
}

/**
 * gbridge_future_get_values:
 * @self: a #GbridgeFuture
 * @n_values: (out): return location for the number of values
 * @error: return location for a #GError
 *
 * Gets the values of a future resolved with a #GValueArray: a future of a
 * signal (gbridge_future_new_for_signal()), of a source
 * (gbridge_future_new_for_source()) or of several futures
 * (gbridge_future_all()), as an array of #GValue, which GJS sees as an
 * array of JavaScript values and Python as a list.
 *
 * Returns: (array length=n_values) (transfer none) (nullable): the values,
 *   which live as long as @self; %NULL with @n_values 0 if the future
 *   resolved with something else (no error then) or did not resolve (then
 *   @error is set as for gbridge_future_get_value())
 *
 * Since: 1.0
 */
G_GNUC_BEGIN_IGNORE_DEPRECATIONS
const GValue *
gbridge_future_get_values (GbridgeFuture  *self,
                           guint          *n_values,
                           GError        **error)
{
  const GValue *value;
  GValueArray *values;

  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), NULL);
  g_return_val_if_fail (n_values != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  *n_values = 0;
  value = gbridge_future_get_value (self, error);
  if (value == NULL || !G_VALUE_HOLDS (value, g_value_array_get_type ()))
    return NULL;

  values = g_value_get_boxed (value);
  if (values == NULL)
    return NULL;
  *n_values = values->n_values;
  return values->values;
}
G_GNUC_END_IGNORE_DEPRECATIONS
