"""The grader's harness for the Python exercises: `python3 harness.py NAME FILE ARGS...`.

It loads the learner's FILE as a module, records what the learner's code really does while
it runs — locks taken, threads started, calls made and on which thread — then prints that
evidence as `label (harness): value` lines after the program's own output. The evidence comes
from wrappers the learner's file never sees, so printing the expected answer does not pass.
Exercise py6's FILE is C: the harness compiles it against this interpreter's own headers.
"""
import asyncio
import hashlib
import importlib.util
import json
import os
import random
import subprocess
import sys
import sysconfig
import threading
import time
import warnings
import zlib

EVIDENCE = {}
MAIN = threading.main_thread()


def note(label, value):
    EVIDENCE[label] = value


def bump(label, by=1):
    EVIDENCE[label] = EVIDENCE.get(label, 0) + by


# ── Wrappers: what every exercise's code is watched through ──

REAL_LOCK = threading.Lock
REAL_START = threading.Thread.start


class CountingLock:
    """threading.Lock, counting every acquisition."""

    def __init__(self):
        self._lock = REAL_LOCK()

    def acquire(self, blocking=True, timeout=-1):
        got = self._lock.acquire(blocking, timeout)
        if got:
            bump("lock acquisitions")
        return got

    def release(self):
        self._lock.release()

    def locked(self):
        return self._lock.locked()

    __enter__ = acquire

    def __exit__(self, *exc):
        self.release()


def counting_start(thread):
    bump("threads started")
    return REAL_START(thread)


def watch_threads_and_locks():
    threading.Lock = CountingLock
    threading.Thread.start = counting_start


