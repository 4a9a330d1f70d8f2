# SPDX-License-Identifier: LGPL-2.1-or-later
"""gbridge.twisted.TwistedContextDriver: a gbridge loop on a Twisted reactor."""

import os
import threading

import pytest

import gi

gi.require_version("Gbridge", "1")
from gi.repository import Gbridge, GLib  # noqa: E402

pytest.importorskip("twisted")

from twisted.internet.epollreactor import EPollReactor  # noqa: E402

from gbridge.twisted import TwistedContextDriver  # noqa: E402


@pytest.fixture
def reactor():
    r = EPollReactor()
    yield r
    r.disconnectAll()
    for call in r.getDelayedCalls():
        call.cancel()


class Log(list):
    """What ran, in order; stops @reactor once it holds @expected entries."""

    def __init__(self, reactor, expected):
        super().__init__()
        self.reactor = reactor
        self.expected = expected

    def append(self, item):
        super().append(item)
        if len(self) == self.expected:
            self.reactor.stop()


def run(reactor, driver, seconds):
    """Runs @reactor until something stops it, @seconds at most; True if it
    had to stop it."""
    timed_out = []
    reactor.callWhenRunning(driver.start)
    guard = reactor.callLater(seconds, lambda: (timed_out.append(1), reactor.stop()))
    reactor.run(installSignalHandlers=False)
    driver.stop()
    if not timed_out:
        guard.cancel()
    return bool(timed_out)


def test_gbridge_and_glib_run_on_epollreactor(loop, reactor):
    log = Log(reactor, 4)
    r, w = os.pipe()

    def on_fd(fd, events):
        log.append(os.read(fd, 10))
        loop.remove_handler(fd)

    loop.add_callback(lambda: log.append("callback"))
    loop.call_later(0.05, lambda: log.append("timer"))
    loop.add_handler(r, Gbridge.IOEvents.READ, on_fd)
    source = GLib.timeout_source_new(30)
    source.set_callback(lambda *a: log.append("glib") or False)
    source.attach(loop.get_context())
    reactor.callLater(0.01, os.write, w, b"fd")
    driver = TwistedContextDriver(loop, reactor)
    assert not run(reactor, driver, 10), f"still waiting after 10 s: {log}"
    os.close(r)
    os.close(w)
    # The callback is ready at the first dispatch. The fd (written by a
    # Twisted call at 10 ms), the GLib timeout (30 ms) and the gbridge timer
    # (50 ms) come in any order when a loaded machine wakes up late.
    assert log[0] == "callback"
    assert sorted(log[1:], key=str) == sorted([b"fd", "glib", "timer"], key=str)


def test_add_callback_from_another_thread(loop, reactor):
    log = Log(reactor, 1)
    timer = threading.Timer(0.02, lambda: loop.add_callback(lambda: log.append("thread")))
    timer.start()
    driver = TwistedContextDriver(loop, reactor)
    assert not run(reactor, driver, 10), "the thread's callback never ran"
    timer.join()
    assert log == ["thread"]


def test_stop_releases_the_context(loop, reactor):
    driver = TwistedContextDriver(loop, reactor)
    run(reactor, driver, 0.01)
    context = loop.get_context()
    assert context.acquire()
    context.release()
    assert reactor.getReaders() == [] or all(r in reactor._internalReaders
                                             for r in reactor.getReaders())
