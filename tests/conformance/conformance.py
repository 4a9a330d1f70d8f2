# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the conformance runners share: each test's outcome recorded, and the
judgement against the reference run in the same environment.

A peer suite is run twice, on the reference (asyncio's default loop,
Twisted's epollreactor) and on gbridge; a test fails the run only when it
passes on the reference and not on gbridge, and is not listed, with its
reason, in known-differences.txt.  No list of passes is pinned to one
version of Python, Tornado or Twisted.

The runners are run as scripts; each puts this directory on sys.path.
"""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

# How many gbridge.asyncio loops install_gbridge_asyncio() has seen made.
LOOPS_MADE = [0]


def install_gbridge_asyncio():
    """Installs gbridge.asyncio's event loop policy and counts the gbridge
    loops made in LOOPS_MADE[0], to show that the tests really ran on them.
    Returns the gbridge.asyncio module.

    The suites make their loops through the policy (asyncio.new_event_loop(),
    asyncio.run() without a loop factory), so the harness installs one,
    deprecated from Python 3.14 or not, without the warning: the tests that
    check asyncio's own deprecation warnings must see only theirs."""
    import asyncio
    import warnings
    import gbridge.asyncio as gba

    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        policy = gba.EventLoopPolicy()
        setter = getattr(asyncio.events, '_set_event_loop_policy',
                         asyncio.set_event_loop_policy)
        setter(policy)
    init = gba.EventLoop.__init__

    def counting_init(self, *args, **kwargs):
        LOOPS_MADE[0] += 1
        init(self, *args, **kwargs)
    gba.EventLoop.__init__ = counting_init
    return gba


def recording_result(outcomes, base=unittest.TextTestResult):
    """A unittest result class, on base, that also records each test's
    outcome in the dict outcomes: test id -> 'pass', 'fail', 'error',
    'skip', 'xfail' or 'xpass'."""

    class RecordingResult(base):
        def addSuccess(self, test):
            super().addSuccess(test)
            # A pass never hides an outcome already recorded for the id.
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

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                outcomes[test.id()] = 'fail'

    return RecordingResult


def summary(outcomes):
    """'N tests: OUTCOME COUNT, ...' for outcomes (test id -> outcome)."""
    counts = {}
    for v in outcomes.values():
        counts[v] = counts.get(v, 0) + 1
    return f'{len(outcomes)} tests: ' + ', '.join(
        f'{k} {v}' for k, v in sorted(counts.items()))


def passing(outcomes, passed='pass'):
    """The sorted ids of the tests whose outcome is passed."""
    return sorted(t for t, v in outcomes.items() if v == passed)


def read_ids(path):
    """The test ids listed in path, one a line; '#' starts a comment line."""
    with open(path) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith('#')]


def write_ids(path, ids):
    with open(path, 'w') as f:
        f.write(''.join(t + '\n' for t in ids))


def check_expected(expected, outcomes, passed='pass', out=None, note=''):
    """Prints a REGRESSION line for each id in expected whose outcome is not
    passed, then the count; returns the exit status: 1 if any, else 0."""
    out = out or sys.stdout
    missing = [t for t in expected if outcomes.get(t) != passed]
    for t in missing:
        print(f'REGRESSION: {t}: {outcomes.get(t, "not run")}', file=out)
    print(f'{len(expected) - len(missing)}/{len(expected)} expected passes passed'
          + note, file=out)
    return 1 if missing else 0


def known_differences(suite):
    """{test id: reason} of known-differences.txt's lines for @suite.

    Each line is 'SUITE TEST-ID REASON...'; '#' starts a comment line.
    """
    known = {}
    with open(os.path.join(HERE, 'known-differences.txt')) as f:
        for line in f:
            parts = line.split(None, 2)
            if len(parts) < 3 or line.startswith('#') or parts[0] != suite:
                continue
            known[parts[1]] = parts[2].strip()
    return known


def reference_passes(script, args, what):
    """Runs the runner @script with @args (which choose the reference) and
    '--write FILE', and returns the ids of the tests it wrote as passing."""
    fd, path = tempfile.mkstemp(prefix='gbridge-reference-', suffix='.txt')
    os.close(fd)
    try:
        print(f'==> the reference ({what})', flush=True)
        status = subprocess.run([sys.executable, '-B', script, '--write', path] + args,
                                stdin=subprocess.DEVNULL).returncode
        ids = read_ids(path)
        print(f'==> the reference passed {len(ids)} tests (exit status {status})',
              flush=True)
        return ids
    finally:
        os.unlink(path)


def check_against_reference(suite, reference, outcomes, passed='pass', out=None):
    """Prints a REGRESSION line for each test that passed on the @reference
    (ids) and not here, except the known differences of @suite; returns the
    exit status: 1 if any, or if the reference passed nothing, else 0."""
    out = out or sys.stdout
    if not reference:
        print('the reference passed no test: nothing to judge against', file=out)
        return 1
    known = known_differences(suite)
    for t, reason in sorted(known.items()):
        if t in reference and outcomes.get(t) != passed:
            print(f'known difference: {t}: {outcomes.get(t, "not run")} ({reason})',
                  file=out)
    expected = [t for t in reference if t not in known]
    only_here = [t for t, v in outcomes.items() if v == passed and t not in reference]
    status = check_expected(expected, outcomes, passed, out,
                            note=f' (of the reference\'s {len(reference)})')
    print(f'{len(only_here)} tests passed here and not on the reference', file=out)
    return status
