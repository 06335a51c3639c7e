//! # Exercise 11 · A `nogil` parallel loop
//!
//! Cython lets a loop that touches no Python objects run without the GIL and split over cores:
//!
//! ```text
//! with nogil:
//!     for i in prange(n):
//!         total += term(i)
//! ```
//!
//! Write the same thing with rayon: release the GIL (`with nogil:`), then sum `term(i)` for
//! every `i` in `0..n` with a rayon parallel iterator (`prange`). The harness compares it with
//! the plain Python-style loop and records which rayon threads ran the loop body, and how long
//! the calling thread held the GIL while the loop ran.
//!
//! Run it:   `cargo run --release -p exercises --bin 11_nogil_prange`
//! Check it: `cargo xtask check 11_nogil_prange`

use gil_core::GilGuard;

// TODO: write `nogil_sum`. Inside `py.detach(|| …)`, sum `term(i)` over `0..n` with a
// rayon parallel iterator: `use rayon::prelude::*;` gives ranges an `into_par_iter()`, whose
// `map(…)` and `sum()` work like the sequential ones.

/// `sum(term(i) for i in range(n))`, computed in parallel by rayon with the GIL released.
fn nogil_sum(py: &mut GilGuard<'_>, n: u64) -> u64 {
    use rayon::prelude::*;

    py.detach(|| (0..n).into_par_iter().map(term).sum())
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use gil_core::Gil;
use gil_core::measure::{fmt_count, fmt_duration, fmt_ratio, speedup, time};
use gil_core::report::{heading, kv, note};

/// Exercise 11: a parallel loop with the GIL released, like Cython's `prange` under `nogil`.
#[derive(Parser)]
struct Args {
    /// Loop over 0..n
    #[arg(long, default_value_t = 50_000_000)]
    n: u64,
}

/// One bit per rayon worker thread that ran at least one loop body (threads 0..63).
static RAYON_THREADS: AtomicU64 = AtomicU64::new(0);

/// The loop body: C-level arithmetic on plain integers, no Python objects. Every 4096th call
/// notes which rayon thread it runs on.
fn term(i: u64) -> u64 {
    if i % 4096 == 0 {
        if let Some(worker) = rayon::current_thread_index() {
            RAYON_THREADS.fetch_or(1 << (worker % 64), Ordering::Relaxed);
        }
    }
    let x = std::hint::black_box(i);
    (x ^ (x >> 7)).wrapping_mul(0x9E37_79B9) % 1_000
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let gil = Gil::new();

    // The plain loop: every iteration is Python bytecode, holding the GIL.
    let (sequential, seq_time) = time(|| {
        gil.attach("plain loop", |py| {
            let mut total = 0u64;
            for i in 0..args.n {
                total += term(i);
                py.check_point();
            }
            total
        })
    });

    RAYON_THREADS.store(0, Ordering::Relaxed);
    let mut py = gil.acquire("nogil loop");
    let held_before = py.stats().held;
    let (parallel, par_time) = time(|| nogil_sum(&mut py, args.n));
    let held = py.stats().held - held_before;
    drop(py);

    heading("Exercise 11 · a nogil prange loop");
    kv("n", fmt_count(args.n));
    kv("sum", parallel);
    kv("matches the plain loop", parallel == sequential);
    kv(
        "rayon threads that ran the loop",
        RAYON_THREADS.load(Ordering::Relaxed).count_ones(),
    );
    kv("rayon threads available", rayon::current_num_threads());
    kv("GIL held during the loop", fmt_duration(held));
    kv(
        "share of the loop holding the GIL",
        format!(
            "{:.1} %",
            100.0 * held.as_secs_f64() / par_time.as_secs_f64().max(1e-9)
        ),
    );
    heading("Wall clock");
    kv("plain loop", fmt_duration(seq_time));
    kv("nogil prange", fmt_duration(par_time));
    kv("speedup", fmt_ratio(speedup(seq_time, par_time)));
    note(
        "The parallel loop ran on rayon's threads, which are not Python threads and never take \
         the GIL; the calling thread gave the GIL up for the duration, so other Python threads \
         could run meanwhile.",
    );
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
