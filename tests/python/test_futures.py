# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Gbridge.Future from Python: values of any type, done-callbacks, run_sync
# with Tornado's semantics, GIO's async pattern both ways, and conversion to
# and from asyncio futures (await, cancellation and errors both ways).

import asyncio
import gc
import os
import sys
import tempfile
import threading
import weakref

import pytest

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gio, GLib, GObject, Gbridge  # noqa: E402

import gbridge  # noqa: E402


def iterate_until(loop, predicate):
    context = loop.get_context()
    while not predicate():
        context.iteration(True)


def run_future(loop, future):
    done = []
    future.add_done_callback(lambda f: done.append(f))
    iterate_until(loop, lambda: done)


@pytest.mark.parametrize('value', [
    42, -2**31, 2**40, 2**70, 1.5, 'text', b'bytes', True, [1, 'a'],
    {'k': (1, 2)}, None,
])
def test_resolve_keeps_any_python_value(loop, value):
    future = Gbridge.Future.new_for_loop(loop)
    future.resolve(value)
    assert future.get_value() == value
    assert future.result() == value
    assert future.has_value() == (value is not None)


def test_resolve_twice_is_an_error_and_keeps_the_first(loop):
    future = Gbridge.Future.new_for_loop(loop)
    future.resolve(1)
    with pytest.raises(GLib.Error) as info:
        future.resolve(2)
    assert info.value.matches(Gbridge.future_error_quark(),
                              Gbridge.FutureError.ALREADY_DONE)
    assert future.get_value() == 1


def test_failure_and_cancellation(loop):
    failed = Gbridge.Future.new_for_loop(loop)
    failed.fail(GLib.Error.new_literal(Gio.io_error_quark(), 'gone',
                                       Gio.IOErrorEnum.NOT_FOUND))
    with pytest.raises(GLib.Error) as info:
        failed.get_value()
    assert info.value.message == 'gone'
    assert isinstance(failed.exception(), GLib.Error)

    cancelled = Gbridge.Future.new_for_loop(loop)
    assert cancelled.cancel()
    assert cancelled.cancelled() and cancelled.done()
    assert cancelled.get_cancellable().is_cancelled()
    with pytest.raises(asyncio.CancelledError):
        cancelled.result()


def test_done_callbacks_run_later_in_order(loop):
    future = Gbridge.Future.new_for_loop(loop)
    order = []
    future.add_done_callback(lambda f: order.append('a'))
    future.add_done_callback(lambda f: order.append('b'))
    future.resolve(None)
    future.add_done_callback(lambda f: order.append('c'))
    assert order == []
    loop.get_context().iteration(False)
    assert order == ['a', 'b', 'c']


def test_all_returns_a_list(loop):
    futures = [Gbridge.Future.new_for_loop(loop) for _ in range(3)]
    everything = Gbridge.Future.all(futures)
    for i, f in reversed(list(enumerate(futures))):
        f.resolve(i * 10)
    run_future(loop, everything)
    assert everything.get_value() == [0, 10, 20]


# run_sync, after Tornado's IOLoop.run_sync tests

def test_run_sync_returns_the_value(loop):
    def func():
        assert Gbridge.IOLoop.get_current() == loop
        future = Gbridge.Future.new()
        loop.call_later(0.001, lambda: future.resolve('late'))
        return future
    assert loop.run_sync(func) == 'late'


def test_run_sync_with_none(loop):
    assert loop.run_sync(lambda: None) is None


def test_run_sync_reraises_what_func_raised(loop):
    class Boom(Exception):
        pass

    def func():
        raise Boom('from func')
    with pytest.raises(Boom):
        loop.run_sync(func)
    assert not loop.is_running()


def test_run_sync_raises_the_failure(loop):
    def func():
        return Gbridge.Future.new_failed(
            GLib.Error.new_literal(Gio.io_error_quark(), 'denied',
                                   Gio.IOErrorEnum.PERMISSION_DENIED))
    with pytest.raises(GLib.Error) as info:
        loop.run_sync(func)
    assert info.value.matches(Gio.io_error_quark(),
                              Gio.IOErrorEnum.PERMISSION_DENIED)


