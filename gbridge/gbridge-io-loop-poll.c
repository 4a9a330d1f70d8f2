/* gbridge-io-loop-poll.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-io-loop-impl-private.h"

#include <errno.h>

#ifdef HAVE_EPOLL
# include <sys/epoll.h>
#endif

/* One wait per GLib iteration.
 *
 * The loop's descriptors live in one epoll set, which GLib sees as one
 * descriptor: left alone, a wake-up costs GLib's poll(), which only learns
 * that the epoll set is readable, then an epoll_wait() to learn which
 * descriptors are. So the loop sets the context's poll function, so that
 * GLib's wait is the loop's epoll_wait(): the context's wake-up descriptor
 * and the loop's timerfd are registered in the epoll set too (once, tagged
 * with serial 0, which no handler has), the poll function turns what
 * epoll_wait() reports into the revents GLib expects, and keeps the
 * handlers' events for the loop's collect (_gbridge_fd_set_wait()).
 *
 * Only while GLib's array holds nothing but those three descriptors: any
 * other (a g_unix_fd_add() or GSocket source on the context, GTK's display
 * connection, a handler of a regular file, which epoll refuses, another
 * loop's epoll set) and the poll function calls g_poll() with the array as
 * it stands, as GLib would. Registering other sources' descriptors in the
 * epoll set would need to know when one of them is closed or its number
 * reused for another file, which poll() learns on every call and epoll
 * never tells.
 *
 * On every context, the loop's own private one as well as one it was given
 * or the global default context, but only if the context's poll function
 * is GLib's own (g_poll()) when the loop is made: a poll function set by
 * the application, or by a toolkit, is left alone, and the loop then waits
 * as it would without one. Closing the loop gives the context g_poll()
 * back, unless someone set another poll function meanwhile. A second loop
 * on a context whose poll function is already a loop's sets nothing; its
 * descriptors make the first loop's poll function call g_poll().
 *
 * GLib's wake-up descriptor: a context has one from its creation, at
 * priority 0 (the default priority, the loop source's). The loop learns
 * its number when it makes the context, where it is the only descriptor,
 * or else in the poll function, when the array holds the loop's epoll
 * set, its timerfd if armed, and exactly one other descriptor, polled for
 * G_IO_IN: GLib polls its wake-up descriptor whenever it polls one of
 * the loop's priority or lower, so that one is it.
 *
 * A context has one poll function, and GLib calls it without saying for
 * which context: the loop's prepare names the loop in a thread-local
 * variable, which the poll function of the same iteration takes, and the
 * check clears. The array of an iteration that holds the loop's epoll set
 * is the array of the loop's context.
 *
 * After fork(), the child's loop wakes through a descriptor of its own
 * (gbridge-io-loop-fork.c), and GLib's wake-up descriptor is the parent's
 * too: the poll function leaves such a loop to g_poll(). */

static __thread GbridgeIOLoop *polling_loop;

#ifdef HAVE_EPOLL

