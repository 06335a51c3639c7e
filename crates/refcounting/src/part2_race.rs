//! Part 2 — the race the GIL prevents: two threads, one object, plain counts.
//!
#![doc = include_str!("part2_race.md")]
//!
//! Live, the two threads really race on this machine's cores. With `--simulated` the same
//! race runs on a seeded schedule ([`crate::race_sim`]), and the GIL's hand-offs come
//! from the simulator ([`gil_core::sim`]), so every figure is the same on every run.

use std::sync::Barrier;

use gil_core::Gil;
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::{LineChart, Series};
use gil_core::measure::fmt_count;
use gil_core::object::{Counting, Fate, PyObject};
use gil_core::part::{Part, Run};
use gil_core::report::{Table, note};

use crate::race_sim::{self, Schedule};
use crate::setup::Config;

/// The Python this part models.
pub const PYTHON: &str = "\
shared = []
old, new = [shared] * n, []
def build():                 # thread T1: n increfs
    for _ in range(n): new.append(shared)
def drop_old():              # thread T2, at the same time: n decrefs
    for _ in range(n): old.pop()";

/// One trial: what the count did and what became of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trial {
    /// The count right after the two threads finished (it should equal `expected`).
    pub after_race: isize,
    /// True if the count reached zero during the race, while every holder still held on.
    pub freed_during_race: bool,
    /// The references that really existed then: the other holders' and the new list's.
    pub expected: isize,
    /// What became of the object once the other holders dropped their references too.
    pub fate: Fate,
    /// GIL hand-offs during the race (0 without a GIL).
    pub switches: u64,
}

impl Trial {
    /// `after_race - expected`: references gained (+) or lost (−) to the race.
    pub fn drift(&self) -> isize {
        self.after_race - self.expected
    }
}

/// All trials of one way of counting.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// How the row is labelled.
    pub label: &'static str,
    /// How the object's count was updated.
    pub counting: Counting,
    /// Whether the threads ran under a GIL or free-threaded.
    pub gil: bool,
    /// One entry per trial.
    pub trials: Vec<Trial>,
}

impl Scenario {
    /// Trials whose object was freed exactly when its last reference went.
    pub fn exact(&self) -> usize {
        self.count(|v| matches!(v, Fate::Freed))
    }

    /// Trials whose object was never freed.
    pub fn leaks(&self) -> usize {
        self.count(|v| matches!(v, Fate::Leaked { .. }))
    }

    /// Trials whose object was freed while references to it remained.
    pub fn premature_frees(&self) -> usize {
        self.count(|v| matches!(v, Fate::PrematureFree { .. }))
    }

    /// Uses after free that the model caught, over all trials.
    pub fn uses_after_free(&self) -> u64 {
        self.trials
            .iter()
            .map(|t| match t.fate {
                Fate::PrematureFree { use_after_free, .. } => use_after_free,
                _ => 0,
            })
            .sum()
    }

    fn count(&self, pick: impl Fn(&Fate) -> bool) -> usize {
        self.trials.iter().filter(|t| pick(&t.fate)).count()
    }

    /// The smallest and largest drift over the trials, as `-4,527..+4,357` (`0` when every
    /// trial was exact). Compact, so that the table stays within 80 columns up to a drift of
    /// a million either way (`-1,000,000..+1,000,000`; a live run drifted 63,465).
    pub fn drift_range(&self) -> String {
        let drifts = self.trials.iter().map(Trial::drift);
        let (low, high) = (drifts.clone().min(), drifts.max());
        match (low, high) {
            (Some(0), Some(0)) | (None, _) | (_, None) => "0".to_owned(),
            (Some(low), Some(high)) if low == high => fmt_drift(low),
            (Some(low), Some(high)) => format!("{}..{}", fmt_drift(low), fmt_drift(high)),
        }
    }
}

/// A drift with its sign and thousands separators: `+4,357`, `-510`, `0`.
fn fmt_drift(n: isize) -> String {
    match n.signum() {
        0 => "0".to_owned(),
        1 => format!("+{}", fmt_count(n.unsigned_abs() as u64)),
        _ => format!("-{}", fmt_count(n.unsigned_abs() as u64)),
    }
}

