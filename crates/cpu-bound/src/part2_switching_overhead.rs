//! Part 2 — switching overhead: the same work shared by 1, 2, 4 and 8 threads.
//!
#![doc = include_str!("part2_switching_overhead.md")]

use std::time::Duration;

use gil_core::Mode;
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::{LineChart, Scale, Series};
use gil_core::measure::{fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::part::{Part, Run as PartRun};
use gil_core::report::{Table, kv, note};
use gil_core::work::countdown;

use crate::setup::{Config, Trial, measurable, middle_trial};

/// How long the one-thread row counts at scale 1; the step count follows from the step cost.
pub const ONE_THREAD: Duration = Duration::from_millis(80);

/// The thread counts compared.
pub const THREAD_COUNTS: [usize; 4] = [1, 2, 4, 8];

/// The Python this part models.
pub const PYTHON: &str = "
for k in (1, 2, 4, 8):                # the same work, shared by k threads
    run_in_threads(countdown, TOTAL // k, k)
";

/// What part 2 measured: the median run for each thread count, in [`THREAD_COUNTS`] order.
#[derive(Clone, Debug)]
pub struct Report {
    /// The interpreter the rows ran on.
    pub mode: Mode,
    /// Countdown steps shared by the threads in every row.
    pub total: u64,
    /// One median run per thread count.
    pub rows: Vec<Trial>,
}

impl Report {
    /// Each row's time over the one-thread row's, in row order.
    pub fn time_ratios(&self) -> Vec<f64> {
        let one = self.rows[0].wall;
        self.rows.iter().map(|r| speedup(r.wall, one)).collect()
    }

    /// The lowest and highest time ratio among the rows with more than one thread.
    pub fn ratio_range(&self) -> (f64, f64) {
        self.time_ratios()[1..]
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
                (lo.min(*r), hi.max(*r))
            })
    }
}

/// Time every thread count on this machine, the counts in turns, medians.
pub fn measure(cfg: &Config) -> anyhow::Result<Report> {
    let total = cfg.steps_for(ONE_THREAD);
    let mode = cfg.chosen_mode();
    let gil = cfg.gil(mode)?;
    let mut runs: Vec<Vec<Trial>> = vec![Vec::new(); THREAD_COUNTS.len()];
    for _ in 0..cfg.few_repeats() {
        for (threads, runs) in THREAD_COUNTS.iter().zip(&mut runs) {
            runs.push(Trial::run(&gil, *threads, total, false, countdown));
        }
    }
    let rows = runs.iter().map(|r| middle_trial(r).clone()).collect();
    Ok(Report { mode, total, rows })
}

/// The same rows on the simulator, for an idle machine with `cores` cores.
pub fn simulate(cfg: &Config, cores: usize) -> Report {
    let total = cfg.steps_for(ONE_THREAD);
    let mode = cfg.chosen_mode();
    let sim = cfg.sim(mode, cores);
    let rows = THREAD_COUNTS
        .iter()
        .map(|threads| Trial::simulate(&sim, *threads, total, cfg.step_picos))
        .collect();
    Report { mode, total, rows }
}

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part2_switching_overhead.md");

/// Part 2 in the lesson's table: the GIL, or none with `--free-threaded`.
pub struct MoreThreads;

