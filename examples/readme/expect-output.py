#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""expect-output.py LINE... -- PROGRAM ARGS...

Runs one of the README's examples and fails unless it exits with 0 and
prints every LINE (each a whole line of its standard output), so an example
that runs but no longer does what the README says fails too."""

import subprocess
import sys

sep = sys.argv.index("--")
expected, command = sys.argv[1:sep], sys.argv[sep + 1:]
result = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=60)
sys.stdout.write(result.stdout)
lines = result.stdout.splitlines()
missing = [line for line in expected if line not in lines]
if result.returncode != 0 or missing:
    sys.exit("exit status %d; lines missing from the output: %r" % (result.returncode, missing))
