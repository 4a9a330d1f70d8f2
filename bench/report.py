#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Formats the samples bench/run collected: medians over the repetitions
# (for the futures, the median over the processes of each process's median
# over its rounds),
# ratios against the anchors of the same run, the targets of the
# performance contract with PASS/FAIL. Prints the tables and writes them,
# with a description of the machine, to RESULTS.md.
#
# usage: report.py RESULTS.TSV RESULTS.md KEY=VALUE...

import statistics
import sys

IMPLS = ("gbridge", "glib", "libuv")
# The one-fd and real-peer cases in C: gbridge also with its handler
# registered with GBRIDGE_HANDLER_FLAGS_UNCHECKED (libuv's contract).
FD_IMPLS = ("gbridge", "gbridge-unchecked", "glib", "libuv")
LATENESS_IMPLS = IMPLS + ("timerfd",)


def load(path):
    """Maps (impl, case) to the list of parsed outputs, or error strings
    ("ERROR ..." for a failure, "ABSENT ..." for an implementation that is
    not installed)."""
    samples = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            impl, case, out = line.rstrip("\n").split("\t", 2)
            if out.startswith("ERROR") or out.startswith("ABSENT"):
                parsed = out
            else:
                parsed = dict(kv.split("=", 1) for kv in out.split())
            samples.setdefault((impl, case), []).append(parsed)
    return samples


class Results:
    def __init__(self, samples):
        self.samples = samples

    def errors(self, impl, case):
        return [s for s in self.samples.get((impl, case), [])
                if isinstance(s, str) and not s.startswith("ABSENT")]

    def absent(self, impl, case):
        return any(isinstance(s, str) and s.startswith("ABSENT")
                   for s in self.samples.get((impl, case), []))

    def absent_reasons(self):
        """impl -> why, for the implementations that were not installed."""
        return {impl: s[len("ABSENT "):]
                for (impl, _), samples in self.samples.items()
                for s in samples if isinstance(s, str) and s.startswith("ABSENT")}

    def values(self, impl, case, key):
        return [float(s[key]) for s in self.samples.get((impl, case), [])
                if not isinstance(s, str)]

    def median(self, impl, case, key):
        """The median, or None if any repetition failed or none ran."""
        if self.errors(impl, case) or self.absent(impl, case):
            return None
        values = self.values(impl, case, key)
        return statistics.median(values) if values else None

    def lateness(self, impl, case):
        if self.errors(impl, case):
            return None
        pooled = sorted(int(v) for s in self.samples.get((impl, case), [])
                        for v in s["lateness_us"].split(","))
        if not pooled:
            return None

        def pct(p):
            return pooled[min(len(pooled) - 1, int(p / 100 * len(pooled)))]
        return {"n": len(pooled), "p50": pct(50), "p99": pct(99),
                "max": pooled[-1]}


def fmt(value, unit=""):
    if value is None:
        return "ERROR"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return text + unit


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    if r is None:
        return "—"
    if r < 0.1:
        return f"1/{1 / r:,.0f}"
    if r >= 100:
        return f"{r:,.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


PING_PONG = [
    ("nothing pending", "ping-pong 0 0"),
    ("10^3 timers", "ping-pong 1000 0"),
    ("10^4 timers", "ping-pong 10000 0"),
    ("10^5 timers", "ping-pong 100000 0"),
    ("10^3 idle fds", "ping-pong 0 1000 active-first"),
    ("10^4 idle fds", "ping-pong 0 10000 active-first"),
    ("10^3 idle fds, added before the active pair", "ping-pong 0 1000 idle-first"),
    ("10^4 idle fds, added before the active pair", "ping-pong 0 10000 idle-first"),
]

CALLBACKS = [
    ("10^6 added from the loop thread before running (GLib: idle sources)",
     "callbacks-batch 1000000 outside"),
    ("10^6 added by a callback running on the loop (GLib: idle sources)",
     "callbacks-batch 1000000 dispatch"),
    ("chain of 2·10^5, each callback adds the next (GLib: idle sources)",
     "callbacks-chain 200000"),
    ("4 producer threads × 10^5 (GLib: g_main_context_invoke)",
     "callbacks-threads 4 100000"),
]

CHURN = [
    ("10^6 scheduled, then all cancelled in random order", "churn-bulk 1000000"),
    ("10^6 × (schedule one, cancel it)", "churn-pair 1000000"),
]


FUTURES = [
    ("created, resolved and their callback run on the loop thread",
     "futures 100000 5 same-thread"),
    ("created on the loop thread, resolved from another thread",
     "futures 100000 5 cross-thread"),
]

PY_FUTURES = "futures 50000 5"

