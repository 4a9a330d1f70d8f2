/* gbridge-io-loop.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-io-loop.h"
#include "gbridge-fd-set-private.h"
#include "gbridge-loop-metrics-private.h"
#include "gbridge-signal-private.h"
#include "gbridge-timer-heap-private.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib-unix.h>

#ifdef HAVE_TIMERFD
# include <sys/timerfd.h>
#endif
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

typedef struct _Callback Callback;

struct _Callback
{
  Callback        *next;
  GbridgeCallback  func;
  gpointer         user_data;
  GDestroyNotify   destroy;
};

/* A repeating callback is a Callback whose func is NULL, whose user_data is
 * this and whose destroy is repeat_free(): the common Callback stays small.
 * It is queued again before each call, so a nested main loop started from
 * func runs it again. in_calls counts the calls on the stack, listed says
 * whether its Callback is in one of the loop's lists, and removed that the
 * latest call returned G_SOURCE_REMOVE. */
typedef struct
{
  GSourceFunc     func;
  gpointer        user_data;
  GDestroyNotify  destroy;
  guint           in_calls;
  guint           listed : 1;
  guint           removed : 1;
} Repeat;

typedef struct
{
  Callback *head;
  Callback *tail;
} CallbackList;

typedef struct
{
  GSource        source;
  GbridgeIOLoop *loop;
} LoopSource;

struct _GbridgeIOLoop
{
  GObject parent_instance;

  GMainContext *context;
  GSource      *source;
  GSource      *yield_source;   /* see YIELD_AFTER_USEC */

  /* Callbacks. next_local is only touched by the thread dispatching the
   * loop; remote is shared and guarded by remote_lock. */
  CallbackList     batch;
  CallbackList     next_local;
  pthread_mutex_t  remote_lock;
  CallbackList     remote;
  gint             remote_pending;
  Callback        *free_callbacks;
  guint            n_free_callbacks;

  /* add_callback_from_signal() cannot allocate or lock: a lock-free ring. */
  GbridgeSignalRing ring;

  /* Timers */
  GbridgeTimerHeap timers;
  GArray          *due;       /* handles of the timers due in this iteration */
  guint            due_pos;
  int              timer_fd;
  gpointer         timer_tag;
  /* Only in the child of a fork(): a wake-up descriptor of the loop's own
   * (see after_fork()); -1 before. Closed by finalize only, since other
   * threads may write to it until then. */
  int              wake_fd;
  gpointer         wake_tag;
  gint64           armed_deadline;
  gint64           virtual_now;
  guint            virtual_clock : 1;

  /* File descriptors */
  GbridgeFdSet fds;
  GArray      *ready;     /* GbridgeReadyFd found in this iteration */
  guint        ready_pos;

  /* Signals */
  gint signals_pending;

  /* Fairness towards lower-priority sources (GTK's redraw, idles): the
   * start of the current run of back-to-back busy iterations, and whether
   * this GLib iteration is one where the work waits at the lowest priority. */
  gint64   busy_since;
  gboolean yielding;

  /* fork(): the fork_generation and the process the kernel objects (epoll
   * set, timerfd) were made for. */
  guint fork_generation;
  pid_t pid;

  /* What the loop measures about itself; NULL while nothing is measured
   * (gbridge-loop-metrics.c). */
  GbridgeLoopMetrics *metrics;

  guint dispatch_depth;
  guint n_collects;     /* collects of ready descriptors so far, for INLINE_FD_ROUNDS */
  gint  running;
  gint  stop_requested;
  gint  closed;
};

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

/* The loop whose source this thread is dispatching right now: callbacks it
 * adds to that loop need no lock. */
static __thread GbridgeIOLoop *dispatching_loop;

static GPrivate current_loop = G_PRIVATE_INIT (g_object_unref);

static void gbridge_io_loop_close_internal (GbridgeIOLoop *self,
                                            gboolean       all_fds);

/* fork() */

