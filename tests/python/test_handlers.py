# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fd handlers, nesting and object lifetimes as seen from Python.

import gc
import os
import signal
import socket

import pytest

import gi

gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge  # noqa: E402

from gbridgetest import run_loop, run_one_iteration  # noqa: E402


@pytest.fixture
def pipes(request):
    """@request.param pipes, each with a byte waiting to be read."""
    created = [os.pipe() for _ in range(request.param)]
    for r, w in created:
        os.write(w, b'x')
    yield created
    for r, w in created:
        os.close(r)
        os.close(w)


# A few ready pipes and many: more than one collects at once, all in epoll.
@pytest.mark.parametrize('pipes', [2, 40], indirect=True)
def test_handler_removed_during_the_iteration_is_not_called(loop, pipes):
    called = []

    def handler(fd, events):
        called.append(fd)
        # Every other fd is ready in this very iteration; none of their
        # handlers may run after this.
        for r, w in pipes:
            loop.remove_handler(r)

    for r, w in pipes:
        loop.add_handler(r, Gbridge.IOEvents.READ, handler)
    run_one_iteration(loop)
    assert len(called) == 1
    run_one_iteration(loop)
    assert len(called) == 1


@pytest.mark.parametrize('pipes', [2, 40], indirect=True)
def test_level_triggered_handlers_all_run(loop, pipes):
    called = []
    for r, w in pipes:
        loop.add_handler(r, Gbridge.IOEvents.READ,
                         lambda fd, ev: called.append(fd))
    run_one_iteration(loop)
    run_one_iteration(loop)
    # Nobody read the byte: every handler ran in each of the two iterations.
    assert sorted(called) == sorted([r for r, w in pipes] * 2)
    for r, w in pipes:
        assert loop.remove_handler(r)


def test_update_handler(loop):
    # One end of a socket pair is writable at once, and readable once the
    # other end wrote.
    a, b = socket.socketpair()
    with a, b:
        seen = []

        def handler(fd, events):
            seen.append(events)
            if events & Gbridge.IOEvents.WRITE:
                loop.update_handler(fd, Gbridge.IOEvents.READ)
                b.send(b'x')
            else:
                loop.stop()

        loop.add_handler(a.fileno(), Gbridge.IOEvents.WRITE, handler)
        run_loop(loop)
        assert loop.remove_handler(a.fileno())
    assert len(seen) == 2
    assert seen[0] & Gbridge.IOEvents.WRITE
    assert seen[1] & Gbridge.IOEvents.READ
    assert not seen[1] & Gbridge.IOEvents.WRITE


def test_hangup_is_reported_as_error(loop):
    r, w = os.pipe()
    try:
        seen = []

        def handler(fd, events):
            seen.append(events)
            loop.remove_handler(fd)
            loop.stop()

        loop.add_handler(r, Gbridge.IOEvents.READ, handler)
        os.close(w)
        w = -1
        run_loop(loop)
        assert len(seen) == 1
        assert seen[0] & Gbridge.IOEvents.ERROR
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_add_handler_on_closed_fd_raises_bad_fd(loop):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(GLib.Error) as info:
        loop.add_handler(r, Gbridge.IOEvents.READ, lambda fd, ev: None)
    assert info.value.matches(Gbridge.io_loop_error_quark(),
                              Gbridge.IOLoopError.BAD_FD)


def test_nested_glib_main_loop_keeps_dispatching(loop):
    context = loop.get_context()
    seen = []

    def outer():
        nested = GLib.MainLoop.new(context, False)
        watchdog = GLib.timeout_source_new_seconds(10)
        watchdog.set_callback(lambda *a: (seen.append('watchdog'), nested.quit()))
        watchdog.attach(context)
        loop.add_callback(seen.append, 'callback in nested loop')
        loop.call_later(0.001, lambda: (seen.append('timer in nested loop'),
                                        nested.quit()))
        nested.run()
        watchdog.destroy()
        seen.append('outer callback done')
        loop.stop()

    loop.add_callback(outer)
    run_loop(loop)
    assert seen == ['callback in nested loop', 'timer in nested loop',
                    'outer callback done']


def test_signal_handler_on_two_loops_raises_exists(loop):
    other = Gbridge.IOLoop.new()
    try:
        loop.add_signal_handler(signal.SIGUSR1, lambda signum: None)
        with pytest.raises(GLib.Error) as info:
            other.add_signal_handler(signal.SIGUSR1, lambda signum: None)
        assert info.value.matches(Gbridge.io_loop_error_quark(),
                                  Gbridge.IOLoopError.EXISTS)
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
        other.close(False)


def test_uncatchable_signal_raises_invalid_signal(loop):
    with pytest.raises(GLib.Error) as info:
        loop.add_signal_handler(signal.SIGKILL, lambda signum: None)
    assert info.value.matches(Gbridge.io_loop_error_quark(),
                              Gbridge.IOLoopError.INVALID_SIGNAL)


def test_running_periodic_callback_outlives_the_python_reference(loop):
    ticks = []

    def tick():
        ticks.append(1)
        if len(ticks) == 3:
            loop.stop()

    Gbridge.PeriodicCallback.new(loop, 0.001, tick).start()
    gc.collect()
    run_loop(loop)
    assert ticks == [1, 1, 1]


def test_periodic_callback_restarted_from_its_callback(loop):
    loop.use_virtual_clock(0.0)
    ticks = []

    def tick():
        ticks.append(loop.time())
        # Restarting re-anchors the grid at now.
        pc.stop()
        pc.start()

    pc = Gbridge.PeriodicCallback.new(loop, 1.0, tick)
    pc.start()
    loop.advance_clock(1.5)
    run_one_iteration(loop)
    assert ticks == [1.5]
    loop.advance_clock(0.75)
    run_one_iteration(loop)
    assert ticks == [1.5]
    loop.advance_clock(0.25)
    run_one_iteration(loop)
    assert ticks == [1.5, 2.5]
    pc.stop()
    assert not pc.is_running()
