//! Part 5 — the Rust side: the same race, refused or fixed by the type system.
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
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Barrier, Mutex};
use std::time::Duration;

use gil_core::measure::{cores, fmt_count, repeat};
use gil_core::report::{heading, kv, note};

use crate::setup::Config;

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
    .median();
    let mut total = u64::MAX;
    let start = Barrier::new(threads + 1);
    let contended = std::thread::scope(|s| {
        let work = &work;
        let start = &start;
        // The racers are started once and released together for each timed run.
        for _ in 0..threads {
            s.spawn(move || {
                for _ in 0..cfg.repeats.max(1) {
                    start.wait();
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
        .median()
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

/// Run part 5: race the three kinds of increment and time them.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    heading("Part 5: the Rust side");
    let threads = cores().max(2);
    note(&format!(
        "`static mut COUNTER` with `COUNTER += 1` from two threads does not compile in safe Rust\n\
         (error E0133; this crate's docs hold the doc test that proves it). The safe tools are\n\
         atomics and locks. {threads} threads (one per core, at least two; this machine offers\n\
         {} to this process) each add 1, {} times, three ways; times are medians of {} runs,\n\
         and \"racing\" is the race's wall time divided by all the increments done in it.",
        cores(),
        fmt_count(cfg.rust_increments),
        cfg.repeats
    ));
    println!();
    let atomic = AtomicU64::new(0);
    let locked = Mutex::new(0u64);
    let report = Report {
        threads,
        increments: cfg.rust_increments,
        load_store: measure(
            "AtomicU64 load then store",
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
    };
    for kind in [&report.load_store, &report.fetch_add, &report.mutex] {
        kv(
            kind.name,
            format!(
                "{} of {}, {:.2} ns per increment alone, {:.2} ns racing",
                fmt_count(kind.total),
                fmt_count(kind.expected),
                kind.alone_ns,
                kind.contended_ns
            ),
        );
    }
    println!();
    note(
        "Load-then-store loses updates the moment two cores run it at once: each load is atomic,\n\
         each store is atomic, the pair is not (the same lesson as counter += 1). fetch_add and\n\
         the Mutex are exact every time. Racing costs: both cores fight over one cache line, so\n\
         per-increment times rise well above the single-thread figures. Rust needs no GIL\n\
         because the compiler refuses unsynchronised sharing; Python had no such check, so it\n\
         took one lock for everything.",
    );
    if report.load_store.total == report.load_store.expected {
        note(
            "This run lost no update: the racing threads never ran at the same moment (one\n\
             core, or a busy machine). Run the part again to see the race.",
        );
    }
    Ok(report)
}
