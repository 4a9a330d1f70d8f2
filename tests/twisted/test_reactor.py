# SPDX-License-Identifier: LGPL-2.1-or-later
"""gbridge.twisted.GbridgeReactor: a Twisted reactor on the C reactor."""

import os
import subprocess
import sys
import threading
import time

import pytest

import gi

gi.require_version("Gbridge", "1")
from gi.repository import GLib  # noqa: E402

twisted = pytest.importorskip("twisted")

from twisted.internet import defer, error, protocol  # noqa: E402

from gbridge.twisted import GbridgeReactor  # noqa: E402


@pytest.fixture
def reactor(loop):
    r = GbridgeReactor(loop)
    yield r
    r.disconnectAll()
    for call in r.getDelayedCalls():
        call.cancel()


def run(reactor, timeout=10):
    timed_out = []
    guard = reactor.callLater(timeout, lambda: (timed_out.append(1), reactor.stop()))
    reactor.run(installSignalHandlers=False)
    assert not timed_out, "the reactor was still running after %s s" % timeout
    guard.cancel()


def test_timers_run_in_time_order(reactor):
    log = []
    reactor.callLater(0.02, log.append, "b")
    reactor.callLater(0.01, log.append, "a")
    reactor.callLater(0.02, log.append, "c")
    cancelled = reactor.callLater(0.01, log.append, "cancelled")
    cancelled.cancel()
    reactor.callLater(0.03, reactor.stop)
    run(reactor)
    assert log == ["a", "b", "c"]


def test_delayed_call_is_a_loop_timeout(reactor):
    """Each pending DelayedCall is one timeout of the reactor's loop, which
    the reactor owns (not the C Gbridge.Reactor's heap: see "Who owns
    what" in the Twisted chapter of the guide)."""
    call = reactor.callLater(5, lambda: None)
    assert reactor.getDelayedCalls() == [call]
    assert reactor.gbridge_reactor.get_delayed_calls() == []
    timeout = reactor._core.calls[call]
    call.cancel()
    # Cancelling removed the timeout from the loop.
    assert reactor.gbridge_loop.remove_timeout(timeout) is False
    assert reactor.getDelayedCalls() == []
    with pytest.raises(error.AlreadyCancelled):
        call.cancel()


def test_seconds_is_on_the_time_time_scale(reactor):
    """Twisted code compares reactor.seconds() and DelayedCall.getTime()
    with time.time() (twisted.protocols.sip's registration expiry), as
    every Twisted reactor's seconds() is runtimeSeconds, time.time()."""
    before = time.time()
    now = reactor.seconds()
    after = time.time()
    assert before <= now <= after
    call = reactor.callLater(3600, lambda: None)
    assert int(call.getTime() - time.time()) in (3600, 3599)
    # reset() and delay() keep it on that scale.
    call.reset(60)
    assert int(call.getTime() - time.time()) in (60, 59)
    call.delay(10)
    assert int(call.getTime() - time.time()) in (70, 69)
    # The loop's timeout moved with reset() (a new one), not with delay(),
    # which DelayedCall applies lazily.
    before = reactor._core.calls[call]
    call.reset(30)
    after = reactor._core.calls[call]
    assert after != before
    call.delay(10)
    assert reactor._core.calls[call] == after
    call.cancel()


def test_twisted_sip_registration_expiry():
    """twisted.test.test_sip.RegistrationTests.testRegister's check, with
    gbridge's reactor installed (in a subprocess: installing is global): a
    registration expires in 3600 s of time.time()."""
    pytest.importorskip("twisted.protocols.sip")
    code = (
        "import gbridge.twisted\n"
        "gbridge.twisted.install()\n"
        "from twisted.protocols import sip\n"
        "registry = sip.InMemoryRegistry('bell.example.com')\n"
        "d = registry.registerAddress(\n"
        "    sip.URL(host='bell.example.com'),\n"
        "    sip.URL(username='joe', host='bell.example.com'),\n"
        "    sip.URL(username='joe', host='client.com', port=5060))\n"
        "d.addCallback(lambda r: print(r.secondsToExpiry))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) in (3600, 3599, 3598)


def test_reset_and_delay(reactor):
    log = []
    first = reactor.callLater(0.01, log.append, "first")
    second = reactor.callLater(0.02, log.append, "second")
    first.delay(0.03)               # later: now after second
    second.reset(0.0)               # sooner
    reactor.callLater(0.1, reactor.stop)
    run(reactor)
    assert log == ["second", "first"]
    with pytest.raises(error.AlreadyCalled):
        first.reset(1)


def test_tcp_echo(reactor):
    class Echo(protocol.Protocol):
        def dataReceived(self, data):
            self.transport.write(data)

    received = []

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"ping")

        def dataReceived(self, data):
            received.append(data)
            self.transport.loseConnection()

        def connectionLost(self, reason):
            reactor.stop()

    server = protocol.ServerFactory.forProtocol(Echo)
    port = reactor.listenTCP(0, server, interface="127.0.0.1")
    client = protocol.ClientFactory.forProtocol(Client)
    reactor.connectTCP("127.0.0.1", port.getHost().port, client)
    run(reactor)
    assert b"".join(received) == b"ping"
    port.stopListening()


def test_call_from_thread_wakes_the_reactor(reactor):
    log = []

    def worker():
        reactor.callFromThread(log.append, threading.current_thread().name)
        reactor.callFromThread(reactor.stop)

    reactor.callWhenRunning(lambda: threading.Thread(target=worker, name="worker").start())
    run(reactor)
    assert log == ["worker"]


