//! What every part shares: the run configuration and the timing loops.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::Duration;

use gil_core::cli::GilArgs;
use gil_core::measure::{self, Samples};
use gil_core::object::PyObject;
use gil_core::{DEFAULT_SWITCH_INTERVAL, Gil};

/// How big and how often: what the command line decided.
#[derive(Clone, Debug)]
pub struct Config {
    /// Parts 2 and 5: references each racing thread takes (T1) or drops (T2) per trial.
    pub refs: u64,
    /// Part 2: references the shared object has from other holders, besides the racing ones.
    pub holders: u64,
    /// Part 2: trials of each way of counting.
    pub trials: usize,
    /// Parts 3–5: incref+decref pairs per timing with one thread (contended timings do a tenth).
    pub pairs: u64,
    /// Parts 3–5: timings per figure; the median is shown.
    pub repeats: usize,
    /// The interpreter of the "under the GIL" runs (parts 2 and 5): `--free-threaded` takes
    /// the GIL away, `--switch-interval` sets its interval.
    pub gil: GilArgs,
}

impl Default for Config {
    /// The full lesson: four million references per racing thread, five trials, 20 million pairs per timing.
    fn default() -> Self {
        Config {
            refs: 4_000_000,
            holders: 1_000,
            trials: 5,
            pairs: 20_000_000,
            repeats: 3,
            gil: GilArgs {
                free_threaded: false,
                switch_interval: DEFAULT_SWITCH_INTERVAL.as_secs_f64() * 1e3,
            },
        }
    }
}

impl Config {
    /// A small run for tests and `--quick`: a twentieth of the references, three trials, a
    /// twentieth of the pairs, one timing each.
    pub fn quick() -> Self {
        Config {
            refs: 200_000,
            trials: 3,
            pairs: 1_000_000,
            repeats: 1,
            ..Config::default()
        }
    }

    /// Pairs per thread in a two-thread (contended) timing: a tenth, as contention is slow.
    pub fn contended_pairs(&self) -> u64 {
        (self.pairs / 10).max(1)
    }

    /// The interpreter of the "under the GIL" runs: a 3.2+ GIL unless `--free-threaded`.
    pub fn gil(&self) -> anyhow::Result<Gil> {
        Ok(self.gil.build())
    }
}

/// `n` incref+decref pairs on `obj`: `y = x; del y` in a loop.
pub fn pairs(obj: &PyObject, n: u64) {
    let mut n = n;
    while n > 0 {
        n = black_box(n) - 1;
        obj.incref();
        obj.decref();
    }
}

/// Nanoseconds per pair of `work(n)`, which does `n` pairs: the median of `repeats` timings.
pub fn per_pair(repeats: usize, n: u64, mut work: impl FnMut(u64)) -> f64 {
    let samples: Samples = measure::repeat(repeats, || work(n));
    per_op(samples.median(), n)
}

/// Nanoseconds per operation when `n` operations took `total`.
pub fn per_op(total: Duration, n: u64) -> f64 {
    total.as_secs_f64() * 1e9 / n.max(1) as f64
}

/// Nanoseconds per pair and per thread when two threads each do `n` pairs at once: `mine(n)` on the
/// calling thread and `theirs(n)` on a second one, released together by a barrier. The median
/// of `repeats` timings of the slower thread.
pub fn per_pair_two_threads(
    repeats: usize,
    n: u64,
    mine: impl Fn(u64) + Sync,
    theirs: impl Fn(u64) + Sync,
) -> f64 {
    let samples = Samples(
        (0..repeats.max(1))
            .map(|_| {
                let start = Barrier::new(2);
                std::thread::scope(|s| {
                    let other = s.spawn(|| {
                        start.wait();
                        measure::time(|| theirs(n)).1
                    });
                    start.wait();
                    let own = measure::time(|| mine(n)).1;
                    let other = other
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    own.max(other)
                })
            })
            .collect(),
    );
    per_op(samples.median(), n)
}

/// A time per operation in nanoseconds, with two decimals: `1.31 ns`.
pub fn fmt_ns(ns: f64) -> String {
    format!("{ns:.2} ns")
}

/// `a / b` for two times per operation, safe when `b` rounds to zero.
pub fn ratio(a: f64, b: f64) -> f64 {
    a / b.max(1e-3)
}
