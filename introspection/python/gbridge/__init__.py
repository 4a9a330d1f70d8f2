# SPDX-License-Identifier: LGPL-2.1-or-later
"""gbridge: one GLib main context for asyncio, Tornado and Twisted code.

The C library is reached through ``from gi.repository import Gbridge``; this
package holds the Python side of the bridges (``gbridge.asyncio``,
``gbridge.twisted``, ``gbridge.trio``) and the future conversions, after
Tornado's ``to_tornado_future`` / ``to_asyncio_future``:

- :func:`to_asyncio_future` turns a ``Gbridge.Future`` into an asyncio
  future on the running (or given) asyncio loop;
- :func:`to_gbridge_future` turns an asyncio future, task or coroutine into
  a ``Gbridge.Future``.

Both keep the value, the error and cancellation, in both directions: a
``GLib.Error`` crosses as itself; any other exception becomes a
``GLib.Error`` in ``Gbridge.FutureError.FAILED`` with the exception's type
and message (and comes back as the original exception when the same future
is converted back in this process); cancelling either side cancels the
other.
"""

# The build tree's gbridge/ directory (where gbridge._native is built) is
# part of the package next to the sources, wherever both are on sys.path.
__path__ = __import__('pkgutil').extend_path(__path__, __name__)

import asyncio as _asyncio  # noqa: E402
import sys as _sys

import gi

gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge  # noqa: E402

__all__ = ['to_asyncio_future', 'to_gbridge_future']

# The original Python exception of a failure made by to_gbridge_future(),
# kept on the future's wrapper (PyGObject keeps a wrapper with attributes
# alive as long as its GObject).
_EXCEPTION_ATTR = '_gbridge_exception'


def _future_exception(future):
    """The exception a failed ``Gbridge.Future`` carries."""
    original = getattr(future, _EXCEPTION_ATTR, None)
    if original is not None:
        return original
    try:
        future.get_value()
    except GLib.Error as e:
        return e
    raise _asyncio.InvalidStateError('the future did not fail')


def _to_gerror(exc):
    if isinstance(exc, GLib.Error):
        return exc
    message = '%s: %s' % (type(exc).__qualname__, exc) if str(exc) \
        else type(exc).__qualname__
    return GLib.Error.new_literal(Gbridge.future_error_quark(), message,
                                  int(Gbridge.FutureError.FAILED))


def _current_asyncio_loop():
    try:
        return _asyncio.get_running_loop()
    except RuntimeError:
        pass
    if _sys.version_info >= (3, 14):
        # The loop set with set_event_loop(), else RuntimeError; the policy
        # getter is deprecated (and get_event_loop() no longer makes one).
        return _asyncio.get_event_loop()
    # Up to 3.13, the policy's loop, as before (it may make one).
    return _asyncio.get_event_loop_policy().get_event_loop()


def to_asyncio_future(future, loop=None):
    """Returns an asyncio future with the outcome of ``future``.

    ``loop`` is the asyncio loop of the result (default: the running loop,
    else the current one: the policy's up to Python 3.13, the one given to
    ``asyncio.set_event_loop()`` from 3.14). The outcome is handed over with
    ``loop.call_soon_threadsafe()`` from whatever thread completes
    ``future``, so this works whether or not anything runs the future's
    Gbridge loop. Cancelling the returned future cancels ``future``. An
    asyncio future is returned as it is.
    """
    if isinstance(future, _asyncio.Future):
        return future
    if not isinstance(future, Gbridge.Future):
        raise TypeError('expected a Gbridge.Future, got %r' % (future,))
    if loop is None:
        loop = _current_asyncio_loop()
    return _asyncio_future_of(future, loop, Gbridge.Future.get_value)


def _asyncio_future_of(future, loop, value):
    """The asyncio future on ``loop`` of the ``Gbridge.Future`` ``future``;
    ``value(future)`` is its result once ``future`` is resolved."""
    result = loop.create_future()

    def settle():
        if result.done():
            return
        state = future.get_state()
        if state == Gbridge.FutureState.RESOLVED:
            result.set_result(value(future))
        elif state == Gbridge.FutureState.FAILED:
            result.set_exception(_future_exception(future))
        else:
            result.cancel()

    def completed(_future):
        try:
            loop.call_soon_threadsafe(settle)
        except RuntimeError:
            pass  # the asyncio loop is closed: nobody is left to tell

    def result_done(fut):
        if fut.cancelled():
            future.cancel()   # for a signal's future, disconnects the handler

    result.add_done_callback(result_done)
    future.add_completion_notify(completed)
    return result


def to_gbridge_future(awaitable, loop=None):
    """Returns a ``Gbridge.Future`` with the outcome of ``awaitable``.

    ``awaitable`` is an asyncio future or task, or a coroutine, which is
    scheduled as a task on the current asyncio loop. ``loop`` is the
    ``Gbridge.IOLoop`` of the result (default: the current one, else the
    default one). Cancelling the returned future cancels the asyncio side.
    A ``Gbridge.Future`` is returned as it is.
    """
    if isinstance(awaitable, Gbridge.Future):
        return awaitable
    afut = _asyncio.ensure_future(awaitable)
    if loop is None:
        loop = Gbridge.IOLoop.get_current() or Gbridge.IOLoop.get_default()
    future = Gbridge.Future.new_for_loop(loop)
    aloop = afut.get_loop()

    def afut_done(fut):
        if future.is_done():
            return
        if fut.cancelled():
            future.cancel()
            return
        exc = fut.exception()
        if exc is None:
            try:
                future.resolve(fut.result())
                return
            except (TypeError, ValueError, OverflowError) as e:
                exc = e  # a value no GValue holds
        setattr(future, _EXCEPTION_ATTR, exc)
        future.fail(_to_gerror(exc))

    def future_completed(fut):
        if fut.is_cancelled() and not afut.done():
            try:
                aloop.call_soon_threadsafe(afut.cancel)
            except RuntimeError:
                pass  # the asyncio loop is closed

    afut.add_done_callback(afut_done)
    future.add_completion_notify(future_completed)
    return future
