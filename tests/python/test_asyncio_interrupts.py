# SPDX-License-Identifier: LGPL-2.1-or-later
#
# KeyboardInterrupt and SystemExit raised in an asyncio callback while GLib,
# not run_forever(), drives the loop (GLib.MainLoop, GTK, context.iteration()).
# Raising into C is impossible, so gbridge does what PyGObject does with its
# own callbacks (PyErr_Print): KeyboardInterrupt is printed and the loop goes
# on; SystemExit ends the process with its code.  Either way the loop must
# stay usable: later callbacks run.

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gbridge', '1')
from gi.repository import GLib  # noqa: E402

import gbridge.asyncio as gba  # noqa: E402


@pytest.fixture
def loop():
    """A loop on the default context."""
    loop = gba.new_event_loop()
    yield loop
    loop.close()
    ctx = GLib.MainContext.default()
    while ctx.iteration(False):
        pass


def run_main_loop(ml, timeout=10):
    """GLib.MainLoop.run() with a watchdog; returns what it raised, if any."""
    timed_out = []
    source = GLib.timeout_add_seconds(
        timeout, lambda: timed_out.append(1) or ml.quit() or False)
    try:
        ml.run()
        raised = None
    except BaseException as e:
        raised = e
    if not timed_out:
        GLib.source_remove(source)
    assert not timed_out, 'GLib.MainLoop still running after %ds' % timeout
    return raised


def keyboard_interrupt_script(schedule):
    """A process that raises KeyboardInterrupt in a callback scheduled by
    @schedule under GLib.MainLoop.run(), then runs a later callback."""
    return run_script(schedule + textwrap.dedent('''
        def later():
            print('later ran', flush=True)
            ml.quit()
        GLib.timeout_add(20, later)
    '''))


def test_keyboard_interrupt_as_in_pygobject_callbacks():
    """In a subprocess: on Python 3.14, PyErr_Print() of a KeyboardInterrupt
    also makes the process end by SIGINT later, which would end pytest."""
    theirs = keyboard_interrupt_script(
        'GLib.idle_add(lambda: exec("raise KeyboardInterrupt(\'cb\')"))')
    ours = keyboard_interrupt_script(
        'loop.call_soon(lambda: exec("raise KeyboardInterrupt(\'cb\')"))')
    for result in theirs, ours:
        # Printed, not raised out of run(); the later callback ran.
        assert result.stdout == 'later ran\nrun returned\natexit ran\n'
        assert 'KeyboardInterrupt: cb' in result.stderr


def boom():
    raise KeyboardInterrupt('from an asyncio callback')


def schedule_soon(loop):
    loop.call_soon(boom)


def schedule_timer(loop):
    loop.call_later(0.001, boom)


def schedule_reader(loop):
    a, b = socket.socketpair()
    loop._test_sockets = (a, b)

    def on_readable():
        loop.remove_reader(a.fileno())
        a.recv(1)
        boom()
    loop.add_reader(a.fileno(), on_readable)
    b.send(b'x')


@pytest.mark.parametrize('schedule', [schedule_soon, schedule_timer, schedule_reader],
                         ids=['call_soon', 'call_later', 'reader'])
def test_keyboard_interrupt_under_glib_main_loop(loop, capfd, schedule):
    ml = GLib.MainLoop()
    seen = []

    def after():
        seen.append('after')
        # Scheduled from a later callback: the drain must not be stuck.
        loop.call_soon(seen.append, 'soon')
        loop.call_soon(ml.quit)

    schedule(loop)
    loop.call_later(0.02, after)
    try:
        raised = run_main_loop(ml)
    finally:
        for s in getattr(loop, '_test_sockets', ()):
            s.close()
    err = capfd.readouterr().err
    # As PyGObject's own callbacks: printed, not raised out of run().
    assert raised is None
    assert 'KeyboardInterrupt: from an asyncio callback' in err
    assert seen == ['after', 'soon']
    assert not loop._core.drain_pending
    # And the loop still runs asyncio work, from GLib and from run_forever.
    loop.call_soon(seen.append, 'glib again')
    ctx = GLib.MainContext.default()
    while ctx.iteration(False):
        pass
    assert seen[-1] == 'glib again'
    assert loop.run_until_complete(asyncio.sleep(0.001, 'ok')) == 'ok'


def test_keyboard_interrupt_under_context_iteration(loop, capfd):
    seen = []
    loop.call_soon(boom)
    loop.call_soon(seen.append, 'same batch')
    ctx = GLib.MainContext.default()
    for _ in range(3):
        ctx.iteration(False)
    loop.call_soon(seen.append, 'next')
    for _ in range(3):
        ctx.iteration(False)
    assert seen == ['same batch', 'next']
    assert 'KeyboardInterrupt: from an asyncio callback' in capfd.readouterr().err


def test_sigint_stops_glib_main_loop(loop):
    """Ctrl-C while GLib.MainLoop.run() runs asyncio work: run() raises
    KeyboardInterrupt, as PyGObject arranges for its MainLoop, and the loop
    goes on working."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip('SIGINT is not handled by Python here')
    ml = GLib.MainLoop()
    seen = []

    def spin():
        seen.append('spin')
        loop.call_soon(spin)   # the loop is busy, the signal lands in Python

    loop.call_soon(spin)
    loop.call_later(0.01, os.kill, os.getpid(), signal.SIGINT)
    raised = run_main_loop(ml)
    assert isinstance(raised, KeyboardInterrupt)
    assert seen
    loop.call_soon(seen.append, 'after')
    assert loop.run_until_complete(asyncio.sleep(0, 'ok')) == 'ok'


def run_script(body):
    code = textwrap.dedent('''
        import asyncio, atexit, sys
        import gi
        gi.require_version('Gbridge', '1')
        from gi.repository import GLib
        import gbridge.asyncio as gba
        atexit.register(print, 'atexit ran', flush=True)
        loop = gba.new_event_loop()
        ml = GLib.MainLoop()
        GLib.timeout_add_seconds(10, ml.quit)
    ''') + textwrap.dedent(body) + textwrap.dedent('''
        ml.run()
        print('run returned', flush=True)
    ''')
    return subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize('code, status, stderr', [
    ('3', 3, ''), ('None', 0, ''), ("'bye'", 1, 'bye\n')])
def test_system_exit_ends_the_process_as_pygobject_does(code, status, stderr):
    ours = run_script('loop.call_soon(sys.exit, %s)' % code)
    theirs = run_script('GLib.idle_add(sys.exit, %s)' % code)
    # gbridge's callback and PyGObject's own: the same end.
    assert (ours.returncode, ours.stdout, ours.stderr) == \
        (theirs.returncode, theirs.stdout, theirs.stderr)
    assert ours.returncode == status
    assert ours.stdout == 'atexit ran\n'    # finalized, 'run returned' never
    assert ours.stderr == stderr


def test_system_exit_from_a_timer_and_a_reader():
    for body in ('loop.call_later(0.001, sys.exit, 4)',
                 'import socket\n'
                 'a, b = socket.socketpair()\n'
                 'loop.add_reader(a.fileno(), sys.exit, 4)\n'
                 'b.send(b"x")'):
        result = run_script(body)
        assert (result.returncode, result.stdout) == (4, 'atexit ran\n'), result.stderr


def test_system_exit_still_leaves_run_forever(loop):
    loop.call_soon(sys.exit, 5)
    with pytest.raises(SystemExit) as info:
        loop.run_forever()
    assert info.value.code == 5
    assert loop.run_until_complete(asyncio.sleep(0, 'ok')) == 'ok'
