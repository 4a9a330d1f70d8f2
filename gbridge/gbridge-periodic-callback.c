/* gbridge-periodic-callback.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-periodic-callback.h"
#include "gbridge-io-loop-private.h"

#include <math.h>

/**
 * SECTION:gbridge-periodic-callback
 * @title: GbridgePeriodicCallback
 * @short_description: Calls a function at a fixed period on a loop
 *
 * #GbridgePeriodicCallback is Tornado's `PeriodicCallback`: it calls a
 * function every #GbridgePeriodicCallback:interval seconds on a
 * #GbridgeIOLoop. (Tornado's `callback_time` is in milliseconds; like every
 * other time in gbridge's C API, the interval is in seconds. The Python
 * override keeps Tornado's `callback_time`, in milliseconds, as an
 * attribute.)
 *
 * The period is measured from the start of one call to the start of the
 * next, on a fixed grid anchored at gbridge_periodic_callback_start(): if a
 * call overruns, the whole cycles it missed are skipped and the next call
 * lands on the grid again. With a jitter of `j`, each period is multiplied
 * by a random factor in `[1 - j/2, 1 + j/2)`, which spreads out the calls of
 * many processes started together.
 *
 * While it is running, the loop holds a reference to the periodic callback,
 * so it keeps running even if the caller drops its own reference, as in
 * Tornado, where the loop holds a started `PeriodicCallback` through its
 * timeout. The periodic callback in turn holds its loop: a started periodic
 * callback keeps itself and its loop alive until
 * gbridge_periodic_callback_stop() (from anywhere, its own callback
 * included) or gbridge_io_loop_close(); then both go as soon as nothing
 * else holds them, and the destroy-notify of the callback's data runs once.
 *
 * The period, #GbridgePeriodicCallback:interval, is a finite number of
 * seconds greater than 0: anything else (0, a negative number, NaN,
 * infinity) is a programmer error, reported the same way by
 * gbridge_periodic_callback_new() and
 * gbridge_periodic_callback_set_interval(). To never call the
 * function, do not start the periodic callback, or stop it.
 */

/* Tornado's rule (callback_time > 0), plus finite: an infinite period
 * would make the grid arithmetic NaN. */
#define INTERVAL_IS_VALID(t) (isfinite (t) && (t) > 0)

/**
 * GbridgePeriodicCallback:
 *
 * Calls a function periodically on a #GbridgeIOLoop. Its fields are private.
 *
 * Since: 1.0
 */

struct _GbridgePeriodicCallback
{
  GObject parent_instance;

  GbridgeIOLoop   *loop;
  double           interval;
  double           jitter;
  GRand           *rand;
  GbridgeCallback  func;
  gpointer         user_data;
  GDestroyNotify   destroy;

  double           next_timeout;
  guint64          timeout;
  gboolean         running;
};

