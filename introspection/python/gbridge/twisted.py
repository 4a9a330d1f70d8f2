# SPDX-License-Identifier: LGPL-2.1-or-later
"""Twisted on gbridge, both ways.

``install()`` makes ``twisted.internet.reactor`` a :class:`GbridgeReactor`:
a real Twisted reactor whose delayed calls, readers and writers, calls from
other threads and wake-ups all go through a ``Gbridge.IOLoop``, so Twisted
protocols run on the same ``GMainContext`` as GTK, GIO and every other
gbridge user::

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

- The reactor's core (``gbridge._native.TwistedCore``, in C; where the
  extension module was not built, or with ``GBRIDGE_PYTHON_NATIVE=0``,
  ``_IntrospectionCore``, the same through PyGObject): delayed calls (one
  timeout of the ``Gbridge.IOLoop`` per pending ``DelayedCall``, which is
  Twisted's own class), readers and writers (one handler of the loop per
  fd, dispatched as Twisted's posixbase does, inside Twisted's log context:
  ``log.callWithLogger()``, which the C core does itself on Twisted's
  context stack where it knows the installed Twisted's), waiting
  (iterations of the context) and wake-ups (the loop's thread-safe
  callback queue; no self-pipe waker).  ``getDelayedCalls()``,
  ``getReaders()`` and ``getWriters()`` come from its index.
- Twisted's ``ReactorBase`` in Python: system event triggers (a ``before``
  trigger returning a Deferred, ``callWhenRunning``, the life cycle of
  ``run``/``stop``/``crash``), the ``callFromThread`` queue, the thread pool
  (``twisted.python.threadpool.ThreadPool``, so ``deferToThread`` and
  ``blockingCallFromThread`` work) and signal handling (SIGINT, SIGTERM,
  SIGCHLD).
- The C ``Gbridge.Reactor`` of the loop (``gbridge_reactor``) gives the
  reactor its resolver and is what ``install()`` makes C code's default
  reactor; its delayed calls, descriptors and system events serve C, GJS
  and Vala, and this reactor uses none of them: C code sees Twisted's
  delayed calls and selectables as the loop's timeouts and handlers, not
  in ``gbridge_reactor_get_delayed_calls()`` or ``_get_readers()``.

:func:`to_deferred` turns a ``Gbridge.Future`` into a Deferred, and
:func:`wait_signal` gives the next emission of a GObject signal as one.

The other way round, :class:`TwistedContextDriver` runs a ``GMainContext``
(and so every ``Gbridge.IOLoop`` and GLib source on it) inside an already
running Twisted reactor of any kind, for example ``epollreactor``.
"""

import builtins
import errno
import os
import sys
import weakref
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
from twisted.python import failure, log  # noqa: E402
from zope.interface import implementer  # noqa: E402

__all__ = ["GbridgeReactor", "GbridgeNameResolver", "install",
           "TwistedContextDriver", "to_deferred", "wait_signal"]

_NO_FILEDESC = error.ConnectionFdescWentAway("File descriptor lost")


def _load_native():
    """gbridge._native, whose TwistedCore runs the reactor's hot paths in C,
    or None where it was not built (or GBRIDGE_PYTHON_NATIVE=0 asks for the
    introspection path)."""
    if os.environ.get("GBRIDGE_PYTHON_NATIVE", "1") == "0":
        return None
    try:
        from gbridge import _native
    except ImportError:
        return None
    return _native if hasattr(_native, "TwistedCore") else None


_native = _load_native()


