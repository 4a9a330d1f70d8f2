# SPDX-License-Identifier: LGPL-2.1-or-later
#
# gbridge.asyncio's core: the gbridge side of each loop (gbridge._native's
# AsyncioCore, or _IntrospectionCore without the extension module; meson
# runs this file both ways).  Each asyncio timer is a gbridge timeout, each
# watched descriptor a gbridge handler, and the ready deque runs from one
# repeating callback; these tests attack those paths: closing and dropping
# the loop from every callback kind, readers that change their own
# registration, timers at their deadline, the mode switches.

import asyncio
import gc
import os
import random
import socket
import weakref

import pytest

import gbridge.asyncio as gba


@pytest.fixture
def loop():
    loop = gba.new_event_loop()
    yield loop
    if not loop.is_closed():
        loop.close()


def test_the_core_in_use_is_the_one_asked_for(loop):
    native = os.environ.get('GBRIDGE_PYTHON_NATIVE', '1') != '0' and \
        os.environ.get('GBRIDGE_TEST_HAVE_NATIVE') == '1'
    assert type(loop._core).__name__ == ('AsyncioCore' if native else '_IntrospectionCore')


def test_timers_never_run_before_their_deadline(loop):
    """Each timer is a gbridge timeout on the loop's clock, in whole
    microseconds; asyncio's deadlines are floats on time.monotonic().  A
    callback that saw loop.time() < when would be early (another clock, a
    rounding down larger than the dispatch latency)."""
    early = []
    rng = random.Random(7)
    base = loop.time()

    def check(when):
        now = loop.time()
        if now < when:
            early.append(when - now)

    for i in range(2000):
        when = base + 0.001 + rng.random() * 0.02
        loop.call_at(when, check, when)
    loop.call_at(base + 0.05, loop.stop)
    loop.run_forever()
    assert early == []


def test_due_timers_join_the_ready_deque_in_deadline_order(loop):
    seen = []
    now = loop.time()
    for delay in (0.004, 0.001, 0.003, 0.002):
        loop.call_at(now + delay, seen.append, delay)
    loop.call_at(now + 0.01, loop.stop)
    loop.run_forever()
    assert seen == [0.001, 0.002, 0.003, 0.004]


def test_cancelled_timers_never_run_and_are_released(loop):
    ran = []

    class Token:
        pass

    token = Token()
    ref = weakref.ref(token)
    handles = [loop.call_later(0.001, ran.append, token) for _ in range(100)]
    del token
    for h in handles:
        h.cancel()
    handles = None
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert ran == []
    gc.collect()
    assert ref() is None


def test_a_timer_cancels_another_due_at_the_same_time(loop):
    seen = []
    when = loop.time() + 0.002
    second = None

    def first():
        seen.append('first')
        second.cancel()

    loop.call_at(when, first)
    second = loop.call_at(when + 1e-7, seen.append, 'second')
    loop.call_at(when + 0.01, loop.stop)
    loop.run_forever()
    assert seen == ['first']


@pytest.mark.parametrize('kind', ['call_soon', 'timer', 'reader', 'threadsafe'])
def test_close_from_each_callback_kind_is_refused_then_done_after(loop, kind):
    """asyncio refuses to close a running loop; the callback goes on, the
    loop closes afterwards, and nothing of it runs later."""
    errors = []
    a, b = socket.socketpair()

    def attempt(*unused):
        try:
            loop.close()
        except RuntimeError as e:
            errors.append(str(e))
        if kind == 'reader':
            loop.remove_reader(a)
        loop.stop()

    try:
        if kind == 'call_soon':
            loop.call_soon(attempt)
        elif kind == 'timer':
            loop.call_later(0.001, attempt)
        elif kind == 'reader':
            loop.add_reader(a, attempt)
            b.send(b'x')
        else:
            loop.call_soon_threadsafe(attempt)
        loop.run_forever()
        assert errors == ['Cannot close a running event loop']
        later = []
        loop.call_later(0.001, later.append, 'timer')
        loop.call_soon(later.append, 'soon')
        loop.close()
        # Anything of the loop still queued on the context does nothing now.
        ctx = loop.get_context()
        for _ in range(5):
            ctx.iteration(False)
        assert later == []
    finally:
        a.close()
        b.close()


