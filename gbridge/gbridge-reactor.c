/* gbridge-reactor.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-reactor.h"
#include "gbridge-future-private.h"
#include "gbridge-reactor-private.h"
#include "gbridge-threaded-resolver.h"

#include <signal.h>

#include <glib/gi18n-lib.h>

/**
 * SECTION:gbridge-reactor
 * @title: GbridgeReactor
 * @short_description: A Twisted-style reactor on a GbridgeIOLoop
 *
 * #GbridgeReactor is Twisted's reactor rebuilt on a #GbridgeIOLoop, so on
 * the loop's #GMainContext: delayed calls (`callLater`) live in the loop's
 * timer heap, readers and writers (#GbridgeDescriptor) in its epoll set,
 * and calls from other threads go through its thread-safe callback queue.
 * GTK, GIO and Tornado-style code on the same context run in between.
 *
 * There is one reactor per loop, see gbridge_reactor_ref_for_loop(). A
 * process may install one of them as its default reactor, once.
 *
 * The reactor keeps Twisted's life cycle: gbridge_reactor_run() fires the
 * `startup` system event and runs the loop; gbridge_reactor_stop() fires
 * the `shutdown` event on the next iteration, whose `during` phase crashes
 * the loop (makes gbridge_reactor_run() return), disconnects every reader
 * and writer and stops the worker threads. A stopped reactor cannot run
 * again; one that was only crashed (gbridge_reactor_crash()) can. While
 * gbridge_reactor_run() runs, SIGINT and SIGTERM stop the reactor unless
 * it was told not to install signal handlers.
 *
 * A descriptor is registered once per file descriptor even when it is both
 * read and written. When its read or write returns %FALSE, when its file
 * descriptor closes under it (gbridge_descriptor_get_fd() no longer returns
 * the registered number), or on a hang-up or error while it is not
 * readable, the reactor removes it and calls
 * gbridge_descriptor_connection_lost() with a reason in the
 * %GBRIDGE_REACTOR_ERROR domain.
 */

/**
 * GbridgeReactor:
 *
 * A Twisted-style reactor on a #GbridgeIOLoop. Its fields are private.
 *
 * Since: 1.0
 */

typedef struct
{
  guint               ref_count;
  guint               id;
  GbridgeTriggerPhase phase;
  char               *event;
  GbridgeTriggerFunc  func;
  GbridgeCallback     callback;   /* instead of func, for call_when_running */
  gpointer            user_data;
  GDestroyNotify      destroy;
  gboolean            once;
  gboolean            removed;
} Trigger;

typedef struct
{
  GPtrArray *phases[3];   /* of Trigger, in the order they were added */
} EventTriggers;

typedef struct
{
  GbridgeCallback func;
  gpointer        user_data;
  GDestroyNotify  destroy;
} Job;

/* An event whose before phase waits for futures. */
typedef struct
{
  guint           ref_count;
  GbridgeReactor *reactor;
  char           *event;
  guint           pending;
} Firing;

enum {
  PROP_0,
  PROP_LOOP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GbridgeReactor *default_reactor;
G_LOCK_DEFINE_STATIC (default_reactor);

static GQuark reactor_quark;

G_DEFINE_FINAL_TYPE (GbridgeReactor, gbridge_reactor, G_TYPE_OBJECT)

/**
 * gbridge_reactor_error_quark:
 *
 * Gets the error domain of #GbridgeReactor.
 *
 * Returns: the %GBRIDGE_REACTOR_ERROR quark
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (gbridge-reactor-error-quark, gbridge_reactor_error)

static Trigger *add_trigger (GbridgeReactor      *self,
                             GbridgeTriggerPhase  phase,
                             const char          *event,
                             GbridgeTriggerFunc   func,
                             gpointer             user_data,
                             GDestroyNotify       destroy);

static void
trigger_unref (gpointer data)
{
  Trigger *t = data;

  if (--t->ref_count > 0)
    return;
  if (t->destroy != NULL)
    t->destroy (t->user_data);
  g_free (t->event);
  g_free (t);
}

static void
event_triggers_free (gpointer data)
{
  EventTriggers *e = data;

  for (guint i = 0; i < G_N_ELEMENTS (e->phases); i++)
    g_ptr_array_unref (e->phases[i]);
  g_free (e);
}

static void
job_run (gpointer data)
{
  Job *job = data;

  job->func (job->user_data);
  if (job->destroy != NULL)
    job->destroy (job->user_data);
  g_free (job);
}

static void
stop_pool (GbridgeReactor *self)
{
  GbridgeWorkerPool *pool = g_steal_pointer (&self->pool);

  /* Let the queued jobs finish, as Twisted's thread pool does. */
  if (pool != NULL)
    _gbridge_worker_pool_free (pool);
}

