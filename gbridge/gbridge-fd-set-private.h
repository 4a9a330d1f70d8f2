/* gbridge-fd-set-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-io-loop.h"

#include <sys/types.h>

G_BEGIN_DECLS

/* The file descriptors of one loop. On Linux they all live in one epoll
 * set, itself one pollfd of the loop's GSource, so an iteration costs
 * O(ready fds). What epoll refuses (regular files), and every fd where there
 * is no epoll, is watched with poll() through g_source_add_unix_fd().
 *
 * epoll keys a registration on the open file and the number together, and
 * drops it only when the file itself is released: a number closed while
 * its file stays open elsewhere (dup(), fork(), SCM_RIGHTS) leaves behind a
 * registration that keeps reporting the old file, that EPOLL_CTL_DEL by
 * number can no longer reach, and whose number may meanwhile name a new
 * file. Hence: every registration carries its handler's serial, so an event
 * of an orphaned registration is told from a live one; a handler is only
 * called while its number still names the file it was registered with
 * (_gbridge_fd_set_verify()); and orphans are dropped by re-creating the
 * epoll set from the live handlers (rebuild_epoll()). */

typedef struct
{
  int              fd;
  GbridgeIOEvents  events;
  GbridgeIOFunc    func;
  gpointer         user_data;
  GDestroyNotify   destroy;
  gpointer         tag;        /* watched with poll(), or NULL */
  guint32          serial;     /* tells this handler from an earlier one on the same fd */
  guint            ref_count;
  guint            last_collect;   /* the loop's last collect that found it ready */
  /* For a handler watched with poll(): its file, and a duplicate that keeps
   * it open so that no other file can get its inode number meanwhile. */
  dev_t            dev;
  ino_t            ino;
  int              keep_fd;
  guint            removed : 1;
  guint            nval : 1;   /* poll() found the fd closed, or its number reused */
  guint            in_epoll : 1;
  guint            unchecked : 1;   /* GBRIDGE_HANDLER_FLAGS_UNCHECKED */
} GbridgeHandler;

typedef struct
{
  GbridgeHandler *handler;  /* a reference */
  guint           events;
} GbridgeReadyFd;

typedef struct
{
  GSource   *source;
  GPtrArray *handlers;      /* indexed by fd */
  GPtrArray *polled;        /* the handlers watched with poll() */
  guint32    next_serial;
  int        epoll_fd;
  gpointer   epoll_tag;
  gboolean   rebuild;       /* the epoll set holds an orphaned registration */
  /* Bumped whenever epoll_fd names a new epoll set, which holds none of
   * the loop's own registrations of serial 0 (gbridge-io-loop-poll.c). */
  guint      epoll_generation;
  /* Events of handlers that the context's poll function took from the
   * epoll set in this GLib iteration, for the next collect to use instead
   * of asking epoll again: valid while stash_valid. */
  gboolean   stash_valid;
  int        n_stash;
  gpointer   stash;         /* struct epoll_event[GBRIDGE_FD_SET_MAX_EVENTS] */
} GbridgeFdSet;

/* The most events one epoll_wait() takes. */
#define GBRIDGE_FD_SET_MAX_EVENTS 256

/* The registration data of a descriptor of the loop's own that shares the
 * epoll set with the handlers (the timerfd, the context's wake-up
 * descriptor): serial 0, which no handler has. */
#define GBRIDGE_FD_SET_OWN_TAG(fd) ((guint64) (guint32) (fd))

void            _gbridge_fd_set_init      (GbridgeFdSet     *fs,
                                           GSource          *source);
void            _gbridge_fd_set_clear     (GbridgeFdSet     *fs);
gboolean        _gbridge_fd_set_add       (GbridgeFdSet     *fs,
                                           int               fd,
                                           GbridgeIOEvents   events,
                                           gboolean          unchecked,
                                           GbridgeIOFunc     func,
                                           gpointer          user_data,
                                           GDestroyNotify    destroy,
                                           GError          **error);
gboolean        _gbridge_fd_set_update    (GbridgeFdSet     *fs,
                                           int               fd,
                                           GbridgeIOEvents   events,
                                           GError          **error);
GbridgeHandler *_gbridge_fd_set_remove    (GbridgeFdSet     *fs,
                                           int               fd);
gboolean        _gbridge_fd_set_check     (GbridgeFdSet     *fs);
void            _gbridge_fd_set_collect   (GbridgeFdSet     *fs,
                                           GArray           *ready);
void            _gbridge_fd_set_collect_now (GbridgeFdSet   *fs,
                                           GArray         *ready);
GPtrArray      *_gbridge_fd_set_steal_all (GbridgeFdSet     *fs);
gboolean        _gbridge_fd_set_verify    (GbridgeFdSet     *fs,
                                           GbridgeHandler   *h);
gboolean        _gbridge_fd_set_after_fork (GbridgeFdSet    *fs,
                                           int              *errsv);
void            _gbridge_handler_unref    (GbridgeHandler   *h);
int             _gbridge_fd_set_wait      (GbridgeFdSet     *fs,
                                           int               timeout,
                                           int              *own_fds,
                                           int              *n_own);
void            _gbridge_fd_set_drop_stash (GbridgeFdSet    *fs);

G_END_DECLS
