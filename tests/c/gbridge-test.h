/* gbridge-test.h: helpers every C test program shares
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <unistd.h>

#include <gbridge/gbridge.h>
#include <glib-unix.h>

/* Dispatches what is ready on @loop's context, without blocking, until
 * nothing is. */
static inline void
gbridge_test_run_pending (GbridgeIOLoop *loop)
{
  GMainContext *context = gbridge_io_loop_get_context (loop);

  while (g_main_context_iteration (context, FALSE))
    ;
}

/* A non-blocking, close-on-exec pipe: @fds[0] reads, @fds[1] writes. */
static inline void
gbridge_test_make_pipe (int fds[2])
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  g_assert_true (g_unix_set_fd_nonblocking (fds[0], TRUE, NULL));
  g_assert_true (g_unix_set_fd_nonblocking (fds[1], TRUE, NULL));
}

static inline void
gbridge_test_close_pipe (int fds[2])
{
  close (fds[0]);
  close (fds[1]);
}

static inline void
gbridge_test_watchdog_cb (gpointer data)
{
  g_error ("watchdog: %s", (const char *) data);
}

/* A far-away timer on @loop that aborts the test, saying @what did not
 * happen, if the loop hangs: a guard, not a timing assertion. */
static inline guint64
gbridge_test_add_watchdog (GbridgeIOLoop *loop,
                           const char    *what)
{
  return gbridge_io_loop_call_later (loop, 30.0, gbridge_test_watchdog_cb, (gpointer) what, NULL);
}

static inline gboolean
gbridge_test_guard_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates @context, blocking, until @done (@data) or a generous guard
 * expires (not a timing assertion: a broken loop would otherwise hang the
 * test; the caller's assertions then fail). */
static inline void
gbridge_test_iterate_until (GMainContext *context,
                            gboolean     (*done) (gpointer),
                            gpointer       data)
{
  gboolean expired = FALSE;
  GSource *guard = g_timeout_source_new_seconds (10);

  g_source_set_callback (guard, gbridge_test_guard_cb, &expired, NULL);
  g_source_attach (guard, context);
  while (!expired && !done (data))
    g_main_context_iteration (context, TRUE);
  g_source_destroy (guard);
  g_source_unref (guard);
}

static inline void
gbridge_test_set_flag_cb (GbridgeFuture *future,
                          gpointer       data)
{
  *(gboolean *) data = TRUE;
}

/* Iterates @context until a done-callback saw @future done: the callback is
 * what wakes the loop when another thread completes the future. */
static inline void
gbridge_test_iterate_until_done (GMainContext  *context,
                                 GbridgeFuture *future)
{
  gboolean done = FALSE;

  gbridge_future_add_done_callback (future, gbridge_test_set_flag_cb, &done, NULL);
  while (!done)
    g_main_context_iteration (context, TRUE);
}
