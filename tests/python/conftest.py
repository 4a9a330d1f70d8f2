# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Shared fixtures for the Python tests of gbridge.  meson runs them with
# /usr/bin/python3 (which has Debian's python3-gi) and GI_TYPELIB_PATH and
# LD_LIBRARY_PATH pointing into the build tree.

import os

import pytest

import gi

gi.require_version('Gbridge', '1')
from gi.repository import Gbridge  # noqa: E402

from gbridgetest import Helper  # noqa: E402


def pytest_addoption(parser):
    parser.addoption('--gbridge-test-helper', action='store',
                     default=os.environ.get('GBRIDGE_TEST_HELPER'),
                     help='path of the gbridge-test-helper module (built by meson)')


@pytest.fixture
def helper(request):
    path = request.config.getoption('--gbridge-test-helper')
    if not path:
        pytest.fail('--gbridge-test-helper (or GBRIDGE_TEST_HELPER) is not set; '
                    'run the tests with meson test')
    h = Helper(path)
    h.clear()
    yield h
    h.clear()


@pytest.fixture
def loop():
    """A loop on its own GMainContext, closed after the test."""
    loop = Gbridge.IOLoop.new()
    yield loop
    if loop.is_running():
        loop.stop()
    if not loop.is_closed():
        loop.close(False)