# The loop's metrics on (metrics-enabled, and a slow-callback threshold, so
# every callback is timed) against off, interleaved in the same run.
METRICS = [
    ("10^6 callbacks added by a callback: callbacks per second (higher is better)",
     "callbacks-batch 1000000 dispatch", "per_second"),
    ("chain of 2·10^5 callbacks: callbacks per second (higher is better)",
     "callbacks-chain 200000", "per_second"),
    ("two-fd ping-pong, nothing pending: ns per handler call (lower is better)",
     "ping-pong 0 0", "ns_per_iteration"),
    ("one-fd ping-pong, nothing pending: ns per round (lower is better)",
     "one-fd 0 0", "ns_per_iteration"),
    ("10^6 × (schedule one timer, cancel it): ns per pair (lower is better)",
     "churn-pair 1000000", "ns_per_pair"),
]


def lateness_case(samples):
    for impl, case in samples:
        if case.startswith("lateness "):
            return case
    return "lateness 0"


TCP_SECONDS = "0.5"


def verdict(ok):
    if ok is None:
        return "FAIL (no result)"
    return "PASS" if ok else "FAIL"


# The shapes users run (bench-common.c: BENCH_SHAPE_ONE_FD, _PEER).
C_ONE_FD = [
    ("nothing pending", "one-fd 0 0"),
    ("10^5 timers", "one-fd 100000 0"),
    ("10^4 idle fds", "one-fd 0 10000"),
]
C_PEER = "peer 0 0"

AIO_IMPLS = ("gbridge", "default", "uvloop", "gi-events", "gbulb")
AIO_NAMES = {"gbridge": "gbridge.asyncio", "default": "default loop",
             "uvloop": "uvloop", "gi-events": "gi.events", "gbulb": "gbulb"}
AIO_PING_PONG = [
    ("one fd, no timers", "one-fd 0"),
    ("one fd, 10^4 idle timers", "one-fd 10000"),
    ("real peer (another process; wall time)", "peer"),
    ("two fds each made ready by the other's handler, no timers", "two-fds 0"),
    ("two fds each made ready by the other's handler, 10^4 idle timers",
     "two-fds 10000"),
]
AIO_TCP = [
    ("asyncio streams, 1 connection", "tcp-streams 1"),
    ("asyncio streams, 100 connections", "tcp-streams 100"),
    ("asyncio protocol, 1 connection", "tcp-protocol 1"),
    ("asyncio protocol, 100 connections", "tcp-protocol 100"),
    ("Tornado TCPServer/IOStream, 1 connection", "tornado 1"),
    ("Tornado TCPServer/IOStream, 100 connections", "tornado 100"),
]
AIO_CALLS = [
    ("call_soon, one callback in flight (callbacks/s, higher is better)",
     "call-soon-chain", "per_second"),
    ("call_soon, 1,000 callbacks in flight (callbacks/s, higher is better)",
     "call-soon-batch 1000", "per_second"),
    ("call_later + cancel, 10^5 timers 1–100 s ahead (ns per pair, lower is better)",
     "timer-churn 100000", "ns_per_pair"),
]
TW_IMPLS = ("gbridge", "epoll", "asyncio", "gi")
TW_NAMES = {"gbridge": "gbridge.twisted", "epoll": "epollreactor",
            "asyncio": "asyncioreactor", "gi": "gireactor"}
TW_TCP = [
    ("Twisted echo server, 1 connection", "echo-server 1"),
    ("Twisted echo server, 100 connections", "echo-server 100"),
]
TW_CHURN = "churn 100000"
AIO_HTTP = [
    ("aiohttp web server, 1 connection", "http-aiohttp 1"),
    ("aiohttp web server, 100 connections", "http-aiohttp 100"),
    ("tornado.web, 1 connection", "http-tornado 1"),
    ("tornado.web, 100 connections", "http-tornado 100"),
]
TW_HTTP = [
    ("twisted.web, 1 connection", "http-server 1"),
    ("twisted.web, 100 connections", "http-server 100"),
]


def server_rows(res, prefix, impls, cases, anchors, run_by):
    """For served(): the rate and CPU rows of one family of servers (@prefix
    "aio-" or "twisted-", its @impls), gbridge's rate against each of
    @anchors and its CPU against the first; @run_by(case) is the
    implementations that run the case (the others show "—"). Returns the
    two lists of rows and the medians {case: {impl: value}} of each."""
    rate_rows, cpu_rows, rates, cpus = [], [], {}, {}
    for label, case in cases:
        shown = run_by(case)
        m = rates[case] = {i: res.median(prefix + i, case, "per_second")
                           for i in impls}
        c = cpus[case] = {i: res.median(prefix + i, case, "server_cpu_ns_per_request")
                          for i in impls}
        rate_rows.append(
            [label] + [cell(res, prefix + i, case, "per_second")
                       if i in shown else "—" for i in impls] +
            [fmt_ratio(ratio(m["gbridge"], m[a])) if a in shown else "—"
             for a in anchors])
        cpu_rows.append(
            [label] + [cell(res, prefix + i, case, "server_cpu_ns_per_request", 1e-3)
                       if i in shown else "—" for i in impls] +
            [fmt_ratio(ratio(c["gbridge"], c[anchors[0]]))])
    return rate_rows, cpu_rows, rates, cpus


