/* gbridge-reactor-fds.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The readers and writers of GbridgeReactor: one registration with the
 * loop per file descriptor, found again by descriptor. */

#include "config.h"

#include "gbridge-reactor.h"
#include "gbridge-reactor-private.h"

#include <glib/gi18n-lib.h>

/* The loop lets go of the handler: after the reactor removed it, or because
 * the loop was closed, in which case the reactor forgets it too. */
static void
fd_entry_free (gpointer data)
{
  FdEntry *entry = data;
  GbridgeReactor *self = entry->reactor;

  if (self->fds != NULL &&
      g_hash_table_lookup (self->fds, GINT_TO_POINTER (entry->fd)) == entry)
    {
      g_hash_table_remove (self->fds, GINT_TO_POINTER (entry->fd));
      if (entry->reader != NULL)
        g_hash_table_remove (self->roles[FALSE], entry->reader);
      if (entry->writer != NULL)
        g_hash_table_remove (self->roles[TRUE], entry->writer);
    }
  g_clear_object (&entry->reader);
  g_clear_object (&entry->writer);
  g_free (entry);
}

/* File descriptors */

static GbridgeIOEvents
entry_events (FdEntry *entry)
{
  return (entry->reader != NULL ? GBRIDGE_IO_EVENTS_READ : 0) |
         (entry->writer != NULL ? GBRIDGE_IO_EVENTS_WRITE : 0);
}

/* By descriptor, without asking it for its fd, which may be closed by now
 * (and costs a call into Python for a descriptor written in Python). */
static FdEntry *
find_entry (GbridgeReactor    *self,
            GbridgeDescriptor *descriptor,
            gboolean           writer)
{
  return g_hash_table_lookup (self->roles[!!writer], descriptor);
}

static void
entry_changed (GbridgeReactor *self,
               FdEntry        *entry)
{
  GbridgeIOEvents events = entry_events (entry);

  if (events == 0)
    {
      int fd = entry->fd;

      g_hash_table_remove (self->fds, GINT_TO_POINTER (fd));
      gbridge_io_loop_remove_handler (self->loop, fd);   /* frees entry */
    }
  else
    {
      /* Fails only when the fd was closed, which epoll forgot already. */
      gbridge_io_loop_update_handler (self->loop, entry->fd, events, NULL);
    }
}

static gboolean
remove_descriptor (GbridgeReactor    *self,
                   GbridgeDescriptor *descriptor,
                   gboolean           writer)
{
  FdEntry *entry = find_entry (self, descriptor, writer);
  GbridgeDescriptor *removed;

  if (entry == NULL)
    return FALSE;

  g_hash_table_remove (self->roles[!!writer], descriptor);
  removed = g_steal_pointer ((writer ? &entry->writer : &entry->reader));
  entry_changed (self, entry);
  g_object_unref (removed);
  return TRUE;
}

/* Why a descriptor was dropped: BAD_FD, CONNECTION_DONE or else
 * CONNECTION_LOST. */
static GError *
reason_new (GbridgeReactorError code)
{
  if (code == GBRIDGE_REACTOR_ERROR_BAD_FD)
    return g_error_new_literal (GBRIDGE_REACTOR_ERROR, code,
                                _("The file descriptor is not open"));
  if (code == GBRIDGE_REACTOR_ERROR_CONNECTION_DONE)
    return g_error_new_literal (GBRIDGE_REACTOR_ERROR, code,
                                _("The connection was closed cleanly"));
  return g_error_new_literal (GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_CONNECTION_LOST,
                              _("The connection was lost"));
}

static void
lose (GbridgeReactor    *self,
      GbridgeDescriptor *descriptor,
      GbridgeReactorError code)
{
  g_autoptr(GError) reason = reason_new (code);

  remove_descriptor (self, descriptor, FALSE);
  remove_descriptor (self, descriptor, TRUE);
  gbridge_descriptor_connection_lost (descriptor, reason);
}

static gboolean
still_registered (GbridgeReactor    *self,
                  FdEntry           *entry,
                  GbridgeDescriptor *descriptor,
                  gboolean           writer)
{
  return g_hash_table_lookup (self->fds, GINT_TO_POINTER (entry->fd)) == entry &&
         (writer ? entry->writer : entry->reader) == descriptor;
}

