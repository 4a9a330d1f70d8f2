// SPDX-License-Identifier: LGPL-2.1-or-later
//
// GJS drives a Gbridge loop: a callback, a timer, and an fd handler that gets
// READ when the timer writes a datagram to a UDP socket.  Prints TAP; exits
// non-zero on failure, and a watchdog ends a run that hangs.

imports.gi.versions.Gbridge = '1';
const {GLib, Gio, Gbridge} = imports.gi;
const System = imports.system;

imports.searchPath.unshift(GLib.path_get_dirname(System.programPath));
const {check, watchdog, finish} = imports.tap;

// The loop is on the default context, so this GLib timeout can fire while
// loop.start() runs; it ends a run that hangs.
watchdog(10000);

const loop = Gbridge.IOLoop.new_for_context(null);

// Gio cannot hand GJS a pipe (g_unix_open_pipe() fills a C array), so a UDP
// socket on the loopback interface is the fd: writing a datagram to it makes
// it readable.
const receiver = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM,
    Gio.SocketProtocol.UDP);
receiver.bind(Gio.InetSocketAddress.new_from_string('127.0.0.1', 0), false);
const sender = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM,
    Gio.SocketProtocol.UDP);
const fd = receiver.get_fd();
const message = 'ping from gjs';

const order = [];
let ticks = 0;

// Stops the loop once the fd handler ran and the periodic callback is done,
// whichever comes last.
function maybeStop() {
    if (handlerCalls > 0 && ticks >= 3)
        loop.add_callback(() => loop.stop());
}

let handlerCalls = 0;
let received = null;
let handlerFd = -1;
let handlerEvents = 0;
let timerTime = -1;
let startTime = loop.time();

loop.add_handler(fd, Gbridge.IOEvents.READ, (readyFd, events) => {
    handlerCalls++;
    handlerFd = readyFd;
    handlerEvents = events;
    order.push('handler');
    const stream = Gio.UnixInputStream.new(readyFd, false);
    received = new TextDecoder().decode(stream.read_bytes(100, null).toArray());
    loop.remove_handler(readyFd);
    maybeStop();
});

try {
    loop.add_handler(fd, Gbridge.IOEvents.READ, () => {});
    check(false, 'add_handler twice throws');
} catch (e) {
    check(e instanceof GLib.Error &&
        e.matches(Gbridge.io_loop_error_quark(), Gbridge.IOLoopError.EXISTS),
    `add_handler twice throws EXISTS (${e})`);
}

const handle = loop.call_later(0.02, () => {
    timerTime = loop.time();
    order.push('timer');
    sender.send_to(receiver.get_local_address(),
        new TextEncoder().encode(message), null);
});
check(handle > 0, 'call_later returns a handle');

const cancelled = loop.call_later(0.01, () => order.push('cancelled timer'));
check(loop.remove_timeout(cancelled), 'remove_timeout of a pending timer');
check(!loop.remove_timeout(cancelled), 'remove_timeout twice returns false');

// GJS has no identity for boxed GMainContexts, so check the context from
// inside: a callback of a loop on the default context runs while this thread
// owns the default context.
let defaultContextOwned = false;
loop.add_callback(() => {
    order.push('callback');
    defaultContextOwned = GLib.MainContext.default().is_owner();
});

// A repeating callback runs once per iteration until it returns false.
let repeats = 0;
loop.add_repeating_callback(() => ++repeats < 3);

const periodic = Gbridge.PeriodicCallback.new(loop, 0.001, () => {
    ticks++;
    if (ticks === 3) {
        periodic.stop();
        maybeStop();
    }
});
periodic.start();

try {
    loop.start();
    check(true, 'start() returns after stop()');
} catch (e) {
    check(false, `start() threw ${e}`);
}

check(defaultContextOwned, 'new_for_context(null) runs on the default context');
check(order.join(',') === 'callback,timer,handler',
    `callback, timer and fd handler ran in order (${order})`);
check(timerTime >= startTime + 0.02, 'the timer did not fire early');
check(handlerCalls === 1, `the handler ran once (${handlerCalls})`);
check(handlerFd === fd, 'the handler got its fd');
check((handlerEvents & Gbridge.IOEvents.READ) !== 0, 'the handler got READ');
check(received === message, `the handler read the datagram (${received})`);
check(ticks === 3 && !periodic.is_running(), `the periodic callback ticked 3 times (${ticks})`);
check(repeats === 3, `the repeating callback ran until it returned false (${repeats})`);
check(!loop.is_running(), 'the loop is stopped');

loop.close(false);
check(loop.is_closed(), 'close() closes the loop');
check(!loop.add_callback(() => {}), 'add_callback on a closed loop returns false');

finish();
