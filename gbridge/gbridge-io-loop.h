/* gbridge-io-loop.h
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
 * GBRIDGE_IO_LOOP_ERROR:
 *
 * The error domain of #GbridgeIOLoop.
 *
 * Since: 1.0
 */
#define GBRIDGE_IO_LOOP_ERROR (gbridge_io_loop_error_quark ())

/**
 * GbridgeIOLoopError:
 * @GBRIDGE_IO_LOOP_ERROR_FAILED: a system call failed; the message says which
 * @GBRIDGE_IO_LOOP_ERROR_RUNNING: the loop is already running
 * @GBRIDGE_IO_LOOP_ERROR_CLOSED: the loop has been closed
 * @GBRIDGE_IO_LOOP_ERROR_EXISTS: the file descriptor already has a handler,
 *   or the signal already has a handler on another loop
 * @GBRIDGE_IO_LOOP_ERROR_NOT_FOUND: the file descriptor has no handler
 * @GBRIDGE_IO_LOOP_ERROR_BAD_FD: the file descriptor is not open
 * @GBRIDGE_IO_LOOP_ERROR_INVALID_SIGNAL: the signal cannot be caught
 * @GBRIDGE_IO_LOOP_ERROR_CONTEXT_BUSY: another thread owns the loop's
 *   #GMainContext
 *
 * Errors reported by #GbridgeIOLoop in the %GBRIDGE_IO_LOOP_ERROR domain.
 *
 * Since: 1.0
 */
typedef enum
{
  GBRIDGE_IO_LOOP_ERROR_FAILED,
  GBRIDGE_IO_LOOP_ERROR_RUNNING,
  GBRIDGE_IO_LOOP_ERROR_CLOSED,
  GBRIDGE_IO_LOOP_ERROR_EXISTS,
  GBRIDGE_IO_LOOP_ERROR_NOT_FOUND,
  GBRIDGE_IO_LOOP_ERROR_BAD_FD,
  GBRIDGE_IO_LOOP_ERROR_INVALID_SIGNAL,
  GBRIDGE_IO_LOOP_ERROR_CONTEXT_BUSY,
} GbridgeIOLoopError;

/**
 * GbridgeHandlerFlags:
 * @GBRIDGE_HANDLER_FLAGS_NONE: the handler is called only while its number
 *   still names the file it was registered with
 * @GBRIDGE_HANDLER_FLAGS_UNCHECKED: no such check: the caller removes the
 *   handler before closing the descriptor (see
 *   gbridge_io_loop_add_handler_full())
 *
 * How gbridge_io_loop_add_handler_full() calls a handler.
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  GBRIDGE_HANDLER_FLAGS_NONE      = 0,
  GBRIDGE_HANDLER_FLAGS_UNCHECKED = 1 << 0,
} GbridgeHandlerFlags;

/**
 * GbridgeIOFunc:
 * @fd: the file descriptor that is ready
 * @events: the events that occurred, a subset of the events asked for plus
 *   %GBRIDGE_IO_EVENTS_ERROR
 * @user_data: the data given to gbridge_io_loop_add_handler()
 *
 * A handler for a file descriptor, see gbridge_io_loop_add_handler().
 *
 * Since: 1.0
 */
typedef void (*GbridgeIOFunc) (int             fd,
                               GbridgeIOEvents events,
                               gpointer        user_data);

/**
 * GbridgeSignalFunc:
 * @signum: the signal that was delivered
 * @user_data: the data given to gbridge_io_loop_add_signal_handler()
 *
 * A handler for a Unix signal. It runs on the loop, as an ordinary
 * callback, not in signal context: it may do anything.
 *
 * Since: 1.0
 */
typedef void (*GbridgeSignalFunc) (int      signum,
                                   gpointer user_data);

#define GBRIDGE_TYPE_IO_LOOP (gbridge_io_loop_get_type ())

GBRIDGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (GbridgeIOLoop, gbridge_io_loop, GBRIDGE, IO_LOOP, GObject)

GBRIDGE_AVAILABLE_IN_1_0
GQuark         gbridge_io_loop_error_quark           (void);

GBRIDGE_AVAILABLE_IN_1_0
GbridgeIOLoop *gbridge_io_loop_new                   (void);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeIOLoop *gbridge_io_loop_new_for_context       (GMainContext      *context);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeIOLoop *gbridge_io_loop_new_full              (GMainContext      *context,
                                                      GError           **error);
GBRIDGE_AVAILABLE_IN_1_0
GMainContext  *gbridge_io_loop_get_context           (GbridgeIOLoop     *self);

GBRIDGE_AVAILABLE_IN_1_0
GbridgeIOLoop *gbridge_io_loop_get_default           (void);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeIOLoop *gbridge_io_loop_get_current           (void);
GBRIDGE_AVAILABLE_IN_1_0
void           gbridge_io_loop_make_current          (GbridgeIOLoop     *self);
GBRIDGE_AVAILABLE_IN_1_0
void           gbridge_io_loop_clear_current         (void);

GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_start                 (GbridgeIOLoop     *self,
                                                      GError           **error);
GBRIDGE_AVAILABLE_IN_1_0
void           gbridge_io_loop_stop                  (GbridgeIOLoop     *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_is_running            (GbridgeIOLoop     *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_close                 (GbridgeIOLoop     *self,
                                                      gboolean           all_fds,
                                                      GError           **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_is_closed             (GbridgeIOLoop     *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_fork                  (GbridgeIOLoop     *self,
                                                      GError           **error);

GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_add_handler           (GbridgeIOLoop     *self,
                                                      int                fd,
                                                      GbridgeIOEvents    events,
                                                      GbridgeIOFunc      func,
                                                      gpointer           user_data,
                                                      GDestroyNotify     destroy,
                                                      GError           **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_add_handler_full      (GbridgeIOLoop     *self,
                                                      int                fd,
                                                      GbridgeIOEvents    events,
                                                      GbridgeHandlerFlags flags,
                                                      GbridgeIOFunc      func,
                                                      gpointer           user_data,
                                                      GDestroyNotify     destroy,
                                                      GError           **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_update_handler        (GbridgeIOLoop     *self,
                                                      int                fd,
                                                      GbridgeIOEvents    events,
                                                      GError           **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_remove_handler        (GbridgeIOLoop     *self,
                                                      int                fd);

GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_add_callback          (GbridgeIOLoop     *self,
                                                      GbridgeCallback    func,
                                                      gpointer           user_data,
                                                      GDestroyNotify     destroy);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_add_repeating_callback (GbridgeIOLoop    *self,
                                                      GSourceFunc        func,
                                                      gpointer           user_data,
                                                      GDestroyNotify     destroy);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_add_callback_from_signal (GbridgeIOLoop  *self,
                                                      GbridgeCallback    func,
                                                      gpointer           user_data);

GBRIDGE_AVAILABLE_IN_1_0
double         gbridge_io_loop_time                  (GbridgeIOLoop     *self);
GBRIDGE_AVAILABLE_IN_1_0
guint64        gbridge_io_loop_call_at               (GbridgeIOLoop     *self,
                                                      double             when,
                                                      GbridgeCallback    func,
                                                      gpointer           user_data,
                                                      GDestroyNotify     destroy);
GBRIDGE_AVAILABLE_IN_1_0
guint64        gbridge_io_loop_call_later            (GbridgeIOLoop     *self,
                                                      double             delay,
                                                      GbridgeCallback    func,
                                                      gpointer           user_data,
                                                      GDestroyNotify     destroy);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_remove_timeout        (GbridgeIOLoop     *self,
                                                      guint64            timeout);

GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_add_signal_handler    (GbridgeIOLoop     *self,
                                                      int                signum,
                                                      GbridgeSignalFunc  func,
                                                      gpointer           user_data,
                                                      GDestroyNotify     destroy,
                                                      GError           **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_remove_signal_handler (GbridgeIOLoop     *self,
                                                      int                signum);

GBRIDGE_AVAILABLE_IN_1_0
void           gbridge_io_loop_use_virtual_clock     (GbridgeIOLoop     *self,
                                                      double             now);
GBRIDGE_AVAILABLE_IN_1_0
void           gbridge_io_loop_advance_clock         (GbridgeIOLoop     *self,
                                                      double             seconds);

GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_run_sync              (GbridgeIOLoop     *self,
                                                      GbridgeFutureFunc  func,
                                                      gpointer           user_data,
                                                      double             timeout,
                                                      GValue            *value,
                                                      GError           **error);
GBRIDGE_AVAILABLE_IN_1_0
void           gbridge_io_loop_add_future            (GbridgeIOLoop     *self,
                                                      GbridgeFuture     *future,
                                                      GbridgeFutureCallback func,
                                                      gpointer           user_data,
                                                      GDestroyNotify     destroy);
/* Metrics: gbridge-loop-metrics.c */
GBRIDGE_AVAILABLE_IN_1_0
void           gbridge_io_loop_set_metrics_enabled   (GbridgeIOLoop     *self,
                                                      gboolean           enabled);
GBRIDGE_AVAILABLE_IN_1_0
gboolean       gbridge_io_loop_get_metrics_enabled   (GbridgeIOLoop     *self);
GBRIDGE_AVAILABLE_IN_1_0
void           gbridge_io_loop_set_slow_callback_threshold (GbridgeIOLoop *self,
                                                      double             seconds);
GBRIDGE_AVAILABLE_IN_1_0
double         gbridge_io_loop_get_slow_callback_threshold (GbridgeIOLoop *self);
GBRIDGE_AVAILABLE_IN_1_0
void           gbridge_io_loop_report_slow_callback  (GbridgeIOLoop     *self,
                                                      const char        *name,
                                                      double             duration);

G_END_DECLS
