#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Awaiting GTK 4 signals from asyncio, under Xvfb: a real button activated
with Gtk.Widget.activate() resolves gbridge.asyncio.wait_signal(); a
signal_stream sees every click in order; a window's close-request resolves
without stopping the close. Exit status 0 when every check passed.
"""

import asyncio
import sys

import gi

gi.require_version('Gtk', '4.0')
gi.require_version('Gbridge', '1')
from gi.repository import Gtk  # noqa: E402

import gbridge.asyncio  # noqa: E402

failures = []


def check(ok, what):
    print('%s - %s' % ('ok' if ok else 'FAILED', what))
    if not ok:
        failures.append(what)


async def main():
    loop = asyncio.get_running_loop()
    window = Gtk.Window()
    button = Gtk.Button(label='Click')
    window.set_child(button)
    window.present()
    while not button.get_mapped():
        await asyncio.sleep(0.01)

    waiter = gbridge.asyncio.wait_signal(button, 'clicked')
    loop.call_soon(button.activate)
    check(await asyncio.wait_for(waiter, 30) == (), 'await a button click: no arguments')

    # One activation at a time: GTK folds an activate() that comes while
    # the button still shows the previous one into it.
    seen = 0
    async with gbridge.asyncio.signal_stream(button, 'clicked', maxsize=8) as stream:
        for _ in range(3):
            loop.call_soon(button.activate)
            await asyncio.wait_for(stream.__anext__(), 30)
            seen += 1
    check(seen == 3, 'a signal stream sees every click')

    closed = gbridge.asyncio.wait_signal(window, 'close-request')
    window.close()
    check(await asyncio.wait_for(closed, 30) == (), 'await close-request')
    # The waiting handler returned False, so the close went on.
    check(not window.get_visible(), 'the window closed')


Gtk.init()
gbridge.asyncio.run(main())
sys.exit(1 if failures else 0)
