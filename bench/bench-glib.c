/* bench-glib.c: the raw GLib anchor, one GSource per fd, timer and callback;
 * and GTask, the GIO anchor for GbridgeFuture.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "bench-common.h"

#include <gio/gio.h>
#include <glib-unix.h>

typedef struct
{
  GMainContext *context;
  guint64       count;
  guint64       total;
} Counter;

static char *
glib_version (void)
{
  return g_strdup_printf ("%u.%u.%u", glib_major_version, glib_minor_version,
                          glib_micro_version);
}

static gboolean
never_cb (gpointer user_data)
{
  bench_unexpected ();
  return G_SOURCE_CONTINUE;
}

static gboolean
never_fd_cb (int          fd,
             GIOCondition condition,
             gpointer     user_data)
{
  bench_unexpected ();
  return G_SOURCE_CONTINUE;
}

/* g_timeout_add_full() and g_unix_fd_add_full(), but on @context. */
static GSource *
add_timeout (GMainContext *context,
             guint         ms,
             GSourceFunc   func,
             gpointer      user_data)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, user_data, NULL);
  g_source_attach (source, context);
  return source;
}

static void
add_fd (GMainContext     *context,
        int               fd,
        GUnixFDSourceFunc func,
        gpointer          user_data)
{
  GSource *source = g_unix_fd_source_new (fd, G_IO_IN);

  g_source_set_callback (source, G_SOURCE_FUNC (func), user_data, NULL);
  g_source_attach (source, context);
  g_source_unref (source);
}

static gboolean
ping_pong_cb (int          fd,
              GIOCondition condition,
              gpointer     user_data)
{
  bench_ping_pong_hop (user_data, fd);
  return G_SOURCE_CONTINUE;
}

static gpointer
glib_ping_pong_setup (BenchPingPong *pp,
                      const guint   *timer_ms,
                      guint          n_timers,
                      const int     *idle_fds,
                      guint          n_idle,
                      gboolean       idle_first)
{
  GMainContext *context = g_main_context_new ();
  guint i;

  for (i = 0; idle_first && i < n_idle; i++)
    add_fd (context, idle_fds[i], never_fd_cb, NULL);
  add_fd (context, pp->a[0], ping_pong_cb, pp);
  if (pp->b[0] >= 0)
    add_fd (context, pp->b[0], ping_pong_cb, pp);
  for (i = 0; !idle_first && i < n_idle; i++)
    add_fd (context, idle_fds[i], never_fd_cb, NULL);
  for (i = 0; i < n_timers; i++)
    g_source_unref (add_timeout (context, timer_ms[i], never_cb, NULL));
  return context;
}

static void
glib_ping_pong_run (gpointer       state,
                    BenchPingPong *pp)
{
  while (pp->hops < pp->target)
    g_main_context_iteration (state, TRUE);
}

static void
glib_ping_pong_teardown (gpointer state)
{
  g_main_context_unref (state);
}

static gboolean
count_cb (gpointer user_data)
{
  Counter *counter = user_data;

  counter->count++;
  return G_SOURCE_REMOVE;
}

static void
add_idle (Counter    *counter,
          GSourceFunc func)
{
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, func, counter, NULL);
  g_source_attach (source, counter->context);
  g_source_unref (source);
}

static void
run_until_counted (Counter *counter)
{
  bench_iterate_until (counter->context, &counter->count, counter->total);
}

static gboolean
add_batch_cb (gpointer user_data)
{
  Counter *counter = user_data;
  guint64 i;

  for (i = 0; i < counter->total; i++)
    add_idle (counter, count_cb);
  return G_SOURCE_REMOVE;
}

static gint64
glib_callbacks_batch (guint    n,
                      gboolean in_dispatch)
{
  Counter counter = { g_main_context_new (), 0, n };
  gint64 start, elapsed;

  start = bench_now_ns ();
  if (in_dispatch)
    add_idle (&counter, add_batch_cb);
  else
    add_batch_cb (&counter);
  run_until_counted (&counter);
  elapsed = bench_now_ns () - start;

  g_main_context_unref (counter.context);
  return elapsed;
}

static gboolean
chain_cb (gpointer user_data)
{
  Counter *counter = user_data;

  if (++counter->count < counter->total)
    add_idle (counter, chain_cb);
  return G_SOURCE_REMOVE;
}

static gint64
glib_callbacks_chain (guint n)
{
  Counter counter = { g_main_context_new (), 0, n };
  gint64 start, elapsed;

  start = bench_now_ns ();
  add_idle (&counter, chain_cb);
  run_until_counted (&counter);
  elapsed = bench_now_ns () - start;

  g_main_context_unref (counter.context);
  return elapsed;
}

static gpointer
glib_threads_setup (guint64 total)
{
  Counter *counter = g_new0 (Counter, 1);

  counter->context = g_main_context_new ();
  counter->total = total;
  /* Owned by the loop thread throughout: otherwise g_main_context_invoke()
   * may acquire the context and run the callback in the producer. */
  g_main_context_acquire (counter->context);
  return counter;
}

static void
glib_threads_produce (gpointer state,
                      guint    n)
{
  Counter *counter = state;
  guint i;

  for (i = 0; i < n; i++)
    g_main_context_invoke (counter->context, count_cb, counter);
}

static void
glib_threads_run (gpointer state)
{
  run_until_counted (state);
}

static void
glib_threads_teardown (gpointer state)
{
  Counter *counter = state;

  g_main_context_release (counter->context);
  g_main_context_unref (counter->context);
  g_free (counter);
}

