/* test-hostile.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GbridgeIOLoop under hostile use: calls into a closed loop, descriptors
 * closed while registered and their numbers handed out again while the old
 * file stays open elsewhere (dup(), fork()), and children of fork() that
 * close, drop or go on using the loop they inherited.
 */

#include "config.h"

#include <gbridge/gbridge.h>

#include "gbridge-test.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

typedef struct
{
  GbridgeIOLoop *loop;
  GMainContext  *context;
  GString       *log;
  guint          destroyed;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->loop = gbridge_io_loop_new ();
  f->context = gbridge_io_loop_get_context (f->loop);
  f->log = g_string_new (NULL);
  f->destroyed = 0;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_finalize_object (f->loop);
  g_string_free (f->log, TRUE);
}

/* For the tests that drop the loop's last reference themselves. */
static void
unref_teardown (Fixture       *f,
                gconstpointer  data)
{
  g_assert_null (f->loop);
  g_string_free (f->log, TRUE);
}

#define TEST(path, func) \
  g_test_add ("/Gbridge/IOLoop/hostile/" path, Fixture, NULL, fixture_setup, func, \
              fixture_teardown)

static int
make_regular_file (const char *contents)
{
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("gbridge-hostile-XXXXXX", &path, NULL);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, contents, strlen (contents)), ==, (gssize) strlen (contents));
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  g_unlink (path);
  return fd;
}

static void
count_destroy (gpointer data)
{
  Fixture *f = data;

  f->destroyed++;
}

/* Logs the events and, for READ, what it could read from @fd. */
static void
logging_handler (int             fd,
                 GbridgeIOEvents events,
                 gpointer        data)
{
  Fixture *f = data;
  char buf[16];
  gssize n;

  if (events & GBRIDGE_IO_EVENTS_ERROR)
    g_string_append (f->log, "E");
  if (events & GBRIDGE_IO_EVENTS_READ)
    {
      n = read (fd, buf, sizeof buf);
      g_string_append_printf (f->log, "R(%.*s)", (int) MAX (n, 0), buf);
    }
}

/* How many GLib iterations of the context dispatch something in about
 * @msec milliseconds: a handful when idle, tens of thousands when a
 * registration keeps waking the loop with nothing to report. */
static guint
count_busy_iterations (GMainContext *context,
                       guint         msec)
{
  gint64 end = g_get_monotonic_time () + msec * 1000;
  guint busy = 0;

  while (g_get_monotonic_time () < end)
    if (g_main_context_iteration (context, FALSE))
      busy++;
  return busy;
}

static void
run_pending (Fixture *f)
{
  for (guint i = 0; i < 100 && g_main_context_iteration (f->context, FALSE); i++)
    ;
}

/* 1. Calls into a closed loop */

typedef struct
{
  Fixture *f;
  int      fd;
  gboolean removed;
  gboolean updated;
  GError  *update_error;
} Reentry;

static void
nothing_handler (int             fd,
                 GbridgeIOEvents events,
                 gpointer        data)
{
}

/* A destroy-notify run by close or finalize that removes or updates its
 * own handler, as bindings and the c-ares resolver do. */
static void
reentry_destroy (gpointer data)
{
  Reentry *r = data;

  r->removed = gbridge_io_loop_remove_handler (r->f->loop, r->fd);
  r->updated = gbridge_io_loop_update_handler (r->f->loop, r->fd, GBRIDGE_IO_EVENTS_WRITE,
                                               &r->update_error);
  r->f->destroyed++;
}

static void
test_closed_remove_update (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  Reentry r = { f, -1, TRUE, TRUE, NULL };
  int fds[2];

  gbridge_test_make_pipe (fds);
  r.fd = fds[0];
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              nothing_handler, &r, reentry_destroy, NULL));
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_assert_cmpuint (f->destroyed, ==, 1);
  g_assert_false (r.removed);
  g_assert_false (r.updated);
  g_assert_error (r.update_error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_CLOSED);
  g_clear_error (&r.update_error);

  /* And from outside, after the close. */
  g_assert_false (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_assert_false (gbridge_io_loop_remove_handler (f->loop, 12345));
  g_assert_false (gbridge_io_loop_update_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                                  &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_CLOSED);
  gbridge_test_close_pipe (fds);
}

static void
test_finalize_remove_update (Fixture       *f,
                             gconstpointer  data)
{
  Reentry r = { f, -1, TRUE, TRUE, NULL };
  int fds[2];

  gbridge_test_make_pipe (fds);
  r.fd = fds[0];
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              nothing_handler, &r, reentry_destroy, NULL));
  /* The destroy-notify runs from dispose, while the loop is being
   * finalized; the fixture's teardown finalizes it. */
  g_object_run_dispose (G_OBJECT (f->loop));
  g_assert_cmpuint (f->destroyed, ==, 1);
  g_assert_false (r.removed);
  g_assert_false (r.updated);
  g_assert_error (r.update_error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_CLOSED);
  g_clear_error (&r.update_error);
  gbridge_test_close_pipe (fds);
}

/* 2. A closed number reused while the old file stays open */

/* Watches a new pipe's read end (old[0]) with logging_handler, keeps its
 * file open through a dup() (returned) and closes the number. */
