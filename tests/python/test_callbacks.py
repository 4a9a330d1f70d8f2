# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Every function that takes a callback accepts a Python callable, and the
# closure lives exactly as long as the registration.

import datetime
import gc
import os
import signal
import weakref

import pytest

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gbridge  # noqa: E402

from gbridgetest import run_loop  # noqa: E402


class Recorder:
    """A callable that records its arguments; weakly referenceable, so a test
    can tell when gbridge let go of it."""

    def __init__(self, then=None):
        self.calls = []
        self.then = then

    def __call__(self, *args):
        self.calls.append(args)
        if self.then is not None:
            self.then()


def assert_released(ref):
    gc.collect()
    assert ref() is None, 'gbridge still holds the Python callable'


def test_add_callback(loop):
    cb = Recorder(then=loop.stop)
    assert loop.add_callback(cb) is True
    run_loop(loop)
    assert cb.calls == [()]


def test_add_callback_passes_user_data(loop):
    cb = Recorder(then=loop.stop)
    assert loop.add_callback(cb, 'a', 42)
    run_loop(loop)
    assert cb.calls == [('a', 42)]


def test_add_callback_accepts_lambda_and_bound_method(loop):
    seen = []
    loop.add_callback(lambda: seen.append('lambda'))
    loop.add_callback(seen.append, 'method')
    loop.add_callback(loop.stop)
    run_loop(loop)
    assert seen == ['lambda', 'method']


def test_add_repeating_callback(loop):
    # Called once per iteration while it returns True; once it returns
    # False, gbridge lets go of the closure.
    seen = []

    def repeat(tag):
        seen.append(tag)
        if seen.count(tag) == 3:
            loop.add_callback(loop.stop)
            return False
        return True

    class Holder:
        pass
    holder = Holder()
    holder.repeat = repeat
    ref = weakref.ref(holder)
    assert loop.add_repeating_callback(lambda tag, h=holder: h.repeat(tag), 'r') is True
    loop.add_callback(seen.append, 'once')
    del holder
    run_loop(loop)
    assert seen == ['r', 'once', 'r', 'r']
    assert_released(ref)


def test_spawn_callback(loop):
    cb = Recorder(then=loop.stop)
    assert loop.spawn_callback(cb) is True
    run_loop(loop)
    assert cb.calls == [()]


def test_add_handler(loop):
    r, w = os.pipe()
    try:
        def on_readable(fd, events):
            seen.append((fd, events, os.read(fd, 100)))
            loop.stop()

        seen = []
        loop.add_handler(r, Gbridge.IOEvents.READ, on_readable)
        os.write(w, b'ping')
        run_loop(loop)
        assert len(seen) == 1
        fd, events, data = seen[0]
        assert fd == r
        assert events & Gbridge.IOEvents.READ
        assert data == b'ping'
        assert loop.remove_handler(r) is True
    finally:
        os.close(r)
        os.close(w)


def test_add_handler_write_event(loop):
    r, w = os.pipe()
    try:
        def on_writable(fd, events, tag):
            seen.append((fd, events, tag))
            loop.remove_handler(fd)
            loop.stop()

        seen = []
        loop.add_handler(w, Gbridge.IOEvents.WRITE, on_writable, 'tag')
        run_loop(loop)
        assert len(seen) == 1
        assert seen[0][0] == w
        assert seen[0][1] & Gbridge.IOEvents.WRITE
        assert seen[0][2] == 'tag'
    finally:
        os.close(r)
        os.close(w)


def test_call_later(loop):
    cb = Recorder(then=loop.stop)
    handle = loop.call_later(0.001, cb)
    assert handle != 0
    run_loop(loop)
    assert cb.calls == [()]


def test_call_at(loop):
    cb = Recorder(then=loop.stop)
    handle = loop.call_at(loop.time() + 0.001, cb, 'x')
    assert handle != 0
    run_loop(loop)
    assert cb.calls == [('x',)]


def test_add_timeout(loop):
    cb = Recorder(then=loop.stop)
    handle = loop.add_timeout(loop.time() + 0.001, cb)
    assert handle != 0
    run_loop(loop)
    assert cb.calls == [()]


def test_timer_handles_are_distinct(loop):
    handles = {loop.call_later(10, Recorder()) for _ in range(10)}
    assert len(handles) == 10


def test_remove_timeout(loop):
    cancelled = Recorder()
    handle = loop.call_later(0, cancelled)
    assert loop.remove_timeout(handle) is True
    assert loop.remove_timeout(handle) is False
    loop.call_later(0.001, loop.stop)
    run_loop(loop)
    assert cancelled.calls == []


def test_add_signal_handler(loop):
    def on_signal(signum):
        seen.append(signum)
        loop.stop()

    seen = []
    loop.add_signal_handler(signal.SIGUSR1, on_signal)
    try:
        loop.add_callback(os.kill, os.getpid(), signal.SIGUSR1)
        run_loop(loop)
        assert seen == [signal.SIGUSR1]
    finally:
        assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert loop.remove_signal_handler(signal.SIGUSR1) is False


def drain(loop):
    context = loop.get_context()
    while context.iteration(False):
        pass


@pytest.mark.parametrize('first', ['a', 'b'])
def test_signal_handlers_on_two_loops(loop, first):
    # Each loop gets the signal it handles, whichever loop looks first.
    other = Gbridge.IOLoop.new()
    seen = []
    loop.add_signal_handler(signal.SIGUSR1, seen.append)
    other.add_signal_handler(signal.SIGUSR2, seen.append)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        order = [loop, other] if first == 'a' else [other, loop]
        for each in order:
            drain(each)
        assert sorted(seen) == sorted([signal.SIGUSR1, signal.SIGUSR2])
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
        other.remove_signal_handler(signal.SIGUSR2)
        other.close(False)


