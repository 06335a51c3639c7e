//! The simulator: `gil_core::sim` on an idle machine with this machine's core count, CPython's
//! mode and switch interval, and CPython's durations (the sleep, the server's delay, how long a
//! countdown ran). Deterministic: the same CPython figures give the same simulated ones.

use std::time::Duration;

use gil_core::sim::{self, Script, SimConfig, SimRun, Step};

use super::script::Header;

/// What every simulated experiment shares.
pub struct Simulator {
    /// CPython's mode and switch interval on an idle machine with this machine's cores.
    pub cfg: SimConfig,
}

impl Simulator {
    /// Match CPython's GIL (on or off) and switch interval, on an idle machine with `cores`
    /// cores (this machine's, when comparing with CPython measured here).
    pub fn new(header: &Header, cores: usize) -> anyhow::Result<Simulator> {
        Ok(Simulator {
            cfg: SimConfig::new(header.mode(), header.interval()?, cores),
        })
    }

    /// The same, at another switch interval.
    pub fn with_interval(&self, interval: Duration) -> Simulator {
        let mut cfg = self.cfg.clone();
        cfg.switch_interval = interval;
        Simulator { cfg }
    }

    /// Run `scripts`.
    pub fn run(&self, scripts: Vec<Script>) -> SimRun {
        sim::simulate(&self.cfg, scripts)
    }

    /// Seconds until the last of `scripts` finished.
    pub fn seconds(&self, scripts: Vec<Script>) -> f64 {
        self.run(scripts).elapsed.as_secs_f64()
    }

    /// `n` threads each running `steps`.
    pub fn threads(n: usize, steps: &[Step]) -> Vec<Script> {
        (0..n)
            .map(|i| Script::new(format!("T{}", i + 1), steps.to_vec()))
            .collect()
    }

    /// `n` blocking calls of `each` one after another on one thread ÷ the same calls on `n`
    /// threads at once.
    pub fn overlap(&self, n: usize, each: Duration) -> f64 {
        let one_by_one = self.seconds(vec![Script::new(
            "main",
            vec![Step::Repeat(n as u32, vec![Step::Blocking(each)])],
        )]);
        let together = self.seconds(Self::threads(n, &[Step::Blocking(each)]));
        one_by_one / together.max(1e-12)
    }
}

/// `seconds` as a duration, 0 for anything negative or not finite.
pub fn duration(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
}
