# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyGObject overrides for Gbridge.

- ``Gbridge.Future`` is awaitable (``await future`` in any asyncio
  coroutine) and resolves with any Python value, ints of any size included.
  Its hot calls (``new_for_loop()``, ``add_done_callback()``, ``resolve()``,
  ``get_value()``) run in C in ``gbridge._native`` where it was built.
- ``Gbridge.IOLoop.run_sync(func, timeout=None)`` takes Tornado's
  arguments and re-raises what ``func`` raised.
- ``Gbridge.IOLoop.call_later`` / ``call_at`` / ``add_timeout`` raise
  ``ValueError`` for a NaN time instead of a GLib critical.
- ``Gbridge.PeriodicCallback.callback_time`` is Tornado's attribute, in
  milliseconds.
- Tornado's ``IOLoop.add_timeout`` (a deadline or a ``datetime.timedelta``)
  and ``spawn_callback``, which the C API leaves to ``call_at()``,
  ``call_later()`` and ``add_callback()``.
- A Python ``Gbridge.Descriptor`` whose ``do_get_fd`` raises or returns
  something other than an int reports the exception and gives -1 (which the
  reactor refuses), not PyGObject's 0 for a failed vfunc (stdin).
- ``Gbridge.IOLoop.start()`` handles Ctrl-C as ``GLib.MainLoop.run()``
  does: the loop stops and ``start()`` raises ``KeyboardInterrupt``.
