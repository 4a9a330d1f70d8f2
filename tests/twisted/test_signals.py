# SPDX-License-Identifier: LGPL-2.1-or-later
"""gbridge.twisted.wait_signal() and to_deferred(): GObject signals and
Gbridge futures as Deferreds, on a GbridgeReactor."""

import threading

import pytest

import gi

gi.require_version("Gbridge", "1")
from gi.repository import GLib, GObject, Gbridge  # noqa: E402

twisted = pytest.importorskip("twisted")

from twisted.internet import defer  # noqa: E402

import gbridge.twisted  # noqa: E402
from gbridge.twisted import GbridgeReactor  # noqa: E402


class Emitter(GObject.Object):
    __gsignals__ = {
        "with-args": (GObject.SignalFlags.RUN_LAST, None, (int, str)),
    }


@pytest.fixture
def reactor(loop):
    r = GbridgeReactor(loop)
    yield r
    for call in r.getDelayedCalls():
        call.cancel()


def outcome(reactor, deferred, timeout=10):
    """Runs the reactor until ``deferred`` fires; its result or Failure."""
    results = []
    deferred.addBoth(results.append)
    deferred.addBoth(lambda _: reactor.stop())
    guard = reactor.callLater(timeout, reactor.stop)
    reactor.run(installSignalHandlers=False)
    assert results, "the Deferred did not fire within %s s" % timeout
    guard.cancel()
    return results[0]


def has_handler(obj, detailed_signal):
    signal_id, detail = GObject.signal_parse_name(detailed_signal, obj, True)[-2:]
    return GObject.signal_has_handler_pending(obj, signal_id, detail, True)


def test_wait_signal_fires_with_the_arguments(reactor):
    obj = Emitter()
    d = gbridge.twisted.wait_signal(obj, "with-args", reactor=reactor)
    reactor.callLater(0, obj.emit, "with-args", 3, "twisted")
    assert outcome(reactor, d) == (3, "twisted")
    assert not has_handler(obj, "with-args")


def test_wait_signal_from_another_thread(reactor):
    obj = Emitter()
    d = gbridge.twisted.wait_signal(obj, "with-args", reactor=reactor)
    thread = threading.Thread(target=obj.emit, args=("with-args", 9, "thread"))
    reactor.callLater(0, thread.start)
    assert outcome(reactor, d) == (9, "thread")
    thread.join()


def test_cancelling_the_deferred_disconnects(reactor):
    obj = Emitter()
    d = gbridge.twisted.wait_signal(obj, "with-args", reactor=reactor)
    reactor.callLater(0, d.cancel)
    result = outcome(reactor, d)
    assert result.check(defer.CancelledError)
    assert not has_handler(obj, "with-args")


def test_wait_signal_fails_when_the_object_is_disposed(reactor):
    obj = Emitter()
    d = gbridge.twisted.wait_signal(obj, "with-args", reactor=reactor)
    reactor.callLater(0, obj.run_dispose)
    result = outcome(reactor, d)
    assert result.check(GLib.Error)
    assert result.value.matches(Gbridge.future_error_quark(),
                                Gbridge.FutureError.DISPOSED)


def test_to_deferred_of_a_failed_future(reactor, loop):
    future = Gbridge.Future.new_for_loop(loop)
    d = gbridge.twisted.to_deferred(future, reactor=reactor)
    reactor.callLater(0, future.fail, GLib.Error.new_literal(
        GLib.quark_from_string("test"), "boom", 7))
    result = outcome(reactor, d)
    assert result.check(GLib.Error) and result.value.message == "boom"
