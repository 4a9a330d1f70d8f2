# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Gbridge from Python under hostile use: every kind of exception raised from
# every kind of callback, the loop closed or dropped from inside its own
# callbacks and destroy-notifies, other threads adding work while the loop is
# closed, descriptors that run out (EMFILE), a C reactor fed bad descriptors
# and bad delays, and GLib contexts driven by asyncio or Twisted that are
# stopped from inside their own dispatch.
#
# What PyGObject does with an exception raised in a callback called from C
# (pinned here, as it is what gbridge's users get on the raw Gbridge API):
#
# - Exception, KeyboardInterrupt, GeneratorExit and any other BaseException
#   subclass: the traceback is printed to stderr, the callback returns as if
#   it had returned normally, and the loop goes on; start() does not return
#   and does not raise because of it.
# - SystemExit: the process exits at once with the exception's code (atexit
#   handlers run; `finally` blocks around start() do not).
# - An exception raised in __del__ of a callable or its user data, that is
#   in a destroy-notify: printed as "Exception ignored in", SystemExit
#   included; the loop goes on.

import gc
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gbridge', '1')
from gi.repository import GLib, GObject, Gbridge  # noqa: E402

from gbridgetest import Watchdog, run_loop  # noqa: E402


class CustomBase(BaseException):
    """A BaseException that is none of Python's own."""


# Every kind of callback the raw Gbridge API calls: each arms the loop so that
# @cb is called once from that kind of callback. @cb takes no argument.
def _arm_add_callback(loop, cb, fds):
    loop.add_callback(cb)


def _arm_spawn_callback(loop, cb, fds):
    loop.spawn_callback(cb)


def _arm_call_later(loop, cb, fds):
    loop.call_later(0, cb)


def _arm_call_at(loop, cb, fds):
    loop.call_at(loop.time(), cb)


def _arm_add_timeout(loop, cb, fds):
    loop.add_timeout(loop.time(), cb)


def _arm_repeating(loop, cb, fds):
    def repeat():
        cb()
        return GLib.SOURCE_REMOVE
    loop.add_repeating_callback(repeat)


def _arm_fd_handler(loop, cb, fds):
    r, w = fds[0], fds[1]

    def on_readable(fd, events):
        os.read(fd, 1)
        loop.remove_handler(fd)
        cb()
    loop.add_handler(r, Gbridge.IOEvents.READ, on_readable)
    os.write(w, b'x')


def _arm_periodic(loop, cb, fds):
    def tick():
        pc.stop()
        cb()
    pc = Gbridge.PeriodicCallback.new(loop, 0.001, tick)
    pc.start()
    # The periodic callback keeps itself alive while running; keep the
    # wrapper too, for the stop() in tick.
    fds.append(pc)


def _arm_done_callback(loop, cb, fds):
    f = Gbridge.Future.new_for_loop(loop)
    f.add_done_callback(lambda fut: cb())
    f.resolve(1)


def _arm_completion_notify(loop, cb, fds):
    # A completion notify runs in resolve(): resolve from a callback.
    f = Gbridge.Future.new_for_loop(loop)
    f.add_completion_notify(lambda fut: cb())
    loop.add_callback(f.resolve, 1)


def _arm_chain(loop, cb, fds):
    src = Gbridge.Future.new_for_loop(loop)
    dst = Gbridge.Future.new_for_loop(loop)
    src.chain(dst)
    dst.add_done_callback(lambda fut: cb())
    src.resolve(1)


def _arm_add_future(loop, cb, fds):
    f = Gbridge.Future.new_for_loop(loop)
    loop.add_future(f, lambda fut: cb())
    f.fail(GLib.Error('failed on purpose'))


def _arm_signal(loop, cb, fds):
    def on_signal(signum):
        loop.remove_signal_handler(signal.SIGUSR2)
        cb()
    loop.add_signal_handler(signal.SIGUSR2, on_signal)
    os.kill(os.getpid(), signal.SIGUSR2)


ARMS = {
    'add_callback': _arm_add_callback,
    'spawn_callback': _arm_spawn_callback,
    'call_later': _arm_call_later,
    'call_at': _arm_call_at,
    'add_timeout': _arm_add_timeout,
    'repeating_callback': _arm_repeating,
    'fd_handler': _arm_fd_handler,
    'periodic_callback': _arm_periodic,
    'done_callback': _arm_done_callback,
    'completion_notify': _arm_completion_notify,
    'chain': _arm_chain,
    'add_future': _arm_add_future,
    'signal_handler': _arm_signal,
}

EXCEPTIONS = {
    'Exception': ValueError,
    'KeyboardInterrupt': KeyboardInterrupt,
    'GeneratorExit': GeneratorExit,
    'BaseException': CustomBase,
}