def served(res, aio_cases, tw_cases):
    """The servers' tables (TCP echo or HTTP): requests per second and
    server CPU per request, asyncio loops and Twisted reactors; with the
    medians {case: {impl: value}} of each, for the targets."""
    t = {}
    (t["aio_rate"], t["aio_cpu"], t["aio"], t["aio_cpu_of"]) = server_rows(
        res, "aio-", AIO_IMPLS, aio_cases, ("default", "uvloop"),
        lambda case: ("gbridge", "default") if "tornado" in case else AIO_IMPLS)
    (t["tw_rate"], t["tw_cpu"], t["tw"], t["tw_cpu_of"]) = server_rows(
        res, "twisted-", TW_IMPLS, tw_cases, ("epoll", "asyncio"),
        lambda case: TW_IMPLS)
    return t


def served_tables(t):
    """The four tables of served() in markdown."""
    return "\n".join([
        table(["server"] + [AIO_NAMES[i] for i in AIO_IMPLS] +
              ["gbridge ÷ default", "gbridge ÷ uvloop"], t["aio_rate"]),
        "",
        table(["Twisted server"] + [TW_NAMES[i] for i in TW_IMPLS] +
              ["gbridge ÷ epoll", "gbridge ÷ asyncioreactor"], t["tw_rate"]),
        "\nServer CPU time per request, µs (lower is better):\n",
        table(["server"] + [AIO_NAMES[i] for i in AIO_IMPLS] +
              ["gbridge ÷ default"], t["aio_cpu"]),
        "",
        table(["Twisted server"] + [TW_NAMES[i] for i in TW_IMPLS] +
              ["gbridge ÷ epoll"], t["tw_cpu"])])


def cell(res, impl, case, key, scale=1.0, unit=""):
    """A median for a table: "absent" for an implementation that is not
    installed, "ERROR" when a repetition failed."""
    if res.absent(impl, case):
        return "absent"
    value = res.median(impl, case, key)
    return fmt(None if value is None else value * scale, unit)


