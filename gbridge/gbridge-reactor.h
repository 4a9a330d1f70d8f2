/* gbridge-reactor.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (GBRIDGE_INSIDE) && !defined (GBRIDGE_COMPILATION)
# error "Only <gbridge/gbridge.h> can be included directly."
#endif

#include <glib-object.h>

#include "gbridge-version.h"
#include "gbridge-types.h"

G_BEGIN_DECLS

/**
 * GBRIDGE_REACTOR_ERROR:
 *
 * The error domain of #GbridgeReactor, #GbridgeDelayedCall and the reasons
 * given to gbridge_descriptor_connection_lost().
 *
 * Since: 1.0
 */
#define GBRIDGE_REACTOR_ERROR (gbridge_reactor_error_quark ())

/**
 * GbridgeReactorError:
 * @GBRIDGE_REACTOR_ERROR_ALREADY_CALLED: the delayed call has already run
 * @GBRIDGE_REACTOR_ERROR_ALREADY_CANCELLED: the delayed call has already
 *   been cancelled
 * @GBRIDGE_REACTOR_ERROR_NOT_RUNNING: the reactor is not running, so it
 *   cannot be stopped
 * @GBRIDGE_REACTOR_ERROR_RUNNING: the reactor is already running
 * @GBRIDGE_REACTOR_ERROR_NOT_RESTARTABLE: the reactor was stopped and
 *   cannot run again
 * @GBRIDGE_REACTOR_ERROR_ALREADY_INSTALLED: a default reactor is already
 *   installed
 * @GBRIDGE_REACTOR_ERROR_BAD_FD: the descriptor's file descriptor is not
 *   open
 * @GBRIDGE_REACTOR_ERROR_CONNECTION_LOST: the connection was lost
 * @GBRIDGE_REACTOR_ERROR_CONNECTION_DONE: the connection was closed cleanly
 *
 * Errors in the %GBRIDGE_REACTOR_ERROR domain, Twisted's
 * `AlreadyCalled`, `AlreadyCancelled`, `ReactorNotRunning`,
 * `ReactorAlreadyRunning`, `ReactorNotRestartable`,
 * `ReactorAlreadyInstalledError` and the reasons `CONNECTION_LOST` and
 * `CONNECTION_DONE`.
 *
 * Since: 1.0
 */
typedef enum
{
  GBRIDGE_REACTOR_ERROR_ALREADY_CALLED,
  GBRIDGE_REACTOR_ERROR_ALREADY_CANCELLED,
  GBRIDGE_REACTOR_ERROR_NOT_RUNNING,
  GBRIDGE_REACTOR_ERROR_RUNNING,
  GBRIDGE_REACTOR_ERROR_NOT_RESTARTABLE,
  GBRIDGE_REACTOR_ERROR_ALREADY_INSTALLED,
  GBRIDGE_REACTOR_ERROR_BAD_FD,
  GBRIDGE_REACTOR_ERROR_CONNECTION_LOST,
  GBRIDGE_REACTOR_ERROR_CONNECTION_DONE,
} GbridgeReactorError;

/**
 * GbridgeTriggerPhase:
 * @GBRIDGE_TRIGGER_PHASE_BEFORE: before the event
 * @GBRIDGE_TRIGGER_PHASE_DURING: during the event
 * @GBRIDGE_TRIGGER_PHASE_AFTER: after the event
 *
 * The phases of a system event, see
 * gbridge_reactor_add_system_event_trigger().
 *
 * Since: 1.0
 */
typedef enum
{
  GBRIDGE_TRIGGER_PHASE_BEFORE,
  GBRIDGE_TRIGGER_PHASE_DURING,
  GBRIDGE_TRIGGER_PHASE_AFTER,
} GbridgeTriggerPhase;

/**
 * GbridgeTriggerFunc:
 * @user_data: the data given with the trigger
 *
 * A system event trigger, see gbridge_reactor_add_system_event_trigger().
 * A trigger of the `before` phase may return a pending future: the event's
 * `during` and `after` phases wait until every such future is done (in
 * whatever way). The future returned by a trigger of another phase is
 * dropped.
 *
 * Returns: (transfer full) (nullable): a future to wait for, or %NULL
 *
 * Since: 1.0
 */
