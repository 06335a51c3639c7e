//! Part 3 — the switch interval: how often the GIL changes hands, and what that costs.

use std::time::Duration;

use gil_core::measure::{Samples, fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::report::{heading, kv, note};
use gil_core::work::countdown;

use crate::setup::{Config, Trial, median};

/// Countdown steps shared by the two threads at scale 1.
pub const BASE_TOTAL: u64 = 60_000_000;

/// The intervals compared, in microseconds: 0.1 ms, 1 ms, 5 ms (CPython's default), 50 ms.
pub const INTERVALS_US: [u64; 4] = [100, 1_000, 5_000, 50_000];

/// One interval's median run.
#[derive(Clone, Debug)]
pub struct Row {
    /// The switch interval in force.
    pub interval: Duration,
    /// The median two-thread run (recorded).
    pub trial: Trial,
    /// Median length of a hold that ended in a hand-off.
    pub median_contended_hold: Duration,
}

/// What part 3 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Countdown steps shared by the two threads in every row.
    pub total: u64,
    /// The same work done by one thread alone (the baseline).
    pub one_thread: Trial,
    /// One row per interval, in [`INTERVALS_US`] order.
    pub rows: Vec<Row>,
}

/// Run part 3: two threads at each interval, on the interpreter the flags chose.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    heading("Part 3: the switch interval");
    let total = cfg.size(BASE_TOTAL);
    let mode = cfg.chosen_mode();
    let gil = cfg.gil(mode);
    note(&format!(
        "Two threads share {} countdown steps; {}. sys.setswitchinterval\n\
         set to 0.1, 1, 5 and 50 ms in turn; median of {} runs each.",
        fmt_count(total),
        mode,
        cfg.few_repeats()
    ));
    println!();
    kv(
        "sys.getswitchinterval()",
        gil.switch_interval().as_secs_f64(),
    );
    note(
        "That is the interval as CPython reports it, in seconds, before the sweep. On a real\n\
         Python, sys.implementation.name says which interpreter runs ('cpython', 'pypy', ...),\n\
         and on 3.13+ sys._is_gil_enabled() returns False on a free-threaded build running\n\
         without its GIL.",
    );
    println!();
    let intervals = INTERVALS_US.map(Duration::from_micros);
    let mut one = Vec::new();
    let mut runs: Vec<Vec<Trial>> = vec![Vec::new(); intervals.len()];
    for _ in 0..cfg.few_repeats() {
        one.push(Trial::run(&gil, 1, total, false, countdown));
        for (interval, runs) in intervals.iter().zip(&mut runs) {
            gil.set_switch_interval(*interval)?;
            runs.push(Trial::run(&gil, 2, total, true, countdown));
        }
    }
    let one_thread = median(&one).clone();
    kv("one thread alone", fmt_duration(one_thread.wall));
    let rows: Vec<Row> = intervals
        .iter()
        .zip(&runs)
        .map(|(interval, runs)| {
            let trial = median(runs).clone();
            let holds = trial.timeline.as_ref().map(|t| t.contended_holds());
            Row {
                interval: *interval,
                median_contended_hold: Samples(holds.unwrap_or_default()).median(),
                trial,
            }
        })
        .collect();
    for row in &rows {
        kv(
            &format!("interval {}", fmt_duration(row.interval)),
            format!(
                "{:>9}  {:>6} of one thread  {:>7} switches/s  median hold {}",
                fmt_duration(row.trial.wall),
                fmt_ratio(speedup(row.trial.wall, one_thread.wall)),
                fmt_count(row.trial.switches_per_second().round() as u64),
                fmt_duration(row.median_contended_hold),
            ),
        );
    }
    let late = rows
        .iter()
        .find(|row| row.median_contended_hold > row.interval * 3 && row.trial.stats.switches > 2);
    if let (Some(row), gil_core::Mode::Gil) = (late, mode) {
        note(&format!(
            "At {} the holds lasted {}: the waiting thread was woken late. Other\n\
             programs are keeping the cores busy, and then the operating system, not the GIL,\n\
             decides when a waiter runs.",
            fmt_duration(row.interval),
            fmt_duration(row.median_contended_hold)
        ));
    }
    note(if mode == gil_core::Mode::FreeThreaded {
        "Free-threaded, there is no lock to hand over: the interval changes nothing."
    } else {
        "The interval sets the hand-off rate: about one per interval, a little less because a\n\
         timed wait always wakes a bit late. A hand-off costs a few microseconds of waking\n\
         threads, so even thousands a second add little: the total stays near one thread's\n\
         time, because the work is never done two at a time. What the interval changes is\n\
         latency: a thread that needs the GIL (to handle an I/O reply, say) may wait a whole\n\
         interval for it, the convoy effect of lesson 3."
    });
    Ok(Report {
        total,
        one_thread,
        rows,
    })
}
