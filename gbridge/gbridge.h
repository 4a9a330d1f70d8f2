/* gbridge.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>
#include <glib-object.h>

#define GBRIDGE_INSIDE
# include "gbridge-version.h"
# include "gbridge-io-loop.h"
# include "gbridge-periodic-callback.h"
# include "gbridge-context-driver.h"
# include "gbridge-enums.h"
#undef GBRIDGE_INSIDE
