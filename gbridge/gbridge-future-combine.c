/* gbridge-future-combine.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-future-private.h"
#include "gbridge-io-loop.h"

#include <glib/gi18n-lib.h>

/* all / any / first: one combined future fed by the done-callbacks of its
 * inputs. Cancelling the combined future cancels the inputs still pending. */

typedef enum
{
  COMBINE_ALL,
  COMBINE_ANY,
  COMBINE_FIRST,
} CombineMode;

typedef struct
{
  gint             ref_count;  /* g_atomic_int_*: inline, visible to TSan */
  CombineMode      mode;
  GbridgeFuture   *result;
  GPtrArray       *inputs;    /* GbridgeFuture */
  guint            remaining;
} Combine;

static Combine *
combine_ref (Combine *combine)
{
  g_atomic_int_inc (&combine->ref_count);
  return combine;
}

static void
combine_unref (gpointer data)
{
  Combine *combine = data;

  if (g_atomic_int_dec_and_test (&combine->ref_count))
    {
      g_object_unref (combine->result);
      g_clear_pointer (&combine->inputs, g_ptr_array_unref);
      g_free (combine);
    }
}

G_GNUC_BEGIN_IGNORE_DEPRECATIONS
static void
resolve_all (GbridgeFuture         *result,
             GbridgeFuture * const *inputs,
             guint                  n_inputs)
{
  GValueArray *values = g_value_array_new (n_inputs);
  g_auto(GValue) value = G_VALUE_INIT;

  for (guint i = 0; i < n_inputs; i++)
    {
      const GValue *v = gbridge_future_get_value (inputs[i], NULL);
      g_auto(GValue) none = G_VALUE_INIT;

      if (v == NULL)
        {
          /* No value: a NULL pointer, which the bindings show as None/null. */
          g_value_init (&none, G_TYPE_POINTER);
          v = &none;
        }
      g_value_array_append (values, v);
    }

  g_value_init (&value, g_value_array_get_type ());
  g_value_take_boxed (&value, values);
  gbridge_future_resolve (result, &value, NULL);
}
G_GNUC_END_IGNORE_DEPRECATIONS

static void
combine_input_done (GbridgeFuture *input,
                    gpointer       user_data)
{
  Combine *combine = user_data;
  GbridgeFutureState state = gbridge_future_get_state (input);

  if (gbridge_future_is_done (combine->result))
    return;

  combine->remaining--;

  switch (combine->mode)
    {
    case COMBINE_ALL:
      if (state != GBRIDGE_FUTURE_STATE_RESOLVED)
        gbridge_future_copy_outcome (input, combine->result);
      else if (combine->remaining == 0)
        resolve_all (combine->result, (GbridgeFuture **) combine->inputs->pdata,
                     combine->inputs->len);
      break;

    case COMBINE_ANY:
      /* The first value wins; only when every input failed does the
       * combined future fail, with the last failure. */
      if (state == GBRIDGE_FUTURE_STATE_RESOLVED || combine->remaining == 0)
        gbridge_future_copy_outcome (input, combine->result);
      break;

    case COMBINE_FIRST:
    default:
      gbridge_future_copy_outcome (input, combine->result);
      break;
    }
}

static void
combine_result_done (GbridgeFuture *result,
                     gpointer       user_data)
{
  Combine *combine = user_data;

  if (gbridge_future_is_cancelled (result))
    for (guint i = 0; i < combine->inputs->len; i++)
      gbridge_future_cancel (combine->inputs->pdata[i]);

  /* Let go of the inputs: one still pending holds this record through
   * its notify, and must not be kept alive by it. */
  g_clear_pointer (&combine->inputs, g_ptr_array_unref);
}

static GbridgeFuture *
combine (CombineMode            mode,
         GbridgeFuture * const *futures,
         guint                  n_futures)
{
  Combine *combine;
  GbridgeFuture *result;

  if (n_futures == 0)
    {
      result = gbridge_future_new ();
      if (mode == COMBINE_ALL)
        resolve_all (result, NULL, 0);
      else
        gbridge_future_resolve (result, NULL, NULL);
      return result;
    }

  result = gbridge_future_new_for_loop (gbridge_future_get_loop (futures[0]));
  combine = g_new0 (Combine, 1);
  combine->ref_count = 1;
  combine->mode = mode;
  combine->result = g_object_ref (result);
  combine->inputs = g_ptr_array_new_full (n_futures, g_object_unref);
  combine->remaining = n_futures;
  for (guint i = 0; i < n_futures; i++)
    g_ptr_array_add (combine->inputs, g_object_ref (futures[i]));

  /* The inputs' done-callbacks all run on the result's loop thread
   * when the inputs share it; for inputs on other loops, hop over. */
  for (guint i = 0; i < n_futures; i++)
    gbridge_io_loop_add_future (gbridge_future_get_loop (result), futures[i], combine_input_done,
                                combine_ref (combine), combine_unref);
  gbridge_future_add_done_callback (result, combine_result_done, combine, combine_unref);

  return result;
}

static gboolean
check_futures (GbridgeFuture * const *futures,
               guint                  n_futures)
{
  g_return_val_if_fail (futures != NULL || n_futures == 0, FALSE);
  for (guint i = 0; i < n_futures; i++)
    g_return_val_if_fail (GBRIDGE_IS_FUTURE (futures[i]), FALSE);
  return TRUE;
}

