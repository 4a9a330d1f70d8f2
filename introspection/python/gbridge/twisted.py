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

Who owns what (one implementation of each, never both):

- C ``Gbridge.Reactor``: delayed calls (its timer heap), readers and
  writers (its epoll set), waiting (``iterate()``) and wake-ups (the loop's
  thread-safe callback queue; no self-pipe waker).  This module keeps only
  the index from Twisted's objects to the C handles, which
  ``getDelayedCalls()``, ``getReaders()`` and ``getWriters()`` return.
- Twisted's ``ReactorBase`` in Python: system event triggers (a ``before``
  trigger returning a Deferred, ``callWhenRunning``, the life cycle of
  ``run``/``stop``/``crash``), the ``callFromThread`` queue, the thread pool
  (``twisted.python.threadpool.ThreadPool``, so ``deferToThread`` and
  ``blockingCallFromThread`` work) and signal handling (SIGINT, SIGTERM,
  SIGCHLD).  The C reactor's versions of these (``gbridge_reactor_run()``,
  ``_add_system_event_trigger()``, ``_call_in_thread()``) serve C, GJS and
  Vala; this reactor never calls them, so C triggers added to the C reactor
  under it do not fire with Twisted's events.

:func:`to_deferred` turns a ``Gbridge.Future`` into a Deferred, and
:func:`wait_signal` gives the next emission of a GObject signal as one.

