//! Part 1 — the countdown: one thread counting down 2 × N, or two threads counting N each.

use std::time::Duration;

use gil_core::measure::{Samples, fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::report::{heading, kv, note};
use gil_core::work::countdown;
use gil_core::{Mode, Timeline};

use crate::setup::{Config, Trial, median};

/// Countdown steps per thread at scale 1 (the single thread does twice this).
pub const BASE_N: u64 = 90_000_000;

/// Switch intervals shown in the zoomed timeline.
const WINDOW_INTERVALS: u32 = 8;

/// Characters per timeline row.
const CHART_CELLS: usize = 64;

/// What part 1 measured (median runs of each kind).
#[derive(Clone, Debug)]
pub struct Report {
    /// Countdown steps per thread in the two-thread runs.
    pub n: u64,
    /// GIL, one thread doing 2 × N.
    pub gil_one: Trial,
    /// GIL, two threads doing N each (its timeline is recorded).
    pub gil_two: Trial,
    /// Free-threaded, one thread doing 2 × N.
    pub free_one: Trial,
    /// Free-threaded, two threads doing N each.
    pub free_two: Trial,
    /// Median length of a GIL hold that ended in a hand-off to the other thread.
    pub median_contended_hold: Duration,
}

impl Report {
    /// Two GIL threads' time over one GIL thread's (1.0: same; above 1: slower).
    pub fn gil_time_ratio(&self) -> f64 {
        speedup(self.gil_two.wall, self.gil_one.wall)
    }

    /// How many times faster two free-threaded threads are than one.
    pub fn free_speedup(&self) -> f64 {
        speedup(self.free_one.wall, self.free_two.wall)
    }

    /// The GIL two-thread run's timeline.
    pub fn timeline(&self) -> &Timeline {
        self.gil_two
            .timeline
            .as_ref()
            .expect("part 1 records the GIL two-thread run")
    }
}

/// Run part 1: time both shapes of the work under the GIL and free-threaded, draw the GIL
/// timeline, and print everything.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    heading("Part 1: the countdown, one thread against two");
    let n = cfg.size(BASE_N);
    let total = 2 * n;
    let gil = cfg.gil(Mode::Gil);
    let free = cfg.gil(Mode::FreeThreaded);
    note(&format!(
        "`while n > 0: n -= 1` with a check point after every step. One thread counts down\n\
         {} steps; then two threads count {} each, so the work is the same.\n\
         Each figure is the median of {} runs, the four kinds taken in turn.",
        fmt_count(total),
        fmt_count(n),
        cfg.repeats
    ));

    let (mut gil_one, mut gil_two, mut free_one, mut free_two) = (vec![], vec![], vec![], vec![]);
    for _ in 0..cfg.repeats {
        gil_one.push(Trial::run(&gil, 1, total, false, countdown));
        gil_two.push(Trial::run(&gil, 2, total, true, countdown));
        free_one.push(Trial::run(&free, 1, total, false, countdown));
        free_two.push(Trial::run(&free, 2, total, false, countdown));
    }
    let gil_two = median(&gil_two).clone();
    let timeline = gil_two.timeline.as_ref().expect("recorded");
    let report = Report {
        n,
        gil_one: median(&gil_one).clone(),
        median_contended_hold: Samples(timeline.contended_holds()).median(),
        gil_two,
        free_one: median(&free_one).clone(),
        free_two: median(&free_two).clone(),
    };
    print(cfg, &report);
    Ok(report)
}

fn print(cfg: &Config, r: &Report) {
    println!();
    kv("GIL one thread", fmt_duration(r.gil_one.wall));
    kv("GIL two threads", fmt_duration(r.gil_two.wall));
    kv(
        "GIL time two/one",
        format!("{} as long as one thread", fmt_ratio(r.gil_time_ratio())),
    );
    kv("free-threaded one thread", fmt_duration(r.free_one.wall));
    kv("free-threaded two threads", fmt_duration(r.free_two.wall));
    kv("free-threaded speedup", fmt_ratio(r.free_speedup()));
    note(
        "Under the GIL the two threads take turns on one lock, so two cores do one core's\n\
         work. Without it both count at once. CPython's own figures, measured on another\n\
         2-core machine and not by this run: 3.11 took 1.04x the time with two threads;\n\
         3.13t (free-threaded) runs them in parallel.",
    );

    println!();
    let timeline = r.timeline();
    let (from, _) = timeline.extent();
    let to = from + cfg.switch_interval * WINDOW_INTERVALS;
    println!(
        "  Who held the GIL during the first {} of the two-thread run:",
        fmt_duration(to - from)
    );
    for line in timeline.render_window(from, to, CHART_CELLS).lines() {
        println!("  {line}");
    }
    println!();
    kv("switch interval", fmt_duration(cfg.switch_interval));
    kv(
        "GIL switches per second",
        format!("{:.0}", r.gil_two.switches_per_second()),
    );
    kv(
        "GIL median contended hold",
        fmt_duration(r.median_contended_hold),
    );
    if r.median_contended_hold > cfg.switch_interval * 2 {
        note(
            "The holds came out much longer than the interval: other programs are keeping the\n\
             cores busy, so the waiting thread was woken late. Try again on a quieter machine.",
        );
    }
    note(
        "Whichever thread arrives first takes the GIL. The other waits one switch interval,\n\
         then sets the drop request; the holder sees it at its next check point, lets go, and\n\
         waits until the other has the GIL (forced switching). So a hold lasts about one\n\
         interval: the interval is how long a waiter waits before it asks, not a time slice.\n\
         A holder that never reaches a check point keeps the GIL as long as it likes.",
    );
}
