# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The resolvers from Python: literals, the threaded resolver on localhost, the
# override resolver, and the c-ares resolver against a dnsmasq this module
# starts on a free port (the tests that need it skip, saying why, when
# dnsmasq is missing or cannot start). In a gbridge built without c-ares
# (-Dares=disabled) the c-ares tests skip and test_ares_unavailable runs.

import os
import shutil
import socket
import subprocess
import time

import pytest

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gio, GLib, GObject, Gbridge  # noqa: E402

ERROR_DOMAIN = 'gbridge-resolver-error-quark'

# Set by tests/meson.build from the build's configuration, not guessed from
# what the library does: a build that lost c-ares by mistake fails.
HAVE_ARES = os.environ.get('GBRIDGE_TEST_HAVE_CARES', '1') == '1'
needs_ares = pytest.mark.skipif(not HAVE_ARES,
                                reason='gbridge was built without c-ares (-Dares=disabled)')


@pytest.fixture(scope='module')
def dnsmasq():
    if not HAVE_ARES:
        pytest.skip('gbridge was built without c-ares (-Dares=disabled)')
    binary = shutil.which('dnsmasq') or shutil.which('dnsmasq', path='/usr/sbin')
    if binary is None:
        pytest.skip('dnsmasq is not installed (Debian package dnsmasq-base)')
    for _ in range(5):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [binary, f'--port={port}', '--listen-address=127.0.0.1', '--bind-interfaces',
             '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--keep-in-foreground',
             '--pid-file=', '--user=', '--group=',
             '--local=/test/', '--host-record=a.test,192.0.2.1',
             '--host-record=both.test,192.0.2.2,2001:db8::2',
             '--cname=alias.test,a.test'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if proc.poll() is not None:
                break
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                yield f'127.0.0.1:{port}'
                proc.terminate()
                proc.wait()
                return
            except OSError:
                time.sleep(0.1)
        proc.kill()
        proc.wait()
    pytest.skip('dnsmasq exited at start five times')


def wait(loop, future):
    if not future.is_done():
        future.add_done_callback(lambda f: loop.stop())
        loop.start()
    assert future.is_done()
    return future


def addresses(loop, future):
    wait(loop, future)
    if future.get_state() == Gbridge.FutureState.FAILED:
        pytest.fail(f"lookup failed: {future.get_failure().message}")
    model = future.get_object()
    assert isinstance(model, Gio.ListModel)
    return [f'{a.get_address().to_string()}:{a.get_port()}' for a in model]


def failure(loop, future):
    wait(loop, future)
    assert future.get_state() == Gbridge.FutureState.FAILED
    return future.get_failure()


def test_literal_answers_at_once(loop):
    resolver = Gbridge.ThreadedResolver.new(loop)
    future = resolver.resolve('192.0.2.9', 80, Gio.SocketFamily.INVALID, 0)
    assert future.get_state() == Gbridge.FutureState.RESOLVED
    assert addresses(loop, future) == ['192.0.2.9:80']
    assert addresses(loop, resolver.resolve('[::1]', 8080, Gio.SocketFamily.INVALID, 0)) \
        == ['::1:8080']


def test_threaded_localhost(loop):
    resolver = Gbridge.ThreadedResolver.new(loop)
    found = addresses(loop, resolver.resolve('localhost', 8000, Gio.SocketFamily.IPV4, 10))
    assert found == ['127.0.0.1:8000']


def test_override(loop):
    resolver = Gbridge.OverrideResolver.new(Gbridge.ThreadedResolver.new(loop))
    resolver.add_host('example.com', '192.0.2.10')
    resolver.add_host_port('example.com', 443, '::1', 8443)
    assert addresses(loop, resolver.resolve('example.com', 80, Gio.SocketFamily.INVALID, 0)) \
        == ['192.0.2.10:80']
    assert addresses(loop, resolver.resolve('example.com', 443, Gio.SocketFamily.INVALID, 0)) \
        == ['::1:8443']
    error = failure(loop, resolver.resolve('example.com', 80, Gio.SocketFamily.IPV6, 0))
    assert error.domain == ERROR_DOMAIN
    assert error.code == Gbridge.ResolverError.NOT_FOUND
    assert 'example.com' in error.message


def test_ares(loop, dnsmasq):
    resolver = Gbridge.AresResolver.new(loop, dnsmasq)
    assert resolver.props.servers == dnsmasq
    assert addresses(loop, resolver.resolve('a.test', 80, Gio.SocketFamily.INVALID, 10)) \
        == ['192.0.2.1:80']
    assert addresses(loop, resolver.resolve('alias.test', 81, Gio.SocketFamily.INVALID, 10)) \
        == ['192.0.2.1:81']
    assert sorted(addresses(loop, resolver.resolve('both.test', 1, Gio.SocketFamily.INVALID, 10))) \
        == ['192.0.2.2:1', '2001:db8::2:1']
    error = failure(loop, resolver.resolve('nowhere.test', 80, Gio.SocketFamily.INVALID, 10))
    assert error.domain == ERROR_DOMAIN
    assert error.code == Gbridge.ResolverError.NOT_FOUND
    assert 'nowhere.test' in error.message


def test_ares_from_properties(loop, dnsmasq):
    # Bindings construct with properties and never call init(): the first
    # lookup does.
    resolver = Gbridge.AresResolver(loop=loop, servers=dnsmasq, attempt_timeout=0.5, tries=2)
    assert addresses(loop, resolver.resolve('a.test', 80, Gio.SocketFamily.IPV4, 10)) \
        == ['192.0.2.1:80']


@needs_ares
def test_bad_servers_raise(loop):
    with pytest.raises(GLib.Error) as info:
        Gbridge.AresResolver.new(loop, 'not a server')
    assert info.value.domain == ERROR_DOMAIN
    assert 'not a server' in info.value.message


@pytest.mark.skipif(HAVE_ARES, reason='gbridge was built with c-ares')
def test_ares_unavailable(loop):
    # The type is there; constructing it fails, saying why.
    with pytest.raises(GLib.Error) as info:
        Gbridge.AresResolver.new(loop, None)
    assert info.value.matches(Gbridge.resolver_error_quark(), Gbridge.ResolverError.UNAVAILABLE)
    assert 'c-ares' in info.value.message
    # Built from properties, it fails every lookup the same way.
    resolver = Gbridge.AresResolver(loop=loop)
    error = failure(loop, resolver.resolve('localhost', 80, Gio.SocketFamily.INVALID, 5))
    assert error.matches(Gbridge.resolver_error_quark(), Gbridge.ResolverError.UNAVAILABLE)
    assert 'localhost' in error.message
    # The default resolver works, on the calling thread's current loop.
    default = Gbridge.Resolver.get_default()
    assert isinstance(default, Gbridge.ThreadedResolver)
    loop.make_current()
    try:
        assert addresses(loop, default.resolve('localhost', 80, Gio.SocketFamily.IPV4, 10)) \
            == ['127.0.0.1:80']
    finally:
        Gbridge.IOLoop.clear_current()


class FixedResolver(GObject.Object, Gbridge.Resolver):
    """A resolver written in Python: every name is 192.0.2.50."""

    loop = GObject.Property(type=Gbridge.IOLoop)

    def __init__(self, loop):
        super().__init__(loop=loop)
        self.hosts = []

    def do_lookup(self, host, port, family):
        self.hosts.append(host)
        future = Gbridge.Future.new_for_loop(self.props.loop)
        store = Gio.ListStore.new(Gio.InetSocketAddress)
        store.append(Gio.InetSocketAddress.new_from_string('192.0.2.50', port))
        future.resolve_object(store)
        return future


def test_python_resolver(loop):
    resolver = FixedResolver(loop)
    assert resolver.get_loop() == loop
    assert addresses(loop, resolver.resolve('anything.example', 7, Gio.SocketFamily.INVALID, 1)) \
        == ['192.0.2.50:7']
    # Literals never reach the implementation.
    assert addresses(loop, resolver.resolve('10.0.0.1', 7, Gio.SocketFamily.INVALID, 1)) \
        == ['10.0.0.1:7']
    assert resolver.hosts == ['anything.example']
    # And it can sit behind an override resolver.
    override = Gbridge.OverrideResolver.new(resolver)
    override.add_host('other.example', 'anything.else')
    assert addresses(loop, override.resolve('other.example', 8, Gio.SocketFamily.INVALID, 1)) \
        == ['192.0.2.50:8']
    assert resolver.hosts == ['anything.example', 'anything.else']


def offline_resolver(loop, kind):
    """A resolver of each kind whose server (port 9, discard) never answers:
    what it answers, it answers without the network."""
    if kind == 'threaded':
        return Gbridge.ThreadedResolver.new(loop)
    return Gbridge.AresResolver.new(loop, '127.0.0.1:9')


SPECIAL_NAMES = [
    ('localhost', Gio.SocketFamily.INVALID, ['::1:80', '127.0.0.1:80']),
    ('localhost.', Gio.SocketFamily.INVALID, ['::1:80', '127.0.0.1:80']),
    ('LOCALHOST', Gio.SocketFamily.IPV4, ['127.0.0.1:80']),
    ('localhost.', Gio.SocketFamily.IPV6, ['::1:80']),
]


@pytest.mark.parametrize('kind', ['threaded', pytest.param('ares', marks=needs_ares)])
def test_resolvers_agree_on_special_names(loop, kind):
    resolver = offline_resolver(loop, kind)
    for host, family, expected in SPECIAL_NAMES:
        assert addresses(loop, resolver.resolve(host, 80, family, 5)) == expected, host
    error = failure(loop, resolver.resolve('', 80, Gio.SocketFamily.INVALID, 5))
    assert error.matches(Gbridge.resolver_error_quark(),
                         Gbridge.ResolverError.INVALID_ARGUMENT)


@pytest.mark.parametrize('kind', ['threaded', pytest.param('ares', marks=needs_ares)])
def test_scoped_literal_keeps_its_interface(loop, kind):
    resolver = offline_resolver(loop, kind)
    for host, scope_id in [('fe80::1%lo', socket.if_nametoindex('lo')),
                           ('[fe80::1%lo]', socket.if_nametoindex('lo')),
                           ('fe80::1%1', 1)]:
        future = resolver.resolve(host, 443, Gio.SocketFamily.INVALID, 0)
        # A literal: answered at once.
        assert future.get_state() == Gbridge.FutureState.RESOLVED, host
        [address] = list(future.get_object())
        assert address.get_address().to_string() == 'fe80::1'
        assert address.get_port() == 443
        assert address.get_scope_id() == scope_id, host
    error = failure(loop, resolver.resolve('fe80::1%no-such-if0', 80,
                                           Gio.SocketFamily.INVALID, 0))
    assert error.matches(Gbridge.resolver_error_quark(),
                         Gbridge.ResolverError.INVALID_ARGUMENT)
    assert 'fe80::1%no-such-if0' in error.message
