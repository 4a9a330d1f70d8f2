/* gbridge-io-loop-timers.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-io-loop-impl-private.h"

#include <math.h>

#ifdef HAVE_TIMERFD
# include <sys/timerfd.h>
#endif

/* Timeouts: the timer heap (gbridge-timer-heap.c), the timerfd that wakes
 * the loop for the earliest deadline, and the loop's clock. */

static inline gint64
seconds_to_us (double seconds)
{
  double us = seconds * G_USEC_PER_SEC;

  if (us >= (double) G_MAXINT64 / 2)
    return G_MAXINT64 / 2;
  if (us <= (double) G_MININT64 / 2)
    return G_MININT64 / 2;
  return (gint64) llround (us);
}

void
_gbridge_io_loop_arm_timer (GbridgeIOLoop *self,
           gint64         deadline,
           gint          *timeout)
{
#ifdef HAVE_TIMERFD
  if (self->timer_fd < 0)
    {
      self->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
      if (self->timer_fd >= 0)
        self->timer_tag = g_source_add_unix_fd (self->source, self->timer_fd, G_IO_IN);
    }

  if (self->timer_fd >= 0)
    {
      if (deadline != self->armed_deadline)
        {
          struct itimerspec its = { { 0, 0 }, { 0, 0 } };

          /* g_get_monotonic_time() reads CLOCK_MONOTONIC too. */
          its.it_value.tv_sec = deadline / G_USEC_PER_SEC;
          its.it_value.tv_nsec = (deadline % G_USEC_PER_SEC) * 1000;
          if (timerfd_settime (self->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
            self->armed_deadline = deadline;
        }
      if (self->armed_deadline == deadline)
        return;
    }
#endif

  /* No timerfd: let GLib wake us, rounding up to whole milliseconds. */
  {
    gint64 wait_us = deadline - g_get_monotonic_time ();
    gint64 wait_ms = (wait_us + 999) / 1000;

    *timeout = (gint) CLAMP (wait_ms, 0, G_MAXINT);
  }
}

/**
 * gbridge_io_loop_time:
 * @self: a #GbridgeIOLoop
 *
 * Gets the loop's clock: monotonic seconds (g_get_monotonic_time() in
 * seconds), never the wall clock, or the virtual clock of
 * gbridge_io_loop_use_virtual_clock(). Deadlines of
 * gbridge_io_loop_call_at() are on this clock.
 *
 * Returns: the loop's time in seconds
 *
 * Since: 1.0
 */
double
gbridge_io_loop_time (GbridgeIOLoop *self)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), 0.0);

  return loop_now_us (self) / (double) G_USEC_PER_SEC;
}

static guint64
add_timer_us (GbridgeIOLoop   *self,
              gint64           deadline,
              GbridgeCallback  func,
              gpointer         user_data,
              GDestroyNotify   destroy)
{
  if (self->closed)
    {
      refuse (user_data, destroy);
      return 0;
    }

  return _gbridge_timer_heap_add (&self->timers, deadline, func, user_data, destroy);
}

/**
 * gbridge_io_loop_call_at:
 * @self: a #GbridgeIOLoop
 * @when: a deadline on the loop's clock, see gbridge_io_loop_time()
 * @func: (scope notified) (closure user_data) (destroy destroy): the callback
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data after @func ran, or when the
 *   timeout is removed
 *
 * Calls @func once the loop's clock reaches @when. Timeouts with equal
 * deadlines run in the order they were added.
 *
 * The handle may be ignored: the loop frees the timeout once it ran.
 *
 * Returns: a handle for gbridge_io_loop_remove_timeout(), never 0; 0 if the
 *   loop is closed, in which case @destroy was called on @user_data
 *
 * Since: 1.0
 */
guint64
gbridge_io_loop_call_at (GbridgeIOLoop   *self,
                         double           when,
                         GbridgeCallback  func,
                         gpointer         user_data,
                         GDestroyNotify   destroy)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), 0);
  g_return_val_if_fail (func != NULL, 0);
  g_return_val_if_fail (!isnan (when), 0);

  return add_timer_us (self, seconds_to_us (when), func, user_data, destroy);
}

