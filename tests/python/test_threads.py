# SPDX-License-Identifier: LGPL-2.1-or-later
#
# start() / stop() semantics, and stop() / add_callback() from another Python
# thread waking a loop blocked in poll().

import threading

import pytest

import gi

gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge  # noqa: E402

from gbridgetest import run_loop  # noqa: E402


def _in_thread(func, delay):
    """Runs @func in a new thread once the loop had time to block."""
    def run():
        started.wait()
        # No assertion on time: the delay only makes it likely that the loop
        # is asleep in poll() when func runs.
        threading.Event().wait(delay)
        func()

    started = threading.Event()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return started, thread


def test_stop_from_another_thread_wakes_the_loop(loop):
    ran = []

    def stop():
        ran.append(threading.get_ident())
        loop.stop()

    started, thread = _in_thread(stop, 0.05)
    loop.add_callback(started.set)
    run_loop(loop)
    thread.join()
    assert len(ran) == 1 and ran[0] != threading.get_ident()
    assert not loop.is_running()


def test_add_callback_from_another_thread_runs_on_the_loop_thread(loop):
    loop_thread = threading.get_ident()
    seen = []

    def on_loop():
        seen.append(threading.get_ident())
        loop.stop()

    started, thread = _in_thread(lambda: loop.add_callback(on_loop), 0.05)
    loop.add_callback(started.set)
    run_loop(loop)
    thread.join()
    assert seen == [loop_thread]


def test_many_threads_add_callbacks(loop):
    n_threads, per_thread = 4, 200
    seen = []
    barrier = threading.Barrier(n_threads)

    def produce(tid):
        barrier.wait()
        for i in range(per_thread):
            loop.add_callback(seen.append, (tid, i))

    def check_done():
        if len(seen) == n_threads * per_thread:
            loop.stop()
        else:
            loop.call_later(0.001, check_done)

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    loop.add_callback(check_done)
    run_loop(loop, timeout=30)
    for t in threads:
        t.join()
    # Each producer's callbacks ran in the order it added them.
    for tid in range(n_threads):
        assert [i for (t, i) in seen if t == tid] == list(range(per_thread))


def test_stop_before_start_makes_start_return_at_once(loop):
    ran = []
    loop.add_callback(ran.append, 1)
    loop.stop()
    run_loop(loop)
    assert not loop.is_running()
    # The stop was used up by that start: the next start runs normally.
    loop.add_callback(loop.stop)
    run_loop(loop)
    assert ran == [1]


def test_start_on_a_running_loop_raises_running(loop):
    errors = []

    def nested_start():
        assert loop.is_running()
        with pytest.raises(GLib.Error) as info:
            loop.start()
        errors.append(info.value)
        loop.stop()

    loop.add_callback(nested_start)
    run_loop(loop)
    assert len(errors) == 1
    assert errors[0].matches(Gbridge.io_loop_error_quark(),
                             Gbridge.IOLoopError.RUNNING)
    assert errors[0].domain == 'gbridge-io-loop-error-quark'


def test_loop_in_a_worker_thread(loop):
    """A private-context loop runs in a worker thread while the main thread
    schedules work on it."""
    seen = []
    worker_ident = []

    def worker():
        worker_ident.append(threading.get_ident())
        loop.start()

    loop.add_callback(lambda: seen.append(threading.get_ident()))
    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    done = threading.Event()
    loop.add_callback(done.set)
    assert done.wait(10)
    loop.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert seen == worker_ident


def test_current_loop_while_running(loop):
    seen = []
    loop.add_callback(lambda: seen.append(Gbridge.IOLoop.get_current()))
    loop.add_callback(loop.stop)
    run_loop(loop)
    assert seen == [loop]
