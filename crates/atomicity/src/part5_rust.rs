//! Part 5 — the Rust side: the same race, refused or fixed by the type system.
//!
#![doc = include_str!("part5_rust.md")]
//!
//! Safe Rust will not even compile the unsynchronised shared counter that Python runs
//! happily. A `static mut` may only be touched inside `unsafe`, because two threads doing
//! `COUNTER += 1` on it is a data race, which is undefined behaviour, not merely a lost update:
//!
//! ```compile_fail,E0133
//! static mut COUNTER: u64 = 0;
//!
//! fn main() {
//!     std::thread::scope(|s| {
//!         for _ in 0..2 {
//!             s.spawn(|| {
//!                 for _ in 0..1000 {
//!                     COUNTER += 1; // error[E0133]: use of mutable static is unsafe
//!                 }
//!             });
//!         }
//!     });
//! }
//! ```
//!
//! The safe ways to share a counter are atomics and locks. Even they do not make a
//! *sequence* atomic: [`load_then_store`] is `counter += 1` spelt as two atomic operations,
//! and loses updates exactly like the bytecode version. [`fetch_add`] is one indivisible
//! read-modify-write instruction (`lock xadd` on x86), and [`mutex`] makes the sequence
//! indivisible by excluding everyone else.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Barrier, Mutex};
use std::time::Duration;

use gil_core::bytecode::{CheckPolicy, Program, Scheduler};
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::measure::{cores, fmt_count, repeat};
use gil_core::part::{Part, Run};
use gil_core::report::{Table, note};

use crate::setup::Config;

/// Increments of the simulated load-then-store race, shared among its threads (so that
/// `--simulated --cores 1024` costs no more than two cores do).
pub const SIMULATED_INCREMENTS: u64 = 20_000;

/// Increments per thread of the simulated race with `threads` threads.
pub fn simulated_increments(threads: usize) -> u64 {
    (SIMULATED_INCREMENTS / threads.max(1) as u64).max(1)
}

/// `counter += 1` as an atomic load, then an atomic store: race-free Rust, racy logic.
#[inline(never)]
pub fn load_then_store(counter: &AtomicU64, n: u64) {
    let mut i = 0;
    while i < n {
        // black_box keeps LLVM from fusing the pair into one `inc` on memory, which would
        // still not be atomic but would hide the two steps this function is about.
        let v = black_box(counter.load(Relaxed));
        counter.store(v + 1, Relaxed);
        i = black_box(i) + 1;
    }
}

/// `counter += 1` as one atomic read-modify-write.
#[inline(never)]
pub fn fetch_add(counter: &AtomicU64, n: u64) {
    let mut i = 0;
    while i < n {
        counter.fetch_add(1, Relaxed);
        i = black_box(i) + 1;
    }
}

/// `counter += 1` under a lock: `with lock: counter += 1`.
#[inline(never)]
pub fn mutex(counter: &Mutex<u64>, n: u64) {
    let mut i = 0;
    while i < n {
        *counter.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        i = black_box(i) + 1;
    }
}

/// One way of incrementing, measured alone and with all threads racing.
#[derive(Clone, Debug)]
pub struct Kind {
    /// Its label.
    pub name: &'static str,
    /// The counter after the threads raced (the lowest over the repeats).
    pub total: u64,
    /// threads × increments.
    pub expected: u64,
    /// Median time per increment in nanoseconds, one thread alone.
    pub alone_ns: f64,
    /// Median wall time per increment in nanoseconds with all threads racing (wall time of
    /// the race divided by all the increments done in it).
    pub contended_ns: f64,
}

impl Kind {
    /// A kind as the scheduler sees it: `lost` (%) of `threads` × [`simulated_increments`].
    fn simulated(name: &'static str, lost: f64, threads: usize) -> Self {
        let expected = threads as u64 * simulated_increments(threads);
        Kind {
            name,
            total: expected - (expected as f64 * lost / 100.0).round() as u64,
            expected,
            alone_ns: f64::NAN,
            contended_ns: f64::NAN,
        }
    }
}