static int
watch_pipe_then_close_number (Fixture *f,
                              int      old[2])
{
  int keep;

  gbridge_test_make_pipe (old);
  g_assert_true (gbridge_io_loop_add_handler (f->loop, old[0], GBRIDGE_IO_EVENTS_READ,
                                              logging_handler, f, count_destroy, NULL));
  keep = dup (old[0]);
  g_assert_cmpint (keep, >=, 0);
  close (old[0]);
  return keep;
}

/* A new socket pair, whose first end takes the lowest free number,
 * @number. */
static void
socketpair_on (int number,
               int sv[2])
{
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv),
                   ==, 0);
  g_assert_cmpint (sv[0], ==, number);
}

/* Handler on a pipe; the pipe's read end kept open through a dup(); the
 * number closed and handed to a new socket. Both files have data. */
static void
test_dup_closed_number_reused (Fixture       *f,
                               gconstpointer  data)
{
  int old[2];
  int sv[2];
  int keep = watch_pipe_then_close_number (f, old);
  int number = old[0];

  socketpair_on (number, sv);
  g_assert_cmpint (write (old[1], "old", 3), ==, 3);
  g_assert_cmpint (write (sv[1], "new", 3), ==, 3);

  /* The old handler never hears of the new socket, and is not called for
   * the old file under a number that now names another one. */
  run_pending (f);
  g_assert_cmpstr (f->log->str, ==, "");
  g_assert_cmpuint (count_busy_iterations (f->context, 50), <, 50);

  g_assert_true (gbridge_io_loop_remove_handler (f->loop, number));
  g_assert_cmpuint (f->destroyed, ==, 1);
  /* The old file is still open and readable: the loop must not spin on
   * a registration it can no longer delete by number. */
  g_assert_cmpuint (count_busy_iterations (f->context, 50), <, 50);

  /* The number is free for the new socket, which sees only its own data. */
  g_assert_true (gbridge_io_loop_add_handler (f->loop, number, GBRIDGE_IO_EVENTS_READ,
                                              logging_handler, f, count_destroy, NULL));
  run_pending (f);
  g_assert_cmpstr (f->log->str, ==, "R(new)");
  g_assert_cmpuint (count_busy_iterations (f->context, 50), <, 50);
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, number));
  g_assert_cmpuint (f->destroyed, ==, 2);

  close (keep);
  close (old[1]);
  gbridge_test_close_pipe (sv);
}

/* GBRIDGE_HANDLER_FLAGS_UNCHECKED: the same misuse as above, without the
 * per-call check the flag leaves out. The old file's readiness reaches the
 * old handler under a number that now names the new socket: what the flag
 * documents, and what libuv and asyncio's selector loops do. */
static void
test_unchecked_closed_number_reused (Fixture       *f,
                                     gconstpointer  data)
{
  int old[2];
  int sv[2];
  int keep;
  int number;

  gbridge_test_make_pipe (old);
  number = old[0];
  g_assert_true (gbridge_io_loop_add_handler_full (f->loop, old[0], GBRIDGE_IO_EVENTS_READ,
                                                   GBRIDGE_HANDLER_FLAGS_UNCHECKED,
                                                   logging_handler, f, count_destroy, NULL));
  /* Used as promised, it is an ordinary handler. */
  g_assert_cmpint (write (old[1], "one", 3), ==, 3);
  run_pending (f);
  g_assert_cmpstr (f->log->str, ==, "R(one)");
  g_string_truncate (f->log, 0);

  keep = dup (old[0]);
  g_assert_cmpint (keep, >=, 0);
  close (old[0]);
  socketpair_on (number, sv);
  g_assert_cmpint (write (old[1], "old", 3), ==, 3);
  g_assert_cmpint (write (sv[1], "new", 3), ==, 3);
  run_pending (f);
  /* logging_handler reads by number: the new socket's data (and then
   * nothing, again and again: the old file stays readable). */
  g_assert_true (g_str_has_prefix (f->log->str, "R(new)"));

  g_assert_true (gbridge_io_loop_remove_handler (f->loop, number));
  g_assert_cmpuint (f->destroyed, ==, 1);
  close (keep);
  close (old[1]);
  gbridge_test_close_pipe (sv);
}

/* Flags other than the documented one are a programmer error. */
static void
test_unknown_handler_flags (Fixture       *f,
                            gconstpointer  data)
{
  int fds[2];

  gbridge_test_make_pipe (fds);
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*flags*");
  g_assert_false (gbridge_io_loop_add_handler_full (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                                    (GbridgeHandlerFlags) 0x10,
                                                    logging_handler, f, NULL, NULL));
  g_test_assert_expected_messages ();
  gbridge_test_close_pipe (fds);
}

/* As the docs ask: the handler removed after the close, before the number
 * is reused. The orphaned registration keeps reporting the old file. */
