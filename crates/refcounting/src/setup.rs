//! What every part shares: the lesson's flags, the run configuration and the timing loops.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::Duration;

use gil_core::cli::GilArgs;
use gil_core::lesson::DEFAULT_SWITCH_INTERVAL_MS;
use gil_core::measure;
use gil_core::object::PyObject;
use gil_core::{Gil, Mode};

/// The lesson's own flags, beside the shared ones. Each range keeps the largest run within a
/// few minutes (20 million references race in well under a second per trial; 100 million
/// pairs take seconds per timing) and small in memory (a trial keeps a few numbers).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SizeArgs {
    /// Parts 2 and 5: references each racing thread takes or drops, 1000 to 20000000
    /// [default: 1000000, --quick 200000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1_000..=20_000_000))]
    pub refs: Option<u64>,

    /// Part 2: trials of each way of counting, 1 to 50 [default: 5, --quick 3]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=50))]
    pub trials: Option<u64>,

    /// Part 2: references the shared object has from other holders, 1 to 10000000
    /// [default: 1000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub holders: Option<u64>,

    /// Parts 3-5: incref+decref pairs per timing, 100000 to 100000000 (two-thread timings do
    /// a tenth) [default: 8000000, --quick 1000000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(100_000..=100_000_000))]
    pub pairs: Option<u64>,
}

/// How big and how often: what the command line decided.
#[derive(Clone, Debug)]
pub struct Config {
    /// Parts 2 and 5: references each racing thread takes (T1) or drops (T2) per trial.
    pub refs: u64,
    /// Part 2: references the shared object has from other holders, besides the racing ones.
    pub holders: u64,
    /// Part 2: trials of each way of counting.
    pub trials: u64,
    /// Parts 3–5: incref+decref pairs per timing with one thread (contended timings do a tenth).
    pub pairs: u64,
    /// Parts 3–5: timings per figure; the median is shown.
    pub repeats: usize,
    /// The interpreter of the "under the GIL" runs (parts 2 and 5): `--free-threaded` takes
    /// the GIL away, `--switch-interval` sets its interval.
    pub gil: GilArgs,
    /// The seed of part 2's simulated schedules (`--simulated` and the expected figures).
    pub seed: u64,
}

impl Default for Config {
    /// The full lesson: a million references per racing thread (thousands of lost updates
    /// without a lock), five trials, eight million pairs per timing (tens of milliseconds for
    /// the slowest kind; a median of five timings after an untimed round).
    fn default() -> Self {
        Config {
            refs: 1_000_000,
            holders: 1_000,
            trials: 5,
            pairs: 8_000_000,
            repeats: 5,
            gil: GilArgs {
                free_threaded: false,
                switch_interval: DEFAULT_SWITCH_INTERVAL_MS,
            },
            seed: 1992,
        }
    }
}

impl Config {
    /// A small run for tests and `--quick`: a fifth of the references, three trials, an
    /// eighth of the pairs, one timing each.
    pub fn quick() -> Self {
        Config {
            refs: 200_000,
            trials: 3,
            pairs: 1_000_000,
            repeats: 1,
            ..Config::default()
        }
    }

    /// The full or `--quick` sizes, changed by whatever `sizes` sets, in the interpreter `gil`.
    pub fn from_flags(quick: bool, sizes: &SizeArgs, gil: &GilArgs) -> Self {
        let base = if quick {
            Config::quick()
        } else {
            Config::default()
        };
        Config {
            refs: sizes.refs.unwrap_or(base.refs),
            trials: sizes.trials.unwrap_or(base.trials),
            holders: sizes.holders.unwrap_or(base.holders),
            pairs: sizes.pairs.unwrap_or(base.pairs),
            gil: gil.clone(),
            ..base
        }
    }

    /// Pairs per thread in a two-thread (contended) timing: a tenth, as contention is slow.
    pub fn contended_pairs(&self) -> u64 {
        (self.pairs / 10).max(1)
    }

    /// The interpreter of the "under the GIL" runs: a 3.2+ GIL unless `--free-threaded`.
    pub fn gil(&self) -> Gil {
        self.gil.build_with(Mode::Gil)
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

/// Nanoseconds per operation when `n` operations took `total`.
pub fn per_op(total: Duration, n: u64) -> f64 {
    total.as_secs_f64() * 1e9 / n.max(1) as f64
}

/// Time several variants in turns — one timing of each, then the next round — and return
/// each variant's median over `repeats` rounds. Each `variant` does one timing and returns
/// nanoseconds per pair. Taking turns means a busy spell on the machine hits every variant
/// alike instead of one block of timings; with more than one round, one untimed round first
/// warms the objects and the core (a cold first timing of the fastest variant once doubled
/// it, and with it every ratio to plain).
pub fn in_turns(repeats: usize, variants: &[&dyn Fn() -> f64]) -> Vec<f64> {
    if repeats > 1 {
        for variant in variants {
            variant();
        }
    }
    measure::in_turns(repeats, variants.len(), |i| variants[i]())
        .into_iter()
        .map(|times| measure::median_by(times, |t| *t).unwrap_or(f64::NAN))
        .collect()
}

/// Nanoseconds per pair of one timing of `work(n)`, which does `n` pairs.
pub fn per_pair(n: u64, work: impl FnOnce(u64)) -> f64 {
    per_op(measure::time(|| work(n)).1, n)
}

/// Nanoseconds per pair and per thread when two threads each do `n` pairs at once: `mine(n)` on
/// the calling thread and `theirs(n)` on a second one, released together by a barrier. One
/// timing; the slower thread's time counts.
pub fn per_pair_two_threads(n: u64, mine: impl Fn(u64) + Sync, theirs: impl Fn(u64) + Sync) -> f64 {
    let start = Barrier::new(2);
    let slower = std::thread::scope(|s| {
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
    });
    per_op(slower, n)
}

/// A time per operation in nanoseconds, with two decimals: `1.31 ns`.
pub fn fmt_ns(ns: f64) -> String {
    format!("{ns:.2} ns")
}

/// `a / b` for two times per operation, safe when `b` rounds to zero.
pub fn ratio(a: f64, b: f64) -> f64 {
    a / b.max(1e-3)
}
