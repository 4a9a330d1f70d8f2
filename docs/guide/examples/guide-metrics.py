#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Watching the loop: its metrics, and slow callbacks by name."""

import time

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gbridge


def busy(seconds):
    """Stands for work that does not yield: parsing, a blocking call..."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def parse_report():
    busy(0.08)


loop = Gbridge.IOLoop.new()
loop.props.metrics_enabled = True            # counters, utilization, lag
loop.props.metrics_window = 0.5              # utilization averages ~0.5 s
loop.props.slow_callback_threshold = 0.05    # report callbacks of 50 ms or more

slow = []
loop.connect('slow-callback',
             lambda loop, name, duration: slow.append(f'{name} ({duration * 1000:.0f} ms)'))

loop.call_later(0.01, lambda: None)          # due in 10 ms...
loop.add_callback(parse_report)              # ...but this runs 80 ms first
loop.call_later(0.3, loop.stop)              # then 200 ms of idle waiting
loop.start()

m = loop.props
print(f'{m.iterations} iterations: {m.callbacks_run} callbacks, '
      f'{m.timers_run} timers, {m.handlers_run} handler calls')
print(f'busy {m.busy_time:.2f} s, idle {m.idle_time:.2f} s, '
      f'utilization now {m.utilization:.0%}')
print(f'lag of the last timer {m.lag * 1000:.1f} ms, '
      f'worst lately {m.max_lag * 1000:.1f} ms')
print('slow callbacks:', ', '.join(slow))

assert m.callbacks_run == 1 and m.timers_run == 2
assert m.max_lag >= 0.07                     # the 10 ms timer ran after 80 ms
assert slow and slow[0].startswith('parse_report (')
loop.close(False)
