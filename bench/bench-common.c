/* bench-common.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* pipe2 () */
#define _GNU_SOURCE

#include "bench-common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A ping-pong run is sized to take about this long once calibrated. */
#define PING_PONG_TARGET_NS (200 * G_GINT64_CONSTANT (1000000))
#define PING_PONG_CALIBRATE_NS (20 * G_GINT64_CONSTANT (1000000))
#define PING_PONG_MIN_HOPS 50
#define PING_PONG_MAX_HOPS 4000000

/* Far-future timers: between one and two hours ahead. */
#define FAR_FUTURE_MS 3600000u

/* Callbacks that must never run (far-future timers, idle fds) count here;
 * any count fails the case, so a loop that fires them is caught. */
static guint64 unexpected_calls;

static guint64 rng_state = G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);

/* xorshift64*, seeded the same in every process, so that every
 * implementation gets the same delays and the same cancel order. */
static guint32
rng_next (void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (guint32) ((rng_state * G_GUINT64_CONSTANT (2685821657736338717)) >> 32);
}

gint64
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The CPU time of the whole process (every thread, user + system). */
static gint64
cpu_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
bench_fail (const char *format,
            ...)
{
  va_list args;

  fputs ("bench: FAILED: ", stderr);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
  exit (1);
}

void
bench_check (gboolean    ok,
             const char *what)
{
  if (!ok)
    bench_fail ("%s", what);
}

void
bench_unexpected (void)
{
  unexpected_calls++;
}

static void
check_no_unexpected (const char *what)
{
  if (unexpected_calls != 0)
    bench_fail ("%" G_GUINT64_FORMAT " %s ran although they never should",
                unexpected_calls, what);
}

/* 10^4 idle fds need more than the usual soft limit of 1024. */
static void
raise_nofile_limit (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
        g_printerr ("bench: setrlimit (RLIMIT_NOFILE): %s\n", g_strerror (errno));
    }
}

static void
ping_pong_init (BenchPingPong *pp,
                BenchShape     shape)
{
  memset (pp, 0, sizeof *pp);
  pp->shape = shape;
  pp->b[0] = pp->b[1] = -1;
  switch (shape)
    {
    case BENCH_SHAPE_TWO_FDS:
      if (pipe2 (pp->b, O_NONBLOCK | O_CLOEXEC) != 0)
        bench_fail ("pipe2: %s", g_strerror (errno));
      G_GNUC_FALLTHROUGH;
    case BENCH_SHAPE_ONE_FD:
      if (pipe2 (pp->a, O_NONBLOCK | O_CLOEXEC) != 0)
        bench_fail ("pipe2: %s", g_strerror (errno));
      break;
    case BENCH_SHAPE_PEER:
      /* The peer's end blocks; the loop's end does not. */
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pp->a) != 0
          || fcntl (pp->a[0], F_SETFL, O_NONBLOCK) != 0)
        bench_fail ("socketpair: %s", g_strerror (errno));
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
ping_pong_clear (BenchPingPong *pp)
{
  close (pp->a[0]);
  close (pp->a[1]);
  if (pp->b[0] >= 0)
    {
      close (pp->b[0]);
      close (pp->b[1]);
    }
}

void
bench_ping_pong_hop (BenchPingPong *pp,
                     int            fd)
{
  char byte;
  int out;

  switch (pp->shape)
    {
    case BENCH_SHAPE_TWO_FDS:
      out = fd == pp->a[0] ? pp->b[1] : pp->a[1];
      break;
    case BENCH_SHAPE_ONE_FD:
      out = pp->a[1];
      break;
    case BENCH_SHAPE_PEER:
    default:
      out = pp->a[0];
      break;
    }
  if (read (fd, &byte, 1) != 1)
    bench_fail ("ping-pong read on fd %d: %s", fd, g_strerror (errno));
  pp->hops++;
  if (pp->hops < pp->target && write (out, &byte, 1) != 1)
    bench_fail ("ping-pong write on fd %d: %s", out, g_strerror (errno));
}

/* The peer of BENCH_SHAPE_PEER: blocking read, then write the byte back,
 * until the loop's end is shut down. */
static gpointer
peer_thread (gpointer data)
{
  BenchPingPong *pp = data;
  char byte;
  ssize_t n;

  while ((n = read (pp->a[1], &byte, 1)) == 1)
    if (write (pp->a[1], &byte, 1) != 1)
      bench_fail ("peer write: %s", g_strerror (errno));
  if (n < 0)
    bench_fail ("peer read: %s", g_strerror (errno));
  return NULL;
}

