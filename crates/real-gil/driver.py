#!/usr/bin/env python3
"""Call a Rust extension from 1, 2 and 4 Python threads and measure what the real GIL does.

Run by `cargo xtask real-gil` (which builds the extension and names its directory with
`--module-dir`); runs by hand too:

    python3 crates/real-gil/driver.py --module-dir target/real-gil/py demo

Output is `label: value` lines, the same layout as the Rust lessons' gil_core::report::kv, so
people can read it and xtask (and the exercise grader) can parse it. Two modes:

    driver.py demo      the real_gil module: GIL held vs released vs a bytes buffer kernel
    driver.py exercise  one function of a learner's module: did it let go of the GIL?

Three measurements, all taken in this process, none typed in:

* wall time of a fixed amount of work (`calls` kernel calls) split over 1, 2 or 4 threads, best
  of `--repeats`; speedup = 1-thread time / k-thread time.
* cores busy: the CPU seconds the worker threads used (time.thread_time) per wall second.
  A thread waiting for the GIL sleeps, so this stays near 1.0 while the GIL is held.
* python kept running: while one kernel call runs, a second Python thread loops and stamps the
  clock; 1 - its longest pause / the call's duration. It can only run while it holds the GIL,
  so a call that keeps the GIL gives about 0 %, one that releases it close to 100 %.
"""

import argparse
import importlib
import os
import sys
import threading
import time

LABEL_WIDTH = 30


def kv(label, value):
    """Print one aligned `label: value` line (labels never contain ':')."""
    assert ":" not in label, label
    print(f"{label + ':':<{LABEL_WIDTH}} {value}", flush=True)


def fmt_seconds(s):
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def yes_no(flag):
    return "yes" if flag else "no"


