# SPDX-License-Identifier: LGPL-2.1-or-later
"""asyncio on a GLib main context, through a :class:`Gbridge.IOLoop`.

:class:`EventLoop` is asyncio's Unix selector loop (so its transports,
servers, TLS, subprocesses and signal handling are asyncio's own) with the
selector and the iteration replaced by a ``Gbridge.IOLoop``, through a core
(``gbridge._native.AsyncioCore``, in C; where the extension module was not
built, the same interface through PyGObject alone, only slower):

- callbacks go to asyncio's ready deque; one repeating gbridge callback
  drains it, and is queued only when the deque goes from empty to non-empty
  (a C call per ``call_soon`` would cost more than the callback);
- each timer is a gbridge timeout, on gbridge's timer heap, which moves the
  handle to the ready deque when due; as BaseEventLoop does with its heap,
  cancelling only counts the timer as cancelled, and the cancelled ones
  leave gbridge's heap when due (never run) or all at once when they
  outnumber the live ones (the introspection core removes each at once);
- file descriptors are gbridge handlers (one epoll set, whatever their
  number); a ready fd runs its asyncio reader and writer directly;
- the core runs asyncio's ``Handle._run()`` itself for asyncio's handles
  (the callback in the handle's context, an exception to the loop's
  exception handler as ``_run()`` reports it), unless ``_run()`` was
  replaced;
- ``call_soon_threadsafe`` wakes the context with gbridge's thread-safe
  ``add_callback``;
- while only callbacks are ready, one drain runs two batches, so GLib (fds,
  timers, other sources) is polled every other batch instead of every one.

The core runs those paths in C unless debug mode or the io_loop's
``slow-callback-threshold`` wants each callback timed; exceptions that leave
a callback (KeyboardInterrupt, SystemExit) go through the same Python code
either way.  ``GBRIDGE_PYTHON_NATIVE=0`` in the environment turns the
extension module off.

Run it as asyncio's own loops are run::

    gbridge.asyncio.run(main())            # uvloop.run()'s shape
    asyncio.run(main(), loop_factory=gbridge.asyncio.EventLoop)   # 3.12+
    with asyncio.Runner(loop_factory=gbridge.asyncio.EventLoop) as runner:
        runner.run(main())

:class:`EventLoopPolicy` and :func:`install` serve Python 3.11 to 3.13 and
are deprecated from 3.14, as asyncio's policies are.

So whatever runs the context runs the asyncio work: ``run_forever`` (which
starts the gbridge loop), a plain ``GLib.MainLoop``, GTK, or a nested main
loop started from an asyncio callback.

On the main thread the loop uses the default context
(``Gbridge.IOLoop.get_default()``); on other threads it makes a private one.
:func:`run_context_on` does the reverse: it runs a GLib main context on an
already running asyncio loop (the default one or uvloop).

:func:`wait_signal` awaits the next emission of a GObject signal and
:class:`signal_stream` iterates over its emissions (``async for``); both
work on any asyncio loop, Tornado's included.
"""

import asyncio
import contextlib
import collections
import selectors
import signal
import sys
import threading
import weakref

from asyncio import events, unix_events

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge  # noqa: E402

from gbridge._signals import (  # noqa: E402
    SignalStreamOverflow, signal_stream, wait_signal)

__all__ = ['EventLoop', 'new_event_loop', 'run', 'EventLoopPolicy', 'install',
           'ContextRunner', 'run_context_on',
           'wait_signal', 'signal_stream', 'SignalStreamOverflow']

_GB_READ = int(Gbridge.IOEvents.READ)
_GB_WRITE = int(Gbridge.IOEvents.WRITE)
_GB_ERROR = int(Gbridge.IOEvents.ERROR)
_GB_READ_OR_ERROR = _GB_READ | _GB_ERROR
_GB_WRITE_OR_ERROR = _GB_WRITE | _GB_ERROR
_EVENT_READ = selectors.EVENT_READ
_EVENT_WRITE = selectors.EVENT_WRITE

# Extra asyncio iterations one gbridge drain may run while only callbacks are
# ready: GLib is polled at least every _INLINE_BATCHES + 1 iterations.  One
# doubles call_soon-chain throughput (a GLib iteration costs more than a batch
# of one callback); four made Tornado's test_inline_read_error fail, which
# relies on the default loop polling between the few iterations of a
# coroutine's resumption.
_INLINE_BATCHES = 1

_set_running_loop = events._set_running_loop
_get_running_loop = events._get_running_loop


def _gb_events(mask):
    flags = 0
    if mask & _EVENT_READ:
        flags |= _GB_READ
    if mask & _EVENT_WRITE:
        flags |= _GB_WRITE
    return Gbridge.IOEvents(flags)