# What gbridge._native.TwistedCore does per ready descriptor in place of
# Twisted's log.callWithLogger() (and so of log.callWithContext() and of
# twisted.python.context's trackers): these functions, as Twisted 22.4 to
# 24.x define them (docstrings aside).  The core takes that path only where
# the installed Twisted's are these; anywhere else it calls Twisted's.
_LOG_CONTEXT_SOURCE = '''
def callWithContext(ctx, func, *args, **kw):
    newCtx = context.get(ILogContext).copy()
    newCtx.update(ctx)
    return context.call({ILogContext: newCtx}, func, *args, **kw)


def callWithLogger(logger, func, *args, **kw):
    try:
        lp = logger.logPrefix()
    except KeyboardInterrupt:
        raise
    except BaseException:
        lp = "(buggy logPrefix method)"
        err(system=lp)
    try:
        return callWithContext({"system": lp}, func, *args, **kw)
    except KeyboardInterrupt:
        raise
    except BaseException:
        err(system=lp)


class ContextTracker:
    def callWithContext(self, newContext, func, *args, **kw):
        self.contexts.append(newContext)
        try:
            return func(*args, **kw)
        finally:
            self.contexts.pop()

    def getContext(self, key, default=None):
        for ctx in reversed(self.contexts):
            try:
                return ctx[key]
            except KeyError:
                pass
        return default


class ThreadedContextTracker:
    def currentContext(self):
        try:
            return self.storage.ct
        except AttributeError:
            ct = self.storage.ct = ContextTracker()
            return ct

    def callWithContext(self, ctx, func, *args, **kw):
        return self.currentContext().callWithContext(ctx, func, *args, **kw)

    def getContext(self, key, default=None):
        return self.currentContext().getContext(key, default)
'''

_log_fast = []


def _function_shape(source):
    """The AST of a function's source, without its docstring."""
    import ast
    import textwrap

    node = ast.parse(textwrap.dedent(source)).body[0]
    body = node.body
    if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        node.body = body[1:] or [ast.Pass()]
    return ast.dump(node)


def _log_fast_path():
    """What TwistedCore's callWithLogger() in C works on (its ``log_fast``),
    or None where the installed Twisted's functions are not the ones it
    mirrors (or their source cannot be read): then the core calls
    ``log.callWithLogger``.  Computed once, at the first reactor made while
    they are Twisted's."""
    if _log_fast:
        return _log_fast[0]
    from twisted.python import context

    if (getattr(log.callWithLogger, "__module__", None) != log.__name__
            or getattr(log.callWithContext, "__module__", None) != log.__name__
            or type(context.theContextTracker) is not context.ThreadedContextTracker):
        return None   # patched in for now: asked again at the next reactor
    fast = None
    try:
        import ast
        import inspect

        reference = {}
        for node in ast.parse(_LOG_CONTEXT_SOURCE).body:
            if isinstance(node, ast.ClassDef):
                for method in node.body:
                    reference[node.name + "." + method.name] = ast.dump(method)
            else:
                reference[node.name] = ast.dump(node)
        tracker = context.theContextTracker
        installed = {
            "callWithContext": log.callWithContext,
            "callWithLogger": log.callWithLogger,
            "ContextTracker.callWithContext": context.ContextTracker.callWithContext,
            "ContextTracker.getContext": context.ContextTracker.getContext,
            "ThreadedContextTracker.currentContext":
                context.ThreadedContextTracker.currentContext,
            "ThreadedContextTracker.callWithContext":
                context.ThreadedContextTracker.callWithContext,
            "ThreadedContextTracker.getContext": context.ThreadedContextTracker.getContext,
        }
        if (all(_function_shape(inspect.getsource(f)) == reference[name]
                for name, f in installed.items())
                and type(tracker) is context.ThreadedContextTracker
                and context.call == tracker.callWithContext
                and context.get == tracker.getContext
                and log.context is context):
            fast = (vars(log), context, vars(context), log.callWithLogger,
                    log.callWithContext, context.call, context.get, log.ILogContext,
                    tracker, context.ThreadedContextTracker,
                    vars(context.ThreadedContextTracker)["currentContext"],
                    type(tracker.storage), context.ContextTracker,
                    vars(context.ContextTracker)["callWithContext"],
                    vars(context.ContextTracker)["getContext"])
    except Exception:   # no source to read (OSError), another Twisted: Twisted's own
        fast = None
    _log_fast.append(fast)
    return fast


