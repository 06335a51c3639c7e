//! Part 4 — free threading (PEP 703): no GIL, and what reference counting costs without one.
//!
//! First the countdown of lesson 2, one thread vs several, with the GIL and free-threaded.
//! Then the price: a reference count that several threads may touch at once cannot be a plain
//! increment. Using lesson 1's model objects ([`gil_core::object`]), three ways of counting
//! are timed per `Py_INCREF` + `Py_DECREF` pair: plain (what
//! the GIL build does), atomic (correct but slower, much slower under contention), and biased
//! (what the free-threaded build does: plain for the owning thread, atomic for the others).

use std::hint::black_box;
use std::time::Duration;

use gil_core::measure::{self, fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::object::{Counting, PyObject};
use gil_core::report::{heading, kv, note};
use gil_core::{Gil, work};

use crate::Config;

/// The countdown under both interpreters.
#[derive(Clone, Debug)]
pub struct Countdown {
    /// Total countdown steps, split among the threads.
    pub total: u64,
    /// Threads in the parallel runs.
    pub threads: usize,
    /// One thread, GIL build.
    pub one_gil: Duration,
    /// `threads` threads, GIL build.
    pub many_gil: Duration,
    /// One thread, free-threaded build.
    pub one_free: Duration,
    /// `threads` threads, free-threaded build.
    pub many_free: Duration,
}

/// Nanoseconds per incref + decref pair, for each way of counting.
#[derive(Clone, Debug)]
pub struct RefcountCosts {
    /// A plain add and subtract (the GIL build).
    pub plain: f64,
    /// `fetch_add` / `fetch_sub`, one thread.
    pub atomic: f64,
    /// Atomic, two threads hammering the same count.
    pub atomic_contended: f64,
    /// Biased, from the owning thread.
    pub biased_owner: f64,
    /// Biased, from another thread (takes the atomic path).
    pub biased_other: f64,
    /// An immortal object (`None`): increfs and decrefs do nothing.
    pub immortal: f64,
}

/// What part 4 measured.
#[derive(Clone, Debug)]
pub struct Part4 {
    /// The countdown.
    pub countdown: Countdown,
    /// Reference counting costs.
    pub refcounts: RefcountCosts,
}

/// Run part 4 and print what it measures.
pub fn run(cfg: &Config) -> anyhow::Result<Part4> {
    heading("Part 4 - free threading (PEP 703)");
    let threads = measure::cores().max(2);
    kv("CPUs this process may use", measure::cores());
    let countdown = countdown(cfg, threads)?;
    let n = fmt_count(countdown.total);
    kv(
        &format!("countdown({n}), GIL, 1 thread"),
        fmt_duration(countdown.one_gil),
    );
    kv(
        &format!("the same, GIL, {threads} threads"),
        format!(
            "{}  ({} vs 1 thread)",
            fmt_duration(countdown.many_gil),
            fmt_ratio(speedup(countdown.one_gil, countdown.many_gil))
        ),
    );
    kv(
        "the same, free-threaded, 1 thread",
        fmt_duration(countdown.one_free),
    );
    kv(
        &format!("the same, free-threaded, {threads} threads"),
        format!(
            "{}  ({} vs 1 thread)",
            fmt_duration(countdown.many_free),
            fmt_ratio(speedup(countdown.one_free, countdown.many_free))
        ),
    );

    heading("Part 4b - the price: reference counts without a GIL");
    let refcounts = refcount_costs(if cfg.quick { 1_000_000 } else { 3_000_000 });
    let row = |label: &str, ns: f64| {
        kv(
            label,
            format!(
                "{ns:.2} ns per incref+decref  ({} of plain)",
                fmt_ratio(ns / refcounts.plain)
            ),
        );
    };
    row("plain (GIL build)", refcounts.plain);
    row("atomic, one thread", refcounts.atomic);
    row(
        "atomic, two threads, one object",
        refcounts.atomic_contended,
    );
    row("biased, owner thread", refcounts.biased_owner);
    row("biased, another thread", refcounts.biased_other);
    row("immortal (None, small ints)", refcounts.immortal);
    note(
        "Lesson 1 showed two threads losing updates to a plain count. Without a GIL every\n\
         count must survive that, and an atomic add is several times dearer - far more when\n\
         threads fight over one object's cache line. Biased reference counting keeps the\n\
         common case cheap: most objects are only ever touched by the thread that made them,\n\
         which uses a plain local count; other threads use a separate atomic count. Immortal\n\
         objects (PEP 683, 3.12: None, True, small ints) skip counting altogether, and 3.13t\n\
         adds deferred counting for functions, code objects and modules.",
    );
    note(
        "CPython's own figures (from its documentation, not measured by this run): the\n\
         free-threaded build ran single-threaded code about 40 % slower in 3.13 (its\n\
         specialising interpreter was off) and about 1-8 % slower in 3.14. PEP 779 made the\n\
         build supported in 3.14; it stays optional, PYTHON_GIL=1 or -X gil=1 turns the GIL\n\
         back on, and importing an extension that does not declare Py_mod_gil does too.",
    );
    note(
        "The model's free-threaded mode removes the lock but does not count references, so its\n\
         countdown shows the gain, and the table above shows the price separately.",
    );
    Ok(Part4 {
        countdown,
        refcounts,
    })
}

fn countdown(cfg: &Config, threads: usize) -> anyhow::Result<Countdown> {
    let total = cfg.items * 2;
    let share = total / threads as u64;
    let gil = cfg.gil.build_with(gil_core::Mode::Gil);
    let free = Gil::free_threaded();
    let run = |gil: &Gil, n: usize, each: u64| {
        gil.run_threads(n, |_, py| work::countdown(py, each));
    };
    let times = crate::medians_in_turns(
        cfg.runs.min(3),
        &mut [
            &mut || run(&gil, 1, total),
            &mut || run(&gil, threads, share),
            &mut || run(&free, 1, total),
            &mut || run(&free, threads, share),
        ],
    );
    Ok(Countdown {
        total,
        threads,
        one_gil: times[0],
        many_gil: times[1],
        one_free: times[2],
        many_free: times[3],
    })
}

/// Time `pairs` incref+decref pairs on `gil_core::object::PyObject`s counted each way;
/// nanoseconds per pair (median of 3 runs).
pub fn refcount_costs(pairs: u64) -> RefcountCosts {
    let per_pair = |d: Duration| d.as_secs_f64() * 1e9 / pairs as f64;
    let median = |f: &dyn Fn()| per_pair(measure::repeat(3, f).median());
    let hammer = |object: &PyObject| {
        let object = black_box(object);
        for _ in 0..pairs {
            object.incref();
            object.decref();
        }
    };
    let on_threads = |object: &PyObject, threads: usize| {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| hammer(object));
            }
        });
    };

    let plain = PyObject::new("int", Counting::Plain);
    let atomic = PyObject::new("int", Counting::Atomic);
    let biased = PyObject::new("int", Counting::Biased); // owned by this thread
    let immortal = PyObject::immortal("NoneType");
    let costs = RefcountCosts {
        plain: median(&|| hammer(&plain)),
        atomic: median(&|| hammer(&atomic)),
        atomic_contended: median(&|| on_threads(&atomic, 2)),
        biased_owner: median(&|| hammer(&biased)),
        biased_other: median(&|| on_threads(&biased, 1)),
        immortal: median(&|| hammer(&immortal)),
    };
    for object in [&plain, &atomic, &biased] {
        debug_assert_eq!(object.refcnt(), 1, "{:?}", object.counting());
    }
    costs
}
