/* gbridge-worker-pool-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One process-wide pool of worker threads, on pthread primitives so that
 * ThreadSanitizer sees every hand-over (GLib's GThreadPool synchronizes
 * with futexes it cannot see). Threads start on demand, up to a maximum,
 * and exit after a while idle. Jobs run in the order pushed. */

typedef void (*GbridgeWorkFunc) (gpointer data);

void  gbridge_worker_pool_push            (GbridgeWorkFunc func,
                                           gpointer        data);
void  gbridge_worker_pool_set_max_threads (guint           max_threads);
guint gbridge_worker_pool_get_max_threads (void);

G_END_DECLS
