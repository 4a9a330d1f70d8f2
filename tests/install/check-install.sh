#!/usr/bin/env bash
# Installs the build tree into a scratch directory and uses gbridge from
# there, as a user would: a C program through pkg-config, and Python through
# the installed typelib. Nothing in the build tree is on any search path.
set -euo pipefail
# meson points these at the build tree; this check must not see it.
unset LD_LIBRARY_PATH GI_TYPELIB_PATH PYTHONPATH

build_root=$1
src=$2
destdir=$(mktemp -d)
trap 'rm -rf "$destdir"' EXIT

meson install -C "$build_root" --destdir "$destdir" --no-rebuild --quiet

prefix=$(meson introspect "$build_root" --buildoptions |
         /usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
libdir=$(meson introspect "$build_root" --buildoptions |
         /usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"))')
case "$libdir" in /*) ;; *) libdir=$prefix/$libdir ;; esac
root=$destdir$prefix
lib=$destdir$libdir

echo "# installed into $root"
for f in "$root/include/gbridge-1/gbridge/gbridge.h" \
         "$root/include/gbridge-1/gbridge/gbridge-version.h" \
         "$root/include/gbridge-1/gbridge/gbridge-enums.h" \
         "$lib/pkgconfig/gbridge-1.pc" \
         "$lib/libgbridge-1.so" \
         "$lib/girepository-1.0/Gbridge-1.typelib" \
         "$root/share/gir-1.0/Gbridge-1.gir" \
         "$root/share/locale/de/LC_MESSAGES/gbridge-1.mo" \
         "$root/share/locale/fr/LC_MESSAGES/gbridge-1.mo"; do
  [ -e "$f" ] || { echo "missing after install: $f"; exit 1; }
done

# The .pc file names the real prefix; point only it at the scratch copy.
mkdir -p "$destdir/pc"
sed "s|^prefix=.*|prefix=$root|" "$lib/pkgconfig/gbridge-1.pc" > "$destdir/pc/gbridge-1.pc"
export PKG_CONFIG_PATH=$destdir/pc
cc -o "$destdir/user" "$src/user.c" $(pkg-config --cflags --libs gbridge-1)
LD_LIBRARY_PATH=$lib "$destdir/user"

# The gi override and the gbridge package, from the installed site directory.
site=$(dirname "$(find "$destdir" -path '*/gbridge/__init__.py' | head -n1)")
site=$(dirname "$site")
[ -f "$site/gi/overrides/Gbridge.py" ] || { echo "missing after install: gi/overrides/Gbridge.py next to $site/gbridge"; exit 1; }
# Every module of the package (gbridge.asyncio, gbridge.twisted, gbridge.trio).
for module in "$src"/../../introspection/python/gbridge/*.py; do
  name=$(basename "$module")
  [ -f "$site/gbridge/$name" ] || { echo "missing after install: gbridge/$name"; exit 1; }
done

# gbridge._native, where it was built: installed into the platform site
# directory (the same one as the package on Debian).
native_site=$site
if [ "${GBRIDGE_TEST_HAVE_NATIVE:-0}" = 1 ]; then
  native=$(find "$destdir" -name '_native*.so' -path '*/gbridge/*' | head -n1)
  [ -n "$native" ] || { echo "missing after install: gbridge/_native*.so"; exit 1; }
  native_site=$(dirname "$(dirname "$native")")
fi

PYTHONPATH=$site:$native_site LD_LIBRARY_PATH=$lib GI_TYPELIB_PATH=$lib/girepository-1.0 /usr/bin/python3 - "$site" "$native_site" <<'PY'
import os
import sys
import gbridge
import gbridge.asyncio
if os.environ.get("GBRIDGE_TEST_HAVE_NATIVE") == "1":
    assert gbridge.asyncio._native is not None
    assert gbridge.asyncio._native.__file__.startswith(sys.argv[2]), gbridge.asyncio._native.__file__
import gi.overrides.Gbridge as override
assert override.__file__.startswith(sys.argv[1]), override.__file__
assert gbridge.__file__.startswith(sys.argv[1]), gbridge.__file__
import gi
gi.require_version("Gbridge", "1")
from gi.repository import Gbridge
loop = Gbridge.IOLoop.new()
ran = []
loop.add_callback(lambda: ran.append("python"))
loop.call_later(0.001, loop.stop)
loop.start()
assert ran == ["python"], ran
assert Gbridge.MAJOR_VERSION == 1
# The override is active: run_sync takes Tornado's arguments.
assert loop.run_sync(lambda: Gbridge.Future.new_resolved(2**40), timeout=5) == 2**40
print("python: imported the installed Gbridge, its override and gbridge, and ran a loop")
PY
echo "install check passed"
