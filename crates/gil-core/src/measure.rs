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

    /// The middle run, the lower one for an even count ([`median_by`]; zero for none).
    pub fn middle(&self) -> Duration {
        median_by(&self.0, |d| **d).copied().unwrap_or_default()
    }

    /// The slowest run.
    pub fn worst(&self) -> Duration {
        self.0.iter().copied().max().unwrap_or_default()
    }
}

/// The middle item of `items` ordered by `key`: the lower middle for an even count (as
/// `xtask/fidelity/fidelity.py` takes it, so model and CPython figures are comparable), `None`
/// for none; keys that do not compare (NaN) sort as equal to anything. The one median of the
/// course: of values `median_by(values, |v| *v)`, of a slice's runs
/// `median_by(&runs, |r| r.wall)` (a reference to the middle run).
///
/// ```
/// use gil_core::measure::median_by;
/// assert_eq!(median_by([4.0, 1.0, 3.0, 2.0], |v| *v), Some(2.0));
/// assert_eq!(median_by(&["bb", "a", "ccc"], |s| s.len()), Some(&"bb"));
/// ```
pub fn median_by<T, K: PartialOrd>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Option<T> {
    let mut sorted: Vec<T> = items.into_iter().collect();
    sorted.sort_by(|a, b| {
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let middle = sorted.len().checked_sub(1)? / 2;
    sorted.into_iter().nth(middle)
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

/// Run `variants` alternatives in turns (0, 1, 2, 0, 1, 2, …) for `rounds` rounds (at least
/// one) and return each one's results in order: `run(i)` runs alternative `i` once.
///
/// On a shared machine the load drifts; taking turns spreads the drift over all alternatives
/// instead of penalising whichever happened to run during a busy spell.
pub fn in_turns<T>(rounds: usize, variants: usize, mut run: impl FnMut(usize) -> T) -> Vec<Vec<T>> {
    let mut samples: Vec<Vec<T>> = (0..variants).map(|_| Vec::new()).collect();
    for _ in 0..rounds.max(1) {
        for (i, results) in samples.iter_mut().enumerate() {
            results.push(run(i));
        }
    }
    samples
}

/// Time several alternatives [`in_turns`] and return each one's fastest wall time. Each runs
/// once untimed first (warm caches, page faults, thread stacks).
///
/// The fastest, not the median: another program, or a host that slows a virtual core for a
/// while (seen on the course's 2-core VM with no other process running), only ever adds
/// time, and such a spell can last several runs in a row.
pub fn fastest_in_turns(runs: usize, alternatives: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    for alternative in alternatives.iter_mut() {
        alternative();
    }
    in_turns(runs, alternatives.len(), |i| time(&mut *alternatives[i]).1)
        .into_iter()
        .map(|times| Samples(times).best())
        .collect()
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

/// The most intervals that were open at the same moment (touching intervals do not overlap).
///
/// Lessons and exercises use it to show how many threads or processes really ran at once.
pub fn peak_overlap<T: Ord + Copy>(spans: impl IntoIterator<Item = (T, T)>) -> usize {
    let mut edges: Vec<(T, i32)> = spans
        .into_iter()
        .flat_map(|(start, end)| [(start, 1), (end, -1)])
        .collect();
    // At equal times, ends (-1) sort before starts (+1).
    edges.sort();
    let (mut open, mut peak) = (0i32, 0i32);
    for (_, step) in edges {
        open += step;
        peak = peak.max(open);
    }
    usize::try_from(peak).unwrap_or(0)
}

/// SplitMix64: a tiny, well-mixed pseudo-random generator, so a seed gives the same sequence
/// on every machine (seeded schedules, the grader's parameter draws).
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the tiny modulo bias does not matter here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
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
    fn samples_give_their_best_middle_and_worst() {
        let s = Samples([5, 1, 3, 9].map(Duration::from_millis).to_vec());
        assert_eq!(s.best(), Duration::from_millis(1));
        assert_eq!(s.middle(), Duration::from_millis(3));
        assert_eq!(s.worst(), Duration::from_millis(9));
        assert_eq!(
            median_by([4.0, 1.0, 3.0, 2.0], |v| *v),
            Some(2.0),
            "the lower middle"
        );
        assert_eq!(median_by([5.0, 1.0, 3.0].iter(), |v| **v), Some(&3.0));
        assert_eq!(median_by(Vec::<f64>::new(), |v| *v), None);
        assert_eq!(median_by(&["bb", "a", "ccc"], |s| s.len()), Some(&"bb"));
    }

    #[test]
    fn peak_overlap_counts_intervals_open_together() {
        assert_eq!(peak_overlap([(0, 10), (5, 15), (12, 20)]), 2);
        assert_eq!(
            peak_overlap([(0, 5), (5, 10)]),
            1,
            "touching is not overlapping"
        );
        assert_eq!(peak_overlap(Vec::<(u8, u8)>::new()), 0);
    }

    #[test]
    fn splitmix_is_deterministic_per_seed() {
        let (mut a, mut b) = (SplitMix64(7), SplitMix64(7));
        assert_eq!(a.next_u64(), b.next_u64());
        assert!(SplitMix64(8).below(10) < 10);
    }

    #[test]
    fn speedup_is_baseline_over_new() {
        let r = speedup(Duration::from_secs(2), Duration::from_secs(1));
        assert!((r - 2.0).abs() < 1e-9);
    }
}
