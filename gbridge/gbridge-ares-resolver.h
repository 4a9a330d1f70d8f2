/* gbridge-ares-resolver.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (GBRIDGE_INSIDE) && !defined (GBRIDGE_COMPILATION)
# error "Only <gbridge/gbridge.h> can be included directly."
#endif

#include "gbridge-resolver.h"

G_BEGIN_DECLS

#define GBRIDGE_TYPE_ARES_RESOLVER (gbridge_ares_resolver_get_type ())

GBRIDGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (GbridgeAresResolver, gbridge_ares_resolver, GBRIDGE, ARES_RESOLVER, GObject)

GBRIDGE_AVAILABLE_IN_1_0
GbridgeAresResolver *gbridge_ares_resolver_new          (GbridgeIOLoop        *loop,
                                                         const char           *servers,
                                                         GError              **error);
GBRIDGE_AVAILABLE_IN_1_0
const char          *gbridge_ares_resolver_get_servers  (GbridgeAresResolver  *self);
GBRIDGE_AVAILABLE_IN_1_0
guint                gbridge_ares_resolver_get_n_sockets (GbridgeAresResolver *self);

G_END_DECLS