/// What part 2 measured (or, with `--simulated`, computed).
#[derive(Clone, Debug)]
pub struct Report {
    /// The two lost updates, replayed.
    pub replays: Replays,
    /// What `threading.active_count()` and the threads' names were in a live race.
    pub seen: Option<RaceRun>,
    /// References each racing thread takes or drops per trial.
    pub refs: u64,
    /// Plain counts, no GIL: the race.
    pub no_gil: Scenario,
    /// Plain counts under the GIL (free-threaded if `--free-threaded` was given).
    pub with_gil: Scenario,
    /// Atomic counts, no GIL.
    pub atomic: Scenario,
    /// Biased counts (PEP 703), no GIL.
    pub biased: Scenario,
}

impl Report {
    /// The four rows, in the order printed.
    pub fn scenarios(&self) -> [&Scenario; 4] {
        [&self.no_gil, &self.with_gil, &self.atomic, &self.biased]
    }
}

/// The two lost updates, replayed step by step on one thread (see [`forced`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replays {
    /// The lost incref: each step and the count after it.
    pub incref_steps: Vec<(&'static str, String)>,
    /// What became of its object: freed while `main` still held a reference.
    pub lost_incref: Fate,
    /// The lost decref: the count both threads read, and what both wrote.
    pub decref_read_write: (isize, isize),
    /// What became of its object: never freed.
    pub lost_decref: Fate,
}

/// Replay one lost update of each kind, step by step, on one thread. Deterministic: the same
/// on every machine and every run.
///
/// The model cannot pause a thread between the read and the write of an incref, so the replay
/// performs the updates that survive and skips the one that is overwritten.
pub fn forced() -> Replays {
    let obj = PyObject::new("list", Counting::Plain);
    let start = obj.refcnt();
    obj.incref(); // the write that survives; the other thread's identical write is lost
    let after_increfs = obj.refcnt();
    obj.decref(); // T1: del y
    let after_t1 = obj.refcnt();
    obj.decref(); // T2: del y -> zero, freed while main still refers to it
    let after_t2 = obj.audit().refcnt;
    obj.decref(); // main is done with the list and drops its reference
    let lost_incref = obj.audit().fate();
    let last = match lost_incref {
        Fate::PrematureFree { .. } => "use after free!".to_owned(),
        fate => fate.to_string(),
    };
    let incref_steps = vec![
        ("T1 reads, T2 reads", start.to_string()),
        ("T1 writes +1, T2 writes +1", after_increfs.to_string()),
        ("T1 decrefs", after_t1.to_string()),
        ("T2 decrefs: freed", after_t2.to_string()),
        ("main drops its reference", last),
    ];

    let obj = PyObject::new("list", Counting::Plain);
    obj.incref();
    obj.incref();
    let read = obj.refcnt();
    obj.decref(); // the write that survives; the other thread's identical write is lost
    let written = obj.refcnt();
    obj.decref(); // main drops its reference: every reference is gone now
    Replays {
        incref_steps,
        lost_incref,
        decref_read_write: (read, written),
        lost_decref: obj.audit().fate(),
    }
}

/// What one live race saw besides the count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaceRun {
    /// GIL hand-offs during the race (0 without a GIL).
    pub switches: u64,
    /// `threading.active_count()` of the model once both threads were running.
    pub active_threads: usize,
    /// `threading.current_thread().name` of each racing thread, in start order.
    pub names: Vec<String>,
}

/// The race: thread T1 takes `n` new references to `obj` (`new.append(obj)`, one incref
/// each) while thread T2 drops `n` old ones (`old.pop()`, one decref each), on `gil`, with a
/// check point after every update.
///
/// The threads start together: they wait for each other with the GIL released.
pub fn race(obj: &PyObject, gil: &Gil, n: u64) -> RaceRun {
    let start = Barrier::new(2);
    gil.reset_stats();
    let seen = gil.run_threads(2, |i, py| {
        py.detach(|| start.wait());
        let active = gil.active_count();
        for _ in 0..n {
            if i == 0 {
                obj.incref();
            } else {
                obj.decref();
            }
            py.check_point();
        }
        (active, py.name().to_owned())
    });
    RaceRun {
        switches: gil.stats().switches,
        active_threads: seen.iter().map(|(active, _)| *active).max().unwrap_or(0),
        names: seen.into_iter().map(|(_, name)| name).collect(),
    }
}

/// References the shared object starts with: the other holders' and the old list's.
fn references(cfg: &Config) -> isize {
    isize::try_from(cfg.holders.max(1).saturating_add(cfg.refs)).unwrap_or(isize::MAX)
}