The other way round, :class:`TwistedContextDriver` runs a ``GMainContext``
(and so every ``Gbridge.IOLoop`` and GLib source on it) inside an already
running Twisted reactor of any kind, for example ``epollreactor``.
"""

import builtins
import sys
from time import time as _wall_time

import gi

gi.require_version("Gbridge", "1")
gi.require_version("GLib", "2.0")

from gi.repository import Gbridge, Gio, GLib, GObject  # noqa: E402
from twisted.internet import base, error, main, posixbase  # noqa: E402
from twisted.internet._resolver import HostResolution  # noqa: E402
from twisted.internet.address import IPv4Address, IPv6Address  # noqa: E402
from twisted.internet.interfaces import (  # noqa: E402
    IHostnameResolver, IReactorFDSet)
from twisted.python import log  # noqa: E402
from zope.interface import implementer  # noqa: E402

__all__ = ["GbridgeReactor", "GbridgeNameResolver", "install",
           "TwistedContextDriver", "to_deferred", "wait_signal"]

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
            why = method()
        except BaseException:
            why = sys.exc_info()[1]
            log.err()
        if why:
            self._reactor._disconnectSelectable(selectable, why, is_read)
        return True

    def do_read(self):
        log.callWithLogger(self.selectable, self._io, self.selectable.doRead, True)
        return True

    def do_write(self):
        log.callWithLogger(self.selectable, self._io, self.selectable.doWrite, False)
        return True

    def do_connection_lost(self, reason):
        selectable = self.selectable
        is_read = selectable in self._reactor._reads
        why = _reason_for(reason)
        log.callWithLogger(selectable, self._reactor._disconnectSelectable,
                           selectable, why, is_read)


class _DelayedCall(base.DelayedCall):
    """Twisted's DelayedCall, run by the C reactor's timer when called."""

    def __init__(self, reactor, time, func, args, kw):
        base.DelayedCall.__init__(self, time, func, args, kw,
                                  reactor._cancelCallLater,
                                  reactor._moveCallLaterSooner,
                                  seconds=reactor.seconds)
        self._reactor = reactor

    def __call__(self):
        self._reactor._runCall(self)


@implementer(IHostnameResolver)
class GbridgeNameResolver:
    """Twisted's ``IHostnameResolver`` on a ``Gbridge.Resolver``.

    Unlike Twisted's threaded resolver and Tornado's ``TwistedResolver``, the
    lookup runs on the loop (a c-ares resolver needs no thread at all),
    returns every address in the system's preference order, and honours the
    address types asked for. ``GbridgeReactor`` installs one on the C
    reactor's resolver (``Gbridge.Reactor.get_resolver()``, which
    ``set_resolver()`` changes), so ``reactor.resolve()``, ``connectTCP``
    with a name and ``HostnameEndpoint`` all go through it.

    :param reactor: the ``GbridgeReactor`` whose loop delivers the results
    :param resolver: a ``Gbridge.Resolver``; ``None`` for the C reactor's
    """

    _FAMILIES = {
        frozenset([IPv4Address, IPv6Address]): Gio.SocketFamily.INVALID,
        frozenset([IPv4Address]): Gio.SocketFamily.IPV4,
        frozenset([IPv6Address]): Gio.SocketFamily.IPV6,
    }

    def __init__(self, reactor, resolver=None):
        self._reactor = reactor
        self._resolver = resolver

    def resolveHostName(self, resolutionReceiver, hostName, portNumber=0,
                        addressTypes=None, transportSemantics='TCP'):
        resolution = HostResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        types = frozenset(addressTypes if addressTypes is not None
                          else (IPv4Address, IPv6Address))
        family = self._FAMILIES.get(types)
        if family is None:  # no type gbridge knows: nothing to find
            resolutionReceiver.resolutionComplete()
            return resolution
        if isinstance(hostName, bytes):
            hostName = hostName.decode('ascii')
        resolver = self._resolver or self._reactor.gbridge_reactor.get_resolver()
        future = resolver.resolve(hostName, portNumber, family, 0)

        def deliver(future):
            try:
                addresses = future.get_value()
            except GLib.Error:
                addresses = []  # as Twisted's resolver does on gaierror
            for address in addresses:
                ip = address.get_address()
                if ip.get_family() == Gio.SocketFamily.IPV6:
                    resolved = IPv6Address(
                        transportSemantics, ip.to_string(), address.get_port(),
                        address.get_flowinfo(), address.get_scope_id())
                else:
                    resolved = IPv4Address(transportSemantics, ip.to_string(),
                                           address.get_port())
                resolutionReceiver.addressResolved(resolved)
            resolutionReceiver.resolutionComplete()

        # On the reactor's loop, whichever loop the resolver's future has.
        self._reactor.gbridge_loop.add_future(future, deliver)
        return resolution


@implementer(IReactorFDSet)
class GbridgeReactor(posixbase.PosixReactorBase):
    """A Twisted reactor on a ``Gbridge.Reactor``.

    :param loop: the ``Gbridge.IOLoop`` to run on; a new private loop if
        ``None``. ``install()`` uses the loop of GLib's default context.

    ``seconds()`` is ``time.time()``, as on Twisted's other reactors, and so
    is ``DelayedCall.getTime()``; the C reactor schedules by the delay on
    the loop's monotonic clock, so a wall-clock step does not move delayed
    calls.
    """

    def __init__(self, loop=None):
        if loop is None:
            loop = Gbridge.IOLoop.new()
        self._loop = loop
        self._context = loop.get_context()
        self._greactor = Gbridge.Reactor.ref_for_loop(loop)
        self._reads = set()
        self._writes = set()
        self._descriptors = {}
        self._calls = {}
        posixbase.PosixReactorBase.__init__(self)

    def _initThreads(self):
        posixbase.PosixReactorBase._initThreads(self)
        self.installNameResolver(GbridgeNameResolver(self))

    @property
    def gbridge_reactor(self):
        """The C ``Gbridge.Reactor`` this reactor runs on."""
        return self._greactor

    @property
    def gbridge_loop(self):
        """The ``Gbridge.IOLoop`` this reactor runs on."""
        return self._loop

    # IReactorTime: delayed calls live in the C reactor's timer heap, on the
    # loop's monotonic clock; what Twisted code sees is on the time.time()
    # scale, as on every Twisted reactor (runtimeSeconds): seconds(),
    # DelayedCall.getTime(), and so the difference of the two.  Only delays
    # (relative times) cross to the C reactor.

    def seconds(self):
        return _wall_time()

    def callLater(self, delay, callable, *args, **kw):
        assert builtins.callable(callable), f"{callable} is not callable"
        assert delay >= 0, f"{delay} is not greater than or equal to 0 seconds"
        call = _DelayedCall(self, self.seconds() + delay, callable, args, kw)
        # The call itself is the C callback: no closure data to marshal.
        self._calls[call] = self._greactor.call_later(delay, call)
        return call

    def _runCall(self, call):
        if call.delayed_time > 0:
            # Moved later by delay() or reset(), which DelayedCall does lazily.
            call.activate_delay()
            self._calls[call] = self._greactor.call_later(
                max(0.0, call.time - self.seconds()), call)
            return
        self._calls.pop(call, None)
        try:
            call.called = 1
            call.func(*call.args, **call.kw)
        except BaseException:
            log.deferr()
            # Twisted 22.4 sets creator only in debug mode, later ones to None.
            if getattr(call, "creator", None):
                e = "\n C: previous exception occurred in a DelayedCall created here:\n C:"
                e += "".join(call.creator).rstrip().replace("\n", "\n C:")
                log.msg(e + "\n")

    def _cancelCallLater(self, call):
        gcall = self._calls.pop(call, None)
        if gcall is not None:
            gcall.cancel()

    def _moveCallLaterSooner(self, call):
        # DelayedCall keeps a delay in delayed_time; fold it into the time
        # now, since the C heap orders by the final time.  call.time is on
        # the wall clock and the C call's on the monotonic one: move it by
        # what is left from now.
        call.activate_delay()
        gcall = self._calls.get(call)
        if gcall is not None:
            gcall.reset(max(0.0, call.time - self.seconds()))

    def getDelayedCalls(self):
        return [c for c in self._calls if not c.cancelled and not c.called]

    def timeout(self):
        # The C reactor wakes the context for its own timers.
        return None

    # Wake-ups go through the loop's thread-safe callback queue, which wakes
    # the context; Twisted's runUntilCurrent() then runs callFromThread's
    # queue and a pending shutdown (its timed-call part finds nothing: the
    # delayed calls are the C reactor's).

    def installWaker(self):
        # No self-pipe: wakeUp() needs none.  Signals still wake the context
        # through Twisted's SIGCHLD waker, Python's wakeup fd.
        pass

    def wakeUp(self):
        self._loop.add_callback(self.runUntilCurrent)

    # IReactorCore

    def doIteration(self, delay):
        # Through the C reactor rather than GLib.MainContext.iteration(),
        # whose PyGObject override costs microseconds per call.
        self._greactor.iterate(-1.0 if delay is None else max(0.0, delay))

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


def install(loop=None):
    """Install a :class:`GbridgeReactor` as ``twisted.internet.reactor``.

    :param loop: the ``Gbridge.IOLoop`` to run on; by default the loop of
        GLib's default context, shared with GTK. Its C ``Gbridge.Reactor``
        becomes the process default (``Gbridge.Reactor.get_default()``).
    :returns: the reactor
    """
    from twisted.internet.main import installReactor

    if loop is None:
        loop = Gbridge.IOLoop.get_default()
    if "twisted.internet.reactor" in sys.modules:
        raise error.ReactorAlreadyInstalledError("reactor already installed")
    reactor = GbridgeReactor(loop)
    # The C reactor under it becomes the process default too, unless C code
    # installed that same one already.
    try:
        reactor.gbridge_reactor.install()
    except GLib.Error as e:
        if not (e.matches(Gbridge.reactor_error_quark(),
                          Gbridge.ReactorError.ALREADY_INSTALLED)
                and Gbridge.Reactor.get_default() == reactor.gbridge_reactor):
            raise error.ReactorAlreadyInstalledError(e.message) from None
    installReactor(reactor)
    return reactor


class TwistedContextDriver:
    """Runs a ``Gbridge.IOLoop`` (its ``GMainContext``) on a running Twisted
    reactor of any kind, for example ``epollreactor``.

    Every source of the context (gbridge callbacks, timers and handlers, GLib
    timeouts, idles and watches, GIO) runs as a Twisted event, through the
    same ``Gbridge.ContextDriver`` that ``gbridge.asyncio.run_context_on()``
    uses: the driver's fds become readers and writers of the reactor and its
    timeout a delayed call, and GLib dispatches when they are due.

    :param loop: the ``Gbridge.IOLoop``; the default one (on GLib's default
        context) if None
    :param reactor: the Twisted reactor; ``twisted.internet.reactor`` if None
    """

    def __init__(self, loop=None, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        if loop is None:
            loop = Gbridge.IOLoop.get_default()
        self._loop = loop
        self._reactor = reactor
        self._driver = Gbridge.ContextDriver.new(loop.get_context())
        self._watchers = {}
        self._timer = None
        self._wake = None
        self._running = False

    def start(self):
        """Starts driving the context. It must not be iterated elsewhere
        meanwhile: the driver acquires it."""
        if self._running:
            return
        try:
            self._driver.start()
        except GLib.Error as e:
            raise RuntimeError(e.message) from None
        self._running = True
        self._prepare()

    def stop(self):
        """Stops driving the context and releases it."""
        if not self._running:
            return
        self._running = False
        for watcher in list(self._watchers.values()):
            watcher.remove()
        self._watchers.clear()
        for call in (self._timer, self._wake):
            if call is not None and call.active():
                call.cancel()
        self._timer = self._wake = None
        self._driver.stop()

    def wakeup(self):
        """Takes sources attached outside a GLib dispatch into account now."""
        self._schedule()

    def _prepare(self):
        """Before the reactor waits: what to wait for, and how long."""
        driver = self._driver
        timeout = driver.prepare()
        wanted = {}
        for i in range(driver.get_n_fds()):
            fd, events = driver.get_fd(i)
            wanted[fd] = wanted.get(fd, 0) | int(events)
        for fd in list(self._watchers):
            if fd not in wanted:
                self._watchers.pop(fd).remove()
        for fd, events in wanted.items():
            watcher = self._watchers.get(fd)
            if watcher is None:
                watcher = self._watchers[fd] = _FdWatcher(self, fd)
            watcher.update(events)
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if timeout == 0:
            self._schedule()
        elif timeout > 0:
            self._timer = self._reactor.callLater(timeout / 1000.0, self._schedule)

    def _on_ready(self, fd, events):
        self._driver.set_ready(fd, Gbridge.IOEvents(events))
        self._schedule()

    def _schedule(self):
        # Once per reactor iteration, after every ready fd was told.
        if self._running and (self._wake is None or not self._wake.active()):
            self._wake = self._reactor.callLater(0, self._dispatch)

    def _dispatch(self):
        self._wake = None
        if not self._running:
            return
        self._driver.dispatch()
        if self._running:
            self._prepare()


class _FdWatcher:
    """One fd of a driven context, as a Twisted reader and writer."""

    def __init__(self, driver, fd):
        self._driver = driver
        self._fd = fd
        self._reading = self._writing = False

    def fileno(self):
        return self._fd

    def logPrefix(self):
        return "gbridge"

    def update(self, events):
        reactor = self._driver._reactor
        reading = bool(events & int(Gbridge.IOEvents.READ))
        writing = bool(events & int(Gbridge.IOEvents.WRITE))
        if reading != self._reading:
            (reactor.addReader if reading else reactor.removeReader)(self)
        if writing != self._writing:
            (reactor.addWriter if writing else reactor.removeWriter)(self)
        self._reading, self._writing = reading, writing

    def remove(self):
        self.update(0)

    def doRead(self):
        self._driver._on_ready(self._fd, int(Gbridge.IOEvents.READ))

    def doWrite(self):
        self._driver._on_ready(self._fd, int(Gbridge.IOEvents.WRITE))

    def connectionLost(self, reason):
        self._reading = self._writing = False
        self._driver._watchers.pop(self._fd, None)
        # A hang-up or error: GLib's check sees it as such.
        self._driver._on_ready(self._fd, int(Gbridge.IOEvents.ERROR))


def to_deferred(future, reactor=None):
    """Returns a Deferred that fires with the outcome of a ``Gbridge.Future``.

    It fires with the future's value, or fails with its ``GLib.Error``
    (``CancelledError`` when the future is cancelled), in the reactor's
    thread, whatever thread completes the future (through
    ``callFromThread``). Cancelling the Deferred cancels the future.
    ``reactor`` defaults to the installed one.
    """
    from twisted.internet import defer

    if reactor is None:
        from twisted.internet import reactor
    if not isinstance(future, Gbridge.Future):
        raise TypeError("expected a Gbridge.Future, got %r" % (future,))

    def cancel(_deferred):
        future.cancel()

    deferred = defer.Deferred(cancel)

    def settle():
        if deferred.called:
            return    # cancelled: Deferred.cancel() already failed it
        state = future.get_state()
        if state == Gbridge.FutureState.RESOLVED:
            deferred.callback(future.get_value())
        elif state == Gbridge.FutureState.FAILED:
            from gbridge import _future_exception
            deferred.errback(_future_exception(future))
        else:
            deferred.errback(defer.CancelledError())

    future.add_completion_notify(lambda _future: reactor.callFromThread(settle))
    return deferred


def wait_signal(obj, detailed_signal, reactor=None):
    """Returns a Deferred of the next emission of a GObject signal.

    Twisted's twin of ``gbridge.asyncio.wait_signal()``: it fires with the
    tuple of the signal's arguments after ``obj`` (``()`` for ``clicked``),
    fails with ``GLib.Error`` ``Gbridge.FutureError.DISPOSED`` if ``obj`` is
    disposed first, and cancelling it disconnects the handler.
    """
    from gbridge._signals import _check_signal

    _check_signal(obj, detailed_signal)
    if reactor is None:
        from twisted.internet import reactor
    loop = getattr(reactor, "gbridge_loop", None)
    if not isinstance(loop, Gbridge.IOLoop):
        loop = Gbridge.IOLoop.get_current() or Gbridge.IOLoop.get_default()
    future = Gbridge.Future.new_for_signal(loop, obj, detailed_signal)
    return to_deferred(future, reactor).addCallback(tuple)
