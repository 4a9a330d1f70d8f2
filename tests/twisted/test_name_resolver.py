# SPDX-License-Identifier: LGPL-2.1-or-later
"""gbridge.twisted's name resolver: Twisted's name lookups go through a
Gbridge.Resolver (issue 6) on the reactor's loop."""

import pytest

import gi

gi.require_version("Gbridge", "1")
from gi.repository import Gbridge  # noqa: E402

twisted = pytest.importorskip("twisted")

from twisted.internet import defer, endpoints, error, protocol  # noqa: E402
from twisted.internet.address import IPv4Address, IPv6Address  # noqa: E402

from gbridge.twisted import GbridgeNameResolver, GbridgeReactor  # noqa: E402


@pytest.fixture
def reactor():
    loop = Gbridge.IOLoop.new()
    r = GbridgeReactor(loop)
    # A name only the override resolver knows: Twisted's own resolver
    # (getaddrinfo) could never find it.
    override = Gbridge.OverrideResolver.new(r.gbridge_reactor.get_resolver())
    override.add_host("both.gbridge.test", "127.0.0.1")
    override.add_host("both.gbridge.test", "::1")
    r.gbridge_reactor.set_resolver(override)
    yield r
    r.disconnectAll()
    loop.close(False)


def run_until(reactor, d, timeout=10):
    out = []
    d.addBoth(out.append)
    d.addBoth(lambda _: reactor.stop())
    guard = reactor.callLater(timeout, reactor.stop)
    reactor.run(installSignalHandlers=False)
    assert out, "nothing came back within %s s" % timeout
    guard.cancel()
    return out[0]


class Receiver:
    def __init__(self):
        self.began = None
        self.addresses = []
        self.done = defer.Deferred()

    def resolutionBegan(self, resolution):
        self.began = resolution

    def addressResolved(self, address):
        self.addresses.append(address)

    def resolutionComplete(self):
        self.done.callback(self.addresses)


def test_installed_as_the_reactors_name_resolver(reactor):
    assert isinstance(reactor.nameResolver, GbridgeNameResolver)


def test_every_address_with_port_and_families(reactor):
    async def main():
        receiver = Receiver()
        reactor.nameResolver.resolveHostName(receiver, "both.gbridge.test", 8080)
        addresses = await receiver.done
        assert receiver.began.name == "both.gbridge.test"
        assert IPv4Address("TCP", "127.0.0.1", 8080) in addresses
        assert IPv6Address("TCP", "::1", 8080, 0, 0) in addresses
        assert len(addresses) == 2

        only6 = Receiver()
        reactor.nameResolver.resolveHostName(only6, "both.gbridge.test", 53,
                                             addressTypes=[IPv6Address],
                                             transportSemantics="UDP")
        assert await only6.done == [IPv6Address("UDP", "::1", 53, 0, 0)]
        return "checked"
    assert run_until(reactor, defer.ensureDeferred(main())) == "checked"


def test_unknown_name_completes_empty(reactor):
    receiver = Receiver()
    reactor.nameResolver.resolveHostName(receiver, "nowhere.invalid")
    assert run_until(reactor, receiver.done) == []


def test_reactor_resolve_and_connect_by_name(reactor):
    async def main():
        # reactor.resolve() (IResolverSimple) is Twisted's simplifier over
        # the name resolver: the first IPv4 address.
        assert await reactor.resolve("both.gbridge.test") == "127.0.0.1"
        with pytest.raises(error.DNSLookupError):
            await reactor.resolve("nowhere.invalid")

        # A real connection to a name only gbridge's resolver knows.
        server = protocol.ServerFactory.forProtocol(protocol.Protocol)
        port = reactor.listenTCP(0, server, interface="127.0.0.1")
        endpoint = endpoints.HostnameEndpoint(reactor, b"both.gbridge.test",
                                              port.getHost().port)
        proto = await endpoint.connect(
            protocol.ClientFactory.forProtocol(protocol.Protocol))
        assert proto.transport.getPeer().host in ("127.0.0.1", "::1")
        proto.transport.loseConnection()
        await port.stopListening()
        return "checked"
    assert run_until(reactor, defer.ensureDeferred(main())) == "checked"