static void
test_dup_closed_then_removed (Fixture       *f,
                              gconstpointer  data)
{
  int old[2];
  int sv[2];
  int keep = watch_pipe_then_close_number (f, old);
  int number = old[0];

  g_assert_true (gbridge_io_loop_remove_handler (f->loop, number));
  socketpair_on (number, sv);
  g_assert_cmpint (write (old[1], "old", 3), ==, 3);

  g_assert_cmpuint (count_busy_iterations (f->context, 50), <, 50);

  /* A new file on the number, with a new handler: only its own data. */
  g_assert_true (gbridge_io_loop_add_handler (f->loop, number, GBRIDGE_IO_EVENTS_READ,
                                              logging_handler, f, count_destroy, NULL));
  run_pending (f);
  g_assert_cmpstr (f->log->str, ==, "");
  g_assert_cmpint (write (sv[1], "new", 3), ==, 3);
  run_pending (f);
  g_assert_cmpstr (f->log->str, ==, "R(new)");
  g_assert_cmpuint (count_busy_iterations (f->context, 50), <, 50);
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, number));
  g_assert_cmpuint (f->destroyed, ==, 2);

  close (keep);
  close (old[1]);
  gbridge_test_close_pipe (sv);
}

/* The same with the old file kept open by a child process instead of a
 * dup(). */
static void
test_fork_shared_closed_then_removed (Fixture       *f,
                                      gconstpointer  data)
{
  int old[2];
  int hold[2];
  int number;
  int status;
  pid_t pid;

  gbridge_test_make_pipe (old);
  gbridge_test_make_pipe (hold);
  number = old[0];
  g_assert_true (gbridge_io_loop_add_handler (f->loop, number, GBRIDGE_IO_EVENTS_READ,
                                              logging_handler, f, count_destroy, NULL));
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      /* Keeps every file open until the parent closes its end of hold. */
      struct pollfd pfd = { hold[0], POLLIN, 0 };

      close (hold[1]);
      poll (&pfd, 1, 10000);
      _exit (0);
    }
  close (hold[0]);
  close (number);
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, number));
  g_assert_cmpint (write (old[1], "old", 3), ==, 3);
  g_assert_cmpuint (count_busy_iterations (f->context, 50), <, 50);
  g_assert_cmpstr (f->log->str, ==, "");
  g_assert_cmpuint (f->destroyed, ==, 1);

  close (hold[1]);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  close (old[1]);
}

/* 5. A regular file's number reused before the next poll */

static void
test_regular_file_number_reused (Fixture       *f,
                                 gconstpointer  data)
{
  int fd = make_regular_file ("old");
  int fd2;

  g_assert_true (gbridge_io_loop_add_handler (f->loop, fd, GBRIDGE_IO_EVENTS_READ,
                                              logging_handler, f, count_destroy, NULL));
  close (fd);
  fd2 = make_regular_file ("new");
  g_assert_cmpint (fd2, ==, fd);

  /* Reported once as ERROR and removed, as if poll() had found the number
   * closed; the new file is never read by the old handler. */
  run_pending (f);
  g_assert_cmpstr (f->log->str, ==, "E");
  g_assert_cmpuint (f->destroyed, ==, 1);
  g_assert_false (gbridge_io_loop_remove_handler (f->loop, fd));
  g_assert_false (g_main_context_iteration (f->context, FALSE));
  close (fd2);
}

/* A regular file's number closed under its handler, while another loop
 * watches the same file through a dup: that loop's own bookkeeping must not
 * take the closed number, or the first handler would find its file there
 * and be called for ever instead of being told once. */
static void
test_regular_file_number_taken_by_other_loop (Fixture       *f,
                                              gconstpointer  data)
{
  g_autoptr(GbridgeIOLoop) other = gbridge_io_loop_new ();
  int fd = make_regular_file ("old");
  int copy = dup (fd);
  int fds[2];

  /* The other loop's epoll set, made now, so that it does not take the
   * number closed below either. */
  gbridge_test_make_pipe (fds);
  g_assert_true (gbridge_io_loop_add_handler (other, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              logging_handler, f, NULL, NULL));
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fd, GBRIDGE_IO_EVENTS_READ,
                                              logging_handler, f, count_destroy, NULL));
  close (fd);
  g_assert_true (gbridge_io_loop_add_handler (other, copy, GBRIDGE_IO_EVENTS_READ,
                                              logging_handler, f, NULL, NULL));

  run_pending (f);
  g_assert_cmpstr (f->log->str, ==, "E");
  g_assert_cmpuint (f->destroyed, ==, 1);
  g_assert_false (gbridge_io_loop_remove_handler (f->loop, fd));

  g_assert_true (gbridge_io_loop_remove_handler (other, copy));
  g_assert_true (gbridge_io_loop_remove_handler (other, fds[0]));
  close (copy);
  gbridge_test_close_pipe (fds);
}

/* A socket's handler removed after its number was closed while a dup kept
 * the file open, then the file put back on the number (dup2): a new
 * handler on the number must be accepted, not refused as already watched
 * by the orphaned registration, and be called. */
static void
test_dup_closed_removed_readded (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  int sv[2];
  int copy;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  g_assert_true (gbridge_io_loop_add_handler (f->loop, sv[0], GBRIDGE_IO_EVENTS_READ,
                                              logging_handler, f, count_destroy, NULL));
  copy = dup (sv[0]);
  close (sv[0]);
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, sv[0]));
  g_assert_cmpint (dup2 (copy, sv[0]), ==, sv[0]);

  g_assert_true (gbridge_io_loop_add_handler (f->loop, sv[0], GBRIDGE_IO_EVENTS_READ,
                                              logging_handler, f, count_destroy, &error));
  g_assert_no_error (error);
  g_assert_cmpint (write (sv[1], "x", 1), ==, 1);
  run_pending (f);
  g_assert_cmpstr (f->log->str, ==, "R(x)");

  g_assert_true (gbridge_io_loop_remove_handler (f->loop, sv[0]));
  g_assert_cmpuint (f->destroyed, ==, 2);
  gbridge_test_close_pipe (sv);
  close (copy);
}

