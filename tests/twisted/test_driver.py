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


def run(reactor, driver, seconds):
    reactor.callWhenRunning(driver.start)
    reactor.callLater(seconds, reactor.stop)
    reactor.run(installSignalHandlers=False)
    driver.stop()


def test_gbridge_and_glib_run_on_epollreactor(loop, reactor):
    log = []
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
    run(reactor, driver, 0.2)
    os.close(r)
    os.close(w)
    assert log == ["callback", b"fd", "glib", "timer"]


def test_add_callback_from_another_thread(loop, reactor):
    log = []
    timer = threading.Timer(0.02, lambda: loop.add_callback(lambda: log.append("thread")))
    timer.start()
    driver = TwistedContextDriver(loop, reactor)
    run(reactor, driver, 0.2)
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
