/* gbridge-types.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (GBRIDGE_INSIDE) && !defined (GBRIDGE_COMPILATION)
# error "Only <gbridge/gbridge.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * GbridgeIOEvents:
 * @GBRIDGE_IO_EVENTS_NONE: no event
 * @GBRIDGE_IO_EVENTS_READ: the file descriptor is readable
 * @GBRIDGE_IO_EVENTS_WRITE: the file descriptor is writable
 * @GBRIDGE_IO_EVENTS_ERROR: an error or hang-up occurred on the file
 *   descriptor; always reported, whether asked for or not
 *
 * The events a handler added with gbridge_io_loop_add_handler() waits for and
 * is called with. The values are those of Tornado's `IOLoop.READ` (0x001),
 * `IOLoop.WRITE` (0x004) and `IOLoop.ERROR` (0x018), so the numbers can be
 * passed between Tornado code and gbridge unchanged; they are also GLib's
 * %G_IO_IN, %G_IO_OUT and %G_IO_ERR | %G_IO_HUP. %GBRIDGE_IO_EVENTS_ERROR
 * is reported with both of its bits set; test it with `events &
 * GBRIDGE_IO_EVENTS_ERROR`.
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  GBRIDGE_IO_EVENTS_NONE  = 0,
  GBRIDGE_IO_EVENTS_READ  = 0x001,
  GBRIDGE_IO_EVENTS_WRITE = 0x004,
  GBRIDGE_IO_EVENTS_ERROR = 0x018,
} GbridgeIOEvents;

/* The types every header names, so that a header that only takes or
 * returns a pointer to another header's type needs nothing but this file,
 * and no two headers include each other. G_DECLARE_FINAL_TYPE and
 * G_DECLARE_INTERFACE repeat these typedefs, which C11 allows (GTK 4's
 * gtktypes.h does the same). */
typedef struct _GbridgeAresResolver      GbridgeAresResolver;
typedef struct _GbridgeContextDriver     GbridgeContextDriver;
typedef struct _GbridgeDelayedCall       GbridgeDelayedCall;
typedef struct _GbridgeDescriptor        GbridgeDescriptor;
typedef struct _GbridgeFuture            GbridgeFuture;
typedef struct _GbridgeIOLoop            GbridgeIOLoop;
typedef struct _GbridgeOverrideResolver  GbridgeOverrideResolver;
typedef struct _GbridgePeriodicCallback  GbridgePeriodicCallback;
typedef struct _GbridgeReactor           GbridgeReactor;
typedef struct _GbridgeResolver          GbridgeResolver;
typedef struct _GbridgeThreadedResolver  GbridgeThreadedResolver;

/**
 * GbridgeCallback:
 * @user_data: the data given when the callback was added
 *
 * A callback run by #GbridgeIOLoop: a callback added with
 * gbridge_io_loop_add_callback(), a timeout, or a #GbridgePeriodicCallback.
 *
 * Since: 1.0
 */
typedef void (*GbridgeCallback) (gpointer user_data);

/**
 * GbridgeFutureCallback:
 * @future: the future, which is done
 * @user_data: the data given with the callback
 *
 * A done-callback, see gbridge_future_add_done_callback() and
 * gbridge_io_loop_add_future().
 *
 * Since: 1.0
 */
typedef void (*GbridgeFutureCallback) (GbridgeFuture *future,
                                       gpointer       user_data);

/**
 * GbridgeFutureFunc:
 * @user_data: the data given with the function
 *
 * A function that starts some work and returns a future of its outcome, see
 * gbridge_io_loop_run_sync().
 *
 * Returns: (transfer full) (nullable): a future, or %NULL when the work is
 *   already done and has no value
 *
 * Since: 1.0
 */
typedef GbridgeFuture *(*GbridgeFutureFunc) (gpointer user_data);

G_END_DECLS
