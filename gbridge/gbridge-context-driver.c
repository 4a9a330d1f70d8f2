/* gbridge-context-driver.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-context-driver.h"

#include <glib/gi18n-lib.h>

/**
 * SECTION:gbridge-context-driver
 * @title: GbridgeContextDriver
 * @short_description: Lets another event loop drive a GMainContext
 *
 * #GbridgeContextDriver runs a #GMainContext (with its #GbridgeIOLoop and any
 * other #GSource) from a foreign event loop: libuv, libevent, or Python's
 * asyncio. It is GLib's own prepare / query / check / dispatch cycle cut at
 * the poll, so that the foreign loop does the waiting:
 *
 * 1. gbridge_context_driver_start() makes the calling thread the owner of
 *    the context;
 * 2. gbridge_context_driver_prepare() returns how long the foreign loop may
 *    wait (in milliseconds, -1 for no limit); the file descriptors it must
 *    watch are then gbridge_context_driver_get_fd() for each index below
 *    gbridge_context_driver_get_n_fds();
 * 3. when one of them is ready, the foreign loop reports it with
 *    gbridge_context_driver_set_ready(); when one is ready or the time is up,
 *    it calls gbridge_context_driver_dispatch(), which runs the sources that
 *    are ready, and goes back to step 2 (the set of descriptors may have
 *    changed).
 *
 * Other threads wake the context as usual (g_main_context_wakeup(),
 * gbridge_io_loop_add_callback(), g_source_attach()): GLib's wake-up
 * descriptor is one of the descriptors to watch, so the foreign loop wakes
 * too. On the owning thread, code that runs outside a dispatch (the foreign
 * loop's own callbacks) and attaches a #GSource must call
 * g_main_context_wakeup() for the new source to be taken into account before
 * the next dispatch; gbridge's callbacks and timeouts need nothing.
 *
 * The descriptors are level-triggered: a descriptor stays ready until the
 * source that watches it consumes the event.
 */

/**
 * GbridgeContextDriver:
 *
 * Drives a #GMainContext from another event loop. Its fields are private.
 *
 * Since: 1.0
 */

struct _GbridgeContextDriver
{
  GObject parent_instance;

  GMainContext *context;
  GPollFD      *fds;
  guint         n_fds;
  guint         fds_size;
  gint          max_priority;
  gboolean      started;
  gboolean      prepared;
};