impl Part<Config> for MoreThreads {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "more threads"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        // A waiter wakes on time only with a core of its own.
        2
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        measure(cfg)
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(simulate(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Report>) -> anyhow::Result<()> {
        if cfg.free_threaded {
            kv("interpreter", cfg.chosen_mode());
            println!();
        }
        print(cx, cfg, run.figures, run.expected);
        cx.figure(&thread_sweep(cfg, run.figures, cx.sim_cores()))
    }
}

/// The figure: time against threads, these rows beside the simulator's free-threaded run of
/// the same work (the time processes would take too, start-up aside).
fn thread_sweep(cfg: &Config, r: &Report, cores: usize) -> LineChart {
    let free = simulate(
        &Config {
            free_threaded: true,
            ..cfg.clone()
        },
        cores,
    );
    let points = |report: &Report| -> Vec<(f64, f64)> {
        report
            .rows
            .iter()
            .map(|t| (t.threads as f64, t.wall.as_secs_f64() * 1e3))
            .collect()
    };
    LineChart::new(
        "threads",
        "The same work on 1 to 8 threads",
        "threads",
        "time (ms)",
    )
    .x_scale(Scale::Log2)
    .series(Series::new(&r.mode.to_string(), points(r)))
    .series(Series::new("free-threaded, simulated", points(&free)))
    .caption("Processes share the work like free threads, plus their start-up.")
}

fn print(cx: &mut Cx, cfg: &Config, r: &Report, expected: &Report) {
    if !measurable(cfg, r.rows[0].wall.min(expected.rows[0].wall)) {
        return;
    }
    // Simulated, the expectation is the figure itself: its columns would repeat it.
    let live = !cx.showing_simulated();
    let mut head = vec!["threads", "time", "vs one"];
    if live {
        head.push("expected");
    }
    head.extend(["switches", "forced", "switches/s"]);
    if live {
        head.push("expected");
    }
    let mut table = Table::new(&head);
    let rate = |t: &Trial| fmt_count(t.switches_per_second().round() as u64);
    for (((row, ratio), want), want_row) in r
        .rows
        .iter()
        .zip(r.time_ratios())
        .zip(expected.time_ratios())
        .zip(&expected.rows)
    {
        let mut cells = vec![
            row.threads.to_string(),
            fmt_duration(row.wall),
            fmt_ratio(ratio),
        ];
        if live {
            cells.push(fmt_ratio(want));
        }
        cells.extend([
            fmt_count(row.stats.switches),
            fmt_count(row.stats.forced_switches),
            rate(row),
        ]);
        if live {
            cells.push(rate(want_row));
        }
        table.push(cells);
    }
    table.print();
    if live {
        note(&format!(
            "Medians of {} runs, the thread counts in turns; \"expected\" is the \
             simulator's figure for an idle machine.",
            cfg.few_repeats()
        ));
    }
    println!();
    let (fastest, slowest) = r.ratio_range();
    let (want_fastest, want_slowest) = expected.ratio_range();
    if r.mode == Mode::FreeThreaded {
        claim_free(cx, fastest, want_fastest);
        return;
    }
    if want_slowest <= 1.3 {
        cx.claim(Claim {
            figure: "slowest of 2-8 threads, time / one",
            unit: Unit::Ratio,
            measured: slowest,
            expected: want_slowest,
            low: 0.0,
            high: 1.4,
            text: "More threads finished no sooner, and cost little: a waiting thread \
                   sleeps.",
        });
    } else {
        cx.claim(Claim {
            figure: "slowest of 2, 4 and 8 threads, time / one",
            unit: Unit::Ratio,
            measured: slowest,
            expected: want_slowest,
            low: 1.15_f64.min(want_slowest),
            high: 3.0_f64.max(2.0 * want_slowest),
            text: &format!(
                "At a {} interval the hand-offs themselves cost time: more threads were \
                 slower than one.",
                fmt_duration(cfg.switch_interval)
            ),
        });
    }
}

fn claim_free(cx: &mut Cx, fastest: f64, expected: f64) {
    if cx.sim_cores() >= 2 {
        cx.claim(Claim {
            figure: "free-threaded, fastest time / one thread",
            unit: Unit::Ratio,
            measured: fastest,
            expected,
            low: 0.0,
            high: (expected * 1.5).max(0.8),
            text: "Free-threaded, more threads finished sooner: they counted on several \
                   cores at once (part 4 shows how far that goes).",
        });
    } else {
        cx.claim(Claim {
            figure: "free-threaded, fastest time / one thread",
            unit: Unit::Ratio,
            measured: fastest,
            expected,
            low: 0.75_f64.min(expected),
            high: 3.0_f64.max(2.0 * expected),
            text: "With one core, more free threads finished no sooner: nothing runs in \
                   parallel on a single core.",
        });
    }
}