static guint *
far_future_delays (guint n)
{
  guint *delay_ms = g_new (guint, MAX (n, 1));
  guint i;

  for (i = 0; i < n; i++)
    delay_ms[i] = FAR_FUTURE_MS + rng_next () % FAR_FUTURE_MS;
  return delay_ms;
}

static int *
idle_fds_new (guint n)
{
  int *fds = g_new (int, MAX (n, 1));
  guint i;

  for (i = 0; i < n; i++)
    {
      fds[i] = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (fds[i] < 0)
        bench_fail ("eventfd #%u: %s (RLIMIT_NOFILE too low?)",
                    i, g_strerror (errno));
    }
  return fds;
}

static void
idle_fds_free (int  *fds,
               guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    close (fds[i]);
  g_free (fds);
}

/* Runs @hops hops; returns the wall time and stores the process's CPU
 * time in @cpu. */
static gint64
ping_pong_hops (const BenchImpl *impl,
                gpointer         state,
                BenchPingPong   *pp,
                guint64          hops,
                gint64          *cpu)
{
  gint64 start, cpu_start, elapsed;

  pp->hops = 0;
  pp->target = hops;
  cpu_start = cpu_now_ns ();
  start = bench_now_ns ();
  /* Into a's write end, or, for the peer, as the peer: the byte arrives on
   * the watched a[0] either way. */
  if (write (pp->a[1], "x", 1) != 1)
    bench_fail ("ping-pong kick: %s", g_strerror (errno));
  impl->ping_pong_run (state, pp);
  elapsed = bench_now_ns () - start;
  *cpu = cpu_now_ns () - cpu_start;
  return elapsed;
}

/* Prints the cost of one loop iteration (one hop) in ns: the process's CPU
 * time for the shapes that run on one thread (on a shared machine it
 * leaves out the time other processes had the core; nothing blocks, one
 * byte is always ready), the wall time for the peer, whose round trip
 * includes the peer thread's wake-up. */
static void
run_ping_pong (const BenchImpl *impl,
               BenchShape       shape,
               guint            n_timers,
               guint            n_idle,
               gboolean         idle_first)
{
  BenchPingPong pp;
  guint *timer_ms = far_future_delays (n_timers);
  int *idle_fds = idle_fds_new (n_idle);
  GThread *peer = NULL;
  gboolean use_wall = shape == BENCH_SHAPE_PEER;
  gpointer state;
  guint64 hops = 16;
  gint64 elapsed, wall, cpu;

  ping_pong_init (&pp, shape);
  state = impl->ping_pong_setup (&pp, timer_ms, n_timers, idle_fds, n_idle,
                                 idle_first);
  if (shape == BENCH_SHAPE_PEER)
    peer = g_thread_new ("peer", peer_thread, &pp);

  /* Warm up (the first iterations register fds lazily in some loops: libuv
   * makes 10^4 epoll_ctl () calls in its first iteration), then calibrate:
   * grow the run until it lasts PING_PONG_CALIBRATE_NS. */
  ping_pong_hops (impl, state, &pp, hops, &cpu);
  /* BENCH_HOPS: exactly that many hops after the warm-up, no calibration
   * (bench/run counts the syscalls per round this way). */
  if (g_getenv ("BENCH_HOPS") != NULL)
    hops = MAX (g_ascii_strtoull (g_getenv ("BENCH_HOPS"), NULL, 10), 1);
  else
    {
      for (;;)
        {
          wall = ping_pong_hops (impl, state, &pp, hops, &cpu);
          elapsed = use_wall ? wall : cpu;
          if (elapsed >= PING_PONG_CALIBRATE_NS || hops >= PING_PONG_MAX_HOPS)
            break;
          hops *= 4;
        }
      hops = CLAMP ((guint64) (PING_PONG_TARGET_NS / ((double) MAX (elapsed, 1) / hops)),
                    PING_PONG_MIN_HOPS, PING_PONG_MAX_HOPS);
    }

  wall = ping_pong_hops (impl, state, &pp, hops, &cpu);
  elapsed = use_wall ? wall : cpu;
  bench_check (pp.hops == hops, "ping-pong ran a wrong number of hops");
  check_no_unexpected ("far-future timers or idle fd handlers");

  printf ("ns_per_iteration=%.1f clock=%s wall_ns=%.1f cpu_ns=%.1f hops=%"
          G_GUINT64_FORMAT "\n", (double) elapsed / hops,
          use_wall ? "wall" : "cpu", (double) wall / hops, (double) cpu / hops,
          hops);

  if (peer != NULL)
    {
      shutdown (pp.a[0], SHUT_WR);
      g_thread_join (peer);
    }
  impl->ping_pong_teardown (state);
  ping_pong_clear (&pp);
  idle_fds_free (idle_fds, n_idle);
  g_free (timer_ms);
}

