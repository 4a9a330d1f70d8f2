# SPDX-License-Identifier: LGPL-2.1-or-later
#
# C callbacks and Python callbacks share one ready queue and one timer heap:
# interleaved, they run in the order they were scheduled.  The C callbacks
# come from a small helper module built next to these tests
# (gbridge-test-helper.c, loaded with ctypes): they are plain C functions
# handed to gbridge_io_loop_add_callback() and gbridge_io_loop_call_at(), and
# they append their marker to the same log as the Python callbacks.

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gbridge  # noqa: E402

from gbridgetest import run_loop, run_one_iteration  # noqa: E402


def test_c_and_python_callbacks_run_fifo(loop, helper):
    for marker in range(1, 21):
        if marker % 3 == 0:
            assert helper.add_c_callback(loop, marker)
        else:
            assert loop.add_callback(helper.append, marker)
    loop.add_callback(loop.stop)
    run_loop(loop)
    assert helper.log() == list(range(1, 21))


def test_c_and_python_timers_with_equal_deadlines_run_fifo(loop, helper):
    loop.use_virtual_clock(50.0)
    deadline = 51.0
    for marker in range(1, 11):
        if marker % 2:
            assert helper.call_at_c(loop, deadline, marker) != 0
        else:
            assert loop.call_at(deadline, helper.append, marker) != 0
    # An earlier deadline scheduled last still runs first.
    loop.call_at(50.5, helper.append, 0)
    run_one_iteration(loop)
    assert helper.log() == []
    loop.advance_clock(1.0)
    run_one_iteration(loop)
    assert helper.log() == list(range(0, 11))


def test_c_and_python_callbacks_on_the_default_loop(helper):
    loop = Gbridge.IOLoop.get_default()
    assert loop is Gbridge.IOLoop.get_default()
    helper.add_c_callback(loop, 1)
    loop.add_callback(helper.append, 2)
    helper.add_c_callback(loop, 3)
    loop.add_callback(loop.stop)
    run_loop(loop)
    assert helper.log() == [1, 2, 3]


def test_callbacks_added_by_a_callback_run_in_the_next_batch(loop, helper):
    def first():
        helper.append(1)
        loop.add_callback(helper.append, 4)
        helper.add_c_callback(loop, 5)

    loop.add_callback(first)
    helper.add_c_callback(loop, 2)
    loop.add_callback(helper.append, 3)
    run_one_iteration(loop)
    assert helper.log() == [1, 2, 3]
    run_one_iteration(loop)
    assert helper.log() == [1, 2, 3, 4, 5]


def test_callbacks_run_before_due_timers(loop, helper):
    loop.use_virtual_clock(10.0)
    loop.call_at(10.0, helper.append, 3)
    helper.call_at_c(loop, 9.0, 2)
    loop.add_callback(helper.append, 1)
    run_one_iteration(loop)
    assert helper.log() == [1, 2, 3]
