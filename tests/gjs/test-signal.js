// SPDX-License-Identifier: LGPL-2.1-or-later
//
// GJS awaits GObject signals and GSources as promises: a Gbridge future of
// the next emission (Gbridge.Future.new_for_signal()), awaited through
// Gio._promisify() on wait_async()/wait_finish(), its arguments read as a
// JS array with get_values(). Prints TAP.

imports.gi.versions.Gbridge = '1';
const {GLib, Gio, GObject, Gbridge} = imports.gi;
const System = imports.system;

imports.searchPath.unshift(GLib.path_get_dirname(System.programPath));
const {check, bailOut, watchdog, finish} = imports.tap;

Gio._promisify(Gbridge.Future.prototype, 'wait_async', 'wait_finish');

watchdog(10000);

const loop = Gbridge.IOLoop.get_default();

// The next emission's arguments after the object, as a JS array.
async function waitSignal(obj, signal) {
    const future = Gbridge.Future.new_for_signal(loop, obj, signal);
    await future.wait_async(null);
    return future.get_values();
}

function hasHandler(obj, signal) {
    const [, id, detail] = GObject.signal_parse_name(signal, obj, true);
    return GObject.signal_has_handler_pending(obj, id, detail, true);
}

async function main() {
    const action = new Gio.SimpleAction({
        name: 'greet', parameter_type: new GLib.VariantType('s'),
    });

    const activated = waitSignal(action, 'activate');
    loop.add_callback(() => action.activate(new GLib.Variant('s', 'hello')));
    const args = await activated;
    check(Array.isArray(args) && args.length === 1 && args[0].unpack() === 'hello',
        'await a signal: its arguments after the object, as an array');
    check(!hasHandler(action, 'activate'), 'the handler is gone after the emission');

    const enabled = waitSignal(action, 'notify::enabled');
    loop.add_callback(() => {
        action.notify('name');   // another notify is not the one awaited
        action.enabled = false;
    });
    const [pspec] = await enabled;
    check(pspec.name === 'enabled', 'a detail selects the emission');

    const cancelled = Gbridge.Future.new_for_signal(loop, action, 'activate');
    cancelled.cancel();
    check(!hasHandler(action, 'activate'), 'cancelling disconnects the handler');
    try {
        await cancelled.wait_async(null);
        check(false, 'a cancelled wait rejects');
    } catch (e) {
        check(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED),
            'a cancelled wait rejects with G_IO_ERROR_CANCELLED');
    }

    const doomed = new Gio.SimpleAction({name: 'doomed'});
    const pending = waitSignal(doomed, 'activate');
    doomed.run_dispose();
    try {
        await pending;
        check(false, 'a disposed object rejects');
    } catch (e) {
        check(e.matches(Gbridge.future_error_quark(), Gbridge.FutureError.DISPOSED),
            'a disposed object rejects with Gbridge.FutureError.DISPOSED');
    }

    const timeout = Gbridge.Future.new_for_source(loop, GLib.timeout_source_new(1));
    await timeout.wait_async(null);
    check(timeout.get_values().length === 0, 'await a GSource: a timeout fired');
}

const mainLoop = new GLib.MainLoop(null, false);
main().catch(e => bailOut(`${e}\n${e.stack}`)).finally(() => mainLoop.quit());
mainLoop.run();

finish(7);
