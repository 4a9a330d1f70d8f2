# SPDX-License-Identifier: LGPL-2.1-or-later
"""Gbridge.Reactor from Python: descriptors implemented in Python, triggers
returning futures, errors as GLib.Error."""

import os

import pytest

import gi

gi.require_version("Gbridge", "1")
from gi.repository import Gbridge, GLib, GObject  # noqa: E402


class PipeReader(GObject.Object, Gbridge.Descriptor):
    def __init__(self, fd, result=True):
        super().__init__()
        self.fd = fd
        self.result = result
        self.reads = []
        self.lost = []

    def do_get_fd(self):
        return self.fd

    def do_read(self):
        self.reads.append(os.read(self.fd, 100))
        return self.result

    def do_connection_lost(self, reason):
        self.lost.append(reason.code)


@pytest.fixture
def reactor(loop):
    return Gbridge.Reactor.ref_for_loop(loop)


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    os.close(r)
    os.close(w)


def test_python_descriptor(reactor, pipe):
    reader = PipeReader(pipe[0])
    reactor.add_reader(reader)
    assert reactor.get_readers() == [reader]
    os.write(pipe[1], b"hello")
    while not reader.reads:
        reactor.iterate(1.0)
    assert reader.reads == [b"hello"]
    assert reactor.remove_all() == [reader]
    assert reader.lost == []


def test_python_descriptor_lost(reactor, pipe):
    reader = PipeReader(pipe[0], result=False)
    reactor.add_reader(reader)
    os.write(pipe[1], b"x")
    while not reader.lost:
        reactor.iterate(1.0)
    assert reader.lost == [Gbridge.ReactorError.CONNECTION_LOST]
    assert reactor.get_readers() == []


def test_delayed_call_errors(reactor):
    log = []
    call = reactor.call_later(0, log.append, "ran")
    while call.is_active():
        reactor.iterate(1.0)
    assert log == ["ran"]
    with pytest.raises(GLib.Error) as e:
        call.cancel()
    assert e.value.matches(Gbridge.reactor_error_quark(), Gbridge.ReactorError.ALREADY_CALLED)


def test_stop_not_running(reactor):
    with pytest.raises(GLib.Error) as e:
        reactor.stop()
    assert e.value.matches(Gbridge.reactor_error_quark(), Gbridge.ReactorError.NOT_RUNNING)


def test_before_trigger_returns_a_future(loop, reactor):
    log = []
    future = Gbridge.Future.new_for_loop(loop)

    def before():
        log.append("before")
        return future

    reactor.add_system_event_trigger(Gbridge.TriggerPhase.BEFORE, "custom", before)
    reactor.add_system_event_trigger(Gbridge.TriggerPhase.DURING, "custom",
                                     lambda: log.append("during"))
    reactor.fire_system_event("custom")
    assert log == ["before"]
    reactor.call_later(0.01, lambda: log.append("resolve") or future.resolve(None))
    while "during" not in log:
        reactor.iterate(1.0)
    assert log == ["before", "resolve", "during"]


def test_run_stop_and_callbacks_from_a_thread(reactor):
    import threading

    log = []

    def worker():
        reactor.get_loop().add_callback(log.append, "thread")
        reactor.get_loop().add_callback(reactor.stop)

    reactor.call_when_running(lambda: threading.Thread(target=worker).start())
    reactor.run(False)
    assert log == ["thread"]