def test_run_sync_timeout_cancels(loop):
    pending = []

    def func():
        pending.append(Gbridge.Future.new())
        return pending[0]
    with pytest.raises(GLib.Error) as info:
        loop.run_sync(func, timeout=0.01)
    assert info.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
    assert pending[0].cancelled()


def test_run_sync_inside_running_loop_is_an_error(loop):
    def func():
        with pytest.raises(GLib.Error) as info:
            loop.run_sync(lambda: None)
        assert info.value.matches(Gbridge.io_loop_error_quark(),
                                  Gbridge.IOLoopError.RUNNING)
        return None
    loop.run_sync(func)


def test_add_future_from_worker_threads(loop):
    # Tornado's test_add_future_threads: futures completed in threads,
    # callbacks on the loop's thread.
    futures = [Gbridge.Future.new_for_loop(loop) for _ in range(2)]
    seen = []
    loop_thread = threading.get_ident()

    def callback(f):
        seen.append((f.get_value(), threading.get_ident()))
        if len(seen) == len(futures):
            loop.stop()

    def worker():
        for f in futures:
            loop.add_future(f, callback)
        for i, f in enumerate(futures):
            f.resolve(i)

    threading.Thread(target=worker).start()
    loop.start()
    assert sorted(seen) == [(0, loop_thread), (1, loop_thread)]


def test_run_in_thread(loop):
    def work(future, cancellable):
        future.resolve(threading.get_ident())
    worker = loop.run_sync(lambda: Gbridge.Future.run_in_thread(loop, work))
    assert worker != threading.get_ident()


# GIO

def test_future_from_a_gio_call(loop):
    with tempfile.NamedTemporaryFile() as tmp:
        tmp.write(b'contents')
        tmp.flush()
        gfile = Gio.File.new_for_path(tmp.name)

        def func():
            future = Gbridge.Future.new()

            def ready(source, result):
                try:
                    ok, data, etag = source.load_contents_finish(result)
                    future.resolve(data)
                except GLib.Error as e:
                    future.fail(e)
            # GIO calls back in the thread-default context, the loop's.
            gfile.load_contents_async(future.get_cancellable(), ready)
            return future
        assert loop.run_sync(func, timeout=10) == b'contents'


def test_wait_async_from_pygobject(loop):
    future = Gbridge.Future.new_for_loop(loop)
    got = []

    def ready(source, result):
        got.append(source.wait_finish(result))
        loop.stop()

    loop.add_callback(lambda: future.wait_async(None, ready))
    loop.add_callback(lambda: future.resolve('waited'))
    loop.start()
    assert got == ['waited']


# asyncio

def test_await_on_asyncio_default_loop(loop):
    async def main():
        future = Gbridge.Future.run_in_thread(
            loop, lambda f, c: f.resolve('from a thread'))
        return await future
    # Nothing runs the Gbridge loop here: the outcome crosses by itself.
    assert asyncio.run(main()) == 'from a thread'


def test_await_raises_failure_and_cancellation(loop):
    async def main():
        failing = Gbridge.Future.new_for_loop(loop)
        failing.fail(GLib.Error.new_literal(Gio.io_error_quark(), 'busy',
                                            Gio.IOErrorEnum.BUSY))
        with pytest.raises(GLib.Error) as info:
            await failing
        assert info.value.message == 'busy'

        cancelled = Gbridge.Future.new_for_loop(loop)
        asyncio.get_running_loop().call_soon(cancelled.cancel)
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    asyncio.run(main())


def test_cancelling_the_asyncio_side_cancels_the_gbridge_future(loop):
    future = Gbridge.Future.new_for_loop(loop)

    async def main():
        afut = gbridge.to_asyncio_future(future)
        afut.cancel()
        await asyncio.sleep(0)
    asyncio.run(main())
    assert future.cancelled()


