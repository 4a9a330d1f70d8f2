/* gbridge-io-loop.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-io-loop-impl-private.h"

#include <errno.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib-unix.h>

#ifdef HAVE_EVENTFD
# include <sys/eventfd.h>
#endif

/**
 * SECTION:gbridge-io-loop
 * @title: GbridgeIOLoop
 * @short_description: A Tornado-style I/O loop on a GMainContext
 *
 * #GbridgeIOLoop is Tornado's `IOLoop` rebuilt on a #GMainContext: callbacks,
 * timeouts, file descriptor handlers and Unix signal handlers all run on the
 * context, so GTK, GIO and code written against Tornado, Twisted or asyncio
 * share one loop.
 *
 * Unlike plain GLib, the loop attaches one #GSource to its context (and a
 * second that only takes part in yielding, below), whatever the number of
 * callbacks, timers and file descriptors. Timers live
 * in a binary heap ordered by deadline (equal deadlines run in the order they
 * were added), file descriptors live in one epoll set, and the next deadline
 * is tracked by a timerfd with microsecond precision.
 * An iteration therefore costs the same with 100,000 pending timers as with
 * none, where GLib walks every source on every iteration.
 *
 * Each iteration runs, in Tornado's order: the callbacks that were queued
 * before it began (callbacks added while they run wait for the next
 * iteration), then the timeouts that are due, then the handlers of the file
 * descriptors that are ready. A timeout or handler removed during the
 * iteration is not called after its removal.
 *
 * One GLib iteration usually runs one loop iteration. When the handlers of
 * an iteration make other descriptors ready (a request answered on a socket
 * the same loop reads) and no callback, timeout or signal is waiting, up to
 * four more iterations of just those handlers run in the same GLib
 * iteration, each asking epoll directly instead of going through GLib's
 * poll. A descriptor that stays ready (a writable socket, a peer that keeps
 * sending) is still reported once per GLib iteration.
 *
 * The loop also sets the context's poll function
 * (g_main_context_set_poll_func()), so that GLib's wait is the loop's own
 * epoll_wait(): a wake-up costs one system call to wait, where it
 * otherwise costs GLib's poll() and the loop's epoll_wait(). Then the
 * extra iterations above would cost as much as GLib iterations and are not
 * run. It does so on its private context as on a context it was given or
 * the global default context, but only if the context's poll function is
 * GLib's own (g_poll()) when the loop is made: a poll function that the
 * application or a toolkit set is left alone. While another source on the
 * context watches a descriptor (GTK's display connection, a #GSocket
 * source, g_unix_fd_add()), and in the child of a fork(), the poll
 * function calls g_poll(), as GLib would. Closing the loop gives the
 * context g_poll() back, unless another poll function was set meanwhile.
 *
 * Only gbridge_io_loop_add_callback() and
 * gbridge_io_loop_stop() may be called from any thread;
 * gbridge_io_loop_add_callback_from_signal() may also be called from a Unix
 * signal handler. Everything else belongs to the thread that runs the loop.
 *
 * A loop can be driven by gbridge_io_loop_start(), or by anything that
 * iterates its context: g_main_loop_run(), gtk_main() or a GApplication. A
 * nested main loop started from a gbridge callback (a modal dialog, for
 * instance) keeps running gbridge callbacks, timers and handlers.
 *
 * The loop's source has the default priority, and GLib dispatches only the
 * highest-priority ready sources of an iteration. So that a loop that always
 * has work does not starve lower-priority sources (GTK's redraw, idle
 * handlers), after 2 ms of back-to-back busy iterations its work waits one
 * iteration at %G_PRIORITY_LOW: whatever else is ready runs first, and when
 * nothing else is, the work runs in that same iteration.
 *
 * Every callback comes with a #GDestroyNotify that is called exactly once:
 * after the callback ran, when it is removed, when the loop is closed, or
 * when it is refused because the loop is already closed.
 *
 * After fork(), the child's copy of a loop shares the kernel objects behind
 * it with the parent's: the epoll set of its file descriptors and the
 * timerfd of its timers. Whatever the child did with them (removing a
 * handler, closing or finalizing the loop, arming a timer) would change the
 * parent's loop. So, as libuv's uv_loop_fork() does, the child's loop gives
 * them up the first time the child uses it (adds, updates or removes a
 * handler, closes or finalizes it, or iterates its context) and creates its
 * own: a new epoll set with the same handlers registered again, and a new
 * timerfd. The child may therefore close the loop, drop it, or go on using
 * it, and the parent's handlers and timers keep working. The loop learns of
 * the fork() from a pthread_atfork() handler, which costs nothing per
 * iteration where asking getpid() would cost a system call; after a child
 * made without those handlers (a raw clone()), call gbridge_io_loop_fork().
 * The context's own wake-up descriptor belongs to GLib and stays shared, so
 * the child's loop also gets a wake-up descriptor of its own, through which
 * gbridge_io_loop_add_callback() from the child's other threads,
 * gbridge_io_loop_stop() and signals wake it. The parent's loop still wakes
 * through GLib's: a child that iterates an inherited context may take such a
 * wake-up meant for the parent (another thread's callback, or a stop()),
 * which then waits for the parent's next event or timer. A child that goes
 * on using a loop for long is best given a context of its own.
 */

