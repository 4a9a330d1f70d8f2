# guide-python.py: gbridge from Python (the guide's chapter "Using gbridge
# from Python"). Run with Debian's /usr/bin/python3 (python3-gi).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os

import gi
gi.require_version('Gbridge', '1')
from gi.repository import Gbridge, GLib  # noqa: E402

loop = Gbridge.IOLoop.new()          # a private context; get_default() for GLib's
ticks = []

# A periodic callback every 20 ms (0.02 s), as Tornado's PeriodicCallback.
ticker = Gbridge.PeriodicCallback.new(loop, 0.02, lambda: ticks.append(loop.time()))
ticker.start()

# An fd handler on a pipe, woken by a timer.
r, w = os.pipe()


def on_readable(fd, events):
    print('fd handler read', os.read(fd, 64))
    loop.remove_handler(fd)


loop.add_handler(r, Gbridge.IOEvents.READ, on_readable)
loop.call_later(0.05, lambda: os.write(w, b'ping'))


# A worker thread resolves a future; run_sync runs the loop until it is done.
def square(future, cancellable):
    future.resolve(12 * 12)


print('run_sync:', loop.run_sync(lambda: Gbridge.Future.run_in_thread(loop, square),
                                 timeout=5))

# A failed future raises GLib.Error from run_sync.
try:
    loop.run_sync(lambda: Gbridge.Future.new_failed(
        GLib.Error.new_literal(GLib.file_error_quark(), 'no such file', GLib.FileError.NOENT)))
except GLib.Error as e:
    print('failed as expected:', e.message)

loop.call_later(0.2, loop.stop)
loop.start()
ticker.stop()
loop.close(True)                       # closes the pipe's read end too
os.close(w)
print(len(ticks), 'ticks')
assert ticks, 'the periodic callback never ran'
