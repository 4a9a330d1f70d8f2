/* gbridge-loop-metrics-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-io-loop.h"
#include "gbridge-timer-heap-private.h"

G_BEGIN_DECLS

/* What a GbridgeIOLoop measures about itself (see gbridge-loop-metrics.c).
 * The loop holds a pointer that is NULL while nothing is measured, so each
 * of its hooks costs one well-predicted branch and no clock reading then.
 * The storage itself lives as long as the loop: a callback that turns the
 * measuring off still finishes its own measurement. */
typedef struct _GbridgeLoopMetrics GbridgeLoopMetrics;

struct _GbridgeLoopMetrics
{
  GbridgeIOLoop *loop;          /* not a reference: the loop owns this */

  /* Configuration */
  gboolean enabled;             /* GbridgeIOLoop:metrics-enabled */
  gint64   window_us;           /* GbridgeIOLoop:metrics-window */
  gint64   threshold_us;        /* GbridgeIOLoop:slow-callback-threshold, 0 = off */

  /* Counters */
  guint64 iterations;
  guint64 callbacks;
  guint64 timers;
  guint64 handlers;
  guint64 reports;              /* slow callbacks reported, by anyone */

  /* Busy and idle: the time since `mark` is idle while `waiting`, else busy. */
  gint64   mark;
  gboolean waiting;
  gint64   busy_us;
  gint64   idle_us;
  double   utilization;         /* decayed average up to `mark` */

  /* Lag: the lateness of the first timer of each iteration. */
  gint64 batch_base;            /* loop clock at collection - earliest deadline */
  gint64 batch_collected;       /* real clock at collection, 0 = no batch */
  gint64 lag_last;
  gint64 lag_max_current;
  gint64 lag_max_previous;
  gint64 lag_bucket_start;
};

void     _gbridge_loop_metrics_class_init   (GObjectClass        *klass,
                                             guint                first_prop_id);
gboolean _gbridge_loop_metrics_get_property (GbridgeIOLoop       *loop,
                                             guint                prop_id,
                                             GValue              *value);
gboolean _gbridge_loop_metrics_set_property (GbridgeIOLoop       *loop,
                                             guint                prop_id,
                                             const GValue        *value);

/* The loop's active metrics, or NULL; in gbridge-io-loop.c. */
GbridgeLoopMetrics *_gbridge_io_loop_get_metrics (GbridgeIOLoop      *loop);
void                _gbridge_io_loop_set_metrics (GbridgeIOLoop      *loop,
                                                  GbridgeLoopMetrics *metrics);

/* The hooks, each called only with metrics on. */
static inline void
_gbridge_loop_metrics_iteration (GbridgeLoopMetrics *m)
{
  m->iterations++;
  m->batch_collected = 0;
}

void     _gbridge_loop_metrics_wait_begin   (GbridgeLoopMetrics  *m);
void     _gbridge_loop_metrics_wait_end     (GbridgeLoopMetrics  *m);
void     _gbridge_loop_metrics_timers_due   (GbridgeLoopMetrics  *m,
                                             GbridgeTimerHeap    *timers,
                                             gint64               now,
                                             gboolean             virtual_clock);
void     _gbridge_loop_metrics_run_callback (GbridgeLoopMetrics  *m,
                                             GbridgeCallback      func,
                                             gpointer             user_data);
gboolean _gbridge_loop_metrics_run_repeating (GbridgeLoopMetrics *m,
                                             GSourceFunc          func,
                                             gpointer             user_data);
void     _gbridge_loop_metrics_run_timer    (GbridgeLoopMetrics  *m,
                                             GbridgeCallback      func,
                                             gpointer             user_data);
void     _gbridge_loop_metrics_run_handler  (GbridgeLoopMetrics  *m,
                                             GbridgeIOFunc        func,
                                             int                  fd,
                                             GbridgeIOEvents      events,
                                             gpointer             user_data);

G_END_DECLS