def _os_error(code, message):
    """Maps a gbridge handler error to the OSError epoll would raise."""
    import errno
    codes = {
        Gbridge.IOLoopError.EXISTS: errno.EEXIST,
        Gbridge.IOLoopError.NOT_FOUND: errno.ENOENT,
        Gbridge.IOLoopError.BAD_FD: errno.EBADF,
    }
    return OSError(codes.get(code, errno.EINVAL), message)


def _handle_name(handle):
    """A handle's name for the slow-callback signal, as asyncio's debug
    mode names it: a task by its repr, else the callback and its source."""
    from asyncio import format_helpers, tasks
    callback = handle._callback
    owner = getattr(callback, '__self__', None)
    if isinstance(owner, tasks.Task):
        return repr(owner)
    try:
        try:
            # Python 3.13+ leaves the source out unless debug.
            return format_helpers._format_callback_source(callback, handle._args,
                                                          debug=True)
        except TypeError:
            return format_helpers._format_callback_source(callback, handle._args)
    except Exception:
        return repr(callback)


def _report_from_glib(exc):
    """Does with @exc what PyGObject does with an exception that escapes a
    callback GLib dispatched (``GLib.idle_add``, a signal handler): it calls
    ``PyErr_Print()``, which

    - for ``SystemExit`` ends the process with the exception's code, as if
      it had escaped the main program (``sys.exit()`` in a GTK callback
      quits the application);
    - for anything else (``KeyboardInterrupt``) sets ``sys.last_*`` and
      prints the traceback through ``sys.excepthook``; the loop goes on.

    Only KeyboardInterrupt and SystemExit get here: asyncio hands every
    other exception of a callback to the loop's exception handler.
    """
    try:
        if isinstance(exc, SystemExit) and not sys.flags.inspect:
            code = exc.code
            if code is None:
                status = 0
            elif isinstance(code, int):
                status = code
            else:
                # As PyErr_Print: the code printed raw, exit status 1.
                try:
                    print(code, file=sys.stderr)
                except Exception:
                    pass
                status = 1
            _exit_interpreter(status)
        sys.last_type, sys.last_value, sys.last_traceback = \
            type(exc), exc, exc.__traceback__
        if sys.version_info >= (3, 12):
            sys.last_exc = exc
        sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        exc = None


def _exit_interpreter(status):
    """Py_Exit(), as PyErr_Print() calls for SystemExit: finalizes Python
    (atexit handlers, buffered streams) and exits with @status."""
    try:
        import ctypes
        py_exit = ctypes.pythonapi.Py_Exit
    except (ImportError, AttributeError):
        py_exit = None
    if py_exit is not None:
        py_exit.argtypes = [ctypes.c_int]
        py_exit.restype = None
        py_exit(status)
    import os
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(status)


def _load_native():
    """gbridge._native, the C core of these loops, or None where it was not
    built (or GBRIDGE_PYTHON_NATIVE=0 asks for the introspection path)."""
    import os
    if os.environ.get('GBRIDGE_PYTHON_NATIVE', '1') == '0':
        return None
    try:
        from gbridge import _native
    except ImportError:
        return None
    _native.set_inline_batches(_INLINE_BATCHES)
    return _native


_native = _load_native()


