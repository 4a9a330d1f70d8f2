# SPDX-License-Identifier: LGPL-2.1-or-later
#
# gbridge.asyncio with newer PyGObject: Gio's awaitable *_async methods
# (PyGObject 3.50+), gi.events' loop in the same process, and the lookup of
# libgbridge for gbridge._native.

import asyncio
import os
import subprocess
import sys
import textwrap
import threading

import pytest

import gi

gi.require_version('Gio', '2.0')
gi.require_version('GLib', '2.0')
from gi.repository import Gio, GLib  # noqa: E402

import gbridge.asyncio as gba  # noqa: E402

AWAITABLE_ASYNC = gi.version_info >= (3, 50)
needs_awaitables = pytest.mark.skipif(
    not AWAITABLE_ASYNC,
    reason='PyGObject %s: Gio *_async methods return awaitables from 3.50 on'
    % gi.__version__)


def run_with(factory, coro):
    """asyncio.run(coro, loop_factory=factory), on Python 3.11 too."""
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


@pytest.fixture
def some_file(tmp_path):
    path = tmp_path / 'contents'
    path.write_bytes(b'read through GIO\n')
    return str(path)


async def load(path):
    loop = asyncio.get_running_loop()
    ok, contents, etag = await Gio.File.new_for_path(path).load_contents_async(None)
    return type(loop), ok, contents


@needs_awaitables
@pytest.mark.skipif(sys.version_info < (3, 12),
                    reason='asyncio.run() takes loop_factory from Python 3.12')
def test_gio_awaitable_with_asyncio_run(some_file):
    assert asyncio.run(load(some_file), loop_factory=gba.EventLoop) == \
        (gba.EventLoop, True, b'read through GIO\n')


@needs_awaitables
def test_gio_awaitable_with_gbridge_run(some_file):
    assert gba.run(load(some_file)) == (gba.EventLoop, True, b'read through GIO\n')


@needs_awaitables
def test_gio_awaitable_failure(tmp_path):
    async def missing():
        await Gio.File.new_for_path(str(tmp_path / 'nothing')).load_contents_async(None)
    with pytest.raises(GLib.Error) as info:
        gba.run(missing())
    assert info.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND)


@needs_awaitables
def test_gio_awaitable_on_a_worker_thread(some_file):
    """A private context there: it is the thread-default one while the
    loop runs, where GIO delivers and PyGObject looks."""
    out = []

    def worker():
        try:
            out.append(gba.run(load(some_file)))
        except BaseException as e:
            out.append(e)
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert out == [(gba.EventLoop, True, b'read through GIO\n')]


def test_thread_default_context_is_restored(some_file):
    async def inside():
        return GLib.MainContext.ref_thread_default() == \
            asyncio.get_running_loop().get_context()
    out = []

    def worker():
        out.append(gba.run(inside()))
        out.append(GLib.MainContext.get_thread_default())
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert out == [True, None]


@needs_awaitables
def test_gbridge_and_gi_events_loops_one_after_another(some_file):
    from gi.events import GLibEventLoop

    def gi_loop():
        return GLibEventLoop(GLib.MainContext.default())

    expected = (True, b'read through GIO\n')
    for factory in (gba.EventLoop, gi_loop, gba.EventLoop, gi_loop):
        kind, ok, contents = run_with(factory, load(some_file))
        assert (ok, contents) == expected
        assert kind is (gba.EventLoop if factory is gba.EventLoop else GLibEventLoop)
    # And a plain GLib.MainLoop still runs gbridge's asyncio work after both.
    loop = gba.new_event_loop()
    try:
        ml = GLib.MainLoop()
        task = loop.create_task(asyncio.sleep(0.001, 'after gi.events'))
        task.add_done_callback(lambda t: ml.quit())
        GLib.timeout_add_seconds(10, ml.quit)
        ml.run()
        assert task.result() == 'after gi.events'
    finally:
        loop.close()


def test_nested_glib_main_loop_and_iteration_from_a_callback():
    """PyGObject 3.50's MainLoop.run() and MainContext.iteration() ask the
    running loop to be 'running'/'paused' when it has a _context."""
    loop = gba.new_event_loop()
    seen = []

    def modal():
        nested = GLib.MainLoop()
        loop.call_later(0.001, nested.quit)
        nested.run()
        seen.append('nested ran')
        GLib.MainContext.default().iteration(False)
        seen.append('iterated')
        loop.stop()
    try:
        loop.call_soon(modal)
        watchdog = loop.call_later(10, loop.stop)   # should modal() fail
        loop.run_forever()
        watchdog.cancel()
    finally:
        loop.close()
    assert seen == ['nested ran', 'iterated']


def _gbridge_mappings():
    """The distinct libgbridge files mapped into this process."""
    with open('/proc/self/maps') as maps:
        return {line.split()[-1] for line in maps if 'libgbridge-1.so' in line}


def test_native_module_uses_the_library_pygobject_loaded():
    """gbridge._native calls into PyGObject's libgbridge, never a second copy
    of it."""
    if os.environ.get('GBRIDGE_TEST_HAVE_NATIVE') == '1':
        assert gba._native is not None
    assert len(_gbridge_mappings()) == 1, _gbridge_mappings()


def test_library_found_only_through_a_girepository_library_path():
    """libgbridge off the linker's path, found by PyGObject through a
    GIRepository library path: gbridge.asyncio still reaches it, with this
    PyGObject's GIRepository (2.0 up to PyGObject 3.50, 3.0 from 3.52)."""
    dirs = os.environ.get('LD_LIBRARY_PATH', '').split(os.pathsep)
    libdir = next((d for d in dirs
                   if d and os.path.exists(os.path.join(d, 'libgbridge-1.so.0'))), None)
    if libdir is None:
        pytest.skip('libgbridge is not on LD_LIBRARY_PATH (an installed build)')
    code = textwrap.dedent('''
        import asyncio, socket, sys
        import gi
        if gi.version_info >= (3, 52):
            gi.require_version('GIRepository', '3.0')
            from gi.repository import GIRepository
            GIRepository.Repository.dup_default().prepend_library_path(sys.argv[1])
        else:
            gi.require_version('GIRepository', '2.0')
            from gi.repository import GIRepository
            GIRepository.Repository.prepend_library_path(sys.argv[1])
        import gbridge.asyncio as gba

        async def main():
            loop = asyncio.get_running_loop()
            a, b = socket.socketpair()
            with a, b:
                a.setblocking(False)
                loop.call_later(0.001, b.send, b'x')
                return await loop.sock_recv(a, 1)

        print(gba.run(main()))
    ''')
    env = dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join(d for d in dirs if d != libdir))
    result = subprocess.run([sys.executable, '-c', code, libdir], capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "b'x'\n"
