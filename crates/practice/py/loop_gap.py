"""Part 4: threads and asyncio. A ticking coroutine measures how long the loop was stalled.

The ticker awaits asyncio.sleep(TICK) and notes the largest gap between two ticks while
another coroutine does 0.2 s of work in one of four ways. Prints one JSON line.
"""
import asyncio
import concurrent.futures
import json
import sys
import time

WORK = float(sys.argv[1]) if len(sys.argv) > 1 else 0.2
TICK = 0.005


def blocking_io():
    time.sleep(WORK)


def python_work():
    end = time.perf_counter() + WORK
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


async def measure(work):
    gaps = []
    done = False

    async def ticker():
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.02)
    start = time.perf_counter()
    await work()
    seconds = time.perf_counter() - start
    done = True
    await ticking
    gaps.sort()
    return {"seconds": seconds, "max_gap": gaps[-1], "median_gap": gaps[len(gaps) // 2]}


async def blocking_in_coroutine():
    blocking_io()


async def io_in_thread():
    await asyncio.to_thread(blocking_io)


async def python_in_thread():
    await asyncio.to_thread(python_work)


POOL = concurrent.futures.ProcessPoolExecutor(1)


async def python_in_process():
    await asyncio.get_running_loop().run_in_executor(POOL, python_work)


async def main():
    POOL.submit(int).result()  # the worker process is up before timing
    rows = []
    for name, work in [("time.sleep in the coroutine", blocking_in_coroutine),
                       ("to_thread(time.sleep)", io_in_thread),
                       ("to_thread(Python loop)", python_in_thread),
                       ("process pool (Python loop)", python_in_process)]:
        rows.append({"case": name, **await measure(work)})
    return rows


if __name__ == "__main__":
    rows = asyncio.run(main())
    POOL.shutdown()
    print(json.dumps({"version": sys.version.split()[0], "tick": TICK,
                      "interval": sys.getswitchinterval(), "rows": rows}))
