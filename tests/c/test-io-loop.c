/* test-io-loop.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <gbridge/gbridge.h>

#include "gbridge-test.h"

#include "gbridge-test-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>


typedef struct
{
  GbridgeIOLoop *loop;
  GMainContext  *context;
  GPtrArray     *log;       /* of static strings, in the order things ran */
  guint          destroyed;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->loop = gbridge_io_loop_new ();
  f->context = gbridge_io_loop_get_context (f->loop);
  f->log = g_ptr_array_new ();
  f->destroyed = 0;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_finalize_object (f->loop);
  g_ptr_array_unref (f->log);
}

#define TEST(path, func) \
  g_test_add ("/Gbridge/IOLoop/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

/* Helpers */

typedef struct
{
  Fixture    *f;
  const char *name;
} LogEntry;

static LogEntry *
log_entry (Fixture    *f,
           const char *name)
{
  LogEntry *e = g_new (LogEntry, 1);

  e->f = f;
  e->name = name;
  return e;
}

static void
log_entry_free (gpointer data)
{
  LogEntry *e = data;

  e->f->destroyed++;
  g_free (e);
}

static void
log_cb (gpointer data)
{
  LogEntry *e = data;

  g_ptr_array_add (e->f->log, (gpointer) e->name);
}

static char *
log_join (Fixture *f)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < f->log->len; i++)
    {
      if (i > 0)
        g_string_append_c (s, ' ');
      g_string_append (s, g_ptr_array_index (f->log, i));
    }
  return g_string_free (s, FALSE);
}

#define assert_log(f, expected) \
  G_STMT_START { \
    g_autofree char *__log = log_join (f); \
    g_assert_cmpstr (__log, ==, expected); \
  } G_STMT_END

static void
add_log_callback (Fixture    *f,
                  const char *name)
{
  g_assert_true (gbridge_io_loop_add_callback (f->loop, log_cb, log_entry (f, name), log_entry_free));
}

static void
stop_cb (gpointer data)
{
  gbridge_io_loop_stop (data);
}

static void
start_loop (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gbridge_io_loop_start (f->loop, &error));
  g_assert_no_error (error);
}

/* A regular file: epoll refuses it, so the loop watches it with poll(),
 * which always reports it ready. */
static int
make_regular_file (void)
{
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("gbridge-test-XXXXXX", &path, NULL);

  g_assert_cmpint (fd, >=, 0);
  g_unlink (path);
  return fd;
}

/* Callbacks */

static void
add_stop_from_timeout_cb (gpointer data)
{
  Fixture *f = data;

  /* From the loop thread, with nothing else pending: must wake by itself. */
  gbridge_io_loop_add_callback (f->loop, stop_cb, f->loop, NULL);
}

static void
test_add_callback_wakeup (Fixture       *f,
                          gconstpointer  data)
{
  gbridge_test_add_watchdog (f->loop, "add_callback from the loop did not wake it");
  gbridge_io_loop_call_later (f->loop, 0.0, add_stop_from_timeout_cb, f, NULL);
  start_loop (f);
}

static gpointer
add_stop_thread (gpointer data)
{
  g_usleep (10 * G_TIME_SPAN_MILLISECOND);
  gbridge_io_loop_add_callback (data, stop_cb, data, NULL);
  return NULL;
}

static void
test_add_callback_other_thread (Fixture       *f,
                                gconstpointer  data)
{
  GThread *thread;

  gbridge_test_add_watchdog (f->loop, "add_callback from another thread did not wake the loop");
  thread = g_thread_new ("producer", add_stop_thread, f->loop);
  start_loop (f);
  g_thread_join (thread);
}

static void
test_add_callback_fifo (Fixture       *f,
                        gconstpointer  data)
{
  add_log_callback (f, "a");
  g_assert_true (gbridge_io_loop_add_callback (f->loop, log_cb, log_entry (f, "b"), log_entry_free));
  add_log_callback (f, "c");
  gbridge_test_run_pending (f->loop);
  assert_log (f, "a b c");
  g_assert_cmpuint (f->destroyed, ==, 3);
}

static void
add_during_iteration_cb (gpointer data)
{
  Fixture *f = data;

  g_ptr_array_add (f->log, (gpointer) "first");
  add_log_callback (f, "next");
}

static void
test_add_callback_next_iteration (Fixture       *f,
                                  gconstpointer  data)
{
  gbridge_io_loop_add_callback (f->loop, add_during_iteration_cb, f, NULL);
  add_log_callback (f, "second");

  /* One iteration runs the batch queued before it, not what it adds. */
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  assert_log (f, "first second");
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  assert_log (f, "first second next");
}

/* Repeating callbacks */

typedef struct
{
  Fixture *f;
  guint    calls;
  guint    depth;
  guint    remove_at;   /* the call that returns G_SOURCE_REMOVE */
  guint    nest_at;     /* the call that iterates the context itself */
  gboolean outer_continues;
  guint    destroyed_in_call;
} Repeater;

static gboolean
repeat_cb (gpointer data)
{
  Repeater *r = data;
  guint call = ++r->calls;
  gboolean again = call < r->remove_at;

  g_ptr_array_add (r->f->log, (gpointer) "r");
  if (call == 1)
    add_log_callback (r->f, "x");
  if (call == r->nest_at)
    {
      /* A nested loop, as a modal dialog runs: it calls us again. */
      r->depth++;
      g_ptr_array_add (r->f->log, (gpointer) "(");
      g_assert_true (g_main_context_iteration (r->f->context, FALSE));
      g_ptr_array_add (r->f->log, (gpointer) ")");
      r->depth--;
      r->destroyed_in_call = r->f->destroyed;
      again = r->outer_continues;
    }
  return again;
}

static void
repeater_destroy (gpointer data)
{
  Repeater *r = data;

  g_assert_cmpuint (r->depth, ==, 0);
  r->f->destroyed++;
}

static void
test_repeating_until_remove (Fixture       *f,
                             gconstpointer  data)
{
  Repeater r = { f, 0, 0, 3, 0, FALSE, 0 };

  add_log_callback (f, "a");
  g_assert_true (gbridge_io_loop_add_repeating_callback (f->loop, repeat_cb, &r, repeater_destroy));
  add_log_callback (f, "b");

  /* Once per iteration, in its place; queued again before each call, so
   * what the first call adds ("x") comes after it on the next iteration. */
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  assert_log (f, "a r b");
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  assert_log (f, "a r b r x");
  g_assert_cmpuint (f->destroyed, ==, 3);   /* a, b and x */
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  assert_log (f, "a r b r x r");

  /* G_SOURCE_REMOVE: destroyed at once, once, and the loop goes idle. */
  g_assert_cmpuint (f->destroyed, ==, 4);
  g_assert_false (g_main_context_pending (f->context));
  g_assert_cmpuint (r.calls, ==, 3);
}

