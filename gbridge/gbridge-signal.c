/* gbridge-signal.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-signal-private.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include <glib/gi18n-lib.h>

typedef struct
{
  int                signum;
  gint               ref_count;
  gint               removed;
  GbridgeSignalFunc  func;
  gpointer           user_data;
  GDestroyNotify     destroy;
  struct sigaction   previous;
} SignalSlot;

/* What the sigaction handler may read: written under signal_lock, read with
 * atomics from signal context. */
typedef struct
{
  GbridgeIOLoop *loop;
  GMainContext  *context;
  gint          *loop_pending;
} SignalOwner;

static pthread_mutex_t  signal_lock = PTHREAD_MUTEX_INITIALIZER;
static SignalSlot      *signal_slots[NSIG];
static SignalOwner      signal_owners[NSIG];
static gint             signal_pending[NSIG];

static void
signal_slot_unref (gpointer data)
{
  SignalSlot *slot = data;

  if (g_atomic_int_dec_and_test (&slot->ref_count))
    {
      if (slot->destroy != NULL)
        slot->destroy (slot->user_data);
      g_free (slot);
    }
}

static void
signal_slot_run (gpointer data)
{
  SignalSlot *slot = data;

  if (!g_atomic_int_get (&slot->removed))
    slot->func (slot->signum, slot->user_data);
}

static void
signal_trampoline (int signum)
{
  int saved_errno = errno;
  SignalOwner *owner = &signal_owners[signum];
  gint *loop_pending = g_atomic_pointer_get (&owner->loop_pending);
  GMainContext *context = g_atomic_pointer_get (&owner->context);

  if (loop_pending != NULL && context != NULL)
    {
      g_atomic_int_set (&signal_pending[signum], 1);
      g_atomic_int_set (loop_pending, 1);
      /* Only writes to the context's eventfd: async-signal-safe, and what
       * GLib's own Unix signal source does from its handler. */
      g_main_context_wakeup (context);
    }
  errno = saved_errno;
}

/* Called with signal_lock held. */
static void
owner_set (int            signum,
           GbridgeIOLoop *loop,
           GMainContext  *context,
           gint          *loop_pending)
{
  SignalOwner *owner = &signal_owners[signum];

  g_atomic_pointer_set (&owner->loop_pending, NULL);
  g_atomic_pointer_set (&owner->context, context);
  g_atomic_pointer_set (&owner->loop, loop);
  g_atomic_pointer_set (&owner->loop_pending, loop_pending);
}

gboolean
_gbridge_signal_add (GbridgeIOLoop      *loop,
                     GMainContext       *context,
                     gint               *loop_pending,
                     int                 signum,
                     GbridgeSignalFunc   func,
                     gpointer            user_data,
                     GDestroyNotify      destroy,
                     GError            **error)
{
  struct sigaction action;
  SignalSlot *slot;
  SignalSlot *old = NULL;

  if (signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP)
    {
      g_set_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_INVALID_SIGNAL,
                   _("Signal %d cannot be caught"), signum);
      return FALSE;
    }

  slot = g_new0 (SignalSlot, 1);
  slot->signum = signum;
  slot->ref_count = 1;
  slot->func = func;
  slot->user_data = user_data;
  slot->destroy = destroy;

  memset (&action, 0, sizeof action);
  action.sa_handler = signal_trampoline;
  action.sa_flags = SA_RESTART;
  sigemptyset (&action.sa_mask);

  pthread_mutex_lock (&signal_lock);
  if (signal_owners[signum].loop != NULL && signal_owners[signum].loop != loop)
    {
      pthread_mutex_unlock (&signal_lock);
      g_free (slot);
      g_set_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_EXISTS,
                   _("Signal %d is already handled by another loop"), signum);
      return FALSE;
    }

  if (signal_owners[signum].loop == loop)
    {
      /* Replace the handler; the disposition saved first stays. */
      old = signal_slots[signum];
      slot->previous = old->previous;
      g_atomic_int_set (&old->removed, TRUE);
    }
  else if (sigaction (signum, &action, &slot->previous) < 0)
    {
      int saved = errno;

      pthread_mutex_unlock (&signal_lock);
      g_free (slot);
      g_set_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_INVALID_SIGNAL,
                   _("Cannot handle signal %d: %s"), signum, g_strerror (saved));
      return FALSE;
    }
  signal_slots[signum] = slot;
  owner_set (signum, loop, context, loop_pending);
  pthread_mutex_unlock (&signal_lock);

  if (old != NULL)
    signal_slot_unref (old);

  return TRUE;
}

