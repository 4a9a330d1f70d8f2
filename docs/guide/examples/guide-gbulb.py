# guide-gbulb.py: from gbulb or PyGObject's gi.events to gbridge.asyncio (the
# guide's chapter "Coming from gi.events or gbulb"). Run with Debian's
# /usr/bin/python3 (python3-gi).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio
import sys

import gi
gi.require_version('Gbridge', '1')
from gi.repository import Gio, GLib  # noqa: E402

import gbridge.asyncio  # noqa: E402

# gbulb:      gbulb.install(gtk=True); loop.run_forever(application=app)
# gi.events:  asyncio.set_event_loop_policy(GLibEventLoopPolicy()); app.run()
# gbridge:    a gbridge loop on the main thread is on the default context, and
#             whatever runs that context runs the loop: app.run() as it is.
loop = gbridge.asyncio.new_event_loop()     # no policy needed
asyncio.set_event_loop(loop)


def gio_load(path):
    """A Gio _async/_finish pair as an asyncio future (gi.events makes Gio's
    _async methods awaitable itself; gbridge leaves PyGObject alone)."""
    future = loop.create_future()

    def ready(file, result):
        try:
            future.set_result(file.load_contents_finish(result)[1])
        except GLib.Error as e:
            future.set_exception(e)
    Gio.File.new_for_path(path).load_contents_async(None, ready)
    return future


async def work(app):
    try:
        contents = await gio_load('/proc/self/stat')
        print('Gio read', len(contents), 'bytes; pid field:', contents.split()[0].decode())

        # A nested main loop, as a modal dialog runs, started from a plain
        # callback (a signal handler, call_soon): asyncio tasks keep running
        # in it.  gi.events refuses to recurse; gbulb needs its GtkEventLoop
        # and GTK 3's Gtk.main().  (Not from inside a coroutine: asyncio does
        # not step a task while another task's step is running.)
        returned = loop.create_future()
        loop.call_soon(modal, returned)
        print(await returned)
    finally:
        app.release()


def modal(returned):
    nested = GLib.MainLoop.new(None, False)
    inner = loop.create_task(asyncio.sleep(0.01, 'ran inside the nested loop'))
    inner.add_done_callback(lambda t: nested.quit())
    nested.run()
    returned.set_result(inner.result())


def on_activate(app):
    app.hold()
    app.task = loop.create_task(work(app))


app = Gio.Application(application_id='org.gbridge.GuideGbulb',
                      flags=Gio.ApplicationFlags.NON_UNIQUE)
app.connect('activate', on_activate)
status = app.run([sys.argv[0]])             # GLib runs the context, and asyncio
app.task.result()                           # re-raises if the work failed
loop.close()
sys.exit(status)