static void
test_repeating_nested (Fixture       *f,
                       gconstpointer  data)
{
  /* The nested call returns G_SOURCE_REMOVE; the outer one, returning
   * last, decides. If it removes too, the destroy-notify waits for it to
   * return; if it continues, it goes on until the third call removes it. */
  gboolean outer_continues = GPOINTER_TO_INT (data);
  Repeater r = { f, 0, 0, 2, 1, outer_continues, 0 };

  g_assert_true (gbridge_io_loop_add_repeating_callback (f->loop, repeat_cb, &r, repeater_destroy));
  gbridge_test_run_pending (f->loop);
  assert_log (f, outer_continues ? "r ( r x ) r" : "r ( r x )");
  g_assert_cmpuint (r.calls, ==, outer_continues ? 3 : 2);
  g_assert_cmpuint (r.destroyed_in_call, ==, 1);   /* x's, not ours */
  g_assert_cmpuint (f->destroyed, ==, 2);
  g_assert_false (g_main_context_pending (f->context));
}

static gboolean
stop_once_cb (gpointer data)
{
  gbridge_io_loop_stop (data);
  return G_SOURCE_REMOVE;
}

static gpointer
add_repeating_stop_thread (gpointer data)
{
  g_usleep (10 * G_TIME_SPAN_MILLISECOND);
  gbridge_io_loop_add_repeating_callback (data, stop_once_cb, data, NULL);
  return NULL;
}

static void
test_repeating_close (Fixture       *f,
                      gconstpointer  data)
{
  Repeater r = { f, 0, 0, 100, 0, FALSE, 0 };
  GThread *thread;

  /* From another thread: it wakes the loop. */
  gbridge_test_add_watchdog (f->loop,
                             "add_repeating_callback from another thread did not wake the loop");
  thread = g_thread_new ("producer", add_repeating_stop_thread, f->loop);
  start_loop (f);
  g_thread_join (thread);

  /* Closing drops one that still repeats, and one never called. */
  g_assert_true (gbridge_io_loop_add_repeating_callback (f->loop, repeat_cb, &r, repeater_destroy));
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  g_assert_true (gbridge_io_loop_add_repeating_callback (f->loop, repeat_cb, &r, repeater_destroy));
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_cmpuint (f->destroyed, ==, 3);   /* both, and the x it added */

  /* A closed loop refuses it and calls its destroy-notify. */
  g_assert_false (gbridge_io_loop_add_repeating_callback (f->loop, repeat_cb, &r, repeater_destroy));
  g_assert_cmpuint (f->destroyed, ==, 4);
  g_assert_cmpuint (r.calls, ==, 1);
}

typedef struct
{
  GbridgeIOLoop *loop;
  guint         *counts;
  guint          n;
  guint          first;
} Producer;

typedef struct
{
  guint *count;
  guint *ran;
} RaceItem;

static void
race_cb (gpointer data)
{
  RaceItem *item = data;

  (*item->ran)++;
}

static void
race_destroy (gpointer data)
{
  RaceItem *item = data;

  g_atomic_int_inc ((gint *) item->count);
  g_free (item);
}

static gpointer
race_producer (gpointer data)
{
  Producer *p = data;

  for (guint i = 0; i < p->n; i++)
    {
      RaceItem *item = g_new (RaceItem, 1);

      item->count = &p->counts[p->first + i];
      item->ran = &p->counts[p->first + i + 1000];
      gbridge_io_loop_add_callback (p->loop, race_cb, item, race_destroy);
      if (i % 50 == 0)
        g_thread_yield ();
    }
  return NULL;
}

static void
test_add_callback_race_close (Fixture       *f,
                              gconstpointer  data)
{
  /* counts[i] = destroy-notifies of callback i; counts[1000 + i] = runs. */
  guint *counts = g_new0 (guint, 2000);
  Producer producers[4];
  GThread *threads[4];
  guint ran = 0;

  for (guint t = 0; t < 4; t++)
    {
      producers[t].loop = f->loop;
      producers[t].counts = counts;
      producers[t].n = 250;
      producers[t].first = t * 250;
      threads[t] = g_thread_new ("producer", race_producer, &producers[t]);
    }

  /* Run some of them, then close while the producers are still going. */
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (f->context, FALSE);
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));

  for (guint t = 0; t < 4; t++)
    g_thread_join (threads[t]);

  for (guint i = 0; i < 1000; i++)
    {
      g_assert_cmpuint (counts[i], ==, 1);
      g_assert_cmpuint (counts[1000 + i], <=, 1);
      ran += counts[1000 + i];
    }
  g_test_message ("%u of 1000 callbacks ran before the close", ran);
  g_free (counts);
}

/* Handlers */

static void
count_destroy (gpointer data)
{
  Fixture *f = data;

  f->destroyed++;
}

static void
read_handler (int fd, GbridgeIOEvents events, gpointer data)
{
  Fixture *f = data;
  char c;

  g_assert_true (events & GBRIDGE_IO_EVENTS_READ);
  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  g_ptr_array_add (f->log, (gpointer) "read");
}

static void
test_handler_add_twice (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  int fds[2];

  gbridge_test_make_pipe (fds);
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              read_handler, f, count_destroy, &error));
  g_assert_no_error (error);
  g_assert_false (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                               read_handler, f, count_destroy, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_EXISTS);
  /* The refused registration's destroy-notify ran; the first one still works. */
  g_assert_cmpuint (f->destroyed, ==, 1);

  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  gbridge_test_run_pending (f->loop);
  assert_log (f, "read");

  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_assert_cmpuint (f->destroyed, ==, 2);
  gbridge_test_close_pipe (fds);
}

static void
test_handler_remove_without_add (Fixture       *f,
                                 gconstpointer  data)
{
  int fds[2];

  gbridge_test_make_pipe (fds);
  g_assert_false (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_assert_false (gbridge_io_loop_remove_handler (f->loop, 12345));
  gbridge_test_close_pipe (fds);
}

static void
test_handler_bad_fd (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  int fds[2];

  gbridge_test_make_pipe (fds);
  gbridge_test_close_pipe (fds);
  g_assert_false (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                               read_handler, f, count_destroy, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_BAD_FD);
  g_assert_cmpuint (f->destroyed, ==, 1);

  g_assert_false (gbridge_io_loop_update_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_WRITE, &error2));
  g_assert_error (error2, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_NOT_FOUND);
}

typedef struct
{
  Fixture *f;
  int      fds[2][2];
  guint    calls[2];
  guint    destroyed;
} RemoveOther;

static void
remove_other_destroy (gpointer data)
{
  RemoveOther *ro = data;

  ro->destroyed++;
}

static void
remove_other_handler (int fd, GbridgeIOEvents events, gpointer data)
{
  RemoveOther *ro = data;
  guint me = fd == ro->fds[0][0] ? 0 : 1;

  ro->calls[me]++;
  /* Both fds were ready in this iteration: the other must not be called. */
  g_assert_true (gbridge_io_loop_remove_handler (ro->f->loop, ro->fds[!me][0]));
  g_assert_true (gbridge_io_loop_remove_handler (ro->f->loop, fd));
}