def test_one_implementation_of_each_concept(reactor):
    """Wake-ups are the C loop's callback queue (no self-pipe waker, so a
    fresh reactor watches no fd); triggers, the thread pool and signals are
    Twisted's (the C reactor's versions stay unused)."""
    from twisted.python.threadpool import ThreadPool

    assert reactor.waker is None
    assert reactor.getReaders() == []
    assert reactor.gbridge_reactor.get_readers() == []
    assert isinstance(reactor.getThreadPool(), ThreadPool)
    seen = []
    reactor.callWhenRunning(
        lambda: seen.append(reactor.gbridge_reactor.is_running()))
    reactor.callWhenRunning(reactor.stop)
    run(reactor)
    # Twisted's startup event ran, and did not also start the C reactor.
    assert seen == [False]


def test_failing_delayed_call_is_logged_and_the_reactor_goes_on(reactor):
    from twisted.python import log as twisted_log

    errors = []

    def observer(event):
        if event.get("isError"):
            errors.append(event)

    def fail():
        raise ZeroDivisionError("in a delayed call")

    after = []
    reactor.callLater(0, fail)
    reactor.callLater(0.01, after.append, "next")
    reactor.callLater(0.02, reactor.stop)
    twisted_log.addObserver(observer)
    try:
        run(reactor)
    finally:
        twisted_log.removeObserver(observer)
    assert after == ["next"]
    failures = [e["failure"] for e in errors if e.get("failure") is not None]
    assert [f.type for f in failures] == [ZeroDivisionError]


def test_call_in_thread(reactor):
    d = defer.Deferred()
    result = []

    def work():
        reactor.callFromThread(d.callback, threading.current_thread() is not threading.main_thread())

    d.addCallback(result.append)
    d.addCallback(lambda _: reactor.stop())
    reactor.callWhenRunning(reactor.callInThread, work)
    run(reactor)
    assert result == [True]


def test_shares_the_loop_with_gbridge_and_glib(loop, reactor):
    log = []

    def note(what):
        log.append(what)
        if len(log) == 2:
            reactor.stop()

    loop.add_callback(lambda: note("gbridge"))
    source = GLib.timeout_source_new(10)
    source.set_callback(lambda *a: note("glib") or False)
    source.attach(loop.get_context())
    run(reactor)
    assert sorted(log) == ["gbridge", "glib"]


def test_runs_under_a_glib_main_loop(loop, reactor):
    """As in a GTK application: GLib's main loop iterates the context."""
    main_loop = GLib.MainLoop.new(loop.get_context(), False)
    log = []
    timed_out = []

    def from_thread(what):
        log.append(what)
        main_loop.quit()

    def watchdog():
        timed_out.append(1)
        main_loop.quit()

    reactor.startRunning(installSignalHandlers=False)
    reactor.callLater(0.01, log.append, "timer")
    reactor.callLater(0.02, lambda: threading.Thread(
        target=reactor.callFromThread, args=(from_thread, "thread")).start())
    # The thread's call ends the run; a loaded machine may take its time.
    guard = reactor.callLater(10, watchdog)
    main_loop.run()
    assert not timed_out, "the thread's call never came"
    guard.cancel()
    assert log == ["timer", "thread"]
    reactor.fireSystemEvent("shutdown")


def test_short_lived_reactor_cleans_up(reactor):
    port = reactor.listenTCP(0, protocol.ServerFactory.forProtocol(protocol.Protocol),
                             interface="127.0.0.1")
    assert port in reactor.getReaders()
    reactor.fireSystemEvent("shutdown")
    reactor.disconnectAll()
    assert reactor.getReaders() == [] or all(r in reactor._internalReaders
                                             for r in reactor.getReaders())
    assert reactor.gbridge_reactor.get_readers() == [] or len(
        reactor.gbridge_reactor.get_readers()) == len(reactor._internalReaders)


def test_stop_when_not_running(reactor):
    with pytest.raises(error.ReactorNotRunning):
        reactor.stop()


def test_install():
    code = """
import gbridge.twisted
r = gbridge.twisted.install()
from twisted.internet import reactor, error
from gi.repository import Gbridge
assert reactor is r
assert Gbridge.Reactor.get_default() == r.gbridge_reactor
assert r.gbridge_loop is Gbridge.IOLoop.get_default() or \\
    r.gbridge_loop.get_context() == Gbridge.IOLoop.get_default().get_context()
try:
    gbridge.twisted.install()
except error.ReactorAlreadyInstalledError:
    print("refused")
reactor.callLater(0, reactor.stop)
reactor.run()
print("ran")
"""
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=60,
                         env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert out.returncode == 0, out.stdout
    assert out.stdout.split() == ["refused", "ran"]


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_signal_stops_a_running_reactor(signame):
    """Twisted's signal handlers stop reactor.run() while GLib waits in
    poll(): a signal wakes the context through Python's wakeup fd."""
    code = """
import os, signal, sys, threading
import gbridge.twisted
from twisted.internet import error
r = gbridge.twisted.GbridgeReactor()
events = []
r.addSystemEventTrigger("before", "shutdown", events.append, "shutdown")
# From another thread once running, so that the main thread sits in poll().
r.callWhenRunning(lambda: threading.Timer(
    0.2, os.kill, (os.getpid(), signal.%s)).start())
guard = r.callLater(30, lambda: (events.append("timed out"), r.stop()))
r.run()
print(" ".join(events))
""" % signame
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=60,
                         env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert out.returncode == 0, out.stdout
    assert out.stdout.split() == ["shutdown"], out.stdout
