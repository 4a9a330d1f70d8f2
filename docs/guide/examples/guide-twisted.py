# guide-twisted.py: Twisted on gbridge (the guide's chapter "Coming from
# Twisted"). Run with Debian's /usr/bin/python3 (python3-gi, python3-twisted).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import sys
import threading

import gi
gi.require_version('Gbridge', '1')
from gi.repository import Gbridge, GLib  # noqa: E402

import gbridge.twisted  # noqa: E402

# 1. Install before anything imports twisted.internet.reactor: the reactor
#    runs on Gbridge.IOLoop.get_default(), the loop of GLib's default context.
gbridge.twisted.install()
from twisted.internet import defer, protocol, reactor, task, threads  # noqa: E402
from twisted.internet.endpoints import HostnameEndpoint  # noqa: E402

loop = reactor.gbridge_loop
assert loop == Gbridge.IOLoop.get_default()
assert reactor.gbridge_reactor == Gbridge.Reactor.get_default()


class Echo(protocol.Protocol):               # IReactorTCP: an echo server
    def dataReceived(self, data):
        self.transport.write(data)


class Client(protocol.Protocol):
    def connectionMade(self):
        self.answer = defer.Deferred()
        self.transport.write(b'hello')

    def dataReceived(self, data):
        self.transport.loseConnection()
        self.answer.callback(data)


@defer.inlineCallbacks
def main():
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), interface='127.0.0.1')
    # IReactorPluggableNameResolver: 'localhost' is looked up by gbridge's
    # resolver (GbridgeNameResolver), on the loop.
    endpoint = HostnameEndpoint(reactor, 'localhost', port.getHost().port)
    client = yield endpoint.connect(protocol.Factory.forProtocol(Client))
    print('echo:', (yield client.answer))

    # IReactorTime: delayed calls live in the C reactor's timer heap, next
    # to gbridge's own timers on the same loop.
    order = []
    loop.call_later(0.02, lambda: order.append('gbridge timer'))
    yield task.deferLater(reactor, 0.01, order.append, 'twisted delayed call')
    yield task.deferLater(reactor, 0.02, lambda: None)
    print('order:', order)

    # IReactorThreads: callInThread on Twisted's thread pool, callFromThread
    # back to the loop; deferToThread combines them.
    ident = yield threads.deferToThread(threading.get_ident)
    print('ran in another thread:', ident != threading.get_ident())

    # Plain GLib sources on the default context run too.
    glib_fired = defer.Deferred()
    GLib.timeout_add(10, lambda: glib_fired.callback('GLib timeout') and False)
    print('glib:', (yield glib_fired))
    yield port.stopListening()


# IReactorCore: system event triggers and run()/stop() as on any reactor.
reactor.addSystemEventTrigger('before', 'shutdown', print, 'shutting down')
failures = []
d = main()
d.addErrback(failures.append)
d.addBoth(lambda _: reactor.stop())
reactor.run(installSignalHandlers=False)
print('reactor stopped')
for failure in failures:
    failure.printTraceback()
sys.exit(1 if failures else 0)
