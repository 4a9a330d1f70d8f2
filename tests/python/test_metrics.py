# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The loop's metrics read from Python, and slow callbacks named by their
# Python names: __qualname__ for callables given to Gbridge.IOLoop, asyncio's
# debug-mode name for gbridge.asyncio's callbacks.  Durations are asserted
# only from below (a 50 ms busy-wait runs at least 50 ms).

import asyncio
import os
import time

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gbridge  # noqa: E402

import gbridge.asyncio  # noqa: E402

from gbridgetest import run_loop  # noqa: E402


def busy_wait(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def record_slow(loop):
    seen = []
    loop.connect('slow-callback', lambda _loop, name, duration: seen.append((name, duration)))
    return seen


def test_metrics_read_as_properties(loop):
    assert loop.props.metrics_enabled is False
    assert loop.props.callbacks_run == 0
    loop.props.metrics_enabled = True
    assert loop.get_metrics_enabled()

    for _ in range(3):
        loop.add_callback(lambda: None)
    loop.call_later(0, lambda: None)
    loop.call_later(0.01, loop.stop)
    run_loop(loop)

    assert loop.props.callbacks_run == 3
    assert loop.props.timers_run == 2
    assert loop.props.handlers_run == 0
    assert loop.props.iterations >= 2
    assert 0 <= loop.props.utilization <= 1
    assert loop.props.lag >= 0
    assert loop.props.max_lag >= loop.props.lag
    assert loop.props.busy_time > 0
    assert loop.props.metrics_window == 1.0


def test_slow_python_callback_named_by_qualname(loop):
    seen = record_slow(loop)
    loop.props.slow_callback_threshold = 0.02

    def fast():
        pass

    def slow():
        busy_wait(0.05)

    loop.add_callback(fast)
    loop.add_callback(slow)
    loop.call_later(0.001, slow)
    loop.call_later(0.01, loop.stop)
    run_loop(loop)

    names = [name for name, _ in seen]
    qualname = 'test_slow_python_callback_named_by_qualname.<locals>.slow'
    assert names == [qualname, qualname]
    assert all(duration >= 0.05 for _, duration in seen)


def test_slow_handler_named(loop):
    seen = record_slow(loop)
    loop.set_slow_callback_threshold(0.02)
    r, w = os.pipe()
    try:
        class Reader:
            def on_readable(self, fd, events):
                os.read(fd, 1)
                busy_wait(0.05)
                loop.stop()

        os.write(w, b'x')
        loop.add_handler(r, Gbridge.IOEvents.READ, Reader().on_readable)
        run_loop(loop)
        loop.remove_handler(r)
    finally:
        os.close(r)
        os.close(w)
    assert [name for name, _ in seen] == [
        'test_slow_handler_named.<locals>.Reader.on_readable']


def test_not_timed_when_off(loop):
    seen = record_slow(loop)

    def slow():
        busy_wait(0.05)

    loop.add_callback(slow)
    # Looking for slow callbacks only from now: slow() was not wrapped, but
    # the C loop still times the call and names what it can.
    loop.set_slow_callback_threshold(0.02)
    loop.add_callback(loop.stop)
    run_loop(loop)
    assert len(seen) == 1
    assert 'test_not_timed_when_off' not in seen[0][0]

    loop.set_slow_callback_threshold(0)
    seen.clear()
    loop.add_callback(slow)
    loop.add_callback(loop.stop)
    run_loop(loop)
    assert seen == []


def slow_asyncio_callback(seconds):
    busy_wait(seconds)


def test_asyncio_call_soon_named_as_asyncio_debug_does():
    io_loop = Gbridge.IOLoop.new()
    loop = gbridge.asyncio.EventLoop(io_loop)
    try:
        seen = record_slow(io_loop)
        io_loop.set_slow_callback_threshold(0.02)

        async def main():
            loop.call_soon(slow_asyncio_callback, 0.05)
            loop.call_soon(slow_asyncio_callback, 0)
            await asyncio.sleep(0.01)

        loop.run_until_complete(main())
    finally:
        loop.close()
        io_loop.close(False)

    # One report, for the callback (not for gbridge.asyncio's own drain
    # around it), named as asyncio's debug mode names it.
    assert len(seen) == 1, seen
    name, duration = seen[0]
    assert name.startswith('slow_asyncio_callback(0.05) at '), name
    assert name.endswith('test_metrics.py:%d' % slow_asyncio_callback.__code__.co_firstlineno)
    assert duration >= 0.05


def test_asyncio_task_named_by_its_repr():
    io_loop = Gbridge.IOLoop.new()
    loop = gbridge.asyncio.EventLoop(io_loop)
    try:
        seen = record_slow(io_loop)
        io_loop.set_slow_callback_threshold(0.02)

        async def hog():
            busy_wait(0.05)

        loop.run_until_complete(hog())
    finally:
        loop.close()
        io_loop.close(False)
    assert len(seen) == 1, seen
    assert seen[0][0].startswith('<Task '), seen
    assert 'hog()' in seen[0][0], seen


def test_asyncio_threshold_followed_when_changed():
    io_loop = Gbridge.IOLoop.new()
    loop = gbridge.asyncio.EventLoop(io_loop)
    try:
        seen = record_slow(io_loop)

        async def main():
            loop.call_soon(slow_asyncio_callback, 0.05)
            await asyncio.sleep(0)
            io_loop.set_slow_callback_threshold(0.02)
            loop.call_soon(slow_asyncio_callback, 0.05)
            await asyncio.sleep(0.01)
            io_loop.set_slow_callback_threshold(0)
            loop.call_soon(slow_asyncio_callback, 0.05)
            await asyncio.sleep(0.01)

        loop.run_until_complete(main())
    finally:
        loop.close()
        io_loop.close(False)
    assert [name.split(' at ')[0] for name, _ in seen] == ['slow_asyncio_callback(0.05)']
