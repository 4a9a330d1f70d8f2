// SPDX-License-Identifier: LGPL-2.1-or-later
//
// GJS drives a GbridgeReactor: delayed calls in time order, a cancelled
// call's error, a reader implemented in JS (a GbridgeDescriptor on a UDP
// socket), shutdown triggers in phase order, a `before` trigger's future
// the event waits for, stop() on a stopped reactor, and resolve(). TAP.

imports.gi.versions.Gbridge = '1';
const {GLib, Gio, GObject, Gbridge} = imports.gi;
const System = imports.system;

imports.searchPath.unshift(GLib.path_get_dirname(System.programPath));
const {check, bailOut, watchdog, finish} = imports.tap;

watchdog(10000);

const loop = Gbridge.IOLoop.new_for_context(null);
const reactor = Gbridge.Reactor.ref_for_loop(loop);
const log = [];

// The reactor stops once the last delayed call and the datagram are both
// in: what happens then is driven by events, never by how late a loaded
// machine wakes up.
function stopWhenIdle() {
    if (log.includes('b') && log.includes('datagram'))
        reactor.stop();
}

// Delayed calls run in time order; a cancelled one never, and a second
// cancel is ALREADY_CANCELLED. `a` sends the datagram the JS reader waits for.
let sendDatagram = null;
reactor.call_later(0.02, () => {
    log.push('b');
    stopWhenIdle();
});
reactor.call_later(0.01, () => {
    log.push('a');
    sendDatagram();
});
const dropped = reactor.call_later(0.005, () => log.push('dropped'));
dropped.cancel();
try {
    dropped.cancel();
    check(false, 'cancelling twice fails');
} catch (e) {
    check(e.matches(Gbridge.reactor_error_quark(),
        Gbridge.ReactorError.ALREADY_CANCELLED),
    'cancelling a cancelled call is ALREADY_CANCELLED');
}

// A reader written in JS: a descriptor on a UDP socket.
const UdpReader = GObject.registerClass({
    Implements: [Gbridge.Descriptor],
}, class UdpReader extends GObject.Object {
    _init(socket) {
        super._init();
        this._socket = socket;
    }

    vfunc_get_fd() {
        return this._socket.get_fd();
    }

    vfunc_read() {
        // GJS cannot fill a caller-allocated buffer (receive()), and
        // receive_bytes() is GLib 2.80: check what is waiting instead, and
        // stop reading, so the datagram stays unread.
        const waiting = this._socket.get_available_bytes();
        log.push(waiting === 'datagram'.length ? 'datagram' : `${waiting} bytes`);
        reactor.remove_reader(this);
        stopWhenIdle();
        return true;
    }

    vfunc_write() {
        return true;
    }

    vfunc_connection_lost(reason) {
        log.push('lost');
    }
});

const receiver = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM,
    Gio.SocketProtocol.UDP);
receiver.bind(Gio.InetSocketAddress.new_from_string('127.0.0.1', 0), false);
const sender = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM,
    Gio.SocketProtocol.UDP);
const reader = new UdpReader(receiver);
reactor.add_reader(reader);
check(reactor.get_readers().length === 1, 'the JS reader is registered');
sendDatagram = () => sender.send_to(receiver.get_local_address(),
    new TextEncoder().encode('datagram'), null);

// Shutdown triggers, in phase order; the `before` trigger's future holds
// the rest of the event back until it resolves.
reactor.add_system_event_trigger(Gbridge.TriggerPhase.AFTER, 'shutdown',
    () => {
        log.push('after');
        return null;
    });
reactor.add_system_event_trigger(Gbridge.TriggerPhase.DURING, 'shutdown',
    () => {
        log.push('during');
        return null;
    });
reactor.add_system_event_trigger(Gbridge.TriggerPhase.BEFORE, 'shutdown',
    () => {
        log.push('before');
        const future = new Gbridge.Future({loop});
        reactor.call_later(0.01, () => {
            log.push('before-done');
            future.resolve(null);
        });
        return future;
    });

reactor.call_when_running(() => log.push('running'));

try {
    reactor.run(false);
    // `b` and the datagram may come in either order (a late wake-up runs
    // both due calls in one iteration); everything else is fixed.
    const order = log.join(',');
    const timed = log.filter(x => ['a', 'b', 'dropped'].includes(x)).join(',');
    const shutdown = log.slice(4).join(',');
    check(log[0] === 'running' && timed === 'a,b' &&
        log.indexOf('datagram') > log.indexOf('a') &&
        shutdown === 'before,before-done,during,after',
    `calls, the JS reader and the shutdown triggers in order (${order})`);
    check(!reactor.is_running(), 'the reactor stopped');
    try {
        reactor.stop();
        check(false, 'stop() on a stopped reactor fails');
    } catch (e) {
        check(e.matches(Gbridge.reactor_error_quark(),
            Gbridge.ReactorError.NOT_RUNNING),
        'stop() on a stopped reactor is NOT_RUNNING');
    }
} catch (e) {
    bailOut(`${e}\n${e.stack}`);
}

finish(5);