static void
remove_signal_handlers (GbridgeReactor *self)
{
  if (self->sigint)
    gbridge_io_loop_remove_signal_handler (self->loop, SIGINT);
  if (self->sigterm)
    gbridge_io_loop_remove_signal_handler (self->loop, SIGTERM);
  self->sigint = self->sigterm = FALSE;
}

static void
gbridge_reactor_dispose (GObject *object)
{
  GbridgeReactor *self = (GbridgeReactor *) object;

  if (self->calls != NULL)
    {
      GList *calls = g_hash_table_get_keys (self->calls);

      g_hash_table_remove_all (self->calls);
      for (GList *l = calls; l != NULL; l = l->next)
        _gbridge_delayed_call_drop (l->data);
      g_list_free (calls);
    }

  if (self->fds != NULL)
    g_ptr_array_unref (gbridge_reactor_remove_all (self));

  g_clear_pointer (&self->events, g_hash_table_unref);
  g_clear_pointer (&self->triggers, g_hash_table_unref);
  stop_pool (self);
  g_clear_object (&self->resolver);
  if (self->loop != NULL)
    remove_signal_handlers (self);

  G_OBJECT_CLASS (gbridge_reactor_parent_class)->dispose (object);
}

static void
gbridge_reactor_finalize (GObject *object)
{
  GbridgeReactor *self = (GbridgeReactor *) object;

  if (self->loop != NULL)
    {
      if (g_object_get_qdata (G_OBJECT (self->loop), reactor_quark) == self)
        g_object_set_qdata (G_OBJECT (self->loop), reactor_quark, NULL);
      g_clear_object (&self->loop);
    }
  g_clear_pointer (&self->calls, g_hash_table_unref);
  g_clear_pointer (&self->fds, g_hash_table_unref);
  g_clear_pointer (&self->roles[FALSE], g_hash_table_unref);
  g_clear_pointer (&self->roles[TRUE], g_hash_table_unref);

  G_OBJECT_CLASS (gbridge_reactor_parent_class)->finalize (object);
}

