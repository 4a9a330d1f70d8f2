/* gbridge-test-helper.c: C callbacks for the Python tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The Python tests load this module with ctypes to schedule callbacks that
 * are plain C functions, next to Python callbacks on the same loop.  Both
 * kinds append a marker to one log kept here, so the order in which the loop
 * ran them is recorded in one place.
 */

#include <gbridge/gbridge.h>

#include <string.h>

void     gbridge_test_log_clear        (void);
void     gbridge_test_log_append       (int            marker);
int      gbridge_test_log_get          (int           *out,
                                        int            n_out);
gboolean gbridge_test_add_c_callback   (GbridgeIOLoop *loop,
                                        int            marker);
guint64  gbridge_test_call_at_c        (GbridgeIOLoop *loop,
                                        double         when,
                                        int            marker);
int      gbridge_test_future_value     (GbridgeFuture *future,
                                        char          *out,
                                        int            n_out);

/* Only the loop's thread touches the log, but the lock keeps the helper
 * correct should a test ever call it from another thread. */
static GMutex log_lock;
static GArray *log_markers;

void
gbridge_test_log_clear (void)
{
  g_mutex_lock (&log_lock);
  g_clear_pointer (&log_markers, g_array_unref);
  g_mutex_unlock (&log_lock);
}

void
gbridge_test_log_append (int marker)
{
  g_mutex_lock (&log_lock);
  if (log_markers == NULL)
    log_markers = g_array_new (FALSE, FALSE, sizeof (int));
  g_array_append_val (log_markers, marker);
  g_mutex_unlock (&log_lock);
}

/* Copies at most @n_out markers into @out; returns how many were logged. */
int
gbridge_test_log_get (int *out,
                      int  n_out)
{
  int n;

  g_mutex_lock (&log_lock);
  n = log_markers != NULL ? (int) log_markers->len : 0;
  for (int i = 0; i < n && i < n_out; i++)
    out[i] = g_array_index (log_markers, int, i);
  g_mutex_unlock (&log_lock);

  return n;
}

static void
c_callback (gpointer user_data)
{
  gbridge_test_log_append (GPOINTER_TO_INT (user_data));
}

gboolean
gbridge_test_add_c_callback (GbridgeIOLoop *loop,
                             int            marker)
{
  return gbridge_io_loop_add_callback (loop, c_callback,
                                       GINT_TO_POINTER (marker), NULL);
}

guint64
gbridge_test_call_at_c (GbridgeIOLoop *loop,
                        double         when,
                        int            marker)
{
  return gbridge_io_loop_call_at (loop, when, c_callback,
                                  GINT_TO_POINTER (marker), NULL);
}

/* How C reads a future's value: "<GType name> <g_strdup_value_contents()>",
 * "none" for a future resolved with no value, "error" for one not resolved,
 * copied into @out (at most @n_out bytes, NUL included). Returns the full
 * length. */
int
gbridge_test_future_value (GbridgeFuture *future,
                           char          *out,
                           int            n_out)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  const GValue *value;

  value = gbridge_future_get_value (future, &error);
  if (error != NULL)
    text = g_strdup ("error");
  else if (value == NULL)
    text = g_strdup ("none");
  else
    {
      g_autofree char *contents = g_strdup_value_contents (value);

      text = g_strdup_printf ("%s %s", G_VALUE_TYPE_NAME (value), contents);
    }
  if (n_out > 0)
    g_strlcpy (out, text, n_out);
  return (int) strlen (text);
}