def test_a_dropped_loop_is_freed_and_its_timers_and_readers_go_quiet():
    """A loop dropped without close(): reference counting frees it (asyncio
    warns), and what it left on the context never calls into it."""
    loop = gba.EventLoop(gba.Gbridge.IOLoop.new())
    io_loop = loop.io_loop
    a, b = socket.socketpair()
    ran = []
    loop.call_later(0.001, ran.append, 'timer')
    loop.call_soon(ran.append, 'soon')
    loop.add_reader(a, ran.append, 'reader')
    b.send(b'x')
    ref = weakref.ref(loop)
    with pytest.warns(ResourceWarning):
        del loop
        gc.collect()
    assert ref() is None
    ctx = io_loop.get_context()
    for _ in range(10):
        ctx.iteration(False)
    assert ran == []
    io_loop.close(False)
    a.close()
    b.close()


def test_reader_that_replaces_itself_and_adds_a_writer(loop):
    a, b = socket.socketpair()
    a.setblocking(False)
    seen = []

    def writer():
        seen.append('writer')
        loop.remove_writer(a)
        loop.stop()

    def first():
        a.recv(1)
        seen.append('first')
        loop.add_reader(a, second)      # replaces this reader
        loop.add_writer(a, writer)
        b.send(b'y')

    def second():
        a.recv(1)
        seen.append('second')
        loop.remove_reader(a)

    try:
        loop.add_reader(a, first)
        b.send(b'x')
        loop.run_forever()
        if seen[-1] != 'second':
            loop.call_later(0.01, loop.stop)
            loop.run_forever()
        assert seen[0] == 'first' and 'second' in seen and 'writer' in seen
        assert a.fileno() not in loop._selector._fd_to_key
    finally:
        a.close()
        b.close()


def test_cancelled_reader_handle_is_removed_not_run(loop):
    a, b = socket.socketpair()
    ran = []
    try:
        loop.add_reader(a, ran.append, 'reader')
        # What asyncio does to a reader whose transport went away: the
        # handle is cancelled while its key stays registered.
        key = loop._selector.get_key(a)
        key.data[0].cancel()
        b.send(b'x')
        loop.call_later(0.01, loop.stop)
        loop.run_forever()
        assert ran == []
        assert a.fileno() not in loop._selector._fd_to_key
    finally:
        a.close()
        b.close()


def test_descriptor_closed_while_registered_then_its_number_reused(loop):
    a, b = socket.socketpair()
    fd = a.fileno()
    ran = []
    loop.add_reader(fd, ran.append, 'old')
    a.close()
    loop.remove_reader(fd)
    c, d = socket.socketpair()
    try:
        # Either pair may take the number; register whichever end has it.
        new = c if c.fileno() == fd else d if d.fileno() == fd else c
        other = d if new is c else c
        loop.add_reader(new, ran.append, 'new')
        other.send(b'x')
        loop.call_later(0.01, loop.stop)
        loop.run_forever()
        assert 'old' not in ran and 'new' in ran
        loop.remove_reader(new)
    finally:
        b.close()
        c.close()
        d.close()


def test_debug_mode_switched_on_and_off_while_running(loop):
    """The hot paths run in C only while neither debug mode nor a slow
    callback threshold wants each callback timed: switching from inside a
    callback takes effect at once, both ways."""
    seen = []
    a, b = socket.socketpair()
    a.setblocking(False)
    rounds = [0]

    def reader():
        a.recv(1)
        rounds[0] += 1
        loop.set_debug(rounds[0] % 2 == 1)
        seen.append(loop._core.fast)
        if rounds[0] < 6:
            b.send(b'x')
        else:
            loop.stop()

    try:
        loop.add_reader(a, reader)
        b.send(b'x')
        loop.run_forever()
        assert seen == [False, True, False, True, False, True]
        assert loop._core.fast
    finally:
        loop.set_debug(False)
        loop.remove_reader(a)
        a.close()
        b.close()


