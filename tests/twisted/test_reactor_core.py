# SPDX-License-Identifier: LGPL-2.1-or-later
"""gbridge.twisted's core (gbridge._native.TwistedCore, or its PyGObject
twin with GBRIDGE_PYTHON_NATIVE=0): delayed calls and reader/writer
dispatch in the hostile cases, against what Twisted's epollreactor does."""

import gc
import os
import socket
import sys
import weakref

import pytest

import gi

gi.require_version("Gbridge", "1")
from gi.repository import Gbridge  # noqa: E402

twisted = pytest.importorskip("twisted")

from twisted.internet import error  # noqa: E402
from twisted.python import log  # noqa: E402

import gbridge.twisted  # noqa: E402
from gbridge.twisted import GbridgeReactor  # noqa: E402


def test_the_core_in_use():
    want_native = (os.environ.get("GBRIDGE_PYTHON_NATIVE", "1") != "0"
                   and os.environ.get("GBRIDGE_TEST_HAVE_NATIVE") == "1")
    assert (gbridge.twisted._Core.__name__ == "TwistedCore") == want_native


@pytest.fixture
def reactor(loop):
    r = GbridgeReactor(loop)
    yield r
    r.disconnectAll()
    for call in r.getDelayedCalls():
        call.cancel()


@pytest.fixture
def logged():
    events = []
    log.addObserver(events.append)
    yield events
    log.removeObserver(events.append)


def errors(events):
    return [e for e in events if e.get("isError")]


def run(reactor, timeout=10):
    timed_out = []
    guard = reactor.callLater(timeout, lambda: (timed_out.append(1), reactor.stop()))
    reactor.run(installSignalHandlers=False)
    assert not timed_out, "the reactor was still running after %s s" % timeout
    guard.cancel()


class Selectable:
    """A reader and writer on one end of a socket pair."""

    def __init__(self, sock, read=None, write=None):
        self.sock = sock
        self.read = read
        self.write = write
        self.reads = 0
        self.writes = 0
        self.lost = []

    def fileno(self):
        return self.sock.fileno()

    def logPrefix(self):
        return "test-selectable"

    def doRead(self):
        self.reads += 1
        if self.read is not None:
            return self.read(self)
        self.sock.recv(4096)

    def doWrite(self):
        self.writes += 1
        if self.write is not None:
            return self.write(self)

    def connectionLost(self, reason):
        self.lost.append(reason)


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


# Delayed calls


def test_arguments_and_keywords(reactor):
    got = []
    reactor.callLater(0, lambda *a, **kw: got.append((a, kw)), 1, 2, x=3)
    reactor.callLater(0.01, reactor.stop)
    run(reactor)
    assert got == [((1, 2), {"x": 3})]


def test_call_later_checks_as_twisted_does(reactor):
    with pytest.raises(AssertionError):
        reactor.callLater(1, "not callable")
    with pytest.raises(AssertionError):
        reactor.callLater(-1, lambda: None)
    with pytest.raises(AssertionError):
        reactor.callLater(float("nan"), lambda: None)
    with pytest.raises(TypeError):
        reactor.callLater(None, lambda: None)
    assert reactor.getDelayedCalls() == []


def test_cancel_from_inside_a_delayed_call(reactor):
    log_ = []
    later = reactor.callLater(0.02, log_.append, "later")
    same_time = []

    def first():
        log_.append("first")
        later.cancel()
        same_time[0].cancel()
        with pytest.raises(error.AlreadyCalled):
            this[0].cancel()

    this = [reactor.callLater(0.01, first)]
    same_time.append(reactor.callLater(0.01, log_.append, "same time"))
    reactor.callLater(0.05, reactor.stop)
    run(reactor)
    assert log_ == ["first"]
    assert not later.active() and later.cancelled
    assert this[0].called and not this[0].active()
    assert reactor.getDelayedCalls() == []


def test_reset_and_delay_from_inside_a_delayed_call(reactor):
    log_ = []
    a = reactor.callLater(0.03, log_.append, "a")
    b = reactor.callLater(0.01, log_.append, "b")

    def move():
        log_.append("move")
        a.reset(0)           # sooner: now
        with pytest.raises(error.AlreadyCalled):
            b.delay(0.03)    # already called

    reactor.callLater(0.02, move)
    c = reactor.callLater(0.025, log_.append, "c")
    c.delay(0.02)           # lazily later: after a
    reactor.callLater(0.1, reactor.stop)
    run(reactor)
    assert log_ == ["b", "move", "a", "c"]


