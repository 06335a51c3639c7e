//! Part 4 — free threads and the cores.
//!
#![doc = include_str!("part4_cores.md")]
//!
//! The live run shares the free-threaded countdown by 1, one per core and two per core threads
//! ([`thread_counts`]); [`core_sweep`] runs it on the simulator for 1 to 64 idle cores, free
//! threads beside the GIL.

use std::time::Duration;

use gil_core::Mode;
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::{LineChart, Scale, Series};
use gil_core::measure::{self, fmt_duration, fmt_ratio, speedup};
use gil_core::part::{Part, Run as PartRun};
use gil_core::report::{Table, note};
use gil_core::work::countdown;

use crate::setup::{Config, Trial, measurable, middle_trial};

/// How long one free-threaded thread counts at scale 1; the step count follows from the step
/// cost.
pub const ONE_THREAD: Duration = Duration::from_millis(40);

/// The machines [`core_sweep`] simulates.
pub const SWEEP_CORES: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part4_cores.md");

/// The Python this part models.
pub const PYTHON: &str = "
import os
cores = os.process_cpu_count()        # 3.13+; os.cpu_count() before
# under python3.13t (free-threaded), the countdown shared by
# 1, cores and 2 * cores threads
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
}

impl Report {
    /// The free-threaded row with one thread per core (the second row).
    pub fn per_core_row(&self) -> &Row {
        &self.rows[1]
    }

    /// Two threads per core over one per core: the speedup of the last row over the second
    /// (`None` on one core, where the two rows are the same).
    pub fn beyond_the_cores(&self) -> Option<f64> {
        (self.rows.len() >= 3).then(|| speedup(self.rows[1].trial.wall, self.rows[2].trial.wall))
    }
}

/// The thread counts to try on `cores` CPUs: one, one per core, and twice that (which cannot
/// help); on one core, 1 and 2.
pub fn thread_counts(cores: usize) -> Vec<usize> {
    let mut counts = vec![1, cores.max(2), 2 * cores];
    counts.dedup();
    counts
}

fn report(cores: usize, total: u64, counts: &[usize], free: Vec<Trial>) -> Report {
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
    Report { cores, total, rows }
}

/// Free-threaded runs at each of [`thread_counts`] on this machine's cores, in turns.
pub fn measure(cfg: &Config) -> anyhow::Result<Report> {
    let cores = measure::cores();
    let total = cfg.steps_for(ONE_THREAD);
    let counts = thread_counts(cores);
    let free = cfg.gil(Mode::FreeThreaded)?;
    let mut runs: Vec<Vec<Trial>> = vec![Vec::new(); counts.len()];
    for _ in 0..cfg.few_repeats() {
        for (threads, runs) in counts.iter().zip(&mut runs) {
            runs.push(Trial::run(&free, *threads, total, false, countdown));
        }
    }
    let free = runs.iter().map(|r| middle_trial(r).clone()).collect();
    Ok(report(cores, total, &counts, free))
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
    report(cores, total, &counts, free)
}

/// One simulated machine of [`core_sweep`]: one thread per core, free-threaded and under the
/// GIL, each speedup over one thread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepRow {
    /// Cores of the simulated machine (and threads run on it).
    pub cores: usize,
    /// Free-threaded speedup.
    pub free: f64,
    /// Speedup under the GIL.
    pub gil: f64,
}

/// The countdown on idle simulated machines of [`SWEEP_CORES`] cores, one thread per core.
pub fn core_sweep(cfg: &Config) -> Vec<SweepRow> {
    let total = cfg.steps_for(ONE_THREAD);
    SWEEP_CORES
        .iter()
        .map(|&cores| {
            let ratio = |mode: Mode| {
                let sim = cfg.sim(mode, cores);
                let one = Trial::simulate(&sim, 1, total, cfg.step_picos).wall;
                speedup(
                    one,
                    Trial::simulate(&sim, cores, total, cfg.step_picos).wall,
                )
            };
            SweepRow {
                cores,
                free: ratio(Mode::FreeThreaded),
                gil: ratio(Mode::Gil),
            }
        })
        .collect()
}

/// Part 4 in the lesson's table.
pub struct Cores;

