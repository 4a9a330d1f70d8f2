import asyncio
import gbridge.asyncio
from gi.repository import GLib


async def echo(reader, writer):
    writer.write((await reader.readline()).upper())
    writer.close()


async def main():
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
    writer.write(b"hello from asyncio\n")
    print((await reader.readline()).decode(), end="")
    writer.close()
    server.close()
    glib_timeout = asyncio.get_running_loop().create_future()
    GLib.timeout_add(10, glib_timeout.set_result, "and a GLib timeout, on the same loop")
    print(await glib_timeout)


gbridge.asyncio.run(main())  # or asyncio.run(main(), loop_factory=gbridge.asyncio.EventLoop)
