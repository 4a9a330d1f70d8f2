# test_guide_testing.py: pytest-asyncio and anyio tests on gbridge's loop
# (the guide's chapter "Testing asyncio code"). Run with Debian's
# /usr/bin/python3 -m pytest (python3-gi, python3-pytest-asyncio; anyio's
# test needs python3-anyio) in this directory, whose conftest.py loads
# gbridge.pytest_plugin.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio

import gi
import pytest
import pytest_asyncio

gi.require_version('Gio', '2.0')
gi.require_version('GLib', '2.0')
from gi.repository import Gio, GLib  # noqa: E402

import gbridge.asyncio  # noqa: E402


@pytest_asyncio.fixture
async def server():
    """An async fixture: set up and torn down on the test's gbridge loop."""
    async def echo(reader, writer):
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, '127.0.0.1', 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.mark.asyncio
async def test_runs_on_gbridge(glib_context):
    loop = asyncio.get_running_loop()
    assert isinstance(loop, gbridge.asyncio.EventLoop)
    # The loop runs GLib's default context, where GTK and GLib.timeout_add
    # put their sources: they fire while the test awaits.
    assert glib_context == GLib.MainContext.default()
    fired = asyncio.Event()
    GLib.timeout_add(10, lambda: fired.set() or GLib.SOURCE_REMOVE)
    await asyncio.wait_for(fired.wait(), timeout=30)


@pytest.mark.asyncio
async def test_sockets_and_fixture(server):
    reader, writer = await asyncio.open_connection('127.0.0.1', server)
    writer.write(b'hello\n')
    assert await reader.readline() == b'HELLO\n'
    writer.close()
    await writer.wait_closed()


@pytest.mark.asyncio
async def test_gio(tmp_path):
    path = tmp_path / 'greeting'
    path.write_text('hello from GIO')
    gfile = Gio.File.new_for_path(str(path))
    if gi.version_info >= (3, 50):
        # PyGObject 3.50 and later: a Gio *_async call is awaitable.
        ok, contents, etag = await gfile.load_contents_async(None)
    else:
        # Earlier: GIO calls back on the loop's context, into a future.
        future = asyncio.get_running_loop().create_future()
        gfile.load_contents_async(
            None, lambda f, result: future.set_result(f.load_contents_finish(result)))
        ok, contents, etag = await future
    assert contents == b'hello from GIO'


anyio = pytest.importorskip('anyio')   # the rest: anyio tests


@pytest.mark.anyio
async def test_anyio(anyio_backend_name):
    if anyio_backend_name != 'asyncio':
        pytest.skip('the trio backend does not use an asyncio loop')
    assert isinstance(asyncio.get_running_loop(), gbridge.asyncio.EventLoop)
    with anyio.fail_after(30):
        result = await anyio.to_thread.run_sync(sum, [1, 2, 3])
    assert result == 6
