/* bench-gbridge.c: GbridgeIOLoop, one GSource for every fd, timer and
 * callback, driven like the raw GLib anchor by g_main_context_iteration();
 * and GbridgeFuture.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "bench-common.h"

#include <gbridge/gbridge.h>

typedef struct
{
  GMainContext  *context;
  GbridgeIOLoop *loop;
  guint64        count;
  guint64        total;
} Loop;

static char *
gbridge_version (void)
{
  return g_strdup (GBRIDGE_VERSION_S);
}

/* BENCH_GBRIDGE_METRICS=on measures the cost of the loop's metrics:
 * counters, busy/idle time and lag, and every callback timed for the
 * slow-callback check (a threshold no callback reaches). bench/run runs the
 * same cases with it off, interleaved. */
static void
metrics_init (GbridgeIOLoop *loop)
{
  const char *mode = g_getenv ("BENCH_GBRIDGE_METRICS");

  if (mode == NULL || g_strcmp0 (mode, "off") == 0)
    return;
  if (g_strcmp0 (mode, "on") != 0)
    bench_fail ("BENCH_GBRIDGE_METRICS=%s: on or off", mode);
  gbridge_io_loop_set_metrics_enabled (loop, TRUE);
  gbridge_io_loop_set_slow_callback_threshold (loop, 10.0);
}

/* The loop: on a context made for it and given to it
 * (gbridge_io_loop_new_for_context()), as by default. Its wait is the
 * same as on the global default context of gbridge_io_loop_get_default(),
 * which gbridge.asyncio uses on the main thread: the loop sets the
 * context's poll function, so that GLib's wait is the loop's epoll_wait(),
 * and learns GLib's wake-up descriptor in it. BENCH_GBRIDGE_CONTEXT=default
 * runs on the default loop instead, =private on the private context of
 * gbridge_io_loop_new(); both to check that they cost the same (the
 * default loop only for the cases that make one loop per process: the
 * ping-pong shapes). */
static void
loop_init (Loop   *l,
           guint64 total)
{
  const char *mode = g_getenv ("BENCH_GBRIDGE_CONTEXT");

  if (mode == NULL || g_strcmp0 (mode, "given") == 0)
    {
      l->context = g_main_context_new ();
      l->loop = gbridge_io_loop_new_for_context (l->context);
    }
  else if (g_strcmp0 (mode, "default") == 0)
    {
      l->loop = g_object_ref (gbridge_io_loop_get_default ());
      bench_check (!gbridge_io_loop_is_closed (l->loop),
                   "BENCH_GBRIDGE_CONTEXT=default: one loop per process only");
      l->context = g_main_context_ref (gbridge_io_loop_get_context (l->loop));
    }
  else if (g_strcmp0 (mode, "private") == 0)
    {
      l->loop = gbridge_io_loop_new ();
      l->context = g_main_context_ref (gbridge_io_loop_get_context (l->loop));
    }
  else
    bench_fail ("BENCH_GBRIDGE_CONTEXT=%s: given, default or private", mode);
  metrics_init (l->loop);
  l->count = 0;
  l->total = total;
}

static void
loop_clear (Loop *l)
{
  g_autoptr(GError) error = NULL;

  if (!gbridge_io_loop_close (l->loop, FALSE, &error))
    bench_fail ("gbridge_io_loop_close: %s", error->message);
  g_clear_object (&l->loop);
  g_clear_pointer (&l->context, g_main_context_unref);
}

static void
never_cb (gpointer user_data)
{
  bench_unexpected ();
}

static void
never_fd_cb (int             fd,
             GbridgeIOEvents events,
             gpointer        user_data)
{
  bench_unexpected ();
}

/* BENCH_GBRIDGE_HANDLER_FLAGS=unchecked registers the handlers with
 * %GBRIDGE_HANDLER_FLAGS_UNCHECKED: the contract of libuv's uv_poll_t and of
 * asyncio's loops (a handler is removed before its descriptor is closed),
 * without the epoll_ctl() per call with which gbridge_io_loop_add_handler()
 * checks that the number still names the file it registered. bench/run
 * runs the one-fd and real-peer cases both ways, interleaved. */
