/* gbridge-signal-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-io-loop.h"

G_BEGIN_DECLS

/* Unix signal handlers are process-wide: each signal belongs to at most one
 * loop. The sigaction handler only raises flags and wakes the loop's
 * context; the loop then runs the handler as an ordinary callback. */

gboolean _gbridge_signal_add          (GbridgeIOLoop      *loop,
                                       GMainContext       *context,
                                       gint               *loop_pending,
                                       int                 signum,
                                       GbridgeSignalFunc   func,
                                       gpointer            user_data,
                                       GDestroyNotify      destroy,
                                       GError            **error);
gboolean _gbridge_signal_remove       (GbridgeIOLoop      *loop,
                                       int                 signum);
void     _gbridge_signal_remove_all   (GbridgeIOLoop      *loop);

/* For each signal delivered to @loop since the last call, calls @queue with
 * a callback that runs the handler and a destroy-notify for it. */
void     _gbridge_signal_take_pending (GbridgeIOLoop      *loop,
                                       void              (*queue) (GbridgeIOLoop   *loop,
                                                                   GbridgeCallback  func,
                                                                   gpointer         data,
                                                                   GDestroyNotify   destroy));

/* A bounded multi-producer, single-consumer queue of callbacks (Vyukov's):
 * lock-free and allocation-free, so that a signal handler may push, even
 * one that interrupted another push. */

#define GBRIDGE_SIGNAL_RING_SIZE 256

typedef struct
{
  gint            seq;
  GbridgeCallback func;
  gpointer        user_data;
} GbridgeRingCell;

typedef struct
{
  GbridgeRingCell cells[GBRIDGE_SIGNAL_RING_SIZE];
  gint            enqueue;
  gint            dequeue;
} GbridgeSignalRing;

void     _gbridge_signal_ring_init  (GbridgeSignalRing  *ring);
gboolean _gbridge_signal_ring_push  (GbridgeSignalRing  *ring,
                                     GbridgeCallback     func,
                                     gpointer            user_data);
gboolean _gbridge_signal_ring_pop   (GbridgeSignalRing  *ring,
                                     GbridgeCallback    *func,
                                     gpointer           *user_data);

static inline gboolean
_gbridge_signal_ring_ready (GbridgeSignalRing *ring)
{
  guint pos = (guint) ring->dequeue;

  return (guint) g_atomic_int_get (&ring->cells[pos % GBRIDGE_SIGNAL_RING_SIZE].seq) == pos + 1;
}

G_END_DECLS