def test_reset_later_then_sooner(reactor):
    log_ = []
    call = reactor.callLater(0.01, log_.append, "call")
    call.reset(10)
    call.reset(0.02)
    reactor.callLater(0.015, lambda: log_.append("between"))
    reactor.callLater(0.1, reactor.stop)
    run(reactor)
    assert log_ == ["between", "call"]
    assert call.getTime() <= reactor.seconds()


def test_delayed_call_never_early(reactor):
    fired = []
    call = reactor.callLater(0.02, lambda: fired.append(reactor.seconds()))
    reactor.callLater(0.1, reactor.stop)
    run(reactor)
    assert fired and fired[0] >= call.getTime() - 0.001


def test_failing_delayed_calls_are_logged_as_twisted_does(reactor, logged):
    ran = []

    def fail():
        raise ValueError("boom")

    def interrupt():
        raise KeyboardInterrupt

    reactor.callLater(0, fail)
    reactor.callLater(0, interrupt)
    reactor.callLater(0.01, ran.append, "after")
    reactor.callLater(0.02, reactor.stop)
    run(reactor)
    assert ran == ["after"]
    failures = [e["failure"] for e in errors(logged)]
    assert [f.type for f in failures] == [ValueError, KeyboardInterrupt]
    assert "fail" in failures[0].getTraceback()


def test_stop_from_a_delayed_call_leaves_later_ones(reactor):
    log_ = []
    reactor.callLater(0, reactor.stop)
    later = reactor.callLater(0.05, log_.append, "later")
    reactor.run(installSignalHandlers=False)
    assert log_ == []
    assert reactor.getDelayedCalls() == [later]


def test_delayed_calls_of_a_dropped_reactor_do_not_run(loop):
    ran = []
    reactor = GbridgeReactor(loop)
    reactor.callLater(0, ran.append, "call")
    ref = weakref.ref(reactor)
    del reactor
    gc.collect()
    assert ref() is None
    ctx = loop.get_context()
    for _ in range(5):
        ctx.iteration(False)
    assert ran == []


def test_churn_keeps_nothing(reactor):
    calls = [reactor.callLater(50 + i, lambda: None) for i in range(1000)]
    for call in calls[::2]:
        call.cancel()
    assert len(reactor.getDelayedCalls()) == 500
    for call in calls[1::2]:
        call.cancel()
    assert reactor.getDelayedCalls() == []
    assert len(reactor._core.calls) == 0


# Readers and writers


def test_reader_and_writer_dispatch(reactor, pair):
    a, b = pair
    sel = Selectable(a)
    reactor.addReader(sel)
    reactor.addWriter(sel)
    assert reactor.getReaders() == [sel] and reactor.getWriters() == [sel]

    def wrote(sel):
        reactor.removeWriter(sel)
        b.send(b"x")

    sel.write = wrote

    def read(sel):
        sel.sock.recv(10)
        reactor.stop()

    sel.read = read
    run(reactor)
    assert sel.writes == 1 and sel.reads == 1
    assert reactor.getWriters() == []


def test_remove_reader_from_its_own_do_read(reactor, pair):
    a, b = pair
    b.send(b"x")

    def read(sel):
        reactor.removeReader(sel)
        reactor.removeWriter(sel)   # the writer is not called after this
        assert reactor.getReaders() == [] and reactor.getWriters() == []
        reactor.callLater(0.02, reactor.stop)

    sel = Selectable(a, read=read)
    reactor.addReader(sel)
    reactor.addWriter(sel)          # writable and readable in one round
    run(reactor)
    assert sel.reads == 1 and sel.writes == 0
    assert reactor.getReaders() == [] and reactor.getWriters() == []


