/* gbridge-future.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-future-private.h"
#include "gbridge-io-loop-private.h"

#include <glib/gi18n-lib.h>

#include <pthread.h>

/**
 * SECTION:gbridge-future
 * @title: GbridgeFuture
 * @short_description: The outcome of work that finishes later
 *
 * A #GbridgeFuture is pending, then exactly once either resolved with a
 * value (a #GValue, so any type crosses the language bindings), failed with
 * a #GError, or cancelled. It is Tornado's and asyncio's `Future` for
 * GLib: the same object is awaited from C (gbridge_io_loop_run_sync(),
 * gbridge_future_wait_async()), Vala (`yield`), Python (`await`) and GJS
 * (a promise).
 *
 * A future belongs to a #GbridgeIOLoop. It may be completed from any thread;
 * its done-callbacks (gbridge_future_add_done_callback()) always run on its
 * loop, in a later iteration than the completion, never from inside the
 * call that completed it, each exactly once and in the order they were
 * added, even when added after completion.
 *
 * A future has a #GCancellable (gbridge_future_get_cancellable()): cancelling
 * the future cancels it, and cancelling it cancels the future, so a future
 * handed to a GIO `_async()` call stops that call when cancelled.
 *
 * Completing a future twice is not a crash but a %GBRIDGE_FUTURE_ERROR_ALREADY_DONE
 * error; the first outcome stays.
 */

typedef struct
{
  GbridgeFutureCallback func;
  gpointer              user_data;
  GDestroyNotify        destroy;
} DoneCallback;

/**
 * GbridgeFuture:
 *
 * The outcome of work that finishes later. Its fields are private.
 *
 * Since: 1.0
 */

struct _GbridgeFuture
{
  GObject             parent_instance;

  GbridgeIOLoop      *loop;

  /* Everything below is protected by mutex: a pthread one, not GMutex,
   * whose futex implementation ThreadSanitizer cannot see through. */
  pthread_mutex_t     mutex;
  GbridgeFutureState  state;
  GValue              value;
  GError             *failure;
  GQueue              callbacks;           /* DoneCallback, in the order added */
  GQueue              completion_notifies; /* DoneCallback without a loop */
  GCancellable       *cancellable;
  gulong              cancelled_id;
  guint               dispatch_scheduled : 1;

  /* Set once at construction by gbridge_future_new_for_async(). */
  GType               async_value_type;
  GbridgeFinishFunc   async_finish;
};

enum {
  PROP_0,
  PROP_LOOP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (GbridgeFuture, gbridge_future, G_TYPE_OBJECT)

/**
 * gbridge_future_error_quark:
 *
 * Gets the error domain of #GbridgeFuture, %GBRIDGE_FUTURE_ERROR.
 *
 * Returns: the error domain's #GQuark
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (gbridge-future-error-quark, gbridge_future_error)

static void
done_callback_free (DoneCallback *cb,
                    gboolean      run_destroy)
{
  if (run_destroy && cb->destroy != NULL)
    cb->destroy (cb->user_data);
  g_free (cb);
}

static void
drop_callbacks (GQueue *queue)
{
  DoneCallback *cb;

  while ((cb = g_queue_pop_head (queue)))
    done_callback_free (cb, TRUE);
}

static void
gbridge_future_finalize (GObject *object)
{
  GbridgeFuture *self = (GbridgeFuture *)object;

  /* The last reference often goes in another thread than the last use:
   * a worker completes the future and drops its reference after the loop
   * thread read the state and dropped its own. GObject's atomic reference
   * count orders the two, but in an uninstrumented GLib ThreadSanitizer
   * cannot see it and reports the destruction of the mutex below as racing
   * with that read. Taking the mutex once makes everything done under it
   * visibly happen before the teardown. */
  pthread_mutex_lock (&self->mutex);
  pthread_mutex_unlock (&self->mutex);

  /* Callbacks of a future dropped while pending never run; their
   * destroy-notifies still do. */
  drop_callbacks (&self->callbacks);
  drop_callbacks (&self->completion_notifies);

  if (self->cancelled_id != 0)
    g_signal_handler_disconnect (self->cancellable, self->cancelled_id);
  g_clear_object (&self->cancellable);

  if (G_IS_VALUE (&self->value))
    g_value_unset (&self->value);
  g_clear_error (&self->failure);
  g_clear_object (&self->loop);
  pthread_mutex_destroy (&self->mutex);

  G_OBJECT_CLASS (gbridge_future_parent_class)->finalize (object);
}

