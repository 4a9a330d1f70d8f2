// SPDX-License-Identifier: LGPL-2.1-or-later
//
// GJS awaits a GTK 4 button's "clicked" through a Gbridge future, under
// Xvfb: Gbridge.Future.new_for_signal(), wait_async() as a promise
// (Gio._promisify) and get_values() for the arguments as an array. Prints TAP.

imports.gi.versions.Gtk = '4.0';
imports.gi.versions.Gbridge = '1';
const {GLib, Gio, Gtk, Gbridge} = imports.gi;

Gio._promisify(Gbridge.Future.prototype, 'wait_async', 'wait_finish');

let n = 0, failed = 0;
function check(ok, what) {
    n++;
    if (!ok)
        failed++;
    print(`${ok ? 'ok' : 'not ok'} ${n} - ${what}`);
}

const loop = Gbridge.IOLoop.get_default();

// The next emission's arguments after the object, as a JS array.
async function waitSignal(obj, signal) {
    const future = Gbridge.Future.new_for_signal(loop, obj, signal);
    await future.wait_async(null);
    return future.get_values();
}

async function main() {
    Gtk.init();
    const window = new Gtk.Window();
    const button = new Gtk.Button({label: 'Click'});
    window.set_child(button);
    window.present();
    while (!button.get_mapped())
        GLib.MainContext.default().iteration(true);

    const clicked = waitSignal(button, 'clicked');
    loop.add_callback(() => button.activate());
    const args = await clicked;
    check(Array.isArray(args) && args.length === 0, 'await a button click: []');

    const labelled = waitSignal(button, 'notify::label');
    loop.add_callback(() => { button.label = 'Clicked'; });
    const [pspec] = await labelled;
    check(pspec.name === 'label', `notify::label gives its GParamSpec (${pspec.name})`);

    const closed = waitSignal(window, 'close-request');
    window.close();
    check((await closed).length === 0, 'await close-request');
}

GLib.timeout_add(GLib.PRIORITY_DEFAULT, 30000, () => {
    print('Bail out! still running after 30 s');
    imports.system.exit(1);
});
const mainLoop = new GLib.MainLoop(null, false);
main().catch(e => { failed++; print(`Bail out! ${e}\n${e.stack}`); })
    .finally(() => mainLoop.quit());
mainLoop.run();
print(`1..${n}`);
imports.system.exit(failed ? 1 : 0);
