"""Part 1: is each call CPU-bound or waiting? process_time() against perf_counter().

Prints one JSON line: for each call, its wall time and the CPU time the process used.
"""
import hashlib
import json
import os
import socket
import sys
import tempfile
import threading
import time

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def python_loop():
    n = int(3_000_000 * SCALE)
    while n:
        n -= 1


def sleep():
    time.sleep(0.2 * SCALE)


def socket_round_trips():
    # A local echo server in a thread that answers after a short pause, as a slow
    # peer would: the caller waits in recv().
    left, right = socket.socketpair()

    def echo():
        while True:
            data = right.recv(64)
            if not data:
                return
            time.sleep(0.004)
            right.sendall(data)

    server = threading.Thread(target=echo)
    server.start()
    for _ in range(max(1, int(40 * SCALE))):
        left.sendall(b"ping")
        left.recv(64)
    left.close()
    server.join()
    right.close()


FILE = os.path.join(tempfile.gettempdir(), "practice-part1-%d.bin" % os.getpid())


def file_read():
    with open(FILE, "rb") as f:
        while f.read(1 << 20):
            pass


DATA = os.urandom(int(64 * SCALE) << 20)


def hashing():
    hashlib.sha256(DATA).hexdigest()


CALLS = [
    ("pure-Python loop", python_loop),
    ("time.sleep", sleep),
    ("socket round trips", socket_round_trips),
    ("file read (cached)", file_read),
    ("hashlib.sha256", hashing),
]

with open(FILE, "wb") as f:
    f.write(os.urandom(int(64 * SCALE) << 20))
file_read()  # into the page cache, as a file read twice is
rows = []
try:
    for name, call in CALLS:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        call()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        rows.append({"call": name, "wall": wall, "cpu": cpu})
finally:
    os.remove(FILE)
print(json.dumps({"version": sys.version.split()[0], "rows": rows}))