static void
gbridge_future_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  GbridgeFuture *self = GBRIDGE_FUTURE (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      g_value_set_object (value, self->loop);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_future_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  GbridgeFuture *self = GBRIDGE_FUTURE (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      self->loop = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_future_constructed (GObject *object)
{
  GbridgeFuture *self = GBRIDGE_FUTURE (object);

  G_OBJECT_CLASS (gbridge_future_parent_class)->constructed (object);

  if (self->loop == NULL)
    self->loop = g_object_ref (_gbridge_io_loop_pick (NULL));
}

static void
gbridge_future_class_init (GbridgeFutureClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = gbridge_future_constructed;
  object_class->finalize = gbridge_future_finalize;
  object_class->get_property = gbridge_future_get_property;
  object_class->set_property = gbridge_future_set_property;

  /**
   * GbridgeFuture:loop:
   *
   * The loop the future's done-callbacks run on. When not given, the
   * current loop (gbridge_io_loop_get_current()) or else the default one.
   *
   * Since: 1.0
   */
  properties[PROP_LOOP] =
    g_param_spec_object ("loop", NULL, NULL,
                         GBRIDGE_TYPE_IO_LOOP,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gbridge_future_init (GbridgeFuture *self)
{
  pthread_mutex_init (&self->mutex, NULL);
  g_queue_init (&self->callbacks);
  g_queue_init (&self->completion_notifies);
}

/* Dispatching done-callbacks.
 *
 * One loop callback (a "dispatch") runs every done-callback queued when it
 * starts; done-callbacks added while it runs go to the next dispatch, so
 * they run in a later iteration, as asyncio's call_soon() would have them.
 * At most one dispatch is scheduled at a time, which keeps the callbacks in
 * the order they were added whatever thread adds them. */

typedef struct
{
  GbridgeFuture *future;
  gboolean       ran;
} Dispatch;

static void dispatch_run     (gpointer data);
static void dispatch_destroy (gpointer data);

static void
schedule_dispatch (GbridgeFuture *self)
{
  Dispatch *dispatch = g_new0 (Dispatch, 1);

  dispatch->future = g_object_ref (self);
  /* On a closed loop the destroy-notify runs at once and drops the
   * queued callbacks, each with its own destroy-notify. */
  gbridge_io_loop_add_callback (self->loop, dispatch_run, dispatch,
                                dispatch_destroy);
}

static void
take_queue (GbridgeFuture *self,
            GQueue        *out)
{
  pthread_mutex_lock (&self->mutex);
  *out = self->callbacks;
  g_queue_init (&self->callbacks);
  self->dispatch_scheduled = FALSE;
  pthread_mutex_unlock (&self->mutex);
}

static void
run_done_callback (GbridgeFuture *self,
                   DoneCallback  *cb)
{
  cb->func (self, cb->user_data);
  done_callback_free (cb, TRUE);
}

static void
dispatch_run (gpointer data)
{
  Dispatch *dispatch = data;
  GQueue batch;
  DoneCallback *cb;

  dispatch->ran = TRUE;
  take_queue (dispatch->future, &batch);
  while ((cb = g_queue_pop_head (&batch)))
    run_done_callback (dispatch->future, cb);
}

static void
dispatch_destroy (gpointer data)
{
  Dispatch *dispatch = data;

  if (!dispatch->ran)
    {
      GQueue batch;

      take_queue (dispatch->future, &batch);
      drop_callbacks (&batch);
    }
  g_object_unref (dispatch->future);
  g_free (dispatch);
}

static void
run_completion_notifies (GbridgeFuture *self,
                         GQueue        *queue)
{
  DoneCallback *cb;

  while ((cb = g_queue_pop_head (queue)))
    run_done_callback (self, cb);
}

/* Moves the future out of PENDING. @value is copied, @failure taken. */
static gboolean
complete (GbridgeFuture       *self,
          GbridgeFutureState   state,
          const GValue        *value,
          GError              *failure,
          GError             **error)
{
  g_autoptr(GCancellable) cancellable = NULL;
  GQueue notifies;
  gulong cancelled_id;
  gboolean need_dispatch;

  pthread_mutex_lock (&self->mutex);

  if (self->state != GBRIDGE_FUTURE_STATE_PENDING)
    {
      pthread_mutex_unlock (&self->mutex);
      g_clear_error (&failure);
      g_set_error_literal (error, GBRIDGE_FUTURE_ERROR,
                           GBRIDGE_FUTURE_ERROR_ALREADY_DONE,
                           _("The future is already done"));
      return FALSE;
    }

  self->state = state;
  if (value != NULL && G_IS_VALUE (value))
    {
      g_value_init (&self->value, G_VALUE_TYPE (value));
      g_value_copy (value, &self->value);
    }
  self->failure = failure;

  cancelled_id = self->cancelled_id;
  self->cancelled_id = 0;
  if (self->cancellable != NULL)
    cancellable = g_object_ref (self->cancellable);

  notifies = self->completion_notifies;
  g_queue_init (&self->completion_notifies);

  need_dispatch = !g_queue_is_empty (&self->callbacks) && !self->dispatch_scheduled;
  if (need_dispatch)
    self->dispatch_scheduled = TRUE;

  pthread_mutex_unlock (&self->mutex);

  /* Outside the lock: the cancellable's handlers and the loop may call
   * back into this future. */
  if (cancelled_id != 0)
    g_signal_handler_disconnect (cancellable, cancelled_id);
  if (state == GBRIDGE_FUTURE_STATE_CANCELLED && cancellable != NULL)
    g_cancellable_cancel (cancellable);

  if (need_dispatch)
    schedule_dispatch (self);
  run_completion_notifies (self, &notifies);

  return TRUE;
}

/* The cancellable's handler holds only a weak reference, so a pending
 * future that nobody completes can still be finalized. */
static void
on_cancellable_cancelled (GCancellable *cancellable,
                          gpointer      user_data)
{
  g_autoptr(GbridgeFuture) self = g_weak_ref_get (user_data);

  if (self != NULL)
    gbridge_future_cancel (self);
}

static void
weak_ref_free (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

static void
connect_cancellable (GbridgeFuture *self,
                     GCancellable  *cancellable)
{
  GWeakRef *ref = g_new0 (GWeakRef, 1);
  gulong id;
  gboolean done;

  g_weak_ref_init (ref, self);
  /* Runs the handler at once when @cancellable is already cancelled. */
  id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancellable_cancelled),
                              ref, weak_ref_free);
  if (id == 0)
    return;

  pthread_mutex_lock (&self->mutex);
  done = self->state != GBRIDGE_FUTURE_STATE_PENDING;
  if (!done)
    self->cancelled_id = id;
  pthread_mutex_unlock (&self->mutex);

  /* Completed while connecting: complete() found no handler to drop. */
  if (done)
    g_signal_handler_disconnect (cancellable, id);
}

/**
 * gbridge_future_new:
 *
 * Creates a pending future on the current loop (see
 * gbridge_io_loop_get_current()), or on the default loop when no loop is
 * current.
 *
 * Returns: (transfer full): a new pending #GbridgeFuture
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_new (void)
{
  return g_object_new (GBRIDGE_TYPE_FUTURE, NULL);
}

/**
 * gbridge_future_new_for_loop:
 * @loop: the loop the future's done-callbacks run on
 *
 * Creates a pending future on @loop.
 *
 * Returns: (transfer full): a new pending #GbridgeFuture
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_new_for_loop (GbridgeIOLoop *loop)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (loop), NULL);

  return g_object_new (GBRIDGE_TYPE_FUTURE, "loop", loop, NULL);
}

/**
 * gbridge_future_new_resolved:
 * @value: (nullable): the value, or %NULL for none
 *
 * Creates a future on the current or default loop that is already resolved
 * with a copy of @value.
 *
 * Returns: (transfer full): a new resolved #GbridgeFuture
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_new_resolved (const GValue *value)
{
  GbridgeFuture *self = gbridge_future_new ();

  complete (self, GBRIDGE_FUTURE_STATE_RESOLVED, value, NULL, NULL);
  return self;
}

/**
 * gbridge_future_new_failed:
 * @error: the failure
 *
 * Creates a future on the current or default loop that has already failed
 * with a copy of @error (or is cancelled, for %G_IO_ERROR_CANCELLED, as
 * with gbridge_future_fail()).
 *
 * Returns: (transfer full): a new failed #GbridgeFuture
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_new_failed (const GError *error)
{
  GbridgeFuture *self;

  g_return_val_if_fail (error != NULL, NULL);

  self = gbridge_future_new ();
  gbridge_future_fail (self, error, NULL);
  return self;
}

/**
 * gbridge_future_get_loop:
 * @self: a #GbridgeFuture
 *
 * Gets the loop the future's done-callbacks run on.
 *
 * Returns: (transfer none): the future's #GbridgeIOLoop
 *
 * Since: 1.0
 */
GbridgeIOLoop *
gbridge_future_get_loop (GbridgeFuture *self)
{
  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), NULL);

  return self->loop;
}

/**
 * gbridge_future_get_state:
 * @self: a #GbridgeFuture
 *
 * Gets the state of the future. From another thread than the one completing
 * it, the answer may be out of date as soon as it is returned, except that
 * a done future stays done.
 *
 * Returns: the #GbridgeFutureState
 *
 * Since: 1.0
 */
GbridgeFutureState
gbridge_future_get_state (GbridgeFuture *self)
{
  GbridgeFutureState state;

  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), GBRIDGE_FUTURE_STATE_PENDING);

  pthread_mutex_lock (&self->mutex);
  state = self->state;
  pthread_mutex_unlock (&self->mutex);

  return state;
}

