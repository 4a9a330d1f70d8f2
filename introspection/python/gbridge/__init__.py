# SPDX-License-Identifier: LGPL-2.1-or-later
"""gbridge: one GLib main context for asyncio, Tornado and Twisted code.

The C library is reached through ``from gi.repository import Gbridge``; this
package holds the Python side of the bridges: ``gbridge.asyncio`` and
``gbridge.twisted``, and the future conversions exported here.
"""