/* Bumped in the child of every fork() that runs the pthread_atfork()
 * handlers: a loop made in another generation shares its kernel objects
 * with the parent. Only the forking thread exists in the child. */
static volatile guint fork_generation;

static void
on_fork_child (void)
{
  fork_generation++;
}

/* Gives up the kernel objects shared with the parent for new ones. */
static gboolean
after_fork (GbridgeIOLoop  *self,
            GError        **error)
{
  int err = 0;

  self->fork_generation = fork_generation;
  self->pid = getpid ();
  if (g_atomic_int_get (&self->closed))
    return TRUE;

  /* The next prepare arms a new timerfd. Closing this one drops only the
   * child's reference: the parent's stays armed. */
  if (self->timer_fd >= 0)
    {
      if (self->timer_tag != NULL)
        g_source_remove_unix_fd (self->source, self->timer_tag);
      self->timer_tag = NULL;
      close (self->timer_fd);
      self->timer_fd = -1;
      self->armed_deadline = G_MAXINT64;
    }

#ifdef HAVE_EVENTFD
  /* GLib's wake-up descriptor of the context is shared with the parent
   * too, and whichever process reads it first takes a wake-up: another
   * thread's gbridge_io_loop_add_callback() could go unnoticed here while
   * this process sleeps in poll(). Wake this loop through a descriptor of
   * its own from now on. */
  {
    int old_fd = g_atomic_int_get (&self->wake_fd);
    int fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

    if (self->wake_tag != NULL)
      g_source_remove_unix_fd (self->source, self->wake_tag);
    self->wake_tag = fd >= 0 ? g_source_add_unix_fd (self->source, fd, G_IO_IN) : NULL;
    g_atomic_int_set (&self->wake_fd, fd);
    if (old_fd >= 0)
      close (old_fd);
  }
#endif

  if (!_gbridge_fd_set_after_fork (&self->fds, &err))
    {
      g_set_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_FAILED,
                   _("Cannot create a new epoll set for the loop after fork(): %s"),
                   g_strerror (err));
      return FALSE;
    }
  return TRUE;
}

/* Wakes the context up, from any thread or a signal handler. */
static void
wake_context (GbridgeIOLoop *self)
{
#ifdef HAVE_EVENTFD
  int fd = g_atomic_int_get (&self->wake_fd);

  if (fd >= 0)
    {
      guint64 one = 1;

      if (write (fd, &one, sizeof one) == sizeof one)
        return;
    }
#endif
  g_main_context_wakeup (self->context);
}

/* after_fork() where no caller can take an error. */
static void
leave_parent (GbridgeIOLoop *self)
{
  g_autoptr(GError) error = NULL;

  if (!after_fork (self, &error))
    g_warning ("%s", error->message);
}

/* At every entry point that touches the loop's kernel objects. */
static inline void
check_fork (GbridgeIOLoop *self)
{
  if (G_UNLIKELY (self->fork_generation != fork_generation))
    leave_parent (self);
}

/* Callbacks */

static inline void
callback_list_push (CallbackList *list,
                    Callback     *cb)
{
  cb->next = NULL;
  if (list->tail != NULL)
    list->tail->next = cb;
  else
    list->head = cb;
  list->tail = cb;
}

static inline void
callback_list_concat (CallbackList *list,
                      CallbackList *other)
{
  if (other->head == NULL)
    return;
  if (list->tail != NULL)
    list->tail->next = other->head;
  else
    list->head = other->head;
  list->tail = other->tail;
  other->head = other->tail = NULL;
}

static void
callback_list_destroy (CallbackList *list)
{
  Callback *cb = list->head;

  list->head = list->tail = NULL;
  while (cb != NULL)
    {
      Callback *next = cb->next;

      if (cb->destroy != NULL)
        cb->destroy (cb->user_data);
      g_free (cb);
      cb = next;
    }
}