/* 6. fork() */

/* What a process saw of its loop: the timer fired, bytes read. */
typedef struct
{
  gboolean timer;
  guint    reads;
} Seen;

static void
seen_timer_cb (gpointer data)
{
  Seen *seen = data;

  seen->timer = TRUE;
}

static void
seen_read_handler (int             fd,
                   GbridgeIOEvents events,
                   gpointer        data)
{
  Seen *seen = data;
  char b;

  if (read (fd, &b, 1) == 1)
    seen->reads++;
}

static gboolean
seen_all (gpointer data)
{
  Seen *seen = data;

  return seen->timer && seen->reads > 0;
}

typedef struct
{
  Seen      seen;   /* first: a Parent is passed as its Seen */
  Fixture  *f;
} Parent;

static void
parent_destroy (gpointer data)
{
  Parent *p = data;

  p->f->destroyed++;
}

/* Sets up the parent's loop: a handler on @fds[0] and a timer. */
static void
parent_setup (Parent *p,
              int     fds[2])
{
  gbridge_test_make_pipe (fds);
  g_assert_true (gbridge_io_loop_add_handler (p->f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              seen_read_handler, p, parent_destroy, NULL));
  gbridge_io_loop_call_later (p->f->loop, 0.05, seen_timer_cb, p, NULL);
  /* One iteration before the fork: the timerfd and epoll set exist. */
  g_main_context_iteration (p->f->context, FALSE);
}

static void
parent_check (Parent *p,
              int     fds[2],
              pid_t   pid)
{
  int status;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  gbridge_test_iterate_until (p->f->context, seen_all, p);
  g_assert_true (p->seen.timer);
  g_assert_cmpuint (p->seen.reads, ==, 1);
  g_assert_true (gbridge_io_loop_remove_handler (p->f->loop, fds[0]));
  g_assert_cmpuint (p->f->destroyed, ==, 1);
  gbridge_test_close_pipe (fds);
}

static void
test_fork_child_closes (Fixture       *f,
                        gconstpointer  data)
{
  Parent p = { { FALSE, 0 }, f };
  int fds[2];
  pid_t pid;

  parent_setup (&p, fds);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      /* The child drops its copy: removes the handler, closes, unrefs. */
      gboolean ok = gbridge_io_loop_remove_handler (f->loop, fds[0]) &&
                    gbridge_io_loop_close (f->loop, FALSE, NULL);

      g_object_unref (f->loop);
      _exit (ok ? 0 : 1);
    }
  parent_check (&p, fds, pid);
}

static void
test_fork_child_finalizes (Fixture       *f,
                           gconstpointer  data)
{
  Parent p = { { FALSE, 0 }, f };
  int fds[2];
  pid_t pid;

  parent_setup (&p, fds);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      g_object_unref (f->loop);
      _exit (0);
    }
  parent_check (&p, fds, pid);
}


static int
child_goes_on (GbridgeIOLoop *loop,
               int            inherited)
{
  Seen c = { FALSE, 0 };
  int fds[2];

  /* Gives up the inherited handler, and watches a pipe and a timer of its
   * own, on its own copy of the loop. */
  if (!gbridge_io_loop_remove_handler (loop, inherited))
    return 1;
  if (!g_unix_open_pipe (fds, FD_CLOEXEC, NULL))
    return 2;
  if (!gbridge_io_loop_add_handler (loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                    seen_read_handler, &c, NULL, NULL))
    return 3;
  gbridge_io_loop_call_later (loop, 0.01, seen_timer_cb, &c, NULL);
  if (write (fds[1], "x", 1) != 1)
    return 4;
  gbridge_test_iterate_until (gbridge_io_loop_get_context (loop), seen_all, &c);
  if (!c.timer)
    return 5;
  if (c.reads != 1)
    return 6;
  gbridge_io_loop_remove_handler (loop, fds[0]);
  g_object_unref (loop);
  return 0;
}

static void
test_fork_child_goes_on (Fixture       *f,
                         gconstpointer  data)
{
  Parent p = { { FALSE, 0 }, f };
  int fds[2];
  pid_t pid;

  parent_setup (&p, fds);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (child_goes_on (f->loop, fds[0]));
  parent_check (&p, fds, pid);
}

/* gbridge_io_loop_fork(): explicit, and harmless when nothing forked. */
static void
test_fork_explicit (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  Parent p = { { FALSE, 0 }, f };
  int fds[2];

  parent_setup (&p, fds);
  g_assert_true (gbridge_io_loop_fork (f->loop, &error));
  g_assert_no_error (error);
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  gbridge_test_iterate_until (f->context, seen_all, &p);
  g_assert_true (p.seen.timer);
  g_assert_cmpuint (p.seen.reads, ==, 1);
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  gbridge_test_close_pipe (fds);

  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_assert_true (gbridge_io_loop_fork (f->loop, &error));
  g_assert_no_error (error);
}

/* Close and unref from inside every kind of callback. Each kind arms the
 * loop so that closing_callback() runs once from it; the loop is driven by
 * g_main_context_iteration() and holds one more registration of each kind,
 * whose destroy-notifies are counted. */

