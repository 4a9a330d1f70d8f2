# SPDX-License-Identifier: LGPL-2.1-or-later
#
# gbridge.trio: Trio in guest mode on a gbridge loop.  Trio's own behaviour
# (sleeps, timeouts, cancel scopes, nurseries, TCP, threads) through run()
# and start(), nested main loops, shutdown with tasks still running,
# exceptions and Ctrl-C.

import functools
import gc
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import pytest

trio = pytest.importorskip('trio', reason='Trio (Debian package python3-trio) is not installed')
import trio.testing  # noqa: E402

import gi  # noqa: E402

gi.require_version('GLib', '2.0')
gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge  # noqa: E402

import gbridge.trio  # noqa: E402

from gbridgetest import Watchdog  # noqa: E402


@pytest.fixture(autouse=True)
def no_abandoned_runs():
    """Every test leaves no Trio run behind: none still live, and nothing
    that Trio's garbage collection would warn about."""
    yield
    leftover = list(gbridge.trio._live)
    for run in leftover:      # so that one failure does not spread
        run.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        gc.collect()
    assert not leftover
    assert not [w for w in caught if 'abandoned' in str(w.message)]


def run_with_watchdog(async_fn, *args, **kwargs):
    """gbridge.trio.run() on the default loop, which a watchdog cancels
    after 30 s so that a hang fails instead of blocking the suite."""
    loop = Gbridge.IOLoop.get_default()
    with Watchdog(loop, 30) as dog:
        result = gbridge.trio.run(async_fn, *args, **kwargs)
    assert not dog.fired
    return result


def iterate_until(predicate, timeout=30):
    """Iterates the default context until predicate() holds (a hang
    fails after @timeout seconds)."""
    context = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    source = GLib.timeout_add(100, lambda: True)   # wakes to check the time
    try:
        while not predicate():
            assert time.monotonic() < deadline, 'timed out'
            context.iteration(True)
    finally:
        GLib.source_remove(source)


# run(): trio.run()'s shape ---------------------------------------------------

def test_run_returns_the_result_on_the_default_loop():
    seen = {}

    async def main(a, b):
        seen['loop'] = Gbridge.IOLoop.get_current()
        start = trio.current_time()
        await trio.sleep(0.05)
        seen['slept'] = trio.current_time() - start
        seen['depth'] = GLib.main_depth()
        return a + b

    assert run_with_watchdog(main, 40, 2) == 42
    assert seen['loop'] == Gbridge.IOLoop.get_default()
    assert seen['slept'] >= 0.05
    assert seen['depth'] >= 1, 'the task ran from a GLib dispatch'
    assert not Gbridge.IOLoop.get_default().is_running()


def test_run_on_a_given_loop():
    loop = Gbridge.IOLoop.new()
    try:
        depth_inside = []

        async def main():
            await trio.sleep(0.01)
            depth_inside.append(loop.get_context().is_owner())
            return 'private'

        with Watchdog(loop, 30):
            assert gbridge.trio.run(main, loop=loop) == 'private'
        assert depth_inside == [True]
    finally:
        loop.close(False)


def test_timeouts():
    async def main():
        with trio.move_on_after(0.05) as scope:
            await trio.sleep(10)
        assert scope.cancelled_caught
        with trio.fail_after(0.05):
            await trio.sleep_forever()

    with pytest.raises(trio.TooSlowError):
        run_with_watchdog(main)


def test_cancel_scopes():
    log = []

    async def main():
        with trio.CancelScope() as outer:
            with trio.CancelScope(shield=True) as shielded:
                outer.cancel()
                await trio.sleep(0.01)      # the shield keeps it running
                log.append('shielded slept')
            assert not shielded.cancelled_caught
            await trio.sleep(10)            # cancelled at once
            log.append('never')
        log.append(('outer caught', outer.cancelled_caught))
        with trio.CancelScope(deadline=trio.current_time() + 0.02) as scope:
            await trio.sleep_forever()
        log.append(('deadline caught', scope.cancelled_caught))

    run_with_watchdog(main)
    assert log == ['shielded slept', ('outer caught', True),
                   ('deadline caught', True)]


def test_nursery_with_several_tasks():
    finished = []

    async def worker(name, delay):
        await trio.sleep(delay)
        finished.append(name)

    async def main():
        async with trio.open_nursery() as nursery:
            for name, delay in [('c', 0.3), ('a', 0.1), ('b', 0.2)]:
                nursery.start_soon(worker, name, delay)
        return len(finished)

    # A virtual clock: the order follows the deadlines, whatever the load.
    clock = trio.testing.MockClock(autojump_threshold=0)
    assert run_with_watchdog(main, clock=clock) == 3
    assert finished == ['a', 'b', 'c']