/**
 * gbridge_future_is_done:
 * @self: a #GbridgeFuture
 *
 * Checks whether the future is resolved, failed or cancelled.
 *
 * Returns: %TRUE if the future is no longer pending
 *
 * Since: 1.0
 */
gboolean
gbridge_future_is_done (GbridgeFuture *self)
{
  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), FALSE);

  return gbridge_future_get_state (self) != GBRIDGE_FUTURE_STATE_PENDING;
}

/**
 * gbridge_future_is_cancelled:
 * @self: a #GbridgeFuture
 *
 * Checks whether the future was cancelled.
 *
 * Returns: %TRUE if the future is cancelled
 *
 * Since: 1.0
 */
gboolean
gbridge_future_is_cancelled (GbridgeFuture *self)
{
  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), FALSE);

  return gbridge_future_get_state (self) == GBRIDGE_FUTURE_STATE_CANCELLED;
}

/**
 * gbridge_future_resolve:
 * @self: a #GbridgeFuture
 * @value: (nullable): the value, copied; %NULL or an unset #GValue for none
 * @error: return location for a #GError
 *
 * Resolves the future with a copy of @value. Safe from any thread.
 *
 * Returns: %TRUE if the future was pending and is now resolved; %FALSE with
 *   %GBRIDGE_FUTURE_ERROR_ALREADY_DONE if it was already done, in which case
 *   nothing changes
 *
 * Since: 1.0
 */
