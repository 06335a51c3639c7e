"""Exercise py1: the lost update, and the lock that prevents it.

`counter += 1` is a read, an add and a write. If another thread writes between your read
and your write, its update is lost. `time.sleep(1e-6)` below lets another thread run right
there, as a switch at a check point would, so the loss shows on every Python version
(3.10+ switches at fewer places, so a bare `+= 1` often seems safe there — it is not).

TODO: write `bump_locked` so no update is lost: hold `lock` around the read, the pause and
the write. The grader counts your lock's acquisitions: one per bump.

Run it:   python3 exercises/python/py1_counter_lock.py --threads 4 --iterations 1000
Check it: cargo xtask check py1_counter_lock
"""
import argparse
import threading
import time


def bump_unlocked(box):
    value = box["count"]
    time.sleep(1e-6)  # another thread may run here
    box["count"] = value + 1


def bump_locked(box, lock):
    with lock:
        value = box["count"]
        time.sleep(1e-6)  # another thread may run here, but cannot take the lock
        box["count"] = value + 1


# ── You do not need to change anything below this line. ──


def count(threads, iterations, bump):
    box = {"count": 0}
    lock = threading.Lock()

    def work():
        for _ in range(iterations):
            bump(box, lock)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return box["count"]


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=1000)
    args = parser.parse_args(argv)
    unlocked = count(args.threads, args.iterations, lambda box, lock: bump_unlocked(box))
    print("unlocked total: %d" % unlocked)
    print("locked total: %d" % count(args.threads, args.iterations, bump_locked))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
