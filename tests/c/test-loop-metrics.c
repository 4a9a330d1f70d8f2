/* test-loop-metrics.c: what a GbridgeIOLoop measures about itself
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Counters are asserted exactly. Times are asserted only with bounds that
 * hold on a loaded machine (and under valgrind): a busy-wait of 0.6 s is
 * "busy", a wait of 0.6 s in poll() is "idle", whatever else runs.
 */

#include "config.h"

#include <gbridge/gbridge.h>

#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct
{
  GbridgeIOLoop *loop;
  GMainContext  *context;
  GPtrArray     *slow_names;
  GArray        *slow_durations;
  guint          notified;
  double         value;
  double         value2;
  guint          count;
} Fixture;

static void
on_slow_callback (GbridgeIOLoop *loop,
                  const char    *name,
                  double         duration,
                  gpointer       user_data)
{
  Fixture *f = user_data;

  g_assert_true (loop == f->loop);
  g_ptr_array_add (f->slow_names, g_strdup (name));
  g_array_append_val (f->slow_durations, duration);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->loop = gbridge_io_loop_new ();
  f->context = gbridge_io_loop_get_context (f->loop);
  f->slow_names = g_ptr_array_new_with_free_func (g_free);
  f->slow_durations = g_array_new (FALSE, FALSE, sizeof (double));
  f->notified = 0;
  f->value = f->value2 = 0;
  f->count = 0;
  g_signal_connect (f->loop, "slow-callback", G_CALLBACK (on_slow_callback), f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_finalize_object (f->loop);
  g_ptr_array_unref (f->slow_names);
  g_array_unref (f->slow_durations);
}

#define TEST(path, func) \
  g_test_add ("/Gbridge/IOLoop/metrics/" path, Fixture, NULL, fixture_setup, func, \
              fixture_teardown)

static void
busy_wait (double seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);

  while (g_get_monotonic_time () < end)
    ;
}

static guint64
get_u64 (Fixture    *f,
         const char *name)
{
  guint64 v = 0;

  g_object_get (f->loop, name, &v, NULL);
  return v;
}

static double
get_double (Fixture    *f,
            const char *name)
{
  double v = -1;

  g_object_get (f->loop, name, &v, NULL);
  return v;
}

/* Runs the loop until @f->count reaches @until. */
static void
run_until_count (Fixture *f,
                 guint    until)
{
  while (f->count < until)
    g_main_context_iteration (f->context, TRUE);
}

/* Callbacks, exported (the test is linked with -rdynamic) so that dladdr()
 * finds their names. */

void metrics_test_count_cb (gpointer user_data);
void metrics_test_slow_cb (gpointer user_data);
void metrics_test_slow_handler (int fd, GbridgeIOEvents events, gpointer user_data);
void metrics_test_reporting_cb (gpointer user_data);

void
metrics_test_count_cb (gpointer user_data)
{
  Fixture *f = user_data;

  f->count++;
}

void
metrics_test_slow_cb (gpointer user_data)
{
  Fixture *f = user_data;

  busy_wait (0.05);
  f->count++;
}

static void
static_slow_cb (gpointer user_data)
{
  Fixture *f = user_data;

  busy_wait (0.05);
  f->count++;
}

void
metrics_test_slow_handler (int             fd,
                           GbridgeIOEvents events,
                           gpointer        user_data)
{
  Fixture *f = user_data;
  char c;

  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  busy_wait (0.05);
  f->count++;
}

static gboolean
repeat_twice_cb (gpointer user_data)
{
  Fixture *f = user_data;

  f->count++;
  return f->count % 2 == 1;
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  Fixture *f = user_data;

  f->notified++;
}

