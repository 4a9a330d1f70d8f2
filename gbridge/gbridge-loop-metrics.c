/* gbridge-loop-metrics.c: what a GbridgeIOLoop measures about itself
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* dladdr() */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include "config.h"

#include "gbridge-loop-metrics-private.h"

#include <math.h>

#ifdef HAVE_DLADDR
# include <dlfcn.h>
#endif

/* The measurements of #GbridgeIOLoop, documented with its properties below
 * and in the guide ("Watching the loop"). The loop calls the hooks of this
 * file only while something is measured: each of its hooks is one branch on
 * a pointer that is NULL otherwise, and nothing here reads a clock then. */

enum {
  MPROP_METRICS_ENABLED,
  MPROP_METRICS_WINDOW,
  MPROP_SLOW_CALLBACK_THRESHOLD,
  MPROP_ITERATIONS,
  MPROP_CALLBACKS_RUN,
  MPROP_TIMERS_RUN,
  MPROP_HANDLERS_RUN,
  MPROP_BUSY_TIME,
  MPROP_IDLE_TIME,
  MPROP_UTILIZATION,
  MPROP_LAG,
  MPROP_MAX_LAG,
  N_MPROPS
};

static GParamSpec *mprops[N_MPROPS];
static guint first_mprop;

enum {
  SLOW_CALLBACK,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

#define DEFAULT_WINDOW_US G_USEC_PER_SEC

/* The loop's GbridgeLoopMetrics, as object data. */
static GQuark storage_quark;

static inline gint64
to_us (double seconds)
{
  double us = seconds * G_USEC_PER_SEC;

  if (us >= (double) G_MAXINT64 / 2)
    return G_MAXINT64 / 2;
  return (gint64) llround (us);
}

static inline double
to_seconds (gint64 us)
{
  return us / (double) G_USEC_PER_SEC;
}

/* The loop's storage, made on first use when @create; it lives as long as
 * the loop. */
static GbridgeLoopMetrics *
get_storage (GbridgeIOLoop *loop,
             gboolean       create)
{
  GbridgeLoopMetrics *m = g_object_get_qdata (G_OBJECT (loop), storage_quark);

  if (m == NULL && create)
    {
      m = g_new0 (GbridgeLoopMetrics, 1);
      m->loop = loop;
      m->window_us = DEFAULT_WINDOW_US;
      g_object_set_qdata_full (G_OBJECT (loop), storage_quark, m, g_free);
    }
  return m;
}

static void
reset (GbridgeLoopMetrics *m)
{
  m->iterations = m->callbacks = m->timers = m->handlers = 0;
  m->busy_us = m->idle_us = 0;
  m->utilization = 0;
  m->waiting = FALSE;
  m->mark = g_get_monotonic_time ();
  m->batch_collected = 0;
  m->lag_last = m->lag_max_current = m->lag_max_previous = 0;
  m->lag_bucket_start = m->mark;
}

/* Measures while metrics are enabled or slow callbacks are looked for. */
static void
update_active (GbridgeLoopMetrics *m)
{
  gboolean active = m->enabled || m->threshold_us > 0;
  GbridgeLoopMetrics *current = _gbridge_io_loop_get_metrics (m->loop);

  if (active && current == NULL)
    {
      /* Called from the loop's thread, so not from inside a wait. */
      m->waiting = FALSE;
      m->mark = g_get_monotonic_time ();
      _gbridge_io_loop_set_metrics (m->loop, m);
    }
  else if (!active && current != NULL)
    _gbridge_io_loop_set_metrics (m->loop, NULL);
}

/* Busy and idle time */

/* The time since m->mark was idle if m->waiting, else busy: adds it to the
 * totals and to the decayed average, whose weights fall by e for every
 * window of age. */
static void
account (GbridgeLoopMetrics *m,
         gint64              now)
{
  gint64 dt = now - m->mark;
  double keep;

  if (dt <= 0)
    return;
  keep = exp (-(double) dt / (double) m->window_us);
  m->utilization = m->utilization * keep + (m->waiting ? 0.0 : 1.0 - keep);
  if (m->waiting)
    m->idle_us += dt;
  else
    m->busy_us += dt;
  m->mark = now;
}

void
_gbridge_loop_metrics_wait_begin (GbridgeLoopMetrics *m)
{
  account (m, g_get_monotonic_time ());
  m->waiting = TRUE;
}

void
_gbridge_loop_metrics_wait_end (GbridgeLoopMetrics *m)
{
  if (!m->waiting)
    return;
  account (m, g_get_monotonic_time ());
  m->waiting = FALSE;
}

/* Lag */

void
_gbridge_loop_metrics_timers_due (GbridgeLoopMetrics *m,
                                  GbridgeTimerHeap   *timers,
                                  gint64              now,
                                  gboolean            virtual_clock)
{
  gint64 deadline;

  if (!_gbridge_timer_heap_peek (timers, &deadline) || deadline > now)
    return;
  /* The first due timer has the earliest deadline. On a virtual clock its
   * lateness is the virtual time past the deadline plus the real time it
   * then waits for its turn. */
  m->batch_base = now - deadline;
  m->batch_collected = virtual_clock ? g_get_monotonic_time () : now;
}

/* The largest lag is kept for the current window and the one before it. */
static void
rotate_lag (GbridgeLoopMetrics *m,
            gint64              now)
{
  gint64 age = now - m->lag_bucket_start;

  if (age < m->window_us)
    return;
  m->lag_max_previous = age < 2 * m->window_us ? m->lag_max_current : 0;
  m->lag_max_current = 0;
  m->lag_bucket_start = now;
}

static void
record_lag (GbridgeLoopMetrics *m,
            gint64              start)
{
  gint64 lag = MAX (m->batch_base + (start - m->batch_collected), 0);

  m->batch_collected = 0;
  m->lag_last = lag;
  rotate_lag (m, start);
  m->lag_max_current = MAX (m->lag_max_current, lag);
}

/* Slow callbacks */

static char *
describe_function (gpointer func)
{
#ifdef HAVE_DLADDR
  Dl_info info;

  /* Only an exact match: dladdr() gives the nearest exported symbol below
   * the address, which for a static function is some other function. */
  if (dladdr (func, &info) != 0)
    {
      if (info.dli_sname != NULL && info.dli_saddr == func)
        return g_strdup (info.dli_sname);
      if (info.dli_fname != NULL)
        {
          g_autofree char *base = g_path_get_basename (info.dli_fname);

          return g_strdup_printf ("0x%" G_GINTPTR_MODIFIER "x (%s)", (guintptr) func, base);
        }
    }
#endif
  return g_strdup_printf ("0x%" G_GINTPTR_MODIFIER "x", (guintptr) func);
}

static void
emit_slow (GbridgeLoopMetrics *m,
           const char         *name,
           gint64              duration_us)
{
  m->reports++;
  g_signal_emit (m->loop, signals[SLOW_CALLBACK], 0, name, to_seconds (duration_us));
}

/* After a timed call: reports it unless fast, or unless something it ran
 * was reported already (a report from gbridge_io_loop_report_slow_callback(),
 * or a slow callback of a nested main loop). */
static void
check_slow (GbridgeLoopMetrics *m,
            gint64              start,
            guint64             reports,
            gpointer            func)
{
  gint64 duration;
  g_autofree char *name = NULL;

  if (m->threshold_us == 0 || m->reports != reports)
    return;
  duration = g_get_monotonic_time () - start;
  if (duration < m->threshold_us)
    return;
  name = describe_function (func);
  emit_slow (m, name, duration);
}

/* Each run_*() calls the function as the loop would, counting it and, while
 * slow callbacks are looked for, timing it. */

void
_gbridge_loop_metrics_run_callback (GbridgeLoopMetrics *m,
                                    GbridgeCallback     func,
                                    gpointer            user_data)
{
  gint64 start;
  guint64 reports;

  m->callbacks++;
  if (m->threshold_us == 0)
    {
      func (user_data);
      return;
    }
  reports = m->reports;
  start = g_get_monotonic_time ();
  func (user_data);
  check_slow (m, start, reports, (gpointer) func);
}

gboolean
_gbridge_loop_metrics_run_repeating (GbridgeLoopMetrics *m,
                                     GSourceFunc         func,
                                     gpointer            user_data)
{
  gint64 start;
  guint64 reports;
  gboolean again;

  m->callbacks++;
  if (m->threshold_us == 0)
    return func (user_data);
  reports = m->reports;
  start = g_get_monotonic_time ();
  again = func (user_data);
  check_slow (m, start, reports, (gpointer) func);
  return again;
}

void
_gbridge_loop_metrics_run_timer (GbridgeLoopMetrics *m,
                                 GbridgeCallback     func,
                                 gpointer            user_data)
{
  gint64 start = 0;
  guint64 reports = m->reports;

  m->timers++;
  if (m->batch_collected != 0 || m->threshold_us > 0)
    start = g_get_monotonic_time ();
  if (m->batch_collected != 0)
    record_lag (m, start);
  func (user_data);
  if (start != 0)
    check_slow (m, start, reports, (gpointer) func);
}

void
_gbridge_loop_metrics_run_handler (GbridgeLoopMetrics *m,
                                   GbridgeIOFunc       func,
                                   int                 fd,
                                   GbridgeIOEvents     events,
                                   gpointer            user_data)
{
  gint64 start;
  guint64 reports;

  m->handlers++;
  if (m->threshold_us == 0)
    {
      func (fd, events, user_data);
      return;
    }
  reports = m->reports;
  start = g_get_monotonic_time ();
  func (fd, events, user_data);
  check_slow (m, start, reports, (gpointer) func);
}

/* Properties */

static double
read_utilization (GbridgeLoopMetrics *m)
{
  gint64 dt = g_get_monotonic_time () - m->mark;
  double keep;

  if (dt <= 0)
    return m->utilization;
  keep = exp (-(double) dt / (double) m->window_us);
  return m->utilization * keep + (m->waiting ? 0.0 : 1.0 - keep);
}

static gint64
read_max_lag (GbridgeLoopMetrics *m)
{
  rotate_lag (m, g_get_monotonic_time ());
  return MAX (m->lag_max_current, m->lag_max_previous);
}

/* The totals, with the time since the last mark. */
static gint64
read_time (GbridgeLoopMetrics *m,
           gboolean            idle)
{
  gint64 total = idle ? m->idle_us : m->busy_us;

  if (_gbridge_io_loop_get_metrics (m->loop) == m && m->waiting == idle)
    total += MAX (g_get_monotonic_time () - m->mark, 0);
  return total;
}

gboolean
_gbridge_loop_metrics_get_property (GbridgeIOLoop *loop,
                                    guint          prop_id,
                                    GValue        *value)
{
  GbridgeLoopMetrics *m;
  GbridgeLoopMetrics zero = { .window_us = DEFAULT_WINDOW_US };

  if (prop_id < first_mprop || prop_id >= first_mprop + N_MPROPS)
    return FALSE;
  m = get_storage (loop, FALSE);
  if (m == NULL)
    m = &zero;

  switch (prop_id - first_mprop)
    {
    case MPROP_METRICS_ENABLED:
      g_value_set_boolean (value, m->enabled);
      break;
    case MPROP_METRICS_WINDOW:
      g_value_set_double (value, to_seconds (m->window_us));
      break;
    case MPROP_SLOW_CALLBACK_THRESHOLD:
      g_value_set_double (value, to_seconds (m->threshold_us));
      break;
    case MPROP_ITERATIONS:
      g_value_set_uint64 (value, m->iterations);
      break;
    case MPROP_CALLBACKS_RUN:
      g_value_set_uint64 (value, m->callbacks);
      break;
    case MPROP_TIMERS_RUN:
      g_value_set_uint64 (value, m->timers);
      break;
    case MPROP_HANDLERS_RUN:
      g_value_set_uint64 (value, m->handlers);
      break;
    case MPROP_BUSY_TIME:
      g_value_set_double (value, m == &zero ? 0 : to_seconds (read_time (m, FALSE)));
      break;
    case MPROP_IDLE_TIME:
      g_value_set_double (value, m == &zero ? 0 : to_seconds (read_time (m, TRUE)));
      break;
    case MPROP_UTILIZATION:
      g_value_set_double (value, _gbridge_io_loop_get_metrics (loop) == m ?
                                 read_utilization (m) : m->utilization);
      break;
    case MPROP_LAG:
      g_value_set_double (value, to_seconds (m->lag_last));
      break;
    case MPROP_MAX_LAG:
      g_value_set_double (value, m == &zero ? 0 : to_seconds (read_max_lag (m)));
      break;
    default:
      g_assert_not_reached ();
    }
  return TRUE;
}

gboolean
_gbridge_loop_metrics_set_property (GbridgeIOLoop *loop,
                                    guint          prop_id,
                                    const GValue  *value)
{
  GbridgeLoopMetrics *m;

  if (prop_id < first_mprop || prop_id >= first_mprop + N_MPROPS)
    return FALSE;

  switch (prop_id - first_mprop)
    {
    case MPROP_METRICS_ENABLED:
      gbridge_io_loop_set_metrics_enabled (loop, g_value_get_boolean (value));
      break;
    case MPROP_METRICS_WINDOW:
      m = get_storage (loop, TRUE);
      if (m->window_us != to_us (g_value_get_double (value)))
        {
          /* The average so far keeps the weights of the old window. */
          if (_gbridge_io_loop_get_metrics (loop) == m)
            account (m, g_get_monotonic_time ());
          m->window_us = MAX (to_us (g_value_get_double (value)), 1);
          g_object_notify_by_pspec (G_OBJECT (loop), mprops[MPROP_METRICS_WINDOW]);
        }
      break;
    case MPROP_SLOW_CALLBACK_THRESHOLD:
      gbridge_io_loop_set_slow_callback_threshold (loop, g_value_get_double (value));
      break;
    default:
      g_assert_not_reached ();
    }
  return TRUE;
}

void
_gbridge_loop_metrics_class_init (GObjectClass *klass,
                                  guint         first_prop_id)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  first_mprop = first_prop_id;
  storage_quark = g_quark_from_static_string ("gbridge-loop-metrics");

