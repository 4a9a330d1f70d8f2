# SPDX-License-Identifier: LGPL-2.1-or-later
#
# With a virtual clock, timer arithmetic is exact: the tests below compare
# times with ==, never with a tolerance.

import random

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gbridge  # noqa: E402

from gbridgetest import run_one_iteration  # noqa: E402


def test_time_is_the_virtual_clock(loop):
    loop.use_virtual_clock(1000.0)
    assert loop.time() == 1000.0
    loop.advance_clock(2.5)
    assert loop.time() == 1002.5
    run_one_iteration(loop)
    # Real time passed while the loop ran; the virtual clock did not move.
    assert loop.time() == 1002.5


def test_timer_order(loop):
    loop.use_virtual_clock(1000.0)
    fired = []

    def timer(name):
        fired.append((name, loop.time()))

    loop.call_later(3.0, timer, 'A')
    loop.call_later(1.0, timer, 'B')
    loop.call_at(1002.0, timer, 'C')
    loop.add_timeout(1001.0, timer, 'D')
    loop.call_later(1.0, timer, 'E')
    loop.call_at(1000.5, timer, 'F')
    loop.call_later(0.0, timer, 'G')

    run_one_iteration(loop)
    assert fired == [('G', 1000.0)]

    loop.advance_clock(0.25)
    run_one_iteration(loop)
    assert fired == [('G', 1000.0)]

    # Due timers run by deadline, equal deadlines in the order they were
    # added.
    loop.advance_clock(0.75)
    run_one_iteration(loop)
    assert fired[1:] == [('F', 1001.0), ('B', 1001.0), ('D', 1001.0),
                         ('E', 1001.0)]

    loop.advance_clock(1.0)
    run_one_iteration(loop)
    assert fired[5:] == [('C', 1002.0)]

    loop.advance_clock(5.0)
    run_one_iteration(loop)
    assert fired[6:] == [('A', 1007.0)]

    run_one_iteration(loop)
    assert len(fired) == 7


def test_timers_are_not_run_before_the_next_iteration(loop):
    loop.use_virtual_clock(0.0)
    fired = []
    loop.call_later(1.0, fired.append, 'due')
    loop.advance_clock(1.0)
    assert fired == []
    run_one_iteration(loop)
    assert fired == ['due']


def test_timer_cancels_a_later_timer_of_the_same_batch(loop):
    loop.use_virtual_clock(0.0)
    fired = []

    def first():
        fired.append('first')
        assert loop.remove_timeout(second)

    loop.call_later(1.0, first)
    second = loop.call_later(2.0, fired.append, 'second')
    loop.call_later(3.0, fired.append, 'third')
    loop.advance_clock(5.0)
    run_one_iteration(loop)
    assert fired == ['first', 'third']


def test_timer_added_by_a_timer_is_not_run_in_the_same_batch(loop):
    loop.use_virtual_clock(0.0)
    fired = []

    def first():
        fired.append('first')
        loop.call_later(0.0, fired.append, 'added')

    loop.call_later(1.0, first)
    loop.advance_clock(1.0)
    run_one_iteration(loop)
    assert fired == ['first']
    run_one_iteration(loop)
    assert fired == ['first', 'added']


def test_periodic_callback_on_a_fixed_grid(loop):
    loop.use_virtual_clock(100.0)
    ticks = []
    pc = Gbridge.PeriodicCallback.new(loop, 1.0, lambda: ticks.append(loop.time()))
    pc.start()
    for _ in range(4):
        run_one_iteration(loop)
        loop.advance_clock(0.5)
        run_one_iteration(loop)
        loop.advance_clock(0.5)
    run_one_iteration(loop)
    assert ticks == [101.0, 102.0, 103.0, 104.0]
    pc.stop()
    loop.advance_clock(10.0)
    run_one_iteration(loop)
    assert ticks == [101.0, 102.0, 103.0, 104.0]


