//! Part 3 — the switch interval: how often the GIL changes hands, and what that costs.
//!
#![doc = include_str!("part3_switch_interval.md")]

use std::time::Duration;

use gil_core::Mode;
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::{LineChart, Scale, Series};
use gil_core::measure::{fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::part::{Part, Run as PartRun};
use gil_core::report::{Table, kv, note};
use gil_core::work::countdown;

use crate::setup::{Config, MIN_INTERVALS, Trial, measurable, middle_trial};

/// How long the one-thread baseline counts at scale 1; the step count follows from the step
/// cost.
pub const ONE_THREAD: Duration = Duration::from_millis(60);

/// The intervals compared, in microseconds: 0.1 ms, 1 ms, 5 ms (CPython's default), 20 ms.
pub const INTERVALS_US: [u64; 4] = [100, 1_000, 5_000, 20_000];

/// Index of CPython's default (5 ms) in [`INTERVALS_US`].
const DEFAULT_ROW: usize = 2;

/// The Python this part models.
pub const PYTHON: &str = "
import sys
print(sys.getswitchinterval())
for seconds in (0.0001, 0.001, 0.005, 0.02):
    sys.setswitchinterval(seconds)
    run_in_two_threads(countdown, TOTAL)
";

/// One interval's median run.
#[derive(Clone, Debug)]
pub struct Row {
    /// The switch interval in force.
    pub interval: Duration,
    /// The median two-thread run (recorded).
    pub trial: Trial,
}

impl Row {
    /// Median length of a hold that ended in a hand-off.
    pub fn middle_contended_hold(&self) -> Duration {
        self.trial.middle_contended_hold()
    }
}

/// What part 3 measured, live or on the simulator.
#[derive(Clone, Debug)]
pub struct Report {
    /// The interpreter the rows ran on.
    pub mode: Mode,
    /// Countdown steps shared by the two threads in every row.
    pub total: u64,
    /// The same work done by one thread alone (the baseline).
    pub one_thread: Trial,
    /// One row per interval, in [`INTERVALS_US`] order.
    pub rows: Vec<Row>,
}

impl Report {
    /// Row `i`'s time over one thread's.
    pub fn time_ratio(&self, i: usize) -> f64 {
        speedup(self.rows[i].trial.wall, self.one_thread.wall)
    }

    /// Hand-offs per second at the shortest interval over those at the default one.
    pub fn switch_rate_gain(&self) -> f64 {
        self.rows[0].trial.switches_per_second()
            / self.rows[DEFAULT_ROW].trial.switches_per_second()
    }

    /// Switches in all rows together.
    pub fn all_switches(&self) -> u64 {
        self.rows.iter().map(|r| r.trial.stats.switches).sum()
    }
}

fn intervals() -> [Duration; 4] {
    INTERVALS_US.map(Duration::from_micros)
}

/// Two threads at each interval on this machine, with the one-thread baseline, in turns.
pub fn measure(cfg: &Config) -> anyhow::Result<Report> {
    let total = cfg.steps_for(ONE_THREAD);
    let mode = cfg.chosen_mode();
    let gil = cfg.gil(mode)?;
    let mut one = Vec::new();
    let mut runs: Vec<Vec<Trial>> = vec![Vec::new(); INTERVALS_US.len()];
    for _ in 0..cfg.few_repeats() {
        one.push(Trial::run(&gil, 1, total, false, countdown));
        for (interval, runs) in intervals().iter().zip(&mut runs) {
            gil.set_switch_interval(*interval)?;
            runs.push(Trial::run(&gil, 2, total, true, countdown));
        }
    }
    let rows = intervals()
        .iter()
        .zip(&runs)
        .map(|(interval, runs)| Row {
            interval: *interval,
            trial: middle_trial(runs).clone(),
        })
        .collect();
    Ok(Report {
        mode,
        total,
        one_thread: middle_trial(&one).clone(),
        rows,
    })
}

/// The same runs on the simulator, for an idle machine with `cores` cores.
pub fn simulate(cfg: &Config, cores: usize) -> Report {
    let total = cfg.steps_for(ONE_THREAD);
    let mode = cfg.chosen_mode();
    let one = Trial::simulate(&cfg.sim(mode, cores), 1, total, cfg.step_picos);
    let rows = intervals()
        .iter()
        .map(|interval| {
            let mut sim = cfg.sim(mode, cores);
            sim.switch_interval = *interval;
            Row {
                interval: *interval,
                trial: Trial::simulate(&sim, 2, total, cfg.step_picos),
            }
        })
        .collect();
    Report {
        mode,
        total,
        one_thread: one,
        rows,
    }
}

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part3_switch_interval.md");

/// Part 3 in the lesson's table.
pub struct SwitchInterval;

impl Part<Config> for SwitchInterval {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "the switch interval"
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
        kv("sys.getswitchinterval()", cfg.switch_interval.as_secs_f64());
        if cfg.free_threaded {
            kv("interpreter", cfg.chosen_mode());
        }
        println!();
        print(cx, cfg, run.figures, run.expected);
        for chart in interval_charts(run.figures) {
            cx.figure(&chart)?;
        }
        Ok(())
    }
}

