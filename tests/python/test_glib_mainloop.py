# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A loop on the default GMainContext is one GSource like any other: a plain
# GLib.MainLoop (as in a GTK application) drives it without start(), and
# start() dispatches the context's other sources too.

import os

import gi

gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge  # noqa: E402

from gbridgetest import run_loop  # noqa: E402


def run_glib_main_loop(main_loop, timeout=10):
    timed_out = []

    def watchdog():
        timed_out.append(True)
        main_loop.quit()
        return GLib.SOURCE_REMOVE

    source_id = GLib.timeout_add_seconds(timeout, watchdog)
    main_loop.run()
    if not timed_out:
        GLib.source_remove(source_id)
    assert not timed_out, 'GLib.MainLoop was still running after %ds' % timeout


def test_loop_for_default_context_uses_it():
    loop = Gbridge.IOLoop.new_for_context(None)
    try:
        assert loop.get_context() == GLib.MainContext.default()
    finally:
        loop.close(False)


def test_default_loop_is_on_the_default_context():
    loop = Gbridge.IOLoop.get_default()
    assert loop is Gbridge.IOLoop.get_default()
    assert loop.get_context() == GLib.MainContext.default()


def test_private_loop_has_its_own_context(loop):
    assert loop.get_context() != GLib.MainContext.default()


def test_glib_main_loop_drives_call_later():
    loop = Gbridge.IOLoop.new_for_context(None)
    main_loop = GLib.MainLoop()
    fired = []

    def on_timer():
        fired.append(loop.is_running())
        main_loop.quit()

    try:
        loop.call_later(0.01, on_timer)
        run_glib_main_loop(main_loop)
    finally:
        loop.close(False)
    # The timer ran although start() was never called.
    assert fired == [False]


def test_glib_main_loop_drives_callbacks_timers_and_handlers():
    loop = Gbridge.IOLoop.get_default()
    main_loop = GLib.MainLoop()
    r, w = os.pipe()
    seen = []

    def on_readable(fd, events):
        seen.append(('fd', os.read(fd, 10)))
        loop.remove_handler(fd)
        main_loop.quit()

    try:
        loop.add_handler(r, Gbridge.IOEvents.READ, on_readable)
        loop.add_callback(seen.append, ('callback', None))
        loop.call_later(0.01, seen.append, ('timer', None))
        loop.call_later(0.02, os.write, w, b'x')
        run_glib_main_loop(main_loop)
    finally:
        loop.remove_handler(r)
        os.close(r)
        os.close(w)
    assert seen == [('callback', None), ('timer', None), ('fd', b'x')]


def test_start_dispatches_other_sources_of_the_context():
    loop = Gbridge.IOLoop.get_default()
    seen = []

    def idle():
        seen.append('glib idle')
        loop.add_callback(loop.stop)
        return GLib.SOURCE_REMOVE

    GLib.idle_add(idle)
    run_loop(loop)
    assert seen == ['glib idle']


def test_private_loop_does_not_run_from_the_default_context(loop):
    fired = []
    loop.add_callback(fired.append, 'private')
    context = GLib.MainContext.default()
    while context.iteration(False):
        pass
    assert fired == []
    loop.add_callback(loop.stop)
    run_loop(loop)
    assert fired == ['private']
