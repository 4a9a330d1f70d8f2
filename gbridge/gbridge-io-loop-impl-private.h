/* gbridge-io-loop-impl-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-io-loop.h"
#include "gbridge-fd-set-private.h"
#include "gbridge-loop-metrics-private.h"
#include "gbridge-signal-private.h"
#include "gbridge-timer-heap-private.h"

#include <pthread.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* What the files of #GbridgeIOLoop share: gbridge-io-loop.c (the object,
 * its GSource and the iteration), gbridge-io-loop-callbacks.c (the callback
 * queue, repeating callbacks, signal handlers and the wake-up),
 * gbridge-io-loop-timers.c (timeouts, the timerfd, the clock),
 * gbridge-io-loop-fds.c (file descriptor handlers) and
 * gbridge-io-loop-fork.c (fork()). The rest of the library uses
 * gbridge-io-loop-private.h. */

typedef struct _Callback Callback;

struct _Callback
{
  Callback        *next;
  GbridgeCallback  func;
  gpointer         user_data;
  GDestroyNotify   destroy;
};

typedef struct
{
  Callback *head;
  Callback *tail;
} CallbackList;

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

  /* The context's poll function, if the loop set it
   * (gbridge-io-loop-poll.c). */
  int      context_wake_fd;      /* GLib's wake-up descriptor of the context */
  int      own_timer_fd;         /* timer_fd as registered in the epoll set, or -1 */
  guint    own_generation;       /* the epoll set the registrations are in */
  guint    owns_poll : 1;
  guint    poll_broken : 1;      /* registering failed: g_poll() from now on */
  guint    own_wake_registered : 1;
  guint    single_wait : 1;      /* this GLib iteration waited in the loop's poll function */

  guint dispatch_depth;
  guint n_collects;     /* collects of ready descriptors so far, for INLINE_FD_ROUNDS */
  gint  running;
  gint  stop_requested;
  gint  closed;
};

/* The loop whose source this thread is dispatching right now: callbacks it
 * adds to that loop need no lock. */
extern __thread GbridgeIOLoop *_gbridge_io_loop_dispatching;

/* Bumped in the child of every fork() that runs the pthread_atfork()
 * handlers: a loop made in another generation shares its kernel objects
 * with the parent. Only the forking thread exists in the child. */
extern volatile guint _gbridge_io_loop_fork_generation;

/* gbridge-io-loop.c */
void     _gbridge_io_loop_set_closed_error (GError        **error);

/* gbridge-io-loop-callbacks.c */
void     _gbridge_io_loop_wake_context     (GbridgeIOLoop  *self);
gboolean _gbridge_io_loop_run_repeating    (GbridgeIOLoop  *self,
                                            Callback       *cb);

/* gbridge-io-loop-timers.c */
void     _gbridge_io_loop_arm_timer        (GbridgeIOLoop  *self,
                                            gint64          deadline,
                                            gint           *timeout);

/* gbridge-io-loop-fds.c */
gboolean _gbridge_io_loop_collect_ready    (GbridgeIOLoop  *self,
                                            gboolean        inline_round);

/* gbridge-io-loop-poll.c */
void     _gbridge_io_loop_poll_init        (GbridgeIOLoop  *self,
                                            gboolean        made);
void     _gbridge_io_loop_poll_prepare     (GbridgeIOLoop  *self);
void     _gbridge_io_loop_poll_check       (GbridgeIOLoop  *self);
void     _gbridge_io_loop_poll_fini        (GbridgeIOLoop  *self);

/* gbridge-io-loop-fork.c */
void     _gbridge_io_loop_on_fork_child    (void);
void     _gbridge_io_loop_leave_parent     (GbridgeIOLoop  *self);

/* At every entry point that touches the loop's kernel objects. */
static inline void
check_fork (GbridgeIOLoop *self)
{
  if (G_UNLIKELY (self->fork_generation != _gbridge_io_loop_fork_generation))
    _gbridge_io_loop_leave_parent (self);
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

static inline void
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

/* A registration on a closed loop is refused: @destroy runs now. */
static inline gboolean
refuse_if_closed (GbridgeIOLoop   *self,
                  gpointer         user_data,
                  GDestroyNotify   destroy,
                  GError         **error)
{
  if (!g_atomic_int_get (&self->closed))
    return FALSE;
  refuse (user_data, destroy);
  _gbridge_io_loop_set_closed_error (error);
  return TRUE;
}

G_END_DECLS