- Slow callbacks are named by ``__qualname__``: while the loop's
  ``slow-callback-threshold`` is above 0, the Python callables given to
  ``add_callback()``, ``add_repeating_callback()``, ``call_later()``,
  ``call_at()`` and ``add_handler()`` are timed here and the slow ones
  reported with ``report_slow_callback()`` (the C loop could only name
  PyGObject's trampoline).
"""

import contextlib
import datetime
import functools
import sys
import time

from ..module import get_introspection_module
from ..overrides import override
from gi.repository import GLib, GObject

Gbridge = get_introspection_module('Gbridge')

__all__ = []


def _callable_name(callback):
    """How the slow-callback signal names a Python callable."""
    name = getattr(callback, '__qualname__', None)
    if isinstance(name, str):
        return name
    func = getattr(callback, 'func', None)     # functools.partial
    name = getattr(func, '__qualname__', None)
    if isinstance(name, str):
        return name
    return repr(callback)


def _timed(loop, callback):
    """@callback, timed and reported to @loop when slow."""
    if loop.get_slow_callback_threshold() <= 0:
        return callback
    name = _callable_name(callback)
    monotonic = time.monotonic

    def timed(*args):
        start = monotonic()
        try:
            return callback(*args)
        finally:
            duration = monotonic() - start
            threshold = loop.get_slow_callback_threshold()
            if threshold > 0 and duration >= threshold:
                loop.report_slow_callback(name, duration)

    return timed

def _to_gvalue(value):
    """PyGObject turns a Python int into a 32-bit G_TYPE_INT, and fails on
    larger ones; give those a type that holds them. (The cheap test first:
    this runs on every resolve().)"""
    if type(value) is int and not -0x80000000 <= value <= 0x7fffffff:
        if -0x8000000000000000 <= value <= 0x7fffffffffffffff:
            return GObject.Value(GObject.TYPE_INT64, value)
        return GObject.Value(GObject.TYPE_PYOBJECT, value)
    return value


class Future(Gbridge.Future):

    def resolve(self, value=None):
        return Gbridge.Future.resolve(self, _to_gvalue(value))

    @classmethod
    def new_resolved(cls, value=None):
        return Gbridge.Future.new_resolved(_to_gvalue(value))

    # asyncio.Future's reading side, so code written for asyncio futures
    # (and concurrent.futures) reads a Gbridge.Future the same way.
    def done(self):
        return self.is_done()

    def cancelled(self):
        return self.is_cancelled()

    def result(self):
        """The value; raises the failure as GLib.Error,
        asyncio.CancelledError if cancelled, asyncio.InvalidStateError if
        pending."""
        import asyncio
        state = self.get_state()
        if state == Gbridge.FutureState.PENDING:
            raise asyncio.InvalidStateError('Result is not ready.')
        if state == Gbridge.FutureState.CANCELLED:
            raise asyncio.CancelledError()
        return self.get_value()

    def exception(self):
        import asyncio
        state = self.get_state()
        if state == Gbridge.FutureState.PENDING:
            raise asyncio.InvalidStateError('Exception is not set.')
        if state == Gbridge.FutureState.CANCELLED:
            raise asyncio.CancelledError()
        if state == Gbridge.FutureState.FAILED:
            from gbridge import _future_exception
            return _future_exception(self)
        return None

    def __await__(self):
        from gbridge import to_asyncio_future
        return (yield from to_asyncio_future(self).__await__())

    def __repr__(self):
        state = self.get_state().value_nick
        return '<Gbridge.Future %s at 0x%x>' % (state, id(self))


Future = override(Future)
__all__.append('Future')


def _install_native_future(cls):
    """new(), new_for_loop(), add_done_callback(), resolve() and get_value()
    in C (gbridge._native) where it was built with PyGObject's headers,
    unless GBRIDGE_PYTHON_NATIVE=0 asks for the introspection path; the same
    values and errors, without libffi and a closure per callback."""
    import os
    if os.environ.get('GBRIDGE_PYTHON_NATIVE', '1') == '0':
        return False
    try:
        from gbridge import _native
    except ImportError:
        return False
    install = getattr(_native, 'future_install', None)
    if install is None:
        return False
    install(cls, {
        'new': Gbridge.Future.new,
        'new_for_loop': Gbridge.Future.new_for_loop,
        'add_done_callback': Gbridge.Future.add_done_callback,
        'resolve': cls.resolve,
        'get_value': Gbridge.Future.get_value,
    })
    return True


_native_future = _install_native_future(Future)


def _add_done_callback(self, callback, *user_data):
    """Gbridge.Future.add_done_callback() through PyGObject, with a
    KeyboardInterrupt out of @callback printed through sys.excepthook, as
    gbridge._native does: from Python 3.13 PyGObject's own report
    (PyErr_Print()) also marks it unhandled, and the interpreter then ends
    the process with SIGINT when it exits, long after the loop went on."""
    if not callable(callback):
        # PyGObject's own TypeError.
        return Gbridge.Future.add_done_callback(self, callback, *user_data)

    def call(future, *args):
        try:
            return callback(future, *args)
        except KeyboardInterrupt as e:
            sys.excepthook(type(e), e, e.__traceback__)

    return Gbridge.Future.add_done_callback(self, call, *user_data)


if not _native_future:
    Future.add_done_callback = _add_done_callback


class IOLoop(Gbridge.IOLoop):

    def start(self):
        """Runs the loop until stop(), as GLib.MainLoop.run() runs: Ctrl-C
        (when Python's own SIGINT handler is in place) stops the loop and
        start() raises KeyboardInterrupt once it has returned, and Python
        signal handlers run while GLib waits."""
        try:
            from gi._ossighelper import register_sigint_fallback, wakeup_on_signal
        except ImportError:   # PyGObject without these helpers
            return Gbridge.IOLoop.start(self)
        with contextlib.ExitStack() as stack:
            stack.enter_context(register_sigint_fallback(self.stop))
            try:
                stack.enter_context(wakeup_on_signal())
            except OSError:   # no descriptor left for its socket pair
                pass
            return Gbridge.IOLoop.start(self)

    # gbridge.asyncio's run_forever() routes signals through its own wakeup
    # descriptor and SIGINT handling, as asyncio does.
    _start_plain = Gbridge.IOLoop.start

    # Without the timing below: for gbridge.asyncio, which times (and
    # names) each of its own callbacks.
    _add_callback_plain = Gbridge.IOLoop.add_callback
    _add_repeating_callback_plain = Gbridge.IOLoop.add_repeating_callback
    _add_handler_plain = Gbridge.IOLoop.add_handler
    _add_handler_full_plain = Gbridge.IOLoop.add_handler_full
    _call_at_plain = Gbridge.IOLoop.call_at

    # Timed while slow callbacks are looked for, to name them.
    def add_callback(self, callback, *user_data):
        return Gbridge.IOLoop.add_callback(self, _timed(self, callback), *user_data)

    def add_repeating_callback(self, callback, *user_data):
        return Gbridge.IOLoop.add_repeating_callback(self, _timed(self, callback),
                                                     *user_data)

    def add_handler(self, fd, events, callback, *user_data):
        return Gbridge.IOLoop.add_handler(self, fd, events, _timed(self, callback),
                                          *user_data)

    def add_handler_full(self, fd, events, flags, callback, *user_data):
        return Gbridge.IOLoop.add_handler_full(self, fd, events, flags,
                                               _timed(self, callback), *user_data)

    # NaN is a programmer error in C (a critical, and the callback is
    # dropped); from Python it is a ValueError, as time.sleep(nan) raises.
    def call_later(self, delay, callback, *user_data):
        if delay != delay:
            raise ValueError('Invalid value NaN (not a number)')
        return Gbridge.IOLoop.call_later(self, delay, _timed(self, callback), *user_data)

    def call_at(self, when, callback, *user_data):
        if when != when:
            raise ValueError('Invalid value NaN (not a number)')
        return Gbridge.IOLoop.call_at(self, when, _timed(self, callback), *user_data)

    # Tornado's names that the C API does not repeat.
    def add_timeout(self, deadline, callback, *user_data):
        """Tornado's ``add_timeout``: ``deadline`` is a time on the loop's
        clock, as for ``call_at()``, or a ``datetime.timedelta`` from now."""
        if isinstance(deadline, datetime.timedelta):
            return self.call_later(deadline.total_seconds(), callback, *user_data)
        return self.call_at(deadline, callback, *user_data)

    def spawn_callback(self, callback, *user_data):
        """Tornado's ``spawn_callback``: the same as ``add_callback()``."""
        return self.add_callback(callback, *user_data)

    def run_sync(self, func, timeout=None):
        """Tornado's ``IOLoop.run_sync``: starts the loop, calls ``func()``,
        runs until the future it returns is done and returns its value.

        ``func`` returns a ``Gbridge.Future``, an asyncio future or
        coroutine (run through :func:`gbridge.to_gbridge_future`, which
        needs an asyncio loop on this loop), or ``None``. An exception
        raised by ``func`` or a failure of the future is raised here; a
        timeout raises ``GLib.Error`` ``G_IO_ERROR_TIMED_OUT`` and cancels
        the future.
        """
        raised = []
        futures = []

        def call(_user_data):
            try:
                result = func()
                if result is not None and not isinstance(result, Gbridge.Future):
                    from gbridge import to_gbridge_future
                    result = to_gbridge_future(result, loop=self)
                futures.append(result)
                return result
            except BaseException as e:  # re-raised below, as Tornado does
                raised.append(e)
                return None

        try:
            value = Gbridge.IOLoop.run_sync(self, call, None, timeout or 0)
        except GLib.Error:
            # A coroutine's own exception, rather than its GError wrapping.
            future = futures[0] if futures else None
            if future is not None and \
                    future.get_state() == Gbridge.FutureState.FAILED:
                from gbridge import _future_exception
                original = _future_exception(future)
                if not isinstance(original, GLib.Error):
                    raise original from None
            raise
        if raised:
            raise raised[0]
        return value


IOLoop = override(IOLoop)
__all__.append('IOLoop')


class PeriodicCallback(Gbridge.PeriodicCallback):
    """Adds Tornado's ``callback_time`` attribute, in milliseconds (a number
    or a ``datetime.timedelta``) as in Tornado; the C API's interval,
    ``get_interval()`` and ``new(loop, interval, func)``, is in seconds."""

    @property
    def callback_time(self):
        return self.get_interval() * 1000.0

    @callback_time.setter
    def callback_time(self, value):
        if isinstance(value, datetime.timedelta):
            value = value.total_seconds() * 1000.0
        if not (isinstance(value, (int, float)) and 0 < value < float('inf')):
            raise ValueError('Periodic callback must have a positive, finite callback_time')
        self.set_interval(value / 1000.0)


PeriodicCallback = override(PeriodicCallback)
__all__.append('PeriodicCallback')


class Descriptor(Gbridge.Descriptor):

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        get_fd = cls.__dict__.get('do_get_fd')
        if get_fd is None or getattr(get_fd, '_gbridge_checked', False):
            return

        @functools.wraps(get_fd)
        def do_get_fd(self):
            try:
                fd = get_fd(self)
            except Exception:
                sys.excepthook(*sys.exc_info())
                return -1
            if not isinstance(fd, int) or isinstance(fd, bool):
                return -1
            return fd

        do_get_fd._gbridge_checked = True
        cls.do_get_fd = do_get_fd


Descriptor = override(Descriptor)
__all__.append('Descriptor')
