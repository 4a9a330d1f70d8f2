#!/usr/bin/env bash
# Every translatable message of the sources is translated, not fuzzy, in
# every language of po/LINGUAS.
set -euo pipefail
src=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$src"
xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=C_:1c,2 \
  --files-from=po/POTFILES.in -o "$tmp/gbridge-1.pot"
fail=0
for lang in $(cat po/LINGUAS); do
  msgmerge -q "po/$lang.po" "$tmp/gbridge-1.pot" -o "$tmp/$lang.po"
  stats=$(msgfmt --statistics -c -o /dev/null "$tmp/$lang.po" 2>&1)
  echo "$lang: $stats"
  case "$stats" in *untranslated*|*fuzzy*) fail=1 ;; esac
done
exit $fail
