#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tornado's own test suite (Debian's python3-tornado) on gbridge's asyncio loop.

    run.py [--loop gbridge|default] [--expected FILE] [--write FILE] [-- RUNTESTS ARGS]

Runs `python3 -m tornado.test.runtests` unchanged in this process, with
gbridge's asyncio policy installed first (--loop gbridge), so that every
Tornado IOLoop (AsyncIOLoop, AsyncIOMainLoop) sits on a gbridge.asyncio loop.
Each test's outcome is recorded: --write FILE writes the passing test ids,
--expected FILE fails (exit status 1) if any listed test did not pass.
"""

import argparse
import os
import sys
import unittest

LOOPS_MADE = [0]


def install_gbridge():
    import gbridge.asyncio as gba
    gba.install()
    init = gba.EventLoop.__init__

    def counting_init(self, *args, **kwargs):
        LOOPS_MADE[0] += 1
        init(self, *args, **kwargs)
    gba.EventLoop.__init__ = counting_init


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--loop', choices=['gbridge', 'default'], default='gbridge')
    ap.add_argument('--expected')
    ap.add_argument('--write')
    ap.add_argument('runtests_args', nargs='*')
    args = ap.parse_args()

    if args.loop == 'gbridge':
        install_gbridge()

    import tornado.test.runtests as runtests

    outcomes = {}
    factory = runtests.test_runner_factory

    def recording_factory(stderr):
        base = factory(stderr)

        class Result(unittest.TextTestResult):
            def addSuccess(self, test):
                super().addSuccess(test)
                outcomes.setdefault(test.id(), 'pass')

            def addFailure(self, test, err):
                super().addFailure(test, err)
                outcomes[test.id()] = 'fail'

            def addError(self, test, err):
                super().addError(test, err)
                outcomes[test.id()] = 'error'

            def addSkip(self, test, reason):
                super().addSkip(test, reason)
                outcomes[test.id()] = 'skip'

            def addExpectedFailure(self, test, err):
                super().addExpectedFailure(test, err)
                outcomes[test.id()] = 'xfail'

            def addUnexpectedSuccess(self, test):
                super().addUnexpectedSuccess(test)
                outcomes[test.id()] = 'xpass'

        class Runner(base):
            resultclass = Result
        return Runner

    runtests.test_runner_factory = recording_factory
    # tornado.testing.main() looks for all() in __main__ unless told.
    sys.argv = (['tornado.test.runtests'] +
                (args.runtests_args or ['tornado.test.runtests.all']))
    status = 0
    try:
        runtests.main()
    except SystemExit as e:
        status = e.code
    out = sys.__stdout__

    counts = {}
    for v in outcomes.values():
        counts[v] = counts.get(v, 0) + 1
    made = f', {LOOPS_MADE[0]} gbridge loops made' if args.loop == 'gbridge' else ''
    print(f'tornado on {args.loop}: {len(outcomes)} tests: ' +
          ', '.join(f'{k} {v}' for k, v in sorted(counts.items())) +
          f'; runtests exit status {status}{made}', file=out)
    passed = sorted(t for t, v in outcomes.items() if v == 'pass')
    if args.write:
        with open(args.write, 'w') as f:
            f.write(''.join(t + '\n' for t in passed))
    result = 0
    if args.expected:
        with open(args.expected) as f:
            expected = [l.strip() for l in f if l.strip() and not l.startswith('#')]
        got = set(passed)
        missing = [t for t in expected if t not in got]
        for t in missing:
            print(f'REGRESSION: {t}: {outcomes.get(t, "not run")}', file=out)
        print(f'{len(expected) - len(missing)}/{len(expected)} expected passes passed',
              file=out)
        if missing:
            result = 1
    return result


if __name__ == '__main__':
    sys.exit(main())