def test_reader_removes_another_ready_one(reactor):
    pairs = [socket.socketpair() for _ in range(2)]
    try:
        for a, b in pairs:
            b.send(b"x")
        sels = []

        def read(sel):
            for other in sels:
                reactor.removeReader(other)
            reactor.callLater(0.02, reactor.stop)

        sels.extend(Selectable(a, read=read) for a, _ in pairs)
        for sel in sels:
            reactor.addReader(sel)
        run(reactor)
        assert sorted(sel.reads for sel in sels) == [0, 1]
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_do_read_exception_is_logged_and_disconnects(reactor, pair, logged):
    a, b = pair
    b.send(b"x")

    def read(sel):
        reactor.callLater(0, reactor.stop)
        raise RuntimeError("doRead failed")

    sel = Selectable(a, read=read)
    reactor.addReader(sel)
    reactor.addWriter(sel)
    run(reactor)
    assert sel.reads == 1
    assert len(sel.lost) == 1 and sel.lost[0].check(RuntimeError)
    errs = errors(logged)
    assert len(errs) == 1 and errs[0]["failure"].check(RuntimeError)
    assert errs[0].get("system") == "test-selectable"
    assert reactor.getReaders() == [] and reactor.getWriters() == []


def test_do_read_returning_a_reason_disconnects(reactor, pair):
    a, b = pair
    b.send(b"x")

    def read(sel):
        reactor.callLater(0, reactor.stop)
        return error.ConnectionLost("gone")

    sel = Selectable(a, read=read)
    reactor.addReader(sel)
    run(reactor)
    assert len(sel.lost) == 1 and sel.lost[0].check(error.ConnectionLost)
    assert reactor.getReaders() == []


def test_keyboard_interrupt_in_do_read_is_logged(reactor, pair, logged):
    a, b = pair
    b.send(b"x")

    def read(sel):
        reactor.callLater(0, reactor.stop)
        raise KeyboardInterrupt

    sel = Selectable(a, read=read)
    reactor.addReader(sel)
    run(reactor)
    assert sel.lost and sel.lost[0].check(KeyboardInterrupt)
    assert [e["failure"].type for e in errors(logged)] == [KeyboardInterrupt]


def test_stop_from_do_read(reactor, pair):
    a, b = pair
    b.send(b"x")

    def read(sel):
        sel.sock.recv(10)
        reactor.stop()

    sel = Selectable(a, read=read)
    reactor.addReader(sel)
    run(reactor)
    assert sel.reads == 1


def test_hang_up_of_a_reader_is_a_clean_close(reactor, pair):
    a, b = pair

    def read(sel):
        data = sel.sock.recv(10)
        if not data:
            reactor.callLater(0, reactor.stop)
            return error.ConnectionDone()

    sel = Selectable(a, read=read)
    reactor.addReader(sel)
    b.close()
    run(reactor)
    assert len(sel.lost) == 1 and sel.lost[0].check(error.ConnectionDone)


def test_hang_up_of_a_writer_loses_the_connection(reactor):
    # A writer only (a connecting client, say) whose peer is gone: the
    # hang-up, with no read event, is CONNECTION_LOST, as on epollreactor.
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        while True:
            try:
                a.send(b"x" * 4096)
            except BlockingIOError:
                break
        b.close()

        def write(sel):
            reactor.callLater(0, reactor.stop)
            try:
                sel.sock.send(b"x")
            except OSError as e:
                return error.ConnectionLost(str(e))

        sel = Selectable(a, write=write)
        sel.connectionLost = lambda reason: (sel.lost.append(reason),
                                             reactor.callLater(0, reactor.stop))
        reactor.addWriter(sel)
        run(reactor)
        assert len(sel.lost) == 1
        assert sel.lost[0].check(error.ConnectionLost)
    finally:
        a.close()


def test_fd_closed_while_registered(reactor):
    a, b = socket.socketpair()
    sel = Selectable(a)
    reactor.addReader(sel)
    reactor.addWriter(sel)
    a.close()                  # fileno() is -1 from now on
    b.close()
    reactor.callLater(0.02, reactor.stop)
    run(reactor)               # nothing reported for the closed fd
    assert sel.reads == 0 and sel.writes == 0
    reactor.removeReader(sel)  # by selectable, whatever its fd now
    reactor.removeWriter(sel)
    assert reactor.getReaders() == [] and reactor.getWriters() == []


