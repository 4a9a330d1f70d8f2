# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the conformance runners share: each test's outcome recorded, and the
check against a committed list of expected passes.

The runners are run as scripts; each puts this directory on sys.path.
"""

import sys
import unittest

# How many gbridge.asyncio loops install_gbridge_asyncio() has seen made.
LOOPS_MADE = [0]


def install_gbridge_asyncio():
    """Installs gbridge.asyncio's event loop policy and counts the gbridge
    loops made in LOOPS_MADE[0], to show that the tests really ran on them.
    Returns the gbridge.asyncio module."""
    import gbridge.asyncio as gba

    gba.install()
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
