#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Twisted on gbridge against Twisted's epollreactor, asyncioreactor and
gireactor.

usage: bench-twisted.py REACTOR CASE N
  REACTOR  gbridge (gbridge.twisted.GbridgeReactor on a private loop),
           epoll (twisted.internet.epollreactor), asyncio
           (twisted.internet.asyncioreactor on asyncio's default selector
           loop) or gi (gireactor, GLib)
  CASE     churn: N callLater with delays of 1-100 s, then all cancelled in
                  random order; prints ns_per_pair (process CPU time)
           echo:  N request/response round trips of 64 bytes over loopback
                  TCP (one Twisted client and server on the reactor, both
                  in this process); prints per_second
           echo-server: a Twisted echo server only; N connections from
                  bench-tcp-client (C, another process), one 64-byte
                  request in flight each; prints the client's per_second
                  (wall time) and the server's CPU time per request
           http-server: a twisted.web server answering GET / with a
                  13-byte text; N keep-alive connections from
                  bench-tcp-client in http mode, one request in flight
                  each; prints the same as echo-server

Prints key=value pairs on one line, as the C benchmarks do (bench/run).
"""
import random
import sys
import time

import benchclient


def make_reactor(name):
    if name == "gbridge":
        from gbridge.twisted import GbridgeReactor
        return GbridgeReactor()
    if name == "epoll":
        from twisted.internet.epollreactor import EPollReactor
        return EPollReactor()
    if name == "asyncio":
        import asyncio
        from twisted.internet.asyncioreactor import AsyncioSelectorReactor
        return AsyncioSelectorReactor(asyncio.SelectorEventLoop())
    if name == "gi":
        from twisted.internet.gireactor import GIReactor
        return GIReactor()
    raise SystemExit("unknown reactor " + name)


def churn(reactor, n):
    rng = random.Random(42)
    delays = [rng.uniform(1, 100) for _ in range(n)]
    noop = lambda: None  # noqa: E731
    order = list(range(n))
    rng.shuffle(order)
    start = time.process_time()
    calls = [reactor.callLater(d, noop) for d in delays]
    for i in order:
        calls[i].cancel()
    # One reactor iteration, which drops the cancelled calls where the
    # reactor does so lazily.
    reactor.callLater(0, reactor.stop)
    reactor.run(installSignalHandlers=False)
    elapsed = time.process_time() - start
    # (asyncioreactor's stop() leaves a callLater(0) of its own.)
    cancelled = set(map(id, calls))
    if any(id(c) in cancelled for c in reactor.getDelayedCalls()):
        raise SystemExit("a cancelled call is still pending")
    print("ns_per_pair=%.1f" % (elapsed * 1e9 / n))


def echo(reactor, n):
    from twisted.internet import protocol

    payload = b"x" * 64
    state = {"count": 0, "start": None, "end": None}

    class Echo(protocol.Protocol):
        def dataReceived(self, data):
            self.transport.write(data)

    class Client(protocol.Protocol):
        buf = b""

        def connectionMade(self):
            state["start"] = time.perf_counter()
            self.transport.write(payload)

        def dataReceived(self, data):
            self.buf += data
            while len(self.buf) >= len(payload):
                self.buf = self.buf[len(payload):]
                state["count"] += 1
                if state["count"] == n:
                    state["end"] = time.perf_counter()
                    self.transport.loseConnection()
                    reactor.stop()
                    return
                self.transport.write(payload)

    port = reactor.listenTCP(0, protocol.ServerFactory.forProtocol(Echo),
                             interface="127.0.0.1")
    reactor.connectTCP("127.0.0.1", port.getHost().port,
                       protocol.ClientFactory.forProtocol(Client))
    reactor.callLater(120, reactor.stop)
    reactor.run(installSignalHandlers=False)
    if state["end"] is None:
        raise SystemExit("the echo did not finish")
    print("per_second=%.1f" % (n / (state["end"] - state["start"])))


def echo_server(reactor, connections):
    from twisted.internet import protocol

    state = {"closed": 0, "client": None, "cpu": None}

    class Echo(protocol.Protocol):
        def dataReceived(self, data):
            self.transport.write(data)

        def connectionLost(self, reason):
            state["closed"] += 1
            if state["closed"] == connections:
                state["cpu"] = time.process_time() - state["cpu"]
                reactor.stop()

    def start():
        state["cpu"] = time.process_time()
        state["client"] = benchclient.start_client(port.getHost().port, connections)

    port = reactor.listenTCP(0, protocol.ServerFactory.forProtocol(Echo),
                             backlog=connections + 16, interface="127.0.0.1")
    reactor.callWhenRunning(start)
    timeout = reactor.callLater(60, reactor.stop)
    reactor.run(installSignalHandlers=False)
    if state["closed"] != connections:
        raise SystemExit("the echo server did not see every connection close")
    timeout.cancel()
    print(benchclient.finish_client(state["client"], state["cpu"]))


def http_server(reactor, connections):
    from twisted.web import resource, server

    class Hello(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            return benchclient.HTTP_BODY.encode()

    state = {"client": None, "cpu": None}

    def poll_client():
        if benchclient.client_done(state["client"]):
            state["cpu"] = time.process_time() - state["cpu"]
            reactor.stop()
        else:
            reactor.callLater(benchclient.CLIENT_POLL_SECONDS, poll_client)

    def start():
        state["cpu"] = time.process_time()
        state["client"] = benchclient.start_client(port.getHost().port,
                                                   connections, http=True)
        poll_client()

    port = reactor.listenTCP(0, server.Site(Hello()), backlog=connections + 16,
                             interface="127.0.0.1")
    reactor.callWhenRunning(start)
    timeout = reactor.callLater(60, reactor.stop)
    reactor.run(installSignalHandlers=False)
    if not benchclient.client_done(state["client"]):
        raise SystemExit("the HTTP client did not finish")
    timeout.cancel()
    print(benchclient.finish_client(state["client"], state["cpu"]))


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "versions":
        import twisted
        print(twisted.__version__)
        return
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    benchclient.settle_malloc()
    reactor = make_reactor(sys.argv[1])
    {"churn": churn, "echo": echo, "echo-server": echo_server,
     "http-server": http_server}[sys.argv[2]](reactor, int(sys.argv[3]))


if __name__ == "__main__":
    main()
