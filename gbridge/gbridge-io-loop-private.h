/* gbridge-io-loop-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-io-loop.h"

G_BEGIN_DECLS

/* Timers and handles: a handle is (generation << 32) | slot. Generations
 * stay below 2^20 so that every handle is exact in a JavaScript number. */
#define GBRIDGE_TIMER_GENERATION_MAX ((1u << 20) - 1)

/* Up to this many file descriptors are watched directly on the loop's
 * GSource (one pollfd each); past it, further descriptors go into one epoll
 * set that is itself one pollfd. Direct watching saves the nested
 * epoll_wait() per iteration for the common case of a few sockets. */
#define GBRIDGE_DIRECT_FD_MAX 8

G_END_DECLS
