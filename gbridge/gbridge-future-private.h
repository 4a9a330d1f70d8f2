/* gbridge-future-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-future.h"

G_BEGIN_DECLS

/* Completes @destination with @source's outcome (@source is done); nothing
 * happens when @destination is already done. */
void gbridge_future_copy_outcome (GbridgeFuture *source,
                                  GbridgeFuture *destination);

G_END_DECLS