class _IntrospectionCore:
    """``gbridge._native.AsyncioCore``'s interface through PyGObject alone,
    for where the extension module was not built: every gbridge callback
    goes to the loop's Python methods (slower, the same behaviour).

    The closures handed to gbridge hold the loop and this core through weak
    references only, as the C core's links do.
    """

    def __init__(self, loop, io_loop, fd_to_key, ready):
        self._io_loop = io_loop
        self._loop_ref = weakref.ref(loop)
        self._timers = {}   # gbridge timeout id -> TimerHandle
        self._ready = ready
        self._closed = False
        self.fast = True
        self.driving = False
        self.drain_pending = False

    def schedule_drain(self):
        if self.drain_pending or self._closed:
            return
        self.drain_pending = True
        loop_ref, core_ref = self._loop_ref, weakref.ref(self)

        def drain(*unused):
            loop, core = loop_ref(), core_ref()
            if core is None or core._closed:
                return False
            repeat = loop is not None and loop._drain()
            if not repeat:
                core.drain_pending = False
            return repeat

        self._io_loop._add_repeating_callback_plain(drain)

    def schedule_remote(self):
        if self._closed:
            return
        loop_ref = self._loop_ref

        def remote(*unused):
            loop = loop_ref()
            if loop is not None:
                loop._drain_remote()

        self._io_loop._add_callback_plain(remote)

    def add_handler(self, fd, events):
        loop_ref = self._loop_ref

        def on_fd(fd, events, *unused):
            loop = loop_ref()
            if loop is not None:
                loop._on_fd(fd, int(events))

        try:
            # Unchecked, as the C core's: asyncio removes a reader or writer
            # before its transport closes the socket.
            self._io_loop._add_handler_full_plain(fd, Gbridge.IOEvents(events),
                                                  Gbridge.HandlerFlags.UNCHECKED, on_fd)
        except GLib.Error as e:
            raise _os_error(e.code, e.message) from None

    def update_handler(self, fd, events):
        try:
            self._io_loop.update_handler(fd, Gbridge.IOEvents(events))
        except GLib.Error as e:
            raise _os_error(e.code, e.message) from None

    def remove_handler(self, fd):
        try:
            return self._io_loop.remove_handler(fd)
        except Exception:   # PyGObject at interpreter shutdown
            return False

    def add_timer(self, when, handle):
        core_ref = weakref.ref(self)
        timeout = []

        def on_timer(*unused):
            core = core_ref()
            handle = core._timers.pop(timeout[0], None) if core is not None else None
            if handle is not None:
                handle._scheduled = False
                core._ready.append(handle)
                core.schedule_drain()

        if when != when:
            when = 0.0
        # Half a microsecond later, as the C core: gbridge rounds to whole
        # microseconds, and a timer never runs before its deadline.
        timeout.append(self._io_loop._call_at_plain(when + 0.5e-6, on_timer))
        if not timeout[0]:
            raise RuntimeError('the loop is closed')   # as the C core
        self._timers[timeout[0]] = handle
        handle._gb_id = timeout[0]
        handle._scheduled = True

    @property
    def pending_timers(self):
        return len(self._timers)

    def cancel_timer(self, handle):
        if self._timers.pop(handle._gb_id, None) is None:
            return False
        self._io_loop.remove_timeout(handle._gb_id)
        handle._scheduled = False   # out of the heap, as BaseEventLoop's
        return True

    def close(self):
        if self._closed:
            return
        self._closed = True
        timers, self._timers = self._timers, {}
        for timeout in timers:
            try:
                self._io_loop.remove_timeout(timeout)
            except Exception:   # PyGObject at interpreter shutdown
                pass


_Core = _native.AsyncioCore if _native is not None else _IntrospectionCore


class TimerHandle(events.TimerHandle):
    """asyncio's TimerHandle with the id of its gbridge timeout (which only
    the introspection core uses)."""

    __slots__ = ('_gb_id',)


# What Handle.__init__() and TimerHandle.__init__() set: outside debug
# mode, the C core makes its TimerHandles itself, setting these slots as
# they do, when asyncio's classes have exactly these slots (a Python that
# adds one gets the handles made in Python).
_TIMER_SLOTS = frozenset(('_callback', '_args', '_cancelled', '_loop',
                          '_source_traceback', '_repr', '__weakref__',
                          '_context', '_scheduled', '_when'))


def _use_native_timers():
    if _native is None or not hasattr(_native, 'set_timer_type'):
        return False
    slots = set()
    for cls in (events.Handle, events.TimerHandle):
        names = cls.__dict__.get('__slots__', ())
        slots.update((names,) if isinstance(names, str) else names)
    if slots != _TIMER_SLOTS or events.TimerHandle.__mro__[1:] != (events.Handle, object):
        return False
    _native.set_timer_type(TimerHandle)
    return True


_NATIVE_TIMERS = _use_native_timers()


# Handle._run()'s except block, for the handles the C core runs itself (a
# Handle, or one of our TimerHandles, whose class kept asyncio's _run(),
# outside debug mode and without a slow-callback threshold): the same
# context for the loop's exception handler.  SystemExit and
# KeyboardInterrupt never get here (the core lets them out, as _run()
# does).  From 3.13 the callback's source depends on debug mode.
_FORMAT_SOURCE_TAKES_DEBUG = sys.version_info >= (3, 13)


def _handle_run_failed(handle, exc):
    from asyncio import format_helpers
    try:
        if _FORMAT_SOURCE_TAKES_DEBUG:
            cb = format_helpers._format_callback_source(
                handle._callback, handle._args,
                debug=handle._loop.get_debug())
        else:
            cb = format_helpers._format_callback_source(
                handle._callback, handle._args)
        msg = f'Exception in callback {cb}'
        context = {
            'message': msg,
            'exception': exc,
            'handle': handle,
        }
        if handle._source_traceback:
            context['source_traceback'] = handle._source_traceback
        handle._loop.call_exception_handler(context)
    finally:
        exc = handle = None   # no cycle through a traceback


