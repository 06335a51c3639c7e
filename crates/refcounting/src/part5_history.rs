//! Part 5 — why one lock was the right call in 1992, measured against the alternative.
//!
#![doc = include_str!("part5_history.md")]
//!
//! The alternative to one global lock is a lock per object (fine-grained locking). The part
//! times an incref+decref with a per-object mutex against the plain one, and counts how many
//! times the GIL itself changed hands while two threads did millions of plain updates.

use gil_core::Timeline;
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::TimelineChart;
use gil_core::measure::{fmt_count, fmt_ratio};
use gil_core::object::{Counting, PyObject};
use gil_core::part::{Part, Run};
use gil_core::report::{Table, note};
use std::sync::Mutex;

use crate::cost::Pair;
use crate::part2_race::race;
use crate::race_sim::gil_race;
use crate::setup::{Config, fmt_ns, in_turns, pairs, per_pair, ratio};

/// What part 5 measured. With `--simulated`, the times are the model's costs in plain pairs
/// and the hand-offs come from the simulator.
#[derive(Clone, Debug)]
pub struct Report {
    /// Plain incref+decref, one thread.
    pub plain: f64,
    /// The same with a mutex per object taken around each update (fine-grained locking).
    pub locked: f64,
    /// Reference-count updates done by two threads under the GIL.
    pub updates_under_gil: u64,
    /// Times the GIL changed hands meanwhile.
    pub gil_switches: u64,
    /// Who held the GIL when during that race (live: recorded; simulated: the simulator's).
    pub timeline: Timeline,
}

impl Report {
    /// How many times dearer a pair is with a lock per object.
    pub fn locked_over_plain(&self) -> f64 {
        ratio(self.locked, self.plain)
    }

    /// Updates per GIL hand-off (all of them if the GIL never changed hands).
    pub fn updates_per_handoff(&self) -> f64 {
        self.updates_under_gil as f64 / self.gil_switches.max(1) as f64
    }
}

/// `n` incref+decref pairs, each update inside the object's own lock.
fn locked_pairs(obj: &Mutex<PyObject>, n: u64) {
    let mut n = n;
    while n > 0 {
        n = std::hint::black_box(n) - 1;
        obj.lock().unwrap_or_else(|p| p.into_inner()).incref();
        obj.lock().unwrap_or_else(|p| p.into_inner()).decref();
    }
}

/// Time plain and locked pairs in turns, then race two threads under the GIL.
pub fn measure(cfg: &Config) -> Report {
    let plain = PyObject::new("list", Counting::Plain);
    let locked = Mutex::new(PyObject::new("list", Counting::Plain));
    let times = in_turns(
        cfg.repeats,
        &[&|| per_pair(cfg.pairs, |n| pairs(&plain, n)), &|| {
            per_pair(cfg.pairs, |n| locked_pairs(&locked, n))
        }],
    );
    let refs = isize::try_from(cfg.refs.saturating_add(1)).unwrap_or(isize::MAX);
    let shared = PyObject::with_refs("list", Counting::Plain, refs);
    let gil = cfg.gil();
    gil.record_timeline();
    let gil_switches = race(&shared, &gil, cfg.refs).switches;
    Report {
        plain: times[0],
        locked: times[1],
        updates_under_gil: 2 * cfg.refs,
        gil_switches,
        timeline: gil.take_timeline(),
    }
}

/// The model's figures for `cores` cores: costs in plain pairs, hand-offs from the simulator.
pub fn simulate(cfg: &Config, cores: usize) -> Report {
    let run = gil_race(cfg, cfg.refs, cores);
    Report {
        plain: Pair::Plain.over_plain(),
        locked: Pair::LockPerObject.over_plain(),
        updates_under_gil: 2 * cfg.refs,
        gil_switches: if cfg.gil.free_threaded {
            0
        } else {
            run.stats().switches
        },
        timeline: run.timeline,
    }
}

/// Part 5 as the lesson runs it: per-object locks timed against plain updates, and the
/// GIL's hand-offs while two threads update counts.
pub struct History;

impl Part<Config> for History {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "one lock, taken rarely"
    }

    fn text(&self) -> &'static str {
        include_str!("part5_history.md")
    }

    fn live(&self, _: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(measure(cfg))
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(simulate(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: Run<'_, Report>) -> anyhow::Result<()> {
        show(cx, cfg, run.figures, run.expected)
    }
}

/// Print the two tables and the figure, and state what they support.
fn show(cx: &mut Cx, cfg: &Config, report: &Report, expected: &Report) -> anyhow::Result<()> {
    if cx.showing_simulated() {
        note(&format!(
            "The alternative to one lock, a lock per object (fine-grained locking), adds {} \
             atomic updates to each incref+decref: {} a plain pair at part 3's assumed price.",
            Pair::LockPerObject.atomic_updates(),
            fmt_ratio(ratio(report.locked, report.plain))
        ));
    } else {
        Table::new(&["incref+decref", "time", "x plain"])
            .row(["plain", &fmt_ns(report.plain), &fmt_ratio(1.0)])
            .row([
                "with a lock per object",
                &fmt_ns(report.locked),
                &fmt_ratio(report.locked_over_plain()),
            ])
            .print();
        println!();
        cx.claim(Claim {
            figure: "lock per object / plain",
            unit: Unit::Ratio,
            measured: report.locked_over_plain(),
            expected: expected.locked_over_plain(),
            low: 2.0,
            high: 500.0,
            text: "A lock per object costs at least twice the plain update on every incref \
                   and decref, even with one thread and nobody to wait for.",
        });
    }

    println!();
    let race_table = Table::new(&["two threads under the GIL", "count"])
        .row([
            "reference-count updates",
            &fmt_count(report.updates_under_gil),
        ])
        .row(["GIL hand-offs meanwhile", &fmt_count(report.gil_switches)]);
    race_table.print();
    cx.figure(
        &TimelineChart::new(
            "gil-handoffs",
            "Two threads updating counts under the GIL",
            &report.timeline,
        )
        .caption("Each thread holds the GIL for a whole switch interval of plain updates."),
    )?;
    println!();
    if cfg.gil.free_threaded {
        note("With --free-threaded there is no GIL to hand off, so no hand-offs to count.");
    } else {
        let expected_per_handoff = expected.updates_per_handoff();
        let low = (expected_per_handoff / 4.0).clamp(1.0, 1_000.0).floor();
        let text = format!(
            "The GIL changed hands at most once per {} updates: it is taken per thread \
             switch, not per update, so every count inside it can stay plain.",
            fmt_count(low as u64)
        );
        cx.claim(Claim {
            figure: "updates per GIL hand-off",
            unit: Unit::Count,
            measured: report.updates_per_handoff(),
            expected: expected_per_handoff,
            low,
            high: report.updates_under_gil as f64,
            text: &text,
        });
    }
    Ok(())
}
