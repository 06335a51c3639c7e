//! What every part shares: the run configuration the command line builds.

use std::time::Duration;

use gil_core::{DEFAULT_SWITCH_INTERVAL, Gil, Mode};

/// How big, how often, which seed: what the command line decided.
#[derive(Clone, Debug)]
pub struct Config {
    /// Threads racing on the counter in part 2 (the tutorial's 10).
    pub threads: usize,
    /// `counter += 1` iterations per thread in part 2 (the tutorial's 100,000).
    pub iterations: u64,
    /// Runs of each race in part 2; the lowest total and the runs that lost are shown.
    pub runs: usize,
    /// Seed of the deterministic scheduler in part 3.
    pub seed: u64,
    /// Run part 2's GIL rows free-threaded too (`--free-threaded`).
    pub free_threaded: bool,
    /// Switch interval of part 2's GILs (`--switch-interval`).
    pub switch_interval: Duration,
    /// Threads per hammer test in part 4.
    pub hammer_threads: usize,
    /// Operations per thread per hammer test in part 4.
    pub hammer_ops: u64,
    /// Increments per thread in part 5 (the Rust side).
    pub rust_increments: u64,
    /// Timed runs per figure in part 5; the median is shown.
    pub repeats: usize,
}

/// The scheduler seed used when `--seed` is not given.
pub const DEFAULT_SEED: u64 = 41;

impl Default for Config {
    /// The full lesson: the tutorial's 10 threads × 100,000, two runs per race.
    fn default() -> Self {
        Config {
            threads: 10,
            iterations: 100_000,
            runs: 2,
            seed: DEFAULT_SEED,
            free_threaded: false,
            switch_interval: DEFAULT_SWITCH_INTERVAL,
            hammer_threads: 4,
            hammer_ops: 120_000,
            rust_increments: 3_000_000,
            repeats: 3,
        }
    }
}

impl Config {
    /// A small run for tests and `--quick`: smaller races, one run each, well under 2 s.
    pub fn quick() -> Self {
        Config {
            threads: 4,
            iterations: 20_000,
            runs: 1,
            hammer_ops: 20_000,
            rust_increments: 100_000,
            repeats: 1,
            ..Config::default()
        }
    }

    /// A fresh interpreter in `mode` (free-threaded instead, with `--free-threaded`) with this
    /// run's switch interval.
    pub fn gil(&self, mode: Mode) -> Gil {
        let mode = if self.free_threaded {
            Mode::FreeThreaded
        } else {
            mode
        };
        let gil = Gil::with_mode(mode);
        gil.set_switch_interval(self.switch_interval)
            .expect("Config holds a checked, non-zero switch interval");
        gil
    }
}