def test_tcp_echo_on_localhost():
    async def echo(stream):
        async with stream:
            async for data in stream:
                await stream.send_all(data.upper())

    async def main():
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, echo, 0, host='127.0.0.1'))
            port = listeners[0].socket.getsockname()[1]
            replies = []
            async with await trio.open_tcp_stream('127.0.0.1', port) as client:
                for word in (b'one', b'two', b'x' * 65536):
                    await client.send_all(word)
                    got = b''
                    while len(got) < len(word):
                        got += await client.receive_some()
                    replies.append(got)
            nursery.cancel_scope.cancel()
            return replies

    assert run_with_watchdog(main) == [b'ONE', b'TWO', b'X' * 65536]


def test_to_thread_and_back():
    main_thread = threading.get_ident()

    async def double(x):
        await trio.sleep(0)
        return 2 * x

    def in_thread():
        # From the worker thread back into Trio, then into GLib's thread
        # through run_sync_soon_threadsafe when Trio wakes up.
        return threading.get_ident(), trio.from_thread.run(double, 21)

    async def main():
        results = []
        async with trio.open_nursery() as nursery:
            async def one():
                results.append(await trio.to_thread.run_sync(in_thread))
            for _ in range(4):
                nursery.start_soon(one)
        return results

    results = run_with_watchdog(main)
    assert len(results) == 4
    assert all(ident != main_thread and value == 42 for ident, value in results)


def test_run_from_another_thread_gets_a_private_loop():
    out = {}

    async def main():
        await trio.sleep(0.01)
        out['loop'] = Gbridge.IOLoop.get_current()
        return threading.get_ident()

    def thread():
        try:
            out['ident'] = gbridge.trio.run(main)
        except BaseException as e:   # reported below
            out['error'] = e

    t = threading.Thread(target=thread)
    t.start()
    t.join(30)
    assert not t.is_alive()
    assert 'error' not in out, out.get('error')
    assert out['ident'] == t.ident
    assert out['loop'] is not None
    assert out['loop'] != Gbridge.IOLoop.get_default()
    assert out['loop'].is_closed()


def test_run_from_a_callback_of_the_running_loop(loop):
    out = []

    async def main():
        await trio.sleep(0.01)
        return GLib.main_depth()

    def callback(*unused):
        out.append(gbridge.trio.run(main, loop=loop))
        loop.stop()

    loop.add_callback(callback)
    with Watchdog(loop, 30) as dog:
        loop.start()
    assert not dog.fired
    assert len(out) == 1 and out[0] >= 2, 'Trio ran in iterations nested in the callback'


# Exceptions -----------------------------------------------------------------

def test_exception_propagates_from_run():
    async def main():
        await trio.sleep(0)
        raise ValueError('from trio')

    with pytest.raises(ValueError, match='from trio'):
        run_with_watchdog(main)


def test_exception_of_a_child_task_propagates():
    async def child():
        await trio.sleep(0.01)
        raise KeyError('child')

    async def main():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(child)
            nursery.start_soon(trio.sleep_forever)

    with pytest.raises(BaseExceptionGroup) as info:
        run_with_watchdog(main, strict_exception_groups=True)
    leaves = info.value.exceptions
    assert len(leaves) == 1 and isinstance(leaves[0], KeyError)


def test_start_done_callback_gets_the_exception():
    loop = Gbridge.IOLoop.get_default()
    main_loop = GLib.MainLoop.new(None, False)
    got = []

    async def main():
        await trio.sleep(0.01)
        raise ValueError('from a guest')

    def done(run):
        got.append((run.done(), run.exception()))
        main_loop.quit()

    run = gbridge.trio.start(main, done=done)
    assert run.loop == loop
    assert not run.done()
    with pytest.raises(RuntimeError):
        run.result()
    GLib.timeout_add_seconds(30, main_loop.quit)
    main_loop.run()
    assert len(got) == 1
    assert got[0][0] is True
    assert isinstance(got[0][1], ValueError)
    with pytest.raises(ValueError, match='from a guest'):
        run.result()
    assert not run.cancelled()


def test_start_reports_an_exception_nobody_asked_for(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, 'excepthook',
                        lambda t, v, tb: reported.append(v))

    async def main():
        await trio.sleep(0)
        raise RuntimeError('unwatched')

    run = gbridge.trio.start(main)
    iterate_until(run.done)
    assert len(reported) == 1 and str(reported[0]) == 'unwatched'


