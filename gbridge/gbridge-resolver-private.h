/* gbridge-resolver-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-resolver.h"
#include "gbridge-future.h"
#include "gbridge-io-loop.h"

G_BEGIN_DECLS

GError        *_gbridge_resolver_error_new   (GbridgeResolverError  code,
                                              const char           *host,
                                              const char           *detail);
void           _gbridge_resolver_append      (GListStore           *store,
                                              GInetAddress         *address,
                                              guint16               port,
                                              GSocketFamily         family);
void           _gbridge_resolver_answer      (GbridgeFuture        *future,
                                              GListStore           *store,
                                              const char           *host);
GbridgeFuture *_gbridge_resolver_lookup_localhost (GbridgeIOLoop *loop,
                                                  const char    *host,
                                                  guint16        port,
                                                  GSocketFamily  family);
void           _gbridge_resolver_install_loop_property (GObjectClass *klass,
                                                        guint         prop_id);

G_END_DECLS
