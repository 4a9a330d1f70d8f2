#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""loop-monitor.py: watch a loop work, live, in a GTK 4 window.

The default Gbridge.IOLoop (the one GTK's own context runs) measures itself
(``metrics-enabled``): every 100 ms a Gbridge.PeriodicCallback reads its
``utilization`` and ``lag`` and a Gtk.DrawingArea plots them with cairo.
"Start workload" starts callbacks that keep the loop busy for the share of
the time the "load" slider sets; now and then one of them runs 80 ms, past
the 50 ms ``slow-callback-threshold``, and the ``slow-callback`` signal lists
it by name.

Run it from a build tree:  meson devenv -C _build examples/loop-monitor.py
(or with GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing into the build tree).
With --self-test=DIR it runs the workload for about 2 s, saves the window as
DIR/loop-monitor.png, checks that the plot is in it, and exits.
"""

import collections
import os
import sys
import time

import gi

gi.require_version('Gtk', '4.0')
gi.require_version('Gdk', '4.0')
gi.require_version('GdkPixbuf', '2.0')
gi.require_version('Gbridge', '1')
from gi.repository import GdkPixbuf, Gio, GLib, Gtk, Gbridge  # noqa: E402

from gtk_screenshot import render_to_png  # noqa: E402  (next to this file)

SAMPLES = 150           # 15 s of history at one sample per 100 ms
LAG_SCALE = 0.1         # the chart's top is 100 ms of lag
UTIL_RGB = (0.11, 0.44, 0.85)
LAG_RGB = (0.88, 0.11, 0.14)
SLOT = 0.02             # the workload: one busy callback per 20 ms


def busy_wait(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


class Monitor(Gtk.Application):
    def __init__(self, self_test_dir=None):
        super().__init__(application_id='org.gbridge.LoopMonitor',
                         flags=Gio.ApplicationFlags.NON_UNIQUE)
        self.self_test_dir = self_test_dir
        self.errors = []
        self.loop = Gbridge.IOLoop.get_default()
        self.utilization = collections.deque(maxlen=SAMPLES)
        self.lag = collections.deque(maxlen=SAMPLES)
        self.slow = []
        self.working = False
        self.slots = 0
        self.connect('activate', self.on_activate)

    # The measurements

    def on_activate(self, app):
        loop = self.loop
        loop.props.metrics_enabled = True
        loop.props.metrics_window = 0.5
        loop.props.slow_callback_threshold = 0.05
        loop.connect('slow-callback', self.on_slow_callback)

        self.build_window()
        self.sampler = Gbridge.PeriodicCallback.new(loop, 0.1, self.sample)
        self.sampler.start()
        if self.self_test_dir is not None:
            self.load.set_value(60)
            self.toggle.set_active(True)
            loop.call_later(2.0, self.self_test)

    def sample(self, *unused):
        props = self.loop.props
        self.utilization.append(props.utilization)
        self.lag.append(props.lag)
        self.numbers.set_label(
            f'utilization {props.utilization:.0%}   lag {props.lag * 1000:.1f} ms   '
            f'max lag {props.max_lag * 1000:.1f} ms   '
            f'{props.callbacks_run + props.timers_run} callbacks run')
        self.chart.queue_draw()

    def on_slow_callback(self, loop, name, duration):
        self.slow.append((name, duration))
        row = Gtk.Label(label=f'{duration * 1000:.0f} ms  {name}', xalign=0)
        self.slow_list.prepend(row)

    # The workload: callbacks on the loop, busy for load × SLOT every SLOT,
    # and every 25th for 80 ms, a slow callback.

    def on_toggled(self, button):
        self.working = button.get_active()
        button.set_label('Stop workload' if self.working else 'Start workload')
        if self.working:
            self.loop.call_later(SLOT, self.work)

    def work(self, *unused):
        if not self.working:
            return
        self.slots += 1
        if self.slots % 25 == 0:
            self.loop.add_callback(self.spike)
        busy_wait(self.load.get_value() / 100 * SLOT)
        self.loop.call_later(SLOT, self.work)

    def spike(self, *unused):
        busy_wait(0.08)

    # The window

    def build_window(self):
        self.window = Gtk.ApplicationWindow(application=self, title='gbridge loop monitor')
        self.window.set_default_size(720, 520)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        for side in ('top', 'bottom', 'start', 'end'):
            getattr(box, 'set_margin_' + side)(10)

        self.chart = Gtk.DrawingArea(content_height=260, hexpand=True)
        self.chart.set_draw_func(self.draw)
        box.append(self.chart)
        legend = Gtk.Label(xalign=0, use_markup=True, label=(
            '<span foreground="#1c70d8">━ utilization (0–100%)</span>   '
            '<span foreground="#e01c24">━ lag (0–100 ms)</span>'))
        box.append(legend)
        self.numbers = Gtk.Label(xalign=0, label='…')
        box.append(self.numbers)

        controls = Gtk.Box(spacing=10)
        self.toggle = Gtk.ToggleButton(label='Start workload')
        self.toggle.connect('toggled', self.on_toggled)
        controls.append(self.toggle)
        controls.append(Gtk.Label(label='load'))
        self.load = Gtk.Scale.new_with_range(Gtk.Orientation.HORIZONTAL, 0, 100, 5)
        self.load.set_value(50)
        self.load.set_hexpand(True)
        controls.append(self.load)
        box.append(controls)

        box.append(Gtk.Label(xalign=0, label='Slow callbacks (≥ 50 ms), latest first:'))
        self.slow_list = Gtk.ListBox()
        scrolled = Gtk.ScrolledWindow(vexpand=True, child=self.slow_list)
        box.append(scrolled)

        self.window.set_child(box)
        self.window.present()

    def draw(self, area, cr, width, height):
        cr.set_source_rgb(1, 1, 1)
        cr.paint()
        cr.set_source_rgb(0.85, 0.85, 0.85)
        cr.set_line_width(1)
        for i in range(5):
            y = round(height * i / 4) + 0.5
            cr.move_to(0, y)
            cr.line_to(width, y)
        cr.stroke()
        step = width / (SAMPLES - 1)
        for values, scale, rgb in ((self.utilization, 1.0, UTIL_RGB),
                                   (self.lag, LAG_SCALE, LAG_RGB)):
            if len(values) < 2:
                continue
            cr.set_source_rgb(*rgb)
            cr.set_line_width(3)
            x0 = width - step * (len(values) - 1)
            for i, v in enumerate(values):
                y = height - 2 - min(v / scale, 1.0) * (height - 4)
                (cr.line_to if i else cr.move_to)(x0 + i * step, y)
            cr.stroke()

    # --self-test

    def self_test(self, *unused):
        self.toggle.set_active(False)
        props = self.loop.props
        if props.utilization <= 0.2:
            self.errors.append(f'utilization {props.utilization:.2f} under load')
        if props.max_lag <= 0:
            self.errors.append('no lag measured')
        if not any(name.endswith('Monitor.spike') for name, _ in self.slow):
            self.errors.append(f'no slow Monitor.spike reported: {self.slow}')
        if len(self.utilization) < 10:
            self.errors.append(f'{len(self.utilization)} samples in 2 s')
        # The paintable shows the last frame drawn: let GTK draw two more.
        self.paintable = Gtk.WidgetPaintable.new(self.window)
        self.frames = 0
        self.window.add_tick_callback(self.on_tick)
        self.chart.queue_draw()

    def on_tick(self, widget, clock):
        self.frames += 1
        if self.frames < 3:
            return GLib.SOURCE_CONTINUE
        path = os.path.join(self.self_test_dir, 'loop-monitor.png')
        try:
            self.errors += check_screenshot(self.window, self.paintable, self.chart, path)
        except Exception as e:
            self.errors.append(f'screenshot failed: {e!r}')
        self.quit()
        return GLib.SOURCE_REMOVE


def check_screenshot(window, paintable, chart, path):
    """Saves the window and checks that both plot lines are in the PNG:
    pixels of their colours in the chart's part of the window."""
    width, height = window.get_width(), window.get_height()
    # (x, y), or (found, x, y), depending on the PyGObject version
    point = chart.translate_coordinates(window, 0, 0)
    if not point or point[0] is False:
        return ['cannot find the chart in the window']
    left, top = int(point[-2]), int(point[-1])
    right, bottom = left + chart.get_width(), top + chart.get_height()
    if not render_to_png(window, paintable, width, height, path):
        return [f'cannot render the window to {path}']
    if not os.path.exists(path):
        return [f'{path} was not written']
    pixbuf = GdkPixbuf.Pixbuf.new_from_file(path)
    data = pixbuf.read_pixel_bytes().get_data()
    n, stride = pixbuf.get_n_channels(), pixbuf.get_rowstride()
    counts = {'utilization': 0, 'lag': 0}
    if (pixbuf.get_width(), pixbuf.get_height()) != (width, height):
        return [f'{path} is {pixbuf.get_width()}x{pixbuf.get_height()}, '
                f'the window {width}x{height}']
    for y in range(top, min(bottom, height)):
        row = data[y * stride + left * n:y * stride + min(right, width) * n]
        for i in range(0, len(row), n):
            r, g, b = row[i], row[i + 1], row[i + 2]
            if b > 170 and r < 60 and 90 < g < 140:
                counts['utilization'] += 1
            elif r > 190 and g < 60 and b < 70:
                counts['lag'] += 1
    print(f'screenshot: {path} ({width}x{height}), line pixels {counts}')
    return [f'no {line} line in {path}: {count} pixels of its colour'
            for line, count in counts.items() if count < 150]


def main(argv):
    self_test_dir = None
    for arg in argv[1:]:
        if arg.startswith('--self-test='):
            self_test_dir = arg[len('--self-test='):]
            os.makedirs(self_test_dir, exist_ok=True)
    app = Monitor(self_test_dir)
    status = app.run(argv[:1])
    for error in app.errors:
        print('FAILED:', error, file=sys.stderr)
    if self_test_dir is not None:
        print(f'{len(app.slow)} slow callbacks: {sorted({n for n, _ in app.slow})}')
    return 1 if app.errors else status


if __name__ == '__main__':
    sys.exit(main(sys.argv))
