/* test-io-loop-wait.c: one wait per GLib iteration, on a context the loop
 * made, one it was given and the global default context
 * (gbridge-io-loop-poll.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <gbridge/gbridge.h>

#include "gbridge-test.h"

#include <dlfcn.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

/* The waits this thread makes, counted by wrapping the C library's
 * epoll_wait() and poll() (g_poll() calls poll()): the program exports
 * both (export_dynamic), so the library and GLib call these. */
static pthread_t counting_thread;
static gboolean counting;
static guint n_epoll_waits;
static guint n_polls;

int
epoll_wait (int                 epfd,
            struct epoll_event *events,
            int                 maxevents,
            int                 timeout)
{
  static int (*real) (int, struct epoll_event *, int, int);

  if (real == NULL)
    real = (int (*) (int, struct epoll_event *, int, int)) dlsym (RTLD_NEXT, "epoll_wait");
  if (counting && pthread_equal (pthread_self (), counting_thread))
    n_epoll_waits++;
  return real (epfd, events, maxevents, timeout);
}

int
poll (struct pollfd *fds,
      nfds_t         nfds,
      int            timeout)
{
  static int (*real) (struct pollfd *, nfds_t, int);

  if (real == NULL)
    real = (int (*) (struct pollfd *, nfds_t, int)) dlsym (RTLD_NEXT, "poll");
  if (counting && pthread_equal (pthread_self (), counting_thread))
    n_polls++;
  return real (fds, nfds, timeout);
}

static void
count_begin (void)
{
  counting_thread = pthread_self ();
  n_epoll_waits = n_polls = 0;
  counting = TRUE;
}

static guint
count_end (void)
{
  counting = FALSE;
  return n_epoll_waits + n_polls;
}

/* A ping-pong on one watched descriptor: the handler reads a byte and
 * writes the next one from the other, unwatched end, so every round needs
 * a new wait. */
typedef struct
{
  GbridgeIOLoop *loop;
  int            sv[2];
  guint          rounds;
  guint          target;
} PingPong;

static void
ping_pong_handler (int fd, GbridgeIOEvents events, gpointer data)
{
  PingPong *pp = data;
  char c;

  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  if (++pp->rounds == pp->target)
    gbridge_io_loop_stop (pp->loop);
  else
    g_assert_cmpint (write (pp->sv[1], &c, 1), ==, 1);
}

static void
ping_pong_setup (PingPong      *pp,
                 GbridgeIOLoop *loop)
{
  pp->loop = loop;
  pp->rounds = 0;
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pp->sv),
                   ==, 0);
  g_assert_true (gbridge_io_loop_add_handler (loop, pp->sv[0], GBRIDGE_IO_EVENTS_READ,
                                              ping_pong_handler, pp, NULL, NULL));
}

/* Runs @n rounds; returns the waits they took. */
static guint
ping_pong_run (PingPong *pp,
               guint     n)
{
  pp->rounds = 0;
  pp->target = n;
  g_assert_cmpint (write (pp->sv[1], "x", 1), ==, 1);
  count_begin ();
  g_assert_true (gbridge_io_loop_start (pp->loop, NULL));
  g_assert_cmpuint (pp->rounds, ==, n);
  return count_end ();
}

static void
ping_pong_teardown (PingPong *pp)
{
  gbridge_io_loop_remove_handler (pp->loop, pp->sv[0]);
  close (pp->sv[0]);
  close (pp->sv[1]);
}

#define ROUNDS 200

/* At least one wait per round (a wrapper that counted nothing would fail),
 * and not more than one plus a few for starting and stopping. */
static void
assert_one_wait_per_round (guint waits)
{
  g_assert_cmpuint (waits, >=, ROUNDS);
  g_assert_cmpuint (waits, <=, ROUNDS + 4);
}

/* Two waits a round (GLib's poll() and the loop's epoll_wait()), give or
 * take the odd round where GLib already knows the source is ready: clearly
 * more than the one of the fast path. */
static void
assert_two_waits_per_round (guint waits)
{
  g_assert_cmpuint (waits, >=, 2 * ROUNDS - ROUNDS / 10);
}

