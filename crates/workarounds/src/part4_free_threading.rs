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

use gil_core::measure::{self, fmt_count, fmt_duration, fmt_ratio};
use gil_core::object::{Counting, PyObject};
use gil_core::report::{Table, kv, note};
use gil_core::{Gil, session, work};

use crate::{Config, expected};

/// The Python this part models: lesson 2's countdown, on a free-threaded build.
pub const PYTHON: &str = r#"
# python3.14t, the free-threaded build: sys._is_gil_enabled() is False
import threading

def countdown(n):
    while n > 0:
        n -= 1

threads = [threading.Thread(target=countdown, args=(N // 2,))
           for _ in range(2)]
for t in threads: t.start()
for t in threads: t.join()
"#;

/// The claim part 6 quotes for free-threaded threads.
pub const FREE: &str = "Free-threaded, the threads counted down at the same time.";
/// The claim made instead where the simulator expects no gain (or no GIL).
pub const FREE_ONE_CORE: &str = "With one core even free-threaded threads take turns on it.";

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
}

/// What part 4 measured.
#[derive(Clone, Debug)]
pub struct Part4 {
    /// The countdown.
    pub countdown: Countdown,
    /// Reference counting costs.
    pub refcounts: RefcountCosts,
}

const RAISE: &str = "raise --items";

/// Run part 4 (in `--simulated` mode, its simulated figures only).
pub fn run(cfg: &Config) -> anyhow::Result<()> {
    let threads = expected::parallel_threads();
    let total = cfg.items * 2;
    kv(
        "work",
        format!(
            "countdown({}) on 1 thread, then on {threads}",
            fmt_count(total)
        ),
    );
    if session::simulated() {
        let e = expected::part4(cfg, session::sim_cores(), total, threads);
        if crate::long_enough(
            expected::work(expected::ITEM, total / threads as u64),
            RAISE,
        ) {
            make_claims(threads, e, e);
        }
        price_note();
        return Ok(());
    }
    measure(cfg).map(drop)
}

fn make_claims(threads: usize, measured: expected::Part4, e: expected::Part4) {
    // Under the GIL the same countdown gains nothing: lesson 2 part 1 claims that, so this
    // part prints the figure without stating it again.
    kv(
        &format!("{threads} threads vs one, GIL"),
        format!("{}  (lesson 2)", fmt_ratio(measured.gil)),
    );
    crate::speedup_claim(
        &format!("{threads} threads vs one, free-threaded"),
        measured.free,
        e.free,
        FREE,
        FREE_ONE_CORE,
    );
}

/// Run part 4 live and print what it measures.
pub fn measure(cfg: &Config) -> anyhow::Result<Part4> {
    let threads = expected::parallel_threads();
    let countdown = countdown(cfg, threads);
    Table::new(&["threads", "GIL", "free-threaded"])
        .row([
            "1".to_owned(),
            fmt_duration(countdown.one_gil),
            fmt_duration(countdown.one_free),
        ])
        .row([
            threads.to_string(),
            fmt_duration(countdown.many_gil),
            fmt_duration(countdown.many_free),
        ])
        .print();
    let claims = crate::long_enough(countdown.one_gil / threads as u32, RAISE);
    if claims {
        make_claims(
            threads,
            expected::Part4 {
                gil: measure::speedup(countdown.one_gil, countdown.many_gil),
                free: measure::speedup(countdown.one_free, countdown.many_free),
            },
            expected::part4(cfg, session::sim_cores(), countdown.total, threads),
        );
    }

    println!();
    note("The price: reference counts without a GIL.");
    let refcounts = refcount_costs(if cfg.quick() { 1_000_000 } else { 3_000_000 });
    let mut table = Table::new(&["way of counting", "ns per pair", "vs plain"]);
    for (label, ns) in [
        ("plain (GIL build)", refcounts.plain),
        ("atomic, one thread", refcounts.atomic),
        (
            "atomic, two threads, one object",
            refcounts.atomic_contended,
        ),
        ("biased, owner thread", refcounts.biased_owner),
        ("biased, another thread", refcounts.biased_other),
    ] {
        table.push([
            label.to_owned(),
            format!("{ns:.2}"),
            fmt_ratio(ns / refcounts.plain.max(1e-3)),
        ]);
    }
    table.print();
    note(
        "A pair is one Py_INCREF and one Py_DECREF. Lesson 1 showed two threads losing \
         updates to a plain count; without a GIL every count must survive that.",
    );
    note(&atomic_sentence(&refcounts));
    price_note();
    Ok(Part4 {
        countdown,
        refcounts,
    })
}

/// What this run's figures say about atomic counting, in words that follow from them.
fn atomic_sentence(costs: &RefcountCosts) -> String {
    let alone = costs.atomic / costs.plain.max(1e-3);
    let fought = costs.atomic_contended / costs.plain.max(1e-3);
    let alone_words = if alone >= 2.0 {
        format!("an atomic add cost {alone:.1} times a plain one")
    } else {
        format!(
            "an atomic add cost only {alone:.1} times a plain one (on some CPUs an uncontended \
             atomic is nearly free)"
        )
    };
    let fought_words = if fought >= alone * 1.5 {
        format!("and {fought:.1} times when two threads fought over one object's cache line")
    } else {
        format!("and {fought:.1} times with two threads on one object")
    };
    format!("In this run {alone_words}, {fought_words}.")
}

fn price_note() {
    note(
        "The price is paid on every reference count (lesson 1): the free-threaded build \
         keeps a plain count for the thread that made an object and an atomic one for the \
         others (biased counting), and skips immortal objects. CPython's own figures, from \
         the HOWTO \"Python support for free threading\": single-threaded code ran about \
         40 % slower in 3.13t, and 1-8 % slower in 3.14t. PYTHON_GIL=1 or -X gil=1 turns the \
         GIL back on, and so does importing an extension that does not declare Py_mod_gil \
         (lesson 6 shows it on your interpreter).",
    );
}

fn countdown(cfg: &Config, threads: usize) -> Countdown {
    let total = cfg.items * 2;
    let share = total / threads as u64;
    // The GIL build even under --free-threaded: this part compares the two builds.
    let gil = Gil::new();
    let _ = gil.set_switch_interval(cfg.lesson.interval());
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
    Countdown {
        total,
        threads,
        one_gil: times[0],
        many_gil: times[1],
        one_free: times[2],
        many_free: times[3],
    }
}

/// Time `pairs` incref+decref pairs on `gil_core::object::PyObject`s counted each way;
/// nanoseconds per pair (median of 3 runs).
pub fn refcount_costs(pairs: u64) -> RefcountCosts {
    let per_pair = |d: Duration| d.as_secs_f64() * 1e9 / pairs as f64;
    let median = |f: &dyn Fn()| per_pair(measure::repeat(3, f).middle());
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
    let costs = RefcountCosts {
        plain: median(&|| hammer(&plain)),
        atomic: median(&|| hammer(&atomic)),
        atomic_contended: median(&|| on_threads(&atomic, 2)),
        biased_owner: median(&|| hammer(&biased)),
        biased_other: median(&|| on_threads(&biased, 1)),
    };
    for object in [&plain, &atomic, &biased] {
        debug_assert_eq!(object.refcnt(), 1, "{:?}", object.counting());
    }
    costs
}
