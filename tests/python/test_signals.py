# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Awaiting GObject signals: Gbridge.Future.new_for_signal() from Python,
# gbridge.asyncio.wait_signal() and signal_stream(), in asyncio code on
# gbridge's loop and in Tornado coroutines.

import asyncio
import gc
import threading

import pytest

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gbridge', '1')
from gi.repository import GLib, GObject, Gbridge  # noqa: E402

import gbridge.asyncio as gba  # noqa: E402


class Emitter(GObject.Object):
    __gsignals__ = {
        'ping': (GObject.SignalFlags.RUN_LAST, None, ()),
        'with-args': (GObject.SignalFlags.RUN_LAST, None, (int, str)),
        'close-request': (GObject.SignalFlags.RUN_LAST, bool, (),
                          GObject.signal_accumulator_true_handled),
    }
    label = GObject.Property(type=str, default='')
    other = GObject.Property(type=int, default=0)

    def do_close_request(self):
        self.closed = True
        return False


def has_handler(obj, detailed_signal):
    # (id, detail), with a leading success flag in some PyGObject versions.
    signal_id, detail = GObject.signal_parse_name(detailed_signal, obj, True)[-2:]
    return GObject.signal_has_handler_pending(obj, signal_id, detail, True)


def run(main):
    return gba.run(asyncio.wait_for(main(), 30))


def test_future_for_signal_resolves_with_a_list(loop):
    obj = Emitter()
    future = Gbridge.Future.new_for_signal(loop, obj, 'with-args')
    obj.emit('with-args', 7, 'seven')
    assert future.get_value() == [7, 'seven']
    assert not has_handler(obj, 'with-args')


def test_wait_signal_returns_the_arguments_without_the_object():
    obj = Emitter()

    async def main():
        waiter = gba.wait_signal(obj, 'with-args')
        asyncio.get_running_loop().call_soon(obj.emit, 'with-args', 42, 'answer')
        return await waiter

    assert run(main) == (42, 'answer')
    assert not has_handler(obj, 'with-args')


def test_wait_signal_misses_nothing_emitted_before_the_await():
    obj = Emitter()

    async def main():
        waiter = gba.wait_signal(obj, 'ping')
        obj.emit('ping')          # synchronous, before the await
        return await waiter

    assert run(main) == ()


def test_wait_signal_with_a_detail():
    obj = Emitter()

    async def main():
        waiter = gba.wait_signal(obj, 'notify::label')
        obj.props.other = 3
        await asyncio.sleep(0)
        assert not waiter.done()
        obj.props.label = 'new'
        (pspec,) = await waiter
        return pspec.name

    assert run(main) == 'label'
    assert not has_handler(obj, 'notify')


def test_wait_signal_timeout_disconnects():
    obj = Emitter()

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(gba.wait_signal(obj, 'ping'), 0.01)
        # The cancellation reaches the C future on the next iteration.
        await asyncio.sleep(0)

    run(main)
    assert not has_handler(obj, 'ping')


def test_wait_signal_fails_when_the_object_is_disposed():
    obj = Emitter()

    async def main():
        waiter = gba.wait_signal(obj, 'ping')
        obj.run_dispose()
        with pytest.raises(GLib.Error) as info:
            await waiter
        return info.value

    e = run(main)
    assert e.matches(Gbridge.future_error_quark(), Gbridge.FutureError.DISPOSED)


def test_wait_signal_leaves_the_return_value():
    obj = Emitter()
    obj.closed = False

    async def main():
        waiter = gba.wait_signal(obj, 'close-request')
        handled = obj.emit('close-request')
        await waiter
        return handled

    assert run(main) is False
    assert obj.closed


def test_wait_signal_emitted_in_another_thread():
    obj = Emitter()

    async def main():
        waiter = gba.wait_signal(obj, 'with-args')
        thread = threading.Thread(target=obj.emit, args=('with-args', 1, 'thread'))
        thread.start()
        result = await waiter
        thread.join()
        return result

    assert run(main) == (1, 'thread')
    assert not has_handler(obj, 'with-args')


def test_wait_signal_rejects_an_unknown_signal():
    obj = Emitter()

    async def main():
        with pytest.raises(ValueError):
            gba.wait_signal(obj, 'no-such-signal')
        with pytest.raises(ValueError):
            gba.wait_signal(obj, 'ping::detail')   # ping takes no detail

    run(main)