/// The figures: switches per second and time against the interval.
fn interval_charts(r: &Report) -> [LineChart; 2] {
    let ms = |row: &Row| row.interval.as_secs_f64() * 1e3;
    let rates = r
        .rows
        .iter()
        .map(|row| (ms(row), row.trial.switches_per_second()));
    let times = r
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| (ms(row), r.time_ratio(i)));
    [
        LineChart::new(
            "interval-switches",
            "How often the GIL changed hands",
            "switch interval (ms)",
            "switches per second",
        )
        .x_scale(Scale::Log10)
        .y_scale(Scale::Log10)
        .series(Series::new("two threads", rates)),
        LineChart::new(
            "interval-time",
            "What the hand-offs cost",
            "switch interval (ms)",
            "time, two threads / one",
        )
        .x_scale(Scale::Log10)
        .series(Series::new("two threads", times)),
    ]
}

/// A row's median hold for the table; free-threaded there is no lock to hold ("-").
fn hold(mode: Mode, row: &Row) -> String {
    match mode {
        Mode::FreeThreaded => "-".to_owned(),
        _ => fmt_duration(row.middle_contended_hold()),
    }
}

fn print(cx: &mut Cx, cfg: &Config, r: &Report, expected: &Report) {
    if !measurable(cfg, r.one_thread.wall.min(expected.one_thread.wall)) {
        return;
    }
    // Simulated, the expectation is the figure itself: its columns would repeat it.
    let live = !cx.showing_simulated();
    let head: &[&str] = if live {
        &[
            "interval",
            "time / one",
            "switches/s",
            "expected",
            "median hold",
            "expected",
        ]
    } else {
        &["interval", "time / one", "switches/s", "median hold"]
    };
    let mut table = Table::new(head);
    let rate = |row: &Row| fmt_count(row.trial.switches_per_second().round() as u64);
    for (i, (row, want)) in r.rows.iter().zip(&expected.rows).enumerate() {
        let mut cells = vec![
            fmt_duration(row.interval),
            fmt_ratio(r.time_ratio(i)),
            rate(row),
        ];
        if live {
            cells.push(rate(want));
        }
        cells.push(hold(r.mode, row));
        if live {
            cells.push(hold(expected.mode, want));
        }
        table.push(cells);
    }
    table.print();
    note(&if live {
        format!(
            "One thread alone took {}. Medians of {} runs, the rows in turns; \"expected\" is \
             the simulator's figure for an idle machine.",
            fmt_duration(r.one_thread.wall),
            cfg.few_repeats()
        )
    } else {
        format!("One thread alone took {}.", fmt_duration(r.one_thread.wall))
    });
    println!();
    if r.mode == Mode::FreeThreaded {
        cx.claim(Claim {
            figure: "GIL switches at all four intervals",
            unit: Unit::Count,
            measured: r.all_switches() as f64,
            expected: expected.all_switches() as f64,
            low: 0.0,
            high: 0.0,
            text: "Free-threaded, there is no lock to hand over: the interval changed nothing.",
        });
        return;
    }
    let default_row = &r.rows[DEFAULT_ROW];
    let ran_for = default_row
        .trial
        .wall
        .min(expected.rows[DEFAULT_ROW].trial.wall);
    let long_enough = ran_for >= default_row.interval * MIN_INTERVALS;
    if long_enough {
        let want = expected.switch_rate_gain();
        cx.claim(Claim {
            figure: "switches/s, 0.1 ms interval over 5 ms",
            unit: Unit::Ratio,
            measured: r.switch_rate_gain(),
            expected: want,
            // At most one hand-off per interval: the gain cannot pass the intervals' ratio
            // by much (a fifth to spare for the first take and rounding).
            low: 5.0_f64.min(want),
            high: (1.2 * (INTERVALS_US[DEFAULT_ROW] / INTERVALS_US[0]) as f64).max(want),
            text: "A shorter interval made the GIL change hands far more often.",
        });
    } else {
        note(
            "At 5 ms the threads ran for too few intervals to compare hand-off rates; run \
             with a larger --scale.",
        );
    }
    let want = expected.time_ratio(0);
    let (low, high, text) = if want <= 1.3 {
        (
            0.85_f64.min(want),
            1.4_f64.max(want),
            "Even at 0.1 ms two threads took about as long as one: a hand-off costs \
             microseconds.",
        )
    } else {
        (
            1.15_f64.min(want),
            3.0_f64.max(2.0 * want),
            "At 0.1 ms the hand-offs themselves cost time: two threads were slower than one.",
        )
    };
    cx.claim(Claim {
        figure: "time at 0.1 ms / one thread",
        unit: Unit::Ratio,
        measured: r.time_ratio(0),
        expected: want,
        low,
        high,
        text,
    });
}