gboolean
gbridge_future_resolve (GbridgeFuture  *self,
                        const GValue   *value,
                        GError        **error)
{
  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return complete (self, GBRIDGE_FUTURE_STATE_RESOLVED, value, NULL, error);
}

/**
 * gbridge_future_resolve_object:
 * @self: a #GbridgeFuture
 * @object: (type GObject) (nullable): the value, a #GObject
 * @error: return location for a #GError
 *
 * Resolves the future with @object, holding a reference to it. A shortcut
 * for gbridge_future_resolve() with a #GValue of @object's type.
 *
 * Returns: %TRUE if the future was pending and is now resolved; %FALSE with
 *   %GBRIDGE_FUTURE_ERROR_ALREADY_DONE if it was already done
 *
 * Since: 1.0
 */
gboolean
gbridge_future_resolve_object (GbridgeFuture  *self,
                               gpointer        object,
                               GError        **error)
{
  g_auto(GValue) value = G_VALUE_INIT;

  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (object == NULL || G_IS_OBJECT (object), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_value_init (&value, object != NULL ? G_OBJECT_TYPE (object) : G_TYPE_OBJECT);
  g_value_set_object (&value, object);
  return complete (self, GBRIDGE_FUTURE_STATE_RESOLVED, &value, NULL, error);
}

/**
 * gbridge_future_fail:
 * @self: a #GbridgeFuture
 * @failure: the failure, copied
 * @error: return location for a #GError
 *
 * Fails the future with a copy of @failure. Safe from any thread. A
 * @failure of %G_IO_ERROR_CANCELLED cancels the future instead, so that a
 * cancelled GIO operation gives a cancelled future.
 *
 * Returns: %TRUE if the future was pending and is now done; %FALSE with
 *   %GBRIDGE_FUTURE_ERROR_ALREADY_DONE if it was already done
 *
 * Since: 1.0
 */
gboolean
gbridge_future_fail (GbridgeFuture  *self,
                     const GError   *failure,
                     GError        **error)
{
  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (failure != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return gbridge_future_take_failure (self, g_error_copy (failure), error);
}

/**
 * gbridge_future_take_failure: (skip)
 * @self: a #GbridgeFuture
 * @failure: (transfer full): the failure
 * @error: return location for a #GError
 *
 * Like gbridge_future_fail(), but takes ownership of @failure, also when
 * the future was already done.
 *
 * Returns: %TRUE if the future was pending and is now done; %FALSE with
 *   %GBRIDGE_FUTURE_ERROR_ALREADY_DONE if it was already done
 *
 * Since: 1.0
 */
gboolean
gbridge_future_take_failure (GbridgeFuture  *self,
                             GError         *failure,
                             GError        **error)
{
  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), FALSE);
  g_return_val_if_fail (failure != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_error_matches (failure, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_error_free (failure);
      return complete (self, GBRIDGE_FUTURE_STATE_CANCELLED, NULL, NULL, error);
    }

  return complete (self, GBRIDGE_FUTURE_STATE_FAILED, NULL, failure, error);
}

/**
 * gbridge_future_cancel:
 * @self: a #GbridgeFuture
 *
 * Cancels the future if it is pending, and its #GCancellable with it. Safe
 * from any thread. Cancelling a done future does nothing, as in asyncio.
 *
 * Returns: %TRUE if the future was pending and is now cancelled
 *
 * Since: 1.0
 */
gboolean
gbridge_future_cancel (GbridgeFuture *self)
{
  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), FALSE);

  return complete (self, GBRIDGE_FUTURE_STATE_CANCELLED, NULL, NULL, NULL);
}

