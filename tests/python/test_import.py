# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `from gi.repository import Gbridge` finds the build tree's typelib and
# library, never an installed copy.

import os

import pytest

import gi

gi.require_version('Gbridge', '1')
from gi.repository import GLib, GObject, Gbridge  # noqa: E402


def _first_path_entry(var):
    value = os.environ.get(var, '')
    assert value, '%s is not set; run the tests with meson test' % var
    return os.path.realpath(value.split(os.pathsep)[0])


def test_typelib_comes_from_the_build_tree():
    repo = gi.Repository.get_default()
    path = os.path.realpath(repo.get_typelib_path('Gbridge'))
    assert os.path.dirname(path) == _first_path_entry('GI_TYPELIB_PATH')
    assert os.path.basename(path) == 'Gbridge-1.typelib'
    assert repo.get_version('Gbridge') == '1'


def test_library_comes_from_the_build_tree():
    # Creating a loop makes sure the shared library is loaded.
    loop = Gbridge.IOLoop.new()
    with open('/proc/self/maps') as maps:
        libs = {line.split()[-1] for line in maps
                if 'libgbridge-1.so' in line}
    assert libs, 'libgbridge-1.so is not mapped'
    # The typelib is <build>/introspection/Gbridge-1.typelib, the library
    # <build>/gbridge/libgbridge-1.so.*.  (meson may prepend more directories
    # to LD_LIBRARY_PATH, so do not rely on its first entry.)
    build_root = os.path.dirname(_first_path_entry('GI_TYPELIB_PATH'))
    assert {os.path.dirname(os.path.realpath(lib)) for lib in libs} == \
        {os.path.join(build_root, 'gbridge')}
    loop.close(False)


def test_types_are_registered():
    assert GObject.type_is_a(Gbridge.IOLoop.__gtype__, GObject.Object.__gtype__)
    assert GObject.type_is_a(Gbridge.PeriodicCallback.__gtype__,
                             GObject.Object.__gtype__)
    assert Gbridge.IOEvents.READ == 0x001
    assert Gbridge.IOEvents.WRITE == 0x004
    assert Gbridge.IOEvents.ERROR == 0x018


def test_io_events_are_tornados_and_glibs_numbers():
    # The same numbers pass between Tornado code and gbridge unchanged.
    tornado_ioloop = pytest.importorskip('tornado.ioloop')
    for name in ('READ', 'WRITE', 'ERROR'):
        assert int(getattr(Gbridge.IOEvents, name)) == getattr(tornado_ioloop.IOLoop, name)
    assert Gbridge.IOEvents.READ == GLib.IOCondition.IN
    assert Gbridge.IOEvents.WRITE == GLib.IOCondition.OUT
    assert Gbridge.IOEvents.ERROR == GLib.IOCondition.ERR | GLib.IOCondition.HUP


def test_new_loop_is_idle():
    loop = Gbridge.IOLoop.new()
    assert not loop.is_running()
    assert not loop.is_closed()
    assert isinstance(loop.time(), float)
    loop.close(False)
    assert loop.is_closed()
