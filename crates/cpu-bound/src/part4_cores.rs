//! Part 4 — the cores: what the free-threaded build can reach on this machine.

use gil_core::Mode;
use gil_core::measure::{self, fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::report::{heading, kv, note};
use gil_core::work::countdown;

use crate::setup::{Config, Trial, median, threads_label};

/// Countdown steps shared by the threads at scale 1.
pub const BASE_TOTAL: u64 = 60_000_000;

/// One thread count's median free-threaded run.
#[derive(Clone, Debug)]
pub struct Row {
    /// The median run.
    pub trial: Trial,
    /// Speedup over one thread.
    pub speedup: f64,
    /// The best a perfect machine could do: min(threads, cores).
    pub ideal: f64,
}

/// What part 4 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// CPUs this process may use.
    pub cores: usize,
    /// Countdown steps shared by the threads in every row.
    pub total: u64,
    /// One row per thread count (see [`thread_counts`]).
    pub rows: Vec<Row>,
    /// The GIL with as many threads as cores, for contrast.
    pub gil_at_cores: Trial,
}

/// The thread counts to try on `cores` CPUs: one, one per core, and twice that (which cannot
/// help); on one core, 1 and 2.
pub fn thread_counts(cores: usize) -> Vec<usize> {
    let mut counts = vec![1, cores.max(2), 2 * cores];
    counts.dedup();
    counts
}

/// Run part 4: free-threaded runs at 1, `cores` and 2 × `cores` threads, and one GIL run.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    heading("Part 4: the cores, and what free threading reaches on them");
    let cores = measure::cores();
    let total = cfg.size(BASE_TOTAL);
    let counts = thread_counts(cores);
    kv("cores found", cores);
    note(&format!(
        "Thread counts adapted to {cores} core{}: {}. Free-threaded, {} countdown steps\n\
         shared by the threads, median of {} runs. The ideal speedup is min(threads, cores).",
        if cores == 1 { "" } else { "s" },
        counts
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        fmt_count(total),
        cfg.few_repeats()
    ));
    println!();
    let free = cfg.gil(Mode::FreeThreaded);
    let gil = cfg.gil(Mode::Gil);
    let mut runs: Vec<Vec<Trial>> = vec![Vec::new(); counts.len()];
    let mut gil_runs = Vec::new();
    for _ in 0..cfg.few_repeats() {
        for (threads, runs) in counts.iter().zip(&mut runs) {
            runs.push(Trial::run(&free, *threads, total, false, countdown));
        }
        gil_runs.push(Trial::run(&gil, cores, total, false, countdown));
    }
    let one = median(&runs[0]).wall;
    let rows: Vec<Row> = counts
        .iter()
        .zip(&runs)
        .map(|(threads, runs)| {
            let trial = median(runs).clone();
            Row {
                speedup: speedup(one, trial.wall),
                ideal: (*threads).min(cores) as f64,
                trial,
            }
        })
        .collect();
    for row in &rows {
        kv(
            &format!("free-threaded, {}", threads_label(row.trial.threads)),
            format!(
                "{:>9}  speedup {}  ideal {}  ({:.0} % of ideal)",
                fmt_duration(row.trial.wall),
                fmt_ratio(row.speedup),
                fmt_ratio(row.ideal),
                100.0 * row.speedup / row.ideal
            ),
        );
    }
    let gil_at_cores = median(&gil_runs).clone();
    kv(
        &format!("GIL, {}", threads_label(cores)),
        format!(
            "{:>9}  speedup {}",
            fmt_duration(gil_at_cores.wall),
            fmt_ratio(speedup(one, gil_at_cores.wall))
        ),
    );
    if rows.iter().any(|row| row.speedup < 0.75 * row.ideal) {
        note(
            "Some rows fall well short of the ideal: other programs are probably using the\n\
             cores as well. Run the part again when the machine is idle.",
        );
    }
    note(if cores == 1 {
        "With one core nothing runs in parallel, GIL or not: free threading needs cores."
    } else {
        "Free-threaded threads scale up to the core count and no further; anything else\n\
         running on the machine (a compiler, another test) takes cores away and shows up\n\
         here at once. The GIL gets no speedup at any thread count."
    });
    Ok(Report {
        cores,
        total,
        rows,
        gil_at_cores,
    })
}