enum {
  PROP_0,
  PROP_LOOP,
  PROP_INTERVAL,
  PROP_JITTER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (GbridgePeriodicCallback, gbridge_periodic_callback, G_TYPE_OBJECT)

static void schedule_next (GbridgePeriodicCallback *self);

static void
gbridge_periodic_callback_dispose (GObject *object)
{
  GbridgePeriodicCallback *self = (GbridgePeriodicCallback *) object;

  if (self->destroy != NULL)
    {
      GDestroyNotify destroy = g_steal_pointer (&self->destroy);

      destroy (g_steal_pointer (&self->user_data));
    }
  self->func = NULL;

  G_OBJECT_CLASS (gbridge_periodic_callback_parent_class)->dispose (object);
}

static void
gbridge_periodic_callback_finalize (GObject *object)
{
  GbridgePeriodicCallback *self = (GbridgePeriodicCallback *) object;

  g_clear_object (&self->loop);
  g_clear_pointer (&self->rand, g_rand_free);

  G_OBJECT_CLASS (gbridge_periodic_callback_parent_class)->finalize (object);
}

static void
gbridge_periodic_callback_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  GbridgePeriodicCallback *self = GBRIDGE_PERIODIC_CALLBACK (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      g_value_set_object (value, self->loop);
      break;

    case PROP_INTERVAL:
      g_value_set_double (value, self->interval);
      break;

    case PROP_JITTER:
      g_value_set_double (value, self->jitter);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_periodic_callback_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  GbridgePeriodicCallback *self = GBRIDGE_PERIODIC_CALLBACK (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      self->loop = g_value_dup_object (value);
      break;

    case PROP_INTERVAL:
      gbridge_periodic_callback_set_interval (self, g_value_get_double (value));
      break;

    case PROP_JITTER:
      gbridge_periodic_callback_set_jitter (self, g_value_get_double (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_periodic_callback_constructed (GObject *object)
{
  GbridgePeriodicCallback *self = (GbridgePeriodicCallback *) object;

  G_OBJECT_CLASS (gbridge_periodic_callback_parent_class)->constructed (object);

  if (self->loop == NULL)
    self->loop = g_object_ref (_gbridge_io_loop_pick (NULL));
}

static void
gbridge_periodic_callback_class_init (GbridgePeriodicCallbackClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = gbridge_periodic_callback_constructed;
  object_class->dispose = gbridge_periodic_callback_dispose;
  object_class->finalize = gbridge_periodic_callback_finalize;
  object_class->get_property = gbridge_periodic_callback_get_property;
  object_class->set_property = gbridge_periodic_callback_set_property;

  /**
   * GbridgePeriodicCallback:loop:
   *
   * The loop the callback runs on. When %NULL at construction, the current
   * loop, or else the default loop.
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

  /**
   * GbridgePeriodicCallback:interval:
   *
   * The period, in seconds: finite and greater than 0. A change takes
   * effect from the next call.
   *
   * Since: 1.0
   */
  properties[PROP_INTERVAL] =
    g_param_spec_double ("interval", NULL, NULL,
                         G_MINDOUBLE, G_MAXDOUBLE, 1.0,
                         (G_PARAM_READWRITE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * GbridgePeriodicCallback:jitter:
   *
   * The jitter: each period is multiplied by a random factor in
   * `[1 - jitter/2, 1 + jitter/2)`. 0 means none.
   *
   * Since: 1.0
   */
  properties[PROP_JITTER] =
    g_param_spec_double ("jitter", NULL, NULL,
                         0.0, 2.0, 0.0,
                         (G_PARAM_READWRITE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gbridge_periodic_callback_init (GbridgePeriodicCallback *self)
{
  self->interval = 1.0;
  self->rand = g_rand_new ();
}

static void
periodic_run (gpointer data)
{
  GbridgePeriodicCallback *self = data;

  /* The timeout that brought us here is spent. */
  self->timeout = 0;
  if (!self->running)
    return;

  self->func (self->user_data);

  /* Unless the callback restarted us, which already scheduled a call. */
  if (self->timeout == 0)
    schedule_next (self);
}

static void
update_next (GbridgePeriodicCallback *self,
             double                   now)
{
  double period = self->interval;

  if (self->jitter > 0)
    period *= 1.0 + self->jitter * (g_rand_double (self->rand) - 0.5);

  if (self->next_timeout <= now)
    /* Skip the whole cycles an overrun missed, back onto the grid. */
    self->next_timeout += (floor ((now - self->next_timeout) / period) + 1) * period;
  else
    /* The clock went backwards: still move forward by one period. */
    self->next_timeout += period;
}

static void
schedule_next (GbridgePeriodicCallback *self)
{
  if (!self->running)
    return;

  update_next (self, gbridge_io_loop_time (self->loop));
  self->timeout = gbridge_io_loop_call_at (self->loop, self->next_timeout,
                                           periodic_run, g_object_ref (self),
                                           g_object_unref);
}

/**
 * gbridge_periodic_callback_new:
 * @loop: (nullable): the loop to run on, or %NULL for the current loop (or
 *   else the default loop)
 * @interval: the period in seconds: finite and greater than 0
 * @func: (scope notified) (closure user_data) (destroy destroy): the function
 *   to call
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data when the periodic callback is
 *   disposed
 *
 * Creates a periodic callback; it does nothing until
 * gbridge_periodic_callback_start().
 *
 * Returns: (transfer full): a new #GbridgePeriodicCallback
 *
 * Since: 1.0
 */
GbridgePeriodicCallback *
gbridge_periodic_callback_new (GbridgeIOLoop   *loop,
                               double           interval,
                               GbridgeCallback  func,
                               gpointer         user_data,
                               GDestroyNotify   destroy)
{
  GbridgePeriodicCallback *self;

  g_return_val_if_fail (loop == NULL || GBRIDGE_IS_IO_LOOP (loop), NULL);
  g_return_val_if_fail (INTERVAL_IS_VALID (interval), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  self = g_object_new (GBRIDGE_TYPE_PERIODIC_CALLBACK,
                       "loop", loop,
                       "interval", interval,
                       NULL);
  self->func = func;
  self->user_data = user_data;
  self->destroy = destroy;

  return self;
}

/**
 * gbridge_periodic_callback_get_loop:
 * @self: a #GbridgePeriodicCallback
 *
 * Gets the loop the callback runs on.
 *
 * Returns: (transfer none): the #GbridgeIOLoop
 *
 * Since: 1.0
 */
GbridgeIOLoop *
gbridge_periodic_callback_get_loop (GbridgePeriodicCallback *self)
{
  g_return_val_if_fail (GBRIDGE_IS_PERIODIC_CALLBACK (self), NULL);

  return self->loop;
}

/**
 * gbridge_periodic_callback_get_interval:
 * @self: a #GbridgePeriodicCallback
 *
 * Gets the period.
 *
 * Returns: the period in seconds
 *
 * Since: 1.0
 */
double
gbridge_periodic_callback_get_interval (GbridgePeriodicCallback *self)
{
  g_return_val_if_fail (GBRIDGE_IS_PERIODIC_CALLBACK (self), 0.0);

  return self->interval;
}

/**
 * gbridge_periodic_callback_set_interval:
 * @self: a #GbridgePeriodicCallback
 * @interval: the period in seconds: finite and greater than 0
 *
 * Sets the period; it applies from the next call on. A period that is not
 * finite or not greater than 0 is a programmer error, as in
 * gbridge_periodic_callback_new().
 *
 * Since: 1.0
 */
void
gbridge_periodic_callback_set_interval (GbridgePeriodicCallback *self,
                                        double                   interval)
{
  g_return_if_fail (GBRIDGE_IS_PERIODIC_CALLBACK (self));
  g_return_if_fail (INTERVAL_IS_VALID (interval));

  if (self->interval != interval)
    {
      self->interval = interval;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INTERVAL]);
    }
}

/**
 * gbridge_periodic_callback_get_jitter:
 * @self: a #GbridgePeriodicCallback
 *
 * Gets the jitter.
 *
 * Returns: the jitter, 0 for none
 *
 * Since: 1.0
 */
double
gbridge_periodic_callback_get_jitter (GbridgePeriodicCallback *self)
{
  g_return_val_if_fail (GBRIDGE_IS_PERIODIC_CALLBACK (self), 0.0);

  return self->jitter;
}

/**
 * gbridge_periodic_callback_set_jitter:
 * @self: a #GbridgePeriodicCallback
 * @jitter: the jitter, between 0 and 2
 *
 * Sets the jitter: each period is multiplied by a random factor in
 * `[1 - jitter/2, 1 + jitter/2)`, as in Tornado.
 *
 * Since: 1.0
 */
void
gbridge_periodic_callback_set_jitter (GbridgePeriodicCallback *self,
                                      double                   jitter)
{
  g_return_if_fail (GBRIDGE_IS_PERIODIC_CALLBACK (self));
  g_return_if_fail (jitter >= 0 && jitter <= 2);

  if (self->jitter != jitter)
    {
      self->jitter = jitter;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_JITTER]);
    }
}

/**
 * gbridge_periodic_callback_set_seed:
 * @self: a #GbridgePeriodicCallback
 * @seed: a seed for the jitter's random numbers
 *
 * Seeds the random numbers of the jitter, so that a test can predict the
 * periods: they are drawn with g_rand_double() from a #GRand created with
 * g_rand_new_with_seed() with @seed, one per call.
 *
 * Since: 1.0
 */
void
gbridge_periodic_callback_set_seed (GbridgePeriodicCallback *self,
                                    guint32                  seed)
{
  g_return_if_fail (GBRIDGE_IS_PERIODIC_CALLBACK (self));

  g_rand_set_seed (self->rand, seed);
}

/**
 * gbridge_periodic_callback_start:
 * @self: a #GbridgePeriodicCallback
 *
 * Starts calling the function, first one period from now. Starting a
 * running periodic callback does nothing.
 *
 * Since: 1.0
 */
void
gbridge_periodic_callback_start (GbridgePeriodicCallback *self)
{
  g_return_if_fail (GBRIDGE_IS_PERIODIC_CALLBACK (self));

  if (self->running)
    return;

  self->running = TRUE;
  self->next_timeout = gbridge_io_loop_time (self->loop);
  schedule_next (self);
}

/**
 * gbridge_periodic_callback_stop:
 * @self: a #GbridgePeriodicCallback
 *
 * Stops calling the function. Stopping a stopped periodic callback does
 * nothing.
 *
 * Since: 1.0
 */
void
gbridge_periodic_callback_stop (GbridgePeriodicCallback *self)
{
  g_return_if_fail (GBRIDGE_IS_PERIODIC_CALLBACK (self));

  self->running = FALSE;
  _gbridge_io_loop_clear_timeout (self->loop, &self->timeout);
}

/**
 * gbridge_periodic_callback_is_running:
 * @self: a #GbridgePeriodicCallback
 *
 * Tells whether the periodic callback is started.
 *
 * Returns: %TRUE between gbridge_periodic_callback_start() and
 *   gbridge_periodic_callback_stop()
 *
 * Since: 1.0
 */
gboolean
gbridge_periodic_callback_is_running (GbridgePeriodicCallback *self)
{
  g_return_val_if_fail (GBRIDGE_IS_PERIODIC_CALLBACK (self), FALSE);

  return self->running;
}