static void
gbridge_reactor_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  GbridgeReactor *self = GBRIDGE_REACTOR (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      g_value_set_object (value, self->loop);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_reactor_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  GbridgeReactor *self = GBRIDGE_REACTOR (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      self->loop = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GbridgeFuture *
really_start_running (gpointer user_data)
{
  GbridgeReactor *self = user_data;

  self->running = TRUE;
  return NULL;
}

static GbridgeFuture *
crash_trigger (gpointer user_data)
{
  gbridge_reactor_crash (user_data);
  return NULL;
}

static GbridgeFuture *
disconnect_all_trigger (gpointer user_data)
{
  gbridge_reactor_disconnect_all (user_data);
  return NULL;
}

static GbridgeFuture *
stop_pool_trigger (gpointer user_data)
{
  stop_pool (user_data);
  return NULL;
}

static void
gbridge_reactor_constructed (GObject *object)
{
  GbridgeReactor *self = (GbridgeReactor *) object;

  G_OBJECT_CLASS (gbridge_reactor_parent_class)->constructed (object);

  if (self->loop == NULL)
    self->loop = g_object_ref (gbridge_io_loop_get_default ());

  gbridge_reactor_add_system_event_trigger (self, GBRIDGE_TRIGGER_PHASE_DURING, "startup",
                                            really_start_running, self, NULL);
  gbridge_reactor_add_system_event_trigger (self, GBRIDGE_TRIGGER_PHASE_DURING, "shutdown",
                                            crash_trigger, self, NULL);
  gbridge_reactor_add_system_event_trigger (self, GBRIDGE_TRIGGER_PHASE_DURING, "shutdown",
                                            disconnect_all_trigger, self, NULL);
  gbridge_reactor_add_system_event_trigger (self, GBRIDGE_TRIGGER_PHASE_DURING, "shutdown",
                                            stop_pool_trigger, self, NULL);
}

static void
gbridge_reactor_class_init (GbridgeReactorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = gbridge_reactor_dispose;
  object_class->finalize = gbridge_reactor_finalize;
  object_class->get_property = gbridge_reactor_get_property;
  object_class->set_property = gbridge_reactor_set_property;
  object_class->constructed = gbridge_reactor_constructed;

  /**
   * GbridgeReactor:loop:
   *
   * The #GbridgeIOLoop the reactor runs on.
   *
   * Since: 1.0
   */
  properties[PROP_LOOP] =
    g_param_spec_object ("loop", NULL, NULL,
                         GBRIDGE_TYPE_IO_LOOP,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  reactor_quark = g_quark_from_static_string ("gbridge-reactor");
}

static void
gbridge_reactor_init (GbridgeReactor *self)
{
  self->calls = g_hash_table_new (NULL, NULL);
  self->fds = g_hash_table_new_full (NULL, NULL, NULL, NULL);
  self->roles[FALSE] = g_hash_table_new (NULL, NULL);
  self->roles[TRUE] = g_hash_table_new (NULL, NULL);
  self->events = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, event_triggers_free);
  self->triggers = g_hash_table_new (NULL, NULL);
  self->next_trigger_id = 1;
  self->pool_size = 10;
  self->stopped = TRUE;
}

void
_gbridge_reactor_forget_call (GbridgeReactor     *self,
                              GbridgeDelayedCall *call)
{
  g_hash_table_remove (self->calls, call);
}

/**
 * gbridge_reactor_ref_for_loop:
 * @loop: a #GbridgeIOLoop
 *
 * Returns a new reference to the reactor of @loop, creating it on first
 * use. A loop has one reactor for as long as someone holds a reference to
 * it.
 *
 * Returns: (transfer full): the reactor of @loop
 *
 * Since: 1.0
 */
GbridgeReactor *
gbridge_reactor_ref_for_loop (GbridgeIOLoop *loop)
{
  GbridgeReactor *self;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (loop), NULL);

  if (reactor_quark == 0)
    g_type_ensure (GBRIDGE_TYPE_REACTOR);

  self = g_object_get_qdata (G_OBJECT (loop), reactor_quark);
  if (self != NULL)
    return g_object_ref (self);

  self = g_object_new (GBRIDGE_TYPE_REACTOR, "loop", loop, NULL);
  g_object_set_qdata (G_OBJECT (loop), reactor_quark, self);
  return self;
}

/**
 * gbridge_reactor_get_default:
 *
 * Gets the process's default reactor: the one installed with
 * gbridge_reactor_install(), or else the reactor of
 * gbridge_io_loop_get_default(), which this call installs.
 *
 * Returns: (transfer none): the default reactor
 *
 * Since: 1.0
 */
GbridgeReactor *
gbridge_reactor_get_default (void)
{
  GbridgeReactor *self;

  G_LOCK (default_reactor);
  if (default_reactor == NULL)
    default_reactor = gbridge_reactor_ref_for_loop (gbridge_io_loop_get_default ());
  self = default_reactor;
  G_UNLOCK (default_reactor);

  return self;
}

/**
 * gbridge_reactor_install:
 * @self: a #GbridgeReactor
 * @error: return location for a #GError
 *
 * Makes @self the process's default reactor, as Twisted's `install()`
 * does. It can be done once; the default reactor lives as long as the
 * process.
 *
 * Returns: %TRUE on success; %FALSE with
 *   %GBRIDGE_REACTOR_ERROR_ALREADY_INSTALLED if a default reactor is
 *   already installed
 *
 * Since: 1.0
 */
gboolean
gbridge_reactor_install (GbridgeReactor  *self,
                         GError         **error)
{
  gboolean ok;

  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  G_LOCK (default_reactor);
  ok = default_reactor == NULL;
  if (ok)
    default_reactor = g_object_ref (self);
  G_UNLOCK (default_reactor);

  if (!ok)
    g_set_error_literal (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_ALREADY_INSTALLED,
                         _("A default reactor is already installed"));
  return ok;
}

/**
 * gbridge_reactor_get_loop:
 * @self: a #GbridgeReactor
 *
 * Gets the loop @self runs on.
 *
 * Returns: (transfer none): the #GbridgeIOLoop
 *
 * Since: 1.0
 */
GbridgeIOLoop *
gbridge_reactor_get_loop (GbridgeReactor *self)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), NULL);

  return self->loop;
}

/* Time */