/* Off by default: nothing counted. */
static void
test_off (Fixture       *f,
          gconstpointer  data)
{
  g_assert_false (gbridge_io_loop_get_metrics_enabled (f->loop));
  g_assert_cmpfloat (gbridge_io_loop_get_slow_callback_threshold (f->loop), ==, 0);
  g_assert_cmpfloat (get_double (f, "metrics-window"), ==, 1.0);

  gbridge_io_loop_add_callback (f->loop, metrics_test_slow_cb, f, NULL);
  run_until_count (f, 1);

  g_assert_cmpuint (get_u64 (f, "iterations"), ==, 0);
  g_assert_cmpuint (get_u64 (f, "callbacks-run"), ==, 0);
  g_assert_cmpfloat (get_double (f, "utilization"), ==, 0);
  g_assert_cmpfloat (get_double (f, "busy-time"), ==, 0);
  g_assert_cmpuint (f->slow_names->len, ==, 0);
}

/* Each counter counts exactly what ran while measuring. */
static void
test_counters (Fixture       *f,
               gconstpointer  data)
{
  int fds[2];

  g_assert_cmpint (pipe (fds), ==, 0);
  g_object_set (f->loop, "metrics-enabled", TRUE, NULL);
  g_assert_true (gbridge_io_loop_get_metrics_enabled (f->loop));

  /* Three callbacks: one iteration. */
  for (guint i = 0; i < 3; i++)
    gbridge_io_loop_add_callback (f->loop, metrics_test_count_cb, f, NULL);
  g_assert_true (g_main_context_iteration (f->context, FALSE));
  g_assert_cmpuint (f->count, ==, 3);
  g_assert_cmpuint (get_u64 (f, "iterations"), ==, 1);
  g_assert_cmpuint (get_u64 (f, "callbacks-run"), ==, 3);
  g_assert_cmpuint (get_u64 (f, "timers-run"), ==, 0);
  g_assert_cmpuint (get_u64 (f, "handlers-run"), ==, 0);

  /* Two timers, due at once: a second iteration. */
  gbridge_io_loop_call_later (f->loop, 0, metrics_test_count_cb, f, NULL);
  gbridge_io_loop_call_later (f->loop, 0, metrics_test_count_cb, f, NULL);
  run_until_count (f, 5);
  g_assert_cmpuint (get_u64 (f, "iterations"), ==, 2);
  g_assert_cmpuint (get_u64 (f, "timers-run"), ==, 2);
  g_assert_cmpuint (get_u64 (f, "callbacks-run"), ==, 3);

  /* A handler called once. */
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              metrics_test_slow_handler, f, NULL, NULL));
  run_until_count (f, 6);
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_assert_cmpuint (get_u64 (f, "handlers-run"), ==, 1);

  /* A repeating callback: each call counts. */
  f->count = 0;
  gbridge_io_loop_add_repeating_callback (f->loop, repeat_twice_cb, f, NULL);
  run_until_count (f, 2);
  g_assert_cmpuint (get_u64 (f, "callbacks-run"), ==, 5);

  /* Off: frozen. */
  gbridge_io_loop_set_metrics_enabled (f->loop, FALSE);
  gbridge_io_loop_add_callback (f->loop, metrics_test_count_cb, f, NULL);
  run_until_count (f, 3);
  g_assert_cmpuint (get_u64 (f, "callbacks-run"), ==, 5);
  g_assert_cmpuint (get_u64 (f, "handlers-run"), ==, 1);

  /* On again: from zero. */
  gbridge_io_loop_set_metrics_enabled (f->loop, TRUE);
  g_assert_cmpuint (get_u64 (f, "callbacks-run"), ==, 0);
  g_assert_cmpuint (get_u64 (f, "timers-run"), ==, 0);
  g_assert_cmpuint (get_u64 (f, "handlers-run"), ==, 0);
  g_assert_cmpuint (get_u64 (f, "iterations"), ==, 0);

  close (fds[0]);
  close (fds[1]);
}

/* metrics-enabled and slow-callback-threshold notify on change only. */
static void
test_notify (Fixture       *f,
             gconstpointer  data)
{
  g_signal_connect (f->loop, "notify::metrics-enabled", G_CALLBACK (on_notify), f);
  g_signal_connect (f->loop, "notify::slow-callback-threshold", G_CALLBACK (on_notify), f);

  gbridge_io_loop_set_metrics_enabled (f->loop, FALSE);
  gbridge_io_loop_set_slow_callback_threshold (f->loop, 0);
  g_assert_cmpuint (f->notified, ==, 0);
  gbridge_io_loop_set_metrics_enabled (f->loop, TRUE);
  gbridge_io_loop_set_metrics_enabled (f->loop, TRUE);
  g_assert_cmpuint (f->notified, ==, 1);
  g_object_set (f->loop, "slow-callback-threshold", 0.25, NULL);
  gbridge_io_loop_set_slow_callback_threshold (f->loop, 0.25);
  g_assert_cmpuint (f->notified, ==, 2);
  g_assert_cmpfloat (gbridge_io_loop_get_slow_callback_threshold (f->loop), ==, 0.25);
}

