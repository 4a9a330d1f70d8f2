/* gbridge-fd-set.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-fd-set-private.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib-unix.h>

#ifdef HAVE_EPOLL
# include <sys/epoll.h>
#endif

#define ALL_EVENTS (GBRIDGE_IO_EVENTS_READ | GBRIDGE_IO_EVENTS_WRITE | GBRIDGE_IO_EVENTS_ERROR)

void
_gbridge_handler_unref (GbridgeHandler *h)
{
  if (--h->ref_count == 0)
    {
      if (h->destroy != NULL)
        h->destroy (h->user_data);
      g_free (h);
    }
}

static GbridgeHandler *
lookup (GbridgeFdSet *fs,
        int           fd)
{
  /* No handlers array: cleared by _gbridge_fd_set_clear(). */
  if (fs->handlers == NULL || fd < 0 || (guint) fd >= fs->handlers->len)
    return NULL;
  return g_ptr_array_index (fs->handlers, fd);
}

static GIOCondition
events_to_condition (GbridgeIOEvents events)
{
  GIOCondition cond = G_IO_ERR | G_IO_HUP;

  if (events & GBRIDGE_IO_EVENTS_READ)
    cond |= G_IO_IN | G_IO_PRI;
  if (events & GBRIDGE_IO_EVENTS_WRITE)
    cond |= G_IO_OUT;
  return cond;
}

static guint
condition_to_events (GIOCondition cond)
{
  guint events = 0;

  if (cond & (G_IO_IN | G_IO_PRI))
    events |= GBRIDGE_IO_EVENTS_READ;
  if (cond & G_IO_OUT)
    events |= GBRIDGE_IO_EVENTS_WRITE;
  if (cond & (G_IO_ERR | G_IO_HUP | G_IO_NVAL))
    events |= GBRIDGE_IO_EVENTS_ERROR;
  return events;
}

#ifdef HAVE_EPOLL
static guint32
events_to_epoll (GbridgeIOEvents events)
{
  guint32 ev = EPOLLERR | EPOLLHUP;

  if (events & GBRIDGE_IO_EVENTS_READ)
    ev |= EPOLLIN | EPOLLPRI;
  if (events & GBRIDGE_IO_EVENTS_WRITE)
    ev |= EPOLLOUT;
  return ev;
}

static guint
epoll_to_events (guint32 ev)
{
  guint events = 0;

  if (ev & (EPOLLIN | EPOLLPRI))
    events |= GBRIDGE_IO_EVENTS_READ;
  if (ev & EPOLLOUT)
    events |= GBRIDGE_IO_EVENTS_WRITE;
  if (ev & (EPOLLERR | EPOLLHUP))
    events |= GBRIDGE_IO_EVENTS_ERROR;
  return events;
}

static struct epoll_event
epoll_event_for (GbridgeHandler *h)
{
  struct epoll_event ev = { 0, };

  ev.events = events_to_epoll (h->events);
  /* The serial tells an event of an orphaned registration (an earlier
   * handler's, or this one's once its number named another file) from a
   * live one: see collect_epoll(). */
  ev.data.u64 = ((guint64) h->serial << 32) | (guint32) h->fd;
  return ev;
}

/* Returns 0 or an errno. */
static int
epoll_register (GbridgeFdSet   *fs,
                GbridgeHandler *h,
                int             op)
{
  struct epoll_event ev = epoll_event_for (h);

  if (fs->epoll_fd < 0)
    {
      fs->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
      if (fs->epoll_fd < 0)
        return errno;
      fs->epoll_tag = g_source_add_unix_fd (fs->source, fs->epoll_fd, G_IO_IN);
      fs->epoll_generation++;
    }

  if (epoll_ctl (fs->epoll_fd, op, h->fd, &ev) < 0)
    return errno;
  return 0;
}

/* Whether @h's number still names the file it was registered with. epoll
 * finds a registration by file and number: EPOLL_CTL_MOD to the same
 * events and data changes nothing when it does, and fails (ENOENT, EBADF,
 * EPERM) when the number was closed or now names another file. */
static gboolean
epoll_still_same_file (int             epoll_fd,
                       GbridgeHandler *h)
{
  struct epoll_event ev = epoll_event_for (h);

  return epoll_ctl (epoll_fd, EPOLL_CTL_MOD, h->fd, &ev) == 0 || errno == ENOMEM;
}