def test_periodic_callback(loop):
    def tick():
        ticks.append(loop.time())
        if len(ticks) == 3:
            pc.stop()
            loop.stop()

    ticks = []
    pc = Gbridge.PeriodicCallback.new(loop, 0.001, tick)
    assert not pc.is_running()
    assert pc.get_loop() == loop
    assert pc.get_interval() == 0.001
    pc.start()
    assert pc.is_running()
    run_loop(loop)
    assert len(ticks) == 3
    assert ticks == sorted(ticks)
    assert not pc.is_running()


def test_periodic_callback_passes_user_data(loop):
    def tick(a, b):
        seen.append((a, b))
        pc.stop()
        loop.stop()

    seen = []
    pc = Gbridge.PeriodicCallback.new(loop, 0.001, tick, 'a', 'b')
    pc.start()
    run_loop(loop)
    assert seen == [('a', 'b')]


# Closures live exactly as long as the registration.

def test_callback_closure_released_after_it_ran(loop):
    cb = Recorder()
    ref = weakref.ref(cb)
    loop.add_callback(cb)
    del cb
    loop.add_callback(loop.stop)
    run_loop(loop)
    assert_released(ref)


def test_timer_closure_released_after_it_ran(loop):
    cb = Recorder(then=loop.stop)
    ref = weakref.ref(cb)
    loop.call_later(0, cb)
    del cb
    run_loop(loop)
    assert_released(ref)


def test_timer_closure_kept_while_pending(loop):
    cb = Recorder()
    ref = weakref.ref(cb)
    handle = loop.call_later(60, cb)
    del cb
    gc.collect()
    assert ref() is not None
    assert loop.remove_timeout(handle)
    assert_released(ref)


def test_handler_closure_released_by_remove_handler(loop):
    r, w = os.pipe()
    try:
        cb = Recorder()
        ref = weakref.ref(cb)
        loop.add_handler(r, Gbridge.IOEvents.READ, cb)
        del cb
        gc.collect()
        assert ref() is not None
        assert loop.remove_handler(r) is True
        assert_released(ref)
        assert loop.remove_handler(r) is False
    finally:
        os.close(r)
        os.close(w)


def test_pending_closures_released_by_close():
    loop = Gbridge.IOLoop.new()
    r, w = os.pipe()
    try:
        refs = []
        for register in (lambda cb: loop.add_callback(cb),
                         lambda cb: loop.call_later(60, cb),
                         lambda cb: loop.add_handler(r, Gbridge.IOEvents.READ, cb)):
            cb = Recorder()
            refs.append(weakref.ref(cb))
            register(cb)
            del cb
        loop.close(False)
        for ref in refs:
            assert_released(ref)
    finally:
        os.close(r)
        os.close(w)


def test_add_callback_on_closed_loop():
    loop = Gbridge.IOLoop.new()
    loop.close(False)
    cb = Recorder()
    ref = weakref.ref(cb)
    assert loop.add_callback(cb) is False
    del cb
    assert_released(ref)


def test_close_all_fds_closes_handler_fds():
    loop = Gbridge.IOLoop.new()
    r, w = os.pipe()
    try:
        loop.add_handler(r, Gbridge.IOEvents.READ, Recorder())
        loop.close(True)
        with pytest.raises(OSError):
            os.fstat(r)
    finally:
        os.close(w)


@pytest.mark.parametrize('period', [float('inf'), float('nan'), 0.0, -1.0])
def test_periodic_callback_time_must_be_finite(loop, period):
    # One rule for the constructor and the setter: a programmer error
    # (GLib logs a critical, PyGObject sees no object), never a silent
    # default period.
    with pytest.raises(TypeError, match='constructor returned NULL'):
        Gbridge.PeriodicCallback.new(loop, period, lambda: None)
    pc = Gbridge.PeriodicCallback.new(loop, 0.25, lambda: None)
    pc.set_interval(period)
    assert pc.get_interval() == 0.25


def test_periodic_callback_time_is_tornados_milliseconds(loop):
    # C takes seconds; the Python attribute keeps Tornado's milliseconds.
    pc = Gbridge.PeriodicCallback.new(loop, 0.25, lambda: None)
    assert pc.callback_time == 250.0
    pc.callback_time = 40
    assert pc.get_interval() == 0.04
    assert pc.props.interval == 0.04
    pc.callback_time = datetime.timedelta(seconds=2)
    assert pc.get_interval() == 2.0
    for bad in (0, -5, float('nan'), float('inf'), 'x'):
        with pytest.raises(ValueError):
            pc.callback_time = bad
    assert pc.get_interval() == 2.0


def test_add_timeout_takes_a_timedelta(loop):
    # Tornado's add_timeout: a deadline on the loop's clock, or a timedelta.
    loop.use_virtual_clock(100.0)
    seen = []
    loop.add_timeout(datetime.timedelta(seconds=5), lambda: seen.append(loop.time()))
    loop.add_timeout(103.0, lambda: seen.append(loop.time()))
    for step, expected in ((4.0, [104.0]), (2.0, [104.0, 106.0])):
        loop.advance_clock(step)
        loop.add_callback(loop.stop)
        run_loop(loop)
        assert seen == expected
