//! Part 1 — the countdown: one thread counting down 2 × N, or two threads counting N each.
//!
#![doc = include_str!("part1_countdown.md")]

use std::sync::Barrier;
use std::time::Duration;

use gil_core::claim::{self, Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::TimelineChart;
use gil_core::measure::{fmt_count, fmt_duration, speedup};
use gil_core::part::{Part, Run as PartRun};
use gil_core::report::{Table, WIDTH, kv, note};
use gil_core::work::countdown;
use gil_core::{Gil, MIN_SWITCH_WAIT, Mode, Timeline};

use crate::setup::{Config, Trial, enough_intervals, measurable, middle_trial};

/// How long the single thread counts at scale 1: ten switch intervals at the default 5 ms, so
/// the two-thread run hands the GIL over about ten times. The step count follows from the
/// step cost ([`Config::steps_for`]).
pub const ONE_THREAD: Duration = Duration::from_millis(50);

/// Switch intervals shown in the zoomed timeline.
const WINDOW_INTERVALS: u32 = 8;

/// Characters per timeline row.
const CHART_CELLS: usize = 64;

/// The Python this part models.
pub const PYTHON: &str = "
import threading

def countdown(n):
    print(threading.current_thread().name, threading.active_count())
    while n > 0:
        n -= 1

countdown(2 * N)                      # one thread does all the work
pair = [threading.Thread(target=countdown, args=(N,)) for _ in range(2)]
for t in pair: t.start()
for t in pair: t.join()               # two threads, half the work each
";

/// What part 1 measured (median runs of each kind), live or on the simulator.
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
    /// What each thread of a two-thread run saw: `(current_thread().name, active_count())`.
    pub seen: Vec<(String, usize)>,
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

    /// Median length of a GIL hold that ended in a hand-off to the other thread.
    pub fn middle_contended_hold(&self) -> Duration {
        self.gil_two.middle_contended_hold()
    }

    /// The GIL two-thread run's timeline.
    ///
    /// # Panics
    /// Never for a report made by [`measure`] or [`simulate`]: both record that run.
    pub fn timeline(&self) -> &Timeline {
        self.gil_two
            .timeline
            .as_ref()
            .expect("part 1 records the GIL two-thread run")
    }
}

/// Time both shapes of the work under the GIL and free-threaded, on this machine: the four
/// kinds of run in turns, `cfg.repeats` rounds, medians.
pub fn measure(cfg: &Config) -> anyhow::Result<Report> {
    let n = cfg.steps_for(ONE_THREAD).div_ceil(2);
    let total = 2 * n;
    let gil = cfg.gil(Mode::Gil)?;
    let free = cfg.gil(Mode::FreeThreaded)?;
    let (mut gil_one, mut gil_two, mut free_one, mut free_two) = (vec![], vec![], vec![], vec![]);
    for _ in 0..cfg.repeats.max(1) {
        gil_one.push(Trial::run(&gil, 1, total, false, countdown));
        gil_two.push(Trial::run(&gil, 2, total, true, countdown));
        free_one.push(Trial::run(&free, 1, total, false, countdown));
        free_two.push(Trial::run(&free, 2, total, false, countdown));
    }
    Ok(Report {
        n,
        seen: introspect(&gil),
        gil_one: middle_trial(&gil_one).clone(),
        gil_two: middle_trial(&gil_two).clone(),
        free_one: middle_trial(&free_one).clone(),
        free_two: middle_trial(&free_two).clone(),
    })
}

/// The same four runs on the simulator, for an idle machine with `cores` cores.
pub fn simulate(cfg: &Config, cores: usize) -> Report {
    let n = cfg.steps_for(ONE_THREAD).div_ceil(2);
    let total = 2 * n;
    let gil = cfg.sim(Mode::Gil, cores);
    let free = cfg.sim(Mode::FreeThreaded, cores);
    Report {
        n,
        // The model's own threads answer: the answers depend on no clock.
        seen: introspect(&Gil::new()),
        gil_one: Trial::simulate(&gil, 1, total, cfg.step_picos),
        gil_two: Trial::simulate(&gil, 2, total, cfg.step_picos),
        free_one: Trial::simulate(&free, 1, total, cfg.step_picos),
        free_two: Trial::simulate(&free, 2, total, cfg.step_picos),
    }
}

/// What each thread of a two-thread run sees when it asks who it is and how many threads
/// there are: `(threading.current_thread().name, threading.active_count())`.
///
/// Each thread waits for the other before it asks and again before it ends, both times with
/// the GIL released (as a thread blocked in `threading.Barrier.wait()` does), so both are
/// alive when either asks and the answer does not depend on the operating system's timing.
pub fn introspect(gil: &Gil) -> Vec<(String, usize)> {
    let (both_started, both_asked) = (Barrier::new(2), Barrier::new(2));
    gil.run_threads(2, |_, py| {
        py.detach(|| both_started.wait());
        let seen = (py.name().to_owned(), gil.active_count());
        py.detach(|| both_asked.wait());
        seen
    })
}

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part1_countdown.md");

/// Part 1 in the lesson's table.
pub struct Countdown;