def test_fd_number_reused_by_a_new_selectable(reactor):
    a, b = socket.socketpair()
    old = Selectable(a)
    reactor.addReader(old)
    fd = a.fileno()
    a.close()
    b.close()
    c, d = socket.socketpair()
    try:
        if c.fileno() != fd:
            os.dup2(c.fileno(), fd)
            c.close()
            c = socket.socket(fileno=fd)
        d.send(b"x")

        def read(sel):
            sel.sock.recv(10)
            reactor.stop()

        new = Selectable(c, read=read)
        reactor.addReader(new)      # replaces the old one on that fd
        assert reactor.getReaders() == [new]
        reactor.removeReader(old)   # forgotten already: nothing happens
        assert reactor.getReaders() == [new]
        run(reactor)
        assert new.reads == 1 and old.reads == 0
    finally:
        c.close()
        d.close()


def test_fileno_changed_is_a_lost_descriptor(reactor, pair):
    a, b = pair
    b.send(b"x")
    sel = Selectable(a)
    reactor.addReader(sel)
    sel.fileno = lambda: -1
    sel.connectionLost = lambda reason: (sel.lost.append(reason), reactor.stop())
    run(reactor)
    assert sel.reads == 0
    assert len(sel.lost) == 1 and sel.lost[0].check(error.ConnectionFdescWentAway)


def test_add_bad_descriptors(reactor):
    class Bad(Selectable):
        def fileno(self):
            return -1

    with pytest.raises(OSError):
        reactor.addReader(Bad(None))
    a, b = socket.socketpair()
    fd = a.fileno()
    a.close()
    b.close()

    class Closed(Selectable):
        def fileno(self):
            return fd

    with pytest.raises(OSError):
        reactor.addReader(Closed(None))
    assert reactor.getReaders() == []


def test_remove_all(reactor, pair):
    a, b = pair
    sel = Selectable(a)
    reactor.addReader(sel)
    reactor.addWriter(sel)
    removed = reactor.removeAll()
    assert removed == [sel]
    assert reactor.getReaders() == [] and reactor.getWriters() == []


def test_readers_of_a_dropped_reactor_are_not_called(loop, pair):
    a, b = pair
    reactor = GbridgeReactor(loop)
    sel = Selectable(a)
    reactor.addReader(sel)
    b.send(b"x")
    del reactor
    gc.collect()
    ctx = loop.get_context()
    for _ in range(5):
        ctx.iteration(False)
    assert sel.reads == 0


def test_callbacks_under_a_glib_main_loop(loop, reactor, pair):
    """Driven by GLib (no reactor.run()): the same dispatch."""
    a, b = pair
    b.send(b"x")
    sel = Selectable(a)
    reactor.addReader(sel)
    fired = []
    reactor.callLater(0, fired.append, 1)
    ctx = loop.get_context()
    for _ in range(10):
        ctx.iteration(False)
    assert fired == [1] and sel.reads >= 1


def test_call_later_on_a_loop_closed_under_the_reactor():
    """The loop refuses the timeout (and frees what it was given at once):
    callLater() raises, and nothing of the refused timeout is touched
    afterwards (ASan and valgrind check that in CI)."""
    loop = Gbridge.IOLoop.new()
    reactor = GbridgeReactor(loop)
    loop.close(False)
    with pytest.raises(RuntimeError):
        reactor.callLater(1, lambda: None)
    assert reactor.getDelayedCalls() == []


def test_loop_closed_under_the_reactor(pair):
    loop = Gbridge.IOLoop.new()
    reactor = GbridgeReactor(loop)
    a, b = pair
    sel = Selectable(a)
    reactor.addReader(sel)
    reactor.callLater(10, lambda: None)
    loop.close(False)
    # Forgetting them afterwards is harmless.
    reactor.removeReader(sel)
    for call in reactor.getDelayedCalls():
        call.cancel()
    del reactor
    gc.collect()


# The log context around doRead()/doWrite(): Twisted's log.callWithLogger(),
# which the C core runs itself (without Python frames) where the installed
# Twisted's functions are the ones it mirrors.  Each test runs on
# epollreactor too: what it asserts is what Twisted's own reactor does.