# The Pythons whose Handle._run() _handle_run_failed() was checked against.
if (_NATIVE_TIMERS and hasattr(_native, 'set_handle_runner')
        and (3, 11) <= sys.version_info[:2] <= (3, 14)):
    _native.set_handle_runner(events.Handle, _handle_run_failed)


class _GbridgeSelector(selectors._BaseSelectorImpl):
    """asyncio's selector interface over gbridge's handlers.

    The event loop only registers, modifies and unregisters; it never calls
    select(): gbridge calls the loop's fd handler instead.
    """

    def __init__(self):
        super().__init__()
        self._core = None   # set by the loop, before any registration

    def register(self, fileobj, events, data=None):
        key = super().register(fileobj, events, data)
        try:
            self._core.add_handler(key.fd, int(_gb_events(events)))
        except OSError:
            super().unregister(fileobj)
            raise
        return key

    def unregister(self, fileobj):
        key = super().unregister(fileobj)
        self._core.remove_handler(key.fd)
        return key

    def modify(self, fileobj, events, data=None):
        try:
            key = self._fd_to_key[self._fileobj_lookup(fileobj)]
        except KeyError:
            raise KeyError(f'{fileobj!r} is not registered') from None
        if events != key.events:
            if not events or events & ~(_EVENT_READ | _EVENT_WRITE):
                raise ValueError(f'Invalid events: {events!r}')
            self._core.update_handler(key.fd, int(_gb_events(events)))
        key = key._replace(events=events, data=data)
        self._fd_to_key[key.fd] = key
        return key

    def select(self, timeout=None):
        raise RuntimeError('the gbridge selector is driven by its GLib main context')

    def close(self):
        for fd in list(self._fd_to_key):
            self._core.remove_handler(fd)
        super().close()


_default_lock = threading.Lock()
_default_holder = None   # a weak reference to the loop on the default context


def _claim_default(loop):
    """Gives @loop the default context's gbridge loop, if it is free.

    Only on the main thread, and only one open asyncio loop at a time: asyncio
    loops may run on any thread, and two of them on one context would fight
    over it (Tornado's tests run a server loop made on the main thread in
    another thread, next to a client loop on the main thread).  Later loops
    get a private context.
    """
    global _default_holder
    if threading.current_thread() is not threading.main_thread():
        return None
    with _default_lock:
        holder = _default_holder() if _default_holder is not None else None
        if holder is not None and not holder.is_closed():
            return None
        _default_holder = weakref.ref(loop)
        return Gbridge.IOLoop.get_default()


