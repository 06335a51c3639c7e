# Wrong: moves each read to a thread but awaits them one after the other: the loop is free, the reads never overlap
# Fails: most reads at once (harness)
"""Exercise py5: unblock an event loop.

`slow_read` is a blocking call, like a database driver or a file read with no asyncio
version. Called inside a coroutine it stalls the event loop: no other coroutine runs until
it returns, so n reads take n times as long and the ticker below stops ticking.

TODO: write `read_all(n, delay)` so the reads run at once and the loop stays free: run each
`slow_read(i, delay)` with `asyncio.to_thread` and gather them, returning the results in
order. The grader sees on which thread every read ran and how many ran at once.

Run it:   python3 exercises/python/py5_unblock_loop.py --n 5 --delay-ms 80
Check it: cargo xtask check py5_unblock_loop
"""
import argparse
import asyncio
import time


def slow_read(i, delay):
    time.sleep(delay)  # blocks the thread it runs on
    return i * i + round(delay * 1000)


async def read_all(n, delay):
    return [await asyncio.to_thread(slow_read, i, delay) for i in range(n)]


# ── You do not need to change anything below this line. ──


async def measure(n, delay):
    gaps = []
    done = False

    async def ticker():
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.01)
    results = await read_all(n, delay)
    done = True
    await ticking
    return results, max(gaps)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--delay-ms", type=int, default=80)
    args = parser.parse_args(argv)
    results, gap = asyncio.run(measure(args.n, args.delay_ms / 1000))
    print("sum of results: %d" % sum(results))
    print("results in order: %s" % ("yes" if results == sorted(results) else "no"))
    print("longest ticker gap: %.0f ms" % (gap * 1000))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