@pytest.fixture(params=["gbridge", "gbridge-twisted-call-with-logger", "epoll"])
def any_reactor(request, loop, monkeypatch):
    if request.param == "gbridge":
        r = GbridgeReactor(loop)
    elif request.param == "gbridge-twisted-call-with-logger":
        # The core without its own callWithLogger(), as where the installed
        # Twisted's is not the one it mirrors: Twisted's runs.
        with monkeypatch.context() as m:
            m.setattr(gbridge.twisted, "_log_fast", [None])
            r = GbridgeReactor(loop)
    else:
        from twisted.internet.epollreactor import EPollReactor
        r = EPollReactor()
    yield r
    r.disconnectAll()
    for call in r.getDelayedCalls():
        call.cancel()
    if request.param == "epoll":
        r._poller.close()
        for fd in (r.waker.i, r.waker.o):
            os.close(fd)


def test_the_c_call_with_logger_in_use():
    # Debian's Twisted (22.4 to 24.x) is what the C path mirrors.
    if gbridge.twisted._Core.__name__ == "TwistedCore":
        assert gbridge.twisted._log_fast_path() is not None


def contexts():
    from twisted.python import context
    return len(context.theContextTracker.currentContext().contexts)


def messages(events, text):
    """The events whose text (its first line, a final full stop aside) is
    @text: a legacy log.msg() or log.err(why), or a new-style event that
    reached the legacy observers (Twisted 25 and later log "Unexpected
    error in main loop." through twisted.logger)."""
    def first_line(e):
        return (log.textFromEventDict(e) or "").split("\n", 1)[0].rstrip(".")
    return [e for e in events if first_line(e) == text.rstrip(".")]


def test_log_prefix_is_the_system_inside_do_read_and_do_write(any_reactor, pair, logged):
    from twisted.python import context

    reactor = any_reactor
    a, b = pair
    b.send(b"x")
    depth = []

    def read(sel):
        sel.sock.recv(10)
        depth.append(contexts())
        log.msg("in doRead")
        log.msg("in doRead, own system", system="mine")

    def write(sel):
        reactor.removeWriter(sel)
        log.msg("in doWrite", extra=context.get("caller"))
        reactor.callLater(0, lambda: (log.msg("in a delayed call"), reactor.stop()))

    sel = Selectable(a, read=read, write=write)
    reactor.addReader(sel)
    reactor.addWriter(sel)
    before = contexts()
    # An outer log context and context key: still seen inside, under the
    # selectable's system.
    log.callWithContext({"outer": "o", "system": "outer-system"},
                        lambda: context.call({"caller": 42}, run, reactor))
    assert contexts() == before
    assert depth and all(d == before + 3 for d in depth)
    inside = messages(logged, "in doRead")
    assert inside and all(e["system"] == "test-selectable" and e["outer"] == "o"
                          for e in inside)
    assert [e["system"] for e in messages(logged, "in doRead, own system")][:1] == ["mine"]
    [w] = messages(logged, "in doWrite")
    assert w["system"] == "test-selectable" and w["extra"] == 42 and w["outer"] == "o"
    # A delayed call runs under the context of whoever ran the reactor.
    [d] = messages(logged, "in a delayed call")
    assert d["system"] == "outer-system"
    reactor.removeReader(sel)


def test_log_prefix_read_per_call(any_reactor, pair, logged):
    # logPrefix() is asked on every dispatch, not cached.
    reactor = any_reactor
    a, b = pair
    prefixes = iter(["first", "second"])
    sel = Selectable(a)
    sel.logPrefix = lambda: next(prefixes)

    def read(sel):
        sel.sock.recv(10)
        log.msg("read")
        if sel.reads == 1:
            b.send(b"y")
        else:
            reactor.removeReader(sel)
            reactor.callLater(0, reactor.stop)

    sel.read = read
    b.send(b"x")
    reactor.addReader(sel)
    run(reactor)
    assert [e["system"] for e in messages(logged, "read")] == ["first", "second"]


def test_buggy_log_prefix_is_logged_and_the_read_still_runs(any_reactor, pair, logged):
    reactor = any_reactor
    a, b = pair
    b.send(b"x")

    def prefix():
        raise ValueError("no prefix")

    def read(sel):
        sel.sock.recv(10)
        log.msg("read anyway")
        reactor.removeReader(sel)
        reactor.callLater(0, reactor.stop)

    sel = Selectable(a, read=read)
    sel.logPrefix = prefix
    reactor.addReader(sel)
    before = contexts()
    run(reactor)
    assert contexts() == before
    [e] = errors(logged)
    assert e["failure"].check(ValueError) and e["system"] == "(buggy logPrefix method)"
    [m] = messages(logged, "read anyway")
    assert m["system"] == "(buggy logPrefix method)"