static void
test_handler_remove_other_ready (Fixture       *f,
                                 gconstpointer  data)
{
  gboolean regular = GPOINTER_TO_INT (data);
  RemoveOther ro = { f, };

  for (guint i = 0; i < 2; i++)
    {
      if (regular)
        {
          ro.fds[i][0] = make_regular_file ();
          ro.fds[i][1] = dup (ro.fds[i][0]);
        }
      else
        {
          gbridge_test_make_pipe (ro.fds[i]);
          g_assert_cmpint (write (ro.fds[i][1], "x", 1), ==, 1);
        }
      g_assert_true (gbridge_io_loop_add_handler (f->loop, ro.fds[i][0], GBRIDGE_IO_EVENTS_READ,
                                                  remove_other_handler, &ro, remove_other_destroy, NULL));
    }
  gbridge_test_run_pending (f->loop);
  g_assert_cmpuint (ro.calls[0] + ro.calls[1], ==, 1);
  g_assert_cmpuint (ro.destroyed, ==, 2);

  for (guint i = 0; i < 2; i++)
    {
      gbridge_test_close_pipe (ro.fds[i]);
    }
}

static void
log_events_handler (int fd, GbridgeIOEvents events, gpointer data)
{
  Fixture *f = data;

  if (events & GBRIDGE_IO_EVENTS_READ)
    g_ptr_array_add (f->log, (gpointer) "R");
  if (events & GBRIDGE_IO_EVENTS_WRITE)
    g_ptr_array_add (f->log, (gpointer) "W");
  if (events & GBRIDGE_IO_EVENTS_ERROR)
    g_ptr_array_add (f->log, (gpointer) "E");
}

/* A relay: reads a byte from its fd and writes it on to @to (or, with no
 * @to, keeps it), logging @name; @add_callback also queues a callback. */
typedef struct
{
  Fixture    *f;
  const char *name;
  int         to;
  gboolean    add_callback;
} Relay;

static void
relay_handler (int fd, GbridgeIOEvents events, gpointer data)
{
  Relay *r = data;
  char c;

  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  g_ptr_array_add (r->f->log, (gpointer) r->name);
  if (r->add_callback)
    add_log_callback (r->f, "cb");
  if (r->to >= 0)
    g_assert_cmpint (write (r->to, &c, 1), ==, 1);
}

/* A timer that logs and writes a byte to @to. */
static void
relay_timer_cb (gpointer data)
{
  Relay *r = data;

  g_ptr_array_add (r->f->log, (gpointer) r->name);
  g_assert_cmpint (write (r->to, "t", 1), ==, 1);
}

static void
test_handler_ready_again (Fixture       *f,
                          gconstpointer  data)
{
  int p[2], q[2], w[2];
  Relay to_q = { f, "p", -1, FALSE };
  Relay at_q = { f, "q", -1, FALSE };
  Relay from_timer = { f, "t", -1, FALSE };
  /* The inline rounds run where GLib's wait is poll() on the epoll set:
   * where another source on the context watches a descriptor, as GTK's
   * display connection is. (Otherwise GLib's wait is the loop's
   * epoll_wait() and there are none: test-io-loop-wait.c.) */
  GMainContext *context = g_main_context_new ();
  GbridgeIOLoop *loop = gbridge_io_loop_new_for_context (context);
  GbridgeIOLoop *fixture_loop = f->loop;
  GSource *display;
  int idle[2];

  gbridge_test_make_pipe (idle);
  display = g_unix_fd_source_new (idle[0], G_IO_IN);
  g_source_attach (display, context);
  f->loop = loop;   /* for the callbacks the relays add */

  gbridge_test_make_pipe (p);
  gbridge_test_make_pipe (q);
  gbridge_test_make_pipe (w);
  to_q.to = q[1];
  g_assert_true (gbridge_io_loop_add_handler (loop, p[0], GBRIDGE_IO_EVENTS_READ,
                                              relay_handler, &to_q, NULL, NULL));
  g_assert_true (gbridge_io_loop_add_handler (loop, q[0], GBRIDGE_IO_EVENTS_READ,
                                              relay_handler, &at_q, NULL, NULL));
  /* Always writable: reported once per GLib iteration, never more. */
  g_assert_true (gbridge_io_loop_add_handler (loop, w[1], GBRIDGE_IO_EVENTS_WRITE,
                                              log_events_handler, f, NULL, NULL));

  /* What a handler makes ready is read in the same GLib iteration. */
  g_assert_cmpint (write (p[1], "x", 1), ==, 1);
  g_assert_true (g_main_context_iteration (context, FALSE));
  assert_log (f, "W p q");

  /* Not when a callback is waiting: that gets its iteration first. */
  g_ptr_array_set_size (f->log, 0);
  to_q.add_callback = TRUE;
  g_assert_cmpint (write (p[1], "x", 1), ==, 1);
  g_assert_true (g_main_context_iteration (context, FALSE));
  assert_log (f, "W p");
  g_assert_true (g_main_context_iteration (context, FALSE));
  assert_log (f, "W p cb W q");

  /* Only what descriptor handlers made ready: a byte a timer wrote is read
   * in the next GLib iteration. */
  g_ptr_array_set_size (f->log, 0);
  gbridge_io_loop_remove_handler (loop, w[1]);
  from_timer.to = q[1];
  gbridge_io_loop_call_later (loop, 0, relay_timer_cb, &from_timer, NULL);
  g_assert_true (g_main_context_iteration (context, FALSE));
  assert_log (f, "t");
  g_assert_true (g_main_context_iteration (context, FALSE));
  assert_log (f, "t q");

  /* A reader that stays ready (two bytes, one read per call): once per GLib
   * iteration too. */
  g_ptr_array_set_size (f->log, 0);
  g_assert_cmpint (write (q[1], "xy", 2), ==, 2);
  g_assert_true (g_main_context_iteration (context, FALSE));
  assert_log (f, "q");
  g_assert_true (g_main_context_iteration (context, FALSE));
  assert_log (f, "q q");

  gbridge_io_loop_remove_handler (loop, p[0]);
  gbridge_io_loop_remove_handler (loop, q[0]);
  for (guint i = 0; i < 2; i++)
    {
      close (p[i]);
      close (q[i]);
      close (w[i]);
    }
  g_source_destroy (display);
  g_source_unref (display);
  gbridge_test_close_pipe (idle);
  f->loop = fixture_loop;
  g_assert_finalize_object (loop);
  g_main_context_unref (context);
}

