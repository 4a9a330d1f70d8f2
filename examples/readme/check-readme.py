#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""check-readme.py README DIR

The README's examples are the files in DIR, which the test suite runs: every
fenced code block preceded by a comment <!-- examples/readme/NAME --> must
equal that file, and every hello* file in DIR must be shown."""

import pathlib
import re
import sys

readme, directory = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
shown = re.findall(r"<!-- examples/readme/([\w.-]+) -->\n```\w*\n(.*?)```\n",
                   readme.read_text(), re.S)
errors = []
for name, code in shown:
    path = directory / name
    if not path.exists():
        errors.append("README shows %s, which does not exist" % path)
    elif path.read_text() != code:
        errors.append("README's block for %s differs from the file" % path)
names = {name for name, _ in shown}
for path in sorted(directory.glob("hello*")):
    if path.name not in names:
        errors.append("%s is not shown in the README" % path)
for error in errors:
    print(error)
print("%d examples checked" % len(shown))
sys.exit(1 if errors or not shown else 0)
