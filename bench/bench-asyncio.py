#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""asyncio loops compared: gbridge's, the default selector loop, uvloop, gbulb.

    bench-asyncio.py IMPL CASE [ARGS...]

IMPL: default | gbridge | uvloop | gbulb.  CASE:
  call-soon-chain N       one callback in flight, each call_soon()s the next:
                          callbacks per second, one loop iteration each
  call-soon-batch N B     B callbacks in flight: callbacks per second
  ping-pong TIMERS        socketpair, add_reader on both ends, one byte in
                          flight; TIMERS idle call_later timers an hour away:
                          ns per reader call (one per loop iteration)
  tcp-echo N              loopback TCP, protocol echo server and client, one
                          message in flight: ns per round trip
Prints one number.  Runs are calibrated to last about 0.2 s.  Times are
the process's CPU time (user + system, every thread), not wall time: every
loop here runs on one thread, so the two agree on an idle machine, and on a
shared one the CPU time leaves out the time other processes had the core.

    bench-asyncio.py --all RESULTS.md

runs every case for every implementation BENCH_REPS times (default 5),
interleaved and in rotated order, each in a fresh process, prints the medians
and ratios and writes them as the asyncio section of RESULTS.md (replacing
the previous one).  bench/run does this after the C benchmarks.
"""

import asyncio
import socket
import sys
import time

clock = time.process_time


def make_loop(impl):
    if impl == 'default':
        return asyncio.SelectorEventLoop()
    if impl == 'gbridge':
        import gbridge.asyncio
        return gbridge.asyncio.new_event_loop()
    if impl == 'uvloop':
        import uvloop
        return uvloop.new_event_loop()
    if impl == 'gbulb':
        import gbulb
        return gbulb.GLibEventLoop()
    raise SystemExit(f'unknown implementation {impl}')


def call_soon_batch(loop, n, batch):
    left = [n]
    call_soon = loop.call_soon

    def step():
        left[0] -= 1
        if left[0] > 0:
            call_soon(step)
        elif left[0] == 0:
            loop.stop()
    for _ in range(batch):
        call_soon(step)
    t0 = clock()
    loop.run_forever()
    return n / (clock() - t0)


def ping_pong(loop, n, timers):
    handles = [loop.call_later(3600 + i * 1e-3, lambda: None) for i in range(timers)]
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    count = [0]

    def make(rx, tx):
        def on_read():
            rx.recv(1)
            count[0] += 1
            if count[0] >= n:
                loop.stop()
            else:
                tx.send(b'x')
        return on_read
    loop.add_reader(a.fileno(), make(a, a))
    loop.add_reader(b.fileno(), make(b, b))
    # a reads what b sent and answers on a, so b reads it: one byte in flight.
    t0 = clock()
    b.send(b'x')
    loop.run_forever()
    dt = clock() - t0
    loop.remove_reader(a.fileno())
    loop.remove_reader(b.fileno())
    a.close()
    b.close()
    for h in handles:
        h.cancel()
    return dt / count[0] * 1e9


def tcp_echo(loop, n):
    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    done = loop.create_future()

    class Client(asyncio.Protocol):
        left = n

        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            Client.left -= 1
            if Client.left == 0:
                done.set_result(None)
            else:
                self.transport.write(data)

    async def main():
        server = await loop.create_server(Echo, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        transport, _ = await loop.create_connection(Client, '127.0.0.1', port)
        t0 = clock()
        transport.write(b'ping')
        await done
        dt = clock() - t0
        transport.close()
        server.close()
        await server.wait_closed()
        return dt / n * 1e9
    return loop.run_until_complete(main())


def calibrated(run, target=0.2):
    """Runs with a growing count until a run lasts about @target seconds."""
    n = 1000
    while True:
        t0 = time.perf_counter()
        value = run(n)
        dt = time.perf_counter() - t0
        if dt >= target / 4 or n >= 10 ** 8:
            break
        n *= 4
    n = max(n, int(n * target / max(dt, 1e-6)))
    return run(n)


CASES = [
    ('call-soon-chain', 'call_soon, one callback in flight (callbacks/s)', 'rate'),
    ('call-soon-batch 1000', 'call_soon, 1,000 callbacks in flight (callbacks/s)', 'rate'),
    ('ping-pong 0', 'socketpair ping-pong, no timers (ns per iteration)', 'time'),
    ('ping-pong 10000', 'socketpair ping-pong, 10^4 idle timers (ns per iteration)', 'time'),
    ('tcp-echo', 'loopback TCP echo (ns per round trip)', 'time'),
]
IMPLS = ['gbridge', 'default', 'uvloop', 'gbulb']
# The targets: gbridge against the default loop.
TARGETS = {
    'call-soon-chain': ('>=', 0.9),
    'ping-pong 0': ('<=', 1.2),
    'ping-pong 10000': ('<=', 1.2),
}
BEGIN = '<!-- asyncio results: written by bench/bench-asyncio.py --all -->'
END = '<!-- end of asyncio results -->'


def run_all(results_md):
    import os
    import statistics
    import subprocess
    reps = int(os.environ.get('BENCH_REPS', '5'))
    timeout = float(os.environ.get('BENCH_TIMEOUT', '120'))
    samples = {}
    errors = {}
    for rep in range(reps):
        print(f'bench-asyncio: repetition {rep + 1}/{reps}', file=sys.stderr)
        for case, _, _ in CASES:
            for i in range(len(IMPLS)):
                impl = IMPLS[(i + rep) % len(IMPLS)]
                try:
                    out = subprocess.run(
                        [sys.executable, '-B', os.path.abspath(__file__), impl] + case.split(),
                        capture_output=True, text=True, timeout=timeout)
                except subprocess.TimeoutExpired:
                    errors[(impl, case)] = f'timed out after {timeout:.0f} s'
                    continue
                try:
                    value = float(out.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    err = (out.stderr.strip().splitlines() or ['no output'])[-1]
                    errors[(impl, case)] = err[:200]
                    continue
                samples.setdefault((impl, case), []).append(value)
    med = {k: statistics.median(v) for k, v in samples.items()}

    def fmt(v, kind):
        if v is None:
            return 'n/a'
        return f'{v / 1e6:.2f} M/s' if kind == 'rate' else f'{v:,.0f}'

    lines = [BEGIN, '', '## Python: asyncio loops', '',
             'gbridge.asyncio against asyncio\'s default selector loop (epoll), uvloop and '
             'gbulb, each case a fresh process, medians of '
             f'{reps} repetitions (`bench/bench-asyncio.py --all`), timed in the process\'s '
             'CPU time. Ratios: gbridge ÷ the '
             'other loop (for callbacks/s higher is better, for ns lower is better).', '',
             '| case | ' + ' | '.join(IMPLS) + ' | gbridge ÷ default | gbridge ÷ uvloop '
             '| gbridge ÷ gbulb | target |',
             '|---|' + '---:|' * (len(IMPLS) + 4)]
    verdicts = []
    for case, title, kind in CASES:
        vals = [med.get((impl, case)) for impl in IMPLS]
        g = med.get(('gbridge', case))

        def r(other):
            o = med.get((other, case))
            if g is None or o is None:
                return 'n/a'
            return f'{g / o:.2f}×'
        target = ''
        if case in TARGETS and g is not None and med.get(('default', case)):
            op, limit = TARGETS[case]
            ratio = g / med[('default', case)]
            ok = ratio >= limit if op == '>=' else ratio <= limit
            target = f'{op} {limit}: {"met" if ok else "NOT met"}'
            verdicts.append(ok)
        lines.append(f'| {title} | ' + ' | '.join(fmt(v, kind) for v in vals) +
                     f' | {r("default")} | {r("uvloop")} | {r("gbulb")} | {target} |')
    if errors:
        lines += ['', 'Failures: ' + '; '.join(
            f'{impl} `{case}`: {err}' for (impl, case), err in sorted(errors.items()))]
    lines += ['', 'Samples:', '']
    for (impl, case), v in sorted(samples.items()):
        lines.append(f'- {impl} `{case}`: ' + ', '.join(f'{x:,.1f}' for x in v))
    lines += ['', END, '']
    section = '\n'.join(lines)
    print(section)
    try:
        with open(results_md, encoding='utf-8') as f:
            text = f.read()
    except OSError:
        text = ''
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + text[text.index(END) + len(END):].lstrip('\n')
    text = text.rstrip('\n') + '\n\n' + section
    with open(results_md, 'w', encoding='utf-8') as f:
        f.write(text)
    # Crashes of gbulb are known (it is archived); only gbridge's count.
    return 1 if any(impl in ('gbridge', 'default') for impl, _ in errors) else 0


def main(argv):
    if len(argv) == 3 and argv[1] == '--all':
        sys.exit(run_all(argv[2]))
    if len(argv) < 3:
        raise SystemExit(__doc__)
    impl, case, args = argv[1], argv[2], [int(a) for a in argv[3:]]
    loop = make_loop(impl)
    asyncio.set_event_loop(loop)
    if case == 'call-soon-chain':
        value = calibrated(lambda n: call_soon_batch(loop, n, 1))
    elif case == 'call-soon-batch':
        value = calibrated(lambda n: call_soon_batch(loop, n, args[0]))
    elif case == 'ping-pong':
        value = calibrated(lambda n: ping_pong(loop, n, args[0]))
    elif case == 'tcp-echo':
        value = calibrated(lambda n: tcp_echo(loop, n))
    else:
        raise SystemExit(f'unknown case {case}')
    loop.close()
    print(f'{value:.1f}')


if __name__ == '__main__':
    main(sys.argv)