def load(path):
    spec = importlib.util.spec_from_file_location("learner", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["learner"] = module
    spec.loader.exec_module(module)
    return module


def print_evidence(labels):
    for label in labels:
        print("%s (harness): %s" % (label, EVIDENCE.get(label, 0)))


# ── py1: the counter ──

def py1(path, argv):
    watch_threads_and_locks()
    learner = load(path)
    learner.main(argv)
    print_evidence(["threads started", "lock acquisitions"])


# ── py2: the countdown ──

def py2(path, argv):
    watch_threads_and_locks()
    learner = load(path)
    counted_by = {}
    real = learner.countdown

    def countdown(n):
        result = real(n)
        if threading.current_thread() is not MAIN:
            ident = threading.get_ident()
            counted_by[ident] = counted_by.get(ident, 0) + n
        return result

    learner.countdown = countdown
    real_two = learner.in_two_threads
    returned_with = []

    def in_two_threads(n):
        result = real_two(n)
        # Read the moment it returns: threads it did not wait for may still be counting, and
        # would finish while main prints if the machine is busy (main waits for a core).
        returned_with.append(list(counted_by.values()))
        return result

    learner.in_two_threads = in_two_threads
    learner.main(argv)
    parts = returned_with[0] if returned_with else list(counted_by.values())
    note("threads that counted", len(parts))
    note("counted off the main thread", sum(parts))
    print_evidence(["threads that counted", "counted off the main thread"])


# ── py3: native work in a thread pool ──

def py3(path, argv):
    real_sha256 = hashlib.sha256
    hashed_on = set()

    def sha256(data=b"", **kw):
        if threading.current_thread() is MAIN:
            bump("sha256 calls on the main thread")
        else:
            hashed_on.add(threading.get_ident())
            bump("sha256 calls off the main thread")
        return real_sha256(data, **kw)

    hashlib.sha256 = sha256
    try:
        import numpy

        real_dot = numpy.dot
        dotted_on = set()

        def dot(*args, **kw):
            if threading.current_thread() is not MAIN:
                dotted_on.add(threading.get_ident())
                bump("numpy.dot calls off the main thread")
            return real_dot(*args, **kw)

        numpy.dot = dot
    except ImportError:
        dotted_on = None
    learner = load(path)
    learner.main(argv)
    note("threads that hashed", len(hashed_on))
    # Without NumPy both runs print 0 here, and the check compares with the solution's.
    note("threads that used numpy.dot", len(dotted_on or ()))
    print_evidence(["sha256 calls off the main thread", "sha256 calls on the main thread",
                    "threads that hashed", "numpy.dot calls off the main thread",
                    "threads that used numpy.dot"])


# ── py4: the release probe, on calls the learner's file never names ──

def releasing_calls(rng):
    data = rng.randbytes(16 << 20) if hasattr(rng, "randbytes") else os.urandom(16 << 20)
    return [
        ("sleep", lambda: time.sleep(0.12)),
        ("sha256", lambda: hashlib.sha256(data).digest()),
        ("compress", lambda: zlib.compress(data[: 2 << 20], 6)),
    ]


def holding_calls(rng):
    numbers = [rng.random() for _ in range(400_000)]
    records = [{"n": i, "s": "x%d" % i} for i in range(150_000)]
    text = "ab" * 2_000_000
    return [
        ("sort", lambda: sorted(numbers)),
        ("dumps", lambda: json.dumps(records)),
        ("replace", lambda: text.replace("a", "bc").replace("b", "a")),
    ]


def py4(path, argv):
    watch_threads_and_locks()
    seed = int(argv[argv.index("--seed") + 1])
    rng = random.Random(seed)
    calls = rng.sample(releasing_calls(rng), 2) + rng.sample(holding_calls(rng), 2)
    rng.shuffle(calls)
    learner = load(path)
    made = [0] * len(calls)
    shares_ok = 1
    for i, (name, call) in enumerate(calls):
        def counted(call=call, i=i):
            made[i] += 1
            return call()

        share = learner.heartbeat_share(counted)
        if not isinstance(share, (int, float)) or not 0 <= share <= 1:
            shares_ok = 0
            share = 0
        verdict = "releases" if share >= 0.1 else "holds"
        print("call %d: %s" % (i + 1, verdict))
    note("each call made once", int(all(m == 1 for m in made)))
    note("shares between 0 and 1", shares_ok)
    note("calls drawn with seed", seed)
    print_evidence(["threads started", "each call made once", "shares between 0 and 1",
                    "calls drawn with seed"])


# ── py5: unblock an event loop ──

def py5(path, argv):
    learner = load(path)
    real_read = learner.slow_read
    state = {"now": 0, "most": 0}
    guard = REAL_LOCK()

    def slow_read(*args, **kw):
        try:
            asyncio.get_running_loop()
            bump("reads on the event loop's thread")
        except RuntimeError:
            bump("reads off the event loop's thread")
        with guard:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        try:
            return real_read(*args, **kw)
        finally:
            with guard:
                state["now"] -= 1

    learner.slow_read = slow_read
    learner.main(argv)
    note("most reads at once", state["most"])
    print_evidence(["reads on the event loop's thread", "reads off the event loop's thread",
                    "most reads at once"])


# ── py6: a C extension made free-threading ready ──

CHILD = """
import importlib, json, sys, threading, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    before = sys._is_gil_enabled()
    module = importlib.import_module("counter")
    after = sys._is_gil_enabled()
threads = [threading.Thread(target=module.bump, args=(%d,)) for _ in range(%d)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"before": before, "after": after, "total": module.total(),
                  "warnings": [str(w.message) for w in caught]}))
"""


def py6(path, argv):
    threads = int(argv[argv.index("--threads") + 1])
    bumps = int(argv[argv.index("--bumps") + 1])
    out = os.path.abspath("built")
    os.makedirs(out, exist_ok=True)
    target = os.path.join(out, "counter" + sysconfig.get_config_var("EXT_SUFFIX"))
    cc = ["cc", "-shared", "-fPIC", "-O2", "-I", sysconfig.get_paths()["include"],
          path, "-o", target]
    built = subprocess.run(cc, capture_output=True, text=True)
    if built.returncode != 0:
        sys.stderr.write(built.stderr)
        sys.exit("your C file does not compile (above: cc's messages)")
    env = dict(os.environ, PYTHONPATH=out)
    env.pop("PYTHON_GIL", None)
    done = subprocess.run([sys.executable, "-c", CHILD % (bumps, threads)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        sys.exit("importing or calling your module failed (above)")
    run = json.loads(done.stdout.strip().splitlines()[-1])
    for warning in run["warnings"]:
        print("RuntimeWarning on import: " + warning.split(", which")[0])
    print("counter total: %d" % run["total"])
    note("GIL enabled before import", int(run["before"]))
    note("GIL enabled after import", int(run["after"]))
    note("warnings on import", len(run["warnings"]))
    print_evidence(["GIL enabled before import", "GIL enabled after import",
                    "warnings on import"])


def fail_on_thread_errors():
    """An exception in one of the learner's threads fails the run, as one in main would."""
    caught = []

    def hook(args):
        if not caught:
            caught.append(args)
        REAL_HOOK(args)

    threading.excepthook = hook
    return caught


REAL_HOOK = threading.excepthook

if __name__ == "__main__":
    name, path, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    thread_errors = fail_on_thread_errors()
    sys.argv = [path] + argv
    exercise = {"py1_counter_lock": py1, "py2_countdown": py2, "py3_hash_pool": py3,
                "py4_release_probe": py4, "py5_unblock_loop": py5,
                "py6_free_threaded_ext": py6}[name]
    exercise(path, argv)
    sys.stdout.flush()
    if thread_errors:
        error = thread_errors[0]
        sys.stderr.write("%s: %s\n" % (error.exc_type.__name__, error.exc_value))
        sys.stderr.flush()
        os._exit(1)
    # Threads the learner left running must not keep the run alive past its output.
    os._exit(0)
