//! Part 3 — why not just make the counts atomic? What each kind of incref+decref costs.

use gil_core::measure::{self, fmt_count, fmt_ratio};
use gil_core::object::{Counting, PyObject};
use gil_core::report::{heading, kv, note};

use crate::setup::{Config, fmt_ns, pairs, per_pair, per_pair_two_threads, ratio};

/// What part 3 measured: time per incref+decref pair (per thread, when two run at once).
#[derive(Clone, Debug)]
pub struct Report {
    /// Pairs per single-thread timing.
    pub pairs: u64,
    /// Pairs per thread in two-thread timings.
    pub contended_pairs: u64,
    /// One thread, plain `ob_refcnt++` / `--` (the GIL build).
    pub plain: f64,
    /// One thread, `fetch_add` / `fetch_sub`.
    pub atomic: f64,
    /// One thread, biased counting, on the owner thread (the fast path).
    pub biased_owner: f64,
    /// One thread, biased counting, on another thread (the shared, atomic count).
    pub biased_other: f64,
    /// One thread, an immortal object (the updates are skipped).
    pub immortal: f64,
    /// Two threads on one object, plain (fast, and wrong: see part 2).
    pub plain_contended: f64,
    /// Two threads on one object, atomic.
    pub atomic_contended: f64,
    /// Two threads on one object, biased: the owner and one other thread.
    pub biased_contended: f64,
}

impl Report {
    /// How many times slower an uncontended atomic pair is than a plain one.
    pub fn atomic_over_plain(&self) -> f64 {
        ratio(self.atomic, self.plain)
    }

    /// How many times slower the biased owner's pair is than a plain one (about 1).
    pub fn biased_over_plain(&self) -> f64 {
        ratio(self.biased_owner, self.plain)
    }

    /// How many times slower a contended atomic pair is than an uncontended plain one.
    pub fn contended_atomic_over_plain(&self) -> f64 {
        ratio(self.atomic_contended, self.plain)
    }
}

/// Time an incref+decref pair on `obj` with one thread.
fn alone(cfg: &Config, obj: &PyObject) -> f64 {
    per_pair(cfg.repeats, cfg.pairs, |n| pairs(obj, n))
}

/// References a contended object starts with, so that a racing plain count cannot reach zero
/// while it is timed (a freed object's updates are skipped, which would time the wrong thing).
pub const CONTENDED_REFS: isize = 1 << 40;

/// Time a pair per thread with the calling thread and one more hammering one object made
/// with `counting` (and owned by the calling thread, for biased counting).
fn together(cfg: &Config, counting: Counting) -> f64 {
    let obj = PyObject::with_refs("list", counting, CONTENDED_REFS);
    let work = |n| pairs(&obj, n);
    per_pair_two_threads(cfg.repeats, cfg.contended_pairs(), work, work)
}

/// Run part 3: time incref+decref pairs of each kind, alone and with two threads at once.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    heading("Part 3 — why not just make the counts atomic?");
    note(&format!(
        "Time per incref+decref pair (`y = x; del y`), median of {} timing(s) of {} pairs\n\
         on one thread and {} pairs per thread on two. Every model operation also checks\n\
         the object is not freed (one load that CPython does not pay), the same for all rows.\n\
         The two-thread rows need both threads running at once: on a busy machine they vary.",
        cfg.repeats.max(1),
        fmt_count(cfg.pairs),
        fmt_count(cfg.contended_pairs()),
    ));

    // Objects made here are owned by this thread, so biased ones take the fast path here.
    let plain = PyObject::new("list", Counting::Plain);
    let atomic = PyObject::new("list", Counting::Atomic);
    let biased = PyObject::new("list", Counting::Biased);
    let immortal = PyObject::immortal("NoneType");
    // An object owned by a thread that has finished: every thread here is "another thread".
    let foreign = std::thread::scope(|s| {
        s.spawn(|| PyObject::new("list", Counting::Biased))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });

    let report = Report {
        pairs: cfg.pairs,
        contended_pairs: cfg.contended_pairs(),
        plain: alone(cfg, &plain),
        atomic: alone(cfg, &atomic),
        biased_owner: alone(cfg, &biased),
        biased_other: alone(cfg, &foreign),
        immortal: alone(cfg, &immortal),
        plain_contended: together(cfg, Counting::Plain),
        atomic_contended: together(cfg, Counting::Atomic),
        // This thread owns the object: one fast-path thread, one atomic one.
        biased_contended: together(cfg, Counting::Biased),
    };

    let vs_plain = |d: f64| {
        format!(
            "{} per pair ({} plain)",
            fmt_ns(d),
            fmt_ratio(ratio(d, report.plain))
        )
    };
    println!();
    kv("one thread, plain", vs_plain(report.plain));
    kv("one thread, atomic", vs_plain(report.atomic));
    kv("one thread, biased owner", vs_plain(report.biased_owner));
    kv("one thread, biased other", vs_plain(report.biased_other));
    kv("one thread, immortal", vs_plain(report.immortal));
    kv("two threads, plain", vs_plain(report.plain_contended));
    kv("two threads, atomic", vs_plain(report.atomic_contended));
    kv("two threads, biased", vs_plain(report.biased_contended));
    kv("atomic over plain", fmt_ratio(report.atomic_over_plain()));
    kv(
        "biased owner over plain",
        fmt_ratio(report.biased_over_plain()),
    );
    if measure::cores() < 2 {
        note(
            "Only one core is available here, so the two-thread rows take turns rather than\n\
             contend: on a multi-core machine they are much slower.",
        );
    }
    println!();
    note(
        "An atomic read-modify-write (x86's `lock add`) costs a multiple of a plain one even\n\
         with no other thread near it, and CPython increfs and decrefs constantly: every\n\
         name load, call and container access. That is why the simple fix — make every count\n\
         atomic, drop the GIL — was rejected for decades: all single-threaded programs would\n\
         pay it. When two cores update one count, the cache line holding it ping-pongs\n\
         between them and every update waits for it, atomic or not (the plain row slows down\n\
         too, and on top of that it is wrong).\n\
         \n\
         PEP 703 (the free-threaded build) avoids most of that cost. Biased counting: most\n\
         objects are only ever touched by the thread that made them, so the owner updates a\n\
         private count with plain instructions (the 'biased owner' row, close to plain) and\n\
         only other threads pay for atomics. Immortal objects (None, True, small ints) skip\n\
         counting entirely. The owner check and the split count still cost a little: by the\n\
         docs' own figures, single-threaded code ran about 40% slower on 3.13t (whose\n\
         specialising interpreter was also off) and 1-8% slower on 3.14t.",
    );
    Ok(report)
}
