/* gbridge-io-loop-fds.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-io-loop-impl-private.h"

/* File descriptor handlers: the registry is the fd set
 * (gbridge-fd-set.c); run_iteration() calls the handlers. */

/* Replaces self->ready with the descriptors that are ready (as GLib's last
 * poll found them or, for an inline round, as epoll finds them now) and
 * stamps them with a new collect number. An inline round drops those the
 * previous collect found ready too: a descriptor that stays ready (a
 * writable socket, a peer that keeps sending) waits for GLib's next poll,
 * which sees it again (epoll is level-triggered), rather than being
 * reported round after round. Returns whether any are left. */
gboolean
_gbridge_io_loop_collect_ready (GbridgeIOLoop *self,
               gboolean       inline_round)
{
  guint previous = self->n_collects++;
  guint kept = 0;

  g_array_set_size (self->ready, 0);
  self->ready_pos = 0;
  if (inline_round)
    _gbridge_fd_set_collect_now (&self->fds, self->ready);
  else
    _gbridge_fd_set_collect (&self->fds, self->ready);

  for (guint i = 0; i < self->ready->len; i++)
    {
      GbridgeReadyFd r = g_array_index (self->ready, GbridgeReadyFd, i);
      gboolean again = r.handler->last_collect == previous;

      r.handler->last_collect = self->n_collects;
      if (inline_round && again)
        _gbridge_handler_unref (r.handler);
      else
        g_array_index (self->ready, GbridgeReadyFd, kept++) = r;
    }
  if (kept < self->ready->len)
    g_array_set_size (self->ready, kept);
  return kept > 0;
}

