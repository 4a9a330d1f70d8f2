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
LATENESS_IMPLS = IMPLS + ("timerfd",)


def load(path):
    """Maps (impl, case) to the list of parsed outputs, or error strings."""
    samples = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            impl, case, out = line.rstrip("\n").split("\t", 2)
            if out.startswith("ERROR"):
                parsed = out
            else:
                parsed = dict(kv.split("=", 1) for kv in out.split())
            samples.setdefault((impl, case), []).append(parsed)
    return samples


class Results:
    def __init__(self, samples):
        self.samples = samples

    def errors(self, impl, case):
        return [s for s in self.samples.get((impl, case), []) if isinstance(s, str)]

    def values(self, impl, case, key):
        return [float(s[key]) for s in self.samples.get((impl, case), [])
                if not isinstance(s, str)]

    def median(self, impl, case, key):
        """The median, or None if any repetition failed or none ran."""
        if self.errors(impl, case):
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


TWISTED_IMPLS = ("gbridge", "epoll", "gi")

TWISTED = [
    ("callLater churn: ns per schedule + cancel, 10^5 calls (lower is better)",
     "churn 100000", "ns_per_pair"),
    ("loopback TCP echo: requests per second, 64 bytes (higher is better)",
     "echo 20000", "per_second"),
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
    ("ping-pong, nothing pending: ns per iteration (lower is better)",
     "ping-pong 0 0", "ns_per_iteration"),
    ("10^6 × (schedule one timer, cancel it): ns per pair (lower is better)",
     "churn-pair 1000000", "ns_per_pair"),
]


def lateness_case(samples):
    for impl, case in samples:
        if case.startswith("lateness "):
            return case
    return "lateness 0"


def verdict(ok):
    if ok is None:
        return "FAIL (no result)"
    return "PASS" if ok else "FAIL"


def build_report(res, meta):
    out = []
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
    out.append("### Ping-pong: ns per loop iteration (lower is better)\n\n"
               "Each iteration dispatches one ready fd. GLib: one fd source per "
               "pipe, a timeout source per timer, an fd source per idle fd. "
               "Each handler makes the other pipe ready, so gbridge runs up to "
               "five of these iterations per GLib iteration (one epoll_wait() "
               "each, no GLib poll in between: see GbridgeIOLoop's description); "
               "GLib and libuv run one per iteration of their own. The ratios "
               "are per ping-pong round, what an application sees.\n")
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

    tw = {case: {i: res.median("twisted-" + i, case, key) for i in TWISTED_IMPLS}
          for _, case, key in TWISTED}
    rows = []
    for label, case, key in TWISTED:
        m = tw[case]
        rows.append([label] + [fmt(m[i]) for i in TWISTED_IMPLS] + [
            fmt_ratio(ratio(m["gbridge"], m["epoll"])),
            fmt_ratio(ratio(m["gbridge"], m["gi"]))])
    out.append("\n### Twisted: gbridge.twisted against epollreactor and gireactor\n\n"
               "Python (Debian's /usr/bin/python3), one reactor per process. "
               "gbridge's reactor keeps every delayed call in the C timer heap and "
               "every fd in the C epoll set.\n")
    out.append(table(["benchmark", "gbridge", "epollreactor", "gireactor",
                      "gbridge ÷ epoll", "gbridge ÷ gi"], rows))
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

    out.append("\n### Targets\n")
    out.append(table(["target", "measured", "result"], targets))
    return "\n".join(out) + "\n"


def raw_samples(res):
    lines = ["| implementation | benchmark | samples |", "|---|---|---|"]
    for (impl, case), samples in sorted(res.samples.items()):
        if case.startswith("lateness "):
            continue
        texts = []
        for s in samples:
            if isinstance(s, str):
                texts.append(s)
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
                "## Results\n\n" + report + "\n"
                "## Samples\n\n"
                "Every repetition, to judge the noise (ns per iteration, callbacks "
                "per second, ns per pair or, for the futures, each process's median "
                "ns per future over its rounds).\n\n" + raw_samples(res) + "\n")


if __name__ == "__main__":
    main()
