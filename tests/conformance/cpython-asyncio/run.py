#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""CPython's own asyncio tests (Debian's libpython3.X-testsuite) on gbridge.

    run.py [--loop gbridge|default] [--jobs N] [--reference] [--expected FILE]
           [--write FILE] [--timeout S] [MODULE...]

Runs every module of test.test_asyncio (or the ones named) in its own
process, N at a time, with the chosen loop installed: gbridge's policy, so
that asyncio.new_event_loop() and the test utilities make gbridge loops, and
asyncio.SelectorEventLoop() (which test_events instantiates once per selector
class) replaced by gbridge's loop when it is given no selector or a real one
(the tests that hand it a mock selector test asyncio's own code, and keep
asyncio's loop).

Each test's outcome is recorded. --write FILE writes the ids of the passing
tests; --reference first runs the same modules on asyncio's default loop and
fails (exit status 1) if a test that passed there did not pass on gbridge,
unless ../known-differences.txt lists it (suite cpython-asyncio) with its
reason; --expected FILE fails if any test listed there did not pass.  A module whose process crashes or times out counts all its expected
tests as failed.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.dirname(HERE))
import conformance  # noqa: E402


def all_modules():
    import test.test_asyncio as pkg
    names = sorted(n[:-3] for n in os.listdir(os.path.dirname(pkg.__file__))
                   if n.startswith('test_') and n.endswith('.py'))
    return ['test.test_asyncio.' + n for n in names]


def install_gbridge():
    import asyncio
    import selectors
    from asyncio import unix_events

    gba = conformance.install_gbridge_asyncio()
    real = unix_events._UnixSelectorEventLoop
    real_selectors = tuple(c for c in (getattr(selectors, n, None) for n in (
        'SelectSelector', 'PollSelector', 'EpollSelector', 'DevpollSelector',
        'KqueueSelector')) if c is not None)

    class _SelectorEventLoopType(type):
        # gbridge's loop is a _UnixSelectorEventLoop: isinstance() checks
        # against SelectorEventLoop hold for it as for asyncio's own.
        def __instancecheck__(cls, obj):
            return isinstance(obj, real)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, real)

    class SelectorEventLoop(metaclass=_SelectorEventLoopType):
        def __new__(cls, selector=None):
            if selector is None or type(selector) in real_selectors:
                if selector is not None:
                    selector.close()
                return gba.EventLoop()
            return real(selector)

    asyncio.SelectorEventLoop = SelectorEventLoop
    unix_events.SelectorEventLoop = SelectorEventLoop
    # asyncio.EventLoop (3.13+), what asyncio.run(loop_factory=...) is given.
    for module in (asyncio, unix_events):
        if 'EventLoop' in vars(module):
            module.EventLoop = SelectorEventLoop
    # The policy class: under its public name up to 3.13, its private one
    # from 3.14 (where the public name is a deprecated module attribute,
    # which must keep warning).
    for module in (asyncio, unix_events):
        for name in ('DefaultEventLoopPolicy', '_DefaultEventLoopPolicy'):
            if name in vars(module):
                setattr(module, name, gba.EventLoopPolicy)


def run_module(module, loop, out):
    """In the child: runs one module, writes {test id: outcome} to out."""
    import unittest
    if loop == 'gbridge':
        install_gbridge()
    outcomes = {}
    Result = conformance.recording_result(outcomes)

    def flush():
        with open(out, 'w') as f:
            json.dump({'loops': conformance.LOOPS_MADE[0], 'outcomes': outcomes}, f)

    suite = unittest.defaultTestLoader.loadTestsFromName(module)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2,
                                     resultclass=Result)
    try:
        runner.run(suite)
    finally:
        flush()
        from test.support import reap_children
        reap_children()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--loop', choices=['gbridge', 'default'], default='gbridge')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--timeout', type=float, default=600)
    ap.add_argument('--reference', action='store_true',
                    help='judge against the default loop, run first')
    ap.add_argument('--expected')
    ap.add_argument('--write')
    ap.add_argument('--logs', help='directory for each module\'s output')
    ap.add_argument('--child', help=argparse.SUPPRESS)
    ap.add_argument('modules', nargs='*')
    args = ap.parse_args()

    if args.child:
        run_module(args.modules[0], args.loop, args.child)
        return 0

    modules = args.modules or all_modules()
    logs = args.logs or tempfile.mkdtemp(prefix='cpython-asyncio-')
    os.makedirs(logs, exist_ok=True)
    reference = None
    if args.reference:
        reference = conformance.reference_passes(
            os.path.abspath(__file__), ['--loop', 'default',
             '--jobs', str(args.jobs), '--timeout', str(args.timeout),
             '--logs', logs + '-reference'] + modules,
            'asyncio\'s default loop')
        print(f'==> {args.loop}', flush=True)
    outcomes = {}
    crashed = []

    def one(module):
        out = os.path.join(logs, module + '.json')
        log = os.path.join(logs, module + '.log')
        t0 = time.monotonic()
        with open(log, 'w') as f:
            try:
                status = subprocess.run(
                    [sys.executable, '-B', os.path.abspath(__file__), '--loop', args.loop,
                     '--child', out, module],
                    stdout=f, stderr=subprocess.STDOUT, timeout=args.timeout,
                    stdin=subprocess.DEVNULL).returncode
            except subprocess.TimeoutExpired:
                status = 'timeout'
        try:
            with open(out) as f:
                data = json.load(f)
            res, loops = data['outcomes'], data['loops']
        except (OSError, ValueError, KeyError):
            res, loops = {}, 0
        return module, status, res, loops, time.monotonic() - t0

    # Longest first, so that the slow modules do not run last.
    order = sorted(modules, key=lambda m: m not in (
        'test.test_asyncio.test_events', 'test.test_asyncio.test_tasks',
        'test.test_asyncio.test_ssl', 'test.test_asyncio.test_sendfile',
        'test.test_asyncio.test_subprocess'))
    with ThreadPoolExecutor(args.jobs) as pool:
        for module, status, res, loops, dt in pool.map(one, order):
            outcomes.update(res)
            n_pass = sum(1 for v in res.values() if v == 'pass')
            made = f', {loops} gbridge loops' if args.loop == 'gbridge' else ''
            print(f'{module}: {n_pass}/{len(res)} passed in {dt:.0f} s{made}'
                  + ('' if status in (0, 1) else f' (status {status})'), flush=True)
            if status not in (0, 1):
                crashed.append(module)

    print(f'{args.loop}: {conformance.summary(outcomes)}')
    if args.write:
        conformance.write_ids(args.write, conformance.passing(outcomes))
    status = 0
    if reference is not None:
        status = conformance.check_against_reference(
            'cpython-asyncio', reference, outcomes)
        print(f'logs in {logs} and {logs}-reference')
    if args.expected:
        status = conformance.check_expected(
            conformance.read_ids(args.expected), outcomes,
            note=f'; logs in {logs}') or status
    if crashed:
        print('crashed or timed out: ' + ', '.join(crashed))
    return status


if __name__ == '__main__':
    sys.exit(main())
