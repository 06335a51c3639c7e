//! What every part shares: the run configuration, and one timed "race" of model threads.

use std::time::Duration;

use gil_core::measure::{self, Samples};
use gil_core::{DEFAULT_SWITCH_INTERVAL, Gil, GilGuard, GilStats, Mode, Timeline};

/// How big and how often: what the command line decided.
#[derive(Clone, Debug)]
pub struct Config {
    /// Work multiplier: 1.0 runs the default sizes, 0.5 half of them.
    pub scale: f64,
    /// Runs per measurement in part 1, whose ratio matters most; the median is shown.
    /// Parts 2–5 use half as many, rounded up.
    pub repeats: usize,
    /// Run parts 2 and 3 free-threaded instead of under the GIL (`--free-threaded`).
    pub free_threaded: bool,
    /// Switch interval of every 3.2+ GIL built, except in part 3, which sweeps its own values.
    pub switch_interval: Duration,
}

impl Default for Config {
    /// The full lesson: default sizes, five repeats, the GIL, CPython's 5 ms interval.
    fn default() -> Self {
        Config {
            scale: 1.0,
            repeats: 5,
            free_threaded: false,
            switch_interval: DEFAULT_SWITCH_INTERVAL,
        }
    }
}

impl Config {
    /// A small run for tests and `--quick`: two fifths of the work, one run per measurement.
    ///
    /// Still long enough (tens of milliseconds per run) for a waiting thread to ask for the
    /// GIL a few times at the default switch interval.
    pub fn quick() -> Self {
        Config {
            scale: 0.4,
            repeats: 1,
            ..Config::default()
        }
    }

    /// `base` units of work, scaled (at least one).
    pub fn size(&self, base: u64) -> u64 {
        ((base as f64 * self.scale).round() as u64).max(1)
    }

    /// Repeats for the parts that show trends rather than one key ratio.
    pub fn few_repeats(&self) -> usize {
        self.repeats.div_ceil(2).max(1)
    }

    /// The interpreter parts 2 and 3 run: the GIL, or none with `--free-threaded`.
    pub fn chosen_mode(&self) -> Mode {
        if self.free_threaded {
            Mode::FreeThreaded
        } else {
            Mode::Gil
        }
    }

    /// A fresh interpreter in `mode` with this run's switch interval.
    pub fn gil(&self, mode: Mode) -> Gil {
        let gil = Gil::with_mode(mode);
        gil.set_switch_interval(self.switch_interval)
            .expect("Config holds a checked, non-zero switch interval");
        gil
    }
}

/// Split `total` units of work into `threads` shares that differ by at most one and add up to
/// `total` exactly (the first `total % threads` threads take one more).
pub fn split(total: u64, threads: usize) -> Vec<u64> {
    let threads = threads.max(1) as u64;
    (0..threads)
        .map(|i| total / threads + u64::from(i < total % threads))
        .collect()
}

/// One timed run: some model threads shared a fixed amount of work.
#[derive(Clone, Debug)]
pub struct Trial {
    /// Threads that shared the work.
    pub threads: usize,
    /// Units of work the threads reported doing, summed (equals what was asked for).
    pub work_done: u64,
    /// Wall-clock time from starting the first thread to joining the last.
    pub wall: Duration,
    /// The interpreter's counters for this run alone.
    pub stats: GilStats,
    /// Who held the GIL when, if the run was recorded.
    pub timeline: Option<Timeline>,
}

impl Trial {
    /// Run `threads` model threads (`T1`…) on `gil`, splitting `total` units with [`split`];
    /// each thread calls `work(guard, share)`. Statistics are reset first, so they cover this
    /// run only; with `record` the timeline is kept too.
    pub fn run<W>(gil: &Gil, threads: usize, total: u64, record: bool, work: W) -> Trial
    where
        W: Fn(&mut GilGuard<'_>, u64) + Sync,
    {
        let shares = split(total, threads);
        gil.reset_stats();
        if record {
            gil.record_timeline();
        }
        let (done, wall) = measure::time(|| {
            gil.run_threads(threads, |i, py| {
                work(py, shares[i]);
                shares[i]
            })
        });
        Trial {
            threads,
            work_done: done.iter().sum(),
            wall,
            stats: gil.stats(),
            timeline: record.then(|| gil.take_timeline()),
        }
    }

    /// Time spent holding the GIL, summed over the threads (free-threaded: time running).
    pub fn total_held(&self) -> Duration {
        self.stats.total_held()
    }

    /// Hand-offs per second of wall time.
    pub fn switches_per_second(&self) -> f64 {
        self.stats.switches_per_second(self.wall)
    }
}

/// The run with the median wall time (the lower middle for an even count).
pub fn median(trials: &[Trial]) -> &Trial {
    let walls = Samples(trials.iter().map(|t| t.wall).collect()).median();
    trials
        .iter()
        .find(|t| t.wall == walls)
        .expect("median of a non-empty set of trials")
}

/// "1 thread", "2 threads": a thread count as a label.
pub fn threads_label(threads: usize) -> String {
    format!("{threads} thread{}", if threads == 1 { "" } else { "s" })
}