/* A callback, a timer and a handler that run 50 ms with a threshold of
 * 20 ms are reported by name; fast ones are not. */
static void
test_slow_named (Fixture       *f,
                 gconstpointer  data)
{
  int fds[2];

  g_assert_cmpint (pipe (fds), ==, 0);
  gbridge_io_loop_set_slow_callback_threshold (f->loop, 0.02);

  for (guint i = 0; i < 10; i++)
    gbridge_io_loop_add_callback (f->loop, metrics_test_count_cb, f, NULL);
  run_until_count (f, 10);
  g_assert_cmpuint (f->slow_names->len, ==, 0);

  gbridge_io_loop_add_callback (f->loop, metrics_test_slow_cb, f, NULL);
  run_until_count (f, 11);
  g_assert_cmpuint (f->slow_names->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->slow_names, 0), ==, "metrics_test_slow_cb");
  g_assert_cmpfloat (g_array_index (f->slow_durations, double, 0), >=, 0.05);

  gbridge_io_loop_call_later (f->loop, 0.001, metrics_test_slow_cb, f, NULL);
  run_until_count (f, 12);
  g_assert_cmpuint (f->slow_names->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (f->slow_names, 1), ==, "metrics_test_slow_cb");

  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  g_assert_true (gbridge_io_loop_add_handler (f->loop, fds[0], GBRIDGE_IO_EVENTS_READ,
                                              metrics_test_slow_handler, f, NULL, NULL));
  run_until_count (f, 13);
  g_assert_true (gbridge_io_loop_remove_handler (f->loop, fds[0]));
  g_assert_cmpuint (f->slow_names->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (f->slow_names, 2), ==, "metrics_test_slow_handler");

  /* A function dladdr() cannot name: its address. */
  gbridge_io_loop_add_callback (f->loop, static_slow_cb, f, NULL);
  run_until_count (f, 14);
  g_assert_cmpuint (f->slow_names->len, ==, 4);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (f->slow_names, 3), "0x"));

  /* Off again: not reported. */
  gbridge_io_loop_set_slow_callback_threshold (f->loop, 0);
  gbridge_io_loop_add_callback (f->loop, metrics_test_slow_cb, f, NULL);
  run_until_count (f, 15);
  g_assert_cmpuint (f->slow_names->len, ==, 4);

  close (fds[0]);
  close (fds[1]);
}

void
metrics_test_reporting_cb (gpointer user_data)
{
  Fixture *f = user_data;

  /* What a binding's wrapper does: time its callable, report it. */
  busy_wait (0.05);
  gbridge_io_loop_report_slow_callback (f->loop, "fast inner", 0.001);
  if (f->value > 0)
    gbridge_io_loop_report_slow_callback (f->loop, "slow inner", f->value);
  f->count++;
}

/* A report names the slow work; the callback around it is not reported
 * again. A report below the threshold emits nothing. */
static void
test_report (Fixture       *f,
             gconstpointer  data)
{
  /* Nothing reported while the threshold is 0. */
  gbridge_io_loop_report_slow_callback (f->loop, "ignored", 10);
  g_assert_cmpuint (f->slow_names->len, ==, 0);

  gbridge_io_loop_set_slow_callback_threshold (f->loop, 0.02);
  f->value = 0.045;
  gbridge_io_loop_add_callback (f->loop, metrics_test_reporting_cb, f, NULL);
  run_until_count (f, 1);
  g_assert_cmpuint (f->slow_names->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->slow_names, 0), ==, "slow inner");
  g_assert_cmpfloat (g_array_index (f->slow_durations, double, 0), ==, 0.045);

  /* Only fast reports: the callback itself is reported. */
  f->value = 0;
  gbridge_io_loop_add_callback (f->loop, metrics_test_reporting_cb, f, NULL);
  run_until_count (f, 2);
  g_assert_cmpuint (f->slow_names->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (f->slow_names, 1), ==, "metrics_test_reporting_cb");
}

