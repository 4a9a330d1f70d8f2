/* gbridge-timer-heap-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-io-loop.h"

G_BEGIN_DECLS

/* Timers of one loop: a binary min-heap of (deadline, sequence), so equal
 * deadlines run first-in first-out, over a slab of slots. A timer's handle
 * is (generation << 32) | slot; generations stay below 2^20 so that every
 * handle is exact in a JavaScript number, and a stale handle never reaches
 * the timer that reuses its slot. */

#define GBRIDGE_TIMER_GENERATION_MAX ((1u << 20) - 1)

typedef struct
{
  gint64 deadline;
  guint64 seq;
  guint slot;
} GbridgeTimerEntry;

typedef struct
{
  GbridgeCallback func;
  gpointer        user_data;
  GDestroyNotify  destroy;
} GbridgeTimerCall;

typedef struct
{
  GbridgeTimerCall call;
  guint            generation;
  guint            heap_index; /* index in the heap, or one of the states below */
  guint            next_free;
} GbridgeTimerSlot;

typedef struct
{
  GbridgeTimerEntry *heap;
  guint              len;
  guint              alloc;
  GbridgeTimerSlot  *slots;
  guint              slots_len;
  guint              slots_alloc;
  guint              free_slot;
  guint64            seq;
} GbridgeTimerHeap;

void     _gbridge_timer_heap_init      (GbridgeTimerHeap *th);
void     _gbridge_timer_heap_clear     (GbridgeTimerHeap *th);
guint64  _gbridge_timer_heap_add       (GbridgeTimerHeap *th,
                                        gint64            deadline,
                                        GbridgeCallback   func,
                                        gpointer          user_data,
                                        GDestroyNotify    destroy);
gboolean _gbridge_timer_heap_remove    (GbridgeTimerHeap *th,
                                        guint64           handle,
                                        GbridgeTimerCall *call);
guint64  _gbridge_timer_heap_pop_due   (GbridgeTimerHeap *th,
                                        gint64            now);
gboolean _gbridge_timer_heap_take_due  (GbridgeTimerHeap *th,
                                        guint64           handle,
                                        GbridgeTimerCall *call);
GArray  *_gbridge_timer_heap_steal_all (GbridgeTimerHeap *th);

static inline gboolean
_gbridge_timer_heap_peek (GbridgeTimerHeap *th,
                          gint64           *deadline)
{
  if (th->len == 0)
    return FALSE;
  *deadline = th->heap[0].deadline;
  return TRUE;
}

G_END_DECLS