static void
test_handler_update (Fixture       *f,
                     gconstpointer  data)
{
  int fds[2];

  gbridge_test_make_pipe (fds);
  /* The write end of an empty pipe is writable, never readable. */
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[1], GBRIDGE_IO_EVENTS_READ,
                                              log_events_handler, f, NULL, NULL));
  gbridge_test_run_pending (f->loop);
  assert_log (f, "");

  g_assert_true (gbridge_io_loop_update_handler (f->loop, fds[1], GBRIDGE_IO_EVENTS_WRITE, NULL));
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  assert_log (f, "W");

  /* Level-triggered: still writable on the next iteration. */
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  assert_log (f, "W W");

  g_assert_true (gbridge_io_loop_update_handler (f->loop, fds[1], GBRIDGE_IO_EVENTS_NONE, NULL));
  gbridge_test_run_pending (f->loop);
  assert_log (f, "W W");

  /* Hang-up is reported as ERROR even when not asked for. */
  close (fds[0]);
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  assert_log (f, "W W E");

  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds[1]));
  close (fds[1]);
}

static void
test_handler_closed_while_registered (Fixture       *f,
                                      gconstpointer  data)
{
  int fds[2];

  gbridge_test_make_pipe (fds);
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              log_events_handler, f, count_destroy, NULL));
  gbridge_test_close_pipe (fds);

  /* epoll forgets a closed file by itself: no callback, and the loop goes
   * idle instead of spinning. The handler stays until removed. */
  gbridge_test_run_pending (f->loop);
  assert_log (f, "");
  g_assert_false (g_main_context_iteration (f->context, FALSE));
  g_assert_cmpuint (f->destroyed, ==, 0);
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_assert_cmpuint (f->destroyed, ==, 1);
}

static void
test_handler_closed_regular_file (Fixture       *f,
                                  gconstpointer  data)
{
  int fd = make_regular_file ();

  g_assert_true (gbridge_io_loop_add_handler (f->loop, fd, GBRIDGE_IO_EVENTS_READ,
                                              log_events_handler, f, count_destroy, NULL));
  close (fd);

  /* poll() reports the closed fd as invalid: one ERROR, then the handler is
   * gone, and the loop goes idle instead of spinning. */
  gbridge_test_run_pending (f->loop);
  assert_log (f, "E");
  g_assert_cmpuint (f->destroyed, ==, 1);
  g_assert_false (gbridge_io_loop_remove_handler (f->loop, fd));
  g_assert_false (g_main_context_iteration (f->context, FALSE));
}

static void
test_handler_fd_reuse (Fixture       *f,
                       gconstpointer  data)
{
  int fds[2];
  int fds2[2];

  gbridge_test_make_pipe (fds);
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              log_events_handler, f, count_destroy, NULL));
  /* Closed while registered, and the number handed out again. */
  gbridge_test_close_pipe (fds);
  gbridge_test_make_pipe (fds2);
  g_assert_cmpint (fds2[0], ==, fds[0]);
  g_assert_cmpint (write (fds2[1], "x", 1), ==, 1);

  /* The old handler never hears of the new file. */
  gbridge_test_run_pending (f->loop);
  assert_log (f, "");

  /* Removing it is fine, and the number can be registered anew. */
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_assert_cmpuint (f->destroyed, ==, 1);
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds2[0], GBRIDGE_IO_EVENTS_READ,
                                              read_handler, f, count_destroy, NULL));
  gbridge_test_run_pending (f->loop);
  assert_log (f, "read");
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds2[0]));
  g_assert_cmpuint (f->destroyed, ==, 2);

  gbridge_test_close_pipe (fds2);
}

static void
test_handler_regular_file (Fixture       *f,
                           gconstpointer  data)
{
  int fd = make_regular_file ();

  g_assert_true (gbridge_io_loop_add_handler (f->loop, fd, GBRIDGE_IO_EVENTS_READ,
                                              log_events_handler, f, count_destroy, NULL));
  /* Like poll(): a regular file is always ready. */
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  assert_log (f, "R");
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  assert_log (f, "R R");
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fd));
  g_assert_cmpuint (f->destroyed, ==, 1);
  gbridge_test_run_pending (f->loop);
  assert_log (f, "R R");
  close (fd);
}

typedef struct
{
  guint calls;
  int   fds[2];
} ManyFd;

static void
many_handler (int fd, GbridgeIOEvents events, gpointer data)
{
  ManyFd *m = data;
  char c;

  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  m->calls++;
}

static void
test_handler_many (Fixture       *f,
                   gconstpointer  data)
{
  ManyFd m[300] = { { 0, }, };
  guint rounds = 3;

  for (guint i = 0; i < G_N_ELEMENTS (m); i++)
    {
      gbridge_test_make_pipe (m[i].fds);
      g_assert_true (gbridge_io_loop_add_handler (f->loop, m[i].fds[0], GBRIDGE_IO_EVENTS_READ,
                                                  many_handler, &m[i], NULL, NULL));
    }
  /* More ready fds than one epoll_wait() batch returns. */
  for (guint r = 0; r < rounds; r++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (m); i++)
        g_assert_cmpint (write (m[i].fds[1], "x", 1), ==, 1);
      gbridge_test_run_pending (f->loop);
    }
  for (guint i = 0; i < G_N_ELEMENTS (m); i++)
    {
      g_assert_cmpuint (m[i].calls, ==, rounds);
      g_assert_true (gbridge_io_loop_remove_handler (f->loop, m[i].fds[0]));
      gbridge_test_close_pipe (m[i].fds);
    }
}

/* Timeouts */

typedef struct
{
  Fixture *f;
  guint64  other;
} RemoveTimeout;

static void
remove_timeout_cb (gpointer data)
{
  RemoveTimeout *rt = data;

  g_ptr_array_add (rt->f->log, (gpointer) "remover");
  g_assert_true (gbridge_io_loop_remove_timeout (rt->f->loop, rt->other));
}

static void
test_timeout_remove_from_timeout (Fixture       *f,
                                  gconstpointer  data)
{
  RemoveTimeout rt = { f, 0 };

  gbridge_io_loop_use_virtual_clock (f->loop, 100.0);
  /* Both due in the same iteration; the first cancels the second. */
  gbridge_io_loop_call_at (f->loop, 101.0, remove_timeout_cb, &rt, NULL);
  rt.other = gbridge_io_loop_call_at (f->loop, 101.0, log_cb, log_entry (f, "removed"), log_entry_free);
  gbridge_io_loop_advance_clock (f->loop, 5.0);
  gbridge_test_run_pending (f->loop);
  assert_log (f, "remover");
  g_assert_cmpuint (f->destroyed, ==, 1);
}