def test_exception_in_do_read_logged_under_the_prefix_and_lost(any_reactor, pair, logged):
    reactor = any_reactor
    a, b = pair
    b.send(b"x")

    def read(sel):
        reactor.callLater(0, reactor.stop)
        raise ZeroDivisionError("doRead failed")

    sel = Selectable(a, read=read)
    reactor.addReader(sel)
    before = contexts()
    run(reactor)
    assert contexts() == before
    [e] = errors(logged)
    assert e["failure"].check(ZeroDivisionError) and e["system"] == "test-selectable"
    assert len(sel.lost) == 1 and sel.lost[0].check(ZeroDivisionError)
    assert sel not in reactor.getReaders()   # (epollreactor's waker is one)


def test_exception_out_of_connection_lost_is_logged_by_call_with_logger(any_reactor, pair,
                                                                      logged):
    # doRead() gives a reason, connectionLost() raises: the exception leaves
    # the dispatch, and callWithLogger() logs it under the prefix.
    reactor = any_reactor
    a, b = pair
    b.send(b"x")

    def read(sel):
        reactor.callLater(0, reactor.stop)
        return error.ConnectionDone()

    def lost(reason):
        log.msg("losing")
        raise KeyError("in connectionLost")

    sel = Selectable(a, read=read)
    sel.connectionLost = lost
    reactor.addReader(sel)
    before = contexts()
    run(reactor)
    assert contexts() == before
    [m] = messages(logged, "losing")
    assert m["system"] == "test-selectable"
    [e] = errors(logged)
    assert e["failure"].check(KeyError) and e["system"] == "test-selectable"
    assert sel not in reactor.getReaders()   # (epollreactor's waker is one)


def test_a_failing_pop_of_the_log_context_keeps_no_extra_reference(any_reactor, pair,
                                                                     logged):
    # connectionLost() raises, then ContextTracker.callWithContext()'s
    # finally (contexts.pop()) raises too, from inside an except block: the
    # second exception is logged, with its own __context__; nothing keeps a
    # reference to that context afterwards beyond the exception itself.
    from twisted.python import context

    reactor = any_reactor
    a, b = pair
    b.send(b"x")
    ct = context.theContextTracker.currentContext()
    handled = []

    class FailingPop:
        def __init__(self, contexts):
            self.contexts = contexts

        def append(self, item):
            self.contexts.append(item)

        def __reversed__(self):
            return reversed(self.contexts)

        def pop(self):
            try:
                raise KeyError("handled in pop")
            except KeyError:   # (unnamed: the frame keeps no reference)
                handled.append(sys.exc_info()[1])
                raise ValueError("pop failed")

    def read(sel):
        reactor.callLater(0, reactor.stop)
        return error.ConnectionDone()

    def lost(reason):
        ct.contexts = FailingPop(ct.contexts)
        raise KeyError("in connectionLost")

    sel = Selectable(a, read=read)
    sel.connectionLost = lost
    reactor.addReader(sel)
    saved = ct.contexts
    before = contexts()
    try:
        run(reactor)
    finally:
        ct.contexts = saved
        del saved[before:]
    [e] = errors(logged)
    assert e["failure"].check(ValueError)
    assert e["failure"].value.__context__ is handled[0]
    e["failure"].value.__context__ = None
    del e, logged[:]
    gc.collect()
    # (counted outside the assert, which pytest rewrites to keep its operands)
    references = sys.getrefcount(handled[0])
    assert references == 2   # the list's and getrefcount()'s argument


def test_keyboard_interrupt_out_of_log_prefix_leaves_the_dispatch(any_reactor, pair, logged):
    # callWithLogger() lets KeyboardInterrupt through: Twisted's mainLoop()
    # logs it ("Unexpected error in main loop.") and goes on; the read is
    # not done.
    reactor = any_reactor
    a, b = pair
    b.send(b"x")
    raised = []

    def prefix():
        if not raised:
            raised.append(1)
            reactor.callLater(0.05, reactor.stop)
            raise KeyboardInterrupt
        return "test-selectable"

    def read(sel):
        sel.sock.recv(10)
        reactor.removeReader(sel)

    sel = Selectable(a, read=read)
    sel.logPrefix = prefix
    reactor.addReader(sel)
    before = contexts()
    run(reactor)
    assert contexts() == before
    assert messages(logged, "Unexpected error in main loop.")
    assert [e["failure"].type for e in errors(logged)] == [KeyboardInterrupt]
    assert sel.reads == 1   # the next round's