/* The contexts a loop runs on: the private one it makes, one it is given,
 * the global default context (gbridge_io_loop_get_default(), which
 * gbridge.asyncio and GTK applications use on the main thread). */
typedef enum
{
  MODE_PRIVATE,
  MODE_GIVEN,
  MODE_DEFAULT,
} Mode;

static const Mode private_mode = MODE_PRIVATE;
static const Mode given_mode = MODE_GIVEN;
static const Mode default_mode = MODE_DEFAULT;

static GbridgeIOLoop *
make_loop (gconstpointer data)
{
  switch (*(const Mode *) data)
    {
    case MODE_PRIVATE:
      return gbridge_io_loop_new ();
    case MODE_GIVEN:
      {
        GMainContext *context = g_main_context_new ();
        GbridgeIOLoop *loop = gbridge_io_loop_new_for_context (context);

        g_main_context_unref (context);   /* the loop's reference keeps it */
        return loop;
      }
    case MODE_DEFAULT:
      return g_object_ref (gbridge_io_loop_get_default ());
    default:
      g_assert_not_reached ();
    }
}

/* The default loop lives on (and keeps the poll function); the others are
 * finalized, which gives their context g_poll() back. */
static void
drop_loop (GbridgeIOLoop *loop,
           gconstpointer  data)
{
  if (*(const Mode *) data == MODE_DEFAULT)
    {
      g_object_unref (loop);
      g_assert_false (gbridge_io_loop_is_closed (loop));
      g_assert_true (g_main_context_get_poll_func (NULL) != g_poll);
    }
  else
    {
      GMainContext *context = g_main_context_ref (gbridge_io_loop_get_context (loop));

      g_assert_finalize_object (loop);
      g_assert_true (g_main_context_get_poll_func (context) == g_poll);
      g_main_context_unref (context);
    }
}

static void
test_one_wait (gconstpointer data)
{
  GbridgeIOLoop *loop = make_loop (data);
  PingPong pp;
  guint64 timer;

  g_assert_true (g_main_context_get_poll_func (gbridge_io_loop_get_context (loop)) != g_poll);
  ping_pong_setup (&pp, loop);
  assert_one_wait_per_round (ping_pong_run (&pp, ROUNDS));

  /* With a timer pending too: the timerfd shares the wait. */
  timer = gbridge_io_loop_call_later (loop, 3600, gbridge_test_watchdog_cb,
                                      (gpointer) "a far timer", NULL);
  assert_one_wait_per_round (ping_pong_run (&pp, ROUNDS));
  g_assert_true (gbridge_io_loop_remove_timeout (loop, timer));

  ping_pong_teardown (&pp);
  drop_loop (loop, data);
}

/* A poll function the application set before the loop was made is left
 * alone: GLib calls it, and a wake-up costs its poll() and the loop's
 * epoll_wait(), as before the fast path. Closing the loop keeps it too. */
static guint n_foreign_polls;

static gint
foreign_poll (GPollFD *ufds,
              guint    nfds,
              gint     timeout)
{
  n_foreign_polls++;
  return g_poll (ufds, nfds, timeout);
}

static void
test_foreign_poll_func (void)
{
  GMainContext *context = g_main_context_new ();
  GbridgeIOLoop *loop;
  PingPong pp;

  g_main_context_set_poll_func (context, foreign_poll);
  loop = gbridge_io_loop_new_for_context (context);
  g_assert_true (g_main_context_get_poll_func (context) == foreign_poll);

  ping_pong_setup (&pp, loop);
  n_foreign_polls = 0;
  assert_two_waits_per_round (ping_pong_run (&pp, ROUNDS));
  g_assert_cmpuint (n_foreign_polls, >=, ROUNDS - ROUNDS / 10);
  ping_pong_teardown (&pp);

  g_assert_true (gbridge_io_loop_close (loop, FALSE, NULL));
  g_assert_true (g_main_context_get_poll_func (context) == foreign_poll);
  g_assert_finalize_object (loop);
  g_assert_true (g_main_context_get_poll_func (context) == foreign_poll);
  g_main_context_unref (context);
}

