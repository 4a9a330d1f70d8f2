#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-under-xvfb.sh [--tap] PROGRAM ARGS...
#
# Runs PROGRAM on a private Xvfb server through xvfb-run (Debian's xvfb), with
# GTK on X11 and its software (cairo) renderer so that no GPU is needed.
# Skips, with the reason, only if no X server can start: exit 77 for meson's
# exit-code protocol, or a TAP plan "1..0 # SKIP" with --tap.

tap=
if [ "$1" = --tap ]; then
  tap=1
  shift
fi

skip () {
  if [ -n "$tap" ]; then
    echo "1..0 # SKIP $*"
    exit 0
  fi
  echo "SKIP: $*"
  exit 77
}

command -v xvfb-run >/dev/null 2>&1 || skip "xvfb-run not found (Debian package xvfb)"
command -v xauth >/dev/null 2>&1 || skip "xauth not found (Debian package xauth), xvfb-run needs it"

server_args="-screen 0 1280x1024x24 -nolisten tcp"
if ! err=$(xvfb-run -a -s "$server_args" true 2>&1); then
  skip "no X server can start under xvfb-run: $err"
fi

exec xvfb-run -a -s "$server_args" \
  env GDK_BACKEND=x11 GSK_RENDERER=cairo NO_AT_BRIDGE=1 GTK_A11Y=none "$@"