static void
print_rate (gint64 elapsed,
            guint64 n)
{
  printf ("per_second=%.0f ns_per_callback=%.1f n=%" G_GUINT64_FORMAT "\n",
          n / (elapsed / 1e9), (double) elapsed / n, n);
}

typedef struct
{
  const BenchImpl *impl;
  gpointer         state;
  guint            n;
  guint            ready;
  gboolean         go;
  GMutex           lock;
  GCond            cond;
} ProducerGate;

static gpointer
producer_thread (gpointer data)
{
  ProducerGate *gate = data;

  g_mutex_lock (&gate->lock);
  gate->ready++;
  g_cond_broadcast (&gate->cond);
  while (!gate->go)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);

  gate->impl->threads_produce (gate->state, gate->n);
  return NULL;
}

static void
run_threads (const BenchImpl *impl,
             guint            n_threads,
             guint            n_per_thread)
{
  ProducerGate gate = { impl, NULL, n_per_thread, 0, FALSE, };
  GThread **threads = g_new (GThread *, n_threads);
  gint64 start, elapsed;
  guint i;

  g_mutex_init (&gate.lock);
  g_cond_init (&gate.cond);
  gate.state = impl->threads_setup ((guint64) n_threads * n_per_thread);

  for (i = 0; i < n_threads; i++)
    threads[i] = g_thread_new ("producer", producer_thread, &gate);

  /* Release the producers together once all of them wait. */
  g_mutex_lock (&gate.lock);
  while (gate.ready < n_threads)
    g_cond_wait (&gate.cond, &gate.lock);
  gate.go = TRUE;
  g_cond_broadcast (&gate.cond);
  g_mutex_unlock (&gate.lock);

  start = bench_now_ns ();
  impl->threads_run (gate.state);
  elapsed = bench_now_ns () - start;

  for (i = 0; i < n_threads; i++)
    g_thread_join (threads[i]);
  impl->threads_teardown (gate.state);

  print_rate (elapsed, (guint64) n_threads * n_per_thread);
  g_free (threads);
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
}

static void
run_churn (const BenchImpl *impl,
           gboolean         bulk,
           guint            n)
{
  guint *delay_ms = far_future_delays (n);
  guint *order = g_new (guint, MAX (n, 1));
  gint64 elapsed;
  guint i;

  /* Fisher-Yates: cancel in an order unrelated to the deadlines. */
  for (i = 0; i < n; i++)
    order[i] = i;
  for (i = n; i > 1; i--)
    {
      guint j = rng_next () % i;
      guint tmp = order[i - 1];

      order[i - 1] = order[j];
      order[j] = tmp;
    }

  if (bulk)
    elapsed = impl->churn_bulk (delay_ms, order, n);
  else
    elapsed = impl->churn_pair (delay_ms, n);
  check_no_unexpected ("cancelled timers");

  printf ("ns_per_pair=%.1f n=%u\n", (double) elapsed / n, n);
  g_free (order);
  g_free (delay_ms);
}

static void
run_lateness (const BenchImpl *impl,
              guint            n)
{
  guint *delay_ms = g_new (guint, MAX (n, 1));
  gint64 *lateness_us = g_new0 (gint64, MAX (n, 1));
  GString *out = g_string_new ("lateness_us=");
  guint i;

  /* 1 to 5 whole ms, which GLib and libuv can represent exactly. */
  for (i = 0; i < n; i++)
    delay_ms[i] = 1 + rng_next () % 5;

  impl->lateness (delay_ms, lateness_us, n);

  for (i = 0; i < n; i++)
    g_string_append_printf (out, "%s%" G_GINT64_FORMAT,
                            i ? "," : "", lateness_us[i]);
  printf ("%s\n", out->str);
  g_string_free (out, TRUE);
  g_free (lateness_us);
  g_free (delay_ms);
}

