/* gbridge-io-loop-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "gbridge-io-loop.h"

G_BEGIN_DECLS

/* Up to this many file descriptors are watched directly on the loop's
 * GSource (one pollfd each); past it, further descriptors go into one epoll
 * set that is itself one pollfd. Direct watching saves the nested
 * epoll_wait() per iteration for the common case of a few sockets. */
#define GBRIDGE_DIRECT_FD_MAX 8

G_END_DECLS