class _DelayedCall(base.DelayedCall):
    """Twisted's DelayedCall; its timer is a timeout of the reactor's
    ``Gbridge.IOLoop``."""


class _IntrospectionCore:
    """``gbridge._native.TwistedCore``'s interface through PyGObject alone,
    for where the extension module was not built: the same timeouts and
    handlers on the loop, with the work of the C core done here (slower,
    the same behaviour).

    The closures handed to gbridge hold the reactor and this core through
    weak references only, as the C core's links do.
    """

    def __init__(self, reactor, loop, call_type, resetter, seconds,
                 call_with_logger, connection_done, connection_lost,
                 no_filedesc, log_fast=None):
        self._reactor_ref = weakref.ref(reactor)
        self._loop = loop
        self._call_type = call_type
        self._resetter = resetter
        self._seconds = seconds
        # call_with_logger is log.callWithLogger, which is looked up per
        # call instead, as Twisted's reactors do (log_fast is the C core's).
        self._done = connection_done
        self._lost = connection_lost
        self._no_filedesc = no_filedesc
        self.calls = {}       # DelayedCall -> gbridge timeout id
        self._by_id = {}      # and back
        self.readers = {}     # selectable -> fd
        self.writers = {}
        self._fds = {}        # fd -> [reader, writer, events]
        self._running = 0
        self._pending = None
        self.closed = False

    # Delayed calls

    def call_later(self, delay, func, *args, **kw):
        assert builtins.callable(func), f"{func} is not callable"
        assert delay >= 0, f"{delay} is not greater than or equal to 0 seconds"
        call = self._call_type(_wall_time() + delay, func, args, kw,
                               self.cancel_call, self._resetter, self._seconds)
        self._schedule(call, delay)
        return call

    def _schedule(self, call, delay):
        if self.closed:
            raise RuntimeError("the reactor's loop core is closed")
        # The closure holds neither the call nor the core.
        core_ref = weakref.ref(self)
        timeout = []

        def on_timer(*unused):
            core = core_ref()
            call = core._by_id.pop(timeout[0], None) if core is not None else None
            if call is not None:
                del core.calls[call]
                core._keep(core._run_call, call)

        if delay != delay or delay < 0:
            delay = 0.0
        timeout.append(Gbridge.IOLoop.call_later(self._loop, delay, on_timer))
        if not timeout[0]:
            raise RuntimeError("the loop is closed")   # as the C core
        self.calls[call] = timeout[0]
        self._by_id[timeout[0]] = call

    def cancel_call(self, call):
        timeout = self.calls.pop(call, None)
        if timeout is not None:
            del self._by_id[timeout]
            self._loop.remove_timeout(timeout)

    def schedule(self, call, delay):
        self.cancel_call(call)
        self._schedule(call, delay)

    def _run_call(self, call):
        reactor = self._reactor_ref()
        if reactor is None:
            return
        if call.delayed_time > 0:
            reactor._redelay(call)
            return
        try:
            call.called = 1
            call.func(*call.args, **call.kw)
        except BaseException as e:
            reactor._callFailed(call, e)

    # Readers and writers

    def _add(self, selectable, writer):
        index = self.writers if writer else self.readers
        if selectable in index:
            return
        if self.closed:
            raise RuntimeError("the reactor's loop core is closed")
        fd = selectable.fileno()
        if fd < 0:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        entry = self._fds.get(fd)
        # The fd has another selectable: maybe a closed one whose number
        # this one's file reuses, whose registration went with its file.
        refresh = entry is not None and any(
            s is not None and s is not selectable for s in entry[:2])
        if entry is None:
            events = Gbridge.IOEvents.WRITE if writer else Gbridge.IOEvents.READ
            self._add_handler(fd, events)
            entry = self._fds[fd] = [None, None, int(events)]
        index[selectable] = fd
        old = entry[writer]
        if old is not None:
            index.pop(old, None)
        entry[writer] = selectable
        if refresh:
            # A new registration, for the file the number names now.
            self._loop.remove_handler(fd)
            entry[2] = self._events(entry)
            try:
                self._add_handler(fd, Gbridge.IOEvents(entry[2]))
            except OSError:
                del self._fds[fd]
                self.readers.pop(entry[0], None)
                self.writers.pop(entry[1], None)
                raise
        else:
            self._changed(fd, entry)

    def _add_handler(self, fd, events):
        core_ref = weakref.ref(self)

        def on_fd(fd, events, *unused):
            core = core_ref()
            if core is not None and core._pending is None:
                core._keep(core._fd_ready, fd, int(events))

        try:
            # Unchecked, as the C core's: Twisted removes a selectable
            # before closing it and checks its fileno() itself.
            Gbridge.IOLoop.add_handler_full(self._loop, fd, events,
                                            Gbridge.HandlerFlags.UNCHECKED, on_fd)
        except GLib.Error as e:
            raise OSError(_ERRNOS.get(e.code, errno.EINVAL), e.message) from None

    @staticmethod
    def _events(entry):
        return ((int(Gbridge.IOEvents.READ) if entry[0] is not None else 0) |
                (int(Gbridge.IOEvents.WRITE) if entry[1] is not None else 0))

    def _changed(self, fd, entry):
        events = self._events(entry)
        if events == 0:
            del self._fds[fd]
            if not self.closed:
                self._loop.remove_handler(fd)
        elif events != entry[2]:
            entry[2] = events
            try:
                self._loop.update_handler(fd, Gbridge.IOEvents(events))
            except GLib.Error:
                pass   # the fd was closed, which epoll forgot already

    def _remove(self, selectable, writer):
        index = self.writers if writer else self.readers
        fd = index.pop(selectable, None)
        if fd is None:
            return
        entry = self._fds.get(fd)
        if entry is not None and entry[writer] is selectable:
            entry[writer] = None
            self._changed(fd, entry)

    def add_reader(self, selectable):
        self._add(selectable, False)

    def add_writer(self, selectable):
        self._add(selectable, True)

    def remove_reader(self, selectable):
        self._remove(selectable, False)

    def remove_writer(self, selectable):
        self._remove(selectable, True)

    def _still(self, fd, selectable, writer):
        entry = self._fds.get(fd)
        return entry is not None and entry[writer] is selectable

    def _fd_ready(self, fd, events):
        entry = self._fds.get(fd)
        if entry is None:
            return
        reader, writer = entry[0], entry[1]
        READ, WRITE = int(Gbridge.IOEvents.READ), int(Gbridge.IOEvents.WRITE)
        if events & int(Gbridge.IOEvents.ERROR) and not events & READ:
            reactor = self._reactor_ref()
            if reactor is None:
                return
            if reader is not None:
                log.callWithLogger(reader, reactor._disconnectSelectable,
                                   reader, self._done, True)
            if (writer is not None and writer is not reader
                    and self._still(fd, writer, True)):
                log.callWithLogger(writer, reactor._disconnectSelectable,
                                   writer, self._lost, False)
            return
        if reader is not None and events & READ and self._still(fd, reader, False):
            log.callWithLogger(reader, self._io, reader, fd, True)
        if writer is not None and events & WRITE and self._still(fd, writer, True):
            log.callWithLogger(writer, self._io, writer, fd, False)

    def _io(self, selectable, fd, is_read):
        reactor = self._reactor_ref()
        if reactor is None:
            return
        try:
            if selectable.fileno() != fd:
                why = self._no_filedesc
            else:
                why = selectable.doRead() if is_read else selectable.doWrite()
        except BaseException as e:
            reactor._ioFailed(selectable, e, is_read)
            return
        if why:
            reactor._disconnectSelectable(selectable, why, is_read)

    # Wake-ups and iterations

    def _keep(self, func, *args):
        """Runs a callback of the loop; what it lets through goes to run()."""
        try:
            func(*args)
        except BaseException as e:
            if self._running and self._pending is None:
                self._pending = e
            else:
                sys.excepthook(type(e), e, e.__traceback__)

    def wake(self):
        if self.closed:
            return
        reactor_ref, core_ref = self._reactor_ref, weakref.ref(self)

        def on_wake(*unused):
            reactor, core = reactor_ref(), core_ref()
            if reactor is not None and core is not None:
                core._keep(reactor.runUntilCurrent)

        Gbridge.IOLoop.add_callback(self._loop, on_wake)

    def iterate(self, delay):
        if self.closed:
            return
        if delay is None:
            delay = -1.0
        elif delay != delay or delay < 0:
            delay = 0.0
        timer = None
        if delay > 0:
            timer = Gbridge.IOLoop.call_later(self._loop, delay, lambda *a: None)
        self._running += 1
        try:
            self._loop.get_context().iteration(delay != 0)
        finally:
            self._running -= 1
            if timer is not None:
                self._loop.remove_timeout(timer)
        if self._pending is not None:
            e, self._pending = self._pending, None
            raise e

    def run(self):
        reactor = self._reactor_ref()
        while reactor is not None and reactor._started and not self.closed:
            self.iterate(None if reactor.running else 0)

    def close(self):
        if self.closed:
            return
        for timeout in self.calls.values():
            self._loop.remove_timeout(timeout)
        self.calls.clear()
        self._by_id.clear()
        for fd in self._fds:
            self._loop.remove_handler(fd)
        self._fds.clear()
        self.readers.clear()
        self.writers.clear()
        self.closed = True


