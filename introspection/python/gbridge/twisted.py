# SPDX-License-Identifier: LGPL-2.1-or-later
"""Twisted on gbridge, both ways.

``install()`` makes ``twisted.internet.reactor`` a :class:`GbridgeReactor`:
a real Twisted reactor whose delayed calls, readers and writers, calls from
other threads and wake-ups all go through the C ``Gbridge.Reactor`` of a
``Gbridge.IOLoop``, so Twisted protocols run on the same ``GMainContext`` as
GTK, GIO and every other gbridge user::

    import gbridge.twisted
    gbridge.twisted.install()          # before importing twisted.internet.reactor
    from twisted.internet import reactor

The reactor can be driven by ``reactor.run()`` as usual, or by anything that
iterates the context (``GLib.MainLoop().run()``, GTK) after
``reactor.startRunning()``.

``GbridgeReactor()`` without a loop makes a reactor on a private loop (a
private ``GMainContext``), which is what Twisted's own test suite builds for
every test; a short-lived reactor is cleaned up with
``fireSystemEvent('shutdown')`` and ``disconnectAll()``.

The other way round, :class:`TwistedContextDriver` runs a ``GMainContext``
(and so every ``Gbridge.IOLoop`` and GLib source on it) inside an already
running Twisted reactor of any kind, for example ``epollreactor``.
"""

import sys

import gi

gi.require_version("Gbridge", "1")
gi.require_version("GLib", "2.0")

from gi.repository import Gbridge, GLib, GObject  # noqa: E402
from twisted.internet import base, error, main, posixbase  # noqa: E402
from twisted.internet.interfaces import IReactorFDSet  # noqa: E402
from twisted.python import failure, log  # noqa: E402
from zope.interface import implementer  # noqa: E402

__all__ = ["GbridgeReactor", "install", "TwistedContextDriver"]

_NO_FILEDESC = error.ConnectionFdescWentAway("File descriptor lost")


def _reason_for(gerror):
    """The Twisted reason for a connection-lost GError of the C reactor."""
    code = gerror.code
    if code == Gbridge.ReactorError.CONNECTION_DONE:
        return main.CONNECTION_DONE
    if code == Gbridge.ReactorError.BAD_FD:
        return _NO_FILEDESC
    return main.CONNECTION_LOST


class _Descriptor(GObject.Object, Gbridge.Descriptor):
    """A Twisted IReadDescriptor / IWriteDescriptor seen by the C reactor.

    The C reactor calls ``read``/``write`` when the file descriptor is ready
    and ``connection_lost`` when it found the descriptor gone bad or hung up;
    this does what Twisted's poll-like reactors do in ``_doReadOrWrite``.
    """

    def __init__(self, reactor, selectable):
        super().__init__()
        self._reactor = reactor
        self.selectable = selectable

    def do_get_fd(self):
        try:
            return self.selectable.fileno()
        except BaseException:
            return -1

    def _io(self, method, is_read):
        selectable = self.selectable
        try:
            why = getattr(selectable, method)()
        except BaseException:
            why = sys.exc_info()[1]
            log.err()
        if why:
            self._reactor._disconnectSelectable(selectable, why, is_read)
        return True

    def do_read(self):
        log.callWithLogger(self.selectable, self._io, "doRead", True)
        return True

    def do_write(self):
        log.callWithLogger(self.selectable, self._io, "doWrite", False)
        return True

    def do_connection_lost(self, reason):
        selectable = self.selectable
        is_read = selectable in self._reactor._reads
        why = _reason_for(reason)
        log.callWithLogger(selectable, self._reactor._disconnectSelectable,
                           selectable, why, is_read)


def _noop():
    pass


