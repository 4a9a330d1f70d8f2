/* bench-resolver.c: N concurrent lookups through a GbridgeResolver, c-ares
 * or threaded, on one loop; prints the wall time and the most threads the
 * process had while the lookups were in flight.
 *
 * usage: bench-resolver ares|threaded N [SERVERS]
 *
 * The names are n0000.test ... n<N-1>.test; bench/resolver-run serves them
 * with dnsmasq and points both resolvers at it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gbridge/gbridge.h>

#include <dirent.h>
#include <stdlib.h>

typedef struct
{
  GbridgeIOLoop *loop;
  guint          pending;
  guint          resolved;
  guint          failed;
  guint          threads_max;
} Run;

static guint
count_threads (void)
{
  DIR *dir = opendir ("/proc/self/task");
  guint n = 0;
  struct dirent *entry;

  if (dir == NULL)
    return 0;
  while ((entry = readdir (dir)) != NULL)
    if (entry->d_name[0] != '.')
      n++;
  closedir (dir);
  return n;
}

static void
sample_threads (gpointer user_data)
{
  Run *run = user_data;

  run->threads_max = MAX (run->threads_max, count_threads ());
}

static void
on_done (GbridgeFuture *future,
         gpointer       user_data)
{
  Run *run = user_data;

  if (gbridge_future_get_state (future) == GBRIDGE_FUTURE_STATE_RESOLVED)
    run->resolved++;
  else
    run->failed++;
  if (--run->pending == 0)
    gbridge_io_loop_stop (run->loop);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GbridgeResolver) resolver = NULL;
  g_autoptr(GbridgePeriodicCallback) sampler = NULL;
  g_autoptr(GError) error = NULL;
  Run run = { 0 };
  gint64 start, end;
  guint n;

  if (argc < 3 || (g_strcmp0 (argv[1], "ares") != 0 && g_strcmp0 (argv[1], "threaded") != 0))
    {
      g_printerr ("usage: %s ares|threaded N [SERVERS]\n", argv[0]);
      return 2;
    }
  n = (guint) strtoul (argv[2], NULL, 10);

  run.loop = gbridge_io_loop_new ();
  gbridge_io_loop_make_current (run.loop);
  if (g_str_equal (argv[1], "ares"))
    resolver = GBRIDGE_RESOLVER (gbridge_ares_resolver_new (run.loop, argc > 3 ? argv[3] : NULL,
                                                            &error));
  else
    resolver = GBRIDGE_RESOLVER (gbridge_threaded_resolver_new (run.loop));
  if (resolver == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  /* Every millisecond, while the lookups run. */
  sampler = gbridge_periodic_callback_new (run.loop, 0.001, sample_threads, &run, NULL);
  run.threads_max = count_threads ();

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("n%04u.test", i);
      g_autoptr(GbridgeFuture) future =
        gbridge_resolver_resolve (resolver, name, 80, G_SOCKET_FAMILY_IPV4, 60);

      run.pending++;
      gbridge_future_add_done_callback (future, on_done, &run, NULL);
    }
  sample_threads (&run);
  gbridge_periodic_callback_start (sampler);
  if (run.pending > 0 && !gbridge_io_loop_start (run.loop, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  end = g_get_monotonic_time ();
  gbridge_periodic_callback_stop (sampler);

  if (run.resolved != n)
    {
      g_printerr ("%u of %u lookups failed\n", run.failed, n);
      return 1;
    }
  g_print ("wall_ms=%.3f threads_max=%u resolved=%u\n",
           (end - start) / 1000.0, run.threads_max, run.resolved);
  return 0;
}
