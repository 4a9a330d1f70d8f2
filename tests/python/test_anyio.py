# SPDX-License-Identifier: LGPL-2.1-or-later
#
# anyio's asyncio backend on gbridge's event loop, each test run twice
# through anyio's pytest plugin: on asyncio's default loop (the reference)
# and on gbridge.asyncio.EventLoop.  Debian's python3-anyio ships no tests of
# its own, so these cover what anyio users lean on: task groups, cancel
# scopes and timeouts, memory object streams, worker threads and calls back
# into the loop, TCP and UDP over 127.0.0.1, subprocesses, synchronization
# primitives; and anyio.run() with the backend options directly.

import asyncio
import math
import os
import socket
import sys
import threading
import warnings
from importlib.metadata import version

import pytest

anyio = pytest.importorskip(
    'anyio', reason='anyio is not installed (Debian: python3-anyio)')

import gi  # noqa: E402

gi.require_version('GLib', '2.0')
from gi.repository import GLib  # noqa: E402

import gbridge.asyncio as gba  # noqa: E402
from gbridge.pytest_plugin import anyio_asyncio_backend  # noqa: E402

ANYIO_4 = int(version('anyio').split('.')[0]) >= 4

# A generous bound for things that must happen, never a timing assertion.
HANG = 30


def reference_backend():
    """anyio's asyncio backend on asyncio's own default loop, named
    explicitly (anyio 3 installs a policy it is given for good)."""
    if ANYIO_4:
        return ('asyncio', {'loop_factory': asyncio.SelectorEventLoop})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        return ('asyncio', {'policy': asyncio.DefaultEventLoopPolicy()})


@pytest.fixture(scope='module')
def restore_policy():
    """anyio 3 installs the policy it is given as the process's: put the
    previous one back."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        previous = asyncio.get_event_loop_policy()
    yield
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        asyncio.set_event_loop_policy(previous)


@pytest.fixture(scope='module', params=['default', 'gbridge'])
def anyio_backend(request, restore_policy):
    if request.param == 'gbridge':
        return anyio_asyncio_backend()
    return reference_backend()


@pytest.fixture
def expected_loop(anyio_backend):
    """The loop class each parameter must run on."""
    options = anyio_backend[1]
    if 'loop_factory' in options and options['loop_factory'] is gba.EventLoop:
        return gba.EventLoop
    if isinstance(options.get('policy'), gba.EventLoopPolicy):
        return gba.EventLoop
    return asyncio.SelectorEventLoop


pytestmark = pytest.mark.anyio


def single(exc_info_value):
    """The one exception a task group raised: anyio 4 wraps it in an
    ExceptionGroup, anyio 3 raises it as it is."""
    exc = exc_info_value
    while hasattr(exc, 'exceptions') and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


async def test_runs_on_the_expected_loop(expected_loop):
    loop = asyncio.get_running_loop()
    assert type(loop) is expected_loop
    assert anyio.get_current_task().name   # anyio's view of the task works
    if expected_loop is gba.EventLoop:
        assert loop.is_running()


async def test_glib_source_fires_on_gbridge(expected_loop):
    """The whole point of running anyio on gbridge: GLib sources on the
    loop's context are served while anyio code waits."""
    if expected_loop is not gba.EventLoop:
        pytest.skip('the default loop does not run a GLib context')
    loop = asyncio.get_running_loop()
    event = anyio.Event()
    fired = []

    def on_timeout(*unused):
        fired.append(threading.get_ident())
        event.set()
        return GLib.SOURCE_REMOVE

    source = GLib.timeout_source_new(5)
    source.set_callback(on_timeout)
    source.attach(loop.get_context())
    with anyio.fail_after(HANG):
        await event.wait()
    assert fired == [threading.get_ident()]


async def test_sleep_and_clock():
    start = anyio.current_time()
    await anyio.sleep(0.01)
    assert anyio.current_time() - start >= 0.01 - 1e-3
    await anyio.sleep(0)


async def test_task_group_runs_children_concurrently():
    order = []
    both_started = anyio.Event()
    started = []

    async def child(name):
        started.append(name)
        if len(started) == 2:
            both_started.set()
        await both_started.wait()
        order.append(name)

    with anyio.fail_after(HANG):
        async with anyio.create_task_group() as tg:
            tg.start_soon(child, 'a')
            tg.start_soon(child, 'b')
    assert sorted(order) == ['a', 'b']