typedef GbridgeFuture *(*GbridgeTriggerFunc) (gpointer user_data);

#define GBRIDGE_TYPE_REACTOR (gbridge_reactor_get_type ())

GBRIDGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (GbridgeReactor, gbridge_reactor, GBRIDGE, REACTOR, GObject)

GBRIDGE_AVAILABLE_IN_1_0
GQuark              gbridge_reactor_error_quark             (void);

GBRIDGE_AVAILABLE_IN_1_0
GbridgeReactor     *gbridge_reactor_ref_for_loop            (GbridgeIOLoop       *loop);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeReactor     *gbridge_reactor_get_default             (void);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_reactor_install                 (GbridgeReactor      *self,
                                                             GError             **error);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeIOLoop      *gbridge_reactor_get_loop                (GbridgeReactor      *self);

GBRIDGE_AVAILABLE_IN_1_0
double              gbridge_reactor_seconds                 (GbridgeReactor      *self);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeDelayedCall *gbridge_reactor_call_later              (GbridgeReactor      *self,
                                                             double               delay,
                                                             GbridgeCallback      func,
                                                             gpointer             user_data,
                                                             GDestroyNotify       destroy);
GBRIDGE_AVAILABLE_IN_1_0
GPtrArray          *gbridge_reactor_get_delayed_calls       (GbridgeReactor      *self);

GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_reactor_add_reader              (GbridgeReactor      *self,
                                                             GbridgeDescriptor   *reader,
                                                             GError             **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_reactor_add_writer              (GbridgeReactor      *self,
                                                             GbridgeDescriptor   *writer,
                                                             GError             **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_reactor_remove_reader           (GbridgeReactor      *self,
                                                             GbridgeDescriptor   *reader);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_reactor_remove_writer           (GbridgeReactor      *self,
                                                             GbridgeDescriptor   *writer);
GBRIDGE_AVAILABLE_IN_1_0
GPtrArray          *gbridge_reactor_remove_all              (GbridgeReactor      *self);
GBRIDGE_AVAILABLE_IN_1_0
GPtrArray          *gbridge_reactor_get_readers             (GbridgeReactor      *self);
GBRIDGE_AVAILABLE_IN_1_0
GPtrArray          *gbridge_reactor_get_writers             (GbridgeReactor      *self);
GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_reactor_disconnect_all          (GbridgeReactor      *self);

GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_reactor_run                     (GbridgeReactor      *self,
                                                             gboolean             install_signal_handlers,
                                                             GError             **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_reactor_stop                    (GbridgeReactor      *self,
                                                             GError             **error);
GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_reactor_crash                   (GbridgeReactor      *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_reactor_is_running              (GbridgeReactor      *self);
GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_reactor_iterate                 (GbridgeReactor      *self,
                                                             double               delay);
GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_reactor_call_when_running       (GbridgeReactor      *self,
                                                             GbridgeCallback      func,
                                                             gpointer             user_data,
                                                             GDestroyNotify       destroy);

GBRIDGE_AVAILABLE_IN_1_0
guint               gbridge_reactor_add_system_event_trigger (GbridgeReactor     *self,
                                                             GbridgeTriggerPhase  phase,
                                                             const char          *event,
                                                             GbridgeTriggerFunc   func,
                                                             gpointer             user_data,
                                                             GDestroyNotify       destroy);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_reactor_remove_system_event_trigger (GbridgeReactor  *self,
                                                             guint                trigger_id);
GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_reactor_fire_system_event       (GbridgeReactor      *self,
                                                             const char          *event);

GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_reactor_call_in_thread          (GbridgeReactor      *self,
                                                             GbridgeCallback      func,
                                                             gpointer             user_data,
                                                             GDestroyNotify       destroy);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeResolver    *gbridge_reactor_get_resolver            (GbridgeReactor      *self);
GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_reactor_set_resolver            (GbridgeReactor      *self,
                                                             GbridgeResolver     *resolver);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_reactor_resolve                 (GbridgeReactor      *self,
                                                             const char          *name,
                                                             double               timeout);

GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_reactor_suggest_thread_pool_size (GbridgeReactor     *self,
                                                             guint                size);

G_END_DECLS
