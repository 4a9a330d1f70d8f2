#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""asyncio loops compared: gbridge's, the default selector loop, uvloop,
PyGObject's gi.events and gbulb; and Tornado on gbridge's and the default.

    bench-asyncio.py IMPL CASE [ARGS...]
    bench-asyncio.py versions

IMPL: gbridge | default | uvloop | gi-events | gbulb.  CASE:
  call-soon-chain         one callback in flight, each call_soon()s the next:
                          callbacks per second, one loop iteration each
  call-soon-batch B       B callbacks in flight: callbacks per second
  timer-churn N           N call_later() 1-100 s ahead, then all cancelled in
                          random order, then one loop iteration (which
                          drops the cancelled ones): ns per call_later+cancel
  two-fds TIMERS          a socketpair, add_reader on both ends, each reader
                          makes the other end ready; TIMERS idle call_later
                          timers an hour away: ns per reader call
  one-fd TIMERS           a socketpair, add_reader on one end only; the
                          reader reads the byte and sends the next from the
                          other end (not watched), so every round needs a
                          fresh wait of the loop: ns per round
  peer                    add_reader on one end of a socketpair; a peer
                          process does blocking read then write on the
                          other; the reader reads the byte and sends one
                          back: ns per round, wall time
  tcp-streams CONNS       asyncio.start_server echo (StreamReader/Writer)
  tcp-protocol CONNS      loop.create_server echo with a Protocol
  tornado CONNS           tornado.tcpserver.TCPServer echo (IOStream) on the
                          loop (gbridge or default)
                          The three TCP servers only serve: CONNS
                          connections from bench-tcp-client, a C program in
                          another process, one 64-byte request in flight
                          each: requests per second (the client's wall time)
                          and the server's CPU time per request (all of its
                          requests, warm-up included)
  http-aiohttp CONNS      an aiohttp web server answering GET / with a
                          13-byte text, CONNS keep-alive connections from
                          bench-tcp-client (http mode), one request in
                          flight each: requests per second, server CPU
  http-tornado CONNS      the same with tornado.web on the loop (gbridge or
                          default)

