# guide-trio.py: Trio on gbridge, through Trio's guest mode (the guide's
# chapter "Coming from Trio"). Run with Debian's /usr/bin/python3
# (python3-gi, python3-trio).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import functools
import sys
import threading

try:
    import trio
except ImportError:
    print('SKIP: Trio (Debian package python3-trio) is not installed')
    sys.exit(77)

import gi
gi.require_version('Gbridge', '1')
from gi.repository import Gbridge, GLib  # noqa: E402

import gbridge.trio  # noqa: E402


async def echo(stream):
    async with stream:
        async for data in stream:
            await stream.send_all(data)


async def main(greeting):
    # Trio runs its ticks from the GLib loop: here, GLib's default context,
    # the one GTK runs.
    print('on the default context:',
          Gbridge.IOLoop.get_current() == Gbridge.IOLoop.get_default())

    # Trio's own API: sleeps, timeouts, nurseries, sockets, threads.
    with trio.move_on_after(0.05) as scope:
        await trio.sleep(10)
    print('move_on_after cancelled the sleep:', scope.cancelled_caught)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, echo, 0, host='127.0.0.1'))
        port = listeners[0].socket.getsockname()[1]
        async with await trio.open_tcp_stream('127.0.0.1', port) as client:
            await client.send_all(greeting.encode())
            print('echo:', (await client.receive_some()).decode())
        nursery.cancel_scope.cancel()

    worker = await trio.to_thread.run_sync(threading.get_ident)
    print('to_thread ran elsewhere:', worker != threading.get_ident())

    # GLib sources on the context keep running in between.
    fired = trio.Event()
    GLib.timeout_add(10, lambda: fired.set() or GLib.SOURCE_REMOVE)
    await fired.wait()
    print('a GLib timeout woke a Trio task')
    return 42


# 1. As trio.run(): runs the gbridge loop until Trio finishes, returns the
#    result or raises the exception.
print('result:', gbridge.trio.run(main, 'hello'))

# 2. As a guest of a loop something else runs (GLib.MainLoop here; GTK's
#    Gtk.Application.run() the same way), with a handle to end it.
main_loop = GLib.MainLoop.new(None, False)


async def background():
    try:
        await trio.sleep_forever()
    finally:
        print('background task cancelled')


async def app():
    async with trio.open_nursery() as nursery:
        nursery.start_soon(background)
        await trio.sleep(0.01)
        main_loop.quit()             # the host quits, Trio still runs


run = gbridge.trio.start(app, done=lambda run: print('done, cancelled:',
                                                      run.cancelled()))
main_loop.run()
run.close()    # in Gtk.Application's "shutdown": cancel, let Trio finish
