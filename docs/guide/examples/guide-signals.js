// guide-signals.js: awaiting GObject signals and sources from GJS (the
// guide's section "Awaiting signals"). Run with: gjs guide-signals.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Gbridge = '1';
const {GLib, Gio, Gbridge} = imports.gi;

Gio._promisify(Gbridge.Future.prototype, 'wait_async', 'wait_finish');

const loop = Gbridge.IOLoop.get_default();

// The next emission of a signal: its arguments after the object, as an
// array. The handler is connected now and disconnected after it.
async function waitSignal(obj, signal) {
    const future = Gbridge.Future.new_for_signal(loop, obj, signal);
    await future.wait_async(null);
    return future.get_values();
}

async function main() {
    const action = new Gio.SimpleAction({
        name: 'greet', parameter_type: new GLib.VariantType('s'),
    });
    const activated = waitSignal(action, 'activate');
    loop.add_callback(() => action.activate(new GLib.Variant('s', 'hello')));
    const [parameter] = await activated;
    print('activated with', parameter.unpack());

    // A GSource fires once: here, a 10 ms timeout.
    const timeout = Gbridge.Future.new_for_source(loop, GLib.timeout_source_new(10));
    await timeout.wait_async(null);
    print('timeout fired');
}

const mainLoop = new GLib.MainLoop(null, false);
let status = 0;
main().catch(e => {
    logError(e);
    status = 1;
}).finally(() => mainLoop.quit());
mainLoop.run();
imports.system.exit(status);
