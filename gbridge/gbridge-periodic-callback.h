/* gbridge-periodic-callback.h
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

#define GBRIDGE_TYPE_PERIODIC_CALLBACK (gbridge_periodic_callback_get_type ())

GBRIDGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (GbridgePeriodicCallback, gbridge_periodic_callback,
                      GBRIDGE, PERIODIC_CALLBACK, GObject)

GBRIDGE_AVAILABLE_IN_1_0
GbridgePeriodicCallback *gbridge_periodic_callback_new               (GbridgeIOLoop           *loop,
                                                                      double                   interval,
                                                                      GbridgeCallback          func,
                                                                      gpointer                 user_data,
                                                                      GDestroyNotify           destroy);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeIOLoop           *gbridge_periodic_callback_get_loop          (GbridgePeriodicCallback *self);
GBRIDGE_AVAILABLE_IN_1_0
double                   gbridge_periodic_callback_get_interval      (GbridgePeriodicCallback *self);
GBRIDGE_AVAILABLE_IN_1_0
void                     gbridge_periodic_callback_set_interval      (GbridgePeriodicCallback *self,
                                                                      double                   interval);
GBRIDGE_AVAILABLE_IN_1_0
double                   gbridge_periodic_callback_get_jitter        (GbridgePeriodicCallback *self);
GBRIDGE_AVAILABLE_IN_1_0
void                     gbridge_periodic_callback_set_jitter        (GbridgePeriodicCallback *self,
                                                                      double                   jitter);
GBRIDGE_AVAILABLE_IN_1_0
void                     gbridge_periodic_callback_set_seed          (GbridgePeriodicCallback *self,
                                                                      guint32                  seed);
GBRIDGE_AVAILABLE_IN_1_0
void                     gbridge_periodic_callback_start             (GbridgePeriodicCallback *self);
GBRIDGE_AVAILABLE_IN_1_0
void                     gbridge_periodic_callback_stop              (GbridgePeriodicCallback *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean                 gbridge_periodic_callback_is_running        (GbridgePeriodicCallback *self);

G_END_DECLS