/// What part 5 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Threads that raced (at least 2, one per core otherwise).
    pub threads: usize,
    /// Increments per thread.
    pub increments: u64,
    /// `AtomicU64` load then store.
    pub load_store: Kind,
    /// `AtomicU64::fetch_add`.
    pub fetch_add: Kind,
    /// `Mutex<u64>`.
    pub mutex: Kind,
}

/// Time `work(n)` alone and on `threads` threads at once; keep the lowest final counter.
fn measure(
    name: &'static str,
    cfg: &Config,
    threads: usize,
    work: impl Fn(u64) + Sync,
    reset: impl Fn(),
    read: impl Fn() -> u64,
) -> Kind {
    let n = cfg.rust_increments;
    let alone = repeat(cfg.repeats, || {
        reset();
        work(n);
    })
    .middle();
    let mut total = u64::MAX;
    let start = Barrier::new(threads + 1);
    let arrived = AtomicUsize::new(0);
    let contended = std::thread::scope(|s| {
        let work = &work;
        let start = &start;
        let arrived = &arrived;
        // The racers are started once and released together for each timed run. After the
        // barrier each one spins until all have woken, so that they really race rather than
        // run one after the other while the later ones are still being woken up.
        for _ in 0..threads {
            s.spawn(move || {
                for round in 1..=cfg.repeats.max(1) {
                    start.wait();
                    arrived.fetch_add(1, Relaxed);
                    while arrived.load(Relaxed) < round * threads {
                        std::hint::spin_loop();
                    }
                    work(n);
                    start.wait();
                }
            });
        }
        repeat(cfg.repeats, || {
            reset();
            start.wait();
            start.wait();
            total = total.min(read());
        })
        .middle()
    });
    let per = |d: Duration, count: u64| d.as_secs_f64() * 1e9 / count.max(1) as f64;
    Kind {
        name,
        total,
        expected: threads as u64 * n,
        alone_ns: per(alone, n),
        contended_ns: per(contended, threads as u64 * n),
    }
}

/// The share of increments (%) a load-then-store race of `threads` threads loses when any
/// thread may run after any instruction: part 3's scheduler with no GIL, on `counter += 1`.
pub fn simulated_loss(threads: usize, seed: u64) -> f64 {
    let replay = Scheduler::new(seed, CheckPolicy::BackEdgesAndCalls)
        .free_threaded(true)
        .trace(false)
        .run(
            &Program::increment(),
            threads,
            simulated_increments(threads),
        );
    100.0 * replay.lost() as f64 / replay.expected.max(1) as f64
}

/// Part 5 as the lesson runs it: the three increments raced and timed on every core, or the
/// load-then-store race on the scheduler.
pub struct RustSide;

impl Part<Config> for RustSide {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "the Rust side"
    }

    fn text(&self) -> &'static str {
        include_str!("part5_rust.md")
    }

    fn cores_needed(&self, _: &Config) -> usize {
        2
    }

    fn live(&self, _: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(measure_all(cfg))
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        let threads = cx.sim_cores().max(2);
        let loss = simulated_loss(threads, cfg.seed);
        Ok(Report {
            threads,
            increments: simulated_increments(threads),
            load_store: Kind::simulated("AtomicU64 load, then store", loss, threads),
            fetch_add: Kind::simulated("AtomicU64 fetch_add", 0.0, threads),
            mutex: Kind::simulated("Mutex<u64>", 0.0, threads),
        })
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: Run<'_, Report>) -> anyhow::Result<()> {
        show(cx, cfg, run.figures, run.expected)
    }
}

