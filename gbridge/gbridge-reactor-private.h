/* gbridge-reactor-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-reactor.h"
#include "gbridge-delayed-call.h"
#include "gbridge-descriptor.h"
#include "gbridge-future.h"
#include "gbridge-io-loop.h"
#include "gbridge-resolver.h"
#include "gbridge-worker-pool-private.h"

G_BEGIN_DECLS

/* One file descriptor's registration with the loop: its reader and writer,
 * which may be the same descriptor. */
typedef struct
{
  GbridgeReactor    *reactor;
  int                fd;
  GbridgeDescriptor *reader;
  GbridgeDescriptor *writer;
} FdEntry;

struct _GbridgeReactor
{
  GObject parent_instance;

  GbridgeIOLoop *loop;

  GHashTable    *calls;       /* pending GbridgeDelayedCall, not owned */
  GHashTable    *fds;         /* fd → FdEntry */
  GHashTable    *roles[2];    /* reader, writer: GbridgeDescriptor → FdEntry */

  GHashTable    *events;      /* name → EventTriggers */
  GHashTable    *triggers;    /* id → Trigger */
  guint          next_trigger_id;

  GbridgeWorkerPool *pool;
  guint              pool_size;

  GbridgeResolver *resolver;

  guint          started : 1;
  guint          stopped : 1;
  guint          started_before : 1;
  guint          running : 1;
  guint          sigint : 1;
  guint          sigterm : 1;
};

GbridgeDelayedCall *_gbridge_delayed_call_new     (GbridgeReactor     *reactor,
                                                   GbridgeIOLoop      *loop,
                                                   double              when,
                                                   GbridgeCallback     func,
                                                   gpointer            user_data,
                                                   GDestroyNotify      destroy);
void                _gbridge_delayed_call_drop    (GbridgeDelayedCall *self);

void                _gbridge_reactor_forget_call  (GbridgeReactor     *self,
                                                   GbridgeDelayedCall *call);

G_END_DECLS