# GError codes of Gbridge.IOLoopError as the errno epoll would raise.
_ERRNOS = {
    int(Gbridge.IOLoopError.EXISTS): errno.EEXIST,
    int(Gbridge.IOLoopError.NOT_FOUND): errno.ENOENT,
    int(Gbridge.IOLoopError.BAD_FD): errno.EBADF,
}

_Core = _native.TwistedCore if _native is not None else _IntrospectionCore


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
    """A Twisted reactor on a ``Gbridge.IOLoop``.

    :param loop: the ``Gbridge.IOLoop`` to run on; a new private loop if
        ``None``. ``install()`` uses the loop of GLib's default context.

    ``seconds()`` is ``time.time()``, as on Twisted's other reactors, and so
    is ``DelayedCall.getTime()``; the loop schedules by the delay on its
    monotonic clock, so a wall-clock step does not move delayed calls.
    """

    def __init__(self, loop=None):
        if loop is None:
            loop = Gbridge.IOLoop.new()
        self._loop = loop
        self._context = loop.get_context()
        self._greactor = Gbridge.Reactor.ref_for_loop(loop)
        seconds = self.seconds
        if type(self).seconds is GbridgeReactor.seconds:
            seconds = _wall_time   # the same clock, without a bound method per call
        self._core = core = _Core(self, loop, _DelayedCall, self._moveCallLaterSooner,
                                  seconds, log.callWithLogger, main.CONNECTION_DONE,
                                  main.CONNECTION_LOST, _NO_FILEDESC,
                                  _log_fast_path() if _native is not None else None)
        self._reads = core.readers
        self._writes = core.writers
        # The hot methods straight into the core, unless a subclass has its
        # own (or its own clock, which callLater() must ask).
        for name, method in (("callLater", core.call_later),
                             ("addReader", core.add_reader),
                             ("addWriter", core.add_writer),
                             ("removeReader", core.remove_reader),
                             ("removeWriter", core.remove_writer)):
            if getattr(type(self), name) is getattr(GbridgeReactor, name) and \
                    (name != "callLater" or seconds is _wall_time):
                setattr(self, name, method)
        posixbase.PosixReactorBase.__init__(self)

    def _initThreads(self):
        posixbase.PosixReactorBase._initThreads(self)
        self.installNameResolver(GbridgeNameResolver(self))

    @property
    def gbridge_reactor(self):
        """The C ``Gbridge.Reactor`` of this reactor's loop (its resolver;
        C code's reactor after ``install()``)."""
        return self._greactor

    @property
    def gbridge_loop(self):
        """The ``Gbridge.IOLoop`` this reactor runs on."""
        return self._loop

    # IReactorTime: each delayed call is a timeout of the loop, on the
    # loop's monotonic clock; what Twisted code sees is on the time.time()
    # scale, as on every Twisted reactor (runtimeSeconds): seconds(),
    # DelayedCall.getTime(), and so the difference of the two.  Only delays
    # (relative times) cross to the loop.

    def seconds(self):
        return _wall_time()

    def callLater(self, delay, callable, *args, **kw):
        assert builtins.callable(callable), f"{callable} is not callable"
        assert delay >= 0, f"{delay} is not greater than or equal to 0 seconds"
        call = _DelayedCall(self.seconds() + delay, callable, args, kw,
                            self._core.cancel_call, self._moveCallLaterSooner,
                            seconds=self.seconds)
        self._core.schedule(call, delay)
        return call

    def _moveCallLaterSooner(self, call):
        # DelayedCall keeps a delay in delayed_time; fold it into the time
        # now, since the loop orders by the final time.  call.time is on the
        # wall clock and the loop's on the monotonic one: move it by what is
        # left from now.
        call.activate_delay()
        if call in self._core.calls:
            self._core.schedule(call, max(0.0, call.time - self.seconds()))

    def _redelay(self, call):
        # Due, but moved later by delay() or reset(), which DelayedCall
        # does lazily.
        call.activate_delay()
        self._core.schedule(call, max(0.0, call.time - self.seconds()))

    def _callFailed(self, call, exc):
        # As runUntilCurrent() logs a failed call (log.deferr()).
        log.err(failure.Failure(exc, type(exc), exc.__traceback__))
        # Twisted 22.4 sets creator only in debug mode, later ones to None.
        if getattr(call, "creator", None):
            e = "\n C: previous exception occurred in a DelayedCall created here:\n C:"
            e += "".join(call.creator).rstrip().replace("\n", "\n C:")
            log.msg(e + "\n")

    def _ioFailed(self, selectable, exc, isRead):
        # As _doReadOrWrite(): logged, and the reason to disconnect.
        log.err(failure.Failure(exc, type(exc), exc.__traceback__))
        self._disconnectSelectable(selectable, exc, isRead)

    def getDelayedCalls(self):
        return [c for c in self._core.calls if not c.cancelled and not c.called]

    def timeout(self):
        # The loop wakes the context for its own timeouts.
        return None

    # Wake-ups go through the loop's thread-safe callback queue, which wakes
    # the context; Twisted's runUntilCurrent() then runs callFromThread's
    # queue and a pending shutdown (its timed-call part finds nothing: the
    # delayed calls are the loop's).

    def installWaker(self):
        # No self-pipe: wakeUp() needs none.  Signals still wake the context
        # through Twisted's SIGCHLD waker, Python's wakeup fd.
        pass

    def wakeUp(self):
        self._core.wake()

    # IReactorCore

    def mainLoop(self):
        # Twisted's, with its inner loop in the core: runUntilCurrent()
        # has nothing to do between iterations (the delayed calls are the
        # loop's, and wake-ups run it), so the core iterates the context
        # until the reactor stops.
        while self._started:
            try:
                self.runUntilCurrent()
                self._core.run()
            except BaseException:
                log.msg("Unexpected error in main loop.")
                log.err()
            else:
                log.msg("Main loop terminated.")

    def doIteration(self, delay):
        self._core.iterate(delay)

    def stop(self):
        posixbase.PosixReactorBase.stop(self)
        self.wakeUp()

    def crash(self):
        posixbase.PosixReactorBase.crash(self)
        self._context.wakeup()

    # IReactorFDSet: each watched fd is a handler of the loop, with its
    # reader and writer in the core.

    def addReader(self, reader):
        self._core.add_reader(reader)

    def addWriter(self, writer):
        self._core.add_writer(writer)

    def removeReader(self, reader):
        self._core.remove_reader(reader)

    def removeWriter(self, writer):
        self._core.remove_writer(writer)

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