static void
on_fd_ready (int             fd,
             GbridgeIOEvents events,
             gpointer        user_data)
{
  FdEntry *entry = user_data;
  g_autoptr(GbridgeReactor) self = g_object_ref (entry->reactor);
  g_autoptr(GbridgeDescriptor) reader = entry->reader ? g_object_ref (entry->reader) : NULL;
  g_autoptr(GbridgeDescriptor) writer = entry->writer ? g_object_ref (entry->writer) : NULL;

  if ((events & GBRIDGE_IO_EVENTS_ERROR) && !(events & GBRIDGE_IO_EVENTS_READ))
    {
      /* A hang-up: a reader was told the end by the peer, a writer lost. */
      if (reader != NULL)
        lose (self, reader, GBRIDGE_REACTOR_ERROR_CONNECTION_DONE);
      if (writer != NULL && writer != reader)
        lose (self, writer, GBRIDGE_REACTOR_ERROR_CONNECTION_LOST);
      return;
    }

  if (reader != NULL && (events & GBRIDGE_IO_EVENTS_READ) &&
      still_registered (self, entry, reader, FALSE))
    {
      if (gbridge_descriptor_get_fd (reader) != fd)
        lose (self, reader, GBRIDGE_REACTOR_ERROR_BAD_FD);
      else if (!gbridge_descriptor_read (reader))
        lose (self, reader, GBRIDGE_REACTOR_ERROR_CONNECTION_LOST);
    }

  if (writer != NULL && (events & GBRIDGE_IO_EVENTS_WRITE) &&
      still_registered (self, entry, writer, TRUE))
    {
      if (gbridge_descriptor_get_fd (writer) != fd)
        lose (self, writer, GBRIDGE_REACTOR_ERROR_BAD_FD);
      else if (!gbridge_descriptor_write (writer))
        lose (self, writer, GBRIDGE_REACTOR_ERROR_CONNECTION_LOST);
    }
}

static gboolean
add_descriptor (GbridgeReactor     *self,
                GbridgeDescriptor  *descriptor,
                gboolean            writer,
                GError            **error)
{
  g_autoptr(GError) local_error = NULL;
  GbridgeDescriptor **slot;
  FdEntry *entry;
  int fd;

  if (find_entry (self, descriptor, writer) != NULL)
    return TRUE;

  fd = gbridge_descriptor_get_fd (descriptor);
  if (fd < 0)
    {
      g_propagate_error (error, reason_new (GBRIDGE_REACTOR_ERROR_BAD_FD));
      return FALSE;
    }

  entry = g_hash_table_lookup (self->fds, GINT_TO_POINTER (fd));
  if (entry != NULL)
    {
      /* Another descriptor with the same fd: it replaces the old one. */
      slot = writer ? &entry->writer : &entry->reader;
      if (*slot != NULL)
        g_hash_table_remove (self->roles[!!writer], *slot);
      g_set_object (slot, descriptor);
      g_hash_table_insert (self->roles[!!writer], descriptor, entry);
      entry_changed (self, entry);
      return TRUE;
    }

  entry = g_new0 (FdEntry, 1);
  entry->reactor = self;
  entry->fd = fd;
  slot = writer ? &entry->writer : &entry->reader;
  *slot = g_object_ref (descriptor);

  if (!gbridge_io_loop_add_handler (self->loop, fd, entry_events (entry), on_fd_ready,
                                    entry, fd_entry_free, &local_error))
    {
      if (g_error_matches (local_error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_BAD_FD))
        g_propagate_error (error, reason_new (GBRIDGE_REACTOR_ERROR_BAD_FD));
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  g_hash_table_insert (self->fds, GINT_TO_POINTER (fd), entry);
  g_hash_table_insert (self->roles[!!writer], descriptor, entry);
  return TRUE;
}

/**
 * gbridge_reactor_add_reader:
 * @self: a #GbridgeReactor
 * @reader: a #GbridgeDescriptor
 * @error: return location for a #GError
 *
 * Calls gbridge_descriptor_read() on @reader whenever its file descriptor
 * is readable, until it is removed. Adding it again does nothing; adding
 * another descriptor with the same file descriptor replaces it.
 *
 * Returns: %TRUE on success; %FALSE with %GBRIDGE_REACTOR_ERROR_BAD_FD if
 *   the file descriptor is not open, or an error of the loop
 *
 * Since: 1.0
 */
gboolean
gbridge_reactor_add_reader (GbridgeReactor     *self,
                            GbridgeDescriptor  *reader,
                            GError            **error)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), FALSE);
  g_return_val_if_fail (GBRIDGE_IS_DESCRIPTOR (reader), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return add_descriptor (self, reader, FALSE, error);
}

/**
 * gbridge_reactor_add_writer:
 * @self: a #GbridgeReactor
 * @writer: a #GbridgeDescriptor
 * @error: return location for a #GError
 *
 * Calls gbridge_descriptor_write() on @writer whenever its file descriptor
 * is writable, until it is removed. A descriptor that is also a reader
 * stays one registration with the loop.
 *
 * Returns: %TRUE on success; %FALSE with %GBRIDGE_REACTOR_ERROR_BAD_FD if
 *   the file descriptor is not open, or an error of the loop
 *
 * Since: 1.0
 */
