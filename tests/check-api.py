#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks that gbridge's public API is what it says it is.

check-api.py symbols LIBRARY LIST
    The dynamic symbols LIBRARY defines equal the committed LIST: an
    accidental export, or a removal that breaks the ABI, fails.  A deliberate
    change updates LIST in the same commit.

check-api.py since XMLDIR
    Every symbol in gtk-doc's index (XMLDIR/api-index-full.xml) also sits
    in the index of some version (XMLDIR/api-index-X.Y.xml), that is, its
    documentation says "Since: X.Y".
"""

import glob
import os
import re
import subprocess
import sys


def exported_symbols(library):
    out = subprocess.run(['nm', '-D', '--defined-only', library],
                         check=True, capture_output=True, text=True).stdout
    symbols = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] in 'TDBRVW':
            symbols.add(fields[2])
    return symbols


def check_symbols(library, listfile):
    have = exported_symbols(library)
    with open(listfile) as f:
        want = {line.strip() for line in f if line.strip() and not line.startswith('#')}
    if not have:
        print('no symbols read from %s' % library)
        return 1
    added, removed = sorted(have - want), sorted(want - have)
    for name in added:
        print('exported but not in %s: %s' % (os.path.basename(listfile), name))
    for name in removed:
        print('in %s but not exported: %s' % (os.path.basename(listfile), name))
    print('%d symbols exported, %d listed' % (len(have), len(want)))
    return 1 if added or removed else 0


def index_entries(path):
    with open(path) as f:
        return set(re.findall(r'<indexentry><primaryie linkends="([^"]+)"', f.read()))


def check_since(xmldir):
    full = index_entries(os.path.join(xmldir, 'api-index-full.xml'))
    versioned = set()
    versions = []
    for path in glob.glob(os.path.join(xmldir, 'api-index-[0-9]*.xml')):
        versions.append(os.path.basename(path)[len('api-index-'):-len('.xml')])
        versioned |= index_entries(path)
    missing = sorted(full - versioned)
    for name in missing:
        print('no "Since:" tag: %s' % name)
    print('%d documented symbols, %d with a Since tag (versions: %s)'
          % (len(full), len(full & versioned), ', '.join(sorted(versions)) or 'none'))
    return 1 if missing or not full else 0


def main(argv):
    if len(argv) == 4 and argv[1] == 'symbols':
        return check_symbols(argv[2], argv[3])
    if len(argv) == 3 and argv[1] == 'since':
        return check_since(argv[2])
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
