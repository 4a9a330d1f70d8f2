# SPDX-License-Identifier: LGPL-2.1-or-later
#
# gbridge.asyncio: asyncio on a Gbridge.IOLoop.  CPython's own asyncio tests
# run against it in tests/conformance/cpython-asyncio; these tests cover what
# is gbridge's own: the shared GLib context, nesting, threads, the policy.

import asyncio
import os
import signal
import socket
import threading
import warnings

import pytest

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge  # noqa: E402

import gbridge.asyncio as gba  # noqa: E402


@pytest.fixture
def loop():
    loop = gba.new_event_loop()
    yield loop
    loop.close()


def test_main_thread_loop_is_on_the_default_context(loop):
    assert loop.io_loop is Gbridge.IOLoop.get_default()
    assert loop.get_context() == GLib.MainContext.default()


def test_run_until_complete_runs_callbacks_timers_and_fds(loop):
    seen = []

    async def main():
        a, b = socket.socketpair()
        with a, b:
            a.setblocking(False)
            b.setblocking(False)
            loop.call_soon(seen.append, 'soon')
            loop.call_soon(b.send, b'x')
            data = await loop.sock_recv(a, 1)
            seen.append(data)
            # Scheduled after the read: a timer due beside it could run
            # first when a loaded machine wakes up late. The sleep's timer
            # is due after it, and timers run in deadline order.
            loop.call_later(0.01, seen.append, 'later')
            await asyncio.sleep(0.02)
        return 42

    assert loop.run_until_complete(main()) == 42
    assert seen == ['soon', b'x', 'later']


def test_glib_main_loop_runs_asyncio_work(loop):
    """A plain GLib.MainLoop on the context is enough: no run_forever."""
    ml = GLib.MainLoop.new(None, False)
    result = []

    async def work():
        await asyncio.sleep(0.01)
        result.append(asyncio.get_running_loop())
        ml.quit()

    task = loop.create_task(work())
    GLib.timeout_add_seconds(10, ml.quit)
    ml.run()
    assert result == [loop]
    assert task.done()


def test_nested_glib_loop_keeps_asyncio_running(loop):
    seen = []

    async def inner():
        await asyncio.sleep(0.01)
        seen.append('inner')

    def modal():
        # Like a modal dialog: a nested main loop inside an asyncio callback.
        nested = GLib.MainLoop.new(None, False)
        t = loop.create_task(inner())
        t.add_done_callback(lambda _: nested.quit())
        nested.run()
        seen.append('modal done')
        loop.stop()

    loop.call_soon(modal)
    loop.run_forever()
    assert seen == ['inner', 'modal done']


def test_call_soon_threadsafe_wakes_the_loop(loop):
    fut = loop.create_future()

    def other():
        loop.call_soon_threadsafe(fut.set_result, threading.get_ident())
    threading.Timer(0.05, other).start()
    assert loop.run_until_complete(fut) != threading.get_ident()


def test_worker_thread_gets_a_private_context():
    out = {}

    def worker():
        loop = gba.new_event_loop()
        try:
            out['ctx'] = loop.get_context()
            out['result'] = loop.run_until_complete(asyncio.sleep(0.01, 'done'))
            out['default'] = loop.io_loop is Gbridge.IOLoop.get_default()
        finally:
            loop.close()
        out['closed'] = loop.io_loop.is_closed()
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert out['result'] == 'done'
    assert out['default'] is False
    assert out['ctx'] != GLib.MainContext.default()
    assert out['closed'] is True


def test_policy_and_runner():
    # The policy: Python 3.11-3.13 (deprecated from 3.14: test_entry_points).
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        old = asyncio.get_event_loop_policy()
        gba.install()
    try:
        async def main():
            return type(asyncio.get_running_loop())
        assert asyncio.run(main()) is gba.EventLoop
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            asyncio.set_event_loop_policy(old)
    with asyncio.Runner(loop_factory=gba.new_event_loop) as runner:
        assert runner.run(asyncio.sleep(0, 'x')) == 'x'
        assert isinstance(runner.get_loop(), gba.EventLoop)


def test_signal_handler(loop):
    got = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, got.set_result, 'usr1')
    loop.call_later(0.01, os.kill, os.getpid(), signal.SIGUSR1)
    assert loop.run_until_complete(got) == 'usr1'
    assert loop.remove_signal_handler(signal.SIGUSR1)


def test_keyboard_interrupt_leaves_run_forever(loop):
    def boom():
        raise KeyboardInterrupt
    loop.call_soon(boom)
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    # The loop is usable afterwards.
    assert loop.run_until_complete(asyncio.sleep(0, 'ok')) == 'ok'