def test_signal_stream_yields_every_emission_in_order():
    obj = Emitter()

    async def main():
        got = []
        async with gba.signal_stream(obj, 'with-args', maxsize=10) as stream:
            for i in range(5):
                obj.emit('with-args', i, str(i))
            async for args in stream:
                got.append(args)
                if len(got) == 5:
                    break
        return got

    assert run(main) == [(i, str(i)) for i in range(5)]
    assert not has_handler(obj, 'with-args')


def test_signal_stream_overflow_raises_after_the_buffered_ones():
    obj = Emitter()

    async def main():
        got = []
        stream = gba.signal_stream(obj, 'with-args', maxsize=3)
        for i in range(5):
            obj.emit('with-args', i, 'x')
        # Disconnected at the overflow: later emissions are not taken.
        assert not has_handler(obj, 'with-args')
        with pytest.raises(gba.SignalStreamOverflow):
            async for args in stream:
                got.append(args[0])
        # Raised once; then the stream is over.
        assert [a async for a in stream] == []
        return got

    assert run(main) == [0, 1, 2]


def test_signal_stream_consumer_keeps_up_across_iterations():
    obj = Emitter()

    async def main():
        got = []
        loop = asyncio.get_running_loop()
        async with gba.signal_stream(obj, 'notify::label', maxsize=1) as stream:
            for i in range(20):
                loop.call_soon(setattr, obj.props, 'label', str(i))
                (pspec,) = await stream.__anext__()
                got.append(obj.props.label)
        return got

    assert run(main) == [str(i) for i in range(20)]


def test_signal_stream_ends_when_the_object_is_disposed():
    obj = Emitter()

    async def main():
        stream = gba.signal_stream(obj, 'ping')
        obj.emit('ping')
        asyncio.get_running_loop().call_later(0.01, obj.run_dispose)
        return [args async for args in stream]

    assert run(main) == [()]


def test_signal_stream_from_another_thread():
    obj = Emitter()

    def emit_all():
        for i in range(100):
            obj.emit('with-args', i, 'thread')

    async def main():
        got = []
        async with gba.signal_stream(obj, 'with-args', maxsize=0) as stream:
            thread = threading.Thread(target=emit_all)
            thread.start()
            async for (i, _) in stream:
                got.append(i)
                if i == 99:
                    break
            thread.join()
        return got

    assert run(main) == list(range(100))


def test_forgotten_signal_stream_disconnects():
    obj = Emitter()

    async def main():
        stream = gba.signal_stream(obj, 'ping')
        assert has_handler(obj, 'ping')
        del stream
        gc.collect()

    run(main)
    assert not has_handler(obj, 'ping')


def test_wait_signal_in_a_tornado_coroutine():
    gen = pytest.importorskip('tornado.gen')
    obj = Emitter()

    @gen.coroutine
    def waiter():
        args = yield gba.wait_signal(obj, 'with-args')
        return args

    async def main():
        future = waiter()
        obj.emit('with-args', 5, 'tornado')
        return await future

    assert run(main) == (5, 'tornado')


# Attacks: what careless or hostile callers do.

def test_cancelling_the_awaiting_task_disconnects():
    obj = Emitter()

    async def main():
        task = asyncio.ensure_future(gba.wait_signal(obj, 'ping'))
        await asyncio.sleep(0)
        assert has_handler(obj, 'ping')
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)

    run(main)
    assert not has_handler(obj, 'ping')


def test_a_consumer_exception_closes_the_stream():
    obj = Emitter()

    class Boom(Exception):
        pass

    async def main():
        with pytest.raises(Boom):
            async with gba.signal_stream(obj, 'with-args') as stream:
                obj.emit('with-args', 1, 'one')
                async for _ in stream:
                    raise Boom()
        # Both the handler and the disposal sentinel are gone.
        assert not has_handler(obj, 'with-args')
        assert not has_handler(obj, gba.signal_stream._DISPOSED_SENTINEL)
        obj.emit('with-args', 2, 'two')

    run(main)


def test_a_thousand_waits_on_one_object_all_fail_when_it_goes():
    obj = Emitter()

    async def main():
        waiters = [gba.wait_signal(obj, 'ping') for _ in range(1000)]
        obj.run_dispose()
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(r, GLib.Error) for r in results)
        assert not has_handler(obj, 'ping')

    run(main)