def test_stop_from_a_reader_leaves_run_forever_and_keeps_the_rest(loop):
    a, b = socket.socketpair()
    a.setblocking(False)
    seen = []

    def reader():
        a.recv(1)
        seen.append('reader')
        loop.call_soon(seen.append, 'after stop')
        loop.stop()

    try:
        loop.add_reader(a, reader)
        b.send(b'x')
        loop.run_forever()
        assert seen[0] == 'reader'
        loop.remove_reader(a)
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert seen == ['reader', 'after stop']
    finally:
        a.close()
        b.close()


def test_glib_drives_the_loop_outside_run_forever(loop):
    """GLib (GTK, GLib.MainLoop) runs the loop's work: each callback sees the
    loop as the running one, and the running loop is restored after."""
    from gi.repository import GLib
    seen = []
    a, b = socket.socketpair()
    a.setblocking(False)
    ml = GLib.MainLoop.new(loop.get_context(), False)

    def reader():
        a.recv(1)
        seen.append(asyncio.get_running_loop() is loop)
        loop.remove_reader(a)
        loop.call_later(0.001, timer)

    def timer():
        seen.append(asyncio.get_running_loop() is loop)
        ml.quit()

    try:
        loop.add_reader(a, reader)
        b.send(b'x')
        loop.call_soon(lambda: seen.append(asyncio.get_running_loop() is loop))
        ml.run()
        assert seen == [True, True, True]
        assert asyncio._get_running_loop() is None
    finally:
        a.close()
        b.close()


def test_timer_on_a_gbridge_loop_closed_underneath():
    """The gbridge loop refuses the timeout (and frees what it was given at
    once): call_later() raises, and nothing of the refused timeout is
    touched afterwards (ASan and valgrind check that in CI)."""
    io_loop = gba.Gbridge.IOLoop.new()
    loop = gba.EventLoop(io_loop)
    try:
        io_loop.close(False)
        with pytest.raises(RuntimeError):
            loop.call_later(1, lambda: None)
    finally:
        loop.close()


# Timer churn: cancelling only counts the timer (as BaseEventLoop), and the
# cancelled ones leave gbridge's heap when due or, all at once, when they
# outnumber the live ones.

def test_churn_keeps_the_pending_timeouts_bounded(loop):
    """Many call_later() + cancel() never grow the gbridge timeouts the
    core holds past twice the live timers (and 1): without a loop
    iteration, without any deadline coming."""
    core = loop._core
    live = [loop.call_later(3600, lambda: None) for _ in range(50)]
    worst = 0
    for i in range(20000):
        h = loop.call_later(3600 + i % 7, lambda: None)
        h.cancel()
        worst = max(worst, core.pending_timers)
    assert worst <= 2 * len(live) + 1
    assert core.pending_timers <= 2 * len(live) + 1
    for h in live:
        h.cancel()
    assert core.pending_timers <= 1


def test_a_lone_cancelled_timer_leaves_the_heap_at_once(loop):
    """With no live timer, a cancelled one is removed at once: an idle loop
    is never woken for it (the pattern of asyncio.timeout())."""
    h = loop.call_later(0.001, lambda: None)
    assert loop._core.pending_timers == 1
    h.cancel()
    assert loop._core.pending_timers == 0


def test_cancelled_timers_kept_lazily_never_run(loop):
    """Cancelled timers that stay in gbridge's heap (fewer than the live
    ones) come due and are dropped, never run; the live ones run."""
    ran = []
    now = loop.time()
    live = [loop.call_at(now + 0.002 + i * 1e-4, ran.append, i) for i in range(10)]
    cancelled = [loop.call_at(now + 0.001 + i * 1e-4, ran.append, -1 - i) for i in range(8)]
    for h in cancelled:
        h.cancel()
    # Fewer cancelled than live: they stay (if the core keeps them lazily).
    assert loop._core.pending_timers in (10, 18)
    loop.call_at(now + 0.02, loop.stop)
    loop.run_forever()
    assert ran == list(range(10))
    assert loop._core.pending_timers == 0
    assert all(not h._scheduled for h in live + cancelled)


