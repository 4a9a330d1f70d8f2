#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Gbridge.Future through PyGObject against asyncio's own futures: create a
# future, add one done-callback, resolve it; N times, then run the loop
# until every callback ran. Prints the median cost of one future in ns over
# ROUNDS rounds (after one untimed warm-up round), and every round.
#
# Run by bench/run with GI_TYPELIB_PATH, LD_LIBRARY_PATH and PYTHONPATH
# pointing into the build and source trees (see bench/README.md).
#
# usage: bench-future.py versions
#        bench-future.py gbridge|asyncio futures N ROUNDS

import statistics
import sys
import time


def gbridge_bench(n):
    import gi
    gi.require_version("Gbridge", "1")
    from gi.repository import GLib, Gbridge

    context = GLib.MainContext.new()
    loop = Gbridge.IOLoop.new_for_context(context)
    count = total = 0

    def done(future):
        nonlocal count, total
        total += future.get_value()
        count += 1

    def run():
        nonlocal count, total
        count = total = 0
        start = time.perf_counter_ns()
        for _ in range(n):
            future = Gbridge.Future.new_for_loop(loop)
            future.add_done_callback(done)
            future.resolve(1)
        while count < n:
            context.iteration(True)
        elapsed = time.perf_counter_ns() - start
        while context.iteration(False):
            pass
        check(count == n and total == n, count, total)
        return elapsed

    def close():
        loop.close(False)

    return run, close


def asyncio_bench(n):
    import asyncio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    count = total = 0

    def done(future):
        nonlocal count, total
        total += future.result()
        count += 1

    def run():
        nonlocal count, total
        count = total = 0
        start = time.perf_counter_ns()
        for _ in range(n):
            future = loop.create_future()
            future.add_done_callback(done)
            future.set_result(1)
        # One pass of the loop runs every callback ready so far.
        while count < n:
            loop.call_soon(loop.stop)
            loop.run_forever()
        elapsed = time.perf_counter_ns() - start
        check(count == n and total == n, count, total)
        return elapsed

    def close():
        asyncio.set_event_loop(None)
        loop.close()

    return run, close


def check(ok, count, total):
    if not ok:
        sys.exit(f"bench: FAILED: {count} callbacks ran, values added up to "
                 f"{total}: a callback ran twice, never, or got a wrong value")


def versions():
    import gi
    v = sys.version_info
    print(f"Python {v.major}.{v.minor}.{v.micro}, PyGObject {gi.__version__}")


def main():
    if sys.argv[1:] == ["versions"]:
        versions()
        return
    if (len(sys.argv) != 5 or sys.argv[1] not in ("gbridge", "asyncio")
            or sys.argv[2] != "futures"):
        sys.exit("usage: bench-future.py versions\n"
                 "       bench-future.py gbridge|asyncio futures N ROUNDS")
    n, rounds = int(sys.argv[3]), int(sys.argv[4])
    if n <= 0 or rounds <= 0:
        sys.exit("bench: N and ROUNDS must be positive")

    make = gbridge_bench if sys.argv[1] == "gbridge" else asyncio_bench
    run, close = make(n)
    run()
    per_future = [run() / n for _ in range(rounds)]
    close()
    print(f"ns_per_future={statistics.median(per_future):.1f} n={n} rounds="
          + ",".join(f"{x:.1f}" for x in per_future))


if __name__ == "__main__":
    main()
