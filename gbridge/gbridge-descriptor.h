/* gbridge-descriptor.h
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

#define GBRIDGE_TYPE_DESCRIPTOR (gbridge_descriptor_get_type ())

GBRIDGE_AVAILABLE_IN_1_0
G_DECLARE_INTERFACE (GbridgeDescriptor, gbridge_descriptor, GBRIDGE, DESCRIPTOR, GObject)

/**
 * GbridgeDescriptorInterface:
 * @g_iface: the parent interface
 * @get_fd: returns the file descriptor, or -1 once it is closed
 * @read: called when the file descriptor is readable; returns %FALSE when
 *   the connection is lost, and the reactor then removes the descriptor and
 *   calls @connection_lost
 * @write: called when the file descriptor is writable; returns as @read
 * @connection_lost: called once the reactor has removed the descriptor
 *   because its connection was lost or its file descriptor went bad
 *
 * The virtual methods of #GbridgeDescriptor, Twisted's `IReadDescriptor`
 * and `IWriteDescriptor`: `fileno`, `doRead`, `doWrite` and
 * `connectionLost`.
 *
 * Since: 1.0
 */
struct _GbridgeDescriptorInterface
{
  GTypeInterface g_iface;

  int      (*get_fd)          (GbridgeDescriptor *self);
  gboolean (*read)            (GbridgeDescriptor *self);
  gboolean (*write)           (GbridgeDescriptor *self);
  void     (*connection_lost) (GbridgeDescriptor *self,
                               const GError      *reason);
};

GBRIDGE_AVAILABLE_IN_1_0
int      gbridge_descriptor_get_fd          (GbridgeDescriptor *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean gbridge_descriptor_read            (GbridgeDescriptor *self);
GBRIDGE_AVAILABLE_IN_1_0
gboolean gbridge_descriptor_write           (GbridgeDescriptor *self);
GBRIDGE_AVAILABLE_IN_1_0
void     gbridge_descriptor_connection_lost (GbridgeDescriptor *self,
                                             const GError      *reason);

G_END_DECLS
