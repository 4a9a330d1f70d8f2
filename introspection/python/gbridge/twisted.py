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

System events, ``callInThread`` (Twisted's ``ThreadPool``, which
``getThreadPool()`` and the name resolver share) and signal handling stay
Twisted's own, in Python, so that Deferreds returned by triggers and the
thread pool's life cycle behave exactly as on Twisted's other reactors.

The other way round, :class:`TwistedContextDriver` runs a ``GMainContext``
(and so every ``Gbridge.IOLoop`` and GLib source on it) inside an already
running Twisted reactor of any kind, for example ``epollreactor``.
"""

import builtins
import ctypes
import select
import sys

import gi

gi.require_version("Gbridge", "1")
gi.require_version("GLib", "2.0")

from gi.repository import Gbridge, GLib, GObject  # noqa: E402
from twisted.internet import base, error, main, posixbase  # noqa: E402
from twisted.internet.interfaces import IReactorFDSet  # noqa: E402
from twisted.python import log  # noqa: E402
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
        base.DelayedCall.__init__(self, time, func, args, kw, reactor._cancelCall,
                                  reactor._moveCall, seconds=reactor.seconds)
        self._reactor = reactor

    def __call__(self):
        self._reactor._runCall(self)


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


class _GPollFD(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_ushort),
                ("revents", ctypes.c_ushort)]


def _glib():
    """GLib's main-context functions through ctypes: PyGObject cannot pass
    the GPollFD array of g_main_context_query() and _check()."""
    lib = ctypes.CDLL("libglib-2.0.so.0")
    vp, i, pi, pfd = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int), \
        ctypes.POINTER(_GPollFD)
    for name, restype, argtypes in (
            ("g_main_context_acquire", i, [vp]),
            ("g_main_context_release", None, [vp]),
            ("g_main_context_prepare", i, [vp, pi]),
            ("g_main_context_query", i, [vp, i, pi, pfd, i]),
            ("g_main_context_check", i, [vp, i, pfd, i]),
            ("g_main_context_dispatch", None, [vp]),
            ("g_main_context_ref", vp, [vp]),
            ("g_main_context_unref", None, [vp])):
        f = getattr(lib, name)
        f.restype, f.argtypes = restype, argtypes
    return lib


def _context_pointer(loop):
    """The GMainContext * of a Gbridge.IOLoop."""
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    lib = ctypes.CDLL("libgbridge-1.so.0")
    lib.gbridge_io_loop_get_context.restype = ctypes.c_void_p
    lib.gbridge_io_loop_get_context.argtypes = [ctypes.c_void_p]
    return lib.gbridge_io_loop_get_context(get_pointer(loop.__gpointer__, None))


class TwistedContextDriver:
    """Runs a ``Gbridge.IOLoop`` (its ``GMainContext``) on a running Twisted
    reactor of any kind, for example ``epollreactor``.

    Every source of the context (gbridge callbacks, timers and handlers, GLib
    timeouts, idles and watches, GIO) runs as a Twisted event: the driver
    follows GLib's own iteration, ``g_main_context_prepare()`` and
    ``_query()`` before waiting, ``_check()`` and ``_dispatch()`` after,
    with the wait done by Twisted: the context's poll fds become readers and
    writers of the reactor and its timeout a delayed call.

    :param loop: the ``Gbridge.IOLoop``; the default one (on GLib's default
        context) if None
    :param reactor: the Twisted reactor; ``twisted.internet.reactor`` if None
    """

    def __init__(self, loop=None, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        if loop is None:
            loop = Gbridge.IOLoop.get_default()
        self._glib = _glib()
        self._loop = loop
        self._reactor = reactor
        self._ctx = self._glib.g_main_context_ref(_context_pointer(loop))
        self._fds = (_GPollFD * 16)()
        self._n_fds = 0
        self._priority = ctypes.c_int(0)
        self._watchers = {}
        self._timer = None
        self._wake = None
        self._running = False

    def start(self):
        """Starts driving the context. It must not be iterated elsewhere
        meanwhile: the driver acquires it."""
        if self._running:
            return
        if not self._glib.g_main_context_acquire(self._ctx):
            raise RuntimeError("the loop's context is owned by another thread")
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
        self._glib.g_main_context_release(self._ctx)

    def __del__(self):
        ctx, self._ctx = getattr(self, "_ctx", None), None
        if ctx:
            self._glib.g_main_context_unref(ctx)

    def _prepare(self):
        """The first half of an iteration: find what to wait for."""
        glib = self._glib
        ready = glib.g_main_context_prepare(self._ctx, ctypes.byref(self._priority))
        timeout = ctypes.c_int(-1)
        while True:
            n = glib.g_main_context_query(self._ctx, self._priority.value,
                                          ctypes.byref(timeout), self._fds, len(self._fds))
            if n <= len(self._fds):
                break
            self._fds = (_GPollFD * (2 * n))()
        self._n_fds = n
        self._watch()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if ready or timeout.value == 0:
            self._schedule()
        elif timeout.value > 0:
            self._timer = self._reactor.callLater(timeout.value / 1000.0, self._schedule)

    def _schedule(self):
        if self._running and (self._wake is None or not self._wake.active()):
            self._wake = self._reactor.callLater(0, self._finish)

    def _finish(self):
        """The second half: poll without waiting, check and dispatch."""
        self._wake = None
        if not self._running:
            return
        fds = self._fds
        n = self._n_fds
        if n:
            poller = select.poll()
            for k in range(n):
                poller.register(fds[k].fd, fds[k].events)
            revents = {}
            for fd, ev in poller.poll(0):
                revents[fd] = revents.get(fd, 0) | ev
            for k in range(n):
                fds[k].revents = revents.get(fds[k].fd, 0) & (fds[k].events | select.POLLERR
                                                             | select.POLLHUP | select.POLLNVAL)
        if self._glib.g_main_context_check(self._ctx, self._priority.value, fds, n):
            self._glib.g_main_context_dispatch(self._ctx)
        if self._running:
            self._prepare()

    def _watch(self):
        wanted = {}
        for k in range(self._n_fds):
            pfd = self._fds[k]
            wanted[pfd.fd] = wanted.get(pfd.fd, 0) | pfd.events
        for fd in list(self._watchers):
            if fd not in wanted:
                self._watchers.pop(fd).remove()
        for fd, events in wanted.items():
            watcher = self._watchers.get(fd)
            if watcher is None:
                watcher = self._watchers[fd] = _FdWatcher(self, fd)
            watcher.update(events)


class _FdWatcher:
    """One poll fd of a driven context, as a Twisted reader and writer."""

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
        reading = bool(events & (select.POLLIN | select.POLLPRI))
        writing = bool(events & select.POLLOUT)
        if reading != self._reading:
            (reactor.addReader if reading else reactor.removeReader)(self)
        if writing != self._writing:
            (reactor.addWriter if writing else reactor.removeWriter)(self)
        self._reading, self._writing = reading, writing

    def remove(self):
        self.update(0)

    def doRead(self):
        self._driver._schedule()

    def doWrite(self):
        self._driver._schedule()

    def connectionLost(self, reason):
        self._reading = self._writing = False
        self._driver._watchers.pop(self._fd, None)