def speed_work(res):
    """The shapes users run and the targets of the speed work: (markdown,
    target rows)."""
    out = []
    targets = []

    def target(text, measured, ok):
        targets.append([text, measured, verdict(ok)])

    def check(text, r, op, limit):
        ok = None if r is None else (r <= limit if op == "<=" else r >= limit)
        target(text, fmt_ratio(r), ok)

    def med(impl, case, key):
        return res.median(impl, case, key)

    # C: one fd, a peer thread.
    one = {case: {i: med(i, case, "ns_per_iteration") for i in FD_IMPLS}
           for _, case in C_ONE_FD}
    base = one["one-fd 0 0"]["gbridge"]
    base_unchecked = one["one-fd 0 0"]["gbridge-unchecked"]
    rows = []
    for label, case in C_ONE_FD:
        m = one[case]
        rows.append([label] + [cell(res, i, case, "ns_per_iteration", 1e-3)
                               for i in FD_IMPLS] + [
            fmt_ratio(ratio(m["gbridge"], base)),
            fmt_ratio(ratio(m["gbridge"], m["glib"])),
            fmt_ratio(ratio(m["gbridge"], m["libuv"])),
            fmt_ratio(ratio(m["gbridge-unchecked"], m["libuv"]))])
    out.append("### One-fd ping-pong in C: µs per round (lower is better)\n\n"
               "One end of a pipe is watched; its handler reads the byte and "
               "writes the next one into the other end (not watched), so the "
               "same fd is ready again and every round needs a fresh wait of "
               "the loop: for gbridge a GLib iteration, as a GLib application "
               "runs, whose wait is the loop's own epoll_wait() (the loop's "
               "poll function) while no other source watches a descriptor. "
               "gbridge: `gbridge_io_loop_add_handler()` on a context given to "
               "the loop, iterated with `g_main_context_iteration()`; "
               "gbridge unchecked: the same with "
               "`gbridge_io_loop_add_handler_full()` and "
               "`GBRIDGE_HANDLER_FLAGS_UNCHECKED`, libuv's contract (a handler "
               "is removed before its descriptor is closed), without the "
               "`epoll_ctl()` per call with which `add_handler()` checks that "
               "the number still names the file it registered; "
               "GLib: `g_unix_fd_source_new()`; libuv: `uv_poll_t`, "
               "`uv_run (UV_RUN_ONCE)`. Pending: timers one to two hours ahead "
               "or eventfds that never become ready, as in the two-fd table. "
               "Timed in the process's CPU time (one thread, which never "
               "waits: a byte is always ready).\n")
    out.append(table(["pending", "gbridge", "gbridge unchecked", "GLib", "libuv",
                      "gbridge ÷ its own nothing pending", "gbridge ÷ GLib",
                      "gbridge ÷ libuv", "unchecked ÷ libuv"], rows))

    peer = {i: med(i, C_PEER, "ns_per_iteration") for i in FD_IMPLS}
    out.append("\n### Real-peer ping-pong in C: µs per round, wall time "
               "(lower is better)\n\n"
               "The loop watches one end of a socketpair; its handler reads "
               "the byte and writes one back on the same end. A peer thread "
               "does a blocking read(), then write(), on the other end. Wall "
               "time: a round includes waking the peer thread and being woken "
               "by it, which depends on the scheduler as much as on the loop.\n")
    out.append(table(["", "gbridge", "gbridge unchecked", "GLib", "libuv",
                      "gbridge ÷ GLib", "gbridge ÷ libuv", "unchecked ÷ libuv"],
                     [["nothing pending"] + [cell(res, i, C_PEER, "ns_per_iteration", 1e-3)
                                             for i in FD_IMPLS] +
                      [fmt_ratio(ratio(peer["gbridge"], peer["glib"])),
                       fmt_ratio(ratio(peer["gbridge"], peer["libuv"])),
                       fmt_ratio(ratio(peer["gbridge-unchecked"], peer["libuv"]))]]))

    # asyncio ping-pong.
    def aio(case, key):
        return {i: med("aio-" + i, case, key) for i in AIO_IMPLS}
    rows = []
    for label, case in AIO_PING_PONG:
        m = aio(case, "ns_per_iteration")
        rows.append([label] + [cell(res, "aio-" + i, case, "ns_per_iteration", 1e-3)
                               for i in AIO_IMPLS] + [
            fmt_ratio(ratio(m["gbridge"], m["default"])),
            fmt_ratio(ratio(m["gbridge"], m["uvloop"]))])
    out.append("\n### asyncio ping-pong: µs per round (lower is better)\n\n"
               "`add_reader()` on one end of a socketpair. *One fd*: the reader "
               "reads the byte and sends the next from the other end (not "
               "watched), so every round needs a fresh wait of the loop; "
               "process CPU time. *Real peer*: a peer process does a blocking "
               "read, then write, on the other end; the reader reads the byte "
               "and sends one back; wall time. *Two fds*: a reader on each end, "
               "each makes the other ready (the shape gbridge's inline epoll "
               "rounds serve without GLib's poll where another source watches "
               "a descriptor); process CPU time. Idle timers: "
               "`call_later()` an hour ahead.\n")
    out.append(table(["shape"] + [AIO_NAMES[i] for i in AIO_IMPLS] +
                     ["gbridge ÷ default", "gbridge ÷ uvloop"], rows))

    # TCP echo.
    echo = served(res, AIO_TCP, TW_TCP)
    tcp = echo["aio"]
    tw_tcp = echo["tw"]
    out.append("\n### Loopback TCP echo: requests per second (higher is better)\n\n"
               "The process under test only serves: an echo server on "
               "127.0.0.1, and `bench-tcp-client` (C, plain sockets and epoll) "
               "in another process keeps one 64-byte request in flight on each "
               "of 1 or 100 connections for "
               f"{TCP_SECONDS} s after a 0.2 s warm-up, checks every echo and "
               "counts them in its wall time. asyncio streams: "
               "`asyncio.start_server()`, `read()` then `write()` + `drain()`; "
               "protocol: `loop.create_server()` with a `Protocol` whose "
               "`data_received()` writes the data back; Tornado: "
               "`tornado.tcpserver.TCPServer`, `IOStream.read_bytes(partial=True)` "
               "then `write()`, on gbridge.asyncio or the default loop. On two "
               "cores the client and the server share the machine, so the wall "
               "rate also measures the scheduler: the second table is the "
               "server process's CPU time per request, which other work on the "
               "machine does not inflate as much.\n")
    out.append(served_tables(echo))

    # HTTP.
    http = served(res, AIO_HTTP, TW_HTTP)
    out.append("\n### Loopback HTTP: requests per second (higher is better)\n\n"
               "Real HTTP/1.1 servers answering `GET /` with a 13-byte text: "
               "aiohttp (`web.Application`, `AppRunner`, `SockSite`; no access "
               "log), `tornado.web.Application` with a `RequestHandler` on "
               "gbridge.asyncio or the default loop, and `twisted.web.server.Site` "
               "with a leaf `Resource`. `bench-tcp-client` in HTTP mode keeps "
               "one request in flight on each of 1 or 100 keep-alive "
               f"connections for {TCP_SECONDS} s after a 0.2 s warm-up and "
               "checks each response's status, Content-Length and body. The "
               "targets compare the server's CPU time per request, the "
               "server's cost, which the client sharing two cores inflates "
               "less than the rate.\n")
    out.append(served_tables(http))

    # Callbacks and timers.
    rows = []
    calls = {}
    for label, case, key in AIO_CALLS:
        m = calls[case] = aio(case, key)
        rows.append([label] + [cell(res, "aio-" + i, case, key) for i in AIO_IMPLS] + [
            fmt_ratio(ratio(m["gbridge"], m["default"])),
            fmt_ratio(ratio(m["gbridge"], m["uvloop"]))])
    tw_churn = {i: med("twisted-" + i, TW_CHURN, "ns_per_pair") for i in TW_IMPLS}
    out.append("\n### call_soon and timer churn: asyncio and Twisted\n\n"
               "Process CPU time. Timer churn: 10^5 timers 1–100 s ahead, then "
               "all cancelled in random order, then one loop iteration (which "
               "drops cancelled timers where a loop does so lazily); Twisted: "
               "`callLater()` + `cancel()`, one reactor iteration.\n")
    out.append(table(["asyncio"] + [AIO_NAMES[i] for i in AIO_IMPLS] +
                     ["gbridge ÷ default", "gbridge ÷ uvloop"], rows))
    out.append("")
    out.append(table(["Twisted"] + [TW_NAMES[i] for i in TW_IMPLS] +
                     ["gbridge ÷ epoll", "gbridge ÷ asyncioreactor"],
                     [["callLater + cancel, 10^5 calls (ns per pair, lower is better)"] +
                      [cell(res, "twisted-" + i, TW_CHURN, "ns_per_pair") for i in TW_IMPLS] +
                      [fmt_ratio(ratio(tw_churn["gbridge"], tw_churn["epoll"])),
                       fmt_ratio(ratio(tw_churn["gbridge"], tw_churn["asyncio"]))]]))

    # The targets.
    for label, case in (("no timers", "one-fd 0"), ("10^4 timers", "one-fd 10000")):
        m = aio(case, "ns_per_iteration")
        check(f"asyncio one-fd ping-pong, {label}: ≤ 1.0× the default loop",
              ratio(m["gbridge"], m["default"]), "<=", 1.0)
    m = aio("peer", "ns_per_iteration")
    check("asyncio real-peer ping-pong (wall time): ≤ 1.0× the default loop",
          ratio(m["gbridge"], m["default"]), "<=", 1.0)
    for label, case in (("no timers", "one-fd 0"), ("10^4 timers", "one-fd 10000")):
        m = aio(case, "ns_per_iteration")
        check(f"aim: asyncio one-fd ping-pong, {label}: ≤ 1.2× uvloop",
              ratio(m["gbridge"], m["uvloop"]), "<=", 1.2)
    for label, case, key in AIO_CALLS[:2]:
        m = calls[case]
        check(f"{label.split(' (')[0]}: ≥ 1.0× the default loop",
              ratio(m["gbridge"], m["default"]), ">=", 1.0)
    for label, case in AIO_TCP[:4]:
        m = tcp[case]
        check(f"TCP echo, {label}: ≥ 1.0× the default loop (requests/s)",
              ratio(m["gbridge"], m["default"]), ">=", 1.0)
    for label, case in AIO_HTTP:
        c = http["aio_cpu_of"][case]
        check(f"HTTP, {label}: server CPU per request ≤ 1.0× the default loop's",
              ratio(c["gbridge"], c["default"]), "<=", 1.0)
    for label, case in TW_HTTP:
        c = http["tw_cpu_of"][case]
        check(f"HTTP, {label}: server CPU per request ≤ 1.0× epollreactor's",
              ratio(c["gbridge"], c["epoll"]), "<=", 1.0)
    check("Twisted callLater churn: ≤ 1.0× epollreactor",
          ratio(tw_churn["gbridge"], tw_churn["epoll"]), "<=", 1.0)
    for label, case in TW_TCP:
        m = tw_tcp[case]
        check(f"{label}: ≥ 1.0× epollreactor (requests/s)",
              ratio(m["gbridge"], m["epoll"]), ">=", 1.0)
    g = med("py-gbridge", PY_FUTURES, "ns_per_future")
    a = med("py-asyncio", PY_FUTURES, "ns_per_future")
    check("Python futures: Gbridge.Future ≤ 1.5× asyncio.Future", ratio(g, a), "<=", 1.5)
    # Like for like: libuv's uv_poll_t makes no check of its own; gbridge
    # with the same contract, then add_handler()'s default, checked.
    check("C one-fd ping-pong, nothing pending, unchecked handler "
          "(libuv's contract): ≤ 1.3× libuv",
          ratio(base_unchecked, one["one-fd 0 0"]["libuv"]), "<=", 1.3)
    check("C one-fd ping-pong, nothing pending, checked handler "
          "(the default; one epoll_ctl() per call more): ≤ 1.3× libuv",
          ratio(base, one["one-fd 0 0"]["libuv"]), "<=", 1.3)
    check("C real-peer ping-pong (wall time), unchecked handler: ≤ 1.3× libuv",
          ratio(peer["gbridge-unchecked"], peer["libuv"]), "<=", 1.3)
    check("C real-peer ping-pong (wall time), checked handler: ≤ 1.3× libuv",
          ratio(peer["gbridge"], peer["libuv"]), "<=", 1.3)
    for label, case in C_ONE_FD[1:]:
        check(f"C one-fd ping-pong flat: {label} ≤ 1.5× its own nothing pending",
              ratio(one[case]["gbridge"], base), "<=", 1.5)
    return "\n".join(out) + "\n", targets


