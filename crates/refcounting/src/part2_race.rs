//! Part 2 — the race the GIL prevents: two threads, one object, plain counts.
//!
//! One thread builds a new list of references to a shared object (one incref each) while
//! another clears an old list of as many references (one decref each). When both are done the
//! count must be back where it started.

use std::sync::Barrier;
use std::time::Duration;

use gil_core::Gil;
use gil_core::measure::{self, fmt_count, fmt_duration};
use gil_core::object::{Counting, Fate, PyObject};
use gil_core::report::{heading, kv, note};

use crate::setup::Config;

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
    pub verdict: Fate,
    /// GIL hand-offs during the race (0 without a GIL).
    pub switches: u64,
    /// Wall time of the race.
    pub wall: Duration,
}

impl Trial {
    /// `after_race - expected`: references gained (+) or lost (−) to the race.
    pub fn drift(&self) -> isize {
        self.after_race - self.expected
    }

    /// What happened, in a few words.
    pub fn story(&self) -> String {
        if self.freed_during_race {
            return format!("count hit 0 during the race: {}", self.verdict);
        }
        format!(
            "count after race {} (drift {:+}), then {}",
            fmt_signed(self.after_race),
            self.drift(),
            self.verdict
        )
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
            .map(|t| match t.verdict {
                Fate::PrematureFree { use_after_free, .. } => use_after_free,
                _ => 0,
            })
            .sum()
    }

    fn count(&self, pick: impl Fn(&Fate) -> bool) -> usize {
        self.trials.iter().filter(|t| pick(&t.verdict)).count()
    }
}

/// What part 2 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// The replayed lost incref: the object is freed while `main` still holds a reference.
    pub forced_lost_incref: Fate,
    /// The replayed lost decref: the object is never freed.
    pub forced_lost_decref: Fate,
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

/// Replay one lost update of each kind, step by step, on one thread, and return what became
/// of the two objects. Deterministic: the same on every machine and every run.
///
/// The model cannot pause a thread between the read and the write of an incref, so the replay
/// performs the updates that survive and skips the one that is overwritten.
pub fn forced() -> (Fate, Fate) {
    let steps = |lines: &[(&str, isize)]| {
        for (what, count) in lines {
            kv(&format!("  {what}"), format!("count {count}"));
        }
    };

    println!();
    note("A lost incref, replayed (main holds the one reference that should keep the list alive):");
    let obj = PyObject::new("list", Counting::Plain);
    let start = obj.refcnt();
    obj.incref(); // the write that survives; the other thread's identical write is lost
    let after_increfs = obj.refcnt();
    obj.decref(); // T1: del y
    let after_t1 = obj.refcnt();
    obj.decref(); // T2: del y -> zero, freed while main still refers to it
    steps(&[
        ("T1 reads, T2 reads", start),
        ("T1 writes +1, T2 writes +1", after_increfs),
        ("T1 decrefs", after_t1),
        ("T2 decrefs", obj.audit().refcnt),
    ]);
    obj.decref(); // main is done with the list and drops its reference
    kv("  main drops its reference", "use after free caught");
    let lost_incref = obj.audit().fate();
    kv("lost incref gives", lost_incref);

    println!();
    note("A lost decref, replayed (T1 and T2 each hold a reference besides main's):");
    let obj = PyObject::new("list", Counting::Plain);
    obj.incref();
    obj.incref();
    let start = obj.refcnt();
    obj.decref(); // the write that survives; the other thread's identical write is lost
    steps(&[
        ("T1 reads, T2 reads", start),
        ("T1 writes -1, T2 writes -1", obj.refcnt()),
    ]);
    obj.decref(); // main drops its reference: every reference is gone now
    kv(
        "  main drops its reference",
        format!("count {}", obj.refcnt()),
    );
    let lost_decref = obj.audit().fate();
    kv("lost decref gives", lost_decref);
    (lost_incref, lost_decref)
}

/// The race: thread T1 takes `n` new references to `obj` (`new.append(obj)`, one incref
/// each) while thread T2 drops `n` old ones (`old.clear()`, one decref each), on `gil`, with a
/// check point after every update. Returns the number of GIL hand-offs.
///
/// The threads start together: they wait for each other with the GIL released.
pub fn race(obj: &PyObject, gil: &Gil, n: u64) -> u64 {
    let start = Barrier::new(2);
    gil.reset_stats();
    gil.run_threads(2, |i, py| {
        py.allow_threads(|| start.wait());
        for _ in 0..n {
            if i == 0 {
                obj.incref();
            } else {
                obj.decref();
            }
            py.check_point();
        }
    });
    gil.stats().switches
}