@implementer(IReactorFDSet)
class GbridgeReactor(posixbase.PosixReactorBase):
    """A Twisted reactor on a ``Gbridge.Reactor``.

    :param loop: the ``Gbridge.IOLoop`` to run on; a new private loop if
        ``None``. ``install()`` uses the loop of GLib's default context.
    """

    def __init__(self, loop=None):
        if loop is None:
            loop = Gbridge.IOLoop.new()
        self._loop = loop
        self._context = loop.get_context()
        self._greactor = Gbridge.Reactor.get_for_loop(loop)
        self._reads = set()
        self._writes = set()
        self._descriptors = {}
        self._calls = {}
        posixbase.PosixReactorBase.__init__(self)

    @property
    def gbridge_reactor(self):
        """The C ``Gbridge.Reactor`` this reactor runs on."""
        return self._greactor

    @property
    def gbridge_loop(self):
        """The ``Gbridge.IOLoop`` this reactor runs on."""
        return self._loop

    # IReactorTime: delayed calls live in the C reactor's timer heap.

    def seconds(self):
        return self._greactor.seconds()

    def callLater(self, delay, callable, *args, **kw):
        assert builtins_callable(callable), f"{callable} is not callable"
        assert delay >= 0, f"{delay} is not greater than or equal to 0 seconds"
        call = base.DelayedCall(self.seconds() + delay, callable, args, kw,
                                self._cancelCall, self._moveCall,
                                seconds=self.seconds)
        self._calls[call] = self._greactor.call_later(delay, self._runCall, call)
        return call

    def _runCall(self, call):
        if call.delayed_time > 0:
            # Moved later by delay() or reset(), which DelayedCall does lazily.
            call.activate_delay()
            self._calls[call] = self._greactor.call_later(
                max(0.0, call.time - self.seconds()), self._runCall, call)
            return
        self._calls.pop(call, None)
        try:
            call.called = 1
            call.func(*call.args, **call.kw)
        except BaseException:
            log.deferr()
            if hasattr(call, "creator"):
                e = "\n C: previous exception occurred in a DelayedCall created here:\n C:"
                e += "".join(call.creator).rstrip().replace("\n", "\n C:")
                log.msg(e + "\n")

    def _cancelCall(self, call):
        gcall = self._calls.pop(call, None)
        if gcall is not None:
            gcall.cancel()

    def _moveCall(self, call):
        # DelayedCall keeps a delay in delayed_time; fold it into the time
        # now, since the C heap orders by the final time.
        call.activate_delay()
        gcall = self._calls.get(call)
        if gcall is not None:
            gcall.delay(call.time - gcall.get_time())

    def _cancelCallLater(self, call):
        self._cancelCall(call)

    def _moveCallLaterSooner(self, call):
        self._moveCall(call)

    def getDelayedCalls(self):
        return [c for c in self._calls if not c.cancelled and not c.called]

    def timeout(self):
        # The C reactor wakes the context for its own timers.
        return None

    # Threads and wake-ups go through the C reactor's callback queue.

    def wakeUp(self):
        self._greactor.call_from_thread(self._runThreadCalls)

    def _runThreadCalls(self):
        self.runUntilCurrent()

    def runUntilCurrent(self):
        if self.threadCallQueue:
            count = 0
            total = len(self.threadCallQueue)
            for (f, a, kw) in self.threadCallQueue:
                try:
                    f(*a, **kw)
                except BaseException:
                    log.err()
                count += 1
                if count == total:
                    break
            del self.threadCallQueue[:count]
            if self.threadCallQueue:
                self.wakeUp()

        if self._justStopped:
            self._justStopped = False
            self.fireSystemEvent("shutdown")

    # IReactorCore

    def doIteration(self, delay):
        if delay is None:
            self._context.iteration(True)
        else:
            self._greactor.iterate(delay)

    def stop(self):
        posixbase.PosixReactorBase.stop(self)
        self.wakeUp()

    def crash(self):
        posixbase.PosixReactorBase.crash(self)
        self._context.wakeup()

    # IReactorFDSet: readers and writers live in the C reactor's epoll set.

    def _descriptor(self, selectable):
        d = self._descriptors.get(selectable)
        if d is None:
            d = self._descriptors[selectable] = _Descriptor(self, selectable)
        return d

    def _forget(self, selectable):
        if selectable not in self._reads and selectable not in self._writes:
            self._descriptors.pop(selectable, None)

    def _add(self, selectable, primary, add):
        if selectable in primary:
            return
        try:
            add(self._descriptor(selectable))
        except GLib.Error:
            self._forget(selectable)
            raise OSError("bad file descriptor") from None
        primary.add(selectable)

    def addReader(self, reader):
        self._add(reader, self._reads, self._greactor.add_reader)

    def addWriter(self, writer):
        self._add(writer, self._writes, self._greactor.add_writer)

    def removeReader(self, reader):
        if reader in self._reads:
            self._reads.discard(reader)
            self._greactor.remove_reader(self._descriptors[reader])
            self._forget(reader)

    def removeWriter(self, writer):
        if writer in self._writes:
            self._writes.discard(writer)
            self._greactor.remove_writer(self._descriptors[writer])
            self._forget(writer)

    def removeAll(self):
        return self._removeAll(self._reads, self._writes)

    def getReaders(self):
        return list(self._reads)

    def getWriters(self):
        return list(self._writes)


def builtins_callable(obj):
    return callable(obj)


