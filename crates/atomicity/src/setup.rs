//! What every part shares: the run configuration the command line builds.

use gil_core::cli::GilArgs;
use gil_core::lesson::DEFAULT_SWITCH_INTERVAL_MS;
use gil_core::{Gil, Mode};

/// How big, how often, which seed: what the command line decided.
#[derive(Clone, Debug)]
pub struct Config {
    /// Threads racing on the counter in part 2 (the classic example's 10).
    pub threads: usize,
    /// `counter += 1` iterations per thread in part 2 (the classic example's 100,000).
    pub iterations: u64,
    /// Runs of each race in part 2, taken in turns.
    pub runs: usize,
    /// Seed of the deterministic scheduler (parts 2 to 4).
    pub seed: u64,
    /// `--free-threaded` and `--switch-interval`: the interpreter of part 2's live races.
    pub gil: GilArgs,
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

/// The most increments part 2 races in one run (threads × iterations), so that even the
/// slowest race (a lock with no GIL, every increment contended) ends within a minute or so.
pub const MAX_INCREMENTS: u64 = 4_000_000;

impl Default for Config {
    /// The full lesson: the classic 10 threads × 100,000, two runs per race.
    fn default() -> Self {
        Config {
            threads: 10,
            iterations: 100_000,
            runs: 2,
            seed: DEFAULT_SEED,
            gil: GilArgs {
                free_threaded: false,
                switch_interval: DEFAULT_SWITCH_INTERVAL_MS,
            },
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

    /// Increments one run of a part 2 race does in all.
    pub fn increments(&self) -> u64 {
        self.threads as u64 * self.iterations
    }

    /// Refuse sizes that would keep part 2 running for too long, in one line.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.increments() <= MAX_INCREMENTS,
            "--threads x --iterations is {} here; part 2 races at most {MAX_INCREMENTS} \
             increments a run, so that the lesson ends within minutes",
            self.increments()
        );
        Ok(())
    }

    /// A fresh interpreter in `mode` (free-threaded instead, with `--free-threaded`) with this
    /// run's switch interval.
    pub fn gil(&self, mode: Mode) -> Gil {
        self.gil.build_with(mode)
    }
}