/// The three increments raced and timed on this machine's cores (at least two threads).
pub fn measure_all(cfg: &Config) -> Report {
    let threads = cores().max(2);
    let atomic = AtomicU64::new(0);
    let locked = Mutex::new(0u64);
    Report {
        threads,
        increments: cfg.rust_increments,
        load_store: measure(
            "AtomicU64 load, then store",
            cfg,
            threads,
            |n| load_then_store(&atomic, n),
            || atomic.store(0, Relaxed),
            || atomic.load(Relaxed),
        ),
        fetch_add: measure(
            "AtomicU64 fetch_add",
            cfg,
            threads,
            |n| fetch_add(&atomic, n),
            || atomic.store(0, Relaxed),
            || atomic.load(Relaxed),
        ),
        mutex: measure(
            "Mutex<u64>",
            cfg,
            threads,
            |n| mutex(&locked, n),
            || *locked.lock().unwrap_or_else(|p| p.into_inner()) = 0,
            || *locked.lock().unwrap_or_else(|p| p.into_inner()),
        ),
    }
}

/// Print the increments and state what they support; `expected` is the scheduler's run.
fn show(cx: &mut Cx, cfg: &Config, report: &Report, expected: &Report) -> anyhow::Result<()> {
    let lost = |k: &Kind| k.expected.saturating_sub(k.total);
    let expected_share =
        100.0 * lost(&expected.load_store) as f64 / expected.load_store.expected.max(1) as f64;
    if cx.showing_simulated() {
        note(&format!(
            "{} threads each add 1, {} times, as an atomic load then store, on part 3's \
             scheduler without a GIL.",
            report.threads,
            fmt_count(report.increments)
        ));
        load_store_claim(
            cx,
            lost(&report.load_store),
            report.load_store.expected,
            expected_share,
        );
        return Ok(());
    }
    note(&format!(
        "{} threads (one per core, at least two) each add 1 to one counter, {} times, three \
         ways: an AtomicU64 (an integer whose single loads and stores are indivisible) read \
         and then written back; its fetch_add (one indivisible read-add-write); and a Mutex \
         (a lock around the value). Times are medians of {} runs; \"racing\" is the race's \
         wall time divided by all the increments in it.",
        report.threads,
        fmt_count(cfg.rust_increments),
        cfg.repeats
    ));
    println!();
    let mut table = Table::new(&["increment", "total", "of", "ns alone", "ns racing"]);
    for kind in [&report.load_store, &report.fetch_add, &report.mutex] {
        table.push([
            kind.name.to_owned(),
            fmt_count(kind.total),
            fmt_count(kind.expected),
            format!("{:.2}", kind.alone_ns),
            format!("{:.2}", kind.contended_ns),
        ]);
    }
    table.print();
    println!();
    cx.claim(Claim {
        figure: "fetch_add and Mutex, increments lost",
        unit: Unit::Count,
        measured: (lost(&report.fetch_add) + lost(&report.mutex)) as f64,
        expected: 0.0,
        low: 0.0,
        high: 0.0,
        text: "fetch_add and the Mutex are exact every time: each makes the whole \
               read-modify-write one step.",
    });
    load_store_claim(
        cx,
        lost(&report.load_store),
        report.load_store.expected,
        expected_share,
    );
    let fetch = &report.fetch_add;
    if fetch.contended_ns > fetch.alone_ns {
        // Only when the figures show it: a busy machine can keep the racers apart.
        note(
            "Racing, fetch_add is slower than alone: with threads on two cores on one \
             counter, every increment first has to pull the counter's cache line over \
             from the other core.",
        );
    }
    Ok(())
}

/// The load-then-store race loses updates: `lost` of `total` increments, against the
/// scheduler's share `expected_share` (%) of the same total.
fn load_store_claim(cx: &mut Cx, lost: u64, total: u64, expected_share: f64) {
    let expected = (total as f64 * expected_share / 100.0).round().max(1.0);
    cx.claim(Claim {
        figure: "load, then store: increments lost",
        unit: Unit::Count,
        measured: lost as f64,
        expected,
        low: 1.0,
        high: total as f64,
        text: "Load-then-store lost updates: each load and each store is atomic, the pair \
               is not.",
    });
}