Prints key=value pairs on one line, as the C benchmarks do (bench/run runs
every case, interleaved, in fresh processes).  Exits with status 77 and
"absent: WHY" on stderr when IMPL is not installed (gi.events needs
PyGObject 3.50).  Single-threaded cases are timed in the process's CPU time
(user + system): the loop never waits in them, so it equals the wall time on
an idle machine and leaves out the time other processes had the core on a
shared one.  Runs are calibrated to last about 0.2 s.
"""

import asyncio
import os
import random
import socket
import sys
import time

import benchclient

ABSENT = 77


def absent(why):
    print(f'absent: {why}', file=sys.stderr)
    sys.exit(ABSENT)


def make_loop(impl):
    if impl == 'default':
        return asyncio.SelectorEventLoop()
    if impl == 'gbridge':
        import gbridge.asyncio
        return gbridge.asyncio.new_event_loop()
    if impl == 'uvloop':
        try:
            import uvloop
        except ImportError:
            absent('uvloop is not installed (python3-uvloop)')
        return uvloop.new_event_loop()
    if impl == 'gi-events':
        try:
            import gi
            from gi.events import GLibEventLoopPolicy
        except ImportError:
            import gi
            absent(f'PyGObject {gi.__version__} has no gi.events '
                   '(GLibEventLoopPolicy needs PyGObject 3.50 or later)')
        return GLibEventLoopPolicy().new_event_loop()
    if impl == 'gbulb':
        try:
            import gbulb
        except ImportError:
            absent('gbulb is not installed (python3-gbulb)')
        return gbulb.GLibEventLoop()
    raise SystemExit(f'unknown implementation {impl}')


cpu = time.process_time
wall = time.perf_counter


def run_once(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


def call_soon_batch(loop, n, batch):
    left = [n]
    call_soon = loop.call_soon

    def step():
        left[0] -= 1
        if left[0] > 0:
            call_soon(step)
        elif left[0] == 0:
            loop.stop()
    t0 = cpu()
    for _ in range(batch):
        call_soon(step)
    loop.run_forever()
    return n / (cpu() - t0)


def timer_churn(loop, n):
    rng = random.Random(42)
    delays = [rng.uniform(1, 100) for _ in range(n)]
    order = list(range(n))
    rng.shuffle(order)
    noop = lambda: None  # noqa: E731
    call_later = loop.call_later
    t0 = cpu()
    handles = [call_later(d, noop) for d in delays]
    for i in order:
        handles[i].cancel()
    run_once(loop)
    return (cpu() - t0) / n * 1e9


def ping_pong(loop, n, timers, shape):
    """ns per reader call; @shape: two-fds, one-fd or peer."""
    handles = [loop.call_later(3600 + i * 1e-3, lambda: None) for i in range(timers)]
    a, b = socket.socketpair()
    a.setblocking(False)
    count = [0]
    peer = None
    if shape == 'peer':
        peer = benchclient.start_peer(b, a)
        b.close()
        sender = a
        clock = wall
    else:
        b.setblocking(False)
        sender = a if shape == 'two-fds' else b
        clock = cpu

    def make(rx, tx):
        def on_read():
            rx.recv(1)
            count[0] += 1
            if count[0] >= n:
                loop.stop()
            else:
                tx.send(b'x')
        return on_read
    loop.add_reader(a.fileno(), make(a, sender))
    if shape == 'two-fds':
        # a answers on a, so b reads it, and b answers on b: each reader
        # makes the other end ready.
        loop.add_reader(b.fileno(), make(b, b))
    t0 = clock()
    if shape == 'two-fds':
        b.send(b'x')
    elif shape == 'one-fd':
        b.send(b'x')
    else:
        a.send(b'x')
    loop.run_forever()
    dt = clock() - t0
    loop.remove_reader(a.fileno())
    if shape == 'two-fds':
        loop.remove_reader(b.fileno())
    a.close()
    if peer is not None:
        peer.wait(timeout=30)
    else:
        b.close()
    for h in handles:
        h.cancel()
    return dt / count[0] * 1e9


def serve(loop, connections, make_server, http=False):
    """Runs the server @make_server(on_closed) returns (a coroutine giving
    (port, close)) until the client closed all its connections; with
    @http, an HTTP server, until the client exited."""
    closed = [0]
    done = loop.create_future()

    def on_closed():
        closed[0] += 1
        if closed[0] == connections and not done.done():
            done.set_result(None)

    def poll_client(client):
        if benchclient.client_done(client):
            if not done.done():
                done.set_result(None)
        else:
            loop.call_later(benchclient.CLIENT_POLL_SECONDS, poll_client, client)

    async def main():
        port, close = await make_server(on_closed)
        client = benchclient.start_client(port, connections, http)
        if http:
            poll_client(client)
        t0 = cpu()
        try:
            await asyncio.wait_for(done, 60)
        finally:
            await close()
        return client, cpu() - t0
    client, server_cpu = loop.run_until_complete(main())
    return benchclient.finish_client(client, server_cpu)


def tcp_streams(loop, connections):
    async def make(on_closed):
        async def handle(reader, writer):
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    writer.write(data)
                    await writer.drain()
            finally:
                writer.close()
                on_closed()
        server = await asyncio.start_server(handle, '127.0.0.1', 0,
                                            backlog=connections + 16)

        async def close():
            server.close()
            await server.wait_closed()
        return server.sockets[0].getsockname()[1], close
    return serve(loop, connections, make)


def tcp_protocol(loop, connections):
    async def make(on_closed):
        class Echo(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport = transport

            def data_received(self, data):
                self.transport.write(data)

            def connection_lost(self, exc):
                on_closed()
        server = await loop.create_server(Echo, '127.0.0.1', 0,
                                          backlog=connections + 16)

        async def close():
            server.close()
            await server.wait_closed()
        return server.sockets[0].getsockname()[1], close
    return serve(loop, connections, make)


def tornado_echo(loop, connections):
    try:
        from tornado.iostream import StreamClosedError
        from tornado.tcpserver import TCPServer
        from tornado.netutil import bind_sockets
    except ImportError:
        absent('Tornado is not installed (python3-tornado)')

    async def make(on_closed):
        class Echo(TCPServer):
            async def handle_stream(self, stream, address):
                try:
                    while True:
                        data = await stream.read_bytes(65536, partial=True)
                        await stream.write(data)
                except StreamClosedError:
                    pass
                finally:
                    on_closed()
        sockets = bind_sockets(0, '127.0.0.1', backlog=connections + 16)
        server = Echo()
        server.add_sockets(sockets)

        async def close():
            server.stop()
        return sockets[0].getsockname()[1], close
    return serve(loop, connections, make)


def listening_socket(connections):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(connections + 16)
    sock.setblocking(False)
    return sock


def http_aiohttp(loop, connections):
    try:
        from aiohttp import web
    except ImportError:
        absent('aiohttp is not installed (python3-aiohttp)')

    async def make(on_closed):
        async def hello(request):
            return web.Response(text=benchclient.HTTP_BODY)
        app = web.Application()
        app.router.add_get('/', hello)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = listening_socket(connections)
        await web.SockSite(runner, sock).start()

        async def close():
            await runner.cleanup()
        return sock.getsockname()[1], close
    return serve(loop, connections, make, http=True)


def http_tornado(loop, connections):
    try:
        from tornado.httpserver import HTTPServer
        from tornado.netutil import bind_sockets
        from tornado.web import Application, RequestHandler
    except ImportError:
        absent('Tornado is not installed (python3-tornado)')

    async def make(on_closed):
        class Hello(RequestHandler):
            def get(self):
                self.write(benchclient.HTTP_BODY)
        sockets = bind_sockets(0, '127.0.0.1', backlog=connections + 16)
        server = HTTPServer(Application([('/', Hello)]))
        server.add_sockets(sockets)

        async def close():
            server.stop()
            await server.close_all_connections()
        return sockets[0].getsockname()[1], close
    return serve(loop, connections, make, http=True)


def calibrated(run, target=0.2):
    """Runs with a growing count until a run lasts about @target seconds
    (wall time, whatever @run measures), after one untimed warm-up of 100;
    with BENCH_ROUNDS set, that many instead (bench/run counts the
    syscalls per round this way)."""
    run(100)
    if os.environ.get('BENCH_ROUNDS'):
        return run(int(os.environ['BENCH_ROUNDS']))
    n = 1000
    while True:
        t0 = time.perf_counter()
        run(n)
        dt = time.perf_counter() - t0
        if dt >= target / 4 or n >= 10 ** 8:
            break
        n *= 4
    n = max(n, int(n * target / max(dt, 1e-6)))
    return run(n)


def versions():
    import gi
    v = sys.version_info
    parts = [f'Python {v.major}.{v.minor}.{v.micro}', f'PyGObject {gi.__version__}']
    for name in ('uvloop', 'gbulb', 'tornado', 'aiohttp'):
        try:
            module = __import__(name)
            parts.append(f'{name} {getattr(module, "__version__", getattr(module, "version", "?"))}')
        except ImportError:
            parts.append(f'{name} absent')
    try:
        import gi.events  # noqa: F401
        parts.append('gi.events present')
    except ImportError:
        parts.append('gi.events absent')
    print(', '.join(parts))


def main(argv):
    if argv[1:] == ['versions']:
        versions()
        return
    if len(argv) < 3:
        raise SystemExit(__doc__)
    impl, case, args = argv[1], argv[2], [int(a) for a in argv[3:]]
    benchclient.settle_malloc()
    loop = make_loop(impl)
    asyncio.set_event_loop(loop)
    if case == 'call-soon-chain':
        out = 'per_second=%.1f' % calibrated(lambda n: call_soon_batch(loop, n, 1))
    elif case == 'call-soon-batch':
        out = 'per_second=%.1f' % calibrated(lambda n: call_soon_batch(loop, n, args[0]))
    elif case == 'timer-churn':
        timer_churn(loop, args[0] // 10)
        out = 'ns_per_pair=%.1f' % timer_churn(loop, args[0])
    elif case in ('two-fds', 'one-fd'):
        value = calibrated(lambda n: ping_pong(loop, n, args[0], case))
        out = 'ns_per_iteration=%.1f clock=cpu' % value
    elif case == 'peer':
        value = calibrated(lambda n: ping_pong(loop, n, 0, 'peer'))
        out = 'ns_per_iteration=%.1f clock=wall' % value
    elif case == 'tcp-streams':
        out = tcp_streams(loop, args[0])
    elif case == 'tcp-protocol':
        out = tcp_protocol(loop, args[0])
    elif case == 'tornado':
        out = tornado_echo(loop, args[0])
    elif case == 'http-aiohttp':
        out = http_aiohttp(loop, args[0])
    elif case == 'http-tornado':
        out = http_tornado(loop, args[0])
    else:
        raise SystemExit(f'unknown case {case}')
    asyncio.set_event_loop(None)
    loop.close()
    print(out)


if __name__ == '__main__':
    main(sys.argv)