  /**
   * GbridgeIOLoop:metrics-enabled:
   *
   * Whether the loop measures itself: counts its iterations, callbacks,
   * timeouts and handler calls, and times how busy it is and how late its
   * timeouts run (#GbridgeIOLoop:utilization, #GbridgeIOLoop:lag). Off by
   * default; off, the loop reads no clock for it and pays one predictable
   * branch per callback. On, it reads the clock twice per GLib iteration
   * and once per iteration that runs timeouts.
   *
   * Turning it on starts every measurement from zero; turning it off
   * freezes them (while #GbridgeIOLoop:slow-callback-threshold is above
   * 0 they go on, since looking for slow callbacks measures anyway).
   *
   * The measurements are properties that are not notified when they
   * change (they change all the time): read them, from the loop's thread,
   * when you want them, for instance from a #GbridgePeriodicCallback.
   *
   * Since: 1.0
   */
  mprops[MPROP_METRICS_ENABLED] =
    g_param_spec_boolean ("metrics-enabled", NULL, NULL, FALSE, rw);

  /**
   * GbridgeIOLoop:metrics-window:
   *
   * The time, in seconds, over which #GbridgeIOLoop:utilization averages
   * and #GbridgeIOLoop:max-lag keeps its maximum. 1 second by default.
   *
   * Since: 1.0
   */
  mprops[MPROP_METRICS_WINDOW] =
    g_param_spec_double ("metrics-window", NULL, NULL, 0.001, 86400.0, 1.0, rw);