static GbridgeHandlerFlags
handler_flags (void)
{
  const char *mode = g_getenv ("BENCH_GBRIDGE_HANDLER_FLAGS");

  if (mode == NULL || g_strcmp0 (mode, "checked") == 0)
    return GBRIDGE_HANDLER_FLAGS_NONE;
  if (g_strcmp0 (mode, "unchecked") != 0)
    bench_fail ("BENCH_GBRIDGE_HANDLER_FLAGS=%s: checked or unchecked", mode);
  return GBRIDGE_HANDLER_FLAGS_UNCHECKED;
}

static void
watch (Loop         *l,
       int           fd,
       GbridgeIOFunc func,
       gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!gbridge_io_loop_add_handler_full (l->loop, fd, GBRIDGE_IO_EVENTS_READ,
                                         handler_flags (), func, user_data,
                                         NULL, &error))
    bench_fail ("gbridge_io_loop_add_handler_full (%d): %s", fd,
                error->message);
}

static guint64
call_later_ms (Loop           *l,
               guint           ms,
               GbridgeCallback func,
               gpointer        user_data)
{
  guint64 timeout = gbridge_io_loop_call_later (l->loop, ms / 1000.0, func,
                                                user_data, NULL);

  bench_check (timeout != 0, "gbridge_io_loop_call_later returned 0");
  return timeout;
}

static void
ping_pong_cb (int             fd,
              GbridgeIOEvents events,
              gpointer        user_data)
{
  bench_check (events == GBRIDGE_IO_EVENTS_READ,
               "ping-pong handler called without READ or with ERROR");
  bench_ping_pong_hop (user_data, fd);
}

static gpointer
gbridge_ping_pong_setup (BenchPingPong *pp,
                         const guint   *timer_ms,
                         guint          n_timers,
                         const int     *idle_fds,
                         guint          n_idle,
                         gboolean       idle_first)
{
  Loop *l = g_new0 (Loop, 1);
  guint i;

  loop_init (l, 0);
  for (i = 0; idle_first && i < n_idle; i++)
    watch (l, idle_fds[i], never_fd_cb, NULL);
  watch (l, pp->a[0], ping_pong_cb, pp);
  if (pp->b[0] >= 0)
    watch (l, pp->b[0], ping_pong_cb, pp);
  for (i = 0; !idle_first && i < n_idle; i++)
    watch (l, idle_fds[i], never_fd_cb, NULL);
  for (i = 0; i < n_timers; i++)
    call_later_ms (l, timer_ms[i], never_cb, NULL);
  return l;
}

static void
gbridge_ping_pong_run (gpointer       state,
                       BenchPingPong *pp)
{
  Loop *l = state;

  while (pp->hops < pp->target)
    g_main_context_iteration (l->context, TRUE);
}

static void
gbridge_ping_pong_teardown (gpointer state)
{
  loop_clear (state);
  g_free (state);
}

static void
count_cb (gpointer user_data)
{
  Loop *l = user_data;

  l->count++;
}

static void
run_until_counted (Loop *l)
{
  bench_iterate_until (l->context, &l->count, l->total);
}

static void
add_batch_cb (gpointer user_data)
{
  Loop *l = user_data;
  guint64 i;

  for (i = 0; i < l->total; i++)
    bench_check (gbridge_io_loop_add_callback (l->loop, count_cb, l, NULL),
                 "gbridge_io_loop_add_callback refused a callback");
}

static gint64
gbridge_callbacks_batch (guint    n,
                         gboolean in_dispatch)
{
  Loop l;
  gint64 start, elapsed;

  loop_init (&l, n);
  start = bench_now_ns ();
  if (in_dispatch)
    gbridge_io_loop_add_callback (l.loop, add_batch_cb, &l, NULL);
  else
    add_batch_cb (&l);
  run_until_counted (&l);
  elapsed = bench_now_ns () - start;

  loop_clear (&l);
  return elapsed;
}

