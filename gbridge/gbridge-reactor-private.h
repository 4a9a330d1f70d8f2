/* gbridge-reactor-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-reactor.h"

G_BEGIN_DECLS

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
