//! Measuring helpers every lesson shares: stopwatch, repeats, speedup, human-readable units.

use std::time::{Duration, Instant};

/// A started clock. `Stopwatch::start()` … `.elapsed()`.
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch {
    started: Instant,
}

impl Stopwatch {
    /// Start timing now.
    pub fn start() -> Self {
        Stopwatch {
            started: Instant::now(),
        }
    }

    /// Time since [`Stopwatch::start`].
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Run `f` once and return its result with its wall-clock time.
pub fn time<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let clock = Stopwatch::start();
    let result = f();
    (result, clock.elapsed())
}

/// Wall-clock times of several runs of the same thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Samples(pub Vec<Duration>);

impl Samples {
    /// The fastest run: the least disturbed by the rest of the machine.
    pub fn best(&self) -> Duration {
        self.0.iter().copied().min().unwrap_or_default()
    }

    /// The middle run (the lower middle for an even count).
    pub fn median(&self) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        sorted
            .get(sorted.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or_default()
    }

    /// The slowest run.
    pub fn worst(&self) -> Duration {
        self.0.iter().copied().max().unwrap_or_default()
    }
}

/// Time `runs` runs of `f` (at least one).
pub fn repeat(runs: usize, mut f: impl FnMut()) -> Samples {
    Samples(
        (0..runs.max(1))
            .map(|_| {
                let clock = Stopwatch::start();
                f();
                clock.elapsed()
            })
            .collect(),
    )
}

/// How many times faster `new` is than `baseline` (2.0: twice as fast; 0.5: twice as slow).
pub fn speedup(baseline: Duration, new: Duration) -> f64 {
    baseline.as_secs_f64() / new.as_secs_f64().max(1e-12)
}

/// The number of CPUs this process may use (`std::thread::available_parallelism`), at least 1.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A duration in the unit that reads best: `1.23 s`, `45.6 ms`, `789 µs`, `12 ns`.
pub fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else if secs >= 1e-6 {
        format!("{:.1} µs", secs * 1e6)
    } else {
        format!("{:.1} ns", secs * 1e9)
    }
}

/// An integer with thousands separators: `1,000,000`.
pub fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A ratio as `1.04x`.
pub fn fmt_ratio(ratio: f64) -> String {
    format!("{ratio:.2}x")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(fmt_duration(Duration::from_millis(1234)), "1.23 s");
        assert_eq!(fmt_duration(Duration::from_micros(45_600)), "45.60 ms");
        assert_eq!(fmt_duration(Duration::from_nanos(789_000)), "789.0 µs");
        assert_eq!(fmt_duration(Duration::from_nanos(12)), "12.0 ns");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1_000), "1,000");
        assert_eq!(fmt_count(1_000_000), "1,000,000");
    }

    #[test]
    fn median_and_best_of_samples() {
        let s = Samples([5, 1, 3, 9].map(Duration::from_millis).to_vec());
        assert_eq!(s.best(), Duration::from_millis(1));
        assert_eq!(s.median(), Duration::from_millis(3));
        assert_eq!(s.worst(), Duration::from_millis(9));
    }

    #[test]
    fn speedup_is_baseline_over_new() {
        let r = speedup(Duration::from_secs(2), Duration::from_secs(1));
        assert!((r - 2.0).abs() < 1e-9);
    }
}