static inline Callback *
callback_init (Callback        *cb,
               GbridgeCallback  func,
               gpointer         user_data,
               GDestroyNotify   destroy)
{
  cb->func = func;
  cb->user_data = user_data;
  cb->destroy = destroy;
  return cb;
}

static inline Callback *
callback_new_local (GbridgeIOLoop   *self,
                    GbridgeCallback  func,
                    gpointer         user_data,
                    GDestroyNotify   destroy)
{
  Callback *cb = self->free_callbacks;

  if (cb != NULL)
    {
      self->free_callbacks = cb->next;
      self->n_free_callbacks--;
    }
  else
    cb = g_new (Callback, 1);
  return callback_init (cb, func, user_data, destroy);
}

static inline void
callback_free_local (GbridgeIOLoop *self,
                     Callback      *cb)
{
  if (self->n_free_callbacks < 4096)
    {
      cb->next = self->free_callbacks;
      self->free_callbacks = cb;
      self->n_free_callbacks++;
    }
  else
    g_free (cb);
}

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

static inline gint64
loop_now_us (GbridgeIOLoop *self)
{
  return self->virtual_clock ? self->virtual_now : g_get_monotonic_time ();
}

/* Runs @destroy on @user_data now, when a callback is refused. */
static inline void
refuse (gpointer       user_data,
        GDestroyNotify destroy)
{
  if (destroy != NULL)
    destroy (user_data);
}

static void
set_closed_error (GError **error)
{
  g_set_error_literal (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_CLOSED,
                       _("The loop is closed"));
}

