/* gbridge.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>
#include <glib-object.h>

#define GBRIDGE_INSIDE
# include "gbridge-version.h"
# include "gbridge-types.h"
# include "gbridge-io-loop.h"
# include "gbridge-future.h"
# include "gbridge-periodic-callback.h"
# include "gbridge-context-driver.h"
# include "gbridge-delayed-call.h"
# include "gbridge-descriptor.h"
# include "gbridge-reactor.h"
# include "gbridge-resolver.h"
# include "gbridge-ares-resolver.h"
# include "gbridge-override-resolver.h"
# include "gbridge-threaded-resolver.h"
# include "gbridge-enums.h"
#undef GBRIDGE_INSIDE
