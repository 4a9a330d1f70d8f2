/* gbridge-resolver.h
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
 * GBRIDGE_RESOLVER_ERROR:
 *
 * The error domain of #GbridgeResolver.
 *
 * Since: 1.0
 */
#define GBRIDGE_RESOLVER_ERROR (gbridge_resolver_error_quark ())

/**
 * GbridgeResolverError:
 * @GBRIDGE_RESOLVER_ERROR_NOT_FOUND: the name does not exist, or has no
 *   address of the family asked for
 * @GBRIDGE_RESOLVER_ERROR_TEMPORARY_FAILURE: the name servers failed or
 *   refused to answer; trying again later may work
 * @GBRIDGE_RESOLVER_ERROR_TIMED_OUT: no answer came in time
 * @GBRIDGE_RESOLVER_ERROR_FAILED: any other failure; the message says which
 * @GBRIDGE_RESOLVER_ERROR_INVALID_ARGUMENT: the host cannot be looked up at
 *   all: it is empty, or an IPv6 literal names an unknown interface
 *   (`fe80::1%nosuch`). Since: 1.0
 * @GBRIDGE_RESOLVER_ERROR_UNAVAILABLE: this build of gbridge lacks what the
 *   resolver needs: a #GbridgeAresResolver in a gbridge built without
 *   c-ares. Use a #GbridgeThreadedResolver instead. Since: 1.0
 *
 * Errors reported by #GbridgeResolver in the %GBRIDGE_RESOLVER_ERROR domain.
 * Every message names the host that was looked up. A cancelled lookup
 * reports %G_IO_ERROR_CANCELLED, as every cancelled #GbridgeFuture does.
 *
 * Since: 1.0
 */
typedef enum
{
  GBRIDGE_RESOLVER_ERROR_NOT_FOUND,
  GBRIDGE_RESOLVER_ERROR_TEMPORARY_FAILURE,
  GBRIDGE_RESOLVER_ERROR_TIMED_OUT,
  GBRIDGE_RESOLVER_ERROR_FAILED,
  GBRIDGE_RESOLVER_ERROR_INVALID_ARGUMENT,
  GBRIDGE_RESOLVER_ERROR_UNAVAILABLE,
} GbridgeResolverError;

#define GBRIDGE_TYPE_RESOLVER (gbridge_resolver_get_type ())

GBRIDGE_AVAILABLE_IN_1_0
G_DECLARE_INTERFACE (GbridgeResolver, gbridge_resolver, GBRIDGE, RESOLVER, GObject)

/**
 * GbridgeResolverInterface:
 * @parent_iface: the parent interface
 * @lookup: looks up @host, which is never an IP literal, and returns a
 *   future that resolves to a #GListStore of #GInetSocketAddress with
 *   @port, only of @family unless that is %G_SOCKET_FAMILY_INVALID. The
 *   implementation stops its work when the future is cancelled. Timeouts,
 *   literals and the error messages are handled by
 *   gbridge_resolver_resolve(), which calls it.
 *
 * The virtual methods of #GbridgeResolver.
 *
 * Since: 1.0
 */
/**
 * GbridgeResolverInterface::lookup:
 * @self: a #GbridgeResolver
 * @host: a host name, never an IP literal
 * @port: the port to put in every address
 * @family: the family to keep, or %G_SOCKET_FAMILY_INVALID for all
 *
 * Starts looking up @host; see #GbridgeResolverInterface.
 *
 * Returns: (transfer full): a future of a #GListStore of #GInetSocketAddress
 *
 * Since: 1.0
 */
struct _GbridgeResolverInterface
{
  GTypeInterface parent_iface;

  GbridgeFuture *(*lookup) (GbridgeResolver *self,
                            const char      *host,
                            guint16          port,
                            GSocketFamily    family);
};

GBRIDGE_AVAILABLE_IN_1_0
GQuark           gbridge_resolver_error_quark (void);

GBRIDGE_AVAILABLE_IN_1_0
GbridgeResolver *gbridge_resolver_get_default (void);
GBRIDGE_AVAILABLE_IN_1_0
GbridgeIOLoop   *gbridge_resolver_get_loop    (GbridgeResolver *self);

GBRIDGE_AVAILABLE_IN_1_0
GbridgeFuture   *gbridge_resolver_resolve     (GbridgeResolver *self,
                                               const char      *host,
                                               guint16          port,
                                               GSocketFamily    family,
                                               double           timeout);
GBRIDGE_AVAILABLE_IN_1_0
void             gbridge_resolver_resolve_async  (GbridgeResolver     *self,
                                                  const char          *host,
                                                  guint16              port,
                                                  GSocketFamily        family,
                                                  double               timeout,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
GBRIDGE_AVAILABLE_IN_1_0
GListModel      *gbridge_resolver_resolve_finish (GbridgeResolver     *self,
                                                  GAsyncResult        *result,
                                                  GError             **error);

G_END_DECLS