/**
 * GbridgeIOLoop:
 *
 * A Tornado-style I/O loop on a #GMainContext. Its fields are private.
 *
 * Since: 1.0
 */

typedef struct
{
  GSource        source;
  GbridgeIOLoop *loop;
} LoopSource;

enum {
  PROP_0,
  PROP_CONTEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (GbridgeIOLoop, gbridge_io_loop, G_TYPE_OBJECT)

/**
 * gbridge_io_loop_error_quark:
 *
 * Gets the error domain of #GbridgeIOLoop, %GBRIDGE_IO_LOOP_ERROR.
 *
 * Returns: the error domain's #GQuark
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (gbridge-io-loop-error-quark, gbridge_io_loop_error)

/* See gbridge-io-loop-impl-private.h. */
__thread GbridgeIOLoop *_gbridge_io_loop_dispatching;

static GPrivate current_loop = G_PRIVATE_INIT (g_object_unref);

static void gbridge_io_loop_close_internal (GbridgeIOLoop *self,
                                            gboolean       all_fds);

void
_gbridge_io_loop_set_closed_error (GError **error)
{
  g_set_error_literal (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_CLOSED,
                       _("The loop is closed"));
}

/* The source */

static inline gboolean
has_pending_work (GbridgeIOLoop *self)
{
  return self->batch.head != NULL ||
         self->due_pos < self->due->len ||
         self->ready_pos < self->ready->len ||
         self->next_local.head != NULL ||
         g_atomic_int_get (&self->remote_pending) ||
         g_atomic_int_get (&self->signals_pending) ||
         _gbridge_signal_ring_ready (&self->ring);
}

static inline gboolean
has_due_timer (GbridgeIOLoop *self)
{
  gint64 deadline;

  return _gbridge_timer_heap_peek (&self->timers, &deadline) &&
         deadline <= loop_now_us (self);
}

/* GLib dispatches only the highest-priority ready sources of an iteration,
 * so a loop that always has work (a callback that adds the next one, a flood
 * of due timers) would starve every lower-priority source of its context:
 * GTK's redraw and layout, idle handlers. After YIELD_AFTER_USEC of
 * back-to-back busy iterations, the loop's work waits one GLib iteration at
 * the lowest priority: the main source reports itself not ready, and a
 * second source of the loop, at G_PRIORITY_LOW, is ready instead. Whatever
 * else is ready runs first; when nothing else is, the yield source runs the
 * work in the same iteration, so no iteration is ever empty (callers that
 * iterate until g_main_context_iteration() returns FALSE still see all the
 * work done). The next iteration is back at the loop's own priority. */
#define YIELD_AFTER_USEC 2000

/* See dispatch_loop() and the description above. */
#define INLINE_FD_ROUNDS 4

static gboolean
ready_unless_yielding (GbridgeIOLoop *self,
                       GSource       *source)
{
  gint64 now = g_source_get_time (source);

  if (self->busy_since == 0)
    self->busy_since = now;
  else if (now - self->busy_since >= YIELD_AFTER_USEC)
    {
      self->busy_since = 0;
      self->yielding = TRUE;
      return FALSE;
    }
  return TRUE;
}

static gboolean
loop_source_prepare (GSource *source,
                     gint    *timeout)
{
  GbridgeIOLoop *self = ((LoopSource *) source)->loop;
  gint64 deadline;

  check_fork (self);
  if (self->owns_poll)
    _gbridge_io_loop_poll_prepare (self);
  *timeout = -1;
  self->yielding = FALSE;

  if (has_pending_work (self) || has_due_timer (self))
    {
      *timeout = 0;
      return ready_unless_yielding (self, source);
    }

  if (!self->virtual_clock && _gbridge_timer_heap_peek (&self->timers, &deadline))
    _gbridge_io_loop_arm_timer (self, deadline, timeout);

  self->busy_since = 0;
  if (G_UNLIKELY (self->metrics != NULL))
    _gbridge_loop_metrics_wait_begin (self->metrics);
  return FALSE;
}

static gboolean
loop_source_check (GSource *source)
{
  GbridgeIOLoop *self = ((LoopSource *) source)->loop;

  if (G_UNLIKELY (self->metrics != NULL))
    _gbridge_loop_metrics_wait_end (self->metrics);
  if (self->owns_poll)
    _gbridge_io_loop_poll_check (self);
  check_fork (self);
  if (self->wake_tag != NULL && g_source_query_unix_fd (source, self->wake_tag) != 0)
    {
      guint64 n;

      if (read (self->wake_fd, &n, sizeof n) < 0 && errno != EAGAIN)
        g_warning ("Cannot read the loop's wake-up descriptor: %s", g_strerror (errno));
    }
  /* Yielding: the yield source takes this iteration's work, if its turn
   * comes. */
  if (self->yielding)
    return FALSE;
  if (has_pending_work (self) || has_due_timer (self))
    return TRUE;
  if (self->timer_tag != NULL && g_source_query_unix_fd (source, self->timer_tag) != 0)
    return TRUE;
  return _gbridge_fd_set_check (&self->fds);
}

static void
queue_batch_callback (GbridgeIOLoop   *self,
                      GbridgeCallback  func,
                      gpointer         user_data,
                      GDestroyNotify   destroy)
{
  callback_list_push (&self->batch,
                      callback_new_local (self, func, user_data, destroy));
}

static void
begin_iteration (GbridgeIOLoop *self)
{
  GbridgeCallback ring_func;
  gpointer ring_data;
  guint64 handle;
  gint64 now;

  if (G_UNLIKELY (self->metrics != NULL))
    _gbridge_loop_metrics_iteration (self->metrics);

  /* Callbacks: ours first, then other threads', then signal contexts'. Per
   * producer this is FIFO: a loop-thread callback added outside a dispatch
   * went to remote before the previous batch was taken. */
  callback_list_concat (&self->batch, &self->next_local);
  if (g_atomic_int_get (&self->remote_pending))
    {
      pthread_mutex_lock (&self->remote_lock);
      callback_list_concat (&self->batch, &self->remote);
      g_atomic_int_set (&self->remote_pending, FALSE);
      pthread_mutex_unlock (&self->remote_lock);
    }
  while (_gbridge_signal_ring_pop (&self->ring, &ring_func, &ring_data))
    queue_batch_callback (self, ring_func, ring_data, NULL);
  if (g_atomic_int_compare_and_exchange (&self->signals_pending, TRUE, FALSE))
    _gbridge_signal_take_pending (self, queue_batch_callback);

  /* Timers that are due, in deadline order. */
#ifdef HAVE_TIMERFD
  if (self->timer_tag != NULL && g_source_query_unix_fd (self->source, self->timer_tag) != 0)
    {
      guint64 expirations;

      if (read (self->timer_fd, &expirations, sizeof expirations) > 0)
        self->armed_deadline = G_MAXINT64;
    }
#endif
  g_array_set_size (self->due, 0);
  self->due_pos = 0;
  if (self->timers.len > 0)
    {
      now = loop_now_us (self);
      if (G_UNLIKELY (self->metrics != NULL))
        _gbridge_loop_metrics_timers_due (self->metrics, &self->timers, now,
                                          self->virtual_clock);
      while ((handle = _gbridge_timer_heap_pop_due (&self->timers, now)) != 0)
        g_array_append_val (self->due, handle);
    }

  /* Ready file descriptors. */
  _gbridge_io_loop_collect_ready (self, FALSE);
}

static void
run_iteration (GbridgeIOLoop *self)
{
  Callback *cb;

  /* Every cursor lives on the loop, not on the stack, so that a nested main
   * loop started from one of these callbacks carries on where we stopped. */
  while ((cb = self->batch.head) != NULL)
    {
      self->batch.head = cb->next;
      if (self->batch.head == NULL)
        self->batch.tail = NULL;

      if (G_LIKELY (cb->func != NULL))
        {
          if (G_UNLIKELY (self->metrics != NULL))
            _gbridge_loop_metrics_run_callback (self->metrics, cb->func, cb->user_data);
          else
            cb->func (cb->user_data);
        }
      else if (!_gbridge_io_loop_run_repeating (self, cb))
        continue;
      if (cb->destroy != NULL)
        cb->destroy (cb->user_data);
      callback_free_local (self, cb);
    }

  while (self->due_pos < self->due->len)
    {
      guint64 handle = g_array_index (self->due, guint64, self->due_pos++);
      GbridgeTimerCall t;

      /* Unless cancelled since it was found due. */
      if (!_gbridge_timer_heap_take_due (&self->timers, handle, &t))
        continue;

      if (G_UNLIKELY (self->metrics != NULL))
        _gbridge_loop_metrics_run_timer (self->metrics, t.func, t.user_data);
      else
        t.func (t.user_data);
      if (t.destroy != NULL)
        t.destroy (t.user_data);
    }

  while (self->ready_pos < self->ready->len)
    {
      GbridgeReadyFd r = g_array_index (self->ready, GbridgeReadyFd, self->ready_pos++);
      GbridgeHandler *h = r.handler;
      guint events = r.events & (h->events | GBRIDGE_IO_EVENTS_ERROR);

      /* Only while its number still names its file: never a new file that
       * reuses the number (the old one may still be open elsewhere, and
       * still reported by its registration). A callback may have forked. */
      check_fork (self);
      if (!h->removed && events != 0 && !_gbridge_fd_set_verify (&self->fds, h))
        events = h->nval ? GBRIDGE_IO_EVENTS_ERROR : 0;
      if (!h->removed && events != 0)
        {
          if (G_UNLIKELY (self->metrics != NULL))
            _gbridge_loop_metrics_run_handler (self->metrics, h->func, h->fd, events,
                                               h->user_data);
          else
            h->func (h->fd, events, h->user_data);
        }
      if (!h->removed && h->nval)
        gbridge_io_loop_remove_handler (self, h->fd);
      _gbridge_handler_unref (h);
    }
}

static void
dispatch_loop (GbridgeIOLoop *self)
{
  GbridgeIOLoop *previous = _gbridge_io_loop_dispatching;

  check_fork (self);
  g_object_ref (self);
  _gbridge_io_loop_dispatching = self;
  self->dispatch_depth++;

  if (self->batch.head == NULL &&
      self->due_pos >= self->due->len &&
      self->ready_pos >= self->ready->len)
    begin_iteration (self);
  run_iteration (self);

  /* Descriptors that became ready while the iteration ran (a request
   * answered on a socket the loop also reads, a ping-pong): run up to
   * INLINE_FD_ROUNDS more iterations of those here, one epoll_wait() each,
   * rather than a GLib iteration each, whose poll() only learns that the
   * epoll fd is readable. Only while nothing else is due (callbacks, timers
   * and signals, and the context's other sources, get their usual
   * iteration), and only for descriptors that became ready again since the
   * previous round (_gbridge_io_loop_collect_ready()): one that stays ready is reported
   * once per GLib iteration, as without these rounds. Only after an
   * iteration that had ready descriptors: one woken by a timer or a
   * callback alone does not pay for an epoll_wait() that finds nothing.
   * Not where this GLib iteration waited in the loop's poll function: a
   * GLib iteration then costs one epoll_wait() too. */
  if (self->dispatch_depth == 1 && self->ready->len > 0 && !self->single_wait)
    {
      for (guint round = 0; round < INLINE_FD_ROUNDS; round++)
        {
          if (g_atomic_int_get (&self->stop_requested) ||
              g_atomic_int_get (&self->closed) ||
              has_pending_work (self) ||
              has_due_timer (self) ||
              !_gbridge_io_loop_collect_ready (self, TRUE))
            break;
          if (G_UNLIKELY (self->metrics != NULL))
            _gbridge_loop_metrics_iteration (self->metrics);
          run_iteration (self);
        }
    }

  self->dispatch_depth--;
  _gbridge_io_loop_dispatching = previous;
  g_object_unref (self);
}

static gboolean
loop_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  dispatch_loop (((LoopSource *) source)->loop);
  return G_SOURCE_CONTINUE;
}

