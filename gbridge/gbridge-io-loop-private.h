/* gbridge-io-loop-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-io-loop.h"

G_BEGIN_DECLS

/* @loop, or else the thread's current loop, or else the default one: the
 * loop an object made without one runs on. */
static inline GbridgeIOLoop *
_gbridge_io_loop_pick (GbridgeIOLoop *loop)
{
  if (loop == NULL)
    loop = gbridge_io_loop_get_current ();
  if (loop == NULL)
    loop = gbridge_io_loop_get_default ();
  return loop;
}

/* Removes the timeout *@handle names, if any, after setting *@handle to 0:
 * the timeout's destroy-notify may look at the handle, or set a new one. */
static inline void
_gbridge_io_loop_clear_timeout (GbridgeIOLoop *loop,
                                guint64       *handle)
{
  guint64 timeout = *handle;

  *handle = 0;
  if (timeout != 0)
    gbridge_io_loop_remove_timeout (loop, timeout);
}

G_END_DECLS
