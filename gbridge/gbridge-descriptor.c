/* gbridge-descriptor.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-descriptor.h"

/**
 * SECTION:gbridge-descriptor
 * @title: GbridgeDescriptor
 * @short_description: A file descriptor watched by a reactor
 *
 * #GbridgeDescriptor is what a #GbridgeReactor reads from and writes to:
 * a file descriptor together with what to do when it is readable or
 * writable and when its connection is lost. It is Twisted's
 * `IReadDescriptor` and `IWriteDescriptor` as one GObject interface, so
 * it can be implemented in C and, through PyGObject, in Python (override
 * `do_get_fd`, `do_read`, `do_write` and `do_connection_lost`).
 */

/**
 * GbridgeDescriptor:
 *
 * An object with a file descriptor, see #GbridgeDescriptorInterface.
 *
 * Since: 1.0
 */

G_DEFINE_INTERFACE (GbridgeDescriptor, gbridge_descriptor, G_TYPE_OBJECT)

static int
gbridge_descriptor_real_get_fd (GbridgeDescriptor *self)
{
  return -1;
}

static gboolean
gbridge_descriptor_real_io (GbridgeDescriptor *self)
{
  return TRUE;
}

static void
gbridge_descriptor_real_connection_lost (GbridgeDescriptor *self,
                                         const GError      *reason)
{
}

static void
gbridge_descriptor_default_init (GbridgeDescriptorInterface *iface)
{
  iface->get_fd = gbridge_descriptor_real_get_fd;
  iface->read = gbridge_descriptor_real_io;
  iface->write = gbridge_descriptor_real_io;
  iface->connection_lost = gbridge_descriptor_real_connection_lost;
}

/**
 * gbridge_descriptor_get_fd:
 * @self: a #GbridgeDescriptor
 *
 * Gets the file descriptor of @self.
 *
 * Returns: the file descriptor, or -1 if it is closed
 *
 * Since: 1.0
 */
int
gbridge_descriptor_get_fd (GbridgeDescriptor *self)
{
  g_return_val_if_fail (GBRIDGE_IS_DESCRIPTOR (self), -1);

  return GBRIDGE_DESCRIPTOR_GET_IFACE (self)->get_fd (self);
}

/**
 * gbridge_descriptor_read:
 * @self: a #GbridgeDescriptor
 *
 * Tells @self that its file descriptor is readable.
 *
 * Returns: %FALSE if the connection is lost
 *
 * Since: 1.0
 */
gboolean
gbridge_descriptor_read (GbridgeDescriptor *self)
{
  g_return_val_if_fail (GBRIDGE_IS_DESCRIPTOR (self), FALSE);

  return GBRIDGE_DESCRIPTOR_GET_IFACE (self)->read (self);
}

/**
 * gbridge_descriptor_write:
 * @self: a #GbridgeDescriptor
 *
 * Tells @self that its file descriptor is writable.
 *
 * Returns: %FALSE if the connection is lost
 *
 * Since: 1.0
 */
gboolean
gbridge_descriptor_write (GbridgeDescriptor *self)
{
  g_return_val_if_fail (GBRIDGE_IS_DESCRIPTOR (self), FALSE);

  return GBRIDGE_DESCRIPTOR_GET_IFACE (self)->write (self);
}

/**
 * gbridge_descriptor_connection_lost:
 * @self: a #GbridgeDescriptor
 * @reason: why, in the %GBRIDGE_REACTOR_ERROR domain
 *
 * Tells @self that the reactor no longer watches it because its connection
 * was lost.
 *
 * Since: 1.0
 */
void
gbridge_descriptor_connection_lost (GbridgeDescriptor *self,
                                    const GError      *reason)
{
  g_return_if_fail (GBRIDGE_IS_DESCRIPTOR (self));
  g_return_if_fail (reason != NULL);

  GBRIDGE_DESCRIPTOR_GET_IFACE (self)->connection_lost (self, reason);
}
