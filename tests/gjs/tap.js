// SPDX-License-Identifier: LGPL-2.1-or-later
//
// TAP for the GJS tests, which load it with
//   imports.searchPath.unshift(GLib.path_get_dirname(System.programPath));
//   const Tap = imports.tap;
// check() prints one result, todo() a known failure; finish() prints the plan and exits, non-zero if
// a check failed; watchdog() ends a run that hangs.

const {GLib} = imports.gi;
const System = imports.system;

let nTests = 0;
let nFailed = 0;

function check(ok, what) {
    nTests++;
    print(`${ok ? 'ok' : 'not ok'} ${nTests} - ${what}`);
    if (!ok)
        nFailed++;
}

// A known failure, TAP's "# TODO": meson counts it as an expected failure,
// and as a failure of the run once it passes (like pytest's strict xfail).
function todo(ok, what, why) {
    nTests++;
    print(`${ok ? 'ok' : 'not ok'} ${nTests} - ${what} # TODO ${why}`);
}

// Fails the run without ending it: for an exception that stopped the checks.
function bailOut(reason) {
    nFailed++;
    print(`Bail out! ${reason}`);
}

// The timeout is on the default context: it also fires while a Gbridge loop
// on that context runs.
function watchdog(ms) {
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
        print(`Bail out! still running after ${ms} ms`);
        System.exit(1);
        return GLib.SOURCE_REMOVE;
    });
}

// Prints the plan and exits: 0 if no check failed and, when nExpected is
// given, exactly that many ran.
function finish(nExpected) {
    print(`1..${nTests}`);
    const complete = nExpected === undefined || nTests === nExpected;
    System.exit(nFailed === 0 && complete ? 0 : 1);
}
