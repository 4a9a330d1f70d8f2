// guide-gjs.js: gbridge from GJS (the guide's chapter "Using gbridge from
// GJS"). Run with: gjs guide-gjs.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Gbridge = '1';
const {GLib, Gio, Gbridge} = imports.gi;

// Make `await future.wait_async(null)` a promise.
Gio._promisify(Gbridge.Future.prototype, 'wait_async', 'wait_finish');

// The loop of the default context, which GJS's main loop runs.
const loop = Gbridge.IOLoop.get_default();
const mainLoop = new GLib.MainLoop(null, false);

function sleep(seconds, value) {
    const future = new Gbridge.Future({loop});
    loop.call_later(seconds, () => future.resolve(value));
    return future.wait_async(null);
}

async function main() {
    let ticks = 0;
    const ticker = Gbridge.PeriodicCallback.new(loop, 0.02, () => ticks++);
    ticker.start();

    print('timer said:', await sleep(0.1, 'hello'));

    // A failed future rejects the promise with its GError.
    const failing = new Gbridge.Future({loop});
    loop.add_callback(() => failing.cancel());
    try {
        await failing.wait_async(null);
    } catch (e) {
        print('cancelled:', e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED));
    }

    ticker.stop();
    print(`${ticks} ticks`);
    if (ticks === 0)
        throw new Error('the periodic callback never ran');
}

let status = 0;
main().catch(e => {
    logError(e);
    status = 1;
}).finally(() => mainLoop.quit());
mainLoop.run();
imports.system.exit(status);
