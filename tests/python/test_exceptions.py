# SPDX-License-Identifier: LGPL-2.1-or-later
#
# An exception raised in a Python callback is reported (PyGObject prints the
# traceback to stderr) and the loop goes on: a later callback still runs.

import os
import signal

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gbridge  # noqa: E402

from gbridgetest import run_loop  # noqa: E402


class Boom(Exception):
    pass


def raising(*args):
    raise Boom('boom from a python callback')


def assert_traceback_printed(capfd):
    out, err = capfd.readouterr()
    assert 'Traceback (most recent call last)' in err
    assert 'in raising' in err
    assert 'Boom: boom from a python callback' in err


def test_exception_in_add_callback(loop, capfd):
    after = []
    loop.add_callback(raising)
    loop.add_callback(after.append, 'same batch')
    loop.call_later(0.001, after.append, 'later timer')
    loop.call_later(0.002, loop.stop)
    run_loop(loop)
    assert after == ['same batch', 'later timer']
    assert loop.add_callback(loop.stop)
    run_loop(loop)
    assert_traceback_printed(capfd)


def test_exception_in_spawn_callback(loop, capfd):
    after = []
    loop.spawn_callback(raising)
    loop.add_callback(after.append, 'next')
    loop.add_callback(loop.stop)
    run_loop(loop)
    assert after == ['next']
    assert_traceback_printed(capfd)


def test_exception_in_timer(loop, capfd):
    after = []
    loop.call_later(0, raising)
    loop.call_later(0.001, after.append, 'later timer')
    loop.call_later(0.002, loop.stop)
    run_loop(loop)
    assert after == ['later timer']
    assert_traceback_printed(capfd)


def test_exception_in_fd_handler(loop, capfd):
    r, w = os.pipe()
    try:
        def on_readable(fd, events):
            os.read(fd, 100)
            calls.append(events)
            if len(calls) == 1:
                loop.add_callback(os.write, w, b'2')
            else:
                loop.stop()
            raising()

        calls = []
        loop.add_handler(r, Gbridge.IOEvents.READ, on_readable)
        os.write(w, b'1')
        # The handler raises after draining the pipe; the loop goes on and
        # calls it again once there is more to read. The second byte is
        # written after the first call and the loop stops on the second
        # call: timers beside them would race the reads on a loaded machine.
        run_loop(loop)
        assert len(calls) == 2
        assert loop.remove_handler(r)
    finally:
        os.close(r)
        os.close(w)
    assert_traceback_printed(capfd)


def test_exception_in_signal_handler(loop, capfd):
    after = []
    loop.add_signal_handler(signal.SIGUSR2, raising)
    try:
        loop.add_callback(os.kill, os.getpid(), signal.SIGUSR2)
        loop.call_later(0.1, after.append, 'after signal')
        loop.call_later(0.1, loop.stop)
        run_loop(loop)
    finally:
        loop.remove_signal_handler(signal.SIGUSR2)
    assert after == ['after signal']
    assert_traceback_printed(capfd)


def test_exception_in_periodic_callback(loop, capfd):
    def tick():
        ticks.append(1)
        if len(ticks) == 3:
            pc.stop()
            loop.stop()
        raise Boom('boom from a python callback')

    ticks = []
    pc = Gbridge.PeriodicCallback.new(loop, 0.001, tick)
    pc.start()
    run_loop(loop)
    # The periodic callback keeps ticking although every tick raised.
    assert ticks == [1, 1, 1]
    err = capfd.readouterr().err
    assert err.count('Boom: boom from a python callback') == 3