class EventLoop(unix_events._UnixSelectorEventLoop):
    """An asyncio event loop on a :class:`Gbridge.IOLoop`.

    :param io_loop: the gbridge loop to run on; by default the default
        context's loop (``Gbridge.IOLoop.get_default()``) for the first open
        loop made on the main thread, otherwise a new private one, closed with
        this loop.

    ``KeyboardInterrupt`` and ``SystemExit`` raised in a callback leave
    ``run_forever()`` (and so ``run_until_complete()``, ``asyncio.run()``),
    as on asyncio's own loops.  When GLib runs the loop instead
    (``GLib.MainLoop.run()``, GTK, ``MainContext.iteration()``) there is no
    Python caller to raise to, and the loop does what PyGObject does with
    its own callbacks: ``KeyboardInterrupt`` is printed through
    ``sys.excepthook`` and the loop goes on (Ctrl-C still stops
    ``GLib.MainLoop.run()`` and GTK's loops, through PyGObject's SIGINT
    handling); ``SystemExit`` ends the process with its exit code, after
    Python's finalization (atexit handlers), exactly as ``sys.exit()`` in a
    ``GLib.idle_add`` callback does.  Either way, the callbacks not run yet
    run later.
    """

    _native_timers = False   # until _update_fast()

    def __init__(self, io_loop=None):
        owns = False
        if io_loop is None:
            io_loop = _claim_default(self)
            if io_loop is None:
                io_loop = Gbridge.IOLoop.new()
                owns = True
        self._io_loop = io_loop
        self._owns_io_loop = owns
        # PyGObject 3.50+ makes Gio's *_async methods awaitable, called
        # without a callback, when the running loop's _context is the
        # thread-default GMainContext (where GTask delivers the result).
        self._context = io_loop.get_context()
        self._exit_requested = False
        self._via_start = False
        self._pending_exc = None
        # Nothing kept on self, and nothing handed to gbridge, may hold self:
        # a closed loop must be freed by reference counting alone, like
        # asyncio's own loops (no cycle for the collector, and no strong
        # reference in a C closure).  The core reaches the loop through a
        # weak reference, and gbridge reaches the core through a link the
        # core cuts when it goes.
        ref = weakref.ref(self)
        selector = _GbridgeSelector()
        # asyncio's ready deque, made here: the core needs it before
        # BaseEventLoop.__init__ (which makes its own) registers the
        # self-pipe.
        ready = collections.deque()
        self._core = _Core(self, io_loop, selector._fd_to_key, ready)
        self._timer_handle_cancelled = self._core.cancel_timer
        selector._core = self._core
        self._fd_to_key = selector._fd_to_key   # the same dict, for _on_fd

        # The io_loop's slow-callback-threshold, kept here (a C call per
        # iteration would cost more): while above 0, each callback is timed
        # and the slow ones reported under asyncio's debug-mode name.
        self._slow_threshold = io_loop.get_slow_callback_threshold()

        def on_threshold(io_loop, *unused):
            loop = ref()
            if loop is not None:
                loop._slow_threshold = io_loop.get_slow_callback_threshold()
                loop._update_fast()

        self._threshold_handler = io_loop.connect('notify::slow-callback-threshold',
                                                  on_threshold)
        super().__init__(selector)
        self._ready = ready
        self._update_fast()

    @property
    def io_loop(self):
        """The :class:`Gbridge.IOLoop` this loop runs on."""
        return self._io_loop

    def get_context(self):
        """The :class:`GLib.MainContext` this loop runs on."""
        return self._io_loop.get_context()

    # PyGObject 3.50's GLib.MainLoop.run() and MainContext.iteration()
    # overrides call these on the running loop when it has a _context (later
    # versions only on gi.events loops).  Nothing is needed around a GLib
    # iteration, nested or not: this loop's source runs in any of them.

    @contextlib.contextmanager
    def paused(self):
        yield

    @contextlib.contextmanager
    def running(self, quit_func):
        # What PyGObject does for any other loop: keep Python signal
        # handlers running while GLib idles.
        try:
            from gi._ossighelper import wakeup_on_signal
        except ImportError:
            yield
            return
        with wakeup_on_signal():
            yield

    # The core's flags: run_forever drives the loop; the hot paths run in
    # C unless debug mode or a slow-callback threshold wants them timed.

    @property
    def _driving(self):
        return self._core.driving

    @_driving.setter
    def _driving(self, value):
        self._core.driving = value

    def _update_fast(self):
        self._core.fast = not (self._debug or self._slow_threshold)
        # The C core makes the TimerHandles outside debug mode, when the
        # loop's time() and get_debug() are BaseEventLoop's and its call_at()
        # ours (call_later() goes through a subclass's).
        cls = type(self)
        self._native_timers = (_NATIVE_TIMERS and not self._debug
                               and cls.time is _base_events.BaseEventLoop.time
                               and cls.get_debug is _base_events.BaseEventLoop.get_debug
                               and cls.call_at is EventLoop.call_at)

    def set_debug(self, enabled):
        super().set_debug(enabled)
        self._update_fast()

    # Scheduling

    def call_soon(self, callback, *args, context=None):
        if self._closed:
            raise RuntimeError('Event loop is closed')
        if self._debug:
            self._check_thread()
            self._check_callback(callback, 'call_soon')
        handle = events.Handle(callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        self._ready.append(handle)
        self._core.schedule_drain()
        return handle

    def call_later(self, delay, callback, *args, context=None):
        # BaseEventLoop.call_later, with the handle made in C outside debug
        # mode.
        if delay is None:
            raise TypeError('delay must not be None')
        if self._native_timers and not self._closed:
            return self._core.call_later(delay, callback, args, context)
        timer = self.call_at(self.time() + delay, callback, *args,
                             context=context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        return timer

    def call_at(self, when, callback, *args, context=None):
        # BaseEventLoop.call_at with a gbridge timeout per timer, which moves
        # the handle to the ready deque when due (not a super() call: the
        # handle's source traceback must end in the caller).
        if when is None:
            raise TypeError('when cannot be None')
        if self._closed:
            raise RuntimeError('Event loop is closed')
        if self._native_timers:
            return self._core.call_at(when, callback, args, context)
        if self._debug:
            self._check_thread()
            self._check_callback(callback, 'call_at')
        timer = TimerHandle(when, callback, args, self, context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        # A NaN deadline runs at once, as -inf does.  (The default loop runs
        # it whenever its heap happens to pop it up to Python 3.12, since NaN
        # defeats heapq's comparisons, and from 3.13 hands NaN to select(),
        # which raises on every iteration: neither is worth copying.)  +-inf
        # needs nothing: gbridge clamps it.
        self._core.add_timer(when, timer)
        return timer

    def _timer_handle_cancelled(self, handle):
        # Shadowed in __init__ by the core's own method, one call less.
        self._core.cancel_timer(handle)

    def _write_to_self(self):
        # call_soon_threadsafe: wake the context from any thread.
        self._core.schedule_remote()

    def stop(self):
        self._stopping = True
        self._kick(force=True)

    def _kick(self, force=False):
        """Makes sure pending asyncio work has a gbridge callback."""
        if not self._closed and (force or self._ready):
            self._core.schedule_drain()

    # Dispatch: the entry points gbridge calls.  The core runs the common
    # cases itself, in C; these serve the others (debug mode, a slow-callback
    # threshold, no extension module) and its exceptions.

    def _enter(self):
        """Makes this loop the running one outside run_forever (GLib, GTK)."""
        if self._driving:
            return None
        previous = _get_running_loop()
        _set_running_loop(self)
        return previous

    def _leave(self, previous, exc):
        if not self._driving:
            _set_running_loop(previous)
        if exc is not None:
            if self._driving:
                # KeyboardInterrupt, SystemExit: out of run_forever, as asyncio.
                if self._pending_exc is None:
                    self._pending_exc = exc
                self._request_exit()
            else:
                # GLib called us (GLib.MainLoop, GTK, context.iteration()):
                # raising would only reach C, which cannot take it, and leave
                # this loop's state half done.  PyGObject's own callbacks are
                # the model.
                _report_from_glib(exc)

    def _drain(self):
        """The repeating gbridge callback that runs the ready deque.

        gbridge queues it again before each call (so a nested main loop
        started from an asyncio callback keeps running asyncio's work) for
        as long as it returns True: while asyncio has ready callbacks.
        """
        self._iterate()
        # While only callbacks are ready, run a few more asyncio iterations
        # before going back to GLib (which costs more than a batch of one
        # callback): GLib polls after at most _INLINE_BATCHES iterations.
        n = _INLINE_BATCHES
        while n and self._ready and not self._stopping \
                and not self._closed and not self._exit_requested:
            n -= 1
            self._iterate()
        return bool(self._ready) and not self._closed

    def _drain_remote(self):
        self._iterate()

    def _iterate(self):
        """One batch of the ready deque (due timers joined it already)."""
        if self._closed:
            return
        previous = None if self._driving else self._enter()
        exc = None
        try:
            ready = self._ready
            ntodo = len(ready)
            if self._debug or self._slow_threshold:
                for _ in range(ntodo):
                    if not ready:
                        break
                    handle = ready.popleft()
                    if not handle._cancelled:
                        self._run_debug(handle)
            else:
                for _ in range(ntodo):
                    if not ready:
                        break
                    handle = ready.popleft()
                    if not handle._cancelled:
                        handle._run()
        except BaseException as e:
            exc = e
        # As BaseEventLoop._run_once: a failed task's traceback keeps this
        # frame (its f_back chain) once it returns, and so the last handle,
        # which holds the task: a cycle that would delay the task's
        # "exception never retrieved" report until the next collection.
        handle = None
        if self._stopping and self._driving:
            self._request_exit()
        if not self._driving or exc is not None:
            self._leave(previous, exc)

    def _run_debug(self, handle):
        try:
            self._current_handle = handle
            t0 = self.time()
            handle._run()
            dt = self.time() - t0
            if self._debug and dt >= self.slow_callback_duration:
                _base_events.logger.warning('Executing %s took %.3f seconds',
                                            _base_events._format_handle(handle), dt)
            threshold = self._slow_threshold
            if threshold and dt >= threshold:
                self._io_loop.report_slow_callback(_handle_name(handle), dt)
        finally:
            self._current_handle = None
            handle = None    # no cycle through a failed task's traceback

    def _on_fd(self, fd, ev):
        # The hottest path: gbridge calls it for every ready fd, @ev an int.
        key = self._fd_to_key.get(fd)
        if key is None:
            return
        driving = self._driving
        previous = None if driving else self._enter()
        exc = None
        try:
            if ev & _GB_READ_OR_ERROR and key.events & _EVENT_READ:
                reader = key.data[0]
                if reader is not None:
                    if reader._cancelled:
                        self._remove_reader(fd)
                    elif self._debug or self._slow_threshold:
                        self._run_debug(reader)
                    else:
                        reader._run()
                    if ev & _GB_WRITE_OR_ERROR:
                        key = self._fd_to_key.get(fd)
            if (key is not None and ev & _GB_WRITE_OR_ERROR and
                    key.events & _EVENT_WRITE):
                writer = key.data[1]
                if writer is not None:
                    if writer._cancelled:
                        self._remove_writer(fd)
                    elif self._debug or self._slow_threshold:
                        self._run_debug(writer)
                    else:
                        writer._run()
        except BaseException as e:
            exc = e
        key = reader = writer = None    # no cycle through a failed task's traceback
        if driving:
            if self._stopping:
                self._request_exit()
            if exc is not None:
                self._leave(previous, exc)
        else:
            self._leave(previous, exc)

    def _request_exit(self):
        if self._exit_requested:
            return
        self._exit_requested = True
        if self._via_start:
            self._io_loop.stop()
        else:
            self._io_loop.get_context().wakeup()

    def _run_once(self):
        """One iteration of the GLib main context (for code that calls it)."""
        self._kick()
        self._io_loop.get_context().iteration(not self._ready and not self._stopping)

    # Running

    def run_forever(self):
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug)
        old_agen_hooks = sys.get_asyncgen_hooks()
        wakeup_set = False
        pushed = None
        try:
            self._thread_id = threading.get_ident()
            sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                                   finalizer=self._asyncgen_finalizer_hook)
            events._set_running_loop(self)
            # GLib's poll() retries on EINTR, so Python would never see a
            # SIGINT: let its wakeup fd wake our self-pipe instead.
            if threading.current_thread() is threading.main_thread():
                try:
                    old_fd = signal.set_wakeup_fd(self._csock.fileno())
                    if old_fd == -1:
                        wakeup_set = True
                    else:
                        signal.set_wakeup_fd(old_fd)
                except (ValueError, OSError):
                    pass
            # GIO delivers results (and PyGObject's awaitables look) on the
            # thread-default context: make it ours while we run.
            if GLib.MainContext.ref_thread_default() != self._context:
                pushed = self._context
                pushed.push_thread_default()
            self._driving = True
            self._exit_requested = False
            self._kick(force=self._stopping)
            if (self._io_loop.is_running() and
                    self._io_loop.get_context().is_owner()):
                # A gbridge loop is already running this context (we were
                # called from one of its callbacks): iterate it ourselves.
                self._via_start = False
                context = self._io_loop.get_context()
                while not self._exit_requested:
                    context.iteration(True)
            else:
                self._via_start = True
                try:
                    self._io_loop._start_plain()
                except GLib.Error as e:
                    raise RuntimeError(e.message) from None
            exc, self._pending_exc = self._pending_exc, None
            if exc is not None:
                try:
                    raise exc
                finally:
                    exc = None
        finally:
            self._driving = False
            self._via_start = False
            self._exit_requested = False
            self._stopping = False
            self._thread_id = None
            if pushed is not None:
                pushed.pop_thread_default()
            if wakeup_set:
                try:
                    signal.set_wakeup_fd(-1)
                except (ValueError, OSError):
                    pass
            events._set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*old_agen_hooks)

    def close(self):
        if self.is_running():
            raise RuntimeError('Cannot close a running event loop')
        if self._closed:
            return
        super().close()
        self._core.close()
        handler, self._threshold_handler = self._threshold_handler, 0
        if handler:
            try:
                self._io_loop.disconnect(handler)
            except Exception:   # at interpreter shutdown
                pass
        if self._owns_io_loop and not self._io_loop.is_closed():
            self._io_loop.close(False)


