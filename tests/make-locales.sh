#!/bin/sh
# make-locales.sh DIR STAMP LOCALE...
#
# Compiles each glibc LOCALE (e.g. de_DE.UTF-8) into DIR with localedef, for
# the translation tests (run with LOCPATH=DIR), then touches STAMP. Needs the
# locale sources of Debian's 'locales' package.
set -eu
dir=$1 stamp=$2
shift 2
mkdir -p "$dir"
for locale in "$@"; do
  name=${locale%%.*} charmap=${locale#*.}
  # localedef exits 1 on mere warnings: judge by what it wrote.
  localedef --no-archive -c -i "$name" -f "$charmap" "$dir/$locale" >/dev/null 2>&1 || true
  if [ ! -e "$dir/$locale/LC_MESSAGES" ]; then
    echo "make-locales.sh: cannot compile $locale (is Debian's 'locales' installed?)" >&2
    exit 1
  fi
done
touch "$stamp"