def squares_reference(n):
    """sum(i * i for i in range(n)) mod 2**64, by the closed form (what the kernels compute)."""
    return ((n - 1) * n * (2 * n - 1) // 6) % 2**64 if n > 0 else 0


def buffer_of(mib):
    """`mib` MiB of bytes, 0..255 repeated, and the sum of their squares mod 2**64."""
    repeats = mib * 4096
    return bytes(range(256)) * repeats, repeats * sum(v * v for v in range(256)) % 2**64


def split_calls(calls, threads):
    """Deal `calls` calls out to `threads` threads as evenly as possible."""
    return [calls // threads + (1 if i < calls % threads else 0) for i in range(threads)]


def run_split(fn, arg, calls, threads):
    """Run `calls` calls of fn(arg) spread over `threads` threads, started together.

    Returns (wall seconds, cores busy, results). Each worker stamps its own start and end, so
    the wall time is right even while one thread keeps the GIL and the main thread cannot run.
    """
    shares = split_calls(calls, threads)
    barrier = threading.Barrier(threads)
    starts, ends, cpu = [0.0] * threads, [0.0] * threads, [0.0] * threads
    results = [None] * threads

    def worker(i):
        barrier.wait()
        starts[i] = time.perf_counter()
        cpu0 = time.thread_time()
        results[i] = [fn(arg) for _ in range(shares[i])]
        cpu[i] = time.thread_time() - cpu0
        ends[i] = time.perf_counter()

    pool = [threading.Thread(target=worker, args=(i,), name=f"T{i + 1}") for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = max(ends) - min(starts)
    return wall, sum(cpu) / wall, [r for rs in results for r in rs]


def best_split(fn, arg, calls, threads, repeats):
    """The fastest of `repeats` runs of run_split: the one least disturbed by the machine."""
    return min((run_split(fn, arg, calls, threads) for _ in range(max(1, repeats))),
               key=lambda run: run[0])


def python_kept_running(fn, arg, repeats):
    """How much of a call of fn(arg) another Python thread could run through (0..1).

    A helper thread loops in Python and stamps the clock every few hundred iterations; it can
    only do that while it holds the GIL. We time one call from this thread and find the helper's
    longest pause inside that time: the figure is 1 - longest pause / call time. A call that
    keeps the GIL pauses the helper for the whole call, so the figure is near 0 (not exactly:
    the helper may run a moment at either edge of the call, while this thread waits to get the
    GIL back); a call that releases it pauses the helper only for scheduling hiccups, near 1.
    Median of `repeats` calls.
    """
    stamps = []
    running = [True]

    def helper():
        clock, stamp = time.perf_counter, stamps.append
        while running[0]:
            for _ in range(200):
                pass
            stamp(clock())

    # A short switch interval keeps those edges short: each side waits one interval before it
    # asks the other to let go. It changes nothing inside a call that keeps the GIL: native
    # code never reaches a check point.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    thread = threading.Thread(target=helper, name="helper")
    thread.start()
    try:
        figures = []
        for _ in range(max(1, repeats)):
            # Sleeping hands the GIL to the helper; waking up, this thread asks for it back and
            # holds it as the call starts, with no request from the helper pending yet.
            time.sleep(0.002)
            t0 = time.perf_counter()
            fn(arg)
            t1 = time.perf_counter()
            inside = [t0] + [s for s in stamps[-100_000:] if t0 < s < t1] + [t1]
            pause = max(b - a for a, b in zip(inside, inside[1:]))
            figures.append(1.0 - pause / (t1 - t0))
        figures.sort()
        return figures[(len(figures) - 1) // 2]
    finally:
        running[0] = False
        thread.join()
        sys.setswitchinterval(interval)


def header():
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    kv("python", f"{sys.version.split()[0]} ({sys.executable})")
    kv("gil enabled", yes_no(gil))
    kv("switch interval", f"{sys.getswitchinterval() * 1e3:.1f} ms")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    kv("cores", cores or 1)


def measure_variant(name, fn, arg, calls, counts, repeats, reference):
    """Time one kernel at each thread count and print its lines; True if every result was right."""
    runs = {k: best_split(fn, arg, calls, k, repeats) for k in counts}
    base = runs[counts[0]][0]
    for k in counts:
        kv(f"{name}, {k} thread{'s' if k > 1 else ''}", fmt_seconds(runs[k][0]))
    for k in counts[1:]:
        kv(f"{name}, speedup x{k}", f"{base / runs[k][0]:.2f}x")
    for k in counts[1:]:
        kv(f"{name}, cores busy x{k}", f"{runs[k][1]:.2f}")
    ran = python_kept_running(fn, arg, repeats)
    kv(f"{name}, python kept running", f"{ran * 100:.0f} %")
    correct = all(r == reference for run in runs.values() for r in run[2])
    kv(f"{name}, results correct", yes_no(correct))
    return correct


def demo(args):
    module = importlib.import_module(args.module)
    header()
    counts = [1, 2, 4]
    n = args.iterations
    kv("calls per measurement", f"{args.calls} (split over the threads)")
    kv("iterations per call", f"{n:,}")
    kv("buffer per call", f"{args.buffer_mb} MiB of bytes")
    reference = squares_reference(n)
    ok = True
    print("\nsquares_holding: the GIL stays held for the whole call", flush=True)
    ok &= measure_variant("held", module.squares_holding, n, args.calls, counts, args.repeats,
                          reference)
    print("\nsquares_released: the loop runs inside py.detach", flush=True)
    ok &= measure_variant("released", module.squares_released, n, args.calls, counts,
                          args.repeats, reference)
    print("\nbuffer_squares: a reduction over a bytes object, GIL released", flush=True)
    data, reference = buffer_of(args.buffer_mb)
    ok &= measure_variant("buffer", module.buffer_squares, data, args.calls, counts,
                          args.repeats, reference)
    return 0 if ok else 1


def exercise(args):
    module = importlib.import_module(args.module)
    fn = getattr(module, args.function)
    header()
    k, n = args.threads, args.iterations
    kv("threads", k)
    kv("iterations", n)
    result = fn(n)
    kv("result", result)
    kv("result correct", yes_no(result == squares_reference(n)))
    sequential, _, seq_results = best_split(fn, n, k, 1, args.repeats)
    threaded, busy, thr_results = best_split(fn, n, k, k, args.repeats)
    kv("sequential", fmt_seconds(sequential))
    kv("threaded", fmt_seconds(threaded))
    kv("speedup", f"{sequential / threaded:.2f}x")
    kv("cores busy", f"{busy:.2f}")
    ran = python_kept_running(fn, n, args.repeats)
    kv("python kept running", f"{ran * 100:.0f} %")
    kv("gil released", yes_no(ran >= args.released_threshold))
    consistent = all(r == result for r in seq_results + thr_results)
    kv("results consistent", yes_no(consistent))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module-dir", help="where the built extension module is")
    sub = parser.add_subparsers(dest="mode", required=True)
    d = sub.add_parser("demo", help="the real_gil module: held vs released vs buffer")
    d.add_argument("--module", default="real_gil")
    d.add_argument("--iterations", type=int, default=200_000_000)
    d.add_argument("--calls", type=int, default=4)
    d.add_argument("--buffer-mb", type=int, default=64)
    d.add_argument("--repeats", type=int, default=3)
    e = sub.add_parser("exercise", help="one function of a learner's module")
    e.add_argument("--module", default="release_the_gil")
    e.add_argument("--function", default="crunch")
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--iterations", type=int, default=200_000_000)
    e.add_argument("--repeats", type=int, default=3)
    e.add_argument("--released-threshold", type=float, default=0.4)
    args = parser.parse_args()
    if min(getattr(args, "iterations", 1), getattr(args, "calls", 1),
           getattr(args, "threads", 1), args.repeats) < 1:
        parser.error("sizes must be at least 1")
    if args.module_dir:
        sys.path.insert(0, args.module_dir)
    return demo(args) if args.mode == "demo" else exercise(args)


if __name__ == "__main__":
    sys.exit(main())
