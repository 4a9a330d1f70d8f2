#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Trio (gbridge.trio) as a guest of a GTK 4 application, under Xvfb.

The application's activate starts Trio with gbridge.trio.start().  Trio
then
  1. updates a label after a trio.sleep();
  2. keeps running while a modal window's nested main loop, opened by a
     GLib callback, runs: two Trio tasks tick inside it, a TCP round trip
     on 127.0.0.1 completes inside it, and the modal window draws;
  3. starts tasks that never end on their own and quits the application.
The application's shutdown closes the run: the tasks are cancelled (their
cleanup awaits), Trio finishes, nothing is abandoned.

The exit status is 0 when every check passed.  Run by meson test (suite gtk).
"""

import functools
import gc
import sys
import warnings

try:
    import trio
except ImportError:
    print('SKIP: Trio (Debian package python3-trio) is not installed')
    sys.exit(77)

import gi

gi.require_version('Gtk', '4.0')
gi.require_version('Gbridge', '1')
from gi.repository import Gio, GLib, Gtk, Gbridge  # noqa: E402

import gbridge.trio  # noqa: E402

failures = []


def check(condition, what):
    print(('ok: ' if condition else 'FAILED: ') + what)
    if not condition:
        failures.append(what)


class App(Gtk.Application):
    def __init__(self):
        super().__init__(application_id='org.gbridge.TestGtkTrio',
                         flags=Gio.ApplicationFlags.NON_UNIQUE)
        self.trio_run = None
        self.done = []
        self.log = []
        self.depths = []
        self.tcp = None
        self.modal_frames = 0
        self.timed_out = False
        self.connect('shutdown', self.on_shutdown)

    def do_activate(self):
        self.window = Gtk.ApplicationWindow(application=self, default_width=240,
                                            default_height=100)
        self.label = Gtk.Label(label='waiting for Trio')
        self.window.set_child(self.label)
        self.window.present()
        GLib.timeout_add_seconds(30, self.watchdog)
        self.trio_run = gbridge.trio.start(self.main, done=self.done.append)

    def watchdog(self):
        self.timed_out = True
        self.quit()
        return GLib.SOURCE_REMOVE

    async def main(self):
        # 1. A label updated after a Trio sleep.
        await trio.sleep(0.1)
        self.label.set_text('updated by Trio')
        self.label_mapped = self.label.get_mapped()
        self.main_loop_depth = GLib.main_depth()

        # 2. A modal window's nested main loop, opened by a GLib callback.
        self.nested = GLib.MainLoop.new(None, False)
        self.in_nested = trio.Event()
        self.modal_returned = trio.Event()
        GLib.idle_add(self.open_modal)
        await self.in_nested.wait()
        async with trio.open_nursery() as nursery:
            for _ in range(2):
                nursery.start_soon(self.ticker)
            nursery.start_soon(self.tcp_round_trip)
        while self.modal_frames < 2:
            await trio.sleep(0.01)
        self.modal.destroy()
        self.nested.quit()
        await self.modal_returned.wait()

        # 3. Tasks still running when the application quits.
        async with trio.open_nursery() as nursery:
            for name in ('sleeper', 'reader'):
                await nursery.start(self.forever, name)
            self.quit()
        self.log.append('never reached')

    def open_modal(self):
        self.outer_depth = GLib.main_depth()
        self.modal = Gtk.Window(transient_for=self.window, modal=True,
                                default_width=160, default_height=80)
        self.modal.set_child(Gtk.Label(label='modal'))
        self.modal.add_tick_callback(self.on_modal_frame)
        self.modal.present()
        self.in_nested.set()          # host code may wake a Trio task
        self.nested.run()
        self.modal_returned.set()
        return GLib.SOURCE_REMOVE

    def on_modal_frame(self, widget, clock):
        self.modal_frames += 1
        return GLib.SOURCE_CONTINUE

    async def ticker(self):
        for _ in range(3):
            await trio.sleep(0.01)
            self.depths.append(GLib.main_depth())

    async def tcp_round_trip(self):
        async def echo(stream):
            async with stream:
                async for data in stream:
                    await stream.send_all(data)

        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, echo, 0, host='127.0.0.1'))
            port = listeners[0].socket.getsockname()[1]
            async with await trio.open_tcp_stream('127.0.0.1', port) as client:
                await client.send_all(b'echo')
                data = b''
                while len(data) < 4:
                    data += await client.receive_some()
            self.tcp = (GLib.main_depth(), data)
            nursery.cancel_scope.cancel()

    async def forever(self, name, task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()
        try:
            if name == 'sleeper':
                await trio.sleep_forever()
            else:
                a, b = trio.socket.socketpair()
                with a, b:
                    await a.recv(1)
        except trio.Cancelled:
            with trio.CancelScope(shield=True):
                await trio.sleep(0.01)      # cleanup that itself awaits
            self.log.append(name + ' cancelled')
            raise

    def on_shutdown(self, app):
        self.done_before_close = self.trio_run.done()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            self.trio_run.close()
            gc.collect()
        # Trio's "guest run got abandoned" and the like; not the
        # DeprecationWarnings PyGObject's gi.events raises on Python 3.14.
        self.warnings = [str(w.message) for w in caught
                         if issubclass(w.category, RuntimeWarning)]

    def report(self):
        check(not self.timed_out, 'the application quit before the watchdog')
        check(self.label.get_text() == 'updated by Trio' and
              getattr(self, 'label_mapped', False),
              'Trio updated the mapped label after trio.sleep()')
        outer = getattr(self, 'outer_depth', None)
        check(outer is not None and len(self.depths) == 6 and
              all(d > outer for d in self.depths),
              f'Trio tasks ticked inside the modal loop: depths {self.depths} '
              f'(callback at {outer})')
        check(self.tcp is not None and self.tcp[0] > (outer or 0) and
              self.tcp[1] == b'echo',
              f'a Trio TCP round trip ran inside the modal loop: {self.tcp}')
        check(self.modal_frames >= 2, f'the modal window drew {self.modal_frames} frames')
        check(not self.done_before_close, 'Trio was still running at shutdown')
        check(self.trio_run.done() and self.trio_run.cancelled(),
              'close() in shutdown cancelled Trio and let it finish')
        check(sorted(self.log) == ['reader cancelled', 'sleeper cancelled'],
              f'the tasks still running were cancelled and cleaned up: {self.log}')
        check(self.done == [self.trio_run], 'the done callback ran once')
        check(self.warnings == [], f'no RuntimeWarning at shutdown: {self.warnings}')
        check(not gbridge.trio._live, 'no Trio run is left')
        check(not Gbridge.IOLoop.get_default().is_closed(), 'the default loop is open')


def main(argv):
    app = App()
    status = app.run(argv[:1])
    check(status == 0, f'the application exited with {status}')
    app.report()
    print(f'{len(failures)} failure(s)')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
