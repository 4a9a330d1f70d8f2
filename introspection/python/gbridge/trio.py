# SPDX-License-Identifier: LGPL-2.1-or-later
"""Trio on a GLib main context, through Trio's guest mode.

Trio keeps its own scheduler and does its own I/O waiting (in a helper
thread, as guest mode does); the GLib side only runs Trio's "ticks".  Every
tick reaches the context through ``Gbridge.IOLoop.add_callback``, which is
thread-safe, wakes the context and is dispatched by any iteration of it:
``run()``'s own loop, a ``GLib.MainLoop``, GTK, and nested main loops
(a modal window's) started from a GTK or gbridge callback.  (A fresh
``GLib.idle_add`` source per tick would instead wait behind every source of
a higher priority, and GTK's redraw and input have one.)

Two entry points:

``run(async_fn, *args, loop=None)``
    ``trio.run()``'s shape: runs the gbridge loop until ``async_fn``
    finishes, returns what it returned or raises what it raised.
``start(async_fn, *args, loop=None, done=None)``
    Starts Trio as a guest of a loop that something else runs
    (``Gtk.Application.run()``, a ``GLib.MainLoop``) and returns a
    :class:`GuestRun`: ``cancel()`` it, ``close()`` it (cancel, then run the
    context until Trio has finished: in the application's ``shutdown``),
    read its ``result()`` in ``done(run)``.

Trio in guest mode must finish before its host loop goes away, or Trio
warns that the run got abandoned.  ``GuestRun.close()`` is the way; runs
still going when the interpreter exits are closed by an ``atexit``
handler.  After the gbridge loop was closed under a live run, ``close()``
runs Trio's remaining ticks itself, in the calling thread.

Ctrl-C: Trio receives ``KeyboardInterrupt`` at its next checkpoint
(``restrict_keyboard_interrupt_to_checkpoints=True``), when its SIGINT
handler is installed, which Trio does if Python's default handler was in
place: in ``run()``, the main task gets ``KeyboardInterrupt``, the run
unwinds (cancelling the other tasks) and ``run()`` raises it, as
``trio.run()`` does (in a nursery's exception group when strict exception
groups are on: ``except* KeyboardInterrupt`` catches it either way).  Raising it at
any bytecode instead could raise it in the GLib callback that carries a
Trio tick, and lose the tick.  Started inside ``Gtk.Application.run()``
or ``GLib.MainLoop.run()`` (from ``activate``, a callback), Trio finds
PyGObject's SIGINT handler and leaves it: Ctrl-C quits the loop, and
``close()`` in the application's ``shutdown`` cancels Trio.

Signals: Trio leaves Python's wakeup fd to the host
(``host_uses_signal_set_wakeup_fd=True``): PyGObject's ``run()`` methods
set one, and so does :func:`run`.  Had Trio set its own, it would restore
the previous one when it finishes, which need not nest with the host's.
"""

import atexit
import collections
import contextlib
import signal
import socket
import sys
import threading

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge  # noqa: E402

import outcome  # noqa: E402  (Trio's own dependency)
import trio  # noqa: E402
import trio.lowlevel  # noqa: E402

__all__ = ['run', 'start', 'GuestRun']

# Runs started with start() and not finished: closed at interpreter exit.
_live = set()
_live_lock = threading.Lock()


def _choose_loop(private_off_main_thread):
    """The gbridge loop for loop=None, and whether it is ours to close.

    The calling thread's current loop; else the loop of its thread-default
    context (the global default's for the main thread and GTK).  run() on
    another thread with no context of its own gets a private loop, as
    gbridge.asyncio does: the default context belongs to the main thread.
    """
    loop = Gbridge.IOLoop.get_current()
    if loop is not None:
        return loop, False
    context = GLib.MainContext.ref_thread_default()
    if context == GLib.MainContext.default():
        if (private_off_main_thread and
                threading.current_thread() is not threading.main_thread()):
            return Gbridge.IOLoop.new(), True
        return Gbridge.IOLoop.get_default(), False
    return Gbridge.IOLoop.new_for_context(context), True