typedef enum
{
  KIND_CALLBACK,
  KIND_TIMER,
  KIND_FD,
  KIND_DONE_CALLBACK,
  KIND_REPEATING,
} Kind;

typedef struct
{
  Fixture       *f;
  Kind           kind;
  gboolean       unref;      /* drop the last reference instead of closing */
  gboolean       ran;
  gboolean       close_ok;
  GError        *error;
  int            fds[2];
  GbridgeFuture *future;
} Closer;

static void
closing_callback (Closer *c)
{
  c->ran = TRUE;
  if (c->unref)
    g_clear_object (&c->f->loop);
  else
    c->close_ok = gbridge_io_loop_close (c->f->loop, TRUE, &c->error);
}

static void
closing_cb (gpointer data)
{
  closing_callback (data);
}

static gboolean
closing_repeat (gpointer data)
{
  closing_callback (data);
  return G_SOURCE_REMOVE;
}

static void
closing_fd (int fd, GbridgeIOEvents events, gpointer data)
{
  closing_callback (data);
}

static void
closing_done (GbridgeFuture *future, gpointer data)
{
  closing_callback (data);
}

static void
never_called (gpointer data)
{
  g_assert_not_reached ();
}

static void
never_called_fd (int fd, GbridgeIOEvents events, gpointer data)
{
  g_assert_not_reached ();
}

static void
arm_pending (Fixture *f,
             int      fd)
{
  g_autoptr(GError) error = NULL;

  gbridge_io_loop_call_at (f->loop, gbridge_io_loop_time (f->loop) + 7200, never_called, f,
                           count_destroy);
  gbridge_io_loop_call_later (f->loop, 3600, never_called, f, count_destroy);
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fd, GBRIDGE_IO_EVENTS_READ,
                                              never_called_fd, f, count_destroy, &error));
  g_assert_no_error (error);
}

