# Wrong: measures the CPU share (process_time over perf_counter) instead: hashing computes, yet releases the GIL
# Fails: threads started (harness)|call 1|call 2|call 3|call 4
"""Exercise py4: write the release probe yourself.

Does a call release the GIL? Run it while a heartbeat thread ticks: the heartbeat sleeps a
moment, then needs the GIL for an instant to count a tick. If the call released the GIL,
the heartbeat ticks as often as alone; if it kept it, the heartbeat cannot tick at all.

TODO: write `heartbeat_share(call)`: start a heartbeat thread, let it tick alone for a
moment to learn its pace, run `call()` once in this thread, stop the heartbeat, and return
the share of the call's time it could tick: (ticks during the call × its pace alone) ÷ the
call's length, between 0 and 1. The grader runs your probe on calls it does not show you
(some release the GIL, some keep it) and judges each by your share (0.1 or more: releases).

Run it:   python3 exercises/python/py4_release_probe.py
Check it: cargo xtask check py4_release_probe
"""
import threading
import time


def heartbeat_share(call):
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return 1.0 - min(1.0, cpu / wall)


# ── You do not need to change anything below this line. ──


def main(argv):
    numbers = [float(i % 1000) for i in range(300_000)]
    for name, call in [("time.sleep(0.1)", lambda: time.sleep(0.1)),
                       ("sorted(300k floats)", lambda: sorted(numbers))]:
        print("%s: %.2f" % (name, heartbeat_share(call)))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