/* Replaces the epoll set with a new one holding the registrations of the
 * live handlers only: the one way to drop an orphaned registration, which
 * EPOLL_CTL_DEL cannot reach once its number is closed or names another
 * file (libuv re-creates its epoll set the same way after fork()). A
 * handler whose number no longer names its file (@probe_old asks the old
 * set) is not registered again: it stops being reported, as a descriptor
 * whose file was closed does. Rare, so O(handlers) is fine. Without
 * @probe_old (after fork(), where the old set is the parent's and must not
 * be touched), every number is registered as it stands.
 *
 * Returns 0 or, if no new epoll set could be created, an errno. */
static int
rebuild_epoll (GbridgeFdSet *fs,
               gboolean      probe_old)
{
  int old_fd = fs->epoll_fd;
  int new_fd;
  int err = 0;

  fs->rebuild = FALSE;
  new_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (new_fd < 0)
    {
      err = errno;
      /* Out of descriptors: keep the old set, and try again when the
       * orphan next reports. After fork() the old set is the parent's:
       * give it up whatever the cost. */
      if (probe_old)
        return err;
    }

  for (guint i = 0; i < fs->handlers->len; i++)
    {
      GbridgeHandler *h = g_ptr_array_index (fs->handlers, i);
      struct epoll_event ev;

      if (h == NULL || !h->in_epoll)
        continue;
      ev = epoll_event_for (h);
      if ((probe_old && !epoll_still_same_file (old_fd, h)) ||
          new_fd < 0 ||
          epoll_ctl (new_fd, EPOLL_CTL_ADD, h->fd, &ev) < 0)
        h->in_epoll = FALSE;   /* no longer reported */
    }

  if (fs->epoll_tag != NULL)
    g_source_remove_unix_fd (fs->source, fs->epoll_tag);
  fs->epoll_tag = NULL;
  if (old_fd >= 0)
    close (old_fd);   /* after fork(): only this process's reference */
  fs->epoll_fd = new_fd;
  fs->epoll_generation++;
  fs->stash_valid = FALSE;
  if (new_fd >= 0)
    fs->epoll_tag = g_source_add_unix_fd (fs->source, new_fd, G_IO_IN);
  return err;
}
#endif

static void
detach (GbridgeFdSet   *fs,
        GbridgeHandler *h)
{
  if (h->tag != NULL)
    {
      g_source_remove_unix_fd (fs->source, h->tag);
      h->tag = NULL;
      g_ptr_array_remove_fast (fs->polled, h);
      if (h->keep_fd >= 0)
        close (h->keep_fd);
      h->keep_fd = -1;
    }
#ifdef HAVE_EPOLL
  else if (h->in_epoll)
    {
      /* Fails when the number was closed (or names another file): either
       * the kernel dropped the registration with the file, or the file is
       * still open elsewhere and the registration is orphaned. An orphan
       * that reports is dropped then, by rebuild_epoll(). */
      epoll_ctl (fs->epoll_fd, EPOLL_CTL_DEL, h->fd, NULL);
      h->in_epoll = FALSE;
    }
#endif
}

void
_gbridge_fd_set_init (GbridgeFdSet *fs,
                      GSource      *source)
{
  fs->source = source;
  fs->handlers = g_ptr_array_new ();
  fs->polled = g_ptr_array_new ();
  fs->next_serial = 0;
  fs->epoll_fd = -1;
  fs->epoll_tag = NULL;
  fs->rebuild = FALSE;
  fs->epoll_generation = 0;
  fs->stash_valid = FALSE;
  fs->n_stash = 0;
  fs->stash = NULL;
}

/* After _gbridge_fd_set_steal_all(): frees what is left. */
void
_gbridge_fd_set_clear (GbridgeFdSet *fs)
{
  g_clear_pointer (&fs->handlers, g_ptr_array_unref);
  g_clear_pointer (&fs->polled, g_ptr_array_unref);
  if (fs->epoll_fd >= 0)
    close (fs->epoll_fd);
  fs->epoll_fd = -1;
  fs->epoll_tag = NULL;
  fs->source = NULL;
  fs->epoll_generation++;
  fs->stash_valid = FALSE;
  g_clear_pointer (&fs->stash, g_free);
}

/* A duplicate of @fd that keeps its file open, on a number above the ones
 * applications are given (the lowest free ones): a duplicate on a low
 * number could itself take a number closed under another handler, which
 * would then find its file still there. Falls back to lower numbers when
 * the limit on descriptors leaves no room up there. */
