/* gbridge-delayed-call.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-delayed-call.h"
#include "gbridge-io-loop-private.h"
#include "gbridge-reactor-private.h"

#include <math.h>

#include <glib/gi18n-lib.h>

/**
 * SECTION:gbridge-delayed-call
 * @title: GbridgeDelayedCall
 * @short_description: A call scheduled on a reactor
 *
 * #GbridgeDelayedCall is Twisted's `DelayedCall`: the handle that
 * gbridge_reactor_call_later() returns. It can be cancelled, delayed or
 * reset until it runs; doing so after it ran or was cancelled fails with
 * %GBRIDGE_REACTOR_ERROR_ALREADY_CALLED or
 * %GBRIDGE_REACTOR_ERROR_ALREADY_CANCELLED.
 *
 * The call lives in the timer heap of the reactor's #GbridgeIOLoop, so
 * scheduling, moving and cancelling cost O(log n) and no #GSource.
 */

/**
 * GbridgeDelayedCall:
 *
 * A call scheduled by gbridge_reactor_call_later(). Its fields are private.
 *
 * Since: 1.0
 */

typedef enum
{
  STATE_PENDING,
  STATE_CALLED,
  STATE_CANCELLED,
} State;

struct _GbridgeDelayedCall
{
  GObject parent_instance;

  GbridgeReactor  *reactor;   /* not owned; cleared when the reactor goes */
  GbridgeIOLoop   *loop;
  double           time;
  guint64          timer;
  State            state;
  GbridgeCallback  func;
  gpointer         user_data;
  GDestroyNotify   destroy;
};

G_DEFINE_FINAL_TYPE (GbridgeDelayedCall, gbridge_delayed_call, G_TYPE_OBJECT)

static void
release_callback (GbridgeDelayedCall *self)
{
  GDestroyNotify destroy = g_steal_pointer (&self->destroy);
  gpointer user_data = g_steal_pointer (&self->user_data);

  self->func = NULL;
  if (destroy != NULL)
    destroy (user_data);
}

static void
gbridge_delayed_call_finalize (GObject *object)
{
  GbridgeDelayedCall *self = (GbridgeDelayedCall *) object;

  release_callback (self);
  g_clear_object (&self->loop);

  G_OBJECT_CLASS (gbridge_delayed_call_parent_class)->finalize (object);
}

static void
gbridge_delayed_call_class_init (GbridgeDelayedCallClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gbridge_delayed_call_finalize;
}

static void
gbridge_delayed_call_init (GbridgeDelayedCall *self)
{
}

static void
on_timer (gpointer user_data)
{
  GbridgeDelayedCall *self = user_data;
  GbridgeReactor *reactor = self->reactor;

  self->timer = 0;
  self->state = STATE_CALLED;
  if (reactor != NULL)
    _gbridge_reactor_forget_call (reactor, self);
  self->func (self->user_data);
  release_callback (self);
}

/* The loop lets go of the timer: after it ran, after unschedule(), or
 * because the loop was closed, in which case the call is dropped as if
 * cancelled. */
static void
timer_released (gpointer user_data)
{
  GbridgeDelayedCall *self = user_data;

  if (self->timer != 0)
    {
      self->timer = 0;
      if (self->state == STATE_PENDING)
        {
          self->state = STATE_CANCELLED;
          if (self->reactor != NULL)
            _gbridge_reactor_forget_call (self->reactor, self);
          self->reactor = NULL;
          release_callback (self);
        }
    }
  g_object_unref (self);
}

static void
schedule (GbridgeDelayedCall *self)
{
  self->timer = gbridge_io_loop_call_at (self->loop, self->time, on_timer,
                                         g_object_ref (self), timer_released);
}

static void
unschedule (GbridgeDelayedCall *self)
{
  /* Removing the timer drops its reference: keep ours until we return. */
  g_object_ref (self);
  _gbridge_io_loop_clear_timeout (self->loop, &self->timer);
  g_object_unref (self);
}

GbridgeDelayedCall *
_gbridge_delayed_call_new (GbridgeReactor  *reactor,
                           GbridgeIOLoop   *loop,
                           double           when,
                           GbridgeCallback  func,
                           gpointer         user_data,
                           GDestroyNotify   destroy)
{
  GbridgeDelayedCall *self = g_object_new (GBRIDGE_TYPE_DELAYED_CALL, NULL);

  self->reactor = reactor;
  self->loop = g_object_ref (loop);
  self->time = when;
  self->func = func;
  self->user_data = user_data;
  self->destroy = destroy;
  schedule (self);
  if (self->timer == 0)
    {
      /* The loop is closed: the call is dropped, as if cancelled. */
      self->state = STATE_CANCELLED;
      self->reactor = NULL;
      release_callback (self);
    }
  return self;
}

/* The reactor goes away: cancel without telling it. */
void
_gbridge_delayed_call_drop (GbridgeDelayedCall *self)
{
  g_object_ref (self);
  self->reactor = NULL;
  if (self->state == STATE_PENDING)
    {
      self->state = STATE_CANCELLED;
      unschedule (self);
      release_callback (self);
    }
  g_object_unref (self);
}