@pytest.fixture
def fds():
    extra = list(os.pipe())
    yield extra
    for fd in extra:
        if isinstance(fd, int):
            try:
                os.close(fd)
            except OSError:
                pass


class Driver:
    """Runs a Gbridge.IOLoop by its own start() or by a GLib.MainLoop on its
    context; stop() works from inside a callback for both."""

    def __init__(self, loop, kind):
        self.loop = loop
        self.kind = kind
        self.main_loop = GLib.MainLoop.new(loop.get_context(), False)

    def stop(self):
        if self.kind == 'start':
            self.loop.stop()
        else:
            self.main_loop.quit()

    def run(self):
        if self.kind == 'start':
            run_loop(self.loop)
            return
        with Watchdog(self.loop, 10.0) as dog:
            # The watchdog's add_callback(loop.stop) does not quit a
            # GLib.MainLoop: quit it from a callback of the loop as well.
            dog.loop = _QuitBoth(self.loop, self.main_loop)
            self.main_loop.run()
        assert not dog.fired


class _QuitBoth:
    def __init__(self, loop, main_loop):
        self.loop, self.main_loop = loop, main_loop

    def stop(self):
        self.main_loop.quit()

    def add_callback(self, func):
        self.loop.add_callback(self.main_loop.quit)


@pytest.fixture(params=['start', 'GLib.MainLoop'])
def driver(request, loop):
    return Driver(loop, request.param)


# 1. Exceptions from callbacks

@pytest.mark.parametrize('exc_name', sorted(EXCEPTIONS))
@pytest.mark.parametrize('kind', sorted(ARMS))
def test_exception_is_reported_and_the_loop_goes_on(loop, driver, fds, capfd,
                                                     kind, exc_name, request):
    if (exc_name == 'KeyboardInterrupt' and sys.version_info >= (3, 14) and
            not os.environ.get('GBRIDGE_HOSTILE_CHILD')):
        # Python 3.14 ends a process whose PyErr_Print() printed a
        # KeyboardInterrupt (PyGObject's report) by SIGINT, once it is done:
        # run the case in a pytest of its own, and judge it by its report.
        proc = subprocess.run(
            [sys.executable, '-B', '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
             '%s::%s' % (__file__, request.node.name)],
            env=dict(os.environ, GBRIDGE_HOSTILE_CHILD='1'),
            capture_output=True, text=True, timeout=60)
        assert '1 passed' in proc.stdout, proc.stdout + proc.stderr
        assert proc.returncode in (0, -signal.SIGINT, 130), proc.returncode
        return
    exc_type = EXCEPTIONS[exc_name]
    log = []

    def raising():
        log.append('raised')
        # Queued before raising: the loop must still run it.
        loop.add_callback(after)
        raise exc_type('hostile %s from %s' % (exc_name, kind))

    def after():
        log.append('after')
        driver.stop()

    ARMS[kind](loop, raising, fds)
    driver.run()
    assert log == ['raised', 'after']
    # Not wedged: a second run dispatches as usual.
    loop.add_callback(log.append, 'second run')
    loop.add_callback(driver.stop)
    driver.run()
    assert log[-1] == 'second run'
    err = capfd.readouterr().err
    assert 'Traceback (most recent call last)' in err
    assert 'hostile %s from %s' % (exc_name, kind) in err


_SYSTEM_EXIT_SCRIPT = textwrap.dedent('''
    import atexit, os, sys
    sys.path[:0] = {path!r}
    import test_hostile as th
    from gi.repository import Gbridge
    atexit.register(lambda: print('atexit ran', flush=True))
    loop = Gbridge.IOLoop.new()
    driver = th.Driver(loop, {driver!r})
    fds = list(os.pipe())

    def raising():
        loop.add_callback(print, 'after: must not run')
        sys.exit(7)

    th.ARMS[{kind!r}](loop, raising, fds)
    loop.call_later(5, driver.stop)
    try:
        driver.run()
        print('run returned', flush=True)
    finally:
        print('finally ran', flush=True)
''')


