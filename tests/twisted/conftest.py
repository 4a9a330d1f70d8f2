# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fixtures shared by the gbridge.twisted tests.

import pytest

import gi

gi.require_version("Gbridge", "1")
from gi.repository import Gbridge  # noqa: E402


@pytest.fixture
def loop():
    """A loop on its own GMainContext, closed after the test."""
    loop = Gbridge.IOLoop.new()
    yield loop
    loop.close(False)
