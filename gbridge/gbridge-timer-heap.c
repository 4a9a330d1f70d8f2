/* gbridge-timer-heap.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-timer-heap-private.h"

#include <string.h>

#define SLOT_FREE G_MAXUINT        /* on the free list */
#define SLOT_DUE  (G_MAXUINT - 1)  /* popped as due, not run yet */

static inline gboolean
entry_less (const GbridgeTimerEntry *a,
            const GbridgeTimerEntry *b)
{
  return a->deadline < b->deadline ||
         (a->deadline == b->deadline && a->seq < b->seq);
}

/* Every slot knows where its entry sits, so that removal is O(log n). */
static inline void
heap_set (GbridgeTimerHeap  *th,
          guint              index,
          GbridgeTimerEntry  entry)
{
  th->heap[index] = entry;
  th->slots[entry.slot].heap_index = index;
}

static void
sift_up (GbridgeTimerHeap *th,
         guint             index)
{
  GbridgeTimerEntry entry = th->heap[index];

  while (index > 0)
    {
      guint parent = (index - 1) / 2;

      if (!entry_less (&entry, &th->heap[parent]))
        break;
      heap_set (th, index, th->heap[parent]);
      index = parent;
    }
  heap_set (th, index, entry);
}

static void
sift_down (GbridgeTimerHeap *th,
           guint             index)
{
  GbridgeTimerEntry entry = th->heap[index];

  for (;;)
    {
      guint child = 2 * index + 1;

      if (child >= th->len)
        break;
      if (child + 1 < th->len && entry_less (&th->heap[child + 1], &th->heap[child]))
        child++;
      if (!entry_less (&th->heap[child], &entry))
        break;
      heap_set (th, index, th->heap[child]);
      index = child;
    }
  heap_set (th, index, entry);
}

static void
heap_delete (GbridgeTimerHeap *th,
             guint             index)
{
  GbridgeTimerEntry last;

  th->len--;
  if (index == th->len)
    return;

  last = th->heap[th->len];
  heap_set (th, index, last);
  if (index > 0 && entry_less (&last, &th->heap[(index - 1) / 2]))
    sift_up (th, index);
  else
    sift_down (th, index);
}

/* Puts @slot back on the free list and returns its call. */
static GbridgeTimerCall
slot_release (GbridgeTimerHeap *th,
              guint             slot)
{
  GbridgeTimerSlot *ts = &th->slots[slot];
  GbridgeTimerCall call = ts->call;

  memset (&ts->call, 0, sizeof ts->call);
  ts->heap_index = SLOT_FREE;
  ts->next_free = th->free_slot;
  th->free_slot = slot;
  return call;
}

/* The slot of @handle if the handle is current, else NULL. */
static GbridgeTimerSlot *
slot_lookup (GbridgeTimerHeap *th,
             guint64           handle)
{
  guint slot = (guint) (handle & G_MAXUINT32);
  GbridgeTimerSlot *ts;

  if (handle == 0 || slot >= th->slots_len)
    return NULL;
  ts = &th->slots[slot];
  if (ts->generation != (guint) (handle >> 32) || ts->heap_index == SLOT_FREE)
    return NULL;
  return ts;
}

void
_gbridge_timer_heap_init (GbridgeTimerHeap *th)
{
  memset (th, 0, sizeof *th);
  th->free_slot = SLOT_FREE;
}

void
_gbridge_timer_heap_clear (GbridgeTimerHeap *th)
{
  g_clear_pointer (&th->heap, g_free);
  g_clear_pointer (&th->slots, g_free);
  _gbridge_timer_heap_init (th);
}

guint64
_gbridge_timer_heap_add (GbridgeTimerHeap *th,
                         gint64            deadline,
                         GbridgeCallback   func,
                         gpointer          user_data,
                         GDestroyNotify    destroy)
{
  GbridgeTimerSlot *ts;
  GbridgeTimerEntry entry;
  guint slot;

  if (th->free_slot != SLOT_FREE)
    {
      slot = th->free_slot;
      th->free_slot = th->slots[slot].next_free;
    }
  else
    {
      if (th->slots_len == th->slots_alloc)
        {
          th->slots_alloc = MAX (64, th->slots_alloc * 2);
          th->slots = g_renew (GbridgeTimerSlot, th->slots, th->slots_alloc);
        }
      slot = th->slots_len++;
      th->slots[slot].generation = 0;
    }

  ts = &th->slots[slot];
  ts->generation = ts->generation >= GBRIDGE_TIMER_GENERATION_MAX ? 1 : ts->generation + 1;
  ts->call.func = func;
  ts->call.user_data = user_data;
  ts->call.destroy = destroy;

  if (th->len == th->alloc)
    {
      th->alloc = MAX (64, th->alloc * 2);
      th->heap = g_renew (GbridgeTimerEntry, th->heap, th->alloc);
    }
  entry.deadline = deadline;
  entry.seq = th->seq++;
  entry.slot = slot;
  th->heap[th->len++] = entry;
  sift_up (th, th->len - 1);

  return ((guint64) ts->generation << 32) | slot;
}

/* Cancels a pending or due timer; FALSE for a stale handle. */
gboolean
_gbridge_timer_heap_remove (GbridgeTimerHeap *th,
                            guint64           handle,
                            GbridgeTimerCall *call)
{
  GbridgeTimerSlot *ts = slot_lookup (th, handle);

  if (ts == NULL)
    return FALSE;
  if (ts->heap_index != SLOT_DUE)
    heap_delete (th, ts->heap_index);
  *call = slot_release (th, (guint) (handle & G_MAXUINT32));
  return TRUE;
}

/* Takes the earliest timer out of the heap if it is due by @now, and
 * returns its handle; the timer stays cancellable until
 * _gbridge_timer_heap_take_due(). Returns 0 when nothing is due. */
guint64
_gbridge_timer_heap_pop_due (GbridgeTimerHeap *th,
                             gint64            now)
{
  guint slot;

  if (th->len == 0 || th->heap[0].deadline > now)
    return 0;

  slot = th->heap[0].slot;
  heap_delete (th, 0);
  th->slots[slot].heap_index = SLOT_DUE;
  return ((guint64) th->slots[slot].generation << 32) | slot;
}

/* Frees a due timer and returns its call, unless it was cancelled since. */
gboolean
_gbridge_timer_heap_take_due (GbridgeTimerHeap *th,
                              guint64           handle,
                              GbridgeTimerCall *call)
{
  GbridgeTimerSlot *ts = slot_lookup (th, handle);

  if (ts == NULL || ts->heap_index != SLOT_DUE)
    return FALSE;
  *call = slot_release (th, (guint) (handle & G_MAXUINT32));
  return TRUE;
}

/* Empties the heap; returns the calls of every live timer, pending or due. */
GArray *
_gbridge_timer_heap_steal_all (GbridgeTimerHeap *th)
{
  GArray *calls = g_array_new (FALSE, FALSE, sizeof (GbridgeTimerCall));

  for (guint i = 0; i < th->slots_len; i++)
    {
      if (th->slots[i].heap_index != SLOT_FREE)
        {
          GbridgeTimerCall call = slot_release (th, i);

          g_array_append_val (calls, call);
        }
    }
  th->len = 0;
  return calls;
}
