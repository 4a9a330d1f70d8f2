/* gbridge-worker-pool-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A pool of worker threads on pthread primitives, so that ThreadSanitizer
 * sees every hand-over (GLib's GThreadPool synchronizes with futexes it
 * cannot see). Threads start on demand, up to a maximum, and exit after a
 * while idle. Jobs run in the order pushed. */

typedef struct _GbridgeWorkerPool GbridgeWorkerPool;

typedef void (*GbridgeWorkFunc) (gpointer data);

GbridgeWorkerPool *_gbridge_worker_pool_new             (guint              max_threads);
void               _gbridge_worker_pool_free            (GbridgeWorkerPool *pool);
GbridgeWorkerPool *_gbridge_worker_pool_get_default     (void);
void               _gbridge_worker_pool_push            (GbridgeWorkerPool *pool,
                                                         GbridgeWorkFunc    func,
                                                         gpointer           data);
void               _gbridge_worker_pool_set_max_threads (GbridgeWorkerPool *pool,
                                                         guint              max_threads);

G_END_DECLS