def test_periodic_callback_skips_missed_cycles(loop):
    loop.use_virtual_clock(100.0)
    ticks = []

    def tick():
        ticks.append(loop.time())
        if len(ticks) == 2:
            # This run overruns by 2.5 callback times: the ticks due at 103
            # and 104 are skipped, the grid stays at whole seconds.
            loop.advance_clock(2.5)

    pc = Gbridge.PeriodicCallback.new(loop, 1.0, tick)
    pc.start()
    loop.advance_clock(1.0)
    run_one_iteration(loop)
    assert ticks == [101.0]
    loop.advance_clock(1.0)
    run_one_iteration(loop)
    assert ticks == [101.0, 102.0]
    assert loop.time() == 104.5
    run_one_iteration(loop)
    assert ticks == [101.0, 102.0]
    loop.advance_clock(0.5)
    run_one_iteration(loop)
    assert ticks == [101.0, 102.0, 105.0]
    loop.advance_clock(1.0)
    run_one_iteration(loop)
    assert ticks == [101.0, 102.0, 105.0, 106.0]
    pc.stop()


def _jittered_ticks(seed, jitter):
    loop = Gbridge.IOLoop.new()
    loop.use_virtual_clock(0.0)
    ticks = []
    pc = Gbridge.PeriodicCallback.new(loop, 1.0, lambda: ticks.append(loop.time()))
    pc.set_jitter(jitter)
    pc.set_seed(seed)
    assert pc.get_jitter() == jitter
    pc.start()
    # Steps of 1/32 s are exact in binary floating point.
    for _ in range(6 * 32):
        loop.advance_clock(1.0 / 32)
        run_one_iteration(loop)
    pc.stop()
    loop.close(False)
    return ticks


def test_periodic_callback_without_jitter():
    assert _jittered_ticks(1234, 0.0) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_periodic_callback_jitter_is_reproducible():
    ticks = _jittered_ticks(1234, 0.5)
    assert ticks == _jittered_ticks(1234, 0.5)
    assert ticks != [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # Each period is stretched or shrunk by at most jitter / 2; the tick is
    # seen at the first step of the virtual clock at or after its deadline.
    step = 1.0 / 32
    for before, after in zip([0.0] + ticks, ticks):
        assert 0.75 - step <= after - before <= 1.25 + step


def test_timer_heap_matches_a_model(loop):
    """Random deadlines and cancellations against a sorted-list model."""
    rng = random.Random(20240611)
    loop.use_virtual_clock(0.0)
    fired = []
    pending = {}   # handle -> (deadline, sequence)
    for seq in range(2000):
        deadline = rng.randrange(0, 400) / 4.0
        handle = loop.call_at(deadline, fired.append, seq)
        pending[handle] = (deadline, seq)
        if rng.random() < 0.3:
            victim = rng.choice(list(pending))
            assert loop.remove_timeout(victim)
            del pending[victim]

    expected = [seq for (deadline, seq) in sorted(pending.values())]
    # Advance in uneven steps; each step runs exactly the timers now due.
    now = 0.0
    while now < 100.0:
        step = rng.choice([0.25, 0.5, 1.75, 3.0])
        loop.advance_clock(step)
        now += step
        run_one_iteration(loop)
        due = [seq for (deadline, seq) in sorted(pending.values()) if deadline <= now]
        assert fired == due
    assert fired == expected
    for handle in pending:
        assert loop.remove_timeout(handle) is False


# G_MAXINT64 // 2 microseconds: where the virtual clock saturates.
CLOCK_MAX = (2 ** 63 - 1) // 2 / 1e6


def test_advance_saturates(loop):
    loop.use_virtual_clock(0.0)
    for _ in range(3):
        loop.advance_clock(1e300)
        assert loop.time() == CLOCK_MAX
    loop.advance_clock(float('inf'))
    assert loop.time() == CLOCK_MAX


def test_advance_refuses_negative_steps(loop):
    loop.use_virtual_clock(10.0)
    # A programmer error: GLib logs a critical and the clock stays.
    for step in (-1.0, float('-inf'), float('nan')):
        loop.advance_clock(step)
        assert loop.time() == 10.0