static void
chain_cb (gpointer user_data)
{
  Loop *l = user_data;

  if (++l->count < l->total)
    gbridge_io_loop_add_callback (l->loop, chain_cb, l, NULL);
}

static gint64
gbridge_callbacks_chain (guint n)
{
  Loop l;
  gint64 start, elapsed;

  loop_init (&l, n);
  start = bench_now_ns ();
  gbridge_io_loop_add_callback (l.loop, chain_cb, &l, NULL);
  run_until_counted (&l);
  elapsed = bench_now_ns () - start;

  loop_clear (&l);
  return elapsed;
}

static gpointer
gbridge_threads_setup (guint64 total)
{
  Loop *l = g_new0 (Loop, 1);

  loop_init (l, total);
  /* The loop thread owns the context throughout, as for the GLib anchor. */
  g_main_context_acquire (l->context);
  return l;
}

static void
gbridge_threads_produce (gpointer state,
                         guint    n)
{
  Loop *l = state;
  guint i;

  for (i = 0; i < n; i++)
    gbridge_io_loop_add_callback (l->loop, count_cb, l, NULL);
}

static void
gbridge_threads_run (gpointer state)
{
  run_until_counted (state);
}

static void
gbridge_threads_teardown (gpointer state)
{
  Loop *l = state;

  g_main_context_release (l->context);
  loop_clear (l);
  g_free (l);
}

static gint64
gbridge_churn_bulk (const guint *delay_ms,
                    const guint *cancel_order,
                    guint        n)
{
  Loop l;
  guint64 *timeouts = g_new (guint64, n);
  guint removed = 0;
  gint64 start, elapsed;
  guint i;

  loop_init (&l, 0);
  start = bench_now_ns ();
  for (i = 0; i < n; i++)
    timeouts[i] = gbridge_io_loop_call_later (l.loop, delay_ms[i] / 1000.0,
                                              never_cb, NULL, NULL);
  for (i = 0; i < n; i++)
    removed += gbridge_io_loop_remove_timeout (l.loop, timeouts[cancel_order[i]]);
  elapsed = bench_now_ns () - start;

  bench_check (removed == n, "gbridge_io_loop_remove_timeout missed a timer");
  g_main_context_iteration (l.context, FALSE);
  loop_clear (&l);
  g_free (timeouts);
  return elapsed;
}

static gint64
gbridge_churn_pair (const guint *delay_ms,
                    guint        n)
{
  Loop l;
  guint removed = 0;
  gint64 start, elapsed;
  guint i;

  loop_init (&l, 0);
  start = bench_now_ns ();
  for (i = 0; i < n; i++)
    {
      guint64 timeout = gbridge_io_loop_call_later (l.loop, delay_ms[i] / 1000.0,
                                                    never_cb, NULL, NULL);

      removed += gbridge_io_loop_remove_timeout (l.loop, timeout);
    }
  elapsed = bench_now_ns () - start;

  bench_check (removed == n, "gbridge_io_loop_remove_timeout missed a timer");
  g_main_context_iteration (l.context, FALSE);
  loop_clear (&l);
  return elapsed;
}

typedef struct
{
  Loop         loop;
  const guint *delay_ms;
  gint64      *lateness_us;
  guint        n;
  guint        i;
  gint64       deadline;
} Lateness;

static void lateness_cb (gpointer user_data);

static void
lateness_schedule (Lateness *l)
{
  l->deadline = g_get_monotonic_time () + l->delay_ms[l->i] * 1000;
  call_later_ms (&l->loop, l->delay_ms[l->i], lateness_cb, l);
}

