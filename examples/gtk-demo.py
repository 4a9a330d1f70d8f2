#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""gtk-demo.py: a GTK 4 application in Python with asyncio, Tornado and
Twisted on GTK's own loop.

There is one loop and one thread here.  GTK runs the default GMainContext;
``gbridge.asyncio`` puts an asyncio event loop on it and
``gbridge.twisted.install()`` the Twisted reactor, both through the default
``Gbridge.IOLoop``.  Nothing polls: GTK's iteration of the context runs the
asyncio callbacks, timers and sockets and the Twisted delayed calls and
protocols as they become ready.

- an asyncio task ticks a label every 100 ms;
- a Tornado HTTP server (Tornado runs on the asyncio loop) answers a Tornado
  ``AsyncHTTPClient`` fetch, made from an asyncio coroutine; the host name is
  resolved by gbridge's resolver, not by a thread pool;
- a Twisted echo server answers a Twisted client; the coroutine awaits the
  client's Deferred as an asyncio future;
- closing the window shuts down in order: asyncio tasks are cancelled and
  awaited, the Tornado server closed, the Twisted reactor stopped (its
  shutdown triggers fire), then the window goes and the application ends.

Run it from a build tree:  _build/examples/run-gtk-demo-py
With --self-test=DIR it waits for the results, checks the labels, saves a
screenshot as DIR/gtk-demo-py.png, checks the PNG, closes the window and
checks the shutdown.
"""

import asyncio
import os
import socket
import sys
import threading

import gi

gi.require_version('Gtk', '4.0')
gi.require_version('Gdk', '4.0')
gi.require_version('GdkPixbuf', '2.0')
gi.require_version('Gbridge', '1')
from gi.repository import GdkPixbuf, Gio, GLib, Gtk, Gbridge  # noqa: E402

from gtk_screenshot import render_to_png  # noqa: E402  (next to this file)

import gbridge.asyncio  # noqa: E402
import gbridge.twisted  # noqa: E402

# Twisted's reactor on the default context's gbridge loop: install before
# anything imports twisted.internet.reactor.
gbridge.twisted.install()
from twisted.internet import defer, endpoints, protocol, reactor  # noqa: E402

import tornado.escape  # noqa: E402
import tornado.httpclient  # noqa: E402
import tornado.httpserver  # noqa: E402
import tornado.netutil  # noqa: E402
import tornado.web  # noqa: E402


class GbridgeTornadoResolver(tornado.netutil.Resolver):
    """Tornado's resolver interface on gbridge's (no executor thread)."""

    def initialize(self):
        self._resolver = Gbridge.ThreadedResolver.new(Gbridge.IOLoop.get_default())

    async def resolve(self, host, port, family=socket.AF_UNSPEC):
        # Gio.SocketFamily's values are the AF_ constants.
        model = await self._resolver.resolve(host, port, Gio.SocketFamily(int(family)), 0)
        return [(int(a.get_family()), (a.get_address().to_string(), a.get_port()))
                for a in model]


class HelloHandler(tornado.web.RequestHandler):
    def get(self):
        self.write({'hello': 'gbridge', 'thread': threading.get_ident()})


class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


class EchoClient(protocol.Protocol):
    def __init__(self, message):
        self.message = message
        self.answer = defer.Deferred()
        self.received = b''

    def connectionMade(self):
        self.transport.write(self.message)

    def dataReceived(self, data):
        self.received += data
        if len(self.received) >= len(self.message):
            self.transport.loseConnection()
            self.answer.callback(self.received)


def save_and_check_screenshot(window, paintable, path):
    """Saves the window's last frame as a PNG, loads it back and checks its
    size and that it is not blank.  Returns a list of errors."""
    width, height = window.get_width(), window.get_height()
    if not render_to_png(window, paintable, width, height, path):
        return [f'cannot render the window to {path}']
    pixbuf = GdkPixbuf.Pixbuf.new_from_file(path)
    if (pixbuf.get_width(), pixbuf.get_height()) != (width, height):
        return [f'{path} is {pixbuf.get_width()}x{pixbuf.get_height()}, '
                f'the window {width}x{height}']
    data = pixbuf.read_pixel_bytes().get_data()
    n = pixbuf.get_n_channels()
    stride = pixbuf.get_rowstride()
    colours = set()
    for y in range(height):
        row = data[y * stride:y * stride + width * n]
        colours.update(row[i:i + 3] for i in range(0, len(row), n))
    # Antialiased text has many shades; a blank window has one or two.
    if len(colours) < 8:
        return [f'{path} looks blank: {len(colours)} colours']
    print(f'screenshot: {path} ({width}x{height}, {len(colours)} colours)')
    return []


class Demo(Gtk.Application):
    def __init__(self, self_test_dir=None):
        super().__init__(application_id='org.gbridge.GtkDemoPy',
                         flags=Gio.ApplicationFlags.NON_UNIQUE)
        self.self_test_dir = self_test_dir
        self.errors = []
        # The asyncio loop of the default context (this is the main thread):
        # GTK's iteration of the context runs it, no run_forever needed.
        self.loop = gbridge.asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.tasks = set()
        self.ticks = 0
        self.frames = 0
        self.closing = None
        self.closed_cleanly = False
        self.shutdown_log = []
        self.connect('shutdown', self.on_shutdown)

    def spawn(self, coro):
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def do_activate(self):
        self.window = Gtk.ApplicationWindow(application=self,
                                            title='gbridge GTK demo (Python)',
                                            default_width=460, default_height=170)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=12,
                      margin_start=18, margin_end=18, margin_top=18, margin_bottom=18)

        def label(text):
            widget = Gtk.Label(label=text, xalign=0)
            box.append(widget)
            return widget
        self.tick_label = label('tick 0')
        self.tornado_label = label('tornado: fetching…')
        self.twisted_label = label('twisted: echoing…')
        self.window.set_child(box)
        self.window.connect('close-request', self.on_close_request)
        self.window.add_tick_callback(self.on_frame)

        # The Twisted reactor runs when GTK iterates the context; startRunning
        # fires its startup triggers (signal handlers stay GLib's and GTK's).
        reactor.startRunning(installSignalHandlers=False)
        reactor.addSystemEventTrigger('before', 'shutdown', self.shutdown_log.append,
                                      'twisted before shutdown')
        reactor.addSystemEventTrigger('after', 'shutdown', self.shutdown_log.append,
                                      'twisted after shutdown')

        self.window.present()
        self.spawn(self.ticker())
        self.work = self.spawn(self.do_work())
        if self.self_test_dir is not None:
            self.spawn(self.self_test())

    def on_frame(self, widget, clock):
        self.frames += 1
        return GLib.SOURCE_CONTINUE

    async def ticker(self):
        try:
            while True:
                await asyncio.sleep(0.1)
                self.ticks += 1
                self.tick_label.set_label(f'tick {self.ticks}')
        except asyncio.CancelledError:
            self.shutdown_log.append('ticker cancelled')
            raise

    async def fetch_from_tornado(self):
        tornado.netutil.Resolver.configure(GbridgeTornadoResolver)
        app = tornado.web.Application([(r'/hello', HelloHandler)])
        sockets = tornado.netutil.bind_sockets(0, '127.0.0.1')
        self.http_server = tornado.httpserver.HTTPServer(app)
        self.http_server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        client = tornado.httpclient.AsyncHTTPClient()
        response = await client.fetch(f'http://localhost:{port}/hello')
        body = tornado.escape.json_decode(response.body)
        same_thread = body['thread'] == threading.get_ident()
        return f"tornado: {response.code} hello {body['hello']}" + \
            (' (same thread)' if same_thread else ' (ANOTHER THREAD)')

    async def echo_with_twisted(self):
        self.echo_port = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo),
                                           interface='127.0.0.1')
        port = self.echo_port.getHost().port
        endpoint = endpoints.TCP4ClientEndpoint(reactor, '127.0.0.1', port)
        # Deferreds are awaited in asyncio code as asyncio futures.
        client = await endpoint.connect(protocol.Factory.forProtocol(
            lambda: EchoClient(b'hello from Twisted'))).asFuture(self.loop)
        answer = await client.answer.asFuture(self.loop)
        return f"twisted: echo '{answer.decode()}'"

    async def do_work(self):
        self.tornado_label.set_label(await self.fetch_from_tornado())
        self.twisted_label.set_label(await self.echo_with_twisted())

    def on_close_request(self, window):
        if self.closed_cleanly:
            return False
        # Keep the window until everything on the loop has shut down.
        if self.closing is None:
            self.closing = self.loop.create_task(self.close_down())
        return True

    async def close_down(self):
        # asyncio: cancel every task and wait for them.
        current = asyncio.current_task()
        tasks = [t for t in self.tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.shutdown_log.append(f'{len(tasks)} asyncio tasks done')
        # Tornado: stop listening, close the client.
        if getattr(self, 'http_server', None) is not None:
            self.http_server.stop()
            await self.http_server.close_all_connections()
        tornado.httpclient.AsyncHTTPClient().close()
        # Twisted: stop the reactor; its shutdown triggers fire (the port is
        # closed by the reactor's own 'during' trigger).
        stopped = defer.Deferred()
        reactor.addSystemEventTrigger('after', 'shutdown', stopped.callback, None)
        reactor.stop()
        await stopped.asFuture(self.loop)
        await self.loop.shutdown_asyncgens()
        self.closed_cleanly = True
        self.window.close()

    def on_shutdown(self, app):
        # GTK's loop is done: nothing runs the asyncio loop any more.
        self.loop.close()
        asyncio.set_event_loop(None)

    async def self_test(self):
        paintable = Gtk.WidgetPaintable.new(self.window)
        try:
            await asyncio.wait_for(asyncio.shield(self.work), 30)
        except Exception as e:
            self.errors.append(f'the work failed: {e!r}')
        while self.ticks < 3:
            await asyncio.sleep(0.05)
        if self.tornado_label.get_label() != 'tornado: 200 hello gbridge (same thread)':
            self.errors.append(f'tornado label is “{self.tornado_label.get_label()}”')
        if self.twisted_label.get_label() != "twisted: echo 'hello from Twisted'":
            self.errors.append(f'twisted label is “{self.twisted_label.get_label()}”')
        if threading.active_count() != 1:
            self.errors.append(f'{threading.active_count()} Python threads, not one')
        if self.frames < 2:
            self.errors.append(f'GTK drew {self.frames} frames while gbridge worked')
        # Let GTK draw the labels as checked: the paintable holds the last
        # frame drawn.
        checked_at = self.frames
        while self.frames < checked_at + 2:
            await asyncio.sleep(0.02)
        self.errors += save_and_check_screenshot(
            self.window, paintable, os.path.join(self.self_test_dir, 'gtk-demo-py.png'))
        print(f'labels: “{self.tick_label.get_label()}”, “{self.tornado_label.get_label()}”,'
              f' “{self.twisted_label.get_label()}”; {self.frames} frames;'
              f' {threading.active_count()} thread(s)')
        # Close as a user would; close_down cancels this task too.
        self.window.close()


def main(argv):
    self_test_dir = None
    for arg in argv[1:]:
        if arg.startswith('--self-test='):
            self_test_dir = arg[len('--self-test='):]
            os.makedirs(self_test_dir, exist_ok=True)
    app = Demo(self_test_dir)
    status = app.run(argv[:1])
    if self_test_dir is not None:
        expected = ['ticker cancelled', 'twisted before shutdown', 'twisted after shutdown']
        for entry in expected:
            if entry not in app.shutdown_log:
                app.errors.append(f'shutdown did not log “{entry}”: {app.shutdown_log}')
        if not any(e.endswith('asyncio tasks done') for e in app.shutdown_log):
            app.errors.append(f'asyncio tasks were not awaited: {app.shutdown_log}')
        if not app.closed_cleanly or not app.loop.is_closed() or reactor.running:
            app.errors.append('the application did not shut down cleanly')
        print(f'shutdown: {app.shutdown_log}')
        for error in app.errors:
            print(f'gtk-demo.py self-test FAILED: {error}', file=sys.stderr)
        if app.errors:
            return 1
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv))