static gboolean
check_pending (GbridgeDelayedCall  *self,
               GError             **error)
{
  if (self->state == STATE_CALLED)
    {
      g_set_error_literal (error, GBRIDGE_REACTOR_ERROR,
                           GBRIDGE_REACTOR_ERROR_ALREADY_CALLED,
                           _("The delayed call has already been called"));
      return FALSE;
    }
  if (self->state == STATE_CANCELLED)
    {
      g_set_error_literal (error, GBRIDGE_REACTOR_ERROR,
                           GBRIDGE_REACTOR_ERROR_ALREADY_CANCELLED,
                           _("The delayed call has already been cancelled"));
      return FALSE;
    }
  return TRUE;
}

/**
 * gbridge_delayed_call_get_time:
 * @self: a #GbridgeDelayedCall
 *
 * Gets the time at which @self runs (or ran), in the seconds of
 * gbridge_reactor_seconds().
 *
 * Returns: the scheduled time
 *
 * Since: 1.0
 */
double
gbridge_delayed_call_get_time (GbridgeDelayedCall *self)
{
  g_return_val_if_fail (GBRIDGE_IS_DELAYED_CALL (self), 0.0);

  return self->time;
}

/**
 * gbridge_delayed_call_is_active:
 * @self: a #GbridgeDelayedCall
 *
 * Tells whether @self is still to run: it has neither run nor been
 * cancelled.
 *
 * Returns: %TRUE if @self is pending
 *
 * Since: 1.0
 */
gboolean
gbridge_delayed_call_is_active (GbridgeDelayedCall *self)
{
  g_return_val_if_fail (GBRIDGE_IS_DELAYED_CALL (self), FALSE);

  return self->state == STATE_PENDING;
}

/**
 * gbridge_delayed_call_cancel:
 * @self: a #GbridgeDelayedCall
 * @error: return location for a #GError
 *
 * Cancels @self: its function never runs and its destroy-notify is called
 * now.
 *
 * Returns: %TRUE if cancelled; %FALSE with
 *   %GBRIDGE_REACTOR_ERROR_ALREADY_CALLED or
 *   %GBRIDGE_REACTOR_ERROR_ALREADY_CANCELLED
 *
 * Since: 1.0
 */
gboolean
gbridge_delayed_call_cancel (GbridgeDelayedCall  *self,
                             GError             **error)
{
  g_return_val_if_fail (GBRIDGE_IS_DELAYED_CALL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_pending (self, error))
    return FALSE;

  g_object_ref (self);
  self->state = STATE_CANCELLED;
  if (self->reactor != NULL)
    _gbridge_reactor_forget_call (self->reactor, self);
  unschedule (self);
  release_callback (self);
  g_object_unref (self);
  return TRUE;
}

static gboolean
move (GbridgeDelayedCall  *self,
      double               when,
      GError             **error)
{
  if (!check_pending (self, error))
    return FALSE;

  g_object_ref (self);
  unschedule (self);
  self->time = when;
  schedule (self);
  g_object_unref (self);
  return TRUE;
}

/**
 * gbridge_delayed_call_delay:
 * @self: a #GbridgeDelayedCall
 * @seconds: how much later @self should run (may be negative)
 * @error: return location for a #GError
 *
 * Moves @self @seconds later than it was scheduled.
 *
 * Returns: %TRUE on success; %FALSE with
 *   %GBRIDGE_REACTOR_ERROR_ALREADY_CALLED or
 *   %GBRIDGE_REACTOR_ERROR_ALREADY_CANCELLED
 *
 * Since: 1.0
 */
gboolean
gbridge_delayed_call_delay (GbridgeDelayedCall  *self,
                            double               seconds,
                            GError             **error)
{
  g_return_val_if_fail (GBRIDGE_IS_DELAYED_CALL (self), FALSE);
  g_return_val_if_fail (!isnan (self->time + seconds), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return move (self, self->time + seconds, error);
}

/**
 * gbridge_delayed_call_reset:
 * @self: a #GbridgeDelayedCall
 * @seconds: in how many seconds from now @self should run
 * @error: return location for a #GError
 *
 * Reschedules @self @seconds from now.
 *
 * Returns: %TRUE on success; %FALSE with
 *   %GBRIDGE_REACTOR_ERROR_ALREADY_CALLED or
 *   %GBRIDGE_REACTOR_ERROR_ALREADY_CANCELLED
 *
 * Since: 1.0
 */
gboolean
gbridge_delayed_call_reset (GbridgeDelayedCall  *self,
                            double               seconds,
                            GError             **error)
{
  g_return_val_if_fail (GBRIDGE_IS_DELAYED_CALL (self), FALSE);
  g_return_val_if_fail (!isnan (seconds), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return move (self, gbridge_io_loop_time (self->loop) + seconds, error);
}
