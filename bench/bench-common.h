/* bench-common.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the three loop benchmarks (gbridge, raw GLib, libuv) share: the
 * clock, the ping-pong pipes, the idle fds, the command line and the
 * calibrated drivers.  Each bench-<impl>.c only fills in a BenchImpl with
 * the loop-specific parts and calls bench_main(); every number is then
 * measured the same way for every implementation.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The shapes of a ping-pong; one byte is always in flight.
 *
 * TWO_FDS: two pipes; the handler on a's read end forwards the byte to b
 * and the handler on b's read end forwards it back to a.  Each handler
 * makes the other watched fd ready, so each loop iteration dispatches
 * exactly one ready fd: one hop.
 *
 * ONE_FD: one pipe; only a's read end is watched, and its handler reads
 * the byte and writes the next one into a's write end (not watched).  The
 * same fd is ready again, so every hop needs a fresh wait of the loop.
 *
 * PEER: a socketpair; the loop watches a[0], a peer thread does blocking
 * read () then write () on a[1].  The handler reads the byte and writes
 * one back on a[0]; the loop then waits for the peer's answer. */
typedef enum
{
  BENCH_SHAPE_TWO_FDS,
  BENCH_SHAPE_ONE_FD,
  BENCH_SHAPE_PEER,
} BenchShape;

/* b[0] and b[1] are -1 except for BENCH_SHAPE_TWO_FDS: the setup of an
 * implementation watches b[0] only when it is an fd. */
typedef struct
{
  BenchShape shape;
  int        a[2];
  int        b[2];
  guint64    hops;
  guint64    target;
} BenchPingPong;

typedef struct _BenchImpl BenchImpl;

/* Functions returning gint64 return the elapsed time in nanoseconds of the
 * part they time themselves, so that loop creation stays outside. */
struct _BenchImpl
{
  const char *name;
  char     *(*version)            (void);

  /* Watch pp's two read ends, add @n_timers timers @timer_ms ms ahead
   * (far future: they must never fire) and watch the @n_idle @idle_fds for
   * reading (they never become ready); the idle fds before pp's if
   * @idle_first, else after them. */
  gpointer  (*ping_pong_setup)    (BenchPingPong *pp,
                                   const guint   *timer_ms,
                                   guint          n_timers,
                                   const int     *idle_fds,
                                   guint          n_idle,
                                   gboolean       idle_first);
  /* Iterate the loop until pp->hops reaches pp->target. */
  void      (*ping_pong_run)      (gpointer       state,
                                   BenchPingPong *pp);
  void      (*ping_pong_teardown) (gpointer       state);

  /* Add @n callbacks from the loop thread, then run until all ran; with
   * @in_dispatch from a callback running on the loop, else from outside
   * any dispatch (before iterating). */
  gint64    (*callbacks_batch)    (guint          n,
                                   gboolean       in_dispatch);
  /* @n callbacks, each one adding the next. */
  gint64    (*callbacks_chain)    (guint          n);

  /* The loop thread calls threads_setup() and threads_run(); each producer
   * thread calls threads_produce() once, concurrently with threads_run(). */
  gpointer  (*threads_setup)      (guint64        total);
  void      (*threads_produce)    (gpointer       state,
                                   guint          n);
  void      (*threads_run)        (gpointer       state);
  void      (*threads_teardown)   (gpointer       state);

  /* Schedule @n timers @delay_ms ahead, then cancel them all in the order
   * @cancel_order (a permutation of 0 .. n - 1). */
  gint64    (*churn_bulk)         (const guint   *delay_ms,
                                   const guint   *cancel_order,
                                   guint          n);
  /* @n times: schedule one timer, cancel it at once. */
  gint64    (*churn_pair)         (const guint   *delay_ms,
                                   guint          n);

  /* @n timers in sequence, each @delay_ms[i] after the previous fired, on
   * an otherwise idle loop; store g_get_monotonic_time() at the callback
   * minus the deadline (time of scheduling + delay) in @lateness_us. */
  void      (*lateness)           (const guint   *delay_ms,
                                   gint64        *lateness_us,
                                   guint          n);

  /* Futures (GLib: GTask).  futures_create() makes @n pending futures on
   * the loop thread, each with one done-callback; futures_complete()
   * resolves each one and drops the reference futures_create() kept, from
   * the loop thread or from a worker thread; futures_run() iterates the
   * loop thread until every callback ran. */
  gpointer  (*futures_setup)      (guint          n);
  void      (*futures_create)     (gpointer       state);
  void      (*futures_complete)   (gpointer       state);
  void      (*futures_run)        (gpointer       state);
  void      (*futures_teardown)   (gpointer       state);
};

int     bench_main          (int              argc,
                             char           **argv,
                             const BenchImpl *impl);

gint64  bench_now_ns        (void);
void    bench_ping_pong_hop (BenchPingPong   *pp,
                             int              fd);
void    bench_unexpected    (void);
void    bench_iterate_until (GMainContext    *context,
                             const guint64   *count,
                             guint64          total);
void    bench_check_loop_thread (void);
void    bench_check         (gboolean         ok,
                             const char      *what);
G_GNUC_NORETURN G_GNUC_PRINTF (1, 2)
void    bench_fail          (const char      *format,
                             ...);

G_END_DECLS
