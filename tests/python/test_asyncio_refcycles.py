# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A closed gbridge.asyncio loop is freed by reference counting alone, as
# asyncio's default loop is: no reference cycle through the loop (Tornado's
# circlerefs_test asserts this for asyncio.run()).

import asyncio
import gc
import socket
import weakref

import pytest

import gbridge.asyncio as gba


@pytest.fixture
def no_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def some_work():
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        loop.call_later(0.001, b.send, b'x')
        assert await loop.sock_recv(a, 1) == b'x'
    await asyncio.sleep(0.001)
    return 'done'


def test_fresh_loop_is_freed(no_gc):
    loop = gba.new_event_loop()
    ref = weakref.ref(loop)
    loop.close()
    del loop
    assert ref() is None


def test_loop_that_ran_is_freed(no_gc):
    loop = gba.EventLoop()
    ref = weakref.ref(loop)
    assert loop.run_until_complete(some_work()) == 'done'
    loop.close()
    del loop
    assert ref() is None


def test_runner_loop_is_freed(no_gc):
    with asyncio.Runner(loop_factory=gba.EventLoop) as runner:
        assert runner.run(some_work()) == 'done'
        ref = weakref.ref(runner.get_loop())
    del runner
    assert ref() is None


def test_no_loop_in_cycle_garbage(no_gc):
    """Tornado's circlerefs_test way: whatever the run leaves to the cycle
    collector holds no gbridge loop or selector."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        with asyncio.Runner(loop_factory=gba.EventLoop) as runner:
            runner.run(some_work())
        del runner
        gc.collect()
        ours = [o for o in gc.garbage
                if isinstance(o, (gba.EventLoop, gba._GbridgeSelector))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == []
