//! # Exercise 14 · Workers that attach while their caller holds the GIL
//!
//! `ext.square_many(items)` is Rust, called from Python, so it runs attached. It starts one
//! worker thread per item; each squares its item in plain Rust, then attaches
//! (`gil.attach`, PyO3's `Python::attach`) to turn the result into a Python int. As shipped,
//! the caller starts the workers and joins them still attached:
//!
//! ```text
//! std::thread::scope(|s| {
//!     let handles: Vec<_> = items.iter().map(|&x| s.spawn(move || work(gil, ctx, x))).collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).collect()
//! })
//! ```
//!
//! Every worker then waits for the GIL, which the caller holds while it waits for them.
//!
//! Run it:   `cargo run --release -p exercises --bin 14_worker_join`
//! Check it: `cargo xtask check 14_worker_join`

use gil_core::{Gil, GilGuard};

// TODO: write `square_many` so the workers can attach: start them and join them detached
// (`py.detach(|| …)` around the whole scope, as PyO3's guide does around rayon). Each item goes
// to its own worker, which calls `work(gil, ctx, x)`.

/// `ext.square_many(items)`: every item squared, each by a worker thread, in order.
fn square_many(py: &mut GilGuard<'_>, gil: &Gil, ctx: &Context, items: &[u64]) -> Vec<u64> {
    py.detach(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = items
                .iter()
                .map(|&x| s.spawn(move || work(gil, ctx, x)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    })
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use gil_core::report::{heading, kv, note};

/// Exercise 14: a function that fans out to worker threads which attach.
#[derive(Parser)]
struct Args {
    /// Items, one worker each
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=16))]
    items: u64,
    /// Native work per item, in ms
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=500))]
    work_ms: u64,
    /// The first item
    #[arg(long, default_value_t = 3)]
    first: u64,
}

/// What the harness tracks while the workers run.
struct Context {
    args: Args,
    /// Workers whose Rust part is done and that wait to attach.
    attaching: AtomicUsize,
    /// Workers that attached and built their result.
    attached: AtomicUsize,
}

/// One worker: square `x` in plain Rust (no Python object, no GIL needed), then attach to
/// build the Python int.
#[allow(dead_code)] // your square_many calls it
fn work(gil: &Gil, ctx: &Context, x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ctx.args.work_ms));
    let square = x * x;
    ctx.attaching.fetch_add(1, Ordering::SeqCst);
    gil.attach("worker", |py| {
        ctx.attaching.fetch_sub(1, Ordering::SeqCst);
        ctx.attached.fetch_add(1, Ordering::SeqCst);
        py.check_point();
        square
    })
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let gil = Gil::new();
    let items: Vec<u64> = (0..args.items).map(|i| args.first + i).collect();
    let ctx = Context {
        args,
        attaching: AtomicUsize::new(0),
        attached: AtomicUsize::new(0),
    };
    heading("Exercise 14 · workers that attach while their caller holds the GIL");
    kv("items", items.len());
    let patience = Duration::from_millis(ctx.args.work_ms * 3 + 2000);
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    std::thread::scope(|s| {
        let (gil, ctx, items) = (&gil, &ctx, &items);
        s.spawn(move || {
            let out = gil.attach("caller", |py| {
                let results = square_many(py, gil, ctx, items);
                (results, py.stats().detached)
            });
            let _ = tx.send(out);
        });
        match rx.recv_timeout(patience) {
            Ok((results, detached)) => {
                kv("workers stuck", 0);
                kv("sum of squares", results.iter().sum::<u64>());
                kv(
                    "results in order",
                    u8::from(results.iter().zip(items).all(|(r, x)| *r == x * x)),
                );
                kv("workers that attached", ctx.attached.load(Ordering::SeqCst));
                kv(
                    "caller detached while joining",
                    u8::from(detached >= Duration::from_millis(ctx.args.work_ms) / 2),
                );
                kv("took (ms)", started.elapsed().as_millis());
            }
            // The caller panicked: the scope passes its panic on when it ends.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let waiting = ctx.attaching.load(Ordering::SeqCst);
                kv(
                    "workers stuck",
                    items.len() - ctx.attached.load(Ordering::SeqCst),
                );
                kv(
                    "who waits for what",
                    format!(
                        "the caller holds the GIL and waits for its workers; {waiting} workers \
                         have done their Rust part and wait for the GIL to attach"
                    ),
                );
                note(
                    "Deadlock: the caller joined its workers attached, and every worker needs \
                     the GIL it holds. Detach around the spawn and the join.",
                );
                // The stuck threads can never be joined: end the program here.
                std::process::exit(0);
            }
        }
    });
    note(
        "A thread that waits for threads that attach must not hold the GIL while it waits: \
         py.detach around the join, as around any blocking wait.",
    );
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
