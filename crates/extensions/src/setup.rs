//! What every part shares: the run configuration the command line builds.

use std::time::Duration;

use gil_core::cli::GilArgs;
use gil_core::lesson::DEFAULT_SWITCH_INTERVAL_MS;
use gil_core::sim::SimConfig;
use gil_core::{Gil, Mode};

/// How long, how many: what the command line decided.
#[derive(Clone, Debug)]
pub struct Config {
    /// `--free-threaded` and `--switch-interval`: the interpreter of parts 1 and 2 (parts 3
    /// and 4 are about the free-threaded build and always run without a GIL).
    pub gil: GilArgs,
    /// How long a live run lets a stuck thread wait before the lesson ends the deadlock.
    pub patience: Duration,
    /// How long the once-cell's initialiser spends in its import, detached (part 1).
    pub import: Duration,
    /// Worker threads (part 2).
    pub workers: usize,
    /// Native work per worker, detached (part 2).
    pub work: Duration,
    /// Threads calling into the shared object (part 3).
    pub threads: usize,
    /// Calls per thread (part 3).
    pub calls: u64,
    /// Seed of part 3's deterministic interleaving.
    pub seed: u64,
    /// The long native call of part 4.
    pub long_call: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gil: GilArgs {
                free_threaded: false,
                switch_interval: DEFAULT_SWITCH_INTERVAL_MS,
            },
            patience: Duration::from_millis(300),
            import: Duration::from_millis(20),
            workers: gil_core::measure::cores().clamp(2, 4),
            work: Duration::from_millis(20),
            threads: 2,
            calls: 50_000,
            seed: 7,
            long_call: Duration::from_millis(200),
        }
    }
}

impl Config {
    /// A small run for tests and `--quick`: shorter waits, fewer calls, well under 2 s.
    pub fn quick() -> Self {
        Config {
            patience: Duration::from_millis(150),
            calls: 10_000,
            long_call: Duration::from_millis(100),
            ..Config::default()
        }
    }

    /// Whether parts 1 and 2 run without a GIL (`--free-threaded`).
    pub fn free_threaded(&self) -> bool {
        self.gil.free_threaded
    }

    /// A fresh interpreter for parts 1 and 2.
    pub fn gil(&self) -> Gil {
        self.gil.build()
    }

    /// The simulator for parts 1 and 2, on an idle machine with `cores` cores.
    pub fn sim(&self, cores: usize) -> SimConfig {
        SimConfig::new(self.gil.mode(Mode::Gil), self.gil.interval(), cores)
    }

    /// The simulator without a GIL (part 4).
    pub fn sim_free_threaded(&self, cores: usize) -> SimConfig {
        SimConfig::new(Mode::FreeThreaded, self.gil.interval(), cores)
    }
}