static gboolean
check_outcome (GbridgeFuture  *self,
               GError        **error)
{
  switch (self->state)
    {
    case GBRIDGE_FUTURE_STATE_PENDING:
      g_set_error_literal (error, GBRIDGE_FUTURE_ERROR,
                           GBRIDGE_FUTURE_ERROR_PENDING,
                           _("The future is not done yet"));
      return FALSE;

    case GBRIDGE_FUTURE_STATE_FAILED:
      g_propagate_error (error, g_error_copy (self->failure));
      return FALSE;

    case GBRIDGE_FUTURE_STATE_CANCELLED:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           _("The future was cancelled"));
      return FALSE;

    case GBRIDGE_FUTURE_STATE_RESOLVED:
    default:
      return TRUE;
    }
}

/**
 * gbridge_future_get_value:
 * @self: a #GbridgeFuture
 * @error: return location for a #GError
 *
 * Gets the value of a resolved future. The value never changes once set,
 * so the pointer stays valid as long as @self.
 *
 * Returns: (transfer none) (nullable): the value, or %NULL if the future
 *   resolved with no value or is not resolved; then @error is set with the
 *   future's failure, %G_IO_ERROR_CANCELLED if it was cancelled, or
 *   %GBRIDGE_FUTURE_ERROR_PENDING if it is not done
 *
 * Since: 1.0
 */
const GValue *
gbridge_future_get_value (GbridgeFuture  *self,
                          GError        **error)
{
  const GValue *value = NULL;

  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  pthread_mutex_lock (&self->mutex);
  if (check_outcome (self, error) && G_IS_VALUE (&self->value))
    value = &self->value;
  pthread_mutex_unlock (&self->mutex);

  return value;
}

/**
 * gbridge_future_has_value:
 * @self: a #GbridgeFuture
 *
 * Checks whether the future resolved with a value, as opposed to resolving
 * with none, failing, being cancelled or still pending.
 *
 * Returns: %TRUE if gbridge_future_get_value() returns a value
 *
 * Since: 1.0
 */
gboolean
gbridge_future_has_value (GbridgeFuture *self)
{
  gboolean ret;

  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), FALSE);

  pthread_mutex_lock (&self->mutex);
  ret = self->state == GBRIDGE_FUTURE_STATE_RESOLVED && G_IS_VALUE (&self->value);
  pthread_mutex_unlock (&self->mutex);

  return ret;
}

/**
 * gbridge_future_get_object:
 * @self: a #GbridgeFuture
 * @error: return location for a #GError
 *
 * Gets the value of a future resolved with a #GObject.
 *
 * Returns: (transfer none) (type GObject) (nullable): the object, or %NULL
 *   with @error set as for gbridge_future_get_value(), or %NULL if the
 *   value is not an object
 *
 * Since: 1.0
 */
gpointer
gbridge_future_get_object (GbridgeFuture  *self,
                           GError        **error)
{
  const GValue *value;

  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  value = gbridge_future_get_value (self, error);
  if (value == NULL || !G_VALUE_HOLDS_OBJECT (value))
    return NULL;
  return g_value_get_object (value);
}

/**
 * gbridge_future_get_failure:
 * @self: a #GbridgeFuture
 *
 * Gets the error a failed future failed with.
 *
 * Returns: (transfer none) (nullable): the failure, or %NULL if the future
 *   did not fail
 *
 * Since: 1.0
 */
const GError *
gbridge_future_get_failure (GbridgeFuture *self)
{
  const GError *failure;

  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), NULL);

  pthread_mutex_lock (&self->mutex);
  failure = self->failure;
  pthread_mutex_unlock (&self->mutex);

  return failure;
}

/**
 * gbridge_future_get_cancellable:
 * @self: a #GbridgeFuture
 *
 * Gets the future's #GCancellable, creating it on first use. Cancelling the
 * future cancels it and cancelling it cancels the future: pass it to the
 * GIO call whose outcome the future carries.
 *
 * Returns: (transfer none): the future's #GCancellable
 *
 * Since: 1.0
 */