/**
 * gbridge_reactor_seconds:
 * @self: a #GbridgeReactor
 *
 * Gets the reactor's current time: the loop's monotonic clock, in seconds.
 *
 * Returns: the current time
 *
 * Since: 1.0
 */
double
gbridge_reactor_seconds (GbridgeReactor *self)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), 0.0);

  return gbridge_io_loop_time (self->loop);
}

/**
 * gbridge_reactor_call_later:
 * @self: a #GbridgeReactor
 * @delay: in how many seconds to call @func, at least 0
 * @func: (scope notified) (closure user_data) (destroy destroy): the function
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data after @func ran or once the
 *   call is cancelled
 *
 * Calls @func in @delay seconds. Calls due at the same time run in the
 * order they were scheduled.
 *
 * Returns: (transfer full): the #GbridgeDelayedCall, to cancel or move the
 *   call
 *
 * Since: 1.0
 */
GbridgeDelayedCall *
gbridge_reactor_call_later (GbridgeReactor  *self,
                            double           delay,
                            GbridgeCallback  func,
                            gpointer         user_data,
                            GDestroyNotify   destroy)
{
  GbridgeDelayedCall *call;

  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), NULL);
  g_return_val_if_fail (delay >= 0, NULL);
  g_return_val_if_fail (func != NULL, NULL);

  call = _gbridge_delayed_call_new (self, self->loop, gbridge_io_loop_time (self->loop) + delay,
                                    func, user_data, destroy);
  if (gbridge_delayed_call_is_active (call))
    g_hash_table_add (self->calls, call);
  return call;
}

/**
 * gbridge_reactor_get_delayed_calls:
 * @self: a #GbridgeReactor
 *
 * Gets the calls scheduled with gbridge_reactor_call_later() that have
 * neither run nor been cancelled.
 *
 * Returns: (transfer container) (element-type GbridgeDelayedCall): the pending
 *   calls, in no particular order; the array holds a reference on each and
 *   drops them when freed
 *
 * Since: 1.0
 */
GPtrArray *
gbridge_reactor_get_delayed_calls (GbridgeReactor *self)
{
  GPtrArray *calls;
  GHashTableIter iter;
  gpointer call;

  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), NULL);

  calls = g_ptr_array_new_full (g_hash_table_size (self->calls), g_object_unref);
  g_hash_table_iter_init (&iter, self->calls);
  while (g_hash_table_iter_next (&iter, &call, NULL))
    g_ptr_array_add (calls, g_object_ref (call));
  return calls;
}

/* Life cycle */

static void
on_signal (int      signum,
           gpointer user_data)
{
  GbridgeReactor *self = user_data;

  if (!self->stopped)
    gbridge_reactor_stop (self, NULL);
}

/**
 * gbridge_reactor_run:
 * @self: a #GbridgeReactor
 * @install_signal_handlers: whether SIGINT and SIGTERM stop the reactor
 *   while it runs
 * @error: return location for a #GError
 *
 * Fires the `startup` system event, then runs the loop until the reactor
 * is stopped or crashed.
 *
 * Returns: %TRUE once stopped; %FALSE with
 *   %GBRIDGE_REACTOR_ERROR_RUNNING if the reactor is already running,
 *   %GBRIDGE_REACTOR_ERROR_NOT_RESTARTABLE if it was stopped before, or an
 *   error of gbridge_io_loop_start()
 *
 * Since: 1.0
 */
gboolean
gbridge_reactor_run (GbridgeReactor  *self,
                     gboolean         install_signal_handlers,
                     GError         **error)
{
  gboolean ok;

  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->started)
    {
      g_set_error_literal (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_RUNNING,
                           _("The reactor is already running"));
      return FALSE;
    }
  if (self->started_before)
    {
      g_set_error_literal (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_NOT_RESTARTABLE,
                           _("The reactor was stopped and cannot run again"));
      return FALSE;
    }

  g_object_ref (self);
  self->started = TRUE;
  self->stopped = FALSE;

  if (install_signal_handlers)
    {
      self->sigint = gbridge_io_loop_add_signal_handler (self->loop, SIGINT, on_signal,
                                                         self, NULL, NULL);
      self->sigterm = gbridge_io_loop_add_signal_handler (self->loop, SIGTERM, on_signal,
                                                          self, NULL, NULL);
    }

  gbridge_reactor_fire_system_event (self, "startup");
  ok = gbridge_io_loop_start (self->loop, error);

  remove_signal_handlers (self);
  self->started = FALSE;
  self->running = FALSE;
  g_object_unref (self);

  return ok;
}