static void
test_timeout_order (Fixture       *f,
                    gconstpointer  data)
{
  gbridge_io_loop_use_virtual_clock (f->loop, 1000.0);
  g_assert_cmpfloat (gbridge_io_loop_time (f->loop), ==, 1000.0);

  gbridge_io_loop_call_at (f->loop, 1005.0, log_cb, log_entry (f, "a5"), log_entry_free);
  gbridge_io_loop_call_later (f->loop, 5.0, log_cb, log_entry (f, "b5"), log_entry_free);
  gbridge_io_loop_call_at (f->loop, 1003.0, log_cb, log_entry (f, "c3"), log_entry_free);
  gbridge_io_loop_call_at (f->loop, 1005.0, log_cb, log_entry (f, "d5"), log_entry_free);
  gbridge_io_loop_call_later (f->loop, -1.0, log_cb, log_entry (f, "now"), log_entry_free);
  gbridge_io_loop_call_at (f->loop, 1004.0, log_cb, log_entry (f, "e4"), log_entry_free);

  gbridge_test_run_pending (f->loop);
  assert_log (f, "now");

  gbridge_io_loop_advance_clock (f->loop, 3.5);
  gbridge_test_run_pending (f->loop);
  assert_log (f, "now c3");

  /* Equal deadlines run in the order they were added. */
  gbridge_io_loop_advance_clock (f->loop, 10.0);
  gbridge_test_run_pending (f->loop);
  assert_log (f, "now c3 e4 a5 b5 d5");
  g_assert_cmpuint (f->destroyed, ==, 6);
}

static void
test_timeout_remove_after_fire (Fixture       *f,
                                gconstpointer  data)
{
  guint64 handle;
  guint64 handle2;

  gbridge_io_loop_use_virtual_clock (f->loop, 0.0);
  handle = gbridge_io_loop_call_later (f->loop, 1.0, log_cb, log_entry (f, "t"), log_entry_free);
  g_assert_cmpuint (handle, !=, 0);
  gbridge_io_loop_advance_clock (f->loop, 1.0);
  gbridge_test_run_pending (f->loop);
  assert_log (f, "t");
  g_assert_cmpuint (f->destroyed, ==, 1);

  g_assert_false (gbridge_io_loop_remove_timeout (f->loop, handle));
  g_assert_false (gbridge_io_loop_remove_timeout (f->loop, 0));

  /* The slot is reused, but the stale handle does not reach the new timer. */
  handle2 = gbridge_io_loop_call_later (f->loop, 1.0, log_cb, log_entry (f, "u"), log_entry_free);
  g_assert_cmpuint (handle2, !=, handle);
  g_assert_false (gbridge_io_loop_remove_timeout (f->loop, handle));
  g_assert_true (gbridge_io_loop_remove_timeout (f->loop, handle2));
  g_assert_false (gbridge_io_loop_remove_timeout (f->loop, handle2));
  g_assert_cmpuint (f->destroyed, ==, 2);

  /* Handles stay exact in a JavaScript number. */
  g_assert_cmpuint (handle2, <, G_GUINT64_CONSTANT (1) << 53);
}

static void
test_timeout_heap (Fixture       *f,
                   gconstpointer  data)
{
  guint64 handles[2000];
  GRand *rand = g_rand_new_with_seed (7);
  double last = -1;
  guint n_run = 0;
  double *stamps = g_new0 (double, G_N_ELEMENTS (handles));

  gbridge_io_loop_use_virtual_clock (f->loop, 0.0);
  /* Random deadlines, half of them cancelled: the rest run sorted. */
  for (guint i = 0; i < G_N_ELEMENTS (handles); i++)
    {
      stamps[i] = g_rand_int_range (rand, 1, 1000);
      handles[i] = gbridge_io_loop_call_at (f->loop, stamps[i], log_cb, log_entry (f, "x"), log_entry_free);
    }
  for (guint i = 0; i < G_N_ELEMENTS (handles); i += 2)
    g_assert_true (gbridge_io_loop_remove_timeout (f->loop, handles[i]));
  g_assert_cmpuint (f->destroyed, ==, G_N_ELEMENTS (handles) / 2);

  for (guint t = 1; t <= 1000; t++)
    {
      guint before = f->log->len;

      gbridge_io_loop_advance_clock (f->loop, 1.0);
      gbridge_test_run_pending (f->loop);
      for (guint i = before; i < f->log->len; i++)
        {
          g_assert_cmpfloat (t, >=, last);
          last = t;
          n_run++;
        }
      /* Exactly the live timers with this deadline ran now. */
      {
        guint expected = 0;

        for (guint i = 1; i < G_N_ELEMENTS (handles); i += 2)
          expected += stamps[i] == t;
        g_assert_cmpuint (f->log->len - before, ==, expected);
      }
    }
  g_assert_cmpuint (n_run, ==, G_N_ELEMENTS (handles) / 2);
  g_assert_cmpuint (f->destroyed, ==, G_N_ELEMENTS (handles));
  g_rand_free (rand);
  g_free (stamps);
}

typedef struct
{
  GbridgeIOLoop *loop;
  double         deadline;
  double         fired;
} RealTimer;

static void
real_timer_cb (gpointer data)
{
  RealTimer *rt = data;

  rt->fired = gbridge_io_loop_time (rt->loop);
  gbridge_io_loop_stop (rt->loop);
}

static void
test_timeout_real_clock (Fixture       *f,
                         gconstpointer  data)
{
  RealTimer rt = { f->loop, 0, 0 };
  double before = gbridge_io_loop_time (f->loop);

  /* Monotonic, in seconds. */
  g_assert_cmpfloat (fabs (before - g_get_monotonic_time () / 1e6), <, 1.0);
  gbridge_test_add_watchdog (f->loop, "a 5 ms timer never fired");
  rt.deadline = before + 0.005;
  gbridge_io_loop_call_at (f->loop, rt.deadline, real_timer_cb, &rt, NULL);
  start_loop (f);
  /* Never early: a timeout does not run before its deadline. */
  g_assert_cmpfloat (rt.fired, >=, rt.deadline);
}

/* start / stop / close */

