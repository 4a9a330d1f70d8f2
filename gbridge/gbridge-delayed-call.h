/* gbridge-delayed-call.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (GBRIDGE_INSIDE) && !defined (GBRIDGE_COMPILATION)
# error "Only <gbridge/gbridge.h> can be included directly."
#endif

#include <glib-object.h>

#include "gbridge-version.h"

G_BEGIN_DECLS

#define GBRIDGE_TYPE_DELAYED_CALL (gbridge_delayed_call_get_type ())

GBRIDGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (GbridgeDelayedCall, gbridge_delayed_call, GBRIDGE, DELAYED_CALL, GObject)

GBRIDGE_AVAILABLE_IN_1_0
double   gbridge_delayed_call_get_time  (GbridgeDelayedCall  *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean gbridge_delayed_call_is_active (GbridgeDelayedCall  *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean gbridge_delayed_call_cancel    (GbridgeDelayedCall  *self,
                                         GError             **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean gbridge_delayed_call_delay     (GbridgeDelayedCall  *self,
                                         double               seconds,
                                         GError             **error);
GBRIDGE_AVAILABLE_IN_1_0
gboolean gbridge_delayed_call_reset     (GbridgeDelayedCall  *self,
                                         double               seconds,
                                         GError             **error);

G_END_DECLS
