/* bench-libuv.c: the libuv anchor (uv_poll_t, uv_timer_t).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "bench-common.h"

#include <uv.h>

typedef struct
{
  uv_loop_t      loop;
  BenchPingPong *pp;
  uv_poll_t      ping;
  uv_poll_t      pong;
  uv_timer_t    *timers;
  uv_poll_t     *idle;
} PingPong;

static char *
libuv_version (void)
{
  return g_strdup (uv_version_string ());
}

static void
check_uv (int         status,
          const char *what)
{
  if (status != 0)
    bench_fail ("%s: %s", what, uv_strerror (status));
}

static void
close_cb (uv_handle_t *handle,
          void        *arg)
{
  if (!uv_is_closing (handle))
    uv_close (handle, NULL);
}

static void
loop_free (uv_loop_t *loop)
{
  uv_walk (loop, close_cb, NULL);
  uv_run (loop, UV_RUN_DEFAULT);
  check_uv (uv_loop_close (loop), "uv_loop_close");
}

static void
never_timer_cb (uv_timer_t *timer)
{
  bench_unexpected ();
}

static void
never_poll_cb (uv_poll_t *poll,
               int        status,
               int        events)
{
  bench_unexpected ();
}

static void
ping_pong_cb (uv_poll_t *poll,
              int        status,
              int        events)
{
  PingPong *state = poll->data;
  uv_os_fd_t fd;

  check_uv (status, "ping-pong poll");
  check_uv (uv_fileno ((uv_handle_t *) poll, &fd), "uv_fileno");
  bench_ping_pong_hop (state->pp, fd);
}

static void
watch (PingPong  *state,
       uv_poll_t *poll,
       int        fd,
       uv_poll_cb func)
{
  check_uv (uv_poll_init (&state->loop, poll, fd), "uv_poll_init");
  poll->data = state;
  check_uv (uv_poll_start (poll, UV_READABLE, func), "uv_poll_start");
}

static gpointer
libuv_ping_pong_setup (BenchPingPong *pp,
                       const guint   *timer_ms,
                       guint          n_timers,
                       const int     *idle_fds,
                       guint          n_idle,
                       gboolean       idle_first)
{
  PingPong *state = g_new0 (PingPong, 1);
  guint i;

  check_uv (uv_loop_init (&state->loop), "uv_loop_init");
  state->pp = pp;
  state->idle = g_new (uv_poll_t, MAX (n_idle, 1));
  for (i = 0; idle_first && i < n_idle; i++)
    watch (state, &state->idle[i], idle_fds[i], never_poll_cb);
  watch (state, &state->ping, pp->a[0], ping_pong_cb);
  if (pp->b[0] >= 0)
    watch (state, &state->pong, pp->b[0], ping_pong_cb);
  for (i = 0; !idle_first && i < n_idle; i++)
    watch (state, &state->idle[i], idle_fds[i], never_poll_cb);

  state->timers = g_new (uv_timer_t, MAX (n_timers, 1));
  for (i = 0; i < n_timers; i++)
    {
      uv_timer_init (&state->loop, &state->timers[i]);
      uv_timer_start (&state->timers[i], never_timer_cb, timer_ms[i], 0);
    }
  return state;
}

static void
libuv_ping_pong_run (gpointer       data,
                     BenchPingPong *pp)
{
  PingPong *state = data;

  while (pp->hops < pp->target)
    uv_run (&state->loop, UV_RUN_ONCE);
}

static void
libuv_ping_pong_teardown (gpointer data)
{
  PingPong *state = data;

  loop_free (&state->loop);
  g_free (state->timers);
  g_free (state->idle);
  g_free (state);
}

/* uv_timer_init() is not timed: libuv handles are storage the caller
 * allocates and initializes once; what is timed is scheduling and
 * cancelling, uv_timer_start() and uv_timer_stop(). */
static gint64
libuv_churn_bulk (const guint *delay_ms,
                  const guint *cancel_order,
                  guint        n)
{
  uv_loop_t loop;
  uv_timer_t *timers = g_new (uv_timer_t, n);
  gint64 start, elapsed;
  guint i;

  check_uv (uv_loop_init (&loop), "uv_loop_init");
  for (i = 0; i < n; i++)
    uv_timer_init (&loop, &timers[i]);

  start = bench_now_ns ();
  for (i = 0; i < n; i++)
    uv_timer_start (&timers[i], never_timer_cb, delay_ms[i], 0);
  for (i = 0; i < n; i++)
    uv_timer_stop (&timers[cancel_order[i]]);
  elapsed = bench_now_ns () - start;

  loop_free (&loop);
  g_free (timers);
  return elapsed;
}

static gint64
libuv_churn_pair (const guint *delay_ms,
                  guint        n)
{
  uv_loop_t loop;
  uv_timer_t timer;
  gint64 start, elapsed;
  guint i;

  check_uv (uv_loop_init (&loop), "uv_loop_init");
  uv_timer_init (&loop, &timer);

  start = bench_now_ns ();
  for (i = 0; i < n; i++)
    {
      uv_timer_start (&timer, never_timer_cb, delay_ms[i], 0);
      uv_timer_stop (&timer);
    }
  elapsed = bench_now_ns () - start;

  loop_free (&loop);
  return elapsed;
}

typedef struct
{
  uv_timer_t   timer;
  const guint *delay_ms;
  gint64      *lateness_us;
  guint        n;
  guint        i;
  gint64       deadline;
} Lateness;

static void lateness_cb (uv_timer_t *timer);

static void
lateness_schedule (Lateness *l)
{
  /* libuv caches the loop time at the start of an iteration; refresh it
   * so the timer is set relative to now, as with the other loops. */
  uv_update_time (l->timer.loop);
  l->deadline = g_get_monotonic_time () + l->delay_ms[l->i] * 1000;
  uv_timer_start (&l->timer, lateness_cb, l->delay_ms[l->i], 0);
}

static void
lateness_cb (uv_timer_t *timer)
{
  Lateness *l = (Lateness *) timer;

  l->lateness_us[l->i] = g_get_monotonic_time () - l->deadline;
  if (++l->i < l->n)
    lateness_schedule (l);
}

static void
libuv_lateness (const guint *delay_ms,
                gint64      *lateness_us,
                guint        n)
{
  uv_loop_t loop;
  Lateness l = { .delay_ms = delay_ms, .lateness_us = lateness_us, .n = n };

  check_uv (uv_loop_init (&loop), "uv_loop_init");
  uv_timer_init (&loop, &l.timer);
  lateness_schedule (&l);
  while (l.i < n)
    uv_run (&loop, UV_RUN_ONCE);
  loop_free (&loop);
}

static const BenchImpl libuv_impl = {
  .name = "libuv",
  .version = libuv_version,
  .ping_pong_setup = libuv_ping_pong_setup,
  .ping_pong_run = libuv_ping_pong_run,
  .ping_pong_teardown = libuv_ping_pong_teardown,
  .churn_bulk = libuv_churn_bulk,
  .churn_pair = libuv_churn_pair,
  .lateness = libuv_lateness,
};

int
main (int    argc,
      char **argv)
{
  return bench_main (argc, argv, &libuv_impl);
}