/* A poll function set after the loop's is the application's from then
 * on: GLib calls it (the loop still works), and closing the loop does not
 * take it away. */
static void
test_poll_func_replaced (void)
{
  GbridgeIOLoop *loop = gbridge_io_loop_new ();
  GMainContext *context = g_main_context_ref (gbridge_io_loop_get_context (loop));
  PingPong pp;

  ping_pong_setup (&pp, loop);
  assert_one_wait_per_round (ping_pong_run (&pp, ROUNDS));
  g_main_context_set_poll_func (context, foreign_poll);
  n_foreign_polls = 0;
  assert_two_waits_per_round (ping_pong_run (&pp, ROUNDS));
  g_assert_cmpuint (n_foreign_polls, >=, ROUNDS - ROUNDS / 10);
  ping_pong_teardown (&pp);
  g_assert_finalize_object (loop);
  g_assert_true (g_main_context_get_poll_func (context) == foreign_poll);
  g_main_context_unref (context);
}

static gboolean
count_unix_fd_cb (int fd, GIOCondition condition, gpointer data)
{
  char c;

  if (condition & G_IO_IN)
    g_assert_cmpint (read (fd, &c, 1), ==, 1);
  ((guint *) data)[0]++;
  ((guint *) data)[1] |= condition;
  return (condition & G_IO_NVAL) ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static gboolean
counted_twice (gpointer data)
{
  return ((guint *) data)[0] >= 2;
}

static gboolean
counted_once (gpointer data)
{
  return ((guint *) data)[0] >= 1;
}

/* Another source's descriptor on the context: GLib polls it as usual (the
 * loop's handlers go on working), it fires, and once its source is gone
 * the single wait is back. A descriptor closed under its source is
 * reported invalid, as poll() does. */
static void
test_other_sources (gconstpointer data)
{
  GbridgeIOLoop *loop = make_loop (data);
  GMainContext *context = gbridge_io_loop_get_context (loop);
  guint fired[2] = { 0, 0 };
  PingPong pp;
  int p[2];

  ping_pong_setup (&pp, loop);
  gbridge_test_make_pipe (p);
  {
    GSource *source = g_unix_fd_source_new (p[0], G_IO_IN);

    g_source_set_callback (source, (GSourceFunc) (void (*) (void)) count_unix_fd_cb, fired, NULL);
    g_source_attach (source, context);

    /* Both fire: the loop's handler through the ping-pong, the source when
     * written to. */
    g_assert_cmpint (write (p[1], "a", 1), ==, 1);
    g_assert_cmpuint (ping_pong_run (&pp, ROUNDS), >=, ROUNDS);
    gbridge_test_iterate_until (context, counted_once, fired);
    g_assert_cmpuint (fired[0], ==, 1);
    g_assert_cmpint (write (p[1], "b", 1), ==, 1);
    gbridge_test_iterate_until (context, counted_twice, fired);
    g_assert_cmpuint (fired[0], ==, 2);

    /* Removed: no longer called, and one wait per round again. */
    g_source_destroy (source);
    g_source_unref (source);
  }
  g_assert_cmpint (write (p[1], "c", 1), ==, 1);
  assert_one_wait_per_round (ping_pong_run (&pp, ROUNDS));
  gbridge_test_run_pending (loop);
  g_assert_cmpuint (fired[0], ==, 2);

  /* A descriptor closed under its source: G_IO_NVAL, and the loop goes on. */
  {
    GSource *source = g_unix_fd_source_new (p[0], G_IO_IN);
    guint closed_fired[2] = { 0, 0 };

    g_source_set_callback (source, (GSourceFunc) (void (*) (void)) count_unix_fd_cb,
                           closed_fired, NULL);
    g_source_attach (source, context);
    gbridge_test_close_pipe (p);
    gbridge_test_iterate_until (context, counted_once, closed_fired);
    g_assert_cmpuint (closed_fired[0], ==, 1);
    g_assert_cmpuint (closed_fired[1] & G_IO_NVAL, ==, G_IO_NVAL);
    g_source_unref (source);
  }
  assert_one_wait_per_round (ping_pong_run (&pp, ROUNDS));

  ping_pong_teardown (&pp);
  drop_loop (loop, data);
}

/* A given context that already polls another source's descriptor when the
 * loop is made: the loop cannot tell GLib's wake-up descriptor from it
 * yet, so GLib's poll() waits, and the source fires. Once the source is
 * gone, the one descriptor left besides the loop's is GLib's: one wait a
 * round. A source added later is polled again. */
static void
test_other_source_first (void)
{
  GMainContext *context = g_main_context_new ();
  GbridgeIOLoop *loop;
  guint fired[2] = { 0, 0 };
  GSource *source;
  PingPong pp;
  int p[2];

  gbridge_test_make_pipe (p);
  source = g_unix_fd_source_new (p[0], G_IO_IN);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) count_unix_fd_cb, fired, NULL);
  g_source_attach (source, context);

  loop = gbridge_io_loop_new_for_context (context);
  g_assert_true (g_main_context_get_poll_func (context) != g_poll);
  ping_pong_setup (&pp, loop);
  assert_two_waits_per_round (ping_pong_run (&pp, ROUNDS));
  g_assert_cmpint (write (p[1], "a", 1), ==, 1);
  gbridge_test_iterate_until (context, counted_once, fired);
  g_assert_cmpuint (fired[0], ==, 1);

  g_source_destroy (source);
  g_source_unref (source);
  assert_one_wait_per_round (ping_pong_run (&pp, ROUNDS));

  source = g_unix_fd_source_new (p[0], G_IO_IN);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) count_unix_fd_cb, fired, NULL);
  g_source_attach (source, context);
  g_assert_cmpint (write (p[1], "b", 1), ==, 1);
  gbridge_test_iterate_until (context, counted_twice, fired);
  g_assert_cmpuint (fired[0], ==, 2);
  assert_two_waits_per_round (ping_pong_run (&pp, ROUNDS));
  g_source_destroy (source);
  g_source_unref (source);

  ping_pong_teardown (&pp);
  gbridge_test_close_pipe (p);
  g_assert_finalize_object (loop);
  g_assert_true (g_main_context_get_poll_func (context) == g_poll);
  g_main_context_unref (context);
}

