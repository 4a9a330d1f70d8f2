imports.gi.versions.Gbridge = '1';
const {Gio, Gbridge} = imports.gi;
Gio._promisify(Gbridge.Future.prototype, 'wait_async', 'wait_finish');

const loop = Gbridge.IOLoop.get_default();  // the context GJS's main loop runs
const ticker = Gbridge.PeriodicCallback.new(loop, 0.1, () => print('tick'));
ticker.start();

const future = new Gbridge.Future({loop});
loop.call_later(0.35, () => future.resolve('hello from GJS'));
future.wait_async(null).then(value => {
    print(value);
    ticker.stop();
    loop.stop();
});
loop.start();