def test_to_gbridge_future_keeps_value_errors_and_cancellation(loop):
    class Custom(Exception):
        pass

    async def value():
        await asyncio.sleep(0)
        return {'answer': 42}

    async def raises_custom():
        raise Custom('bad thing')

    async def raises_gerror():
        raise GLib.Error.new_literal(Gio.io_error_quark(), 'exists',
                                     Gio.IOErrorEnum.EXISTS)

    async def main():
        ok = gbridge.to_gbridge_future(value(), loop=loop)
        custom = gbridge.to_gbridge_future(raises_custom(), loop=loop)
        gerror = gbridge.to_gbridge_future(raises_gerror(), loop=loop)
        sleeper = asyncio.ensure_future(asyncio.sleep(3600))
        cancelled = gbridge.to_gbridge_future(sleeper, loop=loop)
        await asyncio.sleep(0.01)
        cancelled.cancel()
        await asyncio.sleep(0)

        assert ok.get_value() == {'answer': 42}
        assert ok.get_loop() == loop

        # Seen from C: a GError in the FAILED domain, with the message.
        with pytest.raises(GLib.Error) as info:
            custom.get_value()
        assert info.value.matches(Gbridge.future_error_quark(),
                                  Gbridge.FutureError.FAILED)
        assert 'Custom' in info.value.message
        assert 'bad thing' in info.value.message
        # Back in Python: the original exception.
        with pytest.raises(Custom):
            await custom

        with pytest.raises(GLib.Error) as info:
            await gerror
        assert info.value.matches(Gio.io_error_quark(),
                                  Gio.IOErrorEnum.EXISTS)

        assert sleeper.cancelled()
    asyncio.run(main())


def test_cancelled_asyncio_task_cancels_the_gbridge_future(loop):
    async def main():
        task = asyncio.ensure_future(asyncio.sleep(3600))
        future = gbridge.to_gbridge_future(task, loop=loop)
        task.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return future
    assert asyncio.run(main()).cancelled()


def test_override_is_installed_where_pygobject_finds_it():
    import gi.overrides.Gbridge as override
    here = os.path.dirname(gbridge.__file__)
    assert os.path.dirname(os.path.dirname(os.path.dirname(override.__file__))) \
        == os.path.dirname(here)


# On gbridge's own asyncio loop (gbridge.asyncio), sharing the Gbridge loop

def test_await_on_gbridge_asyncio_loop(loop):
    import gbridge.asyncio
    aloop = gbridge.asyncio.EventLoop(loop)
    try:
        async def main():
            assert asyncio.get_running_loop().io_loop == loop
            future = Gbridge.Future.new_for_loop(loop)
            # A Gbridge timer on the same loop resolves it: one thread.
            loop.call_later(0.001, lambda: future.resolve('on gbridge'))
            value = await future
            failing = Gbridge.Future.new_for_loop(loop)
            loop.add_callback(lambda: failing.cancel())
            with pytest.raises(asyncio.CancelledError):
                await failing
            return value
        assert aloop.run_until_complete(main()) == 'on gbridge'
    finally:
        aloop.close()


def test_run_sync_runs_a_coroutine_on_gbridge_asyncio(loop):
    import gbridge.asyncio
    aloop = gbridge.asyncio.EventLoop(loop)
    asyncio.set_event_loop(aloop)
    try:
        async def work():
            await asyncio.sleep(0.001)
            return 'from a coroutine'

        async def fails():
            await asyncio.sleep(0)
            raise KeyError('inside')
        # Tornado's run_sync(coroutine function): the coroutine runs as an
        # asyncio task on the loop run_sync runs.
        assert loop.run_sync(work, timeout=10) == 'from a coroutine'
        # Its exception comes out as itself, not as the GError that carried
        # it through C.
        with pytest.raises(KeyError):
            loop.run_sync(fails, timeout=10)
    finally:
        asyncio.set_event_loop(None)
        aloop.close()