async def test_task_group_start_returns_the_started_value():
    async def server(task_status=anyio.TASK_STATUS_IGNORED):
        task_status.started('ready')
        await anyio.sleep(math.inf)

    async with anyio.create_task_group() as tg:
        value = await tg.start(server)
        assert value == 'ready'
        tg.cancel_scope.cancel()


async def test_task_group_failure_cancels_the_siblings():
    cancelled = []

    async def sleeper():
        try:
            await anyio.sleep(math.inf)
        except anyio.get_cancelled_exc_class():
            cancelled.append(True)
            raise

    async def failer():
        await anyio.sleep(0.01)
        raise ValueError('boom')

    with pytest.raises(BaseException) as info:
        async with anyio.create_task_group() as tg:
            tg.start_soon(sleeper)
            tg.start_soon(failer)
    exc = single(info.value)
    assert isinstance(exc, ValueError) and str(exc) == 'boom'
    assert cancelled == [True]


async def test_cancel_scope_cancels_a_sleep():
    reached = []
    with anyio.CancelScope() as scope:
        scope.cancel()
        await anyio.sleep(math.inf)
        reached.append(True)
    assert scope.cancel_called
    assert reached == []


async def test_shielded_scope_finishes_its_work():
    done = []
    with anyio.move_on_after(0.01):
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0.05)
            done.append('shielded')
        await anyio.sleep(math.inf)
    assert done == ['shielded']


async def test_fail_after_raises_timeout():
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.01):
            await anyio.sleep(math.inf)


async def test_move_on_after():
    reached = []
    with anyio.move_on_after(0.01) as scope:
        await anyio.sleep(math.inf)
        reached.append('timed out')
    assert scope.cancel_called
    with anyio.move_on_after(HANG) as scope:
        await anyio.sleep(0)
        reached.append('in time')
    assert not scope.cancel_called
    assert reached == ['in time']


async def test_memory_object_stream():
    send, receive = anyio.create_memory_object_stream(2)
    received = []

    async def consumer():
        async with receive:
            async for item in receive:
                received.append(item)

    with anyio.fail_after(HANG):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consumer)
            async with send:
                for i in range(100):
                    await send.send(i)
    assert received == list(range(100))


async def test_memory_object_stream_closed_ends_receive():
    send, receive = anyio.create_memory_object_stream(1)
    await send.aclose()
    with pytest.raises(anyio.EndOfStream):
        await receive.receive()
    await receive.aclose()


async def test_to_thread_and_back(expected_loop):
    loop_thread = threading.get_ident()

    def in_worker():
        worker = threading.get_ident()
        # anyio.from_thread.run: back into the loop from the worker.
        back = anyio.from_thread.run(on_loop)
        return worker, back

    async def on_loop():
        await anyio.sleep(0)
        return threading.get_ident(), type(asyncio.get_running_loop())

    with anyio.fail_after(HANG):
        worker, (back_thread, back_loop) = await anyio.to_thread.run_sync(in_worker)
    assert worker != loop_thread
    assert back_thread == loop_thread
    assert back_loop is expected_loop


async def test_from_thread_run_sync_many_workers():
    results = []

    def worker(i):
        return anyio.from_thread.run_sync(results.append, i)

    limiter = anyio.CapacityLimiter(4)
    with anyio.fail_after(HANG):
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(_run_sync_limited, worker, i, limiter)
    assert sorted(results) == list(range(20))


async def _run_sync_limited(func, arg, limiter):
    await anyio.to_thread.run_sync(func, arg, limiter=limiter)


async def test_tcp_echo():
    async def handle(client):
        async with client:
            async for data in client:
                await client.send(data.upper())

    with anyio.fail_after(HANG):
        listener = await anyio.create_tcp_listener(local_host='127.0.0.1')
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, handle)
            async with await anyio.connect_tcp('127.0.0.1', port) as stream:
                replies = []
                for word in (b'hello', b'gbridge'):
                    await stream.send(word)
                    replies.append(await stream.receive())
                assert stream.extra(anyio.abc.SocketAttribute.remote_port) == port
            assert replies == [b'HELLO', b'GBRIDGE']
            tg.cancel_scope.cancel()
        await listener.aclose()


