/* bench-timerfd.c: the floor for timer lateness, no loop at all: one
 * timerfd armed at the deadline and one blocking poll() on it. No loop can
 * wake up more precisely than this on the same machine.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "bench-common.h"

#include <errno.h>
#include <poll.h>
#include <sys/timerfd.h>
#include <unistd.h>

static char *
timerfd_version (void)
{
  return g_strdup ("timerfd + poll");
}

static void
timerfd_lateness (const guint *delay_ms,
                  gint64      *lateness_us,
                  guint        n)
{
  int fd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC);
  guint i;

  if (fd < 0)
    bench_fail ("timerfd_create: %s", g_strerror (errno));

  for (i = 0; i < n; i++)
    {
      /* g_get_monotonic_time() reads CLOCK_MONOTONIC too. */
      gint64 deadline = g_get_monotonic_time () + delay_ms[i] * 1000;
      struct itimerspec its = { { 0, 0 }, { 0, 0 } };
      struct pollfd pfd = { fd, POLLIN, 0 };
      guint64 expirations;

      its.it_value.tv_sec = deadline / G_USEC_PER_SEC;
      its.it_value.tv_nsec = (deadline % G_USEC_PER_SEC) * 1000;
      if (timerfd_settime (fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        bench_fail ("timerfd_settime: %s", g_strerror (errno));
      while (poll (&pfd, 1, -1) < 0)
        if (errno != EINTR)
          bench_fail ("poll: %s", g_strerror (errno));
      lateness_us[i] = g_get_monotonic_time () - deadline;
      if (read (fd, &expirations, sizeof expirations) != sizeof expirations)
        bench_fail ("read (timerfd): %s", g_strerror (errno));
    }
  close (fd);
}

static const BenchImpl timerfd_impl = {
  .name = "timerfd",
  .version = timerfd_version,
  .lateness = timerfd_lateness,
};

int
main (int    argc,
      char **argv)
{
  return bench_main (argc, argv, &timerfd_impl);
}