static void
test_close_inside (Fixture       *f,
                   gconstpointer  data)
{
  Closer c = { f, GPOINTER_TO_INT (data) & 0xff, GPOINTER_TO_INT (data) >> 8 };
  g_autoptr(GError) error = NULL;
  GMainContext *context = g_main_context_ref (f->context);
  GbridgeIOLoop *weak = f->loop;
  int pending[2];
  guint n = 0;

  gbridge_test_make_pipe (c.fds);
  gbridge_test_make_pipe (pending);
  g_object_add_weak_pointer (G_OBJECT (f->loop), (gpointer *) &weak);

  switch (c.kind)
    {
    case KIND_CALLBACK:
      gbridge_io_loop_add_callback (f->loop, closing_cb, &c, NULL);
      break;
    case KIND_TIMER:
      gbridge_io_loop_call_later (f->loop, 0, closing_cb, &c, NULL);
      break;
    case KIND_FD:
      g_assert_true (gbridge_io_loop_add_handler (f->loop, c.fds[0], GBRIDGE_IO_EVENTS_READ,
                                                  closing_fd, &c, NULL, &error));
      g_assert_cmpint (write (c.fds[1], "x", 1), ==, 1);
      break;
    case KIND_DONE_CALLBACK:
      c.future = gbridge_future_new_for_loop (f->loop);
      gbridge_future_add_done_callback (c.future, closing_done, &c, NULL);
      g_assert_true (gbridge_future_cancel (c.future));
      break;
    case KIND_REPEATING:
      gbridge_io_loop_add_repeating_callback (f->loop, closing_repeat, &c, NULL);
      break;
    default:
      g_assert_not_reached ();
    }
  /* After the closing one: callbacks added later run later. */
  arm_pending (f, pending[0]);

  while (!c.ran && n++ < 1000)
    g_main_context_iteration (context, TRUE);
  g_assert_true (c.ran);

  if (c.unref)
    {
      /* The dispatch held a reference until it returned; a future keeps
       * its loop alive. */
      g_clear_object (&c.future);
      g_assert_null (weak);
      g_assert_cmpuint (f->destroyed, ==, 3);
    }
  else
    {
      /* Refused inside a dispatch, whichever kind of callback. */
      g_assert_false (c.close_ok);
      g_assert_error (c.error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_RUNNING);
      g_clear_error (&c.error);
      g_assert_cmpuint (f->destroyed, ==, 0);
      g_assert_true (gbridge_io_loop_close (f->loop, TRUE, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (f->destroyed, ==, 3);
      /* close (all_fds) closed the descriptors still registered. */
      g_assert_cmpint (fcntl (pending[0], F_GETFD), ==, -1);
      pending[0] = -1;
      g_object_remove_weak_pointer (G_OBJECT (f->loop), (gpointer *) &weak);
    }
  /* Nothing runs after the close. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_assert_cmpuint (f->destroyed, ==, 3);

  g_clear_object (&c.future);
  if (c.kind != KIND_FD || c.unref)
    close (c.fds[0]);
  else
    g_assert_cmpint (fcntl (c.fds[0], F_GETFD), ==, -1);
  close (c.fds[1]);
  if (pending[0] >= 0)
    gbridge_test_close_pipe (pending);
  g_main_context_unref (context);
}

/* A destroy-notify run by remove_timeout() from outside any dispatch may
 * close the loop, or drop its last reference, from inside. */
typedef struct
{
  Fixture  *f;
  gboolean  unref;
} DestroyCloser;

static void
destroy_closes (gpointer data)
{
  DestroyCloser *d = data;

  d->f->destroyed++;
  if (d->unref)
    g_clear_object (&d->f->loop);
  else
    g_assert_true (gbridge_io_loop_close (d->f->loop, FALSE, NULL));
}

static void
test_destroy_notify_closes (Fixture       *f,
                            gconstpointer  data)
{
  DestroyCloser d = { f, GPOINTER_TO_INT (data) };
  g_autoptr(GError) error = NULL;
  GbridgeIOLoop *loop = f->loop;
  int pending[2];
  guint64 timer;

  gbridge_test_make_pipe (pending);
  timer = gbridge_io_loop_call_later (f->loop, 3600, never_called, &d, destroy_closes);
  arm_pending (f, pending[0]);

  g_assert_true (gbridge_io_loop_remove_timeout (f->loop, timer));
  g_assert_cmpuint (f->destroyed, ==, 4);
  if (d.unref)
    g_assert_null (f->loop);
  else
    g_assert_true (gbridge_io_loop_is_closed (loop));
  gbridge_test_close_pipe (pending);
}

/* Many threads add callbacks while the loop runs a little and is closed:
 * every callback either runs or is destroyed, never both, never twice. */
#define N_PRODUCERS 4
#define PER_PRODUCER 2000

typedef struct
{
  GbridgeIOLoop *loop;
  gint           ran;
  gint           destroyed;
  gint           refused;
  gint           started;
  guint8         seen[N_PRODUCERS * PER_PRODUCER];
} Race;

typedef struct
{
  Race *race;
  guint index;
} RaceItem;

static void
race_run (gpointer data)
{
  RaceItem *item = data;

  g_assert_cmpuint (item->race->seen[item->index], ==, 0);
  item->race->seen[item->index] = 1;
  g_atomic_int_inc (&item->race->ran);
}

static void
race_destroy (gpointer data)
{
  RaceItem *item = data;

  g_atomic_int_inc (&item->race->destroyed);
  g_free (item);
}

static gpointer
race_producer (gpointer data)
{
  Race *race = ((RaceItem *) data)->race;
  guint base = ((RaceItem *) data)->index;

  g_free (data);
  g_atomic_int_inc (&race->started);
  for (guint i = 0; i < PER_PRODUCER; i++)
    {
      RaceItem *item = g_new (RaceItem, 1);

      item->race = race;
      item->index = base + i;
      if (!gbridge_io_loop_add_callback (race->loop, race_run, item, race_destroy))
        g_atomic_int_inc (&race->refused);
    }
  return NULL;
}

static void
test_threads_add_while_closing (Fixture       *f,
                                gconstpointer  data)
{
  Race *race = g_new0 (Race, 1);
  GThread *threads[N_PRODUCERS];

  race->loop = f->loop;
  for (guint t = 0; t < N_PRODUCERS; t++)
    {
      RaceItem *start = g_new (RaceItem, 1);

      start->race = race;
      start->index = t * PER_PRODUCER;
      threads[t] = g_thread_new ("producer", race_producer, start);
    }
  /* Closes mid-stream: after some callbacks ran, while producers go on. */
  while (g_atomic_int_get (&race->ran) < 100)
    g_main_context_iteration (f->context, TRUE);
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  for (guint t = 0; t < N_PRODUCERS; t++)
    g_thread_join (threads[t]);

  g_assert_cmpint (race->destroyed, ==, N_PRODUCERS * PER_PRODUCER);
  g_assert_cmpint (race->ran, <=, N_PRODUCERS * PER_PRODUCER - race->refused);
  g_assert_cmpint (race->ran, >=, 100);
  g_free (race);
}

/* GbridgeContextDriver: two drivers stopped in the order they started give
 * the thread-default stack back as it was. */
static void
test_driver_stop_order (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GMainContext) a = g_main_context_new ();
  g_autoptr(GMainContext) b = g_main_context_new ();
  GbridgeContextDriver *da = gbridge_context_driver_new (a);
  GbridgeContextDriver *db = gbridge_context_driver_new (b);
  GMainContext *before = g_main_context_get_thread_default ();

  g_assert_true (gbridge_context_driver_start (da, NULL));
  g_assert_true (gbridge_context_driver_start (db, NULL));
  g_assert_true (g_main_context_get_thread_default () == b);
  gbridge_context_driver_stop (da);
  g_assert_true (g_main_context_get_thread_default () == b);
  gbridge_context_driver_stop (db);
  g_assert_true (g_main_context_get_thread_default () == before);
  /* Both given back (pushing a context acquires it). */
  g_assert_false (g_main_context_is_owner (a));
  g_assert_false (g_main_context_is_owner (b));

  /* And again, with a driver finalized rather than stopped. */
  g_assert_true (gbridge_context_driver_start (da, NULL));
  g_assert_true (gbridge_context_driver_start (db, NULL));
  g_assert_finalize_object (da);
  gbridge_context_driver_stop (db);
  g_assert_true (g_main_context_get_thread_default () == before);
  g_assert_finalize_object (db);
}

/* A source dispatched by the driver drops the last reference to the driver,
 * which holds the last reference to its context. */
static gboolean
drop_driver (gpointer data)
{
  GbridgeContextDriver **driver = data;

  g_clear_object (driver);
  return G_SOURCE_REMOVE;
}

static void
test_driver_unref_inside_dispatch (Fixture       *f,
                                   gconstpointer  data)
{
  GMainContext *context = g_main_context_new ();
  GbridgeContextDriver *driver = gbridge_context_driver_new (context);
  GSource *idle = g_idle_source_new ();
  GSource *second = g_idle_source_new ();

  g_source_set_callback (idle, drop_driver, &driver, NULL);
  g_source_attach (idle, context);
  g_source_set_callback (second, drop_driver, &driver, NULL);
  g_source_attach (second, context);
  g_main_context_unref (context);

  g_assert_true (gbridge_context_driver_start (driver, NULL));
  g_assert_cmpint (gbridge_context_driver_prepare (driver), ==, 0);
  g_assert_true (gbridge_context_driver_dispatch (driver));
  g_assert_null (driver);
  g_assert_true (g_source_is_destroyed (idle));
  g_source_unref (idle);
  g_source_unref (second);
}

/* GbridgeDelayedCall: a NaN deadline is refused and leaves the call as it
 * was, rather than active but never to run. */
static void
count_call (gpointer data)
{
  (*(guint *) data)++;
}

static void
test_delayed_call_nan (Fixture       *f,
                       gconstpointer  data)
{
  GbridgeReactor *reactor = gbridge_reactor_ref_for_loop (f->loop);
  GbridgeDelayedCall *call;
  GbridgeDelayedCall *never;
  guint calls = 0;

  call = gbridge_reactor_call_later (reactor, 0, count_call, &calls, NULL);
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*isnan*");
  g_assert_false (gbridge_delayed_call_delay (call, NAN, NULL));
  g_test_assert_expected_messages ();
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*isnan*");
  g_assert_false (gbridge_delayed_call_reset (call, NAN, NULL));
  g_test_assert_expected_messages ();
  g_assert_cmpfloat (gbridge_delayed_call_get_time (call), <=, gbridge_io_loop_time (f->loop));

  /* inf + -inf is NaN too. */
  never = gbridge_reactor_call_later (reactor, INFINITY, count_call, &calls, NULL);
  g_assert_true (gbridge_delayed_call_is_active (never));
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*isnan*");
  g_assert_false (gbridge_delayed_call_delay (never, -INFINITY, NULL));
  g_test_assert_expected_messages ();
  g_assert_true (gbridge_delayed_call_is_active (never));

  while (calls == 0)
    g_main_context_iteration (f->context, TRUE);
  g_assert_cmpuint (calls, ==, 1);
  g_assert_false (gbridge_delayed_call_is_active (call));
  g_assert_true (gbridge_delayed_call_cancel (never, NULL));
  g_object_unref (call);
  g_object_unref (never);
  g_object_unref (reactor);
}

/* After fork(), GLib's wake-up descriptor of an inherited context is shared
 * with the parent, which may read a wake-up first (iterating its own copy
 * of the context): a callback added from another thread of the child must
 * still wake the child's loop. The poll function plays the other process:
 * while the child's loop sleeps, a thread adds a callback, and the shared
 * wake-up is read away before the child's poll() looks. */

static int shared_wakeup_fd = -1;
static GbridgeIOLoop *stolen_loop;
static gboolean steal_next_poll;
static gboolean thread_callback_ran;
static gint stolen_poll_result = -2;

static void
mark_thread_callback_ran (gpointer data)
{
  thread_callback_ran = TRUE;
}

static gpointer
add_from_thread (gpointer data)
{
  gbridge_io_loop_add_callback (stolen_loop, mark_thread_callback_ran, NULL, NULL);
  return NULL;
}

static gint
stealing_poll (GPollFD *fds,
               guint    nfds,
               gint     timeout)
{
  guint64 value;

  if (!steal_next_poll || timeout == 0)
    return g_poll (fds, nfds, timeout);

  steal_next_poll = FALSE;
  g_thread_join (g_thread_new ("adder", add_from_thread, NULL));
  /* The parent's iteration acknowledges the shared wake-up first. */
  (void) read (shared_wakeup_fd, &value, sizeof value);
  stolen_poll_result = g_poll (fds, nfds, timeout);
  return stolen_poll_result;
}

static gboolean
limit_reached (gpointer data)
{
  return G_SOURCE_REMOVE;
}

/* In the child: 0 if the thread's callback woke the sleeping loop (poll()
 * returned a ready descriptor before the 1 s limit) and then ran. */
static int
child_woken_from_thread (GMainContext  *context,
                         GbridgeIOLoop *loop)
{
  GSource *limit;

  /* The loop notices the fork and gives up the parent's objects. */
  while (g_main_context_iteration (context, FALSE))
    ;
  stolen_loop = loop;
  g_main_context_set_poll_func (context, stealing_poll);
  limit = g_timeout_source_new (1000);
  g_source_set_callback (limit, limit_reached, NULL, NULL);
  g_source_attach (limit, context);
  steal_next_poll = TRUE;
  while (!thread_callback_ran && stolen_poll_result != 0)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (limit);
  g_source_unref (limit);
  return stolen_poll_result > 0 && thread_callback_ran ? 0 : 1;
}

static void
test_fork_child_woken_from_thread (Fixture       *f,
                                   gconstpointer  data)
{
  GMainContext *context = g_main_context_new ();
  GPollFD wakeup = { -1, 0, 0 };
  GbridgeIOLoop *loop;
  gint priority;
  int status;
  pid_t pid;

  /* A new context polls its wake-up descriptor only. */
  g_main_context_acquire (context);
  g_main_context_prepare (context, &priority);
  g_assert_cmpint (g_main_context_query (context, G_MAXINT, NULL, &wakeup, 1), ==, 1);
  g_main_context_release (context);
  shared_wakeup_fd = wakeup.fd;
  loop = gbridge_io_loop_new_for_context (context);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (child_woken_from_thread (context, loop));
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  g_assert_true (gbridge_io_loop_close (loop, FALSE, NULL));
  g_assert_finalize_object (loop);
  g_main_context_unref (context);
}

int
main (int   argc,
      char *argv[])
{
  setlocale (LC_ALL, "");
  g_test_init (&argc, &argv, NULL);

  TEST ("closed/remove-update", test_closed_remove_update);
  TEST ("closed/finalize-remove-update", test_finalize_remove_update);
  TEST ("fd/dup-closed-number-reused", test_dup_closed_number_reused);
  TEST ("fd/dup-closed-then-removed", test_dup_closed_then_removed);
  TEST ("fd/unchecked-closed-number-reused", test_unchecked_closed_number_reused);
  TEST ("fd/unknown-handler-flags", test_unknown_handler_flags);
  TEST ("fd/fork-shared-closed-then-removed", test_fork_shared_closed_then_removed);
  TEST ("fd/regular-file-number-reused", test_regular_file_number_reused);
  TEST ("fd/regular-file-number-taken-by-other-loop",
        test_regular_file_number_taken_by_other_loop);
  TEST ("fd/dup-closed-removed-readded", test_dup_closed_removed_readded);
  TEST ("fork/child-closes", test_fork_child_closes);
  TEST ("fork/child-finalizes", test_fork_child_finalizes);
  TEST ("fork/child-goes-on", test_fork_child_goes_on);
  TEST ("fork/explicit", test_fork_explicit);
  TEST ("fork/child-woken-from-thread", test_fork_child_woken_from_thread);
  g_test_add ("/Gbridge/IOLoop/hostile/close-inside/callback", Fixture,
              GINT_TO_POINTER (KIND_CALLBACK), fixture_setup, test_close_inside, fixture_teardown);
  g_test_add ("/Gbridge/IOLoop/hostile/close-inside/timer", Fixture,
              GINT_TO_POINTER (KIND_TIMER), fixture_setup, test_close_inside, fixture_teardown);
  g_test_add ("/Gbridge/IOLoop/hostile/close-inside/fd", Fixture,
              GINT_TO_POINTER (KIND_FD), fixture_setup, test_close_inside, fixture_teardown);
  g_test_add ("/Gbridge/IOLoop/hostile/close-inside/done-callback", Fixture,
              GINT_TO_POINTER (KIND_DONE_CALLBACK), fixture_setup, test_close_inside,
              fixture_teardown);
  g_test_add ("/Gbridge/IOLoop/hostile/close-inside/repeating", Fixture,
              GINT_TO_POINTER (KIND_REPEATING), fixture_setup, test_close_inside,
              fixture_teardown);
  g_test_add ("/Gbridge/IOLoop/hostile/unref-inside/callback", Fixture,
              GINT_TO_POINTER (KIND_CALLBACK | 0x100), fixture_setup, test_close_inside,
              unref_teardown);
  g_test_add ("/Gbridge/IOLoop/hostile/unref-inside/timer", Fixture,
              GINT_TO_POINTER (KIND_TIMER | 0x100), fixture_setup, test_close_inside,
              unref_teardown);
  g_test_add ("/Gbridge/IOLoop/hostile/unref-inside/fd", Fixture,
              GINT_TO_POINTER (KIND_FD | 0x100), fixture_setup, test_close_inside,
              unref_teardown);
  g_test_add ("/Gbridge/IOLoop/hostile/unref-inside/done-callback", Fixture,
              GINT_TO_POINTER (KIND_DONE_CALLBACK | 0x100), fixture_setup, test_close_inside,
              unref_teardown);
  g_test_add ("/Gbridge/IOLoop/hostile/unref-inside/repeating", Fixture,
              GINT_TO_POINTER (KIND_REPEATING | 0x100), fixture_setup, test_close_inside,
              unref_teardown);
  g_test_add ("/Gbridge/IOLoop/hostile/destroy-notify/closes", Fixture,
              GINT_TO_POINTER (FALSE), fixture_setup, test_destroy_notify_closes,
              fixture_teardown);
  g_test_add ("/Gbridge/IOLoop/hostile/destroy-notify/unrefs", Fixture,
              GINT_TO_POINTER (TRUE), fixture_setup, test_destroy_notify_closes,
              unref_teardown);
  TEST ("threads/add-while-closing", test_threads_add_while_closing);
  TEST ("context-driver/stop-order", test_driver_stop_order);
  TEST ("context-driver/unref-inside-dispatch", test_driver_unref_inside_dispatch);
  TEST ("delayed-call/nan", test_delayed_call_nan);

  return g_test_run ();
}