gboolean
gbridge_reactor_add_writer (GbridgeReactor     *self,
                            GbridgeDescriptor  *writer,
                            GError            **error)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), FALSE);
  g_return_val_if_fail (GBRIDGE_IS_DESCRIPTOR (writer), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return add_descriptor (self, writer, TRUE, error);
}

/**
 * gbridge_reactor_remove_reader:
 * @self: a #GbridgeReactor
 * @reader: a #GbridgeDescriptor
 *
 * Stops reading from @reader, even if its file descriptor was closed
 * meanwhile. It is not called again, even if already found readable in
 * the current iteration.
 *
 * Returns: %TRUE if @reader was a reader
 *
 * Since: 1.0
 */
gboolean
gbridge_reactor_remove_reader (GbridgeReactor    *self,
                               GbridgeDescriptor *reader)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), FALSE);
  g_return_val_if_fail (GBRIDGE_IS_DESCRIPTOR (reader), FALSE);

  return remove_descriptor (self, reader, FALSE);
}

/**
 * gbridge_reactor_remove_writer:
 * @self: a #GbridgeReactor
 * @writer: a #GbridgeDescriptor
 *
 * Stops writing to @writer, as gbridge_reactor_remove_reader() stops
 * reading.
 *
 * Returns: %TRUE if @writer was a writer
 *
 * Since: 1.0
 */
gboolean
gbridge_reactor_remove_writer (GbridgeReactor    *self,
                               GbridgeDescriptor *writer)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), FALSE);
  g_return_val_if_fail (GBRIDGE_IS_DESCRIPTOR (writer), FALSE);

  return remove_descriptor (self, writer, TRUE);
}

static GPtrArray *
list_descriptors (GbridgeReactor *self,
                  gboolean        readers,
                  gboolean        writers)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  FdEntry *entry;

  g_hash_table_iter_init (&iter, self->fds);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    {
      if (readers && entry->reader != NULL)
        g_ptr_array_add (list, g_object_ref (entry->reader));
      if (writers && entry->writer != NULL &&
          !(readers && entry->writer == entry->reader))
        g_ptr_array_add (list, g_object_ref (entry->writer));
    }
  return list;
}

/**
 * gbridge_reactor_remove_all:
 * @self: a #GbridgeReactor
 *
 * Removes every reader and writer.
 *
 * Returns: (transfer container) (element-type GbridgeDescriptor): what was
 *   removed, each descriptor once; the array holds a reference on each
 *
 * Since: 1.0
 */
GPtrArray *
gbridge_reactor_remove_all (GbridgeReactor *self)
{
  GPtrArray *removed;
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), NULL);

  removed = list_descriptors (self, TRUE, TRUE);
  g_hash_table_remove_all (self->roles[FALSE]);
  g_hash_table_remove_all (self->roles[TRUE]);
  g_hash_table_iter_init (&iter, self->fds);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_hash_table_iter_remove (&iter);
      gbridge_io_loop_remove_handler (self->loop, GPOINTER_TO_INT (key));
    }
  return removed;
}

/**
 * gbridge_reactor_get_readers:
 * @self: a #GbridgeReactor
 *
 * Gets the descriptors added with gbridge_reactor_add_reader().
 *
 * Returns: (transfer container) (element-type GbridgeDescriptor): the readers
 *
 * Since: 1.0
 */
GPtrArray *
gbridge_reactor_get_readers (GbridgeReactor *self)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), NULL);

  return list_descriptors (self, TRUE, FALSE);
}

/**
 * gbridge_reactor_get_writers:
 * @self: a #GbridgeReactor
 *
 * Gets the descriptors added with gbridge_reactor_add_writer().
 *
 * Returns: (transfer container) (element-type GbridgeDescriptor): the writers
 *
 * Since: 1.0
 */
GPtrArray *
gbridge_reactor_get_writers (GbridgeReactor *self)
{
  g_return_val_if_fail (GBRIDGE_IS_REACTOR (self), NULL);

  return list_descriptors (self, FALSE, TRUE);
}

/**
 * gbridge_reactor_disconnect_all:
 * @self: a #GbridgeReactor
 *
 * Removes every reader and writer and tells each that its connection was
 * lost (%GBRIDGE_REACTOR_ERROR_CONNECTION_LOST). The reactor does this
 * during its `shutdown` event.
 *
 * Since: 1.0
 */
void
gbridge_reactor_disconnect_all (GbridgeReactor *self)
{
  g_autoptr(GPtrArray) removed = NULL;
  g_autoptr(GError) reason = NULL;

  g_return_if_fail (GBRIDGE_IS_REACTOR (self));

  removed = gbridge_reactor_remove_all (self);
  reason = reason_new (GBRIDGE_REACTOR_ERROR_CONNECTION_LOST);
  for (guint i = 0; i < removed->len; i++)
    gbridge_descriptor_connection_lost (g_ptr_array_index (removed, i), reason);
}

