/* gbridge-override-resolver.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (GBRIDGE_INSIDE) && !defined (GBRIDGE_COMPILATION)
# error "Only <gbridge/gbridge.h> can be included directly."
#endif

#include "gbridge-resolver.h"

G_BEGIN_DECLS

#define GBRIDGE_TYPE_OVERRIDE_RESOLVER (gbridge_override_resolver_get_type ())

GBRIDGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (GbridgeOverrideResolver, gbridge_override_resolver, GBRIDGE, OVERRIDE_RESOLVER, GObject)

GBRIDGE_AVAILABLE_IN_1_0
GbridgeOverrideResolver *gbridge_override_resolver_new           (GbridgeResolver         *resolver);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeResolver         *gbridge_override_resolver_get_resolver  (GbridgeOverrideResolver *self);
GBRIDGE_AVAILABLE_IN_1_0
void                     gbridge_override_resolver_add_host      (GbridgeOverrideResolver *self,
                                                                  const char              *host,
                                                                  const char              *address);
GBRIDGE_AVAILABLE_IN_1_0
void                     gbridge_override_resolver_add_host_port (GbridgeOverrideResolver *self,
                                                                  const char              *host,
                                                                  guint16                  port,
                                                                  const char              *address,
                                                                  guint16                  new_port);
GBRIDGE_AVAILABLE_IN_1_0
void                     gbridge_override_resolver_remove_host   (GbridgeOverrideResolver *self,
                                                                  const char              *host);

G_END_DECLS