# Hosting: GLib.MainLoop, nested loops, shutdown --------------------------------

def test_start_on_a_glib_main_loop_returns_through_done():
    main_loop = GLib.MainLoop.new(None, False)

    async def main(n):
        async with trio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(trio.sleep, 0.01 * i)
        return n

    results = []
    run = gbridge.trio.start(main, 5,
                             done=lambda r: (results.append(r.result()),
                                             main_loop.quit()))
    GLib.timeout_add_seconds(30, main_loop.quit)
    main_loop.run()
    assert results == [5]
    assert run.done() and run.result() == 5


@pytest.mark.parametrize('opener', ['gbridge callback', 'GLib timeout'])
def test_trio_runs_while_a_nested_main_loop_runs(opener):
    loop = Gbridge.IOLoop.get_default()
    record = {'outer': None, 'depths': [], 'returned': False, 'timed_out': False}

    async def main():
        in_nested = trio.Event()
        nested = GLib.MainLoop.new(None, False)

        def open_nested(*unused):
            # A modal window's loop, started by a GLib/GTK callback.
            record['outer'] = GLib.main_depth()
            in_nested.set()             # host code may wake Trio directly

            def watchdog():
                record['timed_out'] = True
                nested.quit()
                return GLib.SOURCE_REMOVE

            source = GLib.timeout_add_seconds(20, watchdog)
            nested.run()
            if not record['timed_out']:
                GLib.source_remove(source)
            record['returned'] = True
            return GLib.SOURCE_REMOVE

        if opener == 'gbridge callback':
            loop.call_later(0.01, open_nested)
        else:
            GLib.timeout_add(10, open_nested)
        await in_nested.wait()

        async def ticker():
            for _ in range(3):
                await trio.sleep(0.01)
                record['depths'].append(GLib.main_depth())

        async with trio.open_nursery() as nursery:
            for _ in range(2):
                nursery.start_soon(ticker)
        nested.quit()
        while not record['returned']:
            await trio.sleep(0.01)
        return 'after the nested loop'

    assert run_with_watchdog(main) == 'after the nested loop'
    assert not record['timed_out']
    assert len(record['depths']) == 6
    assert all(d > record['outer'] for d in record['depths']), record


def test_close_cancels_tasks_when_the_host_loop_ended():
    main_loop = GLib.MainLoop.new(None, False)
    log = []
    done = []

    async def sleeper(name, task_status=trio.TASK_STATUS_IGNORED):
        try:
            task_status.started()
            await trio.sleep_forever()
        except trio.Cancelled:
            # Cleanup that awaits, shielded, as Trio code does.
            with trio.CancelScope(shield=True):
                await trio.sleep(0.01)
            log.append(name + ' cancelled')
            raise

    async def main():
        async with trio.open_nursery() as nursery:
            for name in ('a', 'b', 'c'):
                await nursery.start(sleeper, name)
            main_loop.quit()      # the application quits, tasks still running
        log.append('never')

    run = gbridge.trio.start(main, done=done.append)
    GLib.timeout_add_seconds(30, main_loop.quit)
    main_loop.run()
    assert not run.done(), 'Trio still runs after its host loop returned'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        run.close()
        gc.collect()
    assert run.done() and run.cancelled()
    assert run.result() is None
    assert done == [run]
    assert sorted(log) == ['a cancelled', 'b cancelled', 'c cancelled']
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_cancel_from_another_thread():
    main_loop = GLib.MainLoop.new(None, False)
    seen = []

    async def main():
        try:
            await trio.sleep_forever()
        finally:
            seen.append('cancelled')

    run = gbridge.trio.start(main, done=lambda run: main_loop.quit())
    timer = threading.Timer(0.05, run.cancel)
    timer.start()
    GLib.timeout_add_seconds(30, main_loop.quit)
    main_loop.run()
    timer.join()
    assert seen == ['cancelled']
    assert run.done() and run.cancelled()
    assert run.cancel() is False


def test_cancel_before_the_first_tick():
    async def main():
        await trio.sleep(10)
        return 'not cancelled'

    run = gbridge.trio.start(main)
    assert run.cancel() is True
    run.close()
    assert run.done() and run.cancelled() and run.result() is None


def test_a_trio_task_cannot_wait_for_its_own_run():
    holder = {}

    async def main():
        await trio.sleep(0)
        with pytest.raises(RuntimeError):
            holder['run'].wait()
        return 'ok'

    holder['run'] = gbridge.trio.start(main)
    assert holder['run'].wait() == 'ok'