async def test_tcp_many_bytes_both_ways():
    """More than a socket buffer in each direction: the fd handlers must
    wait for writability and readability in turn."""
    payload = os.urandom(1 << 21)

    async def handle(client):
        async with client:
            received = bytearray()
            while len(received) < len(payload):
                received += await client.receive()
            await client.send(bytes(reversed(received)))

    with anyio.fail_after(HANG):
        listener = await anyio.create_tcp_listener(local_host='127.0.0.1')
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, handle)
            async with await anyio.connect_tcp('127.0.0.1', port) as stream:
                await stream.send(payload)
                back = bytearray()
                while len(back) < len(payload):
                    back += await stream.receive()
            assert bytes(back) == bytes(reversed(payload))
            tg.cancel_scope.cancel()
        await listener.aclose()


async def test_udp():
    with anyio.fail_after(HANG):
        async with await anyio.create_udp_socket(local_host='127.0.0.1') as server:
            port = server.extra(anyio.abc.SocketAttribute.local_port)
            async with await anyio.create_connected_udp_socket(
                    '127.0.0.1', port, local_host='127.0.0.1') as client:
                await client.send(b'ping')
                data, address = await server.receive()
                assert data == b'ping'
                await server.sendto(b'pong', *address)
                assert await client.receive() == b'pong'


async def test_run_process():
    with anyio.fail_after(HANG):
        result = await anyio.run_process(
            [sys.executable, '-c', 'import sys; sys.stdout.write(sys.stdin.read()[::-1])'],
            input=b'gbridge')
    assert result.returncode == 0
    assert result.stdout == b'egdirbg'


async def test_run_process_failure():
    with anyio.fail_after(HANG):
        result = await anyio.run_process(
            [sys.executable, '-c', 'import sys; sys.exit(3)'], check=False)
    assert result.returncode == 3


async def test_open_process_streams():
    with anyio.fail_after(HANG):
        async with await anyio.open_process(
                [sys.executable, '-c',
                 'import sys\nfor line in sys.stdin: print(line.strip() * 2, flush=True)']) \
                as process:
            await process.stdin.send(b'ab\n')
            assert (await process.stdout.receive()).strip() == b'abab'
            await process.stdin.aclose()
            assert await process.wait() == 0


async def test_event_lock_semaphore_condition():
    lock = anyio.Lock()
    semaphore = anyio.Semaphore(2)
    condition = anyio.Condition()
    inside = 0
    most = 0
    log = []

    async def worker(i):
        nonlocal inside, most
        async with semaphore:
            inside += 1
            most = max(most, inside)
            await anyio.sleep(0.001)
            inside -= 1
        async with lock:
            log.append(i)
            await anyio.sleep(0)
            log.append(i)

    with anyio.fail_after(HANG):
        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(worker, i)
    assert most == 2
    # The lock kept each pair together.
    assert all(log[k] == log[k + 1] for k in range(0, len(log), 2))

    woken = anyio.Event()

    async def waiter():
        async with condition:
            await condition.wait()
            woken.set()

    with anyio.fail_after(HANG):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.sleep(0.01)
            async with condition:
                condition.notify_all()
            await woken.wait()


async def test_wait_socket_readable():
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        b.setblocking(False)

        async def write_later():
            await anyio.sleep(0.01)
            b.send(b'x')

        with anyio.fail_after(HANG):
            async with anyio.create_task_group() as tg:
                tg.start_soon(write_later)
                # wait_readable from anyio 4.7, which deprecates the other.
                wait = getattr(anyio, 'wait_readable', None) or anyio.wait_socket_readable
                await wait(a)
        assert a.recv(1) == b'x'


# anyio.run() itself, outside the pytest plugin.

async def running_loop_type():
    await anyio.sleep(0)
    return type(asyncio.get_running_loop())


@pytest.mark.skipif(not ANYIO_4, reason='anyio 3 has no loop_factory option')
def test_anyio_run_with_loop_factory():
    assert anyio.run(running_loop_type, backend='asyncio',
                     backend_options={'loop_factory': gba.EventLoop}) is gba.EventLoop


def test_anyio_run_with_the_plugin_value(restore_policy):
    name, options = anyio_asyncio_backend()
    assert anyio.run(running_loop_type, backend=name,
                     backend_options=options) is gba.EventLoop