enum {
  PROP_0,
  PROP_CONTEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (GbridgeContextDriver, gbridge_context_driver, G_TYPE_OBJECT)

/**
 * gbridge_context_driver_error_quark:
 *
 * The error domain of #GbridgeContextDriver.
 *
 * Returns: the %GBRIDGE_CONTEXT_DRIVER_ERROR quark
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (gbridge-context-driver-error-quark, gbridge_context_driver_error)

/* Contexts of drivers stopped while another context was pushed above
 * theirs (two drivers stopped in the order they started: two
 * ContextRunners closed in creation order). GLib pops only the top of the
 * thread-default stack, so each is popped once it is on top again; popping
 * it out of order would fail and leave it the thread-default context for
 * good, where GIO would then attach work that nobody runs. Per thread, as
 * the stack is. */
static GPrivate deferred_pops = G_PRIVATE_INIT (NULL);

static void
pop_thread_default (GMainContext *context)
{
  GSList *deferred = g_private_get (&deferred_pops);
  GMainContext *top;

  if (g_main_context_get_thread_default () != context)
    {
      g_private_set (&deferred_pops, g_slist_prepend (deferred, g_main_context_ref (context)));
      return;
    }

  g_main_context_pop_thread_default (context);
  while ((top = g_main_context_get_thread_default ()) != NULL)
    {
      GSList *link = g_slist_find (deferred, top);

      if (link == NULL)
        break;
      deferred = g_slist_delete_link (deferred, link);
      g_main_context_pop_thread_default (top);
      g_main_context_unref (top);
    }
  g_private_set (&deferred_pops, deferred);
}

static void
gbridge_context_driver_dispose (GObject *object)
{
  GbridgeContextDriver *self = (GbridgeContextDriver *) object;

  gbridge_context_driver_stop (self);

  G_OBJECT_CLASS (gbridge_context_driver_parent_class)->dispose (object);
}

static void
gbridge_context_driver_finalize (GObject *object)
{
  GbridgeContextDriver *self = (GbridgeContextDriver *) object;

  g_clear_pointer (&self->fds, g_free);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (gbridge_context_driver_parent_class)->finalize (object);
}

static void
gbridge_context_driver_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  GbridgeContextDriver *self = GBRIDGE_CONTEXT_DRIVER (object);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      g_value_set_boxed (value, self->context);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_context_driver_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  GbridgeContextDriver *self = GBRIDGE_CONTEXT_DRIVER (object);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      {
        GMainContext *context = g_value_get_boxed (value);

        self->context = g_main_context_ref (context != NULL ? context : g_main_context_default ());
      }
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_context_driver_class_init (GbridgeContextDriverClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = gbridge_context_driver_dispose;
  object_class->finalize = gbridge_context_driver_finalize;
  object_class->get_property = gbridge_context_driver_get_property;
  object_class->set_property = gbridge_context_driver_set_property;

  /**
   * GbridgeContextDriver:context:
   *
   * The #GMainContext this driver runs; %NULL at construction means the
   * global default context.
   *
   * Since: 1.0
   */
  properties[PROP_CONTEXT] =
    g_param_spec_boxed ("context", NULL, NULL,
                        G_TYPE_MAIN_CONTEXT,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gbridge_context_driver_init (GbridgeContextDriver *self)
{
  self->fds_size = 8;
  self->fds = g_new0 (GPollFD, self->fds_size);
}

/**
 * gbridge_context_driver_new:
 * @context: (nullable): the #GMainContext to drive, or %NULL for the global
 *   default context
 *
 * Creates a driver for @context. It does nothing until
 * gbridge_context_driver_start().
 *
 * Returns: (transfer full): a new #GbridgeContextDriver
 *
 * Since: 1.0
 */
GbridgeContextDriver *
gbridge_context_driver_new (GMainContext *context)
{
  return g_object_new (GBRIDGE_TYPE_CONTEXT_DRIVER, "context", context, NULL);
}

/**
 * gbridge_context_driver_get_context:
 * @self: a #GbridgeContextDriver
 *
 * Gets the context that @self drives.
 *
 * Returns: (transfer none): the #GMainContext
 *
 * Since: 1.0
 */
GMainContext *
gbridge_context_driver_get_context (GbridgeContextDriver *self)
{
  g_return_val_if_fail (GBRIDGE_IS_CONTEXT_DRIVER (self), NULL);

  return self->context;
}

/**
 * gbridge_context_driver_start:
 * @self: a #GbridgeContextDriver
 * @error: return location for a #GError
 *
 * Makes the calling thread the owner of the context (g_main_context_acquire())
 * until gbridge_context_driver_stop(), and, for a context other than the
 * global default one, its thread-default context, so that GIO operations
 * started from its callbacks complete on it. Starting a started driver does
 * nothing.
 *
 * Returns: %TRUE if started; %FALSE with
 *   %GBRIDGE_CONTEXT_DRIVER_ERROR_CONTEXT_BUSY if another thread owns the
 *   context
 *
 * Since: 1.0
 */
gboolean
gbridge_context_driver_start (GbridgeContextDriver  *self,
                              GError               **error)
{
  g_return_val_if_fail (GBRIDGE_IS_CONTEXT_DRIVER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->started)
    return TRUE;

  if (!g_main_context_acquire (self->context))
    {
      g_set_error_literal (error, GBRIDGE_CONTEXT_DRIVER_ERROR,
                           GBRIDGE_CONTEXT_DRIVER_ERROR_CONTEXT_BUSY,
                           _("The main context is owned by another thread"));
      return FALSE;
    }
  if (self->context != g_main_context_default ())
    g_main_context_push_thread_default (self->context);
  self->started = TRUE;
  self->prepared = FALSE;

  return TRUE;
}

/**
 * gbridge_context_driver_stop:
 * @self: a #GbridgeContextDriver
 *
 * Gives up the ownership that gbridge_context_driver_start() took. Must be
 * called on the thread that started @self; stopping a stopped driver does
 * nothing.
 *
 * Since: 1.0
 */
void
gbridge_context_driver_stop (GbridgeContextDriver *self)
{
  g_return_if_fail (GBRIDGE_IS_CONTEXT_DRIVER (self));

  if (!self->started)
    return;

  self->started = FALSE;
  self->prepared = FALSE;
  self->n_fds = 0;
  if (self->context != g_main_context_default ())
    pop_thread_default (self->context);
  g_main_context_release (self->context);
}

/**
 * gbridge_context_driver_is_running:
 * @self: a #GbridgeContextDriver
 *
 * Tells whether @self is running, between start and stop.
 *
 * Returns: %TRUE between gbridge_context_driver_start() and
 *   gbridge_context_driver_stop()
 *
 * Since: 1.0
 */
gboolean
gbridge_context_driver_is_running (GbridgeContextDriver *self)
{
  g_return_val_if_fail (GBRIDGE_IS_CONTEXT_DRIVER (self), FALSE);

  return self->started;
}

/**
 * gbridge_context_driver_prepare:
 * @self: a started #GbridgeContextDriver
 *
 * Prepares the context's sources and collects what to wait for: the
 * descriptors (gbridge_context_driver_get_n_fds(),
 * gbridge_context_driver_get_fd()) and the returned time limit. Call it before
 * waiting, and again after each gbridge_context_driver_dispatch().
 *
 * Returns: how long the foreign loop may wait before calling
 *   gbridge_context_driver_dispatch(), in milliseconds: 0 if a source is
 *   ready now, -1 if only a descriptor can make one ready
 *
 * Since: 1.0
 */
int
gbridge_context_driver_prepare (GbridgeContextDriver *self)
{
  gint timeout = -1;
  gint n;

  g_return_val_if_fail (GBRIDGE_IS_CONTEXT_DRIVER (self), -1);
  g_return_val_if_fail (self->started, -1);

  if (g_main_context_prepare (self->context, &self->max_priority))
    timeout = 0;

  while ((n = g_main_context_query (self->context, self->max_priority,
                                    timeout == 0 ? NULL : &timeout,
                                    self->fds, self->fds_size)) > (gint) self->fds_size)
    {
      self->fds_size = n;
      self->fds = g_renew (GPollFD, self->fds, self->fds_size);
    }
  self->n_fds = n;
  for (guint i = 0; i < self->n_fds; i++)
    self->fds[i].revents = 0;
  self->prepared = TRUE;

  return timeout;
}

/**
 * gbridge_context_driver_get_n_fds:
 * @self: a #GbridgeContextDriver
 *
 * Gets how many descriptors the last gbridge_context_driver_prepare()
 * collected. A descriptor may appear more than once, with different events.
 *
 * Returns: the number of descriptors to watch
 *
 * Since: 1.0
 */
guint
gbridge_context_driver_get_n_fds (GbridgeContextDriver *self)
{
  g_return_val_if_fail (GBRIDGE_IS_CONTEXT_DRIVER (self), 0);

  return self->n_fds;
}

/**
 * gbridge_context_driver_get_fd:
 * @self: a #GbridgeContextDriver
 * @index: an index below gbridge_context_driver_get_n_fds()
 * @events: (out) (optional): return location for the events to wait for
 *
 * Gets one of the descriptors to watch, and its events.
 *
 * Returns: the file descriptor, or -1 if @index is out of range
 *
 * Since: 1.0
 */
int
gbridge_context_driver_get_fd (GbridgeContextDriver *self,
                               guint                 index,
                               GbridgeIOEvents      *events)
{
  GbridgeIOEvents ev = GBRIDGE_IO_EVENTS_NONE;

  g_return_val_if_fail (GBRIDGE_IS_CONTEXT_DRIVER (self), -1);
  g_return_val_if_fail (index < self->n_fds, -1);

  if (self->fds[index].events & (G_IO_IN | G_IO_PRI))
    ev |= GBRIDGE_IO_EVENTS_READ;
  if (self->fds[index].events & G_IO_OUT)
    ev |= GBRIDGE_IO_EVENTS_WRITE;
  if (events != NULL)
    *events = ev;

  return self->fds[index].fd;
}

/**
 * gbridge_context_driver_set_ready:
 * @self: a #GbridgeContextDriver
 * @fd: a descriptor from gbridge_context_driver_get_fd()
 * @events: the events that occurred on it; %GBRIDGE_IO_EVENTS_ERROR for an
 *   error or hang-up
 *
 * Tells @self that @fd is ready, for the next
 * gbridge_context_driver_dispatch(). Unknown descriptors are ignored.
 *
 * Since: 1.0
 */
void
gbridge_context_driver_set_ready (GbridgeContextDriver *self,
                                  int                   fd,
                                  GbridgeIOEvents       events)
{
  g_return_if_fail (GBRIDGE_IS_CONTEXT_DRIVER (self));

  for (guint i = 0; i < self->n_fds; i++)
    {
      GPollFD *pfd = &self->fds[i];

      if (pfd->fd != fd)
        continue;
      if (events & GBRIDGE_IO_EVENTS_READ)
        pfd->revents |= pfd->events & (G_IO_IN | G_IO_PRI);
      if (events & GBRIDGE_IO_EVENTS_WRITE)
        pfd->revents |= pfd->events & G_IO_OUT;
      if (events & GBRIDGE_IO_EVENTS_ERROR)
        pfd->revents |= G_IO_ERR | G_IO_HUP;
    }
}

/**
 * gbridge_context_driver_dispatch:
 * @self: a started #GbridgeContextDriver
 *
 * Checks the context's sources against the descriptors reported ready since
 * gbridge_context_driver_prepare() and the time, and dispatches those that
 * are ready. Call gbridge_context_driver_prepare() afterwards, before
 * waiting again. If @self was not prepared, it is prepared first.
 *
 * Returns: %TRUE if some source was dispatched
 *
 * Since: 1.0
 */
gboolean
gbridge_context_driver_dispatch (GbridgeContextDriver *self)
{
  gboolean ready;

  g_return_val_if_fail (GBRIDGE_IS_CONTEXT_DRIVER (self), FALSE);
  g_return_val_if_fail (self->started, FALSE);

  if (!self->prepared)
    gbridge_context_driver_prepare (self);

  self->prepared = FALSE;
  ready = g_main_context_check (self->context, self->max_priority, self->fds, self->n_fds);
  self->n_fds = 0;
  if (ready)
    {
      /* A source may drop the last reference to the driver, and with it
       * to the context that GLib is dispatching. */
      GMainContext *context = g_main_context_ref (self->context);

      g_main_context_dispatch (context);
      g_main_context_unref (context);
    }

  return ready;
}
