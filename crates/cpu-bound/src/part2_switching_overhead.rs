//! Part 2 — switching overhead: the same work shared by 1, 2, 4 and 8 threads.

use gil_core::measure::{fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::report::{heading, kv, note};
use gil_core::work::countdown;

use crate::setup::{Config, Trial, median, threads_label};

/// Countdown steps shared by all threads at scale 1.
pub const BASE_TOTAL: u64 = 60_000_000;

/// The thread counts compared.
pub const THREAD_COUNTS: [usize; 4] = [1, 2, 4, 8];

/// What part 2 measured: the median run for each thread count, in [`THREAD_COUNTS`] order.
#[derive(Clone, Debug)]
pub struct Report {
    /// Countdown steps shared by the threads in every row.
    pub total: u64,
    /// One median run per thread count.
    pub rows: Vec<Trial>,
}

/// Run part 2 on the interpreter the flags chose (the GIL unless `--free-threaded`).
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    heading("Part 2: switching overhead with more threads");
    let total = cfg.size(BASE_TOTAL);
    let mode = cfg.chosen_mode();
    let gil = cfg.gil(mode);
    note(&format!(
        "{} countdown steps shared by 1, 2, 4 and 8 threads; {}, switch interval {};\n\
         median of {} runs each.",
        fmt_count(total),
        mode,
        fmt_duration(cfg.switch_interval),
        cfg.few_repeats()
    ));
    println!();
    let mut runs: Vec<Vec<Trial>> = vec![Vec::new(); THREAD_COUNTS.len()];
    for _ in 0..cfg.few_repeats() {
        for (threads, runs) in THREAD_COUNTS.iter().zip(&mut runs) {
            runs.push(Trial::run(&gil, *threads, total, false, countdown));
        }
    }
    let rows: Vec<Trial> = runs.iter().map(|r| median(r).clone()).collect();
    let one = rows[0].wall;
    for row in &rows {
        kv(
            &threads_label(row.threads),
            format!(
                "{:>9}  {:>6} of one thread  {:>5} switches  {:>5} forced",
                fmt_duration(row.wall),
                fmt_ratio(speedup(row.wall, one)),
                fmt_count(row.stats.switches),
                fmt_count(row.stats.forced_switches),
            ),
        );
    }
    note(&format!(
        "More threads do not make GIL-bound work faster: only one of them runs at a time, and\n\
         the GIL changes hands about once per switch interval however many are waiting. The\n\
         first take counts as a switch (it moves the GIL from nobody to T1), as in CPython's\n\
         switch_number; a forced switch is a hand-off made because a waiter asked. Each\n\
         hand-off costs two thread wake-ups, a few microseconds, next to a {} hold here;\n\
         the shorter the interval, the larger that share (part 3 sweeps it).",
        fmt_duration(gil.switch_interval())
    ));
    Ok(Report { total, rows })
}
