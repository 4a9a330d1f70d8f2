# SPDX-License-Identifier: LGPL-2.1-or-later
#
# NaN and infinite delays: gbridge.asyncio does what asyncio's default loop
# does with infinite ones (+inf never, -inf at once) and runs a NaN one at
# once too, without GLib criticals; Gbridge.IOLoop refuses NaN from Python
# with ValueError.  (The default loop runs a NaN timer whenever its heap
# happens to pop it, since NaN defeats heapq's comparisons, up to Python
# 3.12, and raises ValueError on every iteration from 3.13: see below.)

import asyncio
import math
import sys
import threading

import pytest

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gbridge  # noqa: E402

import gbridge.asyncio as gba  # noqa: E402

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


# The order each scenario of timeline() runs in on asyncio's default loop.
EXPECTED = {
    math.nan: ['first', 'a', 'second'],   # next iteration, wherever in the heap
    math.inf: ['a'],                      # never
    -math.inf: ['first', 'second', 'a'],  # at once
    1e300: ['a'],
}


# gbridge.asyncio: the same, except NaN, which runs at once as -inf does
# (each timer is a gbridge timeout, with no heap for NaN to get lost in).
GBRIDGE_EXPECTED = dict(EXPECTED)
GBRIDGE_EXPECTED[math.nan] = EXPECTED[-math.inf]


@pytest.mark.parametrize('delay', list(EXPECTED), ids=str)
def test_asyncio_delays_like_the_default_loop(delay, capfd):
    assert timeline(gba.new_event_loop(), delay) == GBRIDGE_EXPECTED[delay]
    assert 'CRITICAL' not in capfd.readouterr().err


@pytest.mark.parametrize('delay', list(EXPECTED), ids=str)
def test_default_loop_reference_behaviour(delay):
    """What the test above follows.  From Python 3.13 on the default loop
    hands a NaN timeout to select() (its timeout is no longer computed with
    min/max), which raises ValueError on every iteration: gbridge runs the
    timer at once rather than copying a loop that cannot go on."""
    if math.isnan(delay) and sys.version_info >= (3, 13):
        with pytest.raises(ValueError):
            timeline(asyncio.SelectorEventLoop(), delay)
    else:
        assert timeline(asyncio.SelectorEventLoop(), delay) == EXPECTED[delay]


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
