#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tornado's own test suite (Debian's python3-tornado) on gbridge's asyncio loop.

    run.py [--loop gbridge|default] [--reference] [--expected FILE] [--write FILE]
           [-- RUNTESTS ARGS]

Runs `python3 -m tornado.test.runtests` unchanged in this process, with
gbridge's asyncio policy installed first (--loop gbridge), so that every
Tornado IOLoop (AsyncIOLoop, AsyncIOMainLoop) sits on a gbridge.asyncio loop.
Each test's outcome is recorded: --write FILE writes the passing test ids;
--reference first runs the suite on asyncio's default loop (another process)
and fails (exit status 1) if a test that passed there did not pass here,
unless ../known-differences.txt lists it (suite tornado) with its reason;
--expected FILE fails if any listed test did not pass.
"""

import argparse
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import conformance  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--loop', choices=['gbridge', 'default'], default='gbridge')
    ap.add_argument('--reference', action='store_true',
                    help='judge against the default loop, run first')
    ap.add_argument('--expected')
    ap.add_argument('--write')
    ap.add_argument('runtests_args', nargs='*')
    args = ap.parse_args()

    reference = None
    if args.reference:
        reference = conformance.reference_passes(
            os.path.abspath(__file__), ['--loop', 'default']
            + (['--'] + args.runtests_args if args.runtests_args else []),
            'asyncio\'s default loop')
        print(f'==> {args.loop}', flush=True)

    if args.loop == 'gbridge':
        conformance.install_gbridge_asyncio()

    import tornado.test.runtests as runtests

    outcomes = {}
    factory = runtests.test_runner_factory

    def recording_factory(stderr):
        base = factory(stderr)

        class Runner(base):
            # Tornado 6.5 passes its own result class to __init__; record
            # on top of whichever class the runner ends up with.
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.resultclass = conformance.recording_result(
                    outcomes, self.resultclass)
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

    made = f', {conformance.LOOPS_MADE[0]} gbridge loops made' if args.loop == 'gbridge' else ''
    print(f'tornado on {args.loop}: {conformance.summary(outcomes)}'
          f'; runtests exit status {status}{made}', file=out)
    if args.write:
        conformance.write_ids(args.write, conformance.passing(outcomes))
    result = 0
    if reference is not None:
        result = conformance.check_against_reference('tornado', reference,
                                                     outcomes, out=out)
    if args.expected:
        result = conformance.check_expected(conformance.read_ids(args.expected),
                                            outcomes, out=out) or result
    return result


if __name__ == '__main__':
    sys.exit(main())