/// One live trial: a fresh object held by `cfg.holders` references plus an old list of
/// `cfg.refs`; the race replaces the old list with a new one; then everyone lets go.
pub fn trial(cfg: &Config, counting: Counting, gil: &Gil) -> Trial {
    let expected = references(cfg);
    let obj = PyObject::with_refs("list", counting, expected);
    let switches = race(&obj, gil, cfg.refs).switches;
    let after_race = obj.audit();
    for _ in 0..expected {
        obj.decref();
    }
    Trial {
        after_race: after_race.refcnt,
        freed_during_race: after_race.freed,
        expected,
        fate: obj.audit().fate(),
        switches,
    }
}

/// One simulated trial, its schedule seeded by `seed`.
pub fn simulated_trial(cfg: &Config, schedule: Schedule, switches: u64, seed: u64) -> Trial {
    let sim = race_sim::race(cfg.holders.max(1), cfg.refs, schedule, seed);
    Trial {
        after_race: sim.after_race,
        freed_during_race: sim.freed_during_race,
        expected: references(cfg),
        fate: sim.fate,
        switches,
    }
}

/// The four ways of counting, as rows: label, counting, and whether a GIL serialises them.
fn rows(cfg: &Config) -> [(&'static str, Counting, bool); 4] {
    let gil = !cfg.gil.free_threaded;
    [
        ("no GIL, plain", Counting::Plain, false),
        (
            if gil {
                "GIL, plain"
            } else {
                "no GIL (flag), plain"
            },
            Counting::Plain,
            gil,
        ),
        ("no GIL, atomic", Counting::Atomic, false),
        ("no GIL, biased", Counting::Biased, false),
    ]
}

/// Every row's trials on the simulator, for `cores` cores.
pub fn simulate(cfg: &Config, cores: usize) -> [Scenario; 4] {
    let mut row = 0;
    rows(cfg).map(|(label, counting, gil)| {
        row += 1;
        // Each row and trial gets its own schedule.
        let seed = |trial| cfg.seed.wrapping_add(row * 1_000).wrapping_add(trial);
        let (schedule, switches) = match (counting, gil) {
            (Counting::Plain, true) => (
                Schedule::Indivisible,
                race_sim::gil_handoffs(cfg, cfg.refs, cores),
            ),
            (Counting::Plain, false) => (race_sim::plain_schedule(cfg, cores), 0),
            // An atomic update cannot be split, and both racing threads are not the biased
            // object's owner, so they use its atomic shared count.
            _ => (Schedule::Indivisible, 0),
        };
        Scenario {
            label,
            counting,
            gil,
            trials: (0..cfg.trials.max(1))
                .map(|t| simulated_trial(cfg, schedule, switches, seed(t)))
                .collect(),
        }
    })
}

/// Every row's trials live, in turns: trial 1 of each row, then trial 2 of each, and so on.
pub fn measure(cfg: &Config) -> [Scenario; 4] {
    let free = Gil::free_threaded();
    let gil = cfg.gil();
    let mut scenarios = rows(cfg).map(|(label, counting, gil)| Scenario {
        label,
        counting,
        gil,
        trials: Vec::new(),
    });
    for _ in 0..cfg.trials.max(1) {
        for s in &mut scenarios {
            let interpreter = if s.gil { &gil } else { &free };
            s.trials.push(trial(cfg, s.counting, interpreter));
        }
    }
    scenarios
}

/// Part 2 as the lesson runs it: the race live on this machine's cores, or on a seeded
/// schedule.
pub struct Race;

impl Part<Config> for Race {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "the race the GIL prevents"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        include_str!("part2_race.md")
    }

    fn cores_needed(&self, _: &Config) -> usize {
        2
    }

    fn live(&self, _: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(measured(cfg))
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(report(cfg, None, simulate(cfg, cx.sim_cores())))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: Run<'_, Report>) -> anyhow::Result<()> {
        let report = run.figures;
        note(&format!(
            "{} other holders, {} references per thread: the count must end at {}.",
            fmt_count(cfg.holders.max(1)),
            fmt_count(cfg.refs),
            fmt_count(references(cfg).unsigned_abs() as u64)
        ));
        println!();
        note("A lost incref, replayed (main holds one reference):");
        let mut steps = Table::new(&["step", "count"]);
        for (what, count) in &report.replays.incref_steps {
            steps.push([(*what).to_owned(), count.clone()]);
        }
        steps.print();
        let (read, written) = report.replays.decref_read_write;
        note(&format!(
            "A lost decref (both read {read}, both write {written}): the list is {}.",
            report.replays.lost_decref
        ));
        println!();
        let how = if cx.showing_simulated() {
            "a seeded schedule picks who steps next"
        } else {
            "real threads, nothing replayed"
        };
        note(&format!("{} trials per row ({how}):", cfg.trials.max(1)));
        // threading.active_count() and the names (report.seen) are lesson 2's aside.
        let mut table = Table::new(&[
            "counting",
            "exact",
            "leaked",
            "freed early",
            "used freed",
            "drift",
        ]);
        for s in report.scenarios() {
            table.push([
                s.label.to_owned(),
                format!("{}/{}", s.exact(), s.trials.len()),
                format!("{}/{}", s.leaks(), s.trials.len()),
                format!("{}/{}", s.premature_frees(), s.trials.len()),
                fmt_count(s.uses_after_free()),
                s.drift_range(),
            ]);
        }
        table.print();
        cx.figure(&drift_chart(report))?;
        println!();
        make_claims(cx, report, run.expected);
        Ok(())
    }
}