/* The thread that iterates the loop; done-callbacks check they run there. */
static GThread *loop_thread;

void
bench_check_loop_thread (void)
{
  bench_check (g_thread_self () == loop_thread,
               "a done-callback ran outside the loop thread");
}

typedef struct
{
  const BenchImpl *impl;
  gpointer         state;
  gboolean         go;
  GMutex           lock;
  GCond            cond;
} CompleterGate;

static gpointer
completer_thread (gpointer data)
{
  CompleterGate *gate = data;

  g_mutex_lock (&gate->lock);
  while (!gate->go)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);

  gate->impl->futures_complete (gate->state);
  return NULL;
}

/* One round: @n futures created, completed and their callbacks run, on
 * the loop thread or (@cross_thread) completed from a worker thread that
 * starts once all are created, while the loop thread runs the callbacks. */
static gint64
futures_round (const BenchImpl *impl,
               guint            n,
               gboolean         cross_thread)
{
  CompleterGate gate = { impl, NULL, FALSE, };
  GThread *completer = NULL;
  gint64 start, elapsed;

  g_mutex_init (&gate.lock);
  g_cond_init (&gate.cond);
  gate.state = impl->futures_setup (n);
  /* Started outside the timed region; it waits for the gate. */
  if (cross_thread)
    completer = g_thread_new ("completer", completer_thread, &gate);

  start = bench_now_ns ();
  impl->futures_create (gate.state);
  if (cross_thread)
    {
      g_mutex_lock (&gate.lock);
      gate.go = TRUE;
      g_cond_signal (&gate.cond);
      g_mutex_unlock (&gate.lock);
    }
  else
    impl->futures_complete (gate.state);
  impl->futures_run (gate.state);
  elapsed = bench_now_ns () - start;

  if (completer != NULL)
    g_thread_join (completer);
  impl->futures_teardown (gate.state);
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
  return elapsed;
}

static int
cmp_gint64 (gconstpointer a,
            gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* Prints the median over @rounds rounds (after one untimed warm-up round)
 * of the cost of one future in ns, and every round. */
static void
run_futures (const BenchImpl *impl,
             guint            n,
             guint            rounds,
             gboolean         cross_thread)
{
  gint64 *elapsed = g_new (gint64, MAX (rounds, 1));
  gint64 *sorted = g_new (gint64, MAX (rounds, 1));
  GString *out = g_string_new (NULL);
  double median;
  guint i;

  if (n == 0 || rounds == 0)
    bench_fail ("futures: N and ROUNDS must be positive");
  loop_thread = g_thread_self ();

  futures_round (impl, n, cross_thread);
  for (i = 0; i < rounds; i++)
    elapsed[i] = futures_round (impl, n, cross_thread);

  memcpy (sorted, elapsed, rounds * sizeof *sorted);
  qsort (sorted, rounds, sizeof *sorted, cmp_gint64);
  if (rounds % 2)
    median = sorted[rounds / 2];
  else
    median = (sorted[rounds / 2 - 1] + sorted[rounds / 2]) / 2.0;
  g_string_append_printf (out, "ns_per_future=%.1f n=%u rounds=",
                          median / n, n);
  for (i = 0; i < rounds; i++)
    g_string_append_printf (out, "%s%.1f", i ? "," : "", (double) elapsed[i] / n);
  printf ("%s\n", out->str);

  g_string_free (out, TRUE);
  g_free (sorted);
  g_free (elapsed);
}

static G_GNUC_NORETURN void
usage (const char *argv0)
{
  g_printerr ("usage: %s versions\n"
              "       %s ping-pong TIMERS IDLE_FDS [active-first|idle-first]\n"
              "       %s one-fd TIMERS IDLE_FDS\n"
              "       %s peer TIMERS IDLE_FDS\n"
              "       %s callbacks-batch N outside|dispatch\n"
              "       %s callbacks-chain N\n"
              "       %s callbacks-threads THREADS N_PER_THREAD\n"
              "       %s churn-bulk N\n"
              "       %s churn-pair N\n"
              "       %s lateness SAMPLES\n"
              "       %s futures N ROUNDS same-thread|cross-thread\n",
              argv0, argv0, argv0, argv0, argv0, argv0, argv0, argv0, argv0,
              argv0, argv0);
  exit (2);
}

static guint
parse_count (const char *argv0,
             const char *text)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32, &value, NULL))
    usage (argv0);
  return (guint) value;
}

