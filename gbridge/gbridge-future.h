/* gbridge-future.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (GBRIDGE_INSIDE) && !defined (GBRIDGE_COMPILATION)
# error "Only <gbridge/gbridge.h> can be included directly."
#endif

#include <gio/gio.h>

#include "gbridge-version.h"
#include "gbridge-types.h"

G_BEGIN_DECLS

/**
 * GbridgeFutureState:
 * @GBRIDGE_FUTURE_STATE_PENDING: not done yet
 * @GBRIDGE_FUTURE_STATE_RESOLVED: done, with a value
 * @GBRIDGE_FUTURE_STATE_FAILED: done, with a #GError
 * @GBRIDGE_FUTURE_STATE_CANCELLED: done, cancelled
 *
 * The state of a #GbridgeFuture. A future leaves
 * %GBRIDGE_FUTURE_STATE_PENDING once and never changes again.
 *
 * Since: 1.0
 */
typedef enum
{
  GBRIDGE_FUTURE_STATE_PENDING,
  GBRIDGE_FUTURE_STATE_RESOLVED,
  GBRIDGE_FUTURE_STATE_FAILED,
  GBRIDGE_FUTURE_STATE_CANCELLED,
} GbridgeFutureState;

/**
 * GBRIDGE_FUTURE_ERROR:
 *
 * The error domain of #GbridgeFuture.
 *
 * Since: 1.0
 */
#define GBRIDGE_FUTURE_ERROR (gbridge_future_error_quark ())

/**
 * GbridgeFutureError:
 * @GBRIDGE_FUTURE_ERROR_FAILED: a generic failure, for example a Python
 *   exception that is not a #GError, carried with its message
 * @GBRIDGE_FUTURE_ERROR_ALREADY_DONE: the future is already done and cannot
 *   be completed again
 * @GBRIDGE_FUTURE_ERROR_PENDING: the future is not done yet, so it has no
 *   value
 * @GBRIDGE_FUTURE_ERROR_DISPOSED: the object whose signal the future waited
 *   for was disposed first, see gbridge_future_new_for_signal()
 *
 * Errors reported by #GbridgeFuture in the %GBRIDGE_FUTURE_ERROR domain. A
 * cancelled future reports %G_IO_ERROR_CANCELLED and a timed out one
 * %G_IO_ERROR_TIMED_OUT, so GIO code recognizes both.
 *
 * Since: 1.0
 */
typedef enum
{
  GBRIDGE_FUTURE_ERROR_FAILED,
  GBRIDGE_FUTURE_ERROR_ALREADY_DONE,
  GBRIDGE_FUTURE_ERROR_PENDING,
  GBRIDGE_FUTURE_ERROR_DISPOSED,
} GbridgeFutureError;

#define GBRIDGE_TYPE_FUTURE (gbridge_future_get_type ())

GBRIDGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (GbridgeFuture, gbridge_future, GBRIDGE, FUTURE, GObject)

/**
 * GbridgeThreadFunc:
 * @future: the future to complete
 * @cancellable: (nullable): the future's #GCancellable, cancelled when the
 *   future is
 * @user_data: the data given with the function
 *
 * A function run in a worker thread by gbridge_future_run_in_thread(). It
 * completes @future with gbridge_future_resolve() or gbridge_future_fail();
 * if it returns without doing either, the future resolves with no value.
 *
 * Since: 1.0
 */
typedef void (*GbridgeThreadFunc) (GbridgeFuture *future,
                                   GCancellable  *cancellable,
                                   gpointer       user_data);

/**
 * GbridgeFinishFunc:
 * @source_object: (nullable): the source object of the operation
 * @result: the result of the operation
 * @error: return location for a #GError
 *
 * The shape of most GIO `_finish()` functions, such as g_file_read_finish(),
 * and of g_task_propagate_pointer() when cast, see
 * gbridge_future_new_for_async().
 *
 * Returns: (nullable): the operation's result, owned by the caller
 *
 * Since: 1.0
 */
typedef gpointer (*GbridgeFinishFunc) (GObject       *source_object,
                                       GAsyncResult  *result,
                                       GError       **error);

GBRIDGE_AVAILABLE_IN_1_0
GQuark              gbridge_future_error_quark         (void);

GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_new                 (void);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_new_for_loop        (GbridgeIOLoop         *loop);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_new_resolved        (const GValue          *value);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_new_failed          (const GError          *error);

GBRIDGE_AVAILABLE_IN_1_0
GbridgeIOLoop      *gbridge_future_get_loop            (GbridgeFuture         *self);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeFutureState  gbridge_future_get_state           (GbridgeFuture         *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_future_is_done             (GbridgeFuture         *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_future_is_cancelled        (GbridgeFuture         *self);

GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_future_resolve             (GbridgeFuture         *self,
                                                        const GValue          *value,
                                                        GError               **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_future_resolve_object      (GbridgeFuture         *self,
                                                        gpointer               object,
                                                        GError               **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_future_fail                (GbridgeFuture         *self,
                                                        const GError          *failure,
                                                        GError               **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_future_take_failure        (GbridgeFuture         *self,
                                                        GError                *failure,
                                                        GError               **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_future_cancel              (GbridgeFuture         *self);

GBRIDGE_AVAILABLE_IN_1_0
const GValue       *gbridge_future_get_value           (GbridgeFuture         *self,
                                                        GError               **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean            gbridge_future_has_value           (GbridgeFuture         *self);
GBRIDGE_AVAILABLE_IN_1_0
gpointer            gbridge_future_get_object          (GbridgeFuture         *self,
                                                        GError               **error);
GBRIDGE_AVAILABLE_IN_1_0
const GError       *gbridge_future_get_failure         (GbridgeFuture         *self);

GBRIDGE_AVAILABLE_IN_1_0
GCancellable       *gbridge_future_get_cancellable     (GbridgeFuture         *self);
GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_future_link_cancellable    (GbridgeFuture         *self,
                                                        GCancellable          *cancellable);

GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_future_add_done_callback   (GbridgeFuture         *self,
                                                        GbridgeFutureCallback  func,
                                                        gpointer               user_data,
                                                        GDestroyNotify         destroy);

GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_future_add_completion_notify (GbridgeFuture       *self,
                                                        GbridgeFutureCallback  func,
                                                        gpointer               user_data,
                                                        GDestroyNotify         destroy);

GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_future_chain               (GbridgeFuture         *self,
                                                        GbridgeFuture         *destination);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_all                 (GbridgeFuture * const *futures,
                                                        guint                  n_futures);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_any                 (GbridgeFuture * const *futures,
                                                        guint                  n_futures);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_first               (GbridgeFuture * const *futures,
                                                        guint                  n_futures);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_with_timeout        (GbridgeFuture         *self,
                                                        double                 timeout);

GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_run_in_thread       (GbridgeIOLoop         *loop,
                                                        GbridgeThreadFunc      func,
                                                        gpointer               user_data,
                                                        GDestroyNotify         destroy);

GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_new_for_async       (GbridgeIOLoop         *loop,
                                                        GType                  value_type,
                                                        GbridgeFinishFunc      finish);
GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_future_async_ready_callback (GObject              *source_object,
                                                        GAsyncResult          *result,
                                                        gpointer               user_data);
GBRIDGE_AVAILABLE_IN_1_0
GTask              *gbridge_future_new_task            (GbridgeFuture         *self,
                                                        gpointer               source_object);

GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_new_for_signal      (GbridgeIOLoop         *loop,
                                                        gpointer               instance,
                                                        const char            *detailed_signal);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_new_for_fd          (GbridgeIOLoop         *loop,
                                                        int                    fd,
                                                        GbridgeIOEvents        events);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture      *gbridge_future_new_for_source      (GbridgeIOLoop         *loop,
                                                        GSource               *source);
GBRIDGE_AVAILABLE_IN_1_0
const GValue       *gbridge_future_get_values          (GbridgeFuture         *self,
                                                        guint                 *n_values,
                                                        GError               **error);

GBRIDGE_AVAILABLE_IN_1_0
void                gbridge_future_wait_async          (GbridgeFuture         *self,
                                                        GCancellable          *cancellable,
                                                        GAsyncReadyCallback    callback,
                                                        gpointer               user_data);
GBRIDGE_AVAILABLE_IN_1_0
GValue             *gbridge_future_wait_finish         (GbridgeFuture         *self,
                                                        GAsyncResult          *result,
                                                        GError               **error);

G_END_DECLS
