//! Part 1 — simulated downloads: sleeping threads do not need the GIL.
//!
//! A "download" here is a sleep inside [`detach`](gil_core::GilGuard::detach),
//! which is what `time.sleep` does in CPython: drop the GIL, sleep, take it back. One thread
//! downloading N files waits N times in a row. N threads each wait once, all at the same time,
//! because none of them holds the GIL while it waits. The speedup is close to N on any number of
//! cores: waiting uses no CPU.
//!
//! The two ways take turns (one after another, then on threads, and again), and the figures are
//! the medians, so a moment of load on the machine does not land on one side only.

use std::time::Duration;

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::TimelineChart;
use gil_core::measure::{fmt_duration, median_by, speedup, time};
use gil_core::part::{Part, Run as PartRun};
use gil_core::sim::{Script, Step, simulate};
use gil_core::{GilGuard, Timeline, report};

use crate::{Config, Overlap};

/// The Python this part models.
pub const PYTHON: &str = "
def download(n):
    time.sleep(0.05)         # releases the GIL
    return f'file {n} downloaded'

for n in range(4):           # one after another
    download(n)
threads = [Thread(target=download, args=(n,)) for n in range(4)]
for t in threads: t.start()  # all at once
for t in threads: t.join()";

/// The "Python" a download runs around its wait, as the simulator sees it.
const PYTHON_AROUND_A_WAIT: Duration = Duration::from_micros(5);

/// What part 1 measured (or simulated).
#[derive(Clone, Debug)]
pub struct Report {
    /// Number of downloads.
    pub downloads: usize,
    /// Length of one download.
    pub delay: Duration,
    /// All downloads one after another, on one thread (median).
    pub sequential: Duration,
    /// One thread per download (median).
    pub threaded: Duration,
    /// How the threaded run spent its time (the run with the median wall time).
    pub overlap: Overlap,
    /// `threading.active_count()` as the last download started waiting: threads attached to
    /// the interpreter then (the model has no main thread attached meanwhile).
    pub active_count: usize,
    /// `threading.current_thread().name` of each download thread.
    pub thread_names: Vec<String>,
    /// Who held the GIL when in the threaded run (the median one, live).
    pub timeline: Timeline,
}

impl Report {
    /// `sequential / threaded`: ideally the number of downloads.
    pub fn speedup(&self) -> f64 {
        speedup(self.sequential, self.threaded)
    }
}

/// Download file `i`: one blocking wait with the GIL released. Returns what "arrived".
fn download(py: &mut GilGuard<'_>, i: usize, delay: Duration) -> String {
    py.detach(|| std::thread::sleep(delay));
    format!("file {i} downloaded")
}

/// A download on a thread of its own, noting what `threading` would report from inside it.
fn threaded_download(
    py: &mut GilGuard<'_>,
    gil: &gil_core::Gil,
    i: usize,
    delay: Duration,
) -> (String, usize, String) {
    let name = py.name().to_owned();
    let active = gil.active_count();
    (download(py, i, delay), active, name)
}

/// Time the downloads live, the two ways taking turns.
pub fn measure(cfg: &Config) -> anyhow::Result<Report> {
    let (n, delay) = (cfg.downloads, cfg.delay);
    let mut sequential = Vec::new();
    let mut threaded: Vec<(Duration, Overlap, Timeline)> = Vec::new();
    let (mut active_count, mut thread_names) = (0, Vec::new());
    for _ in 0..cfg.rounds(delay * (n + 1) as u32) {
        let gil = cfg.gil();
        let (got, took) = time(|| {
            gil.attach("main", |py| {
                (0..n).map(|i| download(py, i, delay)).collect::<Vec<_>>()
            })
        });
        anyhow::ensure!(got.len() == n, "the sequential run lost a download");
        sequential.push(took);

        let gil = cfg.gil();
        gil.record_timeline();
        let (got, took) =
            time(|| gil.run_threads(n, |i, py| threaded_download(py, &gil, i, delay)));
        anyhow::ensure!(got.len() == n, "the threaded run lost a download");
        threaded.push((
            took,
            Overlap::from_stats(&gil.stats(), took),
            gil.take_timeline(),
        ));
        active_count = got.iter().map(|(_, active, _)| *active).max().unwrap_or(0);
        thread_names = got.into_iter().map(|(_, _, name)| name).collect();
    }
    threaded.sort_by_key(|(took, _, _)| *took);
    let (threaded, overlap, timeline) = threaded.swap_remove(threaded.len() / 2);
    Ok(Report {
        downloads: n,
        delay,
        sequential: median_by(sequential, |d| *d).unwrap_or_default(),
        threaded,
        overlap,
        active_count,
        thread_names,
        timeline,
    })
}

