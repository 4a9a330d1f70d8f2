// SPDX-License-Identifier: LGPL-2.1-or-later
//
// gtk-demo.js: a GTK 4 application in GJS driving gbridge on GTK's own loop.
//
// Gbridge.IOLoop.get_default() is the loop of the default GMainContext, the
// one GTK (and GJS's own promise machinery) runs, so there is one loop here:
//
//  - a Gbridge.PeriodicCallback updates a label every 100 ms;
//  - a Gbridge timer resolves a Gbridge.Future, awaited as a promise;
//  - GIO reads /proc/version in its own thread; its callback resolves a
//    second future, also awaited as a promise.
//
// Run it from a build tree:  _build/examples/run-gtk-demo-js
// With --self-test=DIR it waits for the results, checks the labels, saves a
// screenshot as DIR/gtk-demo-js.png, checks the PNG and quits.

imports.gi.versions.Gtk = '4.0';
imports.gi.versions.Gdk = '4.0';
imports.gi.versions.Gbridge = '1';
const {GLib, Gio, Gdk, GdkPixbuf, Graphene, Gtk, Gbridge} = imports.gi;
const System = imports.system;

// `await future.wait_async(null)` resolves with the future's value or throws
// its GError.
Gio._promisify(Gbridge.Future.prototype, 'wait_async', 'wait_finish');

const selfTestArg = ARGV.find(a => a.startsWith('--self-test='));
const selfTestDir = selfTestArg ? selfTestArg.slice('--self-test='.length) : null;
let status = 0;

function fail(message) {
    printerr(`gtk-demo.js self-test FAILED: ${message}`);
    status = 1;
}

const loop = Gbridge.IOLoop.get_default();

function delayedAnswer(seconds, answer) {
    const future = new Gbridge.Future({loop});
    loop.call_later(seconds, () => future.resolve(answer));
    return future;
}

function readFirstLine(path) {
    const future = new Gbridge.Future({loop});
    Gio.File.new_for_path(path).load_contents_async(future.get_cancellable(),
        (file, result) => {
            try {
                const [, contents] = file.load_contents_finish(result);
                future.resolve(new TextDecoder().decode(contents).split('\n')[0]);
            } catch (e) {
                future.fail(e);
            }
        });
    return future;
}

// Renders the window with its own renderer, saves a PNG, loads it back and
// checks that it has the window's size and is not blank.
// The paintable must exist before the window draws: it records the frames
// drawn after its creation.
function saveAndCheckScreenshot(window, paintable, path) {
    const width = window.get_width();
    const height = window.get_height();
    const snapshot = Gtk.Snapshot.new();
    paintable.snapshot(snapshot, width, height);
    const node = snapshot.to_node();
    if (node === null)
        return fail('the window rendered nothing');
    const rect = new Graphene.Rect().init(0, 0, width, height);
    const texture = window.get_native().get_renderer().render_texture(node, rect);
    if (!texture.save_to_png(path))
        return fail(`cannot save ${path}`);

    const pixbuf = GdkPixbuf.Pixbuf.new_from_file(path);
    if (pixbuf.get_width() !== width || pixbuf.get_height() !== height)
        return fail(`${path} is ${pixbuf.get_width()}x${pixbuf.get_height()}, ` +
            `the window ${width}x${height}`);
    const bytes = pixbuf.read_pixel_bytes().toArray();
    const channels = pixbuf.get_n_channels();
    const colours = new Set();
    for (let i = 0; i + channels <= bytes.length; i += channels)
        colours.add((bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2]);
    // Antialiased text has many shades; a blank window has one or two.
    if (colours.size < 8)
        return fail(`${path} looks blank: ${colours.size} colours`);
    print(`screenshot: ${path} (${width}x${height}, ${colours.size} colours)`);
}

const app = new Gtk.Application({
    application_id: 'org.gbridge.GtkDemoJs',
    flags: Gio.ApplicationFlags.NON_UNIQUE,
});

app.connect('activate', () => {
    const window = new Gtk.ApplicationWindow({
        application: app,
        title: 'gbridge GTK demo (GJS)',
        default_width: 420,
        default_height: 160,
    });
    const box = new Gtk.Box({
        orientation: Gtk.Orientation.VERTICAL, spacing: 12,
        margin_start: 18, margin_end: 18, margin_top: 18, margin_bottom: 18,
    });
    const label = text => {
        const l = new Gtk.Label({label: text, xalign: 0});
        box.append(l);
        return l;
    };
    const tickLabel = label('tick 0');
    const timerLabel = label('timer: waiting…');
    const fileLabel = label('file: reading /proc/version…');
    window.set_child(box);

    let ticks = 0;
    const ticker = Gbridge.PeriodicCallback.new(loop, 0.1, () => {
        tickLabel.label = `tick ${++ticks}`;
    });
    ticker.start();
    window.connect('close-request', () => {
        ticker.stop();
        return false;
    });

    let frames = 0;
    window.add_tick_callback(() => {
        frames++;
        return GLib.SOURCE_CONTINUE;
    });

    async function work() {
        timerLabel.label = `timer: ${await delayedAnswer(0.3, 'answer 42').wait_async(null)}`;
        const line = await readFirstLine('/proc/version').wait_async(null);
        fileLabel.label = `file: ${line.split(' ').slice(0, 3).join(' ')}`;
    }

    async function selfTest() {
        const paintable = Gtk.WidgetPaintable.new(window);
        const watchdog = loop.call_later(30, () => {
            fail(`still waiting after 30 s: ${timerLabel.label}, ${fileLabel.label}`);
            window.close();
        });
        try {
            await work();
        } catch (e) {
            fail(`the work failed: ${e}`);
        }
        while (ticks < 3)
            await delayedAnswer(0.05, null).wait_async(null);
        loop.remove_timeout(watchdog);

        if (timerLabel.label !== 'timer: answer 42')
            fail(`timer label is “${timerLabel.label}”`);
        if (!fileLabel.label.startsWith('file: Linux version'))
            fail(`file label is “${fileLabel.label}”`);
        if (frames < 2)
            fail(`GTK drew ${frames} frames while gbridge worked`);
        // Stop the ticker and let GTK draw the labels as checked: the
        // paintable holds the last frame drawn.
        ticker.stop();
        const checkedAt = frames;
        while (frames < checkedAt + 2)
            await delayedAnswer(0.02, null).wait_async(null);
        saveAndCheckScreenshot(window, paintable, GLib.build_filenamev([selfTestDir, 'gtk-demo-js.png']));
        print(`labels: “${tickLabel.label}”, “${timerLabel.label}”, “${fileLabel.label}”; ` +
            `${frames} frames`);
        window.close();
    }

    window.present();
    if (selfTestDir !== null) {
        GLib.mkdir_with_parents(selfTestDir, 0o755);
        selfTest().catch(e => {
            fail(`${e}`);
            window.close();
        });
    } else {
        work().catch(e => logError(e));
    }
});

const appStatus = app.run([System.programInvocationName]);
System.exit(appStatus || status);
