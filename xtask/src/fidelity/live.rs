//! The live model: gil-core's lock on this machine's threads, sized by duration.
//!
//! A CPython countdown step costs tens of nanoseconds, the model's well under one, so the model
//! first times its own step and then counts down for as long as CPython's loop took. Everything
//! else (threads, sleeps, server delays, round trips, switch intervals) is taken over from
//! CPython's figures as is.

use std::time::Duration;

use gil_core::measure::time;
use gil_core::work::countdown;
use gil_core::{Gil, Mode};

use super::script::Header;

/// The model side: a fresh interpreter per experiment, like CPython's, and a countdown timed
/// once so its loops can run as long as CPython's did.
pub struct LiveModel {
    /// CPython's mode: the GIL, or free-threaded when CPython's GIL is disabled.
    pub mode: Mode,
    /// CPython's switch interval.
    pub interval: Duration,
    /// Seconds one model countdown step takes (see [`calibrate_step`]).
    pub step: f64,
}

impl LiveModel {
    /// Match CPython's GIL (on or off) and switch interval, and time the countdown.
    pub fn new(header: &Header) -> anyhow::Result<LiveModel> {
        Ok(LiveModel {
            mode: header.mode(),
            interval: header.interval()?,
            step: calibrate_step(),
        })
    }

    /// A fresh GIL in CPython's mode with CPython's switch interval.
    pub fn gil(&self) -> anyhow::Result<Gil> {
        self.gil_in(self.mode)
    }

    /// A fresh GIL in `mode` with CPython's switch interval.
    pub fn gil_in(&self, mode: Mode) -> anyhow::Result<Gil> {
        let gil = Gil::with_mode(mode);
        gil.set_switch_interval(self.interval)?;
        Ok(gil)
    }

    /// Countdown steps that take `seconds` on the model.
    pub fn steps_for(&self, seconds: f64) -> u64 {
        ((seconds / self.step.max(1e-12)) as u64).max(1)
    }

    /// Steps a spinning thread counts down between two looks at its stop flag (~20 µs).
    pub fn chunk(&self) -> u64 {
        self.steps_for(20e-6)
    }

    /// `n` blocking calls (each inside `detach`) one after another on one thread ÷ the
    /// same calls on `n` threads at once: the median speedup of `repeats` tries.
    pub fn overlap(
        &self,
        n: usize,
        repeats: usize,
        call: impl Fn(usize) -> anyhow::Result<()> + Sync,
    ) -> anyhow::Result<f64> {
        let gil = self.gil()?;
        let speedups = (0..repeats.max(1))
            .map(|_| {
                let (sequential, one_by_one) =
                    time(|| gil.attach("main", |g| (0..n).try_for_each(|i| g.detach(|| call(i)))));
                let (threaded, together) = time(|| {
                    gil.run_threads(n, |i, g| g.detach(|| call(i)))
                        .into_iter()
                        .collect::<anyhow::Result<()>>()
                });
                sequential?;
                threaded?;
                Ok(one_by_one.as_secs_f64() / together.as_secs_f64().max(1e-9))
            })
            .collect::<anyhow::Result<Vec<f64>>>()?;
        Ok(median_by(&speedups, |v| **v).copied().unwrap_or(f64::NAN))
    }
}

/// Seconds `f` took.
pub fn wall<R>(f: impl FnOnce() -> R) -> f64 {
    time(f).1.as_secs_f64()
}

/// The course's one median (the lower middle for an even count, as `fidelity.py` takes it).
pub use gil_core::measure::median_by;

/// Seconds one model countdown step takes: the best of a few runs of at least 20 ms each.
fn calibrate_step() -> f64 {
    let gil = Gil::new();
    gil.attach("calibrate", |g| {
        let mut steps = 1_000_000u64;
        loop {
            let (_, took) = time(|| countdown(g, steps));
            if took >= Duration::from_millis(20) || steps >= 1 << 36 {
                let best = (0..3)
                    .map(|_| time(|| countdown(g, steps)).1)
                    .min()
                    .unwrap_or(took);
                return best.as_secs_f64() / steps as f64;
            }
            steps *= 4;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_matches_the_scripts() {
        assert_eq!(median_by([3.0, 1.0, 2.0], |v| *v), Some(2.0));
        assert_eq!(median_by([4.0, 1.0, 3.0, 2.0], |v| *v), Some(2.0));
        assert_eq!(median_by(Vec::<f64>::new(), |v| *v), None);
    }
}
