# SPDX-License-Identifier: LGPL-2.1-or-later
#
# gbridge.asyncio.run_context_on: a GLib main context (a Gbridge.IOLoop and
# plain GLib sources on it) driven by an already running asyncio loop, the
# default one and uvloop, through Gbridge.ContextDriver.

import asyncio
import os
import threading

import pytest

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge  # noqa: E402

import gbridge.asyncio as gba  # noqa: E402


def _uvloop_factory():
    uvloop = pytest.importorskip('uvloop')
    return uvloop.new_event_loop()


@pytest.fixture(params=['default', 'uvloop'])
def loop_factory(request):
    if request.param == 'default':
        return asyncio.SelectorEventLoop
    return _uvloop_factory


async def _exercise(context):
    """Everything on @context must run while asyncio awaits."""
    io_loop = Gbridge.IOLoop.new_for_context(context)
    seen = set()
    done = asyncio.get_running_loop().create_future()
    r, w = os.pipe()

    def note(what):
        seen.add(what)
        if len(seen) == 6 and not done.done():
            done.set_result(None)

    def on_fd(fd, events, *unused):
        os.read(fd, 1)
        io_loop.remove_handler(fd)
        note('gbridge fd')

    def glib_timeout(*unused):
        note('glib timeout')
        return GLib.SOURCE_REMOVE

    def glib_idle(*unused):
        note('glib idle')
        return GLib.SOURCE_REMOVE

    with gba.run_context_on(context=context) as runner:
        assert context.is_owner()
        io_loop.add_callback(lambda *a: note('gbridge callback'))
        io_loop.call_later(0.01, lambda *a: (note('gbridge timeout'), os.write(w, b'x')))
        io_loop.add_handler(r, Gbridge.IOEvents.READ, on_fd)
        src = GLib.timeout_source_new(20)
        src.set_callback(glib_timeout)
        src.attach(context)
        src = GLib.idle_source_new()
        src.set_callback(glib_idle)
        src.attach(context)
        # Attached from asyncio's side, outside a GLib dispatch.
        runner.wakeup()
        threading.Timer(0.03, io_loop.add_callback,
                        args=(lambda *a: note('other thread'),)).start()
        await asyncio.wait_for(done, 10)
    assert not context.is_owner()
    io_loop.close(False)
    os.close(r)
    os.close(w)
    return seen


def test_private_context_on_asyncio(loop_factory):
    context = GLib.MainContext.new()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        seen = runner.run(_exercise(context))
    assert seen == {'gbridge callback', 'gbridge timeout', 'gbridge fd',
                    'glib timeout', 'glib idle', 'other thread'}


def test_default_context_on_asyncio(loop_factory):
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        seen = runner.run(_exercise(GLib.MainContext.default()))
    assert len(seen) == 6


def test_busy_context_is_refused():
    context = GLib.MainContext.new()
    errors = []

    async def main():
        try:
            gba.run_context_on(context=context)
        except RuntimeError as e:
            errors.append(e)

    assert context.acquire()
    try:
        t = threading.Thread(target=asyncio.run, args=(main(),))
        t.start()
        t.join()
    finally:
        context.release()
    assert len(errors) == 1
