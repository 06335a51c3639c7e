"""Exercise py2: count down n in one thread, then in two threads sharing the work.

Under the GIL the two threads take turns, so they take about as long as one; on a
free-threaded Python they run at once. The timings are printed for you to compare.

TODO: write `in_two_threads(n)`: start two threads, each calling `countdown` on its share
(n is odd: one share is one larger), wait for both, and return the total they counted.
The grader sees which threads called `countdown` and with what.

Run it:   python3 exercises/python/py2_countdown.py --n 2000001
Check it: cargo xtask check py2_countdown
"""
import argparse
import threading
import time


def countdown(n):
    left = n
    while left > 0:
        left -= 1
    return n


def in_two_threads(n):
    raise NotImplementedError("TODO: two threads, each counting down its share of n")


# ── You do not need to change anything below this line. ──


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2_000_001)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    one = countdown(args.n)
    alone = time.perf_counter() - start
    start = time.perf_counter()
    two = in_two_threads(args.n)
    both = time.perf_counter() - start
    print("counted by one thread: %d" % one)
    print("counted by two threads: %d" % two)
    print("two threads / one thread: %.2fx" % (both / alone))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
