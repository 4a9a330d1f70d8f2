import gbridge.twisted
gbridge.twisted.install()  # before anything imports twisted.internet.reactor
from twisted.internet import protocol, reactor  # noqa: E402


class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data.upper())


class Client(protocol.Protocol):
    def connectionMade(self):
        self.transport.write(b"hello from Twisted")

    def dataReceived(self, data):
        print(data.decode())
        reactor.stop()


port = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1")
reactor.connectTCP("127.0.0.1", port.getHost().port, protocol.ClientFactory.forProtocol(Client))
reactor.run()  # in a GTK application: reactor.startRunning(), and GTK runs it
