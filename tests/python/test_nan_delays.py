# SPDX-License-Identifier: LGPL-2.1-or-later
#
# NaN and infinite delays: gbridge.asyncio does what asyncio's default loop
# does (NaN runs on the next iteration, +inf never, -inf at once), without
# GLib criticals; Gbridge.IOLoop refuses NaN from Python with ValueError.

import asyncio
import math
import threading

import pytest

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gbridge  # noqa: E402

import gbridge.asyncio as gba  # noqa: E402

DELAYS = [math.nan, math.inf, -math.inf, 1e300]


def timeline(loop, delay):
    seen = []
    # Should the stop timers never fire, stop anyway (and fail).
    guard = threading.Timer(5, loop.call_soon_threadsafe, (loop.stop,))
    guard.start()
    try:
        loop.call_later(delay, seen.append, 'first')
        loop.call_later(0.05, loop.stop)
        loop.run_forever()
        # Behind a finite timer this time.
        loop.call_later(0.01, seen.append, 'a')
        loop.call_later(delay, seen.append, 'second')
        loop.call_later(0.05, loop.stop)
        loop.run_forever()
    finally:
        guard.cancel()
        loop.close()
    return seen


@pytest.mark.parametrize('delay', DELAYS, ids=str)
def test_asyncio_delays_like_the_default_loop(delay, capfd):
    default = timeline(asyncio.SelectorEventLoop(), delay)
    ours = timeline(gba.new_event_loop(), delay)
    assert ours == default
    assert 'CRITICAL' not in capfd.readouterr().err


def test_default_loop_reference_behaviour():
    """What the test above compares with, spelled out."""
    assert timeline(asyncio.SelectorEventLoop(), math.nan) == ['first', 'a', 'second']
    assert timeline(asyncio.SelectorEventLoop(), math.inf) == ['a']


def test_io_loop_refuses_nan(loop, capfd):
    for method in (loop.call_later, loop.call_at, loop.add_timeout):
        with pytest.raises(ValueError):
            method(math.nan, lambda: None)
    assert 'CRITICAL' not in capfd.readouterr().err
    # Infinite times are fine: clamped, never due.
    assert loop.call_at(math.inf, lambda: None)
    fired = []
    loop.call_later(-math.inf, fired.append, 'now')
    loop.call_later(0, loop.stop)
    loop.start()
    assert fired == ['now']