static int
keep_file_open (int fd)
{
  struct rlimit rl;
  int floor = 1024;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      rl.rlim_cur / 2 < (rlim_t) floor)
    floor = (int) (rl.rlim_cur / 2);
  for (; floor >= 3; floor /= 2)
    {
      int kept = fcntl (fd, F_DUPFD_CLOEXEC, floor);

      if (kept >= 0 || (errno != EINVAL && errno != EMFILE))
        return kept;
    }
  return fcntl (fd, F_DUPFD_CLOEXEC, 3);
}

/* On failure, nothing is kept: @destroy is the caller's to call. */
gboolean
_gbridge_fd_set_add (GbridgeFdSet     *fs,
                     int               fd,
                     GbridgeIOEvents   events,
                     gboolean          unchecked,
                     GbridgeIOFunc     func,
                     gpointer          user_data,
                     GDestroyNotify    destroy,
                     GError          **error)
{
  GbridgeHandler *h;

  if (lookup (fs, fd) != NULL)
    {
      g_set_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_EXISTS,
                   _("File descriptor %d already has a handler"), fd);
      return FALSE;
    }

  if (fcntl (fd, F_GETFD) < 0)
    {
      g_set_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_BAD_FD,
                   _("File descriptor %d is not open"), fd);
      return FALSE;
    }

  h = g_new0 (GbridgeHandler, 1);
  h->fd = fd;
  h->events = events & ALL_EVENTS;
  h->func = func;
  h->user_data = user_data;
  h->destroy = destroy;
  h->ref_count = 1;
  h->unchecked = unchecked != FALSE;
  /* Serial 0 tags the loop's own descriptors. */
  if (++fs->next_serial == 0)
    ++fs->next_serial;
  h->serial = fs->next_serial;
  h->keep_fd = -1;

#ifdef HAVE_EPOLL
  /* Always epoll, even for one fd: the nested epoll_wait() costs about as
   * much as GLib's own per-fd bookkeeping, and watching some fds directly
   * made poll() pay for every idle one among them (bench/RESULTS.md). */
  {
    int err = epoll_register (fs, h, EPOLL_CTL_ADD);

    /* EEXIST: the set still holds this file under this number from an
     * earlier handler, removed after its number was closed while the file
     * stayed open elsewhere, and the number now names that file again (a
     * dup() back onto it). No live handler has the number, so the
     * registration is an orphan: take it over. */
    if (err == EEXIST)
      err = epoll_register (fs, h, EPOLL_CTL_MOD);
    if (err == 0)
      h->in_epoll = TRUE;
    else if (err != EPERM)
      {
        g_free (h);
        g_set_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_FAILED,
                     _("Cannot watch file descriptor %d: %s"), fd, g_strerror (err));
        return FALSE;
      }
    /* EPERM: a regular file or a directory, which epoll refuses and
     * poll() reports as always ready: watch it with poll(). */
  }
#endif

  if (!h->in_epoll)
    {
      struct stat st;

      /* poll() goes by number: remember the file, to tell it from a new
       * one that reuses the number (_gbridge_fd_set_verify()). Its
       * inode number identifies it only while it exists: a duplicate keeps
       * it open, at the cost of one descriptor per such handler (regular
       * files and the like, which are rarely watched: they are always
       * ready). */
      h->keep_fd = keep_file_open (fd);
      if (fstat (fd, &st) == 0)
        {
          h->dev = st.st_dev;
          h->ino = st.st_ino;
        }
      h->tag = g_source_add_unix_fd (fs->source, fd, events_to_condition (h->events));
      g_ptr_array_add (fs->polled, h);
    }

  if ((guint) fd >= fs->handlers->len)
    g_ptr_array_set_size (fs->handlers, fd + 1);
  g_ptr_array_index (fs->handlers, fd) = h;

  return TRUE;
}

gboolean
_gbridge_fd_set_update (GbridgeFdSet     *fs,
                        int               fd,
                        GbridgeIOEvents   events,
                        GError          **error)
{
  GbridgeHandler *h = lookup (fs, fd);

  if (h == NULL)
    {
      g_set_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_NOT_FOUND,
                   _("File descriptor %d has no handler"), fd);
      return FALSE;
    }

  h->events = events & ALL_EVENTS;
  if (h->tag != NULL)
    g_source_modify_unix_fd (fs->source, h->tag, events_to_condition (h->events));
