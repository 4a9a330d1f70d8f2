#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""asyncio (gbridge.asyncio) and Twisted (gbridge.twisted) in a GTK 4
application, under Xvfb: GTK runs the default context, which runs both.

test-gtk-python.py nested
    A modal window's nested main loop, started from a gbridge callback (as
    gtk_dialog_run() did), keeps asyncio tasks (sleeps, socket reads) and
    Twisted delayed calls and a TCP echo round trip running, while the
    modal window draws.
test-gtk-python.py shutdown
    Closing the window stops the application cleanly: the asyncio tasks are
    cancelled and awaited (their cleanup awaits too), the Twisted reactor
    fires its before/during/after shutdown triggers (waiting for a Deferred a
    'before' trigger returns) and closes its port, and closing the gbridge
    loop in the application's 'shutdown' releases every pending callback
    (PyGObject's destroy-notify drops the last reference) without running it.

Each is a separate process (a reactor is installed once per process); the
exit status is 0 when every check passed.  Run by meson test (suite gtk).
"""

import asyncio
import gc
import socket
import sys
import weakref

import gi

gi.require_version('Gtk', '4.0')
gi.require_version('Gbridge', '1')
from gi.repository import Gio, GLib, Gtk, Gbridge  # noqa: E402

import gbridge.asyncio  # noqa: E402
import gbridge.twisted  # noqa: E402

gbridge.twisted.install()
from twisted.internet import defer, protocol, reactor  # noqa: E402

failures = []


def check(condition, what):
    print(('ok: ' if condition else 'FAILED: ') + what)
    if not condition:
        failures.append(what)


class App(Gtk.Application):
    def __init__(self, name):
        super().__init__(application_id=f'org.gbridge.TestGtkPython.{name}',
                         flags=Gio.ApplicationFlags.NON_UNIQUE)
        self.io_loop = Gbridge.IOLoop.get_default()
        self.loop = gbridge.asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        assert self.loop.io_loop == self.io_loop
        reactor.startRunning(installSignalHandlers=False)

    def do_activate(self):
        self.window = Gtk.ApplicationWindow(application=self, default_width=200,
                                            default_height=100)
        self.window.set_child(Gtk.Label(label=type(self).__name__))
        self.window.present()
        self.activated()


# Nested loops -------------------------------------------------------------

class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


class EchoClient(protocol.Protocol):
    def connectionMade(self):
        self.transport.write(b'echo')

    def dataReceived(self, data):
        self.transport.loseConnection()
        self.factory.app.depths['tcp'].append((GLib.main_depth(), data))
        self.factory.app.maybe_close()


class Nested(App):
    STEPS = 3

    def activated(self):
        self.depths = {'asyncio': [], 'socket': [], 'twisted': [], 'tcp': []}
        self.dialog_frames = 0
        self.modal_returned = False
        self.timed_out = False
        self.io_loop.call_later(0.05, self.open_modal)

    def complete(self):
        return (len(self.depths['asyncio']) == self.STEPS and self.depths['socket']
                and len(self.depths['twisted']) == self.STEPS and self.depths['tcp']
                and self.dialog_frames >= 2)

    def maybe_close(self):
        if self.complete() and self.nested.is_running():
            self.dialog.destroy()
            self.nested.quit()

    async def asyncio_work(self, sock):
        for _ in range(self.STEPS):
            await asyncio.sleep(0.01)
            self.depths['asyncio'].append(GLib.main_depth())
        data = await self.loop.sock_recv(sock, 16)
        self.depths['socket'].append((GLib.main_depth(), data))
        self.maybe_close()

    def twisted_step(self):
        self.depths['twisted'].append(GLib.main_depth())
        if len(self.depths['twisted']) < self.STEPS:
            reactor.callLater(0.01, self.twisted_step)
        self.maybe_close()

    def on_dialog_frame(self, widget, clock):
        self.dialog_frames += 1
        self.maybe_close()
        return GLib.SOURCE_CONTINUE

    def watchdog(self):
        self.timed_out = True
        self.nested.quit()
        return GLib.SOURCE_REMOVE

    def open_modal(self):
        # A gbridge callback that runs a modal window's nested main loop.
        self.outer_depth = GLib.main_depth()
        self.dialog = Gtk.Window(transient_for=self.window, modal=True,
                                 default_width=160, default_height=80)
        self.dialog.set_child(Gtk.Label(label='modal'))
        self.dialog.add_tick_callback(self.on_dialog_frame)
        self.nested = GLib.MainLoop.new(None, False)
        a, b = socket.socketpair()
        a.setblocking(False)
        task = self.loop.create_task(self.asyncio_work(a))
        self.loop.call_later(0.05, b.send, b'through epoll')
        reactor.callLater(0.01, self.twisted_step)
        port = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), interface='127.0.0.1')
        client = protocol.ClientFactory.forProtocol(EchoClient)
        client.app = self
        reactor.connectTCP('127.0.0.1', port.getHost().port, client)
        watchdog = GLib.timeout_add_seconds(20, self.watchdog)
        self.dialog.present()
        self.nested.run()
        if not self.timed_out:
            GLib.source_remove(watchdog)
        self.modal_returned = True
        self.task_done = task.done()
        a.close()
        b.close()
        port.stopListening()
        self.window.close()

    def report(self):
        check(not self.timed_out, 'the nested loop finished before the watchdog')
        check(self.modal_returned, 'the modal loop returned')
        check(self.task_done, 'the asyncio task finished inside the nested loop')
        outer = self.outer_depth
        check(len(self.depths['asyncio']) == self.STEPS and
              all(d > outer for d in self.depths['asyncio']),
              f'asyncio sleeps ran in the nested loop: depths {self.depths["asyncio"]}'
              f' (gbridge callback at {outer})')
        check(len(self.depths['socket']) == 1 and self.depths['socket'][0][0] > outer and
              self.depths['socket'][0][1] == b'through epoll',
              f'the asyncio socket read ran in the nested loop: {self.depths["socket"]}')
        check(len(self.depths['twisted']) == self.STEPS and
              all(d > outer for d in self.depths['twisted']),
              f'Twisted delayed calls ran in the nested loop: {self.depths["twisted"]}')
        check(len(self.depths['tcp']) == 1 and self.depths['tcp'][0][0] > outer and
              self.depths['tcp'][0][1] == b'echo',
              f'a Twisted TCP echo round trip ran in the nested loop: {self.depths["tcp"]}')
        check(self.dialog_frames >= 2, f'the modal window drew {self.dialog_frames} frames')


# Shutdown -----------------------------------------------------------------

class Tracked:
    """Something only a pending callback holds; its finalizer says when the
    callback's destroy-notify dropped it."""

    released = []
    ran = []

    def __init__(self, name):
        self.name = name
        weakref.finalize(self, Tracked.released.append, name)

    def __call__(self, *args):
        Tracked.ran.append(self.name)


class Shutdown(App):
    def activated(self):
        self.log = []
        self.closing = None
        self.closed = False
        self.tasks = []
        self.sockets = socket.socketpair()
        for s in self.sockets:
            s.setblocking(False)
        never = self.loop.create_future()
        self.tasks = [self.loop.create_task(coro) for coro in (
            self.sleeper(), self.reader(self.sockets[0]), self.waiter(never))]

        # Twisted: a listening port, a delayed call that must not run, and
        # shutdown triggers, the 'before' one returning a Deferred.
        self.port = reactor.listenTCP(0, protocol.Factory.forProtocol(protocol.Protocol),
                                      interface='127.0.0.1')
        self.never_ran = []
        reactor.callLater(3600, self.never_ran.append, 'delayed call')
        reactor.addSystemEventTrigger('before', 'shutdown', self.before_shutdown)
        reactor.addSystemEventTrigger('during', 'shutdown', self.log.append, 'during')
        reactor.addSystemEventTrigger('after', 'shutdown', self.log.append, 'after')

        # gbridge: callbacks pending when the loop closes.
        self.n_pending = 0
        self.io_loop.call_later(3600, Tracked('call_later'))
        self.io_loop.add_timeout(self.io_loop.time() + 3600, Tracked('add_timeout'))
        self.io_loop.add_handler(self.sockets[1].fileno(), Gbridge.IOEvents.READ,
                                 Tracked('add_handler'))
        self.n_pending = 3

        self.window.connect('close-request', self.on_close_request)
        self.io_loop.call_later(0.1, self.window.close)
        self.connect('shutdown', self.on_shutdown)

    async def sleeper(self):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0.01)     # cleanup that itself awaits
            self.log.append('sleeper cleaned up')
            raise

    async def reader(self, sock):
        try:
            await self.loop.sock_recv(sock, 1)
        finally:
            self.log.append('reader cleaned up')

    async def waiter(self, future):
        try:
            await future
        finally:
            self.log.append('waiter cleaned up')

    def before_shutdown(self):
        self.log.append('before')
        d = defer.Deferred()
        reactor.callLater(0.01, d.callback, None)   # shutdown waits for it
        d.addCallback(lambda _: self.log.append('before done'))
        return d

    def on_close_request(self, window):
        if self.closed:
            return False
        if self.closing is None:
            self.closing = self.loop.create_task(self.close_down())
        return True

    async def close_down(self):
        for task in self.tasks:
            task.cancel()
        results = await asyncio.gather(*self.tasks, return_exceptions=True)
        self.cancelled = [isinstance(r, asyncio.CancelledError) for r in results]
        self.log.append('tasks awaited')
        stopped = defer.Deferred()
        reactor.addSystemEventTrigger('after', 'shutdown', stopped.callback, None)
        reactor.stop()
        await stopped.asFuture(self.loop)
        self.port_closed = not self.port.connected
        await self.loop.shutdown_asyncgens()
        self.closed = True
        self.window.close()

    def on_shutdown(self, app):
        gc.collect()
        self.released_before_close = list(Tracked.released)
        self.loop.close()
        asyncio.set_event_loop(None)
        self.io_loop.close(False)
        gc.collect()

    def report(self):
        check(self.closed, 'close-down finished and the window closed')
        check(getattr(self, 'cancelled', None) == [True, True, True],
              f'the three asyncio tasks ended cancelled: {getattr(self, "cancelled", None)}')
        check(sorted(self.log[:3]) == ['reader cleaned up', 'sleeper cleaned up',
                                       'waiter cleaned up'] and self.log[3] == 'tasks awaited',
              f'the tasks cleaned up before close-down went on: {self.log}')
        check(self.log[4:] == ['before', 'before done', 'during', 'after'],
              f"the reactor's shutdown triggers fired in order, waiting for "
              f"the 'before' Deferred: {self.log[4:]}")
        check(getattr(self, 'port_closed', False), 'the Twisted port was closed at shutdown')
        check(not reactor.running, 'the reactor is not running')
        check(self.loop.is_closed(), 'the asyncio loop is closed')
        check(self.io_loop.is_closed(), 'the gbridge loop is closed')
        check(self.never_ran == [], 'the pending Twisted delayed call never ran')
        check(Tracked.ran == [], f'no pending gbridge callback ran: {Tracked.ran}')
        check(self.released_before_close == [],
              f'the pending callbacks were alive until the loop closed: '
              f'{self.released_before_close}')
        check(sorted(Tracked.released) == ['add_handler', 'add_timeout', 'call_later'],
              f'every pending gbridge callback was released: {sorted(Tracked.released)}')


def main(argv):
    if len(argv) != 2 or argv[1] not in ('nested', 'shutdown'):
        print(f'usage: {argv[0]} nested|shutdown', file=sys.stderr)
        return 2
    app = (Nested if argv[1] == 'nested' else Shutdown)(argv[1])
    status = app.run(argv[:1])
    check(status == 0, f'the application exited with {status}')
    app.report()
    print(f'{argv[1]}: {len(failures)} failure(s)')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