/* Two loops on one context: the first sets the poll function, the second
 * does not, and each one's descriptors are the other's foreign ones, so
 * GLib's poll() waits; both work. Once the first is closed, the context
 * has g_poll() back and the second goes on. */
static void
test_two_loops (void)
{
  GMainContext *context = g_main_context_new ();
  GbridgeIOLoop *first = gbridge_io_loop_new_for_context (context);
  GbridgeIOLoop *second;
  GPollFunc first_poll = g_main_context_get_poll_func (context);
  PingPong pp1, pp2;

  g_assert_true (first_poll != g_poll);
  second = gbridge_io_loop_new_for_context (context);
  g_assert_true (g_main_context_get_poll_func (context) == first_poll);

  ping_pong_setup (&pp1, first);
  ping_pong_setup (&pp2, second);
  assert_two_waits_per_round (ping_pong_run (&pp1, ROUNDS));
  assert_two_waits_per_round (ping_pong_run (&pp2, ROUNDS));

  ping_pong_teardown (&pp1);
  g_assert_true (gbridge_io_loop_close (first, FALSE, NULL));
  g_assert_true (g_main_context_get_poll_func (context) == g_poll);
  g_assert_cmpuint (ping_pong_run (&pp2, ROUNDS), >=, ROUNDS);
  /* Closing the second, which never set it, changes nothing. */
  g_main_context_set_poll_func (context, foreign_poll);
  ping_pong_teardown (&pp2);
  g_assert_finalize_object (second);
  g_assert_true (g_main_context_get_poll_func (context) == foreign_poll);
  g_assert_finalize_object (first);
  g_main_context_unref (context);
}

/* A handler that runs a nested main loop until another descriptor's
 * handler ran: the nested iterations wait in the poll function too. */