#ifdef HAVE_EPOLL
  else if (h->in_epoll)
    {
      int err = epoll_register (fs, h, EPOLL_CTL_MOD);

      if (err != 0)
        {
          g_set_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_FAILED,
                       _("Cannot watch file descriptor %d: %s"), fd, g_strerror (err));
          return FALSE;
        }
    }
#endif

  return TRUE;
}

/* Stops watching @fd; returns its handler, marked removed, for the caller to
 * unref, or NULL if @fd had none. */
GbridgeHandler *
_gbridge_fd_set_remove (GbridgeFdSet *fs,
                        int           fd)
{
  GbridgeHandler *h = lookup (fs, fd);

  if (h == NULL)
    return NULL;

  detach (fs, h);
  g_ptr_array_index (fs->handlers, fd) = NULL;
  h->removed = TRUE;
  return h;
}

gboolean
_gbridge_fd_set_check (GbridgeFdSet *fs)
{
  if (fs->epoll_tag != NULL && g_source_query_unix_fd (fs->source, fs->epoll_tag) != 0)
    return TRUE;
  for (guint i = 0; i < fs->polled->len; i++)
    {
      GbridgeHandler *h = g_ptr_array_index (fs->polled, i);

      if (g_source_query_unix_fd (fs->source, h->tag) != 0)
        return TRUE;
    }
  return FALSE;
}

static void
push_ready (GArray         *ready,
            GbridgeHandler *h,
            guint           events)
{
  GbridgeReadyFd r = { h, events };

  h->ref_count++;
  g_array_append_val (ready, r);
}

#ifdef HAVE_EPOLL
static void
take_events (GbridgeFdSet       *fs,
             struct epoll_event *events,
             int                 n,
             GArray             *ready)
{
  for (int i = 0; i < n; i++)
    {
      int fd = (int) (guint32) events[i].data.u64;
      guint32 serial = (guint32) (events[i].data.u64 >> 32);
      GbridgeHandler *h;

      /* One of the loop's own descriptors: the poll function's business. */
      if (serial == 0)
        continue;
      h = lookup (fs, fd);
      if (h != NULL && h->in_epoll && h->serial == serial)
        push_ready (ready, h, epoll_to_events (events[i].events));
      else
        /* An orphaned registration: its handler is gone, or its number
         * now names another file, while the old file is still open
         * elsewhere (dup(), fork(), SCM_RIGHTS). EPOLL_CTL_DEL by number
         * cannot reach it, and level-triggered it would wake us forever. */
        fs->rebuild = TRUE;
    }

  if (fs->rebuild)
    rebuild_epoll (fs, TRUE);
}

static void
collect_epoll (GbridgeFdSet *fs,
               GArray       *ready)
{
  struct epoll_event events[GBRIDGE_FD_SET_MAX_EVENTS];
  int n;

  do
    n = epoll_wait (fs->epoll_fd, events, G_N_ELEMENTS (events), 0);
  while (n < 0 && errno == EINTR);

  take_events (fs, events, n, ready);
}
#endif

/* The wait of a GLib iteration, when the context's poll function is the
 * loop's (gbridge-io-loop-poll.c): one epoll_wait() on the set, which
 * holds the handlers and the loop's own descriptors. Stores the numbers of
 * the loop's own descriptors that are ready in @own_fds (room for
 * GBRIDGE_FD_SET_MAX_EVENTS), their count in *@n_own, and keeps the
 * handlers' events for the next collect. Returns the number of handler
 * events, or -1 with errno set. */
int
_gbridge_fd_set_wait (GbridgeFdSet *fs,
                      int           timeout,
                      int          *own_fds,
                      int          *n_own)
{
#ifdef HAVE_EPOLL
  struct epoll_event *events;
  int n;
  int kept = 0;

  *n_own = 0;
  fs->stash_valid = FALSE;
  if (fs->stash == NULL)
    fs->stash = g_new (struct epoll_event, GBRIDGE_FD_SET_MAX_EVENTS);
  events = fs->stash;
  n = epoll_wait (fs->epoll_fd, events, GBRIDGE_FD_SET_MAX_EVENTS, timeout);
  if (n < 0)
    return -1;
  for (int i = 0; i < n; i++)
    {
      if ((guint32) (events[i].data.u64 >> 32) == 0)
        own_fds[(*n_own)++] = (int) (guint32) events[i].data.u64;
      else
        events[kept++] = events[i];
    }
  fs->n_stash = kept;
  fs->stash_valid = TRUE;
  return kept;
#else
  errno = ENOSYS;
  return -1;
#endif
}