def install(loop=None):
    """Install a :class:`GbridgeReactor` as ``twisted.internet.reactor``.

    :param loop: the ``Gbridge.IOLoop`` to run on; by default the loop of
        GLib's default context, shared with GTK.
    :returns: the reactor
    """
    from twisted.internet.main import installReactor

    if loop is None:
        loop = Gbridge.IOLoop.get_default()
    reactor = GbridgeReactor(loop)
    installReactor(reactor)
    return reactor


class TwistedContextDriver:
    """Runs a ``GMainContext`` inside a running Twisted reactor.

    GLib sources, ``Gbridge.IOLoop`` callbacks, timers and handlers on the
    context run as Twisted events: the context's poll fds are added to the
    reactor as readers and writers, and its next timeout as a delayed call,
    following GLib's prepare / query / check / dispatch cycle. Any Twisted
    reactor works (epoll, poll, select, asyncio).

    :param reactor: the Twisted reactor; ``twisted.internet.reactor`` if None
    :param context: the ``GLib.MainContext``; the default one if None
    """

    def __init__(self, reactor=None, context=None):
        if reactor is None:
            from twisted.internet import reactor
        if context is None:
            context = GLib.MainContext.default()
        self._reactor = reactor
        self._context = context
        self._fds = {}
        self._timer = None
        self._scheduled = None
        self._running = False

    def start(self):
        """Starts driving the context; it must not be iterated elsewhere."""
        if self._running:
            return
        if not self._context.acquire():
            raise RuntimeError("the context is owned by another thread")
        self._running = True
        self._schedule(0)

    def stop(self):
        """Stops driving the context and releases it."""
        if not self._running:
            return
        self._running = False
        for watcher in list(self._fds.values()):
            watcher.remove()
        self._fds.clear()
        for call in (self._timer, self._scheduled):
            if call is not None and call.active():
                call.cancel()
        self._timer = self._scheduled = None
        self._context.release()

    def _schedule(self, delay):
        if self._scheduled is None or not self._scheduled.active():
            self._scheduled = self._reactor.callLater(delay, self._iterate)

    def _iterate(self):
        self._scheduled = None
        if not self._running:
            return
        ctx = self._context
        ready, priority = ctx.prepare()
        timeout, fds = ctx.query(priority)
        # Poll without blocking, then let GLib decide what to dispatch.
        fds = _poll_now(fds)
        if ctx.check(priority, fds):
            ctx.dispatch()
        if not self._running:
            return
        # Watch what the context will wait for next.
        ready, priority = ctx.prepare()
        timeout, fds = ctx.query(priority)
        if ready:
            self._schedule(0)
            return
        self._watch(fds)
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if timeout >= 0:
            self._timer = self._reactor.callLater(timeout / 1000.0, self._schedule, 0)

    def _watch(self, fds):
        wanted = {}
        for pfd in fds:
            wanted[pfd.fd] = wanted.get(pfd.fd, 0) | pfd.events
        for fd in list(self._fds):
            if fd not in wanted:
                self._fds.pop(fd).remove()
        for fd, events in wanted.items():
            watcher = self._fds.get(fd)
            if watcher is None:
                watcher = self._fds[fd] = _FdWatcher(self, fd)
            watcher.update(events)


def _poll_now(fds):
    import select

    poller = select.poll()
    for pfd in fds:
        poller.register(pfd.fd, pfd.events)
    revents = dict(poller.poll(0))
    for pfd in fds:
        pfd.revents = revents.get(pfd.fd, 0) & (pfd.events | GLib.IOCondition.ERR
                                                 | GLib.IOCondition.HUP
                                                 | GLib.IOCondition.NVAL)
    return fds


@implementer(IReactorFDSet)
class _FdWatcher:
    """One of the context's poll fds, as a Twisted reader and writer."""

    def __init__(self, driver, fd):
        self._driver = driver
        self._fd = fd
        self._events = 0

    def fileno(self):
        return self._fd

    def logPrefix(self):
        return "gbridge-context"

    def update(self, events):
        reactor = self._driver._reactor
        if events & GLib.IOCondition.IN:
            reactor.addReader(self)
        else:
            reactor.removeReader(self)
        if events & GLib.IOCondition.OUT:
            reactor.addWriter(self)
        else:
            reactor.removeWriter(self)
        self._events = events

    def remove(self):
        self._driver._reactor.removeReader(self)
        self._driver._reactor.removeWriter(self)

    def doRead(self):
        self._driver._schedule(0)

    def doWrite(self):
        self._driver._schedule(0)

    def connectionLost(self, reason):
        self._driver._fds.pop(self._fd, None)