/// One trial: a fresh object held by `cfg.holders` references plus an old list of
/// `cfg.refs`; the race replaces the old list with a new one; then everyone lets go.
pub fn trial(cfg: &Config, counting: Counting, gil: &Gil) -> Trial {
    let expected = (cfg.holders.max(1) + cfg.refs) as isize;
    let obj = PyObject::with_refs("list", counting, expected);
    let (switches, wall) = measure::time(|| race(&obj, gil, cfg.refs));
    let after_race = obj.audit();
    for _ in 0..expected {
        obj.decref();
    }
    Trial {
        after_race: after_race.refcnt,
        freed_during_race: after_race.freed,
        expected,
        verdict: obj.audit().fate(),
        switches,
        wall,
    }
}

fn scenario(cfg: &Config, label: &'static str, counting: Counting, gil: &Gil) -> Scenario {
    Scenario {
        label,
        counting,
        gil: !gil.is_free_threaded(),
        trials: (0..cfg.trials.max(1))
            .map(|_| trial(cfg, counting, gil))
            .collect(),
    }
}

/// Run part 2: race plain counts with no GIL, then under the GIL, then atomic and biased.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    heading("Part 2 — the race the GIL prevents");
    note(&format!(
        "A shared object is referenced by {holders} other holders and by an old list of {n}\n\
         references. Thread T1 builds a new list of {n} references to it (one incref each)\n\
         while thread T2 clears the old one (one decref each). Afterwards the count must be\n\
         {total}, and when everyone lets go it must reach 0 exactly once. The default build's\n\
         Py_INCREF is `ob_refcnt++`: a read, then a write, and the model does just that.\n\
         Trials of each kind: {trials}.",
        holders = fmt_count(cfg.holders.max(1)),
        n = fmt_count(cfg.refs),
        total = fmt_count(cfg.holders.max(1) + cfg.refs),
        trials = cfg.trials.max(1),
    ));
    if measure::cores() < 2 {
        note(
            "This machine gives the process one core: the threads can still race when the\n\
             OS switches between them mid-update, but much more rarely than on two cores.",
        );
    }

    let (forced_lost_incref, forced_lost_decref) = forced();
    println!();
    note("Now for real: the two threads race and nobody replays anything.");

    let free = Gil::free_threaded();
    let gil = cfg.gil()?;
    let report = Report {
        forced_lost_incref,
        forced_lost_decref,
        refs: cfg.refs,
        no_gil: scenario(cfg, "no GIL, plain counts", Counting::Plain, &free),
        with_gil: scenario(
            cfg,
            if gil.is_free_threaded() {
                "--free-threaded, plain counts"
            } else {
                "GIL, plain counts"
            },
            Counting::Plain,
            &gil,
        ),
        atomic: scenario(cfg, "no GIL, atomic counts", Counting::Atomic, &free),
        biased: scenario(cfg, "no GIL, biased counts", Counting::Biased, &free),
    };

    for s in report.scenarios() {
        println!();
        for (i, t) in s.trials.iter().enumerate() {
            kv(
                &format!("{} trial {}", s.label, i + 1),
                format!(
                    "{}, {} in {}",
                    t.story(),
                    plural(t.switches, "GIL hand-off"),
                    fmt_duration(t.wall),
                ),
            );
        }
        let n = s.trials.len();
        kv(
            &format!("{} exact", s.label),
            format!("{} of {n}", s.exact()),
        );
        kv(
            &format!("{} leaked", s.label),
            format!("{} of {n}", s.leaks()),
        );
        kv(
            &format!("{} freed too early", s.label),
            format!(
                "{} of {n} ({} uses after free caught)",
                s.premature_frees(),
                fmt_count(s.uses_after_free())
            ),
        );
    }
    println!();
    note(
        "Without a lock the counts drift: two threads read the same old value and one of\n\
         the writes is lost. A lost decref leaves a count that never returns to zero, a\n\
         leak. A lost incref makes the count reach zero while references remain: the object\n\
         is freed under its users' feet. CPython would then read or corrupt reused memory\n\
         (a crash, or wrong data far from the bug); the model marks the object freed and\n\
         counts every later use instead. How often each happens depends on how the two\n\
         threads' updates interleave on this machine's cores, so it changes from run to run.\n\
         \n\
         Under the GIL the very same plain updates are exact: only the thread holding the\n\
         GIL runs, and it is never interrupted inside an incref, because the eval breaker\n\
         is only consulted between bytecodes. Atomic updates are exact without any lock,\n\
         and so are PEP 703's biased counts: T1 and T2 are not the object's owner (the main\n\
         thread made it), so both use the atomic shared count; T2's decrefs drive it below\n\
         zero, the object is queued for its owner, and the owner's merge adds it all up.",
    );
    Ok(report)
}

/// A count that a race may have taken below zero, with thousands separators.
fn fmt_signed(n: isize) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", fmt_count(n.unsigned_abs() as u64))
}

fn plural(n: u64, what: &str) -> String {
    format!("{} {what}{}", fmt_count(n), if n == 1 { "" } else { "s" })
}
