//! Part 4 — the cores: what the free-threaded build can reach on this machine, and what it
//! would reach on the machine `--cores` describes.

use std::time::Duration;

use gil_core::claim::{Claim, Unit, claim};
use gil_core::measure::{self, fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::report::{Table, note};
use gil_core::work::countdown;
use gil_core::{Mode, session};

use crate::setup::{Config, Trial, measurable, measured_or_simulated, median, threads_label};

/// How long one free-threaded thread counts at scale 1; the step count follows from the step cost.
pub const ONE_THREAD: Duration = Duration::from_millis(40);

/// The Python this part models.
pub const PYTHON: &str = "
import os
cores = os.process_cpu_count()        # 3.13+; os.cpu_count() before
# under python3.13t (free-threaded), the countdown shared by
# 1, cores and 2 * cores threads; then under the GIL by cores threads
";

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

/// What part 4 measured, live or on the simulator.
#[derive(Clone, Debug)]
pub struct Report {
    /// CPUs the runs had: this process's, or the simulated machine's.
    pub cores: usize,
    /// Countdown steps shared by the threads in every row.
    pub total: u64,
    /// One row per thread count (see [`thread_counts`]).
    pub rows: Vec<Row>,
    /// The GIL with as many threads as the per-core row, for contrast.
    pub gil_at_cores: Trial,
}

impl Report {
    /// The GIL's speedup with one thread per core over one free-threaded thread.
    pub fn gil_speedup(&self) -> f64 {
        speedup(self.rows[0].trial.wall, self.gil_at_cores.wall)
    }

    /// The free-threaded row with one thread per core (the second row).
    pub fn per_core_row(&self) -> &Row {
        &self.rows[1]
    }
}

/// The thread counts to try on `cores` CPUs: one, one per core, and twice that (which cannot
/// help); on one core, 1 and 2.
pub fn thread_counts(cores: usize) -> Vec<usize> {
    let mut counts = vec![1, cores.max(2), 2 * cores];
    counts.dedup();
    counts
}

fn report(cores: usize, total: u64, counts: &[usize], free: Vec<Trial>, gil: Trial) -> Report {
    let one = free[0].wall;
    let rows = counts
        .iter()
        .zip(free)
        .map(|(threads, trial)| Row {
            speedup: speedup(one, trial.wall),
            ideal: (*threads).min(cores) as f64,
            trial,
        })
        .collect();
    Report {
        cores,
        total,
        rows,
        gil_at_cores: gil,
    }
}

/// Free-threaded runs at each of [`thread_counts`] and one GIL run with one thread per core
/// (at least two), on this machine's cores, in turns.
pub fn measure(cfg: &Config) -> anyhow::Result<Report> {
    let cores = measure::cores();
    let total = cfg.steps_for(ONE_THREAD);
    let counts = thread_counts(cores);
    let free = cfg.gil(Mode::FreeThreaded)?;
    let gil = cfg.gil(Mode::Gil)?;
    let mut runs: Vec<Vec<Trial>> = vec![Vec::new(); counts.len()];
    let mut gil_runs = Vec::new();
    for _ in 0..cfg.few_repeats() {
        for (threads, runs) in counts.iter().zip(&mut runs) {
            runs.push(Trial::run(&free, *threads, total, false, countdown));
        }
        gil_runs.push(Trial::run(&gil, counts[1], total, false, countdown));
    }
    let free = runs.iter().map(|r| median(r).clone()).collect();
    Ok(report(
        cores,
        total,
        &counts,
        free,
        median(&gil_runs).clone(),
    ))
}

/// The runs [`measure()`] makes with `threads_for` cores' thread counts, simulated on an idle
/// machine with `cores` cores.
pub fn simulate(cfg: &Config, threads_for: usize, cores: usize) -> Report {
    let total = cfg.steps_for(ONE_THREAD);
    let counts = thread_counts(threads_for);
    let free_sim = cfg.sim(Mode::FreeThreaded, cores);
    let free = counts
        .iter()
        .map(|threads| Trial::simulate(&free_sim, *threads, total, cfg.step_picos))
        .collect();
    let gil = Trial::simulate(&cfg.sim(Mode::Gil, cores), counts[1], total, cfg.step_picos);
    report(cores, total, &counts, free, gil)
}

/// Run part 4: free-threaded scaling over the cores, and the GIL for contrast.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    let sim_cores = session::sim_cores();
    // Live, the thread counts follow this machine; the simulator says what the same counts
    // would do on the machine `--cores` describes.
    let threads_for = if session::simulated() {
        sim_cores
    } else {
        measure::cores()
    };
    let counts = thread_counts(threads_for);
    note(&format!(
        "{} core{}, so the free-threaded countdown of {} steps is shared by {} threads. The \
         ideal speedup is min(threads, cores).",
        threads_for,
        if threads_for == 1 { "" } else { "s" },
        fmt_count(cfg.steps_for(ONE_THREAD)),
        counts
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    ));
    println!();
    let expected = simulate(cfg, threads_for, sim_cores);
    let measured = measured_or_simulated(&expected, || measure(cfg))?;
    print(cfg, &measured, &expected);
    Ok(measured)
}