def test_a_timer_cancelled_in_the_batch_that_makes_it_due(loop):
    """Cancelled after its timeout fired (it is in the ready deque): it
    does not run, and nothing counts it twice."""
    ran = []
    when = loop.time() + 0.002
    second = None
    loop.call_at(when, lambda: second.cancel())
    second = loop.call_at(when + 1e-7, ran.append, 'second')
    loop.call_at(when + 0.01, loop.stop)
    loop.run_forever()
    assert ran == []
    assert loop._core.pending_timers == 0
    assert getattr(loop._core, 'cancelled_timers', 0) == 0


def test_close_releases_the_timers_cancelled_or_not(loop):
    class Token:
        pass

    tokens = [Token() for _ in range(300)]
    refs = [weakref.ref(t) for t in tokens]
    handles = [loop.call_later(3600, lambda t: None, t) for t in tokens]
    del tokens
    for h in handles[:100]:
        h.cancel()
    handles = None
    gc.collect()
    # The live ones are held by the loop's timers.
    assert sum(r() is not None for r in refs) >= 200
    loop.close()
    assert loop._core.pending_timers == 0
    gc.collect()
    assert [r for r in refs if r() is not None] == []


def test_call_later_and_call_at_make_asyncio_timer_handles(loop):
    """The handles the C core makes are what TimerHandle() makes outside
    debug mode: every slot set, the context copied or the one given."""
    import contextvars
    var = contextvars.ContextVar('var')
    var.set('outer')
    ctx = contextvars.copy_context()
    h1 = loop.call_later(10, print, 1, 2)
    h2 = loop.call_at(loop.time() + 10, print, context=ctx)
    for h in (h1, h2):
        assert isinstance(h, asyncio.TimerHandle)
        assert h._loop is loop
        assert h._callback is print
        assert h._cancelled is False
        assert h._repr is None
        assert h._source_traceback is None
        assert h._scheduled is True
        assert h._context.get(var) == 'outer'
        assert h.get_loop() is loop if hasattr(h, 'get_loop') else True
    assert h1._args == (1, 2)
    assert h2._args == ()
    assert h2._context is ctx
    assert h1._context is not ctx
    assert abs(h1.when() - (loop.time() + 10)) < 1
    assert 'TimerHandle' in repr(h1) and 'print' in repr(h1)
    with pytest.raises(TypeError):
        loop.call_later('x', print)
    with pytest.raises(TypeError):
        loop.call_later(None, print)
    h1.cancel()
    h2.cancel()
    assert h1._callback is None and h1.cancelled()


def test_debug_mode_timer_handles_keep_their_source_traceback(loop):
    loop.set_debug(True)
    try:
        h = loop.call_later(10, print)
        assert h._source_traceback
        assert h._source_traceback[-1].name == \
            'test_debug_mode_timer_handles_keep_their_source_traceback'
        h.cancel()
    finally:
        loop.set_debug(False)


# The core runs a Handle's _run() itself (outside debug mode, without a
# slow-callback threshold): the same behaviour as asyncio's, checked against
# the default loop.

def _failing_callback(tag):
    raise ValueError(tag)


def _exception_contexts(loop, schedule):
    seen = []
    loop.set_exception_handler(lambda loop, context: seen.append(context))
    handle = schedule(loop)
    loop.call_later(0.005, loop.stop)
    loop.run_forever()
    return handle, seen


@pytest.mark.parametrize('kind', ['call_soon', 'call_later', 'reader'])
def test_an_exception_in_a_callback_reaches_the_handler_as_on_the_default_loop(loop, kind):
    a, b = socket.socketpair()

    def schedule(lp):
        if kind == 'call_soon':
            return lp.call_soon(_failing_callback, 'x')
        if kind == 'call_later':
            return lp.call_later(0.001, _failing_callback, 'x')
        b.send(b'!')
        lp.add_reader(a, _failing_callback, 'x')
        return lp._selector.get_key(a).data[0]

    default = asyncio.SelectorEventLoop()
    try:
        dh, dseen = _exception_contexts(default, schedule)
        if kind == 'reader':
            default.remove_reader(a)
    finally:
        default.close()
    gh, gseen = _exception_contexts(loop, schedule)
    if kind == 'reader':
        loop.remove_reader(a)
    a.close()
    b.close()
    # A reader runs on every iteration until removed: as often as the loop
    # iterates in 5 ms.
    assert len(dseen) >= 1 and len(gseen) >= 1
    if kind != 'reader':
        assert len(gseen) == len(dseen) == 1
    d, g = dseen[0], gseen[0]
    assert sorted(g) == sorted(d) == ['exception', 'handle', 'message']
    assert g['message'] == d['message']
    assert g['message'].startswith('Exception in callback _failing_callback')
    assert type(g['exception']) is ValueError and g['exception'].args == ('x',)
    assert g['handle'] is gh