@contextlib.contextmanager
def _wake_on_signals(loop):
    """Python's signal wakeup fd, read by a handler on @loop, while run()
    runs, unless something has one already: a signal then wakes GLib's
    poll, and Python runs the signal handler (Trio's SIGINT handler, the
    handlers of ``trio.open_signal_receiver()``) on the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read, write = socket.socketpair()
    with read, write:
        read.setblocking(False)
        write.setblocking(False)
        try:
            old = signal.set_wakeup_fd(write.fileno(), warn_on_full_buffer=False)
        except ValueError:
            yield
            return
        if old != -1:
            signal.set_wakeup_fd(old)     # the host's stays
            yield
            return

        def drain(*unused):
            try:
                while read.recv(4096):
                    pass
            except OSError:
                pass

        loop.add_handler(read.fileno(), Gbridge.IOEvents.READ, drain)
        try:
            yield
        finally:
            loop.remove_handler(read.fileno())
            current = signal.set_wakeup_fd(-1)
            if current != write.fileno():
                signal.set_wakeup_fd(current)   # someone else's since


class _Tick:
    """One of Trio's ticks on its way through the loop.  A closed loop
    drops it unrun (at once, or when it closes with the tick pending), and
    PyGObject releases it then: it goes to the run's orphans, which
    :meth:`GuestRun.close` runs itself, so Trio can still finish."""

    __slots__ = ('run', 'fn', 'ran')

    def __init__(self, run, fn):
        self.run = run
        self.fn = fn
        self.ran = False

    def __call__(self, *unused):
        self.ran = True
        self.run._tick(self.fn)

    def __del__(self):
        if not self.ran:
            self.run._orphan(self.fn)


def _report(run, exc):
    """An exception nobody asked the run for: reported as PyGObject
    reports one that escapes a GLib callback (SystemExit ends the
    process)."""
    try:
        print('gbridge.trio: %r failed:' % (run,), file=sys.stderr)
    except Exception:
        pass
    from gbridge.asyncio import _report_from_glib
    _report_from_glib(exc)


class GuestRun:
    """A Trio run hosted by a :class:`Gbridge.IOLoop`, as :func:`start`
    returns it.  Its reading side is asyncio's future's: ``done()``,
    ``cancelled()``, ``result()``, ``exception()``.
    """

    def __init__(self, loop, done=None, report=True):
        self._loop = loop
        self._done_callback = done
        self._report = report
        self._finished = threading.Event()
        self._value = None
        self._exception = None
        self._retrieved = False
        self._scope = None
        self._cancel_requested = False
        self._cancelled = False
        self._stop_loop = False
        self._name = None
        # Ticks a closed loop dropped, and the thread waiting for them.
        self._orphans = collections.deque()
        self._orphaned = threading.Condition()

    @property
    def loop(self):
        """The :class:`Gbridge.IOLoop` that runs Trio's ticks."""
        return self._loop

    def __repr__(self):
        if not self._finished.is_set():
            state = 'running'
        elif self._cancelled:
            state = 'cancelled'
        elif self._exception is not None:
            state = 'failed: %r' % (self._exception,)
        else:
            state = 'done'
        return '<gbridge.trio.GuestRun %s %s>' % (self._name, state)

    # Starting

    def _start(self, async_fn, args, clock, instruments,
               strict_exception_groups):
        loop = self._loop
        if loop.is_closed():
            raise RuntimeError('the gbridge loop is closed')
        self._name = getattr(async_fn, '__qualname__', None) or repr(async_fn)

        def run_sync_soon(fn):
            # From Trio's I/O thread too: add_callback is thread-safe and
            # wakes the context.  A closed loop drops the tick, which then
            # waits for close() (see _Tick).
            loop.add_callback(_Tick(self, fn))

        options = {}
        if clock is not None:
            options['clock'] = clock
        if instruments:
            options['instruments'] = instruments
        if strict_exception_groups is not None:
            options['strict_exception_groups'] = strict_exception_groups
        trio.lowlevel.start_guest_run(
            self._main, async_fn, args,
            run_sync_soon_threadsafe=run_sync_soon,
            done_callback=self._on_done,
            # The host's wakeup fd (PyGObject's in MainLoop.run() and
            # Application.run(), run()'s own) wakes GLib on a signal; Trio's
            # would be set and restored at times that do not nest with the
            # host's.
            host_uses_signal_set_wakeup_fd=True,
            restrict_keyboard_interrupt_to_checkpoints=True,
            **options)

    def _tick(self, fn):
        try:
            fn()
        except BaseException as e:
            # Trio lets nothing escape a tick but a broken run: end it, so
            # that whoever waits for it does not wait forever.
            if self._finished.is_set():
                _report(self, e)
            else:
                self._on_done(outcome.Error(e))

    def _orphan(self, fn):
        with self._orphaned:
            self._orphans.append(fn)
            self._orphaned.notify()

    def _run_orphans(self, timeout):
        """On a closed loop: runs the ticks it dropped, here, until Trio
        finished (or nothing came for @timeout seconds)."""
        while not self._finished.is_set():
            with self._orphaned:
                if not self._orphans and not self._orphaned.wait_for(
                        lambda: self._orphans, timeout):
                    raise RuntimeError('the gbridge loop was closed and Trio '
                                       'did not finish')
                fn = self._orphans.popleft()
            self._tick(fn)

    async def _main(self, async_fn, args):
        with trio.CancelScope() as scope:
            self._scope = scope
            if self._cancel_requested:   # cancel() before the first tick
                scope.cancel()
            return await async_fn(*args)
        # Only when cancel() cancelled async_fn and the cancellation left it.
        self._cancelled = True
        return None

    def _on_done(self, outcome):
        # Trio's done_callback, on the loop's thread, after Trio finished.
        try:
            self._value = outcome.unwrap()
        except BaseException as e:
            self._exception = e
        outcome = None
        self._scope = None
        self._finished.set()
        with _live_lock:
            _live.discard(self)
        if self._stop_loop:
            self._loop.stop()
        if self._done_callback is not None:
            try:
                self._done_callback(self)
            except BaseException as e:
                _report(self, e)
        if (self._report and self._exception is not None and
                not self._retrieved):
            self._retrieved = True
            _report(self, self._exception)

    # asyncio's future's reading side

    def done(self):
        """Whether Trio has finished."""
        return self._finished.is_set()

    def cancelled(self):
        """Whether :meth:`cancel` ended the async function (its
        cancellation propagated out of it)."""
        return self._cancelled

    def result(self):
        """What the async function returned (``None`` when :meth:`cancel`
        ended it); raises what it raised, ``RuntimeError`` if Trio has not
        finished."""
        if not self._finished.is_set():
            raise RuntimeError('the Trio run has not finished')
        self._retrieved = True
        if self._exception is not None:
            raise self._exception
        return self._value

    def exception(self):
        """What the async function raised, or ``None``; ``RuntimeError`` if
        Trio has not finished."""
        if not self._finished.is_set():
            raise RuntimeError('the Trio run has not finished')
        self._retrieved = True
        return self._exception

    # Ending

    def cancel(self):
        """Cancels the async function (a cancel scope around it), from any
        thread.  Trio then finishes once its tasks have unwound, as long as
        something runs the loop; :meth:`close` runs it.  Returns False if
        Trio had already finished."""
        if self._finished.is_set():
            return False
        self._cancel_requested = True
        if self._scope is not None:
            if self._loop.get_context().is_owner() or self._loop.is_closed():
                self._cancel_now()
            else:
                self._loop.add_callback(lambda *unused: self._cancel_now())
        return True

    def _cancel_now(self):
        scope = self._scope
        if scope is not None:
            scope.cancel()

    def wait(self):
        """Runs the loop's context until Trio has finished (or, when
        another thread is running it, waits), then returns
        :meth:`result`."""
        self._run_until_finished()
        return self.result()

    def close(self, timeout=None):
        """Cancels the run and runs the loop's context until Trio has
        finished: what an application's ``shutdown`` handler calls.  Does
        not raise the run's exception (``done`` or the report got it).
        @timeout bounds the wait only when another thread runs the
        context."""
        if self._finished.is_set():
            return
        self.cancel()
        self._run_until_finished(timeout)

    def _run_until_finished(self, timeout=None):
        if self._finished.is_set():
            return
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            pass
        else:
            raise RuntimeError('a Trio task cannot wait for its own run '
                               '(await what you wait for instead)')
        context = self._loop.get_context()
        if context.acquire():
            try:
                while not self._finished.is_set():
                    if self._loop.is_closed():
                        # Trio's ticks come here now; an I/O wait brings
                        # the next one within Trio's timeout.
                        self._run_orphans(30 if timeout is None else timeout)
                        break
                    context.iteration(True)
            finally:
                context.release()
        else:
            # Another thread runs the context: it runs Trio too.
            self._finished.wait(timeout)