gboolean
_gbridge_signal_remove (GbridgeIOLoop *loop,
                        int            signum)
{
  SignalSlot *slot = NULL;

  if (signum <= 0 || signum >= NSIG)
    return FALSE;

  pthread_mutex_lock (&signal_lock);
  if (signal_owners[signum].loop == loop)
    {
      slot = g_steal_pointer (&signal_slots[signum]);
      sigaction (signum, &slot->previous, NULL);
      owner_set (signum, NULL, NULL, NULL);
      /* A delivery nobody took belonged to this handler: it must not reach
       * the next loop that handles the signal. */
      g_atomic_int_set (&signal_pending[signum], 0);
      g_atomic_int_set (&slot->removed, TRUE);
    }
  pthread_mutex_unlock (&signal_lock);

  if (slot == NULL)
    return FALSE;
  signal_slot_unref (slot);
  return TRUE;
}

void
_gbridge_signal_remove_all (GbridgeIOLoop *loop)
{
  for (int signum = 1; signum < NSIG; signum++)
    if (g_atomic_pointer_get (&signal_owners[signum].loop) == loop)
      _gbridge_signal_remove (loop, signum);
}

void
_gbridge_signal_take_pending (GbridgeIOLoop  *loop,
                              void          (*queue) (GbridgeIOLoop   *loop,
                                                      GbridgeCallback  func,
                                                      gpointer         data,
                                                      GDestroyNotify   destroy))
{
  for (int signum = 1; signum < NSIG; signum++)
    {
      SignalSlot *slot = NULL;

      /* Another loop's signal stays pending for that loop: only the owner
       * may clear the flag, or that loop's delivery would be lost. */
      if (g_atomic_pointer_get (&signal_owners[signum].loop) != loop ||
          !g_atomic_int_get (&signal_pending[signum]))
        continue;

      pthread_mutex_lock (&signal_lock);
      if (signal_owners[signum].loop == loop &&
          g_atomic_int_compare_and_exchange (&signal_pending[signum], 1, 0))
        {
          slot = signal_slots[signum];
          g_atomic_int_inc (&slot->ref_count);
        }
      pthread_mutex_unlock (&signal_lock);

      /* The reference keeps the handler's data alive while it runs, even if
       * it removes itself. */
      if (slot != NULL)
        queue (loop, signal_slot_run, slot, signal_slot_unref);
    }
}

void
_gbridge_signal_ring_init (GbridgeSignalRing *ring)
{
  for (guint i = 0; i < GBRIDGE_SIGNAL_RING_SIZE; i++)
    ring->cells[i].seq = (gint) i;
  ring->enqueue = 0;
  ring->dequeue = 0;
}

gboolean
_gbridge_signal_ring_push (GbridgeSignalRing *ring,
                           GbridgeCallback    func,
                           gpointer           user_data)
{
  guint pos = (guint) g_atomic_int_get (&ring->enqueue);

  for (;;)
    {
      GbridgeRingCell *cell = &ring->cells[pos % GBRIDGE_SIGNAL_RING_SIZE];
      gint dif = (gint) ((guint) g_atomic_int_get (&cell->seq) - pos);

      if (dif < 0)
        return FALSE;  /* full */

      if (dif == 0 &&
          g_atomic_int_compare_and_exchange (&ring->enqueue, (gint) pos, (gint) (pos + 1)))
        {
          cell->func = func;
          cell->user_data = user_data;
          g_atomic_int_set (&cell->seq, (gint) (pos + 1));
          return TRUE;
        }
      pos = (guint) g_atomic_int_get (&ring->enqueue);
    }
}

gboolean
_gbridge_signal_ring_pop (GbridgeSignalRing *ring,
                          GbridgeCallback   *func,
                          gpointer          *user_data)
{
  guint pos = (guint) ring->dequeue;
  GbridgeRingCell *cell = &ring->cells[pos % GBRIDGE_SIGNAL_RING_SIZE];

  if ((guint) g_atomic_int_get (&cell->seq) != pos + 1)
    return FALSE;
  *func = cell->func;
  *user_data = cell->user_data;
  ring->dequeue = (gint) (pos + 1);
  g_atomic_int_set (&cell->seq, (gint) (pos + GBRIDGE_SIGNAL_RING_SIZE));
  return TRUE;
}
