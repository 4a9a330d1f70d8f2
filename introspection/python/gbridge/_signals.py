# SPDX-License-Identifier: LGPL-2.1-or-later
"""Awaiting GObject signals from asyncio; ``gbridge.asyncio`` exports these.

Both give a signal's arguments as a tuple *without* the emitting object:
PyGObject passes it first to a handler, but the awaiting code already holds
it, so ``await wait_signal(button, 'clicked')`` is ``()`` and
``await wait_signal(label, 'notify::label')`` is ``(pspec,)``.
:func:`wait_signal` holds no reference to the object; a
:class:`signal_stream` holds one until it is closed.
"""

import asyncio
import collections
import threading
import weakref

from gi.repository import GObject, Gbridge

__all__ = ['wait_signal', 'signal_stream', 'SignalStreamOverflow']


def _check_signal(obj, detailed_signal):
    if not isinstance(obj, GObject.Object):
        raise TypeError('expected a GObject.Object, got %r' % (obj,))
    # ValueError for an unknown signal or a detail the signal does not take,
    # instead of a GLib critical.
    GObject.signal_parse_name(detailed_signal, obj, True)


def _io_loop_of(aloop):
    io_loop = getattr(aloop, 'io_loop', None)
    if isinstance(io_loop, Gbridge.IOLoop):
        return io_loop
    return Gbridge.IOLoop.get_current() or Gbridge.IOLoop.get_default()


def wait_signal(obj, detailed_signal, *, loop=None):
    """Returns an asyncio future of the next emission of a signal.

    ``detailed_signal`` is a name as ``obj.connect()`` takes it, a detail
    included (``'notify::label'``). The handler is connected now, so an
    emission between this call and the ``await`` is not missed, and it is
    disconnected after the first emission or when the future is cancelled
    (``asyncio.wait_for()``'s timeout, a cancelled task). The future's result
    is the tuple of the signal's arguments after ``obj``. If ``obj`` is
    disposed first (finalized, or destroyed like a GTK widget), the future
    fails with ``GLib.Error`` ``Gbridge.FutureError.DISPOSED``.

    The waiting handler returns the default of a signal's return type
    (``False`` for ``close-request``): it never handles or stops the
    emission. The signal may be emitted in any thread.

    ``loop`` is the asyncio loop of the future (default: the running one).
    This is ``Gbridge.Future.new_for_signal()`` seen from asyncio, so it
    works in Tornado coroutines too (Tornado runs on asyncio); Twisted code
    uses ``gbridge.twisted.wait_signal()``.
    """
    _check_signal(obj, detailed_signal)
    if loop is None:
        from gbridge import _current_asyncio_loop
        loop = _current_asyncio_loop()
    future = Gbridge.Future.new_for_signal(_io_loop_of(loop), obj, detailed_signal)
    from gbridge import _asyncio_future_of
    return _asyncio_future_of(future, loop, lambda f: tuple(f.get_value()))


class SignalStreamOverflow(RuntimeError):
    """Raised by a :func:`signal_stream` whose consumer fell more than
    ``maxsize`` emissions behind, after the emissions it had buffered."""


_END = object()


class signal_stream:
    """An async iterator over the emissions of a signal, each the tuple of
    the signal's arguments after ``obj``::

        async with gbridge.asyncio.signal_stream(entry, 'notify::text') as stream:
            async for (pspec,) in stream:
                ...

    The handler is connected at construction, so nothing emitted after it
    is missed. A signal cannot wait for its consumer, so emissions are
    buffered, at most ``maxsize`` of them (``0`` for no bound). Nothing is
    dropped silently: when an emission finds the buffer full, the stream
    disconnects its handler, the iterator yields what it had buffered and
    then raises :class:`SignalStreamOverflow`. A consumer that may fall
    behind picks a larger ``maxsize``, or accepts the error and opens a new
    stream.

    The iteration ends (``StopAsyncIteration``) after :meth:`aclose`, at
    the end of an ``async with`` block, and once ``obj`` is disposed (a GTK
    widget destroyed), after the buffered emissions. The stream holds
    ``obj`` until it is closed; break out of an ``async for`` inside
    ``async with``, or call :meth:`aclose`, so that the handler goes at
    once rather than when the stream is collected.

    Emissions in other threads are handed to the asyncio loop of the stream
    (``loop``, default the running one) in the order they happened in each
    thread.
    """

    # A detail no property has: this notify is never emitted, so its
    # future only ever completes by failing when the object is disposed.
    _DISPOSED_SENTINEL = 'notify::-gbridge-disposed-sentinel'

    def __init__(self, obj, detailed_signal, *, maxsize=64, loop=None):
        _check_signal(obj, detailed_signal)
        if not isinstance(maxsize, int) or maxsize < 0:
            raise ValueError('maxsize must be an int >= 0, not %r' % (maxsize,))
        if loop is None:
            from gbridge import _current_asyncio_loop
            loop = _current_asyncio_loop()
        self._loop = loop
        self._thread = threading.get_ident()
        self._maxsize = maxsize
        self._buffer = collections.deque()
        self._waiter = None
        self._end = None           # None, _END or the overflow error
        self._obj = obj
        # obj's handler and the sentinel's notify hold the stream weakly, so
        # a stream nobody iterates any more is collected and disconnects.
        ref = weakref.ref(self)

        def handler(_obj, *args):
            stream = ref()
            if stream is not None:
                stream._from_any_thread(stream._push, args)

        def disposed(future):
            stream = ref()
            if stream is not None and \
                    future.get_state() == Gbridge.FutureState.FAILED:
                stream._from_any_thread(stream._finish, _END)

        self._handler_id = obj.connect(detailed_signal, handler)
        self._sentinel = Gbridge.Future.new_for_signal(
            _io_loop_of(loop), obj, self._DISPOSED_SENTINEL)
        self._sentinel.add_completion_notify(disposed)

    def _from_any_thread(self, func, arg):
        if threading.get_ident() == self._thread:
            func(arg)
        else:
            try:
                self._loop.call_soon_threadsafe(func, arg)
            except RuntimeError:
                pass  # the asyncio loop is closed

    def _push(self, args):
        if self._end is not None:
            return
        if self._maxsize and len(self._buffer) >= self._maxsize:
            self._finish(SignalStreamOverflow(
                'more than %d emissions were waiting for the consumer'
                % self._maxsize))
            return
        self._buffer.append(args)
        self._wake()

    def _finish(self, end):
        if self._end is None:
            self._end = end
            self._disconnect()
        self._wake()

    def _wake(self):
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _disconnect(self):
        obj, self._obj = self._obj, None
        if obj is None:
            return
        # Gone already if obj was disposed.
        if GObject.signal_handler_is_connected(obj, self._handler_id):
            obj.disconnect(self._handler_id)
        self._sentinel.cancel()

    def __aiter__(self):
        return self

    async def __anext__(self):
        while True:
            if self._buffer:
                return self._buffer.popleft()
            end = self._end
            if end is _END:
                raise StopAsyncIteration
            if end is not None:
                self._end = _END   # raised once, then the stream is over
                raise end
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def aclose(self):
        """Disconnects the handler and ends the iteration; the emissions
        still buffered are dropped."""
        self.close()

    def close(self):
        """:meth:`aclose` without the ``await``."""
        self._buffer.clear()
        self._finish(_END)
        self._end = _END

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        self.close()

    def __del__(self):
        # A stream forgotten without aclose(): its handler would otherwise
        # stay connected, doing nothing, until the object goes.
        if getattr(self, '_obj', None) is not None:
            self._disconnect()
