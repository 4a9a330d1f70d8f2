/* gbridge-io-loop-fork.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-io-loop-impl-private.h"

#include <unistd.h>

#include <glib/gi18n-lib.h>

#ifdef HAVE_EVENTFD
# include <sys/eventfd.h>
#endif

/* fork(): see the description of #GbridgeIOLoop. */

volatile guint _gbridge_io_loop_fork_generation;

void
_gbridge_io_loop_on_fork_child (void)
{
  _gbridge_io_loop_fork_generation++;
}

/* Gives up the kernel objects shared with the parent for new ones. */
static gboolean
after_fork (GbridgeIOLoop  *self,
            GError        **error)
{
  int err = 0;

  self->fork_generation = _gbridge_io_loop_fork_generation;
  self->pid = getpid ();
  if (g_atomic_int_get (&self->closed))
    return TRUE;

  /* The next prepare arms a new timerfd. Closing this one drops only the
   * child's reference: the parent's stays armed. */
  if (self->timer_fd >= 0)
    {
      if (self->timer_tag != NULL)
        g_source_remove_unix_fd (self->source, self->timer_tag);
      self->timer_tag = NULL;
      close (self->timer_fd);
      self->timer_fd = -1;
      self->armed_deadline = G_MAXINT64;
    }

#ifdef HAVE_EVENTFD
  /* GLib's wake-up descriptor of the context is shared with the parent
   * too, and whichever process reads it first takes a wake-up: another
   * thread's gbridge_io_loop_add_callback() could go unnoticed here while
   * this process sleeps in poll(). Wake this loop through a descriptor of
   * its own from now on. */
  {
    int old_fd = g_atomic_int_get (&self->wake_fd);
    int fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

    if (self->wake_tag != NULL)
      g_source_remove_unix_fd (self->source, self->wake_tag);
    self->wake_tag = fd >= 0 ? g_source_add_unix_fd (self->source, fd, G_IO_IN) : NULL;
    g_atomic_int_set (&self->wake_fd, fd);
    if (old_fd >= 0)
      close (old_fd);
  }
#endif

  if (!_gbridge_fd_set_after_fork (&self->fds, &err))
    {
      g_set_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_FAILED,
                   _("Cannot create a new epoll set for the loop after fork(): %s"),
                   g_strerror (err));
      return FALSE;
    }
  return TRUE;
}

/* after_fork() where no caller can take an error. */
void
_gbridge_io_loop_leave_parent (GbridgeIOLoop *self)
{
  g_autoptr(GError) error = NULL;

  if (!after_fork (self, &error))
    g_warning ("%s", error->message);
}

/**
 * gbridge_io_loop_fork:
 * @self: a #GbridgeIOLoop
 * @error: return location for a #GError
 *
 * Makes the loop private to the calling process, in the child of a fork():
 * gives up the epoll set and the timerfd it shares with the parent, without
 * changing them, and creates its own (and a wake-up descriptor, since the
 * context's belongs to GLib and stays shared), with every file descriptor handler
 * registered again and the timers armed again. Afterwards, nothing the child
 * does to its loop changes the parent's. This is libuv's uv_loop_fork().
 *
 * There is usually no need to call it: the loop does the same by itself the
 * first time the child uses it after a fork() that ran the pthread_atfork()
 * handlers, as fork() and Python's os.fork() do. Call it in a child made
 * without them (a raw clone()) before using the loop. Called when nothing
 * forked, it only replaces the loop's epoll set and timerfd (and its own
 * wake-up descriptor) with new ones.
 *
 * Returns: %TRUE on success, and on a closed loop, which has nothing to give
 *   up; %FALSE with %GBRIDGE_IO_LOOP_ERROR_FAILED if no new epoll set could
 *   be created, in which case the handlers of the descriptors that were in
 *   it are no longer called (remove them)
 *
 * Since: 1.0
 */
gboolean
gbridge_io_loop_fork (GbridgeIOLoop  *self,
                      GError        **error)
{
  g_return_val_if_fail (GBRIDGE_IS_IO_LOOP (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return after_fork (self, error);
}