  /**
   * GbridgeIOLoop:slow-callback-threshold:
   *
   * A callback, timeout or file descriptor handler that runs at least this
   * many seconds emits #GbridgeIOLoop::slow-callback once it returned. 0,
   * the default, looks for none. While above 0, the loop reads the clock
   * before and after each call.
   *
   * Since: 1.0
   */
  mprops[MPROP_SLOW_CALLBACK_THRESHOLD] =
    g_param_spec_double ("slow-callback-threshold", NULL, NULL, 0.0, G_MAXDOUBLE, 0.0, rw);

  /**
   * GbridgeIOLoop:iterations:
   *
   * The loop iterations run while measuring (see
   * #GbridgeIOLoop:metrics-enabled): each takes the queued callbacks, the
   * due timeouts and the ready descriptors and runs them.
   *
   * Since: 1.0
   */
  mprops[MPROP_ITERATIONS] =
    g_param_spec_uint64 ("iterations", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  /**
   * GbridgeIOLoop:callbacks-run:
   *
   * The callbacks run while measuring: those of
   * gbridge_io_loop_add_callback() (signal handlers included), and each
   * call of a repeating callback.
   *
   * Since: 1.0
   */
  mprops[MPROP_CALLBACKS_RUN] =
    g_param_spec_uint64 ("callbacks-run", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  /**
   * GbridgeIOLoop:timers-run:
   *
   * The timeouts run while measuring (a #GbridgePeriodicCallback's calls
   * included).
   *
   * Since: 1.0
   */
  mprops[MPROP_TIMERS_RUN] =
    g_param_spec_uint64 ("timers-run", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  /**
   * GbridgeIOLoop:handlers-run:
   *
   * The calls of file descriptor handlers while measuring.
   *
   * Since: 1.0
   */
  mprops[MPROP_HANDLERS_RUN] =
    g_param_spec_uint64 ("handlers-run", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  /**
   * GbridgeIOLoop:busy-time:
   *
   * The seconds the loop's thread was busy while measuring: all the time
   * it did not spend waiting in the poll of the loop's context
   * (#GbridgeIOLoop:idle-time). That includes running the loop's
   * callbacks, the other sources of the context (a GTK redraw), and
   * anything the thread did between two iterations of the context.
   *
   * Since: 1.0
   */
  mprops[MPROP_BUSY_TIME] =
    g_param_spec_double ("busy-time", NULL, NULL, 0.0, G_MAXDOUBLE, 0.0, ro);

  /**
   * GbridgeIOLoop:idle-time:
   *
   * The seconds the loop's context spent waiting for events while
   * measuring: from the loop's prepare, when it has nothing to run, to
   * its check after the poll.
   *
   * Since: 1.0
   */
  mprops[MPROP_IDLE_TIME] =
    g_param_spec_double ("idle-time", NULL, NULL, 0.0, G_MAXDOUBLE, 0.0, ro);

  /**
   * GbridgeIOLoop:utilization:
   *
   * How busy the loop's thread was lately, from 0 (always waiting) to 1
   * (never): the fraction of #GbridgeIOLoop:busy-time in an exponentially
   * decaying average, where time `t` seconds ago weighs `exp (-t / w)`
   * with `w` the #GbridgeIOLoop:metrics-window. So it follows a change
   * within about one window: after a window of steady load it is 63% of
   * the way to the new level, after three windows 95%. This is what
   * Node.js calls event loop utilization. It starts at 0 when metrics are
   * turned on.
   *
   * Since: 1.0
   */
  mprops[MPROP_UTILIZATION] =
    g_param_spec_double ("utilization", NULL, NULL, 0.0, 1.0, 0.0, ro);

  /**
   * GbridgeIOLoop:lag:
   *
   * How late, in seconds, the last timeout ran: from its deadline to the
   * moment it was called, on the loop's clock. Each iteration that runs
   * timeouts measures its first one (the one whose deadline is the
   * earliest); the others of the same iteration are later by the time the
   * ones before them took, which #GbridgeIOLoop::slow-callback reports.
   * An idle loop runs a timeout some tens of microseconds late; a loop
   * kept busy (by a long callback, or by other sources of its context)
   * runs it as late as the busy spell lasts.
   *
   * Since: 1.0
   */
  mprops[MPROP_LAG] =
    g_param_spec_double ("lag", NULL, NULL, 0.0, G_MAXDOUBLE, 0.0, ro);

  /**
   * GbridgeIOLoop:max-lag:
   *
   * The largest #GbridgeIOLoop:lag lately: over the current
   * #GbridgeIOLoop:metrics-window and the one before it, so over the last
   * one to two windows.
   *
   * Since: 1.0
   */
  mprops[MPROP_MAX_LAG] =
    g_param_spec_double ("max-lag", NULL, NULL, 0.0, G_MAXDOUBLE, 0.0, ro);

  for (guint i = 0; i < N_MPROPS; i++)
    g_object_class_install_property (klass, first_prop_id + i, mprops[i]);

  /**
   * GbridgeIOLoop::slow-callback:
   * @self: the #GbridgeIOLoop
   * @name: the callback's name
   * @duration: how long it ran, in seconds
   *
   * Emitted on the loop's thread after a callback, timeout or file
   * descriptor handler ran for at least
   * #GbridgeIOLoop:slow-callback-threshold seconds, and for each callback
   * reported with gbridge_io_loop_report_slow_callback().
   *
   * @name is, for a C function, its symbol as dladdr() finds it (so only
   * a function the dynamic symbol table exports: a static function, or
   * one of a program linked without `-rdynamic`, is named by its address
   * in hexadecimal, followed by its object file). Python callables given
   * to the `Gbridge` override (`add_callback()`, `call_later()`,
   * `call_at()`, `add_handler()`) while the threshold is above 0 are named
   * by their `__qualname__`, and the callbacks of `gbridge.asyncio` as
   * asyncio's debug mode names them: both time their callables themselves
   * and report them with gbridge_io_loop_report_slow_callback().
   *
   * A callback inside which a slow callback was reported (by
   * gbridge_io_loop_report_slow_callback(), or in a nested main loop) is
   * not reported again.
   *
   * Since: 1.0
   */
  signals[SLOW_CALLBACK] =
    g_signal_new ("slow-callback",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 2,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_DOUBLE);
}

/* Public API */

/**
 * gbridge_io_loop_set_metrics_enabled:
 * @self: a #GbridgeIOLoop
 * @enabled: whether to measure
 *
 * Sets #GbridgeIOLoop:metrics-enabled: turning it on starts every
 * measurement from zero. Call it from the loop's thread.
 *
 * Since: 1.0
 */
void
gbridge_io_loop_set_metrics_enabled (GbridgeIOLoop *self,
                                     gboolean       enabled)
{
  GbridgeLoopMetrics *m;

  g_return_if_fail (GBRIDGE_IS_IO_LOOP (self));

  enabled = !!enabled;
  m = get_storage (self, enabled);
  if (m == NULL || m->enabled == enabled)
    return;
  if (enabled)
    reset (m);
  m->enabled = enabled;
  update_active (m);
  g_object_notify_by_pspec (G_OBJECT (self), mprops[MPROP_METRICS_ENABLED]);
}

/**
 * gbridge_io_loop_get_metrics_enabled:
 * @self: a #GbridgeIOLoop
 *
 * Gets #GbridgeIOLoop:metrics-enabled.
 *
 * Returns: whether the loop measures itself
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_get_metrics_enabled (GbridgeIOLoop *self)
{
  GbridgeLoopMetrics *m;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);

  m = get_storage (self, FALSE);
  return m != NULL && m->enabled;
}

/**
 * gbridge_io_loop_set_slow_callback_threshold:
 * @self: a #GbridgeIOLoop
 * @seconds: the threshold in seconds, 0 to look for no slow callback; not
 *   negative or NaN
 *
 * Sets #GbridgeIOLoop:slow-callback-threshold. Call it from the loop's
 * thread.
 *
 * Since: 1.0
 */
void
gbridge_io_loop_set_slow_callback_threshold (GbridgeIOLoop *self,
                                             double         seconds)
{
  GbridgeLoopMetrics *m;
  gint64 us;

  g_return_if_fail (GBRIDGE_IS_IO_LOOP (self));
  g_return_if_fail (seconds >= 0);  /* false for NaN too */

  /* Any threshold above 0 is at least one microsecond. */
  us = seconds > 0 ? MAX (to_us (seconds), 1) : 0;
  m = get_storage (self, us > 0);
  if (m == NULL || m->threshold_us == us)
    return;
  m->threshold_us = us;
  update_active (m);
  g_object_notify_by_pspec (G_OBJECT (self), mprops[MPROP_SLOW_CALLBACK_THRESHOLD]);
}

/**
 * gbridge_io_loop_get_slow_callback_threshold:
 * @self: a #GbridgeIOLoop
 *
 * Gets #GbridgeIOLoop:slow-callback-threshold.
 *
 * Returns: the threshold in seconds, 0 when slow callbacks are not looked
 *   for
 *
 * Since: 1.0
 */
double
gbridge_io_loop_get_slow_callback_threshold (GbridgeIOLoop *self)
{
  GbridgeLoopMetrics *m;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), 0.0);

  m = get_storage (self, FALSE);
  return m != NULL ? to_seconds (m->threshold_us) : 0.0;
}

/**
 * gbridge_io_loop_report_slow_callback:
 * @self: a #GbridgeIOLoop
 * @name: the name of the callback
 * @duration: how long it ran, in seconds
 *
 * Reports a callback that code running inside one of the loop's callbacks
 * ran and timed itself: another event loop's queue of ready callbacks run
 * by one loop callback, or a binding's wrapper around a callable. If
 * @duration is at least #GbridgeIOLoop:slow-callback-threshold (and that is
 * above 0), emits #GbridgeIOLoop::slow-callback with @name and @duration;
 * the loop's callback that reported it is then not reported itself, so one
 * slow piece of work is reported once, under its own name.
 *
 * Time them only while the threshold is above 0, and report those that
 * reach it; this is what the Python override and `gbridge.asyncio` do.
 *
 * Since: 1.0
 */
void
gbridge_io_loop_report_slow_callback (GbridgeIOLoop *self,
                                      const char    *name,
                                      double         duration)
{
  GbridgeLoopMetrics *m;

  g_return_if_fail (GBRIDGE_IS_IO_LOOP (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (!isnan (duration));

  m = get_storage (self, FALSE);
  if (m == NULL || m->threshold_us == 0 || to_us (duration) < m->threshold_us)
    return;
  emit_slow (m, name, to_us (duration));
}
