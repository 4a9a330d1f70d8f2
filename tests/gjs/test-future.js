// SPDX-License-Identifier: LGPL-2.1-or-later
//
// GJS awaits Gbridge futures as promises, through Gio._promisify() on
// gbridge_future_wait_async() / _finish(): a value resolved from a worker
// thread, a failure, a cancellation, and Gbridge.Future.all(). Prints TAP.

imports.gi.versions.Gbridge = '1';
const {GLib, Gio, Gbridge} = imports.gi;
const System = imports.system;

imports.searchPath.unshift(GLib.path_get_dirname(System.programPath));
const {check, bailOut, watchdog, finish} = imports.tap;

Gio._promisify(Gbridge.Future.prototype, 'wait_async', 'wait_finish');

watchdog(10000);

// On the default context, which GJS's own main loop runs.
const loop = Gbridge.IOLoop.get_default();

async function main() {
    const resolved = new Gbridge.Future({loop});
    loop.call_later(0.001, () => resolved.resolve('hello from a timer'));
    check(await resolved.wait_async(null) === 'hello from a timer',
        'await a future resolved by a Gbridge timer');

    // GIO reads the file in its own worker thread; its callback resolves.
    const loaded = new Gbridge.Future({loop});
    Gio.File.new_for_path('/proc/self/stat').load_contents_async(
        loaded.get_cancellable(), (source, result) => {
            const [, contents] = source.load_contents_finish(result);
            loaded.resolve(contents.length);
        });
    check(await loaded.wait_async(null) > 0,
        'await a future resolved from a GIO callback');

    const failing = new Gbridge.Future({loop});
    loop.add_callback(() => failing.fail(new GLib.Error(Gio.IOErrorEnum,
        Gio.IOErrorEnum.BUSY, 'busy in JS')));
    try {
        await failing.wait_async(null);
        check(false, 'a failed future rejects');
    } catch (e) {
        check(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.BUSY) &&
            e.message === 'busy in JS', 'a failed future rejects with its GError');
    }

    const cancelled = new Gbridge.Future({loop});
    loop.add_callback(() => cancelled.cancel());
    try {
        await cancelled.wait_async(null);
        check(false, 'a cancelled future rejects');
    } catch (e) {
        check(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED),
            'a cancelled future rejects with G_IO_ERROR_CANCELLED');
    }

    const parts = [1, 2, 3].map(() => new Gbridge.Future({loop}));
    parts.forEach((f, i) => loop.call_later(0.001 * (3 - i), () => f.resolve(i * 2)));
    const all = Gbridge.Future.all(parts);
    const values = await all.wait_async(null);
    // A GValueArray: GJS reads it with get_nth().
    const got = [0, 1, 2].map(i => values.get_nth(i));
    check(values.n_values === 3 && got.join() === '0,2,4',
        `Future.all resolves with every value, in order (${got})`);
}

const mainLoop = new GLib.MainLoop(null, false);
main().catch(e => bailOut(`${e}\n${e.stack}`)).finally(() => mainLoop.quit());
mainLoop.run();

finish(5);