from asyncio import base_events as _base_events  # noqa: E402


def new_event_loop():
    """Returns a new :class:`EventLoop` for the calling thread."""
    return EventLoop()


def run(main, *, loop_factory=new_event_loop, debug=None, **run_kwargs):
    """Runs coroutine @main on a new :class:`EventLoop` and closes it, as
    ``asyncio.run()`` does (uvloop.run()'s shape): on Python 3.12 and later
    this is ``asyncio.run(main, loop_factory=new_event_loop, ...)``, whose
    other keyword arguments it passes on; on 3.11, through an
    ``asyncio.Runner``, which takes none.
    """
    if sys.version_info >= (3, 12):
        return asyncio.run(main, loop_factory=loop_factory, debug=debug,
                           **run_kwargs)
    if run_kwargs:
        raise TypeError('run() got unexpected keyword arguments %s (Python 3.11 '
                        'asyncio.Runner takes none)' % ', '.join(sorted(run_kwargs)))
    with asyncio.Runner(loop_factory=loop_factory, debug=debug) as runner:
        return runner.run(main)


# Event loop policies are deprecated from Python 3.14 and go in 3.16; the
# entry points above need none.
_POLICIES_DEPRECATED = sys.version_info >= (3, 14)
_POLICY_ADVICE = ('use gbridge.asyncio.run(main), asyncio.run(main, '
                  'loop_factory=gbridge.asyncio.EventLoop) or '
                  'asyncio.Runner(loop_factory=gbridge.asyncio.EventLoop)')