# The rest of the API, through gi.repository.Gbridge

def test_chain_any_first_from_python(loop):
    source = Gbridge.Future.new_for_loop(loop)
    copy = Gbridge.Future.new_for_loop(loop)
    source.chain(copy)
    racers = [Gbridge.Future.new_for_loop(loop) for _ in range(2)]
    anyone = Gbridge.Future.any(racers)
    first = Gbridge.Future.first(racers)
    racers[0].fail(GLib.Error.new_literal(Gio.io_error_quark(), 'lost',
                                          Gio.IOErrorEnum.BUSY))
    racers[1].resolve('won')
    source.resolve(5)
    for f in (copy, anyone, first):
        run_future(loop, f)
    assert copy.get_value() == 5
    assert anyone.get_value() == 'won'
    assert first.get_failure().message == 'lost'
    with pytest.raises(GLib.Error):
        first.get_value()


def test_with_timeout_from_python(loop):
    inner = Gbridge.Future.new_for_loop(loop)
    timed = inner.with_timeout(0.01)
    run_future(loop, timed)
    with pytest.raises(GLib.Error) as info:
        timed.get_value()
    assert info.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
    assert inner.cancelled()


def test_link_cancellable_and_objects_from_python(loop):
    cancellable = Gio.Cancellable()
    linked = Gbridge.Future.new_for_loop(loop)
    linked.link_cancellable(cancellable)
    assert linked.get_cancellable() is cancellable
    cancellable.cancel()
    assert linked.cancelled()

    holder = Gbridge.Future.new_for_loop(loop)
    obj = Gio.SimpleAction.new('x', None)
    holder.resolve_object(obj)
    assert holder.get_object() is obj


def test_new_task_from_python(loop):
    future = Gbridge.Future.new_for_loop(loop)
    loop.get_context().push_thread_default()
    try:
        task = future.new_task(None)
        assert task.get_cancellable() is future.get_cancellable()
        value = GObject.Value(GObject.TYPE_STRING, 'from a GTask')
        task.return_value(value)
    finally:
        loop.get_context().pop_thread_default()
    run_future(loop, future)
    assert future.get_value() == 'from a GTask'


# The override's hot calls (new_for_loop, add_done_callback, resolve,
# get_value) run in gbridge._native where it was built with PyGObject's
# headers, else through GObject Introspection (python-futures-introspection
# runs this file with GBRIDGE_PYTHON_NATIVE=0): the same behaviour both ways.

def test_the_future_path_in_use_is_the_one_asked_for():
    from gi.overrides import Gbridge as override
    native = os.environ.get('GBRIDGE_PYTHON_NATIVE', '1') != '0' and \
        os.environ.get('GBRIDGE_TEST_HAVE_NATIVE_FUTURE') == '1'
    assert override._native_future == native


class BigInt(int):
    pass


@pytest.mark.parametrize('value, seen_from_c', [
    (42, 'gint 42'),
    (-2**31, 'gint -2147483648'),
    (2**31 - 1, 'gint 2147483647'),
    (2**31, 'gint64 2147483648'),
    (-2**63, 'gint64 -9223372036854775808'),
    (2**63 - 1, 'gint64 9223372036854775807'),
    (2**63, 'PyObject'),
    (BigInt(5), 'PyObject'),
    (1.5, 'gdouble 1.500000'),
    ('text', 'gchararray "text"'),
    (True, 'gboolean TRUE'),
    (b'bytes', 'PyObject'),
    ([1, 'a'], 'PyObject'),
    (None, 'none'),
    (Gio.IOErrorEnum.NOT_FOUND, 'GIOErrorEnum ((GIOErrorEnum) G_IO_ERROR_NOT_FOUND)'),
    (GObject.Value(GObject.TYPE_UINT, 7), 'guint 7'),
])
def test_python_values_as_c_reads_them(loop, helper, value, seen_from_c):
    """A future resolved from Python holds the GValue PyGObject makes of the
    value for a GValue argument (an int beyond 32 bits a gint64, beyond 64 a
    PyObject), which C, GJS and Vala read."""
    future = Gbridge.Future.new_for_loop(loop)
    assert future.resolve(value) is True
    got = helper.future_value(future)
    if seen_from_c == 'PyObject':
        assert got.startswith('PyObject ')
    else:
        assert got == seen_from_c
    back = future.get_value()
    if isinstance(value, GObject.Value):
        assert back == value.get_value()
    else:
        assert back == value and type(back) is type(value)