typedef struct
{
  GbridgeIOLoop *loop;
  int            a[2];
  int            b[2];
  gboolean       b_ran;
} Nested;

static void
nested_b_handler (int fd, GbridgeIOEvents events, gpointer data)
{
  Nested *n = data;
  char c;

  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  n->b_ran = TRUE;
}

static gboolean
b_ran (gpointer data)
{
  return ((Nested *) data)->b_ran;
}

static void
nested_a_handler (int fd, GbridgeIOEvents events, gpointer data)
{
  Nested *n = data;
  char c;

  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  g_assert_cmpint (write (n->b[1], "b", 1), ==, 1);
  gbridge_test_iterate_until (gbridge_io_loop_get_context (n->loop), b_ran, n);
  gbridge_io_loop_stop (n->loop);
}

static void
test_nested (gconstpointer data)
{
  Nested n = { make_loop (data), };
  guint64 watchdog;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, n.a), ==, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, n.b), ==, 0);
  g_assert_true (gbridge_io_loop_add_handler (n.loop, n.a[0], GBRIDGE_IO_EVENTS_READ,
                                              nested_a_handler, &n, NULL, NULL));
  g_assert_true (gbridge_io_loop_add_handler (n.loop, n.b[0], GBRIDGE_IO_EVENTS_READ,
                                              nested_b_handler, &n, NULL, NULL));
  g_assert_cmpint (write (n.a[1], "a", 1), ==, 1);
  watchdog = gbridge_test_add_watchdog (n.loop, "the nested loop ran the other handler");
  g_assert_true (gbridge_io_loop_start (n.loop, NULL));
  g_assert_true (n.b_ran);
  g_assert_true (gbridge_io_loop_remove_timeout (n.loop, watchdog));
  g_assert_true (gbridge_io_loop_remove_handler (n.loop, n.a[0]));
  g_assert_true (gbridge_io_loop_remove_handler (n.loop, n.b[0]));
  drop_loop (n.loop, data);
  gbridge_test_close_pipe (n.a);
  gbridge_test_close_pipe (n.b);
}

/* Another thread's callback wakes a loop that sleeps in the poll
 * function, with a handler (so an epoll set) in place. */
static void
set_flag_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
}

