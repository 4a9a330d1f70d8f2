# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs Twisted's ReactorBuilder tests of some modules against one reactor.

usage: child.py REACTOR_FQPN SKIP_FILE TRIAL_ARGS... MODULE

ReactorBuilder makes one test class per reactor named in its ``_reactors``
list when a test module is imported; setting the list first selects the
reactor under test. SKIP_FILE lists normalised test ids (REACTOR for the
reactor's class suffix) with a reason, to skip tests that would only hang
until trial's 120 s timeout.
"""
import importlib
import sys

from twisted.internet.main import installReactor
from twisted.python.reflect import namedAny

fqpn, skip_file = sys.argv[1], sys.argv[2]

# The reactor under test is also trial's global reactor, for the tests that
# are not ReactorBuilder tests.
installReactor(namedAny(fqpn)())

from twisted.internet.test import reactormixins  # noqa: E402

reactormixins.ReactorBuilder._reactors = [fqpn]
short = fqpn.rsplit(".", 1)[1]
module_name = sys.argv[-1]
module = importlib.import_module(module_name)

with open(skip_file) as f:
    for line in f:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        test_id, _, reason = line.partition(" ")
        method = test_id.rsplit(".", 1)[1]
        cls_name = test_id.rsplit(".", 2)[1].replace("_REACTORTests", "_%sTests" % short)
        mod_name = test_id.rsplit(".", 2)[0]
        if mod_name != module_name or not hasattr(module, cls_name):
            continue
        cls = getattr(module, cls_name)
        original = getattr(cls, method)

        def skipped(self, _original=original):
            return _original(self)

        skipped.skip = reason or "skipped"
        setattr(cls, method, skipped)

from twisted.scripts import trial  # noqa: E402

sys.argv = ["trial"] + sys.argv[3:]
trial.run()