static void
fire_shutdown (gpointer user_data)
{
  gbridge_reactor_fire_system_event (user_data, "shutdown");
}

/**
 * gbridge_reactor_stop:
 * @self: a #GbridgeReactor
 * @error: return location for a #GError
 *
 * Stops the reactor: on the next iteration it fires the `shutdown` system
 * event, whose `during` phase makes gbridge_reactor_run() return.
 *
 * Returns: %TRUE on success; %FALSE with
 *   %GBRIDGE_REACTOR_ERROR_NOT_RUNNING if the reactor is not running or
 *   already stopping
 *
 * Since: 1.0
 */
gboolean
gbridge_reactor_stop (GbridgeReactor  *self,
                      GError         **error)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->stopped)
    {
      g_set_error_literal (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_NOT_RUNNING,
                           _("The reactor is not running"));
      return FALSE;
    }

  self->stopped = TRUE;
  self->started_before = TRUE;
  gbridge_io_loop_add_callback (self->loop, fire_shutdown, g_object_ref (self), g_object_unref);
  return TRUE;
}

/**
 * gbridge_reactor_crash:
 * @self: a #GbridgeReactor
 *
 * Makes gbridge_reactor_run() return after the current iteration, without
 * firing the `shutdown` event. The reactor may run again.
 *
 * Since: 1.0
 */
void
gbridge_reactor_crash (GbridgeReactor *self)
{
  g_return_if_fail (GBRIDGE_IS_REACTOR (self));

  self->started = FALSE;
  self->running = FALSE;
  gbridge_io_loop_stop (self->loop);
}

/**
 * gbridge_reactor_is_running:
 * @self: a #GbridgeReactor
 *
 * Tells whether the reactor is running: its `startup` event has fired and
 * it has not been stopped or crashed since.
 *
 * Returns: %TRUE while running
 *
 * Since: 1.0
 */
gboolean
gbridge_reactor_is_running (GbridgeReactor *self)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), FALSE);

  return self->running;
}

static void
do_nothing (gpointer user_data)
{
}

/**
 * gbridge_reactor_iterate:
 * @self: a #GbridgeReactor
 * @delay: how long to wait for something to do, in seconds; 0 not to
 *   wait, a negative value to wait as long as it takes
 *
 * Runs one iteration of the loop, waiting at most @delay seconds for
 * something to do, as Twisted's `iterate()`.
 *
 * Since: 1.0
 */
void
gbridge_reactor_iterate (GbridgeReactor *self,
                         double          delay)
{
  guint64 timer = 0;

  g_return_if_fail (GBRIDGE_IS_REACTOR (self));

  /* A timer bounds the wait; a negative delay waits unbounded. */
  if (delay > 0)
    timer = gbridge_io_loop_call_later (self->loop, delay, do_nothing, NULL, NULL);
  g_main_context_iteration (gbridge_io_loop_get_context (self->loop), delay != 0);
  if (timer != 0)
    gbridge_io_loop_remove_timeout (self->loop, timer);
}

/**
 * gbridge_reactor_call_when_running:
 * @self: a #GbridgeReactor
 * @func: (scope notified) (closure user_data) (destroy destroy): the function
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data after @func ran, or when the
 *   reactor goes away first
 *
 * Calls @func now if the reactor is running, or else once it has started
 * (after its `startup` event).
 *
 * Since: 1.0
 */
void
gbridge_reactor_call_when_running (GbridgeReactor  *self,
                                   GbridgeCallback  func,
                                   gpointer         user_data,
                                   GDestroyNotify   destroy)
{
  Trigger *t;

  g_return_if_fail (GBRIDGE_IS_REACTOR (self));
  g_return_if_fail (func != NULL);

  if (self->running)
    {
      func (user_data);
      if (destroy != NULL)
        destroy (user_data);
      return;
    }

  t = add_trigger (self, GBRIDGE_TRIGGER_PHASE_AFTER, "startup", NULL, user_data, destroy);
  t->callback = func;
  t->once = TRUE;
}

/* System events */

