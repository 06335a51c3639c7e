"""Drive a learner's pyo3_deadlocks module: one scenario per process, so a hang stays in it.

`lookup`: two Python threads call lookup(); the second calls while the first is building the
table (inside time.sleep). `square_many`: the main thread calls square_many(items). Each prints
`progress:` lines before it waits, so whoever stops a hung run can say who was where, and
`label: value` lines for the grader when it finishes.
"""

import argparse
import importlib
import sys
import threading
import time


def kv(label, value):
    print(f"{label}: {value}", flush=True)


def progress(text):
    print(f"progress: {text}", flush=True)


def lookup(module, args):
    results = {}

    def call(name, key):
        progress(f"{name} calls lookup({key})")
        results[name] = module.lookup(key, args.entries, args.delay_ms)
        progress(f"{name} returned")

    keys = (args.entries - 1, args.entries // 2)
    first = threading.Thread(target=call, args=("T1", keys[0]), name="T1")
    second = threading.Thread(target=call, args=("T2", keys[1]), name="T2")
    first.start()
    # T1 is inside time.sleep, building the table, when T2 calls.
    time.sleep(args.delay_ms / 4000)
    second.start()
    first.join()
    second.join()
    kv("lookup finished", 1)
    kv("lookup sum", results["T1"] + results["T2"])
    kv("table builds", module.builds())


def square_many(module, args):
    items = list(range(args.first, args.first + args.items))
    progress(f"main calls square_many with {len(items)} items")
    out = module.square_many(items)
    kv("square_many finished", 1)
    kv("sum of squares", sum(out))
    kv("results in order", int(out == [x * x for x in items]))
    kv("workers that attached", module.attached())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module-dir", required=True)
    parser.add_argument("--scenario", choices=["lookup", "square_many"], required=True)
    parser.add_argument("--entries", type=int, default=100)
    parser.add_argument("--delay-ms", type=int, default=100)
    parser.add_argument("--items", type=int, default=4)
    parser.add_argument("--first", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, args.module_dir)
    module = importlib.import_module("pyo3_deadlocks")
    {"lookup": lookup, "square_many": square_many}[args.scenario](module, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
