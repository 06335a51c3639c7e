"""Part 3: how much does the GIL cost? A heartbeat as a wait meter.

The heartbeat sleeps 1 ms and notes how late it woke: the lateness is timer slack plus, when
another thread runs Python, the time it waited for the GIL. Measured alone, then beside one
CPU-bound thread at two switch intervals. Then the real profilers, where installed.
Prints one JSON line.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 0.4
TICK = 0.001


def lateness(busy):
    """Mean lateness of the heartbeat's wake-ups, in seconds, over SECONDS."""
    stop = threading.Event()

    def spin():
        n = 0
        while not stop.is_set():
            n += 1

    spinner = threading.Thread(target=spin)
    if busy:
        spinner.start()
    late = []
    end = time.perf_counter() + SECONDS
    while time.perf_counter() < end:
        before = time.perf_counter()
        time.sleep(TICK)
        late.append(time.perf_counter() - before - TICK)
    stop.set()
    if busy:
        spinner.join()
    late.sort()
    return {"mean": sum(late) / len(late), "median": late[len(late) // 2],
            "ticks": len(late)}


rows = [{"case": "alone", "interval": sys.getswitchinterval(), **lateness(False)}]
default = sys.getswitchinterval()
for interval in (default, 0.001):
    sys.setswitchinterval(interval)
    rows.append({"case": "busy", "interval": interval, **lateness(True)})
sys.setswitchinterval(default)

COUNTDOWN = """
import threading
def countdown(n):
    while n:
        n -= 1
threads = [threading.Thread(target=countdown, args=(6_000_000,)) for _ in range(2)]
for t in threads: t.start()
for t in threads: t.join()
"""
profilers = {"py_spy": shutil.which("py-spy"),
             "sampling": importlib.util.find_spec("profiling") is not None
             and importlib.util.find_spec("profiling.sampling") is not None}
runs = {}
with tempfile.TemporaryDirectory() as tmp:
    prog = os.path.join(tmp, "countdown.py")
    with open(prog, "w") as f:
        f.write(COUNTDOWN)
    if profilers["py_spy"]:
        out = os.path.join(tmp, "gil.txt")
        cmd = [profilers["py_spy"], "record", "--gil", "--format", "raw", "-r", "200",
               "-o", out, "--", sys.executable, prog]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            samples = 0
            if os.path.exists(out):
                for line in open(out):
                    samples += int(line.rsplit(" ", 1)[1])
            runs["py_spy"] = {"status": done.returncode, "samples": samples,
                              "said": (done.stderr.strip().splitlines() or [""])[-1][:200]}
        except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as error:
            runs["py_spy"] = {"status": -1, "samples": 0, "said": str(error)[:200]}
    if profilers["sampling"]:
        cmd = [sys.executable, "-m", "profiling.sampling", "run", "--mode", "gil", prog]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            runs["sampling"] = {"status": done.returncode, "samples": 0,
                                "said": (done.stdout.strip().splitlines() or [""])[-1][:200]}
        except (OSError, subprocess.TimeoutExpired) as error:
            runs["sampling"] = {"status": -1, "samples": 0, "said": str(error)[:200]}
print(json.dumps({"version": sys.version.split()[0], "rows": rows,
                  "py_spy": profilers["py_spy"], "sampling": profilers["sampling"],
                  "runs": runs}))