SYSCALL_NAMES = {"gbridge": "gbridge", "gbridge-unchecked": "gbridge unchecked",
                 "glib": "GLib", "libuv": "libuv",
                 "aio-gbridge": "gbridge.asyncio", "aio-default": "default loop",
                 "aio-uvloop": "uvloop"}


def syscalls_report(path):
    """The syscalls per round of the one-fd ping-pong (bench/run counts
    them with strace -c), or "" if they were not counted."""
    counts = {}
    rounds = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                impl, n, name, calls = line.rstrip("\n").split("\t")
                rounds[impl] = int(n)
                counts.setdefault(impl, {})[name] = int(calls)
    except (OSError, ValueError):
        return ""
    if not counts:
        return ""
    impls = [i for i in SYSCALL_NAMES if i in counts]
    per = {i: {name: c / rounds[i] for name, c in counts[i].items()} for i in impls}
    # The syscalls some implementation makes at least 0.2 times per round.
    names = sorted({name for i in impls for name, v in per[i].items()
                    if v >= 0.2 and name != "total"},
                   key=lambda name: (-max(per[i].get(name, 0) for i in impls), name))
    rows = [[name] + [f"{per[i].get(name, 0):.2f}" for i in impls] for name in names]
    rows.append(["all syscalls (startup included)"] +
                [f"{per[i].get('total', 0):.2f}" for i in impls])
    return ("\n### Where the time goes: syscalls per round of the one-fd ping-pong\n\n"
            "Counted in this run by `strace -f -c` over "
            f"{min(rounds.values()):,} rounds or more of one process each (no "
            "calibration), divided by the number of rounds. Most of a round's "
            "time is spent in the kernel, so every syscall above the read, "
            "the write and one wait shows: gbridge's is the epoll_ctl() that "
            "checks, before each handler call, that the descriptor's number "
            "still names the file its handler registered (see \"Where the "
            "time goes\" in `bench/README.md` for a profile).\n\n" +
            table(["syscall"] + [SYSCALL_NAMES[i] for i in impls], rows) + "\n")