def _warn_policy(what):
    import warnings
    warnings.warn('%s is deprecated from Python 3.14, as asyncio\'s event loop '
                  'policies are: %s' % (what, _POLICY_ADVICE),
                  DeprecationWarning, stacklevel=3)


class EventLoopPolicy(unix_events._UnixDefaultEventLoopPolicy):
    """asyncio's default policy, making :class:`EventLoop` loops.

    For Python 3.11 to 3.13; deprecated from 3.14 (as asyncio's policies
    are): use :func:`run` or ``loop_factory=EventLoop``.
    """

    _loop_factory = EventLoop

    def __init__(self):
        if _POLICIES_DEPRECATED:
            _warn_policy('gbridge.asyncio.EventLoopPolicy')
        super().__init__()


def install():
    """Makes gbridge's policy asyncio's event loop policy.

    For Python 3.11 to 3.13; deprecated from 3.14 (as asyncio's policies
    are): use :func:`run` or ``loop_factory=EventLoop``.
    """
    if not _POLICIES_DEPRECATED:
        asyncio.set_event_loop_policy(EventLoopPolicy())
        return
    _warn_policy('gbridge.asyncio.install()')
    # One warning, gbridge's, which says what to use instead: not asyncio's
    # too.  (Policies go in 3.16, and this with them.)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        policy = EventLoopPolicy()
    getattr(events, '_set_event_loop_policy', asyncio.set_event_loop_policy)(policy)