def test_stop_runs_the_current_batch_only(loop):
    seen = []

    def first():
        seen.append(1)
        loop.stop()
        loop.call_soon(seen.append, 3)
    loop.call_soon(first)
    loop.call_soon(seen.append, 2)
    loop.run_forever()
    assert seen == [1, 2]
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [1, 2, 3]


def test_closed_loop_leaves_the_default_context_clean():
    loop = gba.new_event_loop()
    a, b = socket.socketpair()
    with a, b:
        loop.add_reader(a.fileno(), lambda: None)
        loop.call_later(3600, lambda: None)
        loop.call_soon(lambda: None)
        loop.close()
        # The fd can be watched again on the same gbridge loop.
        io_loop = Gbridge.IOLoop.get_default()
        io_loop.add_handler(a.fileno(), Gbridge.IOEvents.READ, lambda *a: None)
        assert io_loop.remove_handler(a.fileno())
    ctx = GLib.MainContext.default()
    while ctx.iteration(False):
        pass


def test_io_and_glib_sources_run_while_callbacks_never_run_out(loop):
    """The ready queue never empties; fds and other GLib sources still run."""
    a, b = socket.socketpair()
    seen = []

    def spin():
        if len(seen) < 2:
            loop.call_soon(spin)
        else:
            loop.stop()

    def on_read():
        a.recv(1)
        loop.remove_reader(a.fileno())
        seen.append('fd')

    def on_idle(*unused):
        seen.append('glib idle')
        return GLib.SOURCE_REMOVE

    with a, b:
        loop.add_reader(a.fileno(), on_read)
        b.send(b'x')
        # At the gbridge source's priority: GLib never dispatches an idle
        # priority source while a higher priority one is ready.
        GLib.idle_add(on_idle, priority=GLib.PRIORITY_DEFAULT)
        loop.call_soon(spin)
        loop.run_forever()
    assert sorted(seen) == ['fd', 'glib idle']


def test_ctrl_c_interrupts_a_loop_blocked_in_poll():
    """GLib's poll() retries on EINTR: SIGINT must still reach Python."""
    import subprocess
    import sys
    import time
    code = (
        'import asyncio, sys, gbridge.asyncio\n'
        'print("ready", flush=True)\n'
        'try:\n'
        '    gbridge.asyncio.run(asyncio.sleep(60))\n'
        'except KeyboardInterrupt:\n'
        '    print("interrupted", flush=True)\n')
    proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == 'ready\n'
        time.sleep(0.3)     # let it block in poll(); not a timing assertion
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert out == 'interrupted\n'


# A task that fails and is dropped is reported ("exception was never
# retrieved") when its last reference goes, not at the next garbage
# collection: the loop's own frames must not keep it alive through the
# traceback's frame chain (CPython's test_futures2
# test_task_exc_handler_correct_context on 3.14).
@pytest.mark.parametrize('debug', [False, True])
@pytest.mark.parametrize('where', ['first-in-batch', 'last-in-batch', 'fd-handler'])
def test_failed_task_is_reported_without_the_cycle_collector(debug, where):
    import gc

    async def fail():
        1 / 0

    async def main():
        reported = []
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda l, c: reported.append(c['message']))
        if where == 'first-in-batch':
            asyncio.tasks._PyTask(fail())
        elif where == 'last-in-batch':
            loop.call_soon(lambda: asyncio.tasks._PyTask(fail()) and None)
        else:
            r, w = socket.socketpair()
            loop.add_reader(r, lambda: (loop.remove_reader(r),
                                        asyncio.tasks._PyTask(fail())) and None)
            w.send(b'x')
        for _ in range(5):
            await asyncio.sleep(0)
            if reported:
                break
        if where == 'fd-handler':
            r.close()
            w.close()
        return reported

    gc.disable()
    try:
        with asyncio.Runner(debug=debug, loop_factory=gba.EventLoop) as runner:
            reported = runner.run(main())
    finally:
        gc.enable()
    assert reported and 'exception was never retrieved' in reported[0]


def test_closing_the_loop_after_its_io_loop_is_safe():
    # The IOLoop closed under the asyncio loop (dropping its reader), then
    # the asyncio loop closed: removing the reader from the closed IOLoop
    # must not crash, nor must removing a handler from it directly.
    io = Gbridge.IOLoop.new()
    loop = gba.EventLoop(io_loop=io)
    a, b = socket.socketpair()
    try:
        loop.add_reader(a.fileno(), lambda: None)
        io.close(False)
        loop.close()
        assert io.remove_handler(a.fileno()) is False
        with pytest.raises(GLib.Error) as info:
            io.update_handler(a.fileno(), Gbridge.IOEvents.READ)
        assert info.value.matches(Gbridge.io_loop_error_quark(),
                                  Gbridge.IOLoopError.CLOSED)
    finally:
        a.close()
        b.close()