static Trigger *
add_trigger (GbridgeReactor      *self,
             GbridgeTriggerPhase  phase,
             const char          *event,
             GbridgeTriggerFunc   func,
             gpointer             user_data,
             GDestroyNotify       destroy)
{
  EventTriggers *triggers = g_hash_table_lookup (self->events, event);
  Trigger *t = g_new0 (Trigger, 1);

  if (triggers == NULL)
    {
      triggers = g_new0 (EventTriggers, 1);
      for (guint i = 0; i < G_N_ELEMENTS (triggers->phases); i++)
        triggers->phases[i] = g_ptr_array_new_with_free_func (trigger_unref);
      g_hash_table_insert (self->events, g_strdup (event), triggers);
    }

  t->ref_count = 1;
  t->id = self->next_trigger_id++;
  t->phase = phase;
  t->event = g_strdup (event);
  t->func = func;
  t->user_data = user_data;
  t->destroy = destroy;
  g_ptr_array_add (triggers->phases[phase], t);
  g_hash_table_insert (self->triggers, GUINT_TO_POINTER (t->id), t);
  return t;
}

static void
remove_trigger (GbridgeReactor *self,
                Trigger        *t)
{
  EventTriggers *triggers = g_hash_table_lookup (self->events, t->event);

  t->removed = TRUE;
  g_hash_table_remove (self->triggers, GUINT_TO_POINTER (t->id));
  g_ptr_array_remove (triggers->phases[t->phase], t);
}

/**
 * gbridge_reactor_add_system_event_trigger:
 * @self: a #GbridgeReactor
 * @phase: the phase of the event to run @func in
 * @event: the event: `startup`, `shutdown` or any name of your own
 * @func: (scope notified) (closure user_data) (destroy destroy): the trigger
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data when the trigger is removed
 *   or the reactor goes away
 *
 * Calls @func every time @event is fired, in @phase: all `before` triggers
 * of an event run first, then the `during` ones, then the `after` ones,
 * each phase in the order the triggers were added. A `before` trigger may
 * return a pending #GbridgeFuture to make the rest of the event wait for
 * it, as a Twisted trigger returns a `Deferred`.
 *
 * Returns: the trigger's id, for
 *   gbridge_reactor_remove_system_event_trigger()
 *
 * Since: 1.0
 */
guint
gbridge_reactor_add_system_event_trigger (GbridgeReactor      *self,
                                          GbridgeTriggerPhase  phase,
                                          const char          *event,
                                          GbridgeTriggerFunc   func,
                                          gpointer             user_data,
                                          GDestroyNotify       destroy)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), 0);
  g_return_val_if_fail (phase <= GBRIDGE_TRIGGER_PHASE_AFTER, 0);
  g_return_val_if_fail (event != NULL, 0);
  g_return_val_if_fail (func != NULL, 0);

  return add_trigger (self, phase, event, func, user_data, destroy)->id;
}

/**
 * gbridge_reactor_remove_system_event_trigger:
 * @self: a #GbridgeReactor
 * @trigger_id: an id from gbridge_reactor_add_system_event_trigger()
 *
 * Removes a trigger and calls its destroy-notify. A trigger removed while
 * its event fires is not called if its turn has not come yet.
 *
 * Returns: %TRUE if the trigger existed
 *
 * Since: 1.0
 */
gboolean
gbridge_reactor_remove_system_event_trigger (GbridgeReactor *self,
                                             guint           trigger_id)
{
  Trigger *t;

  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), FALSE);

  t = g_hash_table_lookup (self->triggers, GUINT_TO_POINTER (trigger_id));
  if (t == NULL)
    return FALSE;
  remove_trigger (self, t);
  return TRUE;
}

/* Runs the triggers of one phase; the pending futures returned by them go
 * to @waits if given. */
static void
fire_phase (GbridgeReactor      *self,
            const char          *event,
            GbridgeTriggerPhase  phase,
            GPtrArray           *waits)
{
  EventTriggers *triggers = g_hash_table_lookup (self->events, event);
  g_autoptr(GPtrArray) snapshot = NULL;

  if (triggers == NULL)
    return;

  /* Triggers added while the phase runs wait for the next firing. */
  snapshot = g_ptr_array_new_with_free_func (trigger_unref);
  for (guint i = 0; i < triggers->phases[phase]->len; i++)
    {
      Trigger *t = g_ptr_array_index (triggers->phases[phase], i);

      t->ref_count++;
      g_ptr_array_add (snapshot, t);
    }

  for (guint i = 0; i < snapshot->len; i++)
    {
      Trigger *t = g_ptr_array_index (snapshot, i);

      if (t->removed)
        continue;
      if (t->once)
        remove_trigger (self, t);
      if (t->callback != NULL)
        {
          t->callback (t->user_data);
        }
      else
        {
          GbridgeFuture *future = t->func (t->user_data);

          if (future != NULL && waits != NULL && !gbridge_future_is_done (future))
            g_ptr_array_add (waits, future);
          else if (future != NULL)
            g_object_unref (future);
        }
    }
}