/// The same downloads on the simulator (an idle machine with the session's cores).
pub fn simulated(cfg: &Config, cores: usize) -> Report {
    let (n, delay) = (cfg.downloads, cfg.delay);
    let one = || vec![Step::Bytecode(PYTHON_AROUND_A_WAIT), Step::Blocking(delay)];
    let alone = simulate(
        &cfg.sim(cores),
        vec![Script::new("main", vec![Step::Repeat(n as u32, one())])],
    );
    let threads = simulate(
        &cfg.sim(cores),
        (1..=n)
            .map(|i| Script::new(format!("T{i}"), one()))
            .collect(),
    );
    Report {
        downloads: n,
        delay,
        sequential: alone.elapsed,
        threaded: threads.elapsed,
        overlap: Overlap::from_stats(threads.stats(), threads.elapsed),
        active_count: n,
        thread_names: threads
            .stats()
            .threads
            .iter()
            .map(|t| t.name.clone())
            .collect(),
        timeline: threads.timeline.clone(),
    }
}

/// Part 1 in the lesson's table.
pub struct Downloads;

impl Part<Config> for Downloads {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "downloads that sleep"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        1
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        measure(cfg)
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(simulated(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Report>) -> anyhow::Result<()> {
        show(cx, cfg, run.figures, run.expected)
    }
}

/// Print the figures of `r` and the claims they support, beside the simulator's `expected`.
pub fn show(cx: &mut Cx, cfg: &Config, r: &Report, expected: &Report) -> anyhow::Result<()> {
    let n = r.downloads;
    if !cx.showing_simulated() && cfg.rounds(r.delay * (n + 1) as u32) > 1 {
        report::note(&format!(
            "Each way runs {} times, taking turns; the figures are medians.",
            cfg.rounds(r.delay * (n + 1) as u32)
        ));
    }
    report::kv(
        &format!("{n} downloads of {}, one by one", fmt_duration(r.delay)),
        fmt_duration(r.sequential),
    );
    report::kv(&format!("on {n} threads"), fmt_duration(r.threaded));
    let speedup = expected.speedup();
    cx.claim(Claim {
        figure: "speedup on threads",
        unit: Unit::Ratio,
        measured: r.speedup(),
        expected: speedup,
        low: speedup * 0.85,
        high: speedup * 1.1 + 0.05,
        text: &format!("The {n} waits overlapped: {n} threads took about one download's time."),
    });
    let held = expected.overlap.held_share() * 100.0;
    cx.claim(Claim {
        figure: "share of the threads' time holding the GIL",
        unit: Unit::Percent,
        measured: r.overlap.held_share() * 100.0,
        expected: held,
        low: 0.0,
        high: (held * 2.0).max(5.0),
        text: "A sleeping thread does not hold the GIL.",
    });
    cx.figure(
        &TimelineChart::new(
            "downloads",
            &format!("{n} downloads on {n} threads"),
            &r.timeline,
        )
        .caption("Each thread detaches for its whole download; the waits overlap."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_downloads_overlap_completely() {
        let cfg = Config::quick(crate::default_gil_args());
        let r = simulated(&cfg, 2);
        assert_eq!(r.downloads, 3);
        assert!(r.sequential >= r.delay * 3, "{r:?}");
        assert!(r.threaded >= r.delay && r.threaded < r.delay + Duration::from_millis(1));
        assert!(r.speedup() > 2.9 && r.speedup() <= 3.0, "{}", r.speedup());
        assert!(r.overlap.held_share() < 0.01, "{r:?}");
        // Deterministic: the same inputs give exactly the same figures.
        assert_eq!(r.sequential, Duration::from_micros(90_090));
        assert_eq!(r.threaded, Duration::from_micros(30_090));
    }
}