def test_an_object_value_is_the_same_object(loop, helper):
    future = Gbridge.Future.new_for_loop(loop)
    obj = Gio.Cancellable()
    future.resolve(obj)
    assert helper.future_value(future).startswith('GCancellable ')
    assert future.get_value() is obj
    assert future.get_object() is obj


def test_resolve_and_read_errors(loop):
    future = Gbridge.Future.new_for_loop(loop)
    with pytest.raises(GLib.Error) as info:
        future.get_value()
    assert info.value.matches(Gbridge.future_error_quark(),
                              Gbridge.FutureError.PENDING)
    assert future.resolve(value=3) is True
    assert future.get_value() == 3
    with pytest.raises(GLib.Error) as info:
        future.resolve()
    assert info.value.matches(Gbridge.future_error_quark(),
                              Gbridge.FutureError.ALREADY_DONE)
    with pytest.raises(TypeError):
        future.resolve(1, 2)
    with pytest.raises(TypeError):
        future.get_value(1)
    with pytest.raises(TypeError):
        Gbridge.Future.new_for_loop(42)
    with pytest.raises(TypeError):
        Gbridge.Future.new_for_loop(Gio.Cancellable())
    with pytest.raises(TypeError):
        Gbridge.Future.new_for_loop()
    with pytest.raises(TypeError):
        future.add_done_callback(None)
    with pytest.raises(TypeError):
        future.add_done_callback(42)
    assert isinstance(Gbridge.Future.new_for_loop(loop=loop), Gbridge.Future)
    assert Gbridge.Future.new().get_loop() is not None


def test_done_callback_gets_the_wrapper_the_caller_holds(loop):
    future = Gbridge.Future.new_for_loop(loop)
    future.tag = 'mine'
    seen = []
    future.add_done_callback(lambda f: seen.append((f, f.tag, f.get_value())))
    future.resolve(7)
    run_future(loop, future)
    assert seen == [(future, 'mine', 7)]
    assert seen[0][0] is future


def test_done_callback_with_user_data(loop):
    future = Gbridge.Future.new_for_loop(loop)
    seen = []
    future.add_done_callback(lambda f, *data: seen.append(data), 1, 'two')
    future.add_done_callback(lambda f, *data: seen.append(data), None)
    future.resolve(None)
    run_future(loop, future)
    assert seen == [(1, 'two'), (None,)]


class Boom(Exception):
    pass


@pytest.mark.parametrize('exc', [Boom, KeyboardInterrupt])
def test_done_callback_that_raises_is_reported_and_the_rest_run(loop, capfd, exc):
    """As PyGObject reports its callbacks' exceptions: the traceback on
    stderr (sys.excepthook); the loop goes on with the next callbacks."""
    first = Gbridge.Future.new_for_loop(loop)
    second = Gbridge.Future.new_for_loop(loop)
    ran = []

    def raising(f):
        ran.append('raising')
        raise exc('boom from a done-callback')

    first.add_done_callback(raising)
    first.add_done_callback(lambda f: ran.append('same future'))
    second.add_done_callback(lambda f: ran.append('other future'))
    first.resolve(1)
    second.resolve(2)
    iterate_until(loop, lambda: len(ran) == 3)
    assert ran == ['raising', 'same future', 'other future']
    err = capfd.readouterr().err
    assert 'Traceback (most recent call last)' in err
    assert 'in raising' in err
    assert '%s: boom from a done-callback' % exc.__name__ in err