static G_GNUC_NORETURN void
unsupported (const BenchImpl *impl,
             const char      *what)
{
  g_printerr ("bench-%s: %s is not measured for this implementation\n",
              impl->name, what);
  exit (3);
}

int
bench_main (int              argc,
            char           **argv,
            const BenchImpl *impl)
{
  const char *what;

  if (argc < 2)
    usage (argv[0]);
  what = argv[1];
  raise_nofile_limit ();
  setvbuf (stdout, NULL, _IOLBF, 0);

  if (g_str_equal (what, "versions") && argc == 2)
    {
      char *version = impl->version ();

      printf ("%s\n", version);
      g_free (version);
    }
  else if (g_str_equal (what, "ping-pong") && (argc == 4 || argc == 5))
    {
      gboolean idle_first = argc == 5 && g_str_equal (argv[4], "idle-first");

      if (argc == 5 && !idle_first && !g_str_equal (argv[4], "active-first"))
        usage (argv[0]);
      if (impl->ping_pong_setup == NULL)
        unsupported (impl, what);
      run_ping_pong (impl, BENCH_SHAPE_TWO_FDS, parse_count (argv[0], argv[2]),
                     parse_count (argv[0], argv[3]), idle_first);
    }
  else if ((g_str_equal (what, "one-fd") || g_str_equal (what, "peer"))
           && argc == 4)
    {
      if (impl->ping_pong_setup == NULL)
        unsupported (impl, what);
      run_ping_pong (impl,
                     g_str_equal (what, "peer") ? BENCH_SHAPE_PEER : BENCH_SHAPE_ONE_FD,
                     parse_count (argv[0], argv[2]),
                     parse_count (argv[0], argv[3]), FALSE);
    }
  else if (g_str_equal (what, "callbacks-batch") && argc == 4
           && (g_str_equal (argv[3], "outside") || g_str_equal (argv[3], "dispatch")))
    {
      guint n = parse_count (argv[0], argv[2]);

      if (impl->callbacks_batch == NULL)
        unsupported (impl, what);
      print_rate (impl->callbacks_batch (n, g_str_equal (argv[3], "dispatch")), n);
    }
  else if (g_str_equal (what, "callbacks-chain") && argc == 3)
    {
      guint n = parse_count (argv[0], argv[2]);

      if (impl->callbacks_chain == NULL)
        unsupported (impl, what);
      print_rate (impl->callbacks_chain (n), n);
    }
  else if (g_str_equal (what, "callbacks-threads") && argc == 4)
    {
      if (impl->threads_setup == NULL)
        unsupported (impl, what);
      run_threads (impl, parse_count (argv[0], argv[2]),
                   parse_count (argv[0], argv[3]));
    }
  else if (g_str_equal (what, "churn-bulk") && argc == 3)
    {
      if (impl->churn_bulk == NULL)
        unsupported (impl, what);
      run_churn (impl, TRUE, parse_count (argv[0], argv[2]));
    }
  else if (g_str_equal (what, "churn-pair") && argc == 3)
    {
      if (impl->churn_pair == NULL)
        unsupported (impl, what);
      run_churn (impl, FALSE, parse_count (argv[0], argv[2]));
    }
  else if (g_str_equal (what, "lateness") && argc == 3)
    {
      if (impl->lateness == NULL)
        unsupported (impl, what);
      run_lateness (impl, parse_count (argv[0], argv[2]));
    }
  else if (g_str_equal (what, "futures") && argc == 5
           && (g_str_equal (argv[4], "same-thread")
               || g_str_equal (argv[4], "cross-thread")))
    {
      if (impl->futures_setup == NULL)
        unsupported (impl, what);
      run_futures (impl, parse_count (argv[0], argv[2]),
                   parse_count (argv[0], argv[3]),
                   g_str_equal (argv[4], "cross-thread"));
    }
  else
    usage (argv[0]);

  return 0;
}

/* Iterates @context until the callbacks counted *@count up to @total, then
 * runs whatever is left and checks that nothing ran twice. */
void
bench_iterate_until (GMainContext  *context,
                     const guint64 *count,
                     guint64        total)
{
  while (*count < total)
    g_main_context_iteration (context, TRUE);
  while (g_main_context_iteration (context, FALSE))
    ;
  bench_check (*count == total, "a callback ran twice");
}
