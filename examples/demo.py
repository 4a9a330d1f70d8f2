#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One GMainContext, driven by C and Python at once.
#
# A TCP echo server written in C (echo-server.c, built as
# libgbridge-demo-echo.so) and a Python client share the default
# GbridgeIOLoop: the C server registers its sockets with
# gbridge_io_loop_get_default(), this script gets the same object with
# Gbridge.IOLoop.get_default() and registers its socket, a PeriodicCallback
# and timers on it.  One GSource on the default GMainContext dispatches both.
#
# Run it from the build tree with `meson devenv -C <builddir> examples/demo.py`
# or `<builddir>/examples/run-demo`, or as the meson run target `demo`.
#
#   --glib-main-loop   drive the context with a plain GLib.MainLoop, as a GTK
#                      application would, instead of loop.start()

import argparse
import ctypes
import errno
import os
import socket
import sys

import gi

gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge  # noqa: E402

N_LINES = 5
TICK = 0.05
WATCHDOG_S = 20.0


def say(*args):
    print('[py]', *args, flush=True)


def load_echo_server(path):
    lib = ctypes.CDLL(path)
    lib.gbridge_demo_echo_start.restype = ctypes.c_int
    lib.gbridge_demo_echo_start.argtypes = []
    lib.gbridge_demo_echo_stop.restype = None
    lib.gbridge_demo_echo_stop.argtypes = []
    lib.gbridge_demo_echo_n_clients.restype = ctypes.c_int
    lib.gbridge_demo_echo_n_clients.argtypes = []
    lib.gbridge_demo_echo_n_bytes.restype = ctypes.c_uint64
    lib.gbridge_demo_echo_n_bytes.argtypes = []
    return lib


class Client:
    """A non-blocking echo client: a PeriodicCallback sends one line per
    tick, an fd handler reads the echoes."""

    def __init__(self, loop, port, lines, done):
        self.loop = loop
        self.lines = lines
        self.done = done
        self.n_sent = 0
        self.received = b''
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        err = self.sock.connect_ex(('127.0.0.1', port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))
        self.fd = self.sock.fileno()
        say('connecting fd %d to port %d' % (self.fd, port))
        self.connected = False
        # Writable means connected (or failed: SO_ERROR tells); then the
        # same handler waits for READ.
        loop.add_handler(self.fd, Gbridge.IOEvents.WRITE, self.on_event)
        self.ticker = Gbridge.PeriodicCallback.new(loop, TICK, self.on_tick)

    def on_event(self, fd, events):
        if self.connected:
            self.on_readable()
            return
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.fail('connect failed: %s' % os.strerror(err))
            return
        self.connected = True
        say('connected; sending a line every %g ms' % (TICK * 1000))
        self.loop.update_handler(fd, Gbridge.IOEvents.READ)
        self.ticker.start()

    def on_tick(self):
        line = self.lines[self.n_sent]
        say('tick %d: sending %r' % (self.n_sent + 1, line))
        # A few bytes on an idle socket: the send buffer has room.
        self.sock.send(line.encode() + b'\n')
        self.n_sent += 1
        if self.n_sent == len(self.lines):
            self.ticker.stop()

    def on_readable(self):
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            return
        if not data:
            self.fail('the server closed the connection')
            return
        self.received += data
        *complete, _ = self.received.split(b'\n')
        say('got echo %r' % data.decode().rstrip('\n'))
        if len(complete) == len(self.lines):
            self.close()
            self.done(None)

    def close(self):
        self.ticker.stop()
        self.loop.remove_handler(self.fd)
        self.sock.close()

    def fail(self, message):
        self.close()
        self.done(message)


def main():
    parser = argparse.ArgumentParser(
        description='A C echo server and a Python client on one Gbridge loop.')
    parser.add_argument('--echo-lib', default=os.environ.get('GBRIDGE_DEMO_ECHO_LIB'),
                        help='path of libgbridge-demo-echo.so')
    parser.add_argument('--glib-main-loop', action='store_true',
                        help='drive the context with GLib.MainLoop instead of loop.start()')
    args = parser.parse_args()
    if not args.echo_lib:
        parser.error('--echo-lib (or GBRIDGE_DEMO_ECHO_LIB) is required')

    loop = Gbridge.IOLoop.get_default()
    assert loop.get_context() == GLib.MainContext.default()
    # The C side prints the address of the loop it got from
    # gbridge_io_loop_get_default(): it is this one.
    say('Gbridge.IOLoop.get_default() is %r' % loop)
    main_loop = GLib.MainLoop() if args.glib_main_loop else None

    def stop():
        if main_loop is not None:
            main_loop.quit()
        else:
            loop.stop()

    echo = load_echo_server(args.echo_lib)
    port = echo.gbridge_demo_echo_start()
    if port < 0:
        return 'the C echo server did not start'

    lines = ['line %d from Python' % (i + 1) for i in range(N_LINES)]
    result = {}

    def wait_for_server_to_see_eof():
        # The C server notices the closed connection on the same loop.
        if echo.gbridge_demo_echo_n_clients() == 0:
            say('the C server closed its side too; stopping the loop')
            stop()
        else:
            loop.call_later(0.005, wait_for_server_to_see_eof)

    def done(error):
        result['error'] = error
        if error is None:
            say('all %d lines echoed' % len(lines))
            wait_for_server_to_see_eof()
        else:
            stop()

    def watchdog():
        result['error'] = 'the demo was still running after %gs' % WATCHDOG_S
        stop()

    client = Client(loop, port, lines, done)
    watchdog_handle = loop.call_later(WATCHDOG_S, watchdog)

    if main_loop is not None:
        say('running GLib.MainLoop on the default context')
        main_loop.run()
    else:
        say('running loop.start() on the default loop')
        loop.start()
    loop.remove_timeout(watchdog_handle)

    echo.gbridge_demo_echo_stop()
    expected = ''.join(line + '\n' for line in lines).encode()
    if result.get('error') is not None:
        return 'FAIL: %s' % result['error']
    if client.received != expected:
        return 'FAIL: got %r, expected %r' % (client.received, expected)
    if echo.gbridge_demo_echo_n_bytes() != len(expected):
        return 'FAIL: the server echoed %d bytes, expected %d' % (
            echo.gbridge_demo_echo_n_bytes(), len(expected))
    say('OK: C and Python ran on one loop, one GMainContext')
    return 0


if __name__ == '__main__':
    sys.exit(main())