/* Both callers hold a reference to @self and their own copy of @event. */
static void
continue_firing (GbridgeReactor *self,
                 const char     *event)
{
  fire_phase (self, event, GBRIDGE_TRIGGER_PHASE_DURING, NULL);
  fire_phase (self, event, GBRIDGE_TRIGGER_PHASE_AFTER, NULL);
}

static void
firing_unref (gpointer data)
{
  Firing *firing = data;

  if (--firing->ref_count > 0)
    return;
  g_object_unref (firing->reactor);
  g_free (firing->event);
  g_free (firing);
}

static void
on_before_done (GbridgeFuture *future,
                gpointer       data)
{
  Firing *firing = data;

  if (--firing->pending == 0)
    continue_firing (firing->reactor, firing->event);
}

/**
 * gbridge_reactor_fire_system_event:
 * @self: a #GbridgeReactor
 * @event: the event's name
 *
 * Runs the triggers of @event: its `before` phase, then `during`, then
 * `after`. If `before` triggers returned pending futures, the `during` and
 * `after` phases run on the loop once all of them are done; otherwise they
 * run before this function returns. Firing `shutdown` by hand lets a
 * reactor that was never run release its descriptors and threads.
 *
 * Since: 1.0
 */
void
gbridge_reactor_fire_system_event (GbridgeReactor *self,
                                   const char     *event)
{
  g_autoptr(GPtrArray) waits = NULL;
  g_autofree char *name = NULL;

  g_return_if_fail (GBRIDGE_IS_REACTOR (self));
  g_return_if_fail (event != NULL);

  name = g_strdup (event);
  waits = g_ptr_array_new_with_free_func (g_object_unref);
  g_object_ref (self);
  fire_phase (self, name, GBRIDGE_TRIGGER_PHASE_BEFORE, waits);
  if (waits->len == 0)
    {
      continue_firing (self, name);
    }
  else
    {
      Firing *firing = g_new0 (Firing, 1);

      firing->ref_count = waits->len;
      firing->pending = waits->len;
      firing->reactor = g_object_ref (self);
      firing->event = g_strdup (name);
      for (guint i = 0; i < waits->len; i++)
        gbridge_io_loop_add_future (self->loop, g_ptr_array_index (waits, i),
                                    on_before_done, firing, firing_unref);
    }
  g_object_unref (self);
}

/* Names */

static void
on_resolved (GbridgeFuture *inner,
             gpointer       user_data)
{
  GbridgeFuture *outer = user_data;
  GListModel *addresses;
  GInetAddress *chosen = NULL;
  GValue value = G_VALUE_INIT;
  guint n;

  if (gbridge_future_get_state (inner) != GBRIDGE_FUTURE_STATE_RESOLVED)
    {
      /* Does nothing if the outer future was cancelled meanwhile. */
      gbridge_future_copy_outcome (inner, outer);
      return;
    }

  /* The first IPv4 address, as Twisted's resolve() (gethostbyname)
   * answers, or else the last one; the resolver never resolves with an
   * empty list. */
  addresses = gbridge_future_get_object (inner, NULL);
  n = g_list_model_get_n_items (addresses);
  for (guint i = 0; i < n && chosen == NULL; i++)
    {
      g_autoptr(GInetSocketAddress) address = g_list_model_get_item (addresses, i);
      GInetAddress *ip = g_inet_socket_address_get_address (address);

      if (g_inet_address_get_family (ip) == G_SOCKET_FAMILY_IPV4 || i == n - 1)
        chosen = g_object_ref (ip);
    }

  g_value_init (&value, G_TYPE_STRING);
  g_value_take_string (&value, g_inet_address_to_string (chosen));
  gbridge_future_resolve (outer, &value, NULL);
  g_value_unset (&value);
  g_object_unref (chosen);
}

/**
 * gbridge_reactor_get_resolver:
 * @self: a #GbridgeReactor
 *
 * Gets the resolver gbridge_reactor_resolve() uses: the one given to
 * gbridge_reactor_set_resolver(), or else a #GbridgeThreadedResolver on the
 * reactor's loop.
 *
 * Returns: (transfer none): the #GbridgeResolver
 *
 * Since: 1.0
 */
