# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers shared by the Python tests: the ctypes wrapper of the C helper
# module and ways to run a loop under a watchdog.

import ctypes
import os
import threading


class Helper:
    """The C helper module, loaded with ctypes."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(os.path.abspath(path))
        self.lib.gbridge_test_log_clear.restype = None
        self.lib.gbridge_test_log_clear.argtypes = []
        self.lib.gbridge_test_log_append.restype = None
        self.lib.gbridge_test_log_append.argtypes = [ctypes.c_int]
        self.lib.gbridge_test_log_get.restype = ctypes.c_int
        self.lib.gbridge_test_log_get.argtypes = [ctypes.POINTER(ctypes.c_int),
                                                  ctypes.c_int]
        self.lib.gbridge_test_add_c_callback.restype = ctypes.c_int
        self.lib.gbridge_test_add_c_callback.argtypes = [ctypes.c_void_p,
                                                         ctypes.c_int]
        self.lib.gbridge_test_call_at_c.restype = ctypes.c_uint64
        self.lib.gbridge_test_call_at_c.argtypes = [ctypes.c_void_p,
                                                    ctypes.c_double,
                                                    ctypes.c_int]
        self.lib.gbridge_test_future_value.restype = ctypes.c_int
        self.lib.gbridge_test_future_value.argtypes = [ctypes.c_void_p,
                                                       ctypes.c_char_p,
                                                       ctypes.c_int]

    @staticmethod
    def pointer(gobject):
        """The C address of a GObject wrapped by PyGObject."""
        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.restype = ctypes.c_void_p
        get.argtypes = [ctypes.py_object, ctypes.c_char_p]
        return get(gobject.__gpointer__, None)

    def clear(self):
        self.lib.gbridge_test_log_clear()

    def append(self, marker):
        self.lib.gbridge_test_log_append(marker)

    def log(self):
        n = self.lib.gbridge_test_log_get(None, 0)
        buf = (ctypes.c_int * max(n, 1))()
        n = self.lib.gbridge_test_log_get(buf, n)
        return list(buf[:n])

    def add_c_callback(self, loop, marker):
        return bool(self.lib.gbridge_test_add_c_callback(self.pointer(loop),
                                                         marker))

    def call_at_c(self, loop, when, marker):
        return self.lib.gbridge_test_call_at_c(self.pointer(loop), when,
                                               marker)

    def future_value(self, future):
        """How C reads the future's value: '<GType name> <contents>',
        'none' or 'error' (see gbridge_test_future_value())."""
        pointer = self.pointer(future)
        n = self.lib.gbridge_test_future_value(pointer, None, 0)
        buf = ctypes.create_string_buffer(n + 1)
        self.lib.gbridge_test_future_value(pointer, buf, n + 1)
        return buf.value.decode()


class Watchdog:
    """Stops a loop that ran too long, from another thread.

    stop() and add_callback() are thread-safe; both are used so that a loop
    whose stop() fails to wake it is still woken by the callback."""

    def __init__(self, loop, timeout):
        self.loop = loop
        self.fired = False
        self.timer = threading.Timer(timeout, self._fire)
        self.timer.daemon = True

    def _fire(self):
        self.fired = True
        self.loop.stop()
        self.loop.add_callback(self.loop.stop)

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        self.timer.join()
        return False


def run_loop(loop, timeout=10.0):
    """Runs @loop until something stops it; fails if the watchdog had to."""
    with Watchdog(loop, timeout) as dog:
        loop.start()
    assert not dog.fired, 'the loop was still running after %gs' % timeout


def run_one_iteration(loop, timeout=10.0):
    """Runs exactly one iteration of @loop: the callback that stops it is in
    the first batch, and the due timers of that iteration run after it."""
    loop.add_callback(loop.stop)
    run_loop(loop, timeout)