static gint64
glib_churn_bulk (const guint *delay_ms,
                 const guint *cancel_order,
                 guint        n)
{
  GMainContext *context = g_main_context_new ();
  GSource **sources = g_new (GSource *, n);
  gint64 start, elapsed;
  guint i;

  start = bench_now_ns ();
  for (i = 0; i < n; i++)
    sources[i] = add_timeout (context, delay_ms[i], never_cb, NULL);
  for (i = 0; i < n; i++)
    {
      g_source_destroy (sources[cancel_order[i]]);
      g_source_unref (sources[cancel_order[i]]);
    }
  elapsed = bench_now_ns () - start;

  g_main_context_iteration (context, FALSE);
  g_main_context_unref (context);
  g_free (sources);
  return elapsed;
}

static gint64
glib_churn_pair (const guint *delay_ms,
                 guint        n)
{
  GMainContext *context = g_main_context_new ();
  gint64 start, elapsed;
  guint i;

  start = bench_now_ns ();
  for (i = 0; i < n; i++)
    {
      GSource *source = add_timeout (context, delay_ms[i], never_cb, NULL);

      g_source_destroy (source);
      g_source_unref (source);
    }
  elapsed = bench_now_ns () - start;

  g_main_context_iteration (context, FALSE);
  g_main_context_unref (context);
  return elapsed;
}

typedef struct
{
  GMainContext *context;
  const guint  *delay_ms;
  gint64       *lateness_us;
  guint         n;
  guint         i;
  gint64        deadline;
} Lateness;

static gboolean lateness_cb (gpointer user_data);

static void
lateness_schedule (Lateness *l)
{
  l->deadline = g_get_monotonic_time () + l->delay_ms[l->i] * 1000;
  g_source_unref (add_timeout (l->context, l->delay_ms[l->i], lateness_cb, l));
}

static gboolean
lateness_cb (gpointer user_data)
{
  Lateness *l = user_data;

  l->lateness_us[l->i] = g_get_monotonic_time () - l->deadline;
  if (++l->i < l->n)
    lateness_schedule (l);
  return G_SOURCE_REMOVE;
}

static void
glib_lateness (const guint *delay_ms,
               gint64      *lateness_us,
               guint        n)
{
  Lateness l = { g_main_context_new (), delay_ms, lateness_us, n, 0, 0 };

  lateness_schedule (&l);
  while (l.i < n)
    g_main_context_iteration (l.context, TRUE);
  g_main_context_unref (l.context);
}

/* The GIO anchor for GbridgeFuture: a GTask created on the loop thread
 * (its context is the thread-default one then), completed with
 * g_task_return_pointer() and its GAsyncReadyCallback run on that context.
 * g_task_return_pointer() outside a dispatch of the task's context, or from
 * another thread, completes the task in a later iteration through an idle
 * source, as GbridgeFuture runs its done-callbacks. */

static int task_marker;

typedef struct
{
  Counter  counter;
  GTask  **tasks;
  guint    n;
} Tasks;

static void
task_done_cb (GObject      *source_object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Tasks *t = user_data;

  bench_check (g_task_propagate_pointer (G_TASK (result), NULL) == &task_marker,
               "a GTask callback got a wrong value");
  bench_check_loop_thread ();
  t->counter.count++;
}

static gpointer
glib_futures_setup (guint n)
{
  Tasks *t = g_new0 (Tasks, 1);

  t->counter.context = g_main_context_new ();
  t->counter.total = n;
  t->tasks = g_new0 (GTask *, n);
  t->n = n;
  g_main_context_push_thread_default (t->counter.context);
  g_main_context_acquire (t->counter.context);
  return t;
}

static void
glib_futures_create (gpointer state)
{
  Tasks *t = state;
  guint i;

  for (i = 0; i < t->n; i++)
    t->tasks[i] = g_task_new (NULL, NULL, task_done_cb, t);
}

static void
glib_futures_complete (gpointer state)
{
  Tasks *t = state;
  guint i;

  for (i = 0; i < t->n; i++)
    {
      GTask *task = g_steal_pointer (&t->tasks[i]);

      g_task_return_pointer (task, &task_marker, NULL);
      g_object_unref (task);
    }
}

static void
glib_futures_run (gpointer state)
{
  Tasks *t = state;

  run_until_counted (&t->counter);
}

static void
glib_futures_teardown (gpointer state)
{
  Tasks *t = state;

  g_main_context_release (t->counter.context);
  g_main_context_pop_thread_default (t->counter.context);
  g_main_context_unref (t->counter.context);
  g_free (t->tasks);
  g_free (t);
}

static const BenchImpl glib_impl = {
  .name = "glib",
  .version = glib_version,
  .ping_pong_setup = glib_ping_pong_setup,
  .ping_pong_run = glib_ping_pong_run,
  .ping_pong_teardown = glib_ping_pong_teardown,
  .callbacks_batch = glib_callbacks_batch,
  .callbacks_chain = glib_callbacks_chain,
  .threads_setup = glib_threads_setup,
  .threads_produce = glib_threads_produce,
  .threads_run = glib_threads_run,
  .threads_teardown = glib_threads_teardown,
  .churn_bulk = glib_churn_bulk,
  .churn_pair = glib_churn_pair,
  .lateness = glib_lateness,
  .futures_setup = glib_futures_setup,
  .futures_create = glib_futures_create,
  .futures_complete = glib_futures_complete,
  .futures_run = glib_futures_run,
  .futures_teardown = glib_futures_teardown,
};

int
main (int    argc,
      char **argv)
{
  return bench_main (argc, argv, &glib_impl);
}