GbridgeResolver *
gbridge_reactor_get_resolver (GbridgeReactor *self)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), NULL);

  if (self->resolver == NULL)
    self->resolver = GBRIDGE_RESOLVER (gbridge_threaded_resolver_new (self->loop));
  return self->resolver;
}

/**
 * gbridge_reactor_set_resolver:
 * @self: a #GbridgeReactor
 * @resolver: (nullable): a #GbridgeResolver, or %NULL for the default
 *
 * Makes gbridge_reactor_resolve() use @resolver, as Twisted's
 * `installResolver()`.
 *
 * Since: 1.0
 */
void
gbridge_reactor_set_resolver (GbridgeReactor  *self,
                              GbridgeResolver *resolver)
{
  g_return_if_fail (GBRIDGE_IS_REACTOR (self));
  g_return_if_fail (resolver == NULL || GBRIDGE_IS_RESOLVER (resolver));

  g_set_object (&self->resolver, resolver);
}

/**
 * gbridge_reactor_resolve:
 * @self: a #GbridgeReactor
 * @name: a host name or an IP address
 * @timeout: seconds to wait at most, or 0 for no limit
 *
 * Looks @name up with the reactor's #GbridgeResolver, as Twisted's
 * `resolve()`. The future resolves with the address as a string (an IPv4
 * address if @name has one), or fails with the resolver's error in the
 * %GBRIDGE_RESOLVER_ERROR domain (%GBRIDGE_RESOLVER_ERROR_TIMED_OUT after
 * @timeout seconds). Cancelling the future cancels the lookup.
 *
 * Returns: (transfer full): a #GbridgeFuture of the address, on the
 *   reactor's loop
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_reactor_resolve (GbridgeReactor *self,
                         const char     *name,
                         double          timeout)
{
  g_autoptr(GbridgeFuture) inner = NULL;
  GbridgeFuture *outer;

  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (timeout >= 0, NULL);

  inner = gbridge_resolver_resolve (gbridge_reactor_get_resolver (self), name, 0,
                                    G_SOCKET_FAMILY_INVALID, timeout);
  outer = gbridge_future_new_for_loop (self->loop);
  gbridge_future_link_cancellable (outer, gbridge_future_get_cancellable (inner));
  gbridge_io_loop_add_future (self->loop, inner, on_resolved, g_object_ref (outer),
                              g_object_unref);
  return outer;
}

/* Threads */

/**
 * gbridge_reactor_call_in_thread:
 * @self: a #GbridgeReactor
 * @func: (scope notified) (closure user_data) (destroy destroy): the function
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data, in the worker thread, after
 *   @func ran
 *
 * Calls @func in a thread of the reactor's worker pool (at most 10 threads
 * unless told otherwise with gbridge_reactor_suggest_thread_pool_size()).
 * The pool stops at the reactor's `shutdown` event, once the queued calls
 * are done; a later call starts a new one.
 *
 * Since: 1.0
 */
void
gbridge_reactor_call_in_thread (GbridgeReactor  *self,
                                GbridgeCallback  func,
                                gpointer         user_data,
                                GDestroyNotify   destroy)
{
  Job *job;

  g_return_if_fail (GBRIDGE_IS_REACTOR (self));
  g_return_if_fail (func != NULL);

  if (self->pool == NULL)
    self->pool = _gbridge_worker_pool_new (self->pool_size);

  job = g_new (Job, 1);
  job->func = func;
  job->user_data = user_data;
  job->destroy = destroy;
  _gbridge_worker_pool_push (self->pool, job_run, job);
}

/**
 * gbridge_reactor_suggest_thread_pool_size:
 * @self: a #GbridgeReactor
 * @size: the largest number of worker threads, at least 1
 *
 * Sets how many threads gbridge_reactor_call_in_thread() may use at once.
 *
 * Since: 1.0
 */
void
gbridge_reactor_suggest_thread_pool_size (GbridgeReactor *self,
                                          guint           size)
{
  g_return_if_fail (GBRIDGE_IS_REACTOR (self));
  g_return_if_fail (size > 0);

  self->pool_size = size;
  if (self->pool != NULL)
    _gbridge_worker_pool_set_max_threads (self->pool, size);
}
