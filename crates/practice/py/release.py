"""Part 2: does this call release the GIL? A heartbeat thread ticks while it runs.

The heartbeat sleeps TICK seconds, then takes the GIL for a moment to count a tick. Alone it
ticks every TICK. While a call runs in the main thread, it ticks only when it gets the GIL:
- the call released the GIL: it ticks as often as alone (share near 1);
- the call is C code that keeps the GIL: no tick until the call returns (share near 0);
- the call is Python code: one tick per switch interval, when the heartbeat's request
  makes the main thread let go (share about TICK / interval).
Prints one JSON line: for each call, its time and the heartbeat's share.
"""
import hashlib
import json
import random
import sys
import threading
import time
import zlib

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def heartbeat_share(call, tick=0.0005):
    """Run call() while a heartbeat thread ticks. Returns (seconds, share):
    share near 1, the call released the GIL; near 0, it kept it."""
    import threading
    import time

    ticks, stop = [], threading.Event()

    def beat():
        while not stop.is_set():
            time.sleep(tick)
            ticks.append(time.perf_counter())

    beater = threading.Thread(target=beat)
    beater.start()
    time.sleep(0.02)  # the heartbeat ticks alone first: its own pace
    start = time.perf_counter()
    call()
    end = time.perf_counter()
    time.sleep(0.02)  # and alone again after
    stop.set()
    beater.join()
    alone = sorted(b - a for a, b in zip(ticks, ticks[1:])
                   if b < start or a > end)
    pace = alone[len(alone) // 2] if alone else tick
    # One tick may have been on its way when the call began: not counted.
    during = max(0, sum(1 for t in ticks if start < t <= end) - 1)
    return end - start, min(1.0, during * pace / (end - start))


def python_loop():
    n = int(2_000_000 * SCALE)
    while n:
        n -= 1


def sha256_three_times():
    digest = hashlib.sha256()
    for _ in range(3):
        digest.update(BIG)
    return digest.digest()


BIG = bytes(random.getrandbits(8) for _ in range(1 << 16)) * int(512 * SCALE)
NUMBERS = [random.random() for _ in range(int(500_000 * SCALE))]
RECORDS = [{"id": i, "name": "item%d" % i, "tags": ["a", "b"], "price": i * 0.5}
           for i in range(int(100_000 * SCALE))]

CALLS = [
    ("time.sleep", lambda: time.sleep(0.2 * SCALE)),
    ("hashlib.sha256", sha256_three_times),
    ("zlib.compress", lambda: zlib.compress(BIG[: len(BIG) // 8], 6)),
    ("pure-Python loop", python_loop),
    ("sorted, floats", lambda: sorted(NUMBERS)),
    ("json.dumps, dicts", lambda: json.dumps(RECORDS)),
]
try:
    import numpy

    A = numpy.random.rand(int(900 * SCALE ** 0.5), int(900 * SCALE ** 0.5))
    V = numpy.random.rand(int(8_000_000 * SCALE))
    CALLS += [
        ("numpy matrix product", lambda: A @ A),
        ("numpy.sort", lambda: numpy.sort(V)),
    ]
    NUMPY = numpy.__version__
except ImportError:
    NUMPY = None

rows = []
for name, call in CALLS:
    seconds, share = heartbeat_share(call)
    rows.append({"call": name, "seconds": seconds, "share": share})
print(json.dumps({"version": sys.version.split()[0], "numpy": NUMPY,
                  "interval": sys.getswitchinterval(), "rows": rows}))