/**
 * gbridge_future_all:
 * @futures: (array length=n_futures): the futures to wait for
 * @n_futures: the length of @futures
 *
 * Creates a future that resolves once every one of @futures has resolved.
 * Its value is a #GValueArray of their values in the order given (a %NULL
 * pointer for a future with no value); the bindings see a list. It fails
 * with the first failure among @futures, or is cancelled when one of them
 * is, without waiting for the others. Cancelling it cancels the @futures
 * still pending. Like asyncio's `gather()`.
 *
 * #GValueArray is deprecated in C, but it is the one list of #GValue that
 * every binding converts; read it with `values->values[i]`.
 *
 * Returns: (transfer full): a new #GbridgeFuture on the loop of the first
 *   future, or resolved with an empty array when @n_futures is 0
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_all (GbridgeFuture * const *futures,
                    guint                  n_futures)
{
  g_return_val_if_fail (check_futures (futures, n_futures), NULL);

  return combine (COMBINE_ALL, futures, n_futures);
}

/**
 * gbridge_future_any:
 * @futures: (array length=n_futures): the futures to wait for
 * @n_futures: the length of @futures
 *
 * Creates a future that resolves with the value of the first of @futures
 * to resolve. It fails only when all of them fail (or are cancelled), with
 * the last failure. The others are left to finish; cancelling the returned
 * future cancels the ones still pending.
 *
 * Returns: (transfer full): a new #GbridgeFuture on the loop of the first
 *   future, or resolved with no value when @n_futures is 0
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_any (GbridgeFuture * const *futures,
                    guint                  n_futures)
{
  g_return_val_if_fail (check_futures (futures, n_futures), NULL);

  return combine (COMBINE_ANY, futures, n_futures);
}

/**
 * gbridge_future_first:
 * @futures: (array length=n_futures): the futures to wait for
 * @n_futures: the length of @futures
 *
 * Creates a future with the outcome of the first of @futures to complete,
 * whether it resolved, failed or was cancelled. The others are left to
 * finish; cancelling the returned future cancels the ones still pending.
 *
 * Returns: (transfer full): a new #GbridgeFuture on the loop of the first
 *   future, or resolved with no value when @n_futures is 0
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_first (GbridgeFuture * const *futures,
                      guint                  n_futures)
{
  g_return_val_if_fail (check_futures (futures, n_futures), NULL);

  return combine (COMBINE_FIRST, futures, n_futures);
}

/* with_timeout: the record is shared by the timer and the result's
 * done-callback, and holds both futures weakly, so that neither a loop
 * closed before the timer fired nor a dropped result leaves a cycle. */

typedef struct
{
  gint             ref_count;  /* g_atomic_int_*: inline, visible to TSan */
  GWeakRef         inner;
  GWeakRef         result;
  double           timeout;
  guint64          timer;
} Timeout;

static gpointer
timeout_ref (Timeout *timeout)
{
  g_atomic_int_inc (&timeout->ref_count);
  return timeout;
}

static void
timeout_unref (gpointer data)
{
  Timeout *timeout = data;

  if (g_atomic_int_dec_and_test (&timeout->ref_count))
    {
      g_weak_ref_clear (&timeout->inner);
      g_weak_ref_clear (&timeout->result);
      g_free (timeout);
    }
}

static void
cancel_weak (GWeakRef *ref)
{
  g_autoptr(GbridgeFuture) future = g_weak_ref_get (ref);

  if (future != NULL)
    gbridge_future_cancel (future);
}

static void
timeout_fired (gpointer data)
{
  Timeout *timeout = data;
  g_autoptr(GbridgeFuture) result = g_weak_ref_get (&timeout->result);

  timeout->timer = 0;
  if (result == NULL || gbridge_future_is_done (result))
    return;

  gbridge_future_take_failure (result,
                               g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                            _("Timed out after %g seconds"),
                                            timeout->timeout),
                               NULL);
  cancel_weak (&timeout->inner);
}

static void
timeout_result_done (GbridgeFuture *result,
                     gpointer       user_data)
{
  Timeout *timeout = user_data;

  if (timeout->timer != 0)
    gbridge_io_loop_remove_timeout (gbridge_future_get_loop (result), timeout->timer);
  timeout->timer = 0;
  if (gbridge_future_is_cancelled (result))
    cancel_weak (&timeout->inner);
}

/**
 * gbridge_future_with_timeout:
 * @self: a #GbridgeFuture
 * @timeout: seconds to wait, from now
 *
 * Creates a future with the outcome of @self, unless @self is still pending
 * after @timeout seconds: then it fails with %G_IO_ERROR_TIMED_OUT and
 * @self is cancelled. Cancelling the returned future cancels @self too.
 *
 * The timer belongs to the future's loop: call this on the thread that runs
 * it (or before it runs), as for gbridge_io_loop_call_later().
 *
 * Returns: (transfer full): a new #GbridgeFuture on @self's loop
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_future_with_timeout (GbridgeFuture *self,
                             double         timeout)
{
  Timeout *data;
  GbridgeFuture *result;

  g_return_val_if_fail (GBRIDGE_IS_FUTURE (self), NULL);
  g_return_val_if_fail (timeout >= 0, NULL);

  result = gbridge_future_new_for_loop (gbridge_future_get_loop (self));
  data = g_new0 (Timeout, 1);
  data->ref_count = 1;
  g_weak_ref_init (&data->inner, self);
  g_weak_ref_init (&data->result, result);
  data->timeout = timeout;

  gbridge_future_chain (self, result);
  data->timer = gbridge_io_loop_call_later (gbridge_future_get_loop (self), timeout,
                                            timeout_fired, timeout_ref (data),
                                            timeout_unref);
  gbridge_future_add_done_callback (result, timeout_result_done, data, timeout_unref);

  return result;
}
