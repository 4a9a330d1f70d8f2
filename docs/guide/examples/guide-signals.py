# guide-signals.py: awaiting GObject signals from asyncio (the guide's
# section "Awaiting signals"). Run with: python3 guide-signals.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gio, GLib  # noqa: E402

import gbridge.asyncio  # noqa: E402


async def main():
    loop = asyncio.get_running_loop()
    action = Gio.SimpleAction(name='greet', parameter_type=GLib.VariantType('s'))

    # One emission: the arguments after the object, as a tuple. The handler
    # is connected now and disconnected after the emission (or on timeout).
    waiter = gbridge.asyncio.wait_signal(action, 'notify::enabled')
    loop.call_soon(action.set_enabled, False)
    (pspec,) = await asyncio.wait_for(waiter, 5)
    print(pspec.name, 'is now', action.get_enabled())
    action.set_enabled(True)

    # Every emission, in order, at most 16 waiting: a consumer that falls
    # further behind gets SignalStreamOverflow, never a silent loss.
    async with gbridge.asyncio.signal_stream(action, 'activate',
                                             maxsize=16) as stream:
        for word in ('one', 'two', 'three'):
            loop.call_soon(action.activate, GLib.Variant('s', word))
        words = []
        async for (parameter,) in stream:
            words.append(parameter.unpack())
            if len(words) == 3:
                break
    print('activated with', words)
    assert words == ['one', 'two', 'three']


gbridge.asyncio.run(main())