/**
 * gbridge_io_loop_call_later:
 * @self: a #GbridgeIOLoop
 * @delay: seconds from now; zero or less runs @func on the next iteration
 * @func: (scope notified) (closure user_data) (destroy destroy): the callback
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data after @func ran, or when the
 *   timeout is removed
 *
 * Calls @func after @delay seconds on the loop's clock.
 *
 * Returns: a handle for gbridge_io_loop_remove_timeout(); 0 if the loop is
 *   closed, in which case @destroy was called on @user_data
 *
 * Since: 1.0
 */
guint64
gbridge_io_loop_call_later (GbridgeIOLoop   *self,
                            double           delay,
                            GbridgeCallback  func,
                            gpointer         user_data,
                            GDestroyNotify   destroy)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), 0);
  g_return_val_if_fail (func != NULL, 0);
  g_return_val_if_fail (!isnan (delay), 0);

  return add_timer_us (self, loop_now_us (self) + seconds_to_us (delay),
                       func, user_data, destroy);
}

/**
 * gbridge_io_loop_remove_timeout:
 * @self: a #GbridgeIOLoop
 * @timeout: a handle from gbridge_io_loop_call_later() or
 *   gbridge_io_loop_call_at()
 *
 * Cancels a timeout and calls its destroy-notify. Removing a timeout that
 * already ran or was removed does nothing, so a handle may be kept past its
 * timeout's life.
 *
 * Returns: %TRUE if the timeout was pending and is now removed
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_remove_timeout (GbridgeIOLoop *self,
                                guint64        timeout)
{
  GbridgeTimerCall t;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);

  if (!_gbridge_timer_heap_remove (&self->timers, timeout, &t))
    return FALSE;
  if (t.destroy != NULL)
    t.destroy (t.user_data);

  return TRUE;
}

/**
 * gbridge_io_loop_use_virtual_clock:
 * @self: a #GbridgeIOLoop
 * @now: the time to set the clock to, in seconds, not NaN; beyond
 *   ±`G_MAXINT64 / 2` microseconds it is clamped to that bound
 *
 * Switches the loop to a virtual clock, for tests: gbridge_io_loop_time()
 * returns @now, and the clock moves only when gbridge_io_loop_advance_clock()
 * or this function moves it. Timeouts run once the virtual clock reaches
 * their deadline, so timer arithmetic can be asserted exactly without
 * sleeping. Call it before adding timeouts. Calling it again sets the
 * virtual clock to @now, backwards too.
 *
 * Since: 1.0
 */
void
gbridge_io_loop_use_virtual_clock (GbridgeIOLoop *self,
                                   double         now)
{
  g_return_if_fail (GBRIDGE_IS_IO_LOOP (self));
  g_return_if_fail (!isnan (now));

  self->virtual_clock = TRUE;
  self->virtual_now = seconds_to_us (now);
  _gbridge_io_loop_wake_context (self);
}

/**
 * gbridge_io_loop_advance_clock:
 * @self: a #GbridgeIOLoop using a virtual clock
 * @seconds: how far to move the clock, in seconds: zero or more, and not
 *   NaN; `INFINITY` moves it to its maximum
 *
 * Moves the virtual clock of gbridge_io_loop_use_virtual_clock() forward;
 * the timeouts that become due run on the next iteration.
 *
 * The virtual clock only moves forward here: a negative or NaN @seconds is
 * a programmer error, and the clock does not move (use
 * gbridge_io_loop_use_virtual_clock() to set it backwards). The clock
 * counts whole microseconds and saturates at its maximum,
 * `G_MAXINT64 / 2` microseconds (about 4.6 × 10^12 seconds, some 146,000
 * years): advancing past it leaves the clock there, never wrapping to a
 * negative time.
 *
 * Since: 1.0
 */
void
gbridge_io_loop_advance_clock (GbridgeIOLoop *self,
                               double         seconds)
{
  gint64 step;

  g_return_if_fail (GBRIDGE_IS_IO_LOOP (self));
  g_return_if_fail (self->virtual_clock);
  g_return_if_fail (seconds >= 0);  /* false for NaN too */

  /* seconds_to_us() saturates at G_MAXINT64 / 2, and virtual_now is at
   * least G_MININT64 / 2, so the subtraction cannot overflow. */
  step = seconds_to_us (seconds);
  if (step > G_MAXINT64 / 2 - self->virtual_now)
    self->virtual_now = G_MAXINT64 / 2;
  else
    self->virtual_now += step;
  _gbridge_io_loop_wake_context (self);
}