/**
 * gbridge_io_loop_add_handler:
 * @self: a #GbridgeIOLoop
 * @fd: an open file descriptor
 * @events: the events to wait for
 * @func: (scope notified) (closure user_data) (destroy destroy): the handler
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data when the handler is removed
 * @error: return location for a #GError
 *
 * Calls @func whenever @fd is ready for one of @events; error and hang-up
 * are always reported, as %GBRIDGE_IO_EVENTS_ERROR. Readiness is
 * level-triggered: @func is called on every iteration while the condition
 * holds.
 *
 * On Linux every descriptor goes into the loop's one epoll set, which
 * follows the open file, not the number: a descriptor closed while
 * registered simply stops being reported (remove its handler all the same,
 * before its number can be registered again), and a new file that reuses the
 * number is never reported to the old handler, even when the old file stays
 * open elsewhere, through a dup(), a fork() or a descriptor passed over a
 * socket. For that, the loop checks before each call of @func that @fd
 * still names the file it registered (one epoll_ctl() per call), and drops
 * the registration that such a file leaves behind, which epoll can no
 * longer remove by number, by re-creating its epoll set from the live
 * handlers. The alternative, registering a dup() of every descriptor, would
 * cost a descriptor per handler and keep a closed connection open until
 * its handler is removed, and would still need the check.
 *
 * Regular files, which epoll refuses, are watched with poll() instead and
 * are always ready, as poll() reports them; such a descriptor closed while
 * registered, or whose number another file reuses, is reported once as
 * %GBRIDGE_IO_EVENTS_ERROR and its handler removed. The loop keeps a
 * duplicate of each such descriptor to tell its file from another.
 *
 * On failure, @destroy is called on @user_data before returning.
 *
 * Returns: %TRUE on success; %FALSE with @error set if @fd already has a
 *   handler (%GBRIDGE_IO_LOOP_ERROR_EXISTS), is not open
 *   (%GBRIDGE_IO_LOOP_ERROR_BAD_FD), or the loop is closed
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_add_handler (GbridgeIOLoop    *self,
                             int               fd,
                             GbridgeIOEvents   events,
                             GbridgeIOFunc     func,
                             gpointer          user_data,
                             GDestroyNotify    destroy,
                             GError          **error)
{
  return gbridge_io_loop_add_handler_full (self, fd, events, GBRIDGE_HANDLER_FLAGS_NONE,
                                           func, user_data, destroy, error);
}

/**
 * gbridge_io_loop_add_handler_full:
 * @self: a #GbridgeIOLoop
 * @fd: an open file descriptor without a handler
 * @events: the events to wait for
 * @flags: how the handler is called
 * @func: (scope notified) (closure user_data) (destroy destroy): the handler
 * @user_data: data for @func
 * @destroy: (nullable): called on @user_data when the handler is removed or
 *   the loop is closed
 * @error: return location for a #GError
 *
 * Like gbridge_io_loop_add_handler(), with @flags.
 * %GBRIDGE_HANDLER_FLAGS_UNCHECKED leaves out the check, before each call
 * of @func, that @fd still names the file it was registered with: one
 * epoll_ctl() per call, the largest cost of a ready descriptor after its own
 * read and write. The caller promises instead to remove the handler before
 * @fd is closed, as libuv, asyncio's selector loops and Twisted's reactors
 * require of theirs; a descriptor closed while registered, whose file
 * stays open elsewhere, may then have that file's readiness reported to
 * @func under a number that names another file or none. gbridge.asyncio
 * registers its descriptors so, as asyncio's own loops watch theirs.
 * Descriptors watched with poll() (regular files) are checked all the
 * same.
 *
 * Returns: %TRUE on success; %FALSE with @error set as for
 *   gbridge_io_loop_add_handler()
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_add_handler_full (GbridgeIOLoop       *self,
                                  int                  fd,
                                  GbridgeIOEvents      events,
                                  GbridgeHandlerFlags  flags,
                                  GbridgeIOFunc        func,
                                  gpointer             user_data,
                                  GDestroyNotify       destroy,
                                  GError             **error)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail ((flags & ~GBRIDGE_HANDLER_FLAGS_UNCHECKED) == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (refuse_if_closed (self, user_data, destroy, error))
    return FALSE;

  check_fork (self);
  if (!_gbridge_fd_set_add (&self->fds, fd, events,
                            (flags & GBRIDGE_HANDLER_FLAGS_UNCHECKED) != 0,
                            func, user_data, destroy, error))
    {
      refuse (user_data, destroy);
      return FALSE;
    }

  return TRUE;
}

/**
 * gbridge_io_loop_update_handler:
 * @self: a #GbridgeIOLoop
 * @fd: a file descriptor with a handler
 * @events: the events to wait for from now on
 * @error: return location for a #GError
 *
 * Changes the events the handler of @fd waits for.
 *
 * Returns: %TRUE on success; %FALSE with @error set if @fd has no handler
 *   (%GBRIDGE_IO_LOOP_ERROR_NOT_FOUND) or the loop is closed
 *   (%GBRIDGE_IO_LOOP_ERROR_CLOSED)
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_update_handler (GbridgeIOLoop    *self,
                                int               fd,
                                GbridgeIOEvents   events,
                                GError          **error)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* A closed loop has no fd set any more; a destroy-notify run by the close
   * or by finalize may still get here. */
  if (g_atomic_int_get (&self->closed))
    {
      _gbridge_io_loop_set_closed_error (error);
      return FALSE;
    }

  check_fork (self);
  return _gbridge_fd_set_update (&self->fds, fd, events, error);
}

/**
 * gbridge_io_loop_remove_handler:
 * @self: a #GbridgeIOLoop
 * @fd: a file descriptor
 *
 * Stops watching @fd and calls the handler's destroy-notify (after the
 * handler returns, if it is running). The handler is not called again, even
 * if @fd was already found ready in the current iteration. A descriptor
 * without a handler is no error, and neither is a closed loop, whose
 * handlers are all gone: that includes a destroy-notify that the close (or
 * the loop's finalization) runs.
 *
 * Returns: %TRUE if @fd had a handler
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_remove_handler (GbridgeIOLoop *self,
                                int            fd)
{
  GbridgeHandler *h;

  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);

  if (g_atomic_int_get (&self->closed))
    return FALSE;

  check_fork (self);
  h = _gbridge_fd_set_remove (&self->fds, fd);
  if (h == NULL)
    return FALSE;

  _gbridge_handler_unref (h);
  return TRUE;
}