def test_a_callback_runs_in_its_handle_s_context(loop):
    import contextvars
    var = contextvars.ContextVar('var', default='unset')
    ctx = contextvars.copy_context()
    ctx.run(var.set, 'in ctx')
    seen = []

    def callback():
        seen.append(var.get())
        var.set('changed')

    loop.call_soon(callback, context=ctx)
    loop.call_later(0.001, callback, context=ctx)
    var.set('outer')
    loop.call_soon(callback)       # a copy of the current context
    loop.call_later(0.003, loop.stop)
    loop.run_forever()
    assert seen == ['in ctx', 'outer', 'changed']
    assert ctx[var] == 'changed'
    assert var.get() == 'outer'


def test_a_context_already_entered_is_reported_as_context_run_raises(loop):
    """Context.run() refuses a context that is entered: _run() reports the
    RuntimeError through the exception handler, the loop goes on; exactly
    as on the default loop (from Python 3.14 the exception handler runs in
    the handle's context too, so it cannot run either: both loops log
    "Unhandled error in exception handler" instead)."""
    import contextvars

    def scenario(loop):
        ctx = contextvars.copy_context()
        seen = []
        loop.set_exception_handler(lambda loop, context: seen.append(context))
        ran = []

        def main():
            loop.call_soon(ran.append, 'inner', context=ctx)
            loop.call_soon(ran.append, 'after')
            loop.call_later(0.002, loop.stop)
            loop.run_forever()

        ctx.run(main)
        return ran, [(type(c['exception']), c['message'].split(' ', 3)[:3])
                     for c in seen]

    reference = asyncio.SelectorEventLoop()
    try:
        expected = scenario(reference)
    finally:
        reference.close()
    assert expected[0] == ['after']
    assert scenario(loop) == expected


def test_a_replaced_handle_run_is_the_one_called(loop, monkeypatch):
    """Tools that time callbacks replace Handle._run(): it is called."""
    from asyncio import events
    calls = []
    original = events.Handle._run

    def timed_run(self):
        calls.append(self)
        return original(self)

    monkeypatch.setattr(events.Handle, '_run', timed_run)
    seen = []
    h1 = loop.call_soon(seen.append, 1)
    h2 = loop.call_later(0.001, seen.append, 2)
    loop.call_later(0.003, loop.stop)
    loop.run_forever()
    assert seen == [1, 2]
    assert h1 in calls and h2 in calls


@pytest.mark.parametrize('exc_type', [KeyboardInterrupt, SystemExit])
def test_keyboard_interrupt_and_system_exit_leave_run_forever(loop, exc_type):
    def fail():
        raise exc_type()

    ran = []
    loop.call_soon(fail)
    loop.call_soon(ran.append, 'later')
    with pytest.raises(exc_type):
        loop.run_forever()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert ran == ['later']


def test_a_subclass_s_call_at_is_used_by_call_later():
    """call_later() makes its handle in C only while call_at() is the
    loop's own: a subclass that overrides it sees every timer, as with
    BaseEventLoop.call_later()."""
    seen = []

    class Loop(gba.EventLoop):
        def call_at(self, when, callback, *args, context=None):
            seen.append(when)
            return super().call_at(when, callback, *args, context=context)

    loop = Loop(gba.Gbridge.IOLoop.new())
    try:
        before = loop.time()
        h = loop.call_later(1, print)
        assert len(seen) == 1 and before + 1 <= seen[0] == h.when()
        h.cancel()
    finally:
        loop.close()