static void
read_utilization_cb (gpointer user_data)
{
  Fixture *f = user_data;

  f->value = get_double (f, "utilization");
  f->value2 = get_double (f, "idle-time");
  f->count++;
}

static void
busy_then_read_cb (gpointer user_data)
{
  Fixture *f = user_data;

  busy_wait (0.6);
  gbridge_io_loop_add_callback (f->loop, read_utilization_cb, f, NULL);
}

/* Waiting in poll() is idle, a busy callback is busy; averaged over a
 * 0.1 s window, 0.6 s of either dominates. */
static void
test_utilization (Fixture       *f,
                  gconstpointer  data)
{
  double busy;

  gbridge_io_loop_set_metrics_enabled (f->loop, TRUE);
  g_object_set (f->loop, "metrics-window", 0.1, NULL);
  g_assert_cmpfloat (get_double (f, "metrics-window"), ==, 0.1);

  gbridge_io_loop_call_later (f->loop, 0.6, read_utilization_cb, f, NULL);
  run_until_count (f, 1);
  g_test_message ("idle: utilization %f, idle time %f", f->value, f->value2);
  g_assert_cmpfloat (f->value, >=, 0);
  g_assert_cmpfloat (f->value, <, 0.5);
  g_assert_cmpfloat (f->value2, >=, 0.5);

  gbridge_io_loop_add_callback (f->loop, busy_then_read_cb, f, NULL);
  run_until_count (f, 2);
  g_object_get (f->loop, "busy-time", &busy, NULL);
  g_test_message ("busy: utilization %f, busy time %f", f->value, busy);
  g_assert_cmpfloat (f->value, >, 0.5);
  g_assert_cmpfloat (f->value, <=, 1);
  g_assert_cmpfloat (busy, >=, 0.6);
}

static void
read_lag_cb (gpointer user_data)
{
  Fixture *f = user_data;

  f->value = get_double (f, "lag");
  f->value2 = get_double (f, "max-lag");
  f->count++;
}

static void
busy_cb (gpointer user_data)
{
  busy_wait (0.2);
}

/* A timer due in 10 ms behind a callback that runs 200 ms runs at least
 * 190 ms late. */
static void
test_lag (Fixture       *f,
          gconstpointer  data)
{
  gbridge_io_loop_set_metrics_enabled (f->loop, TRUE);
  g_assert_cmpfloat (get_double (f, "lag"), ==, 0);
  g_assert_cmpfloat (get_double (f, "max-lag"), ==, 0);

  gbridge_io_loop_call_later (f->loop, 0.01, read_lag_cb, f, NULL);
  gbridge_io_loop_add_callback (f->loop, busy_cb, f, NULL);
  run_until_count (f, 1);
  g_test_message ("lag %f, max %f", f->value, f->value2);
  g_assert_cmpfloat (f->value, >=, 0.18);
  g_assert_cmpfloat (f->value2, >=, f->value);
}

/* On a virtual clock, lag counts the virtual time past the deadline. */
static void
test_lag_virtual (Fixture       *f,
                  gconstpointer  data)
{
  gbridge_io_loop_use_virtual_clock (f->loop, 100);
  gbridge_io_loop_set_metrics_enabled (f->loop, TRUE);
  gbridge_io_loop_call_at (f->loop, 101, read_lag_cb, f, NULL);
  gbridge_io_loop_call_at (f->loop, 101.2, metrics_test_count_cb, f, NULL);
  gbridge_io_loop_advance_clock (f->loop, 1.5);
  run_until_count (f, 2);
  g_assert_cmpfloat (f->value, >=, 0.5);
  g_assert_cmpfloat (f->value, <, 10);
  g_assert_cmpuint (get_u64 (f, "timers-run"), ==, 2);
}

