"""Measure the real CPython GIL for `cargo xtask fidelity`.

Each experiment mirrors one the model runs (a module of `xtask/src/fidelity/`); the results, with the sizes
they were measured at and the timings the model calibrates against, are printed as one JSON
object so the Rust side can put CPython and the model in one table. Written for this project;
runs on 3.8+ (and on free-threaded builds, where `sys._is_gil_enabled()` says False).

The loopback servers run in a child process, as the model's server runs on plain OS threads:
either way the server never competes for the GIL being measured.

    python3 fidelity.py [--quick] [--only NAME,...|none]   measure, print one JSON object
    python3 fidelity.py --serve echo|SECONDS  (internal) serve on a free port, print it
"""

import json
import socket
import subprocess
import sys
import threading
import time


def countdown(n):
    while n > 0:
        n -= 1


def run_threads(target, args_list):
    """Start one thread per argument tuple, wait for all; return the wall time in seconds."""
    threads = [threading.Thread(target=target, args=args) for args in args_list]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def timed(f, *args):
    start = time.perf_counter()
    f(*args)
    return time.perf_counter() - start


def median(values):
    """The middle value (the lower middle for an even count), as the Rust side computes it."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


# --- servers ------------------------------------------------------------------------------------


def serve(behaviour):
    """Child process: answer on 127.0.0.1 until stdin closes. `echo` sends every chunk straight
    back; a number of seconds reads one line, waits that long, answers and closes."""
    delay = None if behaviour == "echo" else float(behaviour)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def answer(conn):
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if delay is None:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        return
                    conn.sendall(data)
            else:
                line = conn.makefile("rb").readline()
                time.sleep(delay)
                conn.sendall(b"200 OK " + line)

    def accept():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    print(listener.getsockname()[1], flush=True)
    sys.stdin.read()  # the parent closes our stdin when it is done


class Server:
    """A loopback server in a child process (see `serve`)."""

    def __init__(self, behaviour):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", behaviour],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.port = int(self.proc.stdout.readline())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- experiments --------------------------------------------------------------------------------


def cpu_bound(n, repeats):
    """Two threads counting down n each vs one thread counting down 2n: median wall ratio, and
    the median one-thread time (the model sizes its countdown to take as long)."""
    ones, ratios = [], []
    for _ in range(repeats):
        one = run_threads(countdown, [(2 * n,)])
        two = run_threads(countdown, [(n,), (n,)])
        ones.append(one)
        ratios.append(two / one)
    return {"n": n, "repeats": repeats, "one_s": median(ones), "ratio": median(ratios)}


def sleeps(threads, seconds, repeats):
    """`threads` sleeps one after another vs all at once in threads: the median speedup."""

    def speedup():
        sequential = sum(timed(time.sleep, seconds) for _ in range(threads))
        return sequential / run_threads(time.sleep, [(seconds,)] * threads)

    return {
        "threads": threads,
        "seconds": seconds,
        "repeats": repeats,
        "speedup": median([speedup() for _ in range(repeats)]),
    }


def socket_waits(threads, delay, repeats):
    """`threads` requests to a server that answers after `delay`: sequential vs threaded, the
    median speedup."""
    with Server(str(delay)) as server:

        def ask():
            with socket.create_connection(("127.0.0.1", server.port)) as s:
                s.sendall(b"GET /\n")
                while s.recv(4096):
                    pass

        def speedup():
            sequential = sum(timed(ask) for _ in range(threads))
            return sequential / run_threads(ask, [()] * threads)

        speedups = [speedup() for _ in range(repeats)]
    return {
        "threads": threads,
        "delay_s": delay,
        "repeats": repeats,
        "speedup": median(speedups),
    }


def mixed(workers, n, io_seconds, repeats):
    """The tutorial's mixed workload: each worker counts down n, then sleeps io_seconds.
    Wall time of `workers` together over one worker alone (median), and how long countdown(n)
    takes alone (median), which the model matches."""

    def worker():
        countdown(n)
        time.sleep(io_seconds)

    cpu = median([timed(countdown, n) for _ in range(3)])
    ratios = []
    for _ in range(repeats):
        alone = run_threads(worker, [()])
        together = run_threads(worker, [()] * workers)
        ratios.append(together / alone)
    return {
        "workers": workers,
        "n": n,
        "cpu_s": cpu,
        "io_s": io_seconds,
        "repeats": repeats,
        "ratio": median(ratios),
    }


def convoy(round_trips, batches):
    """Milliseconds per echo round trip alone, and beside one CPU-bound thread at the 5 ms and
    the 1 ms switch interval: the median of `batches` batches of `round_trips` each."""
    result = {"round_trips": round_trips, "batches": batches}
    old = sys.getswitchinterval()
    with Server("echo") as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def echo_many():
            start = time.perf_counter()
            for _ in range(round_trips):
                sock.sendall(b"x")
                sock.recv(64)
            return (time.perf_counter() - start) / round_trips * 1e3

        def beside_spinner(interval):
            sys.setswitchinterval(interval)
            stop = []

            def spin():
                while not stop:
                    pass

            spinner = threading.Thread(target=spin)
            spinner.start()
            try:
                return echo_many()
            finally:
                stop.append(True)
                spinner.join()
                sys.setswitchinterval(old)

        result["alone_ms"] = median([echo_many() for _ in range(batches)])
        result["beside_ms"] = median([beside_spinner(0.005) for _ in range(batches)])
        result["beside_1ms_ms"] = median([beside_spinner(0.001) for _ in range(batches)])
        sock.close()
    return result


def holds(seconds):
    """Two CPU-bound threads for `seconds`: how long one runs before the other gets the GIL.

    Only the holder runs Python, so each thread notes the time on every iteration; when a
    thread sees that the other one ran last, the other's run lasted from its first to its last
    noted time. Hand-off latency is left out, as in the model's `Timeline::contended_holds`.
    A call is a check point, so a thread can lose the GIL right after reading the clock: a time
    older than the other thread's last one was read before the switch, and is read again."""
    state = {"who": None, "first": 0.0, "last": 0.0}
    lengths = []
    deadline = time.perf_counter() + seconds

    def spin(me):
        while True:
            now = time.perf_counter()
            if now > deadline:
                return
            if state["who"] != me:
                if now < state["last"]:
                    continue  # read before we lost the GIL last time: stale
                if state["who"] is not None:
                    lengths.append(state["last"] - state["first"])
                state["who"] = me
                state["first"] = now
            state["last"] = now

    run_threads(spin, [(1,), (2,)])
    return {
        "seconds": seconds,
        "count": len(lengths),
        "median_ms": median(lengths) * 1e3 if lengths else None,
    }