void
_gbridge_fd_set_drop_stash (GbridgeFdSet *fs)
{
  fs->stash_valid = FALSE;
}

/* Appends the handlers whose fds are ready, with a reference each. */
void
_gbridge_fd_set_collect (GbridgeFdSet *fs,
                         GArray       *ready)
{
  for (guint i = 0; i < fs->polled->len; i++)
    {
      GbridgeHandler *h = g_ptr_array_index (fs->polled, i);
      GIOCondition cond = g_source_query_unix_fd (fs->source, h->tag);

      if (cond == 0)
        continue;
      /* Closed behind our back: report it once, then the loop removes the
       * handler so that poll() does not spin on it. */
      if (cond & G_IO_NVAL)
        h->nval = TRUE;
      push_ready (ready, h, condition_to_events (cond));
    }

#ifdef HAVE_EPOLL
  if (fs->stash_valid)
    {
      /* The poll function already asked epoll in this iteration. */
      fs->stash_valid = FALSE;
      take_events (fs, fs->stash, fs->n_stash, ready);
    }
  else if (fs->epoll_tag != NULL && g_source_query_unix_fd (fs->source, fs->epoll_tag) != 0)
    collect_epoll (fs, ready);
#endif
}

/* Appends the handlers in the epoll set whose fds are ready now, asking
 * epoll rather than GLib's last poll (which only saw the epoll fd). Those
 * GLib polls itself, it cannot tell about until its next poll. */
void
_gbridge_fd_set_collect_now (GbridgeFdSet *fs,
                             GArray       *ready)
{
#ifdef HAVE_EPOLL
  fs->stash_valid = FALSE;
  if (fs->epoll_tag != NULL)
    collect_epoll (fs, ready);
#endif
}

/* Detaches every handler and returns them, marked removed, for the caller to
 * unref. */
GPtrArray *
_gbridge_fd_set_steal_all (GbridgeFdSet *fs)
{
  GPtrArray *stolen = g_ptr_array_new ();

  for (guint i = 0; i < fs->handlers->len; i++)
    {
      GbridgeHandler *h = g_ptr_array_index (fs->handlers, i);

      if (h == NULL)
        continue;
      detach (fs, h);
      h->removed = TRUE;
      g_ptr_array_index (fs->handlers, i) = NULL;
      g_ptr_array_add (stolen, h);
    }
  return stolen;
}

/* Whether @h may be called: its number still names the file it was
 * registered with. Asked right before each call, since any code (another
 * handler of the same iteration, too) may have closed the number and
 * opened a new file on it. When not: a handler watched with poll() is
 * marked nval (reported once as ERROR, then removed, as for a number
 * poll() finds closed); one in the epoll set stops being reported, and
 * its orphaned registration is dropped by the next collect. */
gboolean
_gbridge_fd_set_verify (GbridgeFdSet   *fs,
                        GbridgeHandler *h)
{
  if (h->tag != NULL)
    {
      struct stat st;

      if (!h->nval &&
          fstat (h->fd, &st) == 0 && st.st_dev == h->dev && st.st_ino == h->ino)
        return TRUE;
      h->nval = TRUE;
      return FALSE;
    }
#ifdef HAVE_EPOLL
  if (h->in_epoll)
    {
      /* The caller promised to remove the handler before closing. */
      if (h->unchecked)
        return TRUE;
      if (epoll_still_same_file (fs->epoll_fd, h))
        return TRUE;
      h->in_epoll = FALSE;   /* no longer reported */
      fs->rebuild = TRUE;
    }
#endif
  return FALSE;
}

/* In the child of a fork(): the epoll set is shared with the parent, and
 * every change the child made to it would change the parent's
 * registrations. Gives it up (closing only the child's reference) for a
 * new one, with the live handlers registered again. Handlers watched with
 * poll() need nothing: GLib polls them by number, in this process.
 *
 * Returns FALSE, with *@errsv set, if no new epoll set could be created;
 * the handlers that were in the old one are then no longer reported. */
gboolean
_gbridge_fd_set_after_fork (GbridgeFdSet *fs,
                            int          *errsv)
{
#ifdef HAVE_EPOLL
  if (fs->handlers != NULL && fs->epoll_fd >= 0)
    {
      int err = rebuild_epoll (fs, FALSE);

      if (err != 0)
        {
          *errsv = err;
          return FALSE;
        }
    }
#endif
  return TRUE;
}
