"""Exercise py3: native work in a thread pool.

hashlib releases the GIL while it hashes more than a couple of kilobytes, so threads can
hash at the same time (part 2 of lesson 6 measures it). NumPy's array loops do too.

TODO: write `digest_all(chunks, workers)`: hash every chunk with `hashlib.sha256` on a
`concurrent.futures.ThreadPoolExecutor(workers)` and return the hex digests in the order of
`chunks`. With NumPy installed, also write `dots_all(blocks, workers)`: `numpy.dot(b, b)` of
every block on such a pool, in order. The grader sees which threads called sha256 and dot.

Run it:   python3 exercises/python/py3_hash_pool.py --chunks 8 --workers 3 --kib 512
Check it: cargo xtask check py3_hash_pool
"""
import argparse
import concurrent.futures
import hashlib
import random


def digest_all(chunks, workers):
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda chunk: hashlib.sha256(chunk).hexdigest(), chunks))


def dots_all(blocks, workers):
    import numpy

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda block: float(numpy.dot(block, block)), blocks))


# ── You do not need to change anything below this line. ──


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kib", type=int, default=512)
    args = parser.parse_args(argv)
    rng = random.Random(args.chunks * 100_003 + args.kib)
    chunks = [bytes(rng.getrandbits(8) for _ in range(1024)) * args.kib
              for _ in range(args.chunks)]
    digests = digest_all(chunks, args.workers)
    print("chunks hashed: %d" % len(digests))
    combined = hashlib.blake2b("".join(digests).encode()).hexdigest()[:16]
    print("digest of digests: h%s" % combined)  # "h": never read as a number
    try:
        import numpy
    except ImportError:
        print("sum of dots: no numpy")
        return
    blocks = [numpy.arange(i, i + 50_000 * args.kib // 64, dtype=numpy.float64)
              for i in range(args.chunks)]
    print("sum of dots: %.6e" % sum(dots_all(blocks, args.workers)))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