/* A registration on a closed loop is refused: @destroy runs now. */
static gboolean
refuse_if_closed (GbridgeIOLoop   *self,
                  gpointer         user_data,
                  GDestroyNotify   destroy,
                  GError         **error)
{
  if (!g_atomic_int_get (&self->closed))
    return FALSE;
  refuse (user_data, destroy);
  set_closed_error (error);
  return TRUE;
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

static void
arm_timer (GbridgeIOLoop *self,
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
  *timeout = -1;
  self->yielding = FALSE;

  if (has_pending_work (self) || has_due_timer (self))
    {
      *timeout = 0;
      return ready_unless_yielding (self, source);
    }

  if (!self->virtual_clock && _gbridge_timer_heap_peek (&self->timers, &deadline))
    arm_timer (self, deadline, timeout);

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

/* Replaces self->ready with the descriptors that are ready (as GLib's last
 * poll found them or, for an inline round, as epoll finds them now) and
 * stamps them with a new collect number. An inline round drops those the
 * previous collect found ready too: a descriptor that stays ready (a
 * writable socket, a peer that keeps sending) waits for GLib's next poll,
 * which sees it again (epoll is level-triggered), rather than being
 * reported round after round. Returns whether any are left. */
static gboolean
collect_ready (GbridgeIOLoop *self,
               gboolean       inline_round)
{
  guint previous = self->n_collects++;
  guint kept = 0;

  g_array_set_size (self->ready, 0);
  self->ready_pos = 0;
  if (inline_round)
    _gbridge_fd_set_collect_now (&self->fds, self->ready);
  else
    _gbridge_fd_set_collect (&self->fds, self->ready);

  for (guint i = 0; i < self->ready->len; i++)
    {
      GbridgeReadyFd r = g_array_index (self->ready, GbridgeReadyFd, i);
      gboolean again = r.handler->last_collect == previous;

      r.handler->last_collect = self->n_collects;
      if (inline_round && again)
        _gbridge_handler_unref (r.handler);
      else
        g_array_index (self->ready, GbridgeReadyFd, kept++) = r;
    }
  if (kept < self->ready->len)
    g_array_set_size (self->ready, kept);
  return kept > 0;
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
  collect_ready (self, FALSE);
}

static void
repeat_free (gpointer data)
{
  Repeat *r = data;

  if (r->destroy != NULL)
    r->destroy (r->user_data);
  g_free (r);
}

/* Runs the repeating callback @cb just taken off the batch. Returns TRUE
 * when it is done with and the caller frees it. */
static gboolean
run_repeating (GbridgeIOLoop *self,
               Callback      *cb)
{
  Repeat *r = cb->user_data;
  gboolean again;

  r->listed = FALSE;
  if (r->removed)
    return r->in_calls == 0;  /* else the call on the stack finishes it */

  /* Queued again before the call: a nested main loop started from it keeps
   * running it, as it keeps running a callback that re-adds itself. */
  callback_list_push (&self->next_local, cb);
  r->listed = TRUE;
  r->in_calls++;
  if (G_UNLIKELY (self->metrics != NULL))
    again = _gbridge_loop_metrics_run_repeating (self->metrics, r->func, r->user_data);
  else
    again = r->func (r->user_data);
  r->in_calls--;
  r->removed = !again;

  if (!r->listed)
    {
      /* A nested loop took it off a list while this call ran. */
      if (again)
        {
          callback_list_push (&self->next_local, cb);
          r->listed = TRUE;
          return FALSE;
        }
      return r->in_calls == 0;
    }
  if (!again && r->in_calls == 0 && self->next_local.head == cb)
    {
      /* The usual case: unqueue it now rather than on the next iteration. */
      self->next_local.head = cb->next;
      if (self->next_local.head == NULL)
        self->next_local.tail = NULL;
      r->listed = FALSE;
      return TRUE;
    }
  /* Still queued: dropped when next reached, if still removed by then. */
  return FALSE;
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
      else if (!run_repeating (self, cb))
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
  GbridgeIOLoop *previous = dispatching_loop;

  check_fork (self);
  g_object_ref (self);
  dispatching_loop = self;
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
   * previous round (collect_ready()): one that stays ready is reported
   * once per GLib iteration, as without these rounds. Only after an
   * iteration that had ready descriptors: one woken by a timer or a
   * callback alone does not pay for an epoll_wait() that finds nothing. */
  if (self->dispatch_depth == 1 && self->ready->len > 0)
    {
      for (guint round = 0; round < INLINE_FD_ROUNDS; round++)
        {
          if (g_atomic_int_get (&self->stop_requested) ||
              g_atomic_int_get (&self->closed) ||
              has_pending_work (self) ||
              has_due_timer (self) ||
              !collect_ready (self, TRUE))
            break;
          if (G_UNLIKELY (self->metrics != NULL))
            _gbridge_loop_metrics_iteration (self->metrics);
          run_iteration (self);
        }
    }

  self->dispatch_depth--;
  dispatching_loop = previous;
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
    self->context = g_main_context_new ();

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

  pthread_atfork (NULL, NULL, on_fork_child);

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
  self->armed_deadline = G_MAXINT64;
  self->fork_generation = fork_generation;
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
      set_closed_error (error);
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
  wake_context (self);
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
  if (self->fork_generation != fork_generation || self->pid != getpid ())
    leave_parent (self);
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

/**
 * gbridge_io_loop_fork:
 * @self: a #GbridgeIOLoop
 * @error: return location for a #GError
 *
 * Makes the loop private to the calling process, in the child of a fork():
 * gives up the epoll set and the timerfd it shares with the parent, without
 * changing them, and creates its own (and a wake-up descriptor, since the
 * context's belongs to GLib and stays shared), with every file descriptor handler
 * registered again and the timers armed again. Afterwards, nothing the child
 * does to its loop changes the parent's. This is libuv's uv_loop_fork().
 *
 * There is usually no need to call it: the loop does the same by itself the
 * first time the child uses it after a fork() that ran the pthread_atfork()
 * handlers, as fork() and Python's os.fork() do. Call it in a child made
 * without them (a raw clone()) before using the loop. Called when nothing
 * forked, it only replaces the loop's epoll set and timerfd (and its own
 * wake-up descriptor) with new ones.
 *
 * Returns: %TRUE on success, and on a closed loop, which has nothing to give
 *   up; %FALSE with %GBRIDGE_IO_LOOP_ERROR_FAILED if no new epoll set could
 *   be created, in which case the handlers of the descriptors that were in
 *   it are no longer called (remove them)
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_fork (GbridgeIOLoop  *self,
                      GError        **error)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return after_fork (self, error);
}

/**
 * gbridge_io_loop_add_handler:
 * @self: a #GbridgeIOLoop
 * @fd: an open file descriptor
 * @events: the events to wait for
 * @func: (scope notified) (closure user_data) (destroy destroy): the handler
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data when the handler is removed
 * @error: return location for a #GError
 *
 * Calls @func whenever @fd is ready for one of @events; error and hang-up
 * are always reported, as %GBRIDGE_IO_EVENTS_ERROR. Readiness is
 * level-triggered: @func is called on every iteration while the condition
 * holds.
 *
 * On Linux every descriptor goes into the loop's one epoll set, which
 * follows the open file, not the number: a descriptor closed while
 * registered simply stops being reported (remove its handler all the same,
 * before its number can be registered again), and a new file that reuses the
 * number is never reported to the old handler, even when the old file stays
 * open elsewhere, through a dup(), a fork() or a descriptor passed over a
 * socket. For that, the loop checks before each call of @func that @fd
 * still names the file it registered (one epoll_ctl() per call), and drops
 * the registration that such a file leaves behind, which epoll can no
 * longer remove by number, by re-creating its epoll set from the live
 * handlers. The alternative, registering a dup() of every descriptor, would
 * cost a descriptor per handler and keep a closed connection open until
 * its handler is removed, and would still need the check.
 *
 * Regular files, which epoll refuses, are watched with poll() instead and
 * are always ready, as poll() reports them; such a descriptor closed while
 * registered, or whose number another file reuses, is reported once as
 * %GBRIDGE_IO_EVENTS_ERROR and its handler removed. The loop keeps a
 * duplicate of each such descriptor to tell its file from another.
 *
 * On failure, @destroy is called on @user_data before returning.
 *
 * Returns: %TRUE on success; %FALSE with @error set if @fd already has a
 *   handler (%GBRIDGE_IO_LOOP_ERROR_EXISTS), is not open
 *   (%GBRIDGE_IO_LOOP_ERROR_BAD_FD), or the loop is closed
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_add_handler (GbridgeIOLoop    *self,
                             int               fd,
                             GbridgeIOEvents   events,
                             GbridgeIOFunc     func,
                             gpointer          user_data,
                             GDestroyNotify    destroy,
                             GError          **error)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (refuse_if_closed (self, user_data, destroy, error))
    return FALSE;

  check_fork (self);
  if (!_gbridge_fd_set_add (&self->fds, fd, events, func, user_data, destroy, error))
    {
      refuse (user_data, destroy);
      return FALSE;
    }

  return TRUE;
}

/**
 * gbridge_io_loop_update_handler:
 * @self: a #GbridgeIOLoop
 * @fd: a file descriptor with a handler
 * @events: the events to wait for from now on
 * @error: return location for a #GError
 *
 * Changes the events the handler of @fd waits for.
 *
 * Returns: %TRUE on success; %FALSE with @error set if @fd has no handler
 *   (%GBRIDGE_IO_LOOP_ERROR_NOT_FOUND) or the loop is closed
 *   (%GBRIDGE_IO_LOOP_ERROR_CLOSED)
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_update_handler (GbridgeIOLoop    *self,
                                int               fd,
                                GbridgeIOEvents   events,
                                GError          **error)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* A closed loop has no fd set any more; a destroy-notify run by the close
   * or by finalize may still get here. */
  if (g_atomic_int_get (&self->closed))
    {
      set_closed_error (error);
      return FALSE;
    }

  check_fork (self);
  return _gbridge_fd_set_update (&self->fds, fd, events, error);
}

/**
 * gbridge_io_loop_remove_handler:
 * @self: a #GbridgeIOLoop
 * @fd: a file descriptor
 *
 * Stops watching @fd and calls the handler's destroy-notify (after the
 * handler returns, if it is running). The handler is not called again, even
 * if @fd was already found ready in the current iteration. A descriptor
 * without a handler is no error, and neither is a closed loop, whose
 * handlers are all gone: that includes a destroy-notify that the close (or
 * the loop's finalization) runs.
 *
 * Returns: %TRUE if @fd had a handler
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_remove_handler (GbridgeIOLoop *self,
                                int            fd)
{
  GbridgeHandler *h;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);

  if (g_atomic_int_get (&self->closed))
    return FALSE;

  check_fork (self);
  h = _gbridge_fd_set_remove (&self->fds, fd);
  if (h == NULL)
    return FALSE;

  _gbridge_handler_unref (h);
  return TRUE;
}

G_ALWAYS_INLINE static inline gboolean
add_callback (GbridgeIOLoop   *self,
              GbridgeCallback  func,
              gpointer         user_data,
              GDestroyNotify   destroy)
{
  Callback *cb;
  gboolean was_empty;

  if (dispatching_loop == self)
    {
      callback_list_push (&self->next_local,
                          callback_new_local (self, func, user_data, destroy));
      return TRUE;
    }

  cb = callback_init (g_new (Callback, 1), func, user_data, destroy);

  pthread_mutex_lock (&self->remote_lock);
  if (self->closed)
    {
      pthread_mutex_unlock (&self->remote_lock);
      g_free (cb);
      refuse (user_data, destroy);
      return FALSE;
    }
  was_empty = self->remote.head == NULL;
  callback_list_push (&self->remote, cb);
  if (was_empty)
    g_atomic_int_set (&self->remote_pending, TRUE);
  pthread_mutex_unlock (&self->remote_lock);

  /* Only the first callback of a batch needs to wake the context: until the
   * loop takes the batch, the wake-up is still pending. */
  if (was_empty)
    wake_context (self);

  return TRUE;
}

/**
 * gbridge_io_loop_add_callback:
 * @self: a #GbridgeIOLoop
 * @func: (scope notified) (closure user_data) (destroy destroy): the callback
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data after @func ran, or when it is
 *   dropped
 *
 * Calls @func on the next iteration of the loop. Callbacks run in the order
 * they were added by each thread; a callback added while callbacks run waits
 * for the next iteration.
 *
 * This is the function to call from other threads: it is thread-safe and
 * wakes the loop. From a callback of the loop it takes no lock.
 *
 * Returns: %TRUE if queued; %FALSE if the loop is closed, in which case
 *   @destroy was called on @user_data
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_add_callback (GbridgeIOLoop   *self,
                              GbridgeCallback  func,
                              gpointer         user_data,
                              GDestroyNotify   destroy)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  return add_callback (self, func, user_data, destroy);
}

/**
 * gbridge_io_loop_add_repeating_callback:
 * @self: a #GbridgeIOLoop
 * @func: (scope notified) (closure user_data) (destroy destroy): the callback
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data once @func returned
 *   %G_SOURCE_REMOVE, or when it is dropped
 *
 * Calls @func on the next iteration of the loop, and again on each
 * following iteration for as long as it returns %G_SOURCE_CONTINUE, as a
 * callback that adds itself again with gbridge_io_loop_add_callback() would
 * be called, without the cost of adding it each time. This is for work that
 * comes in bursts, such as another event loop's queue of ready callbacks:
 * while @func is queued the loop does not sleep, so it returns
 * %G_SOURCE_REMOVE once its work is done.
 *
 * @func is queued again before each call, so a nested main loop started
 * from @func calls it again (GLib sources, by default, are not re-entered).
 * A call that returns %G_SOURCE_REMOVE ends the repetition even while an
 * outer call of @func is still running; the last call to return decides.
 *
 * Thread-safe, like gbridge_io_loop_add_callback().
 *
 * Returns: %TRUE if queued; %FALSE if the loop is closed, in which case
 *   @destroy was called on @user_data
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_add_repeating_callback (GbridgeIOLoop  *self,
                                        GSourceFunc     func,
                                        gpointer        user_data,
                                        GDestroyNotify  destroy)
{
  Repeat *r;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  r = g_new (Repeat, 1);
  r->func = func;
  r->user_data = user_data;
  r->destroy = destroy;
  r->in_calls = 0;
  r->listed = TRUE;
  r->removed = FALSE;
  return add_callback (self, NULL, r, repeat_free);
}

/**
 * gbridge_io_loop_add_callback_from_signal: (skip)
 * @self: a #GbridgeIOLoop
 * @func: the callback
 * @user_data: data for @func
 *
 * Calls @func on the next iteration of the loop. Unlike
 * gbridge_io_loop_add_callback(), this is async-signal-safe: it neither
 * allocates memory nor takes a lock, so a plain Unix signal handler may call
 * it. Up to 256 callbacks can wait at once. Bindings use
 * gbridge_io_loop_add_signal_handler() or gbridge_io_loop_add_callback()
 * instead.
 *
 * Returns: %TRUE if queued; %FALSE if the loop is closed or 256 callbacks are
 *   already waiting
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_add_callback_from_signal (GbridgeIOLoop   *self,
                                          GbridgeCallback  func,
                                          gpointer         user_data)
{
  int saved_errno = errno;
  gboolean queued = FALSE;

  if (self != NULL && func != NULL && !g_atomic_int_get (&self->closed))
    {
      queued = _gbridge_signal_ring_push (&self->ring, func, user_data);
      if (queued)
        wake_context (self);
    }
  errno = saved_errno;
  return queued;
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
 * gbridge_io_loop_add_signal_handler:
 * @self: a #GbridgeIOLoop
 * @signum: a Unix signal number that can be caught (not `SIGKILL` or
 *   `SIGSTOP`)
 * @func: (scope notified) (closure user_data) (destroy destroy): the handler
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data when the handler is removed
 * @error: return location for a #GError
 *
 * Calls @func on the loop, as an ordinary callback, each time @signum is
 * delivered; several deliveries between two iterations call it once. The
 * signal's previous disposition is saved and restored by
 * gbridge_io_loop_remove_signal_handler().
 *
 * One loop at a time handles a given signal. Adding a handler for a signal
 * this loop already handles replaces the handler.
 *
 * On failure, @destroy is called on @user_data before returning.
 *
 * Returns: %TRUE on success; %FALSE with @error set if the signal cannot be
 *   caught (%GBRIDGE_IO_LOOP_ERROR_INVALID_SIGNAL), another loop handles it
 *   (%GBRIDGE_IO_LOOP_ERROR_EXISTS), or the loop is closed
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_add_signal_handler (GbridgeIOLoop      *self,
                                    int                 signum,
                                    GbridgeSignalFunc   func,
                                    gpointer            user_data,
                                    GDestroyNotify      destroy,
                                    GError            **error)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (refuse_if_closed (self, user_data, destroy, error))
    return FALSE;

  if (!_gbridge_signal_add (self, self->context, &self->signals_pending, signum,
                            func, user_data, destroy, error))
    {
      refuse (user_data, destroy);
      return FALSE;
    }

  return TRUE;
}

/**
 * gbridge_io_loop_remove_signal_handler:
 * @self: a #GbridgeIOLoop
 * @signum: a Unix signal number
 *
 * Removes the handler of @signum, restores the disposition the signal had
 * before gbridge_io_loop_add_signal_handler(), and calls the handler's
 * destroy-notify.
 *
 * Returns: %TRUE if @self handled @signum
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_remove_signal_handler (GbridgeIOLoop *self,
                                       int            signum)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);

  return _gbridge_signal_remove (self, signum);
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
  wake_context (self);
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
  wake_context (self);
}