/* Attacks */

static void
count_destroy (gpointer user_data)
{
  Fixture *f = user_data;

  f->notified++;
}

static void
close_and_drop_in_handler (GbridgeIOLoop *loop,
                           const char    *name,
                           double         duration,
                           gpointer       user_data)
{
  g_autoptr(GError) error = NULL;

  /* Refused while dispatching, as anywhere in a callback. */
  g_assert_false (gbridge_io_loop_close (loop, FALSE, &error));
  g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_RUNNING);
  g_object_unref (loop);
}

/* The slow-callback handler tries to close the loop and drops the last
 * reference but the dispatch's: the batch goes on. */
static void
test_close_in_handler (Fixture       *f,
                       gconstpointer  data)
{
  GMainContext *context = g_main_context_ref (f->context);
  GWeakRef ref;

  g_weak_ref_init (&ref, f->loop);
  g_signal_connect (f->loop, "slow-callback", G_CALLBACK (close_and_drop_in_handler), NULL);
  gbridge_io_loop_set_metrics_enabled (f->loop, TRUE);
  gbridge_io_loop_set_slow_callback_threshold (f->loop, 0.02);
  gbridge_io_loop_add_callback (f->loop, metrics_test_slow_cb, f, count_destroy);
  gbridge_io_loop_add_callback (f->loop, metrics_test_count_cb, f, count_destroy);
  while (f->count < 2)
    g_main_context_iteration (context, TRUE);
  g_assert_cmpuint (f->slow_names->len, ==, 1);
  g_assert_cmpuint (f->notified, ==, 2);
  /* The loop went with its dispatch. */
  g_assert_null (g_weak_ref_get (&ref));
  g_weak_ref_clear (&ref);
  g_main_context_unref (context);
  f->loop = gbridge_io_loop_new ();
}

static void
disable_in_handler (GbridgeIOLoop *loop,
                    const char    *name,
                    double         duration,
                    gpointer       user_data)
{
  gbridge_io_loop_set_slow_callback_threshold (loop, 0);
  gbridge_io_loop_set_metrics_enabled (loop, FALSE);
}

/* Turned off by the handler and on by a callback, inside one batch. */
static void
test_toggle_inside (Fixture       *f,
                    gconstpointer  data)
{
  gulong id;

  id = g_signal_connect (f->loop, "slow-callback", G_CALLBACK (disable_in_handler), NULL);
  gbridge_io_loop_set_metrics_enabled (f->loop, TRUE);
  gbridge_io_loop_set_slow_callback_threshold (f->loop, 0.02);
  gbridge_io_loop_add_callback (f->loop, metrics_test_slow_cb, f, NULL);
  gbridge_io_loop_add_callback (f->loop, metrics_test_slow_cb, f, NULL);
  run_until_count (f, 2);
  g_assert_cmpuint (f->slow_names->len, ==, 1);
  g_assert_false (gbridge_io_loop_get_metrics_enabled (f->loop));
  /* Frozen at the first callback. */
  g_assert_cmpuint (get_u64 (f, "callbacks-run"), ==, 1);
  g_signal_handler_disconnect (f->loop, id);
}

static void
enable_cb (gpointer user_data)
{
  Fixture *f = user_data;

  gbridge_io_loop_set_metrics_enabled (f->loop, TRUE);
  f->count++;
}

static void
test_enable_inside (Fixture       *f,
                    gconstpointer  data)
{
  /* Enabled by a callback: what runs after it in the same iteration is
   * counted, a timer too, and its lag is not made up from nothing. */
  gbridge_io_loop_use_virtual_clock (f->loop, 1000);
  gbridge_io_loop_call_at (f->loop, 1000, read_lag_cb, f, NULL);
  gbridge_io_loop_add_callback (f->loop, enable_cb, f, NULL);
  gbridge_io_loop_add_callback (f->loop, metrics_test_count_cb, f, NULL);
  run_until_count (f, 3);
  g_assert_cmpuint (get_u64 (f, "callbacks-run"), ==, 1);
  g_assert_cmpuint (get_u64 (f, "timers-run"), ==, 1);
  g_assert_cmpfloat (f->value, <, 1);
}