def start(async_fn, *args, loop=None, done=None, clock=None, instruments=(),
          strict_exception_groups=None):
    """Starts ``async_fn(*args)`` in Trio as a guest of @loop, which
    something else runs (``Gtk.Application.run()``, a ``GLib.MainLoop``),
    and returns a :class:`GuestRun` at once.

    :param loop: a :class:`Gbridge.IOLoop`; by default the calling
        thread's current loop, else the loop of its thread-default context
        (``Gbridge.IOLoop.get_default()`` on the main thread: GTK's).
    :param done: called as ``done(run)`` on the loop when Trio has
        finished; ``run.result()`` gives the outcome.  An exception that
        neither ``done`` nor anyone else asked for is printed through
        ``sys.excepthook``.
    :param clock, instruments, strict_exception_groups: as for
        ``trio.run()`` (``None``: Trio's default).

    One Trio run per thread at a time, as Trio allows.
    """
    if loop is None:
        loop, _ = _choose_loop(False)
    run = GuestRun(loop, done)
    with _live_lock:
        _live.add(run)
    try:
        run._start(async_fn, args, clock, instruments, strict_exception_groups)
    except BaseException:
        with _live_lock:
            _live.discard(run)
        raise
    return run


def run(async_fn, *args, loop=None, clock=None, instruments=(),
        strict_exception_groups=None):
    """Runs ``async_fn(*args)`` in Trio on a gbridge loop until it
    finishes, and returns what it returned or raises what it raised, as
    ``trio.run()`` does.

    The loop is started (``Gbridge.IOLoop.start()``) and stopped when Trio
    finishes; called from a callback of a running context, it iterates that
    context instead.  By default the loop is the calling thread's current
    one, else its thread-default context's (the global default context's on
    the main thread); on another thread without one, a private loop, closed
    at the end.  Other keyword arguments are ``trio.run()``'s.

    ``KeyboardInterrupt`` reaches the main task at its next checkpoint;
    the run unwinds and ``run()`` raises it.
    """
    owns = False
    if loop is None:
        loop, owns = _choose_loop(True)
    guest = GuestRun(loop, report=False)
    try:
        context = loop.get_context()
        nested = context.is_owner()
        if loop.is_running() and not nested:
            raise RuntimeError('the gbridge loop is running in another thread')
        guest._start(async_fn, args, clock, instruments,
                     strict_exception_groups)
        try:
            with _wake_on_signals(loop):
                if not nested:
                    guest._stop_loop = True
                    try:
                        loop._start_plain()
                    finally:
                        guest._stop_loop = False
                # Nested in a callback of the context, or the loop was
                # stopped by someone else: Trio goes on until it finishes.
                guest._run_until_finished()
        except BaseException:
            # Never leave Trio behind half run.
            if not guest.done():
                guest.close()
            raise
        return guest.result()
    finally:
        if owns and not loop.is_closed():
            loop.close(False)


def _close_at_exit():
    with _live_lock:
        runs = list(_live)
    for r in runs:
        try:
            r.close(timeout=5)
        except Exception as e:
            _report(r, e)


atexit.register(_close_at_exit)