GCancellable *
gbridge_future_get_cancellable (GbridgeFuture *self)
{
  g_autoptr(GCancellable) created = NULL;
  gboolean installed = FALSE;
  gboolean cancelled = FALSE;

  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), NULL);

  pthread_mutex_lock (&self->mutex);
  if (self->cancellable == NULL)
    {
      created = g_cancellable_new ();
      self->cancellable = g_object_ref (created);
      installed = TRUE;
      cancelled = self->state == GBRIDGE_FUTURE_STATE_CANCELLED;
    }
  pthread_mutex_unlock (&self->mutex);

  if (installed)
    {
      if (cancelled)
        g_cancellable_cancel (created);
      else
        connect_cancellable (self, created);
    }

  return self->cancellable;
}

/**
 * gbridge_future_link_cancellable:
 * @self: a #GbridgeFuture
 * @cancellable: a #GCancellable
 *
 * Makes @cancellable the future's #GCancellable (see
 * gbridge_future_get_cancellable()), so that cancelling either cancels the
 * other. Call it before anything asks for the future's cancellable, at most
 * once. If @cancellable is already cancelled, the future is cancelled now.
 *
 * Since: 1.0
 */
void
gbridge_future_link_cancellable (GbridgeFuture *self,
                                 GCancellable  *cancellable)
{
  gboolean cancelled;

  g_return_if_fail (GBRIDGE_IS_FUTURE (self));
  g_return_if_fail (G_IS_CANCELLABLE (cancellable));

  pthread_mutex_lock (&self->mutex);
  if (self->cancellable != NULL)
    {
      pthread_mutex_unlock (&self->mutex);
      g_critical ("%s: the future already has a cancellable", G_STRFUNC);
      return;
    }
  self->cancellable = g_object_ref (cancellable);
  cancelled = self->state == GBRIDGE_FUTURE_STATE_CANCELLED;
  pthread_mutex_unlock (&self->mutex);

  if (cancelled)
    g_cancellable_cancel (cancellable);
  else
    connect_cancellable (self, cancellable);
}

static DoneCallback *
done_callback_new (GbridgeFutureCallback  func,
                   gpointer               user_data,
                   GDestroyNotify         destroy)
{
  DoneCallback *cb = g_new0 (DoneCallback, 1);

  cb->func = func;
  cb->user_data = user_data;
  cb->destroy = destroy;
  return cb;
}

static void
add_done_callback (GbridgeFuture         *self,
                   GbridgeFutureCallback  func,
                   gpointer               user_data,
                   GDestroyNotify         destroy)
{
  DoneCallback *cb = done_callback_new (func, user_data, destroy);
  gboolean need_dispatch = FALSE;

  pthread_mutex_lock (&self->mutex);
  g_queue_push_tail (&self->callbacks, cb);
  if (self->state != GBRIDGE_FUTURE_STATE_PENDING && !self->dispatch_scheduled)
    {
      self->dispatch_scheduled = TRUE;
      need_dispatch = TRUE;
    }
  pthread_mutex_unlock (&self->mutex);

  if (need_dispatch)
    schedule_dispatch (self);
}

/**
 * gbridge_future_add_done_callback:
 * @self: a #GbridgeFuture
 * @func: (scope notified) (closure user_data) (destroy destroy): the
 *   callback
 * @user_data: data for @func
 * @destroy: (nullable): destroys @user_data after @func ran, or when it
 *   never will (the future was dropped while pending, or its loop closed)
 *
 * Adds a callback run with the future once it is done. Safe from any
 * thread. @func runs on the future's loop, in a later iteration than the
 * completion (never from inside gbridge_future_resolve() and friends), once,
 * after the callbacks added before it; on a future that is already done it
 * runs in a later iteration too.
 *
 * Since: 1.0
 */
void
gbridge_future_add_done_callback (GbridgeFuture         *self,
                                  GbridgeFutureCallback  func,
                                  gpointer               user_data,
                                  GDestroyNotify         destroy)
{
  g_return_if_fail (GBRIDGE_IS_FUTURE (self));
  g_return_if_fail (func != NULL);

  add_done_callback (self, func, user_data, destroy);
}

/**
 * gbridge_future_add_completion_notify:
 * @self: a #GbridgeFuture
 * @func: (scope notified) (closure user_data) (destroy destroy): the
 *   callback
 * @user_data: data for @func
 * @destroy: (nullable): destroys @user_data after @func ran, or when it
 *   never will (the future was dropped while pending)
 *
 * Adds a callback run in whatever thread completes the future, right after
 * the completion and outside any lock, or at once in the calling thread if
 * the future is already done.
 *
 * This is the hook for bridges to other loops (an asyncio loop, a Twisted
 * reactor), which hand the outcome over to their own thread; everything
 * else wants gbridge_future_add_done_callback() or
 * gbridge_io_loop_add_future().
 *
 * Since: 1.0
 */