static gint
loop_poll (GPollFD *ufds,
           guint    nfds,
           gint     timeout)
{
  GbridgeIOLoop *self = polling_loop;
  GPollFD *epoll_ufd = NULL;
  GPollFD *timer_ufd = NULL;
  GPollFD *wake_ufd = NULL;
  int own_fds[GBRIDGE_FD_SET_MAX_EVENTS];
  int n_own;
  int epoll_fd;
  int n;
  gint ready = 0;

  polling_loop = NULL;
  if (self == NULL || self->poll_broken || self->wake_fd >= 0)
    return g_poll (ufds, nfds, timeout);

  epoll_fd = self->fds.epoll_fd;
  if (epoll_fd < 0)
    return g_poll (ufds, nfds, timeout);
  for (guint i = 0; i < nfds; i++)
    {
      int fd = ufds[i].fd;

      if (fd == epoll_fd)
        epoll_ufd = &ufds[i];
      else if (fd == self->timer_fd)
        timer_ufd = &ufds[i];
      else if (wake_ufd == NULL &&
               (fd == self->context_wake_fd || self->context_wake_fd < 0))
        wake_ufd = &ufds[i];   /* GLib's, or the one candidate */
      else
        return g_poll (ufds, nfds, timeout);   /* another source's */
    }
  if (epoll_ufd == NULL || wake_ufd == NULL || wake_ufd->events != G_IO_IN ||
      (self->timer_fd >= 0 && timer_ufd == NULL))
    return g_poll (ufds, nfds, timeout);
  if (self->context_wake_fd < 0)
    {
      /* The array holds the epoll set, so GLib's wake-up descriptor, of a
       * priority no lower than the epoll set's; and that one other
       * descriptor only. */
      if (g_source_get_priority (self->source) < 0)
        return g_poll (ufds, nfds, timeout);
      self->context_wake_fd = wake_ufd->fd;
    }

  /* The loop's own descriptors, registered once per epoll set. */
  if (self->own_generation != self->fds.epoll_generation)
    {
      self->own_generation = self->fds.epoll_generation;
      self->own_wake_registered = FALSE;
      self->own_timer_fd = -1;
    }
  if (!self->own_wake_registered || self->own_timer_fd != self->timer_fd)
    {
      struct epoll_event ev = { 0, };

      ev.events = EPOLLIN;
      if (!self->own_wake_registered)
        {
          ev.data.u64 = GBRIDGE_FD_SET_OWN_TAG (self->context_wake_fd);
          if (epoll_ctl (epoll_fd, EPOLL_CTL_ADD, self->context_wake_fd, &ev) < 0)
            {
              self->poll_broken = TRUE;
              return g_poll (ufds, nfds, timeout);
            }
          self->own_wake_registered = TRUE;
        }
      if (self->own_timer_fd != self->timer_fd)
        {
          /* Its number may name another file by now: nothing to do if so. */
          if (self->own_timer_fd >= 0)
            epoll_ctl (epoll_fd, EPOLL_CTL_DEL, self->own_timer_fd, NULL);
          self->own_timer_fd = -1;
          ev.data.u64 = GBRIDGE_FD_SET_OWN_TAG (self->timer_fd);
          if (epoll_ctl (epoll_fd, EPOLL_CTL_ADD, self->timer_fd, &ev) < 0)
            {
              self->poll_broken = TRUE;
              return g_poll (ufds, nfds, timeout);
            }
          self->own_timer_fd = self->timer_fd;
        }
    }

  for (guint i = 0; i < nfds; i++)
    ufds[i].revents = 0;
  n = _gbridge_fd_set_wait (&self->fds, timeout, own_fds, &n_own);
  if (n < 0)
    return -1;   /* errno from epoll_wait(): EINTR, as poll() */

  self->single_wait = TRUE;
  if (n > 0)
    {
      epoll_ufd->revents = G_IO_IN;
      ready++;
    }
  for (int i = 0; i < n_own; i++)
    {
      if (own_fds[i] == self->context_wake_fd)
        {
          wake_ufd->revents = G_IO_IN;
          ready++;
        }
      else if (timer_ufd != NULL && own_fds[i] == self->timer_fd)
        {
          timer_ufd->revents = G_IO_IN;
          ready++;
        }
    }
  return ready;
}

#endif

/* When the loop is made, before its source is attached: takes the
 * context's poll function if it is GLib's own. On a context the loop just
 * made (@made), which nothing else can own yet, the one descriptor GLib
 * polls is its wake-up descriptor. A context the loop was given is not
 * acquired to ask: another thread that acquires it meanwhile
 * (gbridge_io_loop_start(), g_main_context_iteration()) would find it
 * busy. The poll function learns the number instead. */
void
_gbridge_io_loop_poll_init (GbridgeIOLoop *self,
                            gboolean       made)
{
  self->context_wake_fd = -1;
  self->own_timer_fd = -1;
#ifdef HAVE_EPOLL
  if (g_main_context_get_poll_func (self->context) != g_poll)
    return;   /* the application's, or another loop's */
  if (made && g_main_context_acquire (self->context))
    {
      GPollFD fds[2];
      gint timeout;
      gint n;

      n = g_main_context_query (self->context, G_MAXINT, &timeout, fds, G_N_ELEMENTS (fds));
      g_main_context_release (self->context);
      if (n == 1)
        self->context_wake_fd = fds[0].fd;
    }
  self->owns_poll = TRUE;
  g_main_context_set_poll_func (self->context, loop_poll);
#endif
}

/* From the loop's prepare: names the loop for this iteration's poll. */
void
_gbridge_io_loop_poll_prepare (GbridgeIOLoop *self)
{
  self->single_wait = FALSE;
  _gbridge_fd_set_drop_stash (&self->fds);
  polling_loop = self;
}

/* From the loop's check: GLib may skip the poll (nothing to poll, no
 * time to wait); the name must not outlive the iteration. */
void
_gbridge_io_loop_poll_check (GbridgeIOLoop *self)
{
  if (polling_loop == self)
    polling_loop = NULL;
}

/* When the loop closes: the context may outlive it. */
void
_gbridge_io_loop_poll_fini (GbridgeIOLoop *self)
{
  if (polling_loop == self)
    polling_loop = NULL;
#ifdef HAVE_EPOLL
  if (self->owns_poll && g_main_context_get_poll_func (self->context) == loop_poll)
    g_main_context_set_poll_func (self->context, g_poll);
#endif
  self->owns_poll = FALSE;
}