static void
lateness_cb (gpointer user_data)
{
  Lateness *l = user_data;

  l->lateness_us[l->i] = g_get_monotonic_time () - l->deadline;
  if (++l->i < l->n)
    lateness_schedule (l);
}

static void
gbridge_lateness (const guint *delay_ms,
                  gint64      *lateness_us,
                  guint        n)
{
  Lateness l = { .delay_ms = delay_ms, .lateness_us = lateness_us, .n = n };

  loop_init (&l.loop, 0);
  lateness_schedule (&l);
  while (l.i < n)
    g_main_context_iteration (l.loop.context, TRUE);
  loop_clear (&l.loop);
}

/* The value every future resolves with, checked by its done-callback. */
static int future_marker;

typedef struct
{
  Loop            loop;
  GbridgeFuture **futures;
  guint           n;
} Futures;

static void
future_done_cb (GbridgeFuture *future,
                gpointer       user_data)
{
  Futures *f = user_data;
  const GValue *value = gbridge_future_get_value (future, NULL);

  bench_check (value != NULL && G_VALUE_HOLDS_POINTER (value)
               && g_value_get_pointer (value) == &future_marker,
               "a done-callback got a wrong value");
  bench_check_loop_thread ();
  f->loop.count++;
}

static gpointer
gbridge_futures_setup (guint n)
{
  Futures *f = g_new0 (Futures, 1);

  loop_init (&f->loop, n);
  f->futures = g_new0 (GbridgeFuture *, n);
  f->n = n;
  /* The loop thread owns the context throughout, as for the GTask anchor. */
  g_main_context_acquire (f->loop.context);
  return f;
}

static void
gbridge_futures_create (gpointer state)
{
  Futures *f = state;
  guint i;

  for (i = 0; i < f->n; i++)
    {
      f->futures[i] = gbridge_future_new_for_loop (f->loop.loop);
      gbridge_future_add_done_callback (f->futures[i], future_done_cb, f, NULL);
    }
}

static void
gbridge_futures_complete (gpointer state)
{
  Futures *f = state;
  GValue value = G_VALUE_INIT;
  guint i;

  g_value_init (&value, G_TYPE_POINTER);
  g_value_set_pointer (&value, &future_marker);
  for (i = 0; i < f->n; i++)
    {
      GbridgeFuture *future = g_steal_pointer (&f->futures[i]);

      bench_check (gbridge_future_resolve (future, &value, NULL),
                   "gbridge_future_resolve failed");
      g_object_unref (future);
    }
  g_value_unset (&value);
}

static void
gbridge_futures_run (gpointer state)
{
  Futures *f = state;

  run_until_counted (&f->loop);
}

static void
gbridge_futures_teardown (gpointer state)
{
  Futures *f = state;

  g_main_context_release (f->loop.context);
  loop_clear (&f->loop);
  g_free (f->futures);
  g_free (f);
}

static const BenchImpl gbridge_impl = {
  .name = "gbridge",
  .version = gbridge_version,
  .ping_pong_setup = gbridge_ping_pong_setup,
  .ping_pong_run = gbridge_ping_pong_run,
  .ping_pong_teardown = gbridge_ping_pong_teardown,
  .callbacks_batch = gbridge_callbacks_batch,
  .callbacks_chain = gbridge_callbacks_chain,
  .threads_setup = gbridge_threads_setup,
  .threads_produce = gbridge_threads_produce,
  .threads_run = gbridge_threads_run,
  .threads_teardown = gbridge_threads_teardown,
  .churn_bulk = gbridge_churn_bulk,
  .churn_pair = gbridge_churn_pair,
  .lateness = gbridge_lateness,
  .futures_setup = gbridge_futures_setup,
  .futures_create = gbridge_futures_create,
  .futures_complete = gbridge_futures_complete,
  .futures_run = gbridge_futures_run,
  .futures_teardown = gbridge_futures_teardown,
};

int
main (int    argc,
      char **argv)
{
  return bench_main (argc, argv, &gbridge_impl);
}
