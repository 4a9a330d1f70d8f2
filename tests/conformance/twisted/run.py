#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Twisted's reactor conformance suite against gbridge's reactor.

Runs the ReactorBuilder tests of twisted.internet.test (Debian's
python3-twisted) against one reactor, one trial process per module, a few
modules at a time, and prints each test's outcome and a count per module.

  run.py --reactor gbridge                      # run and print counts
  run.py --reactor gbridge --reference epoll    # fail on any regression
  run.py --reactor epoll --write passes.txt     # record the passing tests
  run.py --reactor gbridge --check passes.txt   # fail unless these pass

--reference runs the same modules on the reference reactor first; a test
fails the run when it passed there and not on the reactor under test,
unless ../known-differences.txt lists it (suite twisted) with its reason.

Test ids are normalised (the reactor's class suffix becomes REACTOR), so
the passing lists of two reactors compare line by line.
"""
import argparse
import collections
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.dirname(HERE))
import conformance  # noqa: E402

REACTORS = {
    "gbridge": "gbridge.twisted.GbridgeReactor",
    # On the default context's loop, shared by every reactor the tests build.
    "gbridge-default": "default_loop_reactor.GbridgeDefaultLoopReactor",
    "epoll": "twisted.internet.epollreactor.EPollReactor",
    "gi": "twisted.internet.gireactor.GIReactor",
    "poll": "twisted.internet.pollreactor.PollReactor",
}

MODULES = [
    "test_core", "test_fdset", "test_newtls", "test_process", "test_socket",
    "test_stdio", "test_tcp", "test_threads", "test_time", "test_tls",
    "test_udp", "test_unix",
]

# The other modules of twisted.internet.test, which run on trial's global
# reactor: the reactor under test is installed as that.
GLOBAL_MODULES = [
    "test_abstract", "test_address", "test_base", "test_baseprocess",
    "test_default", "test_defer_await", "test_defer_yieldfrom",
    "test_endpoints", "test_error", "test_filedescriptor", "test_inlinecb",
    "test_main", "test_posixbase", "test_posixprocess", "test_protocol",
    "test_resolver", "test_sigchld", "test_testing", "test_udp_internals",
]

LINE = re.compile(r"^(twisted\.internet\.test\.\S+) \.\.\. \[(\w+)\](?:\[\w+\])*$")


def run_module(fqpn, module, timeout):
    short = fqpn.rsplit(".", 1)[1]
    suffix = "_%sTests." % short
    cmd = [sys.executable, os.path.join(HERE, "child.py"), fqpn,
           os.path.join(HERE, "skip.txt"), "--reporter=bwverbose",
           "twisted.internet.test." + module]
    workdir = tempfile.mkdtemp(prefix="gbridge-twisted-%s-" % module)
    try:
        out = subprocess.run(cmd, cwd=workdir, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=timeout,
                             text=True, errors="replace").stdout
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += "\nTIMEOUT\n"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results = {}
    for line in out.splitlines():
        m = LINE.match(line.strip())
        if not m:
            continue
        test_id = m.group(1)
        if module in GLOBAL_MODULES or suffix in test_id:
            results[test_id.replace(suffix, "_REACTORTests.")] = m.group(2)
    return module, results, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reactor", default="gbridge")
    ap.add_argument("--modules", nargs="*", default=MODULES + GLOBAL_MODULES)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--reference", help="judge against this reactor, run first")
    ap.add_argument("--write", help="write the passing tests to this file")
    ap.add_argument("--check", help="fail if a test listed here does not pass")
    ap.add_argument("--results", help="write every test and outcome here")
    ap.add_argument("--log-dir", help="keep each module's trial output here")
    args = ap.parse_args()

    reference = None
    if args.reference:
        reference = conformance.reference_passes(
            os.path.abspath(__file__),
            ["--reactor", args.reference, "--jobs", str(args.jobs),
             "--timeout", str(args.timeout), "--modules"] + args.modules,
            args.reference)
        print("==> %s" % args.reactor, flush=True)

    fqpn = REACTORS.get(args.reactor, args.reactor)
    all_results = {}
    counts = collections.OrderedDict()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_module, fqpn, m, args.timeout) for m in args.modules]
        for fut in futures:
            module, results, out = fut.result()
            all_results.update(results)
            c = collections.Counter(results.values())
            counts[module] = c
            if args.log_dir:
                os.makedirs(args.log_dir, exist_ok=True)
                with open(os.path.join(args.log_dir, module + ".log"), "w") as f:
                    f.write(out)

    print("%-22s %6s %6s %6s %6s" % ("module", "ok", "fail", "error", "skip"))
    for module, c in counts.items():
        fail = c["FAIL"] + c["FAILURE"]
        skip = c["SKIPPED"] + c["SKIP"]
        print("%-22s %6d %6d %6d %6d" % (module, c["OK"], fail,
                                         sum(c.values()) - c["OK"] - fail - skip, skip))
    passing = conformance.passing(all_results, "OK")
    print("total: %d passed of %d on %s" % (len(passing), len(all_results), args.reactor))

    if args.results:
        with open(args.results, "w") as f:
            for t in sorted(all_results):
                f.write("%s %s\n" % (all_results[t], t))
    if args.write:
        conformance.write_ids(args.write, passing)
    if not all_results and (args.check or reference is not None):
        print("no test ran: is python3-twisted installed?")
        return 1
    status = 0
    if reference is not None:
        status = conformance.check_against_reference("twisted", reference,
                                                     all_results, "OK")
    if args.check:
        expected = [t for t in conformance.read_ids(args.check)
                    if t.split(".")[3] in args.modules]
        status = conformance.check_expected(expected, all_results, "OK") or status
    return status


if __name__ == "__main__":
    sys.exit(main())
