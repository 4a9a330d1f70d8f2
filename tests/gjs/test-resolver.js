// SPDX-License-Identifier: LGPL-2.1-or-later
//
// GJS resolves names through Gbridge's resolvers: a literal, localhost with
// the threaded resolver, and mapped names with the override resolver; the
// future's value is a Gio.ListModel of Gio.InetSocketAddress.  Prints TAP;
// a watchdog ends a run that hangs.

imports.gi.versions.Gbridge = '1';
const {GLib, Gio, Gbridge} = imports.gi;
const System = imports.system;

imports.searchPath.unshift(GLib.path_get_dirname(System.programPath));
const {check, watchdog, finish} = imports.tap;

watchdog(20000);

const loop = Gbridge.IOLoop.new_for_context(null);

function wait(future) {
    if (!future.is_done()) {
        future.add_done_callback(() => loop.stop());
        loop.start();
    }
    return future;
}

function addresses(future) {
    wait(future);
    if (future.get_state() !== Gbridge.FutureState.RESOLVED)
        return [`failed: ${future.get_failure()?.message}`];
    const model = future.get_object();
    const found = [];
    for (let i = 0; i < model.get_n_items(); i++) {
        const a = model.get_item(i);
        found.push(`${a.get_address().to_string()}:${a.get_port()}`);
    }
    return found;
}

const threaded = Gbridge.ThreadedResolver.new(loop);

let future = threaded.resolve('192.0.2.9', 80, Gio.SocketFamily.INVALID, 0);
check(future.get_state() === Gbridge.FutureState.RESOLVED, 'a literal answers at once');
let found = addresses(future);
check(found.join() === '192.0.2.9:80', `the literal's address (${found})`);

found = addresses(threaded.resolve('localhost', 8000, Gio.SocketFamily.IPV4, 10));
check(found.join() === '127.0.0.1:8000', `localhost over IPv4 (${found})`);

const override = Gbridge.OverrideResolver.new(threaded);
override.add_host('example.com', '192.0.2.10');
override.add_host('example.com', '2001:db8::10');
override.add_host_port('example.com', 443, '::1', 8443);
found = addresses(override.resolve('example.com', 80, Gio.SocketFamily.INVALID, 0));
check(found.join() === '192.0.2.10:80,2001:db8::10:80', `a mapped name (${found})`);
found = addresses(override.resolve('example.com', 443, Gio.SocketFamily.INVALID, 0));
check(found.join() === '::1:8443', `a mapped (name, port) (${found})`);

future = wait(override.resolve('example.com', 443, Gio.SocketFamily.IPV4, 0));
const error = future.get_failure();
check(error !== null && error.matches(Gbridge.resolver_error_quark(), Gbridge.ResolverError.NOT_FOUND),
    'no address of the family: NOT_FOUND');
check(error !== null && error.message.includes('example.com'), 'the message names the host');

future = threaded.resolve('localhost', 80, Gio.SocketFamily.INVALID, 0);
check(future.cancel(), 'cancel() a lookup');
wait(future);
check(future.get_state() === Gbridge.FutureState.CANCELLED, 'the lookup is cancelled');

// The GIO pair, as a promise.
Gio._promisify(Gbridge.Resolver.prototype, 'resolve_async', 'resolve_finish');
let awaited = null;
override.resolve_async('example.com', 80, Gio.SocketFamily.IPV4, 10, null).then(model => {
    awaited = model;
    loop.stop();
}, e => {
    awaited = e;
    loop.stop();
});
loop.start();
check(awaited instanceof Gio.ListModel && awaited.get_n_items() === 1 &&
    awaited.get_item(0).get_address().to_string() === '192.0.2.10',
    `await resolve_async() gives the addresses (${awaited})`);

finish();