def build_report(res, meta):
    global TCP_SECONDS
    TCP_SECONDS = meta.get("tcp_seconds", TCP_SECONDS)
    headline, speed_targets = speed_work(res)
    out = ["### Targets of the speed work\n\n"
           "Measured in this run, gbridge against the anchor named in each row "
           "(the ratio of the medians; see the tables below). The first tables "
           "are the shapes applications run; the two-fd ping-pong, which "
           "gbridge's inline epoll rounds serve without GLib's poll where "
           "another source watches a descriptor, comes after them.\n",
           table(["target", "measured", "result"], speed_targets), "",
           headline, syscalls_report(meta.get("syscalls", ""))]
    pp = {case: {i: res.median(i, case, "ns_per_iteration") for i in IMPLS}
          for _, case in PING_PONG}
    base = pp["ping-pong 0 0"]["gbridge"]

    rows = []
    for label, case in PING_PONG:
        m = pp[case]
        rows.append([label] + [fmt(m[i]) for i in IMPLS] + [
            fmt_ratio(ratio(m["gbridge"], base)),
            fmt_ratio(ratio(m["gbridge"], m["glib"])),
            fmt_ratio(ratio(m["gbridge"], m["libuv"]))])
    out.append("### Two-fd ping-pong in C: two fds each made ready by the other's "
               "handler (ns per loop iteration, lower is better)\n\n"
               "Each iteration dispatches one ready fd. GLib: one fd source per "
               "pipe, a timeout source per timer, an fd source per idle fd. "
               "Each handler makes the other pipe ready. Where GLib's wait is "
               "not the loop's own (another source watches a descriptor), "
               "gbridge runs up to five of these iterations per GLib iteration "
               "(inline rounds: one epoll_wait() each, no GLib poll in between, "
               "see GbridgeIOLoop's description); here, on a context whose "
               "wait is the loop's, each is one GLib iteration, as for GLib and "
               "libuv one iteration of their own. The ratios "
               "are per ping-pong round, what an application sees. Timed in the "
               "process's CPU time.\n")
    out.append(table(["pending", "gbridge", "GLib", "libuv",
                      "gbridge ÷ its own nothing pending",
                      "gbridge ÷ GLib", "gbridge ÷ libuv"], rows))

    cb = {case: {i: res.median(i, case, "per_second") for i in ("gbridge", "glib")}
          for _, case in CALLBACKS}
    rows = []
    for label, case in CALLBACKS:
        m = cb[case]
        rows.append([label, fmt(m["gbridge"]), fmt(m["glib"]),
                     fmt_ratio(ratio(m["gbridge"], m["glib"]))])
    out.append("\n### Callbacks per second (higher is better)\n")
    out.append(table(["callbacks", "gbridge", "GLib", "gbridge ÷ GLib"], rows))

    churn = {case: {i: res.median(i, case, "ns_per_pair") for i in IMPLS}
             for _, case in CHURN}
    rows = []
    for label, case in CHURN:
        m = churn[case]
        rows.append([label] + [fmt(m[i]) for i in IMPLS] + [
            fmt_ratio(ratio(m["gbridge"], m["glib"])),
            fmt_ratio(ratio(m["gbridge"], m["libuv"]))])
    out.append("\n### Timer churn: ns per schedule + cancel pair (lower is better)\n")
    out.append(table(["timers", "gbridge", "GLib", "libuv",
                      "gbridge ÷ GLib", "gbridge ÷ libuv"], rows))

    lcase = lateness_case(res.samples)
    late = {i: res.lateness(i, lcase) for i in LATENESS_IMPLS}
    rows = []
    for key in ("p50", "p99", "max"):
        rows.append([key] + [fmt(late[i][key] if late[i] else None)
                             for i in LATENESS_IMPLS])
    n = late["gbridge"]["n"] if late["gbridge"] else 0
    out.append(f"\n### Timer lateness on an idle loop: µs after the deadline "
               f"({n} timers 1–5 ms ahead)\n")
    out.append(table(["", "gbridge", "GLib", "libuv",
                      "floor: timerfd + poll(), no loop"], rows))

    # The performance contract.
    targets = []

    def target(text, measured, ok):
        targets.append([text, measured, verdict(ok)])

    def cmp(r, op, limit):
        if r is None:
            return None
        return r <= limit if op == "<=" else r >= limit

    for label, case, limit in (
            ("10^5 timers", "ping-pong 100000 0", 1.5),
            ("10^4 idle fds", "ping-pong 0 10000 active-first", 1.5),
            ("10^4 idle fds, added before the active pair",
             "ping-pong 0 10000 idle-first", 1.5)):
        r = ratio(pp[case]["gbridge"], base)
        target(f"flat: {label} ≤ {limit}× gbridge with nothing pending",
               fmt_ratio(r), cmp(r, "<=", limit))
    r = ratio(base, pp["ping-pong 0 0"]["glib"])
    target("nothing pending ≤ 1.3× a raw GLib iteration", fmt_ratio(r),
           cmp(r, "<=", 1.3))
    worst = None
    for label, case in PING_PONG:
        r = ratio(pp[case]["gbridge"], pp[case]["libuv"])
        if r is None:
            worst = (None, label)
            break
        if worst is None or r > worst[0]:
            worst = (r, label)
    r = ratio(base, pp["ping-pong 0 0"]["libuv"])
    target("aim: nothing pending ≤ 2× libuv", fmt_ratio(r), cmp(r, "<=", 2))
    target("aim: every ping-pong case ≤ 2× libuv",
           f"worst {fmt_ratio(worst[0])} ({worst[1]})", cmp(worst[0], "<=", 2))
    r = ratio(pp["ping-pong 100000 0"]["glib"], pp["ping-pong 100000 0"]["gbridge"])
    target("10^5 timers: ≥ 100× cheaper than raw GLib", fmt_ratio(r),
           cmp(r, ">=", 100))
    p99 = late["gbridge"]["p99"] if late["gbridge"] else None
    floor = late["timerfd"]["p99"] if late["timerfd"] else None
    target("timer lateness p99 < 200 µs",
           f"{fmt(p99, ' µs')} (no-loop floor: {fmt(floor, ' µs')})",
           None if p99 is None else p99 < 200)
    for label, case in (("added before running", "callbacks-batch 1000000 outside"),
                        ("added by a loop callback", "callbacks-batch 1000000 dispatch")):
        r = ratio(cb[case]["gbridge"], cb[case]["glib"])
        target(f"add_callback from the loop thread ({label}) ≥ 10× GLib idle sources",
               fmt_ratio(r), cmp(r, ">=", 10))
    r = ratio(cb["callbacks-threads 4 100000"]["gbridge"],
              cb["callbacks-threads 4 100000"]["glib"])
    target("add_callback from 4 producer threads ≥ 2× g_main_context_invoke",
           fmt_ratio(r), cmp(r, ">=", 2))

    rows = []
    for label, case in FUTURES:
        g = res.median("gbridge", case, "ns_per_future")
        t = res.median("glib", case, "ns_per_future")
        rows.append([label, fmt(g), fmt(t), fmt_ratio(ratio(g, t))])
    out.append("\n### Futures in C: ns per future (lower is better)\n\n"
               "Create a future with one done-callback, resolve it, run the "
               "callback on the loop (each case: many futures per round, the "
               "median of the rounds, then the median of the processes). "
               "GIO anchor: `g_task_new()` + `g_task_return_pointer()` + its "
               "`GAsyncReadyCallback` on the task's context.\n")
    out.append(table(["futures", "GbridgeFuture", "GTask",
                      "GbridgeFuture ÷ GTask"], rows))

    g = res.median("py-gbridge", PY_FUTURES, "ns_per_future")
    a = res.median("py-asyncio", PY_FUTURES, "ns_per_future")
    out.append("\n### Futures in Python: ns per future (lower is better)\n\n"
               "`Gbridge.Future.new_for_loop()` + `add_done_callback()` + "
               "`resolve()` through PyGObject, the loop's context iterated, "
               "against `loop.create_future()` + `add_done_callback()` + "
               "`set_result()` on the default asyncio loop, run until the "
               "callbacks ran.\n")
    out.append(table(["futures", "Gbridge.Future", "asyncio.Future",
                      "Gbridge.Future ÷ asyncio"],
                     [["created, resolved, callback run", fmt(g), fmt(a),
                       fmt_ratio(ratio(g, a))]]))

    rows = []
    for label, case, key in METRICS:
        off = res.median("gbridge-metrics-off", case, key)
        on = res.median("gbridge-metrics-on", case, key)
        r = ratio(on, off)
        if r is not None and key == "per_second":
            r = 1 / r   # as a cost: on takes this many times as long
        rows.append([label, fmt(off), fmt(on), fmt_ratio(r)])
    out.append("\n### The loop's metrics: cost when on\n\n"
               "`bench-gbridge` with `metrics-enabled` and a "
               "`slow-callback-threshold` no callback reaches (so every "
               "callback is timed: two clock readings each) against the same "
               "binary with both off, the two interleaved in each repetition. "
               "The cost column is time per operation on ÷ off.\n")
    out.append(table(["benchmark", "metrics off", "metrics on",
                      "cost: on ÷ off"], rows))

    out.append("\n### Targets of the performance contract\n")
    out.append(table(["target", "measured", "result"], targets))
    return "\n".join(out) + "\n"