class ContextRunner:
    """Runs a GLib main context on an already running asyncio loop.

    The reverse of :class:`EventLoop` (Tornado's ``AsyncIOMainLoop`` idea):
    the asyncio loop (the default one, uvloop, any) waits, and GLib dispatches
    when the descriptors and deadline that a :class:`Gbridge.ContextDriver`
    hands over are due.  Everything on the context runs: a
    ``Gbridge.IOLoop`` on it, plain GLib sources, GIO operations.

    Make one with :func:`run_context_on`; :meth:`close` gives the context back.
    """

    def __init__(self, loop, context=None):
        self._loop = loop
        self._driver = Gbridge.ContextDriver.new(context)
        try:
            self._driver.start()
        except GLib.Error as e:
            raise RuntimeError(e.message) from None
        self._readers = set()
        self._writers = set()
        self._timer = None
        self._dispatch_handle = None
        self._closed = False
        self._refresh()

    @property
    def context(self):
        """The :class:`GLib.MainContext` being run."""
        return self._driver.get_context()

    def _refresh(self):
        driver = self._driver
        timeout = driver.prepare()
        readers, writers = set(), set()
        for i in range(driver.get_n_fds()):
            fd, events = driver.get_fd(i)
            events = int(events)
            if events & _GB_READ:
                readers.add(fd)
            if events & _GB_WRITE:
                writers.add(fd)
        loop = self._loop
        for fd in self._readers - readers:
            loop.remove_reader(fd)
        for fd in self._writers - writers:
            loop.remove_writer(fd)
        for fd in readers - self._readers:
            loop.add_reader(fd, self._on_ready, fd, _GB_READ)
        for fd in writers - self._writers:
            loop.add_writer(fd, self._on_ready, fd, _GB_WRITE)
        self._readers, self._writers = readers, writers
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if timeout == 0:
            self._schedule_dispatch()
        elif timeout > 0:
            self._timer = loop.call_later(timeout / 1000, self._dispatch)

    def _on_ready(self, fd, events):
        self._driver.set_ready(fd, Gbridge.IOEvents(events))
        self._schedule_dispatch()

    def _schedule_dispatch(self):
        # Once per asyncio iteration, after every ready descriptor was told.
        if self._dispatch_handle is None:
            self._dispatch_handle = self._loop.call_soon(self._dispatch)

    def _dispatch(self):
        self._dispatch_handle = None
        if self._closed:
            return
        self._driver.dispatch()
        if not self._closed:
            self._refresh()

    def wakeup(self):
        """Takes sources attached outside a GLib dispatch into account now."""
        if not self._closed:
            self._schedule_dispatch()

    def close(self):
        """Stops running the context and gives up its ownership."""
        if self._closed:
            return
        self._closed = True
        for fd in self._readers:
            self._loop.remove_reader(fd)
        for fd in self._writers:
            self._loop.remove_writer(fd)
        self._readers = self._writers = set()
        if self._timer is not None:
            self._timer.cancel()
        if self._dispatch_handle is not None:
            self._dispatch_handle.cancel()
        self._driver.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_context_on(loop=None, context=None):
    """Runs @context (default: the global default one) on asyncio @loop.

    @loop defaults to the running loop.  Returns a :class:`ContextRunner`;
    call its ``close()`` (or use it as a context manager) to stop.
    """
    if loop is None:
        loop = asyncio.get_running_loop()
    return ContextRunner(loop, context)