def test_a_patched_call_with_logger_is_used(any_reactor, pair, monkeypatch, logged):
    reactor = any_reactor
    a, b = pair
    b.send(b"x")
    seen = []
    original = log.callWithLogger

    def patched(logger, func, *args, **kw):
        seen.append(logger)
        return original(logger, func, *args, **kw)

    monkeypatch.setattr(log, "callWithLogger", patched)

    def read(sel):
        sel.sock.recv(10)
        log.msg("read")
        reactor.removeReader(sel)
        reactor.callLater(0, reactor.stop)

    sel = Selectable(a, read=read)
    reactor.addReader(sel)
    run(reactor)
    assert seen == [sel]
    [m] = messages(logged, "read")
    assert m["system"] == "test-selectable"


def test_a_reactor_made_under_a_patched_call_with_logger(loop, pair, monkeypatch, logged):
    a, b = pair
    seen = []
    original = log.callWithLogger

    def patched(logger, func, *args, **kw):
        seen.append(logger)
        return original(logger, func, *args, **kw)

    monkeypatch.setattr(log, "callWithLogger", patched)
    reactor = GbridgeReactor(loop)
    monkeypatch.setattr(log, "callWithLogger", original)

    def read(sel):
        sel.sock.recv(10)
        log.msg("read")
        if sel.reads == 1:
            monkeypatch.setattr(log, "callWithLogger", patched)
            b.send(b"y")
        else:
            reactor.removeReader(sel)
            reactor.callLater(0, reactor.stop)

    sel = Selectable(a, read=read)
    b.send(b"x")
    reactor.addReader(sel)
    run(reactor)
    # The one of each dispatch: Twisted's first, then the patched one.
    assert seen == [sel]
    assert [e["system"] for e in messages(logged, "read")] == ["test-selectable"] * 2


def test_another_context_tracker_is_used(any_reactor, pair, logged):
    from twisted.python import context

    class Tracker(context.ThreadedContextTracker):
        calls = 0

        def callWithContext(self, ctx, func, *args, **kw):
            Tracker.calls += 1
            return context.ThreadedContextTracker.callWithContext(
                self, ctx, func, *args, **kw)

    reactor = any_reactor
    a, b = pair
    b.send(b"x")

    def read(sel):
        sel.sock.recv(10)
        log.msg("read")
        reactor.removeReader(sel)
        reactor.callLater(0, reactor.stop)

    sel = Selectable(a, read=read)
    reactor.addReader(sel)
    saved = context.theContextTracker
    context.installContextTracker(Tracker())
    try:
        run(reactor)
    finally:
        context.installContextTracker(saved)
    assert Tracker.calls >= 1
    [m] = messages(logged, "read")
    assert m["system"] == "test-selectable"


def test_tcp_protocol_logs_under_its_transport_prefix(any_reactor, logged):
    from twisted.internet import protocol

    reactor = any_reactor
    seen = []

    class Echo(protocol.Protocol):
        def dataReceived(self, data):
            log.msg("server got", data=data)
            seen.append(self.transport.logPrefix())
            self.transport.write(data)

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"ping")

        def dataReceived(self, data):
            log.msg("client got", data=data)
            seen.append(self.transport.logPrefix())
            self.transport.loseConnection()
            reactor.callLater(0, reactor.stop)

    port = reactor.listenTCP(0, protocol.ServerFactory.forProtocol(Echo),
                             interface="127.0.0.1")
    reactor.connectTCP("127.0.0.1", port.getHost().port,
                       protocol.ClientFactory.forProtocol(Client))
    run(reactor)
    port.stopListening()
    [server] = messages(logged, "server got")
    [client] = messages(logged, "client got")
    assert server["data"] == b"ping" and client["data"] == b"ping"
    # tcp.Server's "Echo,0,127.0.0.1" and tcp.Client's "Client,client".
    assert [server["system"], client["system"]] == seen
    assert seen[0].startswith("Echo,") and seen[1] == "Client,client"
