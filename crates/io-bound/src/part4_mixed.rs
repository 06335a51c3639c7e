//! Part 4 — a mixed workload: a CPU phase, then an I/O phase, on three workers.
//!
//! Each worker counts down (pure "Python", GIL held, a check point per iteration) and then
//! waits (a sleep with the GIL released). Started together, the three CPU phases are all *in
//! progress* at once, but the GIL lets only one of them run at any instant. They take turns:
//! a waiting worker waits one switch interval, then sets a drop request, and the holder lets
//! go at its next check point — so each hold ends about one switch interval after another
//! worker started waiting. Together the three phases last about three times as long as one.
//! The I/O phases need no GIL and overlap completely. The wall time is therefore roughly
//! "all CPU work, end to end" plus "one wait", instead of three of each.
//!
//! The numbers come from each worker's own clock (phase start and end) and from the model's hold
//! times; the two charts come from the recorded timeline — the whole run, and a zoom into the
//! CPU phase where the turn-taking is visible.

use std::time::{Duration, Instant};

use gil_core::measure::{cores, fmt_count, fmt_duration, fmt_ratio, time};
use gil_core::report;
use gil_core::work::countdown;

use crate::{CHART_CELLS, Config, Overlap, print_chart};

/// The tutorial's worker count.
pub const WORKERS: usize = 3;

/// When one worker's phases began and ended, from the start of the run.
#[derive(Clone, Copy, Debug)]
pub struct Phases {
    /// Start of the countdown.
    pub cpu_start: Duration,
    /// End of the countdown = start of the wait.
    pub cpu_end: Duration,
    /// End of the wait.
    pub io_end: Duration,
}

/// What part 4 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// One CPU phase on its own, single thread, no competition.
    pub cpu_alone: Duration,
    /// One I/O phase (the sleep).
    pub io_delay: Duration,
    /// Each worker's phases.
    pub phases: Vec<Phases>,
    /// Wall-clock time of the three workers.
    pub wall: Duration,
    /// How the workers spent their time.
    pub overlap: Overlap,
    /// From the first CPU phase's start to the last one's end.
    pub cpu_span: Duration,
    /// From the first I/O phase's start to the last one's end.
    pub io_span: Duration,
    /// Whole-run chart and zoomed CPU-phase chart.
    pub charts: (String, String),
}

impl Report {
    /// Time the GIL was held ÷ the CPU phases' span: about 1.0 when they ran one at a time.
    pub fn cpu_overlap(&self) -> f64 {
        self.overlap.held.as_secs_f64() / self.cpu_span.as_secs_f64().max(1e-9)
    }

    /// Sum of the I/O phases ÷ their span: about 3.0 when they all waited at once.
    pub fn io_overlap(&self) -> f64 {
        let sum: Duration = self.phases.iter().map(|p| p.io_end - p.cpu_end).sum();
        sum.as_secs_f64() / self.io_span.as_secs_f64().max(1e-9)
    }
}

/// Run part 4 and print it.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    report::heading("Part 4 - mixed workload: CPU phase, then I/O phase, 3 workers");
    let (iters, delay) = (cfg.cpu_iters, cfg.delay);
    report::note(&format!(
        "Each worker: countdown({}) holding the GIL, then a {} sleep with it released.",
        fmt_count(iters),
        fmt_duration(delay)
    ));

    let gil = cfg.gil()?;
    let ((), cpu_alone) = time(|| gil.attach("alone", |py| countdown(py, iters)));

    let gil = cfg.gil()?;
    gil.record_timeline();
    let t0 = Instant::now();
    let (phases, wall) = time(|| {
        gil.run_threads(WORKERS, |_, py| {
            let cpu_start = t0.elapsed();
            countdown(py, iters);
            let cpu_end = t0.elapsed();
            py.allow_threads(|| std::thread::sleep(delay));
            Phases {
                cpu_start,
                cpu_end,
                io_end: t0.elapsed(),
            }
        })
    });
    let timeline = gil.take_timeline();
    let overlap = Overlap::from_stats(&gil.stats(), wall);
    let first = |f: fn(&Phases) -> Duration| phases.iter().map(f).min().unwrap_or_default();
    let last = |f: fn(&Phases) -> Duration| phases.iter().map(f).max().unwrap_or_default();
    let cpu_span = last(|p| p.cpu_end) - first(|p| p.cpu_start);
    let io_span = last(|p| p.io_end) - first(|p| p.cpu_end);

    let (start, _) = timeline.extent();
    let zoom_to = start + cpu_span.min(gil.switch_interval() * 12);
    let charts = (
        timeline.render(CHART_CELLS),
        timeline.render_window(start, zoom_to, CHART_CELLS),
    );
    let r = Report {
        cpu_alone,
        io_delay: delay,
        phases,
        wall,
        overlap,
        cpu_span,
        io_span,
        charts,
    };

    report::kv("one CPU phase alone", fmt_duration(r.cpu_alone));
    report::kv(
        "CPU phases, first start to last end",
        fmt_duration(r.cpu_span),
    );
    report::kv("CPU overlap (GIL held / span)", fmt_ratio(r.cpu_overlap()));
    report::kv(
        "I/O phases, first start to last end",
        fmt_duration(r.io_span),
    );
    report::kv("I/O overlap (sum / span)", fmt_ratio(r.io_overlap()));
    report::kv("wall, 3 workers on threads", fmt_duration(r.wall));
    report::kv(
        "wall if run one after another",
        fmt_duration((r.cpu_alone + delay) * WORKERS as u32),
    );
    report::note(
        "The whole run. A cell here spans several switch intervals, so during the CPU phase each\n\
         worker holds the GIL for only part of a cell and most cells show ░; the zoom shows turns:",
    );
    print_chart(&r.charts.0);
    report::note(
        "Zoom into the CPU phase: the workers take turns; each hold ends about one switch\n\
         interval after another worker starts waiting (later when the machine is busy):",
    );
    print_chart(&r.charts.1);
    if cfg.gil.free_threaded {
        report::note(&format!(
            "Free-threaded: the CPU phases really run at once, up to your {} cores.",
            cores()
        ));
    } else {
        report::note(&format!(
            "Threads helped the waiting, not the counting: the CPU phases of the {WORKERS} workers\n\
             were serialised (overlap {}) while their sleeps ran together (overlap {}).",
            fmt_ratio(r.cpu_overlap()),
            fmt_ratio(r.io_overlap())
        ));
    }
    Ok(r)
}