impl Part<Config> for Cores {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "free threads and the cores"
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        measure::cores()
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        measure(cfg)
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        // Live, the thread counts follow this machine; the simulator says what the same counts
        // would do on the machine `--cores` describes.
        let threads_for = if cx.simulated() {
            cx.sim_cores()
        } else {
            measure::cores()
        };
        Ok(simulate(cfg, threads_for, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Report>) -> anyhow::Result<()> {
        print(cx, cfg, run.figures, run.expected);
        // The sweep is the simulator's in every showing: print it once.
        if cx.simulated() || !cx.showing_simulated() {
            println!();
            let sweep = core_sweep(cfg);
            print_sweep(&sweep);
            cx.figure(&sweep_chart(&sweep))?;
        }
        Ok(())
    }
}

fn print(cx: &mut Cx, cfg: &Config, r: &Report, expected: &Report) {
    if !measurable(cfg, r.rows[0].trial.wall.min(expected.rows[0].trial.wall)) {
        return;
    }
    let live = !cx.showing_simulated();
    // The speedup's ceiling, min(threads, cores), is the claim's to state, not a column's.
    let mut table = Table::new(if live {
        &["free threads", "time", "speedup", "expected"][..]
    } else {
        &["free threads", "time", "speedup"][..]
    });
    for (row, want) in r.rows.iter().zip(&expected.rows) {
        let mut cells = vec![
            row.trial.threads.to_string(),
            fmt_duration(row.trial.wall),
            fmt_ratio(row.speedup),
        ];
        if live {
            cells.push(fmt_ratio(want.speedup));
        }
        table.push(cells);
    }
    table.print();
    if live {
        note(&format!(
            "{} cores here. Medians of {} runs, in turns; \"expected\" is the simulator's \
             figure for {} idle cores.",
            r.cores,
            cfg.few_repeats(),
            expected.cores
        ));
    }
    println!();
    match (r.beyond_the_cores(), expected.beyond_the_cores()) {
        (Some(measured), Some(want)) => {
            cx.claim(Claim {
                figure: "2 threads per core over 1 per core, speedup",
                unit: Unit::Ratio,
                measured,
                expected: want,
                low: 0.75_f64.min(want),
                high: 1.25_f64.max(want * 1.25),
                text: "Twice as many threads as cores finished no sooner: the cores were \
                       already all busy.",
            });
        }
        _ => {
            let (row, want) = (r.per_core_row(), expected.per_core_row().speedup);
            cx.claim(Claim {
                figure: "free-threaded speedup, 2 threads on 1 core",
                unit: Unit::Ratio,
                measured: row.speedup,
                expected: want,
                low: 0.75_f64.min(want),
                high: 1.3_f64.max(want),
                text: "On one core, free threads get no speedup: there is nowhere to run \
                       them at the same time.",
            });
        }
    }
}

/// The simulator's sweep as a line chart: speedup against cores.
fn sweep_chart(sweep: &[SweepRow]) -> LineChart {
    let line = |pick: fn(&SweepRow) -> f64| {
        sweep
            .iter()
            .map(move |row| (row.cores as f64, pick(row)))
            .collect::<Vec<_>>()
    };
    LineChart::new(
        "cores",
        "One thread per core on 1 to 64 idle cores (simulated)",
        "cores",
        "speedup over one thread",
    )
    .x_scale(Scale::Log2)
    .y_scale(Scale::Log2)
    .series(Series::new("free-threaded", line(|row| row.free)))
    .series(Series::new("GIL", line(|row| row.gil)))
}

/// The simulator's sweep as a table: one column per machine.
fn print_sweep(sweep: &[SweepRow]) {
    println!("  One thread per core, on idle machines:");
    let mut head = vec!["cores".to_owned()];
    head.extend(sweep.iter().map(|row| row.cores.to_string()));
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut table = Table::new(&head);
    for (name, pick) in [
        (
            "free-threaded",
            (|row: &SweepRow| row.free) as fn(&SweepRow) -> f64,
        ),
        ("GIL", |row: &SweepRow| row.gil),
    ] {
        let mut cells = vec![name.to_owned()];
        cells.extend(sweep.iter().map(|row| fmt_ratio(pick(row))));
        table.push(cells);
    }
    table.print();
}