def test_callbacks_added_during_dispatch_run_in_a_later_iteration(loop):
    future = Gbridge.Future.new_for_loop(loop)
    order = []

    def first(f):
        order.append('a')
        f.add_done_callback(lambda f: order.append('c'))

    future.add_done_callback(first)
    future.add_done_callback(lambda f: order.append('b'))
    future.resolve(None)
    context = loop.get_context()
    context.iteration(False)
    assert order == ['a', 'b']
    context.iteration(False)
    assert order == ['a', 'b', 'c']


def test_a_callback_may_drop_the_last_reference(loop):
    holder = [Gbridge.Future.new_for_loop(loop)]
    order = []
    holder[0].add_done_callback(lambda f: (order.append(1), holder.clear()))
    holder[0].add_done_callback(lambda f: order.append(f.get_value()))
    holder[0].resolve(5)
    iterate_until(loop, lambda: len(order) == 2)
    assert order == [1, 5] and holder == []


class Callable:
    """A callable whose release a test can watch (a weak reference)."""

    def __init__(self):
        self.calls = []

    def __call__(self, future, *data):
        self.calls.append(future)


def watched_callback():
    callback = Callable()
    return callback, weakref.ref(callback), callback.calls


def test_the_callable_is_released_once_it_ran(loop):
    future = Gbridge.Future.new_for_loop(loop)
    callback, ref, calls = watched_callback()
    function = lambda f: None   # noqa: E731
    before = sys.getrefcount(function)
    future.add_done_callback(callback)
    future.add_done_callback(function)
    del callback
    assert ref() is not None
    future.resolve(1)
    run_future(loop, future)
    assert calls == [future]
    assert ref() is None
    assert sys.getrefcount(function) == before


def test_future_dropped_with_callbacks_pending_releases_them(loop):
    future = Gbridge.Future.new_for_loop(loop)
    callback, ref, calls = watched_callback()
    future.add_done_callback(callback)
    future.add_done_callback(callback, 'data')
    del callback, future
    gc.collect()
    assert ref() is None
    assert calls == []


def test_loop_closed_with_callbacks_queued_releases_them(loop):
    future = Gbridge.Future.new_for_loop(loop)
    callback, ref, calls = watched_callback()
    future.add_done_callback(callback)
    future.resolve(1)
    del callback
    loop.close(False)
    assert ref() is None
    assert calls == []
    assert future.get_value() == 1


def test_future_dropped_in_another_thread_releases_its_callbacks(loop):
    holder = [Gbridge.Future.new_for_loop(loop)]
    callback, ref, calls = watched_callback()
    holder[0].add_done_callback(callback)
    del callback
    worker = threading.Thread(target=holder.clear)
    worker.start()
    worker.join()
    gc.collect()
    assert ref() is None and calls == []


def test_resolve_from_other_threads(loop):
    """Futures resolved from worker threads while the loop thread adds
    callbacks: every callback runs once, on the loop thread, with its
    future's value."""
    n_threads, per_thread = 4, 200
    futures = [Gbridge.Future.new_for_loop(loop) for _ in range(n_threads * per_thread)]
    seen = {}
    loop_thread = threading.get_ident()

    def done(f, i):
        assert i not in seen
        seen[i] = (f.get_value(), threading.get_ident())

    start = threading.Barrier(n_threads + 1)

    def worker(k):
        start.wait()
        for i in range(k, len(futures), n_threads):
            futures[i].resolve(i * 3)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    start.wait()
    for i, f in enumerate(futures):
        f.add_done_callback(lambda f, i=i: done(f, i))
    for t in threads:
        t.join()
    iterate_until(loop, lambda: len(seen) == len(futures))
    assert seen == {i: (i * 3, loop_thread) for i in range(len(futures))}
