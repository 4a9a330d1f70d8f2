/* test-io-loop-limits.c: GbridgeIOLoop at the edges, the virtual clock's
 * range and creating a loop without a free file descriptor
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
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

/* G_MAXINT64 / 2 microseconds, in seconds: where the virtual clock stops. */
#define CLOCK_MAX ((double) (G_MAXINT64 / 2) / G_USEC_PER_SEC)

static void
count_cb (gpointer data)
{
  (*(guint *) data)++;
}

/* Advancing by huge steps saturates at the documented maximum: the time
 * never wraps to a negative value, and timeouts still run in order. */
static void
test_virtual_clock_saturates (void)
{
  GbridgeIOLoop *loop = gbridge_io_loop_new ();
  guint early = 0;
  guint late = 0;

  gbridge_io_loop_use_virtual_clock (loop, 0);
  gbridge_io_loop_call_at (loop, 1e6, count_cb, &early, NULL);

  for (int i = 0; i < 3; i++)
    {
      gbridge_io_loop_advance_clock (loop, 1e300);
      g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, CLOCK_MAX);
    }
  gbridge_test_run_pending (loop);
  g_assert_cmpuint (early, ==, 1);

  gbridge_io_loop_advance_clock (loop, INFINITY);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, CLOCK_MAX);

  /* From the far past (clamped to G_MININT64 / 2 microseconds, one more
   * than -CLOCK_MAX), the largest step is exact, and the next saturates. */
  gbridge_io_loop_use_virtual_clock (loop, -1e300);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==,
                     (double) (G_MININT64 / 2) / G_USEC_PER_SEC);
  gbridge_io_loop_advance_clock (loop, 1e300);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, -1.0 / G_USEC_PER_SEC);
  gbridge_io_loop_advance_clock (loop, 1e300);
  gbridge_io_loop_advance_clock (loop, 1e300);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, CLOCK_MAX);

  /* An ordinary step still moves it exactly. */
  gbridge_io_loop_use_virtual_clock (loop, 1000);
  gbridge_io_loop_call_later (loop, 2.5, count_cb, &late, NULL);
  gbridge_io_loop_advance_clock (loop, 2.5);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, 1002.5);
  gbridge_test_run_pending (loop);
  g_assert_cmpuint (late, ==, 1);

  g_assert_finalize_object (loop);
}

/* The clock only goes forward: a negative or NaN step is a programmer
 * error, and the clock stays where it was. */
static void
test_virtual_clock_negative_step (void)
{
  GbridgeIOLoop *loop = gbridge_io_loop_new ();

  gbridge_io_loop_use_virtual_clock (loop, 10);

  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*seconds >= 0*");
  gbridge_io_loop_advance_clock (loop, -1);
  g_test_assert_expected_messages ();
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, 10);

  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*seconds >= 0*");
  gbridge_io_loop_advance_clock (loop, -INFINITY);
  g_test_assert_expected_messages ();
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, 10);

  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*seconds >= 0*");
  gbridge_io_loop_advance_clock (loop, NAN);
  g_test_assert_expected_messages ();
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, 10);

  /* Zero is a step too, of nothing. */
  gbridge_io_loop_advance_clock (loop, 0);
  g_assert_cmpfloat (gbridge_io_loop_time (loop), ==, 10);

  g_assert_finalize_object (loop);
}

static void
test_new_full (void)
{
  g_autoptr(GError) error = NULL;
  GMainContext *context = g_main_context_new ();
  GbridgeIOLoop *loop;

  /* NULL: a private context, as gbridge_io_loop_new(). */
  loop = gbridge_io_loop_new_full (NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loop);
  g_assert_true (gbridge_io_loop_get_context (loop) != g_main_context_default ());
  g_assert_finalize_object (loop);

  loop = gbridge_io_loop_new_full (context, &error);
  g_assert_no_error (error);
  g_assert_true (gbridge_io_loop_get_context (loop) == context);
  g_assert_finalize_object (loop);
  g_main_context_unref (context);
}

/* Takes every file descriptor the process may still open, in the order
 * opened (lowest first). */
static GArray *
exhaust_fds (void)
{
  GArray *fds = g_array_new (FALSE, FALSE, sizeof (int));
  struct rlimit limit;
  int fd;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  limit.rlim_cur = MIN (limit.rlim_max, (rlim_t) 256);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);

  while ((fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
    g_array_append_val (fds, fd);
  g_assert_cmpint (errno, ==, EMFILE);
  g_assert_cmpuint (fds->len, >, 0);
  return fds;
}

/* Gives the descriptors back: the sanitizers need some at exit. */
static void
release_fds (GArray *fds)
{
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  g_array_unref (fds);
}

static void
test_new_full_emfile (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      GMainContext *context = g_main_context_new ();
      GbridgeIOLoop *loop;
      GArray *fds;

      fds = exhaust_fds ();

      loop = gbridge_io_loop_new_full (NULL, &error);
      g_assert_null (loop);
      g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_FAILED);
      /* The message says what failed and why. */
      g_assert_nonnull (strstr (error->message, g_strerror (EMFILE)));
      g_clear_error (&error);

      /* A loop on an existing context opens nothing: it still works. */
      loop = gbridge_io_loop_new_full (context, &error);
      g_assert_no_error (error);
      g_assert_finalize_object (loop);

      /* With one descriptor back, a private loop can be made again. */
      close (g_array_index (fds, int, 0));
      g_array_remove_index (fds, 0);
      loop = gbridge_io_loop_new_full (NULL, &error);
      g_assert_no_error (error);
      g_assert_finalize_object (loop);
      g_main_context_unref (context);
      release_fds (fds);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* The message is translated. */
typedef struct
{
  const char *locale;
  const char *word;
} Translation;

static void
test_new_full_emfile_translated (gconstpointer data)
{
  const Translation *t = data;
  g_autofree char *pattern = g_strdup_printf ("*%s*", t->word);

  if (!gbridge_test_have_locales ())
    return;

  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      GArray *fds;

      gbridge_test_use_locale (t->locale);
      /* gettext opens the catalogue at the first lookup, which needs a
       * descriptor too: an application has looked up messages by then. */
      g_assert_cmpstr (_("The loop is closed"), !=, "The loop is closed");
      fds = exhaust_fds ();
      g_assert_null (gbridge_io_loop_new_full (NULL, &error));
      release_fds (fds);
      g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_FAILED);
      g_print ("%s\n", error->message);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout_unmatched ("*Cannot create*");
  g_test_trap_assert_stdout (pattern);
}