void
gbridge_future_add_completion_notify (GbridgeFuture         *self,
                                      GbridgeFutureCallback  func,
                                      gpointer               user_data,
                                      GDestroyNotify         destroy)
{
  DoneCallback *cb;
  gboolean done;

  g_return_if_fail (GBRIDGE_IS_FUTURE (self));
  g_return_if_fail (func != NULL);

  cb = done_callback_new (func, user_data, destroy);

  pthread_mutex_lock (&self->mutex);
  done = self->state != GBRIDGE_FUTURE_STATE_PENDING;
  if (!done)
    g_queue_push_tail (&self->completion_notifies, cb);
  pthread_mutex_unlock (&self->mutex);

  if (done)
    run_done_callback (self, cb);
}

/* Copies the outcome of @source into @destination; quietly nothing when
 * @destination is already done (cancelled by its consumer, say). */
void
gbridge_future_copy_outcome (GbridgeFuture *source,
                             GbridgeFuture *destination)
{
  switch (gbridge_future_get_state (source))
    {
    case GBRIDGE_FUTURE_STATE_RESOLVED:
      complete (destination, GBRIDGE_FUTURE_STATE_RESOLVED,
                gbridge_future_get_value (source, NULL), NULL, NULL);
      break;

    case GBRIDGE_FUTURE_STATE_FAILED:
      gbridge_future_fail (destination, gbridge_future_get_failure (source), NULL);
      break;

    case GBRIDGE_FUTURE_STATE_CANCELLED:
      gbridge_future_cancel (destination);
      break;

    case GBRIDGE_FUTURE_STATE_PENDING:
    default:
      g_assert_not_reached ();
    }
}

static void
chain_cb (GbridgeFuture *source,
          gpointer       user_data)
{
  gbridge_future_copy_outcome (source, GBRIDGE_FUTURE (user_data));
}

/**
 * gbridge_future_chain:
 * @self: a #GbridgeFuture
 * @destination: the future to complete
 *
 * Completes @destination with the outcome of @self once @self is done: the
 * same value, a copy of the failure, or cancellation. Nothing happens if
 * @destination is done by then. Tornado's `chain_future`.
 *
 * Since: 1.0
 */
void
gbridge_future_chain (GbridgeFuture *self,
                      GbridgeFuture *destination)
{
  g_return_if_fail (GBRIDGE_IS_FUTURE (self));
  g_return_if_fail (GBRIDGE_IS_FUTURE (destination));
  g_return_if_fail (self != destination);

  add_done_callback (self, chain_cb, g_object_ref (destination), g_object_unref);
}

/* GIO's async pattern, into a future */

/**
 * gbridge_future_new_for_async: (skip)
 * @loop: (nullable): the loop of the future, or %NULL for the current or
 *   default loop
 * @value_type: the type of what @finish returns: an object, boxed,
 *   string, #GVariant or pointer type, %G_TYPE_BOOLEAN or %G_TYPE_INT for
 *   finish functions returning those, or %G_TYPE_NONE to drop it
 * @finish: (nullable): the operation's finish function, or %NULL to
 *   resolve with the #GAsyncResult itself
 *
 * Creates a future to be completed by a GIO `_async()` call: pass
 * gbridge_future_get_cancellable() as its cancellable,
 * gbridge_future_async_ready_callback() as its callback and a new reference
 * to the future as its user data:
 *
 * |[<!-- language="C" -->
 * GbridgeFuture *future =
 *   gbridge_future_new_for_async (NULL, G_TYPE_FILE_INPUT_STREAM,
 *                                 (GbridgeFinishFunc) g_file_read_finish);
 *
 * g_file_read_async (file, G_PRIORITY_DEFAULT,
 *                    gbridge_future_get_cancellable (future),
 *                    gbridge_future_async_ready_callback,
 *                    g_object_ref (future));
 * ]|
 *
 * The future then resolves with what @finish returns (ownership taken), or
 * fails with its error; %G_IO_ERROR_CANCELLED cancels it. For a #GTask,
 * use g_task_propagate_pointer() as @finish, or gbridge_future_new_task().
 *
 * Bindings have their own async sugar and resolve a plain future from their
 * callback with gbridge_future_resolve().
 *
 * Returns: (transfer full): a new pending #GbridgeFuture
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_new_for_async (GbridgeIOLoop     *loop,
                              GType              value_type,
                              GbridgeFinishFunc  finish)
{
  GbridgeFuture *self;

  g_return_val_if_fail (loop == NULL || GBRIDGE_IS_IO_LOOP (loop), NULL);
  g_return_val_if_fail (finish == NULL || value_type != G_TYPE_INVALID, NULL);

  self = loop != NULL ? gbridge_future_new_for_loop (loop) : gbridge_future_new ();
  self->async_finish = finish;
  self->async_value_type = value_type;
  return self;
}

static void
set_finished_value (GValue   *value,
                    GType     type,
                    gpointer  result)
{
  g_value_init (value, type);

  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_OBJECT:
    case G_TYPE_INTERFACE:
      g_value_take_object (value, result);
      break;

    case G_TYPE_BOXED:
      g_value_take_boxed (value, result);
      break;

    case G_TYPE_STRING:
      g_value_take_string (value, result);
      break;

    case G_TYPE_VARIANT:
      g_value_take_variant (value, result);
      break;

    case G_TYPE_BOOLEAN:
      /* A gboolean returned through a pointer-returning call: only the
       * low bits are the value. */
      g_value_set_boolean (value, (gboolean) GPOINTER_TO_INT (result) != 0);
      break;

    case G_TYPE_INT:
      g_value_set_int (value, GPOINTER_TO_INT (result));
      break;

    case G_TYPE_POINTER:
      g_value_set_pointer (value, result);
      break;

    default:
      g_critical ("gbridge_future_new_for_async: cannot hold a %s",
                  g_type_name (type));
      break;
    }
}