def raw_samples(res):
    lines = ["| implementation | benchmark | samples |", "|---|---|---|"]
    for (impl, case), samples in sorted(res.samples.items()):
        if case.startswith("lateness ") or res.absent(impl, case):
            continue
        texts = []
        for s in samples:
            if isinstance(s, str):
                s = s.replace("|", "/")
                texts.append(s if len(s) < 120 else s[:117] + "…")
            else:
                key = next(k for k in ("ns_per_iteration", "per_second",
                                        "ns_per_pair", "ns_per_future")
                           if k in s)
                texts.append(fmt(float(s[key])))
        lines.append(f"| {impl} | `{case}` | {', '.join(texts)} |")
    return "\n".join(lines)


def load_note(meta):
    """A warning when other work kept the machine busy during the run."""
    try:
        cores = int(meta["nproc"])
        before, after = meta["loadavg"].split(" before, ")
        load = max(float(before.split()[0]), float(after.split()[0]))
    except (KeyError, ValueError, IndexError):
        return ""
    if load < 0.75 * cores:
        return ""
    return (f"**Note: the machine was loaded** (1-minute load average up to "
            f"{load:.2f} on {cores} cores during the run, with other work "
            f"running): absolute figures are inflated and the samples noisier "
            f"than on an idle machine. Each case interleaves the "
            f"implementations within each repetition, so the ratios of the "
            f"medians remain the figures to compare.\n\n")