static gpointer
add_callback_thread (gpointer data)
{
  GbridgeIOLoop *loop = data;
  static gboolean ran;

  g_usleep (20000);   /* most likely asleep by now; correct either way */
  gbridge_io_loop_add_callback (loop, set_flag_cb, &ran, NULL);
  return &ran;
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

static void
test_other_thread (gconstpointer data)
{
  GbridgeIOLoop *loop = make_loop (data);
  GThread *thread;
  gboolean *ran;
  PingPong pp;

  ping_pong_setup (&pp, loop);
  assert_one_wait_per_round (ping_pong_run (&pp, ROUNDS));
  thread = g_thread_new ("add-callback", add_callback_thread, loop);
  ran = g_thread_join (thread);
  /* Joined before iterating: the wake-up waits in GLib's descriptor. */
  gbridge_test_iterate_until (gbridge_io_loop_get_context (loop), flag_set, ran);
  g_assert_true (*ran);
  *ran = FALSE;

  ping_pong_teardown (&pp);
  drop_loop (loop, data);
}

static gpointer
wakeup_later_thread (gpointer data)
{
  g_usleep (20000);
  gbridge_io_loop_add_callback (data, set_flag_cb, &((gboolean *) g_object_get_data (data, "flag"))[0], NULL);
  return NULL;
}

static void
test_other_thread_asleep (gconstpointer data)
{
  GbridgeIOLoop *loop = make_loop (data);
  gboolean flag = FALSE;
  GThread *thread;
  PingPong pp;

  ping_pong_setup (&pp, loop);
  g_object_set_data (G_OBJECT (loop), "flag", &flag);
  thread = g_thread_new ("add-callback", wakeup_later_thread, loop);
  gbridge_test_iterate_until (gbridge_io_loop_get_context (loop), flag_set, &flag);
  g_assert_true (flag);
  g_thread_join (thread);
  g_object_set_data (G_OBJECT (loop), "flag", NULL);
  ping_pong_teardown (&pp);
  drop_loop (loop, data);
}

/* fork(): the child's loop leaves the poll function to g_poll() (its
 * wake-up descriptor is its own, GLib's is shared with the parent) and
 * works; the parent's loop keeps its single wait. */
static void
test_fork (void)
{
  GbridgeIOLoop *loop = gbridge_io_loop_new ();
  PingPong pp;
  pid_t pid;
  int status;

  ping_pong_setup (&pp, loop);
  assert_one_wait_per_round (ping_pong_run (&pp, ROUNDS));

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      PingPong child;
      gboolean ran = FALSE;

      ping_pong_setup (&child, loop);
      if (ping_pong_run (&child, ROUNDS) < ROUNDS)
        _exit (2);
      gbridge_io_loop_add_callback (loop, set_flag_cb, &ran, NULL);
      gbridge_test_run_pending (loop);
      _exit (ran && child.rounds == ROUNDS ? 0 : 1);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  assert_one_wait_per_round (ping_pong_run (&pp, ROUNDS));
  ping_pong_teardown (&pp);
  g_assert_finalize_object (loop);
}

/* Closing the loop gives the context its poll function back: the context
 * may outlive the loop. */
static gboolean
quit_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_close_restores (gconstpointer data)
{
  GbridgeIOLoop *loop = make_loop (data);
  GMainContext *context = g_main_context_ref (gbridge_io_loop_get_context (loop));
  gboolean fired = FALSE;
  GSource *timeout;
  PingPong pp;

  ping_pong_setup (&pp, loop);
  assert_one_wait_per_round (ping_pong_run (&pp, ROUNDS));
  ping_pong_teardown (&pp);
  g_assert_true (gbridge_io_loop_close (loop, FALSE, NULL));
  g_assert_true (g_main_context_get_poll_func (context) == g_poll);
  g_assert_finalize_object (loop);

  timeout = g_timeout_source_new (1);
  g_source_set_callback (timeout, quit_cb, &fired, NULL);
  g_source_attach (timeout, context);
  gbridge_test_iterate_until (context, flag_set, &fired);
  g_assert_true (fired);
  g_source_unref (timeout);
  g_main_context_unref (context);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/Gbridge/IOLoop/wait/one-per-wakeup/private", &private_mode, test_one_wait);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/one-per-wakeup/given", &given_mode, test_one_wait);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/one-per-wakeup/default", &default_mode, test_one_wait);
  g_test_add_func ("/Gbridge/IOLoop/wait/foreign-poll-func", test_foreign_poll_func);
  g_test_add_func ("/Gbridge/IOLoop/wait/poll-func-replaced", test_poll_func_replaced);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/other-sources/private", &private_mode, test_other_sources);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/other-sources/given", &given_mode, test_other_sources);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/other-sources/default", &default_mode, test_other_sources);
  g_test_add_func ("/Gbridge/IOLoop/wait/other-source-first", test_other_source_first);
  g_test_add_func ("/Gbridge/IOLoop/wait/two-loops", test_two_loops);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/nested/private", &private_mode, test_nested);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/nested/given", &given_mode, test_nested);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/nested/default", &default_mode, test_nested);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/other-thread/private", &private_mode, test_other_thread);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/other-thread/given", &given_mode, test_other_thread);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/other-thread/default", &default_mode, test_other_thread);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/other-thread-asleep/private", &private_mode,
                        test_other_thread_asleep);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/other-thread-asleep/given", &given_mode,
                        test_other_thread_asleep);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/other-thread-asleep/default", &default_mode,
                        test_other_thread_asleep);
  g_test_add_func ("/Gbridge/IOLoop/wait/fork", test_fork);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/close-restores/private", &private_mode,
                        test_close_restores);
  g_test_add_data_func ("/Gbridge/IOLoop/wait/close-restores/given", &given_mode,
                        test_close_restores);

  return g_test_run ();
}
