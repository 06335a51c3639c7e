//! Part 2 — the race the GIL prevents: two threads, one object, plain counts.
//!
//! A producer thread collects references to a shared object in lists (one incref each) and
//! hands each full list over through a queue; a consumer takes the lists and empties them (one
//! decref each). When both are done the count must be back where it started.

use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gil_core::measure::{self, fmt_count, fmt_duration};
use gil_core::object::{Counting, PyObject, Verdict};
use gil_core::report::{heading, kv, note};
use gil_core::{Gil, GilGuard};

use crate::setup::Config;

/// One trial: what the count did and what became of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trial {
    /// The count right after the two threads finished (it should equal `expected`).
    pub after_race: isize,
    /// The references that really existed then: the other holders'.
    pub expected: isize,
    /// What became of the object once the other holders dropped their references too.
    pub verdict: Verdict,
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
        self.count(|v| matches!(v, Verdict::Freed))
    }

    /// Trials whose object was never freed.
    pub fn leaks(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Leaked { .. }))
    }

    /// Trials whose object was freed while references to it remained.
    pub fn premature_frees(&self) -> usize {
        self.count(|v| matches!(v, Verdict::PrematureFree { .. }))
    }

    /// Uses after free that the model caught, over all trials.
    pub fn uses_after_free(&self) -> u64 {
        self.trials
            .iter()
            .map(|t| match t.verdict {
                Verdict::PrematureFree { use_after_free, .. } => use_after_free,
                _ => 0,
            })
            .sum()
    }

    /// The drift of the trial that drifted furthest (0 if none drifted).
    pub fn worst_drift(&self) -> isize {
        self.trials
            .iter()
            .map(Trial::drift)
            .max_by_key(|d| d.abs())
            .unwrap_or(0)
    }

    fn count(&self, pick: impl Fn(&Verdict) -> bool) -> usize {
        self.trials.iter().filter(|t| pick(&t.verdict)).count()
    }
}

/// What part 2 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// The replayed lost incref: the object is freed while `main` still holds a reference.
    pub forced_lost_incref: Verdict,
    /// The replayed lost decref: the object is never freed.
    pub forced_lost_decref: Verdict,
    /// References handed over per trial.
    pub handovers: u64,
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
pub fn forced() -> (Verdict, Verdict) {
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
    let lost_incref = obj.audit().verdict();
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
    let lost_decref = obj.audit().verdict();
    kv("lost decref gives", lost_decref);
    (lost_incref, lost_decref)
}

/// Hand `handovers` references to `obj` from thread T1 to thread T2 through a queue, on
/// `gil`, with a check point after every model statement. Returns the number of hand-offs.
///
/// The queue is an atomic counter of references in flight: it is not what is being tested,
/// just as `queue.Queue` is thread-safe in Python. Threads start together: they wait for each
/// other with the GIL released.
pub fn hand_over(obj: &PyObject, gil: &Gil, handovers: u64) -> u64 {
    let queue = AtomicU64::new(0);
    let start = Barrier::new(2);
    gil.reset_stats();
    gil.run_threads(2, |i, py| {
        py.allow_threads(|| start.wait());
        if i == 0 {
            produce(obj, &queue, py, handovers);
        } else {
            consume(obj, &queue, py, handovers);
        }
    });
    gil.stats().switches
}

/// References the producer collects before handing them over in one go.
pub const BATCH: u64 = 1_000;

/// `for _ in range(n // BATCH): q.put([obj] * BATCH)`: append references to a list, one
/// incref each, and hand the list over when it is full.
fn produce(obj: &PyObject, queue: &AtomicU64, py: &mut GilGuard<'_>, n: u64) {
    let mut done = 0;
    while done < n {
        let batch = BATCH.min(n - done);
        for _ in 0..batch {
            obj.incref();
            py.check_point();
        }
        queue.fetch_add(batch, Ordering::Release);
        done += batch;
    }
}

/// `while True: refs = q.get(); refs.clear()`: take every reference waiting in the queue
/// and drop them one by one (spinning while the queue is empty).
fn consume(obj: &PyObject, queue: &AtomicU64, py: &mut GilGuard<'_>, n: u64) {
    let mut taken = 0;
    while taken < n {
        let batch = queue.swap(0, Ordering::AcqRel);
        for _ in 0..batch {
            obj.decref();
            py.check_point();
        }
        taken += batch;
        py.check_point();
    }
}

/// One trial: a fresh object held by `cfg.holders` references, the race, then the holders
/// let go.
pub fn trial(cfg: &Config, counting: Counting, gil: &Gil) -> Trial {
    let holders = cfg.holders.max(1);
    let obj = PyObject::with_refs("list", counting, holders as isize);
    let (switches, wall) = measure::time(|| hand_over(&obj, gil, cfg.handovers));
    let after_race = obj.audit().refcnt;
    for _ in 0..holders {
        obj.decref();
    }
    Trial {
        after_race,
        expected: holders as isize,
        verdict: obj.audit().verdict(),
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
        "A shared object is referenced by {holders} other holders. Thread T1 appends {n}\n\
         references to it to lists, one incref each, and puts every full list of {batch}\n\
         into a queue; thread T2 takes the lists out and empties them, one decref each.\n\
         Afterwards the count must be {holders} again, and when the holders let go it must\n\
         reach 0 exactly once. The default build's Py_INCREF is `ob_refcnt++`: a read, then\n\
         a write, and the model does just that. Trials of each kind: {trials}.",
        batch = fmt_count(BATCH),
        holders = fmt_count(cfg.holders.max(1)),
        n = fmt_count(cfg.handovers),
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
        handovers: cfg.handovers,
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
                    "count after race {} (drift {:+}), then {}, {} in {}",
                    fmt_signed(t.after_race),
                    t.drift(),
                    t.verdict,
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
         and so are PEP 703's biased counts: T1 and T2 are not the list's owner (the main\n\
         thread made it), so both use the atomic shared count; the decrefs drive it below\n\
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