impl Part<Config> for Countdown {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "one thread against two"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        2
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        measure(cfg)
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(simulate(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Report>) -> anyhow::Result<()> {
        // The model's threads answer the same in every showing: print them once.
        if cx.simulated() || !cx.showing_simulated() {
            show_introspection(&run.figures.seen);
        }
        print(cx, cfg, run.figures, run.expected)
    }
}

/// What the threads saw, in two lines: the model's answers, and CPython's one difference.
fn show_introspection(seen: &[(String, usize)]) {
    let answers: Vec<String> = seen
        .iter()
        .map(|(name, active)| format!("{name} {active}"))
        .collect();
    kv("name, active_count() in each", answers.join(", "));
    let most = seen.iter().map(|(_, active)| *active).max().unwrap_or(0);
    note(&format!(
        "(CPython prints {}: it counts the main thread too.)",
        most + 1
    ));
    println!();
}

fn print(cx: &mut Cx, cfg: &Config, r: &Report, expected: &Report) -> anyhow::Result<()> {
    // Too short live or on the simulator: either way the figures would not mean anything.
    let one_thread = r.gil_one.wall.min(r.free_one.wall);
    if !measurable(cfg, one_thread.min(expected.gil_one.wall)) {
        return Ok(());
    }
    let mut table = Table::new(&["interpreter", "threads", "work each", "time"]);
    for (name, trial, each) in [
        ("GIL", &r.gil_one, 2 * r.n),
        ("GIL", &r.gil_two, r.n),
        ("free-threaded", &r.free_one, 2 * r.n),
        ("free-threaded", &r.free_two, r.n),
    ] {
        table.push([
            name.to_owned(),
            trial.threads.to_string(),
            fmt_count(each),
            fmt_duration(trial.wall),
        ]);
    }
    table.print();
    if !cx.showing_simulated() {
        note(&format!(
            "Medians of {}, the four kinds in turns.",
            cfg.repeats.max(1)
        ));
    }
    println!();
    claim_gil_ratio(cx, r.gil_time_ratio(), expected.gil_time_ratio());
    claim_free_speedup(cx, r.free_speedup(), expected.free_speedup());

    println!();
    let timeline = r.timeline();
    let (from, end) = timeline.extent();
    let to = (from + cfg.switch_interval.max(MIN_SWITCH_WAIT) * WINDOW_INTERVALS).min(end);
    println!(
        "  Who held the GIL, the first {} of the two-thread run:",
        fmt_duration(to - from)
    );
    for line in timeline.render_window(from, to, CHART_CELLS).lines() {
        if line.chars().count() + 2 <= WIDTH {
            println!("  {line}");
        } else {
            // The chart's legend: wrapped like prose so the output stays within the width.
            note(line.trim());
        }
    }
    cx.figure(
        &TimelineChart::new(
            "countdown",
            "Two threads counting down under the GIL",
            timeline,
        )
        .window(from, to)
        .caption("Each hold ends about one switch interval after the other thread asked."),
    )?;
    println!();
    let overlap = r.gil_two.wall.min(expected.gil_two.wall);
    if enough_intervals(cfg, overlap, cfg.switch_interval.max(MIN_SWITCH_WAIT)) {
        claim_switching(cx, cfg.switch_interval, r, expected);
    }
    Ok(())
}

fn claim_gil_ratio(cx: &mut Cx, measured: f64, expected: f64) {
    cx.claim(Claim {
        figure: "GIL time, two threads / one",
        unit: Unit::Ratio,
        measured,
        expected,
        low: 0.85_f64.min(expected),
        high: 1.35_f64.max(expected),
        text: "Under the GIL the two threads took turns: as long as one thread doing all \
               the work.",
    });
}

fn claim_free_speedup(cx: &mut Cx, measured: f64, expected: f64) {
    cx.claim(claim::speedup(
        "free-threaded speedup, two threads over one",
        measured,
        expected,
        "Without a GIL both threads counted at once, on two cores.",
        "With one core, even without a GIL the two threads could not count at once: no \
         speedup. Free threading needs free cores.",
    ));
}

fn claim_switching(cx: &mut Cx, interval: Duration, r: &Report, expected: &Report) {
    let (unit, per_unit) = if interval >= Duration::from_millis(1) {
        (Unit::Millis, 1e3)
    } else {
        (Unit::Micros, 1e6)
    };
    let wait = interval.max(MIN_SWITCH_WAIT).as_secs_f64();
    let want_hold = expected.middle_contended_hold().as_secs_f64();
    let hold = r.middle_contended_hold().as_secs_f64();
    let shown = fmt_duration(interval);
    // At long enough intervals the interval sets the pace; at very short ones the time the
    // operating system takes to wake the waiter does, and the sentences must say which.
    // At long enough intervals the interval sets the pace; at very short ones the time the
    // operating system takes to wake the waiter does, and the sentence must say which.
    if want_hold <= 1.5 * wait {
        cx.claim(Claim {
            figure: "median hold before a hand-off",
            unit,
            measured: hold * per_unit,
            expected: want_hold * per_unit,
            low: (wait * 0.8).min(want_hold) * per_unit,
            high: (wait * 1.4).max(want_hold * 1.25) * per_unit,
            text: &format!(
                "A thread held the GIL about one switch interval ({shown}), the other's \
                 wait before it asked."
            ),
        });
    } else {
        cx.claim(Claim {
            figure: "median hold before a hand-off",
            unit,
            measured: hold * per_unit,
            expected: want_hold * per_unit,
            low: 1.2 * wait * per_unit,
            // Any longer hold bears the sentence out; the bound only has to be finite.
            high: (want_hold * 10.0).max(wait * 100.0) * per_unit,
            text: &format!(
                "A thread held the GIL for longer than one switch interval ({shown}): \
                 waking the waiter took the operating system longer than that."
            ),
        });
    }
}