/* The yield source: ready exactly when the main source yields, which its
 * prepare decided earlier in the same iteration (it has a higher priority,
 * so GLib prepares and checks it first). */
static gboolean
yield_source_prepare (GSource *source,
                      gint    *timeout)
{
  GbridgeIOLoop *self = ((LoopSource *) source)->loop;

  *timeout = self->yielding ? 0 : -1;
  return self->yielding;
}

static gboolean
yield_source_check (GSource *source)
{
  return ((LoopSource *) source)->loop->yielding;
}

static gboolean
yield_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  GbridgeIOLoop *self = ((LoopSource *) source)->loop;

  self->yielding = FALSE;
  dispatch_loop (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs yield_source_funcs = {
  yield_source_prepare,
  yield_source_check,
  yield_source_dispatch,
  NULL,
  NULL,
  NULL,
};

static GSourceFuncs loop_source_funcs = {
  loop_source_prepare,
  loop_source_check,
  loop_source_dispatch,
  NULL,
  NULL,
  NULL,
};

/* GObject */

static void
gbridge_io_loop_dispose (GObject *object)
{
  GbridgeIOLoop *self = (GbridgeIOLoop *) object;

  gbridge_io_loop_close_internal (self, FALSE);

  G_OBJECT_CLASS (gbridge_io_loop_parent_class)->dispose (object);
}

static void
gbridge_io_loop_finalize (GObject *object)
{
  GbridgeIOLoop *self = (GbridgeIOLoop *) object;

  while (self->free_callbacks != NULL)
    {
      Callback *cb = self->free_callbacks;

      self->free_callbacks = cb->next;
      g_free (cb);
    }
  _gbridge_timer_heap_clear (&self->timers);
  g_clear_pointer (&self->due, g_array_unref);
  g_clear_pointer (&self->ready, g_array_unref);
  _gbridge_fd_set_clear (&self->fds);
  if (self->wake_fd >= 0)
    close (self->wake_fd);
  g_clear_pointer (&self->context, g_main_context_unref);
  pthread_mutex_destroy (&self->remote_lock);

  G_OBJECT_CLASS (gbridge_io_loop_parent_class)->finalize (object);
}

static void
gbridge_io_loop_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  GbridgeIOLoop *self = GBRIDGE_IO_LOOP (object);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      g_value_set_boxed (value, self->context);
      break;

    default:
      if (!_gbridge_loop_metrics_get_property (self, prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_io_loop_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  GbridgeIOLoop *self = GBRIDGE_IO_LOOP (object);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      self->context = g_value_dup_boxed (value);
      break;

    default:
      if (!_gbridge_loop_metrics_set_property (self, prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_io_loop_constructed (GObject *object)
{
  GbridgeIOLoop *self = (GbridgeIOLoop *) object;

  G_OBJECT_CLASS (gbridge_io_loop_parent_class)->constructed (object);

  if (self->context == NULL)
    {
      self->context = g_main_context_new ();
      _gbridge_io_loop_poll_init (self, TRUE);
    }
  else
    _gbridge_io_loop_poll_init (self, FALSE);

  self->source = g_source_new (&loop_source_funcs, sizeof (LoopSource));
  ((LoopSource *) self->source)->loop = self;
  g_source_set_name (self->source, "GbridgeIOLoop");
  g_source_set_can_recurse (self->source, TRUE);
  g_source_attach (self->source, self->context);
  _gbridge_fd_set_init (&self->fds, self->source);

  self->yield_source = g_source_new (&yield_source_funcs, sizeof (LoopSource));
  ((LoopSource *) self->yield_source)->loop = self;
  g_source_set_name (self->yield_source, "GbridgeIOLoop (yield)");
  g_source_set_priority (self->yield_source, G_PRIORITY_LOW);
  g_source_set_can_recurse (self->yield_source, TRUE);
  g_source_attach (self->yield_source, self->context);
}

static void
gbridge_io_loop_class_init (GbridgeIOLoopClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = gbridge_io_loop_constructed;
  object_class->dispose = gbridge_io_loop_dispose;
  object_class->finalize = gbridge_io_loop_finalize;
  object_class->get_property = gbridge_io_loop_get_property;
  object_class->set_property = gbridge_io_loop_set_property;

  pthread_atfork (NULL, NULL, _gbridge_io_loop_on_fork_child);

  /**
   * GbridgeIOLoop:context:
   *
   * The #GMainContext the loop runs on. When %NULL at construction, the loop
   * creates a private context.
   *
   * Since: 1.0
   */
  properties[PROP_CONTEXT] =
    g_param_spec_boxed ("context", NULL, NULL,
                        G_TYPE_MAIN_CONTEXT,
                        (G_PARAM_READWRITE |
                         G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
  _gbridge_loop_metrics_class_init (object_class, N_PROPS);
}

static void
gbridge_io_loop_init (GbridgeIOLoop *self)
{
  pthread_mutex_init (&self->remote_lock, NULL);
  _gbridge_signal_ring_init (&self->ring);
  _gbridge_timer_heap_init (&self->timers);
  self->due = g_array_new (FALSE, FALSE, sizeof (guint64));
  self->ready = g_array_new (FALSE, FALSE, sizeof (GbridgeReadyFd));
  self->timer_fd = -1;
  self->wake_fd = -1;
  self->context_wake_fd = -1;
  self->own_timer_fd = -1;
  self->armed_deadline = G_MAXINT64;
  self->fork_generation = _gbridge_io_loop_fork_generation;
  self->pid = getpid ();
}

GbridgeLoopMetrics *
_gbridge_io_loop_get_metrics (GbridgeIOLoop *self)
{
  return self->metrics;
}

void
_gbridge_io_loop_set_metrics (GbridgeIOLoop      *self,
                              GbridgeLoopMetrics *metrics)
{
  self->metrics = metrics;
}

/* Public API */

/**
 * gbridge_io_loop_new:
 *
 * Creates a loop on a new, private #GMainContext: Tornado's `AsyncIOLoop`,
 * for a worker thread that runs its own loop with gbridge_io_loop_start().
 *
 * When no file descriptor is left for the new context (`EMFILE`), GLib
 * aborts the process; gbridge_io_loop_new_full() fails with a #GError
 * instead.
 *
 * Returns: (transfer full): a new #GbridgeIOLoop
 *
 * Since: 1.0
 */
GbridgeIOLoop *
gbridge_io_loop_new (void)
{
  return g_object_new (GBRIDGE_TYPE_IO_LOOP, NULL);
}

/**
 * gbridge_io_loop_new_for_context:
 * @context: (nullable): a #GMainContext, or %NULL for the global default
 *   context that GTK and g_main_loop_run() use
 *
 * Creates a loop on @context: Tornado's `AsyncIOMainLoop`. Whatever iterates
 * @context (a #GMainLoop, a GTK application, gbridge_io_loop_start()) runs
 * the loop's callbacks.
 *
 * Returns: (transfer full): a new #GbridgeIOLoop
 *
 * Since: 1.0
 */
GbridgeIOLoop *
gbridge_io_loop_new_for_context (GMainContext *context)
{
  return g_object_new (GBRIDGE_TYPE_IO_LOOP,
                       "context", context != NULL ? context : g_main_context_default (),
                       NULL);
}

/* g_main_context_new() aborts the process when it cannot open its wake-up
 * descriptor (an eventfd, else a pipe), typically on EMFILE. Open and close
 * the same first, to fail with an error instead. */
static gboolean
check_context_fds (GError **error)
{
  int fds[2];
  int saved;

#ifdef HAVE_EVENTFD
  fds[0] = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fds[0] >= 0)
    {
      close (fds[0]);
      return TRUE;
    }
#endif
  if (pipe (fds) == 0)
    {
      close (fds[0]);
      close (fds[1]);
      return TRUE;
    }

  saved = errno;
  g_set_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_FAILED,
               _("Cannot create a main context for the loop: %s"), g_strerror (saved));
  return FALSE;
}

/**
 * gbridge_io_loop_new_full:
 * @context: (nullable): a #GMainContext to run on, or %NULL for a new,
 *   private context as gbridge_io_loop_new() makes
 * @error: return location for a #GError
 *
 * Creates a loop, or fails with an error where gbridge_io_loop_new() would
 * abort the process: a new private #GMainContext needs a file descriptor,
 * and GLib aborts when it cannot open one (for example when the process
 * reached its `RLIMIT_NOFILE` limit, `EMFILE`). This function checks first
 * and fails with %GBRIDGE_IO_LOOP_ERROR_FAILED, whose message names the
 * system error. A loop on an existing @context opens no descriptor and
 * cannot fail.
 *
 * Note that %NULL means a private context here, as for the
 * #GbridgeIOLoop:context property; pass g_main_context_default() for the
 * global default context of gbridge_io_loop_new_for_context().
 *
 * The check opens and closes the descriptors GLib then opens again, so
 * another thread that takes the last free descriptor in between can still
 * make GLib abort.
 *
 * gbridge reports construction failures with this function rather than
 * with #GInitable: neither PyGObject nor GJS calls g_initable_init() from
 * their constructors, while a function with a #GError reaches every
 * binding (PyGObject raises `GLib.Error`, GJS throws).
 *
 * Returns: (transfer full): a new #GbridgeIOLoop, or %NULL with @error set
 *
 * Since: 1.0
 */
GbridgeIOLoop *
gbridge_io_loop_new_full (GMainContext  *context,
                          GError       **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (context == NULL && !check_context_fds (error))
    return NULL;

  return g_object_new (GBRIDGE_TYPE_IO_LOOP, "context", context, NULL);
}

/**
 * gbridge_io_loop_get_context:
 * @self: a #GbridgeIOLoop
 *
 * Gets the #GMainContext the loop runs on.
 *
 * Returns: (transfer none): the loop's #GMainContext
 *
 * Since: 1.0
 */
GMainContext *
gbridge_io_loop_get_context (GbridgeIOLoop *self)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), NULL);

  return self->context;
}

/**
 * gbridge_io_loop_get_default:
 *
 * Gets the process-wide loop on the global default #GMainContext, creating it
 * on first use: Tornado's `IOLoop.instance()`. It is never finalized.
 *
 * Returns: (transfer none): the default #GbridgeIOLoop
 *
 * Since: 1.0
 */
GbridgeIOLoop *
gbridge_io_loop_get_default (void)
{
  static GbridgeIOLoop *default_loop;

  if (g_once_init_enter (&default_loop))
    g_once_init_leave (&default_loop, gbridge_io_loop_new_for_context (NULL));

  return default_loop;
}

/**
 * gbridge_io_loop_get_current:
 *
 * Gets the calling thread's current loop: the loop that
 * gbridge_io_loop_make_current() made current, or the loop that
 * gbridge_io_loop_start() is running on this thread.
 *
 * Returns: (transfer none) (nullable): the current #GbridgeIOLoop, or %NULL
 *
 * Since: 1.0
 */
GbridgeIOLoop *
gbridge_io_loop_get_current (void)
{
  return g_private_get (&current_loop);
}

/**
 * gbridge_io_loop_make_current:
 * @self: a #GbridgeIOLoop
 *
 * Makes @self the calling thread's current loop, replacing any other. The
 * thread keeps a reference to it until gbridge_io_loop_clear_current() or
 * the thread's exit.
 *
 * Since: 1.0
 */
void
gbridge_io_loop_make_current (GbridgeIOLoop *self)
{
  g_return_if_fail (GBRIDGE_IS_IO_LOOP (self));

  if (g_private_get (&current_loop) != self)
    g_private_replace (&current_loop, g_object_ref (self));
}

/**
 * gbridge_io_loop_clear_current:
 *
 * Leaves the calling thread without a current loop.
 *
 * Since: 1.0
 */
void
gbridge_io_loop_clear_current (void)
{
  g_private_replace (&current_loop, NULL);
}

/**
 * gbridge_io_loop_start:
 * @self: a #GbridgeIOLoop
 * @error: return location for a #GError
 *
 * Runs the loop until gbridge_io_loop_stop() is called. While it runs, @self
 * is the thread's current loop and, for a private context, the thread-default
 * #GMainContext, so GIO operations started from its callbacks complete on it.
 *
 * If gbridge_io_loop_stop() was called since the loop last ran, returns at
 * once.
 *
 * Returns: %TRUE once stopped; %FALSE with @error set if the loop is already
 *   running (%GBRIDGE_IO_LOOP_ERROR_RUNNING), closed
 *   (%GBRIDGE_IO_LOOP_ERROR_CLOSED), or its context is owned by another thread
 *   (%GBRIDGE_IO_LOOP_ERROR_CONTEXT_BUSY)
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_start (GbridgeIOLoop  *self,
                       GError        **error)
{
  GbridgeIOLoop *previous;
  gboolean push;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_atomic_int_get (&self->closed))
    {
      _gbridge_io_loop_set_closed_error (error);
      return FALSE;
    }

  if (!g_atomic_int_compare_and_exchange (&self->running, FALSE, TRUE))
    {
      g_set_error_literal (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_RUNNING,
                           _("The loop is already running"));
      return FALSE;
    }

  if (g_atomic_int_compare_and_exchange (&self->stop_requested, TRUE, FALSE))
    {
      g_atomic_int_set (&self->running, FALSE);
      return TRUE;
    }

  if (!g_main_context_acquire (self->context))
    {
      g_atomic_int_set (&self->running, FALSE);
      g_set_error_literal (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_CONTEXT_BUSY,
                           _("The loop’s main context is owned by another thread"));
      return FALSE;
    }

  push = self->context != g_main_context_default ();
  if (push)
    g_main_context_push_thread_default (self->context);
  previous = g_private_get (&current_loop);
  if (previous != NULL)
    g_object_ref (previous);
  g_private_replace (&current_loop, g_object_ref (self));

  while (!g_atomic_int_get (&self->stop_requested))
    g_main_context_iteration (self->context, TRUE);
  g_atomic_int_set (&self->stop_requested, FALSE);

  g_private_replace (&current_loop, previous);
  if (push)
    g_main_context_pop_thread_default (self->context);
  g_main_context_release (self->context);
  g_atomic_int_set (&self->running, FALSE);

  return TRUE;
}

/**
 * gbridge_io_loop_stop:
 * @self: a #GbridgeIOLoop
 *
 * Makes gbridge_io_loop_start() return once the current iteration is done.
 * May be called from any thread. If the loop is not running, the next
 * gbridge_io_loop_start() returns at once.
 *
 * Since: 1.0
 */
void
gbridge_io_loop_stop (GbridgeIOLoop *self)
{
  g_return_if_fail (GBRIDGE_IS_IO_LOOP (self));

  g_atomic_int_set (&self->stop_requested, TRUE);
  _gbridge_io_loop_wake_context (self);
}

/**
 * gbridge_io_loop_is_running:
 * @self: a #GbridgeIOLoop
 *
 * Tells whether gbridge_io_loop_start() is running the loop.
 *
 * Returns: %TRUE while gbridge_io_loop_start() runs
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_is_running (GbridgeIOLoop *self)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);

  return g_atomic_int_get (&self->running);
}

static void
gbridge_io_loop_close_internal (GbridgeIOLoop *self,
                                gboolean       all_fds)
{
  CallbackList pending = { NULL, NULL };
  GPtrArray *handlers;
  GArray *timers;

  pthread_mutex_lock (&self->remote_lock);
  if (self->closed)
    {
      pthread_mutex_unlock (&self->remote_lock);
      return;
    }
  /* Before closed is set: in the child of a fork(), give up the parent's
   * kernel objects before removing anything from them. Closing is rare
   * enough to also catch a child made without the atfork handlers. */
  if (self->fork_generation != _gbridge_io_loop_fork_generation || self->pid != getpid ())
    _gbridge_io_loop_leave_parent (self);
  g_atomic_int_set (&self->closed, TRUE);
  callback_list_concat (&pending, &self->remote);
  g_atomic_int_set (&self->remote_pending, FALSE);
  pthread_mutex_unlock (&self->remote_lock);

  /* Take everything out of the loop's structures first: destroy-notifies may
   * call back into the (now closed) loop. */
  callback_list_concat (&self->batch, &self->next_local);
  callback_list_concat (&self->batch, &pending);
  {
    GbridgeCallback func;
    gpointer data;

    /* The ring's callbacks have no destroy-notify. */
    while (_gbridge_signal_ring_pop (&self->ring, &func, &data))
      ;
  }

  timers = _gbridge_timer_heap_steal_all (&self->timers);
  g_array_set_size (self->due, 0);
  self->due_pos = 0;

  handlers = _gbridge_fd_set_steal_all (&self->fds);
  for (guint i = self->ready_pos; i < self->ready->len; i++)
    _gbridge_handler_unref (g_array_index (self->ready, GbridgeReadyFd, i).handler);
  g_array_set_size (self->ready, 0);
  self->ready_pos = 0;

  _gbridge_signal_remove_all (self);
  _gbridge_io_loop_poll_fini (self);

  if (self->yield_source != NULL)
    {
      g_source_destroy (self->yield_source);
      g_clear_pointer (&self->yield_source, g_source_unref);
    }
  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
      self->timer_tag = NULL;
      self->wake_tag = NULL;
    }
  _gbridge_fd_set_clear (&self->fds);
  if (self->timer_fd >= 0)
    close (self->timer_fd);
  self->timer_fd = -1;

  /* Now run the destroy-notifies, each exactly once. */
  callback_list_destroy (&self->batch);
  for (guint i = 0; i < timers->len; i++)
    {
      GbridgeTimerCall *t = &g_array_index (timers, GbridgeTimerCall, i);

      if (t->destroy != NULL)
        t->destroy (t->user_data);
    }
  g_array_unref (timers);
  for (guint i = 0; i < handlers->len; i++)
    {
      GbridgeHandler *h = g_ptr_array_index (handlers, i);

      if (all_fds)
        close (h->fd);
      _gbridge_handler_unref (h);
    }
  g_ptr_array_unref (handlers);
}

