/* test-fuzz-regressions.c: what test-fuzz found, made small and deterministic
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each test runs in a subprocess, since on a broken build it crashes. They
 * need none of test-fuzz's model, so they live apart from it.
 */

#define _GNU_SOURCE  /* dup3 () */

#include "config.h"

#include <gbridge/gbridge.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void
count_call (int             fd,
            GbridgeIOEvents events,
            gpointer        data)
{
  guint *calls = data;

  (*calls)++;
}

/* Counts calls in data[0], and the calls that reported READ in data[1]. */
static void
count_read_call (int             fd,
                 GbridgeIOEvents events,
                 gpointer        data)
{
  guint *calls = data;

  calls[0]++;
  if (events & GBRIDGE_IO_EVENTS_READ)
    calls[1]++;
}

static void
run_in_subprocess (GTestFunc body)
{
  if (g_test_subprocess ())
    {
      body ();
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* GBRIDGE_FUZZ_CLOSED_OPS: remove_handler() and update_handler() on a closed
 * loop read the fd table close() freed (a NULL dereference). A destroy-notify
 * run by close() that removes another handler hits the same. */
static void
closed_loop_ops_body (void)
{
  g_autoptr (GError) error = NULL;
  GbridgeIOLoop *loop = gbridge_io_loop_new ();
  int sv[2];

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  g_assert_true (gbridge_io_loop_add_handler (loop, sv[0], GBRIDGE_IO_EVENTS_READ,
                                              count_call, NULL, NULL, NULL));
  g_assert_true (gbridge_io_loop_close (loop, FALSE, NULL));

  g_assert_false (gbridge_io_loop_remove_handler (loop, sv[0]));
  g_assert_false (gbridge_io_loop_update_handler (loop, sv[0], GBRIDGE_IO_EVENTS_WRITE,
                                                  &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == GBRIDGE_IO_LOOP_ERROR);

  g_assert_finalize_object (loop);
  close (sv[0]);
  close (sv[1]);
}

static void
test_regression_closed_loop_ops (void)
{
  run_in_subprocess (closed_loop_ops_body);
}

/* GBRIDGE_FUZZ_FD_REUSE: a watched socket is dup'd, its number closed and its
 * handler removed; the kernel keeps the epoll registration of (number, file)
 * alive through the dup. When the same file gets the number back, adding a
 * handler for it fails with EEXIST. */
static void
readd_after_dup_close_body (void)
{
  g_autoptr (GError) error = NULL;
  GbridgeIOLoop *loop = gbridge_io_loop_new ();
  GMainContext *context = gbridge_io_loop_get_context (loop);
  guint calls = 0;
  int sv[2], copy, again;

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
  g_assert_true (gbridge_io_loop_add_handler (loop, sv[0], GBRIDGE_IO_EVENTS_READ,
                                              count_call, &calls, NULL, NULL));
  copy = fcntl (sv[0], F_DUPFD_CLOEXEC, 0);
  g_assert_cmpint (copy, >=, 0);
  g_assert_no_errno (close (sv[0]));
  g_assert_true (gbridge_io_loop_remove_handler (loop, sv[0]));
  again = dup3 (copy, sv[0], O_CLOEXEC);
  g_assert_cmpint (again, ==, sv[0]);

  gbridge_io_loop_add_handler (loop, sv[0], GBRIDGE_IO_EVENTS_READ,
                               count_call, &calls, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (write (sv[1], "x", 1), ==, 1);
  for (guint i = 0; i < 5 && calls == 0; i++)
    g_main_context_iteration (context, FALSE);
  g_assert_cmpuint (calls, >, 0);

  g_assert_true (gbridge_io_loop_close (loop, FALSE, NULL));
  g_assert_finalize_object (loop);
  close (sv[0]);
  close (sv[1]);
  close (copy);
}

static void
test_regression_readd_after_dup_close (void)
{
  run_in_subprocess (readd_after_dup_close_body);
}

/* GBRIDGE_FUZZ_FD_REUSE: a descriptor the loop polls (epoll refuses
 * /dev/null) is closed while registered and its number taken by a socket
 * with data: the old handler is called with READ for the socket's data. The
 * documentation promises it never is. */
static void
polled_number_reused_body (void)
{
  GbridgeIOLoop *loop = gbridge_io_loop_new ();
  GMainContext *context = gbridge_io_loop_get_context (loop);
  guint calls[2] = { 0, 0 };
  int null_fd, sv[2], taken;

  null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (null_fd, >=, 0);
  g_assert_true (gbridge_io_loop_add_handler (loop, null_fd, GBRIDGE_IO_EVENTS_READ,
                                              count_read_call, calls, NULL, NULL));
  g_assert_no_errno (close (null_fd));
  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
  /* The socket takes the number: it usually does by itself. */
  taken = sv[0];
  if (taken != null_fd)
    {
      taken = dup3 (sv[0], null_fd, O_CLOEXEC);
      g_assert_cmpint (taken, ==, null_fd);
      g_assert_no_errno (close (sv[0]));
    }
  g_assert_cmpint (write (sv[1], "x", 1), ==, 1);

  for (guint i = 0; i < 5; i++)
    g_main_context_iteration (context, FALSE);
  /* At most the ERROR for the closed number; never the new file's READ. */
  g_assert_cmpuint (calls[1], ==, 0);
  g_assert_cmpuint (calls[0], <=, 1);

  gbridge_io_loop_remove_handler (loop, null_fd);
  g_assert_true (gbridge_io_loop_close (loop, FALSE, NULL));
  g_assert_finalize_object (loop);
  close (taken);
  close (sv[1]);
}

static void
test_regression_polled_number_reused (void)
{
  run_in_subprocess (polled_number_reused_body);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Gbridge/Fuzz/regression/closed-loop-ops",
                   test_regression_closed_loop_ops);
  g_test_add_func ("/Gbridge/Fuzz/regression/readd-after-dup-close",
                   test_regression_readd_after_dup_close);
  g_test_add_func ("/Gbridge/Fuzz/regression/polled-number-reused",
                   test_regression_polled_number_reused);

  return g_test_run ();
}