static void
reentrant_start_cb (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (gbridge_io_loop_is_running (f->loop));
  g_assert_false (gbridge_io_loop_start (f->loop, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_RUNNING);
  g_clear_error (&error);

  g_assert_false (gbridge_io_loop_close (f->loop, FALSE, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_RUNNING);

  g_ptr_array_add (f->log, (gpointer) "checked");
  gbridge_io_loop_stop (f->loop);
}

static void
test_start_reentrant (Fixture       *f,
                      gconstpointer  data)
{
  gbridge_test_add_watchdog (f->loop, "start re-entrancy");
  g_assert_false (gbridge_io_loop_is_running (f->loop));
  gbridge_io_loop_add_callback (f->loop, reentrant_start_cb, f, NULL);
  start_loop (f);
  g_assert_false (gbridge_io_loop_is_running (f->loop));
  assert_log (f, "checked");
}

static void
test_stop_before_start (Fixture       *f,
                        gconstpointer  data)
{
  add_log_callback (f, "pending");
  gbridge_io_loop_stop (f->loop);
  /* Returns at once, without running anything. */
  start_loop (f);
  assert_log (f, "");

  /* Only once: the next start runs until the next stop. */
  gbridge_io_loop_add_callback (f->loop, stop_cb, f->loop, NULL);
  start_loop (f);
  assert_log (f, "pending");
}

static void
test_close_destroy_notifies (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  int fds[2];
  int fds2[2];

  gbridge_test_make_pipe (fds);
  gbridge_test_make_pipe (fds2);
  add_log_callback (f, "cb");
  gbridge_io_loop_call_later (f->loop, 10, log_cb, log_entry (f, "t"), log_entry_free);
  gbridge_io_loop_call_later (f->loop, 20, log_cb, log_entry (f, "t2"), log_entry_free);
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              log_events_handler, f, count_destroy, NULL));
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds2[0], GBRIDGE_IO_EVENTS_READ,
                                              log_events_handler, f, count_destroy, NULL));

  g_assert_true (gbridge_io_loop_close (f->loop, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (gbridge_io_loop_is_closed (f->loop));
  g_assert_cmpuint (f->destroyed, ==, 5);
  assert_log (f, "");
  /* all_fds closed the registered descriptors, and only those. */
  g_assert_cmpint (fcntl (fds[0], F_GETFD), ==, -1);
  g_assert_cmpint (fcntl (fds[1], F_GETFD), !=, -1);

  /* Closing again is harmless and calls nothing twice. */
  g_assert_true (gbridge_io_loop_close (f->loop, TRUE, NULL));
  g_assert_cmpuint (f->destroyed, ==, 5);

  /* Whatever comes later is refused, and its destroy-notify still runs. */
  g_assert_false (gbridge_io_loop_add_callback (f->loop, log_cb, log_entry (f, "late"), log_entry_free));
  g_assert_cmpuint (gbridge_io_loop_call_later (f->loop, 1, log_cb, log_entry (f, "late"), log_entry_free), ==, 0);
  g_assert_false (gbridge_io_loop_add_handler (f->loop, fds[1], GBRIDGE_IO_EVENTS_WRITE,
                                               log_events_handler, f, count_destroy, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (gbridge_io_loop_start (f->loop, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_CLOSED);
  g_assert_cmpuint (f->destroyed, ==, 8);
  assert_log (f, "");

  close (fds[1]);
  close (fds2[1]);
}

static void
test_finalize_destroy_notifies (Fixture       *f,
                                gconstpointer  data)
{
  GbridgeIOLoop *loop = gbridge_io_loop_new ();
  int fds[2];

  gbridge_test_make_pipe (fds);
  gbridge_io_loop_add_callback (loop, log_cb, log_entry (f, "cb"), log_entry_free);
  gbridge_io_loop_call_later (loop, 10, log_cb, log_entry (f, "t"), log_entry_free);
  g_assert_true (gbridge_io_loop_add_handler (loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              log_events_handler, f, count_destroy, NULL));
  g_assert_finalize_object (loop);
  g_assert_cmpuint (f->destroyed, ==, 3);
  assert_log (f, "");
  /* Without all_fds, the descriptors stay open. */
  g_assert_cmpint (fcntl (fds[0], F_GETFD), !=, -1);
  gbridge_test_close_pipe (fds);
}

/* Current and default loops */

static void
check_current_cb (gpointer data)
{
  Fixture *f = data;

  g_assert_true (gbridge_io_loop_get_current () == f->loop);
  /* A private context is the thread-default one while the loop runs. */
  g_assert_true (g_main_context_get_thread_default () == f->context);
  g_ptr_array_add (f->log, (gpointer) "current");
  gbridge_io_loop_stop (f->loop);
}

static gpointer
current_thread (gpointer data)
{
  Fixture *f = data;
  GbridgeIOLoop *other = gbridge_io_loop_new ();

  /* A new thread has no current loop. */
  g_assert_null (gbridge_io_loop_get_current ());

  gbridge_io_loop_make_current (other);
  g_assert_true (gbridge_io_loop_get_current () == other);

  /* While started, the running loop is current; afterwards, the previous. */
  gbridge_io_loop_add_callback (f->loop, check_current_cb, f, NULL);
  start_loop (f);
  g_assert_true (gbridge_io_loop_get_current () == other);

  gbridge_io_loop_clear_current ();
  g_assert_null (gbridge_io_loop_get_current ());
  g_assert_finalize_object (other);

  /* Made current, a loop is kept alive by the thread until it exits. */
  gbridge_io_loop_make_current (f->loop);
  return NULL;
}

static void
test_current (Fixture       *f,
              gconstpointer  data)
{
  GThread *thread = g_thread_new ("current", current_thread, f);

  g_thread_join (thread);
  assert_log (f, "current");
}

static void
test_default (Fixture       *f,
              gconstpointer  data)
{
  GbridgeIOLoop *loop = gbridge_io_loop_get_default ();
  GbridgeIOLoop *on_default = gbridge_io_loop_new_for_context (NULL);

  g_assert_true (loop == gbridge_io_loop_get_default ());
  g_assert_true (gbridge_io_loop_get_context (loop) == g_main_context_default ());
  g_assert_true (gbridge_io_loop_get_context (on_default) == g_main_context_default ());
  g_assert_true (gbridge_io_loop_get_context (f->loop) != g_main_context_default ());

  /* A plain GMainLoop on the default context runs gbridge callbacks. */
  {
    GMainLoop *main_loop = g_main_loop_new (NULL, FALSE);

    gbridge_io_loop_add_callback (on_default, log_cb, log_entry (f, "on-default"), log_entry_free);
    gbridge_io_loop_call_later (on_default, 0.001, (GbridgeCallback) g_main_loop_quit, main_loop, NULL);
    g_main_loop_run (main_loop);
    g_main_loop_unref (main_loop);
  }
  assert_log (f, "on-default");
  g_assert_finalize_object (on_default);
}

/* Nested main loops */

typedef struct
{
  Fixture   *f;
  GMainLoop *nested;
  int        fds[2];
} Nested;

static void
nested_quit_handler (int fd, GbridgeIOEvents events, gpointer data)
{
  Nested *n = data;
  char c;

  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  g_ptr_array_add (n->f->log, (gpointer) "fd");
  gbridge_io_loop_remove_handler (n->f->loop, fd);
  g_main_loop_quit (n->nested);
}

static void
nested_timer_cb (gpointer data)
{
  Nested *n = data;

  g_ptr_array_add (n->f->log, (gpointer) "timer");
  g_assert_cmpint (write (n->fds[1], "x", 1), ==, 1);
}

static void
nested_modal_cb (gpointer data)
{
  Nested *n = data;

  g_ptr_array_add (n->f->log, (gpointer) "modal{");
  gbridge_io_loop_add_callback (n->f->loop, log_cb, log_entry (n->f, "inner-cb"), log_entry_free);
  gbridge_io_loop_call_later (n->f->loop, 0.001, nested_timer_cb, n, NULL);
  g_assert_true (gbridge_io_loop_add_handler (n->f->loop, n->fds[0], GBRIDGE_IO_EVENTS_READ,
                                              nested_quit_handler, n, NULL, NULL));
  /* As a modal dialog would. */
  g_main_loop_run (n->nested);
  g_ptr_array_add (n->f->log, (gpointer) "}");
}

static void
test_nested (Fixture       *f,
             gconstpointer  data)
{
  Nested n = { f, g_main_loop_new (f->context, FALSE), };

  gbridge_test_make_pipe (n.fds);
  gbridge_test_add_watchdog (f->loop, "nested loop starved gbridge");
  gbridge_io_loop_add_callback (f->loop, nested_modal_cb, &n, NULL);
  /* Queued in the same batch as the modal callback: must not wait for it. */
  add_log_callback (f, "same-batch");
  gbridge_io_loop_add_callback (f->loop, stop_cb, f->loop, NULL);
  start_loop (f);
  assert_log (f, "modal{ same-batch inner-cb timer fd }");
  g_main_loop_unref (n.nested);
  gbridge_test_close_pipe (n.fds);
}

/* Signals */

static void
signal_cb (int signum, gpointer data)
{
  Fixture *f = data;

  g_assert_cmpint (signum, ==, SIGUSR1);
  g_ptr_array_add (f->log, (gpointer) "SIGUSR1");
}

/* A loop that always has work still lets the lower-priority sources of its
 * context run (GTK's redraw is one): an idle source fires during a flood of
 * chained callbacks and during a storm of due timers. */
typedef struct
{
  Fixture *f;
  guint64  n_calls;
  gboolean idle_ran;
} FloodData;

static void
flood_cb (gpointer data)
{
  FloodData *d = data;

  d->n_calls++;
  if (!d->idle_ran)
    gbridge_io_loop_add_callback (d->f->loop, flood_cb, d, NULL);
}

static gboolean
flood_idle_cb (gpointer data)
{
  ((FloodData *) data)->idle_ran = TRUE;
  return G_SOURCE_REMOVE;
}

static void
flood_timer_cb (gpointer data)
{
  FloodData *d = data;

  d->n_calls++;
  if (!d->idle_ran)
    gbridge_io_loop_call_later (d->f->loop, 0, flood_timer_cb, d, NULL);
}

static void
test_fairness_lower_priority (Fixture       *f,
                              gconstpointer  data)
{
  FloodData d = { f, 0, FALSE };
  g_autoptr(GSource) idle = g_idle_source_new ();

  gbridge_test_add_watchdog (f->loop, "an idle source starved by a callback flood");
  g_source_set_callback (idle, flood_idle_cb, &d, NULL);
  g_source_attach (idle, f->context);
  gbridge_io_loop_add_callback (f->loop, flood_cb, &d, NULL);
  while (!d.idle_ran)
    g_main_context_iteration (f->context, TRUE);
  g_assert_cmpuint (d.n_calls, >, 0);

  d.idle_ran = FALSE;
  d.n_calls = 0;
  g_source_unref (idle);
  idle = g_idle_source_new ();
  g_source_set_callback (idle, flood_idle_cb, &d, NULL);
  g_source_attach (idle, f->context);
  gbridge_io_loop_call_later (f->loop, 0, flood_timer_cb, &d, NULL);
  while (!d.idle_ran)
    g_main_context_iteration (f->context, TRUE);
  g_assert_cmpuint (d.n_calls, >, 0);
  gbridge_test_run_pending (f->loop);
}

/* Yielding to lower-priority sources never leaves an iteration empty: with
 * nothing else ready, the iteration that yields still runs the loop's work
 * (callers drain with "while (g_main_context_iteration (ctx, FALSE));"). */
static void
slow_chain_cb (gpointer data)
{
  FloodData *d = data;

  g_usleep (3000);   /* longer than the loop's busy budget */
  d->n_calls++;
  if (d->n_calls < 5)
    gbridge_io_loop_add_callback (d->f->loop, slow_chain_cb, d, NULL);
}

static void
test_fairness_no_empty_iteration (Fixture       *f,
                                  gconstpointer  data)
{
  FloodData d = { f, 0, FALSE };

  gbridge_io_loop_add_callback (f->loop, slow_chain_cb, &d, NULL);
  for (guint i = 1; i <= 5; i++)
    {
      g_assert_true (g_main_context_iteration (f->context, FALSE));
      g_assert_cmpuint (d.n_calls, ==, i);
    }
  g_assert_false (g_main_context_iteration (f->context, FALSE));
}

static void
test_signal_handler (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  struct sigaction after;
  GbridgeIOLoop *other = gbridge_io_loop_new ();

  /* A disposition of our own, to be restored. */
  signal (SIGUSR1, SIG_IGN);

  g_assert_true (gbridge_io_loop_add_signal_handler (f->loop, SIGUSR1, signal_cb, f, count_destroy, &error));
  g_assert_no_error (error);

  raise (SIGUSR1);
  gbridge_test_run_pending (f->loop);
  assert_log (f, "SIGUSR1");

  /* Two deliveries before the loop looks: one call. */
  raise (SIGUSR1);
  raise (SIGUSR1);
  gbridge_test_run_pending (f->loop);
  assert_log (f, "SIGUSR1 SIGUSR1");

  /* Another loop cannot take it while this one has it. */
  g_assert_false (gbridge_io_loop_add_signal_handler (other, SIGUSR1, signal_cb, f, count_destroy, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_cmpuint (f->destroyed, ==, 1);

  /* Replacing on the same loop destroys the old handler. */
  g_assert_true (gbridge_io_loop_add_signal_handler (f->loop, SIGUSR1, signal_cb, f, count_destroy, NULL));
  g_assert_cmpuint (f->destroyed, ==, 2);

  g_assert_true (gbridge_io_loop_remove_signal_handler (f->loop, SIGUSR1));
  g_assert_cmpuint (f->destroyed, ==, 3);
  g_assert_false (gbridge_io_loop_remove_signal_handler (f->loop, SIGUSR1));
  g_assert_false (gbridge_io_loop_remove_signal_handler (other, SIGUSR1));

  sigaction (SIGUSR1, NULL, &after);
  g_assert_true (after.sa_handler == SIG_IGN);
  raise (SIGUSR1);
  gbridge_test_run_pending (f->loop);
  assert_log (f, "SIGUSR1 SIGUSR1");

  /* Now the other loop may take it. */
  g_assert_true (gbridge_io_loop_add_signal_handler (other, SIGUSR1, signal_cb, f, count_destroy, NULL));
  g_assert_finalize_object (other);
  g_assert_cmpuint (f->destroyed, ==, 4);
  sigaction (SIGUSR1, NULL, &after);
  g_assert_true (after.sa_handler == SIG_IGN);
  signal (SIGUSR1, SIG_DFL);
}

static void
test_signal_invalid (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (gbridge_io_loop_add_signal_handler (f->loop, SIGKILL, signal_cb, f, count_destroy, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_INVALID_SIGNAL);
  g_clear_error (&error);
  g_assert_false (gbridge_io_loop_add_signal_handler (f->loop, 0, signal_cb, f, count_destroy, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_INVALID_SIGNAL);
  g_assert_cmpuint (f->destroyed, ==, 2);
}

static GbridgeIOLoop *signal_target;
static Fixture *signal_fixture;

static void
from_signal_cb (gpointer data)
{
  g_ptr_array_add (signal_fixture->log, data);
}

static void
plain_signal_handler (int signum)
{
  /* Runs in signal context: nothing but async-signal-safe calls. */
  gbridge_io_loop_add_callback_from_signal (signal_target, from_signal_cb, (gpointer) "from-signal");
}

static void
test_add_callback_from_signal (Fixture       *f,
                               gconstpointer  data)
{
  struct sigaction action = { 0, }, previous;

  signal_target = f->loop;
  signal_fixture = f;
  action.sa_handler = plain_signal_handler;
  sigemptyset (&action.sa_mask);
  sigaction (SIGUSR2, &action, &previous);

  gbridge_test_add_watchdog (f->loop, "callback from a signal handler never ran");
  raise (SIGUSR2);
  gbridge_io_loop_add_callback (f->loop, log_cb, log_entry (f, "after"), log_entry_free);
  g_assert_true (g_main_context_iteration (f->context, TRUE));
  assert_log (f, "after from-signal");

  /* The ring holds 256; more are refused, not lost silently. */
  for (guint i = 0; i < 256; i++)
    g_assert_true (gbridge_io_loop_add_callback_from_signal (f->loop, from_signal_cb, (gpointer) "r"));
  g_assert_false (gbridge_io_loop_add_callback_from_signal (f->loop, from_signal_cb, (gpointer) "r"));
  gbridge_test_run_pending (f->loop);
  g_assert_cmpuint (f->log->len, ==, 2 + 256);
  g_assert_true (gbridge_io_loop_add_callback_from_signal (f->loop, from_signal_cb, (gpointer) "r"));
  gbridge_test_run_pending (f->loop);
  g_assert_cmpuint (f->log->len, ==, 2 + 257);

  sigaction (SIGUSR2, &previous, NULL);
}

/* Translations */

/* The language to test, and a word of each of its two messages. */
typedef struct
{
  const char *locale;
  const char *exists_word;
  const char *closed_word;
} Translation;

static const Translation german = { "de_DE.UTF-8", "Dateideskriptor", "geschlossen" };
static const Translation french = { "fr_FR.UTF-8", "descripteur de fichier", "fermée" };

static void
test_translated_error (Fixture       *f,
                       gconstpointer  data)
{
  const Translation *t = data;
  g_autofree char *exists_pattern = g_strdup_printf ("*%s*", t->exists_word);
  g_autofree char *closed_pattern = g_strdup_printf ("*%s*", t->closed_word);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  int fds[2];

  if (!gbridge_test_have_locales ())
    return;

  gbridge_test_make_pipe (fds);
  if (g_test_subprocess ())
    {
      gbridge_test_use_locale (t->locale);

      gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ, log_events_handler, f, NULL, NULL);
      gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ, log_events_handler, f, NULL, &error);
      g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_EXISTS);
      g_print ("%s\n", error->message);
      gbridge_io_loop_close (f->loop, FALSE, NULL);
      gbridge_io_loop_start (f->loop, &error2);
      g_print ("%s\n", error2->message);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout_unmatched ("*already has a handler*");
  g_test_trap_assert_stdout (exists_pattern);
  g_test_trap_assert_stdout (closed_pattern);
  gbridge_test_close_pipe (fds);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  TEST ("add-callback/wakeup", test_add_callback_wakeup);
  TEST ("add-callback/other-thread", test_add_callback_other_thread);
  TEST ("add-callback/fifo", test_add_callback_fifo);
  TEST ("add-callback/next-iteration", test_add_callback_next_iteration);
  TEST ("add-callback/race-close", test_add_callback_race_close);
  TEST ("add-callback/from-signal", test_add_callback_from_signal);
  TEST ("repeating/until-remove", test_repeating_until_remove);
  g_test_add ("/Gbridge/IOLoop/repeating/nested", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_repeating_nested, fixture_teardown);
  g_test_add ("/Gbridge/IOLoop/repeating/nested-outer-continues", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_repeating_nested, fixture_teardown);
  TEST ("repeating/close", test_repeating_close);
  TEST ("handler/add-twice", test_handler_add_twice);
  TEST ("handler/remove-without-add", test_handler_remove_without_add);
  TEST ("handler/bad-fd", test_handler_bad_fd);
  g_test_add ("/Gbridge/IOLoop/handler/remove-other-ready/epoll", Fixture, GINT_TO_POINTER (0),
              fixture_setup, test_handler_remove_other_ready, fixture_teardown);
  g_test_add ("/Gbridge/IOLoop/handler/remove-other-ready/poll", Fixture, GINT_TO_POINTER (1),
              fixture_setup, test_handler_remove_other_ready, fixture_teardown);
  TEST ("handler/update", test_handler_update);
  TEST ("handler/ready-again", test_handler_ready_again);
  TEST ("handler/closed-while-registered", test_handler_closed_while_registered);
  TEST ("handler/closed-regular-file", test_handler_closed_regular_file);
  TEST ("handler/fd-reuse", test_handler_fd_reuse);
  TEST ("handler/regular-file", test_handler_regular_file);
  TEST ("handler/many", test_handler_many);
  TEST ("timeout/remove-from-timeout", test_timeout_remove_from_timeout);
  TEST ("timeout/order", test_timeout_order);
  TEST ("timeout/remove-after-fire", test_timeout_remove_after_fire);
  TEST ("timeout/heap", test_timeout_heap);
  TEST ("timeout/real-clock", test_timeout_real_clock);
  TEST ("start/reentrant", test_start_reentrant);
  TEST ("start/stop-before-start", test_stop_before_start);
  TEST ("close/destroy-notifies", test_close_destroy_notifies);
  TEST ("close/finalize", test_finalize_destroy_notifies);
  TEST ("current", test_current);
  TEST ("default", test_default);
  TEST ("nested", test_nested);
  TEST ("fairness/lower-priority", test_fairness_lower_priority);
  TEST ("fairness/no-empty-iteration", test_fairness_no_empty_iteration);
  TEST ("signal/handler", test_signal_handler);
  TEST ("signal/invalid", test_signal_invalid);
  g_test_add ("/Gbridge/IOLoop/translated-error/de", Fixture, &german,
              fixture_setup, test_translated_error, fixture_teardown);
  g_test_add ("/Gbridge/IOLoop/translated-error/fr", Fixture, &french,
              fixture_setup, test_translated_error, fixture_teardown);

  return g_test_run ();
}