/// A live run's figures: what the racing threads say about themselves, and every row's
/// trials.
pub fn measured(cfg: &Config) -> Report {
    let obj = PyObject::with_refs("list", Counting::Plain, 2);
    let seen = race(&obj, &cfg.gil(), 1);
    report(cfg, Some(seen), measure(cfg))
}

/// The figures of one run: the replays (the same every time) and the race's rows.
fn report(cfg: &Config, seen: Option<RaceRun>, rows: [Scenario; 4]) -> Report {
    let [no_gil, with_gil, atomic, biased] = rows;
    Report {
        replays: forced(),
        seen,
        refs: cfg.refs,
        no_gil,
        with_gil,
        atomic,
        biased,
    }
}

/// The trials' drift as a line chart: one line per way of counting, trial by trial.
pub fn drift_chart(report: &Report) -> LineChart {
    report.scenarios().iter().fold(
        LineChart::new(
            "drift",
            "Count drift per trial",
            "trial",
            "drift (references)",
        )
        .caption("Plain counts without a lock drift; every other way of counting stays at 0."),
        |chart, s| {
            chart.series(Series::new(
                s.label,
                s.trials
                    .iter()
                    .enumerate()
                    .map(|(i, t)| ((i + 1) as f64, t.drift() as f64)),
            ))
        },
    )
}

/// Below this many references per thread a live race is over before the second thread has
/// started (starting a thread takes longer than a few thousand updates), so the no-GIL row
/// cannot be expected to show anything.
pub const RACE_VISIBLE_REFS: u64 = 100_000;

/// The sentences part 2 may say, each checked against its figure.
fn make_claims(cx: &mut Cx, report: &Report, expected: &Report) {
    let trials = report.no_gil.trials.len() as f64;
    let wrong = |s: &Scenario| (s.trials.len() - s.exact()) as f64;
    let expected_wrong = wrong(&expected.no_gil);
    if !cx.showing_simulated() && report.refs < RACE_VISIBLE_REFS {
        note(&format!(
            "With fewer than {} references per thread the race is over before the second \
             thread gets going, so the no-GIL row shows little. Try more --refs.",
            fmt_count(RACE_VISIBLE_REFS)
        ));
    } else if expected_wrong >= 1.0 {
        cx.claim(Claim {
            figure: "no-GIL trials that went wrong",
            unit: Unit::Count,
            measured: wrong(&report.no_gil),
            expected: expected_wrong,
            low: 1.0,
            high: trials,
            text: "Without a lock the plain counts went wrong.",
        });
    } else {
        note(
            "At this size the simulator expects no lost update on this many cores: the \
             threads rarely interleave mid-update. Try more --refs.",
        );
    }
    if report.with_gil.gil {
        cx.claim(Claim {
            figure: "exact trials under the GIL",
            unit: Unit::Count,
            measured: report.with_gil.exact() as f64,
            expected: expected.with_gil.exact() as f64,
            low: trials,
            high: trials,
            text: "Under the GIL they were exact: a thread lets go only at a check point, \
                   never halfway through an incref.",
        });
    }
    cx.claim(Claim {
        figure: "exact trials, atomic and biased",
        unit: Unit::Count,
        measured: (report.atomic.exact() + report.biased.exact()) as f64,
        expected: (expected.atomic.exact() + expected.biased.exact()) as f64,
        low: 2.0 * trials,
        high: 2.0 * trials,
        text: "Atomic and biased counts were exact without a lock (neither thread owns the \
               object, so both counted atomically).",
    });
}