fn print(cfg: &Config, r: &Report, expected: &Report) {
    if !measurable(cfg, r.rows[0].trial.wall.min(expected.rows[0].trial.wall)) {
        return;
    }
    let mut table = Table::new(&["interpreter", "threads", "time", "speedup", "expected"]);
    for (row, want) in r.rows.iter().zip(&expected.rows) {
        table.push([
            "free-threaded".to_owned(),
            row.trial.threads.to_string(),
            fmt_duration(row.trial.wall),
            fmt_ratio(row.speedup),
            fmt_ratio(want.speedup),
        ]);
    }
    table.push([
        "GIL".to_owned(),
        r.gil_at_cores.threads.to_string(),
        fmt_duration(r.gil_at_cores.wall),
        fmt_ratio(r.gil_speedup()),
        fmt_ratio(expected.gil_speedup()),
    ]);
    table.print();
    note(&if session::simulated() {
        format!("Simulated on {} idle cores.", r.cores)
    } else {
        format!(
            "Medians of {} runs, in turns; speedups are over one free-threaded thread; \
             \"expected\" is the simulator's figure for {} idle cores.",
            cfg.few_repeats(),
            expected.cores
        )
    });
    println!();
    let row = r.per_core_row();
    let want = expected.per_core_row().speedup;
    let label = format!(
        "free-threaded speedup, {}",
        threads_label(row.trial.threads)
    );
    if want >= 1.5 {
        claim(Claim {
            figure: &label,
            unit: Unit::Ratio,
            measured: row.speedup,
            expected: want,
            low: 0.75 * want,
            high: want * 1.25,
            text: &format!(
                "Free-threaded, one thread per core came close to the ideal of {}: the \
                 threads counted on all the cores at once.",
                fmt_ratio(row.ideal)
            ),
        });
    } else {
        claim(Claim {
            figure: &label,
            unit: Unit::Ratio,
            measured: row.speedup,
            expected: want,
            low: 0.75_f64.min(want),
            high: 1.3_f64.max(want),
            text: "On one core, free threads get no speedup: there is nowhere to run them at \
                   the same time.",
        });
    }
    let want = expected.gil_speedup();
    claim(Claim {
        figure: &format!("GIL speedup, {}", threads_label(r.gil_at_cores.threads)),
        unit: Unit::Ratio,
        measured: r.gil_speedup(),
        expected: want,
        low: 0.75_f64.min(want),
        high: 1.15_f64.max(want),
        text: "The GIL got no speedup from the cores: one thread runs Python at a time, \
               however many there are.",
    });
    note(
        "In general, more threads than cores cannot add speed, since a core runs one thread \
         at a time; and anything else running on the machine (a compiler, a test suite) takes \
         cores away from free-threaded threads at once.",
    );
}