def _run_script(script, timeout=10):
    path = [os.path.dirname(os.path.abspath(__file__))] + sys.path
    return subprocess.run([sys.executable, '-c', script.replace('{path!r}', repr(path))],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize('kind', sorted(ARMS))
@pytest.mark.parametrize('driver_kind', ['start', 'GLib.MainLoop'])
def test_system_exit_exits_the_process(kind, driver_kind):
    script = _SYSTEM_EXIT_SCRIPT.replace('{driver!r}', repr(driver_kind)) \
                                .replace('{kind!r}', repr(kind))
    proc = _run_script(script)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == 'atexit ran\n'
    assert 'Traceback' not in proc.stderr


class Unraisable(list):
    """Collects the exceptions Python reports as "Exception ignored in"
    (raised in __del__, that is in a destroy-notify). Entered in the test
    body: pytest replaces sys.unraisablehook around each test call."""

    def __enter__(self):
        self.saved = sys.unraisablehook
        sys.unraisablehook = lambda u: self.append(u.exc_value)
        return self

    def __exit__(self, *exc):
        sys.unraisablehook = self.saved
        return False


class _RaisingOnDel:
    def __init__(self, exc_type, log):
        self.exc_type = exc_type
        self.log = log

    def __call__(self, *args):
        self.log.append('called')

    def __del__(self):
        self.log.append('destroyed')
        raise self.exc_type('hostile raise in __del__')


@pytest.mark.parametrize('exc_type', [ValueError, KeyboardInterrupt, SystemExit,
                                      GeneratorExit, CustomBase])
@pytest.mark.parametrize('where', ['callable', 'user_data'])
def test_destroy_notify_raising_is_reported(loop, driver, exc_type, where):
    log = []
    if where == 'callable':
        loop.add_callback(_RaisingOnDel(exc_type, log))
    else:
        loop.add_callback(lambda data: log.append('called'),
                          _RaisingOnDel(exc_type, log))
    loop.add_callback(lambda: loop.add_callback(driver.stop))
    with Unraisable() as unraisable:
        driver.run()
        gc.collect()
    assert log == ['called', 'destroyed']
    loop.add_callback(log.append, 'second run')
    loop.add_callback(driver.stop)
    driver.run()
    assert log[-1] == 'second run'
    assert [type(e) for e in unraisable] == [exc_type]
    assert str(unraisable[0]) == 'hostile raise in __del__'


def test_destroy_notify_raising_at_close(loop):
    log = []
    loop.add_callback(_RaisingOnDel(ValueError, log))
    loop.call_later(10, _RaisingOnDel(KeyboardInterrupt, log))
    with Unraisable() as unraisable:
        loop.close(False)
        gc.collect()
    assert log == ['destroyed', 'destroyed']
    assert sorted(type(e).__name__ for e in unraisable) == ['KeyboardInterrupt', 'ValueError']


# Ctrl-C while the loop sleeps. GLib.MainLoop.run() (PyGObject's override)
# quits and raises KeyboardInterrupt; Gbridge.IOLoop.start() has nothing of
# the kind, so the signal stays pending in Python until some Python callback
# runs, and that callback, whatever it is, gets the KeyboardInterrupt, which
# PyGObject prints and swallows: the loop goes on and the interrupted
# callback's work is lost.
_SIGINT_SCRIPT = textwrap.dedent('''
    import os, signal, sys, threading
    sys.path[:0] = {path!r}
    import gi
    gi.require_version('Gbridge', '1')
    from gi.repository import GLib, Gbridge
    runner = {runner!r}
    loop = Gbridge.IOLoop.new()
    main_loop = GLib.MainLoop.new(loop.get_context(), False)
    stop = loop.stop if runner == 'start' else main_loop.quit
    started = threading.Event()
    ran = []

    def attack():
        started.wait()
        # Nothing Python runs on the loop while it sleeps in poll().
        threading.Event().wait(0.2)
        os.kill(os.getpid(), signal.SIGINT)
        threading.Event().wait(0.2)
        # A Python callback that should find the loop stopped by now.
        loop.add_callback(lambda: ran.append('callback'))
        threading.Event().wait(0.2)
        loop.add_callback(stop)
        threading.Event().wait(0.2)
        loop.stop()
        loop.add_callback(main_loop.quit)

    threading.Thread(target=attack, daemon=True).start()
    loop.add_callback(started.set)
    try:
        loop.start() if runner == 'start' else main_loop.run()
        print('returned', ran, flush=True)
    except KeyboardInterrupt:
        print('KeyboardInterrupt', ran, flush=True)
''')


@pytest.mark.parametrize('runner', [
    'GLib.MainLoop',
    # As GLib.MainLoop.run(): the loop stops and start() raises it.
    'start',
])
def test_sigint_while_idle_raises_keyboard_interrupt(runner):
    proc = _run_script(_SIGINT_SCRIPT.replace('{runner!r}', repr(runner)))
    assert proc.returncode == 0, proc.stderr
    # GLib.MainLoop on a private context only quits once Python code runs
    # again (the callback), but it does raise KeyboardInterrupt.
    assert proc.stdout.startswith('KeyboardInterrupt'), proc.stdout + proc.stderr


# 2. Closing and dropping the loop from inside its own callbacks

class Counted:
    """A callable that counts its calls and its destroy-notify (its last
    reference going away) in @tally."""

    def __init__(self, tally, name, then=None):
        self.tally = tally
        self.name = name
        self.then = then

    def __call__(self, *args):
        self.tally[self.name + ' called'] = self.tally.get(self.name + ' called', 0) + 1
        if self.then is not None:
            self.then()
        return False

    def __del__(self):
        self.tally[self.name + ' destroyed'] = self.tally.get(self.name + ' destroyed', 0) + 1


def _pending_registrations(loop, tally, fds):
    """Registrations that are still pending when the loop closes."""
    loop.call_later(3600, Counted(tally, 'timer'))
    r, w = os.pipe()  # never readable
    fds += [r, w]
    loop.add_handler(r, Gbridge.IOEvents.READ, Counted(tally, 'handler'))
    loop.add_timeout(loop.time() + 3600, Counted(tally, 'timeout'))
    f = Gbridge.Future.new_for_loop(loop)
    f.add_done_callback(Counted(tally, 'done callback'))
    return r, f


def _assert_each_destroyed_once(tally, names):
    gc.collect()
    for name in names:
        assert tally.get(name + ' destroyed') == 1, (name, tally)
        assert tally.get(name + ' called', 0) == 0, (name, tally)


@pytest.mark.parametrize('kind', sorted(ARMS))
def test_close_from_inside_a_callback_is_refused(loop, driver, fds, kind):
    tally = {}
    outcome = []

    def close_inside():
        try:
            loop.close(True)
            outcome.append('closed')
        except GLib.Error as e:
            outcome.append((e.domain, e.code))
        loop.add_callback(driver.stop)

    pending_fd, future = _pending_registrations(loop, tally, fds)
    ARMS[kind](loop, close_inside, fds)
    driver.run()
    assert outcome == [(GLib.quark_to_string(Gbridge.io_loop_error_quark()),
                        int(Gbridge.IOLoopError.RUNNING))]
    assert not loop.is_closed()
    assert loop.close(False)
    _assert_each_destroyed_once(tally, ['timer', 'handler', 'timeout'])
    os.fstat(pending_fd)  # close(False) left the descriptor open
    # A pending future of a closed loop keeps its done-callbacks; completed,
    # it drops them uncalled.
    assert tally.get('done callback destroyed') is None
    assert future.resolve(1)
    _assert_each_destroyed_once(tally, ['done callback'])


def test_close_from_a_completion_notify_outside_dispatch(loop, fds):
    """A completion notify runs in resolve(): outside a dispatch it may
    close the loop, and its future's done-callbacks are then dropped."""
    tally = {}
    outcome = []
    f = Gbridge.Future.new_for_loop(loop)
    f.add_done_callback(Counted(tally, 'done callback'))
    f.add_completion_notify(lambda fut: outcome.append(loop.close(True)))
    pending_fd, future = _pending_registrations(loop, tally, fds)
    assert f.resolve(1)
    assert outcome == [True]
    _assert_each_destroyed_once(tally, ['timer', 'handler', 'timeout', 'done callback'])
    with pytest.raises(OSError):
        os.fstat(pending_fd)  # close(True) closed the handler's descriptor


class _ClosesOnDel:
    def __init__(self, loop, outcome):
        self.loop = loop
        self.outcome = outcome

    def __call__(self, *args):
        self.outcome.append('called')
        return False

    def __del__(self):
        try:
            self.outcome.append(self.loop.close(False))
        except GLib.Error as e:
            self.outcome.append(e.code)


@pytest.mark.parametrize('how', ['remove_timeout', 'remove_handler',
                                 'remove_signal_handler', 'repeating_done'])
def test_close_from_a_destroy_notify_outside_dispatch(loop, fds, how):
    """A destroy-notify run by a remove_*() call outside any dispatch may
    close the loop: the other registrations are dropped exactly once, and
    the remove_*() that ran it returns normally."""
    tally = {}
    outcome = []
    closer = _ClosesOnDel(loop, outcome)
    _pending_registrations(loop, tally, fds)
    if how == 'remove_timeout':
        handle = loop.call_later(3600, closer)
        del closer
        assert loop.remove_timeout(handle)
    elif how == 'remove_handler':
        r, w = os.pipe()
        fds += [r, w]
        loop.add_handler(r, Gbridge.IOEvents.READ, closer)
        del closer
        assert loop.remove_handler(r)
        os.close(r)
        os.close(w)
    elif how == 'remove_signal_handler':
        loop.add_signal_handler(signal.SIGUSR1, closer)
        del closer
        assert loop.remove_signal_handler(signal.SIGUSR1)
    else:
        loop.add_repeating_callback(closer)
        del closer
    if how == 'repeating_done':
        # Runs once, returns False: its destroy-notify runs inside the
        # dispatch, where close() is refused.
        loop.add_callback(lambda: loop.add_callback(loop.stop))
        run_loop(loop)
        gc.collect()
        assert outcome == ['called', int(Gbridge.IOLoopError.RUNNING)]
        assert not loop.is_closed()
        return
    gc.collect()
    assert outcome == [True]
    assert loop.is_closed()
    _assert_each_destroyed_once(tally, ['timer', 'handler', 'timeout'])


def test_drop_the_last_reference_from_inside_a_callback(fds):
    """A loop run by a GLib.MainLoop on its context, whose only reference is
    dropped by one of its own callbacks: it is finalized once the dispatch
    returns, and every pending registration is destroyed exactly once."""
    context = GLib.MainContext.new()
    main_loop = GLib.MainLoop.new(context, False)
    holder = {'loop': Gbridge.IOLoop.new_for_context(context)}
    finalized = []
    holder['loop'].weak_ref(lambda: finalized.append(True))
    tally = {}
    _pending_registrations(holder['loop'], tally, fds)  # the future: nobody keeps it

    def drop():
        del holder['loop']
        gc.collect()
        # Still dispatching: not finalized yet.
        finalized.append('after drop')

    holder['loop'].add_callback(drop)
    # After the dispatch: quit. A timeout is the safety net.
    source = GLib.timeout_source_new(10000)
    source.set_callback(lambda *a: main_loop.quit())
    source.attach(context)
    idle = GLib.idle_source_new()
    idle.set_priority(GLib.PRIORITY_LOW)
    idle.set_callback(lambda *a: main_loop.quit())
    idle.attach(context)
    main_loop.run()
    source.destroy()
    idle.destroy()
    gc.collect()
    assert finalized == ['after drop', True]
    _assert_each_destroyed_once(tally, ['timer', 'handler', 'timeout'])


# 3. Threads

def test_threads_add_callbacks_while_the_loop_closes(loop):
    """Every callback added from other threads while the main thread runs
    the loop and closes it mid-stream either runs once or is destroyed
    without running; add_callback() returns False only for the latter."""
    n_threads, per_thread = 4, 300
    lock = threading.Lock()
    ran, destroyed, refused = [], [], []

    class Item:
        def __init__(self, key):
            self.key = key

        def __call__(self):
            ran.append(self.key)

        def __del__(self):
            with lock:
                destroyed.append(self.key)

    barrier = threading.Barrier(n_threads + 1)

    def produce(t):
        barrier.wait()
        for i in range(per_thread):
            if not loop.add_callback(Item((t, i))):
                refused.append((t, i))

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    barrier.wait()

    def maybe_stop():
        if len(ran) >= 50:
            loop.stop()
        else:
            loop.add_callback(maybe_stop)
    loop.add_callback(maybe_stop)
    run_loop(loop)
    assert loop.close(False)
    for t in threads:
        t.join()
    gc.collect()
    total = n_threads * per_thread
    assert len(destroyed) == total
    assert len(set(destroyed)) == total
    assert len(set(ran)) == len(ran) >= 50
    assert not set(ran) & set(refused)


def test_future_completed_from_a_thread_while_its_loop_closes():
    """A thread resolves futures while the main thread closes their loop:
    each done-callback runs at most once, each is released exactly once."""
    for round_ in range(20):
        loop = Gbridge.IOLoop.new()
        tally = {}
        futures = [Gbridge.Future.new_for_loop(loop) for _ in range(20)]
        for i, f in enumerate(futures):
            f.add_done_callback(Counted(tally, 'cb%d' % i))
        go = threading.Event()

        def complete(futures, value):
            go.wait()
            for f in futures:
                f.resolve(value)

        thread = threading.Thread(target=complete, args=(futures, round_))
        thread.start()
        go.set()
        loop.add_callback(loop.stop)
        run_loop(loop)
        assert loop.close(False)
        thread.join()
        # Whatever reached the loop before the close ran there; the rest is
        # dropped with the closed loop.
        while GLib.MainContext.default().iteration(False):
            pass
        del futures
        gc.collect()
        for i in range(20):
            assert tally.get('cb%d destroyed' % i) == 1, tally
            assert tally.get('cb%d called' % i, 0) <= 1, tally


# 4. EMFILE

_EMFILE_SCRIPT = textwrap.dedent('''
    import os, resource, sys
    import gi
    gi.require_version('Gbridge', '1')
    from gi.repository import GLib, Gbridge
    what = {what!r}
    GLib.MainContext.default()  # GLib aborts creating it under EMFILE
    contexts = [GLib.MainContext.new() for _ in range(20)]
    loops = [Gbridge.IOLoop.new_for_context(c) for c in contexts[:10]]
    keep = []
    n = len(os.listdir('/proc/self/fd')) - 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 2, n + 2))
    try:
        for i in range(40):
            if what == 'handlers':
                r, w = os.pipe()
                keep += [r, w]
                loops[i % 10].add_handler(r, Gbridge.IOEvents.READ, lambda *a: None)
            elif what == 'loops':
                loops.append(Gbridge.IOLoop.new_for_context(contexts[10 + i % 10]))
                keep.append(loops[-1].call_later(0.001, lambda: None))
                r, w = os.pipe()
                keep += [r, w]
                loops[-1].add_handler(r, Gbridge.IOEvents.READ, lambda *a: None)
            elif what == 'reactors':
                reactor = Gbridge.Reactor.ref_for_loop(loops[i % 10])
                keep.append(reactor)
                keep.append(reactor.call_later(0, lambda: None))
                r, w = os.pipe()
                keep += [r, w]
                loops[i % 10].add_handler(r, Gbridge.IOEvents.READ, lambda *a: None)
            elif what == 'new_loop':
                keep.append(Gbridge.IOLoop.new_full(None))
    except GLib.Error as e:
        print('GLib.Error', e.domain, flush=True)
    except OSError as e:
        print('OSError', e.errno, flush=True)
    # Whatever failed, the loops still run.
    loop = loops[0]
    ran = []
    loop.call_later(0, ran.append, 'timer')
    loop.add_callback(loop.stop)
    loop.start()
    loop.add_callback(loop.stop)
    loop.start()
    print('ran', ran, flush=True)
    for l in loops:
        l.close(False)
    print('closed', flush=True)
''')


@pytest.mark.parametrize('what', [
    'handlers', 'loops', 'reactors',
    # Gbridge.IOLoop.new() aborts inside GLib there, as documented:
    # new_full() is the constructor that reports it.
    'new_loop',
])
def test_emfile_fails_cleanly(what):
    proc = _run_script(_EMFILE_SCRIPT.replace('{what!r}', repr(what)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    # Either a clear error (an OSError from os.pipe() counts: Python ran
    # out first) or no failure at all, then the loops still work.
    assert lines[-2:] == ["ran ['timer']", 'closed'], proc.stdout
    assert lines[0] in ('GLib.Error gbridge-io-loop-error-quark', 'OSError 24'), proc.stdout
    assert 'CRITICAL' not in proc.stderr and 'WARNING' not in proc.stderr, proc.stderr


# 5. The C reactor from Python

class PyDescriptor(GObject.Object, Gbridge.Descriptor):
    """A Gbridge.Descriptor in Python; on_read(self) runs on each read."""

    def __init__(self, fd, on_read=None, fileno=None):
        super().__init__()
        self.fd = fd
        self.on_read = on_read
        self.fileno = fileno
        self.reads = 0
        self.lost = []

    def do_get_fd(self):
        return self.fileno() if self.fileno is not None else self.fd

    def do_read(self):
        self.reads += 1
        os.read(self.fd, 100)
        if self.on_read is not None:
            self.on_read(self)
        return True

    def do_write(self):
        return True

    def do_connection_lost(self, reason):
        self.lost.append(reason.code)


@pytest.fixture
def reactor(loop):
    return Gbridge.Reactor.ref_for_loop(loop)


@pytest.fixture
def pipes():
    made = [os.pipe() for _ in range(2)]
    yield made
    for r, w in made:
        os.close(r)
        os.close(w)


def test_reactor_remove_reader_from_its_own_read(loop, reactor, pipes):
    (r, w), _ = pipes
    d = PyDescriptor(r, on_read=lambda d: (reactor.remove_reader(d),
                                           loop.add_callback(loop.stop)))
    reactor.add_reader(d)
    os.write(w, b'xx')
    run_loop(loop)
    os.write(w, b'yy')
    loop.call_later(0.01, loop.stop)
    run_loop(loop)
    assert d.reads == 1
    assert reactor.get_readers() == []
    assert d.lost == []


def test_reactor_remove_reader_from_another_readers_read(loop, reactor, pipes):
    """Both ready in the same iteration: whichever runs first removes the
    other, which is then not called."""
    (r1, w1), (r2, w2) = pipes
    ds = []

    def remove_other(d):
        other = ds[1] if d is ds[0] else ds[0]
        assert reactor.remove_reader(other)
        loop.add_callback(loop.stop)

    ds += [PyDescriptor(r1, on_read=remove_other), PyDescriptor(r2, on_read=remove_other)]
    reactor.add_reader(ds[0])
    reactor.add_reader(ds[1])
    os.write(w1, b'x')
    os.write(w2, b'x')
    run_loop(loop)
    assert sorted(d.reads for d in ds) == [0, 1]
    assert len(reactor.get_readers()) == 1
    reactor.remove_all()


def test_reactor_stop_and_crash_from_inside_callbacks(loop, reactor, pipes):
    (r, w), _ = pipes
    events = []
    reactor.add_system_event_trigger(Gbridge.TriggerPhase.BEFORE, 'shutdown',
                                     lambda: events.append('shutdown') or None)

    def on_read(d):
        reactor.stop()
        with pytest.raises(GLib.Error) as e:
            reactor.stop()  # stop() on a stopping reactor
        events.append(e.value.code)
        reactor.crash()
        reactor.crash()

    d = PyDescriptor(r, on_read=on_read)
    reactor.add_reader(d)
    os.write(w, b'x')
    reactor.call_when_running(events.append, 'running')
    assert reactor.run(False)
    assert events[:2] == ['running', int(Gbridge.ReactorError.NOT_RUNNING)]
    with pytest.raises(GLib.Error):
        reactor.run(False)  # not restartable


def test_reactor_system_event_trigger_raising(loop, reactor, capfd):
    """A trigger that raises is reported; the phase's other triggers and the
    later phases still run."""
    log = []

    def raising(*args):
        log.append('raising')
        raise ValueError('hostile trigger')

    for phase in (Gbridge.TriggerPhase.BEFORE, Gbridge.TriggerPhase.DURING,
                  Gbridge.TriggerPhase.AFTER):
        reactor.add_system_event_trigger(phase, 'hostile', raising)
        reactor.add_system_event_trigger(phase, 'hostile',
                                         lambda p=phase: log.append(int(p)) or None)
    reactor.fire_system_event('hostile')
    assert log == ['raising', 0, 'raising', 1, 'raising', 2]
    assert capfd.readouterr().err.count('ValueError: hostile trigger') == 3


@pytest.mark.parametrize('delay', [math.inf, 1e300])
def test_reactor_call_later_huge_delay_never_runs(loop, reactor, delay):
    log = []
    call = reactor.call_later(delay, log.append, 'never')
    assert call.is_active()
    loop.call_later(0.01, loop.stop)
    run_loop(loop)
    assert log == []
    assert call.cancel()


@pytest.mark.parametrize('delay', [math.nan, -1.0, -math.inf])
def test_reactor_call_later_bad_delay_is_refused(loop, reactor, delay):
    # A programmer error: g_return_val_if_fail, so None and a critical.
    assert reactor.call_later(delay, lambda: None) is None
    assert reactor.get_delayed_calls() == []


@pytest.mark.parametrize('how', ['reset', 'delay'])
def test_delayed_call_nan_is_refused(loop, reactor, how):
    log = []
    call = reactor.call_later(0, log.append, 'called')
    assert not getattr(call, how)(math.nan)
    loop.call_later(0.01, loop.stop)
    run_loop(loop)
    assert log == ['called']


def test_descriptor_bad_fileno(loop, reactor, pipes):
    (r, w), _ = pipes
    for fileno in (lambda: -1, lambda: 999999):
        with pytest.raises(GLib.Error) as e:
            reactor.add_reader(PyDescriptor(r, fileno=fileno))
        assert e.value.code == int(Gbridge.ReactorError.BAD_FD)
    assert reactor.get_readers() == []

    # A descriptor whose fd is closed while registered is dropped with
    # BAD_FD or CONNECTION_LOST, and never called again.
    r2, w2 = os.pipe()
    d = PyDescriptor(r2)
    reactor.add_reader(d)
    os.close(r2)
    os.close(w2)
    os.write(w, b'x')  # something else happens on the loop
    loop.call_later(0.02, loop.stop)
    run_loop(loop)
    assert d.reads == 0


# PyGObject gives 0 (stdin) for a failed vfunc; the override gives -1.
@pytest.mark.parametrize('fileno', ['raises', 'None'])
def test_descriptor_fileno_raising_is_refused(reactor, fileno):
    def raising():
        raise ValueError('no fileno')
    d = PyDescriptor(-1, fileno=raising if fileno == 'raises' else (lambda: None))
    with pytest.raises(GLib.Error):
        reactor.add_reader(d)
    assert reactor.get_readers() == []


# 6. GLib contexts driven by asyncio and Twisted

def _run_asyncio(coro):
    import asyncio
    loop = asyncio.SelectorEventLoop()
    try:
        return loop.run_until_complete(asyncio.wait_for(coro, 10))
    finally:
        loop.close()


def test_run_context_on_sources_added_and_removed_during_dispatch():
    import asyncio
    import gbridge.asyncio as gba

    async def main():
        context = GLib.MainContext.new()
        done = asyncio.get_running_loop().create_future()
        log = []
        victims = []

        def remover(*args):
            # Removes a source of the same dispatch, adds two new ones.
            log.append('remover')
            for s in victims:
                s.destroy()
            for name in ('new idle', 'new timeout'):
                src = GLib.idle_source_new() if 'idle' in name \
                    else GLib.timeout_source_new(1)
                src.set_callback(lambda *a, n=name: (log.append(n), finish()) and False)
                src.attach(context)
            return GLib.SOURCE_REMOVE

        def finish():
            if 'new idle' in log and 'new timeout' in log and not done.done():
                done.set_result(None)

        with gba.run_context_on(context=context) as runner:
            first = GLib.idle_source_new()
            first.set_callback(remover)
            first.attach(context)
            victim = GLib.idle_source_new()
            victim.set_callback(lambda *a: log.append('victim') or False)
            victim.attach(context)
            victims.append(victim)
            runner.wakeup()
            await done
        assert log[0] == 'remover'
        assert 'victim' not in log
    _run_asyncio(main())


def test_run_context_on_closed_from_inside_a_glib_callback():
    import asyncio
    import gbridge.asyncio as gba

    async def main():
        context = GLib.MainContext.new()
        io_loop = Gbridge.IOLoop.new_for_context(context)
        log = []
        runner = gba.run_context_on(context=context)

        def close_runner():
            log.append('closing')
            runner.close()
            runner.close()
            io_loop.add_callback(log.append, 'after close')

        io_loop.add_callback(close_runner)
        runner.wakeup()
        for _ in range(20):
            await asyncio.sleep(0)
        assert log == ['closing']
        assert not context.is_owner()
        # Given back: another driver (or GLib) may run it now.
        while context.iteration(False):
            pass
        assert log == ['closing', 'after close']
        io_loop.close(False)
    _run_asyncio(main())


def test_run_context_on_asyncio_loop_closed_under_it():
    import asyncio
    import gbridge.asyncio as gba
    context = GLib.MainContext.new()
    io_loop = Gbridge.IOLoop.new_for_context(context)
    r, w = os.pipe()
    try:
        io_loop.add_handler(r, Gbridge.IOEvents.READ, lambda *a: None)
        aloop = asyncio.SelectorEventLoop()
        runner = gba.run_context_on(aloop, context)
        aloop.run_until_complete(asyncio.sleep(0))
        aloop.close()
        runner.close()  # after its loop: no error, the context is given back
        assert not context.is_owner()
        assert io_loop.close(False)
    finally:
        os.close(r)
        os.close(w)


def test_two_context_runners_closed_in_creation_order():
    """Regression: the first close left its context the thread-default one
    for good (GLib pops only the top of the stack)."""
    import gbridge.asyncio as gba

    async def main():
        a, b = GLib.MainContext.new(), GLib.MainContext.new()
        before = GLib.MainContext.get_thread_default()
        ra = gba.run_context_on(context=a)
        rb = gba.run_context_on(context=b)
        ra.close()
        rb.close()
        assert GLib.MainContext.get_thread_default() == before
        assert not a.is_owner() and not b.is_owner()
    _run_asyncio(main())


def test_twisted_context_driver_stopped_from_inside_a_dispatched_source():
    pytest.importorskip('twisted')
    from twisted.internet import selectreactor
    import gbridge.twisted as gbt
    treactor = selectreactor.SelectReactor()
    loop = Gbridge.IOLoop.new_for_context(GLib.MainContext.new())
    driver = gbt.TwistedContextDriver(loop, treactor)
    log = []

    def stop_driver():
        log.append('stopping')
        driver.stop()
        driver.stop()
        loop.add_callback(log.append, 'must wait for the next driver')
        treactor.callLater(0.01, treactor.stop)

    loop.add_callback(stop_driver)
    treactor.callWhenRunning(driver.start)
    treactor.callLater(5, treactor.stop)  # a safety net
    treactor.run(installSignalHandlers=False)
    assert log == ['stopping']
    assert not loop.get_context().is_owner()
    # Given back: GLib itself may run it now.
    for _ in range(100):
        if len(log) == 2:
            break
        loop.get_context().iteration(False)
    assert log == ['stopping', 'must wait for the next driver']
    loop.close(False)


# 7. Bad numbers elsewhere

def test_periodic_callback_infinite_period(loop):
    # One rule with set_interval(): a period must be finite and > 0; a
    # programmer error, so no object (and no silent 1000 ms default).
    with pytest.raises(TypeError, match='constructor returned NULL'):
        Gbridge.PeriodicCallback.new(loop, math.inf, lambda: None)


def test_virtual_clock_never_goes_back(loop):
    loop.use_virtual_clock(100.0)
    loop.advance_clock(-1.0)
    assert loop.time() >= 100.0
