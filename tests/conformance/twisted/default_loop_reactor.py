# SPDX-License-Identifier: LGPL-2.1-or-later
"""gbridge's Twisted reactor on the loop of GLib's default context, as
gbridge.twisted.install() makes it: every reactor the tests build shares
that one loop and its C reactor (run.py --reactor gbridge-default)."""

import gi

gi.require_version("Gbridge", "1")
from gi.repository import Gbridge  # noqa: E402

from gbridge.twisted import GbridgeReactor  # noqa: E402


class GbridgeDefaultLoopReactor(GbridgeReactor):
    def __init__(self):
        GbridgeReactor.__init__(self, Gbridge.IOLoop.get_default())