def test_the_loop_idles_while_trio_sleeps():
    waits = []

    class CountWaits(trio.abc.Instrument):
        def before_io_wait(self, timeout):
            waits.append(timeout)

    async def main():
        await trio.sleep(0.05)    # settle
        del waits[:]
        cpu = time.process_time()
        await trio.sleep(0.5)
        return time.process_time() - cpu, len(waits)

    cpu, n_waits = run_with_watchdog(main, instruments=[CountWaits()])
    # A busy loop would burn a core for the whole half second and tick
    # thousands of times; a few ticks and a few ms are expected.
    assert n_waits < 20, n_waits
    assert cpu < 0.25, cpu


# Whole processes: exit without close(), Ctrl-C --------------------------------

def run_script(source):
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(source)],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def test_exit_with_trio_still_running_cancels_it():
    code, out, err = run_script('''
        import trio
        from gi.repository import GLib
        import gbridge.trio

        main_loop = GLib.MainLoop.new(None, False)

        async def task(name, task_status=trio.TASK_STATUS_IGNORED):
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                print(name, 'cancelled', flush=True)

        async def main():
            async with trio.open_nursery() as nursery:
                await nursery.start(task, 'one')
                await nursery.start(task, 'two')
                main_loop.quit()

        gbridge.trio.start(main)
        main_loop.run()
        print('host loop returned', flush=True)
        # No close(): the atexit handler finishes Trio.
    ''')
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == 'host loop returned'
    assert sorted(lines[1:]) == ['one cancelled', 'two cancelled']
    assert 'abandoned' not in err and 'Warning' not in err, err


def test_ctrl_c_reaches_the_main_task():
    code, out, err = run_script('''
        import os, signal
        import trio
        import gbridge.trio

        async def child():
            try:
                await trio.sleep_forever()
            finally:
                print('child unwound', flush=True)

        async def main():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(child)
                # SIGINT from another thread while GLib waits in poll().
                await trio.to_thread.run_sync(os.kill, os.getpid(), signal.SIGINT)
                await trio.sleep(20)
            print('not interrupted', flush=True)

        # As from trio.run(): bare, or (strict exception groups, Trio's
        # default from 0.25) in the group of the nursery it went through.
        try:
            gbridge.trio.run(main)
        except* KeyboardInterrupt:
            print('KeyboardInterrupt from run()', flush=True)
        print('handler restored:', signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    ''')
    assert code == 0, err
    assert out.splitlines() == ['child unwound', 'KeyboardInterrupt from run()',
                                'handler restored: True'], (out, err)
    assert 'abandoned' not in err and 'Warning' not in err, err


# Attacks: start() and close() called twice, from another thread, after the
# loop is closed.

def test_a_second_start_in_one_thread_is_refused():
    async def main():
        await trio.sleep_forever()

    run = gbridge.trio.start(main)
    with pytest.raises(RuntimeError):
        gbridge.trio.start(main)
    assert gbridge.trio._live == {run}
    run.close()
    run.close()           # nothing left to do
    assert run.done() and run.cancelled()


def test_start_on_a_closed_loop_raises():
    loop = Gbridge.IOLoop.new()
    loop.close(False)

    async def main():
        pass

    with pytest.raises(RuntimeError):
        gbridge.trio.start(main, loop=loop)
    assert not gbridge.trio._live


def test_close_after_the_loop_was_closed():
    log = []

    async def main():
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            with trio.CancelScope(shield=True):
                await trio.sleep(0.01)     # I/O waits still work
            log.append('cancelled')
            raise

    loop = Gbridge.IOLoop.new()
    run = gbridge.trio.start(main, loop=loop)
    context = loop.get_context()
    while context.iteration(False):
        pass
    # The loop drops Trio's pending tick: close() runs Trio to its end.
    loop.close(False)
    run.close()
    assert run.done() and run.cancelled()
    assert log == ['cancelled']
    assert run not in gbridge.trio._live

    # And the thread can run Trio again.
    assert run_with_watchdog(trio.sleep, 0) is None


def test_close_from_another_thread_while_the_loop_runs():
    main_loop = GLib.MainLoop.new(None, False)
    seen = []

    async def main():
        try:
            await trio.sleep_forever()
        finally:
            seen.append('cancelled')

    run = gbridge.trio.start(main, done=lambda run: main_loop.quit())
    closer = threading.Thread(target=run.close, kwargs={'timeout': 30})
    GLib.timeout_add(10, lambda: closer.start())
    GLib.timeout_add_seconds(30, main_loop.quit)
    main_loop.run()
    closer.join()
    assert seen == ['cancelled']
    assert run.done() and run.cancelled()