/**
 * gbridge_future_async_ready_callback: (skip)
 * @source_object: (nullable): the operation's source object
 * @result: the operation's result
 * @user_data: (transfer full): the #GbridgeFuture to complete
 *
 * A #GAsyncReadyCallback that completes the future given as @user_data,
 * consuming that reference; see gbridge_future_new_for_async(). It runs in
 * the thread-default main context of the thread that started the
 * operation, like any GIO callback.
 *
 * Since: 1.0
 */
void
gbridge_future_async_ready_callback (GObject      *source_object,
                                     GAsyncResult *result,
                                     gpointer      user_data)
{
  g_autoptr(GbridgeFuture) self = user_data;
  g_autoptr(GError) failure = NULL;
  g_auto(GValue) value = G_VALUE_INIT;
  gpointer finished;

  g_return_if_fail (GBRIDGE_IS_FUTURE (self));
  g_return_if_fail (G_IS_ASYNC_RESULT (result));

  if (self->async_finish == NULL)
    {
      g_value_init (&value, G_TYPE_ASYNC_RESULT);
      g_value_set_object (&value, result);
      gbridge_future_resolve (self, &value, NULL);
      return;
    }

  finished = self->async_finish (source_object, result, &failure);
  if (failure != NULL)
    {
      gbridge_future_take_failure (self, g_steal_pointer (&failure), NULL);
      return;
    }

  if (self->async_value_type != G_TYPE_NONE)
    set_finished_value (&value, self->async_value_type, finished);
  gbridge_future_resolve (self, &value, NULL);
}

static void
task_ready (GObject      *source_object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GbridgeFuture) self = user_data;
  g_autoptr(GError) failure = NULL;
  g_auto(GValue) value = G_VALUE_INIT;

  if (g_task_propagate_value (G_TASK (result), &value, &failure))
    gbridge_future_resolve (self, &value, NULL);
  else
    gbridge_future_take_failure (self, g_steal_pointer (&failure), NULL);
}

/**
 * gbridge_future_new_task:
 * @self: a #GbridgeFuture
 * @source_object: (type GObject) (nullable): the task's source object
 *
 * Creates a #GTask whose outcome completes @self: return it with
 * g_task_return_value() (the future resolves with that value),
 * g_task_return_error() (it fails), or a cancelled error (it is
 * cancelled). The task's cancellable is the future's, so cancelling the
 * future cancels the task. The task returns to the thread-default main
 * context of the calling thread, as every #GTask does.
 *
 * Returns: (transfer full): a new #GTask
 *
 * Since: 1.0
 */
GTask *
gbridge_future_new_task (GbridgeFuture *self,
                         gpointer       source_object)
{
  GTask *task;

  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), NULL);
  g_return_val_if_fail (source_object == NULL || G_IS_OBJECT (source_object), NULL);

  task = g_task_new (source_object, gbridge_future_get_cancellable (self),
                     task_ready, g_object_ref (self));
  g_task_set_source_tag (task, gbridge_future_new_task);
  /* The future decides cancellation, from its own state. */
  g_task_set_check_cancellable (task, FALSE);
  return task;
}
