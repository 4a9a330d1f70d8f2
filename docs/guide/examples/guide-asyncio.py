# guide-asyncio.py: asyncio on gbridge, and gbridge on asyncio (the guide's
# chapter "Coming from asyncio"). Run with Debian's /usr/bin/python3
# (python3-gi; python3-tornado for the Tornado part).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio
import socket

import gi
gi.require_version('Gbridge', '1')
from gi.repository import Gbridge, GLib  # noqa: E402

import gbridge  # noqa: E402
import gbridge.asyncio  # noqa: E402

import tornado.gen  # noqa: E402
import tornado.ioloop  # noqa: E402


async def main():
    loop = asyncio.get_running_loop()
    # The asyncio loop runs on a Gbridge.IOLoop: on the main thread, the loop
    # of GLib's default context (the one GTK runs).
    print('on the default context:', loop.io_loop == Gbridge.IOLoop.get_default())

    # Everything of AbstractEventLoop: callbacks, timers, sockets, tasks.
    a, b = socket.socketpair()
    a.setblocking(False)
    loop.call_later(0.01, b.send, b'ping')
    print('sock_recv:', await loop.sock_recv(a, 4))
    a.close()
    b.close()

    # Gbridge futures are awaitable; asyncio futures convert both ways.
    timer = Gbridge.Future(loop=loop.io_loop)
    loop.io_loop.call_later(0.01, lambda: timer.resolve('from a gbridge timer'))
    print('awaited Gbridge.Future:', await timer)
    gfuture = gbridge.to_gbridge_future(asyncio.sleep(0.01, 'from a coroutine'))
    print('to_gbridge_future:', await gbridge.to_asyncio_future(gfuture))

    # GLib sources on the context run in between (GIO, GTK, timeouts).
    fired = loop.create_future()
    GLib.timeout_add(10, lambda: fired.set_result('GLib timeout') or False)
    print('glib:', await fired)

    # Tornado runs on the running asyncio loop (Tornado 5+: AsyncIOMainLoop).
    io_loop = tornado.ioloop.IOLoop.current()
    print('tornado on this loop:', io_loop.asyncio_loop is loop)
    print('tornado:', await tornado.gen.sleep(0.01) or 'slept')
    return 42


# 1. As asyncio.run(), with gbridge's loop: gbridge.asyncio.run(main()), or
#    asyncio.run(main(), loop_factory=gbridge.asyncio.EventLoop) (3.12+), or:
with asyncio.Runner(loop_factory=gbridge.asyncio.EventLoop) as runner:
    print('result:', runner.run(main()))
print('result:', gbridge.asyncio.run(main()))

# 2. Under a plain GLib main loop (or GTK): no run_forever() needed, whatever
#    iterates the context runs the asyncio work.
loop = gbridge.asyncio.new_event_loop()
main_loop = GLib.MainLoop.new(None, False)
task = loop.create_task(asyncio.sleep(0.01, 'done under GLib.MainLoop'))
task.add_done_callback(lambda t: main_loop.quit())
main_loop.run()
print(task.result())
loop.close()

# 3. The other way round: the GLib context runs on a stock asyncio loop
#    (or uvloop), through run_context_on().


async def glib_on_asyncio():
    with gbridge.asyncio.run_context_on():
        done = asyncio.get_running_loop().create_future()
        Gbridge.IOLoop.get_default().call_later(0.01, lambda: done.set_result('gbridge'))
        GLib.idle_add(lambda: print('GLib idle on asyncio') or False)
        return await done

print('stock asyncio ran', asyncio.run(glib_on_asyncio()))
