/* gbridge-threaded-resolver.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (GBRIDGE_INSIDE) && !defined (GBRIDGE_COMPILATION)
# error "Only <gbridge/gbridge.h> can be included directly."
#endif

#include "gbridge-resolver.h"

G_BEGIN_DECLS

#define GBRIDGE_TYPE_THREADED_RESOLVER (gbridge_threaded_resolver_get_type ())

GBRIDGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (GbridgeThreadedResolver, gbridge_threaded_resolver, GBRIDGE, THREADED_RESOLVER, GObject)

GBRIDGE_AVAILABLE_IN_1_0
GbridgeThreadedResolver *gbridge_threaded_resolver_new (GbridgeIOLoop *loop);

G_END_DECLS