/* Thresholds: NaN and negative are programmer errors, infinity never
 * reports; the property gives the same answers as the setter. */
static void
assert_property_refuses_nan (GbridgeIOLoop *loop,
                             const char    *name)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (loop), name);
  GValue value = G_VALUE_INIT;

  g_assert_nonnull (pspec);
  g_value_init (&value, G_TYPE_DOUBLE);
  g_value_set_double (&value, NAN);
  g_assert_false (g_param_value_is_valid (pspec, &value));
  g_value_set_double (&value, 0.25);
  g_assert_true (g_param_value_is_valid (pspec, &value));
  g_value_unset (&value);
}

static void
test_threshold_values (Fixture       *f,
                       gconstpointer  data)
{
  gbridge_io_loop_set_slow_callback_threshold (f->loop, 0.5);

  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*seconds >= 0*");
  gbridge_io_loop_set_slow_callback_threshold (f->loop, NAN);
  g_test_assert_expected_messages ();
  g_test_expect_message ("Gbridge", G_LOG_LEVEL_CRITICAL, "*seconds >= 0*");
  gbridge_io_loop_set_slow_callback_threshold (f->loop, -1);
  g_test_assert_expected_messages ();
  /* Through the property, GLib refuses NaN before it reaches the loop (with
   * a warning before GLib 2.80 and a critical since: the property's range
   * is what this checks). */
  assert_property_refuses_nan (f->loop, "slow-callback-threshold");
  g_assert_cmpfloat (gbridge_io_loop_get_slow_callback_threshold (f->loop), ==, 0.5);

  gbridge_io_loop_set_slow_callback_threshold (f->loop, INFINITY);
  g_assert_cmpfloat (gbridge_io_loop_get_slow_callback_threshold (f->loop), >, 1e9);
  gbridge_io_loop_add_callback (f->loop, metrics_test_slow_cb, f, NULL);
  run_until_count (f, 1);
  g_assert_cmpuint (f->slow_names->len, ==, 0);

  /* A window of NaN is refused as well, not turned into a microsecond. */
  assert_property_refuses_nan (f->loop, "metrics-window");
  g_assert_cmpfloat (get_double (f, "metrics-window"), ==, 1.0);
}

/* A child of fork() goes on measuring its own copy of the loop. */
static void
test_fork (Fixture       *f,
           gconstpointer  data)
{
  int status;
  pid_t pid;

  gbridge_io_loop_set_metrics_enabled (f->loop, TRUE);
  gbridge_io_loop_set_slow_callback_threshold (f->loop, 0.02);
  gbridge_io_loop_add_callback (f->loop, metrics_test_count_cb, f, NULL);
  run_until_count (f, 1);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      gboolean ok;

      gbridge_io_loop_add_callback (f->loop, metrics_test_slow_cb, f, NULL);
      run_until_count (f, 2);
      ok = get_u64 (f, "callbacks-run") == 2 && f->slow_names->len == 1 &&
           gbridge_io_loop_fork (f->loop, NULL);
      gbridge_io_loop_add_callback (f->loop, metrics_test_count_cb, f, NULL);
      run_until_count (f, 3);
      ok = ok && get_u64 (f, "callbacks-run") == 3;
      _exit (ok ? 0 : 1);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_cmpuint (get_u64 (f, "callbacks-run"), ==, 1);
  g_assert_cmpuint (f->slow_names->len, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  TEST ("off", test_off);
  TEST ("counters", test_counters);
  TEST ("notify", test_notify);
  TEST ("slow-callback/named", test_slow_named);
  TEST ("slow-callback/report", test_report);
  TEST ("utilization", test_utilization);
  TEST ("lag", test_lag);
  TEST ("lag/virtual-clock", test_lag_virtual);
  TEST ("slow-callback/close-in-handler", test_close_in_handler);
  TEST ("toggle-inside", test_toggle_inside);
  TEST ("enable-inside", test_enable_inside);
  TEST ("slow-callback/threshold-values", test_threshold_values);
  TEST ("fork", test_fork);

  return g_test_run ();
}