/* Fairness with more ready descriptors than one epoll_wait() returns (256
 * at a time): 5,000 descriptors that stay ready (their handlers never read)
 * are each served within the first ceil (5000 / 256) + 1 iterations, and
 * none starves later: round-robin, as epoll hands level-triggered events
 * back to the end of its ready list. */

#define N_READY 5000

typedef struct
{
  guint *served;
  guint *first;
  guint  iteration;
} Fairness;

static Fairness fairness;

static void
fairness_handler (int             fd,
                  GbridgeIOEvents events,
                  gpointer        data)
{
  guint i = GPOINTER_TO_UINT (data);

  if (fairness.served[i]++ == 0)
    fairness.first[i] = fairness.iteration;
}

static void
test_many_ready_fds_fairness (void)
{
  GbridgeIOLoop *loop;
  GMainContext *context;
  struct rlimit rl;
  int fds[N_READY];
  guint last_first = 0, fewest = G_MAXUINT;
  guint bound = (N_READY + 255) / 256 + 1;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  if (rl.rlim_cur < N_READY + 100)
    {
      rl.rlim_cur = MIN (rl.rlim_max, (rlim_t) N_READY + 100);
      if (rl.rlim_cur < N_READY + 100 || setrlimit (RLIMIT_NOFILE, &rl) != 0)
        {
          g_test_skip ("fewer than 5,100 descriptors allowed");
          return;
        }
    }

  loop = gbridge_io_loop_new ();
  context = gbridge_io_loop_get_context (loop);
  fairness.served = g_new0 (guint, N_READY);
  fairness.first = g_new0 (guint, N_READY);
  fairness.iteration = 0;
  for (guint i = 0; i < N_READY; i++)
    {
      g_autoptr(GError) error = NULL;

      fds[i] = eventfd (1, EFD_CLOEXEC | EFD_NONBLOCK);   /* readable until read */
      g_assert_cmpint (fds[i], >=, 0);
      g_assert_true (gbridge_io_loop_add_handler (loop, fds[i], GBRIDGE_IO_EVENTS_READ,
                                                  fairness_handler, GUINT_TO_POINTER (i),
                                                  NULL, &error));
      g_assert_no_error (error);
    }

  for (fairness.iteration = 1; fairness.iteration <= 3 * bound; fairness.iteration++)
    g_main_context_iteration (context, FALSE);

  for (guint i = 0; i < N_READY; i++)
    {
      g_assert_cmpuint (fairness.served[i], >, 0);
      last_first = MAX (last_first, fairness.first[i]);
      fewest = MIN (fewest, fairness.served[i]);
    }
  g_test_message ("every descriptor first served by iteration %u (bound %u); "
                  "each served at least %u times in %u iterations",
                  last_first, bound, fewest, 3 * bound);
  g_assert_cmpuint (last_first, <=, bound);
  g_assert_cmpuint (fewest, >=, 2);

  for (guint i = 0; i < N_READY; i++)
    {
      gbridge_io_loop_remove_handler (loop, fds[i]);
      close (fds[i]);
    }
  g_free (fairness.served);
  g_free (fairness.first);
  g_assert_finalize_object (loop);
}

int
main (int   argc,
      char *argv[])
{
  static const Translation german = { "de_DE.UTF-8", "Hauptkontext" };
  static const Translation french = { "fr_FR.UTF-8", "contexte principal" };

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Gbridge/IOLoop/virtual-clock/saturates", test_virtual_clock_saturates);
  g_test_add_func ("/Gbridge/IOLoop/virtual-clock/negative-step", test_virtual_clock_negative_step);
  g_test_add_func ("/Gbridge/IOLoop/many-ready-fds/fairness", test_many_ready_fds_fairness);
  g_test_add_func ("/Gbridge/IOLoop/new-full", test_new_full);
  g_test_add_func ("/Gbridge/IOLoop/new-full/emfile", test_new_full_emfile);
  g_test_add_data_func ("/Gbridge/IOLoop/new-full/emfile/translated/de", &german,
                        test_new_full_emfile_translated);
  g_test_add_data_func ("/Gbridge/IOLoop/new-full/emfile/translated/fr", &french,
                        test_new_full_emfile_translated);

  return g_test_run ();
}
