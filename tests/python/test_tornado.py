# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Tornado 6, unchanged, on gbridge's asyncio loop: IOLoop.current(), an HTTP
# server and AsyncHTTPClient in one test.  Tornado's whole suite runs in
# tests/conformance/tornado.

import asyncio
import json

import pytest

import gi

gi.require_version('GLib', '2.0')
from gi.repository import GLib  # noqa: E402

import gbridge.asyncio as gba  # noqa: E402

tornado = pytest.importorskip('tornado')
from tornado.httpclient import AsyncHTTPClient  # noqa: E402
from tornado.ioloop import IOLoop  # noqa: E402
from tornado.httpserver import HTTPServer  # noqa: E402
from tornado.web import Application, RequestHandler  # noqa: E402
from tornado.testing import bind_unused_port  # noqa: E402


class Hello(RequestHandler):
    def get(self):
        # The handler runs on the GLib main context's thread, inside a GLib
        # dispatch of the gbridge loop.
        self.write({'hello': self.get_argument('name'),
                    'owner': GLib.MainContext.default().is_owner()})


def test_http_server_and_client_on_gbridge():
    async def main():
        loop = asyncio.get_running_loop()
        assert isinstance(loop, gba.EventLoop)
        assert IOLoop.current().asyncio_loop is loop
        sock, port = bind_unused_port()
        app = Application([('/', Hello)])
        server = HTTPServer(app)
        server.add_sockets([sock])
        client = AsyncHTTPClient()
        try:
            response = await client.fetch(f'http://127.0.0.1:{port}/?name=gbridge')
        finally:
            server.stop()
            await server.close_all_connections()
            client.close()
        return response

    with asyncio.Runner(loop_factory=gba.new_event_loop) as runner:
        response = runner.run(main())
    assert response.code == 200
    assert json.loads(response.body) == {'hello': 'gbridge', 'owner': True}


def test_tornado_ioloop_runs_under_a_plain_glib_main_loop():
    loop = gba.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        io_loop = IOLoop.current()
        ml = GLib.MainLoop.new(None, False)
        seen = []

        def tick():
            seen.append(io_loop.time())
            if len(seen) == 3:
                ml.quit()
            else:
                io_loop.call_later(0.005, tick)
        io_loop.add_callback(tick)
        GLib.timeout_add_seconds(10, ml.quit)
        ml.run()
        assert len(seen) == 3 and seen == sorted(seen)
        io_loop.close()
    finally:
        asyncio.set_event_loop(None)
        loop.close()
