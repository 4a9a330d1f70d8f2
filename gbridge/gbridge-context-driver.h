/* gbridge-context-driver.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (GBRIDGE_INSIDE) && !defined (GBRIDGE_COMPILATION)
# error "Only <gbridge/gbridge.h> can be included directly."
#endif

#include <glib-object.h>

#include "gbridge-version.h"
#include "gbridge-io-loop.h"

G_BEGIN_DECLS

/**
 * GBRIDGE_CONTEXT_DRIVER_ERROR:
 *
 * The error domain of #GbridgeContextDriver.
 *
 * Since: 1.0
 */
#define GBRIDGE_CONTEXT_DRIVER_ERROR (gbridge_context_driver_error_quark ())

/**
 * GbridgeContextDriverError:
 * @GBRIDGE_CONTEXT_DRIVER_ERROR_CONTEXT_BUSY: another thread owns the
 *   #GMainContext
 *
 * Errors reported by #GbridgeContextDriver in the
 * %GBRIDGE_CONTEXT_DRIVER_ERROR domain.
 *
 * Since: 1.0
 */
typedef enum
{
  GBRIDGE_CONTEXT_DRIVER_ERROR_CONTEXT_BUSY,
} GbridgeContextDriverError;

#define GBRIDGE_TYPE_CONTEXT_DRIVER (gbridge_context_driver_get_type ())

GBRIDGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (GbridgeContextDriver, gbridge_context_driver, GBRIDGE, CONTEXT_DRIVER, GObject)

GBRIDGE_AVAILABLE_IN_1_0
GQuark                gbridge_context_driver_error_quark (void);

GBRIDGE_AVAILABLE_IN_1_0
GbridgeContextDriver *gbridge_context_driver_new         (GMainContext         *context);
GBRIDGE_AVAILABLE_IN_1_0
GMainContext         *gbridge_context_driver_get_context (GbridgeContextDriver *self);

GBRIDGE_AVAILABLE_IN_1_0
gboolean              gbridge_context_driver_start       (GbridgeContextDriver  *self,
                                                          GError               **error);
GBRIDGE_AVAILABLE_IN_1_0
void                  gbridge_context_driver_stop        (GbridgeContextDriver *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean              gbridge_context_driver_is_running  (GbridgeContextDriver *self);

GBRIDGE_AVAILABLE_IN_1_0
int                   gbridge_context_driver_prepare     (GbridgeContextDriver *self);
GBRIDGE_AVAILABLE_IN_1_0
guint                 gbridge_context_driver_get_n_fds   (GbridgeContextDriver *self);
GBRIDGE_AVAILABLE_IN_1_0
int                   gbridge_context_driver_get_fd      (GbridgeContextDriver *self,
                                                          guint                 index,
                                                          GbridgeIOEvents      *events);
GBRIDGE_AVAILABLE_IN_1_0
void                  gbridge_context_driver_set_ready   (GbridgeContextDriver *self,
                                                          int                   fd,
                                                          GbridgeIOEvents       events);
GBRIDGE_AVAILABLE_IN_1_0
gboolean              gbridge_context_driver_dispatch    (GbridgeContextDriver *self);

G_END_DECLS