def absent_note(res):
    reasons = res.absent_reasons()
    if not reasons:
        return ""
    return ("Not installed here, shown as \"absent\": " + "; ".join(
        f"{impl.split('-', 1)[1]} ({why})" for impl, why in sorted(reasons.items()))
        + ".\n\n")


def main():
    raw_path, results_path = sys.argv[1:3]
    meta = dict(arg.split("=", 1) for arg in sys.argv[3:])
    res = Results(load(raw_path))
    report = build_report(res, meta)
    print()
    print(report)

    machine = "\n".join(f"- {label}: {meta.get(key, 'unknown')}" for label, key in (
        ("Date", "date"), ("CPU", "cpu"), ("Cores (nproc)", "nproc"),
        ("Kernel", "kernel"), ("OS", "os"), ("Compiler", "compiler"),
        ("GLib", "glib"), ("libuv", "libuv"), ("Python", "python"),
        ("Twisted", "twisted"), ("gbridge", "gbridge"),
        ("Load average (1, 5, 15 min)", "loadavg"),
        ("Repetitions per case", "reps"), ("Duration", "duration")))

    with open(results_path, "w", encoding="utf-8") as f:
        f.write("# Benchmark results\n\n"
                "Written by `bench/run`; do not edit by hand. Every number is the "
                "median of the repetitions of one run of `bench/run`, and every "
                "ratio compares numbers of that same run. See `bench/README.md` "
                "for what each benchmark does.\n\n"
                "## Machine\n\n" + machine + "\n\n" + load_note(meta) +
                absent_note(res) +
                "## Results\n\n" + report + "\n"
                "## Samples\n\n"
                "Every repetition, to judge the noise (ns per iteration or round, "
                "callbacks or requests per second, ns per pair or, for the futures, "
                "each process's median ns per future over its rounds).\n\n" + raw_samples(res) + "\n")


if __name__ == "__main__":
    main()
