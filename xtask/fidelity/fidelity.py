"""Measure the real CPython GIL for `cargo xtask fidelity`.

Each experiment mirrors one the model runs; results are printed as one JSON object so the Rust
side can put CPython and the model in one table. Written for this project; runs on 3.8+.
"""

import json
import socket
import sys
import threading
import time


def countdown(n):
    while n > 0:
        n -= 1


def run_threads(target, args_list):
    threads = [threading.Thread(target=target, args=args) for args in args_list]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def median(values):
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def cpu_ratio(n, repeats):
    """Wall time of two threads doing n each, over one thread doing 2n."""
    ratios = []
    for _ in range(repeats):
        one = run_threads(countdown, [(2 * n,)])
        two = run_threads(countdown, [(n,), (n,)])
        ratios.append(two / one)
    return median(ratios)


def sleep_speedup(threads, seconds):
    start = time.perf_counter()
    for _ in range(threads):
        time.sleep(seconds)
    sequential = time.perf_counter() - start
    threaded = run_threads(time.sleep, [(seconds,)] * threads)
    return sequential / threaded


class DelayedServer:
    """A loopback TCP server that answers each line after `delay` seconds (or echoes at once)."""

    def __init__(self, delay):
        self.delay = delay
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn):
        with conn:
            while True:
                data = conn.recv(64)
                if not data:
                    return
                if self.delay:
                    time.sleep(self.delay)
                conn.sendall(data)

    def close(self):
        self.listener.close()


def socket_speedup(threads, delay):
    server = DelayedServer(delay)

    def ask():
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(b"x")
            s.recv(64)

    start = time.perf_counter()
    for _ in range(threads):
        ask()
    sequential = time.perf_counter() - start
    threaded = run_threads(ask, [()] * threads)
    server.close()
    return sequential / threaded


def mixed(workers, n, io_seconds):
    """Each worker: a CPU phase (countdown n), then sleeps io_seconds. Returns the wall time
    over the time of one worker alone, i.e. how many workers' worth of time the run cost."""

    def worker():
        countdown(n)
        time.sleep(io_seconds)

    alone = run_threads(worker, [()])
    together = run_threads(worker, [()] * workers)
    return together / alone


def convoy(round_trips, interval):
    """Milliseconds per echo round trip alone and beside one CPU-bound thread."""
    server = DelayedServer(0)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def echo_many():
        start = time.perf_counter()
        for _ in range(round_trips):
            sock.sendall(b"x")
            sock.recv(64)
        return (time.perf_counter() - start) / round_trips * 1e3

    alone = echo_many()
    old = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    stop = False

    def spin():
        while not stop:
            pass

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        beside = echo_many()
    finally:
        stop = True
        spinner.join()
        sys.setswitchinterval(old)
        sock.close()
        server.close()
    return alone, beside


def hold_ms(seconds):
    """Median time one CPU-bound thread runs before the other gets the GIL, in ms."""
    last = [None]
    holds = []
    switch_at = [time.perf_counter()]
    deadline = time.perf_counter() + seconds

    def spin(me):
        while True:
            now = time.perf_counter()
            if now > deadline:
                return
            if last[0] != me:
                if last[0] is not None:
                    holds.append(now - switch_at[0])
                last[0] = me
                switch_at[0] = now

    run_threads(spin, [(1,), (2,)])
    return median(holds) * 1e3 if holds else float("nan")


counter = 0


def lost_updates(threads, increments, runs):
    global counter

    def increment():
        global counter
        for _ in range(increments):
            counter += 1

    worst = 0
    lossy_runs = 0
    for _ in range(runs):
        counter = 0
        run_threads(increment, [()] * threads)
        lost = threads * increments - counter
        worst = max(worst, lost)
        lossy_runs += lost > 0
    return worst, lossy_runs


def main():
    quick = "--quick" in sys.argv
    gil_check = getattr(sys, "_is_gil_enabled", None)
    results = {
        "version": sys.version.split()[0],
        "implementation": sys.implementation.name,
        "gil_enabled": gil_check() if gil_check else True,
        "switch_interval_ms": sys.getswitchinterval() * 1e3,
        "cpu_ratio": cpu_ratio(2_000_000 if quick else 10_000_000, 1 if quick else 3),
        "sleep_speedup": sleep_speedup(4, 0.05 if quick else 0.2),
        "socket_speedup": socket_speedup(4, 0.05 if quick else 0.2),
        "mixed_ratio": mixed(3, 1_000_000, 0.1 if quick else 0.3),
        "hold_ms": hold_ms(0.2 if quick else 1.0),
    }
    alone, beside = convoy(50 if quick else 200, 0.005)
    _, beside_1ms = convoy(50 if quick else 200, 0.001)
    results.update(convoy_alone_ms=alone, convoy_beside_ms=beside, convoy_beside_1ms_ms=beside_1ms)
    worst, lossy = lost_updates(10, 100_000, 2 if quick else 5)
    results.update(lost_updates_worst=worst, lost_update_runs=lossy, lost_update_total_runs=2 if quick else 5)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