counter = 0


def lost_updates(threads, increments, runs):
    """`counter += 1` on a global from `threads` threads, `increments` each, `runs` times."""

    def increment():
        global counter
        for _ in range(increments):
            counter += 1

    global counter
    worst, lossy, walls = 0, 0, []
    for _ in range(runs):
        counter = 0
        walls.append(run_threads(increment, [()] * threads))
        lost = threads * increments - counter
        worst = max(worst, lost)
        lossy += lost > 0
    return {
        "threads": threads,
        "increments": increments,
        "runs": runs,
        "worst_lost": worst,
        "runs_lost": lossy,
        "wall_s": median(walls),
    }


EXPERIMENTS = {
    "cpu": lambda quick: cpu_bound(1_000_000 if quick else 10_000_000, 3),
    "sleep": lambda quick: sleeps(4, 0.05 if quick else 0.1, 3),
    "socket": lambda quick: socket_waits(4, 0.05 if quick else 0.1, 3),
    "mixed": lambda quick: mixed(3, 1_000_000, 0.1 if quick else 0.3, 3),
    "hold": lambda quick: holds(0.3 if quick else 1.0),
    "convoy": lambda quick: convoy(30 if quick else 100, 3),
    "counter": lambda quick: lost_updates(10, 100_000, 2 if quick else 5),
}


def main():
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--serve":
        serve(args[1])
        return
    quick = "--quick" in args
    # `--only NAME[,NAME]` runs just those experiments (`--only none`: the header alone), so the
    # Rust side can run each experiment on CPython right before the model's run of it.
    only = list(EXPERIMENTS)
    if "--only" in args:
        only = [name for name in args[args.index("--only") + 1].split(",") if name in EXPERIMENTS]
    gil_check = getattr(sys, "_is_gil_enabled", None)
    results = {
        "version": sys.version.split()[0],
        "implementation": sys.implementation.name,
        "gil_enabled": bool(gil_check()) if gil_check else True,
        "switch_interval_ms": sys.getswitchinterval() * 1e3,
        "quick": quick,
    }
    for name in only:
        results[name] = EXPERIMENTS[name](quick)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