/**
 * gbridge_io_loop_close:
 * @self: a #GbridgeIOLoop
 * @all_fds: whether to close the file descriptors that still have handlers
 * @error: return location for a #GError
 *
 * Closes the loop: detaches it from its context, drops every pending
 * callback, timeout, file descriptor handler and signal handler, and calls
 * each one's destroy-notify exactly once. Afterwards, whatever is added to
 * the loop is refused and its destroy-notify is called at once. Closing a
 * closed loop does nothing.
 *
 * Returns: %TRUE on success; %FALSE with %GBRIDGE_IO_LOOP_ERROR_RUNNING if the
 *   loop is running or dispatching
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_close (GbridgeIOLoop  *self,
                       gboolean        all_fds,
                       GError        **error)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_atomic_int_get (&self->running) || self->dispatch_depth > 0)
    {
      g_set_error_literal (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_RUNNING,
                           _("Cannot close a running loop"));
      return FALSE;
    }

  gbridge_io_loop_close_internal (self, all_fds);
  return TRUE;
}

/**
 * gbridge_io_loop_is_closed:
 * @self: a #GbridgeIOLoop
 *
 * Tells whether gbridge_io_loop_close() was called.
 *
 * Returns: %TRUE if the loop is closed
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_is_closed (GbridgeIOLoop *self)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);

  return g_atomic_int_get (&self->closed);
}

